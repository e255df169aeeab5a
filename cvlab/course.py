"""Execute the course notebooks headless and report their time against each notebook's budget.

Every notebook declares its CPU budget in its metadata, ``{"cvlab": {"budget_s": 180}}``. The main job of the
course (``make course``) runs ``python -m cvlab.course``: it executes every notebook under ``notebooks/`` in order,
writes the offline course site of the executed notebooks to ``build/`` (:mod:`cvlab.site`; open
``build/index.html``), and prints a table of measured time vs budget. The test suite uses the same
:func:`execute_notebook`.

Every notebook starts with the same two cells, its title and :data:`SETUP_CELL`; ``python -m cvlab.course
sync-setup`` rewrites them (and the README's "Open in Colab" table) after a notebook is added or the cell changes.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent

STUDENT_REPO = "cvlab-course/cvlab-student"
"""The student edition's GitHub repository (owner/name), the one place naming it: the setup cell installs cvlab from
it and the "Open in Colab" links point into it. It is written by ``python -m cvlab.edition`` and holds no solution
and no hidden case; this repository (solutions/, hidden cases) stays with the instructors. Changing it: edit this
line, run ``python -m cvlab.course sync-setup``, regenerate assignments/ (docs/instructor.md, "Two repositories")."""

STUDENT_REPO_URL = f"https://github.com/{STUDENT_REPO}"


def colab_url(path: str, branch: str = "main") -> str:
    """The "Open in Colab" address of ``path`` (relative to the repository root) in the student edition."""
    return f"https://colab.research.google.com/github/{STUDENT_REPO}/blob/{branch}/{path}"


SETUP_MARK = "# Setup"
"""How the setup cell's first line starts: the first code cell of a notebook that starts so is its setup cell."""

SETUP_CELL = f"""\
{SETUP_MARK} (the same in every notebook): installs cvlab from the student edition when it is missing,
# enables Colab's widget manager (on Colab only) and picks the device (CVLAB_DEVICE=cpu forces the CPU).
import importlib.util, subprocess, sys
if importlib.util.find_spec("cvlab") is None:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                           "git+{STUDENT_REPO_URL}.git"])
    importlib.invalidate_caches()
if "google.colab" in sys.modules:
    from google.colab import output
    output.enable_custom_widget_manager()
from cvlab import get_device, seed_everything
device = get_device()
seed_everything(0)"""
"""The code cell every notebook and assignment runs second, verbatim, right after its title (a test checks it)."""


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


def course_notebooks(root: Path = REPO) -> list[Path]:
    """Every notebook of the course under ``root``: the lectures in course order, then each assignment's source
    (``solutions/<a>/<a>.ipynb``) and release (``assignments/<a>/<a>.ipynb``)."""
    root = Path(root)
    assignments = [p for folder in ("solutions", "assignments") for p in sorted((root / folder).glob("*/*.ipynb"))
                   if p.stem == p.parent.name]
    return find_notebooks(root / "notebooks") + assignments


def example_submissions(root: Path = REPO) -> list[Path]:
    """The example student submissions of the grading tests and walkthrough (``tests/grading/submissions/<a>/``)."""
    return sorted((Path(root) / "tests" / "grading" / "submissions").glob("*/*.ipynb"))


def title_of(nb: nbformat.NotebookNode) -> str:
    """The notebook's title: its first markdown cell's first line, a level-1 heading (``# 00 — A tour``).

    Raises:
        ValueError: the first markdown cell does not start with one (or there is none).
    """
    first = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    line = first.source.lstrip("\n").split("\n", 1)[0] if first is not None else ""
    if not line.startswith("# "):
        raise ValueError(f"expected the first markdown cell to start with a '# ' title, got {line[:60]!r}")
    return line[2:].strip()


