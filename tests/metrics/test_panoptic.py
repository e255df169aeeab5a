import math

import numpy as np
import pytest
import torch

from cvlab.data import render_scene
from cvlab.metrics import match_segments, panoptic_counts, panoptic_quality, pq_from_counts
from cvlab.panoptic import fuse, simulate_predictions
from tests.metrics.panoptic_oracle import coco_pq

THINGS, STUFF = (3, 4), (1, 2)
V = -1  # void


def _map(cat_rows, inst_rows=None):
    """(H, W, 2) map from nested lists of categories (and instances, default 0)."""
    cat = torch.tensor(cat_rows)
    inst = torch.zeros_like(cat) if inst_rows is None else torch.tensor(inst_rows)
    return torch.stack([cat, inst], -1)


def _one_thing(rows):
    """A 1-row image: 1 = thing (3, 1), 0 = stuff 1, 9 = void."""
    cat = [[3 if v == 1 else V if v == 9 else 1 for v in rows]]
    inst = [[1 if v == 1 else 0 for v in rows]]
    return _map(cat, inst)


def _pq(pred, target, **kw):
    return panoptic_quality(pred, target, THINGS, STUFF, **kw)


def _thing(r):
    k = r.categories.tolist().index(3)
    return int(r.tp[k]), int(r.fp[k]), int(r.fn[k]), float(r.iou_sum[k])


# ---------------------------------------------------------------------------------------------- hand-worked


def test_perfect_prediction_scores_one_and_leaves_absent_categories_out():
    target = _one_thing([0, 1, 1, 0])
    r = _pq(target.clone(), target)
    assert r.overall == (1.0, 1.0, 1.0, 2)  # categories 3 and 1 counted, 4 and 2 absent everywhere
    assert r.things.n == 1 and r.stuff.n == 1
    assert r.pq.isnan().tolist() == [False, True, False, True]


def test_iou_of_exactly_one_half_is_not_a_match():
    target = _one_thing([1, 1, 1, 1, 0, 0])
    pred = _one_thing([1, 1, 0, 0, 0, 0])  # thing: intersection 2, union 4
    assert _thing(_pq(pred, target)) == (0, 1, 1, 0.0)
    pred = _one_thing([0, 1, 1, 1, 1, 1])  # intersection 3, union 6
    assert _thing(_pq(pred, target)) == (0, 1, 1, 0.0)
    pred = _one_thing([1, 1, 1, 0, 0, 0])  # intersection 3, union 4: a match
    tp, fp, fn, iou = _thing(_pq(pred, target))
    assert (tp, fp, fn) == (1, 0, 0) and iou == pytest.approx(0.75)


def test_ground_truth_void_is_removed_from_the_union_but_prediction_void_is_not():
    target = _one_thing([9, 9, 1, 1, 1, 1])
    pred = _one_thing([1, 1, 1, 1, 1, 1])  # 2 of its 6 pixels on void: union 6 + 4 - 4 - 2 = 4
    assert _thing(_pq(pred, target)) == (1, 0, 0, 1.0)
    pred = _one_thing([0, 0, 1, 1, 1, 9])  # predicted void stays in the union: IoU 3/4
    assert _thing(_pq(pred, target))[3] == pytest.approx(0.75)


def test_unmatched_prediction_mostly_on_void_is_not_a_false_positive():
    target = _one_thing([9, 9, 9, 0, 0, 0, 0, 0])
    pred = _one_thing([1, 1, 1, 1, 1, 0, 0, 0])  # 3 of 5 on void: ignored
    assert _thing(_pq(pred, target)) == (0, 0, 0, 0.0)
    pred = _one_thing([0, 1, 1, 1, 1, 0, 0, 0])  # 2 of 4 on void: exactly half is still a FP
    assert _thing(_pq(pred, target)) == (0, 1, 0, 0.0)


