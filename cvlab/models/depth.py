"""Monocular depth models small enough to train on a CPU in a lesson: a MiDaS-style relative-depth network, a
metric head in ZoeDepth's spirit, and (only when asked, with internet) the real MiDaS small model.

References:
    R. Ranftl et al., "Towards Robust Monocular Depth Estimation: Mixing Datasets for Zero-shot Cross-dataset
    Transfer", TPAMI 2022 (the relative model and its decoder of fusion blocks).
    S. F. Bhat et al., "ZoeDepth: Zero-shot Transfer by Combining Relative and Metric Depth", arXiv 2302.12288
    (a relative model plus a metric head).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cvlab._validate import check_choice, check_int, check_number, check_tensor
from cvlab.losses.depth import compute_scale_and_shift, silog_loss

__all__ = ["DepthNet", "PyramidEncoder", "FusionDecoder", "MetricHead", "LearnedMetricHead", "MIDAS_MODELS",
           "load_midas"]

MIDAS_MODELS = ("MiDaS_small", "DPT_Hybrid", "DPT_Large")


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class _Fusion(nn.Module):
    """MiDaS's feature fusion block, reduced: upsample the deeper map x2, add the projected skip, refine."""

    def __init__(self, c_deep: int, c_skip: int, c_out: int) -> None:
        super().__init__()
        self.deep, self.skip = nn.Conv2d(c_deep, c_out, 1), nn.Conv2d(c_skip, c_out, 1)
        self.refine = nn.Sequential(_conv(c_out, c_out), _conv(c_out, c_out))

    def forward(self, deep: Tensor, skip: Tensor) -> Tensor:
        up = F.interpolate(self.deep(deep), size=skip.shape[-2:], mode="bilinear", align_corners=False)
        x = up + self.skip(skip)
        return x + self.refine(x)


class PyramidEncoder(nn.Module):
    """The encoder of `DepthNet`: a full-resolution stem, then ``levels`` strided 3x3 stages.

    Level ``k`` has ``width * 2^k`` channels at ``1 / 2^k`` of the resolution (rounded up).

    Args:
        width: channels of the first level.
        levels: number of down-samplings.

    Shapes:
        input Tensor[B, 3, H, W] -> list of ``levels + 1`` Tensor[B, width * 2^k, ceil(H / 2^k), ceil(W / 2^k)].
    """

    def __init__(self, width: int = 16, levels: int = 3) -> None:
        super().__init__()
        width, levels = check_int(width, "width"), check_int(levels, "levels")
        self.channels = tuple(width * 2**k for k in range(levels + 1))
        chans = self.channels
        self.stem = nn.Sequential(_conv(3, width), _conv(width, width))
        self.down = nn.ModuleList(
            nn.Sequential(_conv(chans[k], chans[k + 1], stride=2), _conv(chans[k + 1], chans[k + 1]))
            for k in range(levels)
        )

    def forward(self, image: Tensor) -> list[Tensor]:
        features = [self.stem(image)]
        for down in self.down:
            features.append(down(features[-1]))
        return features


class FusionDecoder(nn.Module):
    """The decoder of `DepthNet`: MiDaS-style fusion blocks, coarse to fine, back to the finest level.

    Args:
        channels: the encoder's channels per level (`PyramidEncoder.channels`).

    Shapes:
        the encoder's list of features -> Tensor[B, channels[0], H, W] (the finest level's size).
    """

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.fuse = nn.ModuleList(_Fusion(channels[k + 1], channels[k], channels[k]) for k in range(len(channels) - 1))

    def forward(self, features: list[Tensor]) -> Tensor:
        x = features[-1]
        for k in reversed(range(len(self.fuse))):
            x = self.fuse[k](x, features[k])
        return x


