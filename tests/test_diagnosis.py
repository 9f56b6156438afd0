"""Diagnosis by trajectory: each common mistake is named from the paths it leaves (fast).

Every student rule here is written by hand, as a student would write it, and
none calls the catalogue: the diagnosis must recognise a mistake by its path,
whatever the algebra.
"""

import ast
import functools
import inspect
import re
import textwrap

import numpy as np
import pytest

from losslandscape import grading, optimizers
from losslandscape.grading import diagnosis
from losslandscape.grading.diagnosis import CATALOGUE, MISTAKES, diagnose

# --- Two versions of every mistake in the catalogue --------------------------


def sgd_ascent_a(w, grad, lr):
    step = lr * grad
    return w + step


def sgd_ascent_b(w, grad, lr):
    new_w = w.copy()
    new_w += np.multiply(lr, grad)
    return new_w


def sgd_lr_squared_a(w, grad, lr):
    return w - lr**2 * grad


def sgd_lr_squared_b(w, grad, lr):
    step = lr * grad
    return w - lr * step


def sgd_no_lr_a(w, grad, lr):
    return np.subtract(w, grad)


def sgd_no_lr_b(w, grad, lr):
    new_w = w.copy()
    new_w -= grad
    return new_w


def momentum_ascent_a(w, grad, velocity, lr, rho):
    v = rho * velocity + lr * grad  # the velocity in Keras's units, sign flipped
    return w + v, v


def momentum_ascent_b(w, grad, velocity, lr, rho):
    velocity = np.multiply(rho, velocity) + grad
    w_new = w + lr * velocity
    return w_new, velocity


def momentum_lr_squared_a(w, grad, velocity, lr, rho):
    v = rho * velocity + grad
    return w - lr * lr * v, v


def momentum_lr_squared_b(w, grad, velocity, lr, rho):
    v = rho * velocity - lr * grad
    return w + lr * v, v


def momentum_no_lr_a(w, grad, velocity, lr, rho):
    v = velocity * rho
    v = v + grad
    return np.subtract(w, v), v


def momentum_no_lr_b(w, grad, velocity, lr, rho):
    v = rho * velocity - grad
    return w + v, v


def momentum_state_unchanged_a(w, grad, velocity, lr, rho):
    v = rho * velocity + grad
    return w - lr * v, velocity


def momentum_state_unchanged_b(w, grad, velocity, lr, rho):
    new_w = w - lr * (rho * velocity + grad)
    return new_w, np.copy(velocity)


def momentum_dampened_a(w, grad, velocity, lr, rho):
    v = rho * velocity + (1 - rho) * grad
    return w - lr * v, v


def momentum_dampened_b(w, grad, velocity, lr, rho):
    v = velocity + (1 - rho) * (grad - velocity)  # a moving average of the gradients
    return w - lr * v, v


def nesterov_ascent_a(w, grad, velocity, lr, rho):
    v_new = rho * velocity - lr * grad
    return w - v_new - rho * (v_new - velocity), v_new


def nesterov_ascent_b(w, grad, velocity, lr, rho):
    velocity_new = rho * velocity + lr * grad
    w_new = w + (1 + rho) * velocity_new - rho * velocity
    return w_new, velocity_new


def nesterov_lr_squared_a(w, grad, velocity, lr, rho):
    v = rho * velocity - lr * lr * grad
    return w + v + rho * (v - velocity), v


def nesterov_lr_squared_b(w, grad, velocity, lr, rho):
    v = rho * velocity - lr * grad
    return w + lr * ((1 + rho) * v - rho * velocity), v


def nesterov_no_lr_a(w, grad, velocity, lr, rho):
    v = rho * velocity - grad
    return w + (1 + rho) * v - rho * velocity, v


def nesterov_no_lr_b(w, grad, velocity, lr, rho):
    v_prev = velocity.copy()
    v = velocity * rho
    v -= grad
    return w + v + rho * (v - v_prev), v


def nesterov_state_unchanged_a(w, grad, velocity, lr, rho):
    new_v = rho * velocity - lr * grad
    return w + (1 + rho) * new_v - rho * velocity, velocity


def nesterov_state_unchanged_b(w, grad, velocity, lr, rho):
    v = rho * velocity - lr * grad
    step = v + rho * (v - velocity)
    return w + step, np.zeros_like(velocity)


def nesterov_as_momentum_a(w, grad, velocity, lr, rho):
    v = rho * velocity - lr * grad
    return w + v, v


def nesterov_as_momentum_b(w, grad, velocity, lr, rho):
    v = rho * velocity + grad  # PyTorch's plain momentum
    return w - lr * v, v


def rmsprop_ascent_a(w, grad, sq_avg, lr, rho, eps):
    s = rho * sq_avg + (1 - rho) * grad**2
    return w + lr * grad / (np.sqrt(s) + eps), s


def rmsprop_ascent_b(w, grad, sq_avg, lr, rho, eps):
    s = sq_avg * rho + (1 - rho) * np.square(grad)
    step = lr * grad / (s**0.5 + eps)
    return w + step, s


def rmsprop_lr_squared_a(w, grad, sq_avg, lr, rho, eps):
    s = rho * sq_avg + (1 - rho) * grad * grad
    return w - lr * lr * grad / (np.sqrt(s) + eps), s


def rmsprop_lr_squared_b(w, grad, sq_avg, lr, rho, eps):
    s = rho * sq_avg + (1 - rho) * grad**2
    step = lr * grad / (np.sqrt(s) + eps)
    return w - lr * step, s


def rmsprop_no_lr_a(w, grad, sq_avg, lr, rho, eps):
    s = rho * sq_avg + (1 - rho) * grad**2
    return w - grad / (np.sqrt(s) + eps), s


def rmsprop_no_lr_b(w, grad, sq_avg, lr, rho, eps):
    s = sq_avg + (1 - rho) * (np.square(grad) - sq_avg)
    return w - np.divide(grad, np.sqrt(s) + eps), s


def rmsprop_state_unchanged_a(w, grad, sq_avg, lr, rho, eps):
    s = rho * sq_avg + (1 - rho) * grad * grad
    return w - lr * grad / (np.sqrt(s) + eps), sq_avg


def rmsprop_state_unchanged_b(w, grad, sq_avg, lr, rho, eps):
    denominator = np.sqrt(rho * sq_avg + (1 - rho) * grad**2) + eps
    return w - lr * grad / denominator, sq_avg.copy()


def rmsprop_no_one_minus_rho_a(w, grad, sq_avg, lr, rho, eps):
    s = rho * sq_avg + grad**2
    return w - lr * grad / (np.sqrt(s) + eps), s


def rmsprop_no_one_minus_rho_b(w, grad, sq_avg, lr, rho, eps):
    s = sq_avg * rho
    s = s + np.square(grad)
    return w - lr * grad / (s**0.5 + eps), s


def rmsprop_eps_inside_a(w, grad, sq_avg, lr, rho, eps):
    s = rho * sq_avg + (1 - rho) * grad**2
    return w - lr * grad / np.sqrt(s + eps), s


def rmsprop_eps_inside_b(w, grad, sq_avg, lr, rho, eps):
    s = sq_avg + (1 - rho) * (grad * grad - sq_avg)
    return w - lr * grad * (s + eps) ** -0.5, s


def adam_ascent_a(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    return w + lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v


def adam_ascent_b(w, grad, m, v, t, lr, beta1, beta2, eps):
    m_new = m * beta1 + grad * (1 - beta1)
    v_new = v * beta2 + np.square(grad) * (1 - beta2)
    m_hat = m_new / (1 - np.power(beta1, t))
    v_hat = v_new / (1 - np.power(beta2, t))
    return w + lr * m_hat / (v_hat**0.5 + eps), m_new, v_new


def adam_lr_squared_a(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr * lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def adam_lr_squared_b(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    step = lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return w - lr * step, m, v


def adam_no_lr_a(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - m_hat / (np.sqrt(v_hat) + eps), m, v


def adam_no_lr_b(w, grad, m, v, t, lr, beta1, beta2, eps):
    m_new = m + (1 - beta1) * (grad - m)
    v_new = v + (1 - beta2) * (grad**2 - v)
    step = (m_new / (1 - beta1**t)) / ((v_new / (1 - beta2**t)) ** 0.5 + eps)
    return np.subtract(w, step), m_new, v_new


def adam_state_unchanged_a(w, grad, m, v, t, lr, beta1, beta2, eps):
    m_new = beta1 * m + (1 - beta1) * grad
    v_new = beta2 * v + (1 - beta2) * grad**2
    m_hat = m_new / (1 - beta1**t)
    v_hat = v_new / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def adam_state_unchanged_b(w, grad, m, v, t, lr, beta1, beta2, eps):
    m_hat = (beta1 * m + (1 - beta1) * grad) / (1 - beta1**t)
    v_hat = (beta2 * v + (1 - beta2) * grad * grad) / (1 - beta2**t)
    return w - lr * m_hat / (v_hat**0.5 + eps), np.zeros_like(m), np.zeros_like(v)


def adam_no_bias_correction_a(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    return w - lr * m / (np.sqrt(v) + eps), m, v


def adam_no_bias_correction_b(w, grad, m, v, t, lr, beta1, beta2, eps):
    m_new = m * beta1 + grad * (1 - beta1)
    v_new = v * beta2 + np.square(grad) * (1 - beta2)
    return w - lr * m_new / (v_new**0.5 + eps), m_new, v_new


def adam_betas_swapped_a(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta2 * m + (1 - beta2) * grad
    v = beta1 * v + (1 - beta1) * grad**2
    m_hat = m / (1 - beta2**t)
    v_hat = v / (1 - beta1**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def adam_betas_swapped_b(w, grad, m, v, t, lr, beta2, beta1, eps):  # the parameters swapped
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def adam_epsilon_hat_a(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    alpha_t = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    return w - alpha_t * m / (np.sqrt(v) + eps), m, v


def adam_epsilon_hat_b(w, grad, m, v, t, lr, beta1, beta2, eps):
    m_new = m + (1 - beta1) * (grad - m)
    v_new = v + (1 - beta2) * (grad * grad - v)
    lr_t = lr * (1 - beta2**t) ** 0.5 / (1 - beta1**t)
    return w - lr_t * m_new / (v_new**0.5 + eps), m_new, v_new


STUDENTS = {
    mistake.id: tuple(globals()[f"{mistake.id.replace('-', '_')}_{v}"] for v in "ab")
    for mistake in MISTAKES
}
"""Two hand-written versions of each mistake, found by name: a missing one fails here."""

# --- Correct rules written otherwise ---------------------------------------


def sgd_in_place_on_a_copy(w, grad, lr):
    new_w = np.array(w, copy=True)
    new_w -= lr * grad
    return new_w


def momentum_keras_form(w, grad, velocity, lr, rho):
    v = rho * velocity - lr * grad  # Keras keeps the learning rate in the velocity
    return w + v, v


def momentum_in_place_on_copies(w, grad, velocity, lr, rho):
    v = velocity.copy()
    v *= rho
    v += grad
    return w - lr * v, v


def nesterov_pytorch_form(w, grad, velocity, lr, rho):
    v = rho * velocity + grad
    return w - lr * (grad + rho * v), v


def rmsprop_moving_average_form(w, grad, sq_avg, lr, rho, eps):
    s = sq_avg + (1 - rho) * (np.square(grad) - sq_avg)
    return w - lr * grad / (np.sqrt(s) + eps), s


def adam_in_place_on_copies(w, grad, m, v, t, lr, beta1, beta2, eps):
    m, v = m.copy(), v.copy()
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * grad**2
    m_hat = m / (1 - np.power(beta1, t))
    v_hat = v / (1 - np.power(beta2, t))
    return w - lr * m_hat / (v_hat**0.5 + eps), m, v


CORRECT_OTHERWISE = {
    "sgd_step": [sgd_in_place_on_a_copy],
    "momentum_step": [momentum_keras_form, momentum_in_place_on_copies],
    "nesterov_step": [nesterov_pytorch_form],
    "rmsprop_step": [rmsprop_moving_average_form],
    "adam_step": [adam_in_place_on_copies],
}

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
        "rmsprop-eps-inside": (optimizers.rmsprop_eps_inside_step, "Keras and optax"),
        "adam-epsilon-hat": (optimizers.adam_epsilon_hat_step, "Keras"),
    }
    for mistake in MISTAKES:
        if mistake.id in peers:
            step, libraries = peers[mistake.id]
            assert mistake.step is step
            assert mistake.convention.startswith(f"This is how {libraries} write")
            assert "original notebook and PyTorch" in mistake.convention
        else:
            assert mistake.convention == ""
        assert "seed" not in (mistake.explanation + mistake.convention).lower()


# --- Diagnoses ------------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1], ids=["a", "b"])
@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.id)
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
    found = diagnose("Adam", runs_of(adam_no_bias_correction_a, "adam_step"))
    assert found.mistake is CATALOGUE["adam-no-bias-correction"]


def test_one_run_that_cannot_tell_two_mistakes_apart_names_both_and_the_hidden_runs_decide():
    # At the original notebook's lr = 10 and rho = 0.9, dampening the gradient by
    # (1 - rho) scales every step by exactly 1 / lr: the same path as leaving lr out.
    both = {CATALOGUE["momentum-dampened"], CATALOGUE["momentum-no-lr"]}
    for student, mistake in (
        (momentum_dampened_a, "momentum-dampened"),
        (momentum_no_lr_a, "momentum-no-lr"),
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
    wrong_on_visible = runs_of(momentum_no_lr_a, rule)[:1]
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
    runs = runs_of(adam_no_bias_correction_b, "adam_step")
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
    found = diagnose("rmsprop_step", runs_of(rmsprop_eps_inside_b, "rmsprop_step"))
    first, note = found.message().split("\n")
    assert first.startswith("rmsprop_step: eps is added inside the square root, not outside")
    assert note == CATALOGUE["rmsprop-eps-inside"].convention


@pytest.mark.parametrize(
    ("rule", "student"),
    [*((m.rule, STUDENTS[m.id][0]) for m in MISTAKES), ("adam_step", adam_step_typo)],
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
