"""Every assignment, end to end with the real nbgrader: its solution scores full marks and its untouched release 0.

A0's richer run (wrong, hostile and example submissions) lives in test_nbgrader.py; this one keeps the basic
promise for each assignment added later, in one autograde run per assignment.
"""

import shutil

import nbformat
import pytest

from cvlab.course import REPO
from cvlab.grading.autograde import autograde
from tests.grading.a0_submissions import A0

pytestmark = [pytest.mark.nbgrader,
              pytest.mark.skipif(shutil.which("bwrap") is None,
                                 reason="autograde runs kernels in bubblewrap: apt-get install bubblewrap")]

ASSIGNMENTS = sorted(p.stem for p in REPO.glob("solutions/*/*.ipynb") if p.stem == p.parent.name and p.stem != A0)


def _max_points(notebook) -> float:
    return sum(c.metadata.get("nbgrader", {}).get("points", 0) for c in notebook.cells
               if c.metadata.get("nbgrader", {}).get("grade"))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_gets_full_marks_and_release_zero(tmp_path, assignment):
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "solutions", root / "solutions", ignore=shutil.ignore_patterns("__pycache__"))
    incoming = root / "incoming"
    incoming.mkdir()
    solution = REPO / "solutions" / assignment / f"{assignment}.ipynb"
    shutil.copy(solution, incoming / "solution.ipynb")
    shutil.copy(REPO / "assignments" / assignment / f"{assignment}.ipynb", incoming / "blank.ipynb")

    results = {r.student: r for r in autograde(incoming, assignment, root=root, workers=2, watch=[root / "solutions"],
                                                startup_dirs=[], log=lambda line: None)}

    full = _max_points(nbformat.read(solution, as_version=4))
    assert full > 0
    assert results["solution"].score == full, (results["solution"].problems, results["solution"].flags)
    assert results["blank"].score == 0, results["blank"].scores
