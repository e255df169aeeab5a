"""End to end with the real nbgrader, in a temporary copy of the course: the solution scores full marks, the
untouched release 0, wrong and hostile submissions earn nothing they did not earn, and no submission disturbs the
grading of another. One autograde run grades them all (2 workers), so CI pays for the kernels once.
"""

import csv
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from cvlab.course import REPO
from cvlab.grading.autograde import autograde
from cvlab.grading.store import fingerprint
from tests.grading.a0_submissions import A0, CELLS, EXAMPLES, EXPECTED, RELEASE, SUBMISSIONS

pytestmark = [pytest.mark.nbgrader,
              pytest.mark.skipif(shutil.which("bwrap") is None,
                                 reason="autograde runs kernels in bubblewrap: apt-get install bubblewrap")]


def _copy_course(folder):
    folder.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", folder)
    shutil.copytree(REPO / "solutions", folder / "solutions", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Autograde every submission of a0_submissions in one run; return (course root, results, log lines)."""
    root = _copy_course(tmp_path_factory.mktemp("course") / "course")
    incoming = root / "incoming"
    incoming.mkdir()
    for name, make in SUBMISSIONS.items():
        nbformat.write(make(), incoming / f"{name}.ipynb")
    store = {p.relative_to(root): fingerprint(p.read_bytes().hex()) for p in (root / "solutions").rglob("*")
             if p.is_file()}
    saved = os.environ.get("CVLAB_GRADING_TIMEOUT_S")
    os.environ["CVLAB_GRADING_TIMEOUT_S"] = "3"  # the looping function is stopped after 3 s per case
    lines = []
    try:
        results = autograde(incoming, A0, root=root, workers=2, csv_path=root / "grades.csv",
                            overrides={"Execute.timeout": 30}, watch=[root / "solutions"], startup_dirs=[],
                            log=lines.append)
    finally:
        if saved is None:
            os.environ.pop("CVLAB_GRADING_TIMEOUT_S", None)
        else:
            os.environ["CVLAB_GRADING_TIMEOUT_S"] = saved
    print("\n".join(lines))  # the autograde log, with the time each submission took (pytest -s shows it)
    return root, {r.student: r for r in results}, lines, store


@pytest.mark.parametrize("student", list(EXPECTED))
def test_verified_scores(graded, student):
    _, results, _, _ = graded
    result = results[student]
    assert result.scores == EXPECTED[student], (result.problems, result.status, result.flags)


def test_no_kernel_holds_an_expectation_and_every_verdict_reaches_the_notebook(graded):
    """The kernels' cases are withheld: a test cell passes there whenever the code runs (honest or not), the verdict
    is made outside and written under each graded cell of the autograded notebook, for the feedback."""
    root, results, _, _ = graded
    for student in ("solution", "blank", "alice", "bob", "carol", "patch_torch", "steal_expected"):
        result = results[student]
        assert all((result.kernel_scores.get(cell) or 0) >= score for cell, score in result.scores.items()), student
        assert not [f for f in result.flags if "above the kernel" in f], result.flags
        nb = nbformat.read(root / "grading" / "autograded" / student / A0 / f"{A0}.ipynb", as_version=4)
        for cell in nb.cells:
            cell_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell_id in CELLS:
                text = "".join(o.get("text", "") for o in cell.outputs)
                assert f"Verified outside the notebook: {EXPECTED[student][cell_id]:g} of {CELLS[cell_id]:g}" in \
                    text, (student, cell_id, text)
    assert sum(results["blank"].kernel_scores.values() or [0]) == 0  # a blank function raises: nothing to pass


def test_hostile_kernels_earn_what_their_code_earns_and_are_flagged(graded):
    _, results, _, _ = graded
    for student in ("patch_torch", "patch_checker", "blank_later_cells", "steal_expected", "copy_others"):
        assert results[student].score == sum(EXPECTED[student].values()), student
    assert any("assigns torch.allclose" in f for f in results["patch_torch"].flags)
    assert any("get_ipython" in f for f in results["blank_later_cells"].flags)
    assert any("cvlab.grading" in f for f in results["steal_expected"].flags), results["steal_expected"].flags


def test_a_dead_kernel_or_a_loop_costs_only_its_part(graded):
    _, results, _, _ = graded
    assert results["exit"].status.startswith("nbgrader error") and results["exit"].score == 3
    assert results["loops"].status == "ok" and results["loops"].score == 12
    assert "did not finish within 3 s" in results["loops"].problems["test_from_one_hot"]
    assert "changed its input `target` in place" in results["cells"].problems["test_confusion_matrix"]
    assert "on meta" in results["cells"].problems["test_iou_per_class"]


def test_nothing_outside_the_sandbox_was_reached(graded):
    """The course files, cvlab and nbgrader are unchanged (unreachable, not merely restored), no process of a
    submission outlived it, and a kernel's kill, fork bomb or memory hog cost nobody else anything."""
    root, results, _, store = graded
    now = {p.relative_to(root): fingerprint(p.read_bytes().hex()) for p in (root / "solutions").rglob("*")
           if p.is_file()}
    assert now == store
    for student in ("files", "copy_others"):
        assert not [f for f in results[student].flags if "modified" in f], results[student].flags
    survivors = subprocess.run(["pgrep", "-f", "cvlab-redteam-outlive"], capture_output=True, text=True).stdout
    assert not survivors.strip(), f"processes of the 'outlive' submission are still running: {survivors}"
    for student in ("kill_everyone", "fork_bomb"):
        assert results[student].status == "ok", (student, results[student].status)
    bomb = nbformat.read(root / "grading" / "autograded" / "fork_bomb" / A0 / f"{A0}.ipynb", as_version=4)
    refused = re.search(r"fork refused after (\d+) children", str([c.outputs for c in bomb.cells if "outputs" in c]))
    assert refused and int(refused.group(1)) < 300, "the fork bomb was not bounded by the process limit"


def test_gradebook_csv_and_export_hold_the_verified_scores(graded):
    from nbgrader.api import Gradebook

    root, results, lines, _ = graded
    assert len([line for line in lines if " in " in line]) >= len(SUBMISSIONS)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "cvlab") as gradebook:
        for student, result in results.items():
            submission = gradebook.find_submission(A0, student)
            assert submission.score == result.score == sum(EXPECTED[student].values()), student
    rows = {row["student_id"]: row for row in csv.DictReader(open(root / "grades.csv"))}
    assert set(rows) == set(SUBMISSIONS) and rows["bob"]["score"] == "7" and rows["bob"]["max_score"] == "14"
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    subprocess.run(["nbgrader", "export", "--to", "export.csv"], cwd=root, env=env, check=True,
                   capture_output=True)
    exported = {row["student_id"]: float(row["score"]) for row in csv.DictReader(open(root / "export.csv"))}
    assert exported == {s: float(sum(e.values())) for s, e in EXPECTED.items()}


