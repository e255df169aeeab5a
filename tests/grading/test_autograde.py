"""The autograde command's helpers: finding submissions, guarding files, flagging code, the CSV, the feedback."""

import csv

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from cvlab.course import REPO
from cvlab.grading.autograde import (
    FileGuard,
    Result,
    _overlapping,
    _private,
    collect,
    course_config,
    find_submissions,
    grade_resilient,
    write_csv,
)
from cvlab.grading.feedback import HideHiddenTests
from cvlab.grading.lint import lint_notebook

A0 = "a0_dense_outputs"


def test_submission_layouts(tmp_path):
    nb = nbformat.writes(new_notebook())
    (tmp_path / "alice" / A0).mkdir(parents=True)
    (tmp_path / "alice" / A0 / f"{A0}.ipynb").write_text(nb)
    (tmp_path / "alice" / A0 / "timestamp.txt").write_text("2026-01-10 12:00:00")
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / f"{A0}.ipynb").write_text(nb)
    (tmp_path / "carol.ipynb").write_text(nb)
    (tmp_path / "notes.txt").write_text("")
    found = find_submissions(tmp_path, A0)
    assert sorted(found) == ["alice", "bob", "carol"]
    collect(found, tmp_path / "submitted", A0)
    assert (tmp_path / "submitted" / "carol" / A0 / f"{A0}.ipynb").is_file()
    assert (tmp_path / "submitted" / "alice" / A0 / "timestamp.txt").is_file()
    (tmp_path / "bad id.ipynb").write_text(nb)
    with pytest.raises(ValueError, match="student ids"):
        find_submissions(tmp_path, A0)


def test_file_guard_restores_changed_deleted_and_added_files(tmp_path):
    package, site = tmp_path / "package", tmp_path / "site"
    (package / "sub").mkdir(parents=True)
    site.mkdir()
    (package / "check.py").write_text("real checker")
    (package / "sub" / "cases.pt").write_bytes(b"\x00\x01")
    guard = FileGuard([package], [site])
    assert guard.restore() == {}
    (package / "check.py").write_text("def check(*a): pass")
    (package / "sub" / "cases.pt").unlink()
    (package / "evil.py").write_text("")
    (site / "zz_evil.pth").write_text("import os")
    changes = guard.restore()
    assert changes[package / "check.py"] == "changed (restored)" and changes[site / "zz_evil.pth"] == "added (removed)"
    assert len(changes) == 4 and (package / "check.py").read_text() == "real checker"
    assert (package / "sub" / "cases.pt").read_bytes() == b"\x00\x01"
    assert not (package / "evil.py").exists() and not (site / "zz_evil.pth").exists()


def test_concurrent_submissions_are_graded_again_only_when_shared_files_changed(tmp_path):
    assert _private(tmp_path / "solutions" / "a0" / "cases" / "x" / "0.pt", tmp_path)
    assert _private(tmp_path / "solutions" / "a0" / "a0.ipynb", tmp_path)
    assert not _private(tmp_path / "solutions" / "a0" / "image.png", tmp_path)
    assert not _private(tmp_path / "cvlab" / "grading" / "run.py", tmp_path)
    results = [Result("a", started=0, ended=10, tampered=(0, 10)), Result("b", started=5, ended=20),
               Result("c", started=12, ended=30), Result("d", started=0, ended=4)]
    assert _overlapping(results) == ["a", "b", "d"]
    assert _overlapping(results[1:]) == []


def test_lint_flags_tampering_but_not_the_released_cells():
    source = "import torch\ntorch.allclose = lambda *a, **k: True\nget_ipython().events.register('x', print)"
    nb = new_notebook(cells=[
        new_code_cell("import importlib.util, subprocess"),
        new_code_cell(source, metadata={"nbgrader": {"grade_id": "one_hot", "solution": True}}),
        new_code_cell("import os\nos._exit(0)", metadata={"nbgrader": {"locked": True}}),
        new_code_cell("%timeit 1"),
    ])
    flags = lint_notebook(nb, known={"import importlib.util, subprocess"})
    assert flags == ["one_hot line 2: assigns torch.allclose",
                     "one_hot line 3: uses get_ipython (talks to the notebook kernel)"]


