"""Compare a student's result with the expected one and explain the difference in one short paragraph.

:func:`compare` is the single judgement used everywhere -- by :func:`check` in a notebook, by the graded test cells
and by the out-of-kernel verification of :mod:`cvlab.grading.judge` -- so a student sees the same words as the
grader. Tolerances depend on the dtype and hold across CPU/GPU and float32/float64 (see :func:`tolerances`).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import math
import sys
from typing import Any

import torch

from cvlab.grading.invoke import Quiet, describe, invoke
from cvlab.grading.store import Case

# (rtol, atol) per floating dtype: loose enough for a different summation order or a GPU, tight enough to catch a
# wrong formula. A float scalar compared with a float expectation of another precision uses the looser pair.
_TOLERANCES = {
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
    torch.float32: (1e-4, 1e-5),
    torch.float64: (1e-7, 1e-7),
}
_MAX_PERMUTE_DIMS = 4


def tolerances(*dtypes: torch.dtype) -> tuple[float, float]:
    """Return ``(rtol, atol)`` for comparing tensors of ``dtypes``: zero for integers and bools, else the loosest
    of the floating dtypes' pairs."""
    pairs = [_TOLERANCES.get(d, _TOLERANCES[torch.float32]) for d in dtypes if d.is_floating_point]
    if not pairs:
        return 0.0, 0.0
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _fmt(x: float) -> str:
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x) or x != int(x) or abs(x) >= 1e15):
        return f"{x:.6g}"
    return str(int(x))


def _index(flat: int, shape: torch.Size) -> str:
    if not shape:
        return "[]"
    return "[" + ", ".join(str(int(i)) for i in torch.unravel_index(torch.tensor(flat), shape)) + "]"


def _shape_hint(got: tuple[int, ...], expected: tuple[int, ...]) -> str:
    if not expected and math.prod(got) == 1:
        return "expected a single number (a 0-dim tensor): drop the extra axes, e.g. with .squeeze()"
    if sorted(got) == sorted(expected):
        return "the same sizes in a different order: check which axis your code puts where (permute / movedim)"
    if len(got) == len(expected) + 1 and 1 in got:
        squeezed = list(got)
        squeezed.remove(1)
        if tuple(squeezed) == expected:
            return "one extra axis of size 1 (a keepdim=True or an unsqueeze too many?)"
    if len(got) + 1 == len(expected):
        return "one axis is missing (did you drop the batch axis, or the class axis?)"
    if len(got) == len(expected):
        wrong = [d for d in range(len(got)) if got[d] != expected[d]]
        if all(abs(got[d] - expected[d]) == 1 for d in wrong):
            axes = ", ".join(f"axis {d} ({got[d]} instead of {expected[d]})" for d in wrong)
            return f"off by one in {axes}"
        for d in wrong:
            others = [j for j in range(len(expected)) if j != d and expected[j] == got[d]]
            if others:
                return (f"axis {d} has size {got[d]} instead of {expected[d]}; {got[d]} is the size of axis "
                        f"{others[0]}: does your code assume a square image, or mix up two sizes?")
        return "; ".join(f"axis {d} has size {got[d]} instead of {expected[d]}" for d in wrong) + (
            ": which axis does your code reduce over or create?")
    return "check the shapes of the tensors you create"


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float) -> bool:
    if a.shape != b.shape:
        return False
    both_nan = a.isnan() & b.isnan()
    return bool((((a - b).abs() <= atol + rtol * b.abs()) | both_nan | (a == b)).all())


