"""COCO-style average precision for instance masks and boxes (the ``COCOeval`` protocol, in torch).

For every IoU threshold ``t`` in 0.50:0.05:0.95, each image and each category: detections are taken by decreasing
score (at most ``max_detections``) and each is matched to the unmatched ground truth of highest IoU ``>= t``; the
detections of all images are then ranked by score, and precision is read at 101 recall levels after making it
non-increasing. AP is the mean over thresholds, recall levels and the categories that have ground truth. AP by
object size counts only ground truth (and unmatched detections) of that size as real; the rest is ignored.

Reference: T.-Y. Lin et al., "Microsoft COCO: Common Objects in Context", 2014; the ``pycocotools`` evaluator.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from cvlab._validate import check_choice, check_int, check_tensor

IOU_THRESHOLDS = tuple(np.linspace(0.5, 0.95, 10).tolist())
"""COCO's ten IoU thresholds, computed as ``COCOeval`` computes them (bit for bit)."""

RECALL_LEVELS = tuple(np.linspace(0.0, 1.0, 101).tolist())
"""COCO's 101 recall levels."""

AREA_RANGES = {"all": (0.0, 1e10), "small": (0.0, 32.0**2), "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e10)}
"""Object sizes in pixels of area (both ends inclusive, as in ``COCOeval``)."""


def _masks(d: dict, key: str, name: str, threshold: float) -> Tensor:
    m = check_tensor(d[key], f"{name}[{key!r}]", ndim=(3, 4), shape="(N, H, W) or (N, 1, H, W)")
    if m.dim() == 4:
        m = m[:, 0]
    return m > threshold if m.is_floating_point() else m.bool()


def _entries(items: object, name: str, iou_type: str, with_scores: bool, threshold: float) -> list[dict]:
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise TypeError(f"{name}: expected a list of dicts (one per image), got {type(items).__name__}")
    out = []
    for i, d in enumerate(items):
        where = f"{name}[{i}]"
        need = ["labels", "masks" if iou_type == "segm" else "boxes"] + (["scores"] if with_scores else [])
        if not isinstance(d, dict) or any(k not in d for k in need):
            raise ValueError(f"{where}: expected a dict with keys {need}, got {type(d).__name__}"
                             + (f" with keys {sorted(d)}" if isinstance(d, dict) else ""))
        labels = check_tensor(d["labels"], f"{where}['labels']", ndim=1, shape="(N,)", dtype="int")
        e = {"labels": labels.cpu()}
        if iou_type == "segm":
            e["masks"] = _masks(d, "masks", where, threshold).flatten(1).cpu().float()
            e["area"] = e["masks"].sum(1).double()
        else:
            b = check_tensor(d["boxes"], f"{where}['boxes']", ndim=2, shape="(N, 4)", dtype="float", finite=True)
            e["boxes"] = b.detach().double().cpu()
            e["area"] = (b[:, 2] - b[:, 0]).double().cpu() * (b[:, 3] - b[:, 1]).double().cpu()
            if not with_scores and "masks" in d:  # ground truth: COCO's area is the segment's
                e["area"] = _masks(d, "masks", where, threshold).flatten(1).sum(1).double().cpu()
        if with_scores:
            s = check_tensor(d["scores"], f"{where}['scores']", ndim=1, shape="(N,)", dtype="float", finite=True)
            e["scores"] = s.detach().double().cpu()
        n = {len(v) for v in e.values()}
        if len(n) != 1:
            raise ValueError(f"{where}: expected the same number N of labels, {need[1]} and scores, got "
                             f"{ {k: len(v) for k, v in e.items() if k != 'area'} }")
        out.append(e)
    return out


def _iou(det: dict, gt: dict, iou_type: str) -> Tensor:
    """IoU (D, G) of every detection of an image with every ground truth, float64."""
    if iou_type == "segm":
        a, b = det["masks"], gt["masks"]
        inter = (a @ b.T).double()  # float32 counts of 0/1 pixels are exact below 2**24 pixels
        union = det["area"][:, None] + gt["area"][None, :] - inter
    else:
        a, b = det["boxes"], gt["boxes"]
        lt = torch.maximum(a[:, None, :2], b[None, :, :2])
        rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
        inter = (rb - lt).clamp(min=0).prod(2)
        union = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))[:, None] + \
            ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-300), torch.zeros_like(inter))


def _match(iou: Tensor, gt_ignore: Tensor, thresholds: Tensor) -> tuple[Tensor, Tensor]:
    """Greedy matching of score-sorted detections for all thresholds at once.

    Returns ``(matched (T, D) bool, matched_ignored (T, D) bool)``. Ties in IoU go to the later ground truth, and a
    real (not ignored) ground truth is preferred over an ignored one, as ``COCOeval.evaluateImg`` does.
    """
    t, (d, g) = len(thresholds), iou.shape
    taken = torch.zeros(t, g, dtype=torch.bool)
    matched = torch.zeros(t, d, dtype=torch.bool)
    ignored = torch.zeros(t, d, dtype=torch.bool)
    if g == 0:
        return matched, ignored
    for k in range(d):  # greedy: each detection's match depends on the earlier ones
        ok = (iou[k][None, :] >= thresholds[:, None]) & ~taken  # (T, G)
        for pool in (~gt_ignore, gt_ignore):
            cand = ok & pool[None, :]
            score = torch.where(cand, iou[k][None, :], torch.tensor(-1.0, dtype=iou.dtype))
            best = g - 1 - score.flip(1).argmax(1)  # the highest IoU, ties to the last ground truth
            hit = cand.any(1) & ~matched[:, k]
            matched[:, k] |= hit
            ignored[:, k] |= hit & gt_ignore[best]
            taken[torch.arange(t)[hit], best[hit]] = True
    return matched, ignored


