"""Shared test setup: headless matplotlib, and the notebook time table printed at the end of the run."""

import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

NOTEBOOK_RESULTS: list = []  # filled by tests/test_notebooks.py


def pytest_terminal_summary(terminalreporter):
    if NOTEBOOK_RESULTS:
        from cvlab.course import format_table

        terminalreporter.section("notebook times vs budgets (CPU)")
        terminalreporter.write_line(format_table(sorted(NOTEBOOK_RESULTS, key=lambda r: r.path.name)))
