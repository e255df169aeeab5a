"""Segmentation losses: (weighted) cross-entropy and class weights, soft Dice, sigmoid and softmax focal losses.

Multi-class losses take logits ``(B, K, ...)`` and integer targets ``(B, ...)``; pixels whose target is
``ignore_index`` (255 by default) add nothing to the loss nor to its normaliser, and a batch without a counted
pixel gives a loss of 0 (with a gradient), not NaN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cvlab._validate import (
    check_choice,
    check_ignore_index,
    check_int,
    check_labels,
    check_logits_and_labels,
    check_number,
    check_same_shape,
    check_tensor,
)

__all__ = [
    "sigmoid_focal_loss",
    "SigmoidFocalLoss",
    "class_weights",
    "weighted_cross_entropy",
    "WeightedCrossEntropyLoss",
    "dice_loss",
    "DiceLoss",
    "softmax_focal_loss",
    "SoftmaxFocalLoss",
]

_REDUCTIONS = ("none", "mean", "sum")


def sigmoid_focal_loss(
    inputs: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none"
) -> Tensor:
    r"""Binary focal loss :math:`-\alpha_t (1 - p_t)^\gamma \log p_t`, exactly ``torchvision.ops.sigmoid_focal_loss``.

    Args:
        inputs (Tensor[...]): logits, any shape.
        targets (Tensor[...]): binary targets in {0, 1} (floating), same shape.
        alpha: weight of the positives in (0, 1); negative disables the alpha term.
        gamma: focusing exponent; 0 gives (alpha-weighted) binary cross-entropy.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Reference: Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017.
    """
    check_tensor(inputs, "inputs", dtype="float")
    check_tensor(targets, "targets", dtype="float")
    check_same_shape(inputs, targets, "inputs", "targets")
    check_choice(reduction, "reduction", _REDUCTIONS)
    p = inputs.sigmoid()
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


class SigmoidFocalLoss(nn.Module):
    """See `sigmoid_focal_loss`."""

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "mean") -> None:
        super().__init__()
        self.alpha, self.gamma, self.reduction = alpha, gamma, reduction

    def forward(self, inputs: Tensor, targets: Tensor) -> Tensor:
        return sigmoid_focal_loss(inputs, targets, self.alpha, self.gamma, self.reduction)


# --- multi-class losses on (B, K, ...) logits and (B, ...) class ids ---


def _check_weight(weight: Tensor | None, num_classes: int, like: Tensor, name: str = "weight") -> Tensor | None:
    """``weight`` as a (K,) tensor in ``like``'s dtype and device, or None; non-negative and finite."""
    if weight is None:
        return None
    check_tensor(weight, name, ndim=1, shape="(K,)", finite=True)
    if weight.shape[0] != num_classes:
        raise ValueError(f"{name}: expected one weight per class ({num_classes}), got shape {tuple(weight.shape)}")
    if bool((weight < 0).any()):
        raise ValueError(f"{name}: expected non-negative weights, got minimum {weight.min().item():g}")
    return weight.to(dtype=like.dtype, device=like.device)


def _labels(logits: Tensor, target: Tensor, ignore_index: int | None) -> tuple[Tensor, Tensor]:
    """Validated ``(counted, safe_target)``: the bool mask of counted pixels and the target with 0 elsewhere."""
    counted = check_labels(target, "target", logits.shape[1], check_ignore_index(ignore_index))
    return counted, torch.where(counted, target, 0).long()


def _pixel_log_probs(logits: Tensor, safe_target: Tensor) -> Tensor:
    """``log p_t``: the log-softmax of each pixel's true class, shape (B, ...)."""
    return logits.log_softmax(1).gather(1, safe_target.unsqueeze(1)).squeeze(1)


