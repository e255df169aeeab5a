"""Real images that the installed packages ship, read straight from their folders: never the network.

scikit-image bundles a few photographs and test pictures in ``skimage/data/`` (others it downloads with
pooch: those are left out here), scikit-learn bundles two photographs in ``sklearn/datasets/images/``, and
scikit-image bundles the Middlebury 2014 *Motorcycle* stereo pair with its ground-truth disparity, which
:func:`load_motorcycle` turns into metric depth.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cvlab._validate import check_choice

# name -> (package, file inside the installed package). Names follow the package's own loader
# (``skimage.data.<name>()``, ``sklearn.datasets.load_sample_image("<name>.jpg")``).
_SAMPLES: dict[str, tuple[str, str]] = {
    "astronaut": ("skimage", "data/astronaut.png"),
    "brick": ("skimage", "data/brick.png"),
    "camera": ("skimage", "data/camera.png"),
    "cell": ("skimage", "data/cell.png"),
    "checkerboard": ("skimage", "data/chessboard_GRAY.png"),
    "chelsea": ("skimage", "data/chelsea.png"),
    "clock": ("skimage", "data/clock_motion.png"),
    "coffee": ("skimage", "data/coffee.png"),
    "coins": ("skimage", "data/coins.png"),
    "colorwheel": ("skimage", "data/color.png"),
    "grass": ("skimage", "data/grass.png"),
    "gravel": ("skimage", "data/gravel.png"),
    "horse": ("skimage", "data/horse.png"),
    "hubble_deep_field": ("skimage", "data/hubble_deep_field.jpg"),
    "immunohistochemistry": ("skimage", "data/ihc.png"),
    "logo": ("skimage", "data/logo.png"),
    "microaneurysms": ("skimage", "data/microaneurysms.png"),
    "moon": ("skimage", "data/moon.png"),
    "page": ("skimage", "data/page.png"),
    "retina": ("skimage", "data/retina.jpg"),
    "rocket": ("skimage", "data/rocket.jpg"),
    "shepp_logan_phantom": ("skimage", "data/phantom.png"),
    "text": ("skimage", "data/text.png"),
    "china": ("sklearn", "datasets/images/china.jpg"),
    "flower": ("sklearn", "datasets/images/flower.jpg"),
}
SAMPLE_NAMES: tuple[str, ...] = tuple(sorted(_SAMPLES))

# Middlebury 2014 "Motorcycle-perfect" calib.txt, full resolution (Scharstein et al., GCPR 2014):
# cam0 = [3979.911 0 1244.772; 0 3979.911 1019.507; 0 0 1], cam1 = [3979.911 0 1369.115; ...],
# doffs = 124.343 px, baseline = 193.001 mm, width = 2964, height = 2000.
_FULL_FOCAL_PX = 3979.911
_FULL_CX0_PX = 1244.772
_FULL_CY_PX = 1019.507
_FULL_DOFFS_PX = 124.343  # = cx1 - cx0 = 1369.115 - 1244.772
_BASELINE_M = 0.193001
_FULL_WIDTH_PX = 2964
_FULL_HEIGHT_PX = 2000  # not 1988: that is the sample calib.txt of another scene on the dataset page


def _package_file(package: str, relative: str) -> Path:
    """Path of a data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{package} is not installed; cvlab's sample images come from it")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed {package}; reinstall {package}")
    return path


def _read_rgb(path: str | Path) -> torch.Tensor:
    """Decode an image file to float32 ``(3, H, W)`` in [0, 1]: grey repeated to 3 channels, alpha dropped."""
    with Image.open(path) as image:
        array = np.asarray(image.convert("RGB"))
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255)


def load_sample(name: str) -> torch.Tensor:
    """Load a real image bundled with scikit-image or scikit-learn, offline.

    Grey pictures (``camera``, ``coins``, ``page``, ``text``, …) are repeated to three equal channels and the
    alpha channel of RGBA files (``horse``, ``logo``) is dropped, so every sample has the course's image
    layout.

    Args:
        name (str): one of :data:`SAMPLE_NAMES` — scikit-image's bundled images by their ``skimage.data``
            loader name (``"chelsea"``, ``"coffee"``, ``"astronaut"``, ``"coins"``, ``"camera"``, …) and
            scikit-learn's ``"china"`` and ``"flower"`` (``sklearn.datasets.load_sample_image``).

    Returns:
        Tensor[3, H, W]: float32 in [0, 1], on the CPU.

    Example:
        >>> load_sample("chelsea").shape
        torch.Size([3, 300, 451])
    """
    check_choice(name, "name", SAMPLE_NAMES)
    return _read_rgb(_package_file(*_SAMPLES[name]))


