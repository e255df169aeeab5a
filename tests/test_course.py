"""cvlab.course: a prose figure outside its band fails the notebook; every notebook starts with its title and the one
setup cell, which installs the student edition, turns on Colab's widgets there only and picks the device."""

import copy
import importlib.util
import subprocess
import sys
import types

import nbformat
import pytest

from cvlab import get_device
from cvlab.course import (
    COLAB_BEGIN,
    COLAB_END,
    REPO,
    SETUP_CELL,
    STUDENT_REPO,
    STUDENT_REPO_URL,
    ClaimError,
    claim,
    colab_url,
    course_notebooks,
    main,
    sync_setup,
    title_of,
    with_title_and_setup,
)


def test_claim_inside_band_prints_and_returns(capsys):
    assert claim("mIoU", 0.5, 0.4, 0.6) == 0.5
    assert "mIoU: 0.500 (text: 0.400 to 0.600) ok" in capsys.readouterr().out


def test_claim_outside_band_raises():
    with pytest.raises(ClaimError, match="text says"):
        claim("mIoU", 0.7, 0.4, 0.6)


def test_claim_rejects_inverted_band():
    with pytest.raises(ValueError, match="low <= high"):
        claim("mIoU", 0.5, 0.6, 0.4)


def test_one_place_names_the_student_repository():
    assert f"git+{STUDENT_REPO_URL}.git" in SETUP_CELL
    assert colab_url("notebooks/00_tour.ipynb") == (
        f"https://colab.research.google.com/github/{STUDENT_REPO}/blob/main/notebooks/00_tour.ipynb")
    assert SETUP_CELL.count("github.com") == 1


def _run_setup_cell(monkeypatch, *, cvlab_found=True, colab=None):
    """Execute SETUP_CELL here with pip stubbed out; return (namespace, pip calls)."""
    calls = []
    monkeypatch.setattr(subprocess, "check_call", lambda args: calls.append(args))
    if not cvlab_found:
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cvlab" else real(name, *a))
    if colab is not None:
        monkeypatch.setitem(sys.modules, "google.colab", colab)
    namespace = {}
    exec(compile(SETUP_CELL, "<setup cell>", "exec"), namespace)
    return namespace, calls


def test_setup_cell_off_colab_installs_nothing_and_picks_the_device(monkeypatch):
    assert "google.colab" not in sys.modules
    namespace, calls = _run_setup_cell(monkeypatch)
    assert calls == [] and namespace["device"] == get_device()


def test_setup_cell_installs_the_student_edition_when_cvlab_is_missing(monkeypatch):
    _, calls = _run_setup_cell(monkeypatch, cvlab_found=False)
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", f"git+{STUDENT_REPO_URL}.git"]]


def test_setup_cell_enables_the_widget_manager_on_colab_only(monkeypatch):
    enabled = []
    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: enabled.append(True))
    _run_setup_cell(monkeypatch, colab=colab)
    assert enabled == [True]


def _nb(*cells):
    return nbformat.v4.new_notebook(cells=list(cells), metadata={"cvlab": {"budget_s": 10}})


def test_rewrite_puts_the_title_first_then_the_setup_cell():
    old_setup = nbformat.v4.new_code_cell("# Setup: an older version\nimport cvlab")
    intro = nbformat.v4.new_markdown_cell("# 07 · Boxes\n\nWhy boxes.", metadata={"tags": ["intro"]})
    body = nbformat.v4.new_code_cell("x = 1")
    nb = _nb(old_setup, intro, body)
    before = copy.deepcopy(nb)
    new = with_title_and_setup(nb)
    assert nb == before  # the input is not modified
    assert [(c.cell_type, c.source) for c in new.cells] == [
        ("markdown", "# 07 · Boxes"), ("code", SETUP_CELL), ("markdown", "Why boxes."), ("code", "x = 1")]
    assert new.cells[1].id == old_setup.id and new.cells[2].id == intro.id and new.cells[2].metadata == intro.metadata
    assert with_title_and_setup(new) == new  # idempotent
    nbformat.validate(new)


