"""Forbid the library shortcuts that would solve an exercise while the student's function runs.

A profiling hook (:func:`sys.setprofile`) watches every call made inside the ``with`` block: calling a forbidden
built-in (``torch.nn.functional.one_hot``), a method of it (``tensor.bincount`` when ``torch.Tensor.bincount`` is
forbidden) or entering the code of a forbidden Python function (``sklearn.metrics.confusion_matrix``, also through an
alias or a decorator) raises :class:`ForbiddenError`. Aliases cannot dodge it -- the check is on the object called,
not on the name used. The previous hook is restored on exit, also after an exception.

CPython switches a profiling hook off once it raises, so after the first refusal the block is unguarded; the guard
therefore remembers it (``refused``), and whoever runs student code fails the call even if the student caught the
error. Likewise ``switched_off`` tells that the code replaced the hook itself (``sys.setprofile``).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import sys
from types import CodeType
from typing import Any


class ForbiddenError(RuntimeError):
    """A forbidden shortcut was called inside :class:`forbid`."""


def _resolve(name: str) -> Any:
    """Import the object at dotted ``name``; None when its module is not installed or it does not exist."""
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
            return None
        return obj
    return None


def unresolved(names: tuple[str, ...] | list[str]) -> list[str]:
    """The dotted names whose package is installed but which do not exist in it (a typo, or a moved function).

    Such a name would forbid nothing, silently; the case builder refuses it.
    """
    return [name for name in names
            if importlib.util.find_spec(name.split(".")[0]) is not None and _resolve(name) is None]


class forbid(contextlib.ContextDecorator):  # noqa: N801 -- used like contextlib.suppress
    """Make the named shortcuts raise :class:`ForbiddenError` while the block (or decorated function) runs.

    Args:
        *names: dotted names, e.g. ``"torch.nn.functional.one_hot"``, ``"sklearn.metrics.confusion_matrix"``,
            ``"torch.Tensor.bincount"``. Names whose module is not installed are skipped (they cannot be called).
        advice: what to write instead, appended to the error message.

    Example:
        >>> with forbid("torch.nn.functional.one_hot"):  # doctest: +SKIP
        ...     torch.nn.functional.one_hot(torch.tensor([0, 1]))
        Traceback (most recent call last):
        ForbiddenError: `torch.nn.functional.one_hot` is not allowed in this exercise -- ...
    """

    def __init__(self, *names: str, advice: str = "write it with basic tensor operations"):
        for name in names:
            if not isinstance(name, str) or "." not in name:
                raise TypeError(f"names: expected dotted names such as 'torch.bincount', got {name!r}")
        self.names = names
        self.advice = advice
        self.refused: str | None = None  # the first shortcut refused in the block
        self.switched_off = False  # the block replaced the profiling hook
        self._saved: list[tuple[Any, Any]] = []

    def _targets(self) -> tuple[dict[int, str], dict[CodeType, str], list[tuple[type, str, str]]]:
        builtins: dict[int, str] = {}
        codes: dict[CodeType, str] = {}
        methods: list[tuple[type, str, str]] = []
        for name in self.names:
            obj = _resolve(name)
            if obj is None:
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
        return builtins, codes, methods

    def _refuse(self, name: str) -> ForbiddenError:
        self.refused = self.refused or name
        return ForbiddenError(f"`{name}` is not allowed in this exercise -- {self.advice}")

    def message(self) -> str | None:
        """Why the guarded code failed (a refused shortcut, or the hook switched off), or None."""
        if self.refused:
            return str(ForbiddenError(f"`{self.refused}` is not allowed in this exercise -- {self.advice}"))
        if self.switched_off:
            return "switched off the shortcut guard (sys.setprofile), which the tests need"
        return None

    def __enter__(self) -> forbid:
        builtins, codes, methods = self._targets()
        previous = sys.getprofile()
        refuse = self._refuse

        def hook(frame: Any, event: str, arg: Any) -> None:
            if event == "call":
                name = codes.get(frame.f_code)
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

        self._saved.append((previous, hook))
        sys.setprofile(hook)
        return self

    def __exit__(self, *exc: object) -> None:
        previous, hook = self._saved.pop()
        if sys.getprofile() is not hook and not self.refused:
            self.switched_off = True
        sys.setprofile(previous)
