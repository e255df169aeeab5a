"""Scoring unsupervised clusters against semantic labels: Hungarian cluster-to-class matching and its mIoU.

Cluster ids carry no meaning, so before any comparison each cluster is given the class it overlaps most, one
cluster per class present in the target (Kuhn, 1955). The contingency table is computed here with ``torch.bincount``.
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment

from cvlab._validate import check_int, check_labels, check_same_shape, check_tensor


def _contingency(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate, then count pixels per (cluster, class) over the non-ignored pixels: ``(C, K)`` int64."""
    check_tensor(pred, "pred", dtype="int")
    check_tensor(target, "target", dtype="int")
    check_same_shape(pred, target, "pred", "target")
    num_classes = check_int(num_classes, "num_classes")
    if pred.numel() and int(pred.min()) < 0:
        raise ValueError(f"pred: expected cluster ids >= 0, got a minimum of {int(pred.min())}")
    check_labels(target, "target", num_classes, ignore_index)
    valid = target != ignore_index
    labels = target[valid]
    num_clusters = int(pred.max()) + 1 if pred.numel() else 1
    flat = pred[valid].long() * num_classes + labels.long()
    table = torch.bincount(flat, minlength=num_clusters * num_classes).view(num_clusters, num_classes)
    return table, valid


def _assignment(table: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hungarian matching maximising the matched overlap: (clusters, classes) index pairs.

    Only classes present in the target take part: a class with no pixel must not take a cluster (whose
    pixels would then count as that absent class, with IoU 0, instead of as unmatched).
    """
    present = torch.nonzero(table.sum(dim=0) > 0).flatten().cpu()
    clusters, columns = linear_sum_assignment(table[:, present.to(table.device)].cpu().numpy(), maximize=True)
    classes = present[torch.from_numpy(columns)]
    return torch.from_numpy(clusters).to(table.device), classes.to(table.device)


def match_clusters(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int = 255
) -> torch.Tensor:
    """Relabel cluster ids to classes by a one-to-one matching that maximises the number of agreeing pixels.

    The contingency table ``T[c, k]`` (pixels of cluster ``c`` with class ``k``, ignored pixels left out) is
    matched with the Hungarian algorithm (:func:`scipy.optimize.linear_sum_assignment`). With more clusters
    than classes the unmatched clusters get the label ``-1`` (they count as wrong everywhere); with fewer,
    some classes receive no cluster.

    Args:
        pred (Tensor[H, W] or Tensor[N], int): cluster ids >= 0 (any numbering).
        target (Tensor, same shape, int64): classes in ``[0, num_classes)`` or ``ignore_index``.
        num_classes: number of classes ``K``.
        ignore_index: target value of unlabeled pixels.

    Returns:
        Tensor (shape of ``pred``, int64): the class of each pixel's cluster, or ``-1``.

    Example:
        >>> match_clusters(torch.tensor([5, 5, 2, 2]), torch.tensor([0, 0, 1, 1]), num_classes=2)
        tensor([0, 0, 1, 1])
    """
    table, _ = _contingency(pred, target, num_classes, ignore_index)
    clusters, classes = _assignment(table)
    lookup = torch.full((table.shape[0],), -1, dtype=torch.long, device=pred.device)
    lookup[clusters.to(pred.device)] = classes.to(pred.device)
    return lookup[pred.long()]


def clustering_miou(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int = 255
) -> float:
    """Mean IoU of a clustering after :func:`match_clusters`: the usual score of unsupervised segmentation.

    .. math:: \\text{IoU}_k = \\frac{|P_k \\cap G_k|}{|P_k \\cup G_k|}, \\qquad
              \\text{mIoU} = \\frac{1}{|\\{k : G_k \\ne \\emptyset\\}|} \\sum_{k : G_k \\ne \\emptyset} \\text{IoU}_k

    where ``P_k`` are the pixels of the cluster matched to class ``k`` and ``G_k`` those labelled ``k``
    (ignored pixels excluded from both). The mean runs over the classes present in the target; only they
    are matched (:func:`match_clusters`), so surplus clusters stay unmatched and count as errors.

    Args:
        pred (Tensor[H, W] or Tensor[N], int): cluster ids >= 0.
        target (Tensor, same shape, int64): classes in ``[0, num_classes)`` or ``ignore_index``.
        num_classes: number of classes ``K``.
        ignore_index: target value of unlabeled pixels.

    Returns:
        float: the mean IoU in [0, 1].
    """
    table, valid = _contingency(pred, target, num_classes, ignore_index)
    if not bool(valid.any()):
        raise ValueError(f"target: every pixel equals ignore_index={ignore_index}; the mIoU is undefined")
    clusters, classes = _assignment(table)
    table = table.double()
    hit = torch.zeros(num_classes, dtype=torch.float64, device=table.device)
    predicted = torch.zeros_like(hit)
    hit[classes] = table[clusters, classes]
    predicted[classes] = table[clusters].sum(dim=1)
    labelled = table.sum(dim=0)
    union = predicted + labelled - hit
    present = labelled > 0
    return float((hit[present] / union[present]).mean())
