import pytest
import torch
from torchvision.ops import masks_to_boxes

from cvlab.data import render_scene
from cvlab.metrics import panoptic_quality
from cvlab.panoptic import (
    category_index,
    decode_ids,
    detection_instances,
    encode_ids,
    from_segments,
    fuse,
    ground_truth_instances,
    simulate_predictions,
    to_segments,
)

STUFF = (1, 2)


def _masks(*rows_list):
    return torch.tensor(rows_list, dtype=torch.bool)[:, None, :]  # (K, 1, W)


# ---------------------------------------------------------------------------------------------- encodings


def test_encode_decode_round_trip_with_void():
    scene = render_scene(3, size=32)
    pan = scene.panoptic.clone()
    pan[:2] = torch.tensor([-1, 0])
    ids = encode_ids(pan)
    assert ids.dtype == torch.int64 and ids.shape == (32, 32)
    assert int(ids[0, 0]) == -1 and bool((ids[2:] == pan[2:, :, 0] * 1000 + pan[2:, :, 1]).all())
    assert torch.equal(decode_ids(ids), pan)
    assert torch.equal(decode_ids(encode_ids(pan, divisor=256), divisor=256), pan)


def test_encode_refuses_instances_beyond_the_divisor():
    with pytest.raises(ValueError, match="divisor"):
        encode_ids(torch.tensor([[[3, 1000]]]))


def test_coco_segments_round_trip_and_boxes_match_torchvision():
    scene = render_scene(5, size=48)
    ids, info = to_segments(scene.panoptic, scene.things, scene.stuff, crowd={(3, 1)})
    assert [r["id"] for r in info] == list(range(1, len(info) + 1))
    assert torch.equal(from_segments(ids, info, scene.things), scene.panoptic)
    masks = torch.stack([ids == r["id"] for r in info])
    boxes = masks_to_boxes(masks)  # (x1, y1, x2, y2) of pixel indices, inclusive
    for r, b in zip(info, boxes.tolist(), strict=True):
        assert r["bbox"] == [b[0], b[1], b[2] - b[0] + 1, b[3] - b[1] + 1]
        assert r["area"] == int((ids == r["id"]).sum())
    cats = [r["category_id"] for r in info]
    n_stuff = sum(c in scene.stuff for c in cats)
    assert all(c in scene.stuff for c in cats[:n_stuff])  # stuff first
    assert [r["iscrowd"] for r in info] == [int(r["category_id"] == 3 and scene.panoptic[..., 1][ids == r["id"]][0]
                                                == 1) for r in info]


def test_segments_of_void_and_instance_less_things():
    pan = torch.tensor([[[-1, 0], [3, 0], [1, 0], [3, 2]]])
    ids, info = to_segments(pan, things=[3], stuff=[1])
    assert ids.tolist() == [[0, 0, 1, 2]] and [r["category_id"] for r in info] == [1, 3]
    assert from_segments(ids, info, things=[3]).tolist() == [[[-1, 0], [-1, 0], [1, 0], [3, 1]]]


def test_category_index_rules():
    pan = torch.tensor([[[3, 1], [3, 0], [1, 0], [-1, 0]]])
    index, inst = category_index(pan, things=[3], stuff=[1])
    assert index.tolist() == [[0, 2, 1, 2]] and inst.tolist() == [[1, 0, 0, 0]]
    with pytest.raises(ValueError, match="instance id 0 on stuff"):
        category_index(torch.tensor([[[1, 4]]]), things=[3], stuff=[1])


# ---------------------------------------------------------------------------------------------- fusion


def test_fuse_places_by_score_and_resolves_overlaps():
    semantic = torch.tensor([[1, 1, 1, 1, 1, 1, 2, 2]])
    masks = _masks([0, 1, 1, 1, 0, 0, 0, 0],  # score 0.6
                   [0, 0, 0, 1, 1, 1, 0, 0],  # score 0.9, placed first
                   [0, 0, 1, 1, 1, 0, 0, 0],  # score 0.7: 2 of 3 taken > 0.5, dropped
                   [1, 0, 0, 0, 0, 0, 0, 0])  # score 0.4 < 0.5, never placed
    scores = torch.tensor([0.6, 0.9, 0.7, 0.4])
    labels = torch.tensor([3, 4, 3, 3])
    out = fuse(semantic, masks, scores, labels, stuff=STUFF, min_stuff_area=1)
    assert out[0].tolist() == [[1, 0], [3, 2], [3, 2], [4, 1], [4, 1], [4, 1], [2, 0], [2, 0]]
    assert out.dtype == torch.int64


