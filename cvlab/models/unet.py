"""U-Net (concatenated feature skips), its no-skip encoder-decoder twin, and the original's size chain.

Reference: O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from cvlab._validate import check_choice, check_int, check_tensor
from cvlab.models.blocks import conv_block, match_size
from cvlab.ops.arithmetic import conv_output_size, conv_transpose_output_size

__all__ = ["UNet", "EncoderDecoder", "SizeStep", "unet_valid_sizes"]


def _upsampler(in_ch: int, out_ch: int, up: str) -> nn.Module:
    if up == "transpose":
        return nn.ConvTranspose2d(in_ch, out_ch, 2, stride=2)
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), nn.Conv2d(in_ch, out_ch, 1))


class UNet(nn.Module):
    """U-Net: an encoder of ``depth`` 2x2 poolings and a decoder that concatenates the encoder map of each
    resolution (the skip) with its upsampled input before two 3x3 convolutions.

    Level ``i`` has ``width * 2**i`` channels (two conv-BN-ReLU layers), ``i = 0 .. depth``. The decoder
    upsamples x2 with a learned 2x2 transposed convolution (``up="transpose"``) or bilinear interpolation and a
    1x1 convolution (``up="bilinear"``), halving the channels, then concatenates the skip.

    Output size: with ``padding="same"`` (default) the output is ``(B, K, H, W)`` for **any** ``H, W`` —
    pooling rounds up (``ceil_mode``), so the upsampled map is at least the skip's size and is cropped to it
    at the bottom/right (the top-left corners of all levels coincide). ``padding="valid"`` is the original:
    unpadded convolutions, the skips centre-cropped to the upsampled map, and an output smaller than the input
    (572 -> 388 for ``depth=4``; see :func:`unet_valid_sizes`).

    Args:
        in_ch (int): input channels.
        num_classes (int): K, output channels.
        depth (int): number of poolings (the original has 4).
        width (int): channels of the first level (the original has 64).
        up (str): ``"transpose"`` or ``"bilinear"``.
        skips (bool): concatenate the encoder maps; ``False`` gives the same network without skips
            (:class:`EncoderDecoder`, the ablation).
        padding (str): ``"same"`` or ``"valid"``.
        residual (bool): image-to-image use (restoration): add the input to the output, so the network predicts
            the *correction* ``y - x`` (DnCNN's residual learning); the final 1x1 convolution starts at zero, so
            the untrained network is exactly the identity. Needs ``num_classes == in_ch`` and ``padding="same"``.

    ``forward(x)``: ``x`` Tensor[B, in_ch, H, W] -> logits Tensor[B, K, H, W] (``"same"``); with ``residual=True``
    ``x + correction`` in the input's units.
    """

    def __init__(
        self,
        in_ch: int = 3,
        num_classes: int = 7,
        depth: int = 4,
        width: int = 16,
        up: str = "transpose",
        *,
        skips: bool = True,
        padding: str = "same",
        residual: bool = False,
    ):
        super().__init__()
        in_ch, self.num_classes = check_int(in_ch, "in_ch"), check_int(num_classes, "num_classes")
        self.depth, width = check_int(depth, "depth"), check_int(width, "width")
        self.up_mode = check_choice(up, "up", ("transpose", "bilinear"))
        self.padding = check_choice(padding, "padding", ("same", "valid"))
        self.skips, self.residual = bool(skips), bool(residual)
        if self.residual and (self.num_classes != in_ch or self.padding != "same"):
            raise ValueError(f"residual: the output is added to the input, so it needs num_classes == in_ch and "
                             f"padding='same', got num_classes={self.num_classes}, in_ch={in_ch}, "
                             f"padding={self.padding!r}")
        pad = 1 if padding == "same" else 0
        w = [width * 2**i for i in range(depth + 1)]
        self.encoder = nn.ModuleList(conv_block(([in_ch] + w)[i], w[i], 2, padding=pad) for i in range(depth + 1))
        self.pool = nn.MaxPool2d(2, ceil_mode=padding == "same")
        self.ups = nn.ModuleList(_upsampler(w[i + 1], w[i], up) for i in range(depth))
        self.decoder = nn.ModuleList(conv_block(w[i] * (2 if skips else 1), w[i], 2, padding=pad) for i in range(depth))
        self.head = nn.Conv2d(w[0], self.num_classes, 1)
        if self.residual:
            nn.init.zeros_(self.head.weight), nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=4, shape="(B, C, H, W)", dtype="float")
        image, features = x, []
        for i, block in enumerate(self.encoder):
            x = block(x if i == 0 else self.pool(x))
            features.append(x)
        x = features.pop()
        for i in reversed(range(self.depth)):
            x, skip = self.ups[i](x), features[i]
            if self.padding == "same":
                x = match_size(x, skip.shape[-2:])
            else:
                skip = match_size(skip, x.shape[-2:], align="center")
            x = self.decoder[i](torch.cat([skip, x], 1) if self.skips else x)
        return image + self.head(x) if self.residual else self.head(x)


class EncoderDecoder(UNet):
    """The :class:`UNet` without its skips: the same encoder, upsamplers and decoder convolutions, only the
    concatenation removed (so each decoder convolution has half the input channels). The ablation baseline."""

    def __init__(self, in_ch: int = 3, num_classes: int = 7, depth: int = 4, width: int = 16, up: str = "transpose"):
        super().__init__(in_ch, num_classes, depth, width, up, skips=False)


class SizeStep(NamedTuple):
    """One step of the valid-convolution U-Net: where, what, and the side length after it (pixels)."""

    stage: str
    op: str
    size: int


def unet_valid_sizes(input_size: int = 572, depth: int = 4, convs: int = 2) -> list[SizeStep]:
    """The side length after every layer of the original (unpadded) U-Net: 572 -> ... -> 388 for the defaults.

    Each 3x3 convolution without padding trims 2 pixels, each 2x2 max pool halves (the size must be even
    there, or the pooling would drop a row and the crops would not be centred), each 2x2 up-convolution
    doubles, and the skip of each level is centre-cropped to the upsampled map. Sizes come from
    :func:`cvlab.ops.conv_output_size` and :func:`cvlab.ops.conv_transpose_output_size`.

    Args:
        input_size (int): side of the square input tile.
        depth (int): number of poolings.
        convs (int): 3x3 convolutions per level.

    Returns:
        list of SizeStep: ``(stage, op, size)``, from ``("input", "tile", input_size)`` to the final 1x1
        convolution; a ``"crop skip"`` step records the skip's size before and after cropping in ``op``.

    Raises:
        ValueError: if a pooling meets an odd size or a size drops below 1.

    Example:
        >>> [s.size for s in unet_valid_sizes()][-1]
        388
    """
    size = check_int(input_size, "input_size")
    depth, convs = check_int(depth, "depth"), check_int(convs, "convs")
    steps = [SizeStep("input", "tile", size)]
    skips = []

    def conv(stage: str) -> None:
        nonlocal size
        for _ in range(convs):
            if size < 3:
                raise ValueError(f"input_size: {input_size} is too small, the maps vanish in {stage}")
            size = conv_output_size(size, 3)
            steps.append(SizeStep(stage, "conv 3x3", size))

    for level in range(depth):
        conv(f"encoder {level}")
        skips.append(size)
        if size % 2:
            raise ValueError(f"input_size: {input_size} gives an odd size {size} at the max pool of level {level}")
        size = conv_output_size(size, 2, 2)
        steps.append(SizeStep(f"encoder {level}", "max-pool 2x2", size))
    conv("bottleneck")
    for level in reversed(range(depth)):
        size = conv_transpose_output_size(size, 2, 2)
        steps.append(SizeStep(f"decoder {level}", "up-conv 2x2", size))
        steps.append(SizeStep(f"decoder {level}", f"crop skip {skips[level]} -> {size}", size))
        conv(f"decoder {level}")
    steps.append(SizeStep("output", "conv 1x1", size))
    return steps
