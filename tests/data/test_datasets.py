"""SceneDataset: fixed split seeds, targets per task, flip-consistent augmentation, detection collation."""

import pytest
import torch
from torch.utils.data import DataLoader
from torchvision.ops import masks_to_boxes

from cvlab.data import SPLIT_SEEDS, SceneDataset, detection_collate, render_scene

SIZE = (40, 56)
ALL = ("semantic", "instance", "panoptic", "depth", "normals")


def test_splits_are_fixed_disjoint_seed_ranges():
    assert SPLIT_SEEDS == {
        "train": range(0, 100_000),
        "val": range(100_000, 101_000),
        "test": range(200_000, 201_000),
    }
    assert len(SceneDataset("train", size=8)) == 100_000
    ds = SceneDataset("test", size=SIZE, length=3)
    assert len(ds) == 3
    image, semantic = ds[2]
    scene = render_scene(200_002, SIZE)
    assert torch.equal(image, scene.image) and torch.equal(semantic, scene.semantic)
    assert torch.equal(ds[-1][0], image)
    with pytest.raises(IndexError):
        ds[3]


def test_targets_per_task():
    ds = SceneDataset("val", task=ALL, size=SIZE, length=4)
    for i in range(len(ds)):
        image, t = ds[i]
        scene = ds.scene(i)
        assert image.shape == (3, *SIZE) and image.dtype == torch.float32
        assert torch.equal(t["semantic"], scene.semantic) and t["semantic"].dtype == torch.int64
        assert torch.equal(t["panoptic"], scene.panoptic) and t["panoptic"].shape == (*SIZE, 2)
        assert t["depth"]["depth"].shape == (1, *SIZE) and t["depth"]["depth"].dtype == torch.float32
        assert torch.equal(t["depth"]["depth"][0], scene.depth) and torch.equal(
            t["depth"]["valid"][0], scene.valid
        )
        assert t["depth"]["valid"].dtype == torch.bool
        assert torch.equal(t["normals"]["normals"], scene.normals) and t["normals"]["valid"].shape == (
            1,
            *SIZE,
        )
        det = t["instance"]
        n = len(scene.objects)
        assert det["boxes"].shape == (n, 4) and det["boxes"].dtype == torch.float32
        assert det["labels"].dtype == torch.int64 and det["labels"].tolist() == [
            o.class_id for o in scene.objects
        ]
        assert det["masks"].shape == (n, *SIZE) and det["masks"].dtype == torch.uint8
        for mask, obj in zip(det["masks"], scene.objects, strict=True):
            assert torch.equal(mask.bool(), scene.instance == obj.instance_id)
        if n:
            assert torch.equal(det["boxes"], masks_to_boxes(det["masks"]))


def test_single_task_returns_the_bare_target():
    image, depth = SceneDataset("val", task="depth", size=SIZE, length=1)[0]
    assert set(depth) == {"depth", "valid"}
    _, semantic = SceneDataset("val", task="semantic", size=SIZE, length=1)[0]
    assert semantic.shape == SIZE


def test_no_things_gives_empty_detection_targets():
    _, det = SceneDataset("val", task="instance", size=SIZE, length=1, n_objects=0)[0]
    assert det["boxes"].shape == (0, 4) and det["labels"].shape == (0,) and det["masks"].shape == (0, *SIZE)
    assert det["boxes"].dtype == torch.float32 and det["masks"].dtype == torch.uint8


def test_augmentation_flips_every_target_consistently_and_is_reproducible():
    plain = SceneDataset("train", task=ALL, size=SIZE, length=12)
    aug = SceneDataset("train", task=ALL, size=SIZE, length=12, augment=True)
    flips = 0
    w = SIZE[1]
    for i in range(len(plain)):
        (img0, t0), (img1, t1) = plain[i], aug[i]
        img2, t2 = aug[i]
        assert torch.equal(img1, img2) and torch.equal(t1["semantic"], t2["semantic"])  # reproducible
        flipped = not torch.equal(t1["semantic"], t0["semantic"])
        flips += flipped
        f = (lambda x: x.flip(-1)) if flipped else (lambda x: x)
        assert torch.equal(t1["semantic"], f(t0["semantic"]))
        assert torch.equal(t1["panoptic"], f(t0["panoptic"].permute(2, 0, 1)).permute(1, 2, 0))
        assert torch.equal(t1["depth"]["depth"], f(t0["depth"]["depth"]))
        assert torch.equal(t1["depth"]["valid"], f(t0["depth"]["valid"]))
        normals = f(t0["normals"]["normals"])
        if flipped:
            normals = normals * torch.tensor([-1.0, 1.0, 1.0])[:, None, None]
        assert torch.equal(t1["normals"]["normals"], normals)
        assert torch.equal(t1["instance"]["masks"], f(t0["instance"]["masks"]))
        assert torch.equal(t1["instance"]["labels"], t0["instance"]["labels"])
        boxes = t0["instance"]["boxes"]
        if flipped:
            boxes = torch.stack([w - 1 - boxes[:, 2], boxes[:, 1], w - 1 - boxes[:, 0], boxes[:, 3]], dim=1)
        assert torch.equal(t1["instance"]["boxes"], boxes)
        # colour jitter: the image only, mild, still in [0, 1]
        assert 0 <= img1.min() and img1.max() <= 1
        assert (img1 - f(img0)).abs().mean() < 0.15
    assert 0 < flips < len(plain)
    other = SceneDataset("train", task="semantic", size=SIZE, length=12, augment=True, aug_seed=1)
    assert any(not torch.equal(other[i][0], aug[i][0]) for i in range(4))


def test_detection_collate_with_a_dataloader():
    ds = SceneDataset("val", task="instance", size=SIZE, length=4)
    images, targets = next(iter(DataLoader(ds, batch_size=4, collate_fn=detection_collate)))
    assert images.shape == (4, 3, *SIZE)
    assert isinstance(targets, list) and len(targets) == 4
    assert all(set(t) == {"boxes", "labels", "masks"} for t in targets)
    multi = SceneDataset("val", task=("semantic", "instance"), size=SIZE, length=4)
    images, targets = detection_collate([multi[i] for i in range(3)])
    assert targets["semantic"].shape == (3, *SIZE) and len(targets["instance"]) == 3


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(split="training"), "split"),
        (dict(task="depths"), "task"),
        (dict(task=("semantic", "optical_flow")), "task"),
        (dict(task=()), "task"),
        (dict(length=-1), "length"),
        (dict(split="val", length=1001), "length"),
        (dict(size=0), "size"),
        (dict(rare=2.0), "rare"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SceneDataset(**kwargs)
