"""The cost over a grid of the two watched weights, and what every map of it shares:
colour scales, contour levels, tooltips, and axes fitted to the paths drawn on it."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..landscape import WATCHED, Landscape
from ..training import Trajectory

SURFACE_SCALE = "Cividis"
# Light to mid grey, linear in lightness: low cost is light so paths ending there stand out.
BACKDROP_SCALE = [[0.0, "#fbfbfb"], [1.0, "#6e6e6e"]]

MODE_BAR_ROOM = 30
"""Pixels at the top of every figure kept for plotly's mode bar, which shows at the top
right when the pointer is over the figure (26 px high, 2 px down; on a phone it spans most
of the figure's width): legends and titles go below it (see :func:`top_legend`)."""

MAX_GROWTH = 1.0
"""How far a map may grow to cover the paths on it: at most its own width on each side.
A run that flies off further (a diverging one reaches 1e30) leaves the drawn map, and the
figure says so instead of computing a gigantic grid. The rule of every map, the live
panels' included (:func:`grown_axes`; the book's ``losslandscape.js`` reads this value from
its ``registry.json``, see :mod:`losslandscape.panel`)."""


def weight_label(pair: Sequence[int], layer: int = 2) -> str:
    """A watched weight as plotly text, e.g. ``w<sup>(2)</sup><sub>5,250</sub>``."""
    output, hidden = pair
    return f"w<sup>({layer})</sup><sub>{output},{hidden}</sub>"


@dataclasses.dataclass(frozen=True)
class Surface:
    """The cost over a grid: ``z`` has shape ``(len(w_b), len(w_a))`` as ``Landscape.grid``.

    Built with :meth:`of`, a surface keeps its landscape, so the figures can extend it
    to cover the paths drawn on it; built directly from arrays, it is drawn as it is.
    """

    w_a: np.ndarray
    w_b: np.ndarray
    z: np.ndarray
    n_samples: int
    watched: tuple[tuple[int, int], tuple[int, int]] = WATCHED
    _landscape: Landscape | None = dataclasses.field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, landscape: Landscape, w_a, w_b) -> Surface:
        w_a, w_b = np.asarray(w_a, float), np.asarray(w_b, float)
        grid = landscape.grid(w_a, w_b)
        return cls(w_a, w_b, grid, landscape.n_samples, landscape.watched, landscape)

    @property
    def xyz(self) -> dict[str, np.ndarray]:
        """The grid as the ``x``, ``y``, ``z`` of a plotly Surface or Contour trace."""
        return {"x": self.w_a, "y": self.w_b, "z": self.z}

    @property
    def labels(self) -> tuple[str, str]:
        return weight_label(self.watched[0]), weight_label(self.watched[1])

    @property
    def extent(self) -> tuple[list[float], list[float]]:
        """The ranges of ``w_a`` and ``w_b`` the grid spans."""
        return [float(self.w_a[0]), float(self.w_a[-1])], [float(self.w_b[0]), float(self.w_b[-1])]

    def covering(self, runs: Sequence[Trajectory]) -> Surface:
        """This surface, extended at its own spacing to every finite point of ``runs``.

        Each side grows by at most :data:`MAX_GROWTH` times the grid's width, so a run
        that flies off still leaves the map (see :func:`leaving`). Without a landscape
        to compute the new points, the surface is returned as it is.
        """
        if self._landscape is None:
            return self
        w_a, w_b = grown_axes(self.w_a, self.w_b, path_bounds(runs))
        if len(w_a) == len(self.w_a) and len(w_b) == len(self.w_b):
            return self
        return Surface.of(self._landscape, w_a, w_b)


def path_bounds(runs: Sequence[Trajectory], bounds=None):
    """The lowest and highest finite ``(w_a, w_b)`` the runs visit, as ``(low, high)`` pairs
    of numbers, widened to ``bounds`` (an earlier result) if given; None for no point.

    A live panel keeps these across its updates, so its map covers every path drawn since
    it opened and does not shrink while a slider moves (see :func:`grown_axes`).
    """
    points = _finite_points(runs)
    if len(points) == 0:
        return bounds
    low, high = points.min(axis=0), points.max(axis=0)
    if bounds is not None:
        low, high = np.minimum(low, bounds[0]), np.maximum(high, bounds[1])
    return (float(low[0]), float(low[1])), (float(high[0]), float(high[1]))


def grown_axes(w_a, w_b, bounds) -> tuple[np.ndarray, np.ndarray]:
    """The map's axes grown to cover ``bounds`` (:func:`path_bounds`): the growth rule.

    Each axis is extended at its end spacings, in whole steps, to reach the bounds, by at
    most :data:`MAX_GROWTH` times its width on each side; the grid's own points stay as
    they are. The static figures (:meth:`Surface.covering`) and both live panels use this
    rule; ``mapExtent`` in the book's ``losslandscape.js`` is its twin, operation for
    operation, and the tests hold the two to the same axes.
    """
    w_a, w_b = np.asarray(w_a, float), np.asarray(w_b, float)
    if bounds is None:
        return w_a, w_b
    (low_a, low_b), (high_a, high_b) = bounds
    return _grow(w_a, low_a, high_a), _grow(w_b, low_b, high_b)


