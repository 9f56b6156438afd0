"""The half of the grader that runs student code, inside the sandbox.

This file is executed with ``python -I -c`` inside bubblewrap, so it imports
nothing but the standard library and NumPy (the course folder is not there).
The grader imports it too: both sides speak the same wire format, which
carries numbers and nothing else, and both train with the same loop
(:func:`run_trajectory`), so the reference and a student's rule differ only
in the rule.

The process started in the sandbox is a *zygote*: it imports NumPy, reads the
student's answer cell and then never runs student code itself. For every job
it forks a fresh child that runs the answer cell in a new namespace, does the
job and exits; then the zygote kills every other process in the sandbox
(``kill(-1)``), so nothing a test leaves behind reaches the next one. The
file system is read-only and System V / POSIX IPC is denied by the seccomp
filter, so no state survives between jobs.

Protocol, over the zygote's stdin and stdout, every frame a 4-byte big-endian
length and that many bytes: the zygote first sends :data:`READY` once it is
set up (before it reads any student code, so a sandbox that ends without it
failed for the machine's reasons, never the student's); the grader sends the
answer cell's source, then one JSON job per test; for each job the zygote
sends a JSON status frame (written by the zygote) and a payload frame
(written by the child, so hostile: the grader parses it with care).

Started with ``--max-processes N`` (as it is in a user namespace of its own,
when the grader is not root), the zygote caps the processes of its user in
that namespace at ``N``: the kernel counts RLIMIT_NPROC per user namespace,
so the cap holds for this sandbox alone, and with the per-process address
space limit it bounds the sandbox's memory too.
"""

import base64
import contextlib
import ctypes
import json
import math
import os
import resource
import select
import signal
import struct
import sys
import time
import types

import numpy as np

MAX_MESSAGE = 8 << 20
"""Bytes per frame; a trajectory of a few thousand epochs needs a few hundred KB."""
MAX_DEPTH = 3
MAX_ITEMS = 16
NUMERIC_KINDS = "biuf"
_PR_SET_DUMPABLE = 4
READY = b"ready"


def encode(value, depth=0):
    """A JSON-ready description of ``value`` if it is made of numbers, else of its type."""
    if depth > MAX_DEPTH:
        return {"other": "deeply nested container"}
    if isinstance(value, np.ndarray | np.generic) and value.dtype.kind in NUMERIC_KINDS:
        array = np.array(value, order="C")
        return {
            "array": base64.b64encode(array.tobytes()).decode(),
            "dtype": array.dtype.str,
            "shape": list(array.shape),
            "scalar": isinstance(value, np.generic),
        }
    if isinstance(value, bool | int | float) and type(value) in (bool, int, float):
        return {"number": value}
    if value is None:
        return {"none": True}
    if type(value) in (list, tuple):
        if len(value) > MAX_ITEMS:
            return {"other": f"{type(value).__name__} of {len(value)} items"}
        return {type(value).__name__: [encode(item, depth + 1) for item in value]}
    return {"other": type(value).__name__}


class Unsupported(TypeError):
    """The rule returned something that is not made of numbers."""


def decode(data, depth=0):
    """The value :func:`encode` described; raises :class:`Unsupported` for other objects."""
    if not isinstance(data, dict) or len(data) == 0 or depth > MAX_DEPTH + 1:
        raise ValueError("malformed message")
    if "array" in data:
        dtype = np.dtype(data["dtype"])
        if dtype.kind not in NUMERIC_KINDS:
            raise ValueError("malformed message")
        array = np.frombuffer(base64.b64decode(data["array"]), dtype=dtype)
        array = array.reshape([int(n) for n in data["shape"]]).copy()
        return array[()] if data.get("scalar") else array
    if "number" in data:
        if type(data["number"]) not in (bool, int, float):
            raise ValueError("malformed message")
        return data["number"]
    if "none" in data:
        return None
    if "list" in data or "tuple" in data:
        kind = "list" if "list" in data else "tuple"
        items = data[kind]
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            raise ValueError("malformed message")
        decoded = [decode(item, depth + 1) for item in items]
        return decoded if kind == "list" else tuple(decoded)
    if "other" in data:
        raise Unsupported(f"an object of type {str(data['other'])[:80]}")
    raise ValueError("malformed message")


