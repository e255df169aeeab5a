"""A very small segmentation network for experiments that must train many times within a lesson's budget.

``TinySegNet`` is a small encoder–decoder with concatenated skips (a miniature U-Net, Ronneberger et al.,
MICCAI 2015) working at half resolution, with one dilated convolution at the bottom for context. It exists so
that a notebook can compare losses or metrics over several seeds in seconds on a CPU; it is not the course's
U-Net or FCN (``cvlab.models.unet``, ``cvlab.models.fcn``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cvlab._validate import check_int, check_tensor

__all__ = ["TinySegNet"]


def _conv(c_in: int, c_out: int, dilation: int = 1) -> nn.Sequential:
    """3×3 convolution (same size), batch norm, ReLU."""
    conv = nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class TinySegNet(nn.Module):
    """Per-pixel class scores from an image, computed at 1/2 resolution and resized to the input's size.

    A stride-2 stem, then 1/2 → 1/4 → 1/8 resolution and back with concatenated skips (one dilated convolution
    at 1/8), 1×1 class scores at 1/2 resolution, bilinear resizing to the input size. Working at half resolution
    makes a training step about four times cheaper than a full-resolution network of the same width; any input
    size works (each upsampled map is resized to its skip's size).

    Args:
        in_ch (int): input channels (3 for RGB).
        num_classes (int): K, the number of output score maps.
        width (int): channels at 1/2 resolution (doubled at 1/4 and 1/8).

    Shapes:
        ``(B, in_ch, H, W)`` float → ``(B, num_classes, H, W)`` logits.

    Example:
        >>> TinySegNet(3, 7)(torch.rand(2, 3, 33, 50)).shape
        torch.Size([2, 7, 33, 50])
    """

    def __init__(self, in_ch: int = 3, num_classes: int = 7, width: int = 16) -> None:
        super().__init__()
        in_ch, num_classes = check_int(in_ch, "in_ch"), check_int(num_classes, "num_classes")
        w = check_int(width, "width")
        self.in_ch = in_ch
        stem = nn.Conv2d(in_ch, w, 3, stride=2, padding=1, bias=False)
        self.enc1 = nn.Sequential(stem, nn.BatchNorm2d(w), nn.ReLU(inplace=True), _conv(w, w))
        self.enc2 = nn.Sequential(_conv(w, 2 * w), _conv(2 * w, 2 * w))
        self.bottom = nn.Sequential(_conv(2 * w, 2 * w), _conv(2 * w, 2 * w, dilation=2))
        self.dec2 = _conv(4 * w, 2 * w)
        self.dec1 = _conv(3 * w, w)
        self.head = nn.Conv2d(w, num_classes, 1)

    @staticmethod
    def _up_cat(x: Tensor, skip: Tensor) -> Tensor:
        return torch.cat([_resize(x, skip.shape[-2:]), skip], 1)

    def forward(self, x: Tensor) -> Tensor:
        check_tensor(x, "x", ndim=4, shape="(B, C, H, W)", dtype="float")
        if x.shape[1] != self.in_ch:
            raise ValueError(f"x: expected {self.in_ch} channels, got shape {tuple(x.shape)}")
        f1 = self.enc1(x)
        f2 = self.enc2(F.max_pool2d(f1, 2, ceil_mode=True))
        f3 = self.bottom(F.max_pool2d(f2, 2, ceil_mode=True))
        logits = self.head(self.dec1(self._up_cat(self.dec2(self._up_cat(f3, f2)), f1)))
        return _resize(logits, x.shape[-2:])


def _resize(x: Tensor, size: torch.Size) -> Tensor:
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
