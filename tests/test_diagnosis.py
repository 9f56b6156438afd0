"""Diagnosis by trajectory: each common mistake is named from the paths it leaves (fast).

The student rules (``tests/student_rules.py``) are written by hand, as students
write them, and none calls the catalogue: the diagnosis must recognise a mistake
by its path, whatever the algebra. The last part checks the diagnosis where
students meet it: in the checks their test cells call, and in ``self_check``.
"""

import ast
import functools
import inspect
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from losslandscape import grading, optimizers
from losslandscape.grading import diagnosis, mistakes, probes
from losslandscape.grading.diagnosis import diagnose
from losslandscape.grading.mistakes import CATALOGUE, MISTAKES

from .student_rules import CORRECT_OTHERWISE, STUDENTS

HANDWRITTEN = tuple(mistake for mistake in MISTAKES if mistake.id in STUDENTS)
"""The catalogue's mistakes that students wrote by hand (tests/student_rules.py)."""

# --- Helpers ---------------------------------------------------------------


@functools.cache
def runs_of(step, rule):
    """``step``'s path on the visible run and on the grader's hidden runs of ``rule``."""
    return tuple(
        (setting, grading.trajectory(step, rule, **setting))
        for setting in grading.hidden_trajectory_settings(rule)
    )


def reference_code(rule):
    """The statements of the library's rule, each as written."""
    source = textwrap.dedent(inspect.getsource(optimizers.OPTIMIZERS[grading.RULES[rule]].step))
    body = ast.parse(source).body[0].body[1:]  # past the docstring
    return [ast.get_source_segment(source, statement) for statement in body]


def numbers(text):
    return re.findall(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)


# --- The catalogue ------------------------------------------------------------


def test_the_catalogue_covers_the_common_mistakes_of_every_rule():
    for rule, method in grading.RULES.items():
        prefix = rule.removesuffix("_step")
        kinds = {m.id.removeprefix(f"{prefix}-") for m in diagnosis.mistakes_for(rule)}
        assert {"ascent", "lr-squared", "no-lr"} <= kinds
        assert ("state-unchanged" in kinds) == bool(optimizers.OPTIMIZERS[method].state)
    assert {
        "adam-no-bias-correction",
        "adam-betas-swapped",
        "adam-epsilon-hat",
        "rmsprop-eps-inside",
        "rmsprop-no-one-minus-rho",
        "momentum-dampened",
        "nesterov-as-momentum",
    } <= set(CATALOGUE)
    assert len(CATALOGUE) == len(MISTAKES)
    assert {mistake.method for mistake in MISTAKES} == set(grading.RULES.values())


def test_other_libraries_conventions_are_the_registrys_own_forms_and_say_so():
    peers = {
        "rmsprop-eps-inside": (optimizers.rmsprop_eps_inside_step, "Keras and optax", "PyTorch"),
        "adam-epsilon-hat": (optimizers.adam_epsilon_hat_step, "Keras", "PyTorch and optax"),
        "momentum-lr-in-velocity": (
            optimizers.momentum_lr_in_velocity_step,
            "Keras",
            "PyTorch and optax",
        ),
        "nesterov-gradient-sum": (
            optimizers.nesterov_gradient_sum_step,
            "PyTorch",
            "Keras and optax",
        ),
    }
    state_forms = [m for rule in grading.RULES for m in mistakes.state_forms(rule)]
    assert {m.id for m in state_forms} == {"momentum-lr-in-velocity", "nesterov-gradient-sum"}
    for mistake in (*MISTAKES, *state_forms):
        if mistake.id in peers:
            step, theirs, ours = peers.pop(mistake.id)
            assert mistake.step is step
            assert mistake.convention.startswith(f"This is how {theirs} write")
            assert mistake.convention.endswith(
                f"The course follows the original notebook, as {ours} do."
            ) or mistake.convention.endswith(f"as {ours} does.")
        else:
            assert mistake.convention == ""
        assert "seed" not in (mistake.explanation + mistake.convention).lower()
    assert peers == {}


