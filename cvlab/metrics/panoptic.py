r"""Panoptic Quality (PQ), split into segmentation quality (SQ) and recognition quality (RQ), COCO's rules.

Per category, a predicted and a ground-truth segment *match* when their IoU is above 0.5 (strictly); each
match is a true positive (TP), an unmatched prediction a false positive (FP), an unmatched ground-truth segment
a false negative (FN), and

.. math::
    \mathrm{PQ} = \frac{\sum_{(p, g) \in TP} \mathrm{IoU}(p, g)}{|TP| + \tfrac12 |FP| + \tfrac12 |FN|}
    = \underbrace{\frac{\sum_{TP} \mathrm{IoU}}{|TP|}}_{\mathrm{SQ}}
      \times \underbrace{\frac{|TP|}{|TP| + \tfrac12 |FP| + \tfrac12 |FN|}}_{\mathrm{RQ}}.

The rules of the COCO panoptic evaluation (``panopticapi``), all kept here:

- matching happens only within a category; IoU > 0.5 makes a match unique (two segments that each cover more
  than half of the union cannot share it), so no assignment problem is solved;
- ground-truth void pixels are removed from the union: ``union = |p| + |g| - |p ∩ g| - |p ∩ void|``;
- an unmatched prediction is not a FP when more than half of its pixels are ground-truth void or a crowd region
  of its own category;
- a crowd region never matches and is never a FN;
- TP, FP, FN and the IoU sums are added up over the whole data set first; PQ, SQ and RQ are then computed per
  category, and the overall, things and stuff figures are plain means over the categories that have any TP, FP
  or FN (categories absent from both prediction and ground truth are left out). SQ of a category without a TP is
  0. Note that the mean PQ is *not* mean SQ times mean RQ; the product holds per category.

Conventions (see :mod:`cvlab.panoptic`): maps are int ``(H, W, 2)`` of (category, instance); all pixels of a
stuff category form one segment; a thing pixel with instance 0 is void, in prediction and ground truth alike.
A ground truth has at most one crowd region per category and image (COCO's own assumption); crowd pixels of one
category are one region.

Reference: A. Kirillov, K. He, R. Girshick, C. Rother, P. Dollár, "Panoptic Segmentation", CVPR 2019.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from cvlab._validate import check_categories, check_panoptic, check_tensor

__all__ = [
    "PQSummary",
    "PanopticCounts",
    "PanopticQualityResult",
    "SegmentPairs",
    "match_segments",
    "panoptic_counts",
    "panoptic_quality",
    "pq_from_counts",
]


# ----------------------------------------------------------------------------------------------------------
# results


class PQSummary(NamedTuple):
    """PQ, SQ and RQ averaged over ``n`` categories (NaN when ``n == 0``: no category had a TP, FP or FN)."""

    pq: float
    sq: float
    rq: float
    n: int


def pq_from_counts(tp: Tensor, fp: Tensor, fn: Tensor, iou_sum: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per-category PQ, SQ and RQ from summed counts (COCO's formulas).

    Args:
        tp, fp, fn (Tensor[C]): int counts; iou_sum (Tensor[C]): floating sum of the IoUs of the matches.

    Returns:
        (Tensor[C], Tensor[C], Tensor[C]): float64 PQ, SQ, RQ; NaN where ``tp + fp + fn == 0``; SQ is 0 where
        ``tp == 0`` but ``fp + fn > 0``.
    """
    for x, n in ((tp, "tp"), (fp, "fp"), (fn, "fn")):
        check_tensor(x, n, ndim=1, shape="(C,)", dtype="int")
    check_tensor(iou_sum, "iou_sum", ndim=1, shape="(C,)", dtype="float")
    tp, fp, fn, iou_sum = tp.double(), fp.double(), fn.double(), iou_sum.double()
    den = tp + 0.5 * fp + 0.5 * fn
    nan = torch.full_like(den, float("nan"))
    valid = den > 0
    pq = torch.where(valid, iou_sum / den.clamp(min=0.5), nan)
    rq = torch.where(valid, tp / den.clamp(min=0.5), nan)
    sq = torch.where(valid, torch.where(tp > 0, iou_sum / tp.clamp(min=1), 0.0), nan)
    return pq, sq, rq


