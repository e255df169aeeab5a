import pytest
import torch
from torch import nn

from cvlab.models.receptive import input_gradient, receptive_field


def _formula(layers):
    """Receptive field r = 1 + sum (k_i - 1) d_i j_i, j_i the product of the earlier strides."""
    r, j = 1, 1
    for k, s, d in layers:
        r, j = r + (k - 1) * d * j, j * s
    return r


@pytest.mark.parametrize(
    "layers",
    [[(3, 1, 1)], [(3, 2, 1), (3, 2, 1)], [(5, 1, 2), (3, 2, 1), (3, 1, 3)], [(3, 1, 1), (2, 2, 1), (3, 1, 1)]],
)
def test_measured_receptive_field_equals_the_formula(layers):
    modules = []
    for k, s, d in layers:
        modules += [nn.Conv2d(2, 2, k, stride=s, dilation=d, padding=d * (k // 2)), nn.ReLU()]
    assert receptive_field(nn.Sequential(*modules), 2) == (_formula(layers),) * 2


def test_max_pool_and_batch_norm_are_measured_structurally_and_the_model_is_untouched():
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(3, 1, 3)
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert receptive_field(model, 1) == (_formula([(3, 1, 1), (2, 2, 1), (3, 1, 1)]),) * 2
    assert model.training and isinstance(model[3], nn.MaxPool2d)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_rectangular_kernels_and_a_too_small_input():
    model = nn.Conv2d(1, 1, (3, 7), padding=(1, 3))
    assert receptive_field(model, 1) == (3, 7)
    with pytest.raises(ValueError, match="size"):
        receptive_field(nn.Conv2d(1, 1, 9, padding=4), 1, size=9)


def test_input_gradient_of_a_convolution_is_its_absolute_kernel():
    conv = nn.Conv2d(2, 1, 3, padding=1).double()
    image = torch.rand(2, 9, 9, dtype=torch.float64)
    grad = input_gradient(conv, image, position=(4, 4))
    expected = torch.zeros(9, 9, dtype=torch.float64)
    expected[3:6, 3:6] = conv.weight[0].abs().sum(0).detach()
    torch.testing.assert_close(grad, expected)
    assert conv.weight.grad is None and conv.training


def test_input_gradient_validates():
    with pytest.raises(ValueError, match="single image"):
        input_gradient(nn.Conv2d(1, 1, 1), torch.rand(2, 1, 4, 4))
    with pytest.raises(ValueError, match="position"):
        input_gradient(nn.Conv2d(1, 1, 1), torch.rand(1, 4, 4), position=(4, 0))
