import pytest
import torch

from cvlab.models.depth import DepthNet, MetricHead, load_midas


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
