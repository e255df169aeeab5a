"""Graded cells (run_tests), the students' validate, and the judge that re-checks saved outputs."""

import dataclasses

import torch

from cvlab.course import REPO
from cvlab.grading import run_tests, validate
from cvlab.grading.build import solution_namespace
from cvlab.grading.judge import Judge
from cvlab.grading.run import HARVEST_ENV, harvest_name
from cvlab.grading.store import CASES_ENV, store_dir, withheld_copy

A0 = "a0_dense_outputs"


def _solution():
    return solution_namespace(REPO / "solutions" / A0 / f"{A0}.ipynb")


def test_run_tests_prints_on_success_and_raises_with_the_case(capsys):
    run_tests(A0, "one_hot", _solution()["one_hot"])
    assert capsys.readouterr().out == "one_hot: all 2 visible case(s) pass\n"
    try:
        run_tests(A0, "one_hot", lambda labels, k: (labels.unsqueeze(-1) == torch.arange(k)).float())
    except AssertionError as error:
        message = str(error)
    assert message.startswith("one_hot, visible case 1 of 2 (a 3x4 label map with 3 classes): wrong shape")


def test_answers_may_be_numbers_or_tensors():
    import numpy as np

    from cvlab.grading.run import _answer_output

    assert _answer_output(np.float32(0.5)) == (0.5, None)
    assert _answer_output(torch.tensor(0.5))[1] is None
    assert "got a str" in _answer_output("0.475")[1]


def test_validate_reports_each_visible_test(capsys):
    namespace = dict(_solution())
    namespace["from_one_hot"] = lambda scores, ignore_index=255: scores.argmax(-3) + 1
    del namespace["iou_per_class"]
    report = validate(A0, namespace)
    out = capsys.readouterr().out
    assert report["one_hot"] is None and report["from_one_hot"].startswith("from_one_hot, visible case")
    assert "iou_per_class is not defined" in report["iou_per_class"]
    assert "[FAIL] from_one_hot" in out and "3 of 5 visible tests pass" in out


def test_validate_uses_the_callers_globals(capsys, monkeypatch):
    monkeypatch.setitem(globals(), "one_hot", _solution()["one_hot"])
    assert validate(A0)["one_hot"] is None


def test_outputs_are_saved_for_the_judge_only_when_grading(tmp_path, monkeypatch):
    ns = _solution()
    monkeypatch.delenv(HARVEST_ENV, raising=False)
    run_tests(A0, "one_hot", ns["one_hot"])
    assert not list(tmp_path.iterdir())
    monkeypatch.setenv(HARVEST_ENV, str(tmp_path))
    run_tests(A0, "one_hot", ns["one_hot"])
    saved = torch.load(tmp_path / harvest_name("one_hot", "visible"), weights_only=True)
    assert [r["status"] for r in saved["results"]] == ["ok", "ok"]
    verdicts = {v.cell_id: v for v in Judge(REPO, A0).verdicts(tmp_path)}
    assert verdicts["test_one_hot"].score == 1 and verdicts["test_one_hot_hidden"].score == 0
    assert "did not run to its end" in verdicts["test_one_hot_hidden"].problem


def test_judge_refuses_unusable_or_forged_results(tmp_path, monkeypatch):
    judge = Judge(REPO, A0)
    assert judge.max_score == 14 and all(v.score == 0 for v in judge.verdicts(None))
    path = tmp_path / harvest_name("one_hot", "visible")
    path.write_bytes(b"not a torch file")
    assert "unreadable" in judge._problem(tmp_path, "one_hot", "visible")[0]
    torch.save({"results": "all good"}, path)
    assert "does not hold a list of results" in judge._problem(tmp_path, "one_hot", "visible")[0]
    cases = judge.cases["one_hot", "visible"].cases
    torch.save({"results": [{"status": "ok", "output": torch.zeros_like(cases[0].expected)}]}, path)
    problem, picture = judge._problem(tmp_path, "one_hot", "visible")
    assert "values differ" in problem and picture.startswith(b"\x89PNG")  # the heatmap the feedback shows
    torch.save({"results": [{"status": "ok", "output": c.expected} for c in cases[:1]]}, path)
    assert "case 2 of 2" in judge._problem(tmp_path, "one_hot", "visible")[0]
    torch.save({"results": [{"status": "ok", "output": c.expected} for c in cases]}, path)
    assert judge._problem(tmp_path, "one_hot", "visible")[0] is None
    monkeypatch.setattr("cvlab.grading.judge.MAX_HARVEST_BYTES", 10)
    assert "larger than" in judge._problem(tmp_path, "one_hot", "visible")[0]


def test_a_withheld_store_records_outputs_without_judging_them(tmp_path, monkeypatch, capsys):
    """While grading, the kernel's cases hold no expected output: a wrong answer is recorded, and judged outside."""
    withheld_copy(store_dir(A0, "visible"), tmp_path / "cases" / "visible" / A0)
    monkeypatch.setenv(CASES_ENV, str(tmp_path / "cases"))
    monkeypatch.setenv(HARVEST_ENV, str(tmp_path / "out"))
    run_tests(A0, "one_hot", lambda labels, num_classes: torch.zeros(num_classes, *labels.shape), tier="visible")
    assert "ran; their results are checked outside the notebook" in capsys.readouterr().out
    verdict = {v.cell_id: v for v in Judge(REPO, A0).verdicts(tmp_path / "out")}["test_one_hot"]
    assert verdict.score == 0 and "values differ" in verdict.problem


def _size_without_plus_one(n, k, s=1, p=0, d=1, output_padding=0):
    return (n - 1) * s - 2 * p + d * (k - 1) + output_padding


def test_a_course_helper_stands_in_for_the_students_while_a_dependent_test_runs(capsys):
    from cvlab.grading.run import _run
    from cvlab.grading.store import CaseStore

    namespace = solution_namespace(REPO / "solutions" / "a2_upsampling" / "a2_upsampling.ipynb")
    namespace["conv_transpose_output_size"] = _size_without_plus_one  # the student's task 1 is wrong
    cases = CaseStore.open("a2_upsampling", "visible").load("conv_transpose2d")
    assert cases.helpers == (("conv_transpose_output_size", "cvlab.ops.conv_transpose_output_size"),)
    # task 2 is right: it earns its points although it calls the wrong task 1 ...
    assert _run(cases, namespace["conv_transpose2d"], "visible", harvest=False, draw=False) is None
    validate("a2_upsampling", namespace)
    report = capsys.readouterr().out
    assert "[FAIL] conv_transpose_output_size" in report and "[pass] conv_transpose2d" in report
    # ... and afterwards the notebook's name is the student's again
    assert namespace["conv_transpose_output_size"] is _size_without_plus_one
    # without the stand-in the wrong helper would have cost task 2 as well
    alone = dataclasses.replace(cases, helpers=())
    assert "shape" in _run(alone, namespace["conv_transpose2d"], "visible", harvest=False, draw=False)
