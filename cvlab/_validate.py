"""Argument checks shared by every public function: one place, one wording.

Every message names the argument, what was expected and what was got, e.g.
``labels: expected an integer tensor of shape (B, H, W), got torch.float32 of shape (2, 3, 8, 8)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch


def _describe(x: torch.Tensor) -> str:
    return f"{x.dtype} of shape {tuple(x.shape)}"


def check_tensor(
    x: object,
    name: str,
    *,
    ndim: int | Sequence[int] | None = None,
    shape: str | None = None,
    dtype: str | torch.dtype | None = None,
    finite: bool = False,
) -> torch.Tensor:
    """Raise a clear error unless ``x`` is a tensor of the expected rank and dtype; return it unchanged.

    Args:
        x: the value passed by the caller.
        name: the argument's name, used in the message.
        ndim: accepted number(s) of dimensions.
        shape: human-readable shape for the message, e.g. ``"(B, C, H, W)"``.
        dtype: ``"float"`` (any floating dtype), ``"int"`` (any integer dtype), ``"bool"`` or a ``torch.dtype``.
        finite: also reject NaN and infinite values (floating tensors only).
    """
    what = "a tensor" + (f" of shape {shape}" if shape else "")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected {what}, got {type(x).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.dim() not in allowed:
            dims = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name}: expected {what} ({dims} dimensions), got {_describe(x)}")
    if dtype is not None:
        ok = {
            "float": x.is_floating_point(),
            "int": not x.is_floating_point() and not x.is_complex() and x.dtype != torch.bool,
            "bool": x.dtype == torch.bool,
        }.get(dtype, x.dtype == dtype) if isinstance(dtype, str) else x.dtype == dtype
        if not ok:
            kind = {"float": "a floating", "int": "an integer", "bool": "a bool"}.get(dtype, str(dtype))
            raise TypeError(f"{name}: expected {kind} tensor, got {_describe(x)}")
    if finite and x.is_floating_point() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name}: expected finite values, got {bad} NaN/inf element(s) in {_describe(x)}")
    return x


def check_same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b}: expected the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def _scalar(value: object) -> object:
    """A 0-d tensor or a NumPy scalar as the Python number it holds; anything else unchanged."""
    if isinstance(value, torch.Tensor) and value.dim() == 0 and value.dtype != torch.bool and not value.is_complex():
        return value.item()
    if isinstance(value, np.integer | np.floating):
        return value.item()
    return value


def check_same_dtype(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Raise ``TypeError`` unless ``a`` and ``b`` have the same dtype."""
    if a.dtype != b.dtype:
        raise TypeError(f"{name_a} and {name_b}: expected the same dtype, got {a.dtype} and {b.dtype}")


def check_number(
    value: object,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive: bool = False,
    finite: bool = True,
) -> float:
    """Return ``value`` as a float, raising unless it is a real number in the range.

    Python numbers, NumPy scalars and 0-d tensors are accepted (not bools). ``exclusive`` makes ``minimum``
    a strict bound (``> minimum``); ``finite`` refuses NaN and infinities.
    """
    bounds = []
    if minimum is not None:
        bounds.append(f"{'>' if exclusive else '>='} {minimum:g}")
    if maximum is not None:
        bounds.append(f"<= {maximum:g}")
    what = "a " + ("finite " if finite else "") + "number" + (" " + " and ".join(bounds) if bounds else "")
    raw = _scalar(value)
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        got = f"a tensor of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
        raise TypeError(f"{name}: expected {what}, got {got}")
    number = float(raw)
    ok = not (finite and not math.isfinite(number)) and not math.isnan(number)
    if minimum is not None:
        ok = ok and (number > minimum if exclusive else number >= minimum)
    if maximum is not None:
        ok = ok and number <= maximum
    if not ok:
        raise ValueError(f"{name}: expected {what}, got {number!r}")
    return number


