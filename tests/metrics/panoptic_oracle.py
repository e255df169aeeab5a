"""A slow, per-segment transcription of the COCO panoptic evaluation rules (panopticapi's pq_compute), in NumPy.

It is the test oracle of ``cvlab.metrics.panoptic`` and the "reference style" baseline of
``benchmarks/bench_panoptic.py``: per image, the COCO form (an id map, 0 = void, and a dict per segment), one
``np.unique`` over joint ids, then Python loops over the pairs and the segments, rule by rule.
"""

from __future__ import annotations

import numpy as np

OFFSET = 1 << 24  # joint id = gt id * OFFSET + pred id


def coco_form(panoptic: np.ndarray, things, stuff, void=-1, crowd=None):
    """(id map, {id: {"category_id", "iscrowd", "area"}}) of one (H, W, 2) map; crowd: bool mask or None."""
    cat, inst = panoptic[..., 0], panoptic[..., 1]
    crowd = np.zeros(cat.shape, bool) if crowd is None else crowd
    ids = np.zeros(cat.shape, np.int64)
    info = {}
    keys = {}
    for y, x in np.ndindex(cat.shape):
        c, i = int(cat[y, x]), int(inst[y, x])
        if c == void or (c in things and i == 0):
            continue
        assert c in things or c in stuff
        key = (c, "crowd") if crowd[y, x] else (c, i if c in things else 0)
        if key not in keys:
            keys[key] = len(keys) + 1
            info[keys[key]] = {"category_id": c, "iscrowd": int(crowd[y, x]), "area": 0}
        ids[y, x] = keys[key]
        info[keys[key]]["area"] += 1
    return ids, info


def image_stats(gt_ids, gt_info, pred_ids, pred_info, stats):
    """Add one image's TP / FP / FN / IoU to ``stats`` ({category: [tp, fp, fn, iou]}), the COCO rules."""
    joint = gt_ids.astype(np.int64) * OFFSET + pred_ids.astype(np.int64)
    labels, counts = np.unique(joint, return_counts=True)
    inter = {(int(lab) // OFFSET, int(lab) % OFFSET): int(n) for lab, n in zip(labels, counts, strict=True)}
    gt_done, pred_done = set(), set()
    for (g, p), n in inter.items():
        if g not in gt_info or p not in pred_info or gt_info[g]["iscrowd"]:
            continue
        if gt_info[g]["category_id"] != pred_info[p]["category_id"]:
            continue
        union = pred_info[p]["area"] + gt_info[g]["area"] - n - inter.get((0, p), 0)
        iou = n / union
        if iou > 0.5:
            s = stats[gt_info[g]["category_id"]]
            s[0] += 1
            s[3] += iou
            gt_done.add(g)
            pred_done.add(p)
    crowd_of = {}
    for g, info in gt_info.items():
        if g in gt_done:
            continue
        if info["iscrowd"]:
            crowd_of[info["category_id"]] = g
            continue
        stats[info["category_id"]][2] += 1
    for p, info in pred_info.items():
        if p in pred_done:
            continue
        covered = inter.get((0, p), 0)
        if info["category_id"] in crowd_of:
            covered += inter.get((crowd_of[info["category_id"]], p), 0)
        if covered / info["area"] > 0.5:
            continue
        stats[info["category_id"]][1] += 1
    return stats


def coco_pq(preds, targets, things, stuff, void=-1, crowds=None):
    """Per category [tp, fp, fn, iou] and COCO's means: {"All"|"Things"|"Stuff": (pq, sq, rq, n)}."""
    stats = {c: [0, 0, 0, 0.0] for c in (*things, *stuff)}
    crowds = [None] * len(targets) if crowds is None else crowds
    for p, t, m in zip(preds, targets, crowds, strict=True):
        gt_ids, gt_info = coco_form(np.asarray(t), things, stuff, void, None if m is None else np.asarray(m))
        pred_ids, pred_info = coco_form(np.asarray(p), things, stuff, void)
        image_stats(gt_ids, gt_info, pred_ids, pred_info, stats)
    means = {}
    for name, cats in (("All", (*things, *stuff)), ("Things", things), ("Stuff", stuff)):
        pq = sq = rq = 0.0
        n = 0
        for c in cats:
            tp, fp, fn, iou = stats[c]
            if tp + fp + fn == 0:
                continue
            n += 1
            pq += iou / (tp + 0.5 * fp + 0.5 * fn)
            sq += iou / tp if tp else 0.0
            rq += tp / (tp + 0.5 * fp + 0.5 * fn)
        means[name] = (pq / n, sq / n, rq / n, n) if n else (float("nan"),) * 3 + (0,)
    return stats, means