def _summary(pq: Tensor, sq: Tensor, rq: Tensor, subset: Tensor) -> PQSummary:
    keep = subset & ~pq.isnan()
    n = int(keep.sum())
    if n == 0:
        return PQSummary(float("nan"), float("nan"), float("nan"), 0)
    return PQSummary(float(pq[keep].mean()), float(sq[keep].mean()), float(rq[keep].mean()), n)


@dataclass(frozen=True, eq=False)
class PanopticQualityResult:
    """Everything :func:`panoptic_quality` measures.

    Attributes:
        overall, things, stuff (PQSummary): means over the counted categories of each kind.
        categories (Tensor[C]): the category ids, things first, in the order given; ``is_thing`` (Tensor[C]).
        pq, sq, rq (Tensor[C]): float64 per category, NaN for a category left out (no TP, FP or FN).
        tp, fp, fn (Tensor[C]): int64 counts summed over the data set; iou_sum (Tensor[C]) float64.
    """

    overall: PQSummary
    things: PQSummary
    stuff: PQSummary
    categories: Tensor
    is_thing: Tensor
    pq: Tensor
    sq: Tensor
    rq: Tensor
    tp: Tensor
    fp: Tensor
    fn: Tensor
    iou_sum: Tensor

    def table(self, names: Sequence[str] | None = None) -> str:
        """A text table, COCO's layout (percent): PQ, SQ, RQ, N for all, things, stuff, then per category with
        its TP, FP, FN. ``names[category_id]`` labels the rows when given."""
        lines = [f"{'':12s} {'PQ':>6s} {'SQ':>6s} {'RQ':>6s} {'N':>4s}"]
        for label, s in (("All", self.overall), ("Things", self.things), ("Stuff", self.stuff)):
            lines.append(f"{label:12s} {100 * s.pq:6.1f} {100 * s.sq:6.1f} {100 * s.rq:6.1f} {s.n:4d}")
        lines.append(f"{'category':12s} {'PQ':>6s} {'SQ':>6s} {'RQ':>6s} {'TP':>4s} {'FP':>4s} {'FN':>4s}")
        for k, c in enumerate(self.categories.tolist()):
            name = names[c] if names is not None else str(c)
            lines.append(f"{name:12s} {100 * float(self.pq[k]):6.1f} {100 * float(self.sq[k]):6.1f} "
                         f"{100 * float(self.rq[k]):6.1f} {int(self.tp[k]):4d} {int(self.fp[k]):4d} "
                         f"{int(self.fn[k]):4d}")
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class PanopticCounts:
    """TP, FP, FN and IoU sums per category; add two with ``+`` to accumulate a data set batch by batch.

    Attributes:
        categories (Tensor[C]) int64 ids, things first; is_thing (Tensor[C]) bool;
        tp, fp, fn (Tensor[C]) int64; iou_sum (Tensor[C]) float64.
    """

    categories: Tensor
    is_thing: Tensor
    tp: Tensor
    fp: Tensor
    fn: Tensor
    iou_sum: Tensor

    def __add__(self, other: PanopticCounts) -> PanopticCounts:
        if not isinstance(other, PanopticCounts):
            return NotImplemented
        if not torch.equal(self.categories.cpu(), other.categories.cpu()) or not torch.equal(
            self.is_thing.cpu(), other.is_thing.cpu()
        ):
            raise ValueError("PanopticCounts: expected the same things and stuff to add counts, got different ones")
        dev = self.tp.device
        return PanopticCounts(self.categories, self.is_thing, self.tp + other.tp.to(dev), self.fp + other.fp.to(dev),
                              self.fn + other.fn.to(dev), self.iou_sum + other.iou_sum.to(dev))

    def quality(self) -> PanopticQualityResult:
        """PQ, SQ and RQ from these counts (see :func:`panoptic_quality`)."""
        pq, sq, rq = pq_from_counts(self.tp, self.fp, self.fn, self.iou_sum)
        every = torch.ones_like(self.is_thing)
        return PanopticQualityResult(
            overall=_summary(pq, sq, rq, every),
            things=_summary(pq, sq, rq, self.is_thing),
            stuff=_summary(pq, sq, rq, ~self.is_thing),
            categories=self.categories, is_thing=self.is_thing, pq=pq, sq=sq, rq=rq,
            tp=self.tp, fp=self.fp, fn=self.fn, iou_sum=self.iou_sum,
        )


