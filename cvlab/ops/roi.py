"""RoIPool and RoIAlign in plain, vectorised torch: no loop over RoIs or bins.

RoIPool (Fast R-CNN) rounds the box to the feature grid and takes the max over integer bins; RoIAlign (Mask R-CNN)
keeps the fractional box and averages bilinear samples per bin. Same arguments and results as
``torchvision.ops.roi_pool`` / ``roi_align`` (their compiled kernels are the reference).

References: R. Girshick, "Fast R-CNN", 2015; K. He, G. Gkioxari, P. Dollar and R. Girshick, "Mask R-CNN", 2017.
"""

from __future__ import annotations

import torch

from cvlab._validate import check_same_shape, check_tensor
from cvlab.ops.arithmetic import _pair


def _rois(boxes: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    """Boxes as ``(K, 5)`` with the batch index first, from either torchvision form."""
    if isinstance(boxes, (list, tuple)):
        parts = []
        for i, b in enumerate(boxes):
            check_tensor(b, f"boxes[{i}]", ndim=2, shape="(L, 4)", dtype="float")
            if b.shape[1] != 4:
                raise ValueError(f"boxes[{i}]: expected a tensor of shape (L, 4), got shape {tuple(b.shape)}")
            parts.append(torch.cat([b.new_full((b.shape[0], 1), float(i)), b], dim=1))
        return torch.cat(parts) if parts else torch.zeros(0, 5)
    check_tensor(boxes, "boxes", ndim=2, shape="(K, 5)", dtype="float")
    if boxes.shape[1] != 5:
        raise ValueError(f"boxes: expected a tensor of shape (K, 5), got shape {tuple(boxes.shape)}")
    return boxes


def _check_roi_args(
    input: torch.Tensor, boxes: torch.Tensor | list[torch.Tensor], output_size: int | tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """Validated ``(rois (K, 5) in the input's dtype, no gradient, like torchvision; batch index (K,); h; w)``."""
    check_tensor(input, "input", ndim=4, shape="(N, C, H, W)", dtype="float")
    rois = _rois(boxes)
    check_tensor(rois, "boxes", finite=True)
    ph, pw = _pair(output_size, "output_size", minimum=1)
    rois = rois.detach().to(input.dtype)
    idx = rois[:, 0].long()
    if bool(((idx < 0) | (idx >= input.shape[0])).any()):
        raise ValueError(f"boxes: batch index must lie in [0, {input.shape[0] - 1}], got {rois[:, 0].tolist()}")
    return rois, idx, ph, pw


def _round_half_away(x: torch.Tensor) -> torch.Tensor:
    """C's ``round``: halves go away from zero (``torch.round`` sends them to the even neighbour)."""
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def roi_pool(
    input: torch.Tensor,
    boxes: torch.Tensor | list[torch.Tensor],
    output_size: int | tuple[int, int],
    spatial_scale: float = 1.0,
) -> torch.Tensor:
    """RoIPool: round the box to whole feature pixels, split it into ``h x w`` integer bins, take each bin's max.

    The rounding is the point: a box edge moves by up to half a feature pixel (``1 / (2 * spatial_scale)`` image
    pixels), and bin edges by up to one more (``floor`` / ``ceil``). A bin that falls wholly outside the map gives 0.

    Args:
        input (Tensor[N, C, H, W]): floating feature map.
        boxes (Tensor[K, 5] or List[Tensor[L, 4]]): RoIs ``(batch_index, x1, y1, x2, y2)`` in image pixels.
        output_size (int or (int, int)): bins ``(h, w)``.
        spatial_scale (float): feature-map pixels per image pixel.

    Returns:
        Tensor[K, C, h, w], equal to ``torchvision.ops.roi_pool`` with the same arguments (the gradient goes to
        each bin's first maximum in row-major order, as there).
    """
    rois, idx, ph, pw = _check_roi_args(input, boxes, output_size)
    n, c, h, w = input.shape
    k = rois.shape[0]
    if k == 0:
        return input.new_zeros(0, c, ph, pw)
    x1, y1, x2, y2 = _round_half_away(rois[:, 1:] * spatial_scale).long().unbind(1)
    rows, row_ok = _pool_bins(y1, y2, ph, h, input.dtype)  # (K, ph, Lh)
    cols, col_ok = _pool_bins(x1, x2, pw, w, input.dtype)  # (K, pw, Lw)
    neg = input.new_tensor(float("-inf"))
    # columns first, then rows: the max lands on the first maximum in row-major order, like torchvision's loop
    feat = input[idx]  # (K, C, H, W)
    lh, lw = rows.shape[2], cols.shape[2]
    g = feat.gather(3, cols.view(k, 1, 1, pw * lw).expand(k, c, h, pw * lw)).view(k, c, h, pw, lw)
    g = torch.where(col_ok.view(k, 1, 1, pw, lw), g, neg).max(dim=4).values  # (K, C, H, pw)
    r = g.gather(2, rows.view(k, 1, ph * lh, 1).expand(k, c, ph * lh, pw)).view(k, c, ph, lh, pw)
    out = torch.where(row_ok.view(k, 1, ph, lh, 1), r, neg).max(dim=3).values  # (K, C, ph, pw)
    empty = (~row_ok.any(2)).view(k, 1, ph, 1) | (~col_ok.any(2)).view(k, 1, 1, pw)
    return torch.where(empty, out.new_zeros(()), out)


def _pool_bins(start: torch.Tensor, end: torch.Tensor, bins: int, size: int, dtype: torch.dtype):
    """Indices ``(K, bins, L)`` of the whole pixels in each RoIPool bin along one axis, and which are real."""
    length = (end - start + 1).clamp(min=1).to(dtype)  # malformed boxes become one pixel
    step = (length / bins).view(-1, 1)
    b = torch.arange(bins, device=start.device, dtype=dtype).view(1, -1)
    lo = (torch.floor(b * step).long() + start.view(-1, 1)).clamp(0, size)
    hi = (torch.ceil((b + 1) * step).long() + start.view(-1, 1)).clamp(0, size)
    longest = max(int((hi - lo).max()), 1)
    pos = lo[..., None] + torch.arange(longest, device=start.device)
    return pos.clamp(max=size - 1), pos < hi[..., None]


def bilinear_sample(input: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bilinear value of ``input`` (Tensor[C, H, W]) at fractional points ``y``, ``x`` (same shape S).

    Pixel centres sit at integer coordinates. ``f(y, x) = sum_{u, v in N} (1 - |y - u|)(1 - |x - v|) f(u, v)`` over
    the four neighbours; a point more than one pixel outside the map gives 0 and one within a pixel of the border
    is clamped onto it (torchvision's RoIAlign rule). Returns Tensor[C, *S].
    """
    check_tensor(input, "input", ndim=3, shape="(C, H, W)", dtype="float")
    check_tensor(y, "y", dtype="float", finite=True)
    check_tensor(x, "x", dtype="float", finite=True)
    check_same_shape(y, x, "y", "x")
    return _sample_batched(input[None], torch.zeros(y.shape[:1], dtype=torch.long, device=input.device), y, x)


def roi_align(
    input: torch.Tensor,
    boxes: torch.Tensor | list[torch.Tensor],
    output_size: int | tuple[int, int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
) -> torch.Tensor:
    """RoIAlign: the mean of ``sampling_ratio x sampling_ratio`` bilinear samples in each of the output bins.

    Computed as ``A_y @ F @ A_x.T`` per RoI, with ``A_y`` (h x H) and ``A_x`` (w x W) the per-axis means of the
    samples' bilinear weights: the same numbers as sampling point by point (see `bilinear_sample`), as matrix
    products.

    Args:
        input (Tensor[N, C, H, W]): floating feature map.
        boxes (Tensor[K, 5] or List[Tensor[L, 4]]): RoIs ``(batch_index, x1, y1, x2, y2)`` in image pixels.
        output_size (int or (int, int)): bins ``(h, w)``.
        spatial_scale (float): feature-map pixels per image pixel.
        sampling_ratio (int): samples per bin side; ``<= 0`` means ``ceil(roi_size / bins)`` per RoI.
        aligned (bool): shift boxes by -0.5 pixel so that pixel centres line up (Detectron2's fix).

    Returns:
        Tensor[K, C, h, w], equal to ``torchvision.ops.roi_align`` with the same arguments.
    """
    rois, idx, ph, pw = _check_roi_args(input, boxes, output_size)
    n, c, h, w = input.shape
    k = rois.shape[0]
    if k == 0:
        return input.new_zeros(0, c, ph, pw)
    off = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (rois[:, 1:] * spatial_scale - off).unbind(1)
    ay = _align_weights(y1, y2, ph, h, sampling_ratio, aligned)  # (K, ph, H)
    ax = _align_weights(x1, x2, pw, w, sampling_ratio, aligned)  # (K, pw, W)
    out = input.new_empty(k, ph, c, pw)
    for b in torch.unique(idx).tolist():  # one pair of matrix products per image, all its RoIs at once
        sel = torch.nonzero(idx == b).flatten()
        rows = ay[sel].reshape(-1, h) @ input[b].transpose(0, 1).reshape(h, c * w)  # (K_b * ph, C * W)
        out[sel] = torch.bmm(rows.view(-1, ph * c, w), ax[sel].transpose(1, 2)).view(-1, ph, c, pw)
    return out.permute(0, 2, 1, 3)


def _sample_positions(
    start: torch.Tensor, end: torch.Tensor, bins: int, sampling_ratio: int, aligned: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """RoIAlign's sample coordinates along one axis ``(K, bins, G)`` (feature pixels) and samples per bin ``(K,)``;
    samples past a RoI's own count are padding."""
    k, dt, dev = start.shape[0], start.dtype, start.device
    length = end - start
    if not aligned:
        length = length.clamp(min=1.0)  # torchvision forces malformed RoIs to 1 x 1
    step = length / bins
    grid = torch.full((k,), sampling_ratio, device=dev) if sampling_ratio > 0 else torch.ceil(step).long()
    most = max(int(grid.max()), 1)
    i = torch.arange(bins, device=dev, dtype=dt).view(1, bins, 1)
    j = torch.arange(most, device=dev, dtype=dt).view(1, 1, most)
    n = grid.to(dt).clamp(min=1).view(k, 1, 1)
    return start.view(k, 1, 1) + i * step.view(k, 1, 1) + (j + 0.5) * step.view(k, 1, 1) / n, grid


def _align_weights(
    start: torch.Tensor, end: torch.Tensor, bins: int, size: int, sampling_ratio: int, aligned: bool
) -> torch.Tensor:
    """RoIAlign along one axis as a matrix ``(K, bins, size)``: row ``i`` averages the bilinear weights of bin
    ``i``'s samples.

    Bilinear interpolation and the out-of-map rule act on y and x separately, so the 2-D mean of samples per bin is
    ``A_y @ F @ A_x.T`` (exactly torchvision's sum, in another order).
    """
    pos, grid = _sample_positions(start, end, bins, sampling_ratio, aligned)
    k, most, dt = pos.shape[0], pos.shape[2], pos.dtype
    j = torch.arange(most, device=pos.device).view(1, 1, most)
    n = grid.to(dt).clamp(min=1).view(k, 1, 1)
    real = (j < grid.view(k, 1, 1)) & (pos >= -1) & (pos <= size)  # a sample past one pixel outside gives 0
    p = pos.clamp(min=0)
    lo = p.floor().long().clamp(max=size - 1)
    p = torch.where(lo >= size - 1, lo.to(dt), p)  # within a pixel of the far border: clamp onto it
    hi = (lo + 1).clamp(max=size - 1)
    frac = p - lo
    scale = real.to(dt) / n
    weights = torch.zeros(k, bins, size, device=pos.device, dtype=dt)
    weights.scatter_add_(2, lo, (1 - frac) * scale)
    return weights.scatter_add_(2, hi, frac * scale)


def _sample_batched(input: torch.Tensor, idx: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of image ``idx[k]`` at ``y[k], x[k]``: Tensor[C, K, ...] (see `bilinear_sample`)."""
    n, c, h, w = input.shape
    outside = (y < -1) | (y > h) | (x < -1) | (x > w)
    y = y.clamp(min=0)
    x = x.clamp(min=0)
    y0 = y.floor().long().clamp(max=h - 1)
    x0 = x.floor().long().clamp(max=w - 1)
    y = torch.where(y0 >= h - 1, y0.to(y.dtype), y)
    x = torch.where(x0 >= w - 1, x0.to(x.dtype), x)
    y1 = (y0 + 1).clamp(max=h - 1)
    x1 = (x0 + 1).clamp(max=w - 1)
    ly, lx = y - y0, x - x0
    hy, hx = 1 - ly, 1 - lx
    flat = input.permute(1, 0, 2, 3).reshape(c, n * h * w)
    base = (idx * h * w).view(-1, *([1] * (y.dim() - 1)))

    def at(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        return flat[:, (base + yy * w + xx).flatten()].view(c, *yy.shape)

    out = hy * hx * at(y0, x0) + hy * lx * at(y0, x1) + ly * hx * at(y1, x0) + ly * lx * at(y1, x1)
    return out * (~outside).to(out.dtype)

