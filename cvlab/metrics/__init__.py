"""Metrics for dense prediction: segmentation scores from a confusion matrix (more to come)."""

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

# image fidelity for restoration (unit 7)
from cvlab.metrics.image import image_scores, psnr, ssim  # noqa: E402

__all__ += ["psnr", "ssim", "image_scores"]
