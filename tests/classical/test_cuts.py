"""min_cut against brute force and networkx; the normalized cut against brute force, SciPy's generalised
eigensolver and scikit-image's cut_normalized on a region adjacency graph."""

import itertools

import numpy as np
import pytest
import scipy.linalg
import torch
from skimage import graph as skgraph
from sklearn.metrics import adjusted_rand_score

from cvlab.classical import (
    affinity_matrix,
    cut_value,
    min_cut,
    ncut_bipartition,
    ncut_eigenvectors,
    ncut_value,
    normalized_cut,
    pixel_features,
    pixel_positions,
)


def _random_graph(n, density, seed):
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(n, n, generator=g, dtype=torch.float64) * (torch.rand(n, n, generator=g) < density)
    return torch.triu(W, 1) + torch.triu(W, 1).T


def _all_masks(n):
    """Every bipartition once (node 0 on the False side), both sides non-empty."""
    for bits in itertools.product([False, True], repeat=n - 1):
        if any(bits):
            yield torch.tensor((False, *bits))


@pytest.mark.parametrize("seed", range(4))
def test_min_cut_matches_brute_force_on_tiny_graphs(seed):
    W = _random_graph(9, 0.6, seed)
    source, sink = 0, 8
    found = min_cut(W, source, sink)
    assert found[source] and not found[sink]
    best = min(cut_value(W, ~m) for m in _all_masks(9) if m[sink])  # ~m holds node 0, the source
    assert cut_value(W, found) == pytest.approx(best, rel=1e-6, abs=1e-9)


def test_min_cut_matches_networkx_with_several_terminals():
    nx = pytest.importorskip("networkx")
    W = _random_graph(40, 0.2, 7)
    sources, sinks = [0, 1, 2], [37, 38, 39]
    found = min_cut(W.to_sparse(), sources, sinks)
    G = nx.DiGraph()
    for i, j in zip(*np.nonzero(W.numpy()), strict=True):
        G.add_edge(int(i), int(j), capacity=float(W[i, j]))
    for s in sources:
        G.add_edge("s", s)  # no capacity attribute = infinite
    for t in sinks:
        G.add_edge(t, "t")
    value, _ = nx.minimum_cut(G, "s", "t")
    assert found[sources].all() and not found[sinks].any()
    assert cut_value(W, found) == pytest.approx(value, rel=1e-6)


def test_min_cut_cuts_off_a_seed_instead_of_the_region_boundary():
    """The bias that motivates Ncut: cutting one seed pixel off is cheaper than the long region boundary."""
    g = torch.Generator().manual_seed(0)
    image = torch.full((3, 12, 12), 0.35)
    image[:, :, 6:] = 0.6
    image = image + 0.05 * torch.randn(image.shape, generator=g)
    W = affinity_matrix(pixel_features(image), 0.3, radius=1.5, positions=pixel_positions(12, 12))
    mask = min_cut(W, source=5 * 12 + 2, sink=5 * 12 + 9)
    assert min(int(mask.sum()), int((~mask).sum())) == 1  # one pixel, not the 72-pixel half
    halves = torch.arange(144) % 12 < 6
    assert cut_value(W, mask) < cut_value(W, halves) and ncut_value(W, mask) > 10 * ncut_value(W, halves)
    assert torch.equal(normalized_cut(W, recursive=False).bool(), ~halves)


