"""What the sandbox promises, checked from inside it with real student code.

Every promise is checked twice: with the grader as root, and with the grader as an
ordinary Unix user running the shared environment, as a hub runs it (``grader``).
"""

import json
import os
import pwd
import secrets
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from losslandscape import grading
from losslandscape.grading import sandbox as sandbox_module
from losslandscape.grading.sandbox import Budget, RuleProxy, SandboxError

from .sandbox_driver import run_calls

ROOT = Path(__file__).resolve().parents[1]
DRIVER = Path(__file__).with_name("sandbox_driver.py")
CANARY = f"canary-{secrets.token_hex(8)}"
"""Planted in the grader's environment and in a file of the grader's: found nowhere inside."""


class Grader:
    """Runs a rule's calls through the sandbox from a grader as root, in this process."""

    def __init__(self, home: Path):
        self.home = home
        self.canary_file = home / "canary.txt"
        self.canary_file.write_text(CANARY)

    @property
    def privileged(self) -> bool:
        return True

    def calls(self, source: str, calls: list, rule_seconds: float = 20.0) -> list[dict]:
        return self.run(source, calls, rule_seconds)["outcomes"]

    def run(self, source: str, calls: list, rule_seconds: float = 20.0) -> dict:
        return run_calls(source, calls, rule_seconds)


class OrdinaryUserGrader(Grader):
    """The same, from a grader that is an ordinary Unix user (``sandbox_driver.py`` as it)."""

    def __init__(self, user, python: Path):
        self.user = user
        self.python = python
        super().__init__(user.home)
        os.chown(self.canary_file, user.uid, user.gid)
        self.canary_file.chmod(0o600)

    @property
    def privileged(self) -> bool:
        return False

    @property
    def uid(self) -> int:
        return self.user.uid

    def run(self, source: str, calls: list, rule_seconds: float = 20.0) -> dict:
        environment = [f"HOME={self.home}", "PATH=/usr/bin:/bin", f"GRADER_SECRET={CANARY}"]
        result = subprocess.run(
            ["runuser", "-u", self.user.name, "--", "env", "-i", *environment,
             str(self.python), str(DRIVER)],
            input=json.dumps({"source": source, "calls": calls, "rule_seconds": rule_seconds}),
            cwd=self.home, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout)


@pytest.fixture(scope="module", params=["root", "ordinary user"])
def grader(request, tmp_path_factory):
    if request.param == "root":
        os.environ["GRADER_SECRET"] = CANARY
        yield Grader(tmp_path_factory.mktemp("grader"))
        del os.environ["GRADER_SECRET"]
    else:
        env = request.getfixturevalue("shared_env")
        user = request.getfixturevalue("unix_user")()
        yield OrdinaryUserGrader(user, env / "bin" / "python")


def value(outcome: dict):
    assert "value" in outcome, outcome
    return outcome["value"]


def probe(grader: Grader, body: str) -> dict:
    """Run ``body`` (which sets ``found``, a dict of numbers) in a sandbox; return ``found``."""
    keys = []
    for line in body.splitlines():
        if line.startswith("found["):
            keys.append(line.split('"')[1])
    source = (
        "import ctypes, errno, os, socket, sys\n"
        "found = {}\n"
        + body
        + f"\nKEYS = {keys!r}\n"
        + "def sgd_step(w, grad, lr):\n"
        + "    return np.array([float(found[k]) for k in KEYS])\n"
    )
    (outcome,) = grader.calls(source, [[[0.0], [0.0], 1.0]])
    return dict(zip(keys, value(outcome), strict=True))


def proxy(source: str, rule_seconds: float = 20.0) -> RuleProxy:
    return RuleProxy("sgd_step", source, (Budget(rule_seconds), Budget(90.0)))


