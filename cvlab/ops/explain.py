"""Pictures and numbers that explain transposed convolution: kernel copies, overlap counts, checkerboards.

References: V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning", 2016;
A. Odena, V. Dumoulin and C. Olah, "Deconvolution and Checkerboard Artifacts", Distill, 2016.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from cvlab._validate import check_int, check_tensor
from cvlab.ops.arithmetic import IntPair, _pair
from cvlab.ops.transposed import conv_transpose2d


def kernel_copies(
    input: torch.Tensor,
    kernel: torch.Tensor,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    dilation: IntPair = 1,
) -> torch.Tensor:
    """Each input pixel's scaled copy of the kernel, placed in the transposed convolution's output.

    ``kernel_copies(x, w, ...).sum((0, 1))`` is the single-channel ``conv_transpose2d(x, w, ...)``.

    Args:
        input (Tensor[H, W]): one floating channel.
        kernel (Tensor[kH, kW]): one kernel, same dtype.
        stride, padding, output_padding, dilation (int or (int, int)): as in :func:`conv_transpose2d`.

    Returns:
        Tensor[H, W, H_out, W_out]: ``[i, j]`` holds ``input[i, j] * kernel`` where input ``(i, j)`` puts it.
    """
    check_tensor(input, "input", ndim=2, shape="(H, W)", dtype="float")
    check_tensor(kernel, "kernel", ndim=2, shape="(kH, kW)", dtype=input.dtype)
    h, w = input.shape
    # one batch item per input pixel: an image that is zero except for that pixel's value
    singles = torch.diag_embed(input.flatten()).reshape(h * w, 1, h, w)
    copies = conv_transpose2d(singles, kernel[None, None], None, stride, padding, output_padding, 1, dilation)
    return copies.reshape(h, w, *copies.shape[-2:])


def overlap_count(
    input_size: IntPair,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    dilation: IntPair = 1,
) -> torch.Tensor:
    """How many kernel copies land on each output pixel of a transposed convolution.

    Uneven counts (``kernel_size`` not divisible by ``stride``) are the root of checkerboard artifacts.

    Args:
        input_size, kernel_size (int or (int, int)): ``(H, W)`` and ``(kH, kW)``.
        stride, padding, output_padding, dilation (int or (int, int)): as in :func:`conv_transpose2d`.

    Returns:
        Tensor[H_out, W_out] of int64 counts.

    Example:
        >>> overlap_count((1, 3), (1, 3), stride=2)
        tensor([[1, 1, 2, 1, 2, 1, 1]])
    """
    h, w = _pair(input_size, "input_size", minimum=1)
    kh, kw = _pair(kernel_size, "kernel_size", minimum=1)
    ones = torch.ones(1, 1, h, w, dtype=torch.float64)
    kernel = ones.new_ones(1, 1, kh, kw)
    counts = conv_transpose2d(ones, kernel, None, stride, padding, output_padding, 1, dilation)
    return counts[0, 0].round().long()


def period_energy(input: torch.Tensor, period: int = 2) -> torch.Tensor:
    """Share of a map's variance explained by the pixel position modulo ``period`` (a checkerboard measure).

    With ``m[a, b]`` the mean of the pixels at rows ``a mod P`` and columns ``b mod P``, the result is
    ``var(m) / var(x)``: 0 for a map without a period-``P`` pattern, 1 for a pure period-``P`` pattern, about
    ``P^2 / (H W)`` for white noise. It equals the share of the (non-constant) Fourier energy at the
    frequencies that are multiples of ``1/P``.

    Args:
        input (Tensor[..., H, W]): floating maps; ``H`` and ``W`` divisible by ``period``.
        period (int): pattern period in pixels, >= 2.

    Returns:
        Tensor[...]: one fraction in [0, 1] per map (NaN for a constant map).
    """
    check_tensor(input, "input", shape="(..., H, W)", dtype="float")
    period = check_int(period, "period", minimum=2)
    if input.dim() < 2:
        raise ValueError(f"input: expected a tensor of shape (..., H, W), got shape {tuple(input.shape)}")
    h, w = input.shape[-2:]
    if h % period or w % period:
        raise ValueError(f"input: expected H and W divisible by period={period}, got (H, W) = {(h, w)}")
    blocks = input.reshape(*input.shape[:-2], h // period, period, w // period, period)
    phase_means = blocks.mean((-4, -2))
    return phase_means.var((-2, -1), correction=0) / input.var((-2, -1), correction=0)


def draw_copies_1d(
    input: torch.Tensor,
    kernel: torch.Tensor,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Draw a 1-D transposed convolution as a table: one row per scaled kernel copy, then their sum.

    Args:
        input (Tensor[N]): the inputs.
        kernel (Tensor[K]): the kernel, same dtype.
        stride, padding, output_padding, dilation (int): as in :func:`conv_transpose2d`.
        ax: axes to draw into (a new figure if None).
    """
    check_tensor(input, "input", ndim=1, shape="(N,)", dtype="float")
    check_tensor(kernel, "kernel", ndim=1, shape="(K,)", dtype=input.dtype)
    copies = kernel_copies(input[None], kernel[None], (1, stride), (0, padding), (0, output_padding),
                           (1, dilation))
    rows = copies[0, :, 0].detach().cpu()
    table = torch.cat([rows, rows.sum(0, keepdim=True)])
    if ax is None:
        ax = plt.figure(figsize=(1.5 + 0.7 * table.shape[1], 0.6 * len(table) + 0.8)).gca()
    ax.imshow(table.numpy(), cmap="coolwarm", vmin=-table.abs().max(), vmax=table.abs().max())
    for r, c in torch.cartesian_prod(*map(torch.arange, table.shape)).tolist():
        ax.text(c, r, f"{float(table[r, c]):g}", ha="center", va="center", fontsize=9)
    ax.axhline(len(rows) - 0.5, color="k", lw=2)
    ax.set_yticks(range(len(table)), [f"input {i} x kernel" for i in range(len(rows))] + ["sum = output"])
    ax.set_xticks(range(table.shape[1]))
    ax.set_xlabel("output position")
    return ax