def test_graded_cells_are_silent_on_stderr_and_failures_draw_a_heatmap(graded):
    root = graded[0]
    for student in ("solution", "blank", "alice", "bob", "carol"):
        nb = nbformat.read(root / "grading" / "autograded" / student / A0 / f"{A0}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade"):
                streams = [o for o in cell.get("outputs", []) if o.get("name") == "stderr"]
                assert not streams, (student, cell.metadata.nbgrader.grade_id, streams)
    bob = nbformat.read(root / "grading" / "autograded" / "bob" / A0 / f"{A0}.ipynb", as_version=4)
    cell = next(c for c in bob.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_confusion_matrix")
    assert any("image/png" in o.get("data", {}) for o in cell.outputs)
    assert "transposed" in str(cell.outputs)


def test_feedback_shows_messages_but_no_hidden_test(graded):
    from nbgrader.apps import NbGraderAPI

    from cvlab.grading.autograde import course_config

    root = graded[0]
    outcome = NbGraderAPI(config=course_config(root)).generate_feedback(A0)
    assert outcome["success"], outcome.get("log")
    pages = {p.parts[-3]: p.read_text() for p in (root / "grading" / "feedback").glob(f"*/{A0}/{A0}.html")}
    assert {"solution", "bob", "loops"} <= set(pages)
    for student, html in pages.items():
        assert "BEGIN HIDDEN TESTS" not in html and not re.search(r"tier=(&quot;|\")hidden", html), student
    assert "Score: 7.0 / 14.0" in pages["bob"].replace("\n", " ") or "7.0 / 14.0" in pages["bob"]
    assert "from_one_hot, hidden case 1 of 8" in pages["bob"]


ASSIGNMENTS = sorted(p.parent.name for p in (REPO / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_what_generate_assignment_makes(assignment, tmp_path):
    """assignments/<a>/ is exactly nbgrader's release of solutions/<a>/ (sync test)."""
    from nbgrader.apps import NbGraderAPI

    from cvlab.grading.autograde import _tools_on_path, course_config

    root = _copy_course(tmp_path / "course")
    _tools_on_path()
    outcome = NbGraderAPI(config=course_config(root)).generate_assignment(assignment)
    assert outcome["success"], outcome.get("log")
    made = sorted(p.relative_to(root / "assignments") for p in (root / "assignments").rglob("*") if p.is_file())
    committed = sorted(p.relative_to(REPO / "assignments") for p in (REPO / "assignments" / assignment).rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts)
    assert made == committed, f"run `nbgrader generate_assignment {assignment} --force` and commit assignments/"
    for path in made:
        if path.suffix == ".ipynb":
            new, old = (nbformat.read(base / path, as_version=4) for base in (root / "assignments",
                                                                             REPO / "assignments"))
            assert [(c.cell_type, c.source, c.metadata) for c in new.cells] == \
                   [(c.cell_type, c.source, c.metadata) for c in old.cells], f"assignments/{path} is out of date"
            assert new.metadata == old.metadata
        else:
            assert (root / "assignments" / path).read_bytes() == (REPO / "assignments" / path).read_bytes()


def test_validate_command_runs_a_students_notebook():
    out = subprocess.run([sys.executable, "-m", "cvlab.grading", "validate", str(EXAMPLES / "bob.ipynb")],
                         capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert "[FAIL] confusion_matrix" in out and "3 of 5 visible tests pass" in out
    assert RELEASE.exists()