def with_title_and_setup(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` in the canonical form: a markdown cell holding only its title, then :data:`SETUP_CELL`.

    The title is the first line of the first markdown cell (the rest of that cell stays where it was, as its own
    cell); the setup cell is the first code cell when it starts with :data:`SETUP_MARK` (its source is replaced),
    else a new one. Every other cell keeps its order, id and metadata. Idempotent.
    """
    nb = copy.deepcopy(nb)
    cells = list(nb.cells)
    title = title_of(nb)
    first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), None)
    if first_code is not None and cells[first_code].source.lstrip().startswith(SETUP_MARK):
        setup = cells.pop(first_code)
        setup.source = SETUP_CELL
    else:
        setup = _new_cell(nbformat.v4.new_code_cell, SETUP_CELL, "setup", cells)
    index = next(i for i, c in enumerate(cells) if c.cell_type == "markdown")
    rest = cells[index].source.lstrip("\n").split("\n", 1)[1:]
    rest = rest[0].strip("\n") if rest else ""
    if rest:
        cells[index].source = rest
        head = _new_cell(nbformat.v4.new_markdown_cell, f"# {title}", "title", cells)
    else:
        head = cells.pop(index)
        head.source = f"# {title}"
    nb.cells = [head, setup, *cells]
    return nb


def _new_cell(make, source: str, cell_id: str, cells: list) -> nbformat.NotebookNode:
    """A new cell with the fixed ``cell_id`` (so a rewrite is reproducible), which no cell of ``cells`` may hold."""
    if any(c.get("id") == cell_id for c in cells):
        raise ValueError(f"a cell already has the id {cell_id!r}; rename it before rewriting the first cells")
    return make(source, id=cell_id)


COLAB_BEGIN = "<!-- colab-links: written by `python -m cvlab.course sync-setup` from cvlab/course.py; do not edit -->"
COLAB_END = "<!-- /colab-links -->"


def colab_table(root: Path = REPO) -> str:
    """A markdown table of every lecture notebook and assignment release under ``root`` with its Colab link."""
    rows = ["| notebook | title | Colab |", "|---|---|---|"]
    for path in course_notebooks(root):
        relative = path.relative_to(root).as_posix()
        if not relative.startswith("solutions/"):
            title = title_of(nbformat.read(path, as_version=4)).replace("|", "\\|")
            rows.append(f"| `{relative}` | {title} | [Open in Colab]({colab_url(relative)}) |")
    return "\n".join(rows)


def with_colab_table(text: str, table: str) -> str:
    """``text`` with the part between :data:`COLAB_BEGIN` and :data:`COLAB_END` replaced by ``table``."""
    begin, end = text.find(COLAB_BEGIN), text.find(COLAB_END)
    if begin < 0 or end < begin:
        raise ValueError(f"expected the markers {COLAB_BEGIN!r} and {COLAB_END!r}, in this order")
    return f"{text[:begin + len(COLAB_BEGIN)]}\n{table}\n{text[end:]}"


def sync_setup(root: Path = REPO, *, check: bool = False) -> list[Path]:
    """Bring every notebook under ``root`` to the canonical first cells and the README's Colab table up to date.

    Run it after adding a notebook or an assignment, merging branches, or changing :data:`SETUP_CELL` or
    :data:`STUDENT_REPO`; then regenerate assignments/ with nbgrader (docs/instructor.md). The example submissions
    (:func:`example_submissions`) are rewritten too: they stand for students' copies of the current release. With
    ``check`` nothing is written. Returns the files that changed (or would change).
    """
    root = Path(root)
    changed = []
    for path in course_notebooks(root) + example_submissions(root):
        nb = nbformat.read(path, as_version=4)
        try:
            canonical = with_title_and_setup(nb)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        if canonical != nb:
            changed.append(path)
            if not check:
                nbformat.write(canonical, path)
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    updated = with_colab_table(text, colab_table(root))
    if updated != text:
        changed.append(readme)
        if not check:
            readme.write_text(updated, encoding="utf-8")
    return changed


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


def sync_main(argv: list[str]) -> int:
    """``python -m cvlab.course sync-setup [--check]``: see :func:`sync_setup`."""
    parser = argparse.ArgumentParser(prog="python -m cvlab.course sync-setup",
                                     description=sync_setup.__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is out of date")
    args = parser.parse_args(argv)
    changed = sync_setup(check=args.check)
    for path in changed:
        print(f"{'out of date' if args.check else 'rewrote'}: {path.relative_to(REPO)}")
    if not changed:
        print("every notebook starts with its title and the setup cell; the README's Colab table is up to date")
    elif not args.check:
        print("now regenerate the releases: nbgrader generate_assignment <a> --force, for each assignment")
    return 1 if changed and args.check else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sync-setup"]:
        return sync_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m cvlab.course", description=__doc__.splitlines()[0],
                                     epilog="python -m cvlab.course sync-setup [--check]: rewrite the notebooks' "
                                            "first cells and the README's Colab table")
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
