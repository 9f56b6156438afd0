"""Run one student's update rule in a bubblewrap sandbox and call it from the grader.

What the sandbox promises (the threat model is in the README):

- **No host privileges.** Student code runs as an unprivileged host user.
  When the grader is root, bubblewrap sets up the sandbox and ``setpriv``
  drops to :data:`SANDBOX_USER` (``nobody``) before Python starts: host uid
  65534, no capabilities, ``no_new_privs``. A grader that is not root runs
  bubblewrap unprivileged, as itself, with further user namespaces disabled.
- **Nothing of the grader's.** bubblewrap starts from :data:`SANDBOX_ENVIRONMENT`,
  not the grader's environment: when the grader is not root, the sandbox's
  first process (bubblewrap's init) runs as the same user as student code,
  which can read its ``/proc/1/environ``, and a hub puts its API token there.
- **Nothing to reach.** The root file system is an empty read-only tmpfs
  with the Python installation and ``/usr`` bound read-only: no course
  folder, no gradebook, no other submission, no ``/sys``, a ``/proc`` of its
  own PID namespace whose ``/proc/sys`` only root may write, no network, its
  own IPC and UTS namespaces.
- **Few system calls.** A seccomp filter (:data:`DENIED_SYSCALLS`) refuses
  what a numeric rule never needs: ptrace, mounts, namespaces, keyrings,
  BPF, perf, kernel modules, kexec, io_uring, personality, System V and
  POSIX IPC.
- **Bounded.** A fresh cgroup per sandbox caps processes and memory where
  the machine allows it; rlimits cap CPU, memory, file size and core dumps
  everywhere. A grader that is not root usually may not make cgroups; there the
  zygote caps the sandbox's own processes at :data:`MAX_SANDBOX_PROCESSES` (the
  kernel counts them per user namespace), and so its memory at that many
  times :data:`MEMORY_BYTES`. Every read and write has a deadline, and the
  grader's budget (see :class:`Budget`) kills a sandbox that takes too long.

What comes back is numbers (see :mod:`._worker`); a :class:`RuleProxy`
behaves like the student's function for the test code, which runs in the grader.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import pwd
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

SANDBOX_USER = "nobody"
"""The host account student code runs as when the grader is root."""
CPU_SECONDS = 60
"""Per process; the grader's wall-clock budget (:class:`Budget`) is the tighter bound."""
MEMORY_BYTES = 1 << 30
FILE_BYTES = 1 << 20
MAX_PROCESSES = 64
MAX_USER_PROCESSES = 1024
"""RLIMIT_NPROC for the sandbox user ``nobody``, whom every sandbox shares, when the grader is
root: a last cap on forks where no pids cgroup can be made."""
MAX_SANDBOX_PROCESSES = 4
"""Processes in one sandbox when the grader is not root: bubblewrap's init, the zygote, the
job's child and one more the student's code may start."""
SANDBOX_ENVIRONMENT = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
"""All the environment bubblewrap starts with: nothing of the grader's."""
STARTUP_SECONDS = 60.0
"""How long a sandbox may take to get ready (NumPy's import, on a loaded machine) before the
machine is blamed; not charged to the student's budget."""

DENIED_SYSCALLS = (
    # debugging and reading other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # mounts and namespaces
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "open_by_handle_at", "name_to_handle_at",
    # kernel interfaces a rule never needs
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "personality",
    "acct", "swapon", "swapoff", "reboot", "syslog", "iopl", "ioperm", "quotactl",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "fanotify_init",
    # state that would outlive a test: System V and POSIX IPC
    "shmget", "shmat", "semget", "msgget", "mq_open",
)  # fmt: skip
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME: clone may not
# make namespaces.
_NAMESPACE_FLAGS = (
    0x20000,
    0x2000000,
    0x4000000,
    0x8000000,
    0x10000000,
    0x20000000,
    0x40000000,
    0x80,
)


class SandboxError(RuntimeError):
    """The sandbox hung, ended, ran out of time or sent something unreadable."""


class SandboxUnavailable(RuntimeError):
    """The machine cannot run the sandbox; the message says why and what to do.

    A machine fault, never a student's: autograding stops and records nothing.
    """


