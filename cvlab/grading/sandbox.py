"""Run a grading kernel inside a bubblewrap sandbox: its own view of the files, no network, bounded resources.

``python -m cvlab.grading autograde`` starts every submission's kernel through :class:`SandboxKernelManager`
(``Execute.kernel_manager_class``), which wraps the kernel's command line in ``bwrap``
(`bubblewrap <https://github.com/containers/bubblewrap>`_, Debian package ``bubblewrap``). Inside the sandbox:

* a read-only view of the system (``/usr``, the dynamic loader's files), of the Python environment (prefixes and
  ``sys.path``, the course root excepted) and of the ``cvlab`` package -- never ``solutions/``, the gradebook, the
  CSV, other submissions or the hidden expectations (the kernel's case copy holds the hidden *inputs* only);
* writable: a private scratch folder as ``HOME``, ``TMPDIR``, ``IPYTHONDIR`` and ``MPLCONFIGDIR``, a private copy of
  the notebook's folder as the working directory, the kernel's socket folder -- all deleted afterwards;
* no network (``--unshare-net``; the kernel talks to nbgrader over Unix sockets), its own PID namespace
  (``--unshare-pid``, ``--die-with-parent``): every process the notebook started dies with its kernel;
* limits: memory and process count through a cgroup when one can be created (root, or a delegated cgroup), else
  ``RLIMIT_AS`` and ``RLIMIT_NPROC`` (the kernel ignores ``RLIMIT_NPROC`` for root); CPU time through
  ``RLIMIT_CPU``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client import AsyncKernelManager

SANDBOX_ENV = "CVLAB_GRADING_SANDBOX"
INSTALL_HINT = ("the grading sandbox needs bubblewrap: install it (Debian/Ubuntu: `apt-get install bubblewrap`, "
                "Fedora: `dnf install bubblewrap`), or pass --no-sandbox for a trusted run")
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf", "hosts", "localtime",
        "fonts", "mime.types", "alternatives", "ssl")
_CGROUP = Path("/sys/fs/cgroup")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create a sandbox on this machine."""


@dataclass
class Limits:
    """Resource limits of one sandboxed kernel (all its processes together, where a cgroup can be made)."""

    memory_bytes: int = 4 * 2**30
    processes: int = 256  # threads count too
    cpu_seconds: int = 1800


@dataclass
class SandboxSpec:
    """What one sandbox sees: read-only and writable folders (host path -> same path inside), and its limits."""

    scratch: str  # private writable folder: HOME, TMPDIR, ... live under it
    readonly: list[str] = field(default_factory=list)
    writable: list[str] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    masks: list[tuple[str, str]] = field(default_factory=list)  # (host folder, path it hides inside), read-only

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, text: str) -> SandboxSpec:
        data = json.loads(text)
        return cls(data["scratch"], data["readonly"], data["writable"], Limits(**data["limits"]),
                   [tuple(pair) for pair in data.get("masks", [])])


def bwrap() -> str:
    """The path of ``bwrap``; raise :class:`SandboxUnavailable` (saying how to install it) when there is none."""
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(INSTALL_HINT)
    return path


def python_paths(exclude: Path | None = None) -> list[str]:
    """Folders the kernel's Python needs: the prefixes, the ``sys.path`` folders and the ``cvlab`` package.

    A ``sys.path`` folder that holds ``exclude`` (the course root) or is a source checkout of cvlab (it holds
    ``cvlab/`` beside ``pyproject.toml`` or ``solutions/``, e.g. ``PYTHONPATH=.`` in a course repository) is left
    out: only its ``cvlab`` package is shown, so no ``solutions/`` is ever in sight.
    """
    import cvlab

    folders = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    folders.add(Path(sys.executable).resolve().parent)
    for entry in sys.path:
        path = Path(entry or ".").resolve()
        if not path.is_dir():
            continue
        if exclude is not None and (path == exclude or exclude.is_relative_to(path)):
            continue
        if (path / "cvlab").is_dir() and any((path / name).exists() for name in ("pyproject.toml", "solutions")):
            continue
        folders.add(path)
    folders.add(Path(cvlab.__file__).resolve().parent)
    return sorted(str(f) for f in folders)


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in _ETC:
        if (Path("/etc") / name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    args += ["--ro-bind-try", "/sys", "/sys"]
    for device in sorted(Path("/dev").glob("nvidia*")):  # CUDA, when the machine has it
        args += ["--dev-bind", str(device), str(device)]
    return args


def command(spec: SandboxSpec, argv: list[str], cwd: str | None = None) -> list[str]:
    """The ``bwrap`` command line that runs ``argv`` in the sandbox described by ``spec`` (in ``cwd``)."""
    scratch = spec.scratch
    args = [bwrap(), "--unshare-all", "--die-with-parent", "--new-session", "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp", *_system_binds()]
    for folder in spec.readonly:
        args += ["--ro-bind", folder, folder]
    for source, hidden in spec.masks:  # bound after (over) the read-only folders
        args += ["--ro-bind", source, hidden]
    for folder in [scratch, *spec.writable]:
        args += ["--bind", folder, folder]
    for name, sub in (("HOME", "home"), ("TMPDIR", "tmp"), ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "mpl"),
                      ("JUPYTER_RUNTIME_DIR", "runtime")):
        Path(scratch, sub).mkdir(parents=True, exist_ok=True)
        args += ["--setenv", name, f"{scratch}/{sub}"]
    args += ["--unsetenv", "JPY_PARENT_PID"]  # the kernel's parent is outside its PID namespace (it dies with it)
    if cwd is not None:
        args += ["--chdir", cwd]
    return [*args, "--", *argv]