def _weighted_reduce(loss: Tensor, weights: Tensor, reduction: str) -> Tensor:
    """``"mean"``: sum(loss) / sum(weights) (0 when no weight); ``"sum"``; ``"none"``: ``loss`` unchanged."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    norm = weights.sum()
    return total / norm.clamp(min=torch.finfo(loss.dtype).tiny) if bool(norm > 0) else total * 0.0


def class_weights(
    target: Tensor, num_classes: int, method: str = "inverse", ignore_index: int | None = 255
) -> Tensor:
    r"""Per-class loss weights that up-weight rare classes, from the label frequencies of ``target``.

    - ``"inverse"``: :math:`w_k = N / (K\, n_k)`, with :math:`n_k` the pixels of class k and N all counted
      pixels — ``sklearn.utils.class_weight.compute_class_weight("balanced")``; balanced classes get 1.
    - ``"median"``: median frequency balancing (Eigen & Fergus, ICCV 2015), :math:`w_k = \mathrm{median}(f) / f_k`,
      with :math:`f_k = n_k /` (pixels of the images where class k is present) and the median over present classes.

    Classes absent from ``target`` get weight 0 (nothing to weigh).

    Args:
        target (Tensor[B, ...]): class ids of a training set (or a sample of it), values in ``[0, num_classes)``
            or ``ignore_index``; for ``"median"`` the first dimension indexes the images.
        num_classes (int): K.
        method (str): ``"inverse"`` | ``"median"``.
        ignore_index (int or None): target value left out of the counts.

    Returns:
        Tensor[K]: float weights (the default dtype) on ``target``'s device.

    Example:
        >>> class_weights(torch.tensor([[0, 0, 0, 1]]), 2)  # 3 : 1 -> 4 / (2 * 3), 4 / (2 * 1)
        tensor([0.6667, 2.0000])
    """
    check_tensor(target, "target", dtype="int", shape="(B, ...)")
    num_classes = check_int(num_classes, "num_classes")
    check_choice(method, "method", ("inverse", "median"))
    counted = check_labels(target, "target", num_classes, check_ignore_index(ignore_index))
    if target.dim() == 0:
        target, counted = target.view(1), counted.view(1)
    batch = target.shape[0]
    image = torch.arange(batch, device=target.device).view(-1, *[1] * (target.dim() - 1)).expand_as(target)
    index = torch.where(counted, image * num_classes + target.long(), batch * num_classes)
    per_image = torch.bincount(index.flatten(), minlength=batch * num_classes + 1)[:-1].view(batch, num_classes)
    dtype = torch.get_default_dtype()
    counts = per_image.sum(0).to(dtype)
    present = counts > 0
    if method == "inverse":
        freq = counts * num_classes / counts.sum().clamp(min=1)  # weight = 1 / freq = N / (K n_k)
    else:
        pixels = per_image.sum(1, keepdim=True)  # counted pixels of each image
        seen = (per_image > 0).to(dtype)
        freq = counts / (seen * pixels.to(dtype)).sum(0).clamp(min=1)
        if bool(present.any()):
            freq = freq / freq[present].median()
    return torch.where(present, 1 / freq.clamp(min=torch.finfo(dtype).tiny), torch.zeros_like(freq))


def weighted_cross_entropy(
    logits: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int | None = 255,
    reduction: str = "mean",
) -> Tensor:
    r"""Cross-entropy with per-class weights, :math:`\ell_i = -w_{y_i} \log \mathrm{softmax}(z_i)_{y_i}`.

    Same semantics as ``F.cross_entropy(logits, target, weight, ignore_index=...)``: ``"mean"`` divides by the
    summed weights of the counted pixels, :math:`\sum_i \ell_i / \sum_i w_{y_i}`; ignored pixels give 0 in
    ``"none"``. Unlike PyTorch, a batch with no counted pixel gives 0 instead of NaN.

    Args:
        logits (Tensor[B, K, ...]): class scores.
        target (Tensor[B, ...]): class ids in ``[0, K)`` or ``ignore_index``.
        weight (Tensor[K], optional): class weights, e.g. from :func:`class_weights`; None weighs all as 1.
        ignore_index (int or None): target value of unlabeled pixels.
        reduction (str): ``"none"`` (Tensor[B, ...]) | ``"mean"`` | ``"sum"``.

    Returns:
        Tensor: the loss, in the logits' dtype.
    """
    check_logits_and_labels(logits, target)
    check_choice(reduction, "reduction", _REDUCTIONS)
    weight = _check_weight(weight, logits.shape[1], logits)
    counted, safe = _labels(logits, target, ignore_index)
    w = (weight[safe] if weight is not None else torch.ones_like(safe, dtype=logits.dtype)) * counted
    return _weighted_reduce(-w * _pixel_log_probs(logits, safe), w, reduction)


def softmax_focal_loss(
    logits: Tensor,
    target: Tensor,
    gamma: float = 2.0,
    alpha: Tensor | None = None,
    ignore_index: int | None = 255,
    reduction: str = "mean",
) -> Tensor:
    r"""Multi-class focal loss :math:`\ell_i = -\alpha_{y_i} (1 - p_{t,i})^\gamma \log p_{t,i}`.

    :math:`p_t` is the softmax probability of the pixel's true class.

    The factor :math:`(1 - p_t)^\gamma` shrinks the loss of pixels that are already right (p_t = 0.9 is weighed
    100 times less than in cross-entropy for gamma = 2), so the many easy pixels stop drowning the few hard ones.
    ``gamma=0`` is :func:`weighted_cross_entropy`, reductions included (``alpha`` plays ``weight``); with K = 2,
    logits ``(0, x)`` and ``alpha = (1 - a, a)`` it is ``torchvision.ops.sigmoid_focal_loss(x, y, a)``.

    Args:
        logits (Tensor[B, K, ...]): class scores.
        target (Tensor[B, ...]): class ids in ``[0, K)`` or ``ignore_index``.
        gamma (float): focusing exponent >= 0.
        alpha (Tensor[K], optional): class weights; None weighs all as 1.
        ignore_index (int or None): target value of unlabeled pixels.
        reduction (str): ``"none"`` (Tensor[B, ...]) | ``"mean"`` (divided by the summed ``alpha`` of the counted
            pixels, their number when ``alpha`` is None) | ``"sum"``.

    Returns:
        Tensor: the loss, in the logits' dtype.

    Reference: Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017.
    """
    check_logits_and_labels(logits, target)
    gamma = check_number(gamma, "gamma", minimum=0.0)
    check_choice(reduction, "reduction", _REDUCTIONS)
    alpha = _check_weight(alpha, logits.shape[1], logits, "alpha")
    counted, safe = _labels(logits, target, ignore_index)
    w = (alpha[safe] if alpha is not None else torch.ones_like(safe, dtype=logits.dtype)) * counted
    log_pt = _pixel_log_probs(logits, safe)
    focus = (-torch.expm1(log_pt)).clamp(min=0) ** gamma  # 1 - p_t, accurate when p_t is near 1
    return _weighted_reduce(-w * focus * log_pt, w, reduction)


def dice_loss(
    logits: Tensor,
    target: Tensor,
    smooth: float = 1.0,
    ignore_index: int | None = 255,
    reduction: str = "mean",
) -> Tensor:
    r"""Soft multi-class Dice loss: one minus the soft Dice of each class over the whole batch.

    .. math:: \mathcal{L}_k = 1 - \frac{2 \sum_i p_{ik}\, t_{ik} + s}{\sum_i p_{ik} + \sum_i t_{ik} + s}

    with :math:`p = \mathrm{softmax}(\text{logits})`, :math:`t` the one-hot target, sums over every counted pixel
    of the batch and :math:`s` = ``smooth``. With hard (one-hot) predictions and ``smooth=0`` it is one minus
    :func:`cvlab.metrics.dice_per_class`; ``smooth`` keeps a class absent from both target and prediction at a
    loss near 0 instead of 0 / 0.

    Reference: Milletari et al., "V-Net", 3DV 2016 (soft Dice); Sudre et al., "Generalised Dice Overlap as a Deep
    Learning Loss Function for Highly Unbalanced Segmentations", DLMIA 2017.

    Args:
        logits (Tensor[B, K, ...]): class scores.
        target (Tensor[B, ...]): class ids in ``[0, K)`` or ``ignore_index``.
        smooth (float): additive smoothing s >= 0 in numerator and denominator.
        ignore_index (int or None): target value of unlabeled pixels (left out of every sum).
        reduction (str): ``"mean"`` over the classes | ``"sum"`` | ``"none"`` (Tensor[K], one loss per class).

    Returns:
        Tensor: the loss, in the logits' dtype; a class with 0 / 0 (``smooth=0``, nothing counted) gives 0.

    Example:
        >>> logits = torch.tensor([[[5.0, -5.0]], [[-5.0, 5.0]]]).permute(1, 0, 2)  # (B=1, K=2, 2 pixels)
        >>> dice_loss(logits, torch.tensor([[0, 1]]), smooth=0.0) < 1e-4
        tensor(True)
    """
    check_logits_and_labels(logits, target)
    smooth = check_number(smooth, "smooth", minimum=0.0)
    check_choice(reduction, "reduction", _REDUCTIONS)
    counted, safe = _labels(logits, target, ignore_index)
    k = logits.shape[1]
    mask = counted.unsqueeze(1).to(logits.dtype)
    probs = logits.softmax(1) * mask
    onehot = F.one_hot(safe, k).movedim(-1, 1).to(logits.dtype) * mask
    dims = (0, *range(2, logits.dim()))
    inter, total = (probs * onehot).sum(dims), probs.sum(dims) + onehot.sum(dims)
    den = total + smooth
    dice = torch.where(den > 0, (2 * inter + smooth) / den.clamp(min=torch.finfo(logits.dtype).tiny), 1.0)
    loss = 1 - dice
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


class WeightedCrossEntropyLoss(nn.Module):
    """See `weighted_cross_entropy`; ``weight`` is a buffer, so it follows the module to a device."""

    def __init__(self, weight: Tensor | None = None, ignore_index: int | None = 255, reduction: str = "mean"):
        super().__init__()
        self.register_buffer("weight", None if weight is None else weight.detach().clone())
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return weighted_cross_entropy(logits, target, self.weight, self.ignore_index, self.reduction)


class SoftmaxFocalLoss(nn.Module):
    """See `softmax_focal_loss`; ``alpha`` is a buffer, so it follows the module to a device."""

    def __init__(
        self, gamma: float = 2.0, alpha: Tensor | None = None, ignore_index: int | None = 255, reduction: str = "mean"
    ):
        super().__init__()
        self.register_buffer("alpha", None if alpha is None else alpha.detach().clone())
        self.gamma, self.ignore_index, self.reduction = gamma, ignore_index, reduction

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return softmax_focal_loss(logits, target, self.gamma, self.alpha, self.ignore_index, self.reduction)


class DiceLoss(nn.Module):
    """See `dice_loss`."""

    def __init__(self, smooth: float = 1.0, ignore_index: int | None = 255, reduction: str = "mean"):
        super().__init__()
        self.smooth, self.ignore_index, self.reduction = smooth, ignore_index, reduction

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return dice_loss(logits, target, self.smooth, self.ignore_index, self.reduction)
