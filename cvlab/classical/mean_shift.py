"""Mean shift: move every seed uphill on the kernel density estimate of the points, then merge the modes."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from cvlab._validate import check_choice, check_int, check_number, check_same_dtype, check_tensor
from cvlab.classical._distances import rows_per_chunk, squared_distances, working_dtype

KERNELS = ("flat", "gaussian")


class MeanShiftResult(NamedTuple):
    """Result of :func:`mean_shift`.

    Attributes:
        labels (Tensor[N] int64): index of the nearest mode for every point.
        modes (Tensor[M, F]): the merged modes, densest first.
        n_iter (int): number of mean-shift steps run (the slowest seed's count).
    """

    labels: torch.Tensor
    modes: torch.Tensor
    n_iter: int


def _shift(
    points: torch.Tensor, features: torch.Tensor, bandwidth: float, kernel: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """One mean-shift step for every point, in row chunks; also the count of features within ``bandwidth``."""
    shifted, counts = [], []
    for chunk in points.split(rows_per_chunk(features.shape[0])):
        d2 = squared_distances(chunk, features)
        inside = d2 <= bandwidth**2
        weights = inside.to(features.dtype) if kernel == "flat" else torch.exp(-d2 / (2 * bandwidth**2))
        total = weights.sum(dim=1, keepdim=True)
        mean = (weights @ features) / total.clamp_min(torch.finfo(features.dtype).tiny)
        shifted.append(torch.where(total > 0, mean, chunk))
        counts.append(inside.sum(dim=1))
    return torch.cat(shifted), torch.cat(counts)


def mean_shift_step(
    points: torch.Tensor, features: torch.Tensor, bandwidth: float, kernel: str = "flat"
) -> torch.Tensor:
    """Move every point to the kernel-weighted mean of the features around it.

    .. math::
        m(x) = \\frac{\\sum_i K(x - x_i)\\, x_i}{\\sum_i K(x - x_i)}, \\quad
        K_{\\text{flat}}(d) = [\\lVert d \\rVert \\le h], \\quad
        K_{\\text{gaussian}}(d) = \\exp\\!\\left(-\\frac{\\lVert d \\rVert^2}{2 h^2}\\right)

    ``m(x) - x`` is the mean-shift vector, proportional to the gradient of the kernel density estimate
    (Comaniciu & Meer, 2002). With the flat kernel a point that has no feature within ``h`` stays where it is.

    Args:
        points (Tensor[M, F]): the current positions (seeds).
        features (Tensor[N, F]): the data points.
        bandwidth: ``h`` > 0, the flat window's radius or the Gaussian's standard deviation (feature units).
        kernel: ``"flat"`` or ``"gaussian"``.

    Returns:
        Tensor[M, F]: the shifted points.
    """
    check_tensor(features, "features", ndim=2, shape="(N, F)", dtype="float", finite=True)
    check_tensor(points, "points", ndim=2, shape="(M, F)", dtype="float", finite=True)
    check_same_dtype(points, features, "points", "features")
    if points.shape[1] != features.shape[1]:
        raise ValueError(f"points: expected shape (M, {features.shape[1]}), got {tuple(points.shape)}")
    if features.shape[0] == 0:
        raise ValueError("features: expected at least one point, got shape (0, F)")
    bandwidth = check_number(bandwidth, "bandwidth", minimum=0, exclusive=True)
    check_choice(kernel, "kernel", KERNELS)
    work = working_dtype(features)
    return _shift(points.to(work), features.to(work), bandwidth, kernel)[0].to(features.dtype)


def _merge(modes: torch.Tensor, intensity: torch.Tensor, radius: float) -> torch.Tensor:
    """Greedy suppression: keep the densest mode, drop every mode within ``radius`` of it, repeat."""
    order = torch.sort(intensity, descending=True, stable=True).indices
    modes = modes[order]
    close = (squared_distances(modes, modes) <= radius**2).triu(diagonal=1).cpu().numpy()
    keep = np.ones(len(modes), dtype=bool)
    for i in range(len(modes)):
        if keep[i]:
            keep[close[i]] = False
    return modes[torch.from_numpy(keep).to(modes.device)]


def mean_shift(
    features: torch.Tensor,
    bandwidth: float,
    kernel: str = "flat",
    seeds: torch.Tensor | None = None,
    bin_seeding: bool = False,
    max_iter: int = 300,
    tol: float | None = None,
    merge_radius: float | None = None,
) -> MeanShiftResult:
    """Mean-shift clustering: seeds climb to the density's modes; modes closer than ``merge_radius`` merge.

    Algorithm (the flat-kernel version is the one of :class:`sklearn.cluster.MeanShift`):

    1. Seeds: ``seeds`` if given; with ``bin_seeding`` the centres of the occupied cells of a grid of cell
       size ``bandwidth``; otherwise every point (slow for large ``N``).
    2. All seeds move together by :func:`mean_shift_step` until each moved by <= ``tol`` or ``max_iter``
       steps ran. A seed with no point within ``bandwidth`` is dropped.
    3. The converged seeds are sorted by the number of points within ``bandwidth`` (densest first, ties in
       seed order); going down the list, a seed survives as a mode unless a surviving mode lies within
       ``merge_radius``.
    4. Every point is labelled with its nearest mode.

    Distances are computed in chunks of rows, so memory stays O(chunk x N).

    Args:
        features (Tensor[N, F]): the points, e.g. from :func:`~cvlab.classical.pixel_features`.
        bandwidth: kernel size ``h`` in feature units, > 0 (see :func:`mean_shift_step`).
        kernel: ``"flat"`` or ``"gaussian"``.
        seeds (Tensor[S, F], optional): starting positions.
        bin_seeding: seed from a grid of cell size ``bandwidth`` (ignored when ``seeds`` is given).
        max_iter: maximum number of steps per seed, >= 1.
        tol: convergence threshold on the shift, default ``1e-3 * bandwidth``.
        merge_radius: modes closer than this merge, default ``bandwidth``.

    Returns:
        MeanShiftResult: ``labels``, ``modes``, ``n_iter``.

    Reference: D. Comaniciu and P. Meer, "Mean shift: a robust approach toward feature space analysis",
    IEEE TPAMI, 2002.
    """
    check_tensor(features, "features", ndim=2, shape="(N, F)", dtype="float", finite=True)
    if features.shape[0] == 0:
        raise ValueError("features: expected at least one point, got shape (0, F)")
    bandwidth = check_number(bandwidth, "bandwidth", minimum=0, exclusive=True)
    check_choice(kernel, "kernel", KERNELS)
    max_iter = check_int(max_iter, "max_iter")
    tol = 1e-3 * bandwidth if tol is None else check_number(tol, "tol", minimum=0)
    merge_radius = (bandwidth if merge_radius is None
                    else check_number(merge_radius, "merge_radius", minimum=0, exclusive=True))
    if seeds is not None:
        check_tensor(seeds, "seeds", ndim=2, shape="(S, F)", dtype="float", finite=True)
        if seeds.shape[1] != features.shape[1] or seeds.shape[0] == 0:
            raise ValueError(
                f"seeds: expected shape (S, {features.shape[1]}) with S >= 1, got {tuple(seeds.shape)}"
            )
        points = seeds.to(features, copy=True)  # the steps write into points: never into the caller's seeds
    elif bin_seeding:
        points = torch.unique(torch.round(features / bandwidth), dim=0) * bandwidth
    else:
        points = features.clone()
    dtype, work = features.dtype, working_dtype(features)  # float16/bfloat16: distances and means in float32
    features, points = features.to(work), points.to(work)

    active = torch.ones(points.shape[0], dtype=torch.bool, device=points.device)
    counts = torch.zeros(points.shape[0], dtype=torch.long, device=points.device)
    n_iter = 0
    while bool(active.any()) and n_iter < max_iter:
        n_iter += 1
        idx = active.nonzero().flatten()
        moved, counts[idx] = _shift(points[idx], features, bandwidth, kernel)
        step = (moved - points[idx]).norm(dim=1)
        points[idx] = moved
        active[idx[(step <= tol) | (counts[idx] == 0)]] = False
    alive = counts > 0
    if not bool(alive.any()):
        raise ValueError(f"bandwidth: no seed has a point within bandwidth={bandwidth}; increase it")
    modes = _merge(points[alive], counts[alive], merge_radius)
    labels = squared_distances(features, modes).argmin(dim=1)
    return MeanShiftResult(labels, modes.to(dtype), n_iter)
