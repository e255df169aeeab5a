"""Optional real datasets for Colab: PASCAL VOC 2012, Oxford-IIIT Pet trimaps and Penn-Fudan pedestrians.

The course runs offline on :class:`cvlab.data.SceneDataset`, rendered locally; these loaders are for sessions
with internet. Nothing is downloaded unless ``download=True`` is passed; without the data on disk they raise
:class:`DatasetNotFoundError`, which says where the files should be. Samples follow cvlab's conventions: the
image is float32 ``(3, H, W)`` in [0, 1], semantic labels are int64 ``(H, W)`` with 255 = ignore, detection
targets follow torchvision's detection models. ``transforms(image, target)`` is applied last, to those
tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from cvlab._validate import check_choice
from cvlab.data.samples import _read_rgb

Transforms = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]

VOC_CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)


class DatasetNotFoundError(FileNotFoundError):
    """A real dataset is not on disk and ``download=False``."""


class DatasetDownloadError(ConnectionError):
    """Fetching a real dataset failed (no internet, server down, or a corrupted archive)."""


def _read_index_map(path: Path) -> torch.Tensor:
    """Decode a PNG of per-pixel indices (palette or grey) to int64 ``(H, W)``, refusing colour images."""
    with Image.open(path) as image:
        array = np.asarray(image)
    if array.ndim != 2:
        raise ValueError(f"{path}: expected a palette or grey PNG of indices, got shape {array.shape}")
    return torch.from_numpy(array.astype(np.int64))


class _RealDataset(Dataset):
    """Shared plumbing: the on-disk check, the guarded download and ``transforms``."""

    name: str
    url: str
    layout: str  # the expected folder tree, relative to ``root``

    def __init__(self, root: str | Path, download: bool, transforms: Transforms | None) -> None:
        self.root = Path(root).expanduser()
        self.transforms = transforms
        if download and self._missing() is not None:
            try:
                self._download()
            except (OSError, RuntimeError) as error:  # URLError, socket and SSL errors, bad checksum
                raise DatasetDownloadError(
                    f"{self.name}: downloading from {self.url} failed ({type(error).__name__}: {error}). "
                    f"Offline? The course runs offline on cvlab.data.SceneDataset; for {self.name}, run with "
                    f"internet (e.g. on Colab) or fetch {self.url} by hand and unpack it under "
                    f"{str(self.root)!r} as\n{self.layout}"
                ) from error
        missing = self._missing()
        if missing is not None:
            raise DatasetNotFoundError(
                f"{self.name}: {missing} not found. Expected under root={str(self.root)!r}:\n{self.layout}\n"
                f"Pass download=True to fetch it (needs internet, e.g. on Colab), or use "
                f"cvlab.data.SceneDataset, the offline default rendered locally."
            )

    def _required(self) -> list[Path]:
        raise NotImplementedError

    def _download(self) -> None:
        raise NotImplementedError

    def _missing(self) -> Path | None:
        return next((path for path in self._required() if not path.exists()), None)

    def _finish(self, image: torch.Tensor, target: Any) -> tuple[torch.Tensor, Any]:
        return self.transforms(image, target) if self.transforms is not None else (image, target)


class VOCSegmentation(_RealDataset):
    """PASCAL VOC 2012 semantic segmentation: 21 classes (:data:`VOC_CLASSES`), object outlines marked 255.

    A sample is ``(image, labels)``: image float32 ``(3, H, W)`` in [0, 1], labels int64 ``(H, W)`` holding
    the palette index of ``SegmentationClass/<id>.png`` — 0 background, 1–20 the classes, 255 the "void" band
    around objects, kept as cvlab's ignore index. The download is about 2 GB (torchvision's
    ``VOCSegmentation``).

    Args:
        root (str or Path): folder holding ``VOCdevkit/VOC2012``.
        split (str): ``"train"`` (1464 images), ``"val"`` (1449) or ``"trainval"``.
        download (bool): fetch and unpack the archive into ``root`` when it is missing (needs internet).
        transforms (callable, optional): ``(image, labels) -> (image, labels)``, applied last.

    Reference: M. Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge", IJCV 2010.
    """

    name = "PASCAL VOC 2012"
    url = "https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar"
    layout = (
        "  VOCdevkit/VOC2012/JPEGImages/<id>.jpg\n"
        "  VOCdevkit/VOC2012/SegmentationClass/<id>.png   (palette PNG: class index per pixel, 255 = void)\n"
        "  VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val,trainval}.txt   (one <id> per line)"
    )
    classes = VOC_CLASSES

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        download: bool = False,
        transforms: Transforms | None = None,
    ) -> None:
        self.split = check_choice(split, "split", ("train", "val", "trainval"))
        self._base = Path(root).expanduser() / "VOCdevkit" / "VOC2012"
        super().__init__(root, download, transforms)
        index = self._base / "ImageSets" / "Segmentation" / f"{split}.txt"
        self.ids = [line.strip() for line in index.read_text().splitlines() if line.strip()]

    def _required(self) -> list[Path]:
        return [
            self._base / "JPEGImages",
            self._base / "SegmentationClass",
            self._base / "ImageSets" / "Segmentation" / f"{self.split}.txt",
        ]

    def _download(self) -> None:
        from torchvision import datasets  # lazy: torchvision is slow to import

        datasets.VOCSegmentation(str(self.root), year="2012", image_set=self.split, download=True)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        key = self.ids[index]
        image = _read_rgb(self._base / "JPEGImages" / f"{key}.jpg")
        labels = _read_index_map(self._base / "SegmentationClass" / f"{key}.png")
        return self._finish(image, labels)


class OxfordPets(_RealDataset):
    """Oxford-IIIT Pet (37 cat and dog breeds) as foreground/background segmentation from its trimaps.

    Trimap values are mapped to labels: 1 (pet) → 1, 2 (background) → 0, 3 (the unlabelled band along the
    pet's outline) → 255, the ignore index (``boundary="ignore"``), or → 2, a third class
    (``boundary="class"``). A sample is ``(image, labels)``: image float32 ``(3, H, W)`` in [0, 1], labels
    int64 ``(H, W)``. The download is about 800 MB (torchvision's ``OxfordIIITPet``).

    Args:
        root (str or Path): folder holding ``oxford-iiit-pet``.
        split (str): ``"trainval"`` (3680 images) or ``"test"`` (3669).
        download (bool): fetch and unpack the archives into ``root`` when they are missing (needs internet).
        transforms (callable, optional): ``(image, labels) -> (image, labels)``, applied last.
        boundary (str): ``"ignore"`` or ``"class"``, what the trimap's boundary band becomes.

    Reference: O. M. Parkhi, A. Vedaldi, A. Zisserman and C. V. Jawahar, "Cats and Dogs", CVPR 2012.
    """

    name = "Oxford-IIIT Pet"
    url = "https://www.robots.ox.ac.uk/~vgg/data/pets/data/{images,annotations}.tar.gz"
    layout = (
        "  oxford-iiit-pet/images/<id>.jpg\n"
        "  oxford-iiit-pet/annotations/trimaps/<id>.png   (1 = pet, 2 = background, 3 = boundary)\n"
        "  oxford-iiit-pet/annotations/{trainval,test}.txt   (lines '<id> <class> <species> <breed>')"
    )

    def __init__(
        self,
        root: str | Path,
        split: str = "trainval",
        download: bool = False,
        transforms: Transforms | None = None,
        boundary: str = "ignore",
    ) -> None:
        self.split = check_choice(split, "split", ("trainval", "test"))
        check_choice(boundary, "boundary", ("ignore", "class"))
        self._base = Path(root).expanduser() / "oxford-iiit-pet"
        super().__init__(root, download, transforms)
        lines = (self._base / "annotations" / f"{split}.txt").read_text().splitlines()
        self.ids = [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]
        self._lut = torch.full((256,), -1, dtype=torch.int64)  # -1: not a trimap value
        self._lut[torch.tensor([1, 2, 3])] = torch.tensor([1, 0, 255 if boundary == "ignore" else 2])

    def _required(self) -> list[Path]:
        annotations = self._base / "annotations"
        return [self._base / "images", annotations / "trimaps", annotations / f"{self.split}.txt"]

    def _download(self) -> None:
        from torchvision import datasets  # lazy: torchvision is slow to import

        datasets.OxfordIIITPet(str(self.root), split=self.split, target_types="segmentation", download=True)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        key = self.ids[index]
        image = _read_rgb(self._base / "images" / f"{key}.jpg")
        trimap_path = self._base / "annotations" / "trimaps" / f"{key}.png"
        trimap = _read_index_map(trimap_path)
        labels = self._lut[trimap]
        if (labels < 0).any():
            raise ValueError(f"{trimap_path}: expected trimap values 1, 2, 3, got {trimap.unique().tolist()}")
        return self._finish(image, labels)


class PennFudan(_RealDataset):
    """Penn-Fudan pedestrians: 170 photographs with 345 instance masks, as torchvision detection targets.

    A sample is ``(image, target)``: image float32 ``(3, H, W)`` in [0, 1] and a dict with

    - ``boxes`` (Tensor[N, 4], float32): ``(x1, y1, x2, y2)`` pixel bounds of each mask, as
      ``torchvision.ops.masks_to_boxes`` gives them (inclusive: x2 is the last column of the mask),
    - ``labels`` (Tensor[N], int64): all 1 (:attr:`classes` ``[1] == "pedestrian"``, 0 is the background),
    - ``masks`` (Tensor[N, H, W], uint8): one binary mask per pedestrian, in increasing id order,
    - ``instances`` (Tensor[H, W], int64): the mask file's instance ids, 0 = none (cvlab's instance map),
    - ``image_id`` (int): the sample's index.

    There is no official split (use ``torch.utils.data.random_split``). The download is about 54 MB.

    Args:
        root (str or Path): folder holding ``PennFudanPed``.
        download (bool): fetch and unzip the archive into ``root`` when it is missing (needs internet).
        transforms (callable, optional): ``(image, target) -> (image, target)``, applied last.

    Reference: L. Wang, J. Shi, G. Song and I. Shen, "Object detection combining recognition and
    segmentation", ACCV 2007. https://www.cis.upenn.edu/~jshi/ped_html/
    """

    name = "Penn-Fudan"
    url = "https://www.cis.upenn.edu/~jshi/ped_html/PennFudanPed.zip"
    layout = (
        "  PennFudanPed/PNGImages/<id>.png\n"
        "  PennFudanPed/PedMasks/<id>_mask.png   (0 = background, 1..N = pedestrian ids)"
    )
    classes = ("background", "pedestrian")

    def __init__(
        self, root: str | Path, download: bool = False, transforms: Transforms | None = None
    ) -> None:
        self._base = Path(root).expanduser() / "PennFudanPed"
        super().__init__(root, download, transforms)
        self.ids = sorted(path.stem for path in (self._base / "PNGImages").glob("*.png"))

    def _required(self) -> list[Path]:
        return [self._base / "PNGImages", self._base / "PedMasks"]

    def _download(self) -> None:
        from torchvision.datasets.utils import download_and_extract_archive  # lazy: slow import

        download_and_extract_archive(self.url, download_root=str(self.root))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        from torchvision.ops import masks_to_boxes  # lazy: torchvision is slow to import

        key = self.ids[index]
        image = _read_rgb(self._base / "PNGImages" / f"{key}.png")
        instances = _read_index_map(self._base / "PedMasks" / f"{key}_mask.png")
        ids = instances.unique()
        ids = ids[ids > 0]
        masks = instances[None] == ids[:, None, None]
        target = {
            "boxes": masks_to_boxes(masks).float(),
            "labels": torch.ones(len(ids), dtype=torch.int64),
            "masks": masks.to(torch.uint8),
            "instances": instances,
            "image_id": index,
        }
        return self._finish(image, target)
