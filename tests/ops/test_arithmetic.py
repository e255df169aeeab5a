"""Output-size formulas against the shapes PyTorch produces (and the settings it refuses)."""

import itertools
import re

import pytest
import torch
import torch.nn.functional as F

from cvlab.ops import conv_output_size, conv_transpose_output_size


def _torch_height(op, n, k, **kwargs):
    """Output height PyTorch gives along one axis (width kept trivial), or None if it refuses."""
    x, w = torch.zeros(1, 1, n, 1), torch.zeros(1, 1, k, 1)
    kwargs = {name: (value, 0 if "padding" in name else 1) for name, value in kwargs.items()}
    try:
        return op(x, w, **kwargs).shape[2]
    except RuntimeError:
        return None


def _ours(fn, *args):
    try:
        return fn(*args)
    except ValueError:
        return None


def test_conv_output_size_matches_torch_on_a_grid():
    settings = list(itertools.product(range(1, 7), range(1, 5), range(1, 4), range(3), range(1, 4)))
    for n, k, s, p, d in settings:
        expected = _torch_height(F.conv2d, n, k, stride=s, padding=p, dilation=d)
        assert _ours(conv_output_size, n, k, s, p, d) == expected, (n, k, s, p, d)
    assert any(_ours(conv_output_size, *c) is None for c in settings)  # the grid includes refused settings


def test_conv_transpose_output_size_matches_torch_on_a_grid():
    settings = list(itertools.product(range(1, 5), range(1, 4), range(1, 4), range(3), range(1, 4), range(3)))
    for n, k, s, p, d, op in settings:
        expected = _torch_height(F.conv_transpose2d, n, k, stride=s, padding=p, dilation=d, output_padding=op)
        assert _ours(conv_transpose_output_size, n, k, s, p, d, op) == expected, (n, k, s, p, d, op)
    assert any(_ours(conv_transpose_output_size, *c) is None for c in settings)


def test_hand_worked_sizes():
    assert conv_output_size(7, 3, s=2, p=1) == 4  # floor((7 + 2 - 2 - 1) / 2) + 1
    assert conv_output_size(5, 3, d=2) == 1  # dilated kernel spans 5 pixels
    assert conv_transpose_output_size(2, 3, s=2) == 5  # two copies of a 3-tap kernel, 2 apart
    assert conv_transpose_output_size(4, 3, s=2, p=1, output_padding=1) == 8  # the "exact x2" setting
    # the transposed size maps back through the convolution (output_padding recovers the floored sizes)
    for n in range(3, 9):
        m = conv_output_size(n, 3, s=2, p=1)
        assert conv_transpose_output_size(m, 3, s=2, p=1, output_padding=(n + 2 - 3) % 2) == n


def test_output_padding_rule_is_smaller_than_stride_or_dilation():
    assert conv_transpose_output_size(3, 3, s=1, d=2, output_padding=1) == 8  # >= stride but < dilation
    with pytest.raises(ValueError, match="output_padding"):
        conv_transpose_output_size(3, 3, s=2, d=2, output_padding=2)


@pytest.mark.parametrize(
    "fn, args, error, name",
    [
        (conv_output_size, (0, 3), ValueError, "n"),
        (conv_output_size, (5, 0), ValueError, "k"),
        (conv_output_size, (5, 3, 0), ValueError, "s"),
        (conv_output_size, (5, 3, 1, -1), ValueError, "p"),
        (conv_output_size, (5, 3, 1, 0, 0), ValueError, "d"),
        (conv_output_size, (2, 3), ValueError, "k (kernel size)"),
        (conv_output_size, (5.0, 3), TypeError, "n"),
        (conv_transpose_output_size, (3, 3, 2, 0, 1, 2), ValueError, "output_padding"),
        (conv_transpose_output_size, (3, 3, 1, 0, 1, -1), ValueError, "output_padding"),
        (conv_transpose_output_size, (1, 1, 1, 1), ValueError, "p (padding)"),
        (conv_transpose_output_size, (3, True), TypeError, "k"),
    ],
)
def test_bad_arguments_name_the_argument(fn, args, error, name):
    with pytest.raises(error, match="^" + re.escape(name) + ":"):
        fn(*args)
