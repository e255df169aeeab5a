"""Exact pairwise distances for the classical modules, written once: k-means, mean shift and the graphs."""

from __future__ import annotations

import torch

CHUNK_ELEMENTS = 1 << 22  # distance-matrix entries per chunk (16 MiB in float32)


def working_dtype(x: torch.Tensor) -> torch.dtype:
    """float32 for float16/bfloat16 (too few bits for distances and sums), else ``x``'s own dtype."""
    return torch.promote_types(x.dtype, torch.float32)


def rows_per_chunk(n_columns: int) -> int:
    """How many rows of an ``(M, n_columns)`` distance matrix to compute at once."""
    return max(1, CHUNK_ELEMENTS // max(n_columns, 1))


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(M, N)`` squared Euclidean distances between the rows of ``a (M, F)`` and ``b (N, F)``.

    Exact: from differences, not ``|a|^2 - 2 a.b + |b|^2`` (which cancels for nearby points); computed in
    :func:`working_dtype` of ``a``.
    """
    work = working_dtype(a)
    return torch.cdist(a.to(work), b.to(work), compute_mode="donot_use_mm_for_euclid_dist").square()
