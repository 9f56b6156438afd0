"""The checker and the sandbox, piece by piece (fast)."""

import contextlib
import io
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

import losslandscape as ll
from losslandscape import grading
from losslandscape.grading import _worker
from losslandscape.grading.autograde import (
    MAX_ANSWER_CHARACTERS,
    STUDENT_ID,
    TolerantExporter,
    answers,
    clean_answer,
)
from losslandscape.grading.sandbox import Budget, RuleProxy

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def fails_with(pattern: str):
    """Expect an AssertionError whose message, its wrapped lines joined, matches ``pattern``."""
    with pytest.raises(AssertionError) as failure:
        yield
    message = " ".join(str(failure.value).split())
    assert re.search(pattern, message), message


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
def test_unreadable_submissions_become_empty_notebooks_with_a_reason(text):
    nb, _ = TolerantExporter().from_file(io.StringIO(text))
    nb = nbformat.reads(nb, as_version=4)
    assert nb.cells == []
    assert "not a notebook that can be read" in nb.metadata.losslandscape.ungradable


def test_a_submission_that_is_not_text_becomes_an_empty_notebook_with_a_reason():
    binary = io.TextIOWrapper(io.BytesIO(b"\xff\xfe\x00garbage"), encoding="utf-8")
    nb, _ = TolerantExporter().from_file(binary)
    nb = nbformat.reads(nb, as_version=4)
    assert nb.cells == []
    assert nb.metadata.losslandscape.ungradable == "the file is not a text (UTF-8) notebook"


@pytest.mark.parametrize(
    ("source", "cleaned"),
    [
        ("def f():\n    return 1  # \ud800 lone\n", "def f():\n    return 1  # \ufffd lone"),
        ("def f():\n    return 1" + "\n" * 2_600_000, "def f():\n    return 1"),
        ("x = '\x00'", "x = '\x00'"),
    ],
)
def test_odd_answer_text_is_cleaned_so_it_can_be_graded(source, cleaned):
    assert clean_answer(source) == (cleaned, None)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cleaned)])
    nbformat.writes(nb).encode()  # a notebook can hold it


def test_an_answer_too_long_to_run_is_refused_with_a_reason():
    source, problem = clean_answer("x = 1\n" * (MAX_ANSWER_CHARACTERS // 4))
    assert source == ""
    assert "the grader runs answers of up to 262,144" in problem


@pytest.mark.parametrize("student", ["anna", "b.meier", "c_d-e+f@uni.de", "müller", "12345"])
def test_ordinary_student_ids_are_safe(student):
    assert STUDENT_ID.fullmatch(student)


@pytest.mark.parametrize(
    "student", ["[c]ontrol", "a*", "who?", ".hidden", "a/b", "a\\b", "a b", ""]
)
def test_student_ids_with_glob_or_path_characters_are_unsafe(student):
    assert not STUDENT_ID.fullmatch(student)


def test_salvaged_notebook_keeps_code_and_grade_ids():
    text = (
        '{"nbformat": 99, "cells": [{"cell_type": "code", "source": ["def f():\\n", "  pass"],'
        ' "metadata": {"nbgrader": {"grade_id": "sgd_step", "schema_version": 99}}}]}'
    )
    nb, _ = TolerantExporter().from_file(io.StringIO(text))
    (cell,) = nbformat.reads(nb, as_version=4).cells
    assert cell.source == "def f():\n  pass"
    assert cell.metadata.nbgrader == {"grade_id": "sgd_step"}


def _by_hand(name, lr, epochs, start=(-9.0, 15.0)):
    """The reference path written out from the formulas, on the landscape's own gradient."""
    surface = grading.landscape()
    w = np.array(start)
    a = b = np.zeros(2)  # the rule's state: velocity, average, or Adam's m and v
    path = [w]
    for t in range(1, epochs + 1):
        g = surface.cost_and_gradient(w[None])[1][0]
        if name == "sgd_step":
            w = w - lr * g
        elif name == "momentum_step":  # v = 0.9 v + g; w -= lr v
            a = 0.9 * a + g
            w = w - lr * a
        elif name == "nesterov_step":  # v' = 0.9 v - lr g; w += v' + 0.9 (v' - v)
            new = 0.9 * a - lr * g
            w, a = w + new + 0.9 * (new - a), new
        elif name == "rmsprop_step":  # s = 0.9 s + 0.1 g^2; w -= lr g / (sqrt(s) + 0.1)
            a = 0.9 * a + 0.1 * g**2
            w = w - lr * g / (np.sqrt(a) + 0.1)
        else:  # Adam, bias-corrected, eps 0.1 outside the root
            a = 0.9 * a + 0.1 * g
            b = 0.999 * b + 0.001 * g**2
            w = w - lr * (a / (1 - 0.9**t)) / (np.sqrt(b / (1 - 0.999**t)) + 0.1)
        path.append(w)
    return np.array(path)


@pytest.mark.parametrize("name", list(grading.RULES))
def test_the_reference_students_are_graded_against_follows_the_formulas(name):
    for lr, epochs in ((10.0, 5), (0.7, 60)):
        np.testing.assert_allclose(
            grading.reference(name, lr=lr, epochs=epochs), _by_hand(name, lr, epochs), rtol=1e-12
        )
    grading.check_trajectory(getattr(ll, name), name, epochs=60)


def test_a_wrong_rule_fails_naming_the_first_epoch_where_it_parts():
    def sgd_step(w, grad, lr):
        return w - lr * grad * (1 + 1e-6)

    with fails_with(
        r"^sgd_step: your path parts from the reference, though not by a common mistake; "
        r"from epoch (\d+) your weights are \(.+\), the reference's \(.+\), .+ apart$",
    ):
        grading.check_trajectory(sgd_step, "sgd_step")
    with fails_with("step 1 gives a wrong w_new"):
        grading.check_steps(sgd_step, "sgd_step", lr=0.5)


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ("[w, velocity]", "it returns a list: return a tuple, as return w_new, velocity_new"),
        ("(w.tolist(), velocity)", "it returns a list as w_new: keep it the NumPy array"),
        ("(w.ravel(), velocity)", r"it returns w_new of shape \(6,\) for weights of shape"),
        ("w", "it returns a single array: return the tuple w_new, velocity_new"),
    ],
)
def test_returns_that_break_the_contract_fail_named_by_what_calling_the_rule_shows(
    returned, message
):
    namespace = {}
    exec(f"def momentum_step(w, grad, velocity, lr, rho):\n    return {returned}", namespace)
    with grading.recording() as found:
        with fails_with(f"momentum_step fails at epoch 1: {message}"):
            grading.check_trajectory(namespace["momentum_step"], "momentum_step", epochs=3)
        with fails_with(f"momentum_step: {message}"):
            grading.check_steps(namespace["momentum_step"], "momentum_step", lr=0.1)
    assert found["momentum_step"].diagnosis.startswith("momentum-")


