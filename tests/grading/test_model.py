"""Model tests: the judge measures a trained model's recorded weights on held-out data that no kernel sees.

A tiny course whose "solution" is a U-Net wired to predict class 1 everywhere, held out on scenes labelled 1: the
right weights pass, a model that predicts otherwise (whatever its notebook prints), a model of another architecture,
non-tensor weights and a results file that would run code when unpickled all fail -- judged outside any kernel.
"""

import os

import nbformat
import pytest
import torch

from cvlab.grading import store as store_module
from cvlab.grading.build import build, drift, model_test, write
from cvlab.grading.judge import Judge
from cvlab.grading.model import check_model, model_weights
from cvlab.grading.run import HARVEST_ENV, _run, harvest_name
from cvlab.grading.store import CaseStore, withheld_copy
from cvlab.models import UNet

SPEC = '''
import torch
from cvlab.grading.build import case, model_test

g = torch.Generator().manual_seed(0)
TESTS = {
    "net": model_test(architecture="cvlab.models.UNet",
                      kwargs={"in_ch": 3, "num_classes": 2, "depth": 1, "width": 2}, min_miou=0.9,
                      hidden=[case(torch.rand(4, 3, 8, 8, generator=g), torch.ones(4, 8, 8, dtype=torch.uint8),
                                   description="4 held-out 8x8 scenes, all class 1")]),
}
'''

SOLUTION = '''
import torch
from cvlab.models import UNet

net = UNet(3, 2, depth=1, width=2)
with torch.no_grad():
    net.head.weight.zero_()
    net.head.bias.copy_(torch.tensor([0.0, 1.0]))
'''


def constant(cls, width=2):
    """A U-Net that predicts class ``cls`` everywhere."""
    net = UNet(3, 2, depth=1, width=width)
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.copy_(torch.eye(2)[cls])
    return net


@pytest.fixture
def course(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "PACKAGE_CASES", tmp_path / "package_cases")
    folder = tmp_path / "solutions" / "tiny"
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(SOLUTION),
        nbformat.v4.new_code_cell('from cvlab.grading import run_tests\nrun_tests("tiny", "net", net, tier="hidden")',
                                  metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": "test_net",
                                                         "points": 3, "locked": True}}),
    ])
    nbformat.write(nb, folder / "tiny.ipynb")
    (folder / "cases.py").write_text(SPEC)
    write(tmp_path, "tiny", build(tmp_path, "tiny"))
    return tmp_path


def _judged(course, answer, monkeypatch, tmp_path_factory):
    """Record ``answer`` the way a grading kernel does (from the withheld copy) and judge it outside."""
    withheld = tmp_path_factory.mktemp("withheld")
    withheld_copy(course / "solutions" / "tiny" / "cases", withheld)
    outputs = tmp_path_factory.mktemp("outputs")
    monkeypatch.setenv(HARVEST_ENV, str(outputs))
    _run(CaseStore(withheld).load("net"), answer, "hidden", harvest=True, draw=False)
    return Judge(course, "tiny").verdicts(outputs)[0], outputs


def test_the_kernels_copy_holds_no_held_out_data(course, tmp_path):
    withheld_copy(course / "solutions" / "tiny" / "cases", tmp_path / "withheld")
    (held_out,) = CaseStore(tmp_path / "withheld").load("net").cases
    assert held_out.expected is None and held_out.args == () and held_out.kwargs == {}
    (full,) = CaseStore(course / "solutions" / "tiny" / "cases").load("net").cases
    assert full.expected["images"].shape == (4, 3, 8, 8) and drift(course, "tiny") == []


def test_the_right_weights_pass(course, monkeypatch, tmp_path_factory):
    verdict, _ = _judged(course, constant(1), monkeypatch, tmp_path_factory)
    assert verdict.problem is None and verdict.score == 3
    verdict, _ = _judged(course, constant(1).state_dict(), monkeypatch, tmp_path_factory)
    assert verdict.score == 3


def test_a_model_that_only_claims_a_good_score_fails(course, monkeypatch, tmp_path_factory, capsys):
    print("mIoU on the held-out scenes: 1.000")  # what the notebook prints is never read
    verdict, _ = _judged(course, constant(0), monkeypatch, tmp_path_factory)
    assert verdict.score == 0 and "mean IoU 0.000 on 4 held-out scenes" in verdict.problem


@pytest.mark.parametrize("answer", [constant(1, width=4), {"head.bias": torch.tensor([0.0, 1.0])}, 0.95,
                                    {"head.weight": [1.0]}], ids=["other architecture", "missing weights",
                                                                   "a number", "not tensors"])
def test_weights_that_are_not_the_architecture_fail(course, monkeypatch, tmp_path_factory, answer):
    verdict, _ = _judged(course, answer, monkeypatch, tmp_path_factory)
    assert verdict.score == 0 and verdict.problem


class _Payload:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['CVLAB_TEST_MARKER']}",))


def test_a_results_file_that_runs_code_on_load_is_refused(course, monkeypatch, tmp_path_factory, tmp_path):
    marker = tmp_path / "ran"
    monkeypatch.setenv("CVLAB_TEST_MARKER", str(marker))
    _, outputs = _judged(course, constant(1), monkeypatch, tmp_path_factory)
    torch.save({"test": "net", "tier": "hidden", "results": [{"status": "ok", "output": _Payload()}]},
               outputs / harvest_name("net", "hidden"))
    verdict = Judge(course, "tiny").verdicts(outputs)[0]
    assert verdict.score == 0 and "unreadable" in verdict.problem and not marker.exists()


def test_check_model_in_the_kernel_reports_the_measured_score(course):
    (held_out,) = CaseStore(course / "solutions" / "tiny" / "cases").load("net").cases
    assert check_model(model_weights(constant(1))[0], held_out.expected) is None
    assert "below the 0.9 required" in check_model(model_weights(constant(0))[0], held_out.expected)
    assert model_weights(torch.nn.Identity())[1]  # a module without weights


def test_model_test_needs_an_installed_architecture_and_num_classes():
    with pytest.raises(ValueError, match="architecture"):
        model_test(architecture="cvlab.models.NoSuchNet", kwargs={"num_classes": 2}, min_miou=0.5)
    with pytest.raises(ValueError, match="num_classes"):
        model_test(architecture="cvlab.models.UNet", kwargs={}, min_miou=0.5)