def test_student_code_runs_as_an_unprivileged_host_user(grader):
    found = probe(
        grader,
        """
status = open("/proc/self/status").read()
found["no_new_privs"] = int(status.split("NoNewPrivs:")[1].split()[0])
found["seccomp_mode"] = int(status.split("Seccomp:")[1].split()[0])
found["capabilities"] = int(status.split("CapEff:")[1].split()[0], 16)
""",
    )
    assert found == {"no_new_privs": 1, "seccomp_mode": 2, "capabilities": 0}  # 2: a filter
    # Who the host sees running the sandbox: `nobody` for a root grader, else the grader.
    expected = pwd.getpwnam(sandbox_module.SANDBOX_USER).pw_uid if grader.privileged else grader.uid
    assert grader.run("def sgd_step(w, grad, lr):\n    return w", [[[0.0], [0.0], 1.0]])[
        "host_uids"
    ] == [expected]


def test_kernel_knobs_and_the_file_system_are_read_only(grader):
    found = probe(
        grader,
        """
def writable(path):
    try:
        with open(path, "w") as file:
            file.write("x")
        return True
    except OSError:
        return False
found["core_pattern"] = writable("/proc/sys/kernel/core_pattern")
found["sysrq"] = writable("/proc/sysrq-trigger")
found["root"] = writable("/evil")
found["python"] = writable(os.path.join(sys.prefix, "evil"))
found["dev_shm"] = writable("/dev/shm/evil")
found["sys_mounted"] = os.path.exists("/sys/kernel")
""",
    )
    assert found == dict.fromkeys(found, 0.0)


def test_the_course_and_the_network_are_out_of_reach(grader):
    found = probe(
        grader,
        f"""
found["course"] = any(os.path.exists(p) for p in {[str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "solutions")]!r})
try:
    import losslandscape
    found["library"] = 1
except ImportError:
    found["library"] = 0
try:
    socket.create_connection(("127.0.0.1", 22), timeout=1)
    found["network"] = 1
except OSError:
    found["network"] = 0
found["processes"] = len([p for p in os.listdir("/proc") if p.isdigit()]) > 5
""",
    )
    assert found == dict.fromkeys(found, 0.0)


def test_the_seccomp_filter_denies_what_a_rule_never_needs(grader):
    found = probe(
        grader,
        """
libc = ctypes.CDLL(None, use_errno=True)
def denied(result):
    return result == -1 and ctypes.get_errno() in (errno.EPERM, errno.ENOSYS)
def forks():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    return os.waitpid(pid, 0)[1] == 0
found["unshare_user"] = denied(libc.unshare(0x10000000))
found["unshare_mount"] = denied(libc.unshare(0x20000))
found["ptrace"] = denied(libc.ptrace(16, os.getppid(), 0, 0))
found["mount"] = denied(libc.mount(b"none", b"/", b"tmpfs", 0, None))
found["personality"] = denied(libc.personality(0x0040000))
found["shmget"] = denied(libc.shmget(0, 4096, 0o1600))
found["fork_still_works"] = forks()
""",
    )
    assert found == dict.fromkeys(found, 1.0)


def test_nothing_carries_over_from_one_test_to_the_next(grader):
    counting = """
import os, subprocess
calls = 0
def sgd_step(w, grad, lr):
    global calls
    calls += 1
    # a process left behind, which the next test could ask
    if os.fork() == 0:
        import time
        time.sleep(60)
        os._exit(0)
    alive = len([p for p in os.listdir("/proc") if p.isdigit()])
    return np.array([calls, alive], dtype=float)
"""
    first, second = grader.calls(counting, [[[0.0], [0.0], 1.0]] * 2)
    # every call counts from 1, and finds only bubblewrap, the zygote, itself and its child
    assert value(first) == value(second) == [1.0, 4.0]


# Reads what a sandbox could show of the grader, and returns it as bytes in an array.
SNOOP = """
import glob, os
def sgd_step(w, grad, lr):
    seen = []
    for pattern in ("/proc/*/environ", "/proc/*/cmdline", "/proc/self/mounts",
                    "/proc/*/task/*/environ", "/proc/1/root/" + PLANTED):
        for path in glob.glob(pattern):
            try:
                seen.append(path + ": " + open(path, "rb").read().decode("latin-1"))
            except OSError as error:
                seen.append(path + ": " + str(error))
    for path in glob.glob("/proc/*/fd/*") + glob.glob("/proc/*/cwd"):
        try:
            seen.append(path + " -> " + os.readlink(path))
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a pipe's end must not block
            seen.append(os.read(fd, 4096).decode("latin-1"))
            os.close(fd)
        except OSError as error:
            seen.append(path + ": " + str(error))
    try:
        seen.append(open(PLANTED).read())
    except OSError as error:
        seen.append(str(error))
    text = "\\n".join(seen).encode("latin-1", "replace")
    return np.frombuffer(text.ljust(-(-len(text) // 8) * 8), dtype=np.uint8).astype(float)
"""


