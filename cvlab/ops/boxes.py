"""Detection primer: IoU, anchors, box encoding, greedy NMS and FCOS targets; boxes ``(x1, y1, x2, y2)`` in pixels.

References: S. Ren, K. He, R. Girshick and J. Sun, "Faster R-CNN", 2015 (anchors, box encoding); Z. Tian, C. Shen,
H. Chen and T. He, "FCOS: Fully Convolutional One-Stage Object Detection", 2019.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from cvlab._validate import check_int, check_same_shape, check_tensor
from cvlab.ops.arithmetic import _pair


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
    return _greedy_nms(boxes, scores, iou_threshold, None)


def _greedy_nms(
    boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, idxs: torch.Tensor | None
) -> torch.Tensor:
    _check_boxes(boxes, "boxes")
    check_tensor(scores, "scores", ndim=1, shape="(N,)", dtype="float", finite=True)
    if scores.shape[0] != boxes.shape[0]:
        raise ValueError(f"scores: expected one score per box, shape ({boxes.shape[0]},), got {tuple(scores.shape)}")
    order = torch.sort(scores, descending=True, stable=True).indices
    iou = box_iou(boxes[order], boxes[order])
    if idxs is not None:
        check_tensor(idxs, "idxs", ndim=1, shape="(N,)", dtype="int")
        if idxs.shape[0] != boxes.shape[0]:
            raise ValueError(f"idxs: expected one index per box, shape ({boxes.shape[0]},), got {tuple(idxs.shape)}")
        same = idxs[order][:, None] == idxs[order][None, :]
        iou = torch.where(same, iou, iou.new_tensor(-math.inf))
    removed = torch.zeros(len(order), dtype=torch.bool, device=boxes.device)
    keep = []
    for i in range(len(order)):  # greedy: each decision depends on the previous ones
        if not removed[i]:
            keep.append(i)
            removed |= iou[i] > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long, device=boxes.device)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """NMS within each category: boxes of different ``idxs`` never suppress each other.

    One greedy pass in which the IoU of two boxes of different categories counts as 0 (torchvision shifts each
    category's boxes apart instead, which gives the same result up to rounding).

    Args:
        boxes (Tensor[N, 4]), scores (Tensor[N]): as in `nms`.
        idxs (Tensor[N]): integer category (or image) of each box.
        iou_threshold (float): overlap above which the lower-scored box of the same category is removed.

    Returns:
        Tensor[K] int64 indices of the kept boxes, by decreasing score (``torchvision.ops.batched_nms``).
    """
    return _greedy_nms(boxes, scores, iou_threshold, idxs)


def anchor_grid(
    grid_size: int | tuple[int, int],
    stride: int | tuple[int, int],
    sizes: Sequence[float],
    aspect_ratios: Sequence[float],
    *,
    offset: float = 0.0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """All anchors of one feature map: ``A = len(aspect_ratios) * len(sizes)`` boxes at every grid cell.

    An anchor of size ``s`` and aspect ratio ``r = h / w`` has ``w = s / sqrt(r)``, ``h = s * sqrt(r)`` (area
    ``s**2``), corners rounded to whole pixels, centred at ``((j + offset) * stride_x, (i + offset) * stride_y)``
    for cell ``(i, j)``. ``offset=0`` is torchvision's ``AnchorGenerator``; ``0.5`` centres anchors on the cells.

    Args:
        grid_size (int or (int, int)): feature-map ``(H, W)``.
        stride (int or (int, int)): image pixels per feature pixel ``(s_y, s_x)``.
        sizes: anchor sizes (square root of the area) in image pixels.
        aspect_ratios: ``h / w`` ratios.

    Returns:
        Tensor[H * W * A, 4] boxes ``(x1, y1, x2, y2)``, cell-major (row by row), then ratio, then size.
    """
    gh, gw = _pair(grid_size, "grid_size", minimum=1)
    sy, sx = _pair(stride, "stride", minimum=1)
    scales = torch.as_tensor(list(sizes), dtype=dtype, device=device)
    ratios = torch.as_tensor(list(aspect_ratios), dtype=dtype, device=device)
    if scales.numel() == 0 or ratios.numel() == 0 or bool((scales <= 0).any() | (ratios <= 0).any()):
        raise ValueError(f"sizes and aspect_ratios: expected positive values, got {list(sizes)} and "
                         f"{list(aspect_ratios)}")
    h_ratio = ratios.sqrt()
    ws = (scales[None, :] / h_ratio[:, None]).reshape(-1)
    hs = (scales[None, :] * h_ratio[:, None]).reshape(-1)
    base = (torch.stack([-ws, -hs, ws, hs], dim=1) / 2).round()  # (A, 4)
    cy = (torch.arange(gh, dtype=dtype, device=device) + offset) * sy
    cx = (torch.arange(gw, dtype=dtype, device=device) + offset) * sx
    yy, xx = torch.meshgrid(cy, cx, indexing="ij")
    shifts = torch.stack([xx, yy, xx, yy], dim=-1).reshape(-1, 1, 4)
    return (shifts + base[None]).reshape(-1, 4)


def encode_boxes(
    boxes: torch.Tensor, anchors: torch.Tensor, weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
) -> torch.Tensor:
    r"""Regression targets of ``boxes`` relative to their ``anchors``: offsets of the centre, log-scales of the size.

    :math:`t_x = w_x (x - x_a) / w_a,\ t_y = w_y (y - y_a) / h_a,\ t_w = w_w \log(w / w_a),\ t_h = w_h \log(h / h_a)`
    with ``(x, y)`` box centres and ``w, h`` sizes (Faster R-CNN).

    Args:
        boxes (Tensor[N, 4]): target boxes ``(x1, y1, x2, y2)``.
        anchors (Tensor[N, 4]): reference boxes (anchors or proposals), one per box, positive sizes.
        weights: ``(w_x, w_y, w_w, w_h)`` scale the four targets (torchvision's ``BoxCoder`` weights).

    Returns:
        Tensor[N, 4] ``(t_x, t_y, t_w, t_h)``, as ``BoxCoder(weights).encode_single(boxes, anchors)``.
    """
    _check_boxes(boxes, "boxes")
    _check_boxes(anchors, "anchors")
    check_same_shape(boxes, anchors, "boxes", "anchors")
    cx, cy, w, h = _centre_size(boxes)
    ax, ay, aw, ah = _centre_size(anchors)
    wx, wy, ww, wh = weights
    return torch.stack([wx * (cx - ax) / aw, wy * (cy - ay) / ah, ww * torch.log(w / aw), wh * torch.log(h / ah)], 1)


def decode_boxes(
    deltas: torch.Tensor,
    anchors: torch.Tensor,
    weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0),
    clip: float = math.log(1000.0 / 16),
) -> torch.Tensor:
    """Boxes from regression outputs: the inverse of `encode_boxes`, log-scales clamped at ``clip`` before exp.

    Args:
        deltas (Tensor[N, 4]): ``(t_x, t_y, t_w, t_h)``.
        anchors (Tensor[N, 4]): the reference boxes they refine.
        weights: as in `encode_boxes`.
        clip: largest log-scale passed to ``exp`` (torchvision's ``bbox_xform_clip``).

    Returns:
        Tensor[N, 4] boxes ``(x1, y1, x2, y2)``, as ``BoxCoder(weights).decode_single(deltas, anchors)``.
    """
    check_tensor(deltas, "deltas", ndim=2, shape="(N, 4)", dtype="float")
    _check_boxes(anchors, "anchors")
    check_same_shape(deltas, anchors, "deltas", "anchors")
    ax, ay, aw, ah = _centre_size(anchors.to(deltas.dtype))
    tx, ty, tw, th = (deltas / deltas.new_tensor(weights)).unbind(1)
    cx, cy = tx * aw + ax, ty * ah + ay
    w, h = torch.exp(tw.clamp(max=clip)) * aw, torch.exp(th.clamp(max=clip)) * ah
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=1)


def _centre_size(boxes: torch.Tensor) -> tuple[torch.Tensor, ...]:
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h, w, h


def fcos_points(
    grid_size: int | tuple[int, int], stride: int, *, dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Image locations ``(floor(s / 2) + j * s, floor(s / 2) + i * s)`` of the cells of a stride-``s`` map.

    Returns:
        Tensor[H * W, 2] points ``(x, y)`` in image pixels, row by row (FCOS, section 3.1).
    """
    gh, gw = _pair(grid_size, "grid_size", minimum=1)
    s = check_int(stride, "stride")
    ys = torch.arange(gh, dtype=dtype, device=device) * s + s // 2
    xs = torch.arange(gw, dtype=dtype, device=device) * s + s // 2
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def fcos_targets(
    points: torch.Tensor, boxes: torch.Tensor, size_range: tuple[float, float] = (0.0, math.inf)
) -> tuple[torch.Tensor, torch.Tensor]:
    """FCOS regression targets: for each point inside a box, its distances ``(l, t, r, b)`` to the box's sides.

    A point is positive for a box when it lies strictly inside it (all four distances > 0) and the largest distance
    ``max(l, t, r, b)`` is in ``(lo, hi]`` (the pyramid level's range). A point inside several boxes is *ambiguous*
    and regresses the one of smallest area (the paper's rule; the first such box on equal areas).

    Args:
        points (Tensor[P, 2]): locations ``(x, y)`` in image pixels (see `fcos_points`).
        boxes (Tensor[M, 4]): ground-truth boxes ``(x1, y1, x2, y2)``.
        size_range: ``(lo, hi)`` in pixels for the largest distance.

    Returns:
        ``(targets, matched)``: Tensor[P, 4] ``(l, t, r, b)`` of the assigned box (0 for background) and
        Tensor[P] int64 index of that box, -1 for background.
    """
    check_tensor(points, "points", ndim=2, shape="(P, 2)", dtype="float", finite=True)
    if points.shape[1] != 2:
        raise ValueError(f"points: expected a tensor of shape (P, 2), got shape {tuple(points.shape)}")
    _check_boxes(boxes, "boxes")
    lo, hi = size_range
    p = points.shape[0]
    if boxes.shape[0] == 0:
        return points.new_zeros(p, 4), torch.full((p,), -1, dtype=torch.long, device=points.device)
    x, y = points[:, 0:1], points[:, 1:2]
    ltrb = torch.stack([x - boxes[:, 0], y - boxes[:, 1], boxes[:, 2] - x, boxes[:, 3] - y], dim=2)  # (P, M, 4)
    biggest = ltrb.amax(dim=2)
    ok = (ltrb.amin(dim=2) > 0) & (biggest > lo) & (biggest <= hi)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    best = torch.where(ok, area.expand_as(biggest), torch.full_like(biggest, math.inf)).argmin(dim=1)  # first min
    positive = ok.any(dim=1)
    targets = ltrb[torch.arange(p, device=points.device), best] * positive[:, None].to(ltrb.dtype)
    return targets, torch.where(positive, best, torch.full_like(best, -1))