def test_crowd_never_matches_never_misses_and_hides_same_category_predictions():
    target = _one_thing([1, 1, 1, 1, 0, 0, 0, 0])
    crowd = torch.tensor([[True] * 4 + [False] * 4])
    r = _pq(target.clone(), target, crowd=crowd)  # a perfect copy of the crowd region: neither TP, FP nor FN
    assert _thing(r) == (0, 0, 0, 0.0)
    pred = _one_thing([0, 0, 1, 1, 1, 0, 0, 0])  # 2 of 3 on crowd: ignored
    assert _thing(_pq(pred, target, crowd=crowd)) == (0, 0, 0, 0.0)
    pred = _one_thing([0, 0, 0, 1, 1, 1, 1, 0])  # 1 of 4 on crowd: a FP
    assert _thing(_pq(pred, target, crowd=crowd)) == (0, 1, 0, 0.0)
    other = pred.clone()  # a prediction of another category over the crowd is a FP
    other[0, :4] = torch.tensor([4, 7])
    r = _pq(other, target, crowd=crowd)
    assert int(r.fp[r.categories.tolist().index(4)]) == 1
    assert _thing(_pq(target.clone(), target, crowd={(3, 1)})) == (0, 0, 0, 0.0)  # pairs form


def test_void_and_crowd_add_up_to_ignore_a_prediction():
    target = _one_thing([9, 9, 1, 1, 1, 1, 0, 0])
    crowd = torch.tensor([[False, False, True, True, True, True, False, False]])
    pred = _one_thing([1, 1, 1, 0, 0, 0, 1, 1])  # one segment of 5: 2 void + 1 crowd = 3 > 2.5
    assert _thing(_pq(pred, target, crowd=crowd)) == (0, 0, 0, 0.0)


def test_statistics_are_summed_over_the_data_set_before_averaging():
    target = _one_thing([0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])  # thing of 10 pixels
    good = _one_thing([0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0])  # IoU 0.9
    missed = _one_thing([0] * 11)
    r = _pq([good, missed], [target, target])
    tp, fp, fn, iou = _thing(r)
    assert (tp, fp, fn) == (1, 0, 1) and iou == pytest.approx(0.9)
    assert float(r.pq[0]) == pytest.approx(0.9 / 1.5)  # per-image averaging would give (0.9 + 0) / 2
    batch = _pq(torch.stack([good, missed]), torch.stack([target, target]))
    torch.testing.assert_close(batch.pq, r.pq, equal_nan=True)
    summed = panoptic_counts(good, target, THINGS, STUFF) + panoptic_counts(missed, target, THINGS, STUFF)
    assert torch.equal(summed.tp, r.tp) and torch.equal(summed.fn, r.fn)


def test_categories_only_in_prediction_or_only_in_target():
    target = _map([[1, 1, 1, 1]])
    pred = _map([[2, 2, 2, 2]])
    r = _pq(pred, target)
    assert r.tp.tolist() == [0, 0, 0, 0] and r.fp.tolist() == [0, 0, 0, 1] and r.fn.tolist() == [0, 0, 1, 0]
    assert r.stuff == (0.0, 0.0, 0.0, 2) and math.isnan(r.things.pq) and r.things.n == 0


def test_no_valid_category_and_empty_inputs_give_nan_not_an_error():
    void_only = _map([[V, V]])
    r = _pq(void_only, void_only)
    assert r.overall.n == 0 and math.isnan(r.overall.pq)
    r = _pq([], [])
    assert r.overall.n == 0 and r.tp.tolist() == [0, 0, 0, 0]
    empty = torch.zeros((0, 5, 2), dtype=torch.int64)
    assert _pq(empty, empty).overall.n == 0


def test_thing_pixels_without_an_instance_are_void():
    target = _map([[3, 3, 1, 1]], [[0, 0, 0, 0]])  # thing with instance 0 in the target: void
    pred = _map([[3, 3, 1, 1]], [[1, 1, 0, 0]])
    r = _pq(pred, target)
    assert _thing(r) == (0, 0, 0, 0.0)  # the prediction is all on void: ignored
    r = _pq(target, _map([[3, 3, 1, 1]], [[5, 5, 0, 0]]))  # predicted thing without instance: no segment
    assert _thing(r) == (0, 0, 1, 0.0)


