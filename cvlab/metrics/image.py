r"""Image fidelity scores for restoration: PSNR and SSIM, per image, on RGB tensors in [0, 1].

Both compare a restored image with its clean original. **Data range**: ``data_range`` is the span of the pixel
values (1.0 for the course's float images in [0, 1]; 255 for 8-bit values); values are not clipped first, so
clamp a network's output to [0, 1] before scoring it as a picture. **Colour**: PSNR takes the mean squared error
over all three channels together (as ``skimage.metrics.peak_signal_noise_ratio`` does on an ``(H, W, 3)`` array);
SSIM is computed per channel and the channel scores are averaged (``structural_similarity(...,
channel_axis=...)``). Neither converts to luminance (Y of YCbCr), which some super-resolution papers score on:
their figures are not comparable with these.

References:
    Z. Wang, A. C. Bovik, H. R. Sheikh and E. P. Simoncelli, "Image quality assessment: from error visibility to
    structural similarity", IEEE TIP 2004 (SSIM with an 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from cvlab._validate import check_same_shape, check_tensor

__all__ = ["psnr", "ssim", "image_scores"]


def _check_pair(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor, bool]:
    """Validate two images ``(C, H, W)`` or ``(B, C, H, W)``; return them batched and whether they were single."""
    check_tensor(pred, "pred", ndim=(3, 4), shape="(B, C, H, W) or (C, H, W)", dtype="float")
    check_tensor(target, "target", ndim=(3, 4), shape="(B, C, H, W) or (C, H, W)", dtype="float")
    check_same_shape(pred, target, "pred", "target")
    single = pred.dim() == 3
    return (pred[None], target[None], True) if single else (pred, target, False)


def _check_range(data_range: object) -> float:
    if isinstance(data_range, bool) or not isinstance(data_range, int | float) or not 0 < data_range < math.inf:
        raise ValueError(f"data_range: expected a positive number (1.0 for images in [0, 1]), got {data_range!r}")
    return float(data_range)


def psnr(pred: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    r"""Peak signal-to-noise ratio in decibels, one value per image.

    .. math::
        \mathrm{PSNR} = 10 \log_{10} \frac{R^2}{\frac{1}{CHW} \sum_{c,y,x} (\hat x_{cyx} - x_{cyx})^2}

    with :math:`R` = ``data_range``; the mean runs over the three colour channels together. Identical images give
    ``inf``. +1 dB is an MSE 21 % lower; Gaussian noise of standard deviation :math:`\sigma / 255 \cdot R`
    scores :math:`20 \log_{10}(255/\sigma)` dB (20.2 dB at :math:`\sigma = 25`).

    Args:
        pred (Tensor[B, C, H, W] or Tensor[C, H, W]): restored image(s), floating.
        target (Tensor[B, C, H, W] or Tensor[C, H, W]): clean image(s), same shape.
        data_range (float): span of the pixel values, 1.0 for images in [0, 1].

    Returns:
        Tensor[B] (or Tensor[] for a single image): PSNR in dB, in the dtype and on the device of ``pred``.

    Example:
        >>> x = torch.full((3, 4, 4), 0.5)
        >>> psnr(x + 0.1, x)  # MSE 0.01 -> 20 dB
        tensor(20.0000)
    """
    pred, target, single = _check_pair(pred, target)
    data_range = _check_range(data_range)
    mse = (pred - target.to(pred.dtype)).square().flatten(1).mean(1)
    value = 10 * torch.log10(data_range**2 / mse)
    return value[0] if single else value


def _gaussian_window(sigma: float, radius: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-(x**2) / (2 * sigma**2))
    return (w / w.sum()).to(dtype=dtype, device=device)


def _filter_valid(x: Tensor, window: Tensor) -> Tensor:
    """Separable filtering of every channel of ``(B, C, H, W)`` with a 1-D ``window``, valid region only."""
    channels = x.shape[1]
    k = window.numel()
    x = F.conv2d(x, window.view(1, 1, 1, k).expand(channels, 1, 1, k), groups=channels)
    return F.conv2d(x, window.view(1, 1, k, 1).expand(channels, 1, k, 1), groups=channels)


def ssim(
    pred: Tensor,
    target: Tensor,
    data_range: float = 1.0,
    *,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    return_map: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    r"""Structural similarity (Wang et al. 2004), one value per image: the mean of the SSIM map over the
    valid pixels and the channels.

    .. math::
        \mathrm{SSIM}(x, y) = \frac{(2 \mu_x \mu_y + C_1)(2 \sigma_{xy} + C_2)}
        {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)}, \quad C_1 = (k_1 R)^2,\ C_2 = (k_2 R)^2,

    with local means, variances and covariance weighted by a Gaussian window of standard deviation ``sigma``
    truncated at 3.5 sigma (11 x 11 for sigma = 1.5), population (not sample) moments, and the map kept only where
    the window lies inside the image (a border of 5 pixels for sigma = 1.5 is dropped). This is
    ``skimage.metrics.structural_similarity(target, pred, data_range=R, gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, channel_axis=...)``; scikit-image's *default* (7 x 7 uniform window, sample
    covariance) gives slightly different numbers.

    Args:
        pred (Tensor[B, C, H, W] or Tensor[C, H, W]): restored image(s), floating; H and W at least the window
            size.
        target (Tensor[B, C, H, W] or Tensor[C, H, W]): clean image(s), same shape.
        data_range (float): span of the pixel values, 1.0 for images in [0, 1].
        sigma (float): standard deviation of the Gaussian window in pixels.
        k1, k2 (float): stabilising constants of the paper.
        return_map (bool): also return the SSIM map ``(B, C, H - 2r, W - 2r)``.

    Returns:
        Tensor[B] (or Tensor[] for a single image), in [-1, 1], 1 for identical images; with ``return_map``, the
        tuple (score, map).

    Example:
        >>> x = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> ssim(x, x)
        tensor(1.)
    """
    pred, target, single = _check_pair(pred, target)
    data_range = _check_range(data_range)
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not 0 < sigma < math.inf:
        raise ValueError(f"sigma: expected a positive number of pixels, got {sigma!r}")
    radius = int(3.5 * sigma + 0.5)  # scipy.ndimage.gaussian_filter's radius for truncate=3.5
    if min(pred.shape[-2:]) < 2 * radius + 1:
        raise ValueError(
            f"pred: expected images of at least {2 * radius + 1} x {2 * radius + 1} pixels for sigma={sigma}, "
            f"got {tuple(pred.shape[-2:])}"
        )
    x, y = pred, target.to(pred.dtype)
    window = _gaussian_window(float(sigma), radius, x.dtype, x.device)
    c = x.shape[1]
    moments = _filter_valid(torch.cat([x, y, x * x, y * y, x * y], dim=1), window)
    mu_x, mu_y, xx, yy, xy = moments.split(c, dim=1)
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    score = ssim_map.flatten(1).mean(1)
    if single:
        score, ssim_map = score[0], ssim_map[0]
    return (score, ssim_map) if return_map else score


def image_scores(preds: Sequence[Tensor], targets: Sequence[Tensor], data_range: float = 1.0) -> dict[str, float]:
    """Mean :func:`psnr` and :func:`ssim` over a list of image pairs whose sizes may differ (whole photographs).

    Args:
        preds (sequence of Tensor[C, H, W]): restored images.
        targets (sequence of Tensor[C, H, W]): their clean originals, pair by pair the same shape.
        data_range (float): span of the pixel values.

    Returns:
        dict: ``{"psnr": mean dB, "ssim": mean}``, each image counting once whatever its size.
    """
    if isinstance(preds, Tensor) or isinstance(targets, Tensor) or len(preds) != len(targets) or not preds:
        raise ValueError("preds and targets: expected two non-empty lists of (C, H, W) tensors of the same length")
    p = [psnr(a, b, data_range).item() for a, b in zip(preds, targets, strict=True)]
    s = [ssim(a, b, data_range).item() for a, b in zip(preds, targets, strict=True)]
    return {"psnr": sum(p) / len(p), "ssim": sum(s) / len(s)}