# ----------------------------------------------------------------------------------------------------------
# segments and their pairs, vectorised over every image at once


def _images(maps: object, name: str) -> list[Tensor]:
    if isinstance(maps, Tensor):
        check_panoptic(maps, name, batched=True, values=False)
        return [maps] if maps.dim() == 3 else list(maps.unbind(0))
    if not isinstance(maps, Sequence) or isinstance(maps, str | bytes):
        raise TypeError(f"{name}: expected a tensor (H, W, 2) or (B, H, W, 2) or a list of (H, W, 2) tensors, "
                        f"got {type(maps).__name__}")
    return [check_panoptic(m, f"{name}[{i}]", values=False) for i, m in enumerate(maps)]


def _crowd_masks(crowd: object, target: list[Tensor]) -> list[Tensor | None] | set[tuple[int, int]]:
    """Per image a bool crowd mask, or one set of (category, instance) pairs for every image."""
    if crowd is None:
        return [None] * len(target)
    if isinstance(crowd, Tensor) and crowd.dtype == torch.bool:
        masks = [crowd] if crowd.dim() == 2 else list(crowd.unbind(0)) if crowd.dim() == 3 else None
    elif isinstance(crowd, Sequence) and crowd and all(isinstance(c, Tensor) and c.dtype == torch.bool
                                                       for c in crowd):
        masks = list(crowd)
    else:
        if isinstance(crowd, Tensor):
            crowd = crowd.tolist()
        if not isinstance(crowd, Collection) or isinstance(crowd, str | bytes) or not all(
            isinstance(p, Sequence) and len(p) == 2 for p in crowd
        ):
            raise TypeError("crowd: expected None, a bool mask (H, W) or (B, H, W), a list of bool masks, or a "
                            f"collection of (category, instance) pairs, got {type(crowd).__name__}")
        return {(int(a), int(b)) for a, b in crowd}
    if masks is None or len(masks) != len(target):
        raise ValueError(f"crowd: expected one bool mask per target image ({len(target)}), got "
                         f"{tuple(crowd.shape) if isinstance(crowd, Tensor) else len(crowd)}")
    for i, (m, t) in enumerate(zip(masks, target, strict=True)):
        if m.shape != t.shape[:-1]:
            raise ValueError(f"crowd[{i}]: expected shape {tuple(t.shape[:-1])} like the target, got {tuple(m.shape)}")
    return masks


def _small(size: int, n: int) -> bool:
    """Whether a histogram of ``size`` bins over ``n`` keys is cheaper as a ``bincount`` than as a sort."""
    return size <= max(4 * n, 1 << 16)


