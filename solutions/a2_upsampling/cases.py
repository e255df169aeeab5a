"""Reference cases of A2 "upsampling" -- built from the solution notebook with
``python -m cvlab.grading build a2_upsampling`` (visible ones ship with cvlab, hidden ones stay here).

Every transposed-convolution case has a kernel larger than its stride along at least one axis, and every max
unpooling case pools with overlapping windows: with stride == kernel the copies (or windows) never overlap, and
writing a copy instead of adding it -- or adding a value twice where it must come back once -- goes unnoticed.
"""

import torch
import torch.nn.functional as F

from cvlab.grading.build import case, function_test

g = torch.Generator().manual_seed(0)


def size(n, k, s=1, p=0, d=1, output_padding=0, *, description):
    """A size case; every argument by name, so that it reads like the formula."""
    return case(n, k, s=s, p=p, d=d, output_padding=output_padding, description=description)


def transposed(batch, c_in, c_out, hw, khw, *, stride, padding=0, output_padding=0, bias=False,
               dtype=torch.float32, description):
    """A random input (batch, c_in, H, W), weight (c_in, c_out, kH, kW) and optional bias."""
    x = torch.randn(batch, c_in, *hw, generator=g, dtype=dtype)
    weight = torch.randn(c_in, c_out, *khw, generator=g, dtype=dtype)
    kwargs = {"stride": stride, "padding": padding, "output_padding": output_padding}
    if bias:
        kwargs["bias"] = torch.randn(c_out, generator=g, dtype=dtype)
    return case(x, weight, **kwargs, description=description)


def pooled(x, kernel_size, stride, padding=0, *, description):
    """Max-pool ``x`` (B, C, H, W) and ask to unpool the result back to (H, W)."""
    values, indices = F.max_pool2d(x, kernel_size, stride, padding, return_indices=True)
    return case(values, indices, tuple(x.shape[-2:]), description=description)


def randn(*shape, dtype=torch.float32):
    return torch.randn(*shape, generator=g, dtype=dtype)


shared_max = randn(1, 1, 4, 6)
shared_max[0, 0, 1, 1] = shared_max.abs().max() + 1  # inside all four 3x3 windows of stride 2, padding 1