def test_fuse_drops_small_stuff_and_leaves_uncovered_things_void():
    semantic = torch.tensor([[1, 1, 1, 2, 2, 3, 3, -1]])
    out = fuse(semantic, torch.zeros((0, 1, 8), dtype=torch.bool), torch.zeros(0), torch.zeros(0, dtype=torch.long),
               stuff=STUFF, min_stuff_area=3)
    assert out[0, :, 0].tolist() == [1, 1, 1, -1, -1, -1, -1, -1] and out[..., 1].sum() == 0


def test_fuse_counts_stuff_area_after_the_things():
    semantic = torch.tensor([[1, 1, 1, 1, 2, 2, 2, 2]])
    masks = _masks([0, 1, 1, 0, 0, 0, 0, 0])
    out = fuse(semantic, masks, torch.tensor([0.9]), torch.tensor([3]), stuff=STUFF, min_stuff_area=3)
    assert out[0, :, 0].tolist() == [-1, 3, 3, -1, 2, 2, 2, 2]  # two ground pixels left: below 3


def test_fuse_ties_keep_the_lower_index_first_and_does_not_mutate():
    semantic = torch.ones(1, 4, dtype=torch.long)
    masks = _masks([1, 1, 0, 0], [0, 1, 1, 0])
    before = masks.clone()
    out = fuse(semantic, masks, torch.tensor([0.8, 0.8]), torch.tensor([3, 4]), stuff=STUFF, min_stuff_area=0)
    assert out[0].tolist() == [[3, 1], [3, 1], [4, 2], [1, 0]]
    assert torch.equal(masks, before)


def test_fuse_equals_a_pixel_loop_transcription_of_the_heuristic():
    scene = render_scene(2, size=40)
    sem, masks, scores, labels = simulate_predictions(scene.panoptic, scene.things, scene.stuff, seed=2)
    out = fuse(sem, masks, scores, labels, stuff=scene.stuff, min_stuff_area=20, overlap_threshold=0.4)
    h, w = sem.shape
    ref = [[(-1, 0)] * w for _ in range(h)]
    n = 0
    for k in sorted(range(len(scores)), key=lambda k: (-float(scores[k]), k)):
        if scores[k] < 0.5:
            continue
        px = [(y, x) for y in range(h) for x in range(w) if masks[k, y, x]]
        taken = [p for p in px if ref[p[0]][p[1]][0] != -1]
        if not px or len(taken) > 0.4 * len(px) or len(taken) == len(px):
            continue
        n += 1
        for y, x in px:
            if ref[y][x][0] == -1:
                ref[y][x] = (int(labels[k]), n)
    for c in scene.stuff:
        free = [(y, x) for y in range(h) for x in range(w) if ref[y][x][0] == -1 and sem[y, x] == c]
        if len(free) >= 20:
            for y, x in free:
                ref[y][x] = (c, 0)
    assert out.tolist() == [[list(p) for p in row] for row in ref]


def test_fuse_clear_errors():
    sem = torch.ones(2, 2, dtype=torch.long)
    m = torch.ones(1, 2, 2, dtype=torch.bool)
    with pytest.raises(ValueError, match="masks and semantic"):
        fuse(sem, torch.ones(1, 3, 3, dtype=torch.bool), torch.ones(1), torch.tensor([3]), stuff=STUFF)
    with pytest.raises(ValueError, match="K of each"):
        fuse(sem, m, torch.ones(2), torch.tensor([3]), stuff=STUFF)
    with pytest.raises(ValueError, match="thing categories"):
        fuse(sem, m, torch.ones(1), torch.tensor([1]), stuff=STUFF)
    with pytest.raises(ValueError, match="overlap_threshold"):
        fuse(sem, m, torch.ones(1), torch.tensor([3]), stuff=STUFF, overlap_threshold=2)


# ---------------------------------------------------------------------------------------------- model outputs


