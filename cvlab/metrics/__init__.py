"""Metrics for dense prediction: segmentation scores from a confusion matrix, boundary IoU (more to come)."""

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
]

# boundary IoU (unit 3)
from cvlab.metrics.segmentation import boundary_iou, boundary_iou_per_class, mask_to_boundary  # noqa: E402

__all__ += ["mask_to_boundary", "boundary_iou", "boundary_iou_per_class"]
