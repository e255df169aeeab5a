"""Semantic segmentation scores from a confusion matrix: pixel accuracy, IoU (Jaccard), Dice (F1) per class.

Every score is a function of the ``(K, K)`` confusion matrix, so a whole validation set is scored by summing
the matrices of its batches first and computing the scores once — never by averaging per-batch mIoUs, which
weighs a batch with three pixels of a class as much as one with three thousand.

Reference: M. Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge", IJCV 2010 (IoU as the
segmentation score).
"""

from __future__ import annotations

import torch
from torch import Tensor

from cvlab._validate import check_int, check_labels, check_same_shape, check_tensor

__all__ = [
    "confusion_matrix",
    "pixel_accuracy",
    "iou_per_class",
    "mean_iou",
    "dice_per_class",
    "segmentation_scores",
]


def confusion_matrix(
    pred: Tensor, target: Tensor, num_classes: int, ignore_index: int | None = 255
) -> Tensor:
    """Count pixels by (true class, predicted class).

    ``conf[i, j]`` is the number of pixels of true class ``i`` predicted as class ``j`` — rows are the
    target, columns the prediction, as in ``sklearn.metrics.confusion_matrix``. Pixels whose target is
    ``ignore_index`` are left out (their prediction is not inspected).

    Args:
        pred (Tensor[...]): predicted class ids, any integer dtype, values in ``[0, num_classes)``.
        target (Tensor[...]): true class ids, same shape as ``pred``, values in ``[0, num_classes)`` or
            ``ignore_index``.
        num_classes (int): K, the number of classes.
        ignore_index (int or None): target value that marks unlabeled pixels; ``None`` ignores nothing.

    Returns:
        Tensor[K, K]: int64 pixel counts on the device of the inputs.

    Example:
        >>> confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]), num_classes=2)
        tensor([[1, 1],
                [0, 1]])
    """
    check_tensor(pred, "pred", dtype="int")
    check_tensor(target, "target", dtype="int")
    check_same_shape(pred, target, "pred", "target")
    num_classes = check_int(num_classes, "num_classes")
    if ignore_index is not None:
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
            raise TypeError(f"ignore_index: expected an int or None, got {type(ignore_index).__name__}")
    check_labels(target, "target", num_classes, ignore_index)
    if ignore_index is not None:
        counted = target != ignore_index
        pred, target = pred[counted], target[counted]
    check_labels(pred, "pred", num_classes)
    index = target.long().flatten() * num_classes + pred.long().flatten()
    return torch.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _check_confusion(conf: Tensor) -> Tensor:
    check_tensor(conf, "conf", ndim=2, shape="(K, K)")
    if conf.shape[0] != conf.shape[1]:
        raise ValueError(f"conf: expected a square (K, K) matrix, got shape {tuple(conf.shape)}")
    if conf.dtype == torch.bool or conf.is_complex():
        raise TypeError(f"conf: expected an integer or floating tensor of counts, got {conf.dtype}")
    if bool((conf < 0).any()):
        raise ValueError(f"conf: expected non-negative counts, got minimum {conf.min().item()}")
    return conf.to(conf.dtype if conf.is_floating_point() else torch.get_default_dtype())


def _ratio(num: Tensor, den: Tensor) -> Tensor:
    return torch.where(den > 0, num / den.clamp(min=1e-30), torch.full_like(num, float("nan")))


def pixel_accuracy(conf: Tensor) -> Tensor:
    r"""Fraction of counted pixels whose class is right: :math:`\sum_k C_{kk} / \sum_{ij} C_{ij}`.

    Args:
        conf (Tensor[K, K]): confusion matrix from :func:`confusion_matrix`.

    Returns:
        Tensor[]: a float scalar, NaN when the matrix counts no pixel.
    """
    conf = _check_confusion(conf)
    return _ratio(conf.diagonal().sum(), conf.sum())


def iou_per_class(conf: Tensor) -> Tensor:
    r"""Intersection over union (Jaccard index) of every class.

    .. math:: \mathrm{IoU}_k = \frac{TP_k}{TP_k + FP_k + FN_k}

    with :math:`TP_k = C_{kk}`, :math:`FP_k` the rest of column k and :math:`FN_k` the rest of row k.

    Args:
        conf (Tensor[K, K]): confusion matrix from :func:`confusion_matrix`.

    Returns:
        Tensor[K]: floats in [0, 1]; NaN for a class absent from both the target and the prediction (its IoU
        is undefined, and :func:`mean_iou` skips it).
    """
    conf = _check_confusion(conf)
    tp = conf.diagonal()
    return _ratio(tp, conf.sum(0) + conf.sum(1) - tp)


def mean_iou(conf: Tensor) -> Tensor:
    """Mean of :func:`iou_per_class` over the classes where it is defined (NaN entries skipped).

    Args:
        conf (Tensor[K, K]): confusion matrix from :func:`confusion_matrix`.

    Returns:
        Tensor[]: a float scalar, NaN when no class is defined.

    Example:
        Ships: 100 pixels, 5 of them ship, a model that predicts "background" everywhere is 95 % accurate, but
        its mIoU is (0.95 + 0) / 2 = 0.475.

        >>> mean_iou(torch.tensor([[95, 0], [5, 0]]))
        tensor(0.4750)
    """
    return iou_per_class(conf).nanmean()


def dice_per_class(conf: Tensor) -> Tensor:
    r"""Dice coefficient (F1 score) of every class.

    .. math::
        \mathrm{Dice}_k = \frac{2\,TP_k}{2\,TP_k + FP_k + FN_k} = \frac{2\,\mathrm{IoU}_k}{1 + \mathrm{IoU}_k}

    Reference: L. R. Dice, "Measures of the Amount of Ecologic Association Between Species", Ecology 1945.

    Args:
        conf (Tensor[K, K]): confusion matrix from :func:`confusion_matrix`.

    Returns:
        Tensor[K]: floats in [0, 1]; NaN for a class absent from both the target and the prediction.
    """
    conf = _check_confusion(conf)
    tp = conf.diagonal()
    return _ratio(2 * tp, conf.sum(0) + conf.sum(1))


def segmentation_scores(
    pred: Tensor, target: Tensor, num_classes: int, ignore_index: int | None = 255
) -> dict[str, float | Tensor]:
    """All the scores of this module for one prediction, from one confusion matrix.

    Args:
        pred (Tensor[...]): predicted class ids, as in :func:`confusion_matrix`.
        target (Tensor[...]): true class ids, same shape as ``pred``.
        num_classes (int): K, the number of classes.
        ignore_index (int or None): target value excluded from every score.

    Returns:
        dict: ``pixel_accuracy``, ``mean_iou`` and ``mean_dice`` as Python floats; ``iou`` and ``dice``
        (Tensor[K]) per class; ``confusion`` (Tensor[K, K]).
    """
    conf = confusion_matrix(pred, target, num_classes, ignore_index)
    iou, dice = iou_per_class(conf), dice_per_class(conf)
    return {
        "pixel_accuracy": float(pixel_accuracy(conf)),
        "mean_iou": float(iou.nanmean()),
        "mean_dice": float(dice.nanmean()),
        "iou": iou,
        "dice": dice,
        "confusion": conf,
    }
