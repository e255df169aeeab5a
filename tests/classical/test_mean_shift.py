"""mean shift: one step by hand, the clustering against scikit-learn's MeanShift (flat kernel)."""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import MeanShift
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from cvlab.classical import mean_shift, mean_shift_step


@pytest.fixture
def blobs():
    x, _ = make_blobs(300, centers=3, cluster_std=0.6, random_state=0)
    return torch.from_numpy(x)


def test_one_step_by_hand():
    features = torch.tensor([[0.0], [1.0], [3.0]], dtype=torch.float64)
    points = torch.tensor([[0.0], [10.0]], dtype=torch.float64)
    flat = mean_shift_step(points, features, 1.5, "flat")
    assert flat.flatten().tolist() == [0.5, 10.0]  # no neighbour within h: the point stays
    w = np.exp(-np.array([0.0, 1.0, 9.0]) / (2 * 1.5**2))
    gaussian = mean_shift_step(points[:1], features, 1.5, "gaussian")
    assert gaussian.item() == pytest.approx(float(w @ np.array([0.0, 1.0, 3.0]) / w.sum()))


def _assert_same_modes(ours, theirs, atol):
    assert ours.shape == theirs.shape
    rows, cols = linear_sum_assignment(np.linalg.norm(ours[:, None] - theirs[None], axis=2))
    np.testing.assert_allclose(ours[rows], theirs[cols], atol=atol)


@pytest.mark.parametrize("bin_seeding", [False, True])
def test_flat_kernel_agrees_with_sklearn(blobs, bin_seeding):
    ours = mean_shift(blobs, 1.5, bin_seeding=bin_seeding)
    theirs = MeanShift(bandwidth=1.5, bin_seeding=bin_seeding).fit(blobs.numpy())
    _assert_same_modes(ours.modes.numpy(), theirs.cluster_centers_, atol=1e-6)
    assert adjusted_rand_score(theirs.labels_, ours.labels.numpy()) == 1.0


def test_given_seeds_agree_with_sklearn(blobs):
    seeds = blobs[::10]
    ours = mean_shift(blobs.float(), 1.0, seeds=seeds.float())
    theirs = MeanShift(bandwidth=1.0, seeds=seeds.numpy()).fit(blobs.numpy())
    _assert_same_modes(ours.modes.double().numpy(), theirs.cluster_centers_, atol=1e-4)
    assert adjusted_rand_score(theirs.labels_, ours.labels.numpy()) == 1.0


def test_gaussian_kernel_finds_the_blob_centres(blobs):
    result = mean_shift(blobs, 0.8, kernel="gaussian", bin_seeding=True)
    assert result.modes.shape == (3, 2)
    _, truth = make_blobs(300, centers=3, cluster_std=0.6, random_state=0)
    assert adjusted_rand_score(truth, result.labels.numpy()) > 0.95


def test_modes_are_densest_first_and_far_apart(blobs):
    result = mean_shift(blobs, 1.5)
    sizes = torch.bincount(result.labels)
    assert sizes.tolist() == sorted(sizes.tolist(), reverse=True)
    assert torch.pdist(result.modes).min() > 1.5


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda x: mean_shift(x, 0.0), ValueError, "bandwidth"),
        (lambda x: mean_shift(x, -1.0), ValueError, "bandwidth"),
        (lambda x: mean_shift(x, math.nan), ValueError, "bandwidth"),
        (lambda x: mean_shift(x[0], 1.0), ValueError, "features"),
        (lambda x: mean_shift(torch.full_like(x, math.nan), 1.0), ValueError, "features"),
        (lambda x: mean_shift(x, 1.0, kernel="epanechnikov"), ValueError, "kernel"),
        (lambda x: mean_shift(x, 1.0, seeds=torch.zeros(2, 3)), ValueError, "seeds"),
        (lambda x: mean_shift(x, 1.0, max_iter=0), ValueError, "max_iter"),
        (lambda x: mean_shift(x, 1.0, merge_radius=0.0), ValueError, "merge_radius"),
        (lambda x: mean_shift(x, 1e-3, seeds=x[:1] + 100), ValueError, "bandwidth"),
        (lambda x: mean_shift_step(torch.zeros(2, 3), x, 1.0), ValueError, "points"),
        (lambda x: mean_shift_step(x, x.long(), 1.0), TypeError, "features"),
    ],
)
def test_bad_input_names_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call(torch.rand(10, 2))


def test_seeds_and_features_are_left_untouched(blobs):
    features = blobs.float()
    before = features.clone()
    seeds = features[::40]  # a view of the data: writing into it would move the data too
    seeds_before = seeds.clone()
    mean_shift(features, bandwidth=1.0, seeds=seeds)
    assert torch.equal(seeds, seeds_before) and torch.equal(features, before)