def test_csv_has_one_row_per_student(tmp_path):
    results = [Result("bob", {"t1": 1.0, "t2": 0.0}, status="ok", seconds=3.21, flags=["x", "y"]),
               Result("alice", {"t1": 1.0, "t2": 2.0})]
    write_csv(tmp_path / "grades.csv", results, ["t1", "t2"], 3)
    rows = list(csv.DictReader(open(tmp_path / "grades.csv")))
    assert [r["student_id"] for r in rows] == ["alice", "bob"]
    assert rows[0]["score"] == "3" and rows[1]["t2"] == "0" and rows[1]["flags"] == "x | y"


def test_csv_says_why_each_cell_lost_its_points(tmp_path):
    bob = Result("bob", {"t1": 1.0, "t2": 0.0}, problems={"t2": "t, hidden case 2 of 3 (float64): wrong dtype"})
    write_csv(tmp_path / "grades.csv", [bob], ["t1", "t2"], 3)
    (row,) = csv.DictReader(open(tmp_path / "grades.csv"))
    assert row["reasons"] == "t2: t, hidden case 2 of 3 (float64): wrong dtype"


def _toy_grade(student):
    """A worker's job: 'killer' kills its own worker process, as a submission's os.kill(os.getppid(), 9) does."""
    import os
    import signal
    import time

    if student == "killer":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.2)
    return (student, "graded")


def test_a_killed_worker_costs_only_its_own_submission():
    students = ["ann", "bea", "killer", "dan", "eve"]
    results = grade_resilient(students, 2, _toy_grade, failed=lambda s, why: (s, why), log=lambda r: None)
    by_student = dict(results)
    assert sorted(by_student) == sorted(students) and len(results) == len(students)
    assert all(by_student[s] == "graded" for s in students if s != "killer")
    assert "worker died while grading this submission" in by_student["killer"]


def test_course_config_points_nbgrader_at_the_repository_layout():
    config = course_config(REPO, **{"Execute.timeout": 7})
    assert config.CourseDirectory.source_directory == "solutions"
    assert config.CourseDirectory.release_directory == "assignments"
    assert config.CourseDirectory.submitted_directory.startswith("grading")
    assert config.OverwriteCells.add_missing_cells is True
    assert config.Execute.timeout == 7
    assert "cases" in config.CourseDirectory.ignore and "cases.py" in config.CourseDirectory.ignore


def test_feedback_hides_hidden_tests_and_their_tracebacks():
    cell = new_code_cell("# Hidden tests (2 points)\n### BEGIN HIDDEN TESTS\nrun_tests('a', 't', f, tier='hidden')\n"
                         "### END HIDDEN TESTS",
                         metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": "h", "points": 2}})
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="t, hidden case 1: wrong shape",
                                           traceback=["Traceback...", "run_tests('a', 't', f, tier='hidden')"])]
    cell, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert "hidden" not in cell.source.replace("Hidden tests", "")
    assert cell.outputs[0]["traceback"] == ["AssertionError: t, hidden case 1: wrong shape"]


def test_lint_flags_reaching_the_graders_internals_and_the_operator_guard():
    source = ("from cvlab.grading.store import CaseStore\nimport cvlab.grading.run as runner\n"
              "from torch.utils._python_dispatch import _pop_mode\nimport _thread\n")
    flags = lint_notebook(new_notebook(cells=[new_code_cell(source)]))
    assert "cell 0 line 1: imports cvlab.grading.store (the grader's internals)" in flags
    assert "cell 0 line 2: imports cvlab.grading.run (the grader's internals)" in flags
    assert any("_pop_mode" in f for f in flags) and any("_thread" in f for f in flags)
    assert lint_notebook(new_notebook(cells=[new_code_cell("from cvlab.grading import run_tests")])) == []