def test_nothing_of_the_graders_environment_or_files_shows_inside(grader):
    """From inside, every process's environment, command line, descriptors and mounts, and
    the grader's own file: a secret planted in the grader's environment and in that file
    shows nowhere, nor the grader's home."""
    (outcome,) = grader.calls(
        f"PLANTED = {str(grader.canary_file)!r}\n{SNOOP}", [[[0.0], [0.0], 1.0]]
    )
    seen = bytes(np.array(value(outcome), dtype=np.uint8)).decode("latin-1")
    assert "/proc/1/environ" in seen and "/proc/self/mounts" in seen  # it did look
    assert CANARY not in seen
    assert str(grader.home) not in seen.replace(str(grader.canary_file), "")


def test_a_fork_bomb_hits_the_process_cap(grader):
    bomb = """
import os, time
def sgd_step(w, grad, lr):
    children = 0
    try:
        for _ in range(500):
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
            children += 1
    except OSError:
        pass
    return np.array([children])
"""
    (outcome,) = grader.calls(bomb, [[[0.0], [0.0], 1.0]])
    if grader.privileged:  # the sandbox's pids cgroup
        assert value(outcome)[0] < sandbox_module.MAX_PROCESSES
    else:  # bubblewrap's init, the zygote and the job's child are there already
        assert value(outcome) == [sandbox_module.MAX_SANDBOX_PROCESSES - 3]


HOARD = """
import os, select, time
def sgd_step(w, grad, lr):
    # Four processes each take 512 MiB and say so once they hold it; count those that
    # hold it at the same time.
    read_end, write_end = os.pipe()
    children = []
    for _ in range(3):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            block = bytearray(512 << 20)
            block[::4096] = b"x" * len(block[::4096])
            os.write(write_end, b"1")
            time.sleep(60)
            os._exit(0)
        children.append(pid)
    block = bytearray(512 << 20)
    block[::4096] = b"x" * len(block[::4096])
    said, alive, waited = 0, set(children), time.monotonic()
    while said < len(alive) and time.monotonic() - waited < 30:
        alive = {pid for pid in alive if os.waitpid(pid, os.WNOHANG) == (0, 0)}
        if select.select([read_end], [], [], 0.2)[0]:
            said += 1
    return np.array([1.0 + min(said, len(alive))])
"""


def test_memory_spread_over_processes_is_capped_too(grader):
    """Four processes of 512 MiB each: 2 GiB, which the sandbox never holds at once; at most
    two hold theirs together (the memory cgroup of 1 GiB as root, the process cap as an
    ordinary user)."""
    (outcome,) = grader.calls(HOARD, [[[0.0], [0.0], 1.0]])
    if "error" not in outcome:  # the grader's own process may be the one stopped
        held = value(outcome)[0]
        assert held <= 2


def test_a_rule_that_sleeps_is_stopped_by_its_budget():
    """A call that sleeps lr seconds: a short one passes, an hour-long one is stopped by
    the rule's budget (10 s) long before it ends, and the rule stays stopped. The margins
    are wide, so a busy machine does not change the outcome."""
    rule = proxy("import time\ndef sgd_step(w, grad, lr):\n    time.sleep(lr)\n    return w", 10)
    started = time.monotonic()
    try:
        rule(np.zeros(1), np.zeros(1), 0.1)
        with pytest.raises(SandboxError, match="ran out of grading time"):
            rule(np.zeros(1), np.zeros(1), 3600.0)
        with pytest.raises(SandboxError, match="ran out of grading time"):  # and stays stopped
            rule(np.zeros(1), np.zeros(1), 0.1)
    finally:
        rule.close()
    assert time.monotonic() - started < 600


