"""A4 "losses": plausible wrong implementations of each graded function (each must lose points), and correct
implementations different from the solution (each must earn full marks).

The mistakes the issue names are all here: focal loss without alpha, with alpha on both classes, with the unstable
``log(sigmoid(x))``, with gamma on p instead of 1 - p, averaged over the wrong elements; Dice on hard argmax
predictions, without smoothing (NaN on an absent class), averaged over the present classes only; weights not
normalised, frequencies not inverted, ignored pixels counted; GIoU as plain IoU, with the wrong enclosing box, without
eps. The library shortcuts (torchvision, PyTorch's binary cross-entropy, scikit-learn, cvlab) are refused.
"""

import torch
import torch.nn.functional as F


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


# --- sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none") ----------------------------------


def _focal(ce, p_t, targets, alpha, gamma, reduction):
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return _reduce(loss, reduction)


def focal_softplus(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """Correct: cross-entropy from softplus, p_t = exp(-ce), 1 - p_t = -expm1(-ce)."""
    ce = targets * F.softplus(-inputs) + (1 - targets) * F.softplus(inputs)
    loss = ce * (-torch.expm1(-ce)) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return _reduce(loss, reduction)


def focal_where(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """Correct: each branch written out with torch.where and the max(x, 0) - x y + log(1 + exp(-|x|)) form."""
    positive = targets > 0.5
    ce = inputs.clamp(min=0) - inputs * targets + torch.log1p(torch.exp(-inputs.abs()))
    p = torch.sigmoid(inputs)
    p_t = torch.where(positive, p, 1 - p)
    alpha_t = torch.where(positive, alpha, 1 - alpha) if alpha >= 0 else torch.ones_like(p)
    return _reduce(alpha_t * (1 - p_t) ** gamma * ce, reduction)


def focal_cvlab_shortcut(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    from cvlab.losses import sigmoid_focal_loss

    return sigmoid_focal_loss(inputs, targets, alpha, gamma, reduction)


def focal_torchvision_shortcut(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    from torchvision.ops import sigmoid_focal_loss

    return sigmoid_focal_loss(inputs, targets, alpha, gamma, reduction)


def focal_bce_with_logits(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """The right formula, but the cross-entropy from the refused torch.binary_cross_entropy_with_logits."""
    ce = torch.binary_cross_entropy_with_logits(inputs, targets, None, None, 0)
    return _focal(ce, torch.exp(-ce), targets, alpha, gamma, reduction)


def _stable(inputs, targets):
    ce = -(targets * F.logsigmoid(inputs) + (1 - targets) * F.logsigmoid(-inputs))
    p = torch.sigmoid(inputs)
    return ce, p * targets + (1 - p) * (1 - targets)


def focal_no_alpha(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    ce, p_t = _stable(inputs, targets)
    return _reduce(ce * (1 - p_t) ** gamma, reduction)


def focal_alpha_on_both(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """alpha multiplies positives and negatives alike."""
    ce, p_t = _stable(inputs, targets)
    loss = ce * (1 - p_t) ** gamma
    return _reduce(alpha * loss if alpha >= 0 else loss, reduction)


def focal_alpha_swapped(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """alpha on the negatives, 1 - alpha on the positives."""
    ce, p_t = _stable(inputs, targets)
    return _focal(ce, p_t, 1 - targets, alpha, gamma, reduction)


def focal_negative_alpha_applied(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """alpha = -1 used as a weight instead of switching the weighting off."""
    ce, p_t = _stable(inputs, targets)
    loss = (alpha * targets + (1 - alpha) * (1 - targets)) * ce * (1 - p_t) ** gamma
    return _reduce(loss, reduction)


def focal_log_sigmoid_unstable(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """log(sigmoid(x)) and log(1 - sigmoid(x)): -inf for large |x| in float32."""
    p = torch.sigmoid(inputs)
    ce = -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p))
    return _focal(ce, p * targets + (1 - p) * (1 - targets), targets, alpha, gamma, reduction)


def focal_clamped_log(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """p clamped to [1e-7, 1 - 1e-7] before the log: finite, but a confidently wrong logit's loss is capped."""
    p = torch.sigmoid(inputs).clamp(1e-7, 1 - 1e-7)
    ce = -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p))
    return _focal(ce, p * targets + (1 - p) * (1 - targets), targets, alpha, gamma, reduction)


def focal_gamma_on_p_t(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """p_t ** gamma: the easy examples weighted up instead of down."""
    ce, p_t = _stable(inputs, targets)
    return _focal(ce, 1 - p_t, targets, alpha, gamma, reduction)


def focal_gamma_on_p(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """(1 - p) ** gamma for every element: the modulating factor of the positives on the negatives too."""
    ce, _ = _stable(inputs, targets)
    return _focal(ce, torch.sigmoid(inputs), targets, alpha, gamma, reduction)


def focal_mean_over_positives(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """'mean' divided by the number of positives (RetinaNet's training normaliser), not by all elements."""
    ce, p_t = _stable(inputs, targets)
    loss = _focal(ce, p_t, targets, alpha, gamma, "none")
    return loss.sum() / targets.sum().clamp(min=1) if reduction == "mean" else _reduce(loss, reduction)


def focal_mean_over_last_axis(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """'mean' over the last axis then summed: the mean over the wrong elements."""
    ce, p_t = _stable(inputs, targets)
    loss = _focal(ce, p_t, targets, alpha, gamma, "none")
    return loss.mean(-1).sum() if reduction == "mean" else _reduce(loss, reduction)


# --- dice_loss(logits, target, smooth=1.0, ignore_index=255) --------------------------------------------------------


def _dice_terms(logits, target, ignore_index, probs=None, count_ignored=False):
    counted = torch.ones_like(target, dtype=torch.bool) if count_ignored else target != ignore_index
    safe = torch.where(target != ignore_index, target, 0)
    mask = counted.unsqueeze(1).to(logits.dtype)
    probs = (logits.softmax(1) if probs is None else probs) * mask
    onehot = F.one_hot(safe, logits.shape[1]).movedim(-1, 1).to(logits.dtype) * mask
    return probs, onehot


def _dice_from(inter, total, smooth):
    den = total + smooth
    return 1 - torch.where(den > 0, (2 * inter + smooth) / torch.where(den > 0, den, 1), 1)


def dice_per_class_loop(logits, target, smooth=1.0, ignore_index=255):
    """Correct: one class at a time over the counted pixels, picked by boolean indexing."""
    counted = target != ignore_index
    probs = logits.softmax(1).movedim(1, -1)[counted]  # (M, K)
    truth = target[counted]
    losses = []
    for k in range(logits.shape[1]):
        p, t = probs[:, k], (truth == k).to(logits.dtype)
        den = p.sum() + t.sum() + smooth
        losses.append(1 - (2 * (p * t).sum() + smooth) / den if den > 0 else den * 0)
    return torch.stack(losses).mean()


def dice_gather(logits, target, smooth=1.0, ignore_index=255):
    """Correct: the intersection gathers each pixel's true-class probability; the target sums are a bincount."""
    k = logits.shape[1]
    counted = target != ignore_index
    safe = torch.where(counted, target, 0)
    probs = logits.softmax(1)
    true_p = probs.gather(1, safe.unsqueeze(1)).squeeze(1) * counted
    inter = torch.zeros(k, dtype=logits.dtype, device=logits.device).index_add_(0, safe.flatten(), true_p.flatten())
    t_sum = torch.bincount(safe[counted], minlength=k).to(logits.dtype)
    p_sum = (probs * counted.unsqueeze(1)).sum((0, 2, 3))
    return _dice_from(inter, p_sum + t_sum, smooth).mean()


def dice_cvlab_shortcut(logits, target, smooth=1.0, ignore_index=255):
    from cvlab.losses import dice_loss

    return dice_loss(logits, target, smooth, ignore_index)


def dice_hard_argmax(logits, target, smooth=1.0, ignore_index=255):
    """One-hot of the argmax instead of the softmax: the metric, not a differentiable loss."""
    hard = F.one_hot(logits.argmax(1), logits.shape[1]).movedim(-1, 1).to(logits.dtype)
    p, t = _dice_terms(logits, target, ignore_index, probs=hard)
    return _dice_from((p * t).sum((0, 2, 3)), p.sum((0, 2, 3)) + t.sum((0, 2, 3)), smooth).mean()


def dice_no_smoothing(logits, target, smooth=1.0, ignore_index=255):
    """smooth ignored, and 0 / 0 left as it is: NaN for a class in no sum."""
    p, t = _dice_terms(logits, target, ignore_index)
    return (1 - 2 * (p * t).sum((0, 2, 3)) / (p.sum((0, 2, 3)) + t.sum((0, 2, 3)))).mean()


def dice_nan_on_empty_class(logits, target, smooth=1.0, ignore_index=255):
    """Smoothing right, but 0 / 0 (smooth = 0, nothing counted) left as NaN."""
    p, t = _dice_terms(logits, target, ignore_index)
    inter, total = (p * t).sum((0, 2, 3)), p.sum((0, 2, 3)) + t.sum((0, 2, 3))
    return (1 - (2 * inter + smooth) / (total + smooth)).mean()


def dice_present_classes_only(logits, target, smooth=1.0, ignore_index=255):
    """The mean over the classes present in the target, not over all K."""
    p, t = _dice_terms(logits, target, ignore_index)
    loss = _dice_from((p * t).sum((0, 2, 3)), p.sum((0, 2, 3)) + t.sum((0, 2, 3)), smooth)
    present = t.sum((0, 2, 3)) > 0
    return loss[present].mean() if present.any() else loss.sum() * 0


def dice_per_image(logits, target, smooth=1.0, ignore_index=255):
    """One Dice per image and class, then averaged: not the batch-wide sums."""
    p, t = _dice_terms(logits, target, ignore_index)
    return _dice_from((p * t).sum((2, 3)), p.sum((2, 3)) + t.sum((2, 3)), smooth).mean()


def dice_ignored_probabilities_counted(logits, target, smooth=1.0, ignore_index=255):
    """The target of ignored pixels masked, but their probabilities still in the denominator."""
    p, t = _dice_terms(logits, target, ignore_index)
    full = logits.softmax(1)
    return _dice_from((p * t).sum((0, 2, 3)), full.sum((0, 2, 3)) + t.sum((0, 2, 3)), smooth).mean()


def dice_ignored_as_class_zero(logits, target, smooth=1.0, ignore_index=255):
    """Ignored pixels counted as class 0."""
    p, t = _dice_terms(logits, target, ignore_index, count_ignored=True)
    return _dice_from((p * t).sum((0, 2, 3)), p.sum((0, 2, 3)) + t.sum((0, 2, 3)), smooth).mean()


def dice_ignore_255_only(logits, target, smooth=1.0, ignore_index=255):
    """The argument ignored: 255 hard-coded."""
    return dice_gather(logits, target, smooth, 255)


def dice_sigmoid(logits, target, smooth=1.0, ignore_index=255):
    """Per-class sigmoids instead of the softmax over classes."""
    p, t = _dice_terms(logits, target, ignore_index, probs=logits.sigmoid())
    return _dice_from((p * t).sum((0, 2, 3)), p.sum((0, 2, 3)) + t.sum((0, 2, 3)), smooth).mean()


def dice_squared_denominator(logits, target, smooth=1.0, ignore_index=255):
    """V-Net's sum of squares in the denominator, not the plain sums the task defines."""
    p, t = _dice_terms(logits, target, ignore_index)
    return _dice_from((p * t).sum((0, 2, 3)), (p * p).sum((0, 2, 3)) + (t * t).sum((0, 2, 3)), smooth).mean()


def dice_smooth_in_numerator_only(logits, target, smooth=1.0, ignore_index=255):
    p, t = _dice_terms(logits, target, ignore_index)
    total = p.sum((0, 2, 3)) + t.sum((0, 2, 3))
    return (1 - torch.where(total > 0, (2 * (p * t).sum((0, 2, 3)) + smooth) / total.clamp(min=1e-12), 1)).mean()


# --- class_weights(target, num_classes, method="inverse", ignore_index=255) ----------------------------------------


def _per_image(target, num_classes, ignore_index):
    """(B, K) counted pixels of each class in each image."""
    flat = target.reshape(target.shape[0], -1)
    return torch.stack([((flat == k) & (flat != ignore_index)).sum(1) for k in range(num_classes)], 1)


def _median_weights(counts, images, present, lower=True):
    freq = counts / images.clamp(min=1)
    if not present.any():
        return torch.zeros_like(freq)
    values = freq[present].sort().values
    n = len(values)
    med = values[(n - 1) // 2] if lower or n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
    return torch.where(present, med / torch.where(present, freq, 1), 0)


def weights_loop(target, num_classes, method="inverse", ignore_index=255):
    """Correct: counts per class and image in Python loops, the median by sorting."""
    per_image = _per_image(target, num_classes, ignore_index).float()
    counts = per_image.sum(0)
    present = counts > 0
    if method == "inverse":
        total = counts.sum()
        return torch.stack([total / (num_classes * c) if c > 0 else c * 0 for c in counts])
    images = torch.stack([per_image[per_image[:, k] > 0].sum() for k in range(num_classes)])
    return _median_weights(counts, images, present)


def weights_bincount(target, num_classes, method="inverse", ignore_index=255):
    """Correct: one bincount over (image, class) pairs, inverse frequency as N / (K n_k) directly."""
    b = target.shape[0]
    counted = target != ignore_index
    image = torch.arange(b, device=target.device).view(-1, *[1] * (target.dim() - 1)).expand_as(target)
    index = (image * num_classes + torch.where(counted, target, 0))[counted]
    per_image = torch.bincount(index, minlength=b * num_classes).view(b, num_classes).float()
    counts = per_image.sum(0)
    present = counts > 0
    if method == "inverse":
        return torch.where(present, counts.sum() / (num_classes * torch.where(present, counts, 1)), 0)
    images = ((per_image > 0) * per_image.sum(1, keepdim=True)).sum(0)
    return _median_weights(counts, images, present)


def weights_cvlab_shortcut(target, num_classes, method="inverse", ignore_index=255):
    from cvlab.losses import class_weights

    return class_weights(target, num_classes, method, ignore_index)


def weights_sklearn_shortcut(target, num_classes, method="inverse", ignore_index=255):
    """scikit-learn's balanced weights of the present classes, 0 for the absent ones."""
    from sklearn.utils.class_weight import compute_class_weight

    y = target[target != ignore_index]
    present = torch.unique(y)
    w = torch.zeros(num_classes)
    balanced = compute_class_weight("balanced", classes=present.numpy(), y=y.numpy())
    w[present] = torch.as_tensor(balanced, dtype=torch.float32) * len(present) / num_classes
    return w


def _counts(target, num_classes, ignore_index):
    per_image = _per_image(target, num_classes, ignore_index).float()
    return per_image, per_image.sum(0), per_image.sum(0) > 0


def weights_not_normalised(target, num_classes, method="inverse", ignore_index=255):
    """1 / n_k: inverse counts, not inverse frequencies."""
    per_image, counts, present = _counts(target, num_classes, ignore_index)
    if method == "median":
        return weights_loop(target, num_classes, method, ignore_index)
    return torch.where(present, 1 / torch.where(present, counts, 1), 0)


def weights_without_k(target, num_classes, method="inverse", ignore_index=255):
    """N / n_k: the 1 / K of the balanced weights forgotten."""
    return weights_loop(target, num_classes, method, ignore_index) * (num_classes if method == "inverse" else 1)


def weights_sum_to_one(target, num_classes, method="inverse", ignore_index=255):
    """Inverse frequencies rescaled to sum to 1."""
    w = weights_loop(target, num_classes, method, ignore_index)
    return w / w.sum().clamp(min=1e-12)


def weights_frequency_not_inverse(target, num_classes, method="inverse", ignore_index=255):
    """The frequencies themselves (K n_k / N, f_k / median f): rare classes weighted down."""
    w = weights_loop(target, num_classes, method, ignore_index)
    return torch.where(w > 0, 1 / torch.where(w > 0, w, 1), 0)


def weights_ignored_counted(target, num_classes, method="inverse", ignore_index=255):
    """Ignored pixels in the pixel total N (and in each image's pixels)."""
    per_image, counts, present = _counts(target, num_classes, ignore_index)
    if method == "inverse":
        return torch.where(present, target.numel() / (num_classes * torch.where(present, counts, 1)), 0)
    pixels = torch.full((target.shape[0], 1), target[0].numel(), dtype=torch.float32)
    return _median_weights(counts, ((per_image > 0) * pixels).sum(0), present)


def weights_absent_not_zero(target, num_classes, method="inverse", ignore_index=255):
    """Absent classes as if they had one pixel (a clamp instead of a zero)."""
    per_image, counts, present = _counts(target, num_classes, ignore_index)
    if method == "median":
        return weights_loop(target, num_classes, method, ignore_index)
    return counts.sum() / (num_classes * counts.clamp(min=1))


def weights_median_global_frequency(target, num_classes, method="inverse", ignore_index=255):
    """Median frequency with f_k = n_k / N (all images), not over the images where class k is present."""
    per_image, counts, present = _counts(target, num_classes, ignore_index)
    if method == "inverse":
        return weights_loop(target, num_classes, method, ignore_index)
    return _median_weights(counts, counts.sum().expand(num_classes), present)


def weights_median_over_all_classes(target, num_classes, method="inverse", ignore_index=255):
    """The median taken over all K frequencies, the absent classes' zeros included."""
    per_image, counts, present = _counts(target, num_classes, ignore_index)
    if method == "inverse":
        return weights_loop(target, num_classes, method, ignore_index)
    freq = counts / ((per_image > 0) * per_image.sum(1, keepdim=True)).sum(0).clamp(min=1)
    return torch.where(present, freq.median() / torch.where(present, freq, 1), 0)


def weights_median_averaged(target, num_classes, method="inverse", ignore_index=255):
    """numpy's median (the mean of the two middle values) instead of the lower middle value the task asks for."""
    per_image, counts, present = _counts(target, num_classes, ignore_index)
    if method == "inverse":
        return weights_loop(target, num_classes, method, ignore_index)
    return _median_weights(counts, ((per_image > 0) * per_image.sum(1, keepdim=True)).sum(0), present, lower=False)


# --- giou_loss(boxes1, boxes2, reduction="none", eps=1e-7) ---------------------------------------------------------


def _areas(boxes1, boxes2, clamp=True, plus_one=0.0):
    x1, y1, x2, y2 = boxes1.unbind(-1)
    u1, v1, u2, v2 = boxes2.unbind(-1)
    w = torch.minimum(x2, u2) - torch.maximum(x1, u1) + plus_one
    h = torch.minimum(y2, v2) - torch.maximum(y1, v1) + plus_one
    inter = w.clamp(min=0) * h.clamp(min=0) if clamp else w * h
    area1 = (x2 - x1 + plus_one) * (y2 - y1 + plus_one)
    area2 = (u2 - u1 + plus_one) * (v2 - v1 + plus_one)
    hull = ((torch.maximum(x2, u2) - torch.minimum(x1, u1) + plus_one)
            * (torch.maximum(y2, v2) - torch.minimum(y1, v1) + plus_one))
    return inter, area1 + area2 - inter, hull


def _giou_reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean() if loss.numel() else loss.sum() * 0
    return _reduce(loss, reduction)


def giou_stacked_corners(boxes1, boxes2, reduction="none", eps=1e-7):
    """Correct: intersection and hull boxes as stacked corners, sizes by prod."""
    lo, hi = torch.maximum(boxes1[:, :2], boxes2[:, :2]), torch.minimum(boxes1[:, 2:], boxes2[:, 2:])
    inter = (hi - lo).clamp(min=0).prod(-1)
    area1, area2 = (boxes1[:, 2:] - boxes1[:, :2]).prod(-1), (boxes2[:, 2:] - boxes2[:, :2]).prod(-1)
    union = area1 + area2 - inter
    hull = (torch.maximum(boxes1[:, 2:], boxes2[:, 2:]) - torch.minimum(boxes1[:, :2], boxes2[:, :2])).prod(-1)
    return _giou_reduce(1 - inter / (union + eps) + (hull - union) / (hull + eps), reduction)


def giou_loop(boxes1, boxes2, reduction="none", eps=1e-7):
    """Correct: one pair at a time, with a zero-width intersection where the boxes do not overlap."""
    losses = []
    for a, b in zip(boxes1, boxes2, strict=True):
        iw = max(min(a[2], b[2]) - max(a[0], b[0]), a.new_zeros(()))
        ih = max(min(a[3], b[3]) - max(a[1], b[1]), a.new_zeros(()))
        inter = iw * ih
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        hull = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
        losses.append(1 - (inter / (union + eps) - (hull - union) / (hull + eps)))
    loss = torch.stack(losses) if losses else boxes1.new_zeros(0)
    return _giou_reduce(loss, reduction)


def giou_cvlab_shortcut(boxes1, boxes2, reduction="none", eps=1e-7):
    from cvlab.losses import giou_loss

    return giou_loss(boxes1, boxes2, reduction, eps)


def giou_torchvision_shortcut(boxes1, boxes2, reduction="none", eps=1e-7):
    from torchvision.ops import generalized_box_iou_loss

    return generalized_box_iou_loss(boxes1, boxes2, reduction, eps)


def giou_torchvision_pairwise_diagonal(boxes1, boxes2, reduction="none", eps=1e-7):
    from torchvision.ops import generalized_box_iou

    return _giou_reduce(1 - generalized_box_iou(boxes1, boxes2).diagonal(), reduction)


def giou_iou_only(boxes1, boxes2, reduction="none", eps=1e-7):
    """1 - IoU: no penalty for the empty part of the enclosing box."""
    inter, union, _ = _areas(boxes1, boxes2)
    return _giou_reduce(1 - inter / (union + eps), reduction)


def giou_hull_is_intersection_box(boxes1, boxes2, reduction="none", eps=1e-7):
    """The 'enclosing' box from the inner corners (max of the x1, min of the x2): the intersection box."""
    inter, union, _ = _areas(boxes1, boxes2)
    x1, y1, x2, y2 = boxes1.unbind(-1)
    u1, v1, u2, v2 = boxes2.unbind(-1)
    hull = (torch.minimum(x2, u2) - torch.maximum(x1, u1)).abs() * (torch.minimum(y2, v2) - torch.maximum(y1, v1)).abs()
    return _giou_reduce(1 - inter / (union + eps) + (hull - union) / (hull + eps), reduction)


def giou_hull_minus_intersection(boxes1, boxes2, reduction="none", eps=1e-7):
    """(C - I) / C instead of (C - U) / C."""
    inter, union, hull = _areas(boxes1, boxes2)
    return _giou_reduce(1 - inter / (union + eps) + (hull - inter) / (hull + eps), reduction)


def giou_penalty_over_union(boxes1, boxes2, reduction="none", eps=1e-7):
    """(C - U) / U: the penalty divided by the union instead of the enclosing area."""
    inter, union, hull = _areas(boxes1, boxes2)
    return _giou_reduce(1 - inter / (union + eps) + (hull - union) / (union + eps), reduction)


def giou_no_eps(boxes1, boxes2, reduction="none", eps=1e-7):
    """No eps: 0 / 0 = NaN for zero-area boxes."""
    inter, union, hull = _areas(boxes1, boxes2)
    return _giou_reduce(1 - inter / union + (hull - union) / hull, reduction)


def giou_eps_fixed(boxes1, boxes2, reduction="none", eps=1e-7):
    """eps hard-coded to 1e-7: the argument ignored."""
    inter, union, hull = _areas(boxes1, boxes2)
    return _giou_reduce(1 - inter / (union + 1e-7) + (hull - union) / (hull + 1e-7), reduction)


def giou_intersection_not_clamped(boxes1, boxes2, reduction="none", eps=1e-7):
    """Negative overlaps not clamped: two negative sides multiply to a positive 'intersection'."""
    inter, union, hull = _areas(boxes1, boxes2, clamp=False)
    return _giou_reduce(1 - inter / (union + eps) + (hull - union) / (hull + eps), reduction)


def giou_product_clamped(boxes1, boxes2, reduction="none", eps=1e-7):
    """The product clamped instead of each side: boxes apart on both axes still 'overlap'."""
    inter, _, hull = _areas(boxes1, boxes2, clamp=False)
    inter = inter.clamp(min=0)
    union = (boxes1[:, 2:] - boxes1[:, :2]).prod(-1) + (boxes2[:, 2:] - boxes2[:, :2]).prod(-1) - inter
    return _giou_reduce(1 - inter / (union + eps) + (hull - union) / (hull + eps), reduction)


def giou_plus_one_pixel(boxes1, boxes2, reduction="none", eps=1e-7):
    """The old Pascal VOC convention: widths x2 - x1 + 1."""
    inter, union, hull = _areas(boxes1, boxes2, plus_one=1.0)
    return _giou_reduce(1 - inter / (union + eps) + (hull - union) / (hull + eps), reduction)


def giou_mean_nan_when_empty(boxes1, boxes2, reduction="none", eps=1e-7):
    """'mean' of no box: NaN instead of torchvision's 0."""
    inter, union, hull = _areas(boxes1, boxes2)
    return _reduce(1 - inter / (union + eps) + (hull - union) / (hull + eps), reduction)


WRONG = {
    "sigmoid_focal_loss": [
        focal_cvlab_shortcut, focal_torchvision_shortcut, focal_bce_with_logits, focal_no_alpha, focal_alpha_on_both,
        focal_alpha_swapped, focal_negative_alpha_applied, focal_log_sigmoid_unstable, focal_clamped_log,
        focal_gamma_on_p_t, focal_gamma_on_p, focal_mean_over_positives, focal_mean_over_last_axis,
    ],
    "dice_loss": [
        dice_cvlab_shortcut, dice_hard_argmax, dice_no_smoothing, dice_nan_on_empty_class, dice_present_classes_only,
        dice_per_image, dice_ignored_probabilities_counted, dice_ignored_as_class_zero, dice_ignore_255_only,
        dice_sigmoid, dice_squared_denominator, dice_smooth_in_numerator_only,
    ],
    "class_weights": [
        weights_cvlab_shortcut, weights_sklearn_shortcut, weights_not_normalised, weights_without_k,
        weights_sum_to_one, weights_frequency_not_inverse, weights_ignored_counted, weights_absent_not_zero,
        weights_median_global_frequency, weights_median_over_all_classes, weights_median_averaged,
    ],
    "giou_loss": [
        giou_cvlab_shortcut, giou_torchvision_shortcut, giou_torchvision_pairwise_diagonal, giou_iou_only,
        giou_hull_is_intersection_box, giou_hull_minus_intersection, giou_penalty_over_union, giou_no_eps,
        giou_eps_fixed, giou_intersection_not_clamped, giou_product_clamped, giou_plus_one_pixel,
        giou_mean_nan_when_empty,
    ],
}

CORRECT = {
    "sigmoid_focal_loss": [focal_softplus, focal_where],
    "dice_loss": [dice_per_class_loop, dice_gather],
    "class_weights": [weights_loop, weights_bincount],
    "giou_loss": [giou_stacked_corners, giou_loop],
}
