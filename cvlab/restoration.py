r"""Image restoration on real photographs: seeded degradations, a written train/test split, patch datasets, and
the classical baselines a network must beat.

The photographs are the ones scikit-image and scikit-learn ship (:func:`cvlab.data.load_sample`); the
degradations are synthetic and exactly parameterised, so the clean original is always known:

- :func:`add_gaussian_noise`: additive white Gaussian noise, ``sigma`` in 0–255 units (sigma = 25 on an image in
  [0, 1] adds noise of standard deviation 25/255);
- :func:`blur` with :func:`gaussian_kernel` or :func:`motion_kernel`, and :func:`blur_and_noise`;
- :func:`downsample` by an integer factor (bicubic with antialiasing), and :func:`upsample_bicubic`, the baseline of
  super-resolution;
- :func:`corruption_mask` ("dirt" blobs or "rain" streaks) and :func:`corrupt`, local damage to inpaint.

Every random degradation takes a ``generator`` (a CPU ``torch.Generator``) or a ``seed``: the random numbers are
drawn on the CPU and then moved, so a seed gives the same degradation on every device.

The split (:data:`TRAIN_IMAGES`, :data:`TEST_IMAGES`, no image in both) is written down here; networks train on
random patches of the training photographs (:class:`PatchDataset`) and are scored on the *whole* test photographs
(:func:`load_split`). Left out of both: the synthetic pictures (``checkerboard``, ``colorwheel``, ``logo``,
``shepp_logan_phantom``), the binary ``horse`` silhouette, ``clock`` (already motion-blurred, so no clean
original) and the 102-pixel ``microaneurysms``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from cvlab._validate import check_choice, check_int, check_number, check_tensor
from cvlab.data.samples import load_sample

__all__ = [
    "TRAIN_IMAGES",
    "TEST_IMAGES",
    "load_split",
    "add_gaussian_noise",
    "gaussian_kernel",
    "motion_kernel",
    "blur",
    "blur_and_noise",
    "crop_to_multiple",
    "downsample",
    "upsample_bicubic",
    "corruption_mask",
    "corrupt",
    "PatchDataset",
    "DENOISERS",
    "classical_denoise",
    "DEBLURRERS",
    "classical_deblur",
    "Recipe",
    "RECIPES",
    "build_model",
    "train_recipe",
    "load_pretrained",
    "restore",
]

TEST_IMAGES: tuple[str, ...] = ("astronaut", "chelsea", "coffee")
"""Held-out colour photographs, scored whole; never cropped into training patches."""

TRAIN_IMAGES: tuple[str, ...] = (
    "brick", "camera", "cell", "china", "coins", "flower", "grass", "gravel", "hubble_deep_field",
    "immunohistochemistry", "moon", "page", "retina", "rocket", "text",
)  # fmt: skip
"""Photographs that training patches are cut from (grey ones repeated to three channels by ``load_sample``)."""

_SPLITS = {"train": TRAIN_IMAGES, "test": TEST_IMAGES}


# --------------------------------------------------------------------------------------------- checks and helpers
def _check_image(image: object, name: str = "image") -> Tensor:
    return check_tensor(image, name, ndim=(3, 4), shape="(B, C, H, W) or (C, H, W)", dtype="float")


def _generator(generator: torch.Generator | None, seed: int | None) -> torch.Generator:
    """The CPU generator to draw from: the caller's, or a fresh one seeded with ``seed``."""
    if generator is not None and seed is not None:
        raise ValueError("generator and seed: expected at most one of them, got both")
    if generator is not None:
        if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
            raise TypeError(f"generator: expected a CPU torch.Generator, got {generator!r}")
        return generator
    if seed is None:
        return torch.Generator().manual_seed(int(torch.randint(0, 2**62, ())))
    return torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))


def _batched(image: Tensor) -> tuple[Tensor, bool]:
    return (image[None], True) if image.dim() == 3 else (image, False)


def _to_numpy_hwc(image: Tensor) -> np.ndarray:
    return image.detach().to("cpu", torch.float64).permute(1, 2, 0).numpy()


def _from_numpy_hwc(array: np.ndarray, like: Tensor) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).to(like.device, like.dtype)


