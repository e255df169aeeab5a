"""A7 "depth": plausible wrong implementations of each graded function (each must lose points), and correct
implementations different from the solution (each must earn full marks).

The mistakes the issue names are all here: shift ignored, scale fitted on unmasked pixels, mean instead of 1/2M,
λ misapplied, δ with <= instead of <, pixel-pooled instead of per-image scores, x/y swapped and the principal
point ignored in back-projection.
"""

import torch


def _where(mask, x, fill=0.0):
    return torch.where(mask, x, torch.full((), fill, dtype=x.dtype))


def _sums(pred, target, mask):
    m = mask.to(pred.dtype)
    p, y = _where(mask, pred), _where(mask, target)
    return m.sum((1, 2)), p.sum((1, 2)), y.sum((1, 2)), (p * p).sum((1, 2)), (p * y).sum((1, 2))


# --- compute_scale_and_shift(pred, target, mask) ------------------------------------------------------------------


def css_normal_equations(pred, target, mask):
    """Correct: the 2x2 normal equations by Cramer's rule, degenerate where the determinant is 0."""
    n, sp, sy, spp, spy = _sums(pred, target, mask)
    det = n * spp - sp * sp
    ok = det != 0
    safe = torch.where(ok, det, torch.ones_like(det))
    scale = torch.where(ok, (n * spy - sp * sy) / safe, torch.zeros_like(det))
    mean_y = sy / n.clamp(min=1)
    shift = torch.where(ok, (spp * sy - sp * spy) / safe, mean_y)
    return scale, shift


def css_per_image_loop(pred, target, mask):
    """Correct: one image at a time with boolean indexing."""
    scales, shifts = [], []
    for p, y, m in zip(pred, target, mask, strict=True):
        p, y = p[m], y[m]
        if p.numel() == 0:
            scales.append(p.new_zeros(()))
            shifts.append(p.new_zeros(()))
            continue
        pc, yc = p - p.mean(), y - y.mean()
        var = (pc * pc).sum()
        s = (pc * yc).sum() / var if var != 0 else p.new_zeros(())
        scales.append(s)
        shifts.append(y.mean() - s * p.mean())
    return torch.stack(scales), torch.stack(shifts)


def css_cvlab_shortcut(pred, target, mask):
    from cvlab.losses import compute_scale_and_shift

    return compute_scale_and_shift(pred, target, mask)


def css_shift_ignored(pred, target, mask):
    n, sp, sy, spp, spy = _sums(pred, target, mask)
    return spy / spp.clamp(min=1e-12), torch.zeros_like(n)


def css_unmasked(pred, target, mask):
    return css_normal_equations(pred, target, torch.ones_like(mask))


def css_lstsq(pred, target, mask):
    scales, shifts = [], []
    for p, y, m in zip(pred, target, mask, strict=True):
        a = torch.stack([p[m], torch.ones_like(p[m])], 1)
        if a.shape[0] == 0:
            scales.append(p.new_zeros(()))
            shifts.append(p.new_zeros(()))
            continue
        h = torch.linalg.lstsq(a.double(), y[m].double()[:, None], driver="gelsd").solution[:, 0].to(p.dtype)
        scales.append(h[0])
        shifts.append(h[1])
    return torch.stack(scales), torch.stack(shifts)


def css_scale_clamped(pred, target, mask):
    scale, shift = css_normal_equations(pred, target, mask)
    n, sp, sy, _, _ = _sums(pred, target, mask)
    scale = scale.clamp(min=0)
    return scale, (sy - scale * sp) / n.clamp(min=1)


def css_degenerate_zero_shift(pred, target, mask):
    scale, shift = css_normal_equations(pred, target, mask)
    n, sp, sy, spp, _ = _sums(pred, target, mask)
    return scale, torch.where(n * spp - sp * sp == 0, torch.zeros_like(shift), shift)


def css_float32_accumulator(pred, target, mask):
    scale, shift = css_normal_equations(pred.float(), target.float(), mask)
    return scale, shift


def css_swapped_roles(pred, target, mask):
    """Fits the target to the prediction instead."""
    scale, shift = css_normal_equations(target, pred, mask)
    return scale, shift


# --- ssi_loss(pred, target, mask) -----------------------------------------------------------------------------------


def _aligned_sq(pred, target, mask, fit=css_normal_equations):
    scale, shift = fit(pred, target, mask)
    residual = scale[:, None, None] * pred + shift[:, None, None] - target
    return _where(mask, residual**2)


def ssi_per_image_sums(pred, target, mask):
    """Correct: per-image sums pooled once."""
    sq = _aligned_sq(pred, target, mask, css_per_image_loop).sum((1, 2))
    m = mask.sum((1, 2)).to(pred.dtype)
    return sq.sum() / (2 * m.sum()) if m.sum() > 0 else pred.new_zeros(())


