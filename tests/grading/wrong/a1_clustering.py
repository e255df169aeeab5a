"""A1 "classical segmentation": plausible wrong implementations of each graded function (each must lose points),
and correct implementations different from the solution (each must earn full marks)."""

import math

import numpy as np
import scipy.linalg
import torch


def _d2(a, b):
    """(M, N) squared Euclidean distances between the rows of a and b."""
    return (a[:, None, :] - b[None, :, :]).square().sum(-1)


def _means(features, labels, k):
    """(k, F) per-cluster sums and (k, 1) counts."""
    member = (labels[None, :] == torch.arange(k, device=labels.device)[:, None]).to(features.dtype)
    return member @ features, member.sum(1, keepdim=True)


def _ncut(W, mask):
    cut = W[mask][:, ~mask].sum()
    return cut / W[mask].sum() + cut / W[~mask].sum()


def _canonical(mask):
    return ~mask if bool(mask[0]) else mask


def _sweep(W, y, score=_ncut, sizes=None):
    """The partition A = {y > t} with the smallest ``score`` over thresholds t between distinct sorted values
    (``sizes``: the numbers of nodes below t that are tried; default every one from 1 to N - 1)."""
    order = torch.argsort(y)
    best, best_mask = math.inf, None
    for size in sizes or range(1, len(y)):
        if y[order[size]] == y[order[size - 1]]:
            continue
        mask = torch.zeros(len(y), dtype=torch.bool, device=W.device)
        mask[order[size:]] = True
        value = float(score(W, mask))
        if value < best:
            best, best_mask = value, mask
    return _canonical(best_mask)


def _normalized_eig(W):
    """Eigenpairs of D^-1/2 (D - W) D^-1/2 (ascending) and D^-1/2, in float64."""
    W = W.double()
    d_inv_sqrt = W.sum(1).rsqrt()
    lap = torch.eye(len(W), dtype=W.dtype, device=W.device) - d_inv_sqrt[:, None] * W * d_inv_sqrt[None, :]
    values, vectors = torch.linalg.eigh(lap)
    return values, vectors, d_inv_sqrt


def _second_y(W):
    _, vectors, d_inv_sqrt = _normalized_eig(W)
    return d_inv_sqrt * vectors[:, 1]


# --- kmeans_assign(features, centers) --------------------------------------------------------------------------


def kmeans_assign_cvlab_shortcut(features, centers):
    from cvlab.classical import kmeans_assign

    return kmeans_assign(features, centers)


def kmeans_assign_sklearn_shortcut(features, centers):
    from sklearn.metrics import pairwise_distances_argmin

    labels = pairwise_distances_argmin(features.cpu().numpy(), centers.cpu().numpy())
    return torch.as_tensor(labels, dtype=torch.int64, device=features.device)


def kmeans_assign_argmax(features, centers):
    return _d2(features, centers).argmax(1)


def kmeans_assign_ties_to_highest(features, centers):
    d2 = _d2(features, centers).flip(1)
    return centers.shape[0] - 1 - d2.argmin(1)


def kmeans_assign_manhattan(features, centers):
    return (features[:, None] - centers[None]).abs().sum(-1).argmin(1)


def kmeans_assign_first_feature_only(features, centers):
    return (features[:, None, 0] - centers[None, :, 0]).abs().argmin(1)


def kmeans_assign_dot_product(features, centers):
    return (features @ centers.T).argmax(1)


def kmeans_assign_int32(features, centers):
    return _d2(features, centers).argmin(1).int()


def kmeans_assign_over_points(features, centers):
    return _d2(features, centers).argmin(0)


def kmeans_assign_float_labels(features, centers):
    return _d2(features, centers).argmin(1).float()


# --- kmeans_update(features, labels, k, old_centers) -----------------------------------------------------------


def kmeans_update_cvlab_shortcut(features, labels, k, old_centers):
    from cvlab.classical import kmeans_update

    return kmeans_update(features, labels, k, old_centers)


def kmeans_update_empty_is_nan(features, labels, k, old_centers):
    sums, counts = _means(features, labels, k)
    return sums / counts


def kmeans_update_empty_is_zero(features, labels, k, old_centers):
    sums, counts = _means(features, labels, k)
    return sums / counts.clamp(min=1)


def kmeans_update_sum(features, labels, k, old_centers):
    sums, counts = _means(features, labels, k)
    return torch.where(counts > 0, sums, old_centers)


