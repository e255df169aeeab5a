"""Autograde a folder of submissions with nbgrader, in parallel workers, verify every score, write a grades CSV.

``python -m cvlab.grading autograde SUBMISSIONS --assignment A --workers N --csv grades.csv``:

1. makes sure the gradebook knows the assignment (``generate_assignment`` into ``grading/release``, leaving the
   committed ``assignments/`` alone) and collects the submissions into nbgrader's ``grading/submitted/<id>/A/``;
2. starts N worker processes; each grades one submission at a time with ``nbgrader autograde`` (fresh kernel per
   notebook, cells restored from the gradebook, per-cell timeout). Each kernel runs in a bubblewrap sandbox
   (:mod:`cvlab.grading.sandbox`: its own process tree, a read-only view of the environment, a private scratch and
   copy of the notebook's folder, no network, memory/process/CPU limits); it reads a private copy of the case
   stores (``CVLAB_GRADING_CASES``), both *withheld* (inputs only), and saves the test outputs to a
   fresh folder (``CVLAB_GRADING_HARVEST``), the only place it may write outside its scratch;
3. judges those outputs in the worker, which never runs student code (:mod:`cvlab.grading.judge`): the verified
   score of each graded cell replaces nbgrader's in the gradebook, and its verdict (which case differs and why) is
   written into the autograded notebook, so ``nbgrader generate_feedback`` and ``nbgrader export`` report them;
4. after each submission, checks that the grading files (cvlab, ``solutions/``, ``.pth`` start-up files) are
   unchanged and restores them if not (the sandbox makes them unreachable; this also covers ``--no-sandbox``);
   when a changed file is one other kernels read, the submissions graded meanwhile by other workers are graded
   again, one at a time, at the end; suspicious code is flagged for review (:mod:`cvlab.grading.lint`);
5. writes one CSV row per student: total, each graded cell, status, seconds, flags.

A submission that loops, crashes or kills its kernel costs only its own missing parts and never stops the others.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import multiprocessing
import os
import re
import shutil
import site
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import nbformat
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

import cvlab
from cvlab.grading.judge import Judge
from cvlab.grading.lint import lint_notebook
from cvlab.grading.run import HARVEST_ENV
from cvlab.grading.sandbox import SANDBOX_ENV, SandboxSpec, bwrap, python_paths
from cvlab.grading.store import CASES_ENV, PACKAGE_CASES, TIERS, store_dir, withheld_copy

_STUDENT_ID = re.compile(r"^[A-Za-z0-9_.@-]+$")
_RESTORE_LIMIT = 2 * 2**20


@dataclass
class Result:
    """The grading of one submission."""

    student: str
    scores: dict[str, float] = field(default_factory=dict)  # verified score per graded cell
    kernel_scores: dict[str, float | None] = field(default_factory=dict)  # what nbgrader's kernel gave
    problems: dict[str, str] = field(default_factory=dict)  # why a cell earned nothing
    status: str = "ok"
    seconds: float = 0.0
    flags: list[str] = field(default_factory=list)
    started: float = 0.0  # wall-clock time (time.time) the grading started and ended
    ended: float = 0.0
    tampered: tuple[float, float] | None = None  # when the guard found changed grading files: (clean since, found)

    @property
    def score(self) -> float:
        return sum(self.scores.values())


def course_config(root: str | Path, **overrides: Any) -> Config:
    """The course's ``nbgrader_config.py`` (root forced to ``root``), plus ``{"Section.trait": value}`` overrides."""
    root = Path(root).resolve()
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    for key, value in overrides.items():
        section, trait = key.rsplit(".", 1)
        setattr(config[section], trait, value)
    return config


def find_submissions(folder: str | Path, assignment: str) -> dict[str, Path]:
    """Map student id -> submitted notebook in ``folder``.

    Accepted layouts: ``<id>/<assignment>/<assignment>.ipynb`` (nbgrader's), ``<id>/<assignment>.ipynb`` and
    ``<id>.ipynb``.
    """
    folder = Path(folder)
    found: dict[str, Path] = {}
    for path in sorted(folder.glob("*")):
        candidates = [path / assignment / f"{assignment}.ipynb", path / f"{assignment}.ipynb"]
        notebook = next((c for c in candidates if c.is_file()), None) if path.is_dir() else (
            path if path.suffix == ".ipynb" else None)
        if notebook is None:
            continue
        student = path.name if path.is_dir() else path.stem
        if not _STUDENT_ID.match(student):
            raise ValueError(f"submission {path}: student ids may hold letters, digits and _.@- only")
        found[student] = notebook
    return found


