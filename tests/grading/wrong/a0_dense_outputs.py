"""A0 "dense outputs": plausible wrong implementations of each graded function and answer (each must lose
points), and correct implementations different from the solution (each must earn full marks)."""

import torch
import torch.nn.functional as F


def _classes(labels, k):
    return torch.arange(k, device=labels.device).view(-1, 1, 1)


def _one_hot(labels, k):
    return (labels.unsqueeze(-3) == _classes(labels, k)).float()


def _confusion(pred, target, k, ignore_index=255):
    keep = target != ignore_index
    return torch.bincount(target[keep] * k + pred[keep], minlength=k * k).reshape(k, k)


# --- one_hot(labels, num_classes) ------------------------------------------------------------------------------


def one_hot_torch_shortcut(labels, num_classes):
    return F.one_hot(labels.clamp(0, num_classes - 1), num_classes).movedim(-1, -3).float()


def one_hot_classes_last(labels, num_classes):
    return (labels.unsqueeze(-1) == torch.arange(num_classes, device=labels.device)).float()


def one_hot_bool(labels, num_classes):
    return labels.unsqueeze(-3) == _classes(labels, num_classes)


def one_hot_ignore_clamped(labels, num_classes):
    return _one_hot(labels.clamp(max=num_classes - 1), num_classes)


def one_hot_classes_first_in_batches(labels, num_classes):
    return (labels.unsqueeze(0) == torch.arange(num_classes, device=labels.device).view(-1, *[1] * labels.dim()))\
        .float()


def one_hot_classes_from_one(labels, num_classes):
    return (labels.unsqueeze(-3) == _classes(labels, num_classes) + 1).float()


def one_hot_num_classes_from_labels(labels, num_classes):
    valid = labels[labels != 255]
    return _one_hot(labels, int(valid.max()) + 1)


def one_hot_square_only(labels, num_classes):
    side = labels.shape[-1]
    out = torch.zeros(num_classes, side, side)
    for k in range(num_classes):
        out[k] = (labels == k).float()
    return out


def one_hot_scatter_without_ignore(labels, num_classes):
    out = torch.zeros(*labels.shape[:-2], num_classes, *labels.shape[-2:], device=labels.device)
    return out.scatter_(-3, labels.unsqueeze(-3), 1.0)


def one_hot_mutates_labels(labels, num_classes):
    labels[labels == 255] = num_classes
    return _one_hot(labels, num_classes)


# --- from_one_hot(scores, ignore_index=255) --------------------------------------------------------------------


def one_hot_only_255_ignored(labels, num_classes):
    # indexes rows of the identity: -1 wraps around to the last class, and 7 >= K is an error
    picked = torch.eye(num_classes, device=labels.device)[labels.masked_fill(labels == 255, 0)]
    return picked.masked_fill((labels == 255)[..., None], 0).movedim(-1, -3)


def _ignore_empty(scores, labels, ignore_index):
    return labels.masked_fill(~(scores != 0).any(-3), ignore_index)


def from_one_hot_axis_0(scores, ignore_index=255):
    return scores.argmax(0).masked_fill(~(scores != 0).any(0), ignore_index)


def from_one_hot_last_axis(scores, ignore_index=255):
    return scores.argmax(-1)


def from_one_hot_no_ignore(scores, ignore_index=255):
    return scores.argmax(-3)


def from_one_hot_ignore_hardcoded(scores, ignore_index=255):
    return _ignore_empty(scores, scores.argmax(-3), 255)


def from_one_hot_max_values(scores, ignore_index=255):
    return _ignore_empty(scores, scores.max(-3).values.long(), ignore_index)


def from_one_hot_weighted_sum(scores, ignore_index=255):
    classes = torch.arange(scores.shape[-3], device=scores.device, dtype=scores.dtype).view(-1, 1, 1)
    return _ignore_empty(scores, (scores * classes).sum(-3).long(), ignore_index)


def from_one_hot_argmin(scores, ignore_index=255):
    return _ignore_empty(scores, scores.argmin(-3), ignore_index)


def from_one_hot_int32(scores, ignore_index=255):
    return _ignore_empty(scores, scores.argmax(-3), ignore_index).int()


# --- confusion_matrix(pred, target, num_classes, ignore_index=255) ---------------------------------------------


def from_one_hot_rounded(scores, ignore_index=255):
    # rounding "float noise" away merges near ties, and argmax then takes the first
    return _ignore_empty(scores, scores.round(decimals=3).argmax(dim=-3), ignore_index)


def from_one_hot_squeezed(scores, ignore_index=255):
    # squeeze() drops a batch of one (and a 1-pixel-high map) along with what it was meant to drop
    squeezed = scores.squeeze()
    return _ignore_empty(squeezed, squeezed.argmax(dim=-3 if squeezed.dim() >= 3 else 0), ignore_index)


def confusion_matrix_cvlab_shortcut(pred, target, num_classes, ignore_index=255):
    from cvlab.metrics import confusion_matrix

    return confusion_matrix(pred, target, num_classes, ignore_index)


