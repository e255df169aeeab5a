"""Write the student edition: the repository students clone and open on Colab, made from this one.

``python -m cvlab.edition --out DIR`` copies what students need -- the lecture notebooks, the ``cvlab`` package with
its visible reference cases, the released assignments, the student guide and the packaging files -- and writes a
README for students. It leaves out everything that gives answers away or only serves the instructors:
``solutions/`` (solution code, hidden tests, hidden cases and their specs), ``tests/`` with its banks of wrong
implementations, the instructor guide and the nbgrader course configuration. Before it returns it searches what it
wrote (:func:`leaks`) and fails when it finds a solution or hidden-test marker, a hidden case (by the sha256 of its
file or of its content, as the hidden manifests record it), a hidden store, or a file of the left-out kinds.

Publish the folder as :data:`cvlab.course.STUDENT_REPO` (docs/instructor.md, "Two repositories").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from cvlab.course import REPO, STUDENT_REPO, STUDENT_REPO_URL, colab_table

COPIED = ("cvlab", "notebooks", "assignments", "docs/student.md", "pyproject.toml", "environment.yml",
          "constraints.txt", ".gitignore")
"""What the edition takes from the course repository (paths relative to its root); the README is written anew."""

SKIPPED = ("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")

WITHHELD = ("solutions", "tests", "docs/instructor.md", "nbgrader_config.py", "gradebook.db", "grading")
"""Paths of the course repository that must never be in the edition (answers, hidden cases, wrong-implementation
banks, grades, the instructors' guide)."""

MARKERS = tuple(f"{end} {region}" for region in ("SOLUTION", "HIDDEN TESTS") for end in ("BEGIN", "END"))
"""nbgrader's markers of solution regions and hidden tests (assembled, so that this file does not hold them)."""

STAMP = ".cvlab-edition"
"""The file that marks a folder as a student edition (so a rebuild may replace its contents)."""

VISIBLE_CASES = Path("cvlab", "grading", "cases")


class LeakError(RuntimeError):
    """The written edition holds something students must not see; it must not be published."""


def hidden_hashes(root: Path = REPO) -> dict[str, str]:
    """sha256 → where it comes from, for every hidden case of every assignment under ``root``: the sha256 of each
    file of ``solutions/<a>/cases/`` and the content sha256 its ``manifest.json`` records for each case."""
    known = {}
    for store in sorted(Path(root).glob("solutions/*/cases")):
        for path in sorted(p for p in store.rglob("*") if p.is_file()):
            known[hashlib.sha256(path.read_bytes()).hexdigest()] = str(path.relative_to(root))
        manifest = json.loads((store / "manifest.json").read_text())
        for test in manifest["tests"].values():
            for item in test["cases"]:
                known[item["sha256"]] = f"{store.relative_to(root)}/{item['file']} (content)"
    return known


def leaks(folder: Path, root: Path = REPO) -> list[str]:
    """Everything in ``folder`` (an edition) that students must not see, one line each; empty when it is clean.

    Looks for: a path the edition withholds (:data:`WITHHELD`, any ``cases.py``), nbgrader's solution and
    hidden-test markers in any file, any file equal to a hidden case file or whose ``torch.load`` content has a
    hidden case's sha256 (:func:`hidden_hashes`), a case store other than a visible one, and a file in the visible
    stores that their manifest does not list.
    """
    folder, problems = Path(folder), []
    known = hidden_hashes(root)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.relative_to(folder).parts)
    for path in files:
        relative = path.relative_to(folder)
        if any(relative.is_relative_to(w) for w in WITHHELD) or relative.name == "cases.py":
            problems.append(f"{relative}: withheld from the student edition")
        data = path.read_bytes()
        problems += [f"{relative}: holds the marker {m!r}" for m in MARKERS if m.encode() in data]
        digest = hashlib.sha256(data).hexdigest()
        if digest in known:
            problems.append(f"{relative}: is the hidden case {known[digest]}")
        elif path.suffix == ".pt" and (digest := _content_hash(path)) in known:
            problems.append(f"{relative}: holds the content of the hidden case {known[digest]}")
        if path.name == "manifest.json" and _tier(data) not in (None, "visible"):
            problems.append(f"{relative}: a case store that is not a visible one")
    for manifest in sorted((folder / VISIBLE_CASES).glob("*/manifest.json")):
        listed = {item["file"] for test in json.loads(manifest.read_text())["tests"].values() for item in test["cases"]}
        for path in sorted(p for p in manifest.parent.rglob("*") if p.is_file() and p != manifest):
            if path.relative_to(manifest.parent).as_posix() not in listed:
                problems.append(f"{path.relative_to(folder)}: not a case of its visible manifest")
    return problems