# --- Diagnoses ------------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1], ids=["a", "b"])
@pytest.mark.parametrize("mistake", HANDWRITTEN, ids=lambda m: m.id)
def test_every_mistake_written_two_ways_is_named_on_the_visible_and_hidden_runs(mistake, version):
    student = STUDENTS[mistake.id][version]
    found = diagnose(mistake.rule, runs_of(student, mistake.rule))
    assert found.verdict == "mistake", found.message()
    assert found.mistake is mistake
    assert not any(line in found.message() for line in reference_code(mistake.rule))


@pytest.mark.parametrize("rule", list(grading.RULES))
def test_correct_rules_are_never_diagnosed_as_a_mistake(rule):
    for step in (optimizers.OPTIMIZERS[grading.RULES[rule]].step, *CORRECT_OTHERWISE[rule]):
        found = diagnose(rule, runs_of(step, rule))
        assert found.correct and found.mistakes == ()
        assert found.message() == f"{rule} follows the reference on every run."


def test_a_registry_name_is_taken_for_its_rule():
    found = diagnose("Adam", runs_of(STUDENTS["adam-no-bias-correction"][0], "adam_step"))
    assert found.mistake is CATALOGUE["adam-no-bias-correction"]


def test_one_run_that_cannot_tell_two_mistakes_apart_names_both_and_the_hidden_runs_decide():
    # At the original notebook's lr = 10 and rho = 0.9, dampening the gradient by
    # (1 - rho) scales every step by exactly 1 / lr: the same path as leaving lr out.
    both = {CATALOGUE["momentum-dampened"], CATALOGUE["momentum-no-lr"]}
    for student, mistake in (
        (STUDENTS["momentum-dampened"][0], "momentum-dampened"),
        (STUDENTS["momentum-no-lr"][0], "momentum-no-lr"),
    ):
        runs = runs_of(student, "momentum_step")
        visible = diagnose("momentum_step", runs[:1])
        assert visible.verdict == "ambiguous" and set(visible.mistakes) == both
        assert visible.mistake is None
        assert "cannot tell which" in visible.message()
        assert diagnose("momentum_step", runs).mistake is CATALOGUE[mistake]


def adam_step_typo(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1 * t)  # beta1 * t for beta1**t: the same at t = 1 only
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def momentum_step_rho_typed_in(w, grad, velocity, lr, rho):
    velocity = 0.9 * velocity + grad  # right on the visible run only
    return w - lr * velocity, velocity


@pytest.mark.parametrize(
    ("rule", "student", "visible_epoch"),
    [("adam_step", adam_step_typo, 2), ("momentum_step", momentum_step_rho_typed_in, None)],
    ids=["a typo in the bias correction", "rho typed in"],
)
def test_a_mistake_outside_the_catalogue_is_unknown_with_where_the_paths_part(
    rule, student, visible_epoch
):
    runs = runs_of(student, rule)
    partings = [grading.first_parting(w, grading.reference(rule, **s)) for s, w in runs]
    # The first step sees t = 1 and a zero velocity, so both are right at epoch 1;
    # where a hidden start lies on a plateau, they part later.
    assert partings[0] == visible_epoch
    run = next(i for i, epoch in enumerate(partings) if epoch is not None)
    found = diagnose(rule, runs)
    assert (found.verdict, found.mistakes, found.run) == ("unknown", (), run)
    assert found.epoch == partings[run] >= 2
    setting, weights = runs[run]
    expected = grading.reference(rule, **setting)[found.epoch]
    assert found.weights == tuple(weights[found.epoch])
    assert found.distance == pytest.approx(np.linalg.norm(weights[found.epoch] - expected))
    assert found.distance > grading.TOLERANCE
    assert f"{found.distance:.3g} apart" in found.message()


def test_a_mistake_needs_every_run_one_coincidence_is_not_enough():
    rule = "momentum_step"
    wrong_on_visible = runs_of(STUDENTS["momentum-no-lr"][0], rule)[:1]
    right_elsewhere = runs_of(optimizers.momentum_step, rule)[1:]
    found = diagnose(rule, wrong_on_visible + right_elsewhere)
    assert (found.verdict, found.run, found.epoch) == ("unknown", 0, 1)


