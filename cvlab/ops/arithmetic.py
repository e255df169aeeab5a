"""Output-size arithmetic of convolution and transposed convolution (one spatial axis at a time).

The two formulas are each other's inverse up to the floor: a transposed convolution with the same
``k, s, p, d`` maps a size back to one that the convolution maps forward to it, and ``output_padding`` picks
among the ``s`` input sizes that the floor folds together.

Reference: V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning", 2016.
"""

from __future__ import annotations

from collections.abc import Sequence

from cvlab._validate import check_int

IntPair = int | Sequence[int]  # an int for both axes, or (height, width)


def _pair(value: IntPair, name: str, *, minimum: int) -> tuple[int, int]:
    """Return an int or a pair of ints as ``(height, width)``, each checked to be an int >= ``minimum``."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise ValueError(f"{name}: expected an int or a pair (height, width), got {len(value)} values")
        return check_int(value[0], name, minimum=minimum), check_int(value[1], name, minimum=minimum)
    value = check_int(value, name, minimum=minimum)
    return value, value


def conv_output_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """Size of a convolution's output along one axis.

    .. math:: n_\\text{out} = \\left\\lfloor \\frac{n + 2p - d(k - 1) - 1}{s} \\right\\rfloor + 1

    Args:
        n (int): input size in pixels, >= 1.
        k (int): kernel size in taps, >= 1.
        s (int): stride in pixels, >= 1.
        p (int): zero padding added on each side, in pixels, >= 0.
        d (int): dilation (spacing between kernel taps), >= 1.

    Returns:
        int: the output size, as ``torch.nn.Conv2d`` computes it.

    Raises:
        ValueError: an argument is out of range, or the dilated kernel ``d(k-1)+1`` is wider than the padded
            input ``n+2p`` (PyTorch refuses such a convolution).

    Example:
        >>> conv_output_size(7, 3, s=2, p=1)
        4
    """
    n, k = check_int(n, "n"), check_int(k, "k")
    s, p, d = check_int(s, "s"), check_int(p, "p", minimum=0), check_int(d, "d")
    extent = d * (k - 1) + 1
    if extent > n + 2 * p:
        raise ValueError(
            f"k (kernel size): the dilated kernel d(k-1)+1 = {extent} is wider than the padded input "
            f"n+2p = {n + 2 * p}"
        )
    return (n + 2 * p - extent) // s + 1


def conv_transpose_output_size(
    n: int, k: int, s: int = 1, p: int = 0, d: int = 1, output_padding: int = 0
) -> int:
    """Size of a transposed convolution's output along one axis.

    .. math:: n_\\text{out} = (n - 1)s - 2p + d(k - 1) + \\text{output\\_padding} + 1

    Each of the ``n`` inputs drops a copy of the (dilated) kernel ``s`` pixels after the previous one; the
    copies span ``(n-1)s + d(k-1) + 1`` pixels, ``p`` are cropped from each side and ``output_padding`` extra
    pixels are kept at the end (bottom / right).

    Args:
        n (int): input size in pixels, >= 1.
        k (int): kernel size in taps, >= 1.
        s (int): stride in pixels, >= 1.
        p (int): pixels cropped from each side, >= 0.
        d (int): dilation, >= 1.
        output_padding (int): pixels added at the end; PyTorch requires it to be smaller than ``s`` or
            than ``d``.

    Returns:
        int: the output size, as ``torch.nn.ConvTranspose2d`` computes it.

    Raises:
        ValueError: an argument is out of range, or the result is not positive.

    Example:
        >>> conv_transpose_output_size(4, 3, s=2, p=1, output_padding=1)
        8
    """
    n, k = check_int(n, "n"), check_int(k, "k")
    s, p, d = check_int(s, "s"), check_int(p, "p", minimum=0), check_int(d, "d")
    output_padding = check_int(output_padding, "output_padding", minimum=0)
    if output_padding >= s and output_padding >= d:  # PyTorch's rule
        raise ValueError(
            f"output_padding: expected a value smaller than the stride ({s}) or the dilation ({d}), "
            f"got {output_padding}"
        )
    size = (n - 1) * s - 2 * p + d * (k - 1) + output_padding + 1
    if size <= 0:
        raise ValueError(f"p (padding): cropping 2p = {2 * p} pixels leaves an output of size {size} (<= 0)")
    return size