def _value_hint(g: torch.Tensor, e: torch.Tensor, bad: torch.Tensor, rtol: float, atol: float) -> str:
    """A guess at the mistake behind the differences between ``g`` and ``e`` (float64, same shape)."""
    shape = tuple(e.shape)
    if e.numel() == 1:
        return ""
    if e.dim() >= 2 and shape[-1] == shape[-2] and _close(g, e.transpose(-1, -2), rtol, atol):
        return "your result is the expected one transposed (rows and columns swapped)"
    if 3 <= e.dim() <= _MAX_PERMUTE_DIMS:
        for perm in itertools.permutations(range(e.dim())):
            if list(perm) == sorted(perm):
                continue
            moved = e.permute(perm)
            if moved.shape == e.shape and _close(g, moved, rtol, atol):
                return (f"the right values with the axes in another order (axis order {perm}): check which axis "
                        f"your code reduces over or stacks along")
    if bool((g == 0).all()):
        return "your result is all zeros"
    nonzero = e != 0
    if nonzero.any() and bool(((g == 0) == (e == 0)).all()):
        ratio = g[nonzero] / e[nonzero]
        c = float(ratio.median())
        if abs(c - 1) > 1e-3 and float((ratio - c).abs().max()) <= 1e-3 * abs(c):
            sizes = sorted({*shape, math.prod(shape), *(a * b for a, b in itertools.combinations(shape, 2))})
            for n in sizes:
                if n > 1 and abs(c * n - 1) < 1e-3:
                    return f"your result is the expected one divided by {n} (a mean where a sum is expected?)"
                if n > 1 and abs(c - n) < 1e-3 * n:
                    return f"your result is the expected one times {n} (a sum where a mean is expected?)"
            return f"your result is the expected one times {c:.4g}: a missing or extra normalisation?"
    offset = g - e
    if bool((offset == offset.reshape(-1)[0]).all()):
        return f"every value is off by {_fmt(float(offset.reshape(-1)[0]))} (an off-by-one?)"
    if e.dim() >= 2 and shape[-1] >= 3 and shape[-2] >= 3:
        plane = bad.reshape(-1, shape[-2], shape[-1]).any(0)
        where = []
        if not plane[:-1, :].any():
            where = ["last row"]
        elif not plane[:, :-1].any():
            where = ["last column"]
        elif not plane[:-1, :-1].any():
            where = ["last row and column"]
        elif not plane[1:, :].any():
            where = ["first row"]
        elif not plane[:, 1:].any():
            where = ["first column"]
        if where:
            return f"all differences are on the {where[0]}: an off-by-one at the border?"
    if e.dim() >= 2 and shape[0] > 1:
        rows = bad.reshape(shape[0], -1).any(1).nonzero().flatten().tolist()
        if len(rows) < shape[0]:
            return (f"the differences are all at index {rows if len(rows) > 1 else rows[0]} of axis 0 "
                    f"(size {shape[0]}); the other entries are right")
    return ""


DTYPE_RULE = ("Floating results have the dtype of the floating inputs, or float32 (torch's default) when every input "
              "is an integer tensor; integer results (labels, counts, indices) are int64.")


def _precision_advice(expected: torch.dtype) -> str:
    if expected == torch.get_default_dtype():
        return ("with integer inputs, make floating results with .float() or torch's default dtype; with floating "
                "inputs, use their dtype (dtype=x.dtype), not float64")
    return f"create new tensors with the floating inputs' dtype (e.g. torch.zeros(..., dtype=x.dtype)), here {expected}"


