"""Plotly figures of the loss landscape and the optimizers' trajectories.

Every function takes :class:`Surface` grids and :class:`~losslandscape.training.Trajectory`
runs and returns a fresh ``go.Figure``; nothing here keeps state between calls.

Conventions, chosen against the seed's figures:

- axes are named after what they show: the two watched weights, "epoch", "cost";
- surfaces use a perceptually uniform scale (Cividis), each with its own colour bar;
- where trajectories are drawn, the map behind them is a light grey scale so the
  methods' Okabe-Ito colours (no yellow, from the registry) stay visible, and each
  method also has its own dash and marker symbol, so paths that overlap can still be
  told apart;
- the cost drawn at ``weights[i]`` is ``costs[i]``, the cost at that very point.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .landscape import WATCHED, Landscape
from .optimizers import OPTIMIZERS, UNREGISTERED_STYLE, Style
from .training import Trajectory

STATIC_ENV = "LOSSLANDSCAPE_STATIC_HTML"
"""Set (to anything but "" or "0") when notebooks run to become static HTML, e.g. in the book."""

SURFACE_SCALE = "Cividis"
# Light to mid grey, linear in lightness: low cost is light so paths ending there stand out.
BACKDROP_SCALE = [[0.0, "#fbfbfb"], [1.0, "#6e6e6e"]]


METHOD_STYLES = {name: optimizer.style for name, optimizer in OPTIMIZERS.items()}
"""Each registered method's colour, dash and markers, from the registry."""


def method_style(method: str) -> Style:
    """The colour, dash and marker symbols of a method (grey for unregistered names)."""
    return METHOD_STYLES.get(method, UNREGISTERED_STYLE)


def weight_label(pair: Sequence[int], layer: int = 2) -> str:
    """A watched weight as plotly text, e.g. ``w<sup>(2)</sup><sub>5,250</sub>``."""
    output, hidden = pair
    return f"w<sup>({layer})</sup><sub>{output},{hidden}</sub>"


@dataclasses.dataclass(frozen=True)
class Surface:
    """The cost over a grid: ``z`` has shape ``(len(w_b), len(w_a))`` as ``Landscape.grid``."""

    w_a: np.ndarray
    w_b: np.ndarray
    z: np.ndarray
    n_samples: int
    watched: tuple[tuple[int, int], tuple[int, int]] = WATCHED

    @classmethod
    def of(cls, landscape: Landscape, w_a, w_b) -> Surface:
        w_a, w_b = np.asarray(w_a, float), np.asarray(w_b, float)
        return cls(w_a, w_b, landscape.grid(w_a, w_b), landscape.n_samples, landscape.watched)

    @property
    def xyz(self) -> dict[str, np.ndarray]:
        """The grid as the ``x``, ``y``, ``z`` of a plotly Surface or Contour trace."""
        return {"x": self.w_a, "y": self.w_b, "z": self.z}

    @property
    def labels(self) -> tuple[str, str]:
        return weight_label(self.watched[0]), weight_label(self.watched[1])


def landscape_figure(
    surfaces: Sequence[Surface], *, colorscale=SURFACE_SCALE, height: int = 480
) -> go.Figure:
    """The surfaces side by side, one 3D scene each, each with its own colour bar."""
    n = len(surfaces)
    fig = make_subplots(
        rows=1,
        cols=n,
        specs=[[{"type": "surface"}] * n],
        subplot_titles=[f"N = {s.n_samples:,}" for s in surfaces],
        horizontal_spacing=0.06,
    )
    for col, surface in enumerate(surfaces, start=1):
        domain = fig.get_subplot(1, col).domain.x
        fig.add_trace(
            go.Surface(
                **surface.xyz,
                colorscale=colorscale,
                name=f"N = {surface.n_samples:,}",
                colorbar={
                    "title": {"text": "cost"},
                    "x": domain[1] - 0.01,
                    "len": 0.75,
                    "thickness": 12,
                },
                contours_z={"show": True, "usecolormap": True, "project_z": True},
            ),
            row=1,
            col=col,
        )
        fig.update_scenes(_scene(surface), row=1, col=col)
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 40, "b": 0})
    return fig


def trajectory_figure(
    surface: Surface, runs: Sequence[Trajectory], *, names: Sequence[str] | None = None
) -> go.Figure:
    """The runs' paths on the contour map (top) and their cost per epoch (bottom)."""
    fig = _map_and_curves(surface)
    names = names or [run.method for run in runs]
    for run, name in zip(runs, names, strict=True):
        epochs = np.arange(run.epochs + 1)
        for trace, row in _path_traces(run, name, epochs):
            fig.add_trace(trace, row=row, col=1)
    return fig