class GraderFault(RuntimeError):
    """The grader itself got something wrong (its reference disagrees with itself, say).

    Never a student's fault: like :class:`SandboxUnavailable`, autograding stops and
    records nothing for the submission.
    """


class Budget:
    """A wall-clock allowance that starts when it is made."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.ends - time.monotonic()


def check_prerequisites() -> None:
    """Raise :class:`SandboxUnavailable`, saying why and what to do, unless a sandbox starts.

    Checks the tools, then starts one sandbox and waits until it is ready, so a
    machine that refuses it (no user namespaces, say) is found before anything
    is graded.
    """
    _check_tools()
    probe = Sandbox("probe", "")
    try:
        probe.wait_until_ready()
    finally:
        probe.close()


def _check_tools() -> None:
    missing = [tool for tool in ("bwrap", "setpriv", "prlimit") if shutil.which(tool) is None]
    if missing:
        raise SandboxUnavailable(
            "autograding runs student code in a bubblewrap sandbox, and this machine lacks "
            f"{' and '.join(missing)}: install the Debian packages bubblewrap and util-linux "
            "(`sudo apt-get install bubblewrap util-linux`, or `make system`)"
        )
    try:
        _seccomp_program()
    except Exception as exc:
        raise SandboxUnavailable(
            f"the sandbox's seccomp filter cannot be built ({exc}): install libseccomp2 "
            "(`sudo apt-get install libseccomp2`, or `make system`)"
        ) from None


@functools.cache
def _seccomp_program() -> bytes:
    """The compiled BPF filter bubblewrap loads: allow all but :data:`DENIED_SYSCALLS`."""
    import pyseccomp as seccomp

    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        with contextlib.suppress(OSError):  # a call libseccomp does not know
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
    # clone3 passes its flags in memory, where seccomp cannot look: make libc
    # fall back to clone, whose flags it can check.
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    for flag in _NAMESPACE_FLAGS:
        rules.add_rule(
            seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag)
        )
    with tempfile.TemporaryFile() as file:
        rules.export_bpf(file)
        file.seek(0)
        return file.read()


def bwrap_command(name: str, seccomp_fd: int) -> list[str]:
    """The command line that runs the worker for rule ``name`` in the sandbox."""
    privileged = os.geteuid() == 0
    command = [shutil.which("bwrap"), "--die-with-parent", "--new-session"]
    if privileged:
        # bubblewrap mounts as root, then setpriv drops to the sandbox user
        # before Python starts: the student's host uid is not 0.
        command += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
        command += ["--unshare-cgroup-try", "--cap-drop", "ALL"]
        command += [
            arg for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP") for arg in ("--cap-add", cap)
        ]
    else:
        command += ["--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
    command += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev"]
    command += ["--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin"):
        if Path("/", link).is_symlink():
            command += ["--symlink", os.readlink(Path("/", link)), f"/{link}"]
    for path in ("/etc/ld.so.cache", *_python_roots()):
        # Parents are made world-searchable: the sandbox user may not search /root.
        for parent in reversed(Path(path).parents[:-1]):
            command += ["--perms", "0755", "--dir", str(parent)]
        command += ["--ro-bind", path, path]
    # If the course's own library is installed inside a bound tree, hide it so
    # an answer cannot simply call the reference rules.
    library = Path(__file__).resolve().parents[1]
    if any(library.is_relative_to(root) for root in _python_roots()):
        command += ["--tmpfs", str(library), "--remount-ro", str(library)]
    command += ["--remount-ro", "/", "--chdir", "/", "--clearenv"]
    command += ["--setenv", "HOME", "/", "--setenv", "PATH", "/usr/bin"]
    for threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        command += ["--setenv", threads, "1"]
    command += ["--seccomp", str(seccomp_fd)]
    if privileged:
        user = pwd.getpwnam(SANDBOX_USER)
        command += ["/usr/bin/setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}"]
        command += ["--clear-groups", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"]
        command += ["--"]
    worker = Path(_worker.__file__).read_text()
    command += [sys.executable, "-I", "-c", worker, name]
    if not privileged:
        command += ["--max-processes", str(MAX_SANDBOX_PROCESSES)]
    return command


def _python_roots() -> list[str]:
    """The installation and the environment the grader's Python runs from, as named and real."""
    roots = {sys.base_prefix, sys.prefix}
    return sorted({os.path.realpath(root) for root in roots} | roots)


