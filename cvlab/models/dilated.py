"""The context module of Yu & Koltun: 3x3 convolutions with exponentially growing dilation.

Reference: F. Yu, V. Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", ICLR 2016 (Table 1:
the basic context module, dilations 1, 1, 2, 4, 8, 16, 1 and a final 1x1 layer; receptive fields 3, 5, 9, 17,
33, 65, 67, 67).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cvlab._validate import check_int, check_tensor

__all__ = ["ContextModule", "CONTEXT_DILATIONS"]

CONTEXT_DILATIONS = (1, 1, 2, 4, 8, 16, 1)


class ContextModule(nn.Module):
    """The basic context module: ``C`` channels in and out, the spatial size kept.

    Layers ``1 .. len(dilations)`` are 3x3 convolutions with dilation ``d`` (padding ``d``) and ReLU; the last
    layer is a 1x1 convolution without ReLU. ``module.layers`` is an ``nn.Sequential``, so ``module.layers[:k]``
    is its first ``k`` layers (to measure each layer's receptive field).

    With ``identity_init=True`` (the paper's initialisation) every layer starts as the identity,
    ``w[b, a, t] = [a = b][t = 0]`` (centre tap), biases 0, so the module passes its input through unchanged
    (for non-negative inputs, e.g. class probabilities) and training starts from the front-end's answer.

    Args:
        channels (int): C.
        dilations (ints): dilation of each 3x3 layer.
        identity_init (bool): identity initialisation; otherwise PyTorch's default.

    ``forward(x)``: Tensor[B, C, H, W] -> Tensor[B, C, H, W].
    """

    def __init__(self, channels: int, dilations: Sequence[int] = CONTEXT_DILATIONS, *, identity_init: bool = True):
        channels = check_int(channels, "channels")
        if not isinstance(dilations, Sequence) or not dilations:
            raise ValueError(f"dilations: expected a non-empty sequence of ints >= 1, got {dilations!r}")
        dilations = tuple(check_int(d, "dilations") for d in dilations)
        layers: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(channels, channels, 3, padding=d, dilation=d), nn.ReLU()) for d in dilations
        ]
        layers.append(nn.Conv2d(channels, channels, 1))
        super().__init__()
        self.layers = nn.Sequential(*layers)
        self.dilations = dilations
        if identity_init:
            for conv in self.modules():
                if isinstance(conv, nn.Conv2d):
                    _identity_(conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=4, shape="(B, C, H, W)", dtype="float")
        return self.layers(x)


def _identity_(conv: nn.Conv2d) -> None:
    k = conv.kernel_size[0]
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[range(conv.out_channels), range(conv.in_channels), k // 2, k // 2] = 1.0
        conv.bias.zero_()