def test_matching_is_only_within_a_category():
    target = _map([[3, 3, 1, 1]], [[1, 1, 0, 0]])
    pred = _map([[4, 4, 1, 1]], [[1, 1, 0, 0]])
    r = _pq(pred, target)
    assert r.tp.tolist() == [0, 0, 1, 0] and r.fn.tolist() == [1, 0, 0, 0] and r.fp.tolist() == [0, 1, 0, 0]


def test_pq_is_sq_times_rq_per_category_and_sq_is_zero_without_matches():
    pq, sq, rq = pq_from_counts(torch.tensor([2, 0, 0]), torch.tensor([1, 1, 0]), torch.tensor([1, 0, 0]),
                                torch.tensor([1.5, 0.0, 0.0], dtype=torch.float64))
    assert torch.allclose(pq[:2], sq[:2] * rq[:2])
    assert pq[0] == pytest.approx(1.5 / 3) and sq[0] == 0.75 and rq[0] == pytest.approx(2 / 3)
    assert sq[1] == 0 and pq[1] == 0 and math.isnan(float(pq[2]))


def test_worked_example_pairs():
    target = _map([[1, 1, 3, 3], [1, 1, 3, 3], [2, 2, 4, 4], [2, 2, 4, 4]],
                  [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 2, 2]])
    target[2, 2:] = torch.tensor([4, 2])
    pred = target.clone()
    pred[0, 1] = torch.tensor([3, 1])  # the thing grows into the stuff
    pairs = match_segments(pred, target, THINGS, STUFF)
    got = {(tuple(t), tuple(p)): (int(i), int(u), bool(m)) for t, p, i, u, m in zip(
        pairs.target.tolist(), pairs.pred.tolist(), pairs.intersection, pairs.union, pairs.matched, strict=True)}
    assert got[((3, 1), (3, 1))] == (4, 5, True)
    assert got[((1, 0), (1, 0))] == (3, 4, True)
    assert got[((1, 0), (3, 1))][2] is False  # different categories never match


# ---------------------------------------------------------------------------------------------- properties


