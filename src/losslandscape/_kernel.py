"""Compiled training loop for the five built-in rules.

NumPy spends about a microsecond per call on arrays of two elements, and an
epoch of five methods makes some forty such calls; compiled, the same epoch
costs what its arithmetic costs. The rules themselves are not rewritten: the
kernel compiles and calls the functions of :mod:`losslandscape.optimizers` on
scalars, so the math lives in one place. Rules that are not built in (a
student's, say) take the NumPy loop in :mod:`losslandscape.training`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from . import optimizers

_sgd = numba.njit(cache=True)(optimizers.sgd_step)
_momentum = numba.njit(cache=True)(optimizers.momentum_step)
_nesterov = numba.njit(cache=True)(optimizers.nesterov_step)
_rmsprop = numba.njit(cache=True)(optimizers.rmsprop_step)
_adam = numba.njit(cache=True)(optimizers.adam_step)

RULE_IDS = {
    optimizers.sgd_step: 0,
    optimizers.momentum_step: 1,
    optimizers.nesterov_step: 2,
    optimizers.rmsprop_step: 3,
    optimizers.adam_step: 4,
}
"""Kernel rule id of each built-in step function."""


@numba.njit(cache=True)
def _cost_and_gradient(w_a, w_b, coef_a, coef_b, base, target, rest, factor):
    """The seed's cost and gradient at one weight pair, summed over output units and images."""
    n = target.shape[1]
    squared = grad_a = grad_b = 0.0
    for k in range(target.shape[0]):
        for i in range(n):
            pred = 1.0 / (1.0 + math.exp(-(base[k, i] + w_a * coef_a[k, i] + w_b * coef_b[k, i])))
            error = pred - target[k, i]
            squared += error * error
            delta = error * pred * (1 - pred)
            grad_a += delta * coef_a[k, i]
            grad_b += delta * coef_b[k, i]
    return rest + squared / n, factor * (grad_a / n), factor * (grad_b / n)


@numba.njit(cache=True)
def _step(rule, w, grad, s1, s2, t, lr, h):
    """One update of one weight by rule id; returns (w, s1, s2)."""
    if rule == 0:
        return _sgd(w, grad, lr), s1, s2
    if rule == 1:
        w, s1 = _momentum(w, grad, s1, lr, h[0])
        return w, s1, s2
    if rule == 2:
        w, s1 = _nesterov(w, grad, s1, lr, h[0])
        return w, s1, s2
    if rule == 3:
        w, s1 = _rmsprop(w, grad, s1, lr, h[0], h[1])
        return w, s1, s2
    return _adam(w, grad, s1, s2, t, lr, h[0], h[1], h[2])


@numba.njit(cache=True)
def train_runs(rules, starts, lrs, hypers, epochs, coef_a, coef_b, base, target, rest, factor):
    """Train every run; returns weights ``(epochs+1, runs, 2)`` and costs ``(epochs+1, runs)``.

    ``hypers[r]`` holds run r's hyperparameters in the order of its rule's signature.
    """
    runs = len(rules)
    history = np.empty((epochs + 1, runs, 2))
    costs = np.empty((epochs + 1, runs))
    for r in range(runs):
        w_a, w_b = starts[r, 0], starts[r, 1]
        m_a = m_b = v_a = v_b = 0.0
        history[0, r, 0], history[0, r, 1] = w_a, w_b
        for t in range(1, epochs + 1):
            cost, g_a, g_b = _cost_and_gradient(
                w_a, w_b, coef_a, coef_b, base, target, rest, factor
            )
            costs[t - 1, r] = cost
            w_a, m_a, v_a = _step(rules[r], w_a, g_a, m_a, v_a, t, lrs[r], hypers[r])
            w_b, m_b, v_b = _step(rules[r], w_b, g_b, m_b, v_b, t, lrs[r], hypers[r])
            history[t, r, 0], history[t, r, 1] = w_a, w_b
        costs[epochs, r] = _cost_and_gradient(w_a, w_b, coef_a, coef_b, base, target, rest, factor)[
            0
        ]
    return history, costs
