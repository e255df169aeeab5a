"""Losses for dense prediction: each a function plus a thin ``nn.Module`` that stores its arguments.

One module per family: ``segmentation`` (cross-entropy variants, Dice, focal), ``boxes`` (IoU, GIoU), ``depth``
(scale-and-shift invariant, gradient matching, scale-invariant log).
"""

from cvlab.losses.boxes import GIoULoss, IoULoss, giou_loss, iou_loss
from cvlab.losses.segmentation import SigmoidFocalLoss, sigmoid_focal_loss

__all__ = ["iou_loss", "giou_loss", "IoULoss", "GIoULoss", "sigmoid_focal_loss", "SigmoidFocalLoss"]