def kmeans_update_divides_by_n(features, labels, k, old_centers):
    sums, counts = _means(features, labels, k)
    return torch.where(counts > 0, sums / features.shape[0], old_centers)


def kmeans_update_k_from_labels(features, labels, k, old_centers):
    k = int(labels.max()) + 1
    sums, counts = _means(features, labels, k)
    return torch.where(counts > 0, sums / counts.clamp(min=1), old_centers[:k])


def kmeans_update_empty_gets_global_mean(features, labels, k, old_centers):
    sums, counts = _means(features, labels, k)
    return torch.where(counts > 0, sums / counts.clamp(min=1), features.mean(0))


def kmeans_update_in_place(features, labels, k, old_centers):
    for j in range(k):
        if (labels == j).any():
            old_centers[j] = features[labels == j].mean(0)
    return old_centers


def kmeans_update_mean_over_features(features, labels, k, old_centers):
    out = old_centers.clone()
    for j in range(k):
        if (labels == j).any():
            out[j] = features[labels == j].mean(1).mean()
    return out


def kmeans_update_halfway(features, labels, k, old_centers):
    sums, counts = _means(features, labels, k)
    return torch.where(counts > 0, (sums / counts.clamp(min=1) + old_centers) / 2, old_centers)


# --- mean_shift_step(points, features, bandwidth, kernel="flat") -----------------------------------------------


def _weighted_mean(points, features, weights):
    total = weights.sum(1, keepdim=True)
    return torch.where(total > 0, weights @ features / total.clamp(min=1e-30), points)


def _flat(points, features, bandwidth):
    return (_d2(points, features) <= bandwidth**2).to(features.dtype)


def _gauss(points, features, bandwidth):
    return torch.exp(-_d2(points, features) / (2 * bandwidth**2))


def _step(points, features, bandwidth, kernel, flat=_flat, gauss=_gauss):
    weights = flat(points, features, bandwidth) if kernel == "flat" else gauss(points, features, bandwidth)
    return _weighted_mean(points, features, weights)


def mean_shift_step_flat_float32_window(points, features, bandwidth, kernel="flat"):
    # a float32 window matrix: fine for float32 features, a dtype error (or a float32 result) for float64
    if kernel != "flat":
        return _step(points, features, bandwidth, kernel)
    window = (_d2(points, features) <= bandwidth**2).float()
    counts = window.sum(1, keepdim=True)
    return torch.where(counts > 0, window @ features.float() / counts.clamp(min=1), points.float())


def mean_shift_step_cvlab_shortcut(points, features, bandwidth, kernel="flat"):
    from cvlab.classical import mean_shift_step

    return mean_shift_step(points, features, bandwidth, kernel)


def mean_shift_step_flat_strict(points, features, bandwidth, kernel="flat"):
    return _step(points, features, bandwidth, kernel,
                 flat=lambda p, f, h: (_d2(p, f) < h**2).to(f.dtype))


def mean_shift_step_flat_bandwidth_not_squared(points, features, bandwidth, kernel="flat"):
    return _step(points, features, bandwidth, kernel,
                 flat=lambda p, f, h: (_d2(p, f) <= h).to(f.dtype))


def mean_shift_step_empty_window_is_nan(points, features, bandwidth, kernel="flat"):
    weights = _flat(points, features, bandwidth) if kernel == "flat" else _gauss(points, features, bandwidth)
    return weights @ features / weights.sum(1, keepdim=True)


def mean_shift_step_gaussian_without_two(points, features, bandwidth, kernel="flat"):
    return _step(points, features, bandwidth, kernel,
                 gauss=lambda p, f, h: torch.exp(-_d2(p, f) / h**2))


def mean_shift_step_gaussian_sigma_not_squared(points, features, bandwidth, kernel="flat"):
    return _step(points, features, bandwidth, kernel,
                 gauss=lambda p, f, h: torch.exp(-_d2(p, f) / (2 * h)))


def mean_shift_step_gaussian_distance_not_squared(points, features, bandwidth, kernel="flat"):
    return _step(points, features, bandwidth, kernel,
                 gauss=lambda p, f, h: torch.exp(-_d2(p, f).sqrt() / (2 * h**2)))


def mean_shift_step_gaussian_unnormalised(points, features, bandwidth, kernel="flat"):
    if kernel == "flat":
        return _step(points, features, bandwidth, kernel)
    return _gauss(points, features, bandwidth) @ features