def race_contour_figure(
    surface: Surface, runs: Sequence[Trajectory], *, every: int = 20, frame_ms: int = 120
) -> go.Figure:
    """The seed's animated contour map with the loss curves below, one frame per ``every`` epochs.

    Each method has three traces (path, current point, cost curve) in one legend group,
    so a click on its legend entry hides or shows all three.
    """
    fig = _map_and_curves(surface)
    epochs = _frame_epochs(runs, every)
    for run in runs:
        for trace, row in _path_traces(run, run.method, np.arange(1), head=True):
            fig.add_trace(trace, row=row, col=1)
    # Fixed ranges, so the frames do not rescale the axes as paths grow.
    fig.update_xaxes(range=_extent(surface.w_a, runs, 0), row=1, col=1)
    fig.update_yaxes(range=_extent(surface.w_b, runs, 1), row=1, col=1)
    fig.update_xaxes(range=[0, max(run.epochs for run in runs)], row=2, col=1)
    fig.update_yaxes(range=_cost_range(runs), row=2, col=1)
    frames = []
    for epoch in epochs:
        data = []
        for run in runs:
            shown = _shown(run, epoch)
            data += [
                go.Scatter(x=run.weights[shown, 0], y=run.weights[shown, 1], customdata=shown),
                go.Scatter(x=run.weights[[epoch], 0], y=run.weights[[epoch], 1]),
                go.Scatter(x=shown, y=run.costs[shown]),
            ]
        frames.append(go.Frame(data=data, traces=list(range(1, 1 + len(data))), name=str(epoch)))
    fig.frames = frames
    # Without a redraw, plotly drops the contour map from the animated subplots.
    _add_player(fig, epochs, frame_ms, redraw=True)
    return fig


def race_3d_figure(
    surface: Surface,
    runs: Sequence[Trajectory],
    *,
    every: int = 20,
    frame_ms: int = 150,
    lift: float = 0.03,
    height: int = 640,
) -> go.Figure:
    """The seed's animated 3D view: the paths run over the surface, Play/Pause and an epoch slider.

    Paths are drawn ``lift`` times the surface's cost range above it, so the surface does
    not hide them (the seed multiplied by 1.001 for the same reason). Each method has a
    faint full path, its path so far and its current point, in one legend group.
    """
    dz = lift * float(np.ptp(surface.z))
    fig = go.Figure(
        go.Surface(
            **surface.xyz,
            colorscale=BACKDROP_SCALE,
            opacity=0.9,
            name=f"cost, N = {surface.n_samples:,}",
            colorbar={"title": {"text": "cost"}, "len": 0.6, "thickness": 12, "x": 1.0},
        )
    )
    epochs = _frame_epochs(runs, every)
    for run in runs:
        style = method_style(run.method)
        full = _shown(run, run.epochs)
        group = {"legendgroup": run.method, "name": run.method}
        fig.add_trace(
            go.Scatter3d(
                x=run.weights[full, 0],
                y=run.weights[full, 1],
                z=run.costs[full] + dz,
                mode="lines",
                line={"color": style.color, "width": 2, "dash": "dot"},
                opacity=0.5,
                showlegend=False,
                hoverinfo="skip",
                **group,
            )
        )
        # The path so far and the current point; the frames move both.
        for look in (
            {"mode": "lines", "line": {"color": style.color, "width": 6, "dash": style.dash}},
            {
                "mode": "markers",
                "marker": {"color": style.color, "size": 6, "symbol": style.symbol3d},
                "showlegend": False,
            },
        ):
            fig.add_trace(
                go.Scatter3d(
                    x=run.weights[:1, 0],
                    y=run.weights[:1, 1],
                    z=run.costs[:1] + dz,
                    **look,
                    **group,
                )
            )
    frames = []
    for epoch in epochs:
        data, traces = [], []
        for i, run in enumerate(runs):
            shown = _shown(run, epoch)
            data += [
                go.Scatter3d(
                    x=run.weights[shown, 0], y=run.weights[shown, 1], z=run.costs[shown] + dz
                ),
                go.Scatter3d(
                    x=run.weights[[epoch], 0], y=run.weights[[epoch], 1], z=run.costs[[epoch]] + dz
                ),
            ]
            traces += [2 + 3 * i, 3 + 3 * i]
        frames.append(go.Frame(data=data, traces=traces, name=str(epoch)))
    fig.frames = frames
    label_a, label_b = surface.labels
    fig.update_layout(
        scene={
            **_scene(surface),
            "xaxis": {"title": {"text": label_a}, "range": _extent(surface.w_a, runs, 0)},
            "yaxis": {"title": {"text": label_b}, "range": _extent(surface.w_b, runs, 1)},
        },
        height=height,
        margin={"l": 0, "r": 0, "t": 30, "b": 0},
        legend={"x": 0.01, "y": 0.99, "title": {"text": "click to hide/show"}},
    )
    _add_player(fig, epochs, frame_ms, redraw=True)
    return fig


