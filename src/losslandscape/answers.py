"""What the chapters' hidden cells check their exercises' answers with.

Each chapter's exercises ask for a value where a run changes its behaviour (the
learning rate past which SGD gets beyond :math:`w_{5,250} = 15`, say); the book's
build asserts the answers its solutions give, with these two functions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .landscape import Landscape
from .training import train


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
