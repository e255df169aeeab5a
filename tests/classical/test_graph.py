"""affinity_matrix, cut_value, assoc, ncut_value: by hand and against a direct NumPy/SciPy computation."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from cvlab.classical import affinity_matrix, assoc, cut_value, ncut_value, pixel_positions


def test_dense_affinity_matches_the_formula_with_zero_diagonal():
    features = torch.rand(12, 3, dtype=torch.float64)
    W = affinity_matrix(features, sigma=0.3)
    expected = np.exp(-cdist(features.numpy(), features.numpy(), "sqeuclidean") / (2 * 0.3**2))
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(W.numpy(), expected, atol=1e-12)


def test_radius_graph_is_sparse_and_equals_the_masked_dense_one():
    features = torch.rand(6 * 7, 3, dtype=torch.float64)
    positions = pixel_positions(6, 7, dtype=torch.float64)
    W = affinity_matrix(features, 0.5, radius=1.5, positions=positions)
    assert W.layout == torch.sparse_coo and W.is_coalesced()
    near = cdist(positions.numpy(), positions.numpy()) <= 1.5
    expected = affinity_matrix(features, 0.5).numpy() * near
    np.testing.assert_allclose(W.to_dense().numpy(), expected, atol=1e-12)
    assert W._nnz() == int(near.sum()) - 42  # 8-neighbourhood, no self-loops


def test_cut_assoc_and_ncut_by_hand():
    #  0 --1-- 1 --0.1-- 2 --1-- 3
    W = torch.zeros(4, 4, dtype=torch.float64)
    for i, j, w in [(0, 1, 1.0), (1, 2, 0.1), (2, 3, 1.0)]:
        W[i, j] = W[j, i] = w
    mask = torch.tensor([True, True, False, False])
    assert cut_value(W, mask) == pytest.approx(0.1)
    assert assoc(W, mask) == pytest.approx(2.1)
    assert assoc(W, mask, mask) == pytest.approx(2.0)
    assert ncut_value(W, mask) == pytest.approx(0.1 / 2.1 + 0.1 / 2.1)
    lonely = torch.tensor([True, False, False, False])
    assert ncut_value(W, lonely) == pytest.approx(1.0 / 1.0 + 1.0 / 3.2)
    sparse = W.to_sparse()
    assert cut_value(sparse, mask) == pytest.approx(0.1)
    assert ncut_value(sparse, lonely) == pytest.approx(ncut_value(W, lonely))


def test_ncut_value_matches_a_direct_sum_on_a_random_graph():
    W = affinity_matrix(torch.rand(15, 2, dtype=torch.float64), 0.4)
    mask = torch.rand(15) > 0.5
    A, B = mask.numpy(), ~mask.numpy()
    w = W.numpy()
    cut = w[np.ix_(A, B)].sum()
    assert ncut_value(W, mask) == pytest.approx(cut / w[A].sum() + cut / w[B].sum())


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda W: affinity_matrix(torch.rand(4, 2), sigma=0.0), ValueError, "sigma"),
        (lambda W: affinity_matrix(torch.rand(4), sigma=1.0), ValueError, "features"),
        (lambda W: affinity_matrix(torch.rand(4, 2), 1.0, radius=2.0), ValueError, "positions"),
        (
            lambda W: affinity_matrix(torch.rand(4, 2), 1.0, radius=-2.0, positions=torch.rand(4, 2)),
            ValueError,
            "radius",
        ),
        (
            lambda W: affinity_matrix(torch.rand(4, 2), 1.0, radius=2.0, positions=torch.rand(3, 2)),
            ValueError,
            "positions",
        ),
        (lambda W: cut_value(W, torch.ones(5, dtype=torch.bool)), ValueError, "mask"),
        (lambda W: cut_value(W, torch.ones(4)), TypeError, "mask"),
        (lambda W: cut_value(W[:3], torch.ones(4, dtype=torch.bool)), ValueError, "W"),
        (
            lambda W: assoc(W, torch.ones(4, dtype=torch.bool), torch.ones(2, dtype=torch.bool)),
            ValueError,
            "mask_b",
        ),
        (lambda W: ncut_value(W, torch.zeros(4, dtype=torch.bool)), ValueError, "empty"),
        (lambda W: ncut_value(W, torch.ones(4, dtype=torch.bool)), ValueError, "empty"),
        (
            lambda W: ncut_value(torch.zeros(4, 4), torch.tensor([True, False, False, False])),
            ValueError,
            "zero",
        ),
    ],
)
def test_bad_input_names_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call(affinity_matrix(torch.rand(4, 2), 1.0))