def sweep_figure(
    surface: Surface,
    runs: Sequence[Trajectory],
    labels: Sequence[str],
    *,
    prefix: str,
    active: int = 0,
) -> go.Figure:
    """One run at a time on the contour map and in the cost plot, chosen by a slider.

    Works in static HTML: the slider only switches which precomputed run is visible.
    ``labels`` name the runs on the slider, after ``prefix`` (e.g. ``"learning rate = "``).
    """
    if len(labels) != len(runs):
        raise ValueError(f"{len(labels)} labels for {len(runs)} runs; give one label per run")
    fig = _map_and_curves(surface)
    owner = [None]  # the run each trace draws; None for the map
    for i, run in enumerate(runs):
        for trace, row in _path_traces(run, run.method, np.arange(run.epochs + 1)):
            trace.visible = i == active
            trace.showlegend = False
            fig.add_trace(trace, row=row, col=1)
            owner.append(i)
    steps = [
        {
            "method": "restyle",
            "args": [{"visible": [j in (None, i) for j in owner]}],
            "label": label,
        }
        for i, label in enumerate(labels)
    ]
    fig.update_layout(
        sliders=[
            {
                "active": active,
                "currentvalue": {"prefix": prefix},
                "pad": {"t": 40},
                "steps": steps,
            }
        ]
    )
    # The same ranges for every run, so the slider never rescales the map.
    fig.update_xaxes(range=_extent(surface.w_a, runs, 0), row=1, col=1)
    fig.update_yaxes(range=_extent(surface.w_b, runs, 1), row=1, col=1)
    return fig


def surfaces_slider_figure(surfaces: Sequence[Surface], *, height: int = 560) -> go.Figure:
    """One surface at a time as a contour map, chosen by a slider (works in static HTML).

    Each map keeps its own colour range, so the slider shows how the shape changes with
    N; the colour bar's numbers show how the level changes.
    """
    fig = go.Figure()
    for i, surface in enumerate(surfaces):
        fig.add_trace(
            go.Contour(
                **surface.xyz,
                colorscale=SURFACE_SCALE,
                contours={"showlabels": True, "labelfont": {"color": "white"}},
                colorbar={"title": {"text": "cost"}},
                name=f"N = {surface.n_samples:,}",
                visible=i == 0,
            )
        )
    steps = [
        {
            "method": "restyle",
            "args": [{"visible": [j == i for j in range(len(surfaces))]}],
            "label": f"{surface.n_samples:,}",
        }
        for i, surface in enumerate(surfaces)
    ]
    label_a, label_b = surfaces[0].labels
    fig.update_layout(
        sliders=[
            {"active": 0, "currentvalue": {"prefix": "N = "}, "pad": {"t": 50}, "steps": steps}
        ],
        xaxis_title=label_a,
        yaxis_title=label_b,
        height=height,
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
    )
    return fig


def show(fig: go.Figure, name: str):
    """Display ``fig``: itself in a live notebook, else as HTML that needs a page's plotly.js.

    When :data:`STATIC_ENV` is set (the book's build sets it), the figure becomes a
    ``<div>`` with the deterministic id ``name`` and no embedded plotly.js: the book ships
    one shared ``plotly.min.js``, so pages stay small and work offline.
    """
    if os.environ.get(STATIC_ENV, "") in ("", "0"):
        return fig
    from IPython.display import HTML

    return HTML(
        fig.to_html(
            include_plotlyjs=False,
            full_html=False,
            div_id=name,
            auto_play=False,  # animations start when the reader presses Play
            config={"responsive": True, "displaylogo": False},
        )
    )


def _scene(surface: Surface) -> dict:
    label_a, label_b = surface.labels
    return {
        "xaxis": {"title": {"text": label_a}},
        "yaxis": {"title": {"text": label_b}},
        "zaxis": {"title": {"text": "cost"}},
        "camera": {"eye": {"x": 1.6, "y": -1.6, "z": 1.2}},
        "aspectmode": "cube",
    }


