r"""Depth scores of the KITTI / NYU benchmarks (Eigen et al. 2014), per image then averaged over images.

For a prediction :math:`p` and ground truth :math:`y` over the n valid pixels of one image:

- ``abs_rel`` :math:`\frac1n\sum |p - y| / y`, ``sq_rel`` :math:`\frac1n\sum (p - y)^2 / y`,
- ``rmse`` :math:`\sqrt{\frac1n\sum (p - y)^2}`, ``rmse_log`` :math:`\sqrt{\frac1n\sum (\log p - \log y)^2}`,
- ``log10`` :math:`\frac1n\sum |\log_{10} p - \log_{10} y|`,
- ``delta1``, ``delta2``, ``delta3``: the fraction of pixels with :math:`\max(p/y, y/p) < 1.25^k` (strict).

Each score is computed per image and then averaged over the images that have valid pixels — pooling all pixels
of a batch first would weigh a large valid region more than a small one, and gives different numbers.

Reference: D. Eigen, C. Puhrsch and R. Fergus, "Depth Map Prediction from a Single Image using a Multi-Scale
Deep Network", NeurIPS 2014, Sec. 4.
"""

from __future__ import annotations

import torch
from torch import Tensor

from cvlab._validate import check_choice
from cvlab.losses.depth import _maps, _masked_sum, compute_scale_and_shift, masked_median

__all__ = ["DEPTH_METRICS", "depth_metrics", "align_disparity"]

DEPTH_METRICS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "delta1", "delta2", "delta3")


def depth_metrics(
    pred: Tensor,
    gt: Tensor,
    mask: Tensor | None = None,
    align: str | None = None,
    *,
    min_depth: float = 1e-3,
    reduction: str = "mean",
) -> dict[str, Tensor]:
    """The standard depth scores of ``pred`` against ``gt`` (see the module docstring for the formulas).

    Args:
        pred (Tensor[B, H, W] or Tensor[B, 1, H, W]): predicted depth in metres.
        gt (Tensor[B, H, W] or Tensor[B, 1, H, W]): true depth in metres; only pixels with ``gt > 0`` (finite)
            count.
        mask (Tensor[B, H, W] or Tensor[B, 1, H, W], optional): bool, True on pixels to score (and'ed with
            ``gt > 0``).
        align: ``None`` (score ``pred`` as it is), ``"median"`` (scale each image by ``median(gt) /
            median(pred)``, the monocular self-supervised protocol) or ``"scale_shift"`` (the least-squares
            scale and shift of `cvlab.losses.compute_scale_and_shift`, in depth space; align disparities
            yourself for MiDaS's protocol).
        min_depth: after alignment, predictions are clamped to at least this depth (metres) so that ratios and
            logarithms stay finite.
        reduction: ``"mean"`` over images with valid pixels, or ``"none"`` (per image, NaN where an image has
            none).

    Returns:
        dict[str, Tensor]: the scores named in ``DEPTH_METRICS``, each Tensor[] (Tensor[B] for ``"none"``) in
        pred's dtype.

    Example:
        >>> gt = torch.rand(2, 16, 16) + 1
        >>> depth_metrics(2 * gt, gt, align="median")["abs_rel"]  # tensor(0.)
    """
    check_choice(align, "align", (None, "median", "scale_shift"))
    check_choice(reduction, "reduction", ("mean", "none"))
    if not min_depth > 0:
        raise ValueError(f"min_depth: expected a depth > 0, got {min_depth}")
    pred, gt, mask = _maps(pred, gt, mask, "gt")
    mask = mask & torch.isfinite(gt) & (gt > 0)
    if align == "median":
        ratio = masked_median(gt, mask) / masked_median(pred, mask)
        pred = pred * ratio.nan_to_num(1.0, 1.0, 1.0)[:, None, None]
    elif align == "scale_shift":
        scale, shift = compute_scale_and_shift(pred, gt, mask)
        pred = scale[:, None, None] * pred + shift[:, None, None]
    one = torch.ones((), dtype=pred.dtype, device=pred.device)
    pred = torch.where(mask, pred.clamp(min=min_depth), one)
    gt = torch.where(mask, gt, one)
    n = mask.sum((-2, -1)).to(pred.dtype)
    mean = lambda x: _masked_sum(x, mask) / n  # noqa: E731 - NaN for an image without valid pixels
    err, log_err = pred - gt, torch.log(pred) - torch.log(gt)
    ratio = torch.maximum(pred / gt, gt / pred)
    scores = {
        "abs_rel": mean(err.abs() / gt),
        "sq_rel": mean(err**2 / gt),
        "rmse": mean(err**2).sqrt(),
        "rmse_log": mean(log_err**2).sqrt(),
        "log10": mean((torch.log10(pred) - torch.log10(gt)).abs()),
        **{f"delta{k}": mean((ratio < 1.25**k).to(pred.dtype)) for k in (1, 2, 3)},
    }
    if reduction == "none":
        return scores
    has = n > 0
    return {name: torch.where(has, s, 0).sum() / has.sum() for name, s in scores.items()}


def align_disparity(
    pred: Tensor, gt: Tensor, mask: Tensor | None = None, *, max_depth: float | None = None
) -> Tensor:
    """MiDaS's evaluation protocol: align a relative disparity to ``1 / gt`` by scale and shift, return depth.

    Per image, ``(s, t) = compute_scale_and_shift(pred, 1 / gt)`` over the valid pixels, then
    ``depth = 1 / max(s * pred + t, 1 / max_depth)`` — the clamp keeps depths finite and positive where the
    aligned disparity is near 0 or negative. Score the result with `depth_metrics` (``align=None``).

    Args:
        pred (Tensor[B, H, W] or Tensor[B, 1, H, W]): relative disparity (inverse depth up to scale and shift).
        gt (Tensor[B, H, W] or Tensor[B, 1, H, W]): true depth in metres; pixels with ``gt > 0`` (finite) count.
        mask (Tensor[B, H, W] or Tensor[B, 1, H, W], optional): bool, pixels to fit on (and'ed with ``gt > 0``).
        max_depth: the largest depth returned, in metres; default each image's largest valid ``gt``.

    Returns:
        Tensor: depth in metres, the shape and dtype of ``pred``.
    """
    if max_depth is not None and not max_depth > 0:
        raise ValueError(f"max_depth: expected a depth > 0 or None, got {max_depth}")
    shape = pred.shape
    pred, gt, mask = _maps(pred, gt, mask, "gt")
    mask = mask & torch.isfinite(gt) & (gt > 0)
    one = torch.ones((), dtype=pred.dtype, device=pred.device)
    inverse = torch.where(mask, 1 / torch.where(mask, gt, one), 0 * one)
    scale, shift = compute_scale_and_shift(pred, inverse, mask)
    if max_depth is None:
        floor = 1 / torch.where(mask, gt, 0 * one).amax((-2, -1)).clamp(min=torch.finfo(pred.dtype).tiny)
    else:
        floor = torch.full(scale.shape, 1 / max_depth, dtype=pred.dtype, device=pred.device)
    aligned = torch.maximum(scale[:, None, None] * pred + shift[:, None, None], floor[:, None, None])
    return (1 / aligned).reshape(shape)
