"""Transposed convolution three ways (scatter-add, zero insertion, C.T) against F.conv_transpose2d."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from cvlab.ops import conv_as_matrix, conv_output_size, conv_transpose2d, conv_transpose2d_zero_insertion


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _via_matrix(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """conv_transpose2d as C.T @ y, with C the matrix of the convolution whose input has the output's size.

    When output_padding >= stride that convolution has more outputs than y has pixels: they enter as zeros.
    """
    s, p, op, d = pair(stride), pair(padding), pair(output_padding), pair(dilation)
    k = weight.shape[2:]
    size = [(x.shape[-2 + a] - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + op[a] + 1 for a in (0, 1)]
    conv_size = [conv_output_size(size[a], k[a], s[a], p[a], d[a]) for a in (0, 1)]
    y = F.pad(x, (0, conv_size[1] - x.shape[-1], 0, conv_size[0] - x.shape[-2]))
    matrix = conv_as_matrix(weight, size, s, p, d, groups)
    out = (y.flatten(-3) @ matrix).reshape(*x.shape[:-3], -1, *size)
    return out if bias is None else out + bias[:, None, None]


IMPLEMENTATIONS = {"scatter_add": conv_transpose2d, "zero_insertion": conv_transpose2d_zero_insertion,
                   "matrix": _via_matrix}

# (batch, C_in, C_out per group, groups, (H, W), (kH, kW), stride, padding, output_padding, dilation, bias)
CASES = {
    "1d_two_inputs": (1, 1, 1, 1, (1, 2), (1, 3), (1, 2), 0, 0, 1, False),
    "2x2_to_4x4_cropped": (1, 1, 1, 1, (2, 2), (3, 3), 2, 1, 1, 1, False),
    "channels_bias_nonsquare": (2, 4, 3, 1, (3, 5), (2, 3), (2, 1), (1, 0), (1, 0), 1, True),
    "groups": (2, 4, 2, 2, (4, 3), (3, 3), 2, 1, 1, 1, True),
    "depthwise_dilated": (1, 3, 1, 3, (3, 4), (3, 3), 2, 1, 1, 2, True),
    "dilation_output_padding_over_stride": (2, 2, 2, 1, (3, 3), (3, 2), 1, (2, 1), 1, (2, 2), False),
    "stride3_nonsquare_kernel": (1, 2, 3, 1, (2, 4), (4, 2), 3, 2, 2, 1, True),
    "pointwise_stride3": (2, 2, 2, 1, (2, 3), (1, 1), 3, 0, 2, 1, False),
    "padding_past_the_kernel": (1, 2, 2, 2, (4, 4), (2, 2), 3, 3, 0, 1, True),
    "single_pixel": (1, 1, 2, 1, (1, 1), (1, 1), 1, 1, 2, 3, False),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("case", CASES)
def test_equals_torch(case, impl, dtype):
    batch, c_in, c_out_g, groups, size, k, s, p, op, d, with_bias = CASES[case]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, c_in, *size, generator=g, dtype=dtype)
    weight = torch.randn(c_in, c_out_g, *k, generator=g, dtype=dtype)
    bias = torch.randn(groups * c_out_g, generator=g, dtype=dtype) if with_bias else None
    expected = F.conv_transpose2d(x, weight, bias, s, p, op, groups, d)
    got = IMPLEMENTATIONS[impl](x, weight, bias, s, p, op, groups, d)
    assert got.dtype == dtype and got.shape == expected.shape
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(got, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("impl", [conv_transpose2d, conv_transpose2d_zero_insertion])
def test_sweep_of_settings_including_refused_ones(impl):
    """Every stride / padding / output_padding / dilation: same values; an error exactly where torch errs."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 3, 2, generator=g, dtype=torch.float64)
    weight = torch.randn(4, 3, 2, 3, generator=g, dtype=torch.float64)
    bias = torch.randn(6, generator=g, dtype=torch.float64)
    refused = 0
    for s, p, op, d in itertools.product((1, 2, 3), (0, 1, 2), (0, 1, 2), (1, 2)):
        try:
            expected = F.conv_transpose2d(x, weight, bias, s, p, op, 2, d)
        except RuntimeError:
            refused += 1
            with pytest.raises(ValueError):
                impl(x, weight, bias, s, p, op, 2, d)
            continue
        torch.testing.assert_close(impl(x, weight, bias, s, p, op, 2, d), expected, rtol=1e-12, atol=1e-12)
    assert refused > 0


def test_unbatched_input_and_hand_worked_1d_example():
    # two inputs a=1, b=2, kernel (1, 10, 100), stride 2: copies a*w and b*w overlap on the middle pixel
    x, w = torch.tensor([[[1.0, 2.0]]]), torch.tensor([[[[1.0, 10.0, 100.0]]]])
    expected = torch.tensor([[[1.0, 10.0, 100.0 + 2.0, 20.0, 200.0]]])
    torch.testing.assert_close(conv_transpose2d(x, w, stride=(1, 2)), expected)
    torch.testing.assert_close(conv_transpose2d_zero_insertion(x, w, stride=(1, 2)), expected)


