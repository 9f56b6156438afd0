"""Run one student's update rule in a bubblewrap sandbox and call it from the grader.

The sandbox sees the Python installation read-only, a private ``/tmp`` and
nothing else: no course folder, no gradebook, no other submission, no network,
no shared process or IPC namespace. It has CPU, memory and file-size limits
(and a process cap where cgroups allow), every exchange has a wall-clock
deadline, and it dies with the grader, all its processes with it. What
comes back is numbers (see :mod:`._worker`), so a :class:`RuleProxy` behaves
like the student's function for the test code, which runs in the grader.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import _worker

START_SECONDS = 5.0
"""Wall clock to start Python and numpy and run the answer cell."""
CALL_SECONDS = 2.0
"""Wall clock per call of the rule; a correct rule on a few weights needs microseconds."""
CPU_SECONDS = 30
MEMORY_BYTES = 1 << 30
FILE_BYTES = 1 << 20
MAX_PROCESSES = 64


class SandboxError(RuntimeError):
    """The student's code hung, crashed the sandbox or broke the protocol."""


class StudentError(Exception):
    """The student's code raised; the message is theirs, the traceback stays in the sandbox."""


def bwrap_command(name: str, source_size: int) -> list[str]:
    """The bubblewrap command line that runs the worker for rule ``name``."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxError("bubblewrap is not installed (apt-get install bubblewrap)")
    command = [bwrap, "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534"]
    command += ["--cap-drop", "ALL", "--die-with-parent", "--new-session"]
    command += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", "/tmp"]
    for path in ("/usr", "/etc/ld.so.cache", *_python_roots()):
        command += ["--ro-bind", path, path]
    for link in ("bin", "lib", "lib64", "sbin"):
        if Path("/", link).is_symlink():
            command += ["--symlink", os.readlink(Path("/", link)), f"/{link}"]
    # If the course's own library is installed inside a bound tree, hide it so
    # an answer cannot simply call the reference rules.
    library = Path(__file__).resolve().parents[1]
    if any(library.is_relative_to(root) for root in _python_roots()):
        command += ["--tmpfs", str(library)]
    command += ["--clearenv", "--setenv", "HOME", "/tmp", "--setenv", "PATH", "/usr/bin"]
    for threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        command += ["--setenv", threads, "1"]
    worker = Path(_worker.__file__).read_text()
    return [*command, sys.executable, "-I", "-c", worker, name, str(source_size)]


def _python_roots() -> list[str]:
    """The installation and the environment the grader's Python runs from, as named and real."""
    roots = {sys.base_prefix, sys.prefix}
    return sorted({os.path.realpath(root) for root in roots} | roots)