def confusion_matrix_sklearn_shortcut(pred, target, num_classes, ignore_index=255):
    from sklearn.metrics import confusion_matrix

    keep = target != ignore_index
    conf = confusion_matrix(target[keep].cpu().numpy(), pred[keep].cpu().numpy(), labels=list(range(num_classes)))
    return torch.as_tensor(conf, device=pred.device)


def confusion_matrix_transposed(pred, target, num_classes, ignore_index=255):
    return _confusion(pred, target, num_classes, ignore_index).T


def confusion_matrix_ignore_not_skipped(pred, target, num_classes, ignore_index=255):
    return _confusion(pred, target.clamp(max=num_classes - 1), num_classes, ignore_index)


def confusion_matrix_ignore_on_pred(pred, target, num_classes, ignore_index=255):
    keep = pred != ignore_index
    pairs = target[keep] * num_classes + pred[keep]
    return torch.bincount(pairs, minlength=num_classes * num_classes)[: num_classes * num_classes]\
        .reshape(num_classes, num_classes)


def confusion_matrix_ignore_hardcoded(pred, target, num_classes, ignore_index=255):
    return _confusion(pred, target, num_classes, 255)


def confusion_matrix_no_minlength(pred, target, num_classes, ignore_index=255):
    keep = target != ignore_index
    return torch.bincount(target[keep] * num_classes + pred[keep]).reshape(num_classes, num_classes)


def confusion_matrix_row_stride_off_by_one(pred, target, num_classes, ignore_index=255):
    keep = target != ignore_index
    pairs = target[keep] * (num_classes - 1) + pred[keep]
    return torch.bincount(pairs, minlength=num_classes * num_classes)[: num_classes * num_classes]\
        .reshape(num_classes, num_classes)


def confusion_matrix_normalised(pred, target, num_classes, ignore_index=255):
    conf = _confusion(pred, target, num_classes, ignore_index).float()
    return conf / conf.sum(1, keepdim=True).clamp(min=1)


def confusion_matrix_first_image_only(pred, target, num_classes, ignore_index=255):
    if pred.dim() == 3:
        pred, target = pred[0], target[0]
    return _confusion(pred, target, num_classes, ignore_index)


def confusion_matrix_rows_assume_square(pred, target, num_classes, ignore_index=255):
    conf = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=pred.device)
    for row in range(target.shape[-1]):
        conf += _confusion(pred[..., row, :], target[..., row, :], num_classes, ignore_index)
    return conf


# --- pixel_accuracy(conf) ---------------------------------------------------------------------------------------


def confusion_matrix_ignore_by_range(pred, target, num_classes, ignore_index=255):
    # drops pairs outside the K x K bins: that removes 255, but not an ignore_index inside [0, K)
    pairs = target.flatten() * num_classes + pred.flatten()
    pairs = pairs[(pairs >= 0) & (pairs < num_classes * num_classes)]
    return torch.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def pixel_accuracy_over_matrix_size(conf):
    return conf.diag().sum() / conf.numel()


def pixel_accuracy_integer_division(conf):
    return conf.diag().sum() // conf.sum()


def pixel_accuracy_balanced(conf):
    return (conf.diag() / conf.sum(1)).nanmean()


def pixel_accuracy_diagonal_mean(conf):
    return conf.diag().float().mean() / conf.sum()


def pixel_accuracy_percent(conf):
    return 100 * conf.diag().sum() / conf.sum()


def pixel_accuracy_without_class_0(conf):
    return conf.diag()[1:].sum() / conf[1:].sum()


# --- iou_per_class(conf) ----------------------------------------------------------------------------------------


def _iou(conf, eps=0.0):
    inter = conf.diag()
    return inter / (conf.sum(0) + conf.sum(1) - inter + eps)


def iou_per_class_nan_as_zero(conf):
    return _iou(conf).nan_to_num(0.0)


def iou_per_class_recall(conf):
    return conf.diag() / conf.sum(1)


def iou_per_class_precision(conf):
    return conf.diag() / conf.sum(0)


def iou_per_class_dice(conf):
    return 2 * conf.diag() / (conf.sum(0) + conf.sum(1))


def iou_per_class_diagonal_counted_twice(conf):
    return conf.diag() / (conf.sum(0) + conf.sum(1))


def iou_per_class_mean(conf):
    return _iou(conf).nanmean()


def iou_per_class_rows_twice(conf):
    inter = conf.diag()
    return inter / (conf.sum(1) + conf.sum(1) - inter)


def iou_per_class_epsilon(conf):
    return _iou(conf, eps=1e-6)


def iou_per_class_unpredicted_is_nan(conf):
    # "never predicted: undefined" -- but a class in the target has a union, and its IoU is 0
    iou = _iou(conf)
    return iou.masked_fill(conf.sum(0) == 0, float("nan"))


