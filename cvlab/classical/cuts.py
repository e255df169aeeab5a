"""Graph cuts on an affinity matrix: the s-t minimum cut and the (recursive) normalized cut of Shi & Malik."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import breadth_first_order, maximum_flow
from scipy.sparse.linalg import eigsh

from cvlab._validate import check_choice, check_int, check_number
from cvlab.classical.graph import _assoc, _check_graph

THRESHOLDS = ("ncut", "zero", "median")
_CAPACITY_TOTAL = 1 << 30  # integer capacities of all edges together; flows stay below 2**31 (int32)
# Up to this many nodes a full dense eigh; above, Lanczos (only the eigenpairs needed) on the CPU.
_DENSE_EIGEN_LIMIT = 256


def _edges(W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(rows, cols, weights) of the non-zero entries of a dense or sparse COO matrix."""
    if W.layout == torch.sparse_coo:
        W = W.coalesce()
        return W.indices()[0], W.indices()[1], W.values()
    rows, cols = W.nonzero(as_tuple=True)
    return rows, cols, W[rows, cols]


def _nodes(value: object, name: str, n: int) -> torch.Tensor:
    """A node index or a collection of them, as a 1-D int64 CPU tensor checked against ``[0, n)``."""
    if isinstance(value, bool):
        raise TypeError(f"{name}: expected a node index or a sequence of them, got bool")
    if isinstance(value, int | np.integer):
        nodes = torch.tensor([int(value)])
    elif isinstance(value, torch.Tensor | np.ndarray | Sequence) and not isinstance(value, str):
        nodes = torch.as_tensor(value).flatten().cpu()
        if nodes.is_floating_point() or nodes.dtype == torch.bool or nodes.numel() == 0:
            raise TypeError(
                f"{name}: expected one or more integer node indices, got {nodes.dtype} of {nodes.numel()}"
            )
    else:
        raise TypeError(f"{name}: expected a node index or a sequence of them, got {type(value).__name__}")
    if int(nodes.min()) < 0 or int(nodes.max()) >= n:
        raise ValueError(
            f"{name}: expected node indices in [0, {n}), got [{int(nodes.min())}, {int(nodes.max())}]"
        )
    return nodes.long()


def min_cut(
    W: torch.Tensor, source: int | Sequence[int] | torch.Tensor, sink: int | Sequence[int] | torch.Tensor
) -> torch.Tensor:
    """Minimum s-t cut: the cheapest set of edges whose removal separates the source from the sink nodes.

    .. math:: \\min_{A \\ni s,\\; B \\ni t} \\operatorname{cut}(A, B)

    Solved as a maximum flow (max-flow = min-cut theorem) with :func:`scipy.sparse.csgraph.maximum_flow`,
    which needs integer capacities: the weights are scaled so that all of them sum to 2^30 and rounded, so
    the cut is minimal up to ``0.5 * 2^-30 * W.sum()`` per cut edge. The source side is the set of nodes
    reachable from the source in the residual graph. Several source (or sink) nodes act as one, joined by
    uncuttable edges.

    With a Gaussian affinity the minimum cut prefers to cut off a small group around a seed: few edges, so a
    small cut, although it is no segmentation at all (Wu & Leahy, 1993; Shi & Malik, 2000, Fig. 1).

    Args:
        W (Tensor[N, N]): symmetric non-negative affinity matrix, dense or sparse COO.
        source: node index or indices that must lie in ``A``.
        sink: node index or indices that must lie in ``B``.

    Returns:
        Tensor[N] bool: the source side ``A`` (on ``W``'s device).
    """
    n = _check_graph(W).shape[0]
    sources, sinks = _nodes(source, "source", n), _nodes(sink, "sink", n)
    if np.intersect1d(sources.numpy(), sinks.numpy()).size:
        raise ValueError("source and sink: expected disjoint node sets, got a node in both")
    rows, cols, weights = (t.detach().cpu() for t in _edges(W))
    total = float(weights.double().sum())
    scale = _CAPACITY_TOTAL / total if total > 0 else 1.0
    capacity = torch.round(weights.double() * scale).long()
    s, t, huge = n, n + 1, _CAPACITY_TOTAL + 1
    rows = torch.cat([rows, torch.full_like(sources, s), sinks])
    cols = torch.cat([cols, sources, torch.full_like(sinks, t)])
    capacity = torch.cat([capacity, torch.full_like(sources, huge), torch.full_like(sinks, huge)])
    graph = sp.csr_array(
        (capacity.numpy().astype(np.int32), (rows.numpy(), cols.numpy())), shape=(n + 2, n + 2)
    )
    flow = maximum_flow(graph, s, t).flow
    residual = sp.csr_array(graph - flow)
    residual.data[residual.data < 0] = 0
    residual.eliminate_zeros()
    reachable = breadth_first_order(residual, s, directed=True, return_predecessors=False)
    mask = torch.zeros(n + 2, dtype=torch.bool)
    mask[torch.from_numpy(reachable.astype(np.int64))] = True
    return mask[:n].to(W.device)


