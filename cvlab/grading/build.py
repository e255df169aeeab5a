"""Build an assignment's reference cases from its solution notebook, and detect when they drift from it.

An assignment's case spec, ``solutions/<a>/cases.py``, declares its tests::

    from cvlab.grading.build import case, function_test, value_test

    TESTS = {
        "one_hot": function_test(
            forbid=["torch.nn.functional.one_hot"],
            visible=[case(labels_3x4, 3, description="a 3x4 label map, 3 classes")],
            hidden=[case(labels_5x7, 4, description="a non-square 5x7 map")],
        ),
        "ships_miou": value_test(tier="hidden", description="mean IoU of the ships example"),
        "unet": model_test(architecture="cvlab.models.UNet", kwargs={...}, min_miou=0.5,
                           hidden=[case(images, labels, description="64 held-out scenes")]),
    }

``build`` runs the solution notebook's code cells as plain Python in a fresh namespace (except the test cells and
the cells using ``cvlab.grading``), calls each function on deep copies of its cases' inputs -- with the test's
shortcuts forbidden, so the solution obeys its own rules -- reads each value test's variable, checks that each model
test's trained model passes, and returns the two stores (visible, hidden) in memory.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import torch

from cvlab._validate import check_choice
from cvlab.grading.check import compare
from cvlab.grading.forbid import forbid, unresolved
from cvlab.grading.invoke import to_cpu
from cvlab.grading.model import check_model, model_weights
from cvlab.grading.store import FORMAT, KINDS, MANIFEST, TIERS, CaseStore, fingerprint, store_dir


@dataclass(frozen=True)
class CaseSpec:
    """Inputs of one case (see :func:`case`)."""

    args: tuple
    kwargs: dict
    description: str = ""
    rtol: float | None = None
    atol: float | None = None
    expected: Any = None  # given, not computed from the solution (model tests)


@dataclass(frozen=True)
class NamedTest:
    """One named test (see :func:`function_test` and :func:`value_test`)."""

    kind: str
    visible: tuple[CaseSpec, ...] = ()
    hidden: tuple[CaseSpec, ...] = ()
    forbid: tuple[str, ...] = ()
    timeout_s: float = 10.0
    helpers: tuple[tuple[str, str], ...] = ()


def case(*args: Any, description: str = "", rtol: float | None = None, atol: float | None = None,
         **kwargs: Any) -> CaseSpec:
    """One case: the function is called as ``fn(*args, **kwargs)``; ``description`` is shown in messages."""
    return CaseSpec(tuple(args), dict(kwargs), description, rtol, atol)


def function_test(*, visible: list[CaseSpec] | tuple = (), hidden: list[CaseSpec] | tuple = (),
                  forbid: list[str] | tuple = (), timeout_s: float = 10.0,
                  helpers: dict[str, str] | None = None) -> NamedTest:
    """A test of the solution's function of the same name, on ``visible`` and ``hidden`` cases.

    ``forbid`` names the shortcuts refused while the function runs; a name that does not exist in its installed
    package raises ``ValueError`` (it would forbid nothing). ``helpers`` maps a name the function may call from
    the notebook (another graded function, e.g. ``"conv_transpose_output_size"``) to the dotted name of the
    course's implementation, which stands in for the student's while this test runs: a mistake in the helper
    then costs only the helper's own points.
    """
    helpers = dict(helpers or {})
    for argument, names in (("forbid", list(forbid)), ("helpers", list(helpers.values()))):
        missing = unresolved(names)
        if missing:
            raise ValueError(f"{argument}: these names do not exist in their installed packages: {', '.join(missing)}")
    return NamedTest("function", tuple(visible), tuple(hidden), tuple(forbid), float(timeout_s),
                     tuple(sorted(helpers.items())))


def value_test(*, tier: str = "hidden", description: str = "", rtol: float | None = None,
               atol: float | None = None) -> NamedTest:
    """A test of the solution's variable of the same name (an answer such as a number), in one ``tier``."""
    check_choice(tier, "tier", TIERS)
    spec = (CaseSpec((), {}, description, rtol, atol),)
    return NamedTest("value", **{tier: spec})