def test_a_rule_that_stops_being_finite_is_told_so():
    def sgd_step(w, grad, lr):
        return (w - lr * grad) / 0.0

    found = diagnose("sgd_step", runs_of(sgd_step, "sgd_step")[:1])
    assert (found.verdict, found.epoch) == ("unknown", 1)
    assert "at epoch 1 your weights are no longer finite" in found.message()


# --- Messages ---------------------------------------------------------------------


def test_a_visible_message_is_one_short_line_with_the_fix_and_both_points():
    runs = runs_of(STUDENTS["adam-no-bias-correction"][1], "adam_step")
    found = diagnose("adam_step", runs)
    setting, weights = runs[found.run]
    expected = grading.reference("adam_step", **setting)[found.epoch]
    assert found.message() == (
        "adam_step: the bias correction is missing (m / (1 - beta1^t), v / (1 - beta2^t)); "
        f"from epoch {found.epoch} your weights are "
        f"({weights[found.epoch, 0]:.10g}, {weights[found.epoch, 1]:.10g}), "
        f"the reference's ({expected[0]:.10g}, {expected[1]:.10g})"
    )


def test_a_convention_of_another_library_is_named_on_a_second_line():
    found = diagnose("rmsprop_step", runs_of(STUDENTS["rmsprop-eps-inside"][1], "rmsprop_step"))
    first, note = found.message().split("\n")
    assert first.startswith("rmsprop_step: eps is added inside the square root, not outside")
    assert note == CATALOGUE["rmsprop-eps-inside"].convention


