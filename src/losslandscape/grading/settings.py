"""The settings the rules are trained on besides the visible tests': hidden and diagnostic.

Hidden settings are drawn once per grading process, when a check first asks for
them: shapes from a few to a few hundred elements, runs past 1,000 epochs, learning
rates and hyperparameters across their ranges, several starts. A hidden run is kept
only if it can tell: every mistake of :mod:`.mistakes` leaves its path, and the long
run's path is left even by a rule that is right for the visible run's 1,000 epochs and
makes a mistake only after them. The diagnostic settings are public and fixed. Both
sit on :mod:`.runs` and feed :mod:`.checks`.
"""

from __future__ import annotations

import functools
import math
import os
import secrets

import numpy as np

from ..optimizers import OPTIMIZERS
from ..training import train
from .runs import RULES, TOLERANCE, job_setting, landscape, reference, trajectory

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
LONG_RUN_HYPERPARAMETER_RANGES = {**_TRAJECTORY_HYPERPARAMETER_RANGES, "beta2": (0.999, 0.9999)}
"""The long run's: below 0.999, ``beta2 ** t`` is below 4e-5 past the visible run's 1,000
epochs, where a bias correction of ``v`` dropped from then on would leave no trace."""
_SHAPE_BANDS = ((2, 6), (10, 60), (100, 400))
"""Elements per hidden steps test: a few, tens, a few hundred."""
_STABILITY = 1e-10
"""A drawn setting is kept only if a start moved by 1e-12 stays this close all the way."""
_TELLS = 100 * TOLERANCE
"""How far a mistake's path must leave the reference's for a drawn run to tell it: far
beyond the grader's tolerance, so the mistake written in any order of operations does."""
_DRAWS = 50


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
    operations still passes, and where it tells every mistake of the catalogue
    from the reference (:func:`untold`), the long run even when the mistake is
    made only after the visible run's epochs. Where no draw in :data:`_DRAWS`
    does, the first stable one.
    """
    rng = _rng(name, "runs")
    settings = [{}]
    runs = (
        (2000, 3000, LONG_RUN_HYPERPARAMETER_RANGES),
        (150, 600, _TRAJECTORY_HYPERPARAMETER_RANGES),
        (150, 600, _TRAJECTORY_HYPERPARAMETER_RANGES),
    )
    for epochs_low, epochs_high, ranges in runs:
        stable = []
        for _ in range(_DRAWS):
            setting = {
                "start": (float(rng.uniform(-15, 17)), float(rng.uniform(-15, 18))),
                "lr": _log_uniform(rng, *OPTIMIZERS[RULES[name]].assignment.hidden_lrs),
                "epochs": int(rng.integers(epochs_low, epochs_high + 1)),
                "hyperparameters": _draw_hyperparameters(rng, name, ranges),
            }
            if not _stable(name, **setting):
                continue
            stable.append(setting)
            if not untold(name, setting, first_only=True):
                stable = [setting]
                break
        settings += stable[:1]
    return tuple(settings)


def untold(name: str, setting: dict, first_only: bool = False) -> list[str]:
    """The mistakes of rule ``name`` whose path on the run ``setting`` stays within
    :data:`_TELLS` of the reference's: each mistake as made from the first epoch, or on a
    run longer than the visible one, as made only after it (``<id>-after-<epochs>``). With
    ``first_only``, the first one found, trying first those that were last untold."""
    # Imported here: the catalogue is grown on the public diagnostic settings above.
    from .mistakes import late_for, mistakes_for

    expected = reference(name, **setting)
    visible = job_setting(name)["epochs"]
    if setting["epochs"] > visible:
        candidates = list(late_for(name, visible))
    else:
        candidates = list(mistakes_for(name))
    hardest = _LAST_UNTOLD.setdefault(name, [])
    candidates.sort(key=lambda mistake: mistake.id not in hardest)
    found = []
    for mistake in candidates:
        path = trajectory(mistake.stepper(), name, **setting)
        if np.allclose(path, expected, rtol=_TELLS, atol=_TELLS, equal_nan=True):
            found.append(mistake.id)
            if first_only:
                break
    hardest[:0] = [label for label in found if label not in hardest]
    return found


_LAST_UNTOLD: dict[str, list[str]] = {}
"""Per rule, the mistakes drawn runs last failed to tell, tried first: most draws that
fail, fail on the same few."""


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
