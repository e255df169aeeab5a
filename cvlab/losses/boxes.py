"""Box regression losses: IoU and generalized IoU (GIoU) for matched box pairs.

Boxes are ``(x1, y1, x2, y2)`` in pixels, the torchvision convention.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cvlab._validate import check_choice, check_same_shape, check_tensor

_REDUCTIONS = ("none", "mean", "sum")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean() if loss.numel() else loss.sum() * 0.0
    if reduction == "sum":
        return loss.sum()
    return loss


def _iou_terms(boxes1: Tensor, boxes2: Tensor, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    check_tensor(boxes1, "boxes1", dtype="float", shape="(N, 4)")
    check_tensor(boxes2, "boxes2", dtype="float", shape="(N, 4)")
    check_same_shape(boxes1, boxes2, "boxes1", "boxes2")
    if boxes1.shape[-1] != 4:
        raise ValueError(f"boxes1: expected a last dimension of 4 (x1, y1, x2, y2), got shape {tuple(boxes1.shape)}")
    x1, y1, x2, y2 = boxes1.unbind(-1)
    u1, v1, u2, v2 = boxes2.unbind(-1)
    iw = (torch.minimum(x2, u2) - torch.maximum(x1, u1)).clamp(min=0)
    ih = (torch.minimum(y2, v2) - torch.maximum(y1, v1)).clamp(min=0)
    inter = iw * ih
    union = (x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1) - inter
    iou = inter / (union + eps)
    hull = (torch.maximum(x2, u2) - torch.minimum(x1, u1)) * (torch.maximum(y2, v2) - torch.minimum(y1, v1))
    return iou, union, hull


def iou_loss(boxes1: Tensor, boxes2: Tensor, reduction: str = "none", eps: float = 1e-7) -> Tensor:
    r"""IoU loss :math:`1 - \mathrm{IoU}` between matched boxes (pair ``i`` of ``boxes1`` with ``i`` of ``boxes2``).

    Args:
        boxes1 (Tensor[..., 4]): predicted boxes ``(x1, y1, x2, y2)`` in pixels, ``x1 <= x2``, ``y1 <= y2``.
        boxes2 (Tensor[..., 4]): target boxes, same shape.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.
        eps: added to the union to avoid 0 / 0.

    Returns:
        Tensor[...]: the loss per pair (or its mean / sum), in the boxes' dtype.

    Reference: Yu et al., "UnitBox: An Advanced Object Detection Network", ACM MM 2016.
    """
    check_choice(reduction, "reduction", _REDUCTIONS)
    iou, _, _ = _iou_terms(boxes1, boxes2, eps)
    return _reduce(1 - iou, reduction)


def giou_loss(boxes1: Tensor, boxes2: Tensor, reduction: str = "none", eps: float = 1e-7) -> Tensor:
    r"""Generalized IoU loss :math:`1 - \mathrm{IoU} + |C \setminus (A \cup B)| / |C|`, C the smallest enclosing box.

    Same semantics as ``torchvision.ops.generalized_box_iou_loss``; lies in [0, 2] and still has a gradient when
    the boxes do not overlap.

    Args:
        boxes1 (Tensor[..., 4]): predicted boxes ``(x1, y1, x2, y2)`` in pixels.
        boxes2 (Tensor[..., 4]): target boxes, same shape.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.
        eps: added to the union and the hull area to avoid 0 / 0.

    Returns:
        Tensor[...]: the loss per pair (or its mean / sum).

    Reference: Rezatofighi et al., "Generalized Intersection over Union", CVPR 2019.
    """
    check_choice(reduction, "reduction", _REDUCTIONS)
    iou, union, hull = _iou_terms(boxes1, boxes2, eps)
    giou = iou - (hull - union) / (hull + eps)
    return _reduce(1 - giou, reduction)


class IoULoss(nn.Module):
    """See `iou_loss`."""

    def __init__(self, reduction: str = "mean", eps: float = 1e-7) -> None:
        super().__init__()
        self.reduction, self.eps = reduction, eps

    def forward(self, boxes1: Tensor, boxes2: Tensor) -> Tensor:
        return iou_loss(boxes1, boxes2, self.reduction, self.eps)


class GIoULoss(nn.Module):
    """See `giou_loss`."""

    def __init__(self, reduction: str = "mean", eps: float = 1e-7) -> None:
        super().__init__()
        self.reduction, self.eps = reduction, eps

    def forward(self, boxes1: Tensor, boxes2: Tensor) -> Tensor:
        return giou_loss(boxes1, boxes2, self.reduction, self.eps)