class ProcessGroup:
    """A cgroup (v1 or v2) for one sandbox: caps its memory and process count; kills every process in it at the end.

    ``available`` is False when no cgroup can be created here (then rlimits are used instead).
    """

    def __init__(self, limits: Limits):
        self.folders: list[Path] = []
        name = f"cvlab-grading-{uuid.uuid4().hex[:12]}"
        unified = (_CGROUP / "cgroup.controllers").is_file()
        wanted = {"pids": ("pids.max", limits.processes),
                  "memory": ("memory.max" if unified else "memory.limit_in_bytes", limits.memory_bytes)}
        try:
            for controller, (knob, value) in wanted.items():
                folder = _CGROUP / name if unified else _CGROUP / controller / name
                if folder not in self.folders:
                    folder.mkdir()
                    self.folders.append(folder)
                (folder / knob).write_text(str(value))
            if not unified:  # no swapping around the memory limit
                with contextlib.suppress(OSError):
                    (self.folders[-1] / "memory.memsw.limit_in_bytes").write_text(str(limits.memory_bytes))
        except OSError:
            self.remove()
            self.folders = []

    @property
    def available(self) -> bool:
        return bool(self.folders)

    def join_command(self) -> list[str]:
        """A shell prefix that moves itself into the group, then runs the rest of the command line."""
        joins = " && ".join(f"echo $$ > {folder}/cgroup.procs" for folder in self.folders)
        return ["/bin/sh", "-c", f'{joins} && exec "$@"', "sh"]

    def kill(self) -> None:
        for folder in self.folders:
            with contextlib.suppress(OSError):
                for pid in (folder / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        os.kill(int(pid), signal.SIGKILL)

    def remove(self) -> None:
        self.kill()
        for folder in self.folders:
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except OSError:
                    time.sleep(0.05)


def limit_command(limits: Limits, group: ProcessGroup) -> list[str]:
    """``prlimit`` options: CPU time always; address space and process count when there is no cgroup."""
    args = ["prlimit", f"--cpu={limits.cpu_seconds}"]
    if not group.available:
        args += [f"--as={limits.memory_bytes * 4}", f"--nproc={limits.processes}"]
    return [*args, "--"]


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs in the sandbox described by ``CVLAB_GRADING_SANDBOX`` (JSON of a
    :class:`SandboxSpec`, set by the grading worker for each submission); it talks to the kernel over Unix
    sockets in the sandbox's ``ipc`` folder, and kills every process of the sandbox when the kernel stops."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        text = os.environ.get(SANDBOX_ENV, "")
        if not text:
            raise SandboxUnavailable(f"{SANDBOX_ENV} is not set: the grading worker sets it for each submission")
        self.spec = SandboxSpec.from_env(text)
        ipc = Path(self.spec.scratch, "ipc")
        ipc.mkdir(parents=True, exist_ok=True)
        self.transport = "ipc"
        self.ip = str(ipc / "kernel")
        self.connection_file = str(ipc / "kernel.json")
        self.group: ProcessGroup | None = None

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        self.group = ProcessGroup(self.spec.limits)
        cwd = kw.get("cwd")
        if cwd is not None:  # the working directory: a private copy of the notebook's folder in the scratch
            private = Path(self.spec.scratch, "cwd")
            if not private.exists():
                shutil.copytree(cwd, private, symlinks=True)
            cwd = str(private)
        wrapped = command(self.spec, kernel_cmd, cwd)
        prefix = (self.group.join_command() if self.group.available else []) + limit_command(self.spec.limits,
                                                                                              self.group)
        kw.pop("cwd", None)
        kw.setdefault("stdout", subprocess.DEVNULL)  # its "to connect another client" banner: not for the log
        await super()._async_launch_kernel([*prefix, *wrapped], **kw)

    async def _async_interrupt_kernel(self) -> None:
        # A signal would reach bwrap, not the kernel (another PID namespace), and end the sandbox: ask the kernel
        # over its control channel instead, as jupyter_client does for kernels whose interrupt mode is "message".
        self._connect_control_socket()
        self.session.send(self._control_socket, self.session.msg("interrupt_request", content={}))

    interrupt_kernel = _async_interrupt_kernel  # AsyncKernelManager binds the name to its base class's method

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self.group is not None and not restart:
            self.group.remove()