def compare(got: Any, expected: Any, *, rtol: float | None = None, atol: float | None = None) -> str | None:
    """Return None when ``got`` matches ``expected``, else one short paragraph saying how it differs.

    Integers and bools must match exactly and in dtype; floats within ``atol + rtol * |expected|`` (defaults from
    :func:`tolerances`), NaN only where NaN is expected. A floating tensor with elements must also have the
    expected precision (float64 in, float64 out: a float32 accumulator is a bug); scalars -- a Python number or a
    0-dim tensor -- may have any floating precision. Tuples are compared item by item. The rule every assignment
    states is :data:`DTYPE_RULE`.
    """
    if isinstance(expected, list | tuple):
        if not isinstance(got, list | tuple) or len(got) != len(expected):
            return f"expected {len(expected)} results (a tuple), got {describe(got)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            problem = compare(g, e, rtol=rtol, atol=atol)
            if problem:
                return f"result {i}: {problem}"
        return None
    if not isinstance(expected, torch.Tensor):
        expected = torch.tensor(expected)
    if isinstance(got, bool | int | float) and expected.dim() == 0:
        got = torch.tensor(got, dtype=torch.float64 if isinstance(got, float) else None)
    if not isinstance(got, torch.Tensor):
        extra = " (convert it with torch.from_numpy)" if type(got).__module__.startswith("numpy") else ""
        return f"expected {describe(expected)}, got {describe(got)}{extra}"
    got, expected = got.detach().cpu(), expected.detach().cpu()
    if got.shape != expected.shape:
        return (f"wrong shape: expected {tuple(expected.shape)}, got {tuple(got.shape)}; "
                f"{_shape_hint(tuple(got.shape), tuple(expected.shape))}")
    if expected.is_floating_point() and not got.is_floating_point():
        return f"wrong dtype: expected a floating tensor ({expected.dtype}), got {got.dtype}; convert with .float()"
    if not expected.is_floating_point() and got.dtype != expected.dtype:
        return f"wrong dtype: expected {expected.dtype}, got {got.dtype}; convert with .to({expected.dtype})"
    if expected.dim() > 0 and got.dtype != expected.dtype:
        return f"wrong precision: expected {expected.dtype}, got {got.dtype}; {_precision_advice(expected.dtype)}"
    default_rtol, default_atol = tolerances(got.dtype, expected.dtype)
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    if expected.numel() == 0:
        return None
    g, e = got.double(), expected.double()
    for kind, test in (("NaN", torch.isnan), ("infinite", torch.isinf)):
        extra = test(g) & ~test(e)
        if extra.any():
            first = int(extra.reshape(-1).nonzero()[0])
            return (f"{int(extra.sum())} {kind} value(s) where finite values are expected (the first at index "
                    f"{_index(first, e.shape)}, expected {_fmt(float(e.reshape(-1)[first]))}); a division by zero?")
        missing = test(e) & ~test(g)
        if missing.any():
            first = int(missing.reshape(-1).nonzero()[0])
            return (f"expected {kind} at {int(missing.sum())} place(s) but got numbers (the first at index "
                    f"{_index(first, e.shape)}: you return {_fmt(float(g.reshape(-1)[first]))}); where the value "
                    f"is undefined (0/0) the expected result keeps NaN")
    same = (g == e) | (g.isnan() & e.isnan())
    diff = torch.where(same, torch.zeros_like(g), (g - e).abs())
    bad = diff > atol + rtol * e.abs()
    if not bad.any():
        return None
    worst = int(torch.where(bad, diff, torch.zeros_like(diff)).reshape(-1).argmax())
    errors = f"max abs error {float(diff.max()):.3g}"
    nonzero = bad & (e != 0)
    if nonzero.any() and expected.is_floating_point():
        errors += f", max rel error {float((diff[nonzero] / e.abs()[nonzero]).max()):.3g}"
    where = f"at index {_index(worst, e.shape)}: you return" if e.dim() else "you return"
    count = f"{int(bad.sum())} of {e.numel()} values differ; the largest difference is " if e.numel() > 1 else ""
    message = (f"{count}{where} {_fmt(float(g.reshape(-1)[worst]))}, expected {_fmt(float(e.reshape(-1)[worst]))} "
               f"({errors})")
    hint = _value_hint(g, e, bad, rtol, atol)
    return f"{message}. Hint: {hint}" + ("" if hint.endswith("?") else ".") if hint else f"{message}."


def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def difference_png(got: Any, expected: Any, title: str = "") -> bytes | None:
    """``|got - expected|`` as a small PNG heatmap (max over leading axes), or None when there is nothing to draw.

    Never raises and never writes to stderr: a failing plot must not change a grade.
    """
    if not (isinstance(got, torch.Tensor) and isinstance(expected, torch.Tensor) and got.shape == expected.shape
            and expected.dim() >= 1 and expected.numel() > 1):
        return None
    try:
        with Quiet():
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            diff = (got.detach().cpu().double() - expected.detach().cpu().double()).abs().nan_to_num(nan=math.inf)
            diff = diff.reshape(1, -1) if diff.dim() == 1 else diff.reshape(-1, *diff.shape[-2:]).amax(0)
            finite = diff[diff.isfinite()]
            top = float(finite.max()) if finite.numel() else 1.0
            fig = Figure(figsize=(3.4, 2.8), dpi=80)
            ax = fig.add_subplot()
            im = ax.imshow(diff.clamp(max=top).numpy(), cmap="magma", interpolation="nearest")
            fig.colorbar(im, ax=ax, fraction=0.046)
            ax.set_title(f"|yours - expected| {title}".strip(), fontsize=9)
            ax.set_xlabel("column (last axis)", fontsize=8)
            ax.set_ylabel("row", fontsize=8)
            fig.tight_layout()
            buffer = io.BytesIO()
            FigureCanvasAgg(fig).print_png(buffer)
            return buffer.getvalue()
    except Exception:  # plotting is a courtesy
        return None