def mean_shift_step_gaussian_divided_by_n(points, features, bandwidth, kernel="flat"):
    if kernel == "flat":
        return _step(points, features, bandwidth, kernel)
    return _gauss(points, features, bandwidth) @ features / features.shape[0]


def mean_shift_step_returns_shift_vector(points, features, bandwidth, kernel="flat"):
    return _step(points, features, bandwidth, kernel) - points


def mean_shift_step_moves_features(points, features, bandwidth, kernel="flat"):
    return _step(features, features, bandwidth, kernel)


def mean_shift_step_always_gaussian(points, features, bandwidth, kernel="flat"):
    return _step(points, features, bandwidth, "gaussian")


# --- affinity_matrix(features, sigma, radius=None, positions=None) ---------------------------------------------


def _affinity(features, sigma, radius=None, positions=None, *, gauss=None, near=None, diagonal=0.0):
    d2 = _d2(features, features)
    w = gauss(d2, sigma) if gauss else torch.exp(-d2 / (2 * sigma**2))
    if radius is not None:
        w = w * (near(positions, radius) if near else (_d2(positions, positions) <= radius**2))
    return w.fill_diagonal_(diagonal)


def affinity_matrix_radius_fills_float32(features, sigma, radius=None, positions=None):
    # the sparse graph is filled into torch.zeros(N, N): float32, whatever the features were
    w = _affinity(features, sigma)
    if radius is None:
        return w
    out = torch.zeros(w.shape, device=w.device)
    near = _d2(positions, positions) <= radius**2
    out[near] = w[near].float()
    return out


def affinity_matrix_sklearn_shortcut(features, sigma, radius=None, positions=None):
    from sklearn.metrics.pairwise import rbf_kernel

    w = torch.as_tensor(rbf_kernel(features.cpu().numpy(), gamma=1 / (2 * sigma**2)), device=features.device)
    if radius is not None:
        w = w * (_d2(positions, positions) <= radius**2)
    return w.fill_diagonal_(0)


def affinity_matrix_diagonal_one(features, sigma, radius=None, positions=None):
    return _affinity(features, sigma, radius, positions, diagonal=1.0)


def affinity_matrix_without_two(features, sigma, radius=None, positions=None):
    return _affinity(features, sigma, radius, positions, gauss=lambda d2, s: torch.exp(-d2 / s**2))


def affinity_matrix_sigma_not_squared(features, sigma, radius=None, positions=None):
    return _affinity(features, sigma, radius, positions, gauss=lambda d2, s: torch.exp(-d2 / (2 * s)))


def affinity_matrix_distance_not_squared(features, sigma, radius=None, positions=None):
    return _affinity(features, sigma, radius, positions, gauss=lambda d2, s: torch.exp(-d2.sqrt() / (2 * s**2)))


def affinity_matrix_radius_strict(features, sigma, radius=None, positions=None):
    return _affinity(features, sigma, radius, positions, near=lambda p, r: _d2(p, p) < r**2)


def affinity_matrix_radius_not_squared(features, sigma, radius=None, positions=None):
    return _affinity(features, sigma, radius, positions, near=lambda p, r: _d2(p, p) <= r)


def affinity_matrix_radius_ignored(features, sigma, radius=None, positions=None):
    return _affinity(features, sigma)


def affinity_matrix_radius_on_features(features, sigma, radius=None, positions=None):
    return _affinity(features, sigma, radius, features)


def affinity_matrix_square_image_only(features, sigma, radius=None, positions=None):
    if radius is None:
        return _affinity(features, sigma)
    side = int(math.isqrt(features.shape[0]))
    grid = torch.cartesian_prod(torch.arange(side), torch.arange(side)).to(features)
    grid = torch.cat([grid, grid.new_full((features.shape[0] - side * side, 2), 1e9)])
    return _affinity(features, sigma, radius, grid)


def affinity_matrix_distance(features, sigma, radius=None, positions=None):
    return 1 - _affinity(features, sigma, radius, positions, diagonal=1.0)


# --- ncut_value(W, mask) ---------------------------------------------------------------------------------------


def ncut_value_cvlab_shortcut(W, mask):
    from cvlab.classical import ncut_value

    return ncut_value(W, mask)


def ncut_value_one_term(W, mask):
    cut = W[mask][:, ~mask].sum()
    return cut / W[mask].sum()


