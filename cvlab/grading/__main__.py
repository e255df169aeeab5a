"""Command line of the grading tools: ``python -m cvlab.grading build|autograde|validate`` (see docs/instructor.md)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _build(args: argparse.Namespace) -> int:
    from cvlab.grading.build import build, drift, write

    if args.check:
        problems = drift(args.root, args.assignment)
        for problem in problems:
            print(f"drift: {problem}")
        print(f"{args.assignment}: " + ("the stored cases match the solution" if not problems else
                                        f"{len(problems)} problem(s); rebuild with "
                                        f"`python -m cvlab.grading build {args.assignment}`"))
        return 1 if problems else 0
    folders = write(args.root, args.assignment, build(args.root, args.assignment))
    for tier, folder in folders.items():
        print(f"{tier} cases -> {folder}")
    return 0


def _autograde(args: argparse.Namespace) -> int:
    from cvlab.grading.autograde import autograde

    start = time.perf_counter()
    overrides = {"Execute.timeout": args.timeout} if args.timeout else {}
    from cvlab.grading.sandbox import SandboxUnavailable

    try:
        results = autograde(args.submissions, args.assignment, root=args.root, workers=args.workers,
                            csv_path=args.csv, overrides=overrides, sandbox=not args.no_sandbox)
    except SandboxUnavailable as error:
        print(f"autograde: {error}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    flagged = [r.student for r in results if r.flags or r.status != "ok"]
    print(f"graded {len(results)} submission(s) in {elapsed:.0f} s with {args.workers} worker(s)"
          + (f"; grades in {args.csv}" if args.csv else ""))
    if flagged:
        print(f"to review (flags or errors, see the CSV): {', '.join(flagged)}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    import nbformat
    from nbclient import NotebookClient

    path = Path(args.notebook)
    nb = nbformat.read(path, as_version=4)
    assignment = args.assignment or nb.metadata.get("cvlab", {}).get("assignment") or path.stem
    nb.cells.append(nbformat.v4.new_code_cell(f"import cvlab.grading\ncvlab.grading.validate({assignment!r})"))
    NotebookClient(nb, timeout=args.timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for output in nb.cells[-1].get("outputs", []):
        print(output.get("text", "") or "\n".join(output.get("traceback", [])), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cvlab.grading", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("build", help="build an assignment's reference cases from its solution notebook")
    p.add_argument("assignment")
    p.add_argument("--root", default=".", help="course root (default: .)")
    p.add_argument("--check", action="store_true", help="only report drift between the stored cases and the solution")
    p.set_defaults(run=_build)

    p = commands.add_parser("autograde", help="autograde a folder of submissions and write a grades CSV")
    p.add_argument("submissions", help="folder: <id>/<a>/<a>.ipynb, <id>/<a>.ipynb or <id>.ipynb")
    p.add_argument("--assignment", required=True)
    p.add_argument("--root", default=".", help="course root (default: .)")
    p.add_argument("--workers", type=int, default=1, help="submissions graded in parallel (default: 1)")
    p.add_argument("--csv", help="where to write the grades CSV")
    p.add_argument("--timeout", type=int, help="per-cell time limit in seconds (default: nbgrader_config.py)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run the kernels without the bubblewrap sandbox (trusted submissions only)")
    p.set_defaults(run=_autograde)

    p = commands.add_parser("validate", help="run a notebook, then its assignment's visible tests")
    p.add_argument("notebook")
    p.add_argument("--assignment", help="default: the notebook's metadata, else its file name")
    p.add_argument("--timeout", type=int, default=120, help="per-cell time limit in seconds")
    p.set_defaults(run=_validate)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
