"""Every lecture notebook is committed clean, starts with its title and the setup cell (assignments too), declares a
budget and executes."""

from pathlib import Path

import nbformat
import pytest

from cvlab.course import REPO, SETUP_CELL, budget_of, course_notebooks, execute_notebook, find_notebooks, title_of
from tests.conftest import NOTEBOOK_RESULTS

NOTEBOOKS = find_notebooks(REPO / "notebooks")
SOURCE_NOTEBOOKS = NOTEBOOKS + sorted((REPO / "solutions").glob("*/*.ipynb"))
COURSE_NOTEBOOKS = course_notebooks()  # lectures, solutions and releases


def _ids(paths):
    return [p.name for p in paths]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.mark.parametrize("path", SOURCE_NOTEBOOKS, ids=_ids(SOURCE_NOTEBOOKS))
def test_committed_without_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; clear them before committing"


@pytest.mark.parametrize("path", COURSE_NOTEBOOKS, ids=[str(p.relative_to(REPO)) for p in COURSE_NOTEBOOKS])
def test_starts_with_title_and_setup_cell_and_declares_budget(path: Path):
    nb = nbformat.read(path, as_version=4)
    rewrite = f"{path.name}: run `python -m cvlab.course sync-setup`"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source == f"# {title_of(nb)}", \
        f"{rewrite} (the first cell must be the title alone)"
    assert nb.cells[1].cell_type == "code" and nb.cells[1].source == SETUP_CELL, \
        f"{rewrite} (the second cell must be cvlab.course.SETUP_CELL, unchanged)"
    budget = budget_of(nb)
    assert isinstance(budget, int | float) and 0 < budget <= 180, f"{path.name}: set metadata.cvlab.budget_s (0, 180]"


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_executes(path: Path):
    _, result = execute_notebook(path)
    NOTEBOOK_RESULTS.append(result)
    assert result.error is None, f"{path.name} failed:\n{result.error}"