FAILURE_KINDS = frozenset({"raised", "contract", "not finite"})
"""How a rule can fail in the sandbox; the grader takes no other kind from a reply."""


class RuleFailure(Exception):
    """A rule broke its contract or raised; ``kind`` says how, ``epoch`` when (or None)."""

    def __init__(self, kind, message, epoch=None):
        super().__init__(message)
        self.kind = kind
        self.epoch = epoch

    def as_dict(self):
        return {"kind": self.kind, "message": str(self)[:500], "epoch": self.epoch}


def describe(error, step=None):
    """As Python names an exception: its type, then ``: message`` if it has one; raised
    by ``step``, the line of ``step`` it was raised from (its ``def`` is line 1)."""
    message = str(error)
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    # A plain function only: any other object's attributes would run the student's code.
    code = step.__code__ if isinstance(step, types.FunctionType) else None
    frame = error.__traceback__
    line = None
    while code is not None and frame is not None:
        if frame.tb_frame.f_code is code:
            line = frame.tb_lineno - code.co_firstlineno + 1
        frame = frame.tb_next
    if line is not None:
        text += f" (line {line} of {step.__name__})"
    return text[:500]


def checked_call(step, name, n_state, args, epoch=None):
    """``step(*args)``, with its return checked against the rule's contract.

    Returns the new weights followed by the new state arrays; raises
    :class:`RuleFailure` naming what is wrong.
    """
    w = args[0]
    try:
        result = step(*args)
    except Exception as exc:
        raise RuleFailure("raised", describe(exc, step), epoch) from None
    arrays = (result,) if n_state == 0 else result
    if n_state and not (isinstance(result, tuple) and len(result) == n_state + 1):
        raise RuleFailure(
            "contract",
            f"{name} must return a tuple of {n_state + 1} arrays, got {_kind(result)}",
            epoch,
        )
    for array in arrays:
        if not isinstance(array, np.ndarray):
            raise RuleFailure(
                "contract",
                f"{name} must return NumPy arrays, got {_kind(array)}; "
                "use array arithmetic instead of lists or Python numbers",
                epoch,
            )
        if array.shape != w.shape:
            raise RuleFailure(
                "contract",
                f"{name} returned an array of shape {array.shape}, but the weights "
                f"have shape {w.shape}; the rule works elementwise",
                epoch,
            )
    return tuple(arrays)


def _kind(value):
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def gradient(weights, landscape):
    """The original notebook's gradient at one weight pair, shaped ``(1, 2)`` like ``weights``.

    ``landscape`` holds the arrays of :class:`losslandscape.Landscape`
    (``coef_a``, ``coef_b``, ``base``, ``target``, ``gradient_factor``).
    """
    w_a, w_b = weights[0]
    z = w_a * landscape["coef_a"] + w_b * landscape["coef_b"] + landscape["base"]
    pred = 1.0 / (1.0 + np.exp(-z))
    error = pred - landscape["target"]
    delta = error * pred * (1 - pred)
    n = landscape["target"].shape[1]
    factor = landscape["gradient_factor"]
    return np.array(
        [
            [
                factor * (np.sum(delta * landscape["coef_a"]) / n),
                factor * (np.sum(delta * landscape["coef_b"]) / n),
            ]
        ]
    )


