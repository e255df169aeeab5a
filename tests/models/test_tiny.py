import pytest
import torch

from cvlab.models.tiny import TinySegNet


@pytest.mark.parametrize("size", [(64, 64), (33, 50), (7, 5), (1, 1)])
def test_output_has_the_input_size(size):
    model = TinySegNet(3, 7, width=4).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, *size))
    assert out.shape == (2, 7, *size) and out.dtype == torch.float32


def test_trains_and_is_deterministic_for_a_seed():
    def one_step(seed):
        torch.manual_seed(seed)
        model = TinySegNet(1, 2, width=4)
        x, y = torch.rand(2, 1, 16, 16), (torch.rand(2, 16, 16) > 0.5).long()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss.detach(), model.head.weight.grad.clone()

    (l1, g1), (l2, g2) = one_step(0), one_step(0)
    assert torch.equal(l1, l2) and torch.equal(g1, g2) and g1.abs().sum() > 0


def test_float64_input():
    model = TinySegNet(3, 3, width=4).double().eval()
    assert model(torch.rand(1, 3, 9, 9, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (torch.rand(3, 8, 8), r"x: expected a tensor of shape \(B, C, H, W\)"),
        (torch.rand(1, 2, 8, 8), r"x: expected 3 channels"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.long), r"x: expected a floating tensor"),
    ],
)
def test_bad_input(x, message):
    with pytest.raises((ValueError, TypeError), match=message):
        TinySegNet(3, 2, width=4)(x)


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_classes"):
        TinySegNet(3, 0)