def _launcher(cgroups: list[Path]) -> list[str]:
    """The commands that limit the sandbox's first process before it becomes bubblewrap.

    A shell moves itself into the sandbox's cgroups, then ``prlimit`` sets the
    rlimits: no Python runs between fork and exec, which would not be safe in
    the grader, where rules are graded in threads side by side.
    """
    limits = [f"--as={MEMORY_BYTES}", f"--cpu={CPU_SECONDS}", f"--fsize={FILE_BYTES}", "--core=0"]
    if os.geteuid() == 0:  # counts the sandbox user's processes once setpriv has run
        limits.append(f"--nproc={MAX_USER_PROCESSES}")
    join = 'while [ "$1" != -- ]; do echo $$ > "$1"; shift; done; shift; exec "$@"'
    procs = [str(cgroup / "cgroup.procs") for cgroup in cgroups]
    return ["/bin/sh", "-c", join, "sh", *procs, "--", shutil.which("prlimit"), *limits, "--"]


# Where a fresh cgroup may go and what caps it, per controller: cgroup v2 first.
_CGROUP_LIMITS = (
    ("", {"pids.max": MAX_PROCESSES, "memory.max": MEMORY_BYTES, "memory.swap.max": 0}),
    ("pids", {"pids.max": MAX_PROCESSES}),
    ("memory", {"memory.limit_in_bytes": MEMORY_BYTES}),
)


def _make_cgroups() -> list[Path]:
    """Fresh cgroups capping the sandbox's processes and memory, where the machine allows.

    Each is made below the grader's own cgroup in its hierarchy. Where none
    can be made (no permission, no controller), the rlimits still hold.
    """
    made = []
    for controller, limits in _CGROUP_LIMITS:
        parent = _own_cgroup(controller)
        if parent is None:
            continue
        try:
            cgroup = Path(tempfile.mkdtemp(prefix="losslandscape-sandbox-", dir=parent))
        except OSError:
            continue
        applied = False
        for key, value in limits.items():
            with contextlib.suppress(OSError):
                (cgroup / key).write_text(str(value))
                applied = True
        if applied:
            made.append(cgroup)
            if controller == "":
                break  # v2 holds both caps
        else:
            _remove_cgroup(cgroup)
    return made


