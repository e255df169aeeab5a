"""Run an assignment's named tests in a notebook: the graded test cells, and ``validate`` for students.

A graded test cell is one line, e.g. ``run_tests("a0_dense_outputs", "one_hot", one_hot, tier="hidden")``: every
case of that test is checked with :func:`cvlab.grading.check.compare`, and the first failure raises
``AssertionError`` with its explanation (nbgrader then scores the cell 0).

While ``python -m cvlab.grading autograde`` grades a submission it sets ``CVLAB_GRADING_HARVEST`` to a fresh folder:
each test then also saves what the student's code returned (``<test>.<tier>.pt``), and the grader judges those
outputs in its own process, which no student code ever ran in (see :mod:`cvlab.grading.judge`). The kernel's copy of
the cases is withheld -- inputs only -- so the test cells only *record* outputs there: a kernel that patches the
comparisons, replaces this module or writes the saved outputs itself has no expected output to copy.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from cvlab.grading.check import compare, show_difference
from cvlab.grading.forbid import resolve
from cvlab.grading.invoke import Quiet, describe, invoke, timeout_for, to_cpu
from cvlab.grading.model import check_model, model_weights
from cvlab.grading.store import CaseSet, CaseStore

HARVEST_ENV = "CVLAB_GRADING_HARVEST"


def harvest_name(test: str, tier: str) -> str:
    """File name of the saved outputs of ``test`` in ``tier``."""
    return f"{test}.{tier}.pt"


def _answer_output(answer: Any) -> tuple[Any, str | None]:
    if isinstance(answer, numbers.Real) and not isinstance(answer, bool | int | float):
        answer = float(answer)  # a NumPy scalar
    if isinstance(answer, torch.Tensor | bool | int | float) or answer is None:
        return to_cpu(answer), None
    if isinstance(answer, list | tuple) and all(isinstance(a, torch.Tensor | bool | int | float) for a in answer):
        return to_cpu(answer), None
    return None, f"expected a number or a tensor, got {describe(answer)}"


def _save_harvest(test: str, tier: str, results: list[dict]) -> None:
    folder = os.environ.get(HARVEST_ENV, "").strip()
    if not folder:
        return
    with Quiet():
        Path(folder).mkdir(parents=True, exist_ok=True)
        torch.save({"test": test, "tier": tier, "results": results}, Path(folder) / harvest_name(test, tier))


@contextlib.contextmanager
def standing_in(answer: Any, helpers: tuple[tuple[str, str], ...]) -> Iterator[None]:
    """While the block runs, the names ``helpers`` lists in ``answer``'s module globals (the notebook) are the
    course's implementations; afterwards they are the student's again. A callable without globals is left alone."""
    scope = getattr(answer, "__globals__", None)
    if not helpers or not isinstance(scope, dict):
        yield
        return
    missing = object()
    saved = {name: scope.get(name, missing) for name, _ in helpers}
    try:
        scope.update({name: resolve(dotted) for name, dotted in helpers})
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                scope.pop(name, None)
            else:
                scope[name] = value


def _run(cases: CaseSet, answer: Any, tier: str, *, harvest: bool, draw: bool) -> str | None:
    """Check ``answer`` on every case; return the first problem (None when all pass)."""
    with standing_in(answer, cases.helpers):
        return _run_cases(cases, answer, tier, harvest=harvest, draw=draw)


def _run_cases(cases: CaseSet, answer: Any, tier: str, *, harvest: bool, draw: bool) -> str | None:
    results: list[dict] = []
    echoed = False
    try:
        for i, case in enumerate(cases.cases):
            if cases.kind == "function":
                outcome = invoke(answer, case, forbidden=cases.forbid, timeout_s=timeout_for(cases.timeout_s))
                output, problem, stderr = outcome.output, outcome.problem, outcome.stderr
            elif cases.kind == "model":
                (output, problem), stderr = model_weights(answer), ""
            else:
                (output, problem), stderr = _answer_output(answer), ""
            if stderr and not echoed:
                echoed = True
                print(f"({cases.name} wrote to stderr, shown here instead: {stderr[:400]})")
            if not cases.withheld:
                problem = problem or (check_model(output, case.expected) if cases.kind == "model" else
                                      compare(output, case.expected, rtol=case.rtol, atol=case.atol))
            results.append({"status": "fail" if problem else "ok", "output": None if problem else output,
                            "message": problem or ""})
            if problem:
                if draw and cases.kind != "model":
                    show_difference(output, case.expected, cases.name)
                label = f" ({case.description})" if case.description else ""
                return f"{cases.name}, {tier} case {i + 1} of {len(cases.cases)}{label}: {problem}"
        return None
    finally:
        if harvest:
            _save_harvest(cases.name, tier, results)


def run_tests(assignment: str, test: str, answer: Any, *, tier: str = "visible") -> None:
    """Check ``answer`` (a function, or a value) on every case of ``test``; raise ``AssertionError`` on the first
    failure, with the case and what is wrong; print one line when all pass.

    Args:
        assignment: e.g. ``"a0_dense_outputs"``.
        test: the test's name, usually the function's name.
        answer: the student's function (or value, for value tests).
        tier: ``"visible"`` (cases shipped with cvlab) or ``"hidden"`` (the instructor's cases, graded only).
    """
    __tracebackhide__ = True
    cases = CaseStore.open(assignment, tier).load(test)
    problem = _run(cases, answer, tier, harvest=True, draw=tier == "visible")
    if problem:
        raise AssertionError(problem)
    if cases.withheld:
        print(f"{test}: all {len(cases.cases)} {tier} case(s) ran; their results are checked outside the notebook "
              f"(the verdict is in your feedback)")
    else:
        print(f"{test}: all {len(cases.cases)} {tier} case(s) pass")


def validate(assignment: str, namespace: dict | None = None) -> dict[str, str | None]:
    """Run every visible test of ``assignment`` against the names defined in ``namespace`` and print a summary.

    Students call ``validate("a0_dense_outputs")`` in the last cell (Colab included, no nbgrader needed): the
    messages are those of the graded cells.

    Args:
        assignment: the assignment's name.
        namespace: where to find the functions and answers (default: the caller's globals, i.e. the notebook).

    Returns:
        ``{test: None if it passes else the problem}``.
    """
    namespace = sys._getframe(1).f_globals if namespace is None else namespace
    store = CaseStore.open(assignment, "visible")
    report: dict[str, str | None] = {}
    for name in store.names():
        if name not in namespace:
            report[name] = f"{name} is not defined: run the cell that defines it first"
            continue
        report[name] = _run(store.load(name), namespace[name], "visible", harvest=False, draw=False)
    for name, problem in report.items():
        print(f"[{'pass' if problem is None else 'FAIL'}] {name}" + (f"\n       {problem}" if problem else ""))
    passed = sum(p is None for p in report.values())
    print(f"{passed} of {len(report)} visible tests pass" + ("" if passed < len(report) else
                                                               "; the hidden tests run when your notebook is graded"))
    return report
