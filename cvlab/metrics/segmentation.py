"""Semantic segmentation scores: pixel accuracy, IoU (Jaccard), Dice (F1) from a confusion matrix; boundary IoU.

The region scores are functions of the ``(K, K)`` confusion matrix, so a whole validation set is scored by summing
the matrices of its batches first and computing the scores once — never by averaging per-batch mIoUs, which
weighs a batch with three pixels of a class as much as one with three thousand.

Boundary IoU scores only a thin band inside each region's contour, so it sees the boundary errors that the
mask IoU of a large region hardly registers; :func:`boundary_iou_per_class` sums its counts over a batch the
same way.

References: M. Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge", IJCV 2010 (IoU as the
segmentation score); B. Cheng et al., "Boundary IoU: Improving Object-Centric Image Segmentation Evaluation",
CVPR 2021.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from cvlab._validate import (
    check_ignore_index,
    check_int,
    check_labels,
    check_number,
    check_same_shape,
    check_tensor,
)

__all__ = [
    "confusion_matrix",
    "pixel_accuracy",
    "iou_per_class",
    "mean_iou",
    "dice_per_class",
    "segmentation_scores",
    "mask_to_boundary",
    "boundary_iou",
    "boundary_iou_per_class",
]


def confusion_matrix(
    pred: Tensor, target: Tensor, num_classes: int, ignore_index: int | None = 255, *, per_image: bool = False
) -> Tensor:
    """Count pixels by (true class, predicted class).

    ``conf[i, j]`` is the number of pixels of true class ``i`` predicted as class ``j`` — rows are the
    target, columns the prediction, as in ``sklearn.metrics.confusion_matrix``. Pixels whose target is
    ``ignore_index`` are left out (their prediction is not inspected). One ``torch.bincount`` on the inputs'
    device, however many images.

    Args:
        pred (Tensor[...]): predicted class ids, any integer dtype, values in ``[0, num_classes)``.
        target (Tensor[...]): true class ids, same shape as ``pred``, values in ``[0, num_classes)`` or
            ``ignore_index``.
        num_classes (int): K, the number of classes.
        ignore_index (int or None): target value that marks unlabeled pixels; ``None`` ignores nothing.
        per_image (bool): one matrix per index of the first dimension (``(B, H, W)`` inputs give ``B``
            matrices) instead of one for everything; their sum is the matrix of the whole batch.

    Returns:
        Tensor[K, K] (or Tensor[B, K, K] with ``per_image``): int64 pixel counts on the device of the inputs.

    Example:
        >>> confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]), num_classes=2)
        tensor([[1, 1],
                [0, 1]])
    """
    check_tensor(pred, "pred", dtype="int")
    check_tensor(target, "target", dtype="int")
    check_same_shape(pred, target, "pred", "target")
    num_classes = check_int(num_classes, "num_classes")
    ignore_index = check_ignore_index(ignore_index)
    if per_image and target.dim() == 0:
        raise ValueError("pred: per_image=True needs a batch dimension, got a 0-dimensional tensor")
    counted = check_labels(target, "target", num_classes, ignore_index)
    check_labels(torch.where(counted, pred, 0), "pred", num_classes)
    n = num_classes
    index = target.long() * n + pred.long()
    batch = target.shape[0] if per_image else 1
    if per_image:
        index = index + torch.arange(batch, device=index.device).view(-1, *[1] * (index.dim() - 1)) * (n * n)
    dump = batch * n * n  # one extra bin for the ignored pixels, dropped below
    index = torch.where(counted, index, dump)
    conf = torch.bincount(index.flatten(), minlength=dump + 1)[:dump]
    return conf.reshape(batch, n, n) if per_image else conf.reshape(n, n)


def _check_confusion(conf: Tensor) -> Tensor:
    check_tensor(conf, "conf", shape="(K, K) or (..., K, K)")
    if conf.dim() < 2:
        got = f"{conf.dtype} of shape {tuple(conf.shape)}"
        raise ValueError(f"conf: expected a tensor of shape (K, K) or (..., K, K), got {got}")
    if conf.shape[-1] != conf.shape[-2]:
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
        conf (Tensor[K, K] or Tensor[..., K, K]): confusion matrix from :func:`confusion_matrix` (a stack of
            them, e.g. ``per_image=True``, gives one result per matrix).

    Returns:
        Tensor[] (or Tensor[...]): a float scalar, NaN when the matrix counts no pixel.
    """
    conf = _check_confusion(conf)
    return _ratio(conf.diagonal(dim1=-2, dim2=-1).sum(-1), conf.sum((-2, -1)))