def collect(submissions: dict[str, Path], submitted_dir: Path, assignment: str) -> None:
    """Copy each notebook (and a ``timestamp.txt`` beside it) to ``submitted_dir/<id>/<assignment>/``."""
    for student, notebook in submissions.items():
        target = submitted_dir / student / assignment
        if notebook.resolve() == (target / f"{assignment}.ipynb").resolve():
            continue
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.copy(notebook, target / f"{assignment}.ipynb")
        stamp = notebook.parent / "timestamp.txt"
        if stamp.is_file():
            shutil.copy(stamp, target / "timestamp.txt")


class FileGuard:
    """Remember the grading files and put back any that a submission changed, added or deleted.

    Args:
        folders: folders watched recursively (``__pycache__`` excepted).
        startup_dirs: folders whose ``*.pth``, ``sitecustomize.py`` and ``usercustomize.py`` run when Python starts
            (default: the site directories) -- a file added there would run in every later kernel.
    """

    def __init__(self, folders: list[Path], startup_dirs: list[Path] | None = None):
        self.folders = [f for f in folders if f.is_dir()]
        if startup_dirs is None:
            startup_dirs = [Path(d) for d in (*site.getsitepackages(), site.getusersitepackages())]
        self.startup_dirs = [d for d in startup_dirs if d.is_dir()]
        self.snapshot = {path: self._read(path) for path in self._files()}

    def _files(self) -> set[Path]:
        files = {p for folder in self.folders for p in folder.rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts}
        for folder in self.startup_dirs:
            files |= {p for p in (*folder.glob("*.pth"), folder / "sitecustomize.py", folder / "usercustomize.py")
                      if p.is_file()}
        return files

    @staticmethod
    def _read(path: Path) -> tuple[str, bytes | None]:
        data = path.read_bytes()
        return hashlib.sha256(data).hexdigest(), data if len(data) <= _RESTORE_LIMIT else None

    def restore(self) -> dict[Path, str]:
        """Undo the changes made since the snapshot; return ``{path: what happened}``."""
        changes = {}
        for path in sorted(self._files() - set(self.snapshot)):
            path.unlink(missing_ok=True)
            changes[path] = "added (removed)"
        for path, (digest, data) in self.snapshot.items():
            now = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
            if now == digest:
                continue
            if data is None:
                changes[path] = "changed (too large to restore: restore it from git)"
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            changes[path] = f"{'changed' if now else 'deleted'} (restored)"
        return changes


@dataclass
class Setup:
    """What every worker needs, read and verified by the parent before any student code runs."""

    root: Path
    assignment: str
    overrides: dict[str, Any]
    judge: Judge
    cases: dict[str, bytes]  # "<tier>/<assignment>/<file>" -> bytes: the private copy each kernel reads
    guard: FileGuard
    known: set[str]  # sources of the source notebook's cells (not linted)
    sandbox: bool = True  # run each kernel in the bubblewrap sandbox (cvlab.grading.sandbox)


def _case_files(root: Path, assignment: str) -> dict[str, bytes]:
    """The kernels' copy of the case stores, both tiers withheld (inputs only): no kernel holds an expectation."""
    files = {}
    with tempfile.TemporaryDirectory(prefix="cvlab-withheld-") as withheld:
        for tier in TIERS:
            withheld_copy(store_dir(assignment, tier, root), Path(withheld, tier))
            files |= {f"{tier}/{assignment}/{p.relative_to(Path(withheld, tier))}": p.read_bytes()
                      for p in Path(withheld, tier).rglob("*") if p.is_file()}
    return files


_worker: dict[str, Any] = {}


def _tools_on_path() -> None:
    """nbgrader runs ``alembic`` (and kernels) from PATH: make this interpreter's scripts folder come first."""
    scripts = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != scripts:
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def _init_worker(setup: Setup) -> None:
    """Set up a worker process (spawned fresh: it never runs student code; kernels are separate processes)."""
    from nbgrader.apps import NbGraderAPI

    _tools_on_path()
    # the kernels inherit it: figures are drawn into memory and never encoded as PNG outputs (grading time;
    # the autograded and feedback notebooks carry no pictures)
    os.environ["MPLBACKEND"] = "Agg"
    warnings.filterwarnings("ignore", module="nbgrader")  # its own SQLAlchemy warnings when it adds submissions
    overrides = dict(setup.overrides)
    if setup.sandbox:
        overrides["Execute.kernel_manager_class"] = "cvlab.grading.sandbox.SandboxKernelManager"
    api = NbGraderAPI(config=course_config(setup.root, **overrides))
    api.log.setLevel("ERROR")
    # what every sandbox reads: the same for all the submissions this worker grades
    _worker.update(setup=setup, api=api, clean_since=time.time(), readonly=python_paths(setup.root))