def test_detection_instances_maps_classes_and_cuts_masks_at_the_threshold():
    probs = torch.tensor([[[0.9, 0.5, 0.2]], [[0.1, 0.6, 0.7]]])
    detection = {"masks": probs[:, None], "scores": torch.tensor([0.3, 0.8]), "labels": torch.tensor([4, 1]),
                 "boxes": torch.zeros(2, 4)}  # torchvision's (K, 1, H, W) masks; extra keys are ignored
    before = {k: v.clone() for k, v in detection.items()}
    masks, scores, labels = detection_instances(detection, (3, 4, 5, 6))
    assert masks.dtype == torch.bool and masks.tolist() == [[[True, True, False]], [[False, True, True]]]
    assert labels.tolist() == [6, 3] and torch.equal(scores, detection["scores"])
    assert all(torch.equal(v, before[k]) for k, v in detection.items())
    assert detection_instances(detection, (3, 4, 5, 6), mask_threshold=0.7)[0].tolist() == [
        [[True, False, False]], [[False, False, True]]]
    # ready for fuse: the higher score is placed first
    fused = fuse(torch.tensor([[1, 1, 2]]), masks, scores, labels, stuff=STUFF, score_threshold=0, min_stuff_area=0)
    assert fused.tolist() == [[[6, 2], [3, 1], [3, 1]]]


def test_detection_instances_of_no_detection_and_clear_errors():
    empty = {"masks": torch.zeros(0, 1, 4, 5), "scores": torch.zeros(0), "labels": torch.zeros(0, dtype=torch.long)}
    masks, scores, labels = detection_instances(empty, (3, 4))
    assert masks.shape == (0, 4, 5) and scores.shape == labels.shape == (0,)
    one = {"masks": torch.ones(1, 2, 2), "scores": torch.ones(1), "labels": torch.tensor([0])}
    with pytest.raises(ValueError, match="0 is the background"):
        detection_instances(one, (3, 4))
    with pytest.raises(ValueError, match="classes 1..2"):
        detection_instances(one | {"labels": torch.tensor([3])}, (3, 4))
    with pytest.raises(ValueError, match="keys"):
        detection_instances({"masks": torch.ones(1, 2, 2)}, (3, 4))
    with pytest.raises(ValueError, match="K masks"):
        detection_instances(one | {"scores": torch.ones(2)}, (3, 4))
    with pytest.raises(ValueError, match="categories"):
        detection_instances(one, ())
    with pytest.raises(ValueError, match="mask_threshold"):
        detection_instances(one | {"labels": torch.tensor([1])}, (3, 4), mask_threshold=1.5)


def test_ground_truth_instances_fuse_back_to_the_ground_truth():
    scene = render_scene(2, size=40)
    pan = scene.panoptic.clone()
    pan[:3] = torch.tensor([-1, 0])  # void rows are no instance
    before = pan.clone()
    masks, scores, labels = ground_truth_instances(pan, scene.things)
    assert torch.equal(pan, before)
    keys = torch.unique(pan[pan[..., 1] > 0], dim=0)
    assert masks.shape == (len(keys), 40, 40) and labels.tolist() == keys[:, 0].tolist()
    assert bool((scores == 1).all()) and bool((masks.sum(0) <= 1).all())
    semantic = torch.where(pan[..., 0] < 0, scene.stuff[0], pan[..., 0])
    fused = fuse(semantic, masks, scores, labels, stuff=scene.stuff, min_stuff_area=0)
    thing = pan[..., 1] > 0
    assert torch.equal(fused[thing][:, 0], pan[thing][:, 0])
    r = panoptic_quality(fused, pan, scene.things, scene.stuff)
    assert r.things.pq == 1.0 and r.things.n == len(torch.unique(labels))
    empty = ground_truth_instances(torch.tensor([[[1, 0], [-1, 0]]]), (3,))
    assert empty[0].shape == (0, 1, 2) and empty[1].shape == empty[2].shape == (0,)


# ---------------------------------------------------------------------------------------------- simulation


def test_simulated_predictions_are_seeded_and_well_formed():
    scene = render_scene(1, size=48)
    a = simulate_predictions(scene.panoptic, scene.things, scene.stuff, seed=7)
    b = simulate_predictions(scene.panoptic, scene.things, scene.stuff, seed=7)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    sem, masks, scores, labels = a
    assert sem.shape == (48, 48) and masks.dtype == torch.bool and masks.shape[1:] == (48, 48)
    assert scores.dtype == torch.float32 and labels.dtype == torch.int64 and len(scores) == len(labels) == len(masks)
    assert set(labels.tolist()) <= set(scene.things)
    exact = simulate_predictions(scene.panoptic, scene.things, scene.stuff, seed=0, flip=0, miss=0, merge=0,
                                 jitter=0, false_positives=0)
    fused = fuse(*exact, stuff=scene.stuff, min_stuff_area=0)
    assert torch.equal(fused[..., 0], scene.panoptic[..., 0])  # no noise: the ground truth back