def iou_per_class(conf: Tensor) -> Tensor:
    r"""Intersection over union (Jaccard index) of every class.

    .. math:: \mathrm{IoU}_k = \frac{TP_k}{TP_k + FP_k + FN_k}

    with :math:`TP_k = C_{kk}`, :math:`FP_k` the rest of column k and :math:`FN_k` the rest of row k.

    Args:
        conf (Tensor[K, K] or Tensor[..., K, K]): confusion matrix from :func:`confusion_matrix` (a stack of
            them, e.g. ``per_image=True``, gives one result per matrix).

    Returns:
        Tensor[K] (or Tensor[..., K]): floats in [0, 1]; NaN for a class absent from both the target and the
        prediction (its IoU is undefined, and :func:`mean_iou` skips it).
    """
    conf = _check_confusion(conf)
    tp = conf.diagonal(dim1=-2, dim2=-1)
    return _ratio(tp, conf.sum(-2) + conf.sum(-1) - tp)


def mean_iou(conf: Tensor) -> Tensor:
    """Mean of :func:`iou_per_class` over the classes where it is defined (NaN entries skipped).

    Args:
        conf (Tensor[K, K] or Tensor[..., K, K]): confusion matrix from :func:`confusion_matrix` (a stack of
            them, e.g. ``per_image=True``, gives one result per matrix).

    Returns:
        Tensor[] (or Tensor[...]): a float scalar, NaN when no class is defined.

    Example:
        Ships: 100 pixels, 5 of them ship, a model that predicts "background" everywhere is 95 % accurate, but
        its mIoU is (0.95 + 0) / 2 = 0.475.

        >>> mean_iou(torch.tensor([[95, 0], [5, 0]]))
        tensor(0.4750)
    """
    return iou_per_class(conf).nanmean(-1)


def dice_per_class(conf: Tensor) -> Tensor:
    r"""Dice coefficient (F1 score) of every class.

    .. math::
        \mathrm{Dice}_k = \frac{2\,TP_k}{2\,TP_k + FP_k + FN_k} = \frac{2\,\mathrm{IoU}_k}{1 + \mathrm{IoU}_k}

    Reference: L. R. Dice, "Measures of the Amount of Ecologic Association Between Species", Ecology 1945.

    Args:
        conf (Tensor[K, K] or Tensor[..., K, K]): confusion matrix from :func:`confusion_matrix` (a stack of
            them, e.g. ``per_image=True``, gives one result per matrix).

    Returns:
        Tensor[K] (or Tensor[..., K]): floats in [0, 1]; NaN for a class absent from both target and prediction.
    """
    conf = _check_confusion(conf)
    tp = conf.diagonal(dim1=-2, dim2=-1)
    return _ratio(2 * tp, conf.sum(-2) + conf.sum(-1))


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


def _boundary_width(h: int, w: int, dilation_ratio: float) -> int:
    """The band width d in pixels: ``max(1, round(dilation_ratio * image diagonal))``, as in Cheng et al."""
    return max(1, int(round(dilation_ratio * math.hypot(h, w))))


def mask_to_boundary(mask: Tensor, dilation_ratio: float = 0.02) -> Tensor:
    r"""The inner boundary band of a binary mask: mask pixels within ``d`` pixels of the background.

    .. math:: G_d = G \setminus \operatorname{erode}_{(2d+1) \times (2d+1)}(G), \qquad
        d = \max(1, \operatorname{round}(\text{dilation\_ratio} \cdot \sqrt{H^2 + W^2}))

    Distance is the chessboard distance (a square structuring element, d iterations of a 3×3 erosion) and the
    world outside the image counts as background, so a mask cut by the image border has a band along it too —
    both as in the Boundary IoU paper's reference code.

    Args:
        mask (Tensor[..., H, W]): bool masks; leading dimensions are independent masks.
        dilation_ratio (float): band width as a fraction of the image diagonal, > 0 (0.02 in the paper).

    Returns:
        Tensor[..., H, W]: bool, the band (a subset of ``mask``), on the mask's device.

    Example:
        >>> m = torch.zeros(5, 5, dtype=torch.bool); m[1:4, 1:4] = True
        >>> mask_to_boundary(m, dilation_ratio=0.1).int()  # d = round(0.1 * 7.07) = 1: the centre is not band
        tensor([[0, 0, 0, 0, 0],
                [0, 1, 1, 1, 0],
                [0, 1, 0, 1, 0],
                [0, 1, 1, 1, 0],
                [0, 0, 0, 0, 0]], dtype=torch.int32)
    """
    check_tensor(mask, "mask", dtype="bool", shape="(..., H, W)")
    if mask.dim() < 2:
        got = f"{mask.dtype} of shape {tuple(mask.shape)}"
        raise ValueError(f"mask: expected a tensor of shape (..., H, W), got {got}")
    dilation_ratio = check_number(dilation_ratio, "dilation_ratio", minimum=0.0, exclusive=True)
    h, w = mask.shape[-2:]
    if mask.numel() == 0:
        return mask.clone()
    d = _boundary_width(h, w, dilation_ratio)
    background = (~mask).reshape(-1, 1, h, w).float()
    background = F.pad(background, (d, d, d, d), value=1.0)  # outside the image is background
    near = F.max_pool2d(background, kernel_size=(2 * d + 1, 1), stride=1)  # a square max is separable
    near = F.max_pool2d(near, kernel_size=(1, 2 * d + 1), stride=1)
    return mask & (near.reshape(mask.shape) > 0.5)


