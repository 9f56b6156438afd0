"""What the sandbox promises, checked from inside it with real student code."""

import time
from pathlib import Path

import numpy as np
import pytest

from losslandscape import grading
from losslandscape.grading import sandbox as sandbox_module
from losslandscape.grading.sandbox import (
    Budget,
    RuleProxy,
    SandboxError,
    StudentError,
    _make_cgroups,
)

ROOT = Path(__file__).resolve().parents[1]


def proxy(source: str, rule_seconds: float = 20.0) -> RuleProxy:
    return RuleProxy("sgd_step", source, (Budget(rule_seconds), Budget(90.0)))


def probe(body: str) -> dict:
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
    rule = proxy(source)
    try:
        values = rule(np.zeros(1), np.zeros(1), 1.0)
    finally:
        rule.close()
    return dict(zip(keys, values.tolist(), strict=True))


def test_student_code_runs_as_an_unprivileged_host_user():
    found = probe(
        """
uid = os.getuid()
inside, outside, count = (int(x) for x in open("/proc/self/uid_map").read().split()[:3])
found["host_uid"] = outside + uid - inside
status = open("/proc/self/status").read()
found["no_new_privs"] = int(status.split("NoNewPrivs:")[1].split()[0])
found["seccomp_mode"] = int(status.split("Seccomp:")[1].split()[0])
found["capabilities"] = int(status.split("CapEff:")[1].split()[0], 16)
"""
    )
    assert found["host_uid"] != 0
    assert found == {
        "host_uid": found["host_uid"],
        "no_new_privs": 1,
        "seccomp_mode": 2,  # a filter is loaded
        "capabilities": 0,
    }


def test_kernel_knobs_and_the_file_system_are_read_only():
    found = probe(
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
"""
    )
    assert found == dict.fromkeys(found, 0.0)


def test_the_course_and_the_network_are_out_of_reach():
    found = probe(
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
"""
    )
    assert found == dict.fromkeys(found, 0.0)


def test_the_seccomp_filter_denies_what_a_rule_never_needs():
    found = probe(
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
"""
    )
    assert found == dict.fromkeys(found, 1.0)


def test_nothing_carries_over_from_one_test_to_the_next():
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
    rule = proxy(counting)
    try:
        first = rule(np.zeros(1), np.zeros(1), 1.0)
        second = rule(np.zeros(1), np.zeros(1), 1.0)
    finally:
        rule.close()
    # every call counts from 1, and finds only bubblewrap, the zygote, itself and its child
    assert first.tolist() == second.tolist() == [1.0, 4.0]


def test_a_rule_that_sleeps_is_stopped_by_its_budget():
    rule = proxy("import time\ndef sgd_step(w, grad, lr):\n    time.sleep(1.9)\n    return w", 3)
    started = time.monotonic()
    try:
        rule(np.zeros(1), np.zeros(1), 1.0)  # 1.9 s: within the budget
        with pytest.raises(SandboxError, match="ran out of grading time"):
            rule(np.zeros(1), np.zeros(1), 1.0)
        with pytest.raises(SandboxError, match="ran out of grading time"):  # and stays stopped
            rule(np.zeros(1), np.zeros(1), 1.0)
    finally:
        rule.close()
    assert time.monotonic() - started < 3 + 2


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
    rule = proxy(flood, 10)
    try:
        started = time.monotonic()
        with pytest.raises(SandboxError, match="a reply the grader cannot read"):
            rule(np.ones(2), np.ones(2), 0.5)
        assert time.monotonic() - started < 10
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
        SandboxError,
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
        SandboxError,
        "the sandbox of sgd_step ended",
    ),
    "a memory hog": (
        """
def sgd_step(w, grad, lr):
    if lr > 1:
        blocks = [bytearray(1 << 26) for _ in range(64)]  # 4 GiB
    return w - lr * grad
""",
        StudentError,
        "MemoryError",
    ),
}


@pytest.mark.parametrize(
    ("source", "error", "message"), BREAKS_ONE_CALL.values(), ids=BREAKS_ONE_CALL
)
def test_a_call_that_breaks_costs_that_call_only(source, error, message):
    rule = proxy(source)
    try:
        with pytest.raises(error, match=message):
            rule(np.ones(2), np.ones(2), 2.0)
        np.testing.assert_array_equal(rule(np.ones(2), np.ones(2), 0.5), [0.5, 0.5])
    finally:
        rule.close()


def test_in_place_changes_are_mirrored_like_in_a_kernel():
    rule = proxy("def sgd_step(w, grad, lr):\n    w -= lr * grad\n    return w")
    try:
        w = np.array([1.0, 2.0])
        np.testing.assert_array_equal(rule(w, np.array([1.0, 1.0]), 0.5), [0.5, 1.5])
        np.testing.assert_array_equal(w, [0.5, 1.5])
    finally:
        rule.close()


def test_a_fork_bomb_hits_the_process_cap():
    cgroups = _make_cgroups()
    capped = any((cgroup / "pids.max").exists() for cgroup in cgroups)
    for cgroup in cgroups:
        sandbox_module._remove_cgroup(cgroup)
    if not capped:
        pytest.skip("this machine lets no process create a pids cgroup")
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
    rule = proxy(bomb)
    try:
        assert rule(np.zeros(1), np.zeros(1), 1.0)[0] < sandbox_module.MAX_PROCESSES
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
