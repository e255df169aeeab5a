"""Reference-case store: inputs and expected outputs saved from a solution notebook, with a manifest of hashes.

Each assignment has two stores with the same layout -- ``manifest.json`` plus one ``torch.save`` file per case:

* **visible** -- ``cvlab/grading/cases/<assignment>/``, shipped with the package so students can run the visible
  tests anywhere (Colab included);
* **hidden** -- ``solutions/<assignment>/cases/`` in the course repository: never released, never pip-installed.
  Graded cells find it through the course root: the ``CVLAB_GRADING_ROOT`` environment variable, else the first
  folder above the working directory that holds ``nbgrader_config.py`` and ``solutions/``.

While ``python -m cvlab.grading autograde`` runs a submission, ``CVLAB_GRADING_CASES`` points its kernel to a private
copy of both stores (``<copy>/<tier>/<assignment>/``), so no submission can spoil the cases another one reads. Both
stores are copied *withheld* (:func:`withheld_copy`): inputs only, no expected output, so nothing a kernel holds
can be copied into a grade; the verdict is made outside the kernel (:mod:`cvlab.grading.judge`).

Files are read with ``torch.load(weights_only=True)`` and checked against the manifest's sha256 of their *content*
(tensors' dtype, shape and bytes; see :func:`fingerprint`), so a modified case is refused, whatever wrote it.
Stores are written by ``python -m cvlab.grading build <assignment>`` (see :mod:`cvlab.grading.build`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from cvlab._validate import check_choice

FORMAT = 1
MANIFEST = "manifest.json"
ROOT_ENV = "CVLAB_GRADING_ROOT"
CASES_ENV = "CVLAB_GRADING_CASES"
PACKAGE_CASES = Path(__file__).with_name("cases")
TIERS = ("visible", "hidden")
KINDS = ("function", "value", "model")


@dataclass(frozen=True)
class Case:
    """One reference case: call ``fn(*args, **kwargs)`` and expect ``expected`` (within ``rtol``/``atol``)."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    expected: Any = None
    description: str = ""
    rtol: float | None = None
    atol: float | None = None


@dataclass(frozen=True)
class CaseSet:
    """The cases of one named test in one tier.

    ``kind`` is ``"function"`` (the student's function is called on each case), ``"value"`` (the student's
    answer is compared with ``cases[0].expected``) or ``"model"`` (the student's trained model is measured on the
    held-out data in each case's ``expected``, see :mod:`cvlab.grading.model`). ``forbid`` lists the dotted names
    of shortcuts that may not be called while the student's function runs; ``timeout_s`` bounds one call;
    ``helpers`` pairs a name of the student's notebook with the dotted name of the course's implementation that
    stands in for it meanwhile.
    """

    name: str
    kind: str
    cases: tuple[Case, ...]
    forbid: tuple[str, ...] = ()
    timeout_s: float = 10.0
    withheld: bool = False  # the expected outputs are not here (a grading kernel's copy)
    helpers: tuple[tuple[str, str], ...] = ()


def fingerprint(obj: Any) -> str:
    """Return the sha256 of a canonical encoding of ``obj`` (nested dicts/lists/tuples of tensors and scalars).

    Tensors contribute their dtype, shape and raw bytes, so the hash is independent of how a file was written.
    """
    digest = hashlib.sha256()
    _feed(digest, obj)
    return digest.hexdigest()


def _feed(digest: Any, obj: Any) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        digest.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        digest.update(f"D{len(obj)}".encode())
        for key in sorted(obj):
            _feed(digest, key)
            _feed(digest, obj[key])
    elif isinstance(obj, list | tuple):
        digest.update(f"L{len(obj)}".encode())
        for item in obj:
            _feed(digest, item)
    elif obj is None or isinstance(obj, bool | int | float | str | torch.dtype):
        digest.update(f"{type(obj).__name__}:{obj!r};".encode())
    else:
        raise TypeError(f"case content: cannot store a {type(obj).__name__} (use tensors, numbers, str, lists, dicts)")


def course_root() -> Path | None:
    """Return the course root (``CVLAB_GRADING_ROOT``, else the nearest folder above the cwd with
    ``nbgrader_config.py`` and ``solutions/``), or None when there is none (a student's machine)."""
    env = os.environ.get(ROOT_ENV, "").strip()
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file() and (folder / "solutions").is_dir():
            return folder
    return None