def test_a_flood_into_every_descriptor_neither_stalls_nor_confuses_the_grader():
    flood = """
import os
def sgd_step(w, grad, lr):
    for fd in map(int, os.listdir("/proc/self/fd")):
        try:
            os.set_blocking(fd, False)
            os.write(fd, b"[" * 100000 + b"\\x00\\xff" * 1000)
        except OSError:
            pass
    return w - lr * grad
"""
    rule = proxy(flood, 600)  # a stall would hit this budget and fail with another message
    try:
        with pytest.raises(SandboxError, match="a reply the grader cannot read"):
            rule(np.ones(2), np.ones(2), 0.5)
    finally:
        rule.close()


# Each rule misbehaves when lr > 1: that call fails, and the next one works.
BREAKS_ONE_CALL = {
    "a deeply nested reply": (
        """
import os
def sgd_step(w, grad, lr):
    if lr > 1:
        for fd in map(int, os.listdir("/proc/self/fd")):
            try:
                os.write(fd, b"[" * 1000000)
            except OSError:
                pass
        os._exit(0)
    return w - lr * grad
""",
        "SandboxError",
        "a reply the grader cannot read",
    ),
    "killing its zygote": (
        """
import os, signal
def sgd_step(w, grad, lr):
    if lr > 1:
        os.kill(os.getppid(), signal.SIGKILL)
    return w - lr * grad
""",
        "SandboxError",
        "the sandbox of sgd_step ended",
    ),
    "a memory hog": (
        """
def sgd_step(w, grad, lr):
    if lr > 1:
        blocks = [bytearray(1 << 26) for _ in range(64)]  # 4 GiB
    return w - lr * grad
""",
        "StudentError",
        "MemoryError",
    ),
}


@pytest.mark.parametrize(
    ("source", "error", "message"), BREAKS_ONE_CALL.values(), ids=BREAKS_ONE_CALL
)
def test_a_call_that_breaks_costs_that_call_only(grader, source, error, message):
    broken, fine = grader.calls(
        source, [[[1.0, 1.0], [1.0, 1.0], 2.0], [[1.0, 1.0], [1.0, 1.0], 0.5]]
    )
    assert broken["error"] == error
    assert message in broken["message"]
    assert value(fine) == [0.5, 0.5]


def test_in_place_changes_are_mirrored_like_in_a_kernel():
    rule = proxy("def sgd_step(w, grad, lr):\n    w -= lr * grad\n    return w")
    try:
        w = np.array([1.0, 2.0])
        np.testing.assert_array_equal(rule(w, np.array([1.0, 1.0]), 0.5), [0.5, 1.5])
        np.testing.assert_array_equal(w, [0.5, 1.5])
    finally:
        rule.close()


FORGED_REPLY = """
import base64, json, os, sys
def sgd_step(w, grad, lr):
    # The grader's loop is on this process's stack: read the run's setting from it and
    # write a well-formed reply of its own, with a failure kind of its own choosing.
    frame = sys._getframe(1)
    while "setting" not in frame.f_locals:
        frame = frame.f_back
    setting = frame.f_locals["setting"]
    weights = np.zeros((setting["epochs"] + 1, 2))
    weights[0] = setting["start"]
    array = {"array": base64.b64encode(weights.tobytes()).decode(), "dtype": weights.dtype.str,
             "shape": list(weights.shape), "scalar": False}
    failure = {"kind": KIND, "message": "forged", "epoch": 1}
    data = json.dumps({"weights": array, "failure": failure}).encode()
    for fd in map(int, os.listdir("/proc/self/fd")):
        try:
            os.write(fd, data)
        except OSError:
            pass
    os._exit(0)
"""


@pytest.mark.parametrize("kind", ['=HYPERLINK("http://x")', "adam-no-bias-correction"])
def test_a_forged_reply_cannot_choose_what_the_class_report_records(kind):
    rule = proxy(f"KIND = {kind!r}\n{FORGED_REPLY}")
    try:
        with grading.recording() as found, pytest.raises(AssertionError) as failure:
            grading.check_trajectory(rule, "sgd_step", epochs=5)
    finally:
        rule.close()
    assert str(failure.value) == "the sandbox of sgd_step sent a malformed reply"
    assert found["sgd_step"].diagnosis == "sandbox"