def _two_clusters(seed, n=12):
    g = torch.Generator().manual_seed(seed)
    points = torch.randn(n, 2, generator=g, dtype=torch.float64) * 0.4
    points[n // 2 + seed % 3 :] += 3.0  # unequal sizes
    return affinity_matrix(points, 1.0)


@pytest.mark.parametrize("seed", range(3))
def test_spectral_split_is_near_the_brute_force_optimum(seed):
    W = _two_clusters(seed)
    split = ncut_bipartition(W)
    best = min(ncut_value(W, m) for m in _all_masks(12))
    assert split.ncut == pytest.approx(ncut_value(W, split.mask))
    assert split.ncut <= 1.05 * best
    assert not split.mask[0]


def test_eigenvector_solves_the_generalised_problem():
    W = _two_clusters(0)
    D = torch.diag(W.sum(1))
    values, vectors = scipy.linalg.eigh((D - W).numpy(), D.numpy())
    y = ncut_bipartition(W).eigenvector.numpy()
    expected = vectors[:, 1]
    assert abs(np.dot(y, expected)) / (np.linalg.norm(y) * np.linalg.norm(expected)) == pytest.approx(1.0)
    np.testing.assert_allclose((D - W).numpy() @ y, values[1] * D.numpy() @ y, atol=1e-10)


@pytest.mark.parametrize("side", [10, 18])  # 100 nodes: dense eigh; 324 nodes: Lanczos (eigsh)
def test_eigenvectors_match_scipy_generalised_eigh(side):
    g = torch.Generator().manual_seed(side)
    image = torch.rand(3, side, side, generator=g, dtype=torch.float64)
    W = affinity_matrix(pixel_features(image), 0.3, radius=1.5, positions=pixel_positions(side, side))
    values, vectors = ncut_eigenvectors(W, k=4)
    dense = W.to_dense().numpy()
    D = np.diag(dense.sum(1))
    expected_values, expected_vectors = scipy.linalg.eigh(D - dense, D, subset_by_index=[0, 3])
    np.testing.assert_allclose(values.numpy(), expected_values, atol=1e-8)
    cosine = np.abs(np.sum(vectors.numpy() * (D @ expected_vectors), axis=0))  # y^T D y = 1 for both
    np.testing.assert_allclose(cosine, 1.0, atol=1e-6)


def test_lanczos_path_for_large_sparse_graphs_agrees_with_the_dense_one():
    g = torch.Generator().manual_seed(1)
    image = torch.rand(3, 20, 20, generator=g) * 0.2
    image[:, 5:15, 4:12] += 0.7
    W = affinity_matrix(pixel_features(image), 0.2, radius=1.5, positions=pixel_positions(20, 20))
    sparse, dense = ncut_bipartition(W), ncut_bipartition(W.to_dense())  # 400 nodes: eigsh path for both
    assert torch.equal(sparse.mask, dense.mask)
    assert int(sparse.mask.sum()) == 80


def test_thresholds_and_min_size():
    W = _two_clusters(1)
    zero, median = ncut_bipartition(W, "zero"), ncut_bipartition(W, "median")
    assert int(median.mask.sum()) == 6
    assert zero.ncut == pytest.approx(ncut_value(W, zero.mask))
    assert ncut_bipartition(W, min_size=7).ncut == float("inf")  # a 12-node graph has no 7 + 7 split


def test_recursive_ncut_finds_three_groups():
    points = torch.cat([torch.zeros(5, 1), torch.ones(4, 1), torch.full((6, 1), 2.0)]).double()
    points = points + 0.01 * torch.arange(15, dtype=torch.float64)[:, None] % 0.05
    W = affinity_matrix(points, 0.3)
    assert normalized_cut(W).tolist() == [0] * 5 + [1] * 4 + [2] * 6
    assert len(torch.unique(normalized_cut(W, recursive=False))) == 2
    assert normalized_cut(W, max_ncut=0.0).tolist() == [0] * 15


def test_agrees_with_skimage_cut_normalized_on_a_region_adjacency_graph():
    rng = np.random.default_rng(0)
    image = np.zeros((24, 24, 3))
    image[:, :10] = [0.9, 0.2, 0.1]
    image[:, 10:] = [0.1, 0.3, 0.8]
    image += rng.normal(0, 0.03, image.shape)
    superpixels = (np.arange(24)[:, None] // 4) * 6 + np.arange(24)[None] // 4
    rag = skgraph.rag_mean_color(image, superpixels, mode="similarity", sigma=0.05)
    theirs = skgraph.cut_normalized(superpixels, rag, thresh=0.2, rng=0)[::4, ::4].flatten()
    W = torch.zeros(36, 36, dtype=torch.float64)
    for u, v, data in rag.edges(data=True):
        W[u, v] = W[v, u] = data["weight"]
    ours = normalized_cut(W, max_ncut=0.2).numpy()
    assert len(np.unique(ours)) == len(np.unique(theirs)) == 3
    assert adjusted_rand_score(theirs, ours) == 1.0


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda W: min_cut(W, 0, 0), ValueError, "disjoint"),
        (lambda W: min_cut(W, 0, 9), ValueError, "sink"),
        (lambda W: min_cut(W, -1, 2), ValueError, "source"),
        (lambda W: min_cut(W, 0.5, 2), TypeError, "source"),
        (lambda W: min_cut(W, [0, 1], torch.tensor([2.0])), TypeError, "sink"),
        (lambda W: min_cut(-W, 0, 2), ValueError, "W"),
        (lambda W: min_cut(W[:2], 0, 1), ValueError, "W"),
        (lambda W: ncut_bipartition(W, threshold="mean"), ValueError, "threshold"),
        (lambda W: ncut_bipartition(W, min_size=0), ValueError, "min_size"),
        (lambda W: ncut_bipartition(W[:1, :1]), ValueError, "W"),
        (lambda W: ncut_bipartition(W.long()), TypeError, "W"),
        (lambda W: normalized_cut(W, max_ncut=-0.1), ValueError, "max_ncut"),
        (lambda W: ncut_eigenvectors(W, k=5), ValueError, "k"),
    ],
)
def test_bad_input_names_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call(affinity_matrix(torch.rand(4, 2), 1.0))


