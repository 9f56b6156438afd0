"""Compiled training loop for the five built-in rules.

NumPy spends about a microsecond per call on arrays of two elements, and an
epoch of five methods makes some forty such calls; compiled, the same epoch
costs what its arithmetic costs. The rules themselves are not rewritten: the
kernel compiles and calls the functions of :mod:`losslandscape.optimizers` on
scalars, so the math lives in one place. Rules that are not built in (a
student's, say) take the NumPy loop in :mod:`losslandscape.training`.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import sys
from pathlib import Path

import numba
import numpy as np

from . import optimizers


def cache_folder() -> Path:
    """Where numba keeps this kernel: a folder named after every source it compiles.

    numba's own cache checks only the file of the function it caches, so an
    edited rule in ``optimizers.py`` would leave this kernel's cached machine
    code stale. Keyed on both files (and numba's and Python's versions), an
    edit lands in a new folder and compiles afresh.
    """
    digest = hashlib.sha256(f"{numba.__version__} {sys.version}".encode())
    for source in (Path(optimizers.__file__), Path(__file__)):
        digest.update(source.read_bytes())
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "losslandscape" / "numba" / digest.hexdigest()[:16]


@contextlib.contextmanager
def _cached_in(folder: Path):
    """numba caches what is compiled in this block in ``folder``, or nowhere if it cannot."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        usable = os.access(folder, os.W_OK)
    except OSError:
        usable = False
    previous = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(folder)
    try:
        yield usable  # without a usable folder, numba would fall back to __pycache__
    finally:
        numba.config.CACHE_DIR = previous


RULE_IDS = {
    optimizers.sgd_step: 0,
    optimizers.momentum_step: 1,
    optimizers.nesterov_step: 2,
    optimizers.rmsprop_step: 3,
    optimizers.adam_step: 4,
}
"""Kernel rule id of each built-in step function."""


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


# Compiled last, all in the keyed folder: each function calls the compiled others.
with _cached_in(cache_folder()) as _cache:
    _jit = numba.njit(cache=_cache)
    _sgd = _jit(optimizers.sgd_step)
    _momentum = _jit(optimizers.momentum_step)
    _nesterov = _jit(optimizers.nesterov_step)
    _rmsprop = _jit(optimizers.rmsprop_step)
    _adam = _jit(optimizers.adam_step)
    _cost_and_gradient = _jit(_cost_and_gradient)
    _step = _jit(_step)
    train_runs = _jit(train_runs)