def _content_hash(path: Path) -> str | None:
    """The content sha256 (:func:`cvlab.grading.store.fingerprint`) of the torch file at ``path``, or None when it
    holds no case content (not a torch file, or objects a case never holds)."""
    import torch

    from cvlab.grading.store import fingerprint

    try:
        return fingerprint(torch.load(path, map_location="cpu", weights_only=True))
    except Exception:  # any unreadable or foreign file is simply no case
        return None


def _tier(manifest: bytes) -> str | None:
    """The ``tier`` a case-store manifest declares, or None for a file that is not one."""
    try:
        content = json.loads(manifest)
    except ValueError:
        return None
    return content.get("tier") if isinstance(content, dict) and "tests" in content else None


def student_readme(folder: Path) -> str:
    """The README of the edition in ``folder``: what it is, the Colab links of its notebooks, a local install."""
    name = STUDENT_REPO.split("/")[1]
    return f"""# cvlab — a course on dense prediction

Giving every pixel a label, an instance or a depth. This repository holds the course's lecture notebooks
(`notebooks/`), the assignments (`assignments/`) and `cvlab`, the library both import. Everything runs offline:
the data is rendered by cvlab or ships with scikit-image.

## Open in Colab

{colab_table(folder)}

The first cell of every notebook installs cvlab from this repository when the runtime lacks it and uses the GPU
when the runtime has one. Save your work with File → Save a copy in Drive.

## On your own machine (Python ≥ 3.11)

```bash
git clone {STUDENT_REPO_URL}.git && cd {name}
python3 -m venv .venv && .venv/bin/pip install -c constraints.txt -e .
.venv/bin/jupyter lab
```

## Assignments

Each assignment notebook says which functions to write; its visible tests run anywhere, and
`cvlab.grading.validate("<assignment>")` summarises them. The grader runs more cases. See
[`docs/student.md`](docs/student.md).
"""


def write_edition(out: Path, root: Path = REPO) -> list[Path]:
    """Write the student edition of the course at ``root`` into ``out``; return the files written.

    ``out`` must be missing, empty (a ``.git`` folder is kept) or an earlier edition (it holds :data:`STAMP`),
    whose contents are replaced.

    Raises:
        FileExistsError: ``out`` holds something that is not an edition.
        LeakError: the written edition holds something students must not see (see :func:`leaks`).
    """
    root, out = Path(root).resolve(), Path(out).resolve()
    if any(out.is_relative_to(root / name) for name in COPIED):
        raise ValueError(f"out: expected a folder outside the copied parts of {root}, got {out}")
    _clear(out)
    for name in COPIED:
        source, target = root / name, out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(*SKIPPED))
        else:
            shutil.copy2(source, target)
    (out / "README.md").write_text(student_readme(out), encoding="utf-8")
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    (out / STAMP).write_text(f"written by `python -m cvlab.edition` from commit {commit.strip() or 'unknown'}; "
                             "rebuild it rather than edit it\n")
    problems = leaks(out, root)
    if problems:
        raise LeakError(f"the edition in {out} must not be published:\n" + "\n".join(problems))
    return sorted(p for p in out.rglob("*") if p.is_file() and ".git" not in p.relative_to(out).parts)


def _clear(out: Path) -> None:
    """Make ``out`` an empty folder (but for ``.git``), refusing to clear anything but an earlier edition."""
    if out.exists():
        entries = [p for p in out.iterdir() if p.name != ".git"]
        if entries and not (out / STAMP).is_file():
            raise FileExistsError(f"out: expected a missing or empty folder or an earlier edition (with {STAMP}), "
                                  f"got {out} holding {entries[0].name}")
        for path in entries:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cvlab.edition", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the edition's folder (e.g. a clone of it)")
    args = parser.parse_args(argv)
    try:
        files = write_edition(args.out)
    except (FileExistsError, ValueError, LeakError) as exc:
        print(exc, file=sys.stderr)
        return 1
    size = sum(p.stat().st_size for p in files)
    print(f"wrote the student edition to {args.out}: {len(files)} files, {size / 1e6:.1f} MB, no leak found")
    print(f"publish it as {STUDENT_REPO_URL} (see docs/instructor.md, 'Two repositories')")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