@dataclass(frozen=True, eq=False)
class Motorcycle:
    """The Middlebury 2014 *Motorcycle* stereo pair at scikit-image's bundled size; see `load_motorcycle`.

    Attributes:
        left (Tensor[3, H, W]): left view (camera 0), float32 in [0, 1].
        right (Tensor[3, H, W]): right view (camera 1), float32 in [0, 1].
        disparity (Tensor[H, W]): ground-truth left-view disparity in pixels,
            ``x_right = x_left - disparity``; 0 where ``valid`` is False.
        valid (Tensor[H, W]): bool, True where the ground truth is known.
        depth (Tensor[H, W]): metric depth Z in metres, 0 where ``valid`` is False.
        K (Tensor[3, 3]): intrinsics of the left camera in pixels.
        baseline (float): distance between the camera centres in metres.
        doffs (float): x-difference of the principal points ``cx_right - cx_left`` in pixels.
    """

    left: torch.Tensor = field(repr=False)
    right: torch.Tensor = field(repr=False)
    disparity: torch.Tensor = field(repr=False)
    valid: torch.Tensor = field(repr=False)
    depth: torch.Tensor = field(repr=False)
    K: torch.Tensor = field(repr=False)
    baseline: float
    doffs: float


def load_motorcycle() -> Motorcycle:
    r"""Load the Middlebury 2014 *Motorcycle* stereo pair with ground-truth disparity and metric depth.

    The files are the ones ``skimage.data.stereo_motorcycle()`` returns (``motorcycle_left.png``,
    ``motorcycle_right.png``, ``motorcycle_disp.npz`` in ``skimage/data/``): the default-exposure views of the
    *Motorcycle-perfect* scene, down-sampled by 4 with ``skimage.transform.downscale_local_mean`` from
    2964 × 2000 to 741 × 500 pixels, with the disparity already in down-sampled pixels (its valid range,
    7.2–59.9 px, is the full-resolution range ``vmin=23``–``vmax=245`` divided by 4). Pixels without ground
    truth (stored as +inf) are marked invalid.

    Calibration (``calib.txt`` of *Motorcycle-perfect*, https://vision.middlebury.edu/stereo/data/scenes2014/):
    at full resolution f = 3979.911 px, (cx, cy) = (1244.772, 1019.507) px for the left camera,
    cx = 1369.115 px for the right one, doffs = cx_right - cx_left = 124.343 px, baseline B = 193.001 mm.
    f, cx, cy and doffs are scaled by the bundled/full width ratio (741 / 2964 = 1/4), which gives
    scikit-image's documented values f = 994.978 px, (cx, cy) = (311.193, 254.877) px, doffs = 31.086 px.
    (Block averaging shifts pixel centres by 0.375 px relative to this plain scaling; it is ignored, as in
    scikit-image.)
    Depth follows Middlebury's conversion

    .. math::
        Z = \frac{B \, f}{d + \mathrm{doffs}},

    which does not change under the common scaling of f, d and doffs. Valid depths span 2.11–5.02 m (median
    2.75 m): the motorcycle mostly at 2.1–2.7 m, the background behind it up to 5 m.

    Reference: D. Scharstein, H. Hirschmüller, Y. Kitajima, G. Krathwohl, N. Nesic, X. Wang and P. Westling,
    "High-resolution stereo datasets with subpixel-accurate ground truth", GCPR 2014.

    Returns:
        Motorcycle: left, right (Tensor[3, 500, 741]), disparity, depth (Tensor[500, 741], float32), valid
        (Tensor[500, 741], bool), K (Tensor[3, 3], float32), baseline (m) and doffs (px).

    Example:
        >>> m = load_motorcycle()
        >>> m.left.shape, round(m.K[0, 0].item(), 3), m.baseline
        (torch.Size([3, 500, 741]), 994.978, 0.193001)
    """
    left = _read_rgb(_package_file("skimage", "data/motorcycle_left.png"))
    right = _read_rgb(_package_file("skimage", "data/motorcycle_right.png"))
    with np.load(_package_file("skimage", "data/motorcycle_disp.npz")) as archive:
        raw = torch.from_numpy(archive["arr_0"].astype(np.float32))
    height, width = raw.shape
    scale = width / _FULL_WIDTH_PX
    if (left.shape[1:] != raw.shape or right.shape[1:] != raw.shape
            or abs(height / _FULL_HEIGHT_PX - scale) > 1e-3):
        raise ValueError(
            f"scikit-image's motorcycle files: expected views and disparity of one size with the aspect "
            f"of {_FULL_WIDTH_PX}x{_FULL_HEIGHT_PX}, got views {tuple(left.shape)} and disparity "
            f"{tuple(raw.shape)}"
        )
    valid = torch.isfinite(raw) & (raw > 0)
    disparity = torch.where(valid, raw, 0.0)
    focal = _FULL_FOCAL_PX * scale
    doffs = _FULL_DOFFS_PX * scale
    depth = torch.where(valid, _BASELINE_M * focal / (disparity + doffs), 0.0)
    K = torch.tensor([[focal, 0.0, _FULL_CX0_PX * scale], [0.0, focal, _FULL_CY_PX * scale], [0.0, 0.0, 1.0]])
    return Motorcycle(left, right, disparity, valid, depth, K, _BASELINE_M, doffs)
