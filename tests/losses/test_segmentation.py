import pytest
import torch
from torchvision.ops import sigmoid_focal_loss as tv_focal

from cvlab.losses.segmentation import sigmoid_focal_loss


@pytest.mark.parametrize("alpha,gamma,reduction", [(0.25, 2.0, "none"), (-1, 0.0, "mean"), (0.5, 1.5, "sum")])
def test_sigmoid_focal_matches_torchvision(alpha, gamma, reduction):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 8, 8, generator=g, dtype=torch.float64) * 4
    t = (torch.rand(2, 3, 8, 8, generator=g) > 0.7).double()
    expected = tv_focal(x, t, alpha, gamma, reduction)
    torch.testing.assert_close(sigmoid_focal_loss(x, t, alpha, gamma, reduction), expected)


def test_focal_down_weighting_factors():
    # easy positive at p = 0.9 is down-weighted x100 vs CE for gamma = 2; p = 0.5 by x4
    for p, factor in [(0.9, 100.0), (0.5, 4.0)]:
        x = torch.logit(torch.tensor([p], dtype=torch.float64))
        t = torch.ones(1, dtype=torch.float64)
        ratio = sigmoid_focal_loss(x, t, -1, 0.0) / sigmoid_focal_loss(x, t, -1, 2.0)
        assert ratio.item() == pytest.approx(factor)