def ncut_value_assoc_within(W, mask):
    cut = W[mask][:, ~mask].sum()
    return cut / W[mask][:, mask].sum() + cut / W[~mask][:, ~mask].sum()


def ncut_value_cut_counted_twice(W, mask):
    cut = W[mask][:, ~mask].sum() + W[~mask][:, mask].sum()
    return cut / W[mask].sum() + cut / W[~mask].sum()


def ncut_value_ratio_cut(W, mask):
    cut = W[mask][:, ~mask].sum()
    return cut / mask.sum() + cut / (~mask).sum()


def ncut_value_cut_only(W, mask):
    return W[mask][:, ~mask].sum()


def ncut_value_one_fraction(W, mask):
    return W[mask][:, ~mask].sum() / (W[mask].sum() + W[~mask].sum())


def ncut_value_degree_without_diagonal(W, mask):
    degree = W.sum(1) - W.diagonal()
    cut = W[mask][:, ~mask].sum()
    return cut / degree[mask].sum() + cut / degree[~mask].sum()


# --- ncut_bipartition(W) ---------------------------------------------------------------------------------------


def ncut_bipartition_cvlab_shortcut(W):
    from cvlab.classical import ncut_bipartition

    return ncut_bipartition(W).mask


def ncut_bipartition_largest_eigenvector(W):
    _, vectors, d_inv_sqrt = _normalized_eig(W)
    return _sweep(W, d_inv_sqrt * vectors[:, -1])


def ncut_bipartition_smallest_eigenvector(W):
    _, vectors, d_inv_sqrt = _normalized_eig(W)
    return _sweep(W, d_inv_sqrt * vectors[:, 0])


def ncut_bipartition_zero_threshold(W):
    return _canonical(_second_y(W) > 0)


def ncut_bipartition_median_threshold(W):
    y = _second_y(W)
    return _canonical(y > y.median())


def ncut_bipartition_unnormalised_laplacian(W):
    W = W.double()
    _, vectors = torch.linalg.eigh(torch.diag(W.sum(1)) - W)
    return _sweep(W, vectors[:, 1])


def ncut_bipartition_z_not_y(W):
    _, vectors, _ = _normalized_eig(W)
    return _sweep(W, vectors[:, 1])


def ncut_bipartition_assoc_within(W):
    def score(W, mask):
        cut = W[mask][:, ~mask].sum()
        return cut / W[mask][:, mask].sum() + cut / W[~mask][:, ~mask].sum()

    return _sweep(W, _second_y(W), score)


def ncut_bipartition_node_0_true(W):
    return ~_sweep(W, _second_y(W))


def ncut_bipartition_mask_not_permuted(W):
    n = W.shape[0]
    best, best_mask = math.inf, None
    for size in range(1, n):  # sorted y, but the mask forgets to map sorted positions back to the nodes
        mask = torch.arange(n, device=W.device) >= size
        value = float(_ncut(W, mask))
        if value < best:
            best, best_mask = value, mask
    return _canonical(best_mask)


def ncut_bipartition_largest_gap(W):
    y = _second_y(W)
    values, order = torch.sort(y)
    cut = int((values[1:] - values[:-1]).argmax()) + 1
    mask = torch.zeros(len(y), dtype=torch.bool, device=W.device)
    mask[order[cut:]] = True
    return _canonical(mask)


def ncut_bipartition_interior_thresholds(W):
    # skips the "trivial" splits that leave one node alone -- but such a split can be the best one
    y = _second_y(W)
    return _sweep(W, y, sizes=range(2, len(y) - 1))


def ncut_bipartition_eigenvector_of_w(W):
    _, vectors = torch.linalg.eigh(W.double())
    return _sweep(W, vectors[:, -2])


