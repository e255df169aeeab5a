"""RoIPool and RoIAlign in plain, vectorised torch: no loop over RoIs or bins.

RoIPool (Fast R-CNN) rounds the box to the feature grid and takes the max over integer bins; RoIAlign (Mask R-CNN)
keeps the fractional box and averages bilinear samples per bin. Same arguments and results as
``torchvision.ops.roi_pool`` / ``roi_align`` (their compiled kernels are the reference).

References: R. Girshick, "Fast R-CNN", 2015; K. He, G. Gkioxari, P. Dollar and R. Girshick, "Mask R-CNN", 2017.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

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
    lh, lw = rows.shape[2], cols.shape[2]
    index = (idx.view(k, 1, 1, 1, 1) * h + rows.view(k, ph, 1, lh, 1)) * w + cols.view(k, 1, pw, 1, lw)
    ok = row_ok.view(k, ph, 1, lh, 1) & col_ok.view(k, 1, pw, 1, lw)  # (K, ph, pw, Lh, Lw): the bins' pixels
    counts = ok.flatten(3).sum(-1).flatten()
    # one bag per bin, its pixels in row-major order: the max (and its gradient) goes to the first maximum, as in
    # torchvision's loop; an empty bag gives 0
    table = input.permute(0, 2, 3, 1).reshape(n * h * w, c)
    values = F.embedding_bag(index.expand_as(ok)[ok], table, counts.cumsum(0) - counts, mode="max")
    return values.view(k, ph, pw, c).permute(0, 3, 1, 2)


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
    c, h, w = input.shape
    iy, wy = _taps(y.reshape(-1), h)  # (S, 2)
    ix, wx = _taps(x.reshape(-1), w)
    index = (iy[:, :, None] * w + ix[:, None, :]).flatten(1)  # (S, 4) the four neighbours
    weight = (wy[:, :, None] * wx[:, None, :]).flatten(1)
    table = input.permute(1, 2, 0).reshape(h * w, c)
    values = F.embedding_bag(index, table, mode="sum", per_sample_weights=weight)  # (S, C)
    return values.t().reshape(c, *y.shape)


def roi_align(
    input: torch.Tensor,
    boxes: torch.Tensor | list[torch.Tensor],
    output_size: int | tuple[int, int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
) -> torch.Tensor:
    """RoIAlign: the mean of ``sampling_ratio x sampling_ratio`` bilinear samples in each of the output bins.

    Each bin is a weighted sum of feature vectors: its samples' four neighbours with the bilinear weights (zero for
    samples more than a pixel outside the map, see `bilinear_sample`) divided by the number of samples, computed by
    one compiled ``torch.nn.functional.embedding_bag`` over the channels-last map per number of samples per bin
    (one call when ``sampling_ratio > 0``); the same terms as torchvision's loop, no dense intermediate.

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
    out = input.new_zeros(k, c, ph, pw)
    if k == 0:
        return out
    off = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (rois[:, 1:] * spatial_scale - off).unbind(1)
    ys, gy = _sample_positions(y1, y2, ph, sampling_ratio, aligned)  # (K, ph, Gy), (K,)
    xs, gx = _sample_positions(x1, x2, pw, sampling_ratio, aligned)  # (K, pw, Gx), (K,)
    iy, wy = _taps(ys, h)  # (K, ph, Gy, 2)
    ix, wx = _taps(xs, w)
    table = input.permute(0, 2, 3, 1).reshape(n * h * w, c)
    keys, group = torch.unique(torch.stack([gy, gx], 1), dim=0, return_inverse=True)
    for g, (ny, nx) in enumerate(keys.tolist()):  # a loop over the numbers of samples per bin, never over RoIs
        if ny == 0 or nx == 0:  # an empty RoI with adaptive sampling: no samples, 0 (as torchvision)
            continue
        sel = torch.nonzero(group == g).flatten()
        m = len(sel)
        rows = (iy[sel, :, :ny] + (idx[sel] * h).view(m, 1, 1, 1)).reshape(m, ph, 1, 2 * ny, 1)
        cols = ix[sel, :, :nx].reshape(m, 1, pw, 1, 2 * nx)
        index = (rows * w + cols).reshape(m * ph * pw, 4 * ny * nx)
        weight = wy[sel, :, :ny].reshape(m, ph, 1, 2 * ny, 1) * wx[sel, :, :nx].reshape(m, 1, pw, 1, 2 * nx)
        weight = weight.reshape(m * ph * pw, 4 * ny * nx) / (ny * nx)
        values = F.embedding_bag(index, table, mode="sum", per_sample_weights=weight)  # (m * ph * pw, C)
        out[sel] = values.view(m, ph, pw, c).permute(0, 3, 1, 2)
    return out


def _taps(pos: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The two pixels ``(..., 2)`` a bilinear sample at ``pos`` reads along one axis, and their weights, by
    torchvision's RoIAlign rule: within one pixel of the map clamped onto its border, further out weight 0."""
    inside = ((pos >= -1) & (pos <= size)).to(pos.dtype)
    p = pos.clamp(min=0)
    lo = p.floor().long().clamp(max=size - 1)
    p = torch.where(lo >= size - 1, lo.to(p.dtype), p)
    hi = (lo + 1).clamp(max=size - 1)
    frac = (p - lo) * inside
    return torch.stack([lo, hi], -1), torch.stack([inside - frac, frac], -1)


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
