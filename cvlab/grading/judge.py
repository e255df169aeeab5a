"""Re-judge a graded notebook outside its kernel, from the outputs its test cells saved.

Student code and the graded test cells share one Python process (the kernel), so anything the test cells compute
can be subverted there: ``torch.allclose`` or ``torch.Tensor.__eq__`` patched, ``cvlab.grading`` replaced, an IPython
input transformer that blanks every later cell. The verdict that counts is therefore made here, in the autograde
worker, a process that never ran student code:

* which tests each graded cell runs comes from the instructor's source notebook (its ``run_tests`` calls);
* the expected results come from the case stores, read and hash-checked when the judge starts;
* the student's results come from the files the test cells saved (``torch.load(weights_only=True)``: data only);
  a trained model's are its weights, which the judge loads into the architecture and measures itself
  (:mod:`cvlab.grading.model`).

A cell earns its points only if every case of every test it runs has a saved result that :func:`compare` accepts.
A missing or unreadable file fails the cell, so blanking or crashing the test cells earns nothing. While grading,
the kernel's copy of the case stores is withheld (inputs only, :func:`cvlab.grading.store.withheld_copy`; the
sandbox also hides the package's visible store), so a kernel that writes the result files itself has no expected
output to copy: it can only save what its code computes.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import torch

from cvlab.grading.check import compare, difference_png
from cvlab.grading.model import check_model
from cvlab.grading.run import harvest_name
from cvlab.grading.store import TIERS, CaseSet, CaseStore, store_dir

MAX_HARVEST_BYTES = 64 * 2**20


@dataclass(frozen=True)
class GradedCell:
    """A graded test cell of the source notebook and the ``(test, tier)`` pairs its ``run_tests`` calls check."""

    cell_id: str
    points: float
    tests: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Verdict:
    """The verified score of one graded cell; ``problem`` says why it earned nothing (None when it passed)."""

    cell_id: str
    score: float
    max_score: float
    problem: str | None
    picture: bytes | None = None  # PNG of |yours - expected| for a failed visible case, when it can be drawn


def _run_tests_calls(source: str, assignment: str) -> list[tuple[str, str]]:
    calls = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name != "run_tests":
            continue
        args = [a.value for a in node.args[:2] if isinstance(a, ast.Constant)]
        tier = next((k.value.value for k in node.keywords if k.arg == "tier" and isinstance(k.value, ast.Constant)),
                    "visible")
        if len(args) != 2 or args[0] != assignment or tier not in TIERS:
            raise ValueError(f"run_tests call `{ast.unparse(node)}`: expected constant arguments "
                             f"(\"{assignment}\", \"<test>\", answer, tier=\"visible\"|\"hidden\")")
        calls.append((args[1], tier))
    return calls


def graded_cells(notebook: str | Path, assignment: str) -> list[GradedCell]:
    """The graded test cells of a source notebook that call ``run_tests`` (other graded cells are not listed)."""
    nb = nbformat.read(Path(notebook), as_version=4)
    cells = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        tests = _run_tests_calls(cell.source, assignment)
        if tests:
            cells.append(GradedCell(meta["grade_id"], float(meta.get("points", 0)), tuple(tests)))
    return cells


def _read_harvest(path: Path) -> list[dict]:
    """The saved per-case results of one test, validated to plain data; raise ValueError when unusable."""
    if path.stat().st_size > MAX_HARVEST_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_HARVEST_BYTES >> 20} MiB")
    content = torch.load(path, map_location="cpu", weights_only=True)
    results = content.get("results") if isinstance(content, dict) else None
    if not isinstance(results, list) or not all(isinstance(r, dict) and r.get("status") in ("ok", "fail")
                                                 for r in results):
        raise ValueError(f"{path.name} does not hold a list of results")
    return results


class Judge:
    """Verified scores of one assignment's graded cells, from saved outputs.

    Args:
        root: the course root (source notebook and hidden store under ``solutions/<assignment>/``).
        assignment: the assignment's name.
    """

    def __init__(self, root: str | Path, assignment: str):
        self.assignment = assignment
        self.cells = graded_cells(Path(root) / "solutions" / assignment / f"{assignment}.ipynb", assignment)
        self.cases: dict[tuple[str, str], CaseSet] = {}
        for cell in self.cells:
            for test, tier in cell.tests:
                if (test, tier) not in self.cases:
                    self.cases[test, tier] = CaseStore(store_dir(assignment, tier, root)).load(test)

    @property
    def max_score(self) -> float:
        return sum(cell.points for cell in self.cells)

    def _problem(self, folder: Path, test: str, tier: str) -> tuple[str | None, bytes | None]:
        """Why the saved results of ``test`` fail (None when they pass), and a difference picture (visible only)."""
        cases = self.cases[test, tier]
        path = folder / harvest_name(test, tier)
        if not path.is_file():
            return f"{test} ({tier}): no saved results -- the test cell did not run to its end", None
        try:
            results = _read_harvest(path)
        except Exception as error:
            return f"{test} ({tier}): the saved results are unreadable ({type(error).__name__}: {error})", None
        for i, case in enumerate(cases.cases):
            label = f"{test}, {tier} case {i + 1} of {len(cases.cases)}" + (
                f" ({case.description})" if case.description else "")
            if i >= len(results):
                return f"{label}: no saved result", None
            result: dict[str, Any] = results[i]
            if result["status"] != "ok":
                return f"{label}: {str(result.get('message', ''))[:500]}", None
            if cases.kind == "model":  # the weights, measured here on held-out data no kernel saw
                problem = check_model(result.get("output"), case.expected)
            else:
                problem = compare(result.get("output"), case.expected, rtol=case.rtol, atol=case.atol)
            if problem:
                picture = difference_png(result.get("output"), case.expected, test) \
                    if tier == "visible" and cases.kind != "model" else None
                return f"{label}: {problem}", picture
        return None, None

    def verdicts(self, folder: str | Path | None) -> list[Verdict]:
        """Judge the outputs saved in ``folder`` (None: nothing was saved) cell by cell."""
        folder = Path(folder) if folder is not None else None
        verdicts = []
        for cell in self.cells:
            problem = picture = None
            for test, tier in cell.tests:
                problem, picture = ("no saved results", None) if folder is None else self._problem(folder, test, tier)
                if problem:
                    break
            verdicts.append(Verdict(cell.cell_id, 0.0 if problem else cell.points, cell.points, problem, picture))
        return verdicts
