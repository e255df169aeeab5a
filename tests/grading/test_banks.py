"""Every plausible wrong implementation in tests/grading/wrong/<assignment>.py loses points, every different correct
one earns them all -- through the very code the graded cells and the out-of-kernel judge run (fast: no nbgrader).

A bank module defines ``WRONG = {test: [function or answer, ...]}`` and ``CORRECT = {...}`` for the graded tests
of its assignment; every test of the assignment must have at least 5 wrong entries.
"""

import importlib
from pathlib import Path

import pytest

from cvlab.course import REPO
from cvlab.grading.judge import Judge
from cvlab.grading.run import HARVEST_ENV, _run
from cvlab.grading.store import CaseStore

BANKS = sorted(p.stem for p in (Path(__file__).parent / "wrong").glob("*.py") if not p.stem.startswith("_"))


def _bank(assignment):
    return importlib.import_module(f"tests.grading.wrong.{assignment}")


def _label(entry):
    return getattr(entry, "__name__", repr(entry))


def _cases(assignment):
    """{(test, tier): CaseSet} of every test the assignment's graded cells run."""
    return Judge(REPO, assignment).cases


def _problems(assignment, test, answer):
    """The first problem per tier (None when the tier passes)."""
    return {tier: _run(cases, answer, tier, harvest=False, draw=False)
            for (name, tier), cases in _cases(assignment).items() if name == test}


ENTRIES = [(a, t, e) for a in BANKS for t, entries in _bank(a).WRONG.items() for e in entries]
CORRECT = [(a, t, e) for a in BANKS for t, entries in _bank(a).CORRECT.items() for e in entries]


@pytest.mark.parametrize("assignment", BANKS)
def test_every_graded_test_has_a_bank(assignment):
    graded = {test for test, _ in _cases(assignment)}
    bank = _bank(assignment)
    thin = {test: len(bank.WRONG.get(test, [])) for test in graded if len(bank.WRONG.get(test, [])) < 5}
    assert not thin, f"{assignment}: fewer than 5 wrong implementations for {thin}"
    assert graded <= set(bank.CORRECT), f"{assignment}: no different correct implementation for " \
                                        f"{graded - set(bank.CORRECT)}"


@pytest.mark.parametrize(("assignment", "test", "wrong"), ENTRIES,
                         ids=[f"{a}-{t}-{_label(e)}" for a, t, e in ENTRIES])
def test_wrong_implementation_loses_points(assignment, test, wrong):
    problems = _problems(assignment, test, wrong)
    assert problems, f"{assignment} has no graded test {test}"
    assert any(problems.values()), f"{_label(wrong)} passes every case of {test}: the cases are too weak"


@pytest.mark.parametrize(("assignment", "test", "right"), CORRECT,
                         ids=[f"{a}-{t}-{_label(e)}" for a, t, e in CORRECT])
def test_different_correct_implementation_passes(assignment, test, right):
    problems = _problems(assignment, test, right)
    assert problems and not any(problems.values()), problems


@pytest.mark.parametrize("assignment", BANKS)
def test_judge_agrees_with_the_notebook_checks(assignment, tmp_path, monkeypatch):
    """Outputs saved by the in-notebook checks earn full marks from the judge for correct code, and the cells
    running a wrong implementation lose their points."""
    monkeypatch.setenv(HARVEST_ENV, str(tmp_path))
    bank = _bank(assignment)
    judge = Judge(REPO, assignment)
    right = {test: entries[0] for test, entries in bank.CORRECT.items()}
    for (test, tier), cases in judge.cases.items():
        _run(cases, right[test], tier, harvest=True, draw=False)
    assert all(v.problem is None for v in judge.verdicts(tmp_path)), judge.verdicts(tmp_path)
    for test, entries in bank.WRONG.items():
        for (name, tier), cases in judge.cases.items():
            if name == test:
                _run(cases, entries[0], tier, harvest=True, draw=False)
        lost = [v.cell_id for v in judge.verdicts(tmp_path) if v.problem]
        assert lost and all(any(t == test for t, _ in c.tests) for c in judge.cells if c.cell_id in lost), lost
        for (name, tier), cases in judge.cases.items():  # back to right answers for the next test
            if name == test:
                _run(cases, right[test], tier, harvest=True, draw=False)


@pytest.mark.parametrize("assignment", BANKS)
def test_no_hidden_case_is_visible(assignment):
    """The package ships only the visible cases: no hidden input or answer is among them."""
    from cvlab.grading.store import fingerprint, store_dir

    visible, hidden = CaseStore.open(assignment, "visible"), CaseStore(store_dir(assignment, "hidden", REPO))
    shipped = {fingerprint([c.args, c.kwargs]) for name in visible.names() for c in visible.load(name).cases}
    secret = {fingerprint([c.args, c.kwargs]) for name in hidden.names() for c in hidden.load(name).cases
              if c.args or c.kwargs}
    assert not shipped & secret
    assert store_dir(assignment, "hidden", REPO).resolve().is_relative_to(REPO / "solutions")