def test_rewrite_inserts_a_missing_setup_cell_and_keeps_a_title_only_cell():
    title, body = nbformat.v4.new_markdown_cell("# A9 — Flow"), nbformat.v4.new_code_cell("# set up the data\nx = 1")
    new = with_title_and_setup(_nb(body, title))
    assert [c.source for c in new.cells] == ["# A9 — Flow", SETUP_CELL, body.source]
    assert new.cells[0].id == title.id and new.cells[1].id == "setup"


def test_rewrite_needs_a_title():
    with pytest.raises(ValueError, match="'# ' title"):
        with_title_and_setup(_nb(nbformat.v4.new_markdown_cell("Intro without a heading")))
    with pytest.raises(ValueError, match="'# ' title"):
        title_of(_nb(nbformat.v4.new_code_cell("x = 1")))


def _course(root):
    """A tiny course under ``root``: one lecture, one assignment's source, release and example submission, a README
    with the markers."""
    old = [nbformat.v4.new_code_cell("# Setup: old\nimport cvlab"), nbformat.v4.new_markdown_cell("# T | x\n\nText")]
    for relative in ("notebooks/00_a.ipynb", "solutions/a1_x/a1_x.ipynb", "assignments/a1_x/a1_x.ipynb",
                     "tests/grading/submissions/a1_x/bob.ipynb"):
        (root / relative).parent.mkdir(parents=True)
        nbformat.write(_nb(*copy.deepcopy(old)), root / relative)
    (root / "README.md").write_text(f"intro\n{COLAB_BEGIN}\nstale\n{COLAB_END}\nend\n")


def test_sync_setup_rewrites_every_notebook_and_the_readme_table(tmp_path):
    _course(tmp_path)
    expected = {"notebooks/00_a.ipynb", "solutions/a1_x/a1_x.ipynb", "assignments/a1_x/a1_x.ipynb", "README.md",
                "tests/grading/submissions/a1_x/bob.ipynb"}
    assert {p.relative_to(tmp_path).as_posix() for p in sync_setup(tmp_path, check=True)} == expected
    assert "stale" in (tmp_path / "README.md").read_text()  # check writes nothing
    assert {p.relative_to(tmp_path).as_posix() for p in sync_setup(tmp_path)} == expected
    assert sync_setup(tmp_path) == []
    readme = (tmp_path / "README.md").read_text()
    assert "stale" not in readme and readme.startswith("intro\n") and readme.endswith(f"{COLAB_END}\nend\n")
    assert f"| `notebooks/00_a.ipynb` | T \\| x | [Open in Colab]({colab_url('notebooks/00_a.ipynb')}) |" in readme
    assert colab_url("assignments/a1_x/a1_x.ipynb") in readme and "solutions/" not in readme and "bob" not in readme
    nb = nbformat.read(tmp_path / "solutions/a1_x/a1_x.ipynb", as_version=4)
    assert [c.source for c in nb.cells] == ["# T | x", SETUP_CELL, "Text"]


def test_readme_needs_the_markers(tmp_path):
    _course(tmp_path)
    (tmp_path / "README.md").write_text("no markers\n")
    with pytest.raises(ValueError, match="markers"):
        sync_setup(tmp_path, check=True)


def test_sync_setup_names_a_notebook_without_a_title(tmp_path):
    _course(tmp_path)
    nbformat.write(_nb(nbformat.v4.new_markdown_cell("no heading")), tmp_path / "notebooks" / "01_b.ipynb")
    with pytest.raises(ValueError, match="01_b.ipynb: expected the first markdown cell"):
        sync_setup(tmp_path, check=True)


def test_the_course_is_in_sync(capsys):
    """Every notebook, solution and release starts with its title and SETUP_CELL; the README's Colab table lists
    them all (after merging or adding a notebook: `python -m cvlab.course sync-setup`)."""
    assert main(["sync-setup", "--check"]) == 0, capsys.readouterr().out
    readme = (REPO / "README.md").read_text()
    released = [p for p in course_notebooks() if "solutions" not in p.parts]
    assert released and all(colab_url(p.relative_to(REPO).as_posix()) in readme for p in released)