def test_nan_and_infinity_fail_cleanly():
    def sgd_step(w, grad, lr):
        return w - lr * grad + (np.inf if lr > 5 else np.nan)

    for lr in (10.0, 1.0):
        with fails_with("at epoch 1 your weights are no longer finite"):
            grading.check_trajectory(sgd_step, "sgd_step", lr=lr, epochs=10)


@pytest.mark.parametrize("name", list(grading.RULES))
def test_hidden_settings_cover_small_to_large_arrays_and_long_runs(name):
    sizes = [int(np.prod(s["shape"])) for s in grading.hidden_steps_settings(name)]
    assert sizes[0] <= 6 and 10 <= sizes[1] <= 60 and sizes[2] >= 100
    runs = grading.hidden_trajectory_settings(name)
    assert runs[0] == {}  # the original notebook's run
    assert len(runs) == 4 and runs[1]["epochs"] > 1000
    assert len({r["start"] for r in runs[1:]}) == 3
    for run in runs[1:]:  # a correct rule passes every drawn setting
        grading.check_trajectory(getattr(ll, name), name, hidden=True, **run)


def _adam_right_until(condition: str):
    return f"""
def adam_step(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    right = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return (right if {condition} else right + 1e-3), m, v
"""


LOOKUP_TABLES = {
    "only the first 1500 calls": _adam_right_until("CALLS.append(1) or len(CALLS) <= 1500").replace(
        "def adam", "CALLS = []\ndef adam"
    ),
    "only while t <= 1000": _adam_right_until("t <= 1000"),
    "only for at most 12 elements": _adam_right_until("w.size <= 12"),
}


@pytest.mark.parametrize("source", LOOKUP_TABLES.values(), ids=LOOKUP_TABLES)
def test_a_rule_right_only_on_small_short_or_early_inputs_fails_a_hidden_test(source):
    namespace = {"np": np}
    exec(source, namespace)
    rule = namespace["adam_step"]
    grading.check_trajectory(rule, "adam_step", epochs=5)  # passes what a student sees
    with fails_with(r"adam_step(: .+; a hidden test| fails a hidden test)"):
        grading.check_hidden_steps(rule, "adam_step")
        grading.check_hidden_trajectories(rule, "adam_step")


def test_hidden_failures_name_the_kind_and_epoch_but_no_setting_or_student_text():
    def sgd_step(w, grad, lr):
        if lr != 10:
            raise ValueError(f"SECRET lr={lr} shape={w.shape}")
        return w - lr * grad

    with pytest.raises(AssertionError) as failure:
        grading.check_hidden_trajectories(sgd_step, "sgd_step")
    message = " ".join(str(failure.value).split())
    assert message.startswith("sgd_step fails a hidden test: it raised an exception at epoch 1.")
    assert "SECRET" not in message and "lr=" not in message
    with pytest.raises(AssertionError) as failure:
        grading.check_hidden_steps(sgd_step, "sgd_step")
    assert "SECRET" not in str(failure.value)


def test_an_exception_names_the_line_of_the_rule_it_came_from_in_the_sandbox_too():
    cell = "def sgd_step(w, grad, lr):\n    step = lr * grad\n    return w - step[5]\n"
    proxy = RuleProxy("sgd_step", cell, (Budget(60.0), Budget(600.0)))
    try:
        with fails_with(r"^sgd_step fails at epoch 1: IndexError: .* \(line 3 of sgd_step\)$"):
            grading.check_trajectory(proxy, "sgd_step", epochs=3)
    finally:
        proxy.close()


def test_an_exception_without_a_message_is_named_as_python_names_it():
    def sgd_step(w, grad, lr):
        raise NotImplementedError()

    with fails_with(r"^sgd_step fails at epoch 1: NotImplementedError \(line 2 of sgd_step\)$"):
        grading.check_trajectory(sgd_step, "sgd_step", epochs=3)
