import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cvlab.models.pointrend import (
    PointHead,
    fit_point_head,
    head_evaluations,
    most_uncertain_points,
    pasted_mask_iou,
    point_sample,
    random_pixels,
    subdivide,
    training_points,
    uncertainty,
)


def _logits(seed=0, k=3, size=8):
    return torch.randn(k, 1, size, size, generator=torch.Generator().manual_seed(seed))


def test_most_uncertain_points_are_those_nearest_one_half():
    logits = _logits()
    index, points = most_uncertain_points(logits, 10)
    p = logits.sigmoid().flatten(1).numpy()
    for k in range(3):  # numpy's order of |p - 0.5| (the logits are distinct, so there are no ties)
        assert set(index[k].tolist()) == set(np.argsort(np.abs(p[k] - 0.5), kind="stable")[:10].tolist())
    # the points are the pixel centres: sampling the logits there gives the pixels back
    torch.testing.assert_close(point_sample(logits, points)[:, 0], logits.flatten(1).gather(1, index))
    with pytest.raises(ValueError, match="n: expected at most 64"):
        most_uncertain_points(logits, 65)


def test_point_sample_hand_worked():
    maps = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    points = torch.tensor([[[0.25, 0.25], [0.5, 0.5], [0.75, 0.25]]])  # centre of (0, 0), middle, centre of (0, 1)
    torch.testing.assert_close(point_sample(maps, points), torch.tensor([[[0.0, 1.5, 1.0]]]))
    with pytest.raises(ValueError, match="points: expected shape"):
        point_sample(maps, torch.zeros(2, 3, 2))


