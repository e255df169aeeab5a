"""The student release holds no solution, no hidden test and no reference case; the examples match it."""

import nbformat
import pytest

from cvlab.course import REPO, SETUP_CELL

RELEASES = sorted((REPO / "assignments").glob("*/*.ipynb"))


def _secret_lines(source_notebook):
    """Lines found only inside the solution and hidden-test regions of the source notebook."""
    secret, public = set(), set()
    for cell in nbformat.read(source_notebook, as_version=4).cells:
        inside = False
        for line in cell.source.splitlines():
            if "END SOLUTION" in line or "END HIDDEN TESTS" in line:
                inside = False
            elif "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line:
                inside = True
            else:
                (secret if inside else public).add(line.strip())
    return {line for line in secret - public if len(line) > 12}


@pytest.mark.parametrize("release", RELEASES, ids=[p.parent.name for p in RELEASES])
def test_release_leaks_nothing(release):
    assignment = release.parent.name
    text = release.read_text()
    assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text and 'tier=\\"hidden\\"' not in text
    leaked = [line for line in _secret_lines(REPO / "solutions" / assignment / release.name) if line in text]
    assert not leaked, leaked
    assert not [p for p in release.parent.rglob("*") if p.suffix in (".pt", ".py") or p.name == "cases"]
    nb = nbformat.read(release, as_version=4)
    assert nb.cells[1].source == SETUP_CELL and nb.metadata["cvlab"]["budget_s"] > 0


def test_example_submissions_are_edits_of_the_release():
    release = nbformat.read(REPO / "assignments" / "a0_dense_outputs" / "a0_dense_outputs.ipynb", as_version=4)
    locked = {c.id: c.source for c in release.cells if c.metadata.get("nbgrader", {}).get("locked")}
    for path in sorted((REPO / "tests" / "grading" / "submissions" / "a0_dense_outputs").glob("*.ipynb")):
        submission = nbformat.read(path, as_version=4)
        cells = {c.id: c.source for c in submission.cells}
        assert {k: cells.get(k) for k in locked} == locked, path.name
        # an earlier release's setup cell is student code to the grader's lint (it would flag its subprocess call)
        assert [c.source for c in submission.cells[:2]] == [c.source for c in release.cells[:2]], path.name