def _corrupt(W, how):
    W = W.clone()
    if how == "nan":
        W[0, 1] = W[1, 0] = float("nan")
    elif how == "inf":
        W[0, 1] = W[1, 0] = float("inf")
    elif how == "negative":
        W[0, 1] = W[1, 0] = -0.5
    else:  # one triangle only, as torch.triu(W) or a hand-built edge list gives
        W = torch.triu(W)
    return W


CUTS = {
    "min_cut": lambda W: min_cut(W, 0, 3),
    "ncut_bipartition": ncut_bipartition,
    "normalized_cut": normalized_cut,
    "ncut_eigenvectors": lambda W: ncut_eigenvectors(W, 2),
    "ncut_value": lambda W: ncut_value(W, torch.tensor([False, False, True, True])),
    "cut_value": lambda W: cut_value(W, torch.tensor([False, False, True, True])),
}


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("how", ["nan", "inf", "negative", "one triangle"])
@pytest.mark.parametrize("name", sorted(CUTS))
def test_every_cut_refuses_an_invalid_affinity_matrix_naming_W(name, how, sparse):
    W = _corrupt(affinity_matrix(torch.tensor([[0.0], [0.1], [1.0], [1.1]]), 0.3), how)
    with pytest.raises(ValueError, match="^W: expected (finite|non-negative|a symmetric)"):
        CUTS[name](W.to_sparse() if sparse else W)


def test_symmetric_up_to_rounding_is_accepted():
    W = affinity_matrix(torch.rand(6, 2, dtype=torch.float64), 0.5)
    W = W + 1e-12 * torch.rand(6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert normalized_cut(W).shape == (6,)


def test_empty_graphs():
    empty = torch.zeros(0, 0)
    assert normalized_cut(empty).shape == (0,) and normalized_cut(empty).dtype == torch.int64
    assert normalized_cut(empty.to_sparse()).shape == (0,)
    with pytest.raises(ValueError, match="^W: expected a graph with at least 2 nodes"):
        ncut_bipartition(empty)
    with pytest.raises(ValueError, match="^k: "):
        ncut_eigenvectors(empty, 1)
    with pytest.raises(ValueError, match="^source: "):
        min_cut(empty, 0, 1)
