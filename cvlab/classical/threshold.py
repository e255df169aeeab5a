"""Adaptive (local) thresholding, and a synthetic thermal image of solar panels under uneven illumination."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from cvlab._validate import check_choice, check_int, check_number, check_tensor

METHODS = ("mean", "gaussian")


def _symmetric_index(size: int, pad: int, device: torch.device) -> torch.Tensor:
    """Indices of a half-sample symmetric extension ``d c b a | a b c d | d c b a`` (scipy's "reflect")."""
    index = torch.arange(-pad, size + pad, device=device) % (2 * size)
    return torch.where(index < size, index, 2 * size - 1 - index)


def _separable_filter(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Filter (H, W) rows then columns with the same odd 1-D kernel, borders extended symmetrically."""
    pad = kernel.numel() // 2
    height, width = image.shape
    padded = image[_symmetric_index(height, pad, image.device)][:, _symmetric_index(width, pad, image.device)]
    out = F.conv2d(padded[None, None], kernel.view(1, 1, -1, 1))
    return F.conv2d(out, kernel.view(1, 1, 1, -1))[0, 0]


def local_threshold(
    image: torch.Tensor, window: int, offset: float = 0.0, method: str = "gaussian"
) -> torch.Tensor:
    """Threshold surface of :func:`adaptive_threshold`: the low-passed image minus ``offset``.

    ``"mean"`` is the average over a ``window x window`` box; ``"gaussian"`` a Gaussian of
    ``sigma = (window - 1) / 6`` (the window holds +-3 sigma) truncated at 4 sigma. Borders are extended
    symmetrically. The conventions are those of :func:`skimage.filters.threshold_local` (``mode="reflect"``).

    Args:
        image (Tensor[H, W]): float grey-level image.
        window: odd window size in pixels, >= 3.
        offset: subtracted from the local average (negative values demand pixels brighter than their
            surroundings), in grey levels.
        method: ``"mean"`` or ``"gaussian"``.

    Returns:
        Tensor[H, W]: the per-pixel threshold.
    """
    check_tensor(image, "image", ndim=2, shape="(H, W)", dtype="float", finite=True)
    window = check_int(window, "window", minimum=3)
    if window % 2 == 0:
        raise ValueError(f"window: expected an odd size (the window is centred on the pixel), got {window}")
    check_choice(method, "method", METHODS)
    offset = check_number(offset, "offset")
    if image.numel() == 0:  # an empty image has an empty threshold surface
        return image.clone()
    if method == "mean":
        kernel = torch.full((window,), 1.0 / window, dtype=image.dtype, device=image.device)
    else:
        sigma = (window - 1) / 6.0
        radius = int(4.0 * sigma + 0.5)
        x = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
        kernel = torch.exp(-0.5 * (x / sigma) ** 2)
        kernel = kernel / kernel.sum()
    return _separable_filter(image, kernel) - offset


def adaptive_threshold(
    image: torch.Tensor, window: int, offset: float = 0.0, method: str = "gaussian"
) -> torch.Tensor:
    """Adaptive thresholding: a pixel is foreground when it is brighter than its neighbourhood.

    .. math:: \\text{mask}(p) = I(p) > (G * I)(p) - \\text{offset}

    with ``G`` a box or Gaussian low-pass (:func:`local_threshold`). Subtracting the local average removes
    slow illumination changes that defeat one global threshold (e.g. Otsu's) -- the idea of Chow & Kaneko
    (1972), who fitted a threshold per sub-window and interpolated between them.

    Args:
        image (Tensor[H, W]): float grey-level image.
        window: odd window size in pixels, >= 3; larger than the objects to detect.
        offset: see :func:`local_threshold`.
        method: ``"mean"`` or ``"gaussian"``.

    Returns:
        Tensor[H, W] bool: the foreground mask.

    Reference: C. K. Chow and T. Kaneko, "Automatic boundary detection of the left ventricle from
    cineangiograms", Computers and Biomedical Research, 1972.

    Example:
        >>> image = torch.linspace(0, 1, 64).repeat(64, 1)   # a ramp, no objects
        >>> image[30:34, 10:14] += 0.3                       # one small bright spot
        >>> int(adaptive_threshold(image, 15, offset=-0.1).sum())
        16
    """
    return image > local_threshold(image, window, offset, method)


class ThermalDemo(NamedTuple):
    """A synthetic thermal image from :func:`uneven_illumination_demo`.

    Attributes:
        image (Tensor[H, W] float32): temperatures mapped to [0, 1].
        hotspots (Tensor[H, W] bool): the defective (hot) cells, the target of the inspection.
        panels (Tensor[H, W] bool): the solar modules.
    """

    image: torch.Tensor
    hotspots: torch.Tensor
    panels: torch.Tensor


def uneven_illumination_demo(seed: int = 0, size: int = 96) -> ThermalDemo:
    """A thermal-camera-style image of a solar farm with a few hot cells, under a strong temperature gradient.

    Rows of modules (grey level 0.28) stand on slightly cooler ground (0.22); a few 4 x 4 cells are defective
    and 0.25 hotter. A linear gradient of 0.45 in a random direction (sun, viewing angle) and Gaussian noise
    (std 0.03) are added, so the hot cells on the cool side are darker than healthy modules on the warm side:
    one global threshold cannot separate them, a local one can.

    Args:
        seed: random seed (layout of the defects, gradient direction, noise).
        size: image side in pixels, >= 32.

    Returns:
        ThermalDemo: ``image``, ``hotspots`` and ``panels``.
    """
    seed = check_int(seed, "seed", minimum=0)
    size = check_int(size, "size", minimum=32)
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size]
    panels = ((rows % 16) >= 3) & ((rows % 16) < 13) & ((cols % 12) >= 2) & ((cols % 12) < 11)
    hotspots = np.zeros((size, size), dtype=bool)
    candidates = np.argwhere(panels & (rows % 16 == 5) & (cols % 12 == 4))  # one 4 x 4 cell slot per module
    for r, c in candidates[rng.choice(len(candidates), size=max(3, len(candidates) // 6), replace=False)]:
        top = r + rng.integers(0, 3)
        hotspots[top : top + 4, c : c + 4] = True
    angle = rng.uniform(0, math.pi / 2)
    ramp = math.cos(angle) * cols + math.sin(angle) * rows
    image = 0.22 + 0.06 * panels + 0.25 * hotspots + 0.45 * ramp / ramp.max()
    image = np.clip(image + rng.normal(0.0, 0.03, image.shape), 0.0, 1.0)
    return ThermalDemo(
        torch.from_numpy(image.astype(np.float32)), torch.from_numpy(hotspots), torch.from_numpy(panels)
    )
