import pytest
import torch
import torchvision.ops as tvo
from torchvision.models.detection._utils import BoxCoder
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList

from cvlab.ops.boxes import (
    anchor_grid,
    batched_nms,
    box_iou,
    decode_boxes,
    encode_boxes,
    fcos_points,
    fcos_targets,
    nms,
)


def _random_boxes(n, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 50
    return torch.cat([xy, xy + torch.rand(n, 2, generator=g) * 30 + 1], dim=1)


def test_box_iou_matches_torchvision():
    a, b = _random_boxes(30, 0), _random_boxes(20, 1)
    torch.testing.assert_close(box_iou(a, b), tvo.box_iou(a, b))


def test_nms_matches_torchvision_including_ties():
    for seed in range(5):
        boxes = _random_boxes(60, seed)
        scores = torch.randint(0, 10, (60,), generator=torch.Generator().manual_seed(seed)).float()
        for t in (0.3, 0.5, 0.7):
            assert set(nms(boxes, scores, t).tolist()) == set(tvo.nms(boxes, scores, t).tolist())


def test_nms_refuses_scores_that_do_not_match_the_boxes():
    with pytest.raises(ValueError, match="scores: expected one score per box"):
        nms(_random_boxes(5, 0), torch.rand(4), 0.5)
    with pytest.raises(ValueError, match="scores: expected finite values"):
        nms(_random_boxes(2, 0), torch.tensor([0.5, float("nan")]), 0.5)


def test_batched_nms_matches_torchvision():
    for seed in range(4):
        boxes = _random_boxes(80, seed)
        g = torch.Generator().manual_seed(seed)
        scores = torch.randint(0, 6, (80,), generator=g).float()  # many ties
        idxs = torch.randint(0, 3, (80,), generator=g)
        for t in (0.2, 0.5):
            ours, ref = batched_nms(boxes, scores, idxs, t), tvo.batched_nms(boxes, scores, idxs, t)
            assert set(ours.tolist()) == set(ref.tolist())
            assert torch.equal(scores[ours], scores[ref])  # by decreasing score
    assert batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), 0.5).shape == (0,)
    with pytest.raises(ValueError, match="idxs: expected one index per box"):
        batched_nms(_random_boxes(3, 0), torch.rand(3), torch.zeros(2, dtype=torch.long), 0.5)


@pytest.mark.parametrize("offset", [0.0, 0.5])
def test_anchor_grid_matches_torchvision_anchor_generator(offset):
    sizes, ratios = (16, 32, 45), (0.5, 1.0, 2.0)
    ours = anchor_grid((5, 7), (8, 6), sizes, ratios, offset=offset)
    gen = AnchorGenerator((sizes,), (ratios,))
    images = ImageList(torch.zeros(1, 3, 40, 42), [(40, 42)])
    ref = gen(images, [torch.zeros(1, 4, 5, 7)])[0]
    shift = torch.tensor([6.0, 8.0, 6.0, 8.0]) * offset
    torch.testing.assert_close(ours, ref + shift)
    assert ours.shape == (5 * 7 * 9, 4)  # the output-size quiz: S x S x A anchors


def test_encode_decode_match_torchvision_box_coder_and_invert():
    anchors = _random_boxes(40, 0)
    boxes = _random_boxes(40, 1)
    for weights in ((1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)):
        coder = BoxCoder(weights)
        deltas = encode_boxes(boxes, anchors, weights)
        torch.testing.assert_close(deltas, coder.encode_single(boxes, anchors))
        torch.testing.assert_close(decode_boxes(deltas, anchors, weights), coder.decode_single(deltas, anchors))
        torch.testing.assert_close(decode_boxes(deltas, anchors, weights), boxes, rtol=1e-5, atol=1e-4)
    huge = torch.tensor([[0.0, 0.0, 100.0, 100.0]])
    torch.testing.assert_close(decode_boxes(huge, anchors[:1]), BoxCoder((1.0, 1.0, 1.0, 1.0)).decode_single(
        huge, anchors[:1]))  # log-scale clamp


def test_fcos_targets_hand_worked_with_ambiguity():
    points = fcos_points((2, 3), stride=8)
    torch.testing.assert_close(points[:4], torch.tensor([[4.0, 4.0], [12.0, 4.0], [20.0, 4.0], [4.0, 12.0]]))
    big, small = [0.0, 0.0, 24.0, 16.0], [8.0, 0.0, 16.0, 8.0]
    targets, matched = fcos_targets(points, torch.tensor([big, small]))
    assert matched.tolist() == [0, 1, 0, 0, 0, 0]  # (12, 4) lies in both: the smaller box wins
    torch.testing.assert_close(targets[1], torch.tensor([4.0, 4.0, 4.0, 4.0]))
    torch.testing.assert_close(targets[5], torch.tensor([20.0, 12.0, 4.0, 4.0]))
    _, matched = fcos_targets(points, torch.tensor([big, small]), size_range=(0.0, 16.0))
    assert matched.tolist() == [-1, 1, -1, -1, 0, -1]  # max(l, t, r, b) > 16 belongs to a coarser level
    on_edge, _ = fcos_targets(torch.tensor([[8.0, 4.0]]), torch.tensor([small]))
    assert fcos_targets(torch.tensor([[8.0, 4.0]]), torch.tensor([small]))[1].tolist() == [-1]  # l = 0: outside
    assert on_edge.abs().sum() == 0
    empty_t, empty_m = fcos_targets(points, torch.zeros(0, 4))
    assert empty_t.shape == (6, 4) and (empty_m == -1).all()
