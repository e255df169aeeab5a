import pytest
import torch
import torchvision.ops as tvo

from cvlab.ops.boxes import box_iou, nms


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
