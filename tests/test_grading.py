"""The checker and the sandbox, piece by piece (fast)."""

import io
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

import losslandscape as ll
from losslandscape import grading
from losslandscape.grading import _worker
from losslandscape.grading.autograde import TolerantExporter, answers
from losslandscape.grading.sandbox import (
    CALL_SECONDS,
    MAX_PROCESSES,
    RuleProxy,
    Sandbox,
    SandboxError,
    _pids_cgroup,
    _remove_cgroup,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "value",
    [
        np.arange(6.0).reshape(2, 3),
        np.float64(1.5),
        np.array([True, False]),
        (np.zeros(2), np.ones(2)),
        [1, 2.5, None],
    ],
)
def test_wire_format_carries_numbers_exactly(value):
    back = _worker.decode(_worker.encode(value))
    assert type(back) is type(value)
    np.testing.assert_array_equal(
        np.asarray(back, dtype=float), np.asarray(value, dtype=float), strict=False
    )


@pytest.mark.parametrize("value", [object(), np.array([object()]), "text", {"a": 1}, [[[[[1]]]]]])
def test_wire_format_refuses_everything_but_numbers(value):
    with pytest.raises(_worker.Unsupported):
        _worker.decode(_worker.encode(value))


@pytest.mark.parametrize(
    "message", [{}, {"array": "", "dtype": "|O", "shape": [0]}, {"number": "1"}, [], {"x": 1}]
)
def test_wire_format_rejects_malformed_messages(message):
    with pytest.raises(ValueError, match="malformed"):
        _worker.decode(message)


def test_answers_are_found_by_grade_id_or_by_the_function_they_define():
    nb = nbformat.v4.new_notebook()
    tagged = nbformat.v4.new_code_cell("x = 1")
    tagged.metadata["nbgrader"] = {"grade_id": "sgd_step"}
    nb.cells = [
        tagged,
        nbformat.v4.new_code_cell("def adam_step(w):\n    return 1"),
        nbformat.v4.new_code_cell("def adam_step(w):\n    return 2"),
    ]
    found = answers(nb)
    assert found["sgd_step"] == "x = 1"
    assert found["def adam_step"].endswith("return 2")  # the last definition wins


@pytest.mark.parametrize("text", ["", "{", '{"cells": 3}', '{"nbformat": 99, "cells": [1, {}]}'])
def test_unreadable_submissions_become_empty_notebooks(text):
    nb, _ = TolerantExporter().from_file(io.StringIO(text))
    assert nbformat.reads(nb, as_version=4).cells == []


def test_a_submission_that_is_not_text_becomes_an_empty_notebook():
    binary = io.TextIOWrapper(io.BytesIO(b"\xff\xfe\x00garbage"), encoding="utf-8")
    nb, _ = TolerantExporter().from_file(binary)
    assert nbformat.reads(nb, as_version=4).cells == []


def test_salvaged_notebook_keeps_code_and_grade_ids():
    text = (
        '{"nbformat": 99, "cells": [{"cell_type": "code", "source": ["def f():\\n", "  pass"],'
        ' "metadata": {"nbgrader": {"grade_id": "sgd_step", "schema_version": 99}}}]}'
    )
    nb, _ = TolerantExporter().from_file(io.StringIO(text))
    (cell,) = nbformat.reads(nb, as_version=4).cells
    assert cell.source == "def f():\n  pass"
    assert cell.metadata.nbgrader == {"grade_id": "sgd_step"}


@pytest.mark.parametrize("name", list(grading.RULES))
def test_the_library_rules_pass_their_own_checks(name):
    rule = getattr(ll, name)
    grading.check_steps(rule, name, lr=0.3)
    grading.check_trajectory(rule, name, epochs=50)
    grading.check_trajectory(rule, name, start=(1, 2), lr=1.0, epochs=20)


