"""A6 "panoptic": plausible wrong implementations of each graded function (each must lose points), and correct
implementations different from the solution (each must earn full marks).

The panoptic mistakes are those the issue lists and real evaluators make: IoU >= 0.5 instead of > 0.5, void left
in the union (or predicted void removed too, torchmetrics' rule), scores averaged per image, stuff and things
mixed, FP counted on void, no guard against empty categories, thing pixels with instance 0 taken for a segment.
"""

import torch
import torch.nn.functional as F

NAN = float("nan")


def _segments(panoptic, things, *, inst0_thing=False):
    """Id map (0 void, 1..N) and (N, 2) pairs, as the notebook's helper (optionally keeping instance-0 things)."""
    cat, inst = panoptic[..., 0].long(), panoptic[..., 1].long()
    is_thing = torch.isin(cat, torch.tensor(list(things), dtype=torch.long))
    valid = (cat >= 0) if inst0_thing else (cat >= 0) & ~(is_thing & (inst == 0))
    pairs = torch.unique(torch.stack([cat[valid], inst[valid]], 1), dim=0) if bool(valid.any()) else \
        torch.zeros((0, 2), dtype=torch.long)
    seg = torch.zeros(cat.shape, dtype=torch.long)
    for k, (c, i) in enumerate(pairs.tolist()):
        seg[valid & (cat == c) & (inst == i)] = k + 1
    return seg, pairs


def _iou(pred_seg, target_seg, pred_cat, target_cat, *, void_in_union=False, pred_void_removed=False,
         any_category=False, no_minus_inter=False):
    n_p, n_t = len(pred_cat), len(target_cat)
    pair = target_seg.flatten().long() * (n_p + 1) + pred_seg.flatten().long()
    inter = torch.bincount(pair, minlength=(n_t + 1) * (n_p + 1)).reshape(n_t + 1, n_p + 1)
    area_t, area_p = inter.sum(1), inter.sum(0)
    union = area_t[1:, None] + area_p[None, 1:]
    if not no_minus_inter:
        union = union - inter[1:, 1:]
    if not void_in_union:
        union = union - inter[0, 1:][None, :]
    if pred_void_removed:
        union = union - inter[1:, 0][:, None]
    iou = inter[1:, 1:] / union.clamp(min=1)
    if not any_category:
        iou = torch.where(target_cat.long()[:, None] == pred_cat.long()[None, :], iou, 0.0)
    return iou.float()


# --- segment_iou(pred_seg, target_seg, pred_cat, target_cat) ----------------------------------------------------


def segment_iou_cvlab_shortcut(pred_seg, target_seg, pred_cat, target_cat):
    from cvlab.metrics import match_segments

    raise RuntimeError(f"{match_segments.__name__} takes panoptic maps, not id maps")


def segment_iou_void_in_union(pred_seg, target_seg, pred_cat, target_cat):
    return _iou(pred_seg, target_seg, pred_cat, target_cat, void_in_union=True)


def segment_iou_predicted_void_removed_too(pred_seg, target_seg, pred_cat, target_cat):
    return _iou(pred_seg, target_seg, pred_cat, target_cat, pred_void_removed=True)


def segment_iou_any_category(pred_seg, target_seg, pred_cat, target_cat):
    return _iou(pred_seg, target_seg, pred_cat, target_cat, any_category=True)


def segment_iou_union_is_the_sum_of_areas(pred_seg, target_seg, pred_cat, target_cat):
    return _iou(pred_seg, target_seg, pred_cat, target_cat, no_minus_inter=True)


def segment_iou_transposed(pred_seg, target_seg, pred_cat, target_cat):
    return _iou(pred_seg, target_seg, pred_cat, target_cat).T


def segment_iou_float64(pred_seg, target_seg, pred_cat, target_cat):
    return _iou(pred_seg, target_seg, pred_cat, target_cat).double()


