"""Bundled real images and the Middlebury Motorcycle pair: offline, equal to the packages' own loaders, and
metrically consistent (depth formula, photometric check of the disparity's sign and scale)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cvlab.data import SAMPLE_NAMES, Motorcycle, load_motorcycle, load_sample


@pytest.fixture(scope="module")
def moto() -> Motorcycle:
    return load_motorcycle()


def _reference(name: str) -> np.ndarray:
    """The package's own loader for ``name``."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    import skimage.data

    return getattr(skimage.data, name)()


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_load_sample_matches_package_loader(name):
    image = load_sample(name)
    assert image.dtype == torch.float32 and image.dim() == 3 and image.shape[0] == 3
    assert 0.0 <= image.min() and image.max() <= 1.0
    ref = _reference(name)
    assert tuple(image.shape[1:]) == ref.shape[:2]
    if ref.dtype == np.uint8:  # exact: grey repeated to 3 channels, alpha dropped
        expected = np.repeat(ref[..., None], 3, axis=-1) if ref.ndim == 2 else ref[..., :3]
        got = (image * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(got, expected)
    else:  # skimage converts these to grey (horse: a bool silhouette, phantom: float grey)
        grey = image.mean(0).numpy()
        ref = ref.astype(np.float64)
        assert np.corrcoef(grey.ravel(), ref.ravel())[0, 1] ** 2 > 0.95


def test_grey_sample_has_equal_channels():
    coins = load_sample("coins")
    assert torch.equal(coins[0], coins[1]) and torch.equal(coins[1], coins[2])


def test_load_sample_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="name") as info:
        load_sample("lena")
    assert "'chelsea'" in str(info.value) and "'china'" in str(info.value) and "'lena'" in str(info.value)


def test_motorcycle_shapes_and_dtypes(moto):
    assert moto.left.shape == moto.right.shape == (3, 500, 741)
    assert moto.disparity.shape == moto.depth.shape == moto.valid.shape == (500, 741)
    assert moto.left.dtype == moto.disparity.dtype == moto.depth.dtype == moto.K.dtype == torch.float32
    assert moto.valid.dtype == torch.bool and moto.K.shape == (3, 3)
    assert 0.85 < moto.valid.float().mean() < 0.99
    assert (moto.disparity[~moto.valid] == 0).all() and (moto.depth[~moto.valid] == 0).all()
    with pytest.raises(AttributeError):
        moto.baseline = 1.0  # frozen


def test_motorcycle_matches_skimage(moto):
    import skimage.data

    left, right, disp = skimage.data.stereo_motorcycle()
    assert torch.equal((moto.left * 255).round().to(torch.uint8).permute(1, 2, 0), torch.from_numpy(left))
    assert torch.equal((moto.right * 255).round().to(torch.uint8).permute(1, 2, 0), torch.from_numpy(right))
    finite = np.isfinite(disp)
    assert torch.equal(moto.valid, torch.from_numpy(finite))
    assert torch.equal(moto.disparity[moto.valid], torch.from_numpy(disp[finite].astype(np.float32)))


def test_motorcycle_calibration_matches_documented_numbers(moto):
    # skimage.data.stereo_motorcycle docstring (down-sampled by 4) and Middlebury calib.txt (full resolution)
    assert moto.K[0, 0].item() == pytest.approx(994.978, abs=1e-3)
    assert moto.K[1, 1].item() == pytest.approx(994.978, abs=1e-3)
    assert moto.K[0, 2].item() == pytest.approx(311.193, abs=1e-3)
    assert moto.K[1, 2].item() == pytest.approx(254.877, abs=1e-3)
    assert moto.doffs == pytest.approx(31.086, abs=1e-3)
    assert moto.doffs == pytest.approx((1369.115 - 1244.772) / 4)
    assert moto.baseline == pytest.approx(0.193001)
    # the bundled disparities lie in Middlebury's full-resolution bounds vmin=23, vmax=245, divided by 4
    d = moto.disparity[moto.valid]
    assert 23 / 4 <= d.min() and d.max() <= 245 / 4


def test_motorcycle_depth_formula_and_range(moto):
    z, d = moto.depth[moto.valid].double(), moto.disparity[moto.valid].double()
    fb = moto.K[0, 0].double() * moto.baseline
    torch.testing.assert_close(z * (d + moto.doffs), torch.full_like(z, fb.item()), rtol=1e-5, atol=0)
    # full-resolution numbers give the same depth: Z = B f / (d + doffs) is invariant to the common scaling
    torch.testing.assert_close(z, 193.001e-3 * 3979.911 / (4 * d + 124.343), rtol=1e-5, atol=0)
    assert 2.0 < z.min() < 2.3 and 4.8 < z.max() < 5.2 and 2.5 < z.median() < 3.0


def _warp_right_to_left(right: torch.Tensor, disparity: torch.Tensor) -> torch.Tensor:
    """Sample the right view at x - d for every left pixel (bilinear, torch's grid_sample)."""
    _, h, w = right.shape
    ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    grid = torch.stack([2 * (xs - disparity) / (w - 1) - 1, 2 * ys / (h - 1) - 1], dim=-1)
    return F.grid_sample(right[None], grid[None], align_corners=True, padding_mode="border")[0]


def test_motorcycle_disparity_explains_the_right_view(moto):
    inside = moto.valid & (torch.arange(moto.valid.shape[1]) >= moto.disparity)
    def error(disparity):
        return (_warp_right_to_left(moto.right, disparity) - moto.left).abs().mean(0)[inside].mean().item()

    ground_truth, flipped = error(moto.disparity), error(-moto.disparity)
    zero = error(torch.zeros_like(moto.disparity))
    assert ground_truth < 0.05 and ground_truth < 0.3 * zero and ground_truth < 0.3 * flipped