TESTS = {
    "conv_transpose_output_size": function_test(
        forbid=["cvlab.ops.conv_transpose_output_size", "torch.nn.functional.conv_transpose1d",
                "torch.nn.functional.conv_transpose2d", "torch.nn.ConvTranspose1d.forward",
                "torch.nn.ConvTranspose2d.forward"],
        visible=[
            size(2, 3, s=2, description="2 inputs, kernel 3, stride 2 (the 1-D picture)"),
            size(4, 3, s=2, p=1, output_padding=1, description="4 inputs, kernel 3, stride 2, padding 1, "
                                                                "output_padding 1: doubles the size"),
            size(5, 4, s=2, p=1, description="5 inputs, kernel 4, stride 2, padding 1"),
        ],
        hidden=[
            size(3, 2, s=3, description="stride 3 larger than the kernel 2"),
            size(7, 1, description="a 1x1 kernel"),
            size(1, 5, s=2, p=1, description="a single input"),
            size(6, 3, p=1, d=2, description="dilation 2"),
            size(4, 3, d=3, output_padding=2, description="output_padding 2, smaller than the dilation 3"),
            size(5, 4, s=3, p=2, output_padding=2, description="stride 3, padding 2, output_padding 2"),
            size(10, 7, s=4, p=3, d=2, output_padding=1, description="every argument at once"),
            size(8, 2, s=2, description="stride equal to the kernel"),
        ],
    ),
    "conv_transpose2d": function_test(
        forbid=["torch.nn.functional.conv_transpose1d", "torch.nn.functional.conv_transpose2d",
                "torch.nn.functional.conv_transpose3d", "torch.nn.ConvTranspose2d.forward",
                "torch.nn.functional.fold", "torch.nn.Fold.forward", "torch.nn.grad.conv2d_input",
                "torch.convolution", "torch._convolution", "cvlab.ops.conv_transpose2d",
                "cvlab.ops.conv_transpose2d_zero_insertion", "cvlab.ops.conv_as_matrix",
                "cvlab.ops.explain.kernel_copies"],
        helpers={"conv_transpose_output_size": "cvlab.ops.conv_transpose_output_size"},
        visible=[
            case(torch.tensor([[[[2.0, -1.0]]]]), torch.tensor([[[[1.0, 2.0, 3.0]]]]), stride=(1, 2),
                 description="the 1-D picture: inputs (2, -1), kernel (1, 2, 3), stride (1, 2)"),
            transposed(2, 3, 2, (3, 4), (3, 3), stride=2, padding=1,
                       description="a batch of 2, 3 -> 2 channels, 3x4 input, 3x3 kernel, stride 2, padding 1"),
            transposed(1, 2, 3, (2, 3), (4, 4), stride=2, padding=1, output_padding=1, bias=True,
                       description="2 -> 3 channels, 4x4 kernel, stride 2, padding 1, output_padding 1, a bias"),
        ],
        hidden=[
            transposed(2, 2, 3, (3, 5), (2, 3), stride=(2, 1),
                       description="non-square 3x5 input and 2x3 kernel, stride (2, 1)"),
            transposed(1, 3, 2, (4, 3), (2, 3), stride=(3, 2),
                       description="stride 3 larger than the kernel 2 along the rows (gaps), 2 < 3 along the "
                                   "columns (overlaps)"),
            transposed(2, 2, 2, (4, 3), (5, 5), stride=2, padding=2,
                       description="5x5 kernel, stride 2, padding 2 crops 2 pixels from every side"),
            transposed(3, 2, 1, (3, 4), (3, 4), stride=(2, 3), padding=(1, 0),
                       description="a batch of 3, 3x4 kernel, stride (2, 3), padding (1, 0)"),
            transposed(2, 1, 2, (3, 2), (3, 4), stride=(2, 3), output_padding=(1, 2),
                       description="output_padding (1, 2) without padding: rows and columns no copy reaches"),
            transposed(3, 3, 2, (4, 5), (4, 4), stride=2, padding=1, bias=True, dtype=torch.float64,
                       description="float64, a batch of 3, 3 -> 2 channels, 4x4 kernel, stride 2, a bias"),
            transposed(1, 4, 1, (5, 6), (3, 3), stride=1, padding=1,
                       description="stride 1 and padding 1: the output keeps the input's size"),
            transposed(2, 3, 3, (1, 1), (3, 2), stride=2,
                       description="a single input pixel, 3 -> 3 channels, 3x2 kernel"),
            transposed(2, 3, 3, (3, 4), (5, 4), stride=3, padding=1, output_padding=2, bias=True,
                       dtype=torch.float64,
                       description="float64, 3 -> 3 channels, 5x4 kernel, stride 3, padding 1, output_padding 2, "
                                   "a bias"),
        ],
    ),
    "bilinear_kernel": function_test(
        forbid=["torch.nn.functional.interpolate", "torch.nn.functional.upsample",
                "torch.nn.functional.upsample_bilinear", "torch.nn.Upsample.forward",
                "cvlab.ops.bilinear_kernel", "cvlab.ops.upsample_bilinear"],
        visible=[
            case(1, 4, description="1 channel, k = 4 (upsampling by 2)"),
            case(3, 3, description="3 channels, odd k = 3"),
        ],
        hidden=[
            case(2, 4, description="2 channels, k = 4"),
            case(1, 5, description="odd k = 5"),
            case(4, 6, description="4 channels, k = 6 (upsampling by 3)"),
            case(2, 7, description="odd k = 7"),
            case(3, 8, description="3 channels, k = 8 (upsampling by 4)"),
            case(1, 2, description="k = 2"),
            case(2, 1, description="k = 1"),
        ],
    ),
    "max_unpool": function_test(
        forbid=["torch.nn.functional.max_unpool1d", "torch.nn.functional.max_unpool2d",
                "torch.nn.functional.max_unpool3d", "torch.nn.MaxUnpool2d.forward", "torch._C._nn.max_unpool2d",
                "cvlab.ops.max_unpool"],
        visible=[
            pooled(shared_max, 3, 2, 1,
                   description="a 4x6 map pooled with 3x3 windows, stride 2, padding 1: its largest value is the "
                               "max of all 4 windows"),
            pooled(randn(2, 3, 5, 7) - 1, 3, 2,
                   description="a batch of 2, 3 channels, 5x7 maps (mostly negative) pooled 3x3 with stride 2"),
        ],
        hidden=[
            pooled(randn(3, 2, 6, 9), 3, 2, 1, description="a batch of 3, 2 channels, 6x9 maps, 3x3 windows, "
                                                          "stride 2, padding 1"),
            pooled(randn(2, 4, 7, 5), (3, 2), (2, 1), description="tall 7x5 maps, 3x2 windows, stride (2, 1)"),
            pooled(randn(1, 2, 8, 8, dtype=torch.float64), 2, 1, description="float64 8x8 maps, 2x2 windows, "
                                                                            "stride 1"),
            pooled(randn(2, 1, 5, 6), 4, 3, 1, description="5x6 maps, 4x4 windows, stride 3, padding 1"),
            pooled(-torch.rand(4, 3, 4, 10, generator=g) - 0.1, 3, 2, 1,
                   description="a batch of 4, 3 channels, 4x10 maps of negative values"),
        ],
    ),
}