def _band_iou(inter: Tensor, union: Tensor) -> Tensor:
    inter, union = inter.to(torch.get_default_dtype()), union.to(torch.get_default_dtype())
    return _ratio(inter, union)


def boundary_iou(pred: Tensor, target: Tensor, dilation_ratio: float = 0.02) -> Tensor:
    r"""Boundary IoU of binary masks: the IoU of their boundary bands (Cheng et al., CVPR 2021).

    .. math:: \text{Boundary IoU}(G, P) = \frac{|(G_d \cap G) \cap (P_d \cap P)|}{|(G_d \cap G) \cup (P_d \cap P)|}

    with :math:`G_d \cap G` = ``mask_to_boundary(G)``. A one-pixel shift of a large object barely moves its
    mask IoU but costs a large part of its boundary IoU.

    Args:
        pred (Tensor[..., H, W]): predicted bool masks.
        target (Tensor[..., H, W]): true bool masks, same shape.
        dilation_ratio (float): band width as a fraction of the image diagonal (see :func:`mask_to_boundary`).

    Returns:
        Tensor[...]: one IoU per mask (float, the default dtype), NaN where both masks are empty.
    """
    check_tensor(pred, "pred", dtype="bool", shape="(..., H, W)")
    check_tensor(target, "target", dtype="bool", shape="(..., H, W)")
    check_same_shape(pred, target, "pred", "target")
    bp, bt = mask_to_boundary(pred, dilation_ratio), mask_to_boundary(target, dilation_ratio)
    return _band_iou((bp & bt).sum((-2, -1)), (bp | bt).sum((-2, -1)))


def boundary_iou_per_class(
    pred: Tensor,
    target: Tensor,
    num_classes: int,
    dilation_ratio: float = 0.02,
    ignore_index: int | None = 255,
) -> Tensor:
    """Boundary IoU of every class of a semantic segmentation, counts summed over all images.

    For each class k the bands of ``pred == k`` and ``target == k`` are drawn per image; the intersections and
    unions of all images are summed before dividing (like one confusion matrix for a whole set). Pixels whose
    target is ``ignore_index`` belong to no class when the bands are drawn and are left out of the counts.

    Args:
        pred (Tensor[..., H, W]): predicted class ids (integer), values in ``[0, num_classes)``.
        target (Tensor[..., H, W]): true class ids, same shape, values in ``[0, num_classes)`` or ``ignore_index``.
        num_classes (int): K.
        dilation_ratio (float): band width as a fraction of each image's diagonal.
        ignore_index (int or None): target value of unlabeled pixels.

    Returns:
        Tensor[K]: floats in [0, 1], NaN for a class absent from both (``.nanmean()`` is the mean boundary IoU).
    """
    check_tensor(pred, "pred", dtype="int", shape="(..., H, W)")
    check_tensor(target, "target", dtype="int", shape="(..., H, W)")
    check_same_shape(pred, target, "pred", "target")
    if target.dim() < 2:
        got = f"{target.dtype} of shape {tuple(target.shape)}"
        raise ValueError(f"target: expected a tensor of shape (..., H, W), got {got}")
    num_classes = check_int(num_classes, "num_classes")
    counted = check_labels(target, "target", num_classes, check_ignore_index(ignore_index))
    check_labels(torch.where(counted, pred, 0), "pred", num_classes)
    classes = torch.arange(num_classes, device=target.device).view(-1, *[1] * target.dim())
    bp = mask_to_boundary(pred.unsqueeze(0) == classes, dilation_ratio) & counted
    bt = mask_to_boundary(target.unsqueeze(0) == classes, dilation_ratio) & counted
    dims = tuple(range(1, bp.dim()))
    return _band_iou((bp & bt).sum(dims), (bp | bt).sum(dims))