def ssi_masked_mean(pred, target, mask):
    """Correct: the aligned residuals of the masked pixels gathered by boolean indexing, half their mean square."""
    scale, shift = css_normal_equations(pred, target, mask)
    residual = (scale[:, None, None] * pred + shift[:, None, None] - target)[mask]
    return (residual**2).mean() / 2 if residual.numel() else pred.new_zeros(())


def ssi_cvlab_shortcut(pred, target, mask):
    from cvlab.losses import ssi_loss

    return ssi_loss(pred, target, mask)


def ssi_mean_not_half(pred, target, mask):
    return _aligned_sq(pred, target, mask).sum() / mask.sum().clamp(min=1)


def ssi_image_based(pred, target, mask):
    m = mask.sum((1, 2)).to(pred.dtype)
    per = _aligned_sq(pred, target, mask).sum((1, 2)) / (2 * m).clamp(min=1)
    return per[m > 0].mean() if (m > 0).any() else pred.new_zeros(())


def ssi_shift_ignored(pred, target, mask):
    sq = _aligned_sq(pred, target, mask, css_shift_ignored)
    return sq.sum() / (2 * mask.sum()).clamp(min=1)


def ssi_unmasked_fit(pred, target, mask):
    sq = _aligned_sq(pred, target, mask, css_unmasked)
    return sq.sum() / (2 * mask.sum()).clamp(min=1)


def ssi_no_alignment(pred, target, mask):
    return _where(mask, (pred - target) ** 2).sum() / (2 * mask.sum()).clamp(min=1)


def ssi_over_all_pixels(pred, target, mask):
    scale, shift = css_normal_equations(pred, target, mask)
    residual = scale[:, None, None] * pred + shift[:, None, None] - target
    return (residual**2).sum() / (2 * mask.numel())


def ssi_absolute_residual(pred, target, mask):
    scale, shift = css_normal_equations(pred, target, mask)
    residual = scale[:, None, None] * pred + shift[:, None, None] - target
    return _where(mask, residual.abs()).sum() / (2 * mask.sum()).clamp(min=1)


def ssi_nan_when_empty(pred, target, mask):
    return _aligned_sq(pred, target, mask).sum() / (2 * mask.sum())


# --- silog_loss(pred, target, mask, lam=0.5) ------------------------------------------------------------------------


def _log_ratio(pred, target, mask):
    return _where(mask, torch.log(_where(mask, pred, 1.0)) - torch.log(_where(mask, target, 1.0)))


def silog_loop(pred, target, mask, lam=0.5):
    """Correct: per image with boolean indexing and torch.var(correction=0)."""
    losses = []
    for p, y, m in zip(pred, target, mask, strict=True):
        if m.any():
            d = torch.log(p[m]) - torch.log(y[m])
            losses.append((1 - lam) * d.mean() ** 2 + torch.var(d, correction=0))
    return torch.stack(losses).mean()


def silog_nan_masked(pred, target, mask, lam=0.5):
    """Correct: NaN off the mask and nanmean per image; images without a valid pixel left out."""
    d = torch.where(mask, torch.log(pred) - torch.log(target), torch.full((), float("nan"), dtype=pred.dtype))
    per_image = d.square().nanmean((1, 2)) - lam * d.nanmean((1, 2)) ** 2
    valid = mask.flatten(1).any(1)
    return per_image[valid].mean() if bool(valid.any()) else pred.new_zeros(())


def silog_cvlab_shortcut(pred, target, mask, lam=0.5):
    from cvlab.losses import silog_loss

    return silog_loss(pred, target, mask, lam)


def _silog_terms(pred, target, mask):
    d = _log_ratio(pred, target, mask)
    n = mask.sum((1, 2)).to(pred.dtype)
    return d, n, n > 0


def silog_lambda_inside_square(pred, target, mask, lam=0.5):
    d, n, has = _silog_terms(pred, target, mask)
    per = (d**2).sum((1, 2)) / n.clamp(min=1) - (lam * d.sum((1, 2)) / n.clamp(min=1)) ** 2
    return per[has].mean()


def silog_lambda_over_n(pred, target, mask, lam=0.5):
    d, n, has = _silog_terms(pred, target, mask)
    per = (d**2).sum((1, 2)) / n.clamp(min=1) - lam * d.sum((1, 2)) ** 2 / n.clamp(min=1)
    return per[has].mean()


def silog_unbiased_variance(pred, target, mask, lam=0.5):
    losses = []
    for p, y, m in zip(pred, target, mask, strict=True):
        if m.sum() > 1:
            d = torch.log(p[m]) - torch.log(y[m])
            losses.append((1 - lam) * d.mean() ** 2 + torch.var(d))
        elif m.any():
            d = torch.log(p[m]) - torch.log(y[m])
            losses.append((1 - lam) * d.mean() ** 2)
    return torch.stack(losses).mean()