def _kernel_scores(student: str) -> dict[str, float | None]:
    from nbgrader.api import Gradebook, MissingEntry

    api, assignment = _worker["api"], _worker["setup"].assignment
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        try:
            notebook = gradebook.find_submission_notebook(assignment, assignment, student)
        except MissingEntry:
            return {}
        return {grade.name: grade.auto_score for grade in notebook.grades}


def _grade_one(student: str) -> Result:
    """Autograde one submission with nbgrader, then verify it (runs in a worker)."""
    setup, api = _worker["setup"], _worker["api"]
    result = Result(student, started=time.time())
    work = Path(tempfile.mkdtemp(prefix="cvlab-grade-"))
    for name, data in setup.cases.items():
        (work / "cases" / name).parent.mkdir(parents=True, exist_ok=True)
        (work / "cases" / name).write_bytes(data)
    (work / "outputs").mkdir()
    (work / "sandbox").mkdir()
    os.environ[CASES_ENV] = str(work / "cases")
    os.environ[HARVEST_ENV] = str(work / "outputs")
    package_cases = PACKAGE_CASES / setup.assignment  # the visible expectations cvlab ships: hidden while grading
    masks = [(str(work / "cases" / "visible" / setup.assignment), str(package_cases))] if package_cases.is_dir() \
        else []
    os.environ[SANDBOX_ENV] = SandboxSpec(str(work / "sandbox"), [*_worker["readonly"], str(work / "cases")],
                                          [str(work / "outputs")], masks=masks).to_env()
    try:
        outcome = api.autograde(setup.assignment, student, force=True, create=True)
        if not outcome.get("success"):
            tail = [line for line in str(outcome.get("log", "") or outcome.get("error", "")).splitlines()
                    if "Error" in line or "died" in line.lower()]
            result.status = "nbgrader error: " + (tail[-1].strip()[:200] if tail else "see nbgrader's log")
        verdicts = setup.judge.verdicts(work / "outputs")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.ended = time.time()
    result.seconds = result.ended - result.started
    result.scores = {v.cell_id: v.score for v in verdicts}
    result.problems = {v.cell_id: v.problem for v in verdicts if v.problem}
    result.kernel_scores = _kernel_scores(student)
    # The kernel's cases are withheld, so its test cells pass whatever runs; a verified score above the kernel's
    # means results were saved by something other than the test cells.
    above = [f"{cell} (kernel {result.kernel_scores.get(cell)}, verified {score:g})"
             for cell, score in result.scores.items() if score > (result.kernel_scores.get(cell) or 0)]
    if above:
        result.flags.append("verified score above the kernel's: " + ", ".join(above))
    autograded = api.coursedir.format_path(api.coursedir.autograded_directory, student, setup.assignment)
    with contextlib.suppress(OSError, ValueError):
        explain_verdicts(Path(autograded) / f"{setup.assignment}.ipynb", verdicts)
    submitted = api.coursedir.format_path(api.coursedir.submitted_directory, student, setup.assignment)
    with contextlib.suppress(Exception):
        notebook = nbformat.read(Path(submitted) / f"{setup.assignment}.ipynb", as_version=4)
        result.flags += lint_notebook(notebook, setup.known)
    changes = setup.guard.restore()
    if any(not _private(path, setup.root) for path in changes):
        result.tampered = (_worker["clean_since"], time.time())
    if changes:
        listed = "; ".join(f"{path} {what}" for path, what in list(changes.items())[:3])
        more = f" and {len(changes) - 3} more" if len(changes) > 3 else ""
        result.flags.append(f"grading files modified while grading: {listed}{more}")
    _worker["clean_since"] = time.time()
    return result


