"""The live panels' controls and map, defined once for both panels.

The ipywidgets panel (:class:`~losslandscape.widgets.OptimizerPanel`) reads :data:`PANEL`
here; the book's page panel (``book/_static/losslandscape-panel.js``) reads the same
values from ``registry.json``, where :func:`~losslandscape.twin.export` writes
:meth:`PanelSettings.registry`. Neither panel has a number of its own:

- the learning rate: a log-scale slider from :math:`10^{-1}` to :math:`10^{2.5}`;
- each method's hyperparameters: the registry's ranges (``Hyper.slider``), log-scale for
  the positive ones, at the steps of :meth:`PanelSettings.hyper_step`;
- epochs: how many epochs each run trains, 10 to 5,000 in steps of 10;
- N: any number of images from 1 to all, on a log scale of :meth:`PanelSettings.n_values`,
  which holds the original notebook's 100 and 1,000;
- the map: the panel's grid (the original notebook's 40 x 40,
  :data:`~losslandscape.landscape.SEED_W_A` by :data:`~losslandscape.landscape.SEED_W_B`,
  unless a panel is given another), grown at its own spacing to cover every path drawn
  since the panel opened, by at most
  :data:`~losslandscape.plotting.surface.MAX_GROWTH` times its width on each side: the
  rule of every map in the book (:func:`~losslandscape.plotting.surface.grown_axes`).
"""

from __future__ import annotations

import dataclasses
import math

from .landscape import SEED_W_A, SEED_W_B
from .plotting.surface import MAX_GROWTH

MAP_W_A = SEED_W_A
"""The live panels' grid over :math:`w_a` unless given another: the original notebook's."""
MAP_W_B = SEED_W_B
"""The live panels' grid over :math:`w_b` unless given another: the original notebook's."""


@dataclasses.dataclass(frozen=True)
class PanelSettings:
    """The ranges and steps of the live panels' controls, and how far their map grows."""

    lr_log10: tuple[float, float] = (-1.0, 2.5)
    """The learning-rate slider's ends, as powers of 10: 0.1 to about 316."""
    lr_log10_step: float = 0.01
    """The learning-rate slider's step, in powers of 10 (350 steps over its range)."""
    epochs: tuple[int, int] = (10, 5000)
    """The epochs slider's ends: how many epochs each run trains."""
    epochs_step: int = 10
    """The epochs slider's step."""
    n_per_decade: int = 50
    """The N slider's positions per power of 10 (about 4.7 % apart), from 1 to all images."""
    hyper_log10_step: float = 0.1
    """The step, in powers of 10, of the slider of a positive hyperparameter (eps)."""
    hyper_linear_step: float = 0.01
    """The step of the slider of a hyperparameter in [0, 1) (rho, beta1)."""
    hyper_fine_step: float = 0.0001
    """The step of such a slider reaching past 0.999 (Adam's beta2, default 0.999)."""
    max_growth: float = MAX_GROWTH
    """How far the map grows on each side, in widths of the panel's grid."""

    def n_values(self, n_max: int, also=()) -> list[int]:
        """The N the N slider offers, increasing: 1, 2, ... on a log scale up to ``n_max``.

        :data:`n_per_decade` positions per power of 10, rounded to integers (so the powers
        of 10, the original notebook's 100 and 1,000 among them, are on it), ending at
        ``n_max``; and the numbers in ``also`` between 1 and ``n_max`` (a panel's own
        start, say).
        """
        top = math.ceil(self.n_per_decade * math.log10(n_max))
        values = {min(n_max, round(10 ** (k / self.n_per_decade))) for k in range(top + 1)}
        return sorted(values | {int(n) for n in also if 1 <= n <= n_max})

    def hyper_step(self, hyper) -> float:
        """The step of the slider of ``hyper`` (an :class:`~losslandscape.optimizers.Hyper`):
        :data:`hyper_log10_step` in powers of 10 for a positive one, else
        :data:`hyper_linear_step`, or :data:`hyper_fine_step` if its range reaches past
        0.999."""
        if hyper.positive:
            return self.hyper_log10_step
        return self.hyper_fine_step if hyper.slider[1] > 0.999 else self.hyper_linear_step

    def registry(self, n_max: int) -> dict:
        """These settings as ``registry.json`` carries them for the page's panel."""
        return {
            "lr": {"log10": list(self.lr_log10), "step": self.lr_log10_step},
            "epochs": {"range": list(self.epochs), "step": self.epochs_step},
            "n": {"range": [1, n_max], "values": self.n_values(n_max)},
            "map": {"maxGrowth": self.max_growth},
        }


PANEL = PanelSettings()
"""The settings both live panels use."""
