"""Call a student's function for a check: on copies of the inputs, on the chosen device, silently, within a time
limit, with the exercise's shortcuts forbidden -- and turn every way it can go wrong into one sentence.

Silence matters: nbgrader scores a test cell 0 when anything reaches stderr, so warnings, ``sys.stderr`` writes and
C-level writes to file descriptor 2 made during the call are captured (and echoed on stdout by the caller).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cvlab.device import get_device
from cvlab.grading.forbid import ForbiddenError, forbid
from cvlab.grading.store import Case

TIMEOUT_ENV = "CVLAB_GRADING_TIMEOUT_S"
_PACKAGE = str(Path(__file__).resolve().parents[1])
_PREFIXES = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})


class StudentTimeout(BaseException):
    """The student's function ran past its time limit (a BaseException, so ``except Exception`` cannot eat it)."""


@dataclass
class Outcome:
    """What one call produced: ``output`` moved to the CPU, or ``problem`` (a sentence), plus captured stderr."""

    output: Any = None
    problem: str | None = None
    stderr: str = ""


class Quiet:
    """Capture warnings, ``sys.stderr`` and file descriptor 2 inside the block; the text is in ``.text`` after it."""

    def __init__(self) -> None:
        self.text = ""
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Quiet:
        self._buffer = io.StringIO()
        self._caught = self._stack.enter_context(warnings.catch_warnings(record=True))
        warnings.simplefilter("always")
        self._stack.enter_context(contextlib.redirect_stderr(self._buffer))
        self._fd = None
        with contextlib.suppress(OSError, ValueError):
            for stream in (sys.__stderr__, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            saved = os.dup(2)
            spool = tempfile.TemporaryFile()
            os.dup2(spool.fileno(), 2)
            self._fd = (saved, spool)
        return self

    def __exit__(self, *exc: object) -> None:
        c_text = ""
        if self._fd is not None:
            saved, spool = self._fd
            os.dup2(saved, 2)
            os.close(saved)
            spool.seek(0)
            c_text = spool.read().decode(errors="replace")
            spool.close()
        self._stack.close()
        parts = [self._buffer.getvalue(), c_text]
        parts += [f"{w.category.__name__}: {w.message}" for w in self._caught]
        self.text = "\n".join(p.strip() for p in parts if p.strip())


@contextlib.contextmanager
def time_limit(seconds: float | None):
    """Raise :class:`StudentTimeout` in the block after ``seconds`` of this process's CPU time (main thread on
    POSIX; elsewhere no limit).

    CPU time, not wall-clock time, so a busy grading machine does not fail a correct function; a call that waits
    without computing is bounded by the notebook's cell timeout instead. A pending profiling timer is put back
    afterwards, less the time spent.
    """
    usable = (
        seconds
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def _expired(signum: int, frame: Any) -> None:
        raise StudentTimeout

    previous = signal.signal(signal.SIGPROF, _expired)
    pending, _ = signal.setitimer(signal.ITIMER_PROF, float(seconds))
    start = time.process_time()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
        if pending:
            signal.setitimer(signal.ITIMER_PROF, max(pending - (time.process_time() - start), 1e-3))


def to_device(obj: Any, device: torch.device) -> Any:
    """Deep copy ``obj`` with every tensor copied onto ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to(device, copy=True)
    if isinstance(obj, dict):
        return {key: to_device(value, device) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(to_device(item, device) for item in obj)
    return copy.deepcopy(obj)


def to_cpu(obj: Any) -> Any:
    """Detached CPU copies of the tensors in ``obj`` (tuples and lists kept); NumPy scalars become Python numbers
    (so the result can be saved and judged: ``torch.load(weights_only=True)`` refuses NumPy objects); other values
    unchanged."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, list | tuple):
        return tuple(to_cpu(item) for item in obj)
    if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
        return obj.item()
    return obj


def describe(obj: Any) -> str:
    """A short description of a value for messages: ``a torch.int64 tensor of shape (2, 3)``, ``a numpy.ndarray``."""
    if isinstance(obj, torch.Tensor):
        return f"a {obj.dtype} tensor of shape {tuple(obj.shape)}"
    if obj is None:
        return "None"
    kind = type(obj)
    return f"a {kind.__name__}" if kind.__module__ == "builtins" else f"a {kind.__module__}.{kind.__name__}"


def _where(error: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if not f.filename.startswith(_PREFIXES) and not f.filename.startswith(_PACKAGE)]
    if not frames:
        return ""
    last = frames[-1]
    return f" (in {last.name}, line {last.lineno})"


def _arg_names(fn: Any, args: tuple, kwargs: dict) -> list[tuple[str, Any]]:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
        return list(bound.arguments.items())
    except (TypeError, ValueError):
        return [(f"argument {i + 1}", a) for i, a in enumerate(args)] + list(kwargs.items())


def _same(before: Any, after: Any) -> bool:
    if isinstance(before, torch.Tensor):
        if not isinstance(after, torch.Tensor) or after.shape != before.shape or after.dtype != before.dtype:
            return False
        after = after.detach().cpu()
        equal = after == before
        if before.is_floating_point():
            equal |= before.isnan() & after.isnan()
        return bool(equal.all())
    if isinstance(before, dict):
        return isinstance(after, dict) and before.keys() == after.keys() and all(
            _same(before[key], after[key]) for key in before)
    if isinstance(before, list | tuple):
        return isinstance(after, list | tuple) and len(before) == len(after) and all(map(_same, before, after))
    return True


def _output_problem(out: Any, device: torch.device) -> str | None:
    items = out if isinstance(out, list | tuple) else (out,)
    for item in items:
        if isinstance(item, torch.Tensor):
            if type(item) is not torch.Tensor:
                return f"returned a {type(item).__name__} (a subclass of torch.Tensor); return a plain torch.Tensor"
            if item.device != device:
                return (f"returned a tensor on {item.device}, but the inputs were on {device}: create new tensors "
                        f"on the inputs' device (e.g. torch.zeros(..., device=x.device))")
    return None


def timeout_for(default: float) -> float:
    """The per-call time limit: ``default``, or the ``CVLAB_GRADING_TIMEOUT_S`` environment variable when set."""
    value = os.environ.get(TIMEOUT_ENV, "").strip()
    try:
        return float(value) if value else float(default)
    except ValueError:
        return float(default)


def invoke(fn: Any, case: Case, *, device: str | torch.device | None = None, forbidden: tuple[str, ...] = (),
           timeout_s: float | None = 10.0) -> Outcome:
    """Call ``fn(*case.args, **case.kwargs)`` safely and report what happened.

    Args:
        fn: the student's function.
        case: inputs (copied; tensors moved to ``device``) -- ``case.expected`` is not used here.
        device: where to run; default :func:`cvlab.get_device` (``CVLAB_DEVICE`` overrides).
        forbidden: dotted names of shortcuts that raise while ``fn`` runs (see :class:`forbid`).
        timeout_s: time limit of the call in seconds of CPU time (None: no limit).

    Returns:
        an :class:`Outcome`: the output on the CPU, or the problem in words (exception, time limit, forbidden
        shortcut, input changed in place, wrong device or tensor type).
    """
    if not callable(fn):
        return Outcome(problem=f"expected a function, got {describe(fn)}")
    device = torch.device(device) if device is not None else get_device()
    originals = (case.args, case.kwargs)
    args, kwargs = to_device(case.args, device), to_device(case.kwargs, device)
    moved = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
    device = moved[0].device if moved else device
    guard = Quiet()
    shortcuts = forbid(*forbidden)
    problem = None
    out = None
    try:
        with guard, shortcuts, time_limit(timeout_s):
            out = fn(*args, **kwargs)
    except StudentTimeout:
        problem = (f"did not finish within {timeout_s:g} s of CPU time on this small case (an endless loop, or a "
                   f"Python loop over every pixel?)")
    except ForbiddenError as error:
        problem = str(error)
    except NotImplementedError:
        problem = "is not written yet (it raises NotImplementedError)"
    except Exception as error:  # the student's bug, reported in words
        detail = f": {error}" if str(error) else ""
        problem = f"raised {type(error).__name__}{detail}{_where(error)}"
    if problem is None and forbidden:
        problem = shortcuts.message()
    if problem is None:
        for (name, before), (_, after) in zip(_arg_names(fn, *originals), _arg_names(fn, args, kwargs),
                                              strict=False):
            if not _same(before, after):
                problem = (f"changed its input `{name}` in place; leave the inputs untouched (work on a copy, or "
                           f"use out-of-place operations such as x = x + 1 instead of x += 1)")
                break
    if problem is None:
        problem = _output_problem(out, device)
    return Outcome(output=None if problem else to_cpu(out), problem=problem, stderr=guard.text)
