"""Metrics for dense prediction: segmentation scores from a confusion matrix (more to come)."""

from cvlab.metrics.instance import mask_ap
from cvlab.metrics.segmentation import (
    confusion_matrix,
    dice_per_class,
    iou_per_class,
    mean_iou,
    pixel_accuracy,
    segmentation_scores,
)

__all__ = [
    "confusion_matrix",
    "dice_per_class",
    "iou_per_class",
    "mean_iou",
    "pixel_accuracy",
    "segmentation_scores",
    "mask_ap",  # instance (unit 4)
]