def store_dir(assignment: str, tier: str, root: str | Path | None = None) -> Path:
    """Return the folder of ``assignment``'s store for ``tier`` (hidden stores live under the course ``root``)."""
    check_choice(tier, "tier", TIERS)
    copy = os.environ.get(CASES_ENV, "").strip() if root is None else ""
    if copy:
        return Path(copy) / tier / assignment
    if tier == "visible":
        return PACKAGE_CASES / assignment
    root = Path(root) if root is not None else course_root()
    if root is None:
        raise FileNotFoundError(
            f"the hidden tests of {assignment} only run when the notebook is graded: they need the instructor's "
            f"case store (set {ROOT_ENV} to the course folder)"
        )
    return root / "solutions" / assignment / "cases"


class CaseStore:
    """A folder of reference cases described by its ``manifest.json``.

    Args:
        folder: the store folder (see :func:`store_dir`).

    Example:
        >>> store = CaseStore.open("a0_dense_outputs", "visible")  # doctest: +SKIP
        >>> store.load("one_hot").cases[0].expected.shape  # doctest: +SKIP
        torch.Size([3, 3, 4])
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        path = self.folder / MANIFEST
        if not path.is_file():
            raise FileNotFoundError(
                f"no reference cases at {self.folder} (missing {MANIFEST}): students, reinstall cvlab to get the "
                f"latest cases; instructors, build them with `python -m cvlab.grading build <assignment>`"
            )
        self.manifest = json.loads(path.read_text())
        if self.manifest.get("format") != FORMAT:
            raise ValueError(f"{path}: expected store format {FORMAT}, got {self.manifest.get('format')!r}")
        self.assignment = self.manifest["assignment"]
        self.tier = self.manifest["tier"]
        self.withheld = bool(self.manifest.get("withheld", False))

    @classmethod
    def open(cls, assignment: str, tier: str = "visible", root: str | Path | None = None) -> CaseStore:
        """Open the store of ``assignment`` for ``tier`` (``"visible"`` or ``"hidden"``)."""
        return cls(store_dir(assignment, tier, root))

    def names(self) -> list[str]:
        """The test names in this store, in notebook order."""
        return list(self.manifest["tests"])

    def load(self, name: str) -> CaseSet:
        """Load and verify every case of test ``name``."""
        tests = self.manifest["tests"]
        if name not in tests:
            raise KeyError(f"{self.assignment} has no {self.tier} test named {name!r}; known: {', '.join(tests)}")
        entry = tests[name]
        cases = tuple(self._load_case(item) for item in entry["cases"])
        return CaseSet(name, entry["kind"], cases, tuple(entry.get("forbid", ())), float(entry.get("timeout_s", 10)),
                       self.withheld, tuple(sorted(entry.get("helpers", {}).items())))

    def _load_case(self, item: dict) -> Case:
        path = self.folder / item["file"]
        content = torch.load(path, map_location="cpu", weights_only=True)
        if fingerprint(content) != item["sha256"]:
            raise ValueError(
                f"reference case {path} does not match its sha256 in {MANIFEST}: the case store was modified; "
                f"rebuild it with `python -m cvlab.grading build {self.assignment}`"
            )
        return Case(tuple(content["args"]), dict(content["kwargs"]), content["expected"], item.get("description", ""),
                    item.get("rtol"), item.get("atol"))


def withheld_copy(source: str | Path, target: str | Path) -> None:
    """Copy the store at ``source`` to ``target`` without its expected outputs (inputs, tolerances and bans kept).

    The manifest is marked ``"withheld": true`` and its hashes describe the copied files, so the copy loads like
    any store; :func:`cvlab.grading.run.run_tests` then records the outputs without judging them.
    """
    store = CaseStore(source)
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    manifest = json.loads(json.dumps(store.manifest))
    manifest["withheld"] = True
    for entry in manifest["tests"].values():
        for item in entry["cases"]:
            content = torch.load(store.folder / item["file"], map_location="cpu", weights_only=True)
            content["expected"] = None
            (target / item["file"]).parent.mkdir(parents=True, exist_ok=True)
            torch.save(content, target / item["file"])
            item["sha256"] = fingerprint(content)
    (target / MANIFEST).write_text(json.dumps(manifest, indent=1))


def load_case(assignment: str, test: str, index: int = 0, *, tier: str = "visible") -> Case:
    """Return case ``index`` of ``test`` in ``assignment``'s ``tier`` store.

    Example:
        >>> case = load_case("a0_dense_outputs", "one_hot")  # doctest: +SKIP
        >>> check(one_hot, case)  # doctest: +SKIP
    """
    cases = CaseStore.open(assignment, tier).load(test).cases
    if not -len(cases) <= index < len(cases):
        raise IndexError(f"index: {assignment}/{test} has {len(cases)} {tier} case(s), got index {index}")
    return cases[index]
