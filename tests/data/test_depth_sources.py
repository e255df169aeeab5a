import pytest
import torch

from cvlab.data import SPLIT_SEEDS, render_scene
from cvlab.data.depth_sources import DEPTH_SOURCES, mixed_depth_sources


def test_targets_are_the_hidden_affine_maps_of_inverse_depth():
    data = mixed_depth_sources("train", n=6, size=(24, 32), seed=3)
    assert data.image.shape == (6, 3, 24, 32) and data.target.shape == (6, 1, 24, 32)
    assert data.source.tolist() == [0, 1, 2, 0, 1, 2] and data.sources == DEPTH_SOURCES
    v = data.valid
    expected = data.scale[:, None, None, None] / torch.where(v, data.depth, 1) + data.shift[:, None, None, None]
    torch.testing.assert_close(data.target[v], expected[v])
    assert (data.target[~v] == 0).all()
    assert data.scale[0] == 1 and data.shift[0] == 0 and data.scale[1] == 0.01
    focal = data.K[0, 0]
    assert 0.05 * focal <= data.scale[2] <= 0.5 * focal and 0 <= data.shift[2] <= 5


def test_scenes_are_the_split_seeds_and_reproducible():
    data = mixed_depth_sources("val", n=2, size=16, start=5)
    torch.testing.assert_close(data.depth[1, 0], render_scene(SPLIT_SEEDS["val"][6], 16).depth)
    again = mixed_depth_sources("val", n=2, size=16, start=5)
    assert torch.equal(data.target, again.target)
    other = mixed_depth_sources("train", n=3, size=16, seed=1, sources=("stereo",))
    assert other.scale.unique().numel() == 3  # one baseline per image


def test_bad_arguments():
    with pytest.raises(ValueError, match="sources"):
        mixed_depth_sources(n=2, size=16, sources=("lidar",))
    with pytest.raises(ValueError, match="split"):
        mixed_depth_sources("dev", n=2, size=16)


def test_dataset_pairs_for_fit():
    data = mixed_depth_sources("train", n=3, size=16)
    ds = data.dataset()
    image, (target, valid) = ds[2]
    assert len(ds) == 3 and torch.equal(image, data.image[2]) and torch.equal(target, data.target[2])
    assert valid.dtype == torch.bool
