"""Cost of the grading sandbox: seconds per submission with and without it (printed ratio, never a test).

Autogrades N copies of each assignment's solution notebook in a temporary copy of the course, once sandboxed and
once with ``sandbox=False``, with the same number of workers.

Run: python benchmarks/bench_grading_sandbox.py [--copies 6] [--workers 2] [--assignments a0_dense_outputs ...]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from cvlab.course import REPO
from cvlab.grading.autograde import autograde


def seconds_per_submission(assignment: str, copies: int, workers: int, sandbox: bool) -> float:
    """Wall seconds of one autograde round of ``copies`` solution notebooks, divided by ``copies``."""
    with tempfile.TemporaryDirectory(prefix="cvlab-bench-") as folder:
        root = Path(folder) / "course"
        root.mkdir()
        shutil.copy(REPO / "nbgrader_config.py", root)
        shutil.copytree(REPO / "solutions", root / "solutions", ignore=shutil.ignore_patterns("__pycache__"))
        incoming = root / "incoming"
        incoming.mkdir()
        for i in range(copies):
            shutil.copy(REPO / "solutions" / assignment / f"{assignment}.ipynb", incoming / f"student{i}.ipynb")
        start = time.perf_counter()
        results = autograde(incoming, assignment, root=root, workers=workers, sandbox=sandbox, log=lambda _: None)
        elapsed = time.perf_counter() - start
        assert all(r.score == results[0].score for r in results), "the copies did not score alike"
        return elapsed / copies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--assignments", nargs="+", default=["a0_dense_outputs", "a1_clustering"])
    args = parser.parse_args()
    print(f"{'assignment':<20} {'sandboxed s/sub':>16} {'plain s/sub':>12} {'ratio':>6}")
    for assignment in args.assignments:
        boxed = seconds_per_submission(assignment, args.copies, args.workers, sandbox=True)
        plain = seconds_per_submission(assignment, args.copies, args.workers, sandbox=False)
        print(f"{assignment:<20} {boxed:>16.2f} {plain:>12.2f} {boxed / plain:>6.2f}")


if __name__ == "__main__":
    main()
