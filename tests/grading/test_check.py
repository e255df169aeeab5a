"""check/compare: the judgement every grade rests on, and the words a student reads."""

import os
import sys
import warnings

import pytest
import torch

from cvlab.grading import Case, check, compare
from cvlab.grading.check import as_case, show_difference, tolerances
from cvlab.grading.invoke import Quiet, invoke


def test_equal_results_pass():
    x = torch.arange(12.0).reshape(3, 4)
    assert compare(x.clone(), x) is None
    assert compare(torch.tensor([1, 2]), torch.tensor([1, 2])) is None
    assert compare((x, torch.tensor(3)), (x.clone(), torch.tensor(3))) is None
    assert compare(torch.empty(0, 3), torch.empty(0, 3)) is None


def test_tolerances_follow_dtype_and_agree_with_isclose():
    assert tolerances(torch.int64) == (0.0, 0.0)
    assert tolerances(torch.float64) < tolerances(torch.float32) <= tolerances(torch.float32, torch.float64)
    g = torch.Generator().manual_seed(0)
    for _ in range(20):  # cross-check the pass/fail decision with torch.isclose at the same tolerances
        e = torch.randn(50, generator=g)
        got = e + torch.randn(50, generator=g) * 10 ** torch.empty(1).uniform_(-7, -2, generator=g)
        rtol, atol = tolerances(torch.float32)
        assert (compare(got, e) is None) == bool(torch.isclose(got, e, rtol=rtol, atol=atol).all())


def test_float_precision_and_kind_must_match_for_tensors():
    e = torch.tensor([0.1, 0.2, 1 / 3])
    assert "wrong precision: expected torch.float32, got torch.float64" in compare(e.double(), e)
    assert "wrong precision: expected torch.float64, got torch.float32" in compare(e, e.double())
    assert compare(e[0].double(), e[0]) is None  # scalars: any precision
    assert "floating" in compare(torch.tensor([0, 0, 0]), e)
    assert "expected torch.int64, got torch.int32" in compare(torch.tensor([1], dtype=torch.int32), torch.tensor([1]))
    assert "convert with .float()" in compare(torch.tensor([True]), torch.tensor([1.0]))


def test_python_numbers_stand_for_0_dim_tensors():
    assert compare(0.475, torch.tensor(0.475)) is None
    assert compare(0.95, 0.95) is None
    assert "0.5" in compare(0.5, torch.tensor(0.475))
    assert "numpy" in compare(__import__("numpy").zeros(2), torch.zeros(2))
    assert "expected 2 results" in compare(torch.zeros(2), (torch.zeros(2), torch.zeros(2)))


@pytest.mark.parametrize(("got", "expected", "words"), [
    ((4, 3), (3, 4), "different order"),
    ((3, 5), (3, 4), "off by one in axis 1"),
    ((3, 3), (3, 5), "square image"),
    ((4,), (2, 4), "axis is missing"),
    ((2, 1, 4), (2, 4), "extra axis of size 1"),
    ((1,), (), "single number"),
    ((9, 4), (2, 4), "axis 0 has size 9 instead of 2"),
])
def test_shape_mismatch_is_explained(got, expected, words):
    message = compare(torch.zeros(got), torch.zeros(expected))
    assert message.startswith("wrong shape") and words in message, message


def test_nan_and_inf_are_reported():
    e = torch.tensor([0.5, float("nan"), 1.0])
    assert compare(torch.tensor([0.5, float("nan"), 1.0]), e) is None
    assert "expected NaN at 1 place" in compare(torch.tensor([0.5, 0.0, 1.0]), e)
    assert "1 NaN value(s)" in compare(torch.tensor([float("nan"), float("nan"), 1.0]), e)
    assert "infinite" in compare(torch.tensor([0.5, float("nan"), float("inf")]), e)


def test_value_differences_name_the_worst_element_and_errors():
    e = torch.zeros(3, 4)
    g = e.clone()
    g[1, 2], g[0, 0] = 5.0, 1.0
    message = compare(g, e)
    assert "2 of 12 values differ" in message and "index [1, 2]: you return 5, expected 0" in message
    assert "max abs error 5" in message


@pytest.mark.parametrize(("make", "hint"), [
    (lambda e: e.T, "transposed"),
    (lambda e: e / e.numel(), "divided by 20 (a mean where a sum is expected?)"),
    (lambda e: e * 4, "times 4 (a sum where a mean is expected?)"),
    (lambda e: e * 0.3, "times 0.3"),
    (lambda e: e + 1, "off by 1"),
    (lambda e: torch.zeros_like(e), "all zeros"),
])
def test_known_mistakes_get_a_hint(make, hint):
    e = torch.arange(1.0, 26.0).reshape(5, 5) if hint == "transposed" else torch.arange(1.0, 21.0).reshape(4, 5)
    message = compare(make(e), e)
    assert message and hint in message, message


