"""Execute the course notebooks headless and report their time against each notebook's budget.

Every notebook declares its CPU budget in its metadata, ``{"cvlab": {"budget_s": 180}}``. The main job of the
course (``make course``) runs ``python -m cvlab.course``: it executes every notebook under ``notebooks/`` in order,
writes the offline course site of the executed notebooks to ``build/`` (:mod:`cvlab.site`; open
``build/index.html``), and prints a table of measured time vs budget. The test suite uses the same
:func:`execute_notebook`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent

STUDENT_REPO = "cvlab-course/cvlab"
"""The student edition's GitHub repository (owner/name): the one place the Colab install and links name it."""

STUDENT_REPO_URL = f"https://github.com/{STUDENT_REPO}"


def colab_url(path: str, branch: str = "main") -> str:
    """The "Open in Colab" address of ``path`` (relative to the repository root) in the student edition."""
    return f"https://colab.research.google.com/github/{STUDENT_REPO}/blob/{branch}/{path}"


SETUP_CELL = f"""\
# Setup: installs cvlab when it is missing (Colab); does nothing where cvlab is already installed.
import importlib.util, subprocess, sys
if importlib.util.find_spec("cvlab") is None:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "git+{STUDENT_REPO_URL}.git"])
from cvlab import get_device, seed_everything
device = get_device()
seed_everything(0)"""
"""The code every notebook starts with, verbatim (a test checks it)."""


class ClaimError(AssertionError):
    """A figure quoted in a notebook's prose left the band the text states (the prose and the run disagree)."""


def claim(what: str, value: float, low: float, high: float, *, fmt: str = ".3f") -> float:
    """Print a measured figure that a markdown cell quotes, and fail the notebook when it leaves ``[low, high]``.

    The text states the band ("about 0.8", "above 10 points"); this checks the run agrees, so prose cannot drift
    from what the notebook computed. Returns ``value`` as a float.

    Example:
        >>> claim("U-Net mIoU", 0.83, 0.80, 1.0)
        U-Net mIoU: 0.830 (text: 0.800 to 1.000) ok
        0.83
    """
    value = float(value)
    if not low <= high:
        raise ValueError(f"claim {what!r}: expected low <= high, got {low} and {high}")
    ok = low <= value <= high
    print(f"{what}: {value:{fmt}} (text: {low:{fmt}} to {high:{fmt}}) {'ok' if ok else 'DIFFERS FROM THE TEXT'}")
    if not ok:
        raise ClaimError(f"{what}: measured {value:{fmt}}, but the notebook's text says {low:{fmt}} to {high:{fmt}}")
    return value


@dataclass(frozen=True)
class RunResult:
    """Outcome of executing one notebook: wall time in seconds against its declared budget."""

    path: Path
    seconds: float
    budget_s: float | None
    error: str | None = None

    @property
    def over_budget(self) -> bool:
        return self.budget_s is not None and self.seconds > self.budget_s


def budget_of(nb: nbformat.NotebookNode) -> float | None:
    """The CPU time budget in seconds declared in ``metadata.cvlab.budget_s``, or None."""
    return nb.metadata.get("cvlab", {}).get("budget_s")


def find_notebooks(folder: Path) -> list[Path]:
    """The lecture notebooks of ``folder`` in course order (``NN_topic.ipynb`` sorts by its number)."""
    return sorted(p for p in Path(folder).glob("*.ipynb") if not p.name.startswith("."))


def execute_notebook(
    path: Path, *, timeout_s: int = 600, kernel_name: str = "python3"
) -> tuple[nbformat.NotebookNode, RunResult]:
    """Run every cell of the notebook at ``path`` in a fresh kernel, working directory = its folder.

    Returns the executed notebook and a :class:`RunResult`; an error in a cell is recorded in ``RunResult.error``
    (the cell's traceback, ANSI colours stripped) instead of raised, so a whole course run reports every notebook.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    # the kernel must draw figures inline (into the outputs), so it must not inherit a non-interactive backend
    env_backend = os.environ.pop("MPLBACKEND", None)
    resources = {"metadata": {"path": str(path.parent)}}
    client = NotebookClient(nb, timeout=timeout_s, kernel_name=kernel_name, resources=resources)
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as exc:
        error = _strip_ansi(str(exc))
    finally:
        if env_backend is not None:
            os.environ["MPLBACKEND"] = env_backend
    return nb, RunResult(path, time.perf_counter() - start, budget_of(nb), error)


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def format_table(results: list[RunResult]) -> str:
    """A plain-text table: notebook, measured seconds, budget, status."""
    lines = [f"{'notebook':<28} {'time [s]':>9} {'budget [s]':>10}  status", "-" * 60]
    for r in results:
        budget = f"{r.budget_s:>10.0f}" if r.budget_s is not None else f"{'-':>10}"
        status = "ERROR" if r.error else ("OVER BUDGET" if r.over_budget else "ok")
        lines.append(f"{r.path.name:<28} {r.seconds:>9.1f} {budget}  {status}")
    lines.append("-" * 60)
    lines.append(f"{'total':<28} {sum(r.seconds for r in results):>9.1f}")
    return "\n".join(lines)


def run_course(notebooks: list[Path], out_dir: Path) -> list[RunResult]:
    """Execute ``notebooks`` in order, print progress, and write the offline course site to ``out_dir``.

    The site (:func:`cvlab.site.build_site`) has ``out_dir/index.html`` (the lessons in this order with their
    measured times and headline figures) and ``out_dir/<name>.html`` for each notebook, readable without a network.
    """
    from cvlab.site import build_site

    executed, results = [], []
    for path in notebooks:
        print(f"running {path.name} ...", flush=True)
        nb, result = execute_notebook(path)
        executed.append((nb, result))
        results.append(result)
        if result.error:
            print(result.error, file=sys.stderr)
    build_site(executed, out_dir)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cvlab.course", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: all of notebooks/)")
    parser.add_argument("--out", type=Path, default=REPO / "build", help="folder for the course site")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or find_notebooks(REPO / "notebooks")
    if not notebooks:
        print("no notebooks found", file=sys.stderr)
        return 1
    results = run_course(notebooks, args.out)
    print()
    print(format_table(results))
    print(f"\ncourse site written to {args.out}/: open {args.out / 'index.html'} in a browser (works offline)")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
