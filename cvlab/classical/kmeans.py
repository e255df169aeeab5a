"""k-means (Lloyd's algorithm) with the lecture's initialisations, written as two public steps."""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import torch

from cvlab._validate import check_choice, check_int, check_labels, check_number, check_same_dtype, check_tensor
from cvlab.classical._distances import squared_distances, working_dtype

INITS = ("subset", "random", "uniform", "kmeans++")


class KMeansResult(NamedTuple):
    """Result of :func:`kmeans`.

    Attributes:
        labels (Tensor[N] int64): cluster of each point, in ``[0, k)``.
        centers (Tensor[k, F]): the cluster centres.
        inertia_history (list[float]): sum of squared distances of the points to their nearest centre, first
            for the initial centres, then after every update; ``inertia_history[-1]`` belongs to ``centers``.
        n_iter (int): number of update steps run.
    """

    labels: torch.Tensor
    centers: torch.Tensor
    inertia_history: list[float]
    n_iter: int

    @property
    def inertia(self) -> float:
        """The final inertia, ``inertia_history[-1]``."""
        return self.inertia_history[-1]


def _check_features(features: object) -> torch.Tensor:
    check_tensor(features, "features", ndim=2, shape="(N, F)", dtype="float", finite=True)
    if features.shape[0] == 0 or features.shape[1] == 0:
        raise ValueError(
            f"features: expected at least one point and one feature, got shape {tuple(features.shape)}"
        )
    return features