def test_border_axis_and_permutation_hints():
    e = torch.arange(1.0, 31.0).reshape(5, 6)
    g = e.clone()
    g[-1] = 0
    assert "last row" in compare(g, e)
    g = e.clone()
    g[:, -1] += 1
    assert "last column" in compare(g, e)
    b = torch.arange(2 * 3 * 4.0).reshape(2, 3, 4)
    g = b.clone()
    g[1] = 0
    assert "index 1 of axis 0" in compare(g, b)
    c = torch.arange(27.0).reshape(3, 3, 3)
    assert "axes in another order" in compare(c.permute(1, 0, 2), c)


def test_check_returns_the_output_and_explains_failures():
    case = Case((torch.tensor([[1, 2], [3, 4]]),), {}, torch.tensor([[2, 4], [6, 8]]), "a 2x2 map")
    assert torch.equal(check(lambda x: 2 * x, case), case.expected)
    with pytest.raises(AssertionError, match=r"^double on a 2x2 map: 1 of 4 values differ"):
        check(lambda x: 2 * x + (x == 4), case, name="double")
    with pytest.raises(AssertionError, match="raised ZeroDivisionError: division by zero"):
        check(lambda x: 1 / 0, case)
    with pytest.raises(AssertionError, match="is not written yet"):
        check(lambda x: (_ for _ in ()).throw(NotImplementedError()), case)
    with pytest.raises(TypeError, match="expected: pass the expected result"):
        check(lambda x: x, (torch.zeros(1),))


def test_inputs_are_copied_and_mutation_is_reported():
    x = torch.tensor([1.0, 2.0])

    def in_place(t):
        t += 1
        return t

    with pytest.raises(AssertionError, match="changed its input `t` in place"):
        check(in_place, (x,), torch.tensor([2.0, 3.0]))
    assert torch.equal(x, torch.tensor([1.0, 2.0]))


def test_device_type_and_timeout_problems(monkeypatch):
    case = as_case((torch.zeros(3),), torch.zeros(3))
    assert "on meta" in invoke(lambda t: t.to("meta"), case).problem
    assert "plain torch.Tensor" in invoke(lambda t: torch.nn.Parameter(t), case).problem
    assert "expected a function" in invoke(3, case).problem

    def endless(t):
        while True:
            pass

    assert "did not finish within 0.2 s" in invoke(endless, case, timeout_s=0.2).problem
    assert "not allowed" in invoke(lambda t: torch.bincount(t.long()), case, forbidden=("torch.bincount",)).problem


def test_time_limit_keeps_an_alarm_already_pending():
    import signal

    from cvlab.grading.invoke import time_limit

    signal.setitimer(signal.ITIMER_REAL, 100)
    try:
        with time_limit(5):
            pass
        pending, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 90 < pending <= 100
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def test_runs_on_the_selected_device(monkeypatch):
    monkeypatch.setenv("CVLAB_DEVICE", "cpu")
    seen = []
    check(lambda t: seen.append(t.device) or t, (torch.zeros(2),), torch.zeros(2))
    assert seen == [torch.device("cpu")]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_run_compares_with_cpu_expectations():
    case = as_case((torch.arange(6.0).reshape(2, 3),), torch.arange(6.0).reshape(2, 3).T * 2)
    assert check(lambda t: t.T * 2, case, device="cuda").device.type == "cpu"
    assert "on cpu" in invoke(lambda t: t.cpu(), case, device="cuda").problem


def test_check_is_silent_on_stderr(capfd):
    def noisy(t):
        warnings.warn("deprecated thing", UserWarning, stacklevel=2)
        print("progress", file=sys.stderr)
        os.write(2, b"C-level noise\n")
        return t

    with Quiet() as quiet:
        os.write(2, b"hidden\n")
    assert "hidden" in quiet.text
    out = check(noisy, (torch.ones(2),), torch.ones(2))
    assert torch.equal(out, torch.ones(2))
    captured = capfd.readouterr()
    assert captured.err == ""
    assert "deprecated thing" in captured.out and "C-level noise" in captured.out


def test_heatmap_is_a_no_op_outside_notebooks(capfd):
    show_difference(torch.zeros(3, 3), torch.ones(3, 3))
    assert capfd.readouterr() == ("", "")


def test_numpy_scalars_become_python_numbers_that_the_judge_can_load(tmp_path):
    import io

    import numpy as np

    from cvlab.grading.invoke import to_cpu

    converted = to_cpu((np.float64(0.25), np.int64(3), np.bool_(True)))
    assert converted == (0.25, 3, True) and [type(c) for c in converted] == [float, int, bool]
    buffer = io.BytesIO()
    torch.save({"output": converted}, buffer)
    buffer.seek(0)
    assert torch.load(buffer, weights_only=True)["output"] == (0.25, 3, True)


def test_precision_advice_can_be_followed_for_integer_inputs_too():
    from cvlab.grading.check import DTYPE_RULE

    e = torch.ones(3)
    assert ".float()" in compare(e.double(), e) and "dtype=x.dtype" in compare(e.double(), e)
    assert "float32 (torch's default) when every input is an integer tensor" in DTYPE_RULE