def explain_verdicts(notebook: Path, verdicts: list[Any]) -> None:
    """Append each graded cell's verified verdict to its outputs in the autograded notebook, so that
    ``nbgrader generate_feedback`` shows the student (and the TA) which case differs and why."""
    nb = nbformat.read(notebook, as_version=4)
    by_cell = {v.cell_id: v for v in verdicts}
    for cell in nb.cells:
        verdict = by_cell.get(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"))
        if verdict is None or cell.cell_type != "code":
            continue
        text = (f"Verified outside the notebook: {verdict.score:g} of {verdict.max_score:g} point(s)"
                + (f" -- {verdict.problem}" if verdict.problem else " -- every case passes") + "\n")
        cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
        if verdict.picture is not None:
            cell.outputs.append(nbformat.v4.new_output(
                "display_data", data={"image/png": base64.b64encode(verdict.picture).decode("ascii")}))
    nbformat.write(nb, notebook)


def _pool_round(students: list[str], workers: int, grade: Any, initializer: Any, initargs: tuple, failed: Any,
                log: Any) -> tuple[list[Any], list[str]]:
    """Grade ``students`` in one pool; return the results and the students whose worker died under them."""
    results, lost = [], []
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=get_context("spawn"),
                             initializer=initializer, initargs=initargs) as pool:
        futures = {pool.submit(grade, student): student for student in students}
        for future in as_completed(futures):
            student = futures[future]
            try:
                result = future.result()
            except BrokenProcessPool:
                lost.append(student)
                continue
            except Exception as error:  # a failure of the grader itself, reported on this submission
                result = failed(student, f"grader error: {type(error).__name__}: {error}")
            results.append(result)
            log(result)
    return results, sorted(lost)


def grade_resilient(students: list[str], workers: int, grade: Any, *, initializer: Any = None,
                    initargs: tuple = (), failed: Any, log: Any = print) -> list[Any]:
    """``grade(student)`` for every student in spawned worker processes; a worker that dies costs only its own.

    When a worker process dies (a submission killed it, or it ran out of memory), the pool breaks and every
    submission in flight loses its worker. Those are graded again one at a time, each in a fresh pool of its own:
    the one whose worker dies again is reported with ``failed(student, why)``; the others are graded as usual.
    """
    results, lost = _pool_round(students, workers, grade, initializer, initargs, failed, log)
    for student in lost:
        alone, again = _pool_round([student], 1, grade, initializer, initargs, failed, log)
        results += alone
        if again:
            results.append(failed(student, "the grading worker died while grading this submission (its code killed "
                                           "the worker, or exhausted the memory)"))
            log(results[-1])
    return results


def _grade_all(setup: Setup, students: list[str], workers: int, log: Any) -> list[Result]:
    def failed(student: str, why: str) -> Result:
        result = Result(student, status=why)
        result.scores = {cell.cell_id: 0.0 for cell in setup.judge.cells}
        return result  # ``status`` says why, once (not repeated per cell in the CSV's reasons)

    def report(result: Result) -> None:
        log(f"{result.student}: {result.score:g}/{setup.judge.max_score:g} in {result.seconds:.1f} s"
            + ("" if result.status == "ok" else f" [{result.status}]")
            + (f" [{len(result.flags)} flag(s)]" if result.flags else ""))

    return grade_resilient(students, workers, _grade_one, initializer=_init_worker, initargs=(setup,),
                           failed=failed, log=report)


def _private(path: Path, root: Path) -> bool:
    """Whether no kernel reads ``path``: the source notebooks and case stores (kernels read private copies)."""
    if not path.is_relative_to(root / "solutions"):
        return False
    return path.suffix == ".ipynb" or path.name == "cases.py" or "cases" in path.relative_to(root / "solutions").parts


def _overlapping(results: list[Result]) -> list[str]:
    """Students graded while some submission was changing the grading files (that one included)."""
    windows = [r.tampered for r in results if r.tampered]
    return sorted(r.student for r in results
                  if any(r.started < end and r.ended > begin for begin, end in windows))


def record_scores(config: Config, assignment: str, results: list[Result]) -> None:
    """Write the verified cell scores into the gradebook (they replace the kernel's autograde scores)."""
    from nbgrader.api import Gradebook

    db_url, course = config.CourseDirectory.db_url, config.CourseDirectory.course_id
    with Gradebook(db_url, course) as gradebook, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy warnings when it creates submissions
        for result in results:
            gradebook.update_or_create_student(result.student)
            gradebook.update_or_create_submission(assignment, result.student)
            for cell, score in result.scores.items():
                grade = gradebook.find_grade(cell, assignment, assignment, result.student)
                grade.auto_score = score
                grade.needs_manual_grade = grade.manual_score is not None
            gradebook.db.commit()


