"""The settings the rules are trained on besides the visible tests': hidden and diagnostic.

Hidden settings are drawn once per grading process, when a check first asks for
them: shapes from a few to a few hundred elements, runs past 1,000 epochs, learning
rates and hyperparameters across their ranges, several starts. The diagnostic
settings are public and fixed. Both sit on :mod:`.runs` and feed :mod:`.checks`.
"""

from __future__ import annotations

import functools
import math
import os
import secrets

import numpy as np

from ..optimizers import OPTIMIZERS
from ..training import train
from .runs import RULES, landscape

DRAW_SEED = int(os.environ.get("LOSSLANDSCAPE_GRADING_SEED") or secrets.randbits(63))
"""Seeds the hidden settings of this grading process; set the environment variable
``LOSSLANDSCAPE_GRADING_SEED`` to draw the same ones again."""


def diagnostic_settings(name: str) -> tuple[dict, ...]:
    """Public runs a wrong rule ``name`` is also trained on, so its mistake can be named.

    The original notebook's 1000 epochs, and 200 from another start with the
    registry's diagnostic learning rate and hyperparameters
    (:class:`~losslandscape.optimizers.Exercise`), which tell apart mistakes that
    leave the same path on the original run (momentum dampened by (1 - rho) and
    momentum without the learning rate, at lr 10 and rho 0.9).
    """
    exercise = OPTIMIZERS[RULES[name]].assignment
    diagnostic = {"start": (2.0, 5.0), "epochs": 200, "lr": exercise.diagnostic_lr}
    if exercise.diagnostic_hyperparameters:
        diagnostic["hyperparameters"] = dict(exercise.diagnostic_hyperparameters)
    return ({}, diagnostic)


# What the hidden trajectories draw from, per rule: learning rates (log-uniform, the
# registry's Exercise.hidden_lrs), and hyperparameters narrower than the registry's
# ranges (which the hidden steps tests use), where the runs stay numerically stable.
_TRAJECTORY_HYPERPARAMETER_RANGES = {
    "rho": (0.5, 0.95),
    "beta1": (0.5, 0.95),
    "beta2": (0.9, 0.9999),
    "eps": (0.01, 0.5),
}
_SHAPE_BANDS = ((2, 6), (10, 60), (100, 400))
"""Elements per hidden steps test: a few, tens, a few hundred."""
_STABILITY = 1e-10
"""A drawn setting is kept only if a start moved by 1e-12 stays this close all the way."""


def _rng(name: str, kind: str) -> np.random.Generator:
    kinds = ("steps", "runs")
    return np.random.default_rng([DRAW_SEED, list(RULES).index(name), kinds.index(kind)])


def _draw_hyperparameters(rng, name, ranges=None) -> dict[str, float]:
    """Each hyperparameter of rule ``name`` drawn from ``ranges`` or its registry range."""
    drawn = {}
    for key, hyper in OPTIMIZERS[RULES[name]].hyper.items():
        low, high = (ranges or {}).get(key, hyper.slider)
        drawn[key] = (
            _log_uniform(rng, low, high) if hyper.positive else float(rng.uniform(low, high))
        )
    return drawn


def _log_uniform(rng, low, high) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


@functools.cache
def hidden_steps_settings(name: str) -> tuple[dict, ...]:
    """The hidden steps tests of rule ``name`` for this grading process, one per shape band."""
    rng = _rng(name, "steps")
    settings = []
    for low, high in _SHAPE_BANDS:
        size = int(rng.integers(low, high + 1))
        rows = int(rng.choice([1, 2, 3]))
        shape = (size,) if size % rows else (rows, size // rows)
        settings.append(
            {
                "lr": _log_uniform(rng, 1e-3, 10.0),
                "hyperparameters": _draw_hyperparameters(rng, name),
                "shape": shape,
                "steps": int(rng.integers(3, 9)),
                "seed": int(rng.integers(2**31)),
            }
        )
    return tuple(settings)


@functools.cache
def hidden_trajectory_settings(name: str) -> tuple[dict, ...]:
    """The hidden trajectories of rule ``name`` for this grading process.

    The original notebook's run, one run of 2,000 to 3,000 epochs and two
    shorter ones, from drawn starts with drawn learning rates and
    hyperparameters. A draw is kept only where the run is numerically stable
    (see :data:`_STABILITY`), so a correct rule written in another order of
    operations still passes.
    """
    rng = _rng(name, "runs")
    settings = [{}]
    for epochs_low, epochs_high in ((2000, 3000), (150, 600), (150, 600)):
        for _ in range(50):
            setting = {
                "start": (float(rng.uniform(-15, 17)), float(rng.uniform(-15, 18))),
                "lr": _log_uniform(rng, *OPTIMIZERS[RULES[name]].assignment.hidden_lrs),
                "epochs": int(rng.integers(epochs_low, epochs_high + 1)),
                "hyperparameters": _draw_hyperparameters(
                    rng, name, _TRAJECTORY_HYPERPARAMETER_RANGES
                ),
            }
            if _stable(name, **setting):
                settings.append(setting)
                break
    return tuple(settings)


def _stable(name, start, lr, epochs, hyperparameters) -> bool:
    method = RULES[name]
    moved = (start[0] * (1 + 1e-12) + 1e-12, start[1])
    runs = train(
        landscape(),
        [method],
        starts=[start, moved],
        lrs=[lr],
        epochs=epochs,
        hyperparameters={method: hyperparameters},
        on_divergence="keep",
    )
    if any(run.diverged_at is not None for run in runs):
        return False
    return bool(np.abs(runs[0].weights - runs[1].weights).max() < _STABILITY)
