"""Grading: reference cases, checks that explain, shortcut guards and the nbgrader autograder.

Students meet three names: :func:`check` (test a function on one case), :func:`validate` (run an assignment's
visible tests, Colab included) and the ``run_tests`` calls of the graded cells. Instructors use the command line,
``python -m cvlab.grading build|autograde|validate`` (see docs/instructor.md).
"""

from cvlab.grading.check import check, compare
from cvlab.grading.forbid import ForbiddenError, forbid
from cvlab.grading.run import run_tests, validate
from cvlab.grading.store import Case, CaseStore, load_case

__all__ = ["check", "compare", "forbid", "ForbiddenError", "run_tests", "validate", "load_case", "Case",
           "CaseStore"]
