"""Building blocks shared by the segmentation models: conv-BN-ReLU stacks and the crop-or-pad size match."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cvlab._validate import check_choice, check_int, check_tensor

__all__ = ["conv_block", "match_size"]


def conv_block(in_ch: int, out_ch: int, n_convs: int = 2, *, padding: int = 1) -> nn.Sequential:
    """``n_convs`` times (3x3 convolution, batch norm, ReLU); the first maps ``in_ch`` to ``out_ch`` channels.

    With ``padding=1`` the spatial size is kept; with ``padding=0`` ("valid") each convolution trims 2 pixels.
    """
    in_ch, out_ch, n_convs = check_int(in_ch, "in_ch"), check_int(out_ch, "out_ch"), check_int(n_convs, "n_convs")
    padding = check_int(padding, "padding", minimum=0)
    layers: list[nn.Module] = []
    for i in range(n_convs):
        layers += [
            nn.Conv2d(in_ch if i == 0 else out_ch, out_ch, 3, padding=padding, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers)


def match_size(x: torch.Tensor, size: Sequence[int], *, align: str = "corner") -> torch.Tensor:
    """Crop or pad the last two dimensions of ``x`` to ``size``, so maps of different strides can be fused.

    ``align="corner"`` keeps the top-left corner fixed: right for maps whose pixel ``i`` at stride ``s`` covers
    input pixels ``[i s, (i + 1) s)`` (pooling from the top-left, as in every model here); it crops or
    replicate-pads at the bottom and right. ``align="center"`` crops (or pads) equally on both sides, as the
    valid-convolution U-Net crops its skips.

    Args:
        x (Tensor[B, C, H, W] or Tensor[C, H, W]): the map to fit.
        size ((int, int)): the wanted ``(H_out, W_out)``.
        align (str): ``"corner"`` or ``"center"``.

    Returns:
        Tensor[..., H_out, W_out]: a view when only cropping, else a new tensor (``x`` is never modified).
    """
    check_tensor(x, "x", ndim=(3, 4), shape="(C, H, W) or (B, C, H, W)")
    check_choice(align, "align", ("corner", "center"))
    if len(size) != 2:
        raise ValueError(f"size: expected (H_out, W_out), got {tuple(size)}")
    out_h, out_w = (check_int(v, "size") for v in size)
    pads = []
    for have, want in ((x.shape[-1], out_w), (x.shape[-2], out_h)):  # F.pad order: last dimension first
        extra = want - have
        before = extra // 2 if align == "center" else 0
        pads += [before, extra - before]
    if all(p <= 0 for p in pads):  # only cropping
        (left, right, top, bottom) = (-p for p in pads)
        return x[..., top : x.shape[-2] - bottom, left : x.shape[-1] - right]
    crop = [min(p, 0) for p in pads]
    x = F.pad(x, crop) if any(crop) else x  # negative padding crops
    grow = [max(p, 0) for p in pads]
    return F.pad(x, grow, mode="replicate")