def _limits(cgroup: Path | None):
    """What the sandbox's first process does before it becomes bubblewrap."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if cgroup is not None:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))

    return limit


def _pids_cgroup() -> Path | None:
    """A fresh cgroup that caps the number of processes, where the machine lets us make one.

    RLIMIT_NPROC cannot stop a fork bomb when the grader runs as root (root is
    exempt), so the cap comes from the pids controller; without it the PID
    namespace still kills every process of the sandbox when it ends.
    """
    for controller in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
        if not (controller / "cgroup.procs").is_file():
            continue
        try:
            cgroup = Path(tempfile.mkdtemp(prefix="losslandscape-sandbox-", dir=controller))
            (cgroup / "pids.max").write_text(str(MAX_PROCESSES))
        except OSError:
            continue
        return cgroup
    return None


def _remove_cgroup(cgroup: Path) -> None:
    for _ in range(50):  # the kernel may still be reaping the sandbox's processes
        try:
            cgroup.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)


class Sandbox:
    """One rule's answer cell, running in its own sandboxed process.

    Start it, then :meth:`wait_ready`; the start of several sandboxes overlaps.
    """

    def __init__(self, name: str, source: str):
        self.name = name
        self.error: str | None = None
        self.defined = False
        data = source.encode()
        self._cgroup = _pids_cgroup()
        self._process = subprocess.Popen(
            bwrap_command(name, len(data)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=_limits(self._cgroup),
            start_new_session=True,
        )
        self._deadline = time.monotonic() + START_SECONDS
        try:
            self._process.stdin.write(data)
            self._process.stdin.flush()
        except BrokenPipeError:
            pass

    def wait_ready(self) -> None:
        """Wait until the answer cell has run; records whether it defined the rule."""
        try:
            reply = self._receive(self._deadline, "running the answer cell")
        except SandboxError as exc:
            self.error = str(exc)
            self.close()
            return
        self.defined = reply.get("defined") is True
        self.error = reply.get("error") if isinstance(reply.get("error"), str) else None
        if not self.defined:
            self.error = self.error or f"the cell does not define {self.name}"
            self.close()

    def call(self, args: list) -> tuple[object, dict[int, object]]:
        """The rule's result for ``args`` and the arguments it changed in place."""
        if not self.defined:
            raise SandboxError(f"{self.name} is not available: {self.error}")
        message = json.dumps({"args": [_worker.encode(arg) for arg in args]}).encode()
        try:
            self._process.stdin.write(struct.pack(">I", len(message)) + message)
            self._process.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            self._fail("the sandbox process ended (did the code call os._exit or use too much?)")
        reply = self._receive(time.monotonic() + CALL_SECONDS, f"a call of {self.name}")
        changed = {int(i): _worker.decode(value) for i, value in reply.get("changed", {}).items()}
        if "error" in reply:
            raise StudentError(str(reply["error"]))
        try:
            return _worker.decode(reply["result"]), changed
        except _worker.Unsupported as exc:
            raise TypeError(f"{self.name} returned {exc}; return NumPy arrays") from None

    def _receive(self, deadline: float, doing: str) -> dict:
        header = self._read(4, deadline, doing)
        (size,) = struct.unpack(">I", header)
        if size > _worker.MAX_MESSAGE:
            self._fail("the sandbox sent more data than the grader accepts")
        try:
            reply = json.loads(self._read(size, deadline, doing))
        except ValueError:
            self._fail("the sandbox sent a malformed message")
        if not isinstance(reply, dict):
            self._fail("the sandbox sent a malformed message")
        return reply

    def _read(self, size: int, deadline: float, doing: str) -> bytes:
        data = b""
        stdout = self._process.stdout.fileno()
        while len(data) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail(f"timed out while {doing}: is there an endless loop?")
            ready, _, _ = select.select([stdout], [], [], remaining)
            if ready:
                chunk = os.read(stdout, size - len(data))
                if not chunk:
                    self._fail(
                        f"the sandbox process ended while {doing} (exit code "
                        f"{self._process.wait()}); did the code call os._exit, "
                        f"run out of CPU time ({CPU_SECONDS} s) or memory?"
                    )
                data += chunk
        return data

    def _fail(self, reason: str):
        self.defined = False
        self.error = reason
        self.close()
        raise SandboxError(reason)

    def close(self) -> None:
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout):
            with contextlib.suppress(OSError):
                pipe.close()
        if self._cgroup is not None:
            _remove_cgroup(self._cgroup)
            self._cgroup = None


class RuleProxy:
    """Stands in for the student's function in the grader's test code."""

    def __init__(self, sandbox: Sandbox):
        self._sandbox = sandbox
        self.__name__ = self.__qualname__ = sandbox.name

    def __call__(self, *args):
        result, changed = self._sandbox.call(list(args))
        # Mirror in-place changes, so a rule that mutates its inputs behaves
        # in the grader as it does in the student's kernel.
        for index, value in changed.items():
            if 0 <= index < len(args) and getattr(args[index], "shape", None) == value.shape:
                args[index][...] = value
        return result

    def __repr__(self) -> str:
        return f"<student's {self._sandbox.name}>"
