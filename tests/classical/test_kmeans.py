"""k-means: the two steps by hand, the whole loop against scikit-learn, the initialisations, edge cases."""

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from cvlab.classical import kmeans, kmeans_assign, kmeans_update


@pytest.fixture
def blobs():
    x, _ = make_blobs(400, centers=5, cluster_std=1.5, random_state=1)
    return torch.from_numpy(x)


def test_assign_and_update_by_hand():
    points = torch.tensor([[0.0, 0.0], [1.0, 0.0], [9.0, 9.0], [10.0, 9.0]])
    centers = torch.tensor([[0.0, 1.0], [8.0, 8.0], [50.0, 50.0]])
    labels = kmeans_assign(points, centers)
    assert labels.tolist() == [0, 0, 1, 1]
    updated = kmeans_update(points, labels, 3, centers)
    # the empty cluster 2 keeps its old centre
    torch.testing.assert_close(updated, torch.tensor([[0.5, 0.0], [9.5, 9.0], [50.0, 50.0]]))


def test_same_init_gives_sklearns_labels_centres_and_inertia(blobs):
    init = blobs[[0, 1, 2, 3, 4]]
    ours = kmeans(blobs, 5, init=init, tol=0.0)
    theirs = KMeans(5, init=init.numpy(), n_init=1, algorithm="lloyd", tol=0.0).fit(blobs.numpy())
    assert np.array_equal(ours.labels.numpy(), theirs.labels_)
    np.testing.assert_allclose(ours.centers.numpy(), theirs.cluster_centers_, rtol=1e-10)
    assert ours.inertia == pytest.approx(theirs.inertia_, rel=1e-10)
    assert ours.n_iter == theirs.n_iter_


@pytest.mark.parametrize("init", ["subset", "random", "uniform", "kmeans++"])
def test_every_init_converges_with_non_increasing_inertia(blobs, init):
    result = kmeans(blobs.float(), 5, init=init, seed=3, subset_size=100)
    history = np.array(result.inertia_history)
    assert np.all(np.diff(history) <= 1e-3 * history[0])
    assert result.labels.shape == (400,) and result.labels.dtype == torch.int64
    assert torch.bincount(result.labels, minlength=5).min() > 0
    best = KMeans(5, n_init=10, random_state=0).fit(blobs.numpy()).inertia_
    assert result.inertia <= 1.05 * best
    again = kmeans(blobs.float(), 5, init=init, seed=3, subset_size=100)
    assert torch.equal(again.labels, result.labels)  # deterministic for a seed


def test_default_matches_sklearns_inertia_on_separated_blobs_for_every_seed():
    # three well-separated blobs: one run from a poor start keeps two centres in one blob (inertia ~ 18x)
    x, _ = make_blobs(600, centers=[[0, 0], [10, 0], [0, 10]], cluster_std=1.0, random_state=0)
    features = torch.from_numpy(x).float()
    best = KMeans(3, n_init=10, random_state=0).fit(x).inertia_
    inertia = [kmeans(features, 3, seed=s).inertia for s in range(20)]
    assert max(inertia) <= 1.001 * best


def test_n_init_keeps_the_best_run(blobs):
    # the first of n_init runs draws the same start as the single run with that seed, so it can only improve
    for init in ("random", "uniform", "subset"):
        single = kmeans(blobs, 5, init=init, n_init=1, seed=1, subset_size=50)
        many = kmeans(blobs, 5, init=init, n_init=6, seed=1, subset_size=50)
        assert many.inertia <= single.inertia
    # "auto", as scikit-learn: 10 runs for the random starts, one greedy k-means++ run
    assert kmeans(blobs, 5, init="random", seed=1).inertia == kmeans(blobs, 5, init="random", n_init=10, seed=1).inertia
    assert kmeans(blobs, 5, seed=1).inertia == kmeans(blobs, 5, init="kmeans++", n_init=1, seed=1).inertia


def test_random_init_resamples_near_duplicates():
    points = torch.cat([torch.zeros(500, 2), torch.ones(3, 2), torch.full((3, 2), 2.0)])
    result = kmeans(points, 3, init="random", max_iter=1)
    assert sorted(result.centers[:, 0].tolist()) == [0.0, 1.0, 2.0]


def test_empty_cluster_is_reseeded_to_the_farthest_point():
    points = torch.tensor([[0.0], [0.1], [10.0]])
    result = kmeans(points, 2, init=torch.tensor([[0.05], [100.0]]), max_iter=1)  # cluster 1 starts empty
    assert result.labels.tolist() == [0, 0, 1]
    assert result.centers[1].item() == 10.0


def test_k_larger_than_the_number_of_distinct_points_warns():
    points = torch.tensor([[0.0, 0.0], [1.0, 1.0]] * 10)
    with pytest.warns(UserWarning, match="distinct"):
        result = kmeans(points, 4, init="uniform")
    assert result.inertia == 0.0
    assert len(torch.unique(result.labels)) == 2


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda x: kmeans(x, 0), ValueError, "k"),
        (lambda x: kmeans(x, 2.5), TypeError, "k"),
        (lambda x: kmeans(x[0], 2), ValueError, "features"),
        (lambda x: kmeans(x.long(), 2), TypeError, "features"),
        (lambda x: kmeans(torch.full_like(x, float("nan")), 2), ValueError, "features"),
        (lambda x: kmeans(x, 2, init="farthest"), ValueError, "init"),
        (lambda x: kmeans(x, 2, init=torch.zeros(3, 2)), ValueError, "init"),
        (lambda x: kmeans(x, 2, tol=-1.0), ValueError, "tol"),
        (lambda x: kmeans(x, 2, max_iter=0), ValueError, "max_iter"),
        (lambda x: kmeans(x, 2, n_init=0), ValueError, "n_init"),
        (lambda x: kmeans_assign(x, torch.zeros(2, 3)), ValueError, "centers"),
        (
            lambda x: kmeans_update(x, torch.zeros(5, dtype=torch.long), 2, torch.zeros(2, 2)),
            ValueError,
            "labels",
        ),
        (lambda x: kmeans_update(x, torch.full((10,), 2), 2, torch.zeros(2, 2)), ValueError, "labels"),
        (
            lambda x: kmeans_update(x, torch.zeros(10, dtype=torch.long), 2, torch.zeros(3, 2)),
            ValueError,
            "old_centers",
        ),
    ],
)
def test_bad_input_names_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call(torch.rand(10, 2))
