"""The upsampling zoo: fixed (parameter-free) ways to enlarge a feature map, and the bilinear kernel that
initialises a learnable transposed convolution to one of them.

All functions take feature maps ``(B, C, H, W)`` and keep their dtype and device.

References: H. Noh, S. Hong and B. Han, "Learning Deconvolution Network for Semantic Segmentation", 2015
(max unpooling); J. Long, E. Shelhamer and T. Darrell, "Fully Convolutional Networks for Semantic
Segmentation", 2015 (bilinear initialisation).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from cvlab._validate import check_int, check_number, check_tensor
from cvlab.ops.arithmetic import _pair, conv_transpose_output_size

_FEATURES = "(B, C, H, W)"


def upsample_nearest(input: torch.Tensor, scale_factor: int | Sequence[int]) -> torch.Tensor:
    """Nearest-neighbour upsampling by an integer factor: every value fills a ``scale_factor`` square block.

    Args:
        input (Tensor[B, C, H, W]): floating feature map.
        scale_factor (int or (int, int)): upsampling factor(s), >= 1 (the name ``F.interpolate`` uses).

    Returns:
        Tensor[B, C, H * scale_factor, W * scale_factor], equal to
        ``F.interpolate(input, scale_factor=scale_factor, mode="nearest")``.

    Example:
        >>> upsample_nearest(torch.tensor([[[[1.0, 2.0]]]]), 2)
        tensor([[[[1., 1., 2., 2.],
                  [1., 1., 2., 2.]]]])
    """
    check_tensor(input, "input", ndim=4, shape=_FEATURES, dtype="float")
    sh, sw = _pair(scale_factor, "scale_factor", minimum=1)
    return input.repeat_interleave(sh, dim=-2).repeat_interleave(sw, dim=-1)


def bed_of_nails(input: torch.Tensor, scale_factor: int | Sequence[int]) -> torch.Tensor:
    """"Bed of nails" upsampling: each value at the top-left of its ``scale_factor`` square block, zeros elsewhere.

    Args:
        input (Tensor[B, C, H, W]): floating feature map.
        scale_factor (int or (int, int)): upsampling factor(s), >= 1.

    Returns:
        Tensor[B, C, H * scale_factor, W * scale_factor].

    Example:
        >>> bed_of_nails(torch.tensor([[[[1.0, 2.0]]]]), 2)
        tensor([[[[1., 0., 2., 0.],
                  [0., 0., 0., 0.]]]])
    """
    check_tensor(input, "input", ndim=4, shape=_FEATURES, dtype="float")
    sh, sw = _pair(scale_factor, "scale_factor", minimum=1)
    b, c, h, w = input.shape
    out = input.new_zeros(b, c, h * sh, w * sw)
    out[..., ::sh, ::sw] = input
    return out


def max_unpool(
    input: torch.Tensor,
    indices: torch.Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    output_size: Sequence[int] | None = None,
) -> torch.Tensor:
    """Max unpooling: every value returns to the position its max pooling took it from, zeros elsewhere.

    The output size is the transposed-convolution size ``(H - 1) s - 2p + k`` unless ``output_size`` picks one
    of the sizes within ``stride`` of it (those that pool to the same ``H``).

    Args:
        input (Tensor[B, C, H, W] or Tensor[C, H, W]): floating pooled map.
        indices (Tensor[B, C, H, W] or Tensor[C, H, W]): int64 flat positions ``row * W_out + column`` in the
            unpooled map, as returned by ``F.max_pool2d(..., return_indices=True)``.
        kernel_size, stride, padding (int or (int, int)): those of the max pooling; ``stride`` defaults to
            ``kernel_size``.
        output_size ((H_out, W_out), (C, H_out, W_out) or (B, C, H_out, W_out), optional): size of the
            unpooled map (only the last two are used).

    Returns:
        Tensor[B, C, H_out, W_out] (Tensor[C, H_out, W_out] for an unbatched input), equal to
        ``F.max_unpool2d`` with the same arguments.
    """
    check_tensor(input, "input", ndim=(3, 4), shape=f"{_FEATURES} or (C, H, W)", dtype="float")
    check_tensor(indices, "indices", ndim=(3, 4), shape=f"{_FEATURES} or (C, H, W)", dtype=torch.int64)
    if input.dim() == 3:
        if indices.shape != input.shape:
            raise ValueError(f"indices: expected input's shape {tuple(input.shape)}, got {tuple(indices.shape)}")
        return max_unpool(input[None], indices[None], kernel_size, stride, padding, output_size)[0]
    if indices.shape != input.shape:
        raise ValueError(f"indices: expected input's shape {tuple(input.shape)}, got {tuple(indices.shape)}")
    k = _pair(kernel_size, "kernel_size", minimum=1)
    s = k if stride is None else _pair(stride, "stride", minimum=1)
    p = _pair(padding, "padding", minimum=0)
    size = [conv_transpose_output_size(input.shape[2 + a], k[a], s[a], p[a]) for a in (0, 1)]
    if output_size is not None:
        if not isinstance(output_size, Sequence | torch.Size) or len(output_size) not in (2, 3, 4):
            raise ValueError(f"output_size: expected (H_out, W_out), (C, H_out, W_out) or"
                             f" (B, C, H_out, W_out), got {output_size}")
        wanted = [check_int(v, "output_size") for v in output_size[-2:]]
        if any(abs(wanted[a] - size[a]) >= s[a] for a in (0, 1)):
            raise ValueError(
                f"output_size: expected (H_out, W_out) within the stride {s} of the default {tuple(size)}, "
                f"got {tuple(output_size)}"
            )
        size = wanted
    if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= size[0] * size[1]):
        raise ValueError(
            f"indices: expected flat positions in [0, {size[0] * size[1]}) for an output of size {size}, "
            f"got values in [{int(indices.min())}, {int(indices.max())}]"
        )
    b, c = input.shape[:2]
    out = input.new_zeros(b, c, size[0] * size[1]).scatter(-1, indices.flatten(2), input.flatten(2))
    return out.reshape(b, c, *size)


def _source_coordinates(
    n_in: int, n_out: int, scale_factor: float | None, align_corners: bool, dtype: torch.dtype,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Input neighbours ``(i0, i1)`` and weight ``t`` of ``i1`` for each output index along one axis.

    ``dtype`` is the dtype of the coordinates: float32 at least, so that ``(y + 1/2) * scale`` stays exact
    to well below a pixel for large images (bfloat16 has 8 significant bits), as PyTorch does.
    """
    dst = torch.arange(n_out, dtype=dtype, device=device)
    if align_corners:  # first and last pixel centres coincide
        src = dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:  # pixel areas coincide: centres at index + 1/2; PyTorch uses 1/scale_factor when one is given
        scale = 1.0 / scale_factor if scale_factor is not None else n_in / n_out
        src = ((dst + 0.5) * scale - 0.5).clamp(min=0)
    i0 = src.floor().long().clamp(max=n_in - 1)
    i1 = (i0 + 1).clamp(max=n_in - 1)
    return i0, i1, src - i0