class Bipartition(NamedTuple):
    """Result of :func:`ncut_bipartition`.

    Attributes:
        mask (Tensor[N] bool): side ``A``; node 0 is always on the ``False`` side.
        ncut (float): ``Ncut(A, B)``; ``inf`` when no admissible split exists.
        eigenvector (Tensor[N]): ``y``, the generalised eigenvector of the second-smallest eigenvalue (sign
            normalised so that ``y[0] <= 0``).
    """

    mask: torch.Tensor
    ncut: float
    eigenvector: torch.Tensor


def _degree(W: torch.Tensor) -> torch.Tensor:
    return torch.sparse.sum(W, dim=1).to_dense() if W.layout == torch.sparse_coo else W.sum(dim=1)


def _inverse_sqrt(degree: torch.Tensor) -> torch.Tensor:
    return torch.where(degree > 0, degree.clamp_min(torch.finfo(degree.dtype).tiny).rsqrt(), 0.0)


def _normalized_eigenpairs(
    W: torch.Tensor, degree: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k smallest eigenpairs (ascending) of D^-1/2 (D - W) D^-1/2: eigenvalues (k,), unit z (N, k)."""
    n = W.shape[0]
    inv_sqrt = _inverse_sqrt(degree)
    if n <= _DENSE_EIGEN_LIMIT or k >= n - 1:
        dense = W.to_dense() if W.layout == torch.sparse_coo else W
        laplacian = (
            torch.eye(n, dtype=W.dtype, device=W.device) - inv_sqrt[:, None] * dense * inv_sqrt[None, :]
        )
        if (
            laplacian.device.type == "cpu"
        ):  # NumPy's LAPACK: torch's threaded eigh stalls on busy 2-core machines
            values, vectors = (torch.from_numpy(a) for a in np.linalg.eigh(laplacian.detach().numpy()))
        else:
            values, vectors = torch.linalg.eigh(laplacian)
        return values[:k], vectors[:, :k]
    # the k largest eigenpairs of D^-1/2 W D^-1/2 (eigenvalues 1 - lambda) by Lanczos, on the CPU
    scaled = inv_sqrt.detach().cpu().double().numpy()
    if W.layout == torch.sparse_coo:
        rows, cols, weights = (t.detach().cpu().numpy() for t in _edges(W))
        M = sp.csr_array(
            (weights.astype(np.float64) * scaled[rows] * scaled[cols], (rows, cols)), shape=(n, n)
        )
    else:
        M = W.detach().cpu().double().numpy() * scaled[:, None] * scaled[None, :]
    values, vectors = eigsh(M, k=k, which="LA", v0=np.random.default_rng(0).standard_normal(n))
    order = np.argsort(1.0 - values)
    values, vectors = torch.from_numpy(1.0 - values[order]), torch.from_numpy(vectors[:, order])
    return values.to(W.device, W.dtype), vectors.to(W.device, W.dtype)


def ncut_eigenvectors(W: torch.Tensor, k: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` smallest solutions of the normalized-cut eigenproblem (Shi & Malik, 2000, eq. 6).

    .. math:: (D - W)\\, y = \\lambda D y, \\qquad \\text{solved as} \\qquad
              D^{-1/2} (D - W) D^{-1/2} z = \\lambda z, \\quad y = D^{-1/2} z

    The first solution is the constant vector (``lambda = 0``); the second is the relaxed Ncut indicator that
    :func:`ncut_bipartition` thresholds; the next ones refine the partition further. Signs are arbitrary.

    Args:
        W (Tensor[N, N]): symmetric non-negative affinity matrix, dense or sparse COO.
        k: number of eigenpairs, 1 <= k <= N.

    Returns:
        (Tensor[k], Tensor[N, k]): eigenvalues ``lambda`` in ascending order (in [0, 2]) and the vectors ``y``
        as columns, normalised so that ``y^T D y = 1``.
    """
    n = _check_graph(W).shape[0]
    k = check_int(k, "k")
    if k > n:
        raise ValueError(f"k: expected at most N = {n} eigenpairs, got {k}")
    degree = _degree(W)
    values, z = _normalized_eigenpairs(W, degree, k)
    return values, _inverse_sqrt(degree)[:, None] * z


def _second_eigenvector(W: torch.Tensor, degree: torch.Tensor) -> torch.Tensor:
    """y of (D - W) y = lambda D y for the second-smallest lambda, sign set so that y[0] <= 0."""
    _, vectors = _normalized_eigenpairs(W, degree, 2)
    # The trivial eigenvector is D^{1/2} 1; keep the candidate with most energy orthogonal to it (this also
    # copes with several zero eigenvalues, i.e. a disconnected graph).
    trivial = degree.sqrt() / degree.sqrt().norm().clamp_min(torch.finfo(degree.dtype).tiny)
    vectors = vectors - trivial[:, None] * (trivial @ vectors)[None, :]
    y = _inverse_sqrt(degree) * vectors[:, int(vectors.norm(dim=0).argmax())]
    return -y if float(y[0]) > 0 else y


def _ncut_of_prefixes(W: torch.Tensor, degree: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Ncut(A_k, V \\ A_k) for every prefix A_k = order[:k], k = 1..N-1 (inf where a side has no affinity).

    assoc(A_k, A_k) is a cumulative sum over ranks of the weight of the edges whose later end (in
    ``order``) has that rank: O(edges + N) for all N - 1 splits at once.
    """
    n = W.shape[0]
    if W.layout == torch.sparse_coo:
        rank = torch.empty_like(order)
        rank[order] = torch.arange(n, device=order.device)
        rows, cols, weights = _edges(W)
        closing = torch.bincount(torch.maximum(rank[rows], rank[cols]), weights=weights.double(), minlength=n)
    else:
        P = W[order][:, order].double()
        closing = P.tril(-1).sum(dim=1) + P.triu(1).sum(dim=0) + P.diagonal()
    assoc_a = degree.double()[order].cumsum(0)
    cut = (assoc_a - closing.cumsum(0))[:-1].clamp_min(0)
    assoc_a, assoc_b = assoc_a[:-1], assoc_a[-1] - assoc_a[:-1]
    ncut = cut / assoc_a + cut / assoc_b
    return torch.where((assoc_a > 0) & (assoc_b > 0), ncut, torch.inf)


def _bipartition(W: torch.Tensor, threshold: str, min_size: int) -> Bipartition:
    n = W.shape[0]
    degree = _degree(W)
    y = _second_eigenvector(W, degree)
    if threshold == "ncut":
        order = torch.argsort(y, stable=True)
        scores = _ncut_of_prefixes(W, degree, order)
        sizes = torch.arange(1, n, device=W.device)
        sorted_y = y[order]
        admissible = (sorted_y[1:] > sorted_y[:-1]) & (sizes >= min_size) & (n - sizes >= min_size)
        scores = torch.where(admissible, scores, torch.inf)
        best = int(scores.argmin())
        mask = torch.zeros(n, dtype=torch.bool, device=W.device)
        if bool(torch.isfinite(scores[best])):
            mask[order[best + 1 :]] = True
    else:
        cut_at = 0.0 if threshold == "zero" else float(y.median())
        mask = y > cut_at
    if bool(mask[0]):
        mask = ~mask
    ncut = torch.inf
    assoc_a, assoc_b = float(degree[mask].sum()), float(degree[~mask].sum())
    if min(int(mask.sum()), int((~mask).sum())) >= min_size and assoc_a > 0 and assoc_b > 0:
        cut = float(_assoc(W, mask, ~mask))
        ncut = cut / assoc_a + cut / assoc_b
    return Bipartition(mask, ncut, y)


def _check_cut_options(threshold: str, min_size: int) -> int:
    check_choice(threshold, "threshold", THRESHOLDS)
    return check_int(min_size, "min_size")


def ncut_bipartition(W: torch.Tensor, threshold: str = "ncut", min_size: int = 1) -> Bipartition:
    """One normalized-cut split of a graph (Shi & Malik, 2000).

    1. Solve the generalised eigenproblem ``(D - W) y = lambda D y`` (``D`` = diagonal of degrees) through its
       symmetric form ``D^{-1/2} (D - W) D^{-1/2} z = lambda z``, ``y = D^{-1/2} z``: a full dense ``eigh`` up
       to 256 nodes, above that :func:`scipy.sparse.linalg.eigsh` (Lanczos, on the CPU, two eigenpairs only).
    2. Take ``y`` of the second-smallest eigenvalue, the relaxed indicator of the best split.
    3. Split it: ``"ncut"`` tries every threshold between consecutive distinct values of ``y`` and keeps the
       one with the smallest exact Ncut (both sides >= ``min_size`` nodes); ``"zero"`` uses ``y > 0``,
       ``"median"`` ``y > median(y)``.

    Args:
        W (Tensor[N, N]): symmetric non-negative affinity matrix, dense or sparse COO (see
            :func:`~cvlab.classical.affinity_matrix`).
        threshold: ``"ncut"``, ``"zero"`` or ``"median"``.
        min_size: smallest admissible side; ``"ncut"`` only considers such splits, and a split with a smaller
            side (any threshold) reports ``ncut = inf``.

    Returns:
        Bipartition: ``mask`` (node 0 on the ``False`` side), its ``ncut``, and the ``eigenvector`` y.

    Reference: J. Shi and J. Malik, "Normalized cuts and image segmentation", IEEE TPAMI, 2000.
    """
    n = _check_graph(W).shape[0]
    min_size = _check_cut_options(threshold, min_size)
    if n < 2:
        raise ValueError(f"W: expected a graph with at least 2 nodes, got {n}")
    return _bipartition(W, threshold, min_size)


def _subgraph(W: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
    """W restricted to ``nodes`` (ascending), renumbered 0..len(nodes)-1; a coalesced W stays coalesced."""
    if W.layout == torch.strided:
        return W[nodes][:, nodes]
    renumber = torch.full((W.shape[0],), -1, dtype=torch.long, device=W.device)
    renumber[nodes] = torch.arange(nodes.numel(), device=W.device)
    rows, cols, weights = _edges(W)
    rows, cols = renumber[rows], renumber[cols]
    keep = (rows >= 0) & (cols >= 0)
    size = (nodes.numel(), nodes.numel())
    return torch.sparse_coo_tensor(
        torch.stack([rows[keep], cols[keep]]), weights[keep], size, is_coalesced=True, check_invariants=False
    )


def normalized_cut(
    W: torch.Tensor,
    threshold: str = "ncut",
    max_ncut: float = 0.1,
    min_size: int = 1,
    recursive: bool = True,
) -> torch.Tensor:
    """Segment a graph by normalized cuts: split with :func:`ncut_bipartition`, then split the parts again.

    A part is split when the best split has ``Ncut <= max_ncut`` and both sides have at least ``min_size``
    nodes; the parts are split recursively (each on its own subgraph) until no split qualifies. With
    ``recursive=False`` only the first split is made (if it qualifies).

    Args:
        W (Tensor[N, N]): symmetric non-negative affinity matrix, dense or sparse COO.
        threshold: how the eigenvector is split, see :func:`ncut_bipartition`.
        max_ncut: largest Ncut (in [0, 2]) still accepted as a split.
        min_size: smallest segment, in nodes.
        recursive: keep splitting the parts.

    Returns:
        Tensor[N] int64: segment labels ``0..S-1``, numbered by the smallest node index in each segment.

    Reference: J. Shi and J. Malik, "Normalized cuts and image segmentation", IEEE TPAMI, 2000 (Sec. 3.1).

    Example:
        >>> from cvlab.classical import affinity_matrix
        >>> W = affinity_matrix(torch.tensor([[0.0], [0.05], [1.0], [1.05]]), sigma=0.2)
        >>> normalized_cut(W)
        tensor([0, 0, 1, 1])
    """
    n = _check_graph(W).shape[0]
    min_size = _check_cut_options(threshold, min_size)
    max_ncut = check_number(max_ncut, "max_ncut", minimum=0)
    if n == 0:  # an empty graph has no segments
        return torch.zeros(0, dtype=torch.long, device=W.device)
    if W.layout == torch.sparse_coo:
        W = W.coalesce()
    pending = [torch.arange(n, device=W.device)]
    segments = []
    while pending:
        nodes = pending.pop()
        split = None
        if nodes.numel() >= max(2 * min_size, 2):
            split = _bipartition(_subgraph(W, nodes), threshold, min_size)
        if split is None or not split.ncut <= max_ncut:
            segments.append(nodes)
            continue
        parts = [nodes[split.mask], nodes[~split.mask]]
        if recursive:
            pending.extend(parts)
        else:
            segments.extend(parts)
    segments.sort(key=lambda nodes: int(nodes.min()))
    labels = torch.empty(n, dtype=torch.long, device=W.device)
    for index, nodes in enumerate(segments):
        labels[nodes] = index
    return labels