def silog_log10(pred, target, mask, lam=0.5):
    d, n, has = _silog_terms(pred, target, mask)
    d = d / torch.log(torch.tensor(10.0, dtype=pred.dtype))
    per = (d**2).sum((1, 2)) / n.clamp(min=1) - lam * (d.sum((1, 2)) / n.clamp(min=1)) ** 2
    return per[has].mean()


def silog_pixel_pooled(pred, target, mask, lam=0.5):
    d = _log_ratio(pred, target, mask)
    n = mask.sum().to(pred.dtype)
    return (d**2).sum() / n - lam * (d.sum() / n) ** 2


def silog_empty_images_count(pred, target, mask, lam=0.5):
    d, n, _ = _silog_terms(pred, target, mask)
    per = (d**2).sum((1, 2)) / n.clamp(min=1) - lam * (d.sum((1, 2)) / n.clamp(min=1)) ** 2
    return per.mean()


def silog_sqrt(pred, target, mask, lam=0.5):
    d, n, has = _silog_terms(pred, target, mask)
    per = (d**2).sum((1, 2)) / n.clamp(min=1) - lam * (d.sum((1, 2)) / n.clamp(min=1)) ** 2
    return per[has].clamp(min=0).sqrt().mean()


def silog_lambda_ignored(pred, target, mask, lam=0.5):
    return silog_loop(pred, target, mask)  # always the paper's 0.5


# --- depth_metrics(pred, gt, mask) ----------------------------------------------------------------------------------


def _scores(p, y, le=False, pooled=False, log=torch.log10, sq_over_gt=True, abs_over=None, ratio_fn=None):
    """The eight scores of valid values ``p``, ``y`` (1-D) as a list of 0-dim tensors."""
    ratio = torch.maximum(p / y, y / p) if ratio_fn is None else ratio_fn(p, y)
    below = (lambda r, t: r <= t) if le else (lambda r, t: r < t)
    return [
        ((p - y).abs() / (y if abs_over is None else abs_over(p, y))).mean(),
        ((p - y) ** 2 / (y if sq_over_gt else 1)).mean(),
        ((p - y) ** 2).mean().sqrt(),
        ((torch.log(p) - torch.log(y)) ** 2).mean().sqrt(),
        (log(p) - log(y)).abs().mean(),
        *[below(ratio, 1.25**k).to(p.dtype).mean() for k in (1, 2, 3)],
    ]


def _per_image(pred, gt, mask, **kwargs):
    rows = [torch.stack(_scores(p[m], y[m], **kwargs)) for p, y, m in zip(pred, gt, mask, strict=True)]
    return torch.stack(rows).mean(0)


def metrics_loop(pred, gt, mask):
    """Correct: per image with boolean indexing."""
    return _per_image(pred, gt, mask)


def metrics_nan_masked(pred, gt, mask):
    """Correct: NaN off the mask and nanmean per image, then the mean over images."""
    nan = torch.full((), float("nan"), dtype=pred.dtype)
    p, y = torch.where(mask, pred, nan), torch.where(mask, gt, nan)
    ratio = torch.maximum(p / y, y / p)
    per_image = [(p - y).abs() / y, (p - y) ** 2 / y, (p - y) ** 2, (p.log() - y.log()) ** 2,
                 (p.log10() - y.log10()).abs()]
    per_image += [torch.where(mask, (ratio < 1.25**k).to(pred.dtype), nan) for k in (1, 2, 3)]
    means = torch.stack([x.nanmean((1, 2)) for x in per_image], 1)
    means[:, 2:4] = means[:, 2:4].sqrt()  # RMSE and RMSE log
    return means.mean(0)


def metrics_cvlab_shortcut(pred, gt, mask):
    from cvlab.metrics import DEPTH_METRICS, depth_metrics

    scores = depth_metrics(pred, gt, mask)
    return torch.stack([scores[k] for k in DEPTH_METRICS])


def metrics_less_or_equal(pred, gt, mask):
    return _per_image(pred, gt, mask, le=True)


def metrics_pixel_pooled(pred, gt, mask):
    return torch.stack(_scores(pred[mask], gt[mask]))


def metrics_natural_log10(pred, gt, mask):
    return _per_image(pred, gt, mask, log=torch.log)


def metrics_sq_rel_without_gt(pred, gt, mask):
    return _per_image(pred, gt, mask, sq_over_gt=False)


def metrics_abs_rel_over_pred(pred, gt, mask):
    return _per_image(pred, gt, mask, abs_over=lambda p, y: p)


