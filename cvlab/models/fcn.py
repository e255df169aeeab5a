"""Fully convolutional networks: FCN-32s / 16s / 8s (summed score skips) and a SegNet-style max-unpool decoder.

Both sit on :class:`VGGBackbone`, a small VGG-style encoder with five 2x2 max-pooling stages, so maps at
strides 2, 4, 8, 16 and 32 exist. Pooling uses ``ceil_mode=True``: every input pixel, even of an odd-sized
image, lies under some pixel of every stride, and pixel ``i`` at stride ``s`` covers input pixels
``[i s, (i + 1) s)``. Upsampled maps are therefore fitted to the finer map (or the input) by
:func:`~cvlab.models.blocks.match_size` with the top-left corner fixed, and any input size works.

References:
    J. Long, E. Shelhamer, T. Darrell, "Fully Convolutional Networks for Semantic Segmentation", CVPR 2015.
    V. Badrinarayanan, A. Kendall, R. Cipolla, "SegNet: A Deep Convolutional Encoder-Decoder Architecture for
    Image Segmentation", TPAMI 2017. H. Noh, S. Hong, B. Han, "Learning Deconvolution Network for Semantic
    Segmentation" (DeconvNet), ICCV 2015.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cvlab._validate import check_choice, check_int, check_tensor
from cvlab.models.blocks import conv_block, match_size
from cvlab.ops.upsampling import bilinear_kernel

__all__ = ["VGGBackbone", "FCN", "SegNet", "PatchClassifier", "bilinear_upsampler", "FCN_VARIANTS"]

FCN_VARIANTS = ("32s", "16s", "8s")
_IMAGES = "(B, C, H, W)"


def _check_widths(widths: Sequence[int], name: str, length: int) -> tuple[int, ...]:
    if not isinstance(widths, Sequence) or len(widths) != length:
        raise ValueError(f"{name}: expected {length} channel counts, got {widths!r}")
    return tuple(check_int(w, name) for w in widths)


def bilinear_upsampler(channels: int, stride: int, *, learnable: bool = True) -> nn.ConvTranspose2d:
    """A ``ConvTranspose2d`` (kernel ``2 stride``, padding ``stride // 2``, no bias) that starts as bilinear
    upsampling by ``stride``, with weights from :func:`cvlab.ops.bilinear_kernel` (the FCN initialisation).

    ``learnable=True``: a full ``channels x channels`` kernel, learned (FCN's x2 layers). ``learnable=False``:
    one fixed kernel per channel (``groups=channels``, ``requires_grad=False``), as FCN's final upsampling.
    Either maps ``(B, channels, h, w)`` to ``(B, channels, stride h, stride w)``; ``stride`` must be even.
    """
    channels, stride = check_int(channels, "channels"), check_int(stride, "stride")
    if stride % 2:
        raise ValueError(f"stride: expected an even upsampling factor, got {stride}")
    groups = 1 if learnable else channels
    layer = nn.ConvTranspose2d(
        channels, channels, 2 * stride, stride=stride, padding=stride // 2, groups=groups, bias=False
    )
    with torch.no_grad():
        kernel = bilinear_kernel(channels, 2 * stride) if learnable else bilinear_kernel(1, 2 * stride)
        layer.weight.copy_(kernel.expand_as(layer.weight))
    layer.weight.requires_grad_(learnable)
    return layer


class VGGBackbone(nn.Module):
    """Five VGG stages: ``convs[i]`` 3x3 conv-BN-ReLU layers of ``widths[i]`` channels, then a 2x2 max pool.

    Args:
        in_ch (int): input channels.
        widths (five ints): channels of each stage.
        convs (five ints): convolutions per stage.

    ``forward(x)`` returns the five pooled maps, strides 2, 4, 8, 16, 32: map ``i`` is
    ``(B, widths[i], ceil(H / 2^(i+1)), ceil(W / 2^(i+1)))``.
    """

    def __init__(
        self, in_ch: int = 3, widths: Sequence[int] = (16, 32, 64, 96, 128), convs: Sequence[int] = (1, 1, 2, 2, 2)
    ):
        super().__init__()
        in_ch = check_int(in_ch, "in_ch")
        self.widths = _check_widths(widths, "widths", 5)
        convs = _check_widths(convs, "convs", 5)
        chans = (in_ch, *self.widths)
        self.stages = nn.ModuleList(conv_block(chans[i], chans[i + 1], convs[i]) for i in range(5))
        self.pool = nn.MaxPool2d(2, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        check_tensor(x, "x", ndim=4, shape=_IMAGES, dtype="float")
        maps = []
        for stage in self.stages:
            x = self.pool(stage(x))
            maps.append(x)
        return maps

    def forward_with_indices(
        self, x: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Size]]:
        """The pooled maps, the max-pooling indices of each stage and the size of each map before pooling."""
        check_tensor(x, "x", ndim=4, shape=_IMAGES, dtype="float")
        maps, indices, sizes = [], [], []
        for stage in self.stages:
            x = stage(x)
            sizes.append(x.shape[-2:])
            x, index = F.max_pool2d(x, 2, ceil_mode=True, return_indices=True)
            maps.append(x)
            indices.append(index)
        return maps, indices, sizes


class FCN(nn.Module):
    """FCN-32s, 16s or 8s: per-pixel class scores from a VGG encoder, coarse scores refined by summed skips.

    The stride-32 map goes through a "fc6/fc7" head (two conv-BN-ReLU, 3x3 then 1x1) and a 1x1 score layer.
    - ``"32s"``: its scores are upsampled x32 in one step;
    - ``"16s"``: upsampled x2, fitted to the stride-16 map, *summed* with a 1x1 score layer on pool4, then x16;
    - ``"8s"``: that sum upsampled x2 again, summed with scores of pool3, then x8.

    Every upsampling is a transposed convolution initialised as bilinear (:func:`bilinear_upsampler`); the x2
    layers are learned, the final one stays bilinear (as in the paper). The skip score layers start at zero,
    so at initialisation 16s and 8s predict what 32s predicts (the paper's recipe). Sums are taken after
    cropping the upsampled map to the skip's size, and the output is cropped to the input, so any ``H, W``
    works.

    Args:
        num_classes (int): K.
        variant (str): ``"32s"``, ``"16s"`` or ``"8s"``.
        in_ch (int): input channels.
        widths, convs: of the :class:`VGGBackbone`.
        head_width (int): channels of the fc6/fc7 head.

    ``forward(x)``: ``x`` Tensor[B, in_ch, H, W] -> logits Tensor[B, K, H, W].
    """

    def __init__(
        self,
        num_classes: int,
        variant: str = "8s",
        *,
        in_ch: int = 3,
        widths: Sequence[int] = (16, 32, 64, 96, 128),
        convs: Sequence[int] = (1, 1, 2, 2, 2),
        head_width: int = 128,
    ):
        super().__init__()
        k = self.num_classes = check_int(num_classes, "num_classes")
        self.variant = check_choice(variant, "variant", FCN_VARIANTS)
        head_width = check_int(head_width, "head_width")
        self.backbone = VGGBackbone(in_ch, widths, convs)
        w = self.backbone.widths
        self.head = nn.Sequential(
            conv_block(w[4], head_width, 1),
            nn.Conv2d(head_width, head_width, 1, bias=False),
            nn.BatchNorm2d(head_width),
            nn.ReLU(inplace=True),
        )
        self.score_fr = nn.Conv2d(head_width, k, 1)
        skips = {"32s": 0, "16s": 1, "8s": 2}[variant]
        # skip i: 1x1 scores of pool4 (i = 0) and pool3 (i = 1), zero-initialised; x2 upsampler before each sum
        self.score_pool = nn.ModuleList(nn.Conv2d(w[3 - i], k, 1) for i in range(skips))
        for layer in self.score_pool:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.up2 = nn.ModuleList(bilinear_upsampler(k, 2) for _ in range(skips))
        self.up_final = bilinear_upsampler(k, 32 >> skips, learnable=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.backbone(x)
        score = self.score_fr(self.head(maps[4]))
        for i, (up, score_pool) in enumerate(zip(self.up2, self.score_pool, strict=True)):
            skip = maps[3 - i]
            score = match_size(up(score), skip.shape[-2:]) + score_pool(skip)
        return match_size(self.up_final(score), x.shape[-2:])


class SegNet(nn.Module):
    """SegNet / DeconvNet-style decoder: upsample by *max unpooling* with the encoder's pooling indices.

    The decoder mirrors the :class:`VGGBackbone`: at each stage, from stride 32 up, the map is unpooled to the
    size the encoder had before pooling (values go back to where the maxima were, zeros elsewhere,
    ``F.max_unpool2d``), then densified by conv-BN-ReLU layers that map ``widths[i]`` to ``widths[i - 1]``
    channels; a 1x1 layer gives the scores. No features are copied from the encoder, only the indices.

    Args:
        num_classes (int): K.
        in_ch (int): input channels.
        widths, convs: of the :class:`VGGBackbone` (the decoder uses the same number of convolutions).

    ``forward(x)``: ``x`` Tensor[B, in_ch, H, W] -> logits Tensor[B, K, H, W].
    """

    def __init__(
        self,
        num_classes: int,
        *,
        in_ch: int = 3,
        widths: Sequence[int] = (16, 32, 64, 96, 128),
        convs: Sequence[int] = (1, 1, 2, 2, 2),
    ):
        super().__init__()
        self.num_classes = check_int(num_classes, "num_classes")
        self.backbone = VGGBackbone(in_ch, widths, convs)
        w, n = self.backbone.widths, _check_widths(convs, "convs", 5)
        outs = (w[0], *w[:4])  # stage i of the decoder ends with the channels of encoder stage i - 1
        self.decoder = nn.ModuleList(conv_block(w[i], outs[i], n[i]) for i in range(5))
        self.classifier = nn.Conv2d(w[0], self.num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps, indices, sizes = self.backbone.forward_with_indices(x)
        h = maps[4]
        for i in reversed(range(5)):
            h = self.decoder[i](F.max_unpool2d(h, indices[i], 2, output_size=sizes[i]))
        return self.classifier(h)


class PatchClassifier(nn.Module):
    """The pre-FCN way to segment: classify the ``patch x patch`` window around a pixel, for every pixel.

    Written so that the same weights are also *fully convolutional* (FCN's first idea): unpadded 3x3
    conv-BN-ReLU layers (each trims 2 pixels), then the "fully connected" layer as a convolution whose kernel
    covers what is left of the patch (``patch - 2 len(widths)`` pixels), ReLU, and a 1x1 score layer.
    No pooling, so windows one pixel apart share all their arithmetic when the network slides itself.

    Args:
        num_classes (int): K.
        patch (int): odd side of the window, larger than ``2 len(widths)``.
        in_ch (int): input channels.
        widths (ints): channels of the 3x3 layers.
        hidden (int): channels of the fully connected layer.

    ``forward(x)``: ``x`` Tensor[B, in_ch, H, W] with ``H, W >= patch`` -> logits Tensor[B, K, H - patch + 1,
    W - patch + 1], the scores of every window; a single ``(B, in_ch, patch, patch)`` patch gives ``(B, K, 1, 1)``.
    See :func:`cvlab.models.evaluate.sliding_window_logits` for both ways of labelling a whole image.
    """

    def __init__(
        self, num_classes: int, patch: int = 17, *, in_ch: int = 3, widths: Sequence[int] = (16, 32, 32, 32),
        hidden: int = 64,
    ):
        super().__init__()
        self.num_classes = check_int(num_classes, "num_classes")
        self.patch, in_ch, hidden = check_int(patch, "patch"), check_int(in_ch, "in_ch"), check_int(hidden, "hidden")
        if not isinstance(widths, Sequence) or not widths:
            raise ValueError(f"widths: expected a non-empty sequence of channel counts, got {widths!r}")
        widths = tuple(check_int(w, "widths") for w in widths)
        rest = self.patch - 2 * len(widths)
        if self.patch % 2 == 0 or rest < 1:
            raise ValueError(f"patch: expected an odd size larger than 2 x {len(widths)} (the 3x3 layers), got {patch}")
        chans = (in_ch, *widths)
        self.features = nn.Sequential(*(conv_block(chans[i], chans[i + 1], 1, padding=0) for i in range(len(widths))))
        self.fc = nn.Sequential(nn.Conv2d(chans[-1], hidden, rest), nn.ReLU(inplace=True))
        self.score = nn.Conv2d(hidden, self.num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=4, shape=_IMAGES, dtype="float")
        if min(x.shape[-2:]) < self.patch:
            raise ValueError(f"x: expected H, W >= patch = {self.patch}, got {tuple(x.shape)}")
        return self.score(self.fc(self.features(x)))
