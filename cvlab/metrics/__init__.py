"""Metrics for dense prediction: segmentation scores from a confusion matrix, boundary IoU (more to come)."""

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

# panoptic quality (unit 5)
from cvlab.metrics.panoptic import (  # noqa: E402
    PanopticCounts,
    PanopticQualityResult,
    PQSummary,
    SegmentPairs,
    match_segments,
    panoptic_counts,
    panoptic_quality,
    pq_from_counts,
)

__all__ += [
    "PQSummary",
    "PanopticCounts",
    "PanopticQualityResult",
    "SegmentPairs",
    "match_segments",
    "panoptic_counts",
    "panoptic_quality",
    "pq_from_counts",
]
# depth (unit 6)
from cvlab.metrics.depth import DEPTH_METRICS, align_disparity, depth_metrics  # noqa: E402

__all__ += ["DEPTH_METRICS", "depth_metrics", "align_disparity"]

# boundary IoU (unit 3)
from cvlab.metrics.segmentation import boundary_iou, boundary_iou_per_class, mask_to_boundary  # noqa: E402

__all__ += ["mask_to_boundary", "boundary_iou", "boundary_iou_per_class"]

# image fidelity for restoration (unit 7)
from cvlab.metrics.image import image_scores, psnr, ssim  # noqa: E402

__all__ += ["psnr", "ssim", "image_scores"]