# ------------------------------------------------------------------------------------------------------- the split
def load_split(split: str, factor: int = 1) -> list[Tensor]:
    """The photographs of one side of the split, whole, optionally reduced by an integer ``factor``.

    Args:
        split (str): ``"train"`` (:data:`TRAIN_IMAGES`) or ``"test"`` (:data:`TEST_IMAGES`).
        factor (int): 1 for the bundled size; 2 or more crops each image to a multiple of ``factor`` and reduces it
            with :func:`downsample` (small enough for a lesson on a CPU: ``astronaut`` becomes 256 x 256).

    Returns:
        list of Tensor[3, H, W]: float32 in [0, 1], in the order of the split's names.
    """
    check_choice(split, "split", tuple(_SPLITS))
    factor = check_int(factor, "factor")
    images = [load_sample(name) for name in _SPLITS[split]]
    if factor == 1:
        return images
    return [downsample(crop_to_multiple(image, factor), factor) for image in images]


# ---------------------------------------------------------------------------------------------------------- noise
def add_gaussian_noise(
    image: Tensor,
    sigma: float,
    *,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    clip: bool = False,
) -> Tensor:
    r"""Add white Gaussian noise of standard deviation ``sigma`` / 255: :math:`y = x + \frac{\sigma}{255} n`,
    :math:`n \sim \mathcal N(0, 1)` i.i.d. per pixel and channel.

    Unclipped by default, as in the denoising benchmarks (DnCNN, BM3D), so the noise stays exactly Gaussian;
    ``clip=True`` clamps to [0, 1] like a saved 8-bit picture (the noise is then no longer zero-mean near black
    and white).

    Args:
        image (Tensor[B, C, H, W] or Tensor[C, H, W]): clean image(s) in [0, 1], floating.
        sigma (float): noise standard deviation in 0–255 units (15, 25, 50 are the usual levels).
        generator (torch.Generator, optional): CPU generator the noise is drawn from.
        seed (int, optional): seed of a fresh generator (give at most one of ``generator`` and ``seed``).
        clip (bool): clamp the result to [0, 1].

    Returns:
        Tensor: the noisy image, same shape, dtype and device as ``image`` (a new tensor).

    Example:
        >>> y = add_gaussian_noise(torch.full((3, 64, 64), 0.5), 25, seed=0)
        >>> round((y - 0.5).std().item() * 255, 1)
        25.1
    """
    _check_image(image)
    sigma = check_number(sigma, "sigma (0-255 units)", minimum=0)
    g = _generator(generator, seed)
    noise = torch.randn(image.shape, generator=g, dtype=torch.float32).to(image.device, image.dtype)
    noisy = image + (sigma / 255.0) * noise
    return noisy.clamp(0, 1) if clip else noisy


# ----------------------------------------------------------------------------------------------------------- blur
def gaussian_kernel(size: int, sigma: float) -> Tensor:
    r"""A ``size`` x ``size`` Gaussian blur kernel, :math:`k(u, v) \propto e^{-(u^2 + v^2) / 2\sigma^2}`, summing
    to 1.

    Args:
        size (int): odd side length in pixels (e.g. ``2 * ceil(3 * sigma) + 1``).
        sigma (float): standard deviation in pixels.

    Returns:
        Tensor[size, size]: float32.
    """
    size = check_int(size, "size")
    if size % 2 == 0:
        raise ValueError(f"size: expected an odd number of pixels, got {size}")
    sigma = check_number(sigma, "sigma (pixels)", minimum=0, exclusive=True)
    x = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    k = torch.outer(g, g)
    return (k / k.sum()).float()


def motion_kernel(length: int, angle: float = 0.0) -> Tensor:
    """A linear motion-blur kernel: a segment of ``length`` pixels centred on the middle pixel, at ``angle``
    degrees (counter-clockwise from the x axis, image y pointing down), summing to 1.

    Each pixel weighs the length of the segment inside its unit-wide slab along the motion, times a tent
    ``max(0, 1 - d)`` of its distance ``d`` to the line (anti-aliasing across it); so a horizontal motion of odd
    length is a box of ``length`` equal taps.

    Args:
        length (int): length of the motion in pixels (>= 1; 1 is the identity).
        angle (float): direction in degrees.

    Returns:
        Tensor[S, S]: float32, S odd, the smallest square that holds every non-zero tap.

    Example:
        >>> motion_kernel(3, 0.0)
        tensor([[0.0000, 0.0000, 0.0000],
                [0.3333, 0.3333, 0.3333],
                [0.0000, 0.0000, 0.0000]])
    """
    length = check_int(length, "length")
    if isinstance(angle, bool) or not isinstance(angle, int | float) or not math.isfinite(angle):
        raise ValueError(f"angle: expected a finite number of degrees, got {angle!r}")
    c = length // 2 + 2
    r = torch.arange(-c, c + 1, dtype=torch.float64)
    y, x = torch.meshgrid(r, r, indexing="ij")
    theta = math.radians(angle)
    along = x * math.cos(theta) - y * math.sin(theta)  # y points down: counter-clockwise is -y
    across = x * math.sin(theta) + y * math.cos(theta)
    half = length / 2
    inside = ((along + 0.5).clamp(max=half) - (along - 0.5).clamp(min=-half)).clamp(min=0)
    k = inside * (1 - across.abs()).clamp(min=0)
    k = torch.where(k > 1e-9, k, 0.0)  # rounding residues of cos/sin at multiples of 90 degrees
    while k.shape[0] > 1 and bool((k[0] == 0).all() & (k[-1] == 0).all() & (k[:, 0] == 0).all()
                                  & (k[:, -1] == 0).all()):
        k = k[1:-1, 1:-1]  # trim empty rings, keeping the centre in the middle
    return (k / k.sum()).float()


