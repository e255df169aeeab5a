"""Optional real datasets, checked on tiny fakes written in each dataset's exact on-disk format; the network
is blocked throughout, so a download attempt fails and must say so clearly."""

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torchvision.ops import masks_to_boxes

from cvlab.data import (
    DatasetDownloadError,
    DatasetNotFoundError,
    OxfordPets,
    PennFudan,
    VOCSegmentation,
)


def _photo(rng, h=24, w=32) -> np.ndarray:
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _as_uint8(image: torch.Tensor) -> np.ndarray:
    return (image * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


# ------------------------------------------------------------------------------------------------- VOC


@pytest.fixture
def voc_root(tmp_path):
    rng = np.random.default_rng(0)
    base = tmp_path / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (base / sub).mkdir(parents=True)
    palette = rng.integers(0, 256, size=768).tolist()
    labels = {}
    for key in ("2007_000032", "2007_000039"):
        Image.fromarray(_photo(rng)).save(base / "JPEGImages" / f"{key}.jpg")
        label = np.zeros((24, 32), dtype=np.uint8)
        label[4:12, 5:20] = 15  # person
        label[14:20, 2:9] = 5  # bottle
        label[3:13, 4] = 255  # void outline
        mask = Image.fromarray(label, mode="P")
        mask.putpalette(palette)
        mask.save(base / "SegmentationClass" / f"{key}.png")
        labels[key] = label
    (base / "ImageSets/Segmentation/train.txt").write_text("2007_000032\n2007_000039\n")
    (base / "ImageSets/Segmentation/val.txt").write_text("2007_000039\n")
    return tmp_path, labels


def test_voc_decodes_like_torchvision(voc_root):
    root, labels = voc_root
    ours = VOCSegmentation(root, split="train")
    theirs = torchvision.datasets.VOCSegmentation(str(root), year="2012", image_set="train")
    assert len(ours) == len(theirs) == 2 and ours.classes[15] == "person"
    for i, key in enumerate(("2007_000032", "2007_000039")):
        image, label = ours[i]
        ref_image, ref_label = theirs[i]
        assert image.dtype == torch.float32 and image.shape == (3, 24, 32)
        assert label.dtype == torch.int64 and label.shape == (24, 32)
        np.testing.assert_array_equal(_as_uint8(image), np.asarray(ref_image))
        np.testing.assert_array_equal(label.numpy(), np.asarray(ref_label))
        np.testing.assert_array_equal(label.numpy(), labels[key])
        assert set(label.unique().tolist()) == {0, 5, 15, 255}  # the void band stays 255
    assert len(VOCSegmentation(root, split="val")) == 1


def test_voc_transforms_applied_last(voc_root):
    root, _ = voc_root
    flip = VOCSegmentation(root, transforms=lambda image, label: (image.flip(-1), label.flip(-1)))
    image, label = VOCSegmentation(root)[0]
    flipped_image, flipped_label = flip[0]
    assert torch.equal(flipped_image, image.flip(-1)) and torch.equal(flipped_label, label.flip(-1))


def test_voc_rejects_rgb_label_png(voc_root):
    root, _ = voc_root
    path = root / "VOCdevkit/VOC2012/SegmentationClass/2007_000032.png"
    Image.fromarray(np.zeros((24, 32, 3), dtype=np.uint8)).save(path)
    with pytest.raises(ValueError, match="palette or grey PNG"):
        VOCSegmentation(root)[0]


def test_voc_bad_split_names_argument(voc_root):
    with pytest.raises(ValueError, match="split"):
        VOCSegmentation(voc_root[0], split="test")


# ----------------------------------------------------------------------------------------- Oxford pets


@pytest.fixture
def pets_root(tmp_path):
    rng = np.random.default_rng(1)
    base = tmp_path / "oxford-iiit-pet"
    (base / "images").mkdir(parents=True)
    (base / "annotations" / "trimaps").mkdir(parents=True)
    trimaps = {}
    for key in ("Abyssinian_1", "beagle_2"):
        Image.fromarray(_photo(rng, 20, 28)).save(base / "images" / f"{key}.jpg")
        trimap = np.full((20, 28), 2, dtype=np.uint8)  # background
        trimap[5:15, 6:20] = 3  # boundary band
        trimap[7:13, 8:18] = 1  # pet
        Image.fromarray(trimap).save(base / "annotations" / "trimaps" / f"{key}.png")
        trimaps[key] = trimap
    (base / "annotations" / "trainval.txt").write_text("Abyssinian_1 1 1 1\nbeagle_2 2 2 1\n")
    (base / "annotations" / "test.txt").write_text("beagle_2 2 2 1\n")
    return tmp_path, trimaps


@pytest.mark.parametrize(("boundary", "band"), [("ignore", 255), ("class", 2)])
def test_pets_trimap_mapping_matches_torchvision(pets_root, boundary, band):
    root, trimaps = pets_root
    ours = OxfordPets(root, split="trainval", boundary=boundary)
    theirs = torchvision.datasets.OxfordIIITPet(str(root), split="trainval", target_types="segmentation")
    assert len(ours) == len(theirs) == 2
    for i, key in enumerate(("Abyssinian_1", "beagle_2")):
        image, label = ours[i]
        ref_image, ref_trimap = theirs[i]
        assert image.dtype == torch.float32 and label.dtype == torch.int64 and label.shape == (20, 28)
        np.testing.assert_array_equal(_as_uint8(image), np.asarray(ref_image))
        ref = np.asarray(ref_trimap)
        np.testing.assert_array_equal(ref, trimaps[key])
        expected = np.select([ref == 1, ref == 2, ref == 3], [1, 0, band])
        np.testing.assert_array_equal(label.numpy(), expected)
    assert len(OxfordPets(root, split="test")) == 1


def test_pets_rejects_values_outside_the_trimap(pets_root):
    root, _ = pets_root
    Image.fromarray(np.zeros((20, 28), dtype=np.uint8)).save(
        root / "oxford-iiit-pet/annotations/trimaps/Abyssinian_1.png"
    )
    with pytest.raises(ValueError, match="trimap values 1, 2, 3"):
        OxfordPets(root)[0]


def test_pets_bad_arguments_are_named(pets_root):
    with pytest.raises(ValueError, match="split"):
        OxfordPets(pets_root[0], split="train")
    with pytest.raises(ValueError, match="boundary"):
        OxfordPets(pets_root[0], boundary="drop")


# ------------------------------------------------------------------------------------------ Penn-Fudan


@pytest.fixture
def pennfudan_root(tmp_path):
    rng = np.random.default_rng(2)
    base = tmp_path / "PennFudanPed"
    (base / "PNGImages").mkdir(parents=True)
    (base / "PedMasks").mkdir(parents=True)
    for key, n in (("FudanPed00001", 2), ("PennPed00002", 0)):
        Image.fromarray(_photo(rng, 30, 40)).save(base / "PNGImages" / f"{key}.png")
        instances = np.zeros((30, 40), dtype=np.uint8)
        if n:
            instances[2:20, 3:9] = 1  # rows 2..19, columns 3..8
            instances[10:29, 25:37] = 2
            instances[12, 30] = 0  # a hole does not change the box
        mask = Image.fromarray(instances, mode="P")
        mask.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
        mask.save(base / "PedMasks" / f"{key}_mask.png")
    return tmp_path


def test_pennfudan_targets(pennfudan_root):
    data = PennFudan(pennfudan_root)
    assert len(data) == 2 and data.classes[1] == "pedestrian"
    image, target = data[0]
    assert image.dtype == torch.float32 and image.shape == (3, 30, 40)
    with Image.open(pennfudan_root / "PennFudanPed/PNGImages/FudanPed00001.png") as ref:
        np.testing.assert_array_equal(_as_uint8(image), np.asarray(ref))
    assert target["boxes"].dtype == torch.float32
    expected = torch.tensor([[3.0, 2.0, 8.0, 19.0], [25.0, 10.0, 36.0, 28.0]])
    assert torch.equal(target["boxes"], expected)
    assert torch.equal(target["boxes"], masks_to_boxes(target["masks"].bool()))
    assert torch.equal(target["labels"], torch.ones(2, dtype=torch.int64))
    assert target["masks"].dtype == torch.uint8 and target["masks"].shape == (2, 30, 40)
    assert target["instances"].dtype == torch.int64
    for k in (1, 2):
        assert torch.equal(target["masks"][k - 1].bool(), target["instances"] == k)
    assert int(target["masks"][1].sum()) == 19 * 12 - 1 and target["image_id"] == 0


def test_pennfudan_image_without_people(pennfudan_root):
    _, target = PennFudan(pennfudan_root)[1]
    assert target["boxes"].shape == (0, 4) and target["labels"].shape == (0,)
    assert target["masks"].shape == (0, 30, 40)


def test_pennfudan_feeds_torchvision_detection_loss(pennfudan_root):
    """The target dict is what torchvision's Mask R-CNN trains on (a tiny untrained model, one step)."""
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.ops import MultiScaleRoIAlign

    torch.manual_seed(0)
    backbone = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=4, padding=1), torch.nn.ReLU())
    backbone.out_channels = 8
    model = MaskRCNN(
        backbone, num_classes=2, min_size=32, max_size=48,
        rpn_anchor_generator=AnchorGenerator(sizes=((8, 16),), aspect_ratios=((0.5, 1.0, 2.0),)),
        box_roi_pool=MultiScaleRoIAlign(["0"], output_size=7, sampling_ratio=2),
        mask_roi_pool=MultiScaleRoIAlign(["0"], output_size=14, sampling_ratio=2),
    )
    image, target = PennFudan(pennfudan_root)[0]
    losses = model([image], [target])
    assert {"loss_classifier", "loss_box_reg", "loss_mask"} <= set(losses)
    assert all(torch.isfinite(value) for value in losses.values())