WRONG = {
    "kmeans_assign": [kmeans_assign_cvlab_shortcut, kmeans_assign_sklearn_shortcut, kmeans_assign_argmax,
                      kmeans_assign_ties_to_highest, kmeans_assign_manhattan, kmeans_assign_first_feature_only,
                      kmeans_assign_dot_product, kmeans_assign_int32, kmeans_assign_over_points,
                      kmeans_assign_float_labels],
    "kmeans_update": [kmeans_update_cvlab_shortcut, kmeans_update_empty_is_nan, kmeans_update_empty_is_zero,
                      kmeans_update_sum, kmeans_update_divides_by_n, kmeans_update_k_from_labels,
                      kmeans_update_empty_gets_global_mean, kmeans_update_in_place,
                      kmeans_update_mean_over_features, kmeans_update_halfway],
    "mean_shift_step": [mean_shift_step_cvlab_shortcut, mean_shift_step_flat_strict,
                        mean_shift_step_flat_bandwidth_not_squared, mean_shift_step_empty_window_is_nan,
                        mean_shift_step_gaussian_without_two, mean_shift_step_gaussian_sigma_not_squared,
                        mean_shift_step_gaussian_distance_not_squared, mean_shift_step_gaussian_unnormalised,
                        mean_shift_step_gaussian_divided_by_n, mean_shift_step_returns_shift_vector,
                        mean_shift_step_moves_features, mean_shift_step_always_gaussian,
                        mean_shift_step_flat_float32_window],
    "affinity_matrix": [affinity_matrix_sklearn_shortcut, affinity_matrix_diagonal_one, affinity_matrix_without_two,
                        affinity_matrix_sigma_not_squared, affinity_matrix_distance_not_squared,
                        affinity_matrix_radius_strict, affinity_matrix_radius_not_squared,
                        affinity_matrix_radius_ignored, affinity_matrix_radius_on_features,
                        affinity_matrix_square_image_only, affinity_matrix_distance,
                        affinity_matrix_radius_fills_float32],
    "ncut_value": [ncut_value_cvlab_shortcut, ncut_value_one_term, ncut_value_assoc_within,
                   ncut_value_cut_counted_twice, ncut_value_ratio_cut, ncut_value_cut_only, ncut_value_one_fraction,
                   ncut_value_degree_without_diagonal],
    "ncut_bipartition": [ncut_bipartition_cvlab_shortcut, ncut_bipartition_largest_eigenvector,
                         ncut_bipartition_smallest_eigenvector, ncut_bipartition_zero_threshold,
                         ncut_bipartition_median_threshold, ncut_bipartition_unnormalised_laplacian,
                         ncut_bipartition_z_not_y, ncut_bipartition_assoc_within, ncut_bipartition_node_0_true,
                         ncut_bipartition_mask_not_permuted, ncut_bipartition_largest_gap,
                         ncut_bipartition_eigenvector_of_w, ncut_bipartition_interior_thresholds],
}


# --- different correct implementations --------------------------------------------------------------------------


def kmeans_assign_cdist(features, centers):
    return torch.cdist(features, centers).argmin(1)


def kmeans_assign_expanded_square(features, centers):
    # |x|^2 - 2 x.c + |c|^2 with a matrix product; float64 so that exact ties stay exact
    x, c = features.double(), centers.double()
    d2 = x.square().sum(1, keepdim=True) - 2 * x @ c.T + c.square().sum(1)
    return d2.argmin(1)


def kmeans_assign_loop(features, centers):
    best = torch.full((features.shape[0],), math.inf, dtype=features.dtype, device=features.device)
    labels = torch.zeros(features.shape[0], dtype=torch.int64, device=features.device)
    for j in range(centers.shape[0]):
        d2 = (features - centers[j]).square().sum(1)
        closer = d2 < best  # strict: an equal distance keeps the lower index
        labels[closer] = j
        best = torch.where(closer, d2, best)
    return labels


def kmeans_update_loop(features, labels, k, old_centers):
    centers = old_centers.clone()
    for j in range(k):
        members = features[labels == j]
        if len(members):
            centers[j] = members.mean(0)
    return centers


def kmeans_update_index_add(features, labels, k, old_centers):
    sums = torch.zeros_like(old_centers).index_add_(0, labels, features)
    counts = torch.bincount(labels, minlength=k).unsqueeze(1)
    return torch.where(counts > 0, sums / counts.clamp(min=1), old_centers)


def mean_shift_step_loop(points, features, bandwidth, kernel="flat"):
    out = points.clone()
    for m in range(points.shape[0]):
        distance = (features - points[m]).norm(dim=1)
        if kernel == "flat":
            inside = features[distance <= bandwidth]
            if len(inside):
                out[m] = inside.mean(0)
        else:
            weights = torch.exp(-distance**2 / (2 * bandwidth**2))
            out[m] = (weights[:, None] * features).sum(0) / weights.sum()
    return out


