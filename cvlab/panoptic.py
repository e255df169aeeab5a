"""Panoptic maps: encodings, and the fusion of semantic and instance predictions into one panoptic map.

A panoptic map gives every pixel a category and, for things, an instance: int64 ``(H, W, 2)`` of
``(category_id, instance_id)``, instance 0 on stuff, a ``void`` category id (default -1) on unlabeled pixels.
The same segmentation travels in two other forms:

- single integer ids ``category * divisor + instance`` (Cityscapes, Detectron2, Panoptic-DeepLab), -1 on void;
- the COCO form: an id map (0 = void, 1..N) plus one ``segments_info`` record per id
  (``id``, ``category_id``, ``iscrowd``, ``area``, ``bbox`` as ``[x, y, width, height]``).

Conventions used throughout (and by :func:`cvlab.metrics.panoptic_quality`): all pixels of a stuff category form
one segment (their instance id must be 0); a thing segment is one (category, instance) pair with instance >= 1,
and a thing pixel with instance 0 belongs to no segment, it is void.

Reference: A. Kirillov, K. He, R. Girshick, C. Rother, P. Dollár, "Panoptic Segmentation", CVPR 2019;
A. Kirillov, R. Girshick, K. He, P. Dollár, "Panoptic Feature Pyramid Networks", CVPR 2019 (the fusion).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from cvlab._validate import check_categories, check_int, check_number, check_panoptic, check_tensor

__all__ = [
    "VOID_ID",
    "category_index",
    "decode_ids",
    "detection_instances",
    "encode_ids",
    "from_segments",
    "fuse",
    "ground_truth_instances",
    "simulate_predictions",
    "to_segments",
]

VOID_ID = -1
"""The single-integer id of a void pixel in :func:`encode_ids`."""


def category_index(
    panoptic: Tensor, things: Sequence[int], stuff: Sequence[int], void: int = -1, name: str = "panoptic"
) -> tuple[Tensor, Tensor]:
    """Per pixel, the category's position in ``(*things, *stuff)`` (``C = len(things) + len(stuff)`` on void)
    and the instance id (0 on void and stuff), after checking every pixel against the conventions above.

    Args:
        panoptic (Tensor[..., 2]): int (category, instance) pairs.
        things, stuff: the category ids; ``void`` marks unlabeled pixels.
        name: the argument's name in error messages.

    Returns:
        (Tensor[...], Tensor[...]): int64 category positions in ``[0, C]`` and instance ids.

    Raises:
        ValueError: a category that is neither thing, stuff nor void, or a stuff pixel with an instance id.
    """
    things, stuff = check_categories(things, stuff, void)
    ids = torch.tensor(things + stuff, dtype=torch.int64, device=panoptic.device)
    num = len(ids)
    cat, inst = panoptic[..., 0].long().contiguous(), panoptic[..., 1].long()
    sorted_ids, order = ids.sort()
    pos = torch.searchsorted(sorted_ids, cat).clamp(max=num - 1)
    known = sorted_ids[pos] == cat
    is_void = cat == void
    unknown = ~known & ~is_void
    if bool(unknown.any()):
        raise ValueError(
            f"{name}: expected category ids among things {things}, stuff {stuff} or void {void}, "
            f"got {int(cat[unknown].flatten()[0])} ({int(unknown.sum())} pixel(s))"
        )
    index = torch.where(known, order[pos], num)
    thing = index < len(things)
    bad_stuff = known & ~thing & (inst != 0)
    if bool(bad_stuff.any()):
        raise ValueError(
            f"{name}: expected instance id 0 on stuff, got category {int(cat[bad_stuff].flatten()[0])} with "
            f"instance {int(inst[bad_stuff].flatten()[0])} ({int(bad_stuff.sum())} pixel(s))"
        )
    index = torch.where(thing & (inst == 0), num, index)  # a thing pixel without an instance is void
    return index, torch.where(index < len(things), inst, 0)


def encode_ids(panoptic: Tensor, divisor: int = 1000, void: int = -1) -> Tensor:
    """Single integer ids ``category * divisor + instance`` of a panoptic map, :data:`VOID_ID` (-1) on void.

    Args:
        panoptic (Tensor[..., 2]): int (category, instance) pairs; categories >= 0 or ``void``.
        divisor (int): larger than every instance id.
        void (int): the void category id.

    Returns:
        Tensor[...]: int64 ids.

    Example:
        >>> encode_ids(torch.tensor([[[3, 2], [1, 0], [-1, 0]]]))
        tensor([[3002, 1000,   -1]])
    """
    check_panoptic(panoptic, "panoptic", batched=True) if panoptic.dim() in (3, 4) else check_tensor(
        panoptic, "panoptic", dtype="int"
    )
    if panoptic.shape[-1] != 2:
        raise ValueError(f"panoptic: expected (category, instance) pairs in a last dimension of size 2, "
                         f"got shape {tuple(panoptic.shape)}")
    divisor = check_int(divisor, "divisor")
    cat, inst = panoptic[..., 0].long(), panoptic[..., 1].long()
    is_void = cat == void
    if bool((cat[~is_void] < 0).any()):
        raise ValueError(f"panoptic: expected category ids >= 0 or void {void}, got {int(cat[~is_void].min())}")
    if bool(((inst < 0) | (inst >= divisor)).any()):
        raise ValueError(f"panoptic: expected instance ids in [0, divisor={divisor}), got {int(inst.max())}")
    return torch.where(is_void, VOID_ID, cat * divisor + inst)


def decode_ids(ids: Tensor, divisor: int = 1000, void: int = -1) -> Tensor:
    """The panoptic map ``(..., 2)`` of single integer ids from :func:`encode_ids`; negative ids are void.

    Args:
        ids (Tensor[...]): int ids ``category * divisor + instance``, or a negative id on void.
        divisor (int): the divisor they were encoded with.
        void (int): the category id void pixels get.

    Returns:
        Tensor[..., 2]: int64 (category, instance) pairs, ``(void, 0)`` on void.
    """
    check_tensor(ids, "ids", dtype="int")
    divisor = check_int(divisor, "divisor")
    ids = ids.long()
    is_void = ids < 0
    cat = torch.where(is_void, void, ids // divisor)
    inst = torch.where(is_void, 0, ids % divisor)
    return torch.stack([cat, inst], dim=-1)


def _crowd_pairs(crowd: object) -> set[tuple[int, int]]:
    if isinstance(crowd, Tensor):
        crowd = crowd.tolist()
    if not isinstance(crowd, Collection) or isinstance(crowd, str | bytes):
        raise TypeError(f"crowd: expected a collection of (category, instance) pairs, got {type(crowd).__name__}")
    pairs = set()
    for pair in crowd:
        if not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"crowd: expected (category, instance) pairs, got {pair!r}")
        pairs.add((int(pair[0]), int(pair[1])))
    return pairs


def to_segments(
    panoptic: Tensor,
    things: Sequence[int],
    stuff: Sequence[int],
    *,
    void: int = -1,
    crowd: Collection[tuple[int, int]] = (),
) -> tuple[Tensor, list[dict]]:
    """The COCO panoptic form of a panoptic map: an id map (0 = void, segments 1..N) and its ``segments_info``.

    Segments are numbered stuff first (in category order), then things by instance id (then category), so that
    :func:`from_segments` gives the map back exactly when thing instances are numbered 1..N per image.

    Args:
        panoptic (Tensor[H, W, 2]): int (category, instance) pairs.
        things, stuff: the category ids; ``void``: the void category id.
        crowd: the (category, instance) pairs of the segments that are crowd regions (``iscrowd = 1``).

    Returns:
        (Tensor[H, W], list[dict]): int64 segment ids, and per id 1..N a record with ``id``, ``category_id``,
        ``iscrowd``, ``area`` (pixels) and ``bbox`` (``[x, y, width, height]`` in pixels, COCO's order).
    """
    check_panoptic(panoptic, "panoptic")
    crowd = _crowd_pairs(crowd)
    things, stuff = check_categories(things, stuff, void)
    index, inst = category_index(panoptic, things, stuff, void)
    num, n_things = len(things) + len(stuff), len(things)
    # sort key: stuff (by category) before things (by instance, then category); void last
    is_thing = index < n_things
    rank = torch.where(is_thing, num + inst * num + index, index)
    rank = torch.where(index == num, torch.iinfo(torch.int64).max, rank)
    keys, seg = torch.unique(rank, return_inverse=True)
    has_void = bool(keys.numel()) and int(keys[-1]) == torch.iinfo(torch.int64).max
    n_seg = keys.numel() - int(has_void)
    ids = torch.where(seg < n_seg, seg + 1, 0) if n_seg else torch.zeros_like(seg)
    h, w = ids.shape
    flat = ids.flatten()
    rows = torch.arange(h, device=ids.device).repeat_interleave(w)
    cols = torch.arange(w, device=ids.device).repeat(h)
    size = n_seg + 1
    area = torch.bincount(flat, minlength=size)
    big = h + w
    x0 = torch.full((size,), big, device=ids.device).scatter_reduce(0, flat, cols, "amin")
    y0 = torch.full((size,), big, device=ids.device).scatter_reduce(0, flat, rows, "amin")
    x1 = torch.full((size,), -1, device=ids.device).scatter_reduce(0, flat, cols, "amax")
    y1 = torch.full((size,), -1, device=ids.device).scatter_reduce(0, flat, rows, "amax")
    category_of = torch.tensor(things + stuff, dtype=torch.int64, device=ids.device)
    keys = keys[:n_seg]
    seg_index = torch.where(keys < num, keys, (keys - num) % num)
    seg_inst = torch.where(keys < num, 0, (keys - num) // num)
    info = []
    for k, (ci, ii) in enumerate(zip(seg_index.tolist(), seg_inst.tolist(), strict=True)):
        s = k + 1
        cat = int(category_of[ci])
        info.append({
            "id": s,
            "category_id": cat,
            "iscrowd": int((cat, ii) in crowd),
            "area": int(area[s]),
            "bbox": [int(x0[s]), int(y0[s]), int(x1[s] - x0[s] + 1), int(y1[s] - y0[s] + 1)],
        })
    return ids, info


def from_segments(
    ids: Tensor, segments_info: Sequence[dict], things: Sequence[int], *, void: int = -1
) -> Tensor:
    """The panoptic map of a COCO id map and its ``segments_info`` (the inverse of :func:`to_segments`).

    Thing segments get instance ids 1..N in the order of their segment ids; stuff gets instance 0; id 0 and ids
    without a record are void.

    Args:
        ids (Tensor[H, W]): int segment ids, 0 = void.
        segments_info: records with at least ``id`` and ``category_id``.
        things: the thing category ids; ``void``: the category id void pixels get.

    Returns:
        Tensor[H, W, 2]: int64 (category, instance) pairs.
    """
    check_tensor(ids, "ids", ndim=2, shape="(H, W)", dtype="int")
    things = set(check_categories(things, (), void)[0]) if things else set()
    records = sorted(segments_info, key=lambda r: int(r["id"]))
    top = max([int(ids.max()) if ids.numel() else 0] + [int(r["id"]) for r in records])
    cat_lut = torch.full((top + 1,), void, dtype=torch.int64)
    inst_lut = torch.zeros(top + 1, dtype=torch.int64)
    n = 0
    for r in records:
        if int(r["id"]) <= 0:
            raise ValueError(f"segments_info: expected segment ids >= 1 (0 is void), got {r['id']}")
        cat_lut[int(r["id"])] = int(r["category_id"])
        if int(r["category_id"]) in things:
            n += 1
            inst_lut[int(r["id"])] = n
    flat = ids.long().clamp(min=0)
    return torch.stack([cat_lut.to(ids.device)[flat], inst_lut.to(ids.device)[flat]], dim=-1)


def fuse(
    semantic: Tensor,
    masks: Tensor,
    scores: Tensor,
    labels: Tensor,
    *,
    stuff: Sequence[int],
    score_threshold: float = 0.5,
    overlap_threshold: float = 0.5,
    min_stuff_area: int = 64,
    void: int = -1,
) -> Tensor:
    """Fuse a semantic map and scored instance masks into a panoptic map (the Panoptic FPN heuristic).

    1. Instances with ``score >= score_threshold`` are placed by decreasing score (ties: lower index first).
       One whose pixels are more than ``overlap_threshold`` already taken is dropped; otherwise it takes its
       pixels that are still free and becomes instance 1, 2, ... in placement order.
    2. The remaining pixels take the semantic label where it is a stuff category; a stuff category whose
       remaining pixels number fewer than ``min_stuff_area`` is dropped.
    3. What is left (dropped stuff, semantic thing labels not covered by an instance) is void.

    Args:
        semantic (Tensor[H, W]): int predicted category per pixel (stuff and thing categories).
        masks (Tensor[K, H, W]): bool instance masks.
        scores (Tensor[K]): floating confidences.
        labels (Tensor[K]): int thing category of each instance.
        stuff: the stuff category ids.
        score_threshold, overlap_threshold: in [0, 1]; ``min_stuff_area``: pixels, >= 0.
        void: the category id of void pixels.

    Returns:
        Tensor[H, W, 2]: int64 (category, instance) pairs on the device of ``semantic``.
    """
    check_tensor(semantic, "semantic", ndim=2, shape="(H, W)", dtype="int")
    check_tensor(masks, "masks", ndim=3, shape="(K, H, W)", dtype="bool")
    check_tensor(scores, "scores", ndim=1, shape="(K,)", dtype="float", finite=True)
    check_tensor(labels, "labels", ndim=1, shape="(K,)", dtype="int")
    if masks.shape[1:] != semantic.shape:
        raise ValueError(f"masks and semantic: expected masks (K, {semantic.shape[0]}, {semantic.shape[1]}), "
                         f"got {tuple(masks.shape)}")
    if not masks.shape[0] == scores.shape[0] == labels.shape[0]:
        raise ValueError(f"masks, scores and labels: expected K of each, got {masks.shape[0]}, "
                         f"{scores.shape[0]} and {labels.shape[0]}")
    _, stuff = check_categories((), stuff, void)
    score_threshold = check_number(score_threshold, "score_threshold", minimum=0.0, maximum=1.0)
    overlap_threshold = check_number(overlap_threshold, "overlap_threshold", minimum=0.0, maximum=1.0)
    min_stuff_area = check_int(min_stuff_area, "min_stuff_area", minimum=0)
    stuff_ids = torch.tensor(stuff, dtype=torch.int64, device=semantic.device)
    if bool(torch.isin(labels.long(), stuff_ids).any()):
        raise ValueError(f"labels: expected thing categories, got stuff {sorted(set(labels.tolist()) & set(stuff))}")

    h, w = semantic.shape
    cat = torch.full((h, w), void, dtype=torch.int64, device=semantic.device)
    inst = torch.zeros((h, w), dtype=torch.int64, device=semantic.device)
    taken = torch.zeros((h, w), dtype=torch.bool, device=semantic.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    order = order[scores[order] >= score_threshold]
    areas = masks.flatten(1).sum(1)
    n_placed = 0
    for k in order.tolist():  # sequential by nature: each placement depends on the ones before
        area = int(areas[k])
        if area == 0:
            continue
        mask = masks[k]
        overlap = int((mask & taken).sum())
        if overlap > overlap_threshold * area or overlap == area:
            continue
        free = mask & ~taken
        n_placed += 1
        cat[free], inst[free] = int(labels[k]), n_placed
        taken |= free
    sem = semantic.long()
    is_stuff = torch.isin(sem, stuff_ids) & ~taken
    # stuff areas left, vectorised: one bincount over the stuff positions
    pos = torch.searchsorted(stuff_ids.sort().values, sem.clamp(min=int(stuff_ids.min())))
    pos = pos.clamp(max=len(stuff) - 1)
    area = torch.bincount(pos[is_stuff], minlength=len(stuff))
    keep = is_stuff & (area[pos] >= min_stuff_area)
    cat = torch.where(keep, sem, cat)
    return torch.stack([cat, inst], dim=-1)


def detection_instances(
    detection: dict, categories: Sequence[int], *, mask_threshold: float = 0.5, void: int = -1
) -> tuple[Tensor, Tensor, Tensor]:
    """The instance inputs of :func:`fuse` from one image's detections in torchvision's form (Mask R-CNN's output).

    torchvision numbers the classes of a detector 1..K (0 is the background); ``categories[k - 1]`` is the panoptic
    category of class ``k`` (e.g. ``cvlab.data.THING_CLASSES`` for the course's Mask R-CNN). Soft masks are cut
    at ``mask_threshold``, as torchvision and COCO's mask evaluation do.

    Args:
        detection (dict): ``"masks"`` (Tensor[K, H, W] or Tensor[K, 1, H, W]) probabilities in [0, 1] or bool,
            ``"scores"`` (Tensor[K]) and ``"labels"`` (Tensor[K]) int in ``1..len(categories)``.
        categories: the thing category id of each detector class, in class order (distinct, not ``void``).
        mask_threshold (float): in [0, 1]; a pixel is in the mask where its probability is ``>= mask_threshold``.
        void (int): the void category id.

    Returns:
        (masks Tensor[K, H, W] bool, scores Tensor[K] float, labels Tensor[K] int64 category ids), on the
        device of the masks; the inputs are left untouched.

    Example:
        >>> d = {"masks": torch.tensor([[[0.9, 0.2]]]), "scores": torch.tensor([0.7]), "labels": torch.tensor([2])}
        >>> masks, scores, labels = detection_instances(d, categories=(3, 4, 5, 6))
        >>> masks.tolist(), labels.tolist()
        ([[[True, False]]], [4])
    """
    if not isinstance(detection, dict):
        raise TypeError(f"detection: expected a dict with masks, scores and labels, got {type(detection).__name__}")
    missing = [k for k in ("masks", "scores", "labels") if k not in detection]
    if missing:
        raise ValueError(f"detection: expected the keys masks, scores and labels, got {sorted(detection)}")
    masks = check_tensor(detection["masks"], "detection['masks']", ndim=(3, 4), shape="(K, H, W)")
    if masks.dim() == 4:
        if masks.shape[1] != 1:
            raise ValueError(f"detection['masks']: expected (K, H, W) or (K, 1, H, W), got {tuple(masks.shape)}")
        masks = masks[:, 0]
    scores = check_tensor(detection["scores"], "detection['scores']", ndim=1, shape="(K,)", dtype="float")
    labels = check_tensor(detection["labels"], "detection['labels']", ndim=1, shape="(K,)", dtype="int")
    if not masks.shape[0] == scores.shape[0] == labels.shape[0]:
        raise ValueError(f"detection: expected K masks, scores and labels, got {masks.shape[0]}, {scores.shape[0]} "
                         f"and {labels.shape[0]}")
    if isinstance(categories, Sequence) and not categories:
        raise ValueError("categories: expected at least one category id, got none")
    things, _ = check_categories(categories, (), void)
    mask_threshold = check_number(mask_threshold, "mask_threshold", minimum=0.0, maximum=1.0)
    if labels.numel() and (int(labels.min()) < 1 or int(labels.max()) > len(things)):
        raise ValueError(f"detection['labels']: expected classes 1..{len(things)} (0 is the background), got "
                         f"{int(labels.min())}..{int(labels.max())}")
    lut = torch.tensor((0, *things), dtype=torch.int64, device=labels.device)
    binary = masks.bool() if masks.dtype == torch.bool else masks >= mask_threshold
    return binary, scores.clone(), lut[labels.long()]


def ground_truth_instances(
    panoptic: Tensor, things: Sequence[int], *, void: int = -1
) -> tuple[Tensor, Tensor, Tensor]:
    """The instance inputs of :func:`fuse` that a perfect instance head would give: one mask per ground-truth
    thing segment, score 1 (the oracle of an ablation).

    Args:
        panoptic (Tensor[H, W, 2]): int (category, instance) pairs; pixels of categories not in ``things`` are
            ignored (stuff, void).
        things: the thing category ids; ``void``: the void category id.

    Returns:
        (masks Tensor[K, H, W] bool, scores Tensor[K] float32 ones, labels Tensor[K] int64), segments ordered by
        (category, instance), on the device of ``panoptic``.
    """
    check_panoptic(panoptic, "panoptic")
    things, _ = check_categories(things, (), void)
    cat, inst = panoptic[..., 0].long(), panoptic[..., 1].long()
    is_thing = torch.isin(cat, torch.tensor(things, dtype=torch.int64, device=cat.device)) & (inst > 0)
    pairs = torch.stack([cat[is_thing], inst[is_thing]], 1)
    keys = torch.unique(pairs, dim=0) if pairs.numel() else pairs.reshape(0, 2)
    masks = (cat[None] == keys[:, :1, None]) & (inst[None] == keys[:, 1:, None])
    return masks, torch.ones(len(keys), device=cat.device), keys[:, 0].clone()


def simulate_predictions(
    panoptic: Tensor,
    things: Sequence[int],
    stuff: Sequence[int],
    *,
    seed: int,
    flip: float = 0.1,
    miss: float = 0.1,
    merge: float = 0.3,
    jitter: int = 2,
    false_positives: int = 2,
    void: int = -1,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Noisy semantic and instance predictions made from ground truth, to exercise fusion and PQ without a model.

    - semantic: the ground-truth categories, with low-frequency blobs covering about ``flip`` of the image
      relabelled to another stuff category (stuff holes and wrong patches; thing pixels stay thing);
    - instances: every ground-truth thing, missed with probability ``miss``, its mask grown or shrunk by up to
      ``jitter`` pixels, score in [0.6, 1); with probability ``merge`` a thing is merged with the nearest other
      thing of its category (one mask for both, the pair's higher score); plus ``false_positives`` random
      blobs with scores in [0.3, 0.8).

    Args:
        panoptic (Tensor[H, W, 2]): ground truth (category, instance) pairs.
        things, stuff: category ids; ``void``: the void id.
        seed: everything is fixed by it (a local generator); flip, miss, merge in [0, 1]; jitter, false_positives
        >= 0.

    Returns:
        (semantic Tensor[H, W] int64, masks Tensor[K, H, W] bool, scores Tensor[K] float32, labels Tensor[K] int64),
        ready for :func:`fuse`; on the CPU.
    """
    check_panoptic(panoptic, "panoptic")
    things, stuff = check_categories(things, stuff, void)
    if not things or not stuff:
        raise ValueError("things and stuff: expected at least one category of each")
    seed = check_int(seed, "seed", minimum=0)
    flip, miss, merge = (check_number(v, n, minimum=0.0, maximum=1.0)
                         for v, n in ((flip, "flip"), (miss, "miss"), (merge, "merge")))
    jitter = check_int(jitter, "jitter", minimum=0)
    false_positives = check_int(false_positives, "false_positives", minimum=0)
    g = torch.Generator().manual_seed(seed)
    panoptic = panoptic.cpu()
    index, inst = category_index(panoptic, things, stuff, void)
    h, w = index.shape
    cats = torch.tensor(things + stuff)
    semantic = torch.where(index < len(cats), cats[index.clamp(max=len(cats) - 1)], void)

    def blobs(fraction: float) -> Tensor:
        noise = F.interpolate(torch.rand(1, 1, max(2, h // 12), max(2, w // 12), generator=g), size=(h, w),
                              mode="bicubic", align_corners=False)[0, 0]
        return noise >= torch.quantile(noise.flatten(), 1 - fraction) if fraction > 0 else noise > 2

    stuff_t = torch.tensor(stuff)
    is_stuff = torch.isin(semantic, stuff_t)
    shift = torch.randint(1, max(2, len(stuff)), (1,), generator=g).item() if len(stuff) > 1 else 0
    pos = torch.searchsorted(stuff_t.sort().values, semantic.clamp(min=int(stuff_t.min()))).clamp(max=len(stuff) - 1)
    other = stuff_t.sort().values[(pos + shift) % len(stuff)]
    semantic = torch.where(blobs(flip) & is_stuff, other, semantic)

    # instances from ground truth
    thing_px = index < len(things)
    keys = torch.unique(index[thing_px] * (int(inst.max()) + 1) + inst[thing_px]).tolist()
    masks, scores, labels, centres = [], [], [], []
    for key in keys:
        ci, ii = divmod(key, int(inst.max()) + 1)
        m = (index == ci) & (inst == ii)
        if torch.rand(1, generator=g).item() < miss:
            continue
        r = int(torch.randint(-jitter, jitter + 1, (1,), generator=g)) if jitter else 0
        if r > 0:
            m = F.max_pool2d(m[None, None].float(), 2 * r + 1, 1, r)[0, 0] > 0
        elif r < 0:
            m = -F.max_pool2d(-m[None, None].float(), -2 * r + 1, 1, -r)[0, 0] > 0
        if not bool(m.any()):
            continue
        masks.append(m)
        scores.append(0.6 + 0.4 * torch.rand(1, generator=g).item())
        labels.append(things[ci])
        yx = m.nonzero().float().mean(0)
        centres.append(yx)
    merged = set()
    for a in range(len(masks)):
        if a in merged or torch.rand(1, generator=g).item() >= merge:
            continue
        same = [b for b in range(len(masks)) if b != a and b not in merged and labels[b] == labels[a]]
        if not same:
            continue
        b = min(same, key=lambda j: float((centres[j] - centres[a]).norm()))
        masks[a] = masks[a] | masks[b]
        scores[a] = max(scores[a], scores[b])
        merged.add(b)
    keep = [k for k in range(len(masks)) if k not in merged]
    masks, scores, labels = [masks[k] for k in keep], [scores[k] for k in keep], [labels[k] for k in keep]
    for _ in range(false_positives):
        cy, cx = (torch.rand(2, generator=g) * torch.tensor([h, w])).tolist()
        ry, rx = (torch.rand(2, generator=g) * torch.tensor([h, w]) * 0.08 + 2).tolist()
        yy, xx = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
        masks.append(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1)
        scores.append(0.3 + 0.5 * torch.rand(1, generator=g).item())
        labels.append(things[int(torch.randint(len(things), (1,), generator=g))])
    masks_t = torch.stack(masks) if masks else torch.zeros((0, h, w), dtype=torch.bool)
    return (semantic, masks_t, torch.tensor(scores, dtype=torch.float32),
            torch.tensor(labels, dtype=torch.int64))