def check_int(value: object, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int, raising unless it is an integer >= ``minimum`` (NumPy and 0-d tensors too)."""
    if isinstance(value, torch.Tensor) and not value.is_floating_point():
        value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name}: expected an int >= {minimum}, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return int(value)


def check_labels(values: torch.Tensor, name: str, num_classes: int, ignore_index: int | None = None) -> torch.Tensor:
    """Raise ``ValueError`` unless every value of the integer tensor is in ``[0, num_classes)`` or ``ignore_index``;
    return the bool mask of the counted values (those that are not ``ignore_index``).

    The message gives the range, the first offending value and how many are out of range.
    """
    bad = (values < 0) | (values >= num_classes)
    if ignore_index is not None:
        bad &= values != ignore_index
    if bool(bad.any()):
        first = int(values[bad].flatten()[0])
        allowed = f"[0, {num_classes})" + (f" or ignore_index={ignore_index}" if ignore_index is not None else "")
        raise ValueError(
            f"{name}: expected class ids in {allowed}, got {first} ({int(bad.sum())} value(s) out of range)"
        )
    return values != ignore_index if ignore_index is not None else torch.ones_like(values, dtype=torch.bool)


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
    return value  # type: ignore[return-value]


def check_panoptic(x: object, name: str, *, batched: bool = False, values: bool = True) -> torch.Tensor:
    """Raise unless ``x`` is an integer panoptic map ``(H, W, 2)`` of (category, instance) pairs (with
    ``batched``, ``(B, H, W, 2)`` is accepted too) whose instance ids are >= 0 (not inspected unless
    ``values``: for callers that check them in their own pass); return it unchanged."""
    ndim = (3, 4) if batched else 3
    check_tensor(x, name, ndim=ndim, shape="(B, H, W, 2) or (H, W, 2)" if batched else "(H, W, 2)", dtype="int")
    if x.shape[-1] != 2:
        raise ValueError(f"{name}: expected (category, instance) pairs in the last dimension of size 2, "
                         f"got {_describe(x)}")
    if values and x.numel() and bool((x[..., 1] < 0).any()):
        raise ValueError(f"{name}: expected instance ids >= 0, got {int(x[..., 1].min())}")
    return x


def check_categories(things: object, stuff: object, void: object) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Return ``(things, stuff)`` as tuples of ints, raising unless they are disjoint, free of duplicates, not
    both empty, and do not contain the ``void`` category id (an int)."""
    if isinstance(void, bool) or not isinstance(void, int | np.integer):
        raise TypeError(f"void: expected an int category id, got {type(void).__name__}")
    out = []
    for value, name in ((things, "things"), (stuff, "stuff")):
        if isinstance(value, torch.Tensor):
            value = value.tolist()
        if isinstance(value, str | bytes) or not isinstance(value, Sequence | set | frozenset | range):
            raise TypeError(f"{name}: expected a sequence of int category ids, got {type(value).__name__}")
        ids = tuple(value)
        if any(isinstance(v, bool) or not isinstance(v, int | np.integer) for v in ids):
            raise TypeError(f"{name}: expected int category ids, got {ids!r}")
        ids = tuple(int(v) for v in ids)
        if len(set(ids)) != len(ids):
            raise ValueError(f"{name}: expected distinct category ids, got {ids!r}")
        if int(void) in ids:
            raise ValueError(f"{name}: the void id {int(void)} cannot be a category, got {ids!r}")
        out.append(ids)
    if set(out[0]) & set(out[1]):
        both = sorted(set(out[0]) & set(out[1]))
        raise ValueError(f"things and stuff: expected disjoint category ids, both hold {both}")
    if not out[0] and not out[1]:
        raise ValueError("things and stuff: expected at least one category, got none")
    return out[0], out[1]


# --- segmentation labels, logits and scalar options (metrics and losses) ---


def check_ignore_index(value: object, name: str = "ignore_index") -> int | None:
    """Return ``value`` unless it is neither an int nor None (the marker of unlabeled pixels)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | np.integer)):
        raise TypeError(f"{name}: expected an int or None, got {type(value).__name__}")
    return None if value is None else int(value)


def check_logits_and_labels(logits: object, target: object, *, logits_name: str = "logits") -> None:
    """Raise unless ``logits`` is a floating ``(B, K, ...)`` tensor and ``target`` integer ``(B, ...)`` to match."""
    check_tensor(logits, logits_name, dtype="float", shape="(B, K, ...)")
    check_tensor(target, "target", dtype="int", shape="(B, ...)")
    if logits.dim() < 2 or logits.shape[0] != target.shape[0] or logits.shape[2:] != target.shape[1:]:
        raise ValueError(
            f"{logits_name} and target: expected shapes (B, K, ...) and (B, ...) with the same B and spatial size, "
            f"got {tuple(logits.shape)} and {tuple(target.shape)}"
        )
    if logits.shape[1] < 2:
        raise ValueError(f"{logits_name}: expected K >= 2 class scores along dimension 1, got {tuple(logits.shape)}")
