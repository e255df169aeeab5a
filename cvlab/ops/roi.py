"""RoIAlign in plain, vectorised torch: bilinear samples per output bin, no rounding, no loop over RoIs or bins.

Same arguments and results as ``torchvision.ops.roi_align`` (its compiled kernel is the reference).

Reference: K. He, G. Gkioxari, P. Dollar and R. Girshick, "Mask R-CNN", 2017.
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
    check_tensor(input, "input", ndim=4, shape="(N, C, H, W)", dtype="float")
    rois = _rois(boxes)
    check_tensor(rois, "boxes", finite=True)
    ph, pw = _pair(output_size, "output_size", minimum=1)
    n, c, h, w = input.shape
    k = rois.shape[0]
    if k == 0:
        return input.new_zeros(0, c, ph, pw)
    rois = rois.to(input.dtype)
    idx = rois[:, 0].long()
    if bool(((idx < 0) | (idx >= n)).any()):
        raise ValueError(f"boxes: batch index must lie in [0, {n - 1}], got {rois[:, 0].tolist()}")
    off = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (rois[:, 1:] * spatial_scale - off).unbind(1)
    rw, rh = x2 - x1, y2 - y1
    if not aligned:
        rw, rh = rw.clamp(min=1.0), rh.clamp(min=1.0)
    bw, bh = rw / pw, rh / ph
    if sampling_ratio > 0:
        gh = torch.full((k,), sampling_ratio, device=input.device)
        gw = gh
    else:
        gh = torch.ceil(rh / ph).long()
        gw = torch.ceil(rw / pw).long()
    Gh, Gw = max(int(gh.max()), 1), max(int(gw.max()), 1)
    dev, dt = input.device, input.dtype
    iy = torch.arange(ph, device=dev, dtype=dt).view(1, ph, 1)
    sy = torch.arange(Gh, device=dev, dtype=dt).view(1, 1, Gh)
    ix = torch.arange(pw, device=dev, dtype=dt).view(1, pw, 1)
    sx = torch.arange(Gw, device=dev, dtype=dt).view(1, 1, Gw)
    ghf, gwf = gh.to(dt).clamp(min=1).view(k, 1, 1), gw.to(dt).clamp(min=1).view(k, 1, 1)
    ys = y1.view(k, 1, 1) + iy * bh.view(k, 1, 1) + (sy + 0.5) * bh.view(k, 1, 1) / ghf  # (K, ph, Gh)
    xs = x1.view(k, 1, 1) + ix * bw.view(k, 1, 1) + (sx + 0.5) * bw.view(k, 1, 1) / gwf  # (K, pw, Gw)
    my = (sy < gh.view(k, 1, 1)).to(dt)
    mx = (sx < gw.view(k, 1, 1)).to(dt)
    yy = ys.view(k, ph, Gh, 1, 1).expand(k, ph, Gh, pw, Gw)
    xx = xs.view(k, 1, 1, pw, Gw).expand(k, ph, Gh, pw, Gw)
    vals = _sample_batched(input, idx, yy, xx)
    weight = (my.view(k, 1, Gh, 1, 1) * mx.view(k, 1, 1, 1, Gw)).view(k, 1, 1, Gh, 1, Gw)
    vals = vals.permute(1, 0, 2, 3, 4, 5)  # (K, C, ph, Gh, pw, Gw)
    total = (vals * weight).sum(dim=(3, 5))
    count = (gh * gw).clamp(min=1).to(dt).view(k, 1, 1, 1)
    return total / count


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