def segment_iou_correct_loops(pred_seg, target_seg, pred_cat, target_cat):
    out = torch.zeros(len(target_cat), len(pred_cat))
    void = target_seg == 0
    for t in range(len(target_cat)):
        g = target_seg == t + 1
        for p in range(len(pred_cat)):
            if int(target_cat[t]) != int(pred_cat[p]):
                continue
            m = pred_seg == p + 1
            inter = int((g & m).sum())
            union = int((g | m).sum()) - int((m & void).sum())
            out[t, p] = inter / union if union else 0.0
    return out


def segment_iou_correct_one_hot(pred_seg, target_seg, pred_cat, target_cat):
    """Intersections as a product of one-hot matrices (float64 counts are exact), void overlaps subtracted."""
    onehot_p = F.one_hot(pred_seg.flatten().long(), len(pred_cat) + 1).double()  # (M, 1 + predicted segments)
    onehot_t = F.one_hot(target_seg.flatten().long(), len(target_cat) + 1).double()
    inter = onehot_t.T @ onehot_p  # row 0: ground-truth void
    union = onehot_t.sum(0)[1:, None] + onehot_p.sum(0)[None, 1:] - inter[1:, 1:] - inter[:1, 1:]
    same = target_cat.long()[:, None] == pred_cat.long()[None, :]
    return torch.where(same & (union > 0), inter[1:, 1:] / union.clamp(min=1), 0.0).float()


# --- panoptic_quality(preds, targets, things, stuff, crowds) ---------------------------------------------------


def _pq(preds, targets, things, stuff, crowds, *, ge=False, void_in_union=False, per_image=False, mixed=False,
        fp_on_void=False, div_zero=False, inst0_thing=False, crowd_fn=False, crowd_any_category=False):
    cats = torch.tensor(list(things) + list(stuff), dtype=torch.long)
    is_thing = torch.arange(len(cats)) < len(things)

    def scores(tp, fp, fn, iou_sum):
        den = tp + 0.5 * fp + 0.5 * fn
        if div_zero:
            s = torch.stack([iou_sum / den, iou_sum / tp, tp / den], 1)
            return torch.stack([s.mean(0), s[is_thing].mean(0), s[~is_thing].mean(0)]).float()
        counted = den > 0
        pq = torch.where(counted, iou_sum / den.clamp(min=0.5), NAN)
        sq = torch.where(counted, torch.where(tp > 0, iou_sum / tp.clamp(min=1), 0.0), NAN)
        rq = torch.where(counted, tp / den.clamp(min=0.5), NAN)
        s = torch.stack([pq, sq, rq], 1)
        groups = (torch.ones_like(is_thing), torch.ones_like(is_thing) if mixed else is_thing, ~is_thing)
        return torch.stack([s[gr].nanmean(0) if gr.any() else torch.full((3,), NAN, dtype=torch.float64)
                            for gr in groups]).float()

    totals = [torch.zeros(len(cats), dtype=torch.long) for _ in range(3)] + [torch.zeros(len(cats),
                                                                                         dtype=torch.float64)]
    per = []
    for pred, target, crowd in zip(preds, targets, crowds, strict=True):
        (t_seg, t_pairs) = _segments(target, things, inst0_thing=inst0_thing)
        (p_seg, p_pairs) = _segments(pred, things, inst0_thing=inst0_thing)
        iou = _iou(p_seg, t_seg, p_pairs[:, 0], t_pairs[:, 0], void_in_union=void_in_union).double()
        is_crowd = (t_pairs[:, None, :] == crowd.long()[None, :, :]).all(-1).any(1)
        matched = ((iou >= 0.5) & (iou > 0)) if ge else (iou > 0.5)
        matched = matched & ~is_crowd[:, None]
        t_index = (t_pairs[:, :1] == cats).long().argmax(1)
        p_index = (p_pairs[:, :1] == cats).long().argmax(1)
        tp, fp, fn = (torch.zeros(len(cats), dtype=torch.long) for _ in range(3))
        iou_sum = torch.zeros(len(cats), dtype=torch.float64)
        rows, cols = matched.nonzero(as_tuple=True)
        tp.index_add_(0, t_index[rows], torch.ones_like(rows))
        iou_sum.index_add_(0, t_index[rows], iou[rows, cols])
        missed = ~matched.any(1) & (torch.ones_like(is_crowd) if crowd_fn else ~is_crowd)
        fn.index_add_(0, t_index[missed], torch.ones_like(t_index[missed]))
        n_p = len(p_pairs)
        t_cat_px = torch.cat([torch.tensor([-1]), t_pairs[:, 0]])[t_seg]
        t_crowd_px = torch.cat([torch.tensor([False]), is_crowd])[t_seg]
        p_cat_px = torch.cat([torch.tensor([-2]), p_pairs[:, 0]])[p_seg]
        same = torch.ones_like(t_crowd_px) if crowd_any_category else t_cat_px == p_cat_px
        excused_px = (t_seg == 0) | (t_crowd_px & same)
        area = torch.bincount(p_seg.flatten(), minlength=n_p + 1)[1:]
        covered = torch.bincount(p_seg[excused_px], minlength=n_p + 1)[1:]
        false = ~matched.any(0) if fp_on_void else ~matched.any(0) & ~(2 * covered > area)
        fp.index_add_(0, p_index[false], torch.ones_like(p_index[false]))
        for total, x in zip(totals, (tp, fp, fn, iou_sum), strict=True):
            total += x
        per.append(scores(tp, fp, fn, iou_sum))
    if per_image:
        return torch.stack(per).nanmean(0) if per else scores(*totals)
    return scores(*totals)


