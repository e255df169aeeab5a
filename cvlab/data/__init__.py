"""Data: the rendered 3-D scene world, bundled real images and torch Datasets."""

from cvlab.data.datasets import SPLIT_SEEDS, SceneDataset, detection_collate
from cvlab.data.external import (
    DatasetDownloadError,
    DatasetNotFoundError,
    OxfordPets,
    PennFudan,
    VOCSegmentation,
)
from cvlab.data.samples import SAMPLE_NAMES, Motorcycle, load_motorcycle, load_sample
from cvlab.data.scenes import CLASS_NAMES, STUFF_CLASSES, THING_CLASSES, Scene, SceneObject, render_scene

__all__ = [
    "render_scene",
    "Scene",
    "SceneObject",
    "CLASS_NAMES",
    "THING_CLASSES",
    "STUFF_CLASSES",
    "SceneDataset",
    "SPLIT_SEEDS",
    "detection_collate",
    "SAMPLE_NAMES",
    "load_sample",
    "Motorcycle",
    "load_motorcycle",
    "DatasetNotFoundError",
    "DatasetDownloadError",
    "VOCSegmentation",
    "OxfordPets",
    "PennFudan",
]
