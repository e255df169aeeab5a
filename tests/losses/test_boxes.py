import pytest
import torch
from torchvision.ops import box_iou, generalized_box_iou_loss

from cvlab.losses.boxes import GIoULoss, giou_loss, iou_loss


def _boxes(n, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=torch.float64) * 50
    wh = torch.rand(n, 2, generator=g, dtype=torch.float64) * 30 + 0.5
    return torch.cat([xy, xy + wh], 1)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_giou_matches_torchvision(reduction):
    a, b = _boxes(64, 0), _boxes(64, 1)
    torch.testing.assert_close(giou_loss(a, b, reduction), generalized_box_iou_loss(a, b, reduction))


def test_iou_matches_box_iou_diagonal():
    a, b = _boxes(32, 2), _boxes(32, 3)
    torch.testing.assert_close(iou_loss(a, b), 1 - box_iou(a, b).diagonal())


def test_hand_worked_disjoint_boxes():
    a = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    b = torch.tensor([[2.0, 0.0, 3.0, 1.0]])
    # IoU 0, hull 3, union 2 -> GIoU = -1/3, loss 4/3
    assert iou_loss(a, b).item() == pytest.approx(1.0)
    assert giou_loss(a, b).item() == pytest.approx(4 / 3, rel=1e-5)


def test_dtype_module_and_no_mutation():
    a, b = _boxes(4, 4).float(), _boxes(4, 5).float()
    a0 = a.clone()
    out = GIoULoss()(a, b)
    assert out.dtype == torch.float32 and out.dim() == 0
    assert torch.equal(a, a0)


def test_validation_messages():
    with pytest.raises(ValueError, match="boxes1 and boxes2"):
        giou_loss(torch.zeros(2, 4), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="reduction"):
        iou_loss(torch.zeros(2, 4), torch.zeros(2, 4), reduction="avg")