def run_trajectory(step, name, setting):
    """Train the two weights with ``step``; returns ``(weights, failure)``.

    ``weights`` is ``(epochs + 1, 2)``; rows from a failure on are NaN, and
    ``failure`` is a :class:`RuleFailure` (or None). The rule sees the weights
    as an array of shape ``(1, 2)``, one run of two weights, as in
    :func:`losslandscape.train`. ``setting`` holds ``landscape``, ``start``,
    ``lr``, ``epochs``, ``hyper`` (in the order of the rule's signature),
    ``n_state`` and ``counts_steps``.
    """
    epochs, n_state = setting["epochs"], setting["n_state"]
    weights = np.full((epochs + 1, 2), np.nan)
    w = np.array([setting["start"]], dtype=float)
    weights[0] = w[0]
    state = tuple(np.zeros((1, 2)) for _ in range(n_state))
    with np.errstate(all="ignore"):
        for t in range(1, epochs + 1):
            count = (t,) if setting["counts_steps"] else ()
            args = (w, gradient(w, setting["landscape"]), *state, *count, setting["lr"])
            try:
                w, *state = checked_call(step, name, n_state, (*args, *setting["hyper"]), t)
            except RuleFailure as failure:
                return weights, failure
            if not np.isfinite(w).all():
                return weights, RuleFailure("not finite", "the weights are not finite", t)
            weights[t] = w[0]
    return weights, None


def run_steps(step, name, n_state, calls):
    """``step`` called on each argument tuple in ``calls``; the checked results."""
    with np.errstate(all="ignore"):
        return [checked_call(step, name, n_state, args, i + 1) for i, args in enumerate(calls)]


RACE_SPAN = 0.05
"""CPU seconds each measurement of :func:`race` lasts at least: in a sandbox the process's
CPU clock may tick only every few milliseconds (about 2 ms on this course's machines)."""
_MAX_CALLS = 100_000


def race(function, loop, args, rounds):
    """``(seconds, loop_seconds, result)``: the CPU time of one call of ``function(*args)``
    and of ``loop(*args)``, the least of ``rounds`` measurements of each, taken alternately.

    CPU time, so other processes slow neither side; each measurement calls its function
    until :data:`RACE_SPAN` has passed, so a short call and the long loop are measured over
    spans alike and a coarse clock's tick is small beside them. ``result`` is from a call
    of its own, on copies of ``args``.
    """

    def cpu_seconds(f, inputs):
        calls, started = 0, time.process_time()
        while True:
            f(*inputs)
            calls += 1
            elapsed = time.process_time() - started
            if elapsed >= RACE_SPAN or calls == _MAX_CALLS:
                return max(elapsed, 1e-9) / calls

    result = function(*[np.copy(arg) for arg in args])
    inputs = [np.copy(arg) for arg in args]
    best, best_loop = math.inf, math.inf
    for _ in range(rounds):
        best_loop = min(best_loop, cpu_seconds(loop, inputs))
        best = min(best, cpu_seconds(function, inputs))
    return best, best_loop, result