def _histogram(keys: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """The distinct values of non-negative int ``keys`` (all < ``size``) and their counts: one ``bincount`` when
    the range is small, a sort otherwise."""
    if _small(size, keys.numel()):
        counts = torch.bincount(keys, minlength=size)
        present = counts.nonzero().flatten()
        return present, counts[present]
    present, counts = torch.unique(keys, return_counts=True)
    return present.long(), counts


def _segments(keys: Tensor, size: int) -> tuple[Tensor, Tensor, Tensor | None]:
    """The distinct values of the int ``keys`` (all in ``[0, size)``, sorted, int64), their counts, and the rank
    of each key among them when a sort found them (None after a ``bincount``: see :func:`_lookup`)."""
    keys = keys.flatten()
    if _small(size, keys.numel()):
        present, counts = _histogram(keys, size)
        return present, counts, None
    present, inverse, counts = torch.unique(keys, return_inverse=True, return_counts=True)
    return present.long(), counts, inverse


def _lookup(keys: Tensor, present: Tensor, inverse: Tensor | None, size: int, values: Tensor) -> Tensor:
    """Per key (the shape of ``keys``), ``values[rank of the key among present]``: one table look-up."""
    if inverse is not None:
        return values.index_select(0, inverse).reshape(keys.shape)
    table = torch.zeros(size, dtype=values.dtype, device=values.device).index_copy_(0, present, values)
    return table.index_select(0, keys.flatten()).reshape(keys.shape)


class _Table(NamedTuple):
    num: int  # C categories; index C is void
    n_img: int
    t_cat: Tensor  # per ground-truth segment: category index, instance, crowd, area
    t_inst: Tensor
    t_crowd: Tensor
    t_area: Tensor
    p_cat: Tensor  # per predicted segment
    p_inst: Tensor
    p_area: Tensor
    pair_t: Tensor  # per (ground-truth segment, predicted segment) pair that shares pixels
    pair_p: Tensor
    inter: Tensor


def _batch(maps: list[Tensor], name: str) -> tuple[Tensor, Tensor]:
    """Pixels of (H, W, ...) maps as (B, M, ...) with image ids (B, 1) when every image has one size, else as
    (1, N, ...) and (1, N)."""
    device = maps[0].device
    if any(m.device != device for m in maps):
        raise ValueError(f"{name}: expected every tensor on one device")
    if all(m.shape == maps[0].shape for m in maps):
        x = torch.stack(maps) if len(maps) > 1 else maps[0][None]
        return x.reshape(len(maps), -1, *x.shape[3:]), torch.arange(len(maps), device=device)[:, None]
    sizes = torch.tensor([m.shape[0] * m.shape[1] for m in maps], device=device)
    img = torch.repeat_interleave(torch.arange(len(maps), device=device), sizes)
    return torch.cat([m.reshape(-1, *m.shape[2:]) for m in maps])[None], img[None]


def _layout(x: Tensor, name: str) -> tuple[int, int, int]:
    """``(lowest category, number of category values, instance slots)`` of the pixels ``x`` (..., 2): a key
    ``(category - lowest) * slots + instance`` is unique per segment of an image; two extra slots hold crowd
    pixels with and without an instance id."""
    if x.numel() == 0:
        return 0, 1, 3
    lo, hi = x.reshape(-1, 2).aminmax(dim=0)
    if int(lo[1]) < 0:
        raise ValueError(f"{name}: expected instance ids >= 0, got {int(lo[1])}")
    return int(lo[0]), int(hi[0] - lo[0]) + 1, int(hi[1]) + 3


def _words(x: Tensor) -> tuple[Tensor, int] | None:
    """The int32 words of contiguous int pixels ``(..., 2)`` and the index of the instance's word: the pixels
    themselves when int32, the low and high words of little-endian int64 (the instance's low word at 2); None
    for other layouts."""
    if x.numel() == 0 or not x.is_contiguous():
        return None
    if x.dtype == torch.int32:
        return x, 1
    if x.dtype == torch.int64 and sys.byteorder == "little":
        return x.view(torch.int32), 2
    return None


def _pixel_keys(x: Tensor, name: str) -> tuple[Tensor, Tensor, tuple[int, int, int]]:
    """Per pixel ``category * slots + instance`` and the instance channel (int32 where every value fits, else
    int64), and the :func:`_layout` of int32 or int64 pixels ``x`` (..., 2).

    When every value is in ``[0, 2^31)`` (every int32 word of the pixels is non-negative: one pass over the
    words) the slots come from the largest value and the category range from the keys themselves (a pass over
    the keys); otherwise :func:`_layout` reads both channels exactly."""
    found = _words(x)
    if found is not None:
        words, at = found
        w_lo, w_hi = (int(v) for v in words.aminmax())
        slots = w_hi + 3
        if w_lo >= 0 and (w_hi + 1) * slots < 2**31:
            cat, inst = words[..., 0], words[..., at]
            key = torch.add(inst, cat, alpha=slots)
            k_lo, k_hi = (int(v) for v in key.aminmax())
            return key, inst, (k_lo // slots, k_hi // slots - k_lo // slots + 1, slots)
    lo, ncat, slots = _layout(x, name)
    if found is not None and -(2**31) <= lo * slots and (lo + ncat) * slots < 2**31:
        cat, inst = found[0][..., 0], found[0][..., found[1]]
    else:
        cat, inst = x[..., 0].long(), x[..., 1].long()
    return torch.add(inst, cat, alpha=slots), inst, (lo, ncat, slots)


def _decode(keys: Tensor, cat_lo: int, n_inst: int) -> tuple[Tensor, Tensor, Tensor]:
    """Category, instance and crowd slot (0 none, 1 crowd, 2 crowd without instance id) of local keys."""
    s_inst = keys % n_inst
    slot = (s_inst - (n_inst - 3)).clamp(min=0)
    return keys // n_inst + cat_lo, torch.where(slot > 0, 0, s_inst), slot


def _classify(cat: Tensor, inst: Tensor, slot: Tensor, things, stuff, void, name: str):
    """Per segment: category index (C on void) and crowd flag, the conventions checked."""
    ids = torch.tensor(things + stuff, dtype=torch.int64, device=cat.device)
    num = len(ids)
    match = cat[:, None] == ids
    known = match.any(1)
    is_void = cat == void
    if bool((~known & ~is_void).any()):
        raise ValueError(f"{name}: expected category ids among things {things}, stuff {stuff} or void {void}, "
                         f"got {int(cat[~known & ~is_void][0])}")
    index = torch.where(known, match.long().argmax(1), num)
    thing = index < len(things)
    bad = known & ~thing & (inst != 0)
    if bool(bad.any()):
        raise ValueError(f"{name}: expected instance id 0 on stuff, got category {int(cat[bad][0])} with instance "
                         f"{int(inst[bad][0])}")
    index = torch.where(thing & (inst == 0) & (slot != 1), num, index)  # a thing without an instance is void
    return index, (slot > 0) & (index < num)


class _Pairs(NamedTuple):
    t_cat: Tensor  # per ground-truth segment: category id, instance, crowd slot, area
    t_inst: Tensor
    t_slot: Tensor
    t_area: Tensor
    p_cat: Tensor  # per predicted segment: category id, instance, area
    p_inst: Tensor
    p_area: Tensor
    pair_t: Tensor  # per (ground-truth segment, predicted segment) pair that shares pixels
    pair_p: Tensor
    inter: Tensor


def _pairs(t_x: Tensor, p_x: Tensor, img: Tensor, n_img: int, t_crowd_px: Tensor | None) -> _Pairs:
    """The segments and segment pairs of int32 or int64 pixels ``(R, M, 2)`` of ``n_img`` images, ``img`` the image of
    each row ``(R, 1)`` or pixel ``(1, M)``: a histogram of each map, then one of the pairs, no per-segment loop."""
    t_key, t_inst, (t_lo, t_ncat, t_ninst) = _pixel_keys(t_x, "target")
    p_key, _, (p_lo, p_ncat, p_ninst) = _pixel_keys(p_x, "pred")
    n_t, n_p = t_ncat * t_ninst, p_ncat * p_ninst
    shift = p_lo * p_ninst
    # int32 keys where every key fits (half the bytes per pass)
    bound = max(n_img * n_t, n_img * n_p, t_x.shape[0] * t_x.shape[1] * n_p) + abs(t_lo * t_ninst) + abs(shift)
    dt = torch.int32 if bound < 2**31 and t_key.dtype == p_key.dtype == torch.int32 else torch.int64
    t_key, p_key, t_inst = t_key.to(dt), p_key.to(dt), t_inst.to(dt)
    # per pixel the ground-truth segment's key, image * n_t + (category - lowest) * slots + instance
    t_key.add_((img * n_t - t_lo * t_ninst).to(dt))
    if t_crowd_px is not None:  # crowd pixels move to the crowd slots of their category
        t_key.add_(torch.where(t_crowd_px, t_ninst - 2 + (t_inst == 0).to(dt) - t_inst, 0).to(dt))
    t_ids, t_area, t_inverse = _segments(t_key, n_img * n_t)
    t_img = t_ids // n_t
    # per pixel the pair (ground-truth segment, prediction): target segment * width + the prediction's key within
    # the image, with the prediction's key as it is, or its rank among its image's predicted segments when that
    # range would make too many bins
    dense = not _small(t_ids.numel() * n_p, t_key.numel())
    if dense:
        p_key.add_((img * n_p - shift).to(dt))
        p_ids, p_area, p_inverse = _segments(p_key, n_img * n_p)
        p_img = p_ids // n_p
        rank = torch.arange(p_ids.numel(), device=p_ids.device) - torch.searchsorted(p_img, p_img)
        p_key = _lookup(p_key, p_ids, p_inverse, n_img * n_p, rank.to(dt))
        width, shift = max(int(rank.max()) + 1 if rank.numel() else 1, 1), 0
    else:
        width = n_p
    t_part = (torch.arange(t_ids.numel(), device=t_ids.device) * width - shift).to(dt)
    # plus the prediction's rank, or its key (category - lowest) * slots + instance, the lowest subtracted in t_part
    pair = _lookup(t_key, t_ids, t_inverse, n_img * n_t, t_part).add_(p_key)
    uniq, inter = _histogram(pair.flatten(), t_ids.numel() * width)
    pair_t = uniq // width
    if dense:
        pair_p = torch.searchsorted(p_img, t_img[pair_t]) + uniq % width
    else:  # every predicted segment shares pixels with some ground-truth segment (void included)
        p_ids, pair_p = torch.unique(t_img[pair_t] * n_p + uniq % width, return_inverse=True)
        p_area = torch.zeros(p_ids.numel(), dtype=torch.int64, device=inter.device).index_add_(0, pair_p, inter)
    t_cat, t_inst, t_slot = _decode(t_ids % n_t, t_lo, t_ninst)
    p_cat, p_inst, _ = _decode(p_ids % n_p, p_lo, p_ninst)
    return _Pairs(t_cat, t_inst, t_slot, t_area, p_cat, p_inst, p_area, pair_t, pair_p, inter)


def _table(pred, target, things, stuff, void, crowd) -> _Table:
    things, stuff = check_categories(things, stuff, void)
    num = len(things) + len(stuff)
    preds, targets = _images(pred, "pred"), _images(target, "target")
    if len(preds) != len(targets):
        raise ValueError(f"pred and target: expected as many images, got {len(preds)} and {len(targets)}")
    for i, (p, t) in enumerate(zip(preds, targets, strict=True)):
        if p.shape != t.shape:
            raise ValueError(f"pred and target: expected the same shape, image {i} has {tuple(p.shape)} and "
                             f"{tuple(t.shape)}")
    crowd = _crowd_masks(crowd, targets)
    n_img = len(targets)
    if n_img == 0:
        targets = preds = [torch.zeros((0, 0, 2), dtype=torch.int64)]
    if targets[0].device != preds[0].device:
        raise ValueError("pred and target: expected every tensor on one device")
    if isinstance(target, Tensor) and isinstance(pred, Tensor) and target.dim() == 4:
        t_x, p_x, img = target.flatten(1, 2), pred.flatten(1, 2), torch.arange(n_img, device=target.device)[:, None]
    else:
        t_x, img = _batch(targets, "target")
        p_x, _ = _batch(preds, "pred")
    t_x, p_x = (x if x.dtype in (torch.int32, torch.int64) else x.long() for x in (t_x, p_x))
    t_crowd_px = None
    if isinstance(crowd, list) and crowd and crowd[0] is not None:
        t_crowd_px = _batch([m.to(t_x.device) for m in crowd], "crowd")[0]
    t_cat, t_inst, t_slot, t_area, p_cat, p_inst, p_area, pair_t, pair_p, inter = _pairs(
        t_x, p_x, img, n_img, t_crowd_px)
    if isinstance(crowd, set):
        pairs = torch.tensor(sorted(crowd), dtype=torch.int64, device=t_cat.device).reshape(-1, 2)
        listed = ((t_cat[:, None] == pairs[:, 0]) & (t_inst[:, None] == pairs[:, 1])).any(1)
        t_slot = torch.where(listed, 1, t_slot)
    t_c, t_crowd = _classify(t_cat, t_inst, t_slot, things, stuff, void, "target")
    p_c, _ = _classify(p_cat, p_inst, torch.zeros_like(p_inst), things, stuff, void, "pred")
    return _Table(num, n_img, t_c, t_inst, t_crowd, t_area, p_c, p_inst, p_area, pair_t, pair_p, inter)


def _match(tab: _Table):
    """Per pair: union (void removed) and whether it matches; per predicted segment its void and crowd overlap."""
    pt, pp, inter = tab.pair_t, tab.pair_p, tab.inter
    t_void, p_void = tab.t_cat[pt] == tab.num, tab.p_cat[pp] == tab.num
    n_p = tab.p_area.numel()
    void_overlap = torch.zeros(n_p, dtype=torch.int64, device=inter.device).index_add_(
        0, pp[t_void], inter[t_void])
    same = tab.t_cat[pt] == tab.p_cat[pp]
    union = tab.p_area[pp] + tab.t_area[pt] - inter - void_overlap[pp]
    candidate = same & ~t_void & ~p_void & ~tab.t_crowd[pt]
    matched = candidate & (2 * inter > union)  # IoU > 0.5, exactly, in integers
    in_crowd = same & tab.t_crowd[pt] & ~p_void
    crowd_overlap = torch.zeros(n_p, dtype=torch.int64, device=inter.device).index_add_(
        0, pp[in_crowd], inter[in_crowd])
    return union, candidate, matched, void_overlap, crowd_overlap


def panoptic_counts(
    pred: Tensor | Sequence[Tensor],
    target: Tensor | Sequence[Tensor],
    things: Sequence[int],
    stuff: Sequence[int],
    *,
    void: int = -1,
    crowd: Tensor | Sequence[Tensor] | Collection[tuple[int, int]] | None = None,
) -> PanopticCounts:
    """TP, FP, FN and IoU sums per category over a set of images (the rules: see the module docstring).

    Args: as :func:`panoptic_quality`.

    Returns:
        PanopticCounts: on the device of the inputs; add counts of several calls with ``+``.
    """
    tab = _table(pred, target, things, stuff, void, crowd)
    things, stuff = check_categories(things, stuff, void)
    num, dev = tab.num, tab.inter.device
    union, _, matched, void_overlap, crowd_overlap = _match(tab)
    mt, mp = tab.pair_t[matched], tab.pair_p[matched]
    cat = tab.t_cat[mt]
    tp = torch.bincount(cat, minlength=num + 1)[:num]
    iou_sum = torch.zeros(num + 1, dtype=torch.float64, device=dev).index_add_(
        0, cat, tab.inter[matched].double() / union[matched].double())[:num]
    t_matched = torch.zeros_like(tab.t_area, dtype=torch.bool).index_fill_(0, mt, True)
    p_matched = torch.zeros_like(tab.p_area, dtype=torch.bool).index_fill_(0, mp, True)
    is_fn = ~t_matched & ~tab.t_crowd & (tab.t_cat < num)
    fn = torch.bincount(tab.t_cat[is_fn], minlength=num + 1)[:num]
    ignored = 2 * (void_overlap + crowd_overlap) > tab.p_area  # more than half void or own-category crowd
    is_fp = ~p_matched & ~ignored & (tab.p_cat < num)
    fp = torch.bincount(tab.p_cat[is_fp], minlength=num + 1)[:num]
    categories = torch.tensor(things + stuff, dtype=torch.int64, device=dev)
    is_thing = torch.arange(num, device=dev) < len(things)
    return PanopticCounts(categories, is_thing, tp, fp, fn, iou_sum)


def panoptic_quality(
    pred: Tensor | Sequence[Tensor],
    target: Tensor | Sequence[Tensor],
    things: Sequence[int],
    stuff: Sequence[int],
    *,
    void: int = -1,
    crowd: Tensor | Sequence[Tensor] | Collection[tuple[int, int]] | None = None,
) -> PanopticQualityResult:
    """Panoptic Quality of predictions against ground truth, COCO's rules (see the module docstring).

    Args:
        pred (Tensor[H, W, 2] or Tensor[B, H, W, 2] or list of Tensor[H_i, W_i, 2]): int (category, instance)
            predictions.
        target: ground truth of the same form and shapes; statistics are summed over all its images.
        things, stuff: the category ids of each kind (disjoint); every other id but ``void`` is an error.
        void (int): the category id of unlabeled pixels.
        crowd: ground-truth crowd regions, as a bool mask of the target's pixels (``(H, W)``, ``(B, H, W)`` or
            one per image), or a set of ground-truth (category, instance) pairs that are crowd in every image.

    Returns:
        PanopticQualityResult: overall / things / stuff ``PQSummary`` (NaN with ``n = 0`` where no category
        counts), and per category PQ, SQ, RQ, TP, FP, FN, IoU sums.

    Example:
        One sphere (category 3) over the ground (category 1), predicted 2 pixels too wide of 8:

        >>> target = torch.tensor([[1, 0]]).repeat(4, 4, 1); target[1:3, 1:3] = torch.tensor([3, 1])
        >>> pred = target.clone(); pred[0, 1:3] = torch.tensor([3, 1])
        >>> r = panoptic_quality(pred, target, things=[3], stuff=[1])
        >>> round(r.overall.pq, 4), r.tp.tolist(), round(float(r.pq[0]), 4)
        (0.75, [1, 1], 0.6667)
    """
    return panoptic_counts(pred, target, things, stuff, void=void, crowd=crowd).quality()


class SegmentPairs(NamedTuple):
    """Every (ground-truth, predicted) pair of segments of one image that share pixels, with the COCO rules'
    view of it. Each field is a tensor with one entry per pair."""

    target: Tensor  # (P, 2) ground-truth (category, instance); instance -1 marks a crowd region, void is (void, 0)
    pred: Tensor  # (P, 2) predicted (category, instance)
    intersection: Tensor  # (P,) pixels
    union: Tensor  # (P,) pixels, ground-truth void removed (meaningful where ``candidate``)
    iou: Tensor  # (P,) float64, NaN where the pair cannot match
    candidate: Tensor  # (P,) bool: same category, neither void nor crowd
    matched: Tensor  # (P,) bool: candidate and IoU > 0.5

    def table(self, names: Sequence[str] | None = None) -> str:
        """One line per pair: ground-truth and predicted segment, intersection, union, IoU and verdict."""
        def seg(c: int, i: int) -> str:
            label = names[c] if names is not None and 0 <= c < len(names) else str(c)
            return f"{label} {'crowd' if i < 0 else i}" if i else label

        lines = [f"{'ground truth':14s} {'prediction':14s} {'inter':>5s} {'union':>5s} {'IoU':>6s}  verdict"]
        for t, p, i, u, iou, cand, m in zip(self.target.tolist(), self.pred.tolist(), self.intersection.tolist(),
                                            self.union.tolist(), self.iou.tolist(), self.candidate.tolist(),
                                            self.matched.tolist(), strict=True):
            verdict = "match" if m else "IoU <= 0.5" if cand else "cannot match"
            shown = f"{iou:6.3f}" if cand else f"{'-':>6s}"
            lines.append(f"{seg(*t):14s} {seg(*p):14s} {i:5d} {u if cand else '-':>5} {shown}  {verdict}")
        return "\n".join(lines)


def match_segments(
    pred: Tensor,
    target: Tensor,
    things: Sequence[int],
    stuff: Sequence[int],
    *,
    void: int = -1,
    crowd: Tensor | Collection[tuple[int, int]] | None = None,
) -> SegmentPairs:
    """The pairs of segments of one image that overlap, their intersection, union, IoU and match (for teaching).

    Args: as :func:`panoptic_quality`, for one image ``(H, W, 2)``.

    Returns:
        SegmentPairs: pairs ordered by ground-truth then predicted segment.
    """
    check_panoptic(pred, "pred")
    check_panoptic(target, "target")
    tab = _table(pred, target, things, stuff, void, crowd)
    things, stuff = check_categories(things, stuff, void)
    union, candidate, matched, _, _ = _match(tab)
    ids = torch.tensor(things + stuff + (void,), dtype=torch.int64, device=tab.inter.device)
    pt, pp = tab.pair_t, tab.pair_p
    t_inst = torch.where(tab.t_crowd, -1, tab.t_inst)
    iou = torch.where(candidate, tab.inter.double() / union.double().clamp(min=1), float("nan"))
    return SegmentPairs(
        target=torch.stack([ids[tab.t_cat[pt]], t_inst[pt]], 1),
        pred=torch.stack([ids[tab.p_cat[pp]], tab.p_inst[pp]], 1),
        intersection=tab.inter, union=union, iou=iou, candidate=candidate, matched=matched,
    )