# ---------------------------------------------------------------------------------- missing / download


@pytest.mark.parametrize(
    ("make", "folder"),
    [
        (lambda root, **kw: VOCSegmentation(root, **kw), "JPEGImages"),
        (lambda root, **kw: OxfordPets(root, **kw), "trimaps"),
        (lambda root, **kw: PennFudan(root, **kw), "PedMasks"),
    ],
)
def test_missing_data_names_the_flag_the_layout_and_the_offline_default(tmp_path, make, folder):
    with pytest.raises(DatasetNotFoundError) as info:
        make(tmp_path)
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    assert "download=True" in message and folder in message and "SceneDataset" in message


@pytest.mark.parametrize(
    ("make", "host"),
    [
        (lambda root: VOCSegmentation(root, download=True), "robots.ox.ac.uk"),
        (lambda root: OxfordPets(root, download=True), "robots.ox.ac.uk"),
        (lambda root: PennFudan(root, download=True), "cis.upenn.edu"),
    ],
)
def test_download_offline_raises_a_clear_error(tmp_path, make, host):
    with pytest.raises(DatasetDownloadError, match="Offline?") as info:
        make(tmp_path)
    assert isinstance(info.value, ConnectionError) and host in str(info.value)
    assert "SceneDataset" in str(info.value)


def test_download_skipped_when_data_present(voc_root, pets_root, pennfudan_root):
    # the network is blocked: these would fail if they tried to fetch anything
    assert len(VOCSegmentation(voc_root[0], download=True)) == 2
    assert len(OxfordPets(pets_root[0], download=True)) == 2
    assert len(PennFudan(pennfudan_root, download=True)) == 2
