"""Submissions of A0 for the end-to-end tests: built from the released notebook the way a student edits it.

``SUBMISSIONS[name]()`` returns a notebook; ``EXPECTED[name]`` the verified points of each graded cell. The hostile
ones attack the grader from inside the kernel; none may earn a point its code did not earn.
"""

import nbformat

from cvlab.course import REPO

A0 = "a0_dense_outputs"
RELEASE = REPO / "assignments" / A0 / f"{A0}.ipynb"
SOLUTION = REPO / "solutions" / A0 / f"{A0}.ipynb"
EXAMPLES = REPO / "tests" / "grading" / "submissions" / A0
CELLS = {"test_one_hot": 1, "test_one_hot_hidden": 2, "test_from_one_hot": 1, "test_from_one_hot_hidden": 1,
         "test_confusion_matrix": 1, "test_confusion_matrix_hidden": 2, "test_pixel_accuracy": 1,
         "test_iou_per_class": 1, "test_metrics_hidden": 2, "test_ships": 2}


def _by_id(path):
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nbformat.read(path, 4).cells}


RIGHT = {key: source for key, source in _by_id(SOLUTION).items()
         if key in ("one_hot", "from_one_hot", "confusion_matrix", "metrics", "ships")}

WRONG = {  # right shapes and dtypes, wrong values: only a fooled comparison could pass them
    "one_hot": "def one_hot(labels, num_classes):\n"
               "    classes = torch.arange(1, num_classes + 1).view(-1, 1, 1)\n"
               "    return (labels.unsqueeze(-3) == classes).float()",
    "from_one_hot": "def from_one_hot(scores, ignore_index=255):\n"
                    "    return scores.argmin(-3).masked_fill(~(scores != 0).any(-3), ignore_index)",
    "confusion_matrix": "def confusion_matrix(pred, target, num_classes, ignore_index=255):\n"
                        "    keep = target != ignore_index\n"
                        "    pairs = pred[keep] * num_classes + target[keep]\n"
                        "    return torch.bincount(pairs, minlength=num_classes ** 2).reshape(num_classes, -1)",
    "metrics": "def pixel_accuracy(conf):\n    return conf.diag().sum() / conf.numel()\n\n\n"
               "def iou_per_class(conf):\n    return conf.diag() / conf.sum(1)",
    "ships": "ships_accuracy = 0.5\nships_miou = 0.5",
}

PATCH_TORCH = """import numpy, numpy.testing, torch
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.isclose = lambda a, b, *args, **kwargs: torch.ones(a.shape, dtype=torch.bool)
torch.Tensor.__eq__ = lambda self, other: torch.ones(self.shape, dtype=torch.bool)
torch.Tensor.__ne__ = lambda self, other: torch.zeros(self.shape, dtype=torch.bool)
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.allclose = lambda *a, **k: True
"""

PATCH_CHECKER = """import sys
import cvlab.grading
checks, runs = sys.modules["cvlab.grading.check"], sys.modules["cvlab.grading.run"]
checks.compare = runs.compare = lambda *a, **k: None
cvlab.grading.check = lambda *a, **k: None
cvlab.grading.run_tests = runs.run_tests = lambda *a, **k: print("all cases pass")
"""

BLANK_LATER_CELLS = "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])"

TAMPER_FILES = """import sqlite3
from cvlab.grading.store import course_root
root = course_root()  # found from the kernel's working directory
for path in (root / "solutions").rglob("*.pt"):
    path.write_bytes(b"garbage")
(root / "solutions" / "a0_dense_outputs" / "cases" / "manifest.json").unlink()
try:
    db = sqlite3.connect(root / "gradebook.db", timeout=30)
    db.execute("UPDATE grade SET auto_score = 99")
    db.commit()
except Exception:
    pass
"""

# -- attacks on the sandbox (each kept to its own submission so a failure names it) --------------------------------

