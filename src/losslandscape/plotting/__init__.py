"""Plotly figures of the loss landscape and the optimizers' trajectories.

Every function takes :class:`Surface` grids and :class:`~losslandscape.training.Trajectory`
runs and returns a fresh ``go.Figure``; nothing here keeps state between calls.

The modules, each importing only those above it:

- :mod:`.surface`: the :class:`Surface` grid and what every map of it shares (colour
  scales, contour levels, tooltips, axes fitted to the paths drawn on it);
- :mod:`.picture`: the filled contour map as a PNG picture, for animations;
- :mod:`.landscape`: the landscape alone, in 3D or as contour maps;
- :mod:`.paths`: the runs' paths on the map above their cost per epoch;
- :mod:`.race`: the methods' race, animated on the map or over the 3D surface;
- :mod:`.display`: :func:`show`, live in a notebook or static HTML in the book.

Conventions, chosen against the original notebook's figures:

- axes are named after what they show: the two watched weights, "epoch", "cost";
- surfaces use a perceptually uniform scale (Cividis), each with its own colour bar;
- where trajectories are drawn, the map behind them is a light grey scale so the
  methods' Okabe-Ito colours (no yellow, from the registry) stay visible, and each
  method also has its own dash and marker symbol, so paths that overlap can still be
  told apart;
- every map covers every path drawn on it: a surface that knows its landscape is
  extended, at its own spacing, to the points the runs visit (see :meth:`Surface.covering`);
- the cost drawn at ``weights[i]`` is ``costs[i]``, the cost at that very point, and a
  path's tooltip gives the epoch, both weights and that cost.
"""

from .display import STATIC_ENV, show
from .landscape import landscape_figure, surfaces_slider_figure
from .paths import method_style, sweep_figure, trajectory_figure
from .race import race_3d_figure, race_contour_figure
from .surface import (
    BACKDROP_SCALE,
    MAX_GROWTH,
    SURFACE_SCALE,
    Surface,
    leaving,
    top_legend,
    weight_label,
)

__all__ = [
    "BACKDROP_SCALE",
    "MAX_GROWTH",
    "STATIC_ENV",
    "SURFACE_SCALE",
    "Surface",
    "landscape_figure",
    "leaving",
    "method_style",
    "race_3d_figure",
    "race_contour_figure",
    "show",
    "surfaces_slider_figure",
    "sweep_figure",
    "top_legend",
    "trajectory_figure",
    "weight_label",
]
