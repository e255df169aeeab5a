"""The image as a weighted graph: Gaussian affinities, and the cut / association / normalized-cut values.

A graph is its affinity matrix ``W`` (Tensor[N, N], symmetric, non-negative, zero diagonal), either dense or a
sparse COO tensor; every function here accepts both. A partition is a bool mask ``(N,)``: ``A = mask``,
``B = ~mask``.
"""

from __future__ import annotations

import torch

from cvlab._validate import check_number, check_tensor
from cvlab.classical._distances import rows_per_chunk, squared_distances, working_dtype


def affinity_matrix(
    features: torch.Tensor,
    sigma: float,
    radius: float | None = None,
    positions: torch.Tensor | None = None,
) -> torch.Tensor:
    """Gaussian affinity between feature vectors, optionally only between nodes that are spatially close.

    .. math::
        W_{ij} = \\exp\\!\\left(-\\frac{\\lVert f_i - f_j \\rVert^2}{2\\sigma^2}\\right)
        \\cdot [\\lVert p_i - p_j \\rVert \\le r] \\cdot [i \\ne j]

    The diagonal is zero (no self-loops): a node's degree ``d_i = sum_j W_ij`` counts only its neighbours.

    Without ``radius`` the result is dense, O(N^2) memory (fine up to a few thousand nodes, e.g. 48 x 48
    pixels). With ``radius`` it is a coalesced sparse COO tensor holding only the pairs within ``radius``,
    built in row chunks, so memory grows with the number of edges, not N^2.

    Args:
        features (Tensor[N, F]): node features, e.g. from :func:`~cvlab.classical.pixel_features`.
        sigma: width of the Gaussian in feature units, > 0.
        radius: keep only pairs with ``||p_i - p_j|| <= radius`` (in the units of ``positions``), > 0.
        positions (Tensor[N, P], optional): node positions, needed with ``radius``, e.g.
            :func:`~cvlab.classical.pixel_positions` (pixels).

    Returns:
        Tensor[N, N]: dense, or sparse COO when ``radius`` is given; dtype and device of ``features``.

    Reference: J. Shi and J. Malik, "Normalized cuts and image segmentation", IEEE TPAMI, 2000 (eq. 11).

    Example:
        >>> W = affinity_matrix(torch.tensor([[0.0], [0.1], [1.0]]), sigma=0.2)
        >>> W.shape, float(W[0, 0])
        (torch.Size([3, 3]), 0.0)
    """
    check_tensor(features, "features", ndim=2, shape="(N, F)", dtype="float", finite=True)
    sigma = check_number(sigma, "sigma", minimum=0, exclusive=True)
    n = features.shape[0]
    if radius is None:
        if positions is not None:
            raise ValueError("positions: only used together with radius; pass radius= as well")
        d2 = squared_distances(features, features)
        return torch.exp(-d2 / (2 * sigma**2)).fill_diagonal_(0.0).to(features.dtype)
    radius = check_number(radius, "radius", minimum=0, exclusive=True)
    if positions is None:
        raise ValueError("positions: required when radius is given, e.g. pixel_positions(H, W)")
    check_tensor(positions, "positions", ndim=2, shape="(N, P)", dtype="float", finite=True)
    if positions.shape[0] != n:
        raise ValueError(
            f"positions: expected {n} rows (one per feature vector), got {tuple(positions.shape)}"
        )
    chunk = rows_per_chunk(n)
    rows, cols = [torch.zeros(0, dtype=torch.long, device=features.device)], [torch.zeros(0, dtype=torch.long,
                                                                                      device=features.device)]
    for start in range(0, n, chunk):
        near = squared_distances(positions[start : start + chunk], positions) <= radius**2
        i, j = near.nonzero(as_tuple=True)
        i = i + start
        keep = i != j
        rows.append(i[keep])
        cols.append(j[keep])
    i, j = torch.cat(rows), torch.cat(cols)
    work = features.to(working_dtype(features))
    values = torch.exp(-(work[i] - work[j]).square().sum(dim=1) / (2 * sigma**2)).to(features.dtype)
    return torch.sparse_coo_tensor(torch.stack([i, j]), values, (n, n), check_invariants=False).coalesce()