class DepthNet(nn.Module):
    """A small encoder-decoder for relative inverse depth (disparity up to an unknown scale and shift).

    The encoder (`PyramidEncoder`) halves the resolution ``levels`` times (strided 3x3 convolutions, widths
    ``width * 2^k``); the decoder (`FusionDecoder`) fuses each level back in, coarse to fine, as MiDaS's fusion
    blocks do, and a 3x3 head gives one channel at full resolution. The output is unconstrained (train it with
    `cvlab.losses.ssi_loss`, which aligns scale and shift; pass it through ``exp`` for a positive depth).

    Args:
        width: channels of the first level.
        levels: number of down-samplings; H and W need not be multiples of ``2**levels``.

    Shapes:
        input Tensor[B, 3, H, W] -> output Tensor[B, 1, H, W].

    Example:
        >>> DepthNet()(torch.rand(2, 3, 64, 80)).shape
        torch.Size([2, 1, 64, 80])
    """

    def __init__(self, width: int = 16, levels: int = 3) -> None:
        super().__init__()
        self.encoder = PyramidEncoder(width, levels)
        self.decoder = FusionDecoder(self.encoder.channels)
        self.head = nn.Sequential(_conv(self.encoder.channels[0], self.encoder.channels[0]),
                                  nn.Conv2d(self.encoder.channels[0], 1, 1))

    def forward(self, image: Tensor) -> Tensor:
        check_tensor(image, "image", ndim=4, shape="(B, 3, H, W)", dtype="float")
        return self.head(self.decoder(self.encoder(image)))


class MetricHead(nn.Module):
    """Turn relative disparity into metric depth with one scale and shift fitted from a few metric samples.

    ZoeDepth puts a learned metric head on a relative model, one per scene type; with a single scene type and a
    relative model whose output is consistent across images, the least this can be is a global affine map in
    disparity space, ``depth = 1 / max(s d + t, 1 / max_depth)``, fitted by least squares on the pooled valid
    pixels of the calibration samples. Its error on other images says how consistent the relative model's
    scale is.

    Args:
        max_depth: the largest depth it returns, in metres (clamps disparities at ``1 / max_depth``).
    """

    def __init__(self, max_depth: float = 20.0) -> None:
        super().__init__()
        if not max_depth > 0:
            raise ValueError(f"max_depth: expected a depth > 0, got {max_depth}")
        self.max_depth = float(max_depth)
        self.register_buffer("scale", torch.ones(()))
        self.register_buffer("shift", torch.zeros(()))

    @torch.no_grad()
    def fit(self, disparity: Tensor, depth: Tensor, valid: Tensor) -> MetricHead:
        """Fit ``(s, t)`` so that ``s * disparity + t`` matches ``1 / depth`` on the valid pixels of every sample.

        Args:
            disparity (Tensor[N, 1, H, W]): the relative model's outputs on N calibration images.
            depth (Tensor[N, 1, H, W]): their metric depth in metres.
            valid (Tensor[N, 1, H, W]): bool, pixels with a depth.

        Returns:
            MetricHead: ``self``.
        """
        check_tensor(disparity, "disparity", ndim=4, shape="(N, 1, H, W)", dtype="float")
        inverse = torch.where(valid, 1 / torch.where(valid, depth, torch.ones_like(depth)), 0.0)
        scale, shift = compute_scale_and_shift(disparity.reshape(1, 1, -1), inverse.reshape(1, 1, -1),
                                               valid.reshape(1, 1, -1))
        self.scale.copy_(scale[0])
        self.shift.copy_(shift[0])
        return self

    def forward(self, disparity: Tensor) -> Tensor:
        check_tensor(disparity, "disparity", ndim=4, shape="(B, 1, H, W)", dtype="float")
        metric = (self.scale * disparity + self.shift).clamp(min=1 / self.max_depth)
        return 1 / metric