def panoptic_quality_iou_at_least_half(preds, targets, things, stuff, crowds):
    return _pq(preds, targets, things, stuff, crowds, ge=True)


def panoptic_quality_void_left_in_the_union(preds, targets, things, stuff, crowds):
    return _pq(preds, targets, things, stuff, crowds, void_in_union=True)


def panoptic_quality_averaged_per_image(preds, targets, things, stuff, crowds):
    return _pq(preds, targets, things, stuff, crowds, per_image=True)


def panoptic_quality_stuff_and_things_mixed(preds, targets, things, stuff, crowds):
    return _pq(preds, targets, things, stuff, crowds, mixed=True)


def panoptic_quality_fp_counted_on_void(preds, targets, things, stuff, crowds):
    return _pq(preds, targets, things, stuff, crowds, fp_on_void=True)


def panoptic_quality_division_by_zero(preds, targets, things, stuff, crowds):
    return _pq(preds, targets, things, stuff, crowds, div_zero=True)


def panoptic_quality_instance_0_is_a_thing(preds, targets, things, stuff, crowds):
    return _pq(preds, targets, things, stuff, crowds, inst0_thing=True)


def panoptic_quality_crowd_counted_as_fn(preds, targets, things, stuff, crowds):
    return _pq(preds, targets, things, stuff, crowds, crowd_fn=True)


def panoptic_quality_crowd_excuses_every_category(preds, targets, things, stuff, crowds):
    return _pq(preds, targets, things, stuff, crowds, crowd_any_category=True)


