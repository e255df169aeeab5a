r"""Depth losses: MiDaS's scale-and-shift-invariant data term, gradient matching, Eigen's scale-invariant log loss.

Maps are ``(B, H, W)`` or ``(B, 1, H, W)`` floating tensors with an optional bool ``mask`` of the same shape (True
= valid pixel, default all valid). Values at masked-out pixels are never read into a sum, so they may be 0, inf or
NaN (the Middlebury ground truth stores inf there). Every loss is computed per image over its valid pixels; an
image without valid pixels contributes 0 and is left out of the means.

MiDaS mixes training sources whose depth comes with unknown scale and shift (stereo disparity with an unknown
baseline, depth in other units, structure-from-motion up to scale), so it compares a prediction with its target
only after aligning the two by the best scale and shift — in *disparity* (inverse depth) space, where the sky is
0 and near objects dominate. The functions here are space-agnostic: pass disparities for the MiDaS setting.

References:
    R. Ranftl, K. Lasinger, D. Hafner, K. Schindler and V. Koltun, "Towards Robust Monocular Depth Estimation:
    Mixing Datasets for Zero-shot Cross-dataset Transfer", TPAMI 2022 (arXiv 1907.01341), Sec. 5.
    D. Eigen, C. Puhrsch and R. Fergus, "Depth Map Prediction from a Single Image using a Multi-Scale Deep
    Network", NeurIPS 2014, Sec. 3.2.
"""

from __future__ import annotations

from fractions import Fraction

import torch
from torch import Tensor, nn

from cvlab._validate import check_choice, check_int, check_same_shape, check_tensor

__all__ = [
    "masked_median",
    "compute_scale_and_shift",
    "ssi_loss",
    "gradient_matching_loss",
    "silog_loss",
    "SSILoss",
    "GradientMatchingLoss",
    "SILogLoss",
]

_SSI_REDUCTIONS = ("batch", "image", "none")
_REDUCTIONS = ("mean", "sum", "none")


def _maps(
    pred: Tensor, target: Tensor, mask: Tensor | None, target_name: str = "target"
) -> tuple[Tensor, Tensor, Tensor]:
    """Check a prediction / target pair and its mask; return ``(B, H, W)`` views (target in pred's dtype)."""
    check_tensor(pred, "pred", ndim=(3, 4), shape="(B, H, W) or (B, 1, H, W)", dtype="float")
    check_tensor(target, target_name, ndim=(3, 4), shape="(B, H, W) or (B, 1, H, W)", dtype="float")
    check_same_shape(pred, target, "pred", target_name)
    if pred.dim() == 4 and pred.shape[1] != 1:
        raise ValueError(f"pred: expected one channel in (B, 1, H, W), got shape {tuple(pred.shape)}")
    if mask is None:
        mask = torch.ones(pred.shape, dtype=torch.bool, device=pred.device)
    else:
        check_tensor(mask, "mask", dtype="bool", shape="like pred")
        check_same_shape(pred, mask, "pred", "mask")
    if pred.dim() == 4:
        pred, target, mask = pred[:, 0], target[:, 0], mask[:, 0]
    return pred, target.to(pred.dtype), mask


def _masked_sum(x: Tensor, mask: Tensor) -> Tensor:
    """Sum over the last two dimensions of ``x`` where ``mask`` holds (values elsewhere never enter)."""
    return torch.where(mask, x, torch.zeros((), dtype=x.dtype, device=x.device)).sum((-2, -1))


def masked_median(x: Tensor, mask: Tensor) -> Tensor:
    """Median of each ``(H, W)`` map over its valid pixels (mean of the two middle values for an even count).

    Args:
        x (Tensor[B, H, W]): floating values.
        mask (Tensor[B, H, W]): bool, True where a value counts.

    Returns:
        Tensor[B]: the medians, NaN for a map without valid pixels (as ``numpy.median`` of an empty array).
    """
    nan = torch.full((), float("nan"), dtype=x.dtype, device=x.device)
    return torch.nanquantile(torch.where(mask, x, nan).flatten(1), 0.5, dim=1)


