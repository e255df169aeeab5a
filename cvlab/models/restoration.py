"""Small image-to-image networks for restoration: a DnCNN-style denoiser and an EDSR-style super-resolution net.

Both are fully convolutional (any image size), keep the input's dtype and device, and are sized to train on a CPU
within a lesson. Outputs are not clamped: clamp to [0, 1] before scoring a picture.

References:
    K. Zhang, W. Zuo, Y. Chen, D. Meng and L. Zhang, "Beyond a Gaussian denoiser: residual learning of deep CNN
    for image denoising", IEEE TIP 2017 (DnCNN).
    B. Lim, S. Son, H. Kim, S. Nah and K. M. Lee, "Enhanced deep residual networks for single image
    super-resolution", CVPR workshops 2017 (EDSR).
    W. Shi et al., "Real-time single image and video super-resolution using an efficient sub-pixel convolutional
    neural network", CVPR 2016 (pixel shuffle).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from cvlab._validate import check_int, check_tensor

__all__ = ["DnCNN", "ResidualBlock", "EDSR"]


def _check_input(x: object, channels: int) -> Tensor:
    check_tensor(x, "x", ndim=4, shape=f"(B, {channels}, H, W)", dtype="float")
    if x.shape[1] != channels:
        raise ValueError(f"x: expected {channels} channels, got {x.dtype} of shape {tuple(x.shape)}")
    return x


class DnCNN(nn.Module):
    """A DnCNN-style denoiser: ``depth`` 3x3 convolutions, ReLU between them (optionally batch norm).

    With ``residual=True`` (DnCNN's *residual learning*) the layers estimate the noise ``v`` and the output is
    ``y - v``; with ``residual=False`` they must produce the clean image itself. Same layers either way, so the
    two can be compared at equal parameters and training budget.

    With ``unshuffle=r > 1`` (FFDNet's trick, Zhang, Zuo and Zhang, IEEE TIP 2018) the image is first folded into
    ``channels * r^2`` channels at ``1/r`` of the resolution (``nn.PixelUnshuffle``), the layers run there and
    their output is unfolded back (``nn.PixelShuffle``): ``r^2`` times fewer operations per pixel and an ``r``
    times larger receptive field for the same layers. Sides that are not multiples of ``r`` are mirror-padded and
    cropped back.

    Args:
        channels (int): image channels in and out (3 for RGB).
        features (int): width of the hidden layers (the paper: 64).
        depth (int): number of convolutions, >= 2 (the paper: 17; the receptive field is ``2 * depth + 1``
            pixels, ``r * (2 * depth + 1)`` with ``unshuffle=r``).
        residual (bool): predict the noise and subtract it.
        batch_norm (bool): batch norm after the hidden convolutions, as in the paper (off by default: with the
            short trainings of a lesson it only adds a train/eval difference).
        unshuffle (int): fold factor r of the input (1: none).

    Shape:
        ``(B, channels, H, W) -> (B, channels, H, W)``.
    """

    def __init__(self, channels: int = 3, features: int = 32, depth: int = 8, residual: bool = True,
                 batch_norm: bool = False, unshuffle: int = 1):
        super().__init__()
        self.channels = check_int(channels, "channels")
        features = check_int(features, "features")
        depth = check_int(depth, "depth", minimum=2)
        self.unshuffle = check_int(unshuffle, "unshuffle")
        self.residual = bool(residual)
        folded = channels * self.unshuffle**2
        layers: list[nn.Module] = [nn.Conv2d(folded, features, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers.append(nn.Conv2d(features, features, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(features))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Conv2d(features, folded, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, self.channels)
        r = self.unshuffle
        if r == 1:
            out = self.body(x)
        else:
            h, w = x.shape[-2:]
            padded = F.pad(x, (0, -w % r, 0, -h % r), mode="reflect") if (h % r or w % r) else x
            out = F.pixel_shuffle(self.body(F.pixel_unshuffle(padded, r)), r)[..., :h, :w]
        return x - out if self.residual else out


class ResidualBlock(nn.Module):
    """EDSR's block: conv 3x3, ReLU, conv 3x3, scaled by ``res_scale`` and added to the input; no batch norm.

    Shape:
        ``(B, features, H, W) -> (B, features, H, W)``.
    """

    def __init__(self, features: int, res_scale: float = 1.0):
        super().__init__()
        features = check_int(features, "features")
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)
        self.res_scale = float(res_scale)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.res_scale * self.conv2(F.relu(self.conv1(x)))


class EDSR(nn.Module):
    """An EDSR-style super-resolution net: head conv, residual blocks without batch norm, a global skip, and
    sub-pixel upsampling (a conv to ``r^2`` times the features, then ``nn.PixelShuffle(r)``; x4 is two x2 stages).

    Pixel shuffle computes every high-resolution pixel from the same low-resolution neighbourhood with its own
    weights: no kernel copies overlap, so there is none of the uneven overlap that gives transposed convolutions
    their checkerboard. With ``bicubic_skip=True`` (VDSR's global residual, not in EDSR) the net adds its output
    to the bicubic enlargement of the input, so it starts as bicubic and learns only the missing detail — which
    makes short trainings converge.

    Args:
        scale (int): enlargement factor, 2, 3 or 4.
        channels (int): image channels in and out.
        features (int): width (EDSR-baseline: 64).
        blocks (int): residual blocks (EDSR-baseline: 16).
        res_scale (float): scaling of each block's residual (EDSR: 0.1 for its wide model, 1 for the baseline).
        bicubic_skip (bool): add the bicubic enlargement of the input to the output.

    Shape:
        ``(B, channels, h, w) -> (B, channels, scale * h, scale * w)``.
    """

    def __init__(self, scale: int = 2, channels: int = 3, features: int = 32, blocks: int = 4,
                 res_scale: float = 1.0, bicubic_skip: bool = True):
        super().__init__()
        self.scale = check_int(scale, "scale", minimum=2)
        if self.scale not in (2, 3, 4):
            raise ValueError(f"scale: expected 2, 3 or 4, got {scale}")
        self.channels = check_int(channels, "channels")
        features = check_int(features, "features")
        blocks = check_int(blocks, "blocks", minimum=0)
        self.bicubic_skip = bool(bicubic_skip)
        self.head = nn.Conv2d(channels, features, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlock(features, res_scale) for _ in range(blocks)],
                                  nn.Conv2d(features, features, 3, padding=1))
        stages = [2, 2] if self.scale == 4 else [self.scale]
        up: list[nn.Module] = []
        for r in stages:
            up += [nn.Conv2d(features, features * r * r, 3, padding=1), nn.PixelShuffle(r)]
        self.upsample = nn.Sequential(*up)
        self.tail = nn.Conv2d(features, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, self.channels)
        features = self.head(x)
        out = self.tail(self.upsample(features + self.body(features)))
        if self.bicubic_skip:
            out = out + F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return out