def top_legend(title: str, height: int) -> dict:
    """A horizontal legend under the mode bar's strip of a figure ``height`` pixels high,
    above its plots, its ``title`` above its entries.

    It is placed against the figure (``yref="container"``), so plotly moves the plots down
    by the legend's height, and its entries wrap within the plots' width: on a phone they
    take several rows, and at no width does the legend cover a plot, a colour bar or the
    mode bar. (Placed in the plots' coordinates, as before, it grew down over the map.)
    """
    return {
        "orientation": "h",
        "title": {"text": title, "side": "top"},
        "x": 0,
        "xanchor": "left",
        "yref": "container",
        "y": 1 - MODE_BAR_ROOM / height,
        "yanchor": "top",
    }


def leaving(surface: Surface, runs: Sequence[Trajectory], names: Sequence[str]) -> list[str]:
    """The names of the runs with a finite point outside the surface's grid."""
    (a0, a1), (b0, b1) = surface.extent
    out = []
    for run, name in zip(runs, names, strict=True):
        points = _finite_points([run])
        if np.any((points < [a0, b0]) | (points > [a1, b1])):
            out.append(name)
    return out


def contour_levels(z: np.ndarray) -> tuple[float, float, float]:
    """Contour levels (start, size, end) at a round step, about 15 bands over ``z``."""
    low, high = float(np.nanmin(z)), float(np.nanmax(z))
    raw = (high - low) / 15 or 1.0
    power = 10 ** math.floor(math.log10(raw))
    size = next(power * m for m in (1, 2, 2.5, 5, 10) if power * m >= raw)
    return math.floor(low / size) * size, size, math.ceil(high / size) * size


def map_hovertemplate(surface: Surface, cost: str = "z") -> str:
    """A map point's tooltip: both weights and the cost there, read from the trace's
    ``cost`` field (``z`` on a contour or surface trace)."""
    label_a, label_b = surface.labels
    return (
        f"{label_a} = %{{x:.2f}}<br>{label_b} = %{{y:.2f}}<br>cost %{{{cost}:.5f}}<extra></extra>"
    )


def fit_map_to_runs(fig: go.Figure, surface: Surface, runs, names) -> None:
    """The map's axes (row 1, column 1 of ``fig``) fixed to the map (or to the paths, on a
    bare grid), with a note for every path that leaves it."""
    range_a, range_b = map_ranges(surface, runs)
    fig.update_xaxes(range=range_a, row=1, col=1)
    fig.update_yaxes(range=range_b, row=1, col=1)
    note_leaving(fig, surface, runs, names, {"xref": "x domain", "yref": "y domain"})


def map_ranges(surface: Surface, runs) -> tuple[list[float], list[float]]:
    """The ranges of ``w_a`` and ``w_b`` a map's axes show: the grid's, or on a bare grid
    (which cannot grow) the grid's widened to every finite point of ``runs``."""
    if surface._landscape is None:  # nothing to extend the grid with: widen the axes
        return _extent(surface.w_a, runs, 0), _extent(surface.w_b, runs, 1)
    return surface.extent


def note_leaving(fig: go.Figure, surface: Surface, runs, names, refs: dict) -> None:
    """A note on ``fig`` (placed by ``refs``) naming the runs that leave the map; none on a
    bare grid, whose axes widen to the paths instead."""
    if surface._landscape is None:
        return
    out = leaving(surface, runs, names)
    if out:
        fig.add_annotation(
            text=f"not drawn in full, the path leaves the map: {'; '.join(out)}",
            x=0.01,
            y=0.99,
            xanchor="left",
            yanchor="top",
            showarrow=False,
            bgcolor="rgba(255, 255, 255, 0.85)",
            font={"size": 12},
            **refs,
        )


def _finite_points(runs: Sequence[Trajectory]) -> np.ndarray:
    """Every point the runs visit, without the NaN rows of diverged runs."""
    points = np.concatenate([run.weights for run in runs]) if runs else np.empty((0, 2))
    return points[np.all(np.isfinite(points), axis=1)]


def _grow(axis: np.ndarray, low: float, high: float) -> np.ndarray:
    """``axis`` extended at its end spacings to reach ``low`` and ``high``, by at most
    :data:`MAX_GROWTH` times its width on each side."""
    if len(axis) < 2:
        return axis
    reach = MAX_GROWTH * (axis[-1] - axis[0])
    step_low, step_high = axis[1] - axis[0], axis[-1] - axis[-2]
    below = math.ceil(min(axis[0] - low, reach) / step_low - 1e-9)
    above = math.ceil(min(high - axis[-1], reach) / step_high - 1e-9)
    return np.r_[
        axis[0] - step_low * np.arange(max(below, 0), 0, -1),
        axis,
        axis[-1] + step_high * np.arange(1, max(above, 0) + 1),
    ]


def _extent(axis: np.ndarray, runs: Sequence[Trajectory], column: int) -> list[float]:
    """The grid's range along one weight, widened to every finite point the runs visit."""
    visited = np.r_[axis[[0, -1]], _finite_points(runs)[:, column]]
    return [float(visited.min()), float(visited.max())]