def model_test(*, architecture: str, kwargs: dict, min_miou: float, visible: list[CaseSpec] | tuple = (),
               hidden: list[CaseSpec] | tuple = ()) -> NamedTest:
    """A test of the solution's trained model of the same name (an ``nn.Module`` or its ``state_dict``).

    Each case is ``case(images, labels, description=...)``: held-out scenes, Tensor[N, 3, H, W] and Tensor[N, H, W].
    The judge builds ``architecture(**kwargs)`` (a dotted name; ``kwargs`` must hold ``num_classes``), loads the
    recorded weights and passes the case when their mean IoU on the scenes is at least ``min_miou``. The scenes are
    stored as the case's *expected* part, so the kernels' withheld copy of the store does not hold them (no
    submission can train on them); see :mod:`cvlab.grading.model`.
    """
    missing = unresolved([architecture])
    if missing or "num_classes" not in kwargs:
        raise ValueError(f"architecture: expected an installed model class and kwargs with num_classes, got "
                         f"{architecture!r}, {kwargs!r}")

    def held_out(item: CaseSpec) -> CaseSpec:
        images, labels = item.args
        expected = {"architecture": architecture, "kwargs": dict(kwargs), "min_miou": float(min_miou),
                    "images": images, "labels": labels}
        return CaseSpec((), {}, item.description, expected=expected)

    return NamedTest("model", tuple(map(held_out, visible)), tuple(map(held_out, hidden)))


@dataclass
class BuiltStore:
    """A store in memory: the manifest and the content of each file (relative path -> content)."""

    manifest: dict
    files: dict[str, dict] = field(default_factory=dict)