def show_difference(got: Any, expected: Any, title: str = "") -> None:
    """Show :func:`difference_png` in a notebook; elsewhere do nothing. Never raises."""
    if not _in_notebook():
        return
    png = difference_png(got, expected, title)
    if png is not None:
        with contextlib.suppress(Exception), Quiet():
            from IPython.display import Image, display

            display(Image(data=png))


def as_case(case_or_inputs: Any, expected: Any = None, rtol: float | None = None,
            atol: float | None = None) -> Case:
    """A :class:`Case` from a case, or from inputs (tuple: positional, dict: keyword, else one argument)."""
    if isinstance(case_or_inputs, Case):
        if rtol is None and atol is None:
            return case_or_inputs
        return Case(case_or_inputs.args, case_or_inputs.kwargs, case_or_inputs.expected,
                    case_or_inputs.description, rtol, atol)
    if expected is None:
        raise TypeError("expected: pass the expected result, or a Case (see cvlab.grading.load_case)")
    if isinstance(case_or_inputs, tuple):
        return Case(case_or_inputs, {}, expected, "", rtol, atol)
    if isinstance(case_or_inputs, dict):
        return Case((), dict(case_or_inputs), expected, "", rtol, atol)
    return Case((case_or_inputs,), {}, expected, "", rtol, atol)


def check(student_fn: Any, case_or_inputs: Any, expected: Any = None, *, name: str | None = None,
          rtol: float | None = None, atol: float | None = None, device: str | torch.device | None = None,
          forbidden: tuple[str, ...] = (), timeout_s: float | None = 10.0) -> Any:
    """Run ``student_fn`` on one case and raise ``AssertionError`` explaining any difference.

    The function runs on copies of the inputs (changing them in place is reported), on ``device`` (default
    :func:`cvlab.get_device`, ``CVLAB_DEVICE`` overrides), silently (nothing reaches stderr), within ``timeout_s``
    and with the ``forbidden`` shortcuts raising. In a notebook a failure also draws where the values differ.

    Args:
        student_fn: the function to test.
        case_or_inputs: a :class:`Case` (see :func:`cvlab.grading.load_case`), or the inputs: a tuple of
            positional arguments, a dict of keyword arguments, or a single argument.
        expected: the expected result when ``case_or_inputs`` is not a Case.
        name: how to call the function in messages (default: its ``__name__``).
        rtol, atol: tolerances for floating results (default: by dtype, see :func:`tolerances`).
        device: where to run.
        forbidden: dotted names of shortcuts that may not be called (see :class:`cvlab.grading.forbid`).
        timeout_s: time limit in seconds.

    Returns:
        the function's result (on the CPU) when it matches.

    Example:
        >>> check(torch.diag, (torch.tensor([1, 2]),), torch.tensor([[1, 0], [0, 2]]))  # doctest: +SKIP
    """
    __tracebackhide__ = True
    case = as_case(case_or_inputs, expected, rtol, atol)
    name = name or getattr(student_fn, "__name__", "your function")
    outcome = invoke(student_fn, case, device=device, forbidden=forbidden, timeout_s=timeout_s)
    if outcome.stderr:
        print(f"({name} wrote to stderr: {outcome.stderr[:400]})")
    problem = outcome.problem or compare(outcome.output, case.expected, rtol=case.rtol, atol=case.atol)
    if problem:
        show_difference(outcome.output, case.expected, name)
        label = f" on {case.description}" if case.description else ""
        raise AssertionError(f"{name}{label}: {problem}")
    return outcome.output