class LearnedMetricHead(nn.Module):
    r"""A small learned metric head in ZoeDepth's spirit: per image, a scale and shift predicted from the image and
    the relative disparity, on top of a global `MetricHead`.

    A relative model trained with a scale-and-shift-invariant loss drifts in scale from image to image, which one
    global map cannot undo. This head reads the image and the globally mapped disparity ``g = s0 d + t0`` (1/m)
    through three strided 3x3 convolutions, averages them over the image and predicts two numbers ``(a, b)``:

    .. math:: \text{depth} = 1 / \max(s_0 e^{a} d + t_0 + s_0 b,\ 1 / \text{max\_depth}).

    The last layer starts at zero, so before training it *is* the global head; `fit` first fits ``(s0, t0)`` by
    least squares, then trains the rest (Adam, full batch) with the mean squared log error
    (`cvlab.losses.silog_loss` with λ = 0) on the metric calibration samples, the relative model kept frozen.

    Args:
        width: channels of the convolutions.
        max_depth: the largest depth it returns, in metres.

    Shapes:
        ``forward(image, disparity)``: Tensor[B, 3, H, W] and Tensor[B, 1, H, W] -> depth Tensor[B, 1, H, W] (m).
    """

    def __init__(self, width: int = 8, max_depth: float = 20.0) -> None:
        super().__init__()
        width = check_int(width, "width")
        self.base = MetricHead(max_depth)
        self.features = nn.Sequential(
            _conv(4, width, stride=2), _conv(width, width, stride=2), _conv(width, width, stride=2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.out = nn.Linear(width, 2)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, image: Tensor, disparity: Tensor) -> Tensor:
        check_tensor(image, "image", ndim=4, shape="(B, 3, H, W)", dtype="float")
        check_tensor(disparity, "disparity", ndim=4, shape="(B, 1, H, W)", dtype="float")
        if disparity.shape[0] != image.shape[0] or disparity.shape[-2:] != image.shape[-2:]:
            raise ValueError(f"disparity: expected shape ({image.shape[0]}, 1, {image.shape[2]}, {image.shape[3]}) "
                             f"to match image, got {tuple(disparity.shape)}")
        s0, t0 = self.base.scale, self.base.shift
        a, b = self.out(self.features(torch.cat([image, s0 * disparity + t0], 1))).unbind(1)
        metric = s0 * torch.exp(a)[:, None, None, None] * disparity + t0 + s0 * b[:, None, None, None]
        return 1 / metric.clamp(min=1 / self.base.max_depth)

    def fit(self, image: Tensor, disparity: Tensor, depth: Tensor, valid: Tensor, *, steps: int = 200,
            lr: float = 1e-2) -> list[float]:
        """Fit the global map, then train the per-image correction on N calibration samples.

        Args:
            image (Tensor[N, 3, H, W]): the calibration images.
            disparity (Tensor[N, 1, H, W]): the (frozen) relative model's outputs on them.
            depth (Tensor[N, 1, H, W]): their metric depth in metres.
            valid (Tensor[N, 1, H, W]): bool, pixels with a depth.
            steps: Adam steps on the whole calibration set.
            lr: Adam's learning rate.

        Returns:
            list of float: the training loss of every step. The head is left in eval mode.
        """
        steps = check_int(steps, "steps")
        lr = check_number(lr, "lr", minimum=0, exclusive=True)
        disparity = disparity.detach()
        self.base.fit(disparity, depth, valid)
        optimizer = torch.optim.Adam([*self.features.parameters(), *self.out.parameters()], lr=lr)
        self.train()
        losses = []
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss = silog_loss(self(image, disparity), depth, valid, lam=0.0)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        self.eval()
        return losses


def load_midas(model_type: str = "MiDaS_small", *, allow_download: bool = False) -> tuple[nn.Module, object]:
    """The real MiDaS model and its input transform from ``torch.hub`` (intel-isl/MiDaS), only when asked.

    Nothing is downloaded unless ``allow_download=True``; weights already in the torch hub cache load offline.

    Args:
        model_type: one of ``MIDAS_MODELS``.
        allow_download: permit ``torch.hub`` to fetch code and weights (needs internet, e.g. on Colab).

    Returns:
        (nn.Module, callable): the model in eval mode and the transform that turns an ``(H, W, 3)`` uint8 RGB
        array into its input batch. The output is relative inverse depth.

    Raises:
        RuntimeError: when downloading is not allowed or fails, with what to do instead.
    """
    check_choice(model_type, "model_type", MIDAS_MODELS)
    if not allow_download:
        raise RuntimeError(
            f"load_midas({model_type!r}) fetches code and weights with torch.hub; pass allow_download=True on a "
            "machine with internet (e.g. Colab). Offline, train cvlab.models.depth.DepthNet on rendered scenes."
        )
    try:
        model = torch.hub.load("intel-isl/MiDaS", model_type, trust_repo=True)
        transforms = torch.hub.load("intel-isl/MiDaS", "transforms", trust_repo=True)
    except Exception as error:  # URLError, HTTPError, socket errors, missing hub dependencies (timm)
        raise RuntimeError(
            f"load_midas({model_type!r}): torch.hub failed ({type(error).__name__}: {error}). Offline? It needs "
            "internet (and the timm package); offline, train cvlab.models.depth.DepthNet on rendered scenes."
        ) from error
    transform = transforms.small_transform if model_type == "MiDaS_small" else transforms.dpt_transform
    return model.eval(), transform
