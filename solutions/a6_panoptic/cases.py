"""Reference cases of A6 "panoptic" -- built from the solution notebook with
``python -m cvlab.grading build a6_panoptic`` (visible ones ship with cvlab, hidden ones stay here).

The hidden cases are where panoptic evaluations go wrong: predictions lying mostly on ground-truth void, crowd
regions, categories present on one side only, several images of different sizes (counts summed, not scores
averaged), all-void images, IoU of exactly 0.5, thing pixels without an instance, groups without any category.
"""

import torch

from cvlab.data import render_scene
from cvlab.grading.build import case, function_test
from cvlab.panoptic import fuse, simulate_predictions, to_segments

g = torch.Generator().manual_seed(6)
THINGS, STUFF = [3, 4, 5, 6], [0, 1, 2]
NONE = torch.zeros((0, 2), dtype=torch.int64)


def pan(cats, insts):
    """(H, W, 2) int64 map from nested lists of categories and instances."""
    return torch.stack([torch.tensor(cats), torch.tensor(insts)], -1).long()


def blocks(h, w, cell=3, void=0.0, thing0=0.0):
    """A random map of cell x cell blocks (categories THINGS + STUFF, thing instances 1..3 per block)."""
    cats = torch.tensor(THINGS + STUFF)
    gh, gw = -(-h // cell), -(-w // cell)
    cat = cats[torch.randint(len(cats), (gh, gw), generator=g)]
    inst = torch.where(cat >= 3, torch.randint(1, 4, (gh, gw), generator=g), 0)
    m = torch.stack([cat, inst], -1).repeat_interleave(cell, 0).repeat_interleave(cell, 1)[:h, :w].clone()
    m[torch.rand(h, w, generator=g) < void] = torch.tensor([-1, 0])
    m[(torch.rand(h, w, generator=g) < thing0) & (m[..., 0] >= 3)] = torch.tensor([3, 0])
    return m


def perturbed(target, change=0.25, void=0.0):
    """A prediction: ``target`` with a share ``change`` of its pixels taken from another random map."""
    h, w = target.shape[:2]
    p = target.clone()
    swap = torch.rand(h, w, generator=g) < change
    p[swap] = blocks(h, w)[swap]
    p[torch.rand(h, w, generator=g) < void] = torch.tensor([-1, 0])
    return p


def scene_pair(seed, size=32, **noise):
    """(prediction, ground truth) of a rendered scene, the prediction fused from simulated heads."""
    scene = render_scene(seed, size=size)
    heads = simulate_predictions(scene.panoptic, scene.things, scene.stuff, seed=seed, **noise)
    return fuse(*heads, stuff=scene.stuff, min_stuff_area=8), scene.panoptic


def iou_case(pred, target, *, description):
    """segment_iou's inputs from two panoptic maps (COCO id maps and the categories of their segments)."""
    (p_ids, p_info), (t_ids, t_info) = to_segments(pred, THINGS, STUFF), to_segments(target, THINGS, STUFF)
    p_cat = torch.tensor([r["category_id"] for r in p_info], dtype=torch.int64)
    t_cat = torch.tensor([r["category_id"] for r in t_info], dtype=torch.int64)
    return case(p_ids, t_ids, p_cat, t_cat, description=description)


def pq_case(pairs, crowds=None, *, things=THINGS, stuff=STUFF, description):
    preds, targets = [p for p, _ in pairs], [t for _, t in pairs]
    crowds = [NONE.clone() for _ in pairs] if crowds is None else crowds
    return case(preds, targets, list(things), list(stuff), crowds, description=description)


S, G, A, B, C = (0, 0), (1, 0), (3, 1), (4, 2), (6, 3)
example_t = torch.tensor([[S] * 6, [S] * 6, [A, A, G, G, B, B], [A, A, G, G, B, B], [G, G, G, G, B, B], [G] * 6])
example_p = torch.tensor([[S] * 6, [S] * 5 + [B], [A, A, A, G, B, B], [A, A, G, G, B, B], [G] * 6, [C] + [G] * 5])
row_t = pan([[-1, 3, 3, 3, 1, 1]], [[0, 1, 1, 1, 0, 0]])
row_p = pan([[3, 3, 3, 1, 1, 1]], [[1, 1, 1, 0, 0, 0]])

# a prediction mostly on void, one exactly half on void, a sphere matched at IoU exactly 0.5 (no match)
void_t = pan([[-1, -1, -1, 1, 1, 1, 3, 3, 3, 3, 1, 1]], [[0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0]])
void_p = pan([[3, 3, 3, 3, 1, 1, 3, 3, 1, 1, 1, 1]], [[2, 2, 2, 2, 0, 0, 1, 1, 0, 0, 0, 0]])
half_t = pan([[-1, -1, 1, 1, 1, 1, 1, 1]], [[0] * 8])
half_p = pan([[4, 4, 4, 4, 1, 1, 1, 1]], [[1, 1, 1, 1, 0, 0, 0, 0]])
# a crowd of boxes: a box prediction mostly on it (excused), a cylinder over it (a FP), the crowd never a FN
crowd_t = pan([[4, 4, 4, 4, 1, 1, 1, 1, 5, 5]], [[7, 7, 7, 7, 0, 0, 0, 0, 1, 1]])
crowd_p = pan([[1, 4, 4, 4, 1, 1, 1, 1, 5, 5]], [[0, 2, 2, 2, 0, 0, 0, 0, 1, 1]])
crowd_p2 = pan([[5, 5, 5, 1, 1, 1, 1, 1, 5, 5]], [[3, 3, 3, 0, 0, 0, 0, 0, 1, 1]])
# thing pixels without an instance (void), and a category present only in the prediction / only in the target
inst0_t = pan([[3, 3, 3, 1, 1, 1]], [[0, 0, 0, 0, 0, 0]])
inst0_p = pan([[3, 3, 3, 1, 1, 1]], [[1, 1, 1, 0, 0, 0]])
inst0_p2 = pan([[5, 5, 1, 1, 1, 1]], [[0, 0, 0, 0, 0, 0]])
only_t = pan([[2, 2, 2, 2], [6, 6, 2, 2]], [[0, 0, 0, 0], [1, 1, 0, 0]])
only_p = pan([[0, 0, 0, 0], [2, 2, 2, 2]], [[0, 0, 0, 0], [0, 0, 0, 0]])
all_void = torch.tensor([[-1, 0]]).repeat(3, 4, 1)

# fusion
sem8 = torch.tensor([[1, 1, 1, 1, 1, 1, 2, 2]])
masks8 = torch.tensor([[0, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 0, 0, 0],
                       [1, 0, 0, 0, 0, 0, 0, 0]]).bool()[:, None]


def fuse_scene(seed, size=32, **kwargs):
    scene = render_scene(seed, size=size)
    sem, masks, scores, labels = simulate_predictions(scene.panoptic, scene.things, scene.stuff, seed=seed, jitter=3)
    return case(sem, masks, scores, labels, list(scene.stuff), **kwargs)


# the whole module: its public functions (also as re-exported by cvlab.metrics) and every private helper
PANOPTIC_METRICS = ["cvlab.metrics.panoptic"]

TESTS = {
    "segment_iou": function_test(
        forbid=PANOPTIC_METRICS,
        visible=[
            iou_case(row_p, row_t, description="one row: a sphere over a void pixel, and the ground"),
            iou_case(example_p, example_t, description="the 6x6 example of lecture 09"),
        ],
        hidden=[
            iou_case(*scene_pair(1), description="a 32x32 scene and a prediction fused from noisy heads"),
            iou_case(void_p, void_t, description="a prediction lying mostly on ground-truth void"),
            iou_case(perturbed(blocks(12, 15), void=0.3), blocks(12, 15, void=0.3),
                     description="12x15 random maps, 30 % void on both sides"),
            iou_case(perturbed(example_t, change=0.0, void=0.4), example_t,
                     description="predicted void (it stays in the union)"),
            iou_case(half_p, half_t, description="a box over void and ground: different categories"),
            iou_case(*scene_pair(5, size=(24, 40)), description="a non-square 24x40 scene"),
        ],
    ),
    "panoptic_quality": function_test(
        forbid=PANOPTIC_METRICS,
        visible=[
            pq_case([(example_p, example_t)], description="the 6x6 example of lecture 09"),
            pq_case([scene_pair(0), scene_pair(2)], description="two 32x32 scenes, predictions fused from noisy heads"),
        ],
        hidden=[
            pq_case([(void_p, void_t)], description="a prediction mostly on void (not a FP), a sphere at IoU 0.5"),
            pq_case([(half_p, half_t)], description="a box exactly half on void: a FP"),
            pq_case([(crowd_p, crowd_t), (crowd_p2, crowd_t)], [torch.tensor([[4, 7]]), torch.tensor([[4, 7]])],
                    description="a crowd of boxes, a box on it (excused), a cylinder on it (a FP)"),
            pq_case([(inst0_p, inst0_t), (inst0_p2, inst0_t)],
                    description="thing pixels with instance 0 are void, in the target and in the prediction"),
            pq_case([(only_p, only_t)], description="sky only predicted, a cone only in the ground truth"),
            pq_case([scene_pair(s, size=24 + 8 * s) for s in range(3)],
                    description="three scenes of different sizes: counts summed over the images"),
            pq_case([(example_p, example_t), (all_void, all_void), (all_void.clone(), all_void.clone())],
                    description="the 6x6 example and two all-void images"),
            pq_case([(all_void, all_void)], description="nothing but void: every score NaN"),
            pq_case([(only_p, only_p.clone())], things=[3, 4, 5, 6], stuff=[0, 1, 2],
                    description="stuff only: the things row is NaN"),
            pq_case([(perturbed(t, void=0.1), t) for t in (blocks(12, 12, void=0.2), blocks(9, 15, void=0.5))],
                    [torch.tensor([[4, 3]]), torch.tensor([[5, 2], [3, 1]])],
                    description="random maps, heavy void, crowd regions"),
            pq_case([scene_pair(7, merge=1.0, false_positives=4)],
                    description="merged instances and random blobs"),
        ],
    ),
    "fuse": function_test(
        forbid=["cvlab.panoptic.fuse"],
        visible=[
            case(sem8, masks8, torch.tensor([0.6, 0.9, 0.7, 0.4]), torch.tensor([3, 4, 3, 3]), [1, 2],
                 min_stuff_area=1, description="8 pixels: placement by score, an overlap, a low score"),
            fuse_scene(3, description="a 32x32 scene with simulated, overlapping instance masks"),
        ],
        hidden=[
            case(sem8, masks8, torch.tensor([0.8, 0.8, 0.8, 0.8]), torch.tensor([3, 4, 5, 6]), [1, 2],
                 min_stuff_area=1, description="four instances with the same score (lower index first)"),
            case(sem8, masks8, torch.tensor([0.6, 0.9, 0.7, 0.4]), torch.tensor([3, 4, 3, 3]), [1, 2],
                 min_stuff_area=3, score_threshold=0.3, overlap_threshold=0.7,
                 description="lower score threshold, overlap threshold 0.7, minimum stuff area 3"),
            case(sem8, masks8[[1, 0]], torch.tensor([0.9, 0.6]), torch.tensor([4, 3]), [1, 2],
                 overlap_threshold=1 / 3, min_stuff_area=0,
                 description="an overlap of exactly the threshold (1 of 3 pixels) is kept"),
            case(sem8, torch.zeros((0, 1, 8), dtype=torch.bool), torch.zeros(0), torch.zeros(0, dtype=torch.long),
                 [1, 2], min_stuff_area=3, description="no instance at all"),
            case(torch.tensor([[1, 1, 3, 3, 2, 2, 2, -1]]), masks8[:1], torch.tensor([0.9]), torch.tensor([5]),
                 [1, 2], min_stuff_area=3, description="semantic thing labels without an instance become void"),
            case(torch.tensor([[1, 1, 1, 1, 2, 2, 2, 2]]), masks8[:1], torch.tensor([0.9]), torch.tensor([3]),
                 [1, 2], min_stuff_area=3, description="the ground keeps 2 free pixels of 4: below the minimum 3"),
            fuse_scene(8, min_stuff_area=40, description="a scene, minimum stuff area 40"),
            fuse_scene(9, size=(24, 40), score_threshold=0.7, overlap_threshold=0.3,
                       description="a non-square scene, score threshold 0.7, overlap threshold 0.3"),
        ],
    ),
}
