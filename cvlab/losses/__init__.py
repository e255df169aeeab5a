"""Losses for dense prediction: each a function plus a thin ``nn.Module`` that stores its arguments.

One module per family: ``segmentation`` (cross-entropy variants, Dice, focal), ``boxes`` (IoU, GIoU), ``depth``
(scale-and-shift invariant, gradient matching, scale-invariant log).
"""

from cvlab.losses.boxes import GIoULoss, IoULoss, giou_loss, iou_loss
from cvlab.losses.segmentation import SigmoidFocalLoss, sigmoid_focal_loss

__all__ = ["iou_loss", "giou_loss", "IoULoss", "GIoULoss", "sigmoid_focal_loss", "SigmoidFocalLoss"]

# depth (unit 6)
from cvlab.losses.depth import (  # noqa: E402
    GradientMatchingLoss,
    SILogLoss,
    SSILoss,
    compute_scale_and_shift,
    gradient_matching_loss,
    silog_loss,
    ssi_loss,
)

__all__ += [
    "compute_scale_and_shift",
    "ssi_loss",
    "gradient_matching_loss",
    "silog_loss",
    "SSILoss",
    "GradientMatchingLoss",
    "SILogLoss",
]

# segmentation losses (unit 3)
from cvlab.losses.segmentation import (  # noqa: E402
    DiceLoss,
    SoftmaxFocalLoss,
    WeightedCrossEntropyLoss,
    class_weights,
    dice_loss,
    softmax_focal_loss,
    weighted_cross_entropy,
)

__all__ += [
    "class_weights",
    "weighted_cross_entropy",
    "WeightedCrossEntropyLoss",
    "dice_loss",
    "DiceLoss",
    "softmax_focal_loss",
    "SoftmaxFocalLoss",
]