WRONG = {
    "one_hot": [one_hot_torch_shortcut, one_hot_classes_last, one_hot_bool, one_hot_ignore_clamped,
                one_hot_classes_first_in_batches, one_hot_classes_from_one, one_hot_num_classes_from_labels,
                one_hot_square_only, one_hot_scatter_without_ignore, one_hot_mutates_labels,
                one_hot_only_255_ignored],
    "from_one_hot": [from_one_hot_axis_0, from_one_hot_last_axis, from_one_hot_no_ignore,
                     from_one_hot_ignore_hardcoded, from_one_hot_max_values, from_one_hot_weighted_sum,
                     from_one_hot_argmin, from_one_hot_int32, from_one_hot_rounded, from_one_hot_squeezed],
    "confusion_matrix": [confusion_matrix_cvlab_shortcut, confusion_matrix_sklearn_shortcut,
                         confusion_matrix_transposed, confusion_matrix_ignore_not_skipped,
                         confusion_matrix_ignore_on_pred, confusion_matrix_ignore_hardcoded,
                         confusion_matrix_no_minlength, confusion_matrix_row_stride_off_by_one,
                         confusion_matrix_normalised, confusion_matrix_first_image_only,
                         confusion_matrix_rows_assume_square, confusion_matrix_ignore_by_range],
    "pixel_accuracy": [pixel_accuracy_over_matrix_size, pixel_accuracy_integer_division, pixel_accuracy_balanced,
                       pixel_accuracy_diagonal_mean, pixel_accuracy_percent, pixel_accuracy_without_class_0],
    "iou_per_class": [iou_per_class_nan_as_zero, iou_per_class_recall, iou_per_class_precision, iou_per_class_dice,
                      iou_per_class_diagonal_counted_twice, iou_per_class_mean, iou_per_class_rows_twice,
                      iou_per_class_epsilon, iou_per_class_unpredicted_is_nan],
    # answers: the accuracy given as mIoU, the ship's IoU alone, percentages, a NaN-as-0 mean over a third class
    "ships_accuracy": [0.475, 0.05, 95.0, 0.5, 0.0],
    "ships_miou": [0.95, 0.0, 47.5, 0.5, 0.316667],
}


# --- different correct implementations --------------------------------------------------------------------------


def one_hot_loop(labels, num_classes):
    out = torch.zeros(*labels.shape[:-2], num_classes, *labels.shape[-2:], device=labels.device)
    for k in range(num_classes):
        out[..., k, :, :] = (labels == k).float()
    return out


def one_hot_stack(labels, num_classes):
    return torch.stack([labels == k for k in range(num_classes)], dim=-3).to(torch.float32)


def one_hot_scatter_masked(labels, num_classes):
    valid = (labels >= 0) & (labels < num_classes)
    out = torch.zeros(*labels.shape[:-2], num_classes + 1, *labels.shape[-2:], device=labels.device)
    index = torch.where(valid, labels, torch.full_like(labels, num_classes)).unsqueeze(-3)
    return out.scatter_(-3, index, 1.0).narrow(-3, 0, num_classes)


def from_one_hot_where(scores, ignore_index=255):
    _, labels = scores.max(dim=-3)
    return torch.where(scores.abs().sum(-3) > 0, labels, torch.full_like(labels, ignore_index))


def confusion_matrix_loops(pred, target, num_classes, ignore_index=255):
    conf = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=pred.device)
    for i in range(num_classes):
        for j in range(num_classes):
            conf[i, j] = ((target == i) & (pred == j) & (target != ignore_index)).sum()
    return conf


def confusion_matrix_index_put(pred, target, num_classes, ignore_index=255):
    keep = target != ignore_index
    conf = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=pred.device)
    ones = torch.ones(int(keep.sum()), dtype=torch.int64, device=pred.device)
    return conf.index_put_((target[keep], pred[keep]), ones, accumulate=True)


def from_one_hot_all_zero(scores, ignore_index=255):
    return torch.where((scores == 0).all(dim=-3), ignore_index, scores.argmax(dim=-3))


def pixel_accuracy_float64(conf):
    return conf.trace().double() / conf.sum().double()


def pixel_accuracy_masked_sum(conf):
    eye = torch.eye(conf.shape[0], dtype=torch.bool, device=conf.device)
    return conf[eye].sum().float() / conf.sum().float()


def iou_per_class_where(conf):
    inter = torch.diagonal(conf).float()
    union = conf.sum(0).float() + conf.sum(1).float() - inter
    return torch.where(union > 0, inter / union.clamp(min=1), float("nan"))


def iou_per_class_loop(conf):
    out = torch.empty(conf.shape[0])
    for k in range(conf.shape[0]):
        union = conf[k, :].sum() + conf[:, k].sum() - conf[k, k]
        out[k] = conf[k, k] / union if union > 0 else float("nan")
    return out


CORRECT = {
    "one_hot": [one_hot_loop, one_hot_stack, one_hot_scatter_masked],
    "from_one_hot": [from_one_hot_where, from_one_hot_all_zero],
    "confusion_matrix": [confusion_matrix_loops, confusion_matrix_index_put],
    "pixel_accuracy": [pixel_accuracy_float64, pixel_accuracy_masked_sum],
    "iou_per_class": [iou_per_class_loop, iou_per_class_where],
    "ships_accuracy": [0.95, torch.tensor(0.95)],
    "ships_miou": [0.475, torch.tensor(0.475, dtype=torch.float64)],
}