def _check_graph(W: object) -> torch.Tensor:
    """The one check of an affinity matrix: square, dense or sparse COO, finite, non-negative, symmetric.

    Symmetric up to rounding: ``|W - W^T| <= 1e-5 max|W|`` entry-wise (one stored triangle is refused).
    """
    check_tensor(W, "W", ndim=2, shape="(N, N)", dtype="float")
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"W: expected a square affinity matrix (N, N), got shape {tuple(W.shape)}")
    if W.layout not in (torch.strided, torch.sparse_coo):
        raise TypeError(f"W: expected a dense or sparse COO tensor, got layout {W.layout}")
    sparse = W.layout == torch.sparse_coo
    values = W.coalesce().values() if sparse else W
    if values.numel() == 0:
        return W
    if not bool(torch.isfinite(values).all()):
        bad = int((~torch.isfinite(values)).sum())
        raise ValueError(f"W: expected finite affinities, got {bad} NaN/inf entr{'y' if bad == 1 else 'ies'}")
    if bool((values < 0).any()):
        raise ValueError(f"W: expected non-negative affinities, got a minimum of {float(values.min()):.3g}")
    asymmetry = (W - W.t()).coalesce().values() if sparse else W - W.t()
    largest = float(values.abs().max())
    if asymmetry.numel() and float(asymmetry.abs().max()) > 1e-5 * largest:
        raise ValueError(
            f"W: expected a symmetric affinity matrix (W == W.T), got max |W - W.T| = "
            f"{float(asymmetry.abs().max()):.3g} (largest affinity {largest:.3g}); store both triangles"
        )
    return W


def _check_mask(mask: object, name: str, n: int) -> torch.Tensor:
    check_tensor(mask, name, ndim=1, shape=f"({n},)", dtype="bool")
    if mask.shape[0] != n:
        raise ValueError(
            f"{name}: expected a bool mask of shape ({n},) (one entry per node), got {tuple(mask.shape)}"
        )
    return mask


def _assoc(W: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """sum_{i in A, j in B} W_ij as a 0-d tensor; works for dense and sparse W."""
    return a.to(W.dtype) @ (W @ b.to(W.dtype)[:, None])[:, 0]


def assoc(W: torch.Tensor, mask_a: torch.Tensor, mask_b: torch.Tensor | None = None) -> float:
    """Association: total affinity from the nodes of ``A`` to the nodes of ``B`` (all nodes by default).

    .. math:: \\operatorname{assoc}(A, B) = \\sum_{i \\in A,\\, j \\in B} W_{ij}

    ``assoc(A, V)`` is the total degree of ``A``, the normaliser of the normalized cut.

    Args:
        W (Tensor[N, N]): affinity matrix, dense or sparse COO.
        mask_a (Tensor[N] bool): the nodes of ``A``.
        mask_b (Tensor[N] bool, optional): the nodes of ``B``; default all nodes ``V``.
    """
    n = _check_graph(W).shape[0]
    _check_mask(mask_a, "mask_a", n)
    if mask_b is None:
        mask_b = torch.ones_like(mask_a)
    _check_mask(mask_b, "mask_b", n)
    return float(_assoc(W, mask_a, mask_b))


def cut_value(W: torch.Tensor, mask: torch.Tensor) -> float:
    """Cut: total affinity of the edges between ``A = mask`` and ``B = ~mask``.

    .. math:: \\operatorname{cut}(A, B) = \\sum_{i \\in A,\\, j \\in B} W_{ij}

    Args:
        W (Tensor[N, N]): affinity matrix, dense or sparse COO.
        mask (Tensor[N] bool): the nodes of ``A``.
    """
    n = _check_graph(W).shape[0]
    _check_mask(mask, "mask", n)
    return float(_assoc(W, mask, ~mask))


def ncut_value(W: torch.Tensor, mask: torch.Tensor) -> float:
    """Normalized cut of the partition ``A = mask``, ``B = ~mask`` (Shi & Malik, 2000, eq. 2).

    .. math::
        \\operatorname{Ncut}(A, B) = \\frac{\\operatorname{cut}(A, B)}{\\operatorname{assoc}(A, V)}
        + \\frac{\\operatorname{cut}(A, B)}{\\operatorname{assoc}(B, V)}

    Lies in [0, 2]; cutting off a small isolated set is penalised because its ``assoc(A, V)`` is small.

    Args:
        W (Tensor[N, N]): affinity matrix, dense or sparse COO.
        mask (Tensor[N] bool): the nodes of ``A``; both ``A`` and ``B`` must be non-empty and have non-zero
            total affinity (otherwise the value is 0 / 0 and a ``ValueError`` is raised).

    Reference: J. Shi and J. Malik, "Normalized cuts and image segmentation", IEEE TPAMI, 2000.
    """
    n = _check_graph(W).shape[0]
    _check_mask(mask, "mask", n)
    if bool(mask.all()) or not bool(mask.any()):
        raise ValueError(
            f"mask: one side of the partition is empty ({int(mask.sum())} of {n} nodes in A); Ncut undefined"
        )
    cut = _assoc(W, mask, ~mask)
    everyone = torch.ones_like(mask)
    assoc_a, assoc_b = _assoc(W, mask, everyone), _assoc(W, ~mask, everyone)
    if float(assoc_a) == 0.0 or float(assoc_b) == 0.0:
        raise ValueError(
            "mask: one side of the partition has zero total affinity (isolated nodes); Ncut is undefined"
        )
    return float(cut / assoc_a + cut / assoc_b)