def metrics_one_sided_ratio(pred, gt, mask):
    return _per_image(pred, gt, mask, ratio_fn=lambda p, y: p / y)


def metrics_rmse_of_mean_mse(pred, gt, mask):
    out = _per_image(pred, gt, mask)
    mse = torch.stack([((p[m] - y[m]) ** 2).mean() for p, y, m in zip(pred, gt, mask, strict=True)])
    return torch.cat([out[:2], mse.mean().sqrt()[None], out[3:]])


# --- backproject(depth, K) ------------------------------------------------------------------------------------------


def _grid(depth, half=0.5):
    h, w = depth.shape
    v, u = torch.meshgrid(torch.arange(h, dtype=depth.dtype) + half, torch.arange(w, dtype=depth.dtype) + half,
                          indexing="ij")
    return u.reshape(-1), v.reshape(-1), depth.reshape(-1)


def backproject_formula(depth, K):
    """Correct: the closed form with f_x, f_y, c_x, c_y."""
    u, v, z = _grid(depth)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    return torch.stack([z * (u - cx) / fx, z * (v - cy) / fy, z], 1)


def backproject_inverse_matrix(depth, K):
    """Correct: multiply by the inverse of K."""
    u, v, z = _grid(depth)
    pixels = torch.stack([u, v, torch.ones_like(u)], 0)
    return (z * (torch.linalg.inv(K.to(depth.dtype)) @ pixels)).T


def backproject_cvlab_shortcut(depth, K):
    from cvlab.geometry import depth_to_points

    return depth_to_points(depth, K)


def backproject_xy_swapped(depth, K):
    u, v, z = _grid(depth)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    return torch.stack([z * (v - cx) / fx, z * (u - cy) / fy, z], 1)


def backproject_no_principal_point(depth, K):
    u, v, z = _grid(depth)
    return torch.stack([z * u / K[0, 0], z * v / K[1, 1], z], 1)


def backproject_no_half_pixel(depth, K):
    u, v, z = _grid(depth, half=0.0)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    return torch.stack([z * (u - cx) / fx, z * (v - cy) / fy, z], 1)


def backproject_fx_for_both(depth, K):
    u, v, z = _grid(depth)
    fx, cx, cy = K[0, 0], K[0, 2], K[1, 2]
    return torch.stack([z * (u - cx) / fx, z * (v - cy) / fx, z], 1)


def backproject_multiplies_by_K(depth, K):
    u, v, z = _grid(depth)
    pixels = torch.stack([u, v, torch.ones_like(u)], 0)
    return (z * (K.to(depth.dtype) @ pixels)).T


def backproject_distance_along_ray(depth, K):
    rays = backproject_formula(torch.ones_like(depth), K)
    return depth.reshape(-1, 1) * rays / rays.norm(dim=1, keepdim=True)


def backproject_column_major(depth, K):
    points = backproject_formula(depth, K)
    h, w = depth.shape
    return points.reshape(h, w, 3).transpose(0, 1).reshape(-1, 3)


WRONG = {
    "compute_scale_and_shift": [
        css_cvlab_shortcut, css_shift_ignored, css_unmasked, css_lstsq, css_scale_clamped,
        css_degenerate_zero_shift, css_float32_accumulator, css_swapped_roles,
    ],
    "ssi_loss": [
        ssi_cvlab_shortcut, ssi_mean_not_half, ssi_image_based, ssi_shift_ignored, ssi_unmasked_fit,
        ssi_no_alignment, ssi_over_all_pixels, ssi_absolute_residual, ssi_nan_when_empty,
    ],
    "silog_loss": [
        silog_cvlab_shortcut, silog_lambda_inside_square, silog_lambda_over_n, silog_unbiased_variance, silog_log10,
        silog_pixel_pooled, silog_empty_images_count, silog_sqrt, silog_lambda_ignored,
    ],
    "depth_metrics": [
        metrics_cvlab_shortcut, metrics_less_or_equal, metrics_pixel_pooled, metrics_natural_log10,
        metrics_sq_rel_without_gt, metrics_abs_rel_over_pred, metrics_one_sided_ratio, metrics_rmse_of_mean_mse,
    ],
    "backproject": [
        backproject_cvlab_shortcut, backproject_xy_swapped, backproject_no_principal_point,
        backproject_no_half_pixel, backproject_fx_for_both, backproject_multiplies_by_K,
        backproject_distance_along_ray, backproject_column_major,
    ],
}

CORRECT = {
    "compute_scale_and_shift": [css_normal_equations, css_per_image_loop],
    "ssi_loss": [ssi_per_image_sums, ssi_masked_mean],
    "silog_loss": [silog_loop, silog_nan_masked],
    "depth_metrics": [metrics_loop, metrics_nan_masked],
    "backproject": [backproject_formula, backproject_inverse_matrix],
}
