"""Transposed convolution written three ways, each equal to ``torch.nn.functional.conv_transpose2d``.

1. :func:`conv_transpose2d` — every input pixel drops a copy of the kernel, scaled by its value, ``stride``
   pixels after its neighbour's; the copies are summed where they overlap (scatter-add).
2. :func:`conv_transpose2d_zero_insertion` — put ``stride - 1`` zeros between the inputs ("fractionally
   strided"), pad, and run an ordinary stride-1 convolution with the flipped kernel.
3. :func:`conv_as_matrix` — a convolution is a matrix ``C``; the transposed convolution with the same
   weights is ``C.T``: same parameters, the other direction. It is *not* a deconvolution (``C.T`` is not
   ``C``'s inverse).

Reference: V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning", 2016.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cvlab._validate import check_int, check_tensor
from cvlab.ops.arithmetic import IntPair, _pair, conv_output_size, conv_transpose_output_size


def _tap_positions(n: int, k: int, stride: int, dilation: int, device: torch.device) -> torch.Tensor:
    """``(n, k)`` table of ``i * stride + u * dilation``: where tap ``u`` of copy ``i`` lands (unpadded)."""
    return torch.arange(n, device=device)[:, None] * stride + torch.arange(k, device=device) * dilation


def _check_transposed_args(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: IntPair,
    padding: IntPair,
    output_padding: IntPair,
    groups: int,
    dilation: IntPair,
) -> tuple[torch.Tensor, tuple[tuple[int, int], ...]]:
    """Validate the arguments shared by both transposed-convolution forms.

    Returns the input with a batch axis and the pairs
    ``(stride, padding, output_padding, dilation, output_size)``.
    """
    check_tensor(input, "input", ndim=(3, 4), shape="(B, C_in, H, W) or (C_in, H, W)", dtype="float")
    check_tensor(weight, "weight", ndim=4, shape="(C_in, C_out / groups, kH, kW)", dtype=input.dtype)
    groups = check_int(groups, "groups")
    x = input if input.dim() == 4 else input[None]
    if weight.shape[0] != x.shape[1]:
        raise ValueError(
            f"weight: expected {x.shape[1]} input channels in dim 0 (C_in of input), "
            f"got shape {tuple(weight.shape)}"
        )
    if x.shape[1] % groups:
        raise ValueError(f"groups: expected a divisor of the {x.shape[1]} input channels, got {groups}")
    if bias is not None:
        check_tensor(bias, "bias", ndim=1, shape="(C_out,)", dtype=input.dtype)
        if bias.shape[0] != groups * weight.shape[1]:
            raise ValueError(f"bias: expected {groups * weight.shape[1]} values (C_out), got {bias.shape[0]}")
    s, p = _pair(stride, "stride", minimum=1), _pair(padding, "padding", minimum=0)
    op, d = _pair(output_padding, "output_padding", minimum=0), _pair(dilation, "dilation", minimum=1)
    size = tuple(
        conv_transpose_output_size(x.shape[a], weight.shape[a], s[a - 2], p[a - 2], d[a - 2], op[a - 2])
        for a in (2, 3)
    )
    return x, (s, p, op, d, size)


def conv_transpose2d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    groups: int = 1,
    dilation: IntPair = 1,
) -> torch.Tensor:
    """Transposed convolution as a scatter-add of scaled kernel copies; same result as ``F.conv_transpose2d``.

    .. math:: y[o, i s + u d - p,\\, j s + v d - p] \\mathrel{+}= x[c, i, j]\\, w[c, o, u, v]

    Input pixel ``(i, j)`` multiplies the kernel and adds the copy into the output with its top-left tap at
    ``(i s, j s)``; the copies' frame is then cropped by ``padding`` on every side and extended by
    ``output_padding`` rows / columns at the bottom / right.

    Args:
        input (Tensor[B, C_in, H, W] or Tensor[C_in, H, W]): floating input.
        weight (Tensor[C_in, C_out / groups, kH, kW]): kernels, laid out as in ``nn.ConvTranspose2d``.
        bias (Tensor[C_out], optional): added to every output pixel.
        stride (int or (int, int)): pixels between neighbouring copies.
        padding (int or (int, int)): pixels cropped from each side of the copies' frame.
        output_padding (int or (int, int)): extra rows / columns at the bottom / right.
        groups (int): input and output channels split into this many independent groups.
        dilation (int or (int, int)): spacing between kernel taps.

    Returns:
        Tensor[B, C_out, H_out, W_out] (no batch axis if ``input`` had none), sizes from
        :func:`~cvlab.ops.conv_transpose_output_size`.

    Example:
        >>> x = torch.tensor([[[[1.0, 2.0]]]])                        # two inputs in a row
        >>> conv_transpose2d(x, torch.ones(1, 1, 1, 3), stride=(1, 2))  # kernel 3, stride 2
        tensor([[[[1., 1., 3., 2., 2.]]]])
    """
    x, (s, p, op, d, size) = _check_transposed_args(
        input, weight, bias, stride, padding, output_padding, groups, dilation
    )
    (b, c_in, h, w), (_, c_out_g, kh, kw) = x.shape, weight.shape
    # input pixels scale kernels: copies[b, g, o, i, j, u, v] = sum_c x[b, g, c, i, j] w[g, c, o, u, v]
    copies = torch.einsum(
        "bgcij,gcouv->bgoijuv",
        x.reshape(b, groups, c_in // groups, h, w),
        weight.reshape(groups, c_in // groups, c_out_g, kh, kw),
    ).reshape(b, groups * c_out_g, h * w * kh * kw)
    # tap (u, v) of copy (i, j) lands on row i*s + u*d, column j*s + v*d of the uncropped frame
    rows = _tap_positions(h, kh, s[0], d[0], x.device)
    cols = _tap_positions(w, kw, s[1], d[1], x.device)
    frame_h, frame_w = int(rows[-1, -1]) + 1, int(cols[-1, -1]) + 1
    target = (rows[:, None, :, None] * frame_w + cols[None, :, None, :]).flatten()
    frame = copies.new_zeros(b, groups * c_out_g, frame_h * frame_w).index_add(-1, target, copies)
    # negative padding crops: `padding` off every side, then `output_padding` back on at the bottom / right
    out = F.pad(frame.reshape(b, groups * c_out_g, frame_h, frame_w), (-p[1], op[1] - p[1], -p[0], op[0] - p[0]))
    if bias is not None:
        out = out + bias[:, None, None]
    return out if input.dim() == 4 else out[0]


def conv_transpose2d_zero_insertion(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    groups: int = 1,
    dilation: IntPair = 1,
) -> torch.Tensor:
    """Transposed convolution as zero insertion + stride-1 convolution; same result as ``F.conv_transpose2d``.

    Steps: put ``s - 1`` zeros between neighbouring inputs, pad ``d(k-1) - p`` zeros on every side (a negative
    amount crops) plus ``output_padding`` at the bottom / right, then convolve with stride 1 using the
    spatially flipped kernel with input and output channels swapped.

    Args and Returns: as :func:`conv_transpose2d`.

    Example:
        >>> x, w = torch.randn(1, 2, 3, 3), torch.randn(2, 4, 3, 3)
        >>> y = conv_transpose2d_zero_insertion(x, w, stride=2, padding=1, output_padding=1)
        >>> torch.allclose(y, F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1), atol=1e-5)
        True
    """
    x, (s, p, op, d, _) = _check_transposed_args(
        input, weight, bias, stride, padding, output_padding, groups, dilation
    )
    (b, c_in, h, w), (_, c_out_g, kh, kw) = x.shape, weight.shape
    spread = x.new_zeros(b, c_in, (h - 1) * s[0] + 1, (w - 1) * s[1] + 1)
    spread[..., :: s[0], :: s[1]] = x
    eh, ew = d[0] * (kh - 1) - p[0], d[1] * (kw - 1) - p[1]
    padded = F.pad(spread, (ew, ew + op[1], eh, eh + op[0]))
    flipped = (
        weight.flip(-2, -1)
        .reshape(groups, c_in // groups, c_out_g, kh, kw)
        .transpose(1, 2)
        .reshape(groups * c_out_g, c_in // groups, kh, kw)
    )
    out = F.conv2d(padded, flipped, bias, dilation=d, groups=groups)
    return out if input.dim() == 4 else out[0]


def conv_as_matrix(
    weight: torch.Tensor,
    input_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> torch.Tensor:
    """The dense matrix ``C`` of a 2-D convolution: ``conv2d(x).flatten() == C @ x.flatten()``.

    The same weights used by ``conv_transpose2d`` give ``C.T``:
    ``conv_transpose2d(y).flatten() == C.T @ y.flatten()`` (with the ``output_padding`` that recovers
    ``input_size`` when the stride does not divide it). Entry ``C[(o, y, z), (c, i, j)]`` is ``w[o, c, u, v]``
    where ``i = y s - p + u d`` and ``j = z s - p + v d``.

    Args:
        weight (Tensor[C_out, C_in / groups, kH, kW]): convolution kernels, as in ``nn.Conv2d``.
        input_size (int or (int, int)): ``(H, W)`` of the convolution's input.
        stride, padding, dilation (int or (int, int)): as in ``F.conv2d``.
        groups (int): as in ``F.conv2d``; ``C`` is then block diagonal.

    Returns:
        Tensor[C_out * H_out * W_out, C_in * H * W], rows and columns in ``flatten()`` order (channel, row,
        column), dtype and device of ``weight``.

    Example:
        >>> conv_as_matrix(torch.tensor([[[[1.0, 2.0]]]]), (1, 3))   # kernel [1, 2] over 3 pixels
        tensor([[1., 2., 0.],
                [0., 1., 2.]])
    """
    check_tensor(weight, "weight", ndim=4, shape="(C_out, C_in / groups, kH, kW)", dtype="float")
    groups = check_int(groups, "groups")
    if weight.shape[0] % groups:
        raise ValueError(f"groups: expected a divisor of the {weight.shape[0]} output channels, got {groups}")
    size, s = _pair(input_size, "input_size", minimum=1), _pair(stride, "stride", minimum=1)
    p, d = _pair(padding, "padding", minimum=0), _pair(dilation, "dilation", minimum=1)
    c_out, c_in_g, kh, kw = weight.shape
    out_size = [conv_output_size(size[a], weight.shape[2 + a], s[a], p[a], d[a]) for a in (0, 1)]

    def reads(a: int) -> torch.Tensor:
        """One-hot ``(n_out, k, n_in)``: tap ``u`` of output ``y`` reads input ``y*s - p + u*d``."""
        pos = _tap_positions(out_size[a], weight.shape[2 + a], s[a], d[a], weight.device) - p[a]
        return (pos[..., None] == torch.arange(size[a], device=weight.device)).to(weight.dtype)

    same_group = torch.eye(groups, dtype=weight.dtype, device=weight.device)
    matrix = torch.einsum(
        "gh,gocuv,yui,zvj->goyzhcij", same_group, weight.reshape(groups, c_out // groups, c_in_g, kh, kw),
        reads(0), reads(1),
    )
    return matrix.reshape(c_out * out_size[0] * out_size[1], groups * c_in_g * size[0] * size[1])
