"""Student rules written by hand, as students write them: two versions of every mistake
in the diagnosis catalogue, and correct rules written otherwise than the library's.

None calls the catalogue: a diagnosis must recognise a mistake by its path, whatever the
algebra. ``tests/test_diagnosis.py`` diagnoses them directly and
``tests/fixture_submissions.py`` hands them in as submissions to the real pipeline.
"""

import inspect
import re

import numpy as np

from losslandscape.grading.mistakes import MISTAKES

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
    if f"{mistake.id.replace('-', '_')}_a" in globals()
}
"""Two hand-written versions of the mistakes learners make most, found by name (the
generated variants of :mod:`losslandscape.grading.mistakes` stand for the rest)."""

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

OTHER_STATE_FORM = {
    momentum_keras_form: "momentum-lr-in-velocity",
    nesterov_pytorch_form: "nesterov-gradient-sum",
}
"""Correct paths whose state is in another library's form, with the form's diagnosis: the
steps tests, which check the state returned, fail them and name the library."""

# --- Correct rules in styles that look like mistakes to a careless probe -------------


def sgd_copy_then_subtract(w, grad, lr):
    w = w.copy()  # in place, but on a copy: the caller's w stays
    w -= lr * grad
    return w


def sgd_out_parameter(w, grad, lr):
    new = np.empty_like(w)
    np.multiply(grad, lr, out=new)
    np.subtract(w, new, out=new)
    return new


def momentum_out_parameters(w, grad, velocity, lr, rho):
    new_velocity = np.multiply(velocity, rho)
    np.add(new_velocity, grad, out=new_velocity)
    w_new = np.empty_like(w)
    np.subtract(w, lr * new_velocity, out=w_new)
    return w_new, new_velocity


def nesterov_closure(w, grad, velocity, lr, rho):
    def look_ahead(new_velocity):
        return w + new_velocity + rho * (new_velocity - velocity)

    new_velocity = rho * velocity - lr * grad
    return look_ahead(new_velocity), new_velocity


def nesterov_copies_in_place(w, grad, velocity, lr, rho):
    new_velocity = velocity.copy()
    new_velocity *= rho
    new_velocity -= lr * grad
    w_new = np.array(w)  # np.array copies
    w_new += (1 + rho) * new_velocity - rho * velocity
    return w_new, new_velocity


def rmsprop_float64_scalars(w, grad, sq_avg, lr, rho, eps):
    lr, rho, eps = np.float64(lr), np.float64(rho), np.float64(eps)
    sq_avg = rho * sq_avg + (np.float64(1) - rho) * np.square(grad)
    return w - lr * grad / (np.sqrt(sq_avg) + eps), sq_avg


def adam_math_on_scalars(w, grad, m, v, t, lr, beta1, beta2, eps):
    import math

    correction1 = 1.0 - math.pow(beta1, t)  # scalars only: the arrays keep np
    correction2 = 1.0 - math.pow(beta2, t)
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return w - lr * (m / correction1) / (np.sqrt(v / correction2) + eps), m, v


def adam_in_place_on_new_arrays(w, grad, m, v, t, lr, beta1, beta2, eps):
    m_new = beta1 * m  # a new array, then changed in place
    m_new += (1 - beta1) * grad
    v_new = beta2 * v
    v_new += (1 - beta2) * grad**2
    step = m_new / (1 - beta1**t)
    step /= np.sqrt(v_new / (1 - beta2**t)) + eps
    step *= lr
    return w - step, m_new, v_new


def sgd_numpy_functions(w, grad, lr):
    return np.subtract(w, np.multiply(lr, grad))


def momentum_expanded(w, grad, velocity, lr, rho):
    new_velocity = rho * velocity + grad
    return w - lr * rho * velocity - lr * grad, new_velocity  # w - lr * new_velocity, expanded


def nesterov_from_the_old_velocity(w, grad, velocity, lr, rho):
    # w + v' + rho (v' - v) with v' = rho v - lr g, written in the old velocity
    return w + rho * rho * velocity - (1 + rho) * lr * grad, rho * velocity - lr * grad


def rmsprop_reciprocal(w, grad, sq_avg, lr, rho, eps):
    sq_avg = rho * sq_avg + (1 - rho) * np.square(grad)
    scale = np.reciprocal(np.sqrt(sq_avg) + eps)
    return w - lr * grad * scale, sq_avg


def adam_powers(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * np.power(grad, 2)
    m_hat = m / (1 - np.power(beta1, t))
    v_hat = v / (1 - np.power(beta2, t))
    return w - lr * m_hat / (v_hat**0.5 + eps), m, v


CORRECT_STYLES = {
    "sgd_step": [sgd_copy_then_subtract, sgd_out_parameter, sgd_numpy_functions],
    "momentum_step": [momentum_out_parameters, momentum_expanded],
    "nesterov_step": [nesterov_closure, nesterov_copies_in_place, nesterov_from_the_old_velocity],
    "rmsprop_step": [rmsprop_float64_scalars, rmsprop_reciprocal],
    "adam_step": [adam_math_on_scalars, adam_in_place_on_new_arrays, adam_powers],
}
"""Correct rules (in place on copies or new arrays, ``out=``, a closure, NumPy float64
scalars, ``math`` on the scalars, NumPy's functions, the algebra expanded or in the old
state, ``** 0.5``): what calling them shows must be nothing, and they earn full marks."""


# --- Mistakes learners publish, written anew ------------------------------------------


def adam_eps_under_the_root(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / np.sqrt(v_hat + eps), m, v


def adam_counts_from_zero(w, grad, m, v, t, lr, beta1, beta2, eps):
    step = t - 1  # "the first step is step 0"
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    return w - lr * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + eps), m, v


def adam_counts_ahead(w, grad, m, v, t, lr, beta1, beta2, eps):
    t += 1
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m, v = m, v
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v


def adam_keeps_the_corrected_moments(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = (beta1 * m + (1 - beta1) * grad) / (1 - beta1**t)
    v = (beta2 * v + (1 - beta2) * grad * grad) / (1 - beta2**t)
    return w - lr * m / (np.sqrt(v) + eps), m, v


def adam_without_the_root(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return w - lr * (m / (1 - beta1**t)) / (v / (1 - beta2**t) + eps), m, v


def rmsprop_without_the_root(w, grad, sq_avg, lr, rho, eps):
    sq_avg = rho * sq_avg + (1 - rho) * grad**2
    return w - lr * grad / (sq_avg + eps), sq_avg


def momentum_rho_as_a_literal(w, grad, velocity, lr, rho):
    velocity = 0.9 * velocity + grad
    return w - lr * velocity, velocity


def adam_textbook_epsilon(w, grad, m, v, t, lr, beta1, beta2, eps):
    eps = 1e-7  # a well-known textbook's value, not the argument
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v


def rmsprop_returns_the_state_first(w, grad, sq_avg, lr, rho, eps):
    sq_avg = rho * sq_avg + (1 - rho) * grad**2
    return sq_avg, w - lr * grad / (np.sqrt(sq_avg) + eps)


def nesterov_look_ahead_sign_typo(w, grad, velocity, lr, rho):
    new_velocity = rho * velocity - lr * grad
    return w + new_velocity - rho * (new_velocity - velocity), new_velocity


def momentum_cs231n(w, grad, velocity, lr, rho):
    velocity = rho * velocity - lr * grad
    return w + velocity, velocity


def adam_in_float32(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = (beta1 * m + (1 - beta1) * grad).astype(np.float32)
    v = (beta2 * v + (1 - beta2) * grad**2).astype(np.float32)
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v


def momentum_in_place(w, grad, velocity, lr, rho):
    velocity *= rho
    velocity += grad
    return w - lr * velocity, velocity


def adam_bias_correction_until_1000(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    if t > 1000:  # "corrected long enough"
        return w - lr * m / (np.sqrt(v) + eps), m, v
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v


REAL_WORLD = {
    adam_eps_under_the_root: ("adam_step", "adam-eps-inside"),
    adam_counts_from_zero: ("adam_step", "adam-t-minus-one"),
    adam_counts_ahead: ("adam_step", "adam-t-plus-one"),
    adam_keeps_the_corrected_moments: ("adam_step", "adam-corrected-stored"),
    adam_without_the_root: ("adam_step", "adam-no-sqrt"),
    rmsprop_without_the_root: ("rmsprop_step", "rmsprop-no-sqrt"),
    momentum_rho_as_a_literal: ("momentum_step", "momentum-hyperparameter-ignored:rho"),
    adam_textbook_epsilon: ("adam_step", "adam-hyperparameter-ignored:eps"),
    rmsprop_returns_the_state_first: ("rmsprop_step", "rmsprop-wrong-return-order"),
    nesterov_look_ahead_sign_typo: ("nesterov_step", "nesterov-sign-in-w-1"),
    momentum_cs231n: ("momentum_step", "momentum-lr-in-velocity"),
    adam_in_float32: ("adam_step", "adam-float32"),
    momentum_in_place: ("momentum_step", "momentum-inputs-changed"),
    adam_bias_correction_until_1000: ("adam_step", "adam-no-bias-correction-after-1000"),
}
"""Mistakes of the kinds learners publish (course homework, "from scratch" books, blog
notebooks), written anew, with the diagnosis the grader must record: the last is the one
only a hidden run that can tell catches, and no mistake or probe explains."""


def answer_cell(step, rule: str) -> str:
    """``step``'s source as an answer cell defining ``rule``."""
    source = inspect.getsource(step)
    return re.sub(r"^def \w+\(", f"def {rule}(", source, count=1).rstrip() + "\n"
