"""Detection primer: IoU between boxes and greedy non-maximum suppression, boxes ``(x1, y1, x2, y2)`` in pixels."""

from __future__ import annotations

import torch

from cvlab._validate import check_tensor


def _check_boxes(boxes: object, name: str) -> torch.Tensor:
    check_tensor(boxes, name, ndim=2, shape="(N, 4)", dtype="float", finite=True)
    if boxes.shape[1] != 4:  # type: ignore[union-attr]
        raise ValueError(f"{name}: expected a tensor of shape (N, 4), got shape {tuple(boxes.shape)}")  # type: ignore
    return boxes  # type: ignore[return-value]


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU ``|A n B| / |A u B|`` of boxes1 (Tensor[N, 4]) and boxes2 (Tensor[M, 4]): Tensor[N, M].

    Equal to ``torchvision.ops.box_iou``.
    """
    _check_boxes(boxes1, "boxes1")
    _check_boxes(boxes2, "boxes2")
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    lt = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=2)
    return inter / (area1[:, None] + area2[None, :] - inter)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS: keep the highest score, drop every box with IoU > ``iou_threshold`` to it, repeat.

    Args:
        boxes (Tensor[N, 4]): boxes ``(x1, y1, x2, y2)``.
        scores (Tensor[N]): their scores.
        iou_threshold (float): overlap above which the lower-scored box is removed.

    Returns:
        Tensor[K] int64 indices of the kept boxes, by decreasing score (``torchvision.ops.nms``).
    """
    _check_boxes(boxes, "boxes")
    check_tensor(scores, "scores", ndim=1, shape="(N,)", dtype="float", finite=True)
    if scores.shape[0] != boxes.shape[0]:
        raise ValueError(f"scores: expected one score per box, shape ({boxes.shape[0]},), got {tuple(scores.shape)}")
    order = torch.sort(scores, descending=True, stable=True).indices
    iou = box_iou(boxes[order], boxes[order])
    removed = torch.zeros(len(order), dtype=torch.bool, device=boxes.device)
    keep = []
    for i in range(len(order)):  # greedy: each decision depends on the previous ones
        if not removed[i]:
            keep.append(i)
            removed |= iou[i] > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long, device=boxes.device)]
