"""The reference-case store: content hashes, tamper detection, where the hidden cases are found."""

import json
import os

import pytest
import torch

from cvlab.grading import load_case
from cvlab.grading import store as store_module
from cvlab.grading.store import CaseStore, course_root, fingerprint, store_dir


def test_fingerprint_depends_on_content_only():
    x = torch.arange(6).reshape(2, 3)
    assert fingerprint({"a": x, "b": [1, 2.5, None]}) == fingerprint({"b": [1, 2.5, None], "a": x.clone()})
    assert fingerprint(x) != fingerprint(x.float())
    assert fingerprint(x) != fingerprint(x.reshape(3, 2))
    assert fingerprint(x) != fingerprint(x + (x == 5))
    assert fingerprint(x.T) == fingerprint(x.T.contiguous())
    with pytest.raises(TypeError, match="case content: cannot store a set"):
        fingerprint({1})


def _write_store(folder, content):
    folder.mkdir(parents=True)
    torch.save(content, folder / "0.pt")
    manifest = {"format": 1, "assignment": "tiny", "tier": "visible", "tests": {"double": {
        "kind": "function", "forbid": [], "timeout_s": 5, "cases": [
            {"file": "0.pt", "sha256": fingerprint(content), "description": "two numbers", "rtol": None,
             "atol": None}]}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_load_verifies_every_case(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "PACKAGE_CASES", tmp_path)
    content = {"args": [torch.tensor([1, 2])], "kwargs": {}, "expected": torch.tensor([2, 4])}
    _write_store(tmp_path / "tiny", content)
    case = load_case("tiny", "double")
    assert case.description == "two numbers" and torch.equal(case.expected, torch.tensor([2, 4]))
    with pytest.raises(KeyError, match="no visible test named 'triple'; known: double"):
        CaseStore.open("tiny").load("triple")
    with pytest.raises(IndexError, match="index: tiny/double has 1 visible case"):
        load_case("tiny", "double", 3)
    torch.save({**content, "expected": torch.tensor([2, 5])}, tmp_path / "tiny" / "0.pt")
    with pytest.raises(ValueError, match="does not match its sha256.*python -m cvlab.grading build tiny"):
        load_case("tiny", "double")


def test_missing_store_says_how_to_build_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m cvlab.grading build"):
        CaseStore(tmp_path)


def test_hidden_store_is_found_from_the_course_root(tmp_path, monkeypatch):
    monkeypatch.delenv("CVLAB_GRADING_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert course_root() is None
    with pytest.raises(FileNotFoundError, match="only run when the notebook is graded"):
        store_dir("a0_dense_outputs", "hidden")
    (tmp_path / "nbgrader_config.py").write_text("")
    (tmp_path / "solutions").mkdir()
    deep = tmp_path / "grading" / "autograded" / "alice" / "a0"
    deep.mkdir(parents=True)
    os.chdir(deep)  # where nbgrader runs a submission's kernel
    assert course_root() == tmp_path.resolve()
    monkeypatch.setenv("CVLAB_GRADING_ROOT", "/somewhere/else")
    assert store_dir("a0", "hidden") == store_dir("a0", "hidden", "/somewhere/else")
    assert store_dir("a0", "visible") == store_module.PACKAGE_CASES / "a0"
    with pytest.raises(ValueError, match="tier: expected one of"):
        store_dir("a0", "secret")


def test_a_withheld_copy_keeps_inputs_and_drops_every_expected_output(tmp_path):
    source = store_dir("a0_dense_outputs", "visible")
    store_module.withheld_copy(source, tmp_path / "copy")
    original, copy = CaseStore(source), CaseStore(tmp_path / "copy")
    assert copy.withheld and not original.withheld and copy.names() == original.names()
    for name in original.names():
        kept, full = copy.load(name), original.load(name)  # loads: the hashes describe the copied files
        assert kept.withheld and [c.expected for c in kept.cases] == [None] * len(full.cases)
        for a, b in zip(kept.cases, full.cases, strict=True):
            assert fingerprint([a.args, a.kwargs]) == fingerprint([b.args, b.kwargs])