def _run_job(source, name, job):
    """In a fresh child: run the answer cell, then the job; the reply as a dict."""
    namespace = {"__name__": "__main__", "np": np, "numpy": np}
    error = None
    try:
        exec(compile(source, "<answer cell>", "exec"), namespace)
    except BaseException as exc:  # SystemExit too: a cell that exits still defines what it did
        error = describe(exc)
    rule = namespace.get(name)
    if not callable(rule):
        return {"undefined": error or f"the cell does not define {name}"}
    if job["kind"] == "define":
        return {"defined": True, "error": error}
    if job["kind"] == "call":
        args = [decode(arg) for arg in job["args"]]
        before = [np.copy(arg) for arg in args]
        try:
            reply = {"result": encode(rule(*args))}
        except Exception as exc:
            reply = {"failure": RuleFailure("raised", describe(exc, rule)).as_dict()}
        reply["changed"] = {
            str(i): encode(arg)
            for i, (arg, old) in enumerate(zip(args, before, strict=True))
            if isinstance(arg, np.ndarray) and not np.array_equal(arg, old, equal_nan=True)
        }
        return reply
    if job["kind"] == "race":
        args = [decode(arg) for arg in job["args"]]
        reference = {"np": np}
        exec(compile(job["reference"], "<reference>", "exec"), reference)
        try:
            seconds, loop_seconds, result = race(
                rule, reference[job["reference_name"]], args, int(job["rounds"])
            )
        except Exception as exc:
            return {"failure": RuleFailure("raised", describe(exc, rule)).as_dict()}
        return {"times": [seconds, loop_seconds], "result": encode(result)}
    if job["kind"] == "steps":
        calls = [[decode(arg) for arg in args] for args in job["calls"]]
        try:
            results = run_steps(rule, name, job["n_state"], calls)
        except RuleFailure as failure:
            return {"failure": failure.as_dict()}
        return {"results": [[encode(array) for array in result] for result in results]}
    setting = {**job["setting"], "landscape": {**job["setting"]["landscape"]}}
    for key in ("coef_a", "coef_b", "base", "target"):
        setting["landscape"][key] = decode(setting["landscape"][key])
    weights, failure = run_trajectory(rule, name, setting)
    return {"weights": encode(weights), "failure": failure and failure.as_dict()}


def _read_frame(stream):
    header = stream.read(4)
    if len(header) < 4:
        return None
    (size,) = struct.unpack(">I", header)
    return stream.read(size)


def _write_frame(stream, data):
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def _child(source, name, job, reply_fd):
    try:
        data = json.dumps(_run_job(source, name, job)).encode()
    except BaseException as exc:
        data = json.dumps({"crashed": describe(exc)}).encode()
    if len(data) > MAX_MESSAGE:
        data = json.dumps({"crashed": "the rule returned more data than the grader accepts"})
        data = data.encode()
    view = memoryview(data)
    while view:
        view = view[os.write(reply_fd, view) :]
    os._exit(0)


def _collect(pid, reply_fd):
    """What the child ``pid`` wrote, up to :data:`MAX_MESSAGE` bytes, and its exit status.

    Once the child has exited, every process it left behind is killed, so a
    background process holding the pipe cannot keep the zygote waiting.
    """
    chunks, size, status = [], 0, None
    while True:
        ready, _, _ = select.select([reply_fd], [], [], 0.05)
        chunk = os.read(reply_fd, 1 << 16) if ready else None
        if chunk == b"":
            break
        if chunk:
            size += len(chunk)
            chunks.append(chunk)
            if size > MAX_MESSAGE:
                os.kill(pid, signal.SIGKILL)
                chunks = None
                break
        if status is None:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                _kill_all()
            else:
                status = None
    if status is None:
        _, status = os.waitpid(pid, 0)
    _kill_all()
    return (None if chunks is None else b"".join(chunks)), status


def _kill_all():
    """Kill every process in the sandbox but this one (and bubblewrap's init)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGKILL)


def main(name, max_processes=None):
    if max_processes is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))
    # Private copies of the pipes to the grader; whatever runs here later
    # prints to /dev/null instead of into the protocol.
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    # Children cannot read or write this process's memory through /proc.
    ctypes.CDLL(None).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    _write_frame(replies, READY)
    source = (_read_frame(requests) or b"").decode("utf-8", "replace")
    while (frame := _read_frame(requests)) is not None:
        job = json.loads(frame)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            requests.close()
            replies.close()
            os.close(read_end)
            _child(source, name, job, write_end)
        os.close(write_end)
        payload, status = _collect(pid, read_end)
        os.close(read_end)
        verdict = {"status": os.waitstatus_to_exitcode(status), "oversized": payload is None}
        _write_frame(replies, json.dumps(verdict).encode())
        _write_frame(replies, payload or b"")


if __name__ == "__main__":
    name, *options = sys.argv[1:]
    main(name, int(options[1]) if options[:1] == ["--max-processes"] else None)