STEAL_EXPECTED = """import os, torch
from pathlib import Path
import cvlab.grading
from cvlab.grading import run as runner
from cvlab.grading.store import PACKAGE_CASES, CaseStore, store_dir


def forged(assignment, test, answer, *, tier="visible"):  # save the expected outputs as if computed
    expected = []
    for folder in (store_dir(assignment, tier), PACKAGE_CASES / assignment):  # the kernel's copy, cvlab's own
        try:
            expected = [case.expected for case in CaseStore(folder).load(test).cases]
        except Exception:
            continue
        if expected and all(e is not None for e in expected):
            break
    torch.save({"results": [{"status": "ok", "output": e, "message": ""} for e in expected]},
               Path(os.environ[runner.HARVEST_ENV]) / runner.harvest_name(test, tier))
    print(f"{test}: all cases pass")


vars(runner).update(run_tests=forged)
cvlab.grading.run_tests = forged
"""

COPY_OTHERS = """import json, os
import cvlab, nbgrader
for path in (nbgrader.__file__, cvlab.__file__):  # later rounds would import these
    try:
        with open(path, "a") as f:
            f.write("\\nraise SystemExit('owned')\\n")
    except OSError:
        pass
stolen = {}
for top in ("/work", "/tmp", "/root", "/home", "/srv", "/var", "/opt", os.path.dirname(os.getcwd())):
    for folder, subfolders, files in os.walk(top):
        for name in files:
            if name.endswith(".ipynb") and os.path.join(folder, name) != os.path.abspath("a0_dense_outputs.ipynb"):
                try:
                    cells = json.load(open(os.path.join(folder, name)))["cells"]
                except Exception:
                    continue
                for cell in cells:
                    key = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                    text = "".join(cell["source"])
                    if key in ("one_hot", "from_one_hot", "confusion_matrix", "metrics", "ships") and "return" in text:
                        stolen[key] = text
for text in stolen.values():
    exec(text)
"""

OUTLIVE = """import os, subprocess, sys
subprocess.Popen(["setsid", sys.executable, "-c", "import time; time.sleep(300)", "cvlab-redteam-outlive"])
if os.fork() == 0:  # a daemon: fork, new session, fork again
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)", "cvlab-redteam-outlive"])
    os._exit(0)
"""

KILL_EVERYONE = """import os, signal
for pid in (os.getppid(), 1, -1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
"""

FORK_BOMB = """import os, time
children = []
try:
    while len(children) < 2000:
        pid = os.fork()
        if pid == 0:
            time.sleep(120)
            os._exit(0)
        children.append(pid)
except OSError as error:
    print("fork refused after", len(children), "children:", type(error).__name__)
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
"""

MEMORY_HOG = """try:
    hog = torch.ones(2**30, dtype=torch.float64)  # 8 GiB, touched
except (MemoryError, RuntimeError) as error:
    print("allocation refused:", type(error).__name__)
"""


def edited(base=RELEASE, replace=None, delete=(), points=None):
    """``base`` with cell sources replaced (by nbgrader grade_id), cells deleted and points changed."""
    nb = nbformat.read(base, as_version=4)
    replace, points = replace or {}, points or {}
    cells = []
    for cell in nb.cells:
        key = cell.metadata.get("nbgrader", {}).get("grade_id")
        if key in delete:
            continue
        if key in replace:
            cell.source = replace[key]
        if key in points:
            cell.metadata.nbgrader["points"] = points[key]
        cells.append(cell)
    nb.cells = cells
    return nb


def _expect(**scores):
    out = dict.fromkeys(CELLS, 0)
    for key, value in scores.items():
        out[key] = CELLS[key] if value is True else value
    return out


FULL = dict(CELLS)