def _own_cgroup(controller: str) -> Path | None:
    """The grader's cgroup folder for ``controller`` ("" for the unified v2 hierarchy)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or (controller == controllers == ""):
            mount = Path("/sys/fs/cgroup", controller)
            if controller == "" and not (mount / "cgroup.controllers").is_file():
                return None
            folder = mount / path.lstrip("/")
            return folder if (folder / "cgroup.procs").is_file() else None
    return None


def _remove_cgroup(cgroup: Path) -> None:
    for _ in range(100):  # the kernel may still be reaping the sandbox's processes
        try:
            cgroup.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)


class Sandbox:
    """One rule's answer cell, behind a zygote process in its own sandbox.

    Every :meth:`run` forks a fresh child that runs the answer cell and one
    job (see :mod:`._worker`); nothing carries over from one job to the next.
    The sandbox starts at once; several start side by side.
    """

    def __init__(self, name: str, source: str):
        self.name = name
        _check_tools()
        seccomp_read, seccomp_write = os.pipe()
        os.write(seccomp_write, _seccomp_program())  # far below a pipe's buffer
        os.close(seccomp_write)
        self._cgroups = _make_cgroups()
        # What bubblewrap says when it cannot start; the worker sends nothing here.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        try:
            self._process = subprocess.Popen(
                [*_launcher(self._cgroups), *bwrap_command(name, seccomp_read)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                pass_fds=(seccomp_read,),
                env=SANDBOX_ENVIRONMENT,
                cwd="/",
                start_new_session=True,
            )
        except OSError as exc:  # no process to spare, say
            for cgroup in self._cgroups:
                _remove_cgroup(cgroup)
            self._stderr.close()
            raise SandboxUnavailable(
                f"the machine refused to start a sandbox ({exc}). No grade was changed."
            ) from None
        finally:
            os.close(seccomp_read)
        os.set_blocking(self._process.stdin.fileno(), False)
        self._pending = _frame(source.encode())
        self._ready = False
        self._stderr_text = ""

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def wait_until_ready(self) -> None:
        """Return once the zygote says it is set up, before it reads any student code.

        Raises :class:`SandboxUnavailable`, with bubblewrap's own words, if the
        sandbox ends or stalls first: then the machine failed, not the student,
        whose code has not run. The wait is not charged to the student's budget.
        """
        if self._ready:
            return
        deadline = time.monotonic() + STARTUP_SECONDS
        try:
            greeting = self._read_frame(deadline)
        except SandboxError:
            # Ended (its output closed) before the deadline, or still silent at it.
            stalled = time.monotonic() >= deadline
            self.close()
            if stalled:
                raise SandboxUnavailable(
                    f"a sandbox did not get ready within {STARTUP_SECONDS:g} s; is the "
                    "machine overloaded? No grade was changed."
                ) from None
            raise SandboxUnavailable(_cannot_start(self._stderr_text)) from None
        if greeting != _worker.READY:
            self.close()
            raise SandboxUnavailable(f"the sandbox of {self.name} started something else")
        self._ready = True

    def run(self, job: dict, deadline: float) -> dict:
        """The reply to ``job``, parsed; raises :class:`SandboxError` by ``deadline``.

        A reply is hostile data: whatever cannot be parsed, however it fails,
        is a :class:`SandboxError`, and the sandbox is closed.
        """
        self.wait_until_ready()
        try:
            self._write(self._pending + _frame(json.dumps(job).encode()), deadline)
            self._pending = b""
            verdict = json.loads(self._read_frame(deadline))
            payload = self._read_frame(deadline)
            if not isinstance(verdict, dict):
                raise ValueError("not a verdict")
        except SandboxError:
            self.close()
            raise
        except ValueError:
            self.close()
            raise SandboxError(f"the sandbox of {self.name} broke the protocol") from None
        if verdict.get("oversized"):
            raise SandboxError("the rule sent back more data than the grader accepts")
        try:
            reply = json.loads(payload)
        except Exception:  # RecursionError, MemoryError, UnicodeError, ...: all the same
            reply = None
        if isinstance(reply, dict) and "crashed" in reply:
            raise SandboxError(f"{self.name} could not be run: {str(reply['crashed'])[:500]}")
        if not isinstance(reply, dict) and payload:
            raise SandboxError(
                f"the process running {self.name} sent a reply the grader cannot read"
            )
        if not isinstance(reply, dict):
            status = verdict.get("status")
            raise SandboxError(
                f"the process running {self.name} ended without an answer (exit status "
                f"{status}); did the code call os._exit, or use too much memory or CPU?"
            )
        return reply

    def _write(self, data: bytes, deadline: float) -> None:
        stdin = self._process.stdin.fileno()
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxError(f"{self.name} did not take its input in time")
            _, ready, _ = select.select([], [stdin], [], remaining)
            if ready:
                try:
                    view = view[os.write(stdin, view) :]
                except BlockingIOError:
                    continue
                except OSError:
                    raise SandboxError(f"the sandbox of {self.name} has ended") from None

    def _read_frame(self, deadline: float) -> bytes:
        (size,) = struct.unpack(">I", self._read(4, deadline))
        if size > _worker.MAX_MESSAGE:
            raise SandboxError(f"the sandbox of {self.name} sent an oversized message")
        return self._read(size, deadline)

    def _read(self, size: int, deadline: float) -> bytes:
        data = bytearray()
        stdout = self._process.stdout.fileno()
        while len(data) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxError(f"{self.name} ran out of time")
            ready, _, _ = select.select([stdout], [], [], remaining)
            if ready:
                chunk = os.read(stdout, size - len(data))
                if not chunk:
                    raise SandboxError(f"the sandbox of {self.name} ended")
                data += chunk
        return bytes(data)

    def close(self) -> None:
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout):
            with contextlib.suppress(OSError):
                pipe.close()
        for cgroup in self._cgroups:
            _remove_cgroup(cgroup)
        self._cgroups = []
        if not self._stderr.closed:
            self._stderr.seek(0)
            self._stderr_text = self._stderr.read(2000).decode("utf-8", "replace").strip()
            self._stderr.close()


def _cannot_start(said: str) -> str:
    """Why a sandbox ended before it was ready, and what to do, in one message."""
    said = " ".join(said.split()).rstrip(".") or "nothing"
    message = f"the sandbox cannot start on this machine; bubblewrap said: {said}."
    if os.geteuid() != 0:
        message += (
            " Autograding as an ordinary user needs unprivileged user namespaces: "
            "`sysctl user.max_user_namespaces` must be above 0, and where they exist "
            "`kernel.unprivileged_userns_clone=1` (Debian) and "
            "`kernel.apparmor_restrict_unprivileged_userns=0` (Ubuntu 23.10 and later); "
            "in a container, a seccomp profile that allows them (see the README, "
            "'Teaching a class'). No grade was changed."
        )
    else:
        message += " No grade was changed."
    return message


def _frame(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


class RuleProxy:
    """Stands in for the student's function in the grader's test code.

    Calling it runs the rule once in a fresh process of its sandbox; the
    runs in :mod:`.runs` send it whole jobs (a run of steps, a trajectory)
    through :meth:`run`. Every job's deadline is what is
    left of the rule's and the submission's budgets; once either is spent,
    the sandbox is killed and every further job fails at once. A sandbox that
    dies is started again for the next job.
    """

    def __init__(
        self,
        name: str,
        source: str,
        budgets: tuple[Budget, ...],
        *,
        unavailable: str | None = None,
    ):
        self.__name__ = self.__qualname__ = name
        self._source = source
        self._budgets = budgets
        self._unavailable = unavailable
        self.out_of_time = False
        self.machine_fault: SandboxUnavailable | None = None
        """Set when the machine failed this rule's sandbox, even if test code caught it."""
        self._sandbox = None if unavailable else self._start()

    def _start(self) -> Sandbox:
        try:
            return Sandbox(self.__name__, self._source)
        except SandboxUnavailable as exc:
            self.machine_fault = exc
            raise

    def run(self, job: dict) -> dict:
        """The sandbox's reply to ``job``, a dict; raises :class:`SandboxError`.

        A rule whose answer the grader would not run (``unavailable``) answers
        every job as undefined, with that reason.
        """
        if self._unavailable:
            return {"undefined": self._unavailable}
        remaining = min(budget.remaining() for budget in self._budgets)
        if self.out_of_time or remaining <= 0:
            self._out_of_time()
        if self._sandbox is None or not self._sandbox.alive:
            self.close()
            self._sandbox = self._start()
        try:
            return self._sandbox.run(job, time.monotonic() + remaining)
        except SandboxUnavailable as exc:
            self.machine_fault = exc
            raise
        except SandboxError:
            if min(budget.remaining() for budget in self._budgets) <= 0:
                self._out_of_time()
            raise

    def _out_of_time(self):
        self.out_of_time = True
        self.close()
        rule, submission = (budget.seconds for budget in self._budgets)
        raise SandboxError(
            f"{self.__name__} ran out of grading time (each rule may take {rule:g} s, "
            f"each submission {submission:g} s): is there an endless loop or a sleep?"
        )

    def __call__(self, *args):
        reply = self.run({"kind": "call", "args": [_worker.encode(arg) for arg in args]})
        if "undefined" in reply:
            raise NameError(f"{self.__name__} is not defined: {str(reply['undefined'])[:500]}")
        failure = reply.get("failure")
        if failure is not None:
            raise StudentError(str(failure.get("message") if isinstance(failure, dict) else ""))
        try:
            result = _worker.decode(reply["result"])
            changed = {int(i): _worker.decode(v) for i, v in dict(reply.get("changed", {})).items()}
        except _worker.Unsupported as exc:
            raise TypeError(f"{self.__name__} returned {exc}; return NumPy arrays") from None
        except Exception:
            raise SandboxError(f"the sandbox of {self.__name__} sent a malformed reply") from None
        # Mirror in-place changes, so a rule that mutates its inputs behaves
        # in the grader as it does in the student's kernel.
        for index, value in changed.items():
            if 0 <= index < len(args) and getattr(args[index], "shape", None) == value.shape:
                args[index][...] = value
        return result

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    def __repr__(self) -> str:
        return f"<student's {self.__name__}>"


class StudentError(Exception):
    """The student's code raised; the message is theirs, the traceback stays in the sandbox."""