def mean_shift_step_cdist(points, features, bandwidth, kernel="flat"):
    distance = torch.cdist(points.double(), features.double())
    if kernel == "flat":
        weights = (distance <= bandwidth).double()
    else:
        weights = torch.exp(-0.5 * (distance / bandwidth) ** 2)
    total = weights.sum(1, keepdim=True)
    moved = torch.where(total > 0, weights @ features.double() / total.clamp(min=1e-300), points.double())
    return moved.to(points.dtype)


def affinity_matrix_cdist(features, sigma, radius=None, positions=None):
    w = torch.exp(-torch.cdist(features, features).square() / (2 * sigma**2))
    if radius is not None:
        w = torch.where(torch.cdist(positions, positions) <= radius, w, torch.zeros_like(w))
    return w * (1 - torch.eye(len(w), dtype=w.dtype, device=w.device))


def affinity_matrix_loops(features, sigma, radius=None, positions=None):
    n = features.shape[0]
    w = torch.zeros(n, n, dtype=features.dtype, device=features.device)
    for i in range(n):
        for j in range(n):
            if i == j or (radius is not None and float((positions[i] - positions[j]).norm()) > radius):
                continue
            w[i, j] = torch.exp(-(features[i] - features[j]).square().sum() / (2 * sigma**2))
    return w


def ncut_value_quadratic_form(W, mask):
    # with the indicator a of A: cut = a^T (D - W) a, assoc(A, V) = a^T d
    a = mask.to(W.dtype)
    degree = W.sum(1)
    cut = a @ (torch.diag(degree) - W) @ a
    return float(cut / (a @ degree) + cut / ((1 - a) @ degree))


def ncut_value_loops(W, mask):
    n = W.shape[0]
    cut = sum(float(W[i, j]) for i in range(n) for j in range(n) if mask[i] and not mask[j])
    assoc_a = sum(float(W[i].sum()) for i in range(n) if mask[i])
    assoc_b = sum(float(W[i].sum()) for i in range(n) if not mask[i])
    return cut / assoc_a + cut / assoc_b


def ncut_bipartition_scipy_generalised(W):
    w = W.double().cpu().numpy()
    degree = np.diag(w.sum(1))
    _, vectors = scipy.linalg.eigh(degree - w, degree)
    return _sweep(W, torch.from_numpy(vectors[:, 1]).to(W.device))


def ncut_bipartition_float32_vectorised(W):
    # symmetric form in the input's precision, every threshold scored at once
    n = W.shape[0]
    degree = W.sum(1)
    d_inv_sqrt = degree.rsqrt()
    _, vectors = torch.linalg.eigh(torch.eye(n, dtype=W.dtype, device=W.device)
                                   - d_inv_sqrt[:, None] * W * d_inv_sqrt[None, :])
    y = d_inv_sqrt * vectors[:, 1]
    order = torch.argsort(y)
    inside = torch.arange(n, device=W.device)[None, :] >= torch.arange(1, n, device=W.device)[:, None]
    masks = torch.zeros(n - 1, n, dtype=torch.bool, device=W.device)
    masks[:, order] = inside  # row s: A = the n - s - 1 largest values of y
    a = masks.to(W.dtype)
    assoc_a = a @ degree
    cut = assoc_a - ((a @ W) * a).sum(1)
    scores = cut / assoc_a + cut / (degree.sum() - assoc_a)
    return _canonical(masks[int(scores.argmin())])


def ncut_bipartition_random_walk(W):
    # the same eigenvectors: D^-1 W y = (1 - lambda) y, second-largest eigenvalue
    w = W.double().cpu().numpy()
    values, vectors = np.linalg.eig(w / w.sum(1, keepdims=True))
    y = vectors[:, np.argsort(-values.real)[1]].real
    return _sweep(W, torch.from_numpy(np.ascontiguousarray(y)).to(W.device))


CORRECT = {
    "kmeans_assign": [kmeans_assign_cdist, kmeans_assign_expanded_square, kmeans_assign_loop],
    "kmeans_update": [kmeans_update_loop, kmeans_update_index_add],
    "mean_shift_step": [mean_shift_step_loop, mean_shift_step_cdist],
    "affinity_matrix": [affinity_matrix_cdist, affinity_matrix_loops],
    "ncut_value": [ncut_value_quadratic_form, ncut_value_loops],
    "ncut_bipartition": [ncut_bipartition_scipy_generalised, ncut_bipartition_float32_vectorised,
                         ncut_bipartition_random_walk],
}