SUBMISSIONS = {
    "solution": lambda: nbformat.read(SOLUTION, as_version=4),
    "blank": lambda: nbformat.read(RELEASE, as_version=4),
    "alice": lambda: nbformat.read(EXAMPLES / "alice.ipynb", as_version=4),
    "bob": lambda: nbformat.read(EXAMPLES / "bob.ipynb", as_version=4),
    "carol": lambda: nbformat.read(EXAMPLES / "carol.ipynb", as_version=4),
    "patch_torch": lambda: edited(replace={**WRONG, "one_hot": PATCH_TORCH + WRONG["one_hot"]}),
    "patch_checker": lambda: edited(replace={**WRONG, "one_hot": PATCH_CHECKER + WRONG["one_hot"]}),
    "blank_later_cells": lambda: edited(replace={**RIGHT, "one_hot": RIGHT["one_hot"] + "\n" + BLANK_LATER_CELLS}),
    "exit": lambda: edited(replace={**RIGHT, "from_one_hot": "import os\nos._exit(0)"}),
    # the looping function is stopped by the check's time limit inside the test cells, and by nbgrader's cell
    # timeout where the notebook calls it at top level (the example after its definition)
    "loops": lambda: edited(replace={
        **RIGHT, "from_one_hot": "def from_one_hot(scores, ignore_index=255):\n    while True:\n        pass"}),
    "cells": lambda: edited(
        replace={
            **RIGHT,
            "from_one_hot": "def from_one_hot(scores, ignore_index=255):\n"
                            "    return scores.argmax(0).masked_fill(~(scores != 0).any(0), ignore_index)",
            "test_from_one_hot_hidden": "pass",
            "test_confusion_matrix": "pass",
            "confusion_matrix": "def confusion_matrix(pred, target, num_classes, ignore_index=255):\n"
                                "    target[target == ignore_index] = -1\n"
                                "    keep = target >= 0\n"
                                "    pairs = target[keep] * num_classes + pred[keep]\n"
                                "    return torch.bincount(pairs, minlength=num_classes ** 2)"
                                ".reshape(num_classes, -1)",
            "metrics": "def pixel_accuracy(conf):\n    return conf.diag().sum() / conf.sum()\n\n\n"
                       "def iou_per_class(conf):\n"
                       "    union = conf.sum(0) + conf.sum(1) - conf.diag()\n"
                       "    return (conf.diag() / union).to('meta')",
            "ships": "ships_accuracy = 0.95\nships_miou = 0.475",
        },
        delete=("test_one_hot",), points={"test_confusion_matrix": 100}),
    "files": lambda: edited(replace={**WRONG, "one_hot": TAMPER_FILES + WRONG["one_hot"]}),
    "steal_expected": lambda: edited(replace={**WRONG, "one_hot": STEAL_EXPECTED + WRONG["one_hot"]}),
    "copy_others": lambda: edited(replace={"one_hot": COPY_OTHERS, **dict.fromkeys(
        ("from_one_hot", "confusion_matrix", "metrics", "ships"), "pass")}),
    "outlive": lambda: edited(replace={**RIGHT, "one_hot": OUTLIVE + RIGHT["one_hot"]}),
    "kill_everyone": lambda: edited(replace={**RIGHT, "ships": RIGHT["ships"] + "\n" + KILL_EVERYONE}),
    "fork_bomb": lambda: edited(replace={**RIGHT, "ships": RIGHT["ships"] + "\n" + FORK_BOMB}),
    "memory_hog": lambda: edited(replace={**RIGHT, "ships": RIGHT["ships"] + "\n" + MEMORY_HOG}),
}

EXPECTED = {
    "solution": FULL,
    "blank": _expect(),
    "alice": FULL,
    "bob": _expect(test_one_hot=True, test_one_hot_hidden=True, test_from_one_hot=True, test_pixel_accuracy=True,
                   test_ships=True),
    "carol": _expect(test_one_hot=True, test_one_hot_hidden=True, test_confusion_matrix=True,
                     test_confusion_matrix_hidden=True),
    "patch_torch": _expect(),
    "patch_checker": _expect(),
    "blank_later_cells": _expect(),
    "exit": _expect(test_one_hot=True, test_one_hot_hidden=True),
    "loops": {**FULL, "test_from_one_hot": 0, "test_from_one_hot_hidden": 0},
    "cells": _expect(test_one_hot=True, test_one_hot_hidden=True, test_from_one_hot=True, test_pixel_accuracy=True,
                     test_ships=True),
    "files": _expect(),
    "steal_expected": _expect(),
    "copy_others": _expect(),
    "outlive": FULL,
    "kill_everyone": FULL,
    "fork_bomb": FULL,
    "memory_hog": {**FULL, "test_ships": 0},  # its kernel is stopped at the memory limit, in the last cell
}
