"""The landscape assignment's reference answers: the frozen network's outputs, cost,
gradient and map as functions of the two watched weights.

The functions take what the student's take: the watched weights ``w_a`` (``w2[5, 250]``)
and ``w_b`` (``w2[5, 251]``), the output layer's weights ``w2`` (10, 500), the second
hidden layer's activations ``hidden`` (500, N) and the one-hot labels ``onehot``
(N, 10). They use NumPy alone, because :func:`outputs`, :func:`cost` and
:func:`cost_map_loop` are also sent, as source, into the sandbox: the speed test times
the student's map against that loop in the same process (:data:`LOOP_SOURCE`).
"""

from __future__ import annotations

import inspect

import numpy as np

WATCHED = ((5, 250), (5, 251))
"""``w_a`` is ``w2[5, 250]`` and ``w_b`` is ``w2[5, 251]``, as in the original notebook."""


def pre_activations(w_a, w_b, w2, hidden):
    """The output layer's inputs (10, N) with w2[5, 250] = w_a and w2[5, 251] = w_b."""
    weights = w2.copy()
    weights[5, 250] = w_a
    weights[5, 251] = w_b
    return weights @ hidden


def outputs(w_a, w_b, w2, hidden):
    """The network's outputs (10, N) with w2[5, 250] = w_a and w2[5, 251] = w_b."""
    return 1 / (1 + np.exp(-pre_activations(w_a, w_b, w2, hidden)))


def cost(w_a, w_b, w2, hidden, onehot):
    """The squared error summed over the 10 outputs, averaged over the N images."""
    return np.mean(np.sum((outputs(w_a, w_b, w2, hidden) - onehot.T) ** 2, axis=0))


def gradient(w_a, w_b, w2, hidden, onehot):
    """The true gradient of :func:`cost`, ``[dC/dw_a, dC/dw_b]``."""
    pred = outputs(w_a, w_b, w2, hidden)[5]
    delta = 2 * (pred - onehot[:, 5]) * pred * (1 - pred)
    return np.array([np.mean(delta * hidden[250]), np.mean(delta * hidden[251])])


def cost_map(w_a_values, w_b_values, w2, hidden, onehot):
    """:func:`cost` at every ``(w_a_values[i], w_b_values[j])``, as ``[j, i]``, at once.

    Only output 5 depends on the watched weights, and its pre-activation linearly: the
    other nine outputs' error is one number, and output 5's is summed over a grid of
    pre-activations.
    """
    rest = other_outputs_cost(w2, hidden, onehot)
    row = w2[5].copy()
    row[[250, 251]] = 0
    frozen = row @ hidden
    w_a = np.asarray(w_a_values, float)[None, :, None]
    w_b = np.asarray(w_b_values, float)[:, None, None]
    pred = 1 / (1 + np.exp(-(frozen + w_a * hidden[250] + w_b * hidden[251])))
    return rest + np.mean((pred - onehot[:, 5]) ** 2, axis=2)


def other_outputs_cost(w2, hidden, onehot):
    """The part of :func:`cost` from the nine outputs the watched weights do not feed."""
    others = [k for k in range(10) if k != 5]
    return np.mean(np.sum((1 / (1 + np.exp(-(w2[others] @ hidden))) - onehot.T[others]) ** 2, 0))


def cost_map_loop(w_a_values, w_b_values, w2, hidden, onehot):
    """:func:`cost` at every grid point, one point at a time, as the original notebook."""
    grid = np.empty((len(w_b_values), len(w_a_values)))
    for j, w_b in enumerate(w_b_values):
        for i, w_a in enumerate(w_a_values):
            grid[j, i] = cost(w_a, w_b, w2, hidden, onehot)
    return grid


LOOP_SOURCE = "\n\n".join(
    inspect.getsource(f) for f in (pre_activations, outputs, cost, cost_map_loop)
)
"""The loop the speed test races, with what it calls, as the sandbox runs it."""
LOOP_NAME = cost_map_loop.__name__