def test_gradients_flow_like_torch():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 2, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 2, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    for impl in (conv_transpose2d, conv_transpose2d_zero_insertion):
        assert torch.autograd.gradcheck(lambda a, b, impl=impl: impl(a, b, stride=2, padding=1), (x, w))


@pytest.mark.parametrize(
    "c_out, c_in_g, groups, size, k, s, p, d",
    [
        (1, 1, 1, (1, 3), (1, 2), 1, 0, 1),
        (3, 2, 1, (5, 6), (3, 3), 2, 1, 1),
        (4, 1, 2, (4, 5), (2, 3), (1, 2), (0, 1), 1),
        (2, 3, 1, (6, 5), (3, 2), 2, 2, (2, 1)),
        (6, 1, 3, (5, 5), (3, 3), 3, 1, 2),
    ],
)
def test_conv_as_matrix_identities(c_out, c_in_g, groups, size, k, s, p, d):
    """conv2d(x) = C x and conv_transpose2d(y) = C.T y: the same weights, the two directions."""
    g = torch.Generator().manual_seed(3)
    weight = torch.randn(c_out, c_in_g, *k, generator=g, dtype=torch.float64)
    x = torch.randn(groups * c_in_g, *size, generator=g, dtype=torch.float64)
    matrix = conv_as_matrix(weight, size, s, p, d, groups)
    y = F.conv2d(x[None], weight, None, s, p, d, groups)[0]
    assert matrix.shape == (y.numel(), x.numel())
    torch.testing.assert_close(matrix @ x.flatten(), y.flatten())
    s, p, d = pair(s), pair(p), pair(d)
    # the output_padding that gives back `size` where the convolution's floor dropped pixels (0 when exact)
    op = tuple((size[a] + 2 * p[a] - d[a] * (k[a] - 1) - 1) % s[a] for a in (0, 1))
    back = F.conv_transpose2d(y[None], weight, None, s, p, op, groups, d)[0]
    torch.testing.assert_close(matrix.T @ y.flatten(), back.flatten())
    assert [conv_output_size(size[a], k[a], s[a], p[a], d[a]) for a in (0, 1)] == list(y.shape[1:])


def test_conv_as_matrix_hand_worked():
    # kernel (1, 2) over 3 pixels, stride 1: each row is the kernel shifted by one
    expected = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 2.0]])
    torch.testing.assert_close(conv_as_matrix(torch.tensor([[[[1.0, 2.0]]]]), (1, 3)), expected)


def test_runs_on_cuda_when_available():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x, w = torch.randn(2, 4, 5, 6, device="cuda"), torch.randn(4, 3, 3, 3, device="cuda")
    expected = F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1, groups=2)
    for impl in (conv_transpose2d, conv_transpose2d_zero_insertion):
        got = impl(x, w, stride=2, padding=1, output_padding=1, groups=2)
        assert got.device == x.device
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert conv_as_matrix(w.transpose(0, 1), (5, 6), groups=1).device == x.device


X, W = torch.zeros(1, 4, 3, 3), torch.zeros(4, 2, 3, 3)


@pytest.mark.parametrize("impl", [conv_transpose2d, conv_transpose2d_zero_insertion])
@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"input": X.long()}, TypeError, "input"),
        ({"input": X[0, 0]}, ValueError, "input"),
        ({"weight": W[0]}, ValueError, "weight"),
        ({"weight": W.double()}, TypeError, "weight"),
        ({"weight": torch.zeros(3, 2, 3, 3)}, ValueError, "weight"),
        ({"groups": 3}, ValueError, "groups"),
        ({"groups": 0}, ValueError, "groups"),
        ({"bias": torch.zeros(3)}, ValueError, "bias"),
        ({"stride": 0}, ValueError, "stride"),
        ({"stride": (1, 2, 3)}, ValueError, "stride"),
        ({"padding": -1}, ValueError, "padding"),
        ({"dilation": (1, 0)}, ValueError, "dilation"),
        ({"output_padding": 1}, ValueError, "output_padding"),
        ({"padding": 3}, ValueError, r"p \(padding\)"),
    ],
)
def test_bad_input_names_the_argument(impl, kwargs, error, name):
    args = {"input": X, "weight": W} | kwargs
    with pytest.raises(error, match=f"^{name}"):
        impl(**args)


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"weight": W.long()}, TypeError, "weight"),
        ({"weight": W[0]}, ValueError, "weight"),
        ({"input_size": 0}, ValueError, "input_size"),
        ({"input_size": 2}, ValueError, r"k \(kernel size\)"),
        ({"groups": 3}, ValueError, "groups"),
        ({"stride": 0}, ValueError, "stride"),
    ],
)
def test_conv_as_matrix_bad_input(kwargs, error, name):
    with pytest.raises(error, match=f"^{name}"):
        conv_as_matrix(**({"weight": W, "input_size": 4} | kwargs))