def _lerp_along(x: torch.Tensor, dim: int, i0: torch.Tensor, i1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``(1 - t) x[i0] + t x[i1]`` along ``dim``, ``t`` broadcast over the other dimensions."""
    shape = [1] * x.dim()
    shape[dim] = -1
    a, b = x.index_select(dim, i0), x.index_select(dim, i1)
    return torch.lerp(a, b, t.reshape(shape))


def upsample_bilinear(
    input: torch.Tensor,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    align_corners: bool = False,
) -> torch.Tensor:
    """Bilinear resampling (up or down) from the source-coordinate formula and the 4-neighbour weights.

    Output pixel ``(y, x)`` reads the input at a source coordinate ``(v, u)``:

    - ``align_corners=False``: ``v = (y + 1/2) * scale - 1/2`` (clamped at 0), with ``scale = H / H_out`` or
      ``1 / scale_factor``; pixels are unit squares and the two grids' outer edges coincide.
    - ``align_corners=True``: ``v = y * (H - 1) / (H_out - 1)``; the corner pixel centres coincide.

    With ``v = i + t`` and ``u = j + r`` (integer part, fraction) the output is
    ``(1-t)(1-r) x[i, j] + (1-t) r x[i, j+1] + t (1-r) x[i+1, j] + t r x[i+1, j+1]`` (indices clamped at the
    border).

    Args:
        input (Tensor[B, C, H, W]): floating feature map.
        size (int or (int, int), optional): output ``(H_out, W_out)``.
        scale_factor (float or (float, float), optional): ``H_out = floor(H * scale_factor)``; give exactly
            one of ``size`` and ``scale_factor``.
        align_corners (bool): which source-coordinate mapping to use (see above).

    Returns:
        Tensor[B, C, H_out, W_out], equal to ``F.interpolate(input, size, scale_factor, mode="bilinear",
        align_corners=align_corners)``.
    """
    check_tensor(input, "input", ndim=4, shape=_FEATURES, dtype="float")
    if min(input.shape[2:]) == 0:  # as F.interpolate: there is nothing to interpolate from
        raise ValueError(f"input: expected H, W >= 1, got shape {tuple(input.shape)}")
    if (size is None) == (scale_factor is None):
        raise ValueError("size, scale_factor: expected exactly one of them, got "
                         f"size={size!r} and scale_factor={scale_factor!r}")
    scales: Sequence[float | None] = (None, None)
    if size is not None:
        out_size = _pair(size, "size", minimum=1)
    else:
        pair = scale_factor if isinstance(scale_factor, Sequence) else (scale_factor, scale_factor)
        if len(pair) != 2:
            raise ValueError(f"scale_factor: expected a positive number or pair of them, got {scale_factor}")
        scales = [check_number(f, "scale_factor", minimum=0, exclusive=True) for f in pair]
        out_size = tuple(int(input.shape[2 + a] * scales[a]) for a in (0, 1))
        if min(out_size) < 1:
            raise ValueError(f"scale_factor: {scale_factor!r} gives an empty output {out_size} for input "
                             f"{tuple(input.shape[2:])}")
    # Coordinates and arithmetic in float32 at least (as PyTorch's accumulate type); rows, then columns:
    # two 1-D interpolations instead of four full-size gathers. A channels_last input is worked on as the
    # (B, H, W, C) tensor its memory holds, so the output keeps channels_last, as F.interpolate's does.
    work = input.float() if input.element_size() < 4 else input
    channels_last = input.is_contiguous(memory_format=torch.channels_last) and not input.is_contiguous()
    x, (dim_h, dim_w) = (work.permute(0, 2, 3, 1), (1, 2)) if channels_last else (work, (2, 3))
    for a, dim in enumerate((dim_h, dim_w)):
        i0, i1, t = _source_coordinates(input.shape[2 + a], out_size[a], scales[a], bool(align_corners),
                                        work.dtype, input.device)
        x = _lerp_along(x, dim, i0, i1, t)
    out = x.permute(0, 3, 1, 2) if channels_last else x
    return out.to(input.dtype)


def bilinear_kernel(
    channels: int, k: int, *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> torch.Tensor:
    """Transposed-convolution weights that perform bilinear upsampling (the FCN initialisation).

    The 1-D kernel is a tent ``w[i] = 1 - |i - c| / f`` with ``f = ceil(k / 2)`` and centre
    ``c = (k - 1) / 2``; the 2-D kernel is its outer product, placed on the diagonal so channel ``c`` only
    feeds channel ``c``.
    ``F.conv_transpose2d(x, bilinear_kernel(C, 2 * s), stride=s, padding=s // 2)`` then equals bilinear
    upsampling by ``s`` (``align_corners=False``) away from the border.

    Args:
        channels (int): number of input (= output) channels.
        k (int): kernel size, ``2 * stride`` for upsampling by ``stride``.
        dtype, device: of the returned weights.

    Returns:
        Tensor[channels, channels, k, k].

    Example:
        >>> bilinear_kernel(1, 4)[0, 0, 0]
        tensor([0.0625, 0.1875, 0.1875, 0.0625])
    """
    channels, k = check_int(channels, "channels"), check_int(k, "k")
    f = (k + 1) // 2
    tent = 1 - (torch.arange(k, dtype=dtype, device=device) - (k - 1) / 2).abs() / f
    weight = torch.zeros(channels, channels, k, k, dtype=dtype, device=device)
    weight[range(channels), range(channels)] = tent[:, None] * tent[None, :]
    return weight