def write_csv(path: str | Path, results: list[Result], cells: list[str], max_score: float) -> None:
    """One row per student: id, score, max_score, each graded cell, status, seconds, flags, and the reasons --
    for each cell that earned nothing, which case failed and why (what the TA answers "why did I lose points?"
    with)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "score", "max_score", *cells, "status", "seconds", "flags", "reasons"])
        for r in sorted(results, key=lambda r: r.student):
            reasons = " | ".join(f"{cell}: {r.problems[cell]}" for cell in cells if r.problems.get(cell))
            writer.writerow([r.student, f"{r.score:g}", f"{max_score:g}", *(f"{r.scores.get(c, 0):g}" for c in cells),
                             r.status, f"{r.seconds:.1f}", " | ".join(r.flags), reasons])


def ensure_assignment(config: Config, assignment: str) -> None:
    """Record the assignment's source cells in the gradebook (``generate_assignment`` into ``grading/release``)."""
    from nbgrader.apps import NbGraderAPI

    release = Config(config)
    release.CourseDirectory.release_directory = os.path.join("grading", "release")
    outcome = NbGraderAPI(config=release).generate_assignment(assignment, force=True, create=True)
    if not outcome.get("success"):
        raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n{outcome.get('log', '')}")


def autograde(submissions: str | Path, assignment: str, *, root: str | Path = ".", workers: int = 1,
              csv_path: str | Path | None = None, overrides: dict[str, Any] | None = None,
              watch: list[Path] | None = None, startup_dirs: list[Path] | None = None,
              sandbox: bool = True, log: Any = print) -> list[Result]:
    """Autograde every submission in ``submissions`` (see :func:`find_submissions`) and return the results.

    Args:
        submissions: folder of submissions.
        assignment: the assignment's name (``solutions/<assignment>/<assignment>.ipynb``).
        root: the course root (where ``nbgrader_config.py`` is).
        workers: number of submissions graded at the same time (one kernel each).
        csv_path: where to write the grades CSV (None: do not write one).
        overrides: extra nbgrader settings, e.g. ``{"Execute.timeout": 30}``.
        watch: folders restored after each submission if it changed them (default: the cvlab package and the
            course's ``solutions/``).
        startup_dirs: folders whose start-up files (``.pth``...) are guarded too (default: the site directories).
        sandbox: run every kernel in the bubblewrap sandbox (:mod:`cvlab.grading.sandbox`); without ``bwrap``
            this raises :class:`~cvlab.grading.sandbox.SandboxUnavailable` saying how to install it. ``False`` (the
            command line's ``--no-sandbox``) is for trusted runs only.
        log: called with one progress line per submission.

    Workers are spawned processes, which re-import the calling script: call ``autograde`` from a script only under
    ``if __name__ == "__main__":`` (the command line does).
    """
    if multiprocessing.current_process().name.startswith("SpawnProcess"):
        raise RuntimeError("autograde() was called while a grading worker started: the script that calls it must do "
                           "so under `if __name__ == \"__main__\":`, since workers re-import it")
    root = Path(root).resolve()
    if sandbox:
        bwrap()
    _tools_on_path()
    overrides = dict(overrides or {})
    config = course_config(root, **overrides)
    found = find_submissions(submissions, assignment)
    if not found:
        raise FileNotFoundError(f"no submissions of {assignment} in {submissions}")
    source = nbformat.read(root / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    setup = Setup(root, assignment, overrides, Judge(root, assignment), _case_files(root, assignment),
                  FileGuard(watch if watch is not None else [Path(cvlab.__file__).parent, root / "solutions"],
                            startup_dirs),
                  {cell.source.strip() for cell in source.cells}, sandbox)
    ensure_assignment(config, assignment)
    collect(found, root / config.CourseDirectory.submitted_directory, assignment)
    results = {r.student: r for r in _grade_all(setup, sorted(found), workers, log)}
    again = _overlapping(list(results.values()))
    if again and workers > 1:
        log(f"grading files were modified while grading; grading {len(again)} submission(s) again, one at a time")
        for result in _grade_all(setup, again, 1, log):
            result.flags += [f for f in results[result.student].flags if f.startswith("grading files")]
            results[result.student] = result
    ordered = sorted(results.values(), key=lambda r: r.student)
    record_scores(config, assignment, ordered)
    if csv_path is not None:
        write_csv(csv_path, ordered, [cell.cell_id for cell in setup.judge.cells], setup.judge.max_score)
    return ordered