def _random_maps(seed, n=3, size=12, void=0.1, thing0=0.05):
    g = torch.Generator().manual_seed(seed)
    cats = torch.tensor((*THINGS, *STUFF))

    def one():
        coarse = cats[torch.randint(len(cats), (size // 3, size // 3), generator=g)]
        cat = coarse.repeat_interleave(3, 0).repeat_interleave(3, 1)
        inst = torch.where(torch.isin(cat, torch.tensor(THINGS)), torch.randint(1, 4, cat.shape, generator=g)
                           .reshape(size // 3, 3, size // 3, 3)[:, :1, :, :1].expand(-1, 3, -1, 3)
                           .reshape(size, size), 0)
        return torch.stack([cat, inst], -1)

    preds, targets, crowds = [], [], []
    for _ in range(n):
        t = one()
        p = t.clone()
        change = torch.rand(size, size, generator=g) < 0.25
        p[change] = one()[change]
        t[torch.rand(size, size, generator=g) < void] = torch.tensor([V, 0])
        p[torch.rand(size, size, generator=g) < void] = torch.tensor([V, 0])
        p[(torch.rand(size, size, generator=g) < thing0) & torch.isin(p[..., 0], torch.tensor(THINGS))] = \
            torch.tensor([3, 0])
        crowds.append((t[..., 0] == 4) & (t[..., 1] == 3))  # one crowd region per image and category
        preds.append(p)
        targets.append(t)
    return preds, targets, crowds


@pytest.mark.parametrize(("seed", "void"), [(s, 0.1) for s in range(6)] + [(s, 0.5) for s in range(6, 10)])
def test_equals_the_coco_rules_oracle_on_random_maps(seed, void):
    preds, targets, crowds = _random_maps(seed, void=void)
    ours = _pq(preds, targets, crowd=crowds)
    stats, means = coco_pq([p.numpy() for p in preds], [t.numpy() for t in targets], THINGS, STUFF, V,
                           [c.numpy() for c in crowds])
    for k, c in enumerate(ours.categories.tolist()):
        tp, fp, fn, iou = stats[c]
        assert (int(ours.tp[k]), int(ours.fp[k]), int(ours.fn[k])) == (tp, fp, fn), c
        assert float(ours.iou_sum[k]) == pytest.approx(iou, abs=1e-12)
    for name, summary in (("All", ours.overall), ("Things", ours.things), ("Stuff", ours.stuff)):
        np.testing.assert_allclose(summary, means[name], rtol=1e-12)


@pytest.mark.parametrize("ids", ["large instance ids", "instance ids in the thousands", "large category ids"])
def test_counts_do_not_depend_on_how_far_apart_the_ids_are(ids):
    """Ids only name segments; ids far apart take the wide paths (int64 keys, sorting instead of bincount)."""
    preds, targets, crowds = _random_maps(3, n=4)
    shift = 2**40 if ids == "large category ids" else 0
    factor = 1_000_003 if ids == "large instance ids" else 1009

    def spread(m):
        if shift:
            return torch.stack([torch.where(m[..., 0] == V, V, m[..., 0] + shift), m[..., 1]], -1)
        return torch.stack([m[..., 0], m[..., 1] * factor], -1)

    ref = panoptic_counts(torch.stack(preds), torch.stack(targets), THINGS, STUFF, void=V, crowd=torch.stack(crowds))
    for pred, target in ((torch.stack([spread(p) for p in preds]), torch.stack([spread(t) for t in targets])),
                         ([spread(p) for p in preds], [spread(t) for t in targets])):
        out = panoptic_counts(pred, target, [c + shift for c in THINGS], [c + shift for c in STUFF], void=V,
                              crowd=crowds)
        assert all(torch.equal(getattr(out, f), getattr(ref, f)) for f in ("tp", "fp", "fn"))
        assert torch.allclose(out.iou_sum, ref.iou_sum, rtol=0, atol=1e-12)


@pytest.mark.parametrize("void_id", [0, 7, 2**31 - 1])
def test_a_void_id_that_is_not_negative_counts_the_same(void_id):
    """Maps without negative values take the path that reads every value's range in one pass over the words."""
    preds, targets, crowds = _random_maps(4, n=3)
    ref = panoptic_counts(torch.stack(preds), torch.stack(targets), THINGS, STUFF, void=V, crowd=torch.stack(crowds))
    cats = {0: (9, 10, 11, 12), 7: THINGS + STUFF, 2**31 - 1: THINGS + STUFF}[void_id]
    mapping = dict(zip(THINGS + STUFF, cats, strict=True)) | {V: void_id}

    def renamed(m):
        return torch.stack([m[..., 0].clone().apply_(mapping.get), m[..., 1]], -1)

    out = panoptic_counts(torch.stack([renamed(p) for p in preds]), torch.stack([renamed(t) for t in targets]),
                          cats[:2], cats[2:], void=void_id, crowd=torch.stack(crowds))
    assert all(torch.equal(getattr(out, f), getattr(ref, f)) for f in ("tp", "fp", "fn"))
    assert torch.allclose(out.iou_sum, ref.iou_sum, rtol=0, atol=1e-12)


def test_equals_the_oracle_on_fused_scene_predictions():
    preds, targets = [], []
    for seed in range(3):
        scene = render_scene(seed, size=48)
        sem, masks, scores, labels = simulate_predictions(scene.panoptic, scene.things, scene.stuff, seed=seed)
        preds.append(fuse(sem, masks, scores, labels, stuff=scene.stuff, min_stuff_area=16))
        targets.append(scene.panoptic)
    things, stuff = scene.things, scene.stuff
    ours = panoptic_quality(preds, targets, things, stuff)
    stats, means = coco_pq([p.numpy() for p in preds], [t.numpy() for t in targets], things, stuff)
    assert [stats[c][:3] for c in ours.categories.tolist()] == torch.stack(
        [ours.tp, ours.fp, ours.fn], 1).tolist()
    np.testing.assert_allclose(ours.overall, means["All"], rtol=1e-12)
    assert 0 < ours.overall.pq < 1


@pytest.mark.parametrize("seed", range(4))
def test_matches_are_unique_at_iou_above_one_half(seed):
    preds, targets, crowds = _random_maps(seed, n=1, size=15, void=0.2)
    pairs = match_segments(preds[0], targets[0], THINGS, STUFF, crowd=crowds[0])
    m = pairs.matched
    for side in (pairs.target[m], pairs.pred[m]):
        assert len({tuple(s) for s in side.tolist()}) == int(m.sum())  # no segment in two matches
    assert bool((2 * pairs.intersection[m] > pairs.union[m]).all())
    # the argument: two disjoint segments cannot each cover more than half of one segment
    assert bool((pairs.iou[pairs.candidate & ~m] <= 0.5).all())


def test_inputs_are_not_modified_and_int32_works():
    preds, targets, crowds = _random_maps(1, n=2)
    before = [p.clone() for p in preds], [t.clone() for t in targets]
    r64 = _pq(preds, targets, crowd=crowds)
    assert all(torch.equal(a, b) for a, b in zip(before[0] + before[1], preds + targets, strict=True))
    r32 = _pq([p.int() for p in preds], [t.int() for t in targets], crowd=crowds)
    assert torch.equal(r64.tp, r32.tp) and torch.equal(r64.iou_sum, r32.iou_sum)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int16, torch.uint8])
def test_narrow_integer_maps_count_like_int64(dtype):
    """int32 maps are read as they are (half the bytes of int64), narrower ones widened; void 9 is not negative,
    so the one-pass range check is taken."""
    preds, targets, crowds = _random_maps(5, n=3)
    preds, targets = ([torch.where(m == V, 9, m) for m in maps] for maps in (preds, targets))
    ref = panoptic_counts(torch.stack(preds), torch.stack(targets), THINGS, STUFF, void=9, crowd=torch.stack(crowds))
    out = panoptic_counts(torch.stack(preds).to(dtype), torch.stack(targets).to(dtype), THINGS, STUFF, void=9,
                          crowd=torch.stack(crowds))
    assert all(torch.equal(getattr(out, f), getattr(ref, f)) for f in ("tp", "fp", "fn", "iou_sum"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_same_counts_on_the_gpu():
    preds, targets, crowds = _random_maps(2)
    cpu = _pq(preds, targets, crowd=crowds)
    gpu = _pq([p.cuda() for p in preds], [t.cuda() for t in targets], crowd=[c.cuda() for c in crowds])
    assert gpu.tp.is_cuda and torch.equal(cpu.tp, gpu.tp.cpu()) and torch.allclose(cpu.iou_sum, gpu.iou_sum.cpu())


# ---------------------------------------------------------------------------------------------- validation


def test_clear_errors():
    t = _map([[1, 3]], [[0, 1]])
    with pytest.raises(ValueError, match="category ids among"):
        _pq(_map([[7, 1]]), t)
    with pytest.raises(ValueError, match="instance id 0 on stuff"):
        _pq(_map([[1, 1]], [[0, 2]]), t)
    with pytest.raises(ValueError, match="same shape"):
        _pq(_map([[1, 1, 1]]), t)
    with pytest.raises(ValueError, match="disjoint"):
        panoptic_quality(t, t, things=[1, 3], stuff=[1])
    with pytest.raises(ValueError, match="as many images"):
        _pq([t, t], [t])
    with pytest.raises(TypeError, match="integer"):
        _pq(t.float(), t)
    with pytest.raises(ValueError, match="crowd"):
        _pq(t, t, crowd=torch.zeros(3, 3, dtype=torch.bool))


def test_images_of_different_sizes_sum_like_separate_calls():
    a, b = _random_maps(3, n=1, size=12), _random_maps(4, n=1, size=15)
    both = panoptic_counts(a[0] + b[0], a[1] + b[1], THINGS, STUFF, crowd=a[2] + b[2])
    apart = (panoptic_counts(a[0], a[1], THINGS, STUFF, crowd=a[2])
             + panoptic_counts(b[0], b[1], THINGS, STUFF, crowd=b[2]))
    assert all(torch.equal(x, y) for x, y in zip((both.tp, both.fp, both.fn), (apart.tp, apart.fp, apart.fn),
                                                  strict=True))
    torch.testing.assert_close(both.iou_sum, apart.iou_sum)