def test_training_points_oversample_and_importance():
    ramp = ((torch.arange(16) + 0.5) / 16 - 0.5) * 20
    edge = ramp.expand(1, 1, 16, 16)  # a vertical edge at x = 0.5: the closer to it, the more uncertain
    g = torch.Generator().manual_seed(0)
    near = training_points(edge, 40, oversample=3, importance=1.0, generator=g)
    uniform = training_points(edge, 40, oversample=1, importance=0.0, generator=torch.Generator().manual_seed(0))
    assert near.shape == uniform.shape == (1, 40, 2)
    assert (near[0, :, 0] - 0.5).abs().mean() < 0.5 * (uniform[0, :, 0] - 0.5).abs().mean()
    mixed = training_points(edge, 40, importance=0.75, generator=torch.Generator().manual_seed(1))
    chosen = uncertainty(point_sample(edge, mixed))[0, 0]
    # the first 30 (beta * N) are the most uncertain of their 120 candidates, the last 10 are uniform
    assert chosen[:30].min() >= torch.sort(chosen[30:]).values[len(chosen[30:]) // 2]
    again = training_points(edge, 40, importance=0.75, generator=torch.Generator().manual_seed(1))
    assert torch.equal(mixed, again)


def test_subdivide_changes_only_the_selected_points():
    logits = _logits(k=2, size=7)
    features = torch.randn(2, 5, 28, 28, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    head = PointHead(5, hidden=8)
    with torch.no_grad():
        fine, selected = subdivide(logits, features, head, steps=1, points=20)
    plain = F.interpolate(logits, scale_factor=2, mode="bilinear", align_corners=False)
    assert fine.shape == (2, 1, 14, 14) and selected[0].shape == (2, 20)
    changed = (fine != plain).flatten(1)
    for k in range(2):
        assert set(torch.nonzero(changed[k]).flatten().tolist()) <= set(selected[0][k].tolist())
    with torch.no_grad():
        finer, selected = subdivide(logits, features, head, steps=2, points=20)
    assert finer.shape == (2, 1, 28, 28) and len(selected) == 2
    assert head(torch.randn(2, 5, 9), torch.randn(2, 1, 9)).shape == (2, 1, 9)


def test_fit_point_head_learns_an_edge_the_coarse_mask_blurs():
    # truth: a disk; coarse: the disk blurred to 7 x 7; features: the true mask itself at 28 x 28 (an oracle)
    yy, xx = torch.meshgrid(torch.arange(28), torch.arange(28), indexing="ij")
    truth = (((yy - 13.5) ** 2 + (xx - 13.5) ** 2) < 81).float()[None, None].repeat(4, 1, 1, 1)
    coarse = (F.avg_pool2d(truth, 4) - 0.5) * 8
    before = F.interpolate(coarse, scale_factor=4, mode="bilinear", align_corners=False)
    head = fit_point_head(coarse, truth * 2 - 1, truth, points=32, steps=60, hidden=8)
    uniform = fit_point_head(coarse, truth * 2 - 1, truth, points=32, steps=60, hidden=8, oversample=1,
                             importance=0.0)
    assert not torch.equal(uniform.out.weight, head.out.weight)  # other training points, same initialisation
    with pytest.raises(ValueError, match="importance"):
        fit_point_head(coarse, truth * 2 - 1, truth, steps=1, importance=1.5)
    with torch.no_grad():
        after, _ = subdivide(coarse, truth * 2 - 1, head, steps=2, points=120)

    def wrong(logits):
        return int(((logits > 0) != (truth > 0.5)).sum())

    assert wrong(after) < wrong(before)


def test_random_pixels_are_distinct_reproducible_centres():
    logits = _logits(k=2, size=6)
    index, points = random_pixels(logits, 36, generator=torch.Generator().manual_seed(0))
    assert all(sorted(row.tolist()) == list(range(36)) for row in index)  # n = H * W: every pixel once
    index, points = random_pixels(logits, 10, generator=torch.Generator().manual_seed(3))
    again, _ = random_pixels(logits, 10, generator=torch.Generator().manual_seed(3))
    assert torch.equal(index, again) and index.shape == (2, 10) and points.shape == (2, 10, 2)
    assert all(len(set(row.tolist())) == 10 for row in index)
    torch.testing.assert_close(point_sample(logits, points)[:, 0], logits.flatten(1).gather(1, index))
    counts = torch.zeros(36)  # uniform: over many draws every pixel is picked about 10 / 36 of the time
    g = torch.Generator().manual_seed(1)
    for _ in range(300):
        counts += torch.bincount(random_pixels(logits[:1], 10, generator=g)[0][0], minlength=36)
    assert (counts / 300 - 10 / 36).abs().max() < 0.1
    with pytest.raises(ValueError, match="n: expected at most 36"):
        random_pixels(logits, 37)


def test_subdivide_random_selection_same_compute_and_dense():
    logits = _logits(k=2, size=7)
    features = torch.randn(2, 5, 28, 28, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    head = PointHead(5, hidden=8)
    calls = []
    head.register_forward_hook(lambda module, args, out: calls.append(out.shape[-1]))
    with torch.no_grad():
        fine, selected = subdivide(logits, features, head, 2, 20, select="random",
                                   generator=torch.Generator().manual_seed(0))
        again, _ = subdivide(logits, features, head, 2, 20, select="random",
                             generator=torch.Generator().manual_seed(0))
        uncertain, chosen = subdivide(logits, features, head, 2, 20)
    assert calls == [20] * 6 and head_evaluations(7, 2, 20) == 40  # the same head evaluations either way
    assert torch.equal(fine, again) and fine.shape == uncertain.shape == (2, 1, 28, 28)
    assert not torch.equal(selected[0], chosen[0])
    with torch.no_grad():  # every pixel re-predicted: the head's output everywhere
        dense, _ = subdivide(logits, features, head, 1, None)
        plain = F.interpolate(logits, scale_factor=2, mode="bilinear", align_corners=False)
        grid = most_uncertain_points(plain, 196)[1]
        direct = head(point_sample(features, grid), point_sample(plain, grid))
    torch.testing.assert_close(dense.flatten(1).gather(1, most_uncertain_points(plain, 196)[0]), direct[:, 0])
    assert head_evaluations(7, 2) == 14**2 + 28**2
    with torch.no_grad():  # more points than the finer grid has: capped, that step is dense
        capped, selected = subdivide(logits, features, head, 2, 500)
        both = subdivide(dense, features, head, 1, 500)[0]
    assert [s.shape[1] for s in selected] == [196, 500] and head_evaluations(7, 2, 500) == 196 + 500
    torch.testing.assert_close(capped, both)
    with pytest.raises(ValueError, match="select"):
        subdivide(logits, features, head, 1, 20, select="nearest")
    with pytest.raises(ValueError, match="features: expected 2 maps"):
        subdivide(logits, features[:1], head, 1, 20)


def test_pasted_mask_iou_hand_worked():
    # one box over the whole 4 x 4 image; the predicted mask is its left half, the truth its left three columns
    logits = torch.tensor([10.0, 10.0, -10.0, -10.0]).expand(1, 1, 4, 4)
    truth = torch.zeros(1, 4, 4, dtype=torch.bool)
    truth[:, :, :3] = True
    boxes = torch.tensor([[0.0, 0.0, 4.0, 4.0]])
    torch.testing.assert_close(pasted_mask_iou(logits, boxes, truth), torch.tensor([8 / 12]))
    fine = F.interpolate(logits, scale_factor=4, mode="nearest")  # the same mask at 16 x 16: the same IoU
    torch.testing.assert_close(pasted_mask_iou(fine, boxes, truth), torch.tensor([8 / 12]))
    with pytest.raises(ValueError, match="masks, boxes: expected 1"):
        pasted_mask_iou(logits, boxes.repeat(2, 1), truth)