def test_a_wrong_rule_fails_naming_the_first_epoch_where_it_parts():
    def sgd_step(w, grad, lr):
        return w - lr * grad * (1 + 1e-6)

    with pytest.raises(AssertionError, match=r"leaves the reference trajectory at epoch \d+ of"):
        grading.check_trajectory(sgd_step, "sgd_step")
    with pytest.raises(AssertionError, match="step 1 gives a wrong w_new"):
        grading.check_steps(sgd_step, "sgd_step", lr=0.5)


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ("[w, velocity]", "must return a tuple of 2 arrays, got a list"),
        ("(w.tolist(), velocity)", "must return NumPy arrays, got a list"),
        ("(w.ravel(), velocity)", "returned an array of shape"),
        ("w", "must return a tuple of 2 arrays"),
    ],
)
def test_returns_that_break_the_contract_fail_with_a_hint(returned, message):
    namespace = {}
    exec(f"def momentum_step(w, grad, velocity, lr, rho):\n    return {returned}", namespace)
    with pytest.raises(TypeError, match=message):
        grading.check_trajectory(namespace["momentum_step"], "momentum_step", epochs=3)


def test_nan_and_infinity_fail_cleanly():
    def sgd_step(w, grad, lr):
        return w - lr * grad + (np.inf if lr > 5 else np.nan)

    for lr in (10.0, 1.0):
        with pytest.raises(AssertionError, match="at epoch 1 of"):
            grading.check_trajectory(sgd_step, "sgd_step", lr=lr, epochs=10)


def _sandboxed(name, source):
    sandbox = Sandbox(name, source)
    sandbox.wait_ready()
    return sandbox


def test_the_sandbox_sees_no_course_no_network_and_cannot_write():
    probe = f"""
import os, socket, sys

def probe():
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=1)
        online = True
    except OSError:
        online = False
    try:
        open(os.path.join(sys.prefix, "x"), "w")
        writable = True
    except OSError:
        writable = False
    visible = any(os.path.exists(p) for p in {[str(ROOT / "src"), str(ROOT / "tests")]!r})
    return np.array([visible, online, writable, os.getuid() == 0])

def sgd_step(w, grad, lr):
    return probe()
"""
    sandbox = _sandboxed("sgd_step", probe)
    try:
        assert sandbox.defined, sandbox.error
        assert RuleProxy(sandbox)(np.zeros(1), np.zeros(1), 1.0).tolist() == [False] * 4
    finally:
        sandbox.close()


def test_the_library_cannot_be_imported_in_the_sandbox():
    sandbox = _sandboxed("sgd_step", "from losslandscape import sgd_step")
    assert not sandbox.defined
    assert "ModuleNotFoundError" in sandbox.error


def test_an_endless_rule_is_stopped_and_stays_stopped():
    sandbox = _sandboxed("sgd_step", "def sgd_step(w, grad, lr):\n    while True:\n        pass")
    rule = RuleProxy(sandbox)
    started = time.monotonic()
    with pytest.raises(SandboxError, match="timed out"):
        rule(np.zeros(2), np.zeros(2), 1.0)
    assert time.monotonic() - started < CALL_SECONDS + 2
    with pytest.raises(SandboxError, match="not available"):
        rule(np.zeros(2), np.zeros(2), 1.0)


def test_in_place_changes_are_mirrored_like_in_a_kernel():
    sandbox = _sandboxed("sgd_step", "def sgd_step(w, grad, lr):\n    w -= lr * grad\n    return w")
    try:
        w = np.array([1.0, 2.0])
        result = RuleProxy(sandbox)(w, np.array([1.0, 1.0]), 0.5)
        np.testing.assert_array_equal(result, [0.5, 1.5])
        np.testing.assert_array_equal(w, [0.5, 1.5])
    finally:
        sandbox.close()


def test_a_fork_bomb_hits_the_process_cap():
    probe = _pids_cgroup()
    if probe is None:
        pytest.skip("this machine lets no process create a pids cgroup")
    _remove_cgroup(probe)
    bomb = """
import os, time
children = 0
try:
    for _ in range(500):
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
except OSError:
    pass

def sgd_step(w, grad, lr):
    return np.array([children])
"""
    sandbox = _sandboxed("sgd_step", bomb)
    try:
        assert RuleProxy(sandbox)(np.zeros(1), np.zeros(1), 1.0)[0] < MAX_PROCESSES
    finally:
        sandbox.close()