def blur(image: Tensor, kernel: Tensor) -> Tensor:
    """Convolve every channel with ``kernel`` (a true convolution, the kernel flipped), same size out,
    reflect-padded at the border.

    Args:
        image (Tensor[B, C, H, W] or Tensor[C, H, W]): image(s), floating.
        kernel (Tensor[kh, kw]): blur kernel with odd sides, usually summing to 1 (:func:`gaussian_kernel`,
            :func:`motion_kernel`).

    Returns:
        Tensor: the blurred image, same shape, dtype and device as ``image``.
    """
    _check_image(image)
    check_tensor(kernel, "kernel", ndim=2, shape="(kh, kw)", dtype="float", finite=True)
    kh, kw = kernel.shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"kernel: expected odd sides, got shape {tuple(kernel.shape)}")
    x, single = _batched(image)
    if kh // 2 >= x.shape[-2] or kw // 2 >= x.shape[-1]:
        raise ValueError(f"kernel: expected a kernel smaller than the image, got {tuple(kernel.shape)} for "
                         f"an image of {tuple(x.shape[-2:])}")
    channels = x.shape[1]
    weight = kernel.flip(0, 1).to(x.device, x.dtype).expand(channels, 1, kh, kw)
    padded = F.pad(x, (kw // 2, kw // 2, kh // 2, kh // 2), mode="reflect")
    out = F.conv2d(padded, weight, groups=channels)
    return out[0] if single else out


def blur_and_noise(
    image: Tensor,
    kernel: Tensor,
    sigma: float,
    *,
    generator: torch.Generator | None = None,
    seed: int | None = None,
) -> Tensor:
    """The classical blur model ``y = k * x + n``: :func:`blur` with ``kernel``, then :func:`add_gaussian_noise`
    with ``sigma`` (0–255 units). Same arguments and result layout as those two."""
    return add_gaussian_noise(blur(image, kernel), sigma, generator=generator, seed=seed)


# ---------------------------------------------------------------------------------------------- resolution change
def crop_to_multiple(image: Tensor, factor: int) -> Tensor:
    """Crop the bottom rows and right columns so that H and W are multiples of ``factor`` (a view, no copy)."""
    _check_image(image)
    factor = check_int(factor, "factor")
    h, w = image.shape[-2] // factor * factor, image.shape[-1] // factor * factor
    if h == 0 or w == 0:
        raise ValueError(f"image: expected at least {factor} x {factor} pixels, got {tuple(image.shape[-2:])}")
    return image[..., :h, :w]


def downsample(image: Tensor, factor: int, *, antialias: bool = True) -> Tensor:
    """Reduce an image by an integer ``factor`` (x2, x4) with bicubic interpolation, clamped to [0, 1].

    With ``antialias=True`` (the default) the cubic kernel (a = -0.5) is stretched by ``factor`` before sampling,
    so it low-pass filters the image first: the same filter as PIL's ``Image.resize(..., BICUBIC)`` and MATLAB's
    ``imresize``, the usual way super-resolution benchmarks make their low-resolution inputs.
    ``antialias=False`` samples the cubic interpolant directly and aliases fine detail.

    Args:
        image (Tensor[B, C, H, W] or Tensor[C, H, W]): image(s) in [0, 1]; H and W multiples of ``factor``
            (see :func:`crop_to_multiple`).
        factor (int): reduction factor.
        antialias (bool): low-pass filter first.

    Returns:
        Tensor[..., H / factor, W / factor]: same dtype and device.
    """
    _check_image(image)
    factor = check_int(factor, "factor")
    if image.shape[-2] % factor or image.shape[-1] % factor:
        raise ValueError(f"image: expected H and W multiples of factor={factor}, got {tuple(image.shape[-2:])}; "
                         f"use crop_to_multiple first")
    x, single = _batched(image)
    size = (x.shape[-2] // factor, x.shape[-1] // factor)
    out = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=antialias).clamp(0, 1)
    return out[0] if single else out


def upsample_bicubic(image: Tensor, factor: int) -> Tensor:
    """Enlarge by an integer ``factor`` with bicubic interpolation (a = -0.75, PyTorch's), clamped to [0, 1]:
    the classical baseline of single-image super-resolution.

    Args:
        image (Tensor[B, C, h, w] or Tensor[C, h, w]): low-resolution image(s).
        factor (int): enlargement factor.

    Returns:
        Tensor[..., h * factor, w * factor]: same dtype and device.
    """
    _check_image(image)
    factor = check_int(factor, "factor")
    x, single = _batched(image)
    out = F.interpolate(x, scale_factor=factor, mode="bicubic", align_corners=False).clamp(0, 1)
    return out[0] if single else out


# ------------------------------------------------------------------------------------------------ local corruption
def _disc(radius: int) -> Tensor:
    r = torch.arange(-radius, radius + 1, dtype=torch.float32)
    return ((r[:, None] ** 2 + r[None, :] ** 2) <= radius**2 + 0.5).float()


def corruption_mask(
    height: int,
    width: int,
    kind: str = "dirt",
    *,
    count: int | None = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
) -> Tensor:
    """A random mask of local damage: ``"dirt"`` (round specks of radius 1–4 px) or ``"rain"`` (thin streaks of
    8–20 px, all tilted by one angle drawn between 60 and 80 degrees from the horizontal, as rain in wind).

    Args:
        height, width (int): mask size in pixels.
        kind (str): ``"dirt"`` or ``"rain"``.
        count (int, optional): number of specks or streaks; default one per 400 pixels for dirt, one per 250
            for rain (about 5 % of the pixels damaged either way).
        generator (torch.Generator, optional), seed (int, optional): randomness, as in :func:`add_gaussian_noise`.

    Returns:
        Tensor[height, width]: bool, True where the image is damaged.
    """
    height, width = check_int(height, "height"), check_int(width, "width")
    check_choice(kind, "kind", ("dirt", "rain"))
    if count is None:
        count = max(1, height * width // (400 if kind == "dirt" else 250))
    count = check_int(count, "count")
    g = _generator(generator, seed)
    ys = torch.randint(0, height, (count,), generator=g)
    xs = torch.randint(0, width, (count,), generator=g)
    if kind == "dirt":
        sizes = torch.randint(1, 5, (count,), generator=g)
        shapes = {int(r): _disc(int(r)) for r in sizes.unique()}
    else:
        sizes = torch.randint(8, 21, (count,), generator=g)
        angle = 60 + 20 * float(torch.rand((), generator=g))
        shapes = {int(n): (motion_kernel(int(n), angle) > 0.05).float() for n in sizes.unique()}
    mask = torch.zeros(height, width, dtype=torch.bool)
    for size, shape in shapes.items():  # one convolution per shape: every seed of that shape stamps it
        seeds = torch.zeros(1, 1, height, width)
        pick = sizes == size
        seeds[0, 0, ys[pick], xs[pick]] = 1.0
        pad = shape.shape[0] // 2
        stamped = F.conv2d(F.pad(seeds, (pad, pad, pad, pad)), shape[None, None])
        mask |= stamped[0, 0] > 0.5
    return mask


def corrupt(image: Tensor, mask: Tensor, fill: float | Sequence[float] = 1.0) -> Tensor:
    """Overwrite the pixels where ``mask`` is True with ``fill`` (white by default): damage to inpaint.

    Args:
        image (Tensor[B, C, H, W] or Tensor[C, H, W]): image(s), floating.
        mask (Tensor[H, W] or Tensor[B, H, W]): bool, True where damaged (:func:`corruption_mask`).
        fill (float or sequence of C floats): the value written, per channel if a sequence.

    Returns:
        Tensor: a new tensor, same shape, dtype and device as ``image``.
    """
    _check_image(image)
    check_tensor(mask, "mask", ndim=(2, 3), shape="(H, W) or (B, H, W)", dtype="bool")
    if mask.shape[-2:] != image.shape[-2:] or (mask.dim() == 3 and (image.dim() == 3
                                                                     or mask.shape[0] != image.shape[0])):
        raise ValueError(f"mask: expected shape (H, W) or (B, H, W) matching image {tuple(image.shape)}, "
                         f"got {tuple(mask.shape)}")
    value = torch.as_tensor(fill, dtype=image.dtype, device=image.device).reshape(-1, 1, 1)
    if value.shape[0] not in (1, image.shape[-3]):
        raise ValueError(f"fill: expected one value or {image.shape[-3]} (one per channel), got {value.shape[0]}")
    m = mask.to(image.device)[..., None, :, :]
    return torch.where(m, value, image)


# ------------------------------------------------------------------------------------------------------ patch data
class PatchDataset(torch.utils.data.Dataset):
    """Pairs (degraded patch, clean patch) cut at random from real photographs, the same pairs every epoch.

    Item ``i`` draws from its own generator, seeded with ``(seed, i)``: an image (uniformly, whatever its size),
    a ``patch_size`` crop position (uniformly), with ``augment`` one of the 8 flips/rotations, and then whatever
    randomness ``degrade`` uses. So the data set is a fixed, finite sample: the same on every run and device, and
    a different ``seed`` gives a disjoint-looking one.

    Args:
        images (sequence of Tensor[3, H, W]): clean images, each at least ``patch_size`` on both sides (e.g.
            ``load_split("train")``).
        degrade (callable): ``degrade(clean, generator) -> degraded`` for one clean patch ``(3, P, P)``, e.g.
            ``lambda x, g: add_gaussian_noise(x, 25, generator=g)`` or ``lambda x, g: downsample(x, 2)``.
        patch_size (int): P, the side of the clean patches in pixels.
        length (int): number of pairs.
        seed (int): seed of the sample.
        augment (bool): random flips and 90-degree rotations.
    """

    def __init__(
        self,
        images: Sequence[Tensor],
        degrade: Callable[[Tensor, torch.Generator], Tensor],
        patch_size: int = 48,
        length: int = 1024,
        seed: int = 0,
        augment: bool = True,
    ):
        self.patch_size = check_int(patch_size, "patch_size")
        self.length = check_int(length, "length")
        self.seed = check_int(seed, "seed", minimum=0)
        if not callable(degrade):
            raise TypeError(f"degrade: expected a callable (clean, generator) -> degraded, "
                            f"got {type(degrade).__name__}")
        if isinstance(images, Tensor) or not isinstance(images, Sequence) or not images:
            raise TypeError(f"images: expected a non-empty list of (3, H, W) tensors, got {type(images).__name__}")
        for i, image in enumerate(images):
            check_tensor(image, f"images[{i}]", ndim=3, shape="(3, H, W)", dtype="float")
            if min(image.shape[-2:]) < self.patch_size:
                raise ValueError(f"images[{i}]: expected at least {self.patch_size} pixels on both sides, got "
                                 f"{tuple(image.shape[-2:])}")
        self.images = list(images)
        self.degrade = degrade
        self.augment = augment

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        if not -self.length <= index < self.length:
            raise IndexError(f"index: expected -{self.length} <= index < {self.length}, got {index}")
        index %= self.length
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        image = self.images[int(torch.randint(len(self.images), (), generator=g))]
        p = self.patch_size
        top = int(torch.randint(image.shape[-2] - p + 1, (), generator=g))
        left = int(torch.randint(image.shape[-1] - p + 1, (), generator=g))
        clean = image[:, top : top + p, left : left + p]
        if self.augment:
            flip, turns = torch.randint(2, (), generator=g), int(torch.randint(4, (), generator=g))
            clean = torch.rot90(clean.flip(-1) if flip else clean, turns, dims=(-2, -1))
        clean = clean.contiguous()
        return self.degrade(clean, g), clean


# ----------------------------------------------------------------------------------------------- classical methods
DENOISERS: tuple[str, ...] = ("gaussian", "tv", "bilateral", "wavelet", "nl_means")
"""Classical denoisers of :func:`classical_denoise`, all from scikit-image."""


def classical_denoise(noisy: Tensor, method: str, sigma: float) -> Tensor:
    """Denoise with a classical scikit-image method that is told the noise level ``sigma`` (0–255 units).

    Parameters, with ``s = sigma / 255``, chosen on the *training* photographs by a grid search at sigma = 15, 25
    and 50 (``benchmarks/restoration_baselines.py`` prints the grid; the test photographs were not consulted):

    - ``"gaussian"``: ``skimage.filters.gaussian``, a blur of ``0.5 + 0.025 * sigma`` pixels;
    - ``"tv"``: ``skimage.restoration.denoise_tv_chambolle``, ``weight = 0.9 s``;
    - ``"bilateral"``: ``denoise_bilateral`` on the input clipped to [0, 1], ``sigma_color = 0.5 s``,
      ``sigma_spatial = 3`` pixels;
    - ``"wavelet"``: ``denoise_wavelet`` (needs PyWavelets), Haar (``"db1"``) wavelets, BayesShrink soft
      thresholds, in YCbCr, given ``sigma = s``;
    - ``"nl_means"``: ``denoise_nl_means``, 5 x 5 patches searched within 13 x 13, fast mode, ``h = 0.6 s``,
      given ``sigma = s``.

    Args:
        noisy (Tensor[B, 3, H, W] or Tensor[3, H, W]): noisy image(s), floating (values may leave [0, 1]).
        method (str): one of :data:`DENOISERS`.
        sigma (float): the noise standard deviation in 0–255 units.

    Returns:
        Tensor: the denoised image(s) clamped to [0, 1], same shape, dtype and device as ``noisy``.
    """
    from skimage import filters, restoration

    _check_image(noisy, "noisy")
    check_choice(method, "method", DENOISERS)
    sigma = check_number(sigma, "sigma (0-255 units)", minimum=0, exclusive=True)
    s = sigma / 255.0

    def one(image: np.ndarray) -> np.ndarray:
        if method == "gaussian":
            return filters.gaussian(image, sigma=0.5 + 0.025 * sigma, channel_axis=-1)
        if method == "tv":
            return restoration.denoise_tv_chambolle(image, weight=0.9 * s, channel_axis=-1)
        if method == "bilateral":
            return restoration.denoise_bilateral(np.clip(image, 0, 1), sigma_color=0.5 * s,
                                                 sigma_spatial=3, channel_axis=-1)
        if method == "wavelet":
            return restoration.denoise_wavelet(image, sigma=s, wavelet="db1", method="BayesShrink",
                                               convert2ycbcr=True, rescale_sigma=True, channel_axis=-1)
        return restoration.denoise_nl_means(image, h=0.6 * s, sigma=s, patch_size=5, patch_distance=6,
                                            fast_mode=True, channel_axis=-1)

    x, single = _batched(noisy)
    out = torch.stack([_from_numpy_hwc(one(_to_numpy_hwc(image)), image) for image in x]).clamp(0, 1)
    return out[0] if single else out


DEBLURRERS: tuple[str, ...] = ("wiener", "richardson_lucy")
"""Classical non-blind deconvolutions of :func:`classical_deblur`, from scikit-image."""


def classical_deblur(blurred: Tensor, kernel: Tensor, method: str, *, balance: float = 0.01,
                     num_iter: int = 30) -> Tensor:
    """Deconvolve with the blur ``kernel`` known: scikit-image's Wiener filter or Richardson–Lucy, per channel.

    The image is first mirrored outwards by the kernel's size on every side (and cropped back afterwards), so
    neither method sees a wrapped-around border (Wiener works with the FFT) or a black one (Richardson–Lucy
    convolves with zero padding).

    Args:
        blurred (Tensor[B, 3, H, W] or Tensor[3, H, W]): blurred (and noisy) image(s).
        kernel (Tensor[kh, kw]): the blur kernel that made them (:func:`blur`).
        method (str): ``"wiener"`` (``skimage.restoration.wiener``, regularisation ``balance``) or
            ``"richardson_lucy"`` (``num_iter`` iterations, input clipped to [0, 1] as the method needs).
        balance (float): Wiener's noise-to-signal trade-off (larger: smoother).
        num_iter (int): Richardson–Lucy iterations (more: sharper and noisier).

    Returns:
        Tensor: the restored image(s) clamped to [0, 1], same shape, dtype and device as ``blurred``.
    """
    from skimage import restoration

    _check_image(blurred, "blurred")
    check_tensor(kernel, "kernel", ndim=2, shape="(kh, kw)", dtype="float", finite=True)
    check_choice(method, "method", DEBLURRERS)
    balance = check_number(balance, "balance (noise-to-signal ratio)", minimum=0, exclusive=True)
    num_iter = check_int(num_iter, "num_iter")
    psf = kernel.detach().to("cpu", torch.float64).numpy()

    pad = max(psf.shape)

    def one(image: np.ndarray) -> np.ndarray:
        padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")
        channels = [padded[..., c] for c in range(padded.shape[-1])]
        if method == "wiener":
            out = [restoration.wiener(c, psf, balance, clip=False) for c in channels]
        else:
            out = [restoration.richardson_lucy(np.clip(c, 0, 1), psf, num_iter=num_iter, clip=False)
                   for c in channels]
        return np.stack(out, axis=-1)[pad:-pad, pad:-pad]

    x, single = _batched(blurred)
    out = torch.stack([_from_numpy_hwc(one(_to_numpy_hwc(image)), image) for image in x]).clamp(0, 1)
    return out[0] if single else out


# ------------------------------------------------------------------------------------- training recipes, weights


@dataclass(frozen=True)
class Recipe:
    """How one of the course's restoration networks is trained: model, degradation, data and optimiser.

    Patches come from ``PatchDataset(load_split("train", 2), ...)`` (the training photographs at half size, the
    scale of the lesson's test images), in index order, ``batch_size`` per step; Adam at a constant ``lr`` (so
    the weights after ``k`` steps are those of the same recipe with ``steps=k``); float32 on the CPU.

    Attributes:
        model (str): ``"dncnn"`` or ``"edsr"``; ``model_args`` are its keyword arguments.
        degradation (str): ``"noise"`` (``add_gaussian_noise`` with ``sigma``), ``"downsample"``
            (:func:`downsample` by ``model_args["scale"]``) or ``"motion_blur"`` (:func:`blur_and_noise` with
            ``motion_kernel(blur_length, blur_angle)`` and noise ``sigma``).
        loss (str): ``"mse"`` or ``"l1"`` (EDSR's choice).
        reached (dict): test-split scores of the shipped weights (mean PSNR in dB on ``load_split("test", 2)``,
            noise seeds 0, 1, 2), recorded when they were made (``train_min``: on a 2-core machine shared with
            other jobs).
        idle_min (float): wall minutes of ``train_recipe(name)`` on an idle 2-core CPU (measured 2026-12-04).
        sha256 (str): hash of the shipped weight file.
    """

    model: str
    model_args: dict = field(default_factory=dict)
    degradation: str = "noise"
    sigma: float = 25.0
    blur_length: int = 9
    blur_angle: float = 30.0
    patch_size: int = 40
    batch_size: int = 16
    steps: int = 1000
    lr: float = 1e-3
    loss: str = "mse"
    seed: int = 0
    reached: dict = field(default_factory=dict)
    idle_min: float = 0.0
    sha256: str = ""


RECIPES: dict[str, Recipe] = {
    "dncnn_sigma25": Recipe(
        model="dncnn", model_args={"features": 32, "depth": 8}, degradation="noise", sigma=25.0,
        patch_size=40, batch_size=16, steps=1000, lr=2e-3, loss="mse",
        reached={"test_psnr": 29.56, "test_ssim": 0.824, "train_min": 17},
        idle_min=0.66,
        sha256="b1d7b6e553fec64a42667a4db882e8bdcf970e48806858df04089d7a8db6d4d9",
    ),
    "edsr_x2": Recipe(
        model="edsr", model_args={"scale": 2, "features": 32, "blocks": 4}, degradation="downsample",
        patch_size=48, batch_size=16, steps=1000, lr=1e-3, loss="l1",
        reached={"test_psnr": 32.24, "test_ssim": 0.934, "train_min": 22},
        idle_min=0.59,
        sha256="181448f7f13899d1c3d3ec2155bfae9ddaca792758bd323ffb6f281c558bb644",
    ),
    "dncnn_motion9": Recipe(
        model="dncnn", model_args={"features": 32, "depth": 8, "unshuffle": 2}, degradation="motion_blur",
        sigma=2.0, blur_length=9, blur_angle=30.0, patch_size=48, batch_size=16, steps=1000, lr=1e-3, loss="mse",
        reached={"test_psnr": 28.66, "test_ssim": 0.839, "train_min": 10},
        idle_min=0.34,
        sha256="d5b1c2d8a1125290dcd329c44bac9fa70bb60bfdfe12d0978eea728b58138b85",
    ),
}
"""The recipes behind the weights the lesson loads; ``python -m cvlab.restoration train NAME`` reruns one."""


def build_model(name: str) -> torch.nn.Module:
    """A freshly initialised network of recipe ``name`` (seeded with the recipe's seed)."""
    from cvlab.models.restoration import EDSR, DnCNN

    check_choice(name, "name", tuple(RECIPES))
    recipe = RECIPES[name]
    torch.manual_seed(recipe.seed)
    return (DnCNN if recipe.model == "dncnn" else EDSR)(**recipe.model_args)


def _recipe_degrade(recipe: Recipe) -> Callable[[Tensor, torch.Generator], Tensor]:
    if recipe.degradation == "noise":
        return lambda x, g: add_gaussian_noise(x, recipe.sigma, generator=g)
    if recipe.degradation == "motion_blur":
        kernel = motion_kernel(recipe.blur_length, recipe.blur_angle)
        return lambda x, g: blur_and_noise(x, kernel, recipe.sigma, generator=g)
    return lambda x, g: downsample(x, recipe.model_args["scale"])


def train_recipe(
    name: str,
    steps: int | None = None,
    *,
    checkpoints: Sequence[int] = (),
    out: str | Path | None = None,
    progress: bool = True,
) -> tuple[torch.nn.Module, list[float]]:
    """Train recipe ``name`` from scratch on the CPU; returns the model (eval mode) and the loss of every step.

    Args:
        name (str): a key of :data:`RECIPES`.
        steps (int, optional): override the recipe's number of steps (a shorter run of the same recipe).
        checkpoints (sequence of int): steps after which to save the weights as ``<out>/<name>_<step>.pt``.
        out (str or Path, optional): folder for the checkpoints and the final ``<out>/<name>.pt``.
        progress (bool): print the mean loss every 100 steps.
    """
    from cvlab.models.shipped import save_half

    check_choice(name, "name", tuple(RECIPES))
    recipe = RECIPES[name]
    steps = check_int(steps if steps is not None else recipe.steps, "steps")
    model = build_model(name).train()
    data = PatchDataset(load_split("train", 2), _recipe_degrade(recipe), recipe.patch_size,
                        length=steps * recipe.batch_size, seed=recipe.seed)
    loader = torch.utils.data.DataLoader(data, batch_size=recipe.batch_size, shuffle=False)
    loss_fn = F.mse_loss if recipe.loss == "mse" else F.l1_loss
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    losses: list[float] = []
    for step, (degraded, clean) in enumerate(loader, start=1):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(degraded), clean)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if progress and step % 100 == 0:
            print(f"{name} step {step}/{steps}: loss {np.mean(losses[-100:]):.5f}", flush=True)
        if out is not None and step in checkpoints:
            save_half(model, Path(out) / f"{name}_{step}.pt")
    if out is not None:
        save_half(model, Path(out) / f"{name}.pt")
    return model.eval(), losses


def load_pretrained(name: str) -> torch.nn.Module:
    """The network of recipe ``name`` with the course's shipped weights, float32, in eval mode, on the CPU.

    The weight file (``cvlab/models/weights/<name>.pt``) is checked against the recipe's ``sha256`` first
    (:func:`~cvlab.models.shipped.load_half`).
    """
    from cvlab.models.shipped import WEIGHTS_DIR, load_half

    check_choice(name, "name", tuple(RECIPES))
    return load_half(build_model(name), WEIGHTS_DIR / f"{name}.pt", RECIPES[name].sha256,
                     f"python -m cvlab.restoration train {name}")


def restore(model: torch.nn.Module, images: Sequence[Tensor]) -> list[Tensor]:
    """Run ``model`` on each image of a list (sizes may differ), in eval mode without gradients, on the model's
    device; outputs clamped to [0, 1] and returned on the device of each input.

    Args:
        model (nn.Module): maps ``(1, 3, H, W)`` to a restored ``(1, 3, H', W')``.
        images (sequence of Tensor[3, H, W]): degraded images.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    for i, image in enumerate(images):
        check_tensor(image, f"images[{i}]", ndim=3, shape="(3, H, W)", dtype="float")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = [model(image[None].to(device))[0].clamp(0, 1).to(image.device) for image in images]
    model.train(was_training)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cvlab.restoration",
                                     description="Train a restoration network by its course recipe (CPU).")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train one recipe and save its weights")
    train.add_argument("name", choices=sorted(RECIPES))
    train.add_argument("--steps", type=int, default=None, help="override the recipe's number of steps")
    train.add_argument("--checkpoints", type=int, nargs="*", default=[], help="also save after these steps")
    train.add_argument("--out", type=Path, default=Path("."), help="folder for the weight files")
    args = parser.parse_args(argv)
    train_recipe(args.name, args.steps, checkpoints=args.checkpoints, out=args.out)
    print(f"saved {args.out / (args.name + '.pt')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
