"""Reference cases are built from the solution notebooks and stay in sync with them (drift test)."""

import shutil

import nbformat
import pytest
import torch

from cvlab.course import REPO
from cvlab.grading import ForbiddenError, load_case
from cvlab.grading import store as store_module
from cvlab.grading.build import build, drift, solution_namespace, write
from cvlab.grading.judge import graded_cells

ASSIGNMENTS = sorted(p.parent.name for p in (REPO / "solutions").glob("*/cases.py"))

SPEC = '''
import torch
from cvlab.grading.build import case, function_test, value_test

TESTS = {
    "double": function_test(forbid=FORBID, visible=[case(torch.tensor([1, 2]), description="two numbers")],
                            hidden=[case(torch.arange(6).reshape(2, 3), description="a matrix")]),
    "answer": value_test(tier="hidden"),
}
'''


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_stored_cases_match_the_solution(assignment):
    """Rebuild every case from the solution notebook in memory: fails when the solution or the spec changed
    without `python -m cvlab.grading build <assignment>`."""
    assert drift(REPO, assignment) == []


def _tiny_course(tmp_path, monkeypatch, body="return 2 * x", forbid="[]"):
    monkeypatch.setattr(store_module, "PACKAGE_CASES", tmp_path / "package_cases")
    folder = tmp_path / "solutions" / "tiny"
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(f"import torch\ndef double(x):\n    {body}\nanswer = 42"),
        nbformat.v4.new_code_cell("assert False, 'a test cell is not run by the builder'",
                                  metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": "t",
                                                         "points": 1, "locked": True}}),
        nbformat.v4.new_code_cell("from cvlab.grading import validate\nvalidate('tiny')"),
    ])
    nbformat.write(nb, folder / "tiny.ipynb")
    (folder / "cases.py").write_text(SPEC.replace("FORBID", forbid))
    return tmp_path


def test_build_write_load_and_detect_drift(tmp_path, monkeypatch):
    root = _tiny_course(tmp_path, monkeypatch)
    folders = write(root, "tiny", build(root, "tiny"))
    assert folders["hidden"] == root / "solutions" / "tiny" / "cases"
    assert torch.equal(load_case("tiny", "double").expected, torch.tensor([2, 4]))
    hidden = store_module.CaseStore(folders["hidden"])
    assert hidden.names() == ["double", "answer"] and hidden.load("answer").cases[0].expected == 42
    assert drift(root, "tiny") == []

    notebook = root / "solutions" / "tiny" / "tiny.ipynb"
    notebook.write_text(notebook.read_text().replace("2 * x", "2 * x + (x == 2)"))
    problems = drift(root, "tiny")
    assert any(p.startswith("visible/double/0.pt: the solution now gives another result") for p in problems)

    spec = root / "solutions" / "tiny" / "cases.py"
    spec.write_text(spec.read_text().replace("two numbers", "two other numbers"))
    assert any("metadata" in p for p in drift(root, "tiny"))
    shutil.rmtree(folders["hidden"])
    assert any(p.startswith("hidden: no reference cases") for p in drift(root, "tiny"))


def test_the_solution_obeys_its_own_forbid_list(tmp_path, monkeypatch):
    root = _tiny_course(tmp_path, monkeypatch, body="return torch.mul(x, 2)", forbid='["torch.mul"]')
    with pytest.raises(ForbiddenError, match="torch.mul"):
        build(root, "tiny")


def test_solution_namespace_skips_tests_and_grading_cells(tmp_path, monkeypatch):
    root = _tiny_course(tmp_path, monkeypatch)
    namespace = solution_namespace(root / "solutions" / "tiny" / "tiny.ipynb")
    assert namespace["answer"] == 42 and "validate" not in namespace


def test_graded_cells_of_a0():
    cells = {c.cell_id: c for c in graded_cells(REPO / "solutions" / "a0_dense_outputs" / "a0_dense_outputs.ipynb",
                                                "a0_dense_outputs")}
    assert cells["test_one_hot"].tests == (("one_hot", "visible"),)
    assert cells["test_metrics_hidden"].tests == (("pixel_accuracy", "hidden"), ("iou_per_class", "hidden"))
    assert sum(c.points for c in cells.values()) == 14


def test_every_assignment_states_the_one_output_dtype_rule():
    from cvlab.grading.check import DTYPE_RULE

    plain = DTYPE_RULE.replace("`", "").lower()
    for notebook in sorted((REPO / "solutions").glob("*/*.ipynb")):
        cells = nbformat.read(notebook, as_version=4).cells[1:]  # after the title cell
        intro = next(c.source for c in cells if c.cell_type == "markdown")
        assert plain in intro.replace("`", "").replace("\n", " ").lower(), f"{notebook.name}: state check.DTYPE_RULE"


def test_drift_accepts_inputs_that_differ_only_by_rounding():
    """Another CPU's last bits are not a changed case; anything more is, and integers must match exactly."""
    from cvlab.grading.build import _inputs_differ

    x = torch.rand(5, 3)
    ulp = torch.nextafter(x, torch.full_like(x, 2.0))
    assert _inputs_differ([[x, 3], {"k": "flat"}], [[ulp, 3], {"k": "flat"}]) is None
    assert "inputs[0][0]" in _inputs_differ([[x + 1e-3, 3], {}], [[x, 3], {}])
    assert "inputs[0][1]" in _inputs_differ([[x, 4], {}], [[x, 3], {}])
    assert "inputs[1]['k']" in _inputs_differ([[x], {"k": "flat"}], [[x], {"k": "gaussian"}])
    assert "float64" in _inputs_differ([[x.double()], {}], [[x], {}])
    assert "inputs[0][0]" in _inputs_differ([[torch.tensor([1, 2])], {}], [[torch.tensor([1, 3])], {}])
