import pytest
import torch

from cvlab.losses import silog_loss
from cvlab.models.depth import DepthNet, LearnedMetricHead, MetricHead, load_midas


@pytest.mark.parametrize("size", [(32, 32), (30, 44)])
def test_depthnet_shapes_and_gradients(size):
    model = DepthNet(width=4, levels=3)
    x = torch.rand(2, 3, *size)
    out = model(x)
    assert out.shape == (2, 1, *size) and out.dtype == torch.float32
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_depthnet_rejects_bad_input():
    with pytest.raises(ValueError, match=r"image: expected a tensor of shape \(B, 3, H, W\)"):
        DepthNet(width=4)(torch.rand(3, 16, 16))


def test_metric_head_recovers_a_global_affine_map():
    depth = torch.rand(3, 1, 8, 8) * 4 + 1
    valid = torch.rand(3, 1, 8, 8) > 0.2
    relative = (1 / depth - 0.1) / 0.5  # disparity = 0.5 * relative + 0.1
    head = MetricHead(max_depth=10).fit(relative, depth, valid)
    assert head.scale.item() == pytest.approx(0.5, rel=1e-4) and head.shift.item() == pytest.approx(0.1, abs=1e-5)
    torch.testing.assert_close(head(relative), depth)
    assert (head(-relative) <= 10 + 1e-4).all()  # clamped at max_depth


def test_load_midas_is_opt_in():
    with pytest.raises(RuntimeError, match="allow_download=True"):
        load_midas()
    with pytest.raises(ValueError, match="model_type"):
        load_midas("midas_tiny")


def _scenes_with_a_visible_scale(n=12, size=16):
    """Per-image depth scales k that one global map cannot undo, but that the image shows (its brightness)."""
    g = torch.Generator().manual_seed(0)
    base = torch.rand(1, 1, size, size, generator=g) * 3 + 1
    k = torch.linspace(0.5, 2.0, n)
    depth = k[:, None, None, None] * base.expand(n, 1, size, size)
    image = (k[:, None, None, None] / 2).expand(n, 3, size, size).contiguous()
    disparity = (1 / base).expand(n, 1, size, size).contiguous()  # the same relative map for every image
    return image, disparity, depth, torch.ones_like(depth, dtype=torch.bool)


def test_learned_metric_head_starts_as_the_global_head():
    image, disparity, depth, valid = _scenes_with_a_visible_scale()
    torch.manual_seed(0)
    learned = LearnedMetricHead(width=4)
    learned.base.fit(disparity, depth, valid)
    torch.testing.assert_close(learned(image, disparity), MetricHead().fit(disparity, depth, valid)(disparity))


def test_learned_metric_head_learns_a_per_image_scale():
    image, disparity, depth, valid = _scenes_with_a_visible_scale()
    torch.manual_seed(0)
    learned = LearnedMetricHead(width=4)
    losses = learned.fit(image, disparity, depth, valid, steps=150, lr=2e-2)
    assert not learned.training and len(losses) == 150
    global_error = silog_loss(MetricHead().fit(disparity, depth, valid)(disparity), depth, valid, 0.0)
    with torch.no_grad():
        learned_error = silog_loss(learned(image, disparity), depth, valid, 0.0)
    assert learned_error < 0.2 * global_error


def test_learned_metric_head_checks_shapes():
    with pytest.raises(ValueError, match="disparity: expected shape"):
        LearnedMetricHead(width=4)(torch.rand(2, 3, 8, 8), torch.rand(2, 1, 8, 6))
    with pytest.raises(ValueError, match="steps"):
        LearnedMetricHead(width=4).fit(*_scenes_with_a_visible_scale(), steps=0)