def draw_transposed_conv(
    input_size: IntPair,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    dilation: IntPair = 1,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Draw where every kernel copy lands and how many overlap, before cropping; outline the kept output.

    The background is the overlap count on the uncropped frame, each copy's taps are dots in its own colour
    inside a box around its footprint, and the dashed frame is the output after cropping ``padding`` and
    adding ``output_padding``.

    Args: as :func:`overlap_count`, plus ``ax`` (a new figure if None).

    Raises:
        ValueError: the settings are impossible (see :func:`~cvlab.ops.conv_transpose_output_size`).
    """
    h, w = _pair(input_size, "input_size", minimum=1)
    kh, kw = _pair(kernel_size, "kernel_size", minimum=1)
    s, p = _pair(stride, "stride", minimum=1), _pair(padding, "padding", minimum=0)
    op, d = _pair(output_padding, "output_padding", minimum=0), _pair(dilation, "dilation", minimum=1)
    out_h, out_w = overlap_count(input_size, kernel_size, s, p, op, d).shape  # validates the settings
    frame = overlap_count(input_size, kernel_size, s, 0, 0, d)
    extra = (max(0, op[0] - p[0]), max(0, op[1] - p[1]))  # output_padding reaching past the copies
    frame = F.pad(frame, (0, extra[1], 0, extra[0]))
    ax = ax if ax is not None else plt.figure(figsize=(5, 5)).gca()
    ax.imshow(frame.numpy(), cmap="Greys", vmin=0, vmax=2 * max(int(frame.max()), 1))
    for r, c in torch.cartesian_prod(*map(torch.arange, frame.shape)).tolist():
        ax.text(c, r, str(int(frame[r, c])), ha="center", va="center", fontsize=8)
    colours = [plt.get_cmap("tab10")(i) for i in (0, 1, 2, 4, 6, 8, 9)]  # tab10 without red, brown and grey
    for n, (i, j) in enumerate(torch.cartesian_prod(torch.arange(h), torch.arange(w)).tolist()):
        top, left, inset, colour = i * s[0], j * s[1], 0.06 + 0.06 * (n % 4), colours[n % len(colours)]
        ax.add_patch(plt.Rectangle((left - 0.5 + inset, top - 0.5 + inset), d[1] * (kw - 1) + 1 - 2 * inset,
                                   d[0] * (kh - 1) + 1 - 2 * inset, fill=False, ec=colour, lw=1.5))
        taps = torch.cartesian_prod(torch.arange(kh) * d[0] + top, torch.arange(kw) * d[1] + left)
        ax.plot(taps[:, 1] + 0.25, taps[:, 0] - 0.25, ".", color=colour, ms=5)
    ax.add_patch(plt.Rectangle((p[1] - 0.5, p[0] - 0.5), out_w, out_h, fill=False, ec="red", ls="--", lw=2.5))
    ax.set_title(f"{h}x{w} input -> {out_h}x{out_w} output (red); numbers: overlapping copies", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax
