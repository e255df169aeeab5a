"""Forbid the library shortcuts that would solve an exercise while the student's function runs.

A profiling hook (:func:`sys.setprofile`) watches every call made inside the ``with`` block: calling a forbidden
built-in (``torch.nn.functional.one_hot``), a method of it (``tensor.bincount`` when ``torch.Tensor.bincount`` is
forbidden) or entering the code of a forbidden Python function (``sklearn.metrics.confusion_matrix``, also through an
alias or a decorator) raises :class:`ForbiddenError`. Aliases cannot dodge it -- the check is on the object called,
not on the name used. The previous hook is restored on exit, also after an exception.

CPython switches a profiling hook off once it raises, so after the first refusal the block is unguarded; the guard
therefore remembers it (``refused``), and whoever runs student code fails the call even if the student caught the
error. Likewise ``switched_off`` tells that the code replaced the hook itself (``sys.setprofile``).

Names of PyTorch and torchvision operations are also banned **at the operators PyTorch executes**
(:data:`OPERATORS`), through a :class:`~torch.utils._python_dispatch.TorchDispatchMode`: however the operator is
reached -- ``functools.partial``, ``torch.ops.aten.convolution(..., transposed=True)``, the gradient of ``conv2d``
(``aten::convolution_backward``), ``F.fold`` (``aten::col2im``) or ``F.grid_sample`` for an interpolation -- it is
refused. Operator names (``"aten::col2im"``) may be given directly. While a guard with operator bans is active,
starting threads or processes is refused too (the dispatch mode is per thread; a child process would escape it).

What this cannot stop: code that switches the guard off from inside the same process (it runs in the student's
kernel) -- :mod:`cvlab.grading.lint` flags such code for review; a forbidden function re-created from its source
(then it is the student's own code, like a solution copied by hand).
"""

from __future__ import annotations

import _thread
import contextlib
import importlib
import importlib.util
import inspect
import sys
import threading
from collections.abc import Callable
from types import CodeType, ModuleType
from typing import Any

from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._python_dispatch import _get_current_dispatch_mode as _current_mode


class ForbiddenError(RuntimeError):
    """A forbidden shortcut was called inside :class:`forbid`."""


def _transposed(args: tuple) -> bool:
    return len(args) > 6 and bool(args[6])


_TRANSPOSED_CONV = (("aten::convolution", _transposed), ("aten::_convolution", _transposed),
                    ("aten::convolution_backward", None), ("aten::col2im", None),
                    ("aten::slow_conv_transpose2d", None), ("aten::slow_conv_transpose3d", None))
_RESAMPLING = (("aten::upsample_", None), ("aten::_upsample_", None), ("aten::grid_sampler", None))
_UNPOOL = (("aten::max_unpool2d", None), ("aten::max_unpool3d", None))

# Python name -> the operators (operator name prefix, predicate on the positional arguments) that compute it
OPERATORS: dict[str, tuple[tuple[str, Callable[[tuple], bool] | None], ...]] = {
    **{f"{where}.conv_transpose{d}d": _TRANSPOSED_CONV for where in ("torch", "torch.nn.functional")
       for d in (1, 2, 3)},
    **{f"torch.nn.ConvTranspose{d}d": _TRANSPOSED_CONV for d in (1, 2, 3)},
    **{f"torch.nn.functional.{name}": _RESAMPLING for name in ("interpolate", "upsample", "upsample_bilinear",
                                                               "upsample_nearest", "grid_sample")},
    **{f"torch.nn.{name}": _RESAMPLING for name in ("Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d")},
    **{f"torch.nn.functional.max_unpool{d}d": _UNPOOL for d in (1, 2, 3)},
    **{f"torch.nn.MaxUnpool{d}d": _UNPOOL for d in (1, 2, 3)},
    **{f"torchvision.ops.{name}": ((f"torchvision::{op}", None), (f"torchvision::_{op}_backward", None))
       for name, op in (("roi_align", "roi_align"), ("RoIAlign", "roi_align"), ("roi_pool", "roi_pool"),
                        ("RoIPool", "roi_pool"), ("ps_roi_align", "ps_roi_align"), ("ps_roi_pool", "ps_roi_pool"))},
    **{f"torchvision.ops.{name}": (("torchvision::nms", None),) for name in ("nms", "batched_nms")},
}


def operator_rules(names: tuple[str, ...] | list[str]) -> dict[str, tuple[tuple[str, Any], ...]]:
    """The operator bans implied by ``names``: ``{banned name: ((operator name or prefix, predicate), ...)}``."""
    rules = {}
    for name in names:
        if "::" in name:
            rules[name] = ((name, None),)
        elif name in OPERATORS:
            rules[name] = OPERATORS[name]
    return rules


class _OperatorGuard(TorchDispatchMode):
    """Refuse the operators of ``rules`` (see :func:`operator_rules`) in this thread while active."""

    def __init__(self, rules: dict[str, tuple[tuple[str, Any], ...]], refuse: Callable[[str, str], Exception]):
        super().__init__()
        self.rules = [(banned, op, test) for banned, ops in rules.items() for op, test in ops]
        self.refuse = refuse

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        name = func.name().split(".")[0]  # without the overload
        for banned, op, test in self.rules:
            if name.startswith(op) and (test is None or test(args)):
                raise self.refuse(banned, name)
        return func(*args, **(kwargs or {}))


_PROCESS_EVENTS = {"os.fork", "os.forkpty", "os.system", "os.posix_spawn", "os.spawn", "os.exec", "subprocess.Popen",
                   "os.startfile", "pty.spawn"}
_guards: list[forbid] = []  # the active guards with operator bans (innermost last)


def _audit(event: str, args: tuple) -> None:
    if _guards and event in _PROCESS_EVENTS:
        raise _guards[-1]._refuse_concurrency(f"starting a process ({event})")


_audit_installed = False


def _refusing_start(*args: Any, **kwargs: Any) -> Any:
    raise _guards[-1]._refuse_concurrency("starting a thread")


def resolve(name: str) -> Any:
    """Import the object at dotted ``name``; None when its module is not installed or it does not exist.

    An attribute wins over a submodule of the same name (``torchvision.ops.roi_align`` is the function, as Python
    itself reads it); a submodule its package does not import (``cvlab.ops.explain_rois``) is imported.
    """
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attr in parts[split:]:
                obj = getattr(obj, attr)
        except AttributeError:
            try:
                return importlib.import_module(name)
            except ImportError:
                return None
        return obj
    return None


def unresolved(names: tuple[str, ...] | list[str]) -> list[str]:
    """The dotted names whose package is installed but which do not exist in it (a typo, or a moved function).

    Such a name would forbid nothing, silently; the case builder refuses it.
    """
    return [name for name in names if "::" not in name
            and importlib.util.find_spec(name.split(".")[0]) is not None and resolve(name) is None]


class forbid(contextlib.ContextDecorator):  # noqa: N801 -- used like contextlib.suppress
    """Make the named shortcuts raise :class:`ForbiddenError` while the block (or decorated function) runs.

    Args:
        *names: dotted names, e.g. ``"torch.nn.functional.one_hot"``, ``"sklearn.metrics.confusion_matrix"``,
            ``"torch.Tensor.bincount"``. Names whose module is not installed are skipped (they cannot be called).
            A Python **module** (``"cvlab.metrics.panoptic"``) forbids entering any code of its source file: its
            private helpers too, including those added after the assignment was written.
        advice: what to write instead, appended to the error message.

    Example:
        >>> with forbid("torch.nn.functional.one_hot"):  # doctest: +SKIP
        ...     torch.nn.functional.one_hot(torch.tensor([0, 1]))
        Traceback (most recent call last):
        ForbiddenError: `torch.nn.functional.one_hot` is not allowed in this exercise -- ...
    """

    def __init__(self, *names: str, advice: str = "write it with basic tensor operations"):
        for name in names:
            if not isinstance(name, str) or "." not in name and "::" not in name:
                raise TypeError(f"names: expected dotted names such as 'torch.bincount' or operator names such as "
                                f"'aten::col2im', got {name!r}")
        self.names = names
        self.advice = advice
        self.refused: str | None = None  # the first shortcut (or "starting a thread"...) refused in the block
        self._why = ""
        self.switched_off = False  # the block replaced the profiling hook
        self._saved: list[tuple[Any, Any]] = []

    def _targets(self) -> tuple[dict[int, str], dict[CodeType, str], list[tuple[type, str, str]], dict[str, str]]:
        builtins: dict[int, str] = {}
        codes: dict[CodeType, str] = {}
        methods: list[tuple[type, str, str]] = []
        files: dict[str, str] = {}
        for name in self.names:
            obj = resolve(name) if "::" not in name else None
            if obj is None:
                continue
            if isinstance(obj, ModuleType):
                source = getattr(obj, "__file__", None)
                if source and source.endswith(".py"):
                    files[source] = name
                continue
            builtins[id(obj)] = name
            owner = getattr(obj, "__objclass__", None)
            if isinstance(owner, type):  # a C method such as torch.Tensor.bincount: match bound calls too
                methods.append((owner, getattr(obj, "__name__", ""), name))
            function = inspect.unwrap(obj) if callable(obj) else obj
            for candidate in (function, getattr(function, "__func__", None)):
                code = getattr(candidate, "__code__", None)
                if isinstance(code, CodeType):
                    codes[code] = name
                    break
        return builtins, codes, methods, files

    def _refuse(self, name: str, operator: str | None = None) -> ForbiddenError:
        if self.refused is None:
            how = f" (PyTorch ran {operator}, which computes it)" if operator else ""
            self.refused, self._why = name, f"`{name}` is not allowed in this exercise{how} -- {self.advice}"
        return ForbiddenError(self._why)

    def _refuse_concurrency(self, what: str) -> ForbiddenError:
        if self.refused is None:
            self.refused, self._why = what, (f"{what} is not allowed in this exercise: the checks watch the "
                                             f"operators your function runs, in its own thread -- compute in the "
                                             f"function itself")
        return ForbiddenError(self._why)

    def message(self) -> str | None:
        """Why the guarded code failed (a refused shortcut, or the guard switched off), or None."""
        if self.refused:
            return self._why
        if self.switched_off:
            return "switched off the shortcut guard (sys.setprofile or a dispatch mode), which the tests need"
        return None

    def __enter__(self) -> forbid:
        builtins, codes, methods, files = self._targets()
        previous = sys.getprofile()
        refuse = self._refuse

        def hook(frame: Any, event: str, arg: Any) -> None:
            if event == "call":
                name = codes.get(frame.f_code) or files.get(frame.f_code.co_filename)
                if name is not None:
                    raise refuse(name)
            elif event == "c_call":
                name = builtins.get(id(arg))
                if name is None and methods:
                    bound_to = getattr(arg, "__self__", None)
                    called = getattr(arg, "__name__", None)
                    for owner, method, dotted in methods:
                        if called == method and isinstance(bound_to, owner):
                            name = dotted
                            break
                if name is not None:
                    raise refuse(name)
            if previous is not None:
                previous(frame, event, arg)

        rules = operator_rules(self.names)
        mode = _OperatorGuard(rules, self._refuse) if rules else None
        self._saved.append((previous, hook, mode))
        if mode is not None:
            self._isolate()
            mode.__enter__()
        sys.setprofile(hook)
        return self

    def _isolate(self) -> None:
        """Refuse threads and processes while this guard is active (see the module's docstring)."""
        global _audit_installed
        if not _audit_installed:
            sys.addaudithook(_audit)  # permanent, but inert while no guard is active
            _audit_installed = True
        if not _guards:
            self._starters = (threading._start_new_thread, _thread.start_new_thread)
            threading._start_new_thread = _thread.start_new_thread = _refusing_start
        _guards.append(self)

    def __exit__(self, *exc: object) -> None:
        previous, hook, mode = self._saved.pop()
        if sys.getprofile() is not hook and not self.refused:
            self.switched_off = True
        sys.setprofile(previous)
        if mode is not None:
            if _current_mode() is not mode and not self.refused:
                self.switched_off = True  # the block left the dispatch mode itself
            with contextlib.suppress(Exception):
                mode.__exit__(None, None, None)
            if _guards and _guards[-1] is self:
                _guards.pop()
            if not _guards:
                threading._start_new_thread, _thread.start_new_thread = self._starters
            elif self not in _guards:
                self.switched_off = True