def _map_and_curves(surface: Surface) -> go.Figure:
    """An empty two-row figure: the contour map (trace 0) above an empty cost-per-epoch plot."""
    fig = make_subplots(rows=2, cols=1, row_heights=[0.65, 0.35], vertical_spacing=0.1)
    fig.add_trace(
        go.Contour(
            **surface.xyz,
            colorscale=BACKDROP_SCALE,
            contours={"coloring": "fill", "showlabels": True, "labelfont": {"color": "#333"}},
            line={"width": 0.5, "color": "#999"},
            colorbar={"title": {"text": "cost"}, "len": 0.6, "y": 1, "yanchor": "top"},
            name=f"cost, N = {surface.n_samples:,}",
            hovertemplate="w_a=%{x:.2f}<br>w_b=%{y:.2f}<br>cost=%{z:.4f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    label_a, label_b = surface.labels
    fig.update_xaxes(title_text=label_a, row=1, col=1)
    fig.update_yaxes(title_text=label_b, row=1, col=1)
    fig.update_xaxes(title_text="epoch", row=2, col=1)
    fig.update_yaxes(title_text="cost", row=2, col=1)
    fig.update_layout(
        height=720,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        legend={"orientation": "h", "y": 1.06, "x": 0, "title": {"text": "click to hide/show:"}},
    )
    return fig


def _path_traces(run: Trajectory, name: str, epochs: np.ndarray, *, head: bool = False):
    """(trace, row) pairs: the path on the map, its current point if ``head``, its cost curve."""
    style = method_style(run.method)
    group = {"legendgroup": name, "name": name}
    path = go.Scatter(
        x=run.weights[epochs, 0],
        y=run.weights[epochs, 1],
        mode="lines+markers",
        line={"color": style.color, "width": 2.5, "dash": style.dash},
        marker={
            "symbol": style.symbol,
            "size": 8,
            "color": style.color,
            # A marker on every epoch would hide the dashes; about 25 show the pace.
            "maxdisplayed": 25,
            "line": {"color": "white", "width": 1},
        },
        hovertemplate=f"{name}<br>epoch %{{customdata}}<extra></extra>",
        customdata=epochs,
        **group,
    )
    yield path, 1
    if head:
        yield (
            go.Scatter(
                x=run.weights[epochs[-1:], 0],
                y=run.weights[epochs[-1:], 1],
                mode="markers",
                marker={
                    "symbol": style.symbol,
                    "size": 13,
                    "color": style.color,
                    "line": {"color": "white", "width": 1.5},
                },
                showlegend=False,
                hoverinfo="skip",
                **group,
            ),
            1,
        )
    yield (
        go.Scatter(
            x=epochs,
            y=run.costs[epochs],
            mode="lines",
            line={"color": style.color, "width": 2, "dash": style.dash},
            showlegend=False,
            hovertemplate=f"{name}<br>epoch %{{x}}<br>cost %{{y:.5f}}<extra></extra>",
            **group,
        ),
        2,
    )


def _frame_epochs(runs: Sequence[Trajectory], every: int) -> list[int]:
    last = max(run.epochs for run in runs)
    return sorted({*range(0, last + 1, max(1, int(every))), last})


def _shown(run: Trajectory, epoch: int) -> np.ndarray:
    """Epochs drawn up to ``epoch``: all of the first 100 (where paths move fastest), then
    every 5th, and ``epoch`` itself, to keep animation frames small."""
    epoch = min(epoch, run.epochs)
    picked = np.r_[np.arange(min(epoch, 100) + 1), np.arange(100, epoch + 1, 5), epoch]
    return np.unique(picked)


def _extent(axis: np.ndarray, runs: Sequence[Trajectory], column: int) -> list[float]:
    """The grid's range along one weight, widened to every point the runs visit."""
    visited = np.concatenate([run.weights[:, column] for run in runs])
    return [float(min(axis[0], np.nanmin(visited))), float(max(axis[-1], np.nanmax(visited)))]


def _cost_range(runs: Sequence[Trajectory]) -> list[float]:
    costs = np.concatenate([run.costs for run in runs])
    low, high = np.nanmin(costs), np.nanmax(costs)
    pad = 0.05 * (high - low or 1.0)
    return [float(low - pad), float(high + pad)]


def _add_player(fig: go.Figure, epochs: Sequence[int], frame_ms: int, *, redraw: bool) -> None:
    """Play/Pause buttons and an epoch slider driving the figure's frames."""

    def animate(duration):
        return {
            "frame": {"duration": duration, "redraw": redraw},
            "mode": "immediate",
            "fromcurrent": True,
            "transition": {"duration": 0},
        }

    fig.update_layout(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "showactive": False,
                "x": 0.0,
                "xanchor": "left",
                "y": 0.0,
                "yanchor": "top",
                "pad": {"t": 50, "r": 10},
                "buttons": [
                    {
                        "label": "▶ Play",
                        "method": "animate",
                        "args": [None, animate(frame_ms)],
                    },
                    {
                        "label": "❚❚ Pause",
                        "method": "animate",
                        "args": [[None], animate(0)],
                    },
                ],
            }
        ],
        sliders=[
            {
                "active": 0,
                "x": 0.17,
                "len": 0.83,
                "y": 0.0,
                "yanchor": "top",
                "pad": {"t": 35},
                "currentvalue": {"prefix": "epoch ", "xanchor": "right"},
                "steps": [
                    {
                        "label": str(epoch),
                        "method": "animate",
                        "args": [[str(epoch)], animate(0)],
                    }
                    for epoch in epochs
                ],
            }
        ],
    )
    fig.update_layout(margin={"b": 110})
