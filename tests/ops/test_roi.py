import pytest
import torch
from torchvision.ops import roi_align as tv_roi_align
from torchvision.ops import roi_pool as tv_roi_pool

from cvlab.ops.roi import bilinear_sample, roi_align, roi_pool


def _boxes(k, n, size, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(k, 2, generator=g, dtype=torch.float64) * (size * 1.6) - size * 0.3
    wh = torch.rand(k, 2, generator=g, dtype=torch.float64) * size * 0.8
    wh[:3] = 0.0  # degenerate boxes
    idx = torch.randint(0, n, (k, 1), generator=g).double()
    return torch.cat([idx, xy, xy + wh], dim=1)


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 0, 1, 2])
@pytest.mark.parametrize("output_size", [(7, 7), (3, 5)])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_roi_align_matches_torchvision(aligned, sampling_ratio, output_size, scale):
    x = torch.randn(2, 3, 12, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    rois = _boxes(20, 2, 16, 1)
    ours = roi_align(x, rois, output_size, scale, sampling_ratio, aligned)
    ref = tv_roi_align(x, rois, output_size, scale, sampling_ratio, aligned)
    torch.testing.assert_close(ours, ref)


def test_roi_align_list_of_boxes_and_gradcheck():
    x = torch.randn(2, 2, 6, 5, dtype=torch.float64, requires_grad=True)
    boxes = [torch.tensor([[0.5, 0.5, 4.0, 3.5]], dtype=torch.float64),
             torch.tensor([[-1.0, 1.0, 3.0, 7.0], [1.0, 1.0, 1.0, 1.0]], dtype=torch.float64)]
    torch.testing.assert_close(roi_align(x, boxes, 3, 1.0, 2), tv_roi_align(x, boxes, 3, 1.0, 2))
    assert torch.autograd.gradcheck(lambda t: roi_align(t, boxes, (2, 3), 1.0, -1, True), (x,))


def test_roi_align_rejects_nan_boxes_and_keeps_input():
    x = torch.randn(1, 1, 4, 4)
    rois = torch.tensor([[0.0, float("nan"), 0.0, 2.0, 2.0]])
    with pytest.raises(ValueError, match="boxes: expected finite"):
        roi_align(x, rois, 2)
    before = x.clone()
    roi_align(x, torch.tensor([[0.0, 0.0, 0.0, 2.0, 2.0]]), 2)
    assert torch.equal(x, before)


def test_bilinear_sample_hand_worked():
    f = torch.tensor([[[0.0, 1.0], [2.0, 3.0]]])
    out = bilinear_sample(f, torch.tensor([0.5, 0.0, 5.0]), torch.tensor([0.5, 1.0, 0.0]))
    torch.testing.assert_close(out, torch.tensor([[1.5, 1.0, 0.0]]))


def test_bilinear_sample_names_bad_coordinates():
    image = torch.rand(2, 4, 4)
    with pytest.raises(ValueError, match="y and x: expected the same shape"):
        bilinear_sample(image, torch.rand(3), torch.rand(4))
    with pytest.raises(TypeError, match="x: expected a floating tensor"):
        bilinear_sample(image, torch.rand(3), torch.arange(3))


@pytest.mark.parametrize("output_size", [(7, 7), (3, 5), 1])
@pytest.mark.parametrize("scale", [1.0, 0.5, 0.25])
def test_roi_pool_matches_torchvision(output_size, scale):
    x = torch.randn(2, 3, 12, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    rois = _boxes(30, 2, 16, 2)  # partly and wholly outside, degenerate, both images
    torch.testing.assert_close(roi_pool(x, rois, output_size, scale), tv_roi_pool(x, rois, output_size, scale),
                               rtol=0, atol=0)


def test_roi_pool_rounds_halves_away_from_zero_and_matches_gradients_with_ties():
    x = torch.randint(0, 3, (2, 2, 8, 8), generator=torch.Generator().manual_seed(0)).float().requires_grad_()
    rois = torch.tensor([[0, 0.5, 1.5, 2.5, 3.5], [1, -0.5, -1.5, 4.5, 8.5], [0, 20, 20, 30, 30]])
    boxes = [rois[rois[:, 0] == i, 1:] for i in range(2)]
    for r in (rois, boxes):
        ours, ref = roi_pool(x, r, (3, 2)), tv_roi_pool(x, r, (3, 2))
        torch.testing.assert_close(ours, ref, rtol=0, atol=0)
        g_ours, g_ref = (torch.autograd.grad(t.sum(), x)[0] for t in (ours, ref))
        torch.testing.assert_close(g_ours, g_ref, rtol=0, atol=0)  # ties: the first max in row-major order


def test_roi_pool_gradcheck_and_errors():
    x = torch.randn(1, 2, 6, 5, dtype=torch.float64, requires_grad=True)
    rois = torch.tensor([[0.0, 0.4, 0.6, 4.2, 3.9], [0.0, 1.0, 1.0, 1.0, 1.0]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: roi_pool(t, rois, (2, 3)), (x,))
    with pytest.raises(ValueError, match="boxes: expected finite"):
        roi_pool(x, torch.tensor([[0.0, float("nan"), 0.0, 2.0, 2.0]], dtype=torch.float64), 2)
    with pytest.raises(ValueError, match="batch index must lie in"):
        roi_pool(x, torch.tensor([[1.0, 0.0, 0.0, 2.0, 2.0]], dtype=torch.float64), 2)
    assert roi_pool(x, rois[:0], 2).shape == (0, 2, 2, 2)