def kmeans_assign(features: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Assignment step: the index of the nearest centre (Euclidean) for every point.

    Args:
        features (Tensor[N, F]): the points.
        centers (Tensor[k, F]): the current centres.

    Returns:
        Tensor[N] int64: ``argmin_j ||x_i - c_j||^2``; ties go to the lowest index.
    """
    _check_features(features)
    check_tensor(centers, "centers", ndim=2, shape="(k, F)", dtype="float", finite=True)
    check_same_dtype(features, centers, "features", "centers")
    if centers.shape[1] != features.shape[1] or centers.shape[0] == 0:
        raise ValueError(
            f"centers: expected shape (k, {features.shape[1]}) with k >= 1, got {tuple(centers.shape)}"
        )
    return squared_distances(features, centers).argmin(dim=1)


def kmeans_update(
    features: torch.Tensor, labels: torch.Tensor, k: int, old_centers: torch.Tensor
) -> torch.Tensor:
    """Update step: every centre moves to the mean of the points assigned to it.

    An empty cluster keeps its old centre (:func:`kmeans` re-seeds empty clusters before it calls this).

    Args:
        features (Tensor[N, F]): the points.
        labels (Tensor[N] int64): cluster of each point, in ``[0, k)``.
        k: number of clusters.
        old_centers (Tensor[k, F]): the centres before the update.

    Returns:
        Tensor[k, F]: ``c_j = mean{x_i : labels_i = j}``, or ``old_centers[j]`` if cluster ``j`` is empty.
    """
    _check_features(features)
    k = check_int(k, "k")
    check_tensor(labels, "labels", ndim=1, shape="(N,)", dtype="int")
    if labels.shape[0] != features.shape[0]:
        raise ValueError(f"labels: expected shape ({features.shape[0]},), got {tuple(labels.shape)}")
    check_labels(labels, "labels", k)
    check_tensor(old_centers, "old_centers", ndim=2, shape="(k, F)", dtype="float")
    check_same_dtype(features, old_centers, "features", "old_centers")
    if old_centers.shape != (k, features.shape[1]):
        raise ValueError(
            f"old_centers: expected shape ({k}, {features.shape[1]}), got {tuple(old_centers.shape)}"
        )
    work = working_dtype(features)
    sums = torch.zeros_like(old_centers, dtype=work).index_add_(0, labels, features.to(work))
    counts = torch.bincount(labels, minlength=k).to(work)[:, None]
    return torch.where(counts > 0, sums / counts.clamp_min(1), old_centers.to(work)).to(features.dtype)


def _reseed_empty(
    features: torch.Tensor, centers: torch.Tensor, labels: torch.Tensor, d2: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Move each empty cluster's centre onto the point farthest from its own centre, one cluster at a time.

    Every move makes that point's distance zero and no other distance larger, so the inertia strictly falls
    and the loop ends; it stops early when all points sit on a centre (``k`` > number of distinct points).
    """
    centers, labels, d2 = centers.clone(), labels.clone(), d2.clone()
    while True:
        empty = torch.nonzero(torch.bincount(labels, minlength=k) == 0).flatten()
        if empty.numel() == 0:
            break
        far = int(d2.argmax())
        if float(d2[far]) == 0.0:
            warnings.warn(
                f"k={k} exceeds the number of distinct points; {empty.numel()} cluster(s) stay empty",
                stacklevel=3,
            )
            break
        j = int(empty[0])
        centers[j] = features[far]
        new_d2 = (features - centers[j]).square().sum(dim=1)
        closer = new_d2 < d2
        closer[far] = True
        labels[closer] = j
        d2 = torch.where(closer, new_d2, d2)
        d2[far] = 0.0
    return centers, labels, d2


def _init_random(features: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k random data points; one within 1 % of the bounding-box diagonal of a chosen one is resampled."""
    order = torch.randperm(features.shape[0], generator=generator).to(features.device)
    min_dist = 0.01 * float((features.amax(0) - features.amin(0)).norm())
    chosen = features[order[:1]]
    for index in order[1:].tolist():
        if len(chosen) == k:
            return chosen
        candidate = features[index]
        if bool((chosen - candidate).norm(dim=1).min() > min_dist):
            chosen = torch.cat([chosen, candidate[None]])
    # Fewer than k well-separated points: top up with random data points (duplicates are allowed here).
    extra = torch.randint(features.shape[0], (k - len(chosen),), generator=generator).to(features.device)
    return torch.cat([chosen, features[extra]])


def _init_uniform(features: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    low, high = features.amin(0), features.amax(0)
    u = torch.rand(k, features.shape[1], generator=generator, dtype=torch.float64)
    return low + u.to(features.device, features.dtype) * (high - low)


def _init_kmeans_pp(features: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """Greedy k-means++ (Arthur & Vassilvitskii, 2007; scikit-learn's variant): ``2 + log k`` candidates for each
    new centre are drawn with probability ~ D(x)^2, and the one that lowers the inertia most is kept."""
    trials = 2 + int(math.log(k))
    first = int(torch.randint(features.shape[0], (1,), generator=generator))
    centers = [features[first]]
    d2 = squared_distances(features[first : first + 1], features)[0]
    for _ in range(1, k):
        weights = d2.double().cpu()
        if float(weights.sum()) == 0.0:  # every point already is a centre
            weights = torch.ones_like(weights)
        candidates = torch.multinomial(weights, trials, replacement=True, generator=generator).to(features.device)
        candidate_d2 = torch.minimum(d2[None], squared_distances(features[candidates], features))
        best = int(candidate_d2.sum(dim=1).argmin())
        centers.append(features[candidates[best]])
        d2 = candidate_d2[best]
    return torch.stack(centers)


def kmeans(
    features: torch.Tensor,
    k: int,
    init: str | torch.Tensor = "kmeans++",
    max_iter: int = 100,
    tol: float = 1e-4,
    seed: int = 0,
    subset_size: int = 1000,
    n_init: int | str = "auto",
) -> KMeansResult:
    """Cluster points into ``k`` groups by Lloyd's algorithm, minimising ``sum_i ||x_i - c(x_i)||^2``.

    Alternates :func:`kmeans_assign` and :func:`kmeans_update` until no centre moves by more than ``tol``
    (Euclidean, in feature units) or ``max_iter`` updates ran; the labels returned belong to the final
    centres. As ``sklearn.cluster.KMeans`` it runs ``n_init`` times from different initialisations and keeps
    the run with the lowest final inertia; ``n_init="auto"`` (scikit-learn's default) means one run for
    ``"kmeans++"`` or given centres and 10 for the other initialisations.

    Initialisations:

    * ``"kmeans++"`` (default, as scikit-learn): greedy D^2 sampling (Arthur & Vassilvitskii, 2007): for each
      new centre ``2 + log k`` candidates drawn with probability ~ squared distance to the nearest chosen
      centre, keeping the one that lowers the inertia most.
    * ``"subset"``: k-means (``"random"`` init) on ``subset_size`` random points; its centres start the full
      run. Cheap, and it starts near a good solution (not always: one run can still land in a poor minimum).
    * ``"random"``: ``k`` random data points (pixels); a candidate closer than 1 % of the bounding-box
      diagonal to an already chosen centre is resampled.
    * ``"uniform"``: uniform in the bounding box of the data (often gives empty clusters).
    * a ``(k, F)`` tensor: these initial centres (as ``sklearn.cluster.KMeans(init=array)``).

    Empty clusters: after each assignment an empty cluster's centre jumps to the point farthest from its own
    centre (then the labels are updated), which can only lower the inertia. When ``k`` exceeds the number of
    distinct points no such point is left; a ``UserWarning`` says so and the surplus clusters stay empty.

    Args:
        features (Tensor[N, F]): the points, e.g. from :func:`~cvlab.classical.pixel_features`.
        k: number of clusters, >= 1.
        init: ``"kmeans++"``, ``"subset"``, ``"random"``, ``"uniform"`` or a Tensor[k, F] of centres.
        max_iter: maximum number of update steps, >= 1.
        tol: stop when the largest centre shift is <= ``tol``, >= 0.
        seed: seed of the initialisation (a private ``torch.Generator``; global RNG untouched).
        subset_size: number of points for ``init="subset"`` (clipped to ``N``).
        n_init: number of runs from different initialisations, >= 1, or ``"auto"``; the one with the lowest
            final inertia is returned (a tensor ``init`` runs once).

    Returns:
        KMeansResult: ``labels``, ``centers``, ``inertia_history``, ``n_iter`` of the best run.

    Reference: S. Lloyd, "Least squares quantization in PCM", IEEE Trans. Information Theory, 1982.

    Example:
        >>> result = kmeans(torch.rand(500, 3), k=4)
        >>> result.labels.shape, result.centers.shape
        (torch.Size([500]), torch.Size([4, 3]))
    """
    _check_features(features)
    k = check_int(k, "k")
    if isinstance(init, torch.Tensor):
        check_tensor(init, "init", ndim=2, shape="(k, F)", dtype="float", finite=True)
        if init.shape != (k, features.shape[1]):
            raise ValueError(
                f"init: expected centres of shape ({k}, {features.shape[1]}), got {tuple(init.shape)}"
            )
    else:
        check_choice(init, "init", INITS)
    max_iter = check_int(max_iter, "max_iter")
    subset_size = check_int(subset_size, "subset_size")
    seed = check_int(seed, "seed", minimum=0)
    tol = check_number(tol, "tol", minimum=0)
    if n_init == "auto":
        n_init = 1 if isinstance(init, torch.Tensor) or init == "kmeans++" else 10
    n_init = check_int(n_init, "n_init")
    generator = torch.Generator().manual_seed(seed)
    work = features.to(working_dtype(features))  # float16/bfloat16: distances and means in float32
    best: KMeansResult | None = None
    for _ in range(1 if isinstance(init, torch.Tensor) else n_init):
        centers = _initial_centers(work, k, init, generator, max_iter, tol, subset_size)
        result = _lloyd(work, k, centers, max_iter, tol)
        if best is None or result.inertia < best.inertia:
            best = result
    return best._replace(centers=best.centers.to(features.dtype))


def _initial_centers(
    features: torch.Tensor,
    k: int,
    init: str | torch.Tensor,
    generator: torch.Generator,
    max_iter: int,
    tol: float,
    subset_size: int,
) -> torch.Tensor:
    """The ``(k, F)`` starting centres for one run of :func:`kmeans` (draws from ``generator``)."""
    if isinstance(init, torch.Tensor):
        return init.to(features)
    if init == "subset":
        n = features.shape[0]
        pick = torch.randperm(n, generator=generator)[: min(subset_size, n)].to(features.device)
        seed = int(torch.randint(2**31, (1,), generator=generator))
        with warnings.catch_warnings():  # a small subset may hold fewer distinct points than the full data
            warnings.simplefilter("ignore", UserWarning)
            return kmeans(features[pick], k, "random", max_iter, tol, seed, n_init=1).centers
    make = {"random": _init_random, "uniform": _init_uniform, "kmeans++": _init_kmeans_pp}[init]
    return make(features, k, generator)


def _lloyd(
    features: torch.Tensor, k: int, centers: torch.Tensor, max_iter: int, tol: float
) -> KMeansResult:
    """One run of Lloyd's algorithm from ``centers`` (empty clusters re-seeded after every assignment)."""
    d2 = squared_distances(features, centers)
    labels, d2 = d2.argmin(dim=1), d2.min(dim=1).values
    centers, labels, d2 = _reseed_empty(features, centers, labels, d2, k)
    history = [float(d2.sum())]
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        new_centers = kmeans_update(features, labels, k, centers)
        shift = float((new_centers - centers).norm(dim=1).max())
        centers = new_centers
        d2 = squared_distances(features, centers)
        labels, d2 = d2.argmin(dim=1), d2.min(dim=1).values
        centers, labels, d2 = _reseed_empty(features, centers, labels, d2, k)
        history.append(float(d2.sum()))
        if shift <= tol:
            break
    return KMeansResult(labels, centers, history, n_iter)