@pytest.mark.parametrize(
    ("rule", "student"),
    [*((m.rule, STUDENTS[m.id][0]) for m in HANDWRITTEN), ("adam_step", adam_step_typo)],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_hidden_messages_name_the_rule_the_mistake_and_the_epoch_and_nothing_else(rule, student):
    hidden = runs_of(student, rule)[1:]
    found = diagnose(rule, hidden)
    message = found.message(hidden=True)
    setting, weights = hidden[found.run]
    secrets = [
        setting["lr"],
        setting["epochs"],
        *setting["start"],
        *setting["hyperparameters"].values(),
        *weights[found.epoch],
        *grading.reference(rule, **setting)[found.epoch],
    ]
    explained = numbers(" ".join(m.explanation for m in found.mistakes))
    assert message.split("\n")[0].startswith(f"{rule}: ")
    assert f"epoch {found.epoch}" in message
    # Every number is the epoch or a constant of the formulas, and no secret is
    # written out in any form the grader formats numbers in.
    assert set(numbers(message)) <= {*explained, str(found.epoch)}, message
    for secret in secrets:
        assert repr(float(secret)) not in message and f"{secret:.10g}" not in message
    assert "seed" not in message
    assert not any(line in message for line in reference_code(rule)), message


def test_runs_of_the_wrong_shape_or_rules_that_do_not_exist_are_refused():
    with pytest.raises(
        ValueError, match=r"sgd_step: a run of 3 epochs has weights of shape \(4, 2\), got \(3, 2\)"
    ):
        diagnose("sgd_step", [({"epochs": 3}, np.zeros((3, 2)))])
    with pytest.raises(ValueError, match="unknown rule 'adagrad_step'; allowed: sgd_step"):
        diagnose("adagrad_step", [({}, np.zeros((1001, 2)))])
    with pytest.raises(ValueError, match="at least one"):
        diagnose("sgd_step", [])


# --- In the checks -------------------------------------------------------------


def _diagnostic_runs(step, rule):
    return [
        (setting, grading.trajectory(step, rule, **setting))
        for setting in grading.diagnostic_settings(rule)
    ]


@pytest.mark.parametrize("rule", list(grading.RULES))
def test_the_public_diagnostic_runs_alone_tell_every_mistake_apart(rule):
    for mistake in diagnosis.mistakes_for(rule):
        for student in STUDENTS.get(mistake.id, (mistake.step,)):
            found = diagnose(rule, _diagnostic_runs(student, rule))
            if found.verdict == "ambiguous":  # paths that stop being finite tell nothing
                assert not np.isfinite(_diagnostic_runs(student, rule)[0][1]).all()
                found = found.settled(probes.settle(student, rule, found.mistakes))
            assert found.mistake is mistake, found.message()
    for step in CORRECT_OTHERWISE[rule]:  # and they are stable: other algebra still agrees
        assert diagnose(rule, _diagnostic_runs(step, rule)).correct


def flat(text: str) -> str:
    """``text`` with its line breaks (the checks wrap their messages) as single spaces."""
    return " ".join(text.split())


def _raised(check) -> str:
    with pytest.raises(AssertionError) as failure:
        check()
    return str(failure.value)


@pytest.mark.parametrize("mistake", HANDWRITTEN, ids=lambda m: m.id)
def test_the_visible_test_and_the_hidden_test_name_the_mistake_and_record_it(mistake):
    rule, student = mistake.rule, STUDENTS[mistake.id][1]
    with grading.recording() as found:
        visible = _raised(lambda: grading.check_trajectory(student, rule, epochs=5))
        assert set(found) == {rule} and found[rule].diagnosis == mistake.id
        hidden = _raised(lambda: grading.check_hidden_trajectories(student, rule))
    # in lines nbgrader validate shows whole: 87 characters with its indent of 4 and, on
    # the first line, "AssertionError: "
    first, *others = visible.split("\n")
    assert len(f"AssertionError: {first}") <= 83 and all(len(line) <= 83 for line in others)
    note = f" {mistake.convention}" if mistake.convention else ""
    assert re.fullmatch(
        rf"{rule}: {re.escape(mistake.explanation)}; (from epoch \d+ your weights are "
        rf"\(\S+ \S+\), the reference's \(\S+ \S+\)|at epoch \d+ your weights are no longer "
        rf"finite){re.escape(note)}",
        flat(visible),
    ), visible
    assert flat(hidden).startswith(
        f"{rule}: {mistake.explanation}; a hidden test shows it from epoch "
    )
    finding = found[rule]
    original = grading.trajectory(student, rule)
    assert finding.diagnosis == mistake.id
    assert finding.first_divergent_epoch == grading.first_parting(
        np.nan_to_num(original, nan=np.inf), grading.reference(rule)
    )
    # what the class report and the comment under the answer say: no setting, no weights
    said = f"{rule}: {mistake.explanation}; it shows from epoch "
    assert finding.message.startswith(said) and finding.message.endswith(note.strip())
    epoch = int(re.match(r"\d+", finding.message.removeprefix(said)).group())
    explained = numbers(mistake.explanation + mistake.convention)
    assert set(numbers(finding.message)) <= {*explained, str(epoch)}, finding.message


@pytest.mark.parametrize("rule", list(grading.RULES))
def test_correct_rules_pass_and_leave_nothing_on_record(rule):
    with grading.recording() as found:
        for step in (optimizers.OPTIMIZERS[grading.RULES[rule]].step, *CORRECT_OTHERWISE[rule]):
            grading.check_trajectory(step, rule, epochs=5)
            grading.check_hidden_trajectories(step, rule)
    assert found == {}


def test_a_rule_that_raises_is_recorded_as_such_not_diagnosed():
    def sgd_step(w, grad, lr):
        raise RuntimeError("not yet")

    with grading.recording() as found:
        message = _raised(lambda: grading.check_hidden_trajectories(sgd_step, "sgd_step"))
    assert message.startswith("sgd_step fails a hidden test: it raised an exception at epoch 1.")
    assert found["sgd_step"].diagnosis == "raised"


def test_the_self_check_prints_the_diagnosis(capsys):
    student = STUDENTS["adam-betas-swapped"][0]
    grading.self_check(student, "adam_step")
    printed = flat(capsys.readouterr().out)
    assert printed.startswith(f"adam_step: {CATALOGUE['adam-betas-swapped'].explanation}; ")
    assert re.search(r"; from epoch \d+ your weights are \(.+\), the reference's \(", printed)


def test_the_readmes_example_message_is_the_real_one():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    shown = re.search(r"```text\n(AssertionError: adam_step: .*?)\n```", readme, re.S).group(1)
    message = _raised(
        lambda: grading.check_trajectory(
            STUDENTS["adam-no-bias-correction"][0], "adam_step", epochs=5
        )
    )
    assert shown == f"AssertionError: {message}"
