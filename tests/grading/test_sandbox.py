"""The grading sandbox: what a sandboxed process sees, can write and can start (bubblewrap, run for real)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cvlab.course import REPO
from cvlab.grading.sandbox import Limits, ProcessGroup, SandboxSpec, command, limit_command, python_paths

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap (apt-get install bubblewrap)")


def _run(spec, code, cwd=None):
    group = ProcessGroup(spec.limits)
    prefix = (group.join_command() if group.available else []) + limit_command(spec.limits, group)
    try:
        return subprocess.run([*prefix, *command(spec, [sys.executable, "-c", code], cwd)], capture_output=True,
                              text=True, timeout=120)
    finally:
        group.remove()


def test_spec_travels_through_the_environment():
    spec = SandboxSpec("/s", ["/a"], ["/b"], Limits(1, 2, 3), [("/c", "/d")])
    assert SandboxSpec.from_env(spec.to_env()) == spec


def test_python_paths_never_show_a_course_checkout(tmp_path):
    paths = python_paths(exclude=tmp_path)
    assert str(REPO / "cvlab") in paths or any(Path(p, "cvlab").is_dir() for p in paths)
    assert str(REPO) not in paths  # a checkout (cvlab/ beside pyproject.toml) shows only its package


def test_a_sandboxed_process_sees_only_what_it_is_given(tmp_path):
    secret, shown, out = tmp_path / "secret", tmp_path / "shown", tmp_path / "out"
    for folder in (secret, shown, out, tmp_path / "scratch"):
        folder.mkdir()
    (secret / "answers.txt").write_text("42")
    (shown / "inputs.txt").write_text("x")
    spec = SandboxSpec(str(tmp_path / "scratch"), [*python_paths(tmp_path), str(shown)], [str(out)])
    code = f"""
import os, pathlib, socket
p = pathlib.Path
print("secret", p({str(secret)!r}).exists(), "solutions", (p({str(REPO)!r}) / "solutions").exists())
print("shown", p({str(shown / 'inputs.txt')!r}).read_text())
for target in ({str(shown / 'w')!r}, {str(out / 'w')!r}):
    try:
        p(target).write_text("w"); print("wrote", target)
    except OSError as e:
        print("refused", target)
try:
    socket.create_connection(("1.1.1.1", 80), timeout=2); print("network")
except OSError:
    print("no network")
print("pid", os.getpid(), "home", os.environ["HOME"].startswith({str(tmp_path / 'scratch')!r}))
import cvlab, torch
"""
    done = _run(spec, code)
    assert done.returncode == 0, done.stderr
    assert "secret False solutions False" in done.stdout and "shown x" in done.stdout
    assert f"refused {shown / 'w'}" in done.stdout and f"wrote {out / 'w'}" in done.stdout
    assert "no network" in done.stdout and "home True" in done.stdout
    assert int(done.stdout.split("pid ")[1].split()[0]) < 10  # its own PID namespace


def test_a_mask_hides_a_folder_behind_another(tmp_path):
    real, replacement = tmp_path / "real", tmp_path / "replacement"
    for folder in (real, replacement, tmp_path / "scratch"):
        folder.mkdir()
    (real / "expected.txt").write_text("the answer")
    (replacement / "inputs.txt").write_text("inputs only")
    spec = SandboxSpec(str(tmp_path / "scratch"), [*python_paths(tmp_path), str(real)],
                       masks=[(str(replacement), str(real))])
    done = _run(spec, f"import os; print(sorted(os.listdir({str(real)!r})))")
    assert done.stdout.strip() == "['inputs.txt']", done.stderr


def test_processes_are_capped_when_a_cgroup_can_be_made(tmp_path):
    group = ProcessGroup(Limits(processes=40))
    if not group.available:
        pytest.skip("no writable cgroup here (the rlimit fallback does not bind root)")
    group.remove()
    (tmp_path / "scratch").mkdir()
    spec = SandboxSpec(str(tmp_path / "scratch"), python_paths(tmp_path), limits=Limits(processes=40))
    code = """
import os, time
children = []
try:
    while len(children) < 500:
        pid = os.fork()
        if pid == 0:
            time.sleep(30); os._exit(0)
        children.append(pid)
except OSError:
    pass
print(len(children))
for pid in children:
    os.kill(pid, 9)
"""
    done = _run(spec, code)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) < 40
