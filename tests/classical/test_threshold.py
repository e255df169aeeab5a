"""adaptive_threshold / local_threshold against scikit-image's threshold_local; the thermal demo image."""

import math

import numpy as np
import pytest
import torch
from skimage.filters import threshold_local, threshold_otsu

from cvlab.classical import adaptive_threshold, local_threshold, uneven_illumination_demo


@pytest.mark.parametrize("method", ["mean", "gaussian"])
@pytest.mark.parametrize("window", [3, 9, 51])  # 51 > the image: the symmetric extension folds more than once
def test_threshold_surface_matches_skimage(method, window):
    image = torch.rand(30, 41, dtype=torch.float64, generator=torch.Generator().manual_seed(window))
    ours = local_threshold(image, window, offset=0.03, method=method)
    theirs = threshold_local(image.numpy(), window, method=method, offset=0.03)
    np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-12)
    mask = adaptive_threshold(image, window, 0.03, method)
    assert mask.dtype == torch.bool
    assert np.array_equal(mask.numpy(), image.numpy() > theirs)


def test_float32_keeps_its_dtype_and_agrees():
    image = torch.rand(16, 16)
    ours = local_threshold(image, 7, method="mean")
    assert ours.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), threshold_local(image.numpy(), 7, method="mean"), atol=1e-6)


def test_local_beats_global_otsu_on_the_thermal_demo():
    demo = uneven_illumination_demo(seed=0)
    assert demo.image.shape == demo.hotspots.shape == demo.panels.shape == (96, 96)
    assert demo.hotspots.any() and not (demo.hotspots & ~demo.panels).any()
    image = demo.image.numpy()
    otsu = image > threshold_otsu(image)
    local = adaptive_threshold(demo.image, 15, offset=-0.1).numpy()
    truth = demo.hotspots.numpy()

    def iou(mask):
        return (mask & truth).sum() / (mask | truth).sum()

    assert iou(local) > 0.9 > 0.1 > iou(otsu)
    assert torch.equal(uneven_illumination_demo(seed=0).image, demo.image)


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda x: adaptive_threshold(x, 4), ValueError, "window"),
        (lambda x: adaptive_threshold(x, 1), ValueError, "window"),
        (lambda x: adaptive_threshold(x, 3.0), TypeError, "window"),
        (lambda x: adaptive_threshold(x[None], 3), ValueError, "image"),
        (lambda x: adaptive_threshold((x * 255).byte(), 3), TypeError, "image"),
        (lambda x: adaptive_threshold(x, 3, offset=math.nan), ValueError, "offset"),
        (lambda x: adaptive_threshold(x, 3, method="median"), ValueError, "method"),
        (lambda x: uneven_illumination_demo(seed=0, size=8), ValueError, "size"),
    ],
)
def test_bad_input_names_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call(torch.rand(8, 8))
