"""Receptive fields measured from gradients, not computed from a formula.

The receptive field of an output pixel is the set of input pixels its value depends on: those where the
gradient ``d out[i, j] / d input`` can be non-zero. :func:`receptive_field` measures its extent on a copy of
the network whose weights are all positive (so no gradient cancels or dies in a ReLU) and whose max pools are
average pools of the same shape (a max pool passes the gradient to one input per window, an average pool to
all of them — the *structure* is the same). :func:`input_gradient` gives the gradient of the real, trained
network: its effective receptive field, usually much smaller than the structural one.

Reference: W. Luo, Y. Li, R. Urtasun, R. Zemel, "Understanding the Effective Receptive Field in Deep
Convolutional Neural Networks", NeurIPS 2016.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from cvlab._validate import check_int, check_tensor

__all__ = ["receptive_field", "input_gradient"]

_SIZES = (33, 65, 129, 257, 513)


def _structural_copy(model: nn.Module) -> nn.Module:
    """A float64 eval-mode copy with positive weights, zero biases, identity batch norms, max pools -> avg pools."""
    net = copy.deepcopy(model).double().eval()
    for parent in net.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.MaxPool2d):
                setattr(parent, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
                m.weight.fill_(1.0 / m.weight[0].numel())
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_parameters()  # weight 1, bias 0, running mean 0, running variance 1
    return net


def _output_gradient(net: nn.Module, x: torch.Tensor, position: tuple[int, int] | None) -> torch.Tensor:
    """|d sum_c out[0, c, i, j] / d x| summed over the input channels: Tensor[H, W]; (i, j) default: centre."""
    x = x.detach().clone().requires_grad_(True)
    out = net(x)
    if out.dim() != 4:
        raise ValueError(f"model: expected an output of shape (B, C, H, W), got {tuple(out.shape)}")
    i, j = position if position is not None else (out.shape[-2] // 2, out.shape[-1] // 2)
    if not (0 <= i < out.shape[-2] and 0 <= j < out.shape[-1]):
        raise ValueError(f"position: expected a pixel of the {tuple(out.shape[-2:])} output, got {(i, j)}")
    (grad,) = torch.autograd.grad(out[0, :, i, j].sum(), x)
    return grad[0].abs().sum(0)


def receptive_field(model: nn.Module, in_channels: int, size: int | None = None) -> tuple[int, int]:
    """Height and width (pixels) of the receptive field of the output's centre pixel, measured by autograd.

    The gradient of the centre output with respect to a ``size x size`` input of ones is taken on a structural
    copy of ``model`` (see the module docstring; ``model`` itself is not changed); the receptive field is the
    bounding box of its non-zero entries. Without ``size``, sizes 33, 65, ..., 513 are tried until the field
    fits strictly inside the input.

    Args:
        model (nn.Module): maps ``(1, in_channels, size, size)`` to ``(1, C, h, w)``.
        in_channels (int): channels of the model's input.
        size (int, optional): input side in pixels.

    Returns:
        (int, int): ``(height, width)`` of the receptive field.

    Raises:
        ValueError: if the field reaches the border of the input (``size`` too small to see all of it).

    Example:
        >>> receptive_field(nn.Conv2d(1, 1, 3, dilation=2), in_channels=1)
        (5, 5)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    in_channels = check_int(in_channels, "in_channels")
    sizes = _SIZES if size is None else (check_int(size, "size"),)
    net = _structural_copy(model)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    for n in sizes:
        grad = _output_gradient(net, torch.ones(1, in_channels, n, n, dtype=torch.float64, device=device), None)
        rows, cols = grad.sum(1).nonzero()[:, 0], grad.sum(0).nonzero()[:, 0]
        touches = int(rows.min()) == 0 or int(rows.max()) == n - 1 or int(cols.min()) == 0 or int(cols.max()) == n - 1
        if not touches:
            return int(rows.max() - rows.min()) + 1, int(cols.max() - cols.min()) + 1
    raise ValueError(f"size: the receptive field reaches the border of a {sizes[-1]}-pixel input; give a larger size")


def input_gradient(model: nn.Module, image: torch.Tensor, position: tuple[int, int] | None = None) -> torch.Tensor:
    """Effective receptive field of the real network: ``|d sum_c out[c, i, j] / d image|`` summed over colours.

    Args:
        model (nn.Module): maps ``(1, C, H, W)`` images to ``(1, K, h, w)`` maps; run in eval mode (its mode is
            restored), its parameters' gradients untouched.
        image (Tensor[C, H, W] or Tensor[1, C, H, W]): floating input, on the model's device.
        position ((int, int), optional): output pixel ``(row, column)``; default the centre.

    Returns:
        Tensor[H, W]: non-negative gradient magnitudes.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    check_tensor(image, "image", ndim=(3, 4), shape="(C, H, W) or (1, C, H, W)", dtype="float")
    x = image[None] if image.dim() == 3 else image
    if x.shape[0] != 1:
        raise ValueError(f"image: expected a single image, got a batch of {x.shape[0]}")
    was_training = model.training
    model.eval()
    try:
        return _output_gradient(model, x, position)
    finally:
        model.train(was_training)
