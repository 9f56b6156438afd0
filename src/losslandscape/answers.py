"""What the chapters' hidden cells check their exercises' answers with.

Each chapter's exercises ask for a value where a run changes its behaviour (the
learning rate past which SGD gets beyond :math:`w_{5,250} = 15`, say). A reader finds
it with the live panel's sliders, so the answer is the first value *the slider offers*
(:func:`lr_values`, :func:`hyper_values`, :func:`epochs_values`, from the one source of
the panels' settings, :data:`~losslandscape.panel.PANEL`), shown as the panel shows it
(:func:`shown_lr`); :func:`threshold` finds the exact value where the prose also gives it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from .landscape import Landscape
from .optimizers import OPTIMIZERS
from .panel import PANEL
from .training import train


def _slider(low: float, high: float, step: float) -> np.ndarray:
    """The values a range input offers: ``low + k * step`` up to ``high``."""
    return low + step * np.arange(round((high - low) / step) + 1)


def lr_values() -> np.ndarray:
    """The learning rates the panels' log-scale slider offers, increasing."""
    return 10 ** _slider(*PANEL.lr_log10, PANEL.lr_log10_step)


def hyper_values(method: str, key: str) -> np.ndarray:
    """The values the slider of hyperparameter ``key`` of ``method`` offers, increasing."""
    hyper = OPTIMIZERS[method].hyper[key]
    step = PANEL.hyper_step(hyper)
    if hyper.positive:
        return 10 ** _slider(*np.log10(hyper.slider), step)
    return np.round(_slider(*hyper.slider, step), 6)


def epochs_values() -> np.ndarray:
    """The numbers of epochs the epochs slider offers."""
    return _slider(*PANEL.epochs, PANEL.epochs_step).astype(int)


def shown_lr(lr: float) -> str:
    """A learning rate as the panel's readout shows it (as ``formatLr`` in the page)."""
    return f"{lr:.1f}" if lr >= 10 else f"{lr:.2f}" if lr >= 1 else f"{lr:.3f}"


@dataclasses.dataclass(frozen=True)
class Crossing:
    """Where a run from the original start first ends beyond a level, on a slider."""

    value: float
    """The first slider value whose run ends beyond the level."""
    before: float
    """The slider's value just below it, whose run ends short."""
    end_before: float
    """Where :math:`w_{5,250}` ends at ``before``."""
    end_at: float
    """Where :math:`w_{5,250}` ends at ``value``."""


def first_crossing(
    landscape: Landscape, method: str, level: float = 15.0, **hyperparameters
) -> Crossing:
    """The smallest learning rate on the slider at which ``method`` ends past ``level``.

    Every learning rate the slider offers is trained (in one call); the answer is the
    first whose run ends with :math:`w_{5,250}` beyond ``level``, and every smaller one
    must end short of it, or the question has no single answer and this raises.

    Raises:
        ValueError: no slider value gets there, or one below the first does too.
    """
    values = lr_values()
    runs = train(landscape, [method], lrs=list(values), hyperparameters={method: hyperparameters})
    ends = np.array([run.weights[-1, 0] for run in runs])
    past = ends > level
    if not past.any() or past[0]:
        raise ValueError(f"{method}: no first learning rate on the slider passes {level}")
    first = int(np.argmax(past))
    return Crossing(values[first], values[first - 1], ends[first - 1], ends[first])


def crosses(landscape: Landscape, method: str, lr: float, level: float = 15.0) -> bool:
    """Whether the run from the original start ends with :math:`w_{5,250}` beyond ``level``.

    Args:
        landscape: The images the cost is computed on.
        method: A registered method's name.
        lr: The learning rate; the other settings are the original notebook's.
        level: The value :math:`w_{5,250}` must pass.
    """
    return bool(train(landscape, [method], lrs=[lr])[0].weights[-1, 0] > level)


def threshold(
    passes: Callable[[float], bool], low: float, high: float, *, log: bool = True
) -> float:
    """The value where ``passes`` turns True, by bisection to about 1e-9 of the interval.

    Args:
        passes: False at ``low``, True at ``high``, and switching once between them.
        low, high: The interval's ends.
        log: Halve the interval on a log scale (for learning rates and epsilons).

    Raises:
        ValueError: ``passes`` does not turn from False at ``low`` to True at ``high``.
    """
    if passes(low) or not passes(high):
        raise ValueError(f"passes must be False at low={low} and True at high={high}")
    for _ in range(30):
        middle = np.sqrt(low * high) if log else (low + high) / 2
        low, high = (low, middle) if passes(middle) else (middle, high)
    return float(high)