def compute_scale_and_shift(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    r"""Per-image least-squares scale and shift that align ``pred`` to ``target`` over the valid pixels.

    .. math::
        (s, t) = \arg\min_{s, t} \sum_{i \in \text{mask}} (s\, p_i + t - y_i)^2, \quad
        s = \frac{\sum_i (p_i - \bar p)(y_i - \bar y)}{\sum_i (p_i - \bar p)^2}, \quad t = \bar y - s \bar p,

    the closed form of MiDaS's normal equations, written with centred sums for accuracy.

    Degenerate systems are defined, not NaN: when the valid predictions are constant (or there is one valid
    pixel) any scale fits equally well, and the result is ``s = 0, t = mean(target)`` — the best constant; with
    no valid pixel, ``s = t = 0``. A *negative* optimal scale (prediction ordered against the target, e.g. depth
    fitted to disparity) is returned as it is, never clamped: check ``scale < 0`` to find such images.

    Args:
        pred (Tensor[B, H, W] or Tensor[B, 1, H, W]): prediction, any floating dtype.
        target (Tensor[B, H, W] or Tensor[B, 1, H, W]): target in the same space (disparity for MiDaS).
        mask (Tensor[B, H, W] or Tensor[B, 1, H, W], optional): bool, True on valid pixels.

    Returns:
        (Tensor[B], Tensor[B]): scale and shift in pred's dtype, differentiable with respect to ``pred``.

    Example:
        >>> p = torch.rand(2, 8, 8)
        >>> s, t = compute_scale_and_shift(p, 3 * p + 1)  # s ~ [3, 3], t ~ [1, 1]
    """
    pred, target, mask = _maps(pred, target, mask)
    count = mask.sum((-2, -1)).to(pred.dtype)
    safe = count.clamp(min=1)[:, None, None]
    pred_mean = _masked_sum(pred, mask) / safe[:, 0, 0]
    target_mean = _masked_sum(target, mask) / safe[:, 0, 0]
    pred_c = pred - pred_mean[:, None, None]
    target_c = target - target_mean[:, None, None]
    var = _masked_sum(pred_c * pred_c, mask)
    cov = _masked_sum(pred_c * target_c, mask)
    # "constant" up to rounding: every centred value within a few ulps of the largest |p|
    amax = torch.where(mask, pred.abs(), torch.zeros((), dtype=pred.dtype, device=pred.device)).amax((-2, -1))
    tol = count * (64 * torch.finfo(pred.dtype).eps * amax) ** 2
    degenerate = var <= tol
    scale = torch.where(degenerate, torch.zeros_like(var), cov / torch.where(degenerate, torch.ones_like(var), var))
    shift = target_mean - scale * pred_mean
    return scale, shift


def _reduce_images(sums: Tensor, counts: Tensor, reduction: str) -> Tensor:
    """Per-image ``sums / counts`` reduced MiDaS's way: "batch" pools (sum / sum), "image" averages images."""
    per_image = sums / counts.clamp(min=1)
    if reduction == "none":
        return per_image
    if reduction == "batch":
        return sums.sum() / counts.sum().clamp(min=1)
    has = counts > 0
    return (per_image * has).sum() / has.sum().clamp(min=1)


def _normalise_median_mad(x: Tensor, mask: Tensor) -> Tensor:
    """MiDaS's robust normalisation ``(x - median) / mean|x - median|`` per image over the valid pixels."""
    median = masked_median(x, mask).nan_to_num(0.0)[:, None, None]
    count = mask.sum((-2, -1)).clamp(min=1).to(x.dtype)
    mad = _masked_sum((x - median).abs(), mask) / count
    mad = torch.where(mad > 0, mad, torch.ones_like(mad))  # a constant map stays 0 after centring
    return (x - median) / mad[:, None, None]


def _kept_counts(count: Tensor, trim: float) -> Tensor:
    """``floor((1 - trim) * M)`` computed exactly in integers."""
    keep = Fraction(1 - trim).limit_denominator(10**6)
    return (count * keep.numerator) // keep.denominator


def ssi_loss(
    pred: Tensor,
    target: Tensor,
    mask: Tensor | None = None,
    *,
    trimmed: bool = False,
    trim: float = 0.2,
    alpha: float = 0.0,
    scales: int = 4,
    reduction: str = "batch",
) -> Tensor:
    r"""MiDaS's scale-and-shift-invariant data term, optionally robust (trimmed), plus gradient matching.

    Least-squares variant (``trimmed=False``, MiDaS eq. 4 with the alignment of eq. 5):
    :math:`\frac{1}{2M} \sum_{i=1}^{M} (s\, p_i + t - y_i)^2` with ``(s, t)`` from `compute_scale_and_shift`.

    Trimmed variant (``trimmed=True``, MiDaS eqs. 6-7): prediction and target are each normalised by their own
    median and mean absolute deviation, :math:`\hat d = (d - \mathrm{med}(d)) / (\frac{1}{M}\sum_i |d_i -
    \mathrm{med}(d)|)` (medians over the *valid* pixels only), and the loss is
    :math:`\frac{1}{2M} \sum_{j=1}^{U_M} |\hat p_j - \hat y_j|` over the :math:`U_M = \lfloor (1 - \text{trim})
    M \rfloor` smallest residuals — the largest ``trim`` fraction (20 % in the paper) is dropped, and the sum is
    still divided by :math:`2M`. (The snippet often copied as "the" trimmed loss neither drops residuals nor
    excludes masked-out zeros from its medians.)

    With ``alpha > 0`` it adds ``alpha * gradient_matching_loss`` of the aligned (normalised) prediction against
    the (normalised) target, MiDaS's full loss for ``alpha = 0.5, scales = 4``.

    Args:
        pred (Tensor[B, H, W] or Tensor[B, 1, H, W]): predicted disparity (relative inverse depth).
        target (Tensor[B, H, W] or Tensor[B, 1, H, W]): target disparity, any scale and shift.
        mask (Tensor[B, H, W] or Tensor[B, 1, H, W], optional): bool, True on valid pixels.
        trimmed: use the robust trimmed variant.
        trim: fraction of the largest residuals the trimmed variant drops, in [0, 1).
        alpha: weight of the gradient-matching term (0 = data term only).
        scales: number of scales of the gradient-matching term.
        reduction: ``"batch"`` (sums over the batch divided by the batch's total 2M, MiDaS's default),
            ``"image"`` (mean of per-image losses) or ``"none"`` (Tensor[B]).

    Returns:
        Tensor[] (Tensor[B] for ``"none"``) in pred's dtype.
    """
    check_choice(reduction, "reduction", _SSI_REDUCTIONS)
    if not 0 <= trim < 1:
        raise ValueError(f"trim: expected a fraction in [0, 1), got {trim}")
    if alpha < 0:
        raise ValueError(f"alpha: expected a weight >= 0, got {alpha}")
    pred, target, mask = _maps(pred, target, mask)
    count = mask.sum((-2, -1))
    if trimmed:
        aligned, target = _normalise_median_mad(pred, mask), _normalise_median_mad(target, mask)
        residual = torch.where(
            mask, (aligned - target).abs(), torch.full((), float("inf"), dtype=pred.dtype, device=pred.device)
        )
        ranked = residual.flatten(1).sort(dim=1).values
        kept = torch.arange(ranked.shape[1], device=pred.device) < _kept_counts(count, trim)[:, None]
        sums = torch.where(kept, ranked, torch.zeros((), dtype=pred.dtype, device=pred.device)).sum(1)
    else:
        scale, shift = compute_scale_and_shift(pred, target, mask)
        aligned = scale[:, None, None] * pred + shift[:, None, None]
        sums = _masked_sum((aligned - target) ** 2, mask)
    loss = _reduce_images(sums, 2 * count.to(pred.dtype), reduction)
    if alpha > 0:
        loss = loss + alpha * gradient_matching_loss(aligned, target, mask, scales=scales, reduction=reduction)
    return loss


def gradient_matching_loss(
    pred: Tensor, target: Tensor, mask: Tensor | None = None, *, scales: int = 4, reduction: str = "batch"
) -> Tensor:
    r"""Multi-scale gradient matching (MiDaS eq. 11): L1 of the image gradients of the residual ``R = pred - target``.

    .. math::
        \sum_{k=0}^{K-1} \frac{1}{M_k} \sum_i \left(|\nabla_x R^k_i| + |\nabla_y R^k_i|\right),

    where :math:`R^k` is the residual subsampled by :math:`2^k` (every :math:`2^k`-th row and column), a
    difference counts only where both of its pixels are valid, and :math:`M_k` is the number of valid pixels at
    scale k (MiDaS's reference normalisation). Pass an already aligned prediction (``ssi_loss(..., alpha=...)``
    does). It rewards sharp discontinuities where the target has them and flat regions where it is flat.

    Args:
        pred (Tensor[B, H, W] or Tensor[B, 1, H, W]): aligned prediction.
        target (Tensor[B, H, W] or Tensor[B, 1, H, W]): target, same space.
        mask (Tensor[B, H, W] or Tensor[B, 1, H, W], optional): bool, True on valid pixels.
        scales: K, the number of scales (>= 1).
        reduction: ``"batch"``, ``"image"`` or ``"none"``, as in `ssi_loss` (applied at each scale).

    Returns:
        Tensor[] (Tensor[B] for ``"none"``) in pred's dtype.
    """
    check_choice(reduction, "reduction", _SSI_REDUCTIONS)
    scales = check_int(scales, "scales")
    pred, target, mask = _maps(pred, target, mask)
    residual = torch.where(mask, pred - target, torch.zeros((), dtype=pred.dtype, device=pred.device))
    total = torch.zeros(() if reduction != "none" else pred.shape[:1], dtype=pred.dtype, device=pred.device)
    for k in range(scales):
        step = 2**k
        r, m = residual[:, ::step, ::step], mask[:, ::step, ::step]
        mx, my = m[:, :, 1:] & m[:, :, :-1], m[:, 1:] & m[:, :-1]
        grad = _masked_sum((r[:, :, 1:] - r[:, :, :-1]).abs(), mx) + _masked_sum((r[:, 1:] - r[:, :-1]).abs(), my)
        total = total + _reduce_images(grad, m.sum((-2, -1)).to(pred.dtype), reduction)
    return total


def silog_loss(
    pred: Tensor, target: Tensor, mask: Tensor | None = None, lam: float = 0.5, reduction: str = "mean"
) -> Tensor:
    r"""Eigen et al.'s scale-invariant log loss, per image over the valid pixels.

    .. math::
        D(p, y) = \frac{1}{n} \sum_i d_i^2 - \frac{\lambda}{n^2} \Big(\sum_i d_i\Big)^2, \quad d_i = \log p_i -
        \log y_i.

    ``lam = 0`` is the plain mean squared log error; ``lam = 1`` is the *biased* variance (divided by n, as in
    the paper) of the log ratio, fully invariant to a global scale of ``pred``; the paper trains with 0.5.
    Some repositories use the unbiased variance (divided by n - 1) or take a square root and multiply by 10
    (BTS, AdaBins); this function is the paper's form.

    Args:
        pred (Tensor[B, H, W] or Tensor[B, 1, H, W]): predicted depth, > 0 on valid pixels.
        target (Tensor[B, H, W] or Tensor[B, 1, H, W]): true depth, > 0 on valid pixels.
        mask (Tensor[B, H, W] or Tensor[B, 1, H, W], optional): bool, True on valid pixels.
        lam: λ in [0, 1].
        reduction: ``"mean"`` over images with valid pixels, ``"sum"`` or ``"none"`` (Tensor[B]).

    Returns:
        Tensor[] (Tensor[B] for ``"none"``) in pred's dtype.
    """
    check_choice(reduction, "reduction", _REDUCTIONS)
    if not 0 <= lam <= 1:
        raise ValueError(f"lam: expected a weight in [0, 1], got {lam}")
    pred, target, mask = _maps(pred, target, mask)
    for name, x in (("pred", pred), ("target", target)):
        if bool((mask & ~(x > 0)).any()):
            raise ValueError(f"{name}: expected depths > 0 on valid pixels, got {int((mask & ~(x > 0)).sum())} not")
    one = torch.ones((), dtype=pred.dtype, device=pred.device)
    d = torch.log(torch.where(mask, pred, one)) - torch.log(torch.where(mask, target, one))  # 0 off the mask
    n = mask.sum((-2, -1)).to(pred.dtype)
    safe = n.clamp(min=1)
    per_image = (d * d).sum((-2, -1)) / safe - lam * (d.sum((-2, -1)) / safe) ** 2
    if reduction == "none":
        return per_image
    if reduction == "sum":
        return per_image.sum()
    has = n > 0
    return (per_image * has).sum() / has.sum().clamp(min=1)


class SSILoss(nn.Module):
    """See `ssi_loss`; the defaults ``alpha=0.5, scales=4`` are MiDaS's full training loss."""

    def __init__(
        self,
        *,
        trimmed: bool = False,
        trim: float = 0.2,
        alpha: float = 0.5,
        scales: int = 4,
        reduction: str = "batch",
    ) -> None:
        super().__init__()
        self.trimmed, self.trim, self.alpha, self.scales, self.reduction = trimmed, trim, alpha, scales, reduction

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        return ssi_loss(
            pred,
            target,
            mask,
            trimmed=self.trimmed,
            trim=self.trim,
            alpha=self.alpha,
            scales=self.scales,
            reduction=self.reduction,
        )


class GradientMatchingLoss(nn.Module):
    """See `gradient_matching_loss`."""

    def __init__(self, *, scales: int = 4, reduction: str = "batch") -> None:
        super().__init__()
        self.scales, self.reduction = scales, reduction

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        return gradient_matching_loss(pred, target, mask, scales=self.scales, reduction=self.reduction)


class SILogLoss(nn.Module):
    """See `silog_loss`."""

    def __init__(self, lam: float = 0.5, reduction: str = "mean") -> None:
        super().__init__()
        self.lam, self.reduction = lam, reduction

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        return silog_loss(pred, target, mask, self.lam, self.reduction)
