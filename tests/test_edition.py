"""The student edition holds what students need and nothing that gives answers away, installs on its own with pip,
and its notebooks start from the installed package."""

import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest
import torch

from cvlab.course import REPO, SETUP_CELL, course_notebooks
from cvlab.edition import STAMP, LeakError, hidden_hashes, leaks, main, write_edition
from tests.grading.test_release import _secret_lines

ASSIGNMENTS = sorted(p.parent.name for p in (REPO / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name)


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("edition") / "cvlab-student"
    write_edition(out)
    return out


def _files(folder):
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_holds_what_students_need_and_no_instructor_part(edition):
    assert {p.name for p in edition.iterdir()} == {"cvlab", "notebooks", "assignments", "docs", "README.md", STAMP,
                                                   "pyproject.toml", "environment.yml", "constraints.txt", ".gitignore"}
    assert _files(edition / "docs") == {"student.md"}
    for folder in ("notebooks", "assignments", "cvlab"):
        assert _files(edition / folder) == _files(REPO / folder), folder
    released = [p.relative_to(REPO) for p in course_notebooks() if "solutions" not in p.parts]
    readme = (edition / "README.md").read_text()
    assert all(f"`{p.as_posix()}`" in readme for p in released) and "solutions" not in readme
    for assignment in ASSIGNMENTS:
        manifest = json.loads((edition / "cvlab/grading/cases" / assignment / "manifest.json").read_text())
        assert manifest["tier"] == "visible" and manifest["tests"], assignment


def test_no_solution_hidden_test_or_hidden_case(edition):
    hidden = hidden_hashes()
    stores = sorted((REPO / "solutions").glob("*/cases/manifest.json"))
    cases = sum(len(t["cases"]) for m in stores for t in json.loads(m.read_text())["tests"].values())
    assert len(stores) == len(ASSIGNMENTS) and len(hidden) >= 2 * cases  # file and content hash of every case
    assert leaks(edition) == []
    # no line written only inside a solution or hidden-test region, anywhere (whole lines: a fragment such as
    # "generator=torch.Generator().manual_seed(0))" may well be part of a lecture's line)
    lines = {notebook.name: {line.strip() for cell in nbformat.read(notebook, as_version=4).cells
                             for line in cell.source.splitlines()} for notebook in sorted(edition.rglob("*.ipynb"))}
    for assignment in ASSIGNMENTS:
        secret = _secret_lines(REPO / "solutions" / assignment / f"{assignment}.ipynb")
        for name, shown in lines.items():
            assert not secret & shown, (assignment, name, sorted(secret & shown))


def _plant(edition, tmp_path):
    """A copy of the edition with one leak of every kind leaks() must find."""
    copy = tmp_path / "leaky"
    shutil.copytree(edition, copy)
    source = REPO / "solutions" / ASSIGNMENTS[0]
    solution = json.dumps(nbformat.read(source / f"{ASSIGNMENTS[0]}.ipynb", as_version=4))
    (copy / "notebooks" / "answers.ipynb").write_text(solution)  # solution and hidden-test markers
    case = next(p for p in sorted((source / "cases").rglob("*.pt")))
    shutil.copy(case, copy / "notebooks" / "renamed.bin")  # a hidden case file under another name
    torch.save(torch.load(case, weights_only=True), copy / "resaved.pt")  # its content, written anew
    visible = copy / "cvlab/grading/cases" / ASSIGNMENTS[0]
    (visible / "extra").mkdir()
    (visible / "extra" / "0.pt").write_bytes(b"")  # a file the visible manifest does not list
    hidden_manifest = json.loads((source / "cases" / "manifest.json").read_text())
    hidden_manifest["note"] = "edited, so its bytes differ"
    (copy / "store").mkdir()
    (copy / "store" / "manifest.json").write_text(json.dumps(hidden_manifest))
    (copy / "docs" / "instructor.md").write_text("how to grade")
    (copy / "solutions").mkdir()
    (copy / "solutions" / "cases.py").write_text("")
    return copy


def test_leaks_finds_every_kind_of_leak(edition, tmp_path):
    found = "\n".join(leaks(_plant(edition, tmp_path)))
    for expected in ("answers.ipynb: holds the marker 'BEGIN SOLUTION'", "answers.ipynb: holds the marker 'BEGIN "
                     "HIDDEN TESTS'", "renamed.bin: is the hidden case", "resaved.pt: holds the content of the hidden",
                     "extra/0.pt: not a case of its visible manifest", "store/manifest.json: a case store that is not",
                     "docs/instructor.md: withheld", "solutions/cases.py: withheld"):
        assert expected in found, (expected, found)


def test_refuses_to_publish_a_leak_or_to_clear_a_foreign_folder(edition, tmp_path, monkeypatch, capsys):
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "todo.txt").write_text("mine")
    assert main(["--out", str(foreign)]) == 1 and "earlier edition" in capsys.readouterr().err
    assert (foreign / "todo.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="outside the copied parts"):
        write_edition(REPO / "notebooks" / "edition")
    monkeypatch.setattr("cvlab.edition.leaks", lambda folder, root: ["x: planted"])
    with pytest.raises(LeakError, match="x: planted"):
        write_edition(tmp_path / "new")


def test_rebuilding_replaces_an_earlier_edition_and_keeps_git(edition, tmp_path):
    out = tmp_path / "clone"
    shutil.copytree(edition, out)
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (out / "notebooks" / "stale.ipynb").write_text("{}")
    write_edition(out)
    assert not (out / "notebooks" / "stale.ipynb").exists() and (out / ".git" / "HEAD").exists()
    assert _files(out) - {".git/HEAD"} == _files(edition)


def test_installs_on_its_own_and_a_notebook_starts_from_it(edition, tmp_path):
    """pip builds and installs the edition (offline, no dependency resolution) into a folder of its own; the visible
    cases come with it; the first cells of the tour run in a kernel that imports cvlab from there."""
    from nbclient import NotebookClient

    site, source = tmp_path / "site", tmp_path / "cvlab-student"
    shutil.copytree(edition, source)  # pip's build leaves its files beside the source
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "--target", str(site), str(source)], check=True, capture_output=True, cwd=tmp_path)
    nb = nbformat.read(source / "notebooks" / "00_tour.ipynb", as_version=4)
    first_code = next(i for i, c in enumerate(nb.cells[2:], start=2) if c.cell_type == "code")
    assert nb.cells[1].source == SETUP_CELL
    nb.cells = nb.cells[:first_code + 1] + [nbformat.v4.new_code_cell(
        f"import cvlab\nfrom cvlab.grading import load_case\ncase = load_case({ASSIGNMENTS[0]!r}, 'one_hot')\n"
        "print('cvlab from', cvlab.__file__, 'on', device)")]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MPLBACKEND")}
    env["PYTHONPATH"] = str(site)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(source / "notebooks")}}).execute(env=env)
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert f"cvlab from {site / 'cvlab' / '__init__.py'}" in printed, printed
