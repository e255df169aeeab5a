"""pixel_features / pixel_positions: layouts, units of the xy features, Lab against scikit-image."""

import numpy as np
import pytest
import torch
from skimage.color import rgb2lab

from cvlab.classical import pixel_features, pixel_positions


def test_rgb_is_the_flattened_image_in_row_major_order():
    image = torch.rand(3, 4, 5)
    features = pixel_features(image)
    assert features.shape == (20, 3)
    torch.testing.assert_close(features, image.permute(1, 2, 0).reshape(-1, 3))
    assert features[7].tolist() == image[:, 1, 2].tolist()  # pixel 7 = row 1, col 2


def test_channel_last_numpy_and_grey_images_give_the_same_features():
    image = torch.rand(3, 6, 4)
    hwc = image.permute(1, 2, 0).numpy()
    torch.testing.assert_close(pixel_features(hwc, channel_axis=-1), pixel_features(image))
    grey = torch.rand(6, 4)
    torch.testing.assert_close(pixel_features(grey), grey.reshape(-1, 1))
    thermal = torch.rand(6, 4, 1)  # any number of channels
    assert pixel_features(thermal, "rgbxy", channel_axis=-1).shape == (24, 3)


def test_numpy_images_default_to_scikit_images_channel_last_layout():
    image = torch.rand(3, 6, 5)
    hwc = image.permute(1, 2, 0).numpy()  # skimage.data / imageio give (H, W, C)
    torch.testing.assert_close(pixel_features(hwc), pixel_features(image))
    torch.testing.assert_close(pixel_features(hwc, "lab"), pixel_features(image, "lab"))
    torch.testing.assert_close(pixel_features(image.numpy(), channel_axis=0), pixel_features(image))


def test_a_layout_that_looks_transposed_is_refused_unless_confirmed():
    hwc = torch.rand(6, 5, 3)
    with pytest.raises(ValueError, match="^channel_axis: .* would have 6 channels; pass channel_axis=-1"):
        pixel_features(hwc)
    assert pixel_features(hwc, channel_axis=0).shape == (15, 6)  # confirmed: 6 channels
    with pytest.raises(ValueError, match="^channel_axis:"):
        pixel_features(hwc.permute(2, 0, 1).numpy())


def test_xy_is_in_units_of_the_longer_side_times_the_weight():
    features = pixel_features(torch.zeros(3, 5, 9), "rgbxy", spatial_weight=2.0)
    yx = features[:, 3:].reshape(5, 9, 2)
    assert yx[0, 0].tolist() == [0.0, 0.0]
    torch.testing.assert_close(yx[4, 8], torch.tensor([2.0 * 4 / 8, 2.0]))  # longer side (9 px) spans [0, 2]


def test_lab_matches_skimage_divided_by_100():
    image = torch.rand(3, 7, 6, dtype=torch.float64)
    expected = rgb2lab(image.permute(1, 2, 0).numpy()).reshape(-1, 3) / 100
    np.testing.assert_allclose(pixel_features(image, "lab").numpy(), expected, atol=1e-10)
    assert pixel_features(image, "labxy", 0.5).shape == (42, 5)


def test_pixel_positions_are_row_col_in_pixels():
    positions = pixel_positions(2, 3)
    assert positions.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(image=torch.rand(1, 3, 4, 4)), ValueError, "image"),
        (dict(image=torch.zeros(3, 4, 4, dtype=torch.uint8)), TypeError, "image"),
        (dict(image=torch.full((3, 2, 2), float("nan"))), ValueError, "image"),
        (dict(image=[[0.0]]), TypeError, "image"),
        (dict(image=torch.rand(3, 4, 4), space="hsv"), ValueError, "space"),
        (dict(image=torch.rand(3, 4, 4), spatial_weight=-1.0), ValueError, "spatial_weight"),
        (dict(image=torch.rand(3, 4, 4), channel_axis=1), ValueError, "channel_axis"),
        (dict(image=torch.rand(2, 4, 4), space="lab"), ValueError, "image"),
    ],
)
def test_bad_input_names_the_argument(kwargs, error, words):
    with pytest.raises(error, match=words):
        pixel_features(**kwargs)
    with pytest.raises(ValueError, match="height"):
        pixel_positions(0, 3)