def panoptic_quality_correct_per_segment(preds, targets, things, stuff, crowds):
    """COCO's rules written segment by segment, with dictionaries."""
    cats = list(things) + list(stuff)
    stats = {c: [0, 0, 0, 0.0] for c in cats}
    for pred, target, crowd in zip(preds, targets, crowds, strict=True):
        crowd_set = {tuple(p) for p in crowd.tolist()}

        def segs(m):
            out = {}
            cat, inst = m[..., 0], m[..., 1]
            for c, i in torch.unique(m.reshape(-1, 2), dim=0).tolist():
                if c < 0 or (c in things and i == 0):
                    continue
                out[(c, i)] = (cat == c) & (inst == i)
            return out

        gts, prs = segs(target), segs(pred)
        void = torch.ones(target.shape[:2], dtype=torch.bool)
        for m in gts.values():
            void &= ~m
        done_g, done_p = set(), set()
        for gk, gm in gts.items():
            if gk in crowd_set:
                continue
            for pk, pm in prs.items():
                if gk[0] != pk[0]:
                    continue
                inter = int((gm & pm).sum())
                union = int((gm | pm).sum()) - int((pm & void).sum())
                if inter and inter / union > 0.5:
                    stats[gk[0]][0] += 1
                    stats[gk[0]][3] += inter / union
                    done_g.add(gk)
                    done_p.add(pk)
        for gk in gts:
            if gk not in done_g and gk not in crowd_set:
                stats[gk[0]][2] += 1
        for pk, pm in prs.items():
            if pk in done_p:
                continue
            hidden = pm & void
            for gk, gm in gts.items():
                if gk in crowd_set and gk[0] == pk[0]:
                    hidden |= pm & gm
            if int(hidden.sum()) / int(pm.sum()) > 0.5:
                continue
            stats[pk[0]][1] += 1
    out = []
    for group in (cats, list(things), list(stuff)):
        vals = []
        for c in group:
            tp, fp, fn, iou = stats[c]
            if tp + fp + fn:
                den = tp + fp / 2 + fn / 2
                vals.append((iou / den, iou / tp if tp else 0.0, tp / den))
        out.append([sum(v[j] for v in vals) / len(vals) for j in range(3)] if vals else [NAN] * 3)
    return torch.tensor(out, dtype=torch.float32)