def mask_ap(
    predictions: Sequence[dict],
    targets: Sequence[dict],
    *,
    iou_type: str = "segm",
    max_detections: int = 100,
    mask_threshold: float = 0.5,
) -> dict[str, float]:
    """COCO AP of instance predictions: AP (IoU 0.50:0.95), AP50, AP75 and AP for small, medium and large objects.

    Args:
        predictions: one dict per image with ``"labels"`` (Tensor[N] int), ``"scores"`` (Tensor[N]) and
            ``"masks"`` (Tensor[N, H, W] or [N, 1, H, W]; bool, or probabilities cut at ``mask_threshold``) for
            ``iou_type="segm"``, ``"boxes"`` (Tensor[N, 4] ``(x1, y1, x2, y2)``) for ``"bbox"`` — the
            dicts torchvision's Mask R-CNN returns.
        targets: one dict per image with ``"labels"`` and ``"masks"`` / ``"boxes"`` (as ``SceneDataset`` gives).
            An object's size is its mask area where masks are given (COCO's ``area``), else its box area.
        iou_type: ``"segm"`` (mask IoU) or ``"bbox"`` (box IoU).
        max_detections: detections kept per image and category, by decreasing score.

    Returns:
        ``{"AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large"}`` as floats in [0, 1]; -1 where no category
        has ground truth of that size (``COCOeval.summarize``'s convention). Equal to ``pycocotools``.
    """
    check_choice(iou_type, "iou_type", ("segm", "bbox"))
    max_detections = check_int(max_detections, "max_detections")
    dets = _entries(predictions, "predictions", iou_type, True, mask_threshold)
    gts = _entries(targets, "targets", iou_type, False, mask_threshold)
    if len(dets) != len(gts):
        raise ValueError(f"predictions and targets: expected one dict per image in each, got {len(dets)} and "
                         f"{len(gts)}")
    for i, (d, g) in enumerate(zip(dets, gts, strict=True)):
        if iou_type == "segm" and d["masks"].shape[1] != g["masks"].shape[1]:
            raise ValueError(f"predictions[{i}] and targets[{i}]: expected masks of the same H x W")
    thresholds = torch.tensor(IOU_THRESHOLDS, dtype=torch.float64)
    ious = [_iou(d, g, iou_type) for d, g in zip(dets, gts, strict=True)]
    classes = sorted(set(torch.cat([g["labels"] for g in gts]).tolist())) if gts else []
    shape = (len(thresholds), len(RECALL_LEVELS), len(classes))
    precision = {a: torch.full(shape, -1.0, dtype=torch.float64) for a in AREA_RANGES}
    for ci, c in enumerate(classes):
        for area_name, (lo, hi) in AREA_RANGES.items():
            scores, tp, fp, n_gt = [], [], [], 0
            for d, g, iou in zip(dets, gts, ious, strict=True):
                gi = torch.nonzero(g["labels"] == c).flatten()
                di = torch.nonzero(d["labels"] == c).flatten()
                di = di[torch.sort(d["scores"][di], descending=True, stable=True).indices][:max_detections]
                if len(gi) == 0 and len(di) == 0:
                    continue
                g_ign = (g["area"][gi] < lo) | (g["area"][gi] > hi)
                real_first = torch.sort(g_ign.int(), stable=True).indices
                gi, g_ign = gi[real_first], g_ign[real_first]
                matched, m_ign = _match(iou[di][:, gi], g_ign, thresholds)
                d_out = (d["area"][di] < lo) | (d["area"][di] > hi)
                ignore = m_ign | (~matched & d_out[None, :])
                scores.append(d["scores"][di])
                tp.append(matched & ~ignore)
                fp.append(~matched & ~ignore)
                n_gt += int((~g_ign).sum())
            if n_gt == 0:
                continue
            precision[area_name][:, :, ci] = _precision_at_recalls(torch.cat(scores), torch.cat(tp, 1),
                                                                   torch.cat(fp, 1), n_gt)
    mean = {a: _mean_valid(p) for a, p in precision.items()}
    at = {t: _mean_valid(precision["all"][IOU_THRESHOLDS.index(v)]) for t, v in (("50", 0.5), ("75", 0.75))}
    return {"AP": mean["all"], "AP50": at["50"], "AP75": at["75"], "AP_small": mean["small"],
            "AP_medium": mean["medium"], "AP_large": mean["large"]}


def _precision_at_recalls(scores: Tensor, tp: Tensor, fp: Tensor, n_gt: int) -> Tensor:
    """Interpolated precision (T, R) at ``RECALL_LEVELS`` from the detections of all images of one category."""
    order = torch.from_numpy(np.argsort(-scores.numpy(), kind="mergesort"))  # COCO's stable order on ties
    tps = tp[:, order].double().cumsum(1)
    fps = fp[:, order].double().cumsum(1)
    recall = tps / n_gt
    prec = tps / (fps + tps + np.spacing(1))
    prec = prec.flip(1).cummax(1).values.flip(1)  # non-increasing: best precision at any higher recall
    levels = torch.tensor(RECALL_LEVELS, dtype=torch.float64)
    out = torch.zeros(tp.shape[0], len(levels), dtype=torch.float64)
    for t in range(tp.shape[0]):
        idx = torch.searchsorted(recall[t].contiguous(), levels, side="left")
        ok = idx < recall.shape[1]
        out[t, ok] = prec[t, idx[ok]]
    return out


def _mean_valid(p: Tensor) -> float:
    valid = p[p > -1]
    return float(valid.mean()) if valid.numel() else -1.0