def _skipped(cell: Any) -> bool:
    """Test cells and cells that use the grading machinery (e.g. ``validate``) are not part of the solution."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return (bool(meta.get("grade")) and not meta.get("solution")) or "cvlab.grading" in cell.source


def solution_namespace(notebook: str | Path) -> dict[str, Any]:
    """Run the code cells of a solution notebook as plain Python in a fresh namespace and return it (test cells and
    cells using ``cvlab.grading`` are skipped)."""
    notebook = Path(notebook)
    nb = nbformat.read(notebook, as_version=4)
    namespace: dict[str, Any] = {"__name__": "__cvlab_solution__"}
    os.environ.setdefault("MPLBACKEND", "Agg")
    with contextlib.redirect_stdout(io.StringIO()):
        for number, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and not _skipped(cell):
                exec(compile(cell.source, f"<{notebook.name} cell {number}>", "exec"), namespace)
    return namespace


def load_spec(root: str | Path, assignment: str) -> dict[str, NamedTest]:
    """Import ``solutions/<assignment>/cases.py`` and return its ``TESTS``."""
    path = Path(root) / "solutions" / assignment / "cases.py"
    module_spec = importlib.util.spec_from_file_location(f"_cvlab_cases_{assignment}", path)
    if module_spec is None or module_spec.loader is None or not path.is_file():
        raise FileNotFoundError(f"no case spec for {assignment}: expected {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    tests = getattr(module, "TESTS", None)
    if not isinstance(tests, dict) or not all(isinstance(t, NamedTest) for t in tests.values()):
        raise TypeError(f"{path}: expected TESTS = {{name: function_test(...) or value_test(...)}}")
    return tests


def _expected(name: str, spec: NamedTest, item: CaseSpec, namespace: dict[str, Any]) -> Any:
    if name not in namespace:
        raise KeyError(f"the solution notebook defines no {name!r} (needed by its {spec.kind} test)")
    if spec.kind == "value":
        return to_cpu(namespace[name])
    if spec.kind == "model":
        problem = check_model(model_weights(namespace[name])[0], item.expected)
        if problem:
            raise ValueError(f"the solution's {name} fails its own model test: {problem}")
        return item.expected
    with forbid(*spec.forbid):
        result = namespace[name](*copy.deepcopy(item.args), **copy.deepcopy(item.kwargs))
    return to_cpu(result)


def build(root: str | Path, assignment: str) -> dict[str, BuiltStore]:
    """Build the visible and hidden stores of ``assignment`` in memory (nothing is written)."""
    root = Path(root)
    tests = load_spec(root, assignment)
    namespace = solution_namespace(root / "solutions" / assignment / f"{assignment}.ipynb")
    stores = {tier: BuiltStore({"format": FORMAT, "assignment": assignment, "tier": tier, "tests": {}})
              for tier in TIERS}
    for name, spec in tests.items():
        if spec.kind not in KINDS:
            raise ValueError(f"{name}: expected kind in {KINDS}, got {spec.kind!r}")
        for tier in TIERS:
            items = getattr(spec, tier)
            if not items:
                continue
            entry = {"kind": spec.kind, "forbid": list(spec.forbid), "timeout_s": spec.timeout_s, "cases": []}
            if spec.helpers:
                entry["helpers"] = dict(spec.helpers)
            for index, item in enumerate(items):
                content = {"args": list(item.args), "kwargs": dict(item.kwargs),
                           "expected": _expected(name, spec, item, namespace)}
                relative = f"{name}/{index}.pt"
                stores[tier].files[relative] = content
                entry["cases"].append({"file": relative, "sha256": fingerprint(content),
                                       "description": item.description, "rtol": item.rtol, "atol": item.atol})
            stores[tier].manifest["tests"][name] = entry
    return stores


def write(root: str | Path, assignment: str, stores: dict[str, BuiltStore]) -> dict[str, Path]:
    """Replace the stores of ``assignment`` on disk with ``stores``; return their folders."""
    folders = {}
    for tier, store in stores.items():
        folder = store_dir(assignment, tier, root)
        if folder.exists():
            shutil.rmtree(folder)
        for relative, content in store.files.items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            torch.save(content, folder / relative)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MANIFEST).write_text(json.dumps(store.manifest, indent=1) + "\n")
        folders[tier] = folder
    return folders


def _inputs_differ(new: Any, old: Any, where: str = "inputs") -> str | None:
    """None when two case inputs are the same up to rounding, else where they differ.

    Structure, dtypes, shapes, integers, bools and strings must match exactly; floating tensors within
    ``torch.testing.assert_close``'s defaults for their dtype (a few units in the last place): inputs computed
    from rendered scenes differ in their last bits between CPUs (AVX2 and AVX-512 kernels round differently).
    """
    if isinstance(new, dict) and isinstance(old, dict):
        if sorted(new) != sorted(old):
            return f"{where}: keys {sorted(old)} stored, {sorted(new)} now"
        return next((d for k in sorted(new) if (d := _inputs_differ(new[k], old[k], f"{where}[{k!r}]"))), None)
    if isinstance(new, list | tuple) and isinstance(old, list | tuple):
        if len(new) != len(old):
            return f"{where}: {len(old)} items stored, {len(new)} now"
        return next((d for i, (a, b) in enumerate(zip(new, old, strict=True))
                     if (d := _inputs_differ(a, b, f"{where}[{i}]"))), None)
    if isinstance(new, torch.Tensor) and isinstance(old, torch.Tensor):
        if new.dtype != old.dtype or new.shape != old.shape:
            return f"{where}: {old.dtype} {tuple(old.shape)} stored, {new.dtype} {tuple(new.shape)} now"
        try:
            torch.testing.assert_close(new.cpu(), old.cpu(), equal_nan=True)
        except AssertionError as error:
            return f"{where}: {str(error).splitlines()[0]}"
        return None
    if type(new) is not type(old) or new != old:
        return f"{where}: {old!r} stored, {new!r} now"
    return None


def drift(root: str | Path, assignment: str) -> list[str]:
    """Rebuild ``assignment``'s cases from its solution and list how the stored ones differ (empty: in sync).

    Metadata must match exactly, inputs up to rounding (:func:`_inputs_differ`); expected floating results may
    differ within the case's tolerance.
    """
    problems = []
    for tier, built in build(root, assignment).items():
        try:
            stored = CaseStore(store_dir(assignment, tier, root))
        except FileNotFoundError as error:
            problems.append(f"{tier}: {error}")
            continue
        names_built, names_stored = list(built.manifest["tests"]), stored.names()
        if names_built != names_stored:
            problems.append(f"{tier}: tests {names_stored} stored, the spec now has {names_built}")
            continue
        for name in names_built:
            new, old = built.manifest["tests"][name], stored.manifest["tests"][name]
            strip = [{k: v for k, v in c.items() if k != "sha256"} for c in new["cases"]]
            if {**new, "cases": strip} != {**old, "cases": [{k: v for k, v in c.items() if k != "sha256"}
                                                           for c in old["cases"]]}:
                problems.append(f"{tier}/{name}: the spec's metadata (cases, descriptions, forbid, tolerances) "
                                f"changed")
                continue
            for item, loaded in zip(new["cases"], stored.load(name).cases, strict=True):
                if item["sha256"] == next(c["sha256"] for c in old["cases"] if c["file"] == item["file"]):
                    continue
                content = built.files[item["file"]]
                if new["kind"] == "model":
                    problems.append(f"{tier}/{item['file']}: the held-out data changed")
                    continue
                changed = _inputs_differ([content["args"], content["kwargs"]], [list(loaded.args), loaded.kwargs])
                if changed:
                    problems.append(f"{tier}/{item['file']}: the inputs changed: {changed}")
                    continue
                difference = compare(content["expected"], loaded.expected, rtol=item["rtol"], atol=item["atol"])
                if difference:
                    problems.append(f"{tier}/{item['file']}: the solution now gives another result: {difference}")
    return problems