def panoptic_quality_correct_pair_table(preds, targets, things, stuff, crowds):
    """Per image one (target segment x predicted segment) overlap table from torch.unique; counts summed."""
    cats = torch.tensor(list(things) + list(stuff), dtype=torch.long)
    tp, fp, fn = (torch.zeros(len(cats), dtype=torch.float64) for _ in range(3))
    iou_sum = torch.zeros(len(cats), dtype=torch.float64)

    def segments(m):  # per pixel a segment index, per segment (category, instance); category -1: void
        cat, inst = m[..., 0].long().flatten(), m[..., 1].long().flatten()
        void = (cat < 0) | (torch.isin(cat, cats[: len(things)]) & (inst == 0))
        base = int(inst.max()) + 1 if inst.numel() else 1
        codes, seg = torch.unique(torch.where(void, -1, cat * base + inst), return_inverse=True)
        return seg, torch.where(codes < 0, -1, codes // base), torch.where(codes < 0, 0, codes % base)

    for pred, target, crowd in zip(preds, targets, crowds, strict=True):
        (t_seg, t_cat, t_inst), (p_seg, p_cat, _) = segments(target), segments(pred)
        counts = torch.bincount(t_seg * len(p_cat) + p_seg, minlength=len(t_cat) * len(p_cat))
        counts = counts.reshape(len(t_cat), len(p_cat))
        t_void, p_void = t_cat < 0, p_cat < 0
        is_crowd = (torch.stack([t_cat, t_inst], 1)[:, None] == crowd.long()[None]).all(-1).any(1) & ~t_void
        void_overlap = counts[t_void].sum(0)
        union = counts.sum(1)[:, None] + counts.sum(0)[None, :] - counts - void_overlap[None, :]
        same = t_cat[:, None] == p_cat[None, :]
        matched = same & ~(t_void | is_crowd)[:, None] & ~p_void[None, :] & (2 * counts > union)
        t_index, p_index = ((c[:, None] == cats).long().argmax(1) for c in (t_cat, p_cat))
        rows, cols = matched.nonzero(as_tuple=True)
        tp.index_add_(0, t_index[rows], torch.ones(len(rows), dtype=torch.float64))
        iou_sum.index_add_(0, t_index[rows], counts[rows, cols].double() / union[rows, cols].double())
        missed = ~matched.any(1) & ~t_void & ~is_crowd
        fn.index_add_(0, t_index[missed], torch.ones(int(missed.sum()), dtype=torch.float64))
        excused = void_overlap + (counts * (is_crowd[:, None] & same)).sum(0)
        false = ~matched.any(0) & ~p_void & ~(2 * excused > counts.sum(0))
        fp.index_add_(0, p_index[false], torch.ones(int(false.sum()), dtype=torch.float64))
    den = tp + fp / 2 + fn / 2
    scores = torch.stack([iou_sum / den, torch.where(tp > 0, iou_sum / tp, 0.0), tp / den], 1)  # NaN where den == 0
    is_thing = torch.arange(len(cats)) < len(things)
    rows = [scores[group & (den > 0)] for group in (torch.ones_like(is_thing), is_thing, ~is_thing)]
    return torch.stack([r.mean(0) if len(r) else torch.full((3,), NAN, dtype=torch.float64) for r in rows]).float()


# --- fuse(semantic, masks, scores, labels, stuff, score_threshold, overlap_threshold, min_stuff_area) -----------


def _fuse(semantic, masks, scores, labels, stuff, score_threshold=0.5, overlap_threshold=0.5, min_stuff_area=64, *,
          unsorted=False, overwrite=False, ge=False, stuff_before=False, no_min_area=False, no_threshold=False,
          index_ids=False, keep_thing_labels=False):
    out = torch.stack([torch.full_like(semantic, -1), torch.zeros_like(semantic)], -1).long()
    taken = torch.zeros_like(semantic, dtype=torch.bool)
    order = list(range(len(scores))) if unsorted else torch.sort(scores, descending=True, stable=True).indices.tolist()
    next_id = 1
    for k in order:
        area = int(masks[k].sum())
        if (not no_threshold and scores[k] < score_threshold) or area == 0:
            continue
        overlap = int((masks[k] & taken).sum())
        if not overwrite:
            too_much = overlap >= overlap_threshold * area if ge else overlap > overlap_threshold * area
            if too_much or overlap == area:
                continue
        region = masks[k] if overwrite else masks[k] & ~taken
        out[region] = torch.tensor([int(labels[k]), k + 1 if index_ids else next_id])
        taken |= region
        next_id += 1
    for c in (torch.unique(semantic).tolist() if keep_thing_labels else stuff):
        if c < 0:
            continue
        region = (semantic == c) & ~taken
        area = int((semantic == c).sum()) if stuff_before else int(region.sum())
        if no_min_area or area >= min_stuff_area:
            out[region] = torch.tensor([c, 0])
    return out


def fuse_cvlab_shortcut(semantic, masks, scores, labels, stuff, score_threshold=0.5, overlap_threshold=0.5,
                        min_stuff_area=64):
    from cvlab.panoptic import fuse

    return fuse(semantic, masks, scores, labels, stuff=stuff, score_threshold=score_threshold,
                overlap_threshold=overlap_threshold, min_stuff_area=min_stuff_area)


def fuse_not_sorted_by_score(*args, **kwargs):
    return _fuse(*args, **kwargs, unsorted=True)


def fuse_later_instances_overwrite(*args, **kwargs):
    return _fuse(*args, **kwargs, overwrite=True)


def fuse_overlap_at_the_threshold_dropped(*args, **kwargs):
    return _fuse(*args, **kwargs, ge=True)


def fuse_stuff_area_before_the_things(*args, **kwargs):
    return _fuse(*args, **kwargs, stuff_before=True)


def fuse_no_minimum_stuff_area(*args, **kwargs):
    return _fuse(*args, **kwargs, no_min_area=True)


def fuse_no_score_threshold(*args, **kwargs):
    return _fuse(*args, **kwargs, no_threshold=True)


def fuse_instance_ids_by_index(*args, **kwargs):
    return _fuse(*args, **kwargs, index_ids=True)


def fuse_thing_labels_fill_the_rest(*args, **kwargs):
    return _fuse(*args, **kwargs, keep_thing_labels=True)


def fuse_correct_numpy(semantic, masks, scores, labels, stuff, score_threshold=0.5, overlap_threshold=0.5,
                       min_stuff_area=64):
    import numpy as np

    sem, m, s = semantic.numpy(), masks.numpy(), scores.numpy()
    cat = np.full(sem.shape, -1, dtype=np.int64)
    inst = np.zeros(sem.shape, dtype=np.int64)
    placed = 0
    for k in sorted(range(len(s)), key=lambda k: (-float(s[k]), k)):
        if s[k] < score_threshold or not m[k].any():
            continue
        overlap = np.logical_and(m[k], cat >= 0).sum() if placed else 0
        free = m[k] & (inst == 0) & (cat < 0)
        if overlap > overlap_threshold * m[k].sum() or not free.any():
            continue
        placed += 1
        cat[free], inst[free] = int(labels[k]), placed
    for c in stuff:
        region = (sem == c) & (cat < 0)
        if region.sum() >= min_stuff_area:
            cat[region] = c
    return torch.from_numpy(np.stack([cat, inst], -1))


def fuse_correct_owner_map(semantic, masks, scores, labels, stuff, score_threshold=0.5, overlap_threshold=0.5,
                           min_stuff_area=64):
    """One owner map (0 free, else the placement number) instead of a taken mask; stuff filled where it is 0."""
    owner = torch.zeros(semantic.shape, dtype=torch.long)
    placed = [-1]  # category of each placement number; 0: void
    kept = (scores >= score_threshold).nonzero().flatten()
    for k in kept[torch.argsort(-scores[kept], stable=True)].tolist():
        area, free = int(masks[k].sum()), masks[k].bool() & (owner == 0)
        if area == 0 or not bool(free.any()) or area - int(free.sum()) > overlap_threshold * area:
            continue
        placed.append(int(labels[k]))
        owner[free] = len(placed) - 1
    cat = torch.tensor(placed)[owner]
    for c in stuff:
        region = (owner == 0) & (semantic.long() == c)
        if int(region.sum()) >= min_stuff_area:
            cat[region] = c
    return torch.stack([cat, owner], -1)


WRONG = {
    "segment_iou": [segment_iou_cvlab_shortcut, segment_iou_void_in_union, segment_iou_predicted_void_removed_too,
                    segment_iou_any_category, segment_iou_union_is_the_sum_of_areas, segment_iou_transposed,
                    segment_iou_float64],
    "panoptic_quality": [panoptic_quality_iou_at_least_half, panoptic_quality_void_left_in_the_union,
                         panoptic_quality_averaged_per_image, panoptic_quality_stuff_and_things_mixed,
                         panoptic_quality_fp_counted_on_void, panoptic_quality_division_by_zero,
                         panoptic_quality_instance_0_is_a_thing, panoptic_quality_crowd_counted_as_fn,
                         panoptic_quality_crowd_excuses_every_category],
    "fuse": [fuse_cvlab_shortcut, fuse_not_sorted_by_score, fuse_later_instances_overwrite,
             fuse_overlap_at_the_threshold_dropped, fuse_stuff_area_before_the_things, fuse_no_minimum_stuff_area,
             fuse_no_score_threshold, fuse_instance_ids_by_index, fuse_thing_labels_fill_the_rest],
}

CORRECT = {
    "segment_iou": [segment_iou_correct_loops, segment_iou_correct_one_hot],
    "panoptic_quality": [panoptic_quality_correct_per_segment, panoptic_quality_correct_pair_table],
    "fuse": [fuse_correct_numpy, fuse_correct_owner_map],
}
