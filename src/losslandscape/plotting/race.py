"""The race of the methods, animated: their paths grow epoch by epoch on the contour map
(above the cost curves) or over the 3D surface, with Play/Pause and an epoch slider."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..training import Trajectory
from .landscape import scene_layout
from .paths import (
    cost_range,
    map_and_curves_figure,
    method_style,
    path_customdata,
    path_hovertemplate,
    path_traces,
)
from .surface import (
    BACKDROP_SCALE,
    MODE_BAR_ROOM,
    Surface,
    fit_map_to_runs,
    map_hovertemplate,
    map_ranges,
    note_leaving,
    top_legend,
)


def race_contour_figure(
    surface: Surface, runs: Sequence[Trajectory], *, every: int = 20, frame_ms: int = 120
) -> go.Figure:
    """The original notebook's animated contour map with the loss curves below, one frame
    per ``every`` epochs.

    Each method has three traces (path, current point, cost curve) in one legend group,
    so a click on its legend entry hides or shows all three.

    The map is a picture under the plot (plus an invisible grid of points that carries its
    colour bar and tooltips), not a contour trace: plotly.js redraws only animatable
    traces (scatter, bar) while it plays and removes every other trace of the subplot, so
    a contour trace vanished for the whole animation (and a full redraw per frame is too
    slow to hide that).
    """
    names = [run.method for run in runs]
    surface = surface.covering(runs)
    # The player below takes 120 px of the plots' height; 60 px more keep the map at least
    # 250 px high on a phone.
    fig = map_and_curves_figure(surface, picture=True, height=780)
    epochs = _frame_epochs(runs, every)
    for run in runs:
        for trace, row in path_traces(run, run.method, np.arange(1), surface.labels, head=True):
            fig.add_trace(trace, row=row, col=1)
    # Fixed ranges, so the frames do not rescale the axes as paths grow.
    fit_map_to_runs(fig, surface, runs, names)
    fig.update_xaxes(range=[0, max(run.epochs for run in runs)], row=2, col=1)
    fig.update_yaxes(range=cost_range(runs), row=2, col=1)
    frames = []
    for epoch in epochs:
        data = []
        for run in runs:
            shown = _shown(run, epoch)
            head = [min(epoch, run.epochs)]
            data += [
                go.Scatter(
                    x=run.weights[shown, 0],
                    y=run.weights[shown, 1],
                    customdata=path_customdata(run, shown),
                ),
                go.Scatter(x=run.weights[head, 0], y=run.weights[head, 1]),
                go.Scatter(x=shown, y=run.costs[shown]),
            ]
        frames.append(go.Frame(data=data, traces=list(range(1, 1 + len(data))), name=str(epoch)))
    fig.frames = frames
    _add_player(fig, epochs, frame_ms, redraw=False)
    return fig


def race_3d_figure(
    surface: Surface,
    runs: Sequence[Trajectory],
    *,
    every: int = 20,
    frame_ms: int = 150,
    lift: float = 0.03,
    height: int = 680,
) -> go.Figure:
    """The original notebook's animated 3D view: the paths run over the surface, with
    Play/Pause and an epoch slider.

    Paths are drawn ``lift`` times the surface's cost range above it, so the surface does
    not hide them (the original multiplied by 1.001 for the same reason). Each method has
    a faint full path, its path so far and its current point, in one legend group. Paths
    that run along the same valley stay apart by width (the first method's path is the
    widest) and dash. The camera looks across the valley, from the side of low ``w_b``.
    """
    names = [run.method for run in runs]
    surface = surface.covering(runs)
    dz = lift * float(np.ptp(surface.z))
    fig = go.Figure(
        go.Surface(
            **surface.xyz,
            colorscale=BACKDROP_SCALE,
            opacity=0.9,
            name=f"cost, N = {surface.n_samples:,}",
            colorbar={"title": {"text": "cost"}, "len": 0.6, "thickness": 12, "x": 0.93},
            hovertemplate=map_hovertemplate(surface),
        )
    )
    epochs = _frame_epochs(runs, every)
    for i, run in enumerate(runs):
        style = method_style(run.method)
        full = _shown(run, run.epochs)
        group = {"legendgroup": run.method, "name": run.method}
        fig.add_trace(
            go.Scatter3d(
                x=run.weights[full, 0],
                y=run.weights[full, 1],
                z=run.costs[full] + dz,
                mode="lines",
                line={"color": style.color, "width": 2},
                opacity=0.35,
                showlegend=False,
                hoverinfo="skip",
                **group,
            )
        )
        width = 3 + 2 * (len(runs) - 1 - i)
        hover = path_hovertemplate(run.method, surface.labels)
        # The path so far and the current point; the frames move both.
        for look in (
            {"mode": "lines", "line": {"color": style.color, "width": width, "dash": style.dash}},
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
                    customdata=path_customdata(run, [0]),
                    hovertemplate=hover,
                    **look,
                    **group,
                )
            )
    frames = []
    for epoch in epochs:
        data, traces = [], []
        for i, run in enumerate(runs):
            shown, head = _shown(run, epoch), [min(epoch, run.epochs)]
            data += [
                go.Scatter3d(
                    x=run.weights[shown, 0],
                    y=run.weights[shown, 1],
                    z=run.costs[shown] + dz,
                    customdata=path_customdata(run, shown),
                ),
                go.Scatter3d(
                    x=run.weights[head, 0],
                    y=run.weights[head, 1],
                    z=run.costs[head] + dz,
                    customdata=path_customdata(run, head),
                ),
            ]
            traces += [2 + 3 * i, 3 + 3 * i]
        frames.append(go.Frame(data=data, traces=traces, name=str(epoch)))
    fig.frames = frames
    label_a, label_b = surface.labels
    range_a, range_b = map_ranges(surface, runs)
    fig.update_layout(
        scene={
            **scene_layout(surface),
            "xaxis": {"title": {"text": label_a}, "range": range_a},
            "yaxis": {"title": {"text": label_b}, "range": range_b},
            # From above and across the valley (it runs along w_a, which the wide x axis shows
            # unshortened), so the valley's walls do not hide the paths on its floor.
            "camera": {"eye": {"x": 0.4, "y": -1.35, "z": 1.75}, "center": {"z": -0.2}},
            "aspectmode": "manual",
            "aspectratio": {"x": 1.5, "y": 1.0, "z": 0.6},
            # The colour bar to its right; the legend above it moves it down.
            "domain": {"x": [0, 0.9], "y": [0, 1]},
        },
        height=height,
        # A few pixels each side, so the colour bar plotly fits into the figure (by growing
        # the right margin) keeps clear of its edge.
        margin={"l": 4, "r": 4, "t": MODE_BAR_ROOM, "b": 0},
        legend=top_legend("click to hide/show:", height),
    )
    note_leaving(fig, surface, runs, names, {"xref": "paper", "yref": "paper"})
    _add_player(fig, epochs, frame_ms, redraw=True)
    return fig


def _frame_epochs(runs: Sequence[Trajectory], every: int) -> list[int]:
    last = max(run.epochs for run in runs)
    return sorted({*range(0, last + 1, max(1, int(every))), last})


def _shown(run: Trajectory, epoch: int) -> np.ndarray:
    """Epochs drawn up to ``epoch``: all of the first 100 (where paths move fastest), then
    every 10th (the paths creep along the valley), and ``epoch`` itself, to keep animation
    frames small."""
    epoch = min(epoch, run.epochs)
    picked = np.r_[np.arange(min(epoch, 100) + 1), np.arange(100, epoch + 1, 10), epoch]
    return np.unique(picked)


def _add_player(fig: go.Figure, epochs: Sequence[int], frame_ms: int, *, redraw: bool) -> None:
    """Play/Pause buttons on a row of their own, above an epoch slider across the figure."""

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
                "pad": {"t": 45, "r": 10},
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
                "x": 0.0,
                "len": 1.0,
                "y": 0.0,
                "yanchor": "top",
                # Below the buttons' row (45 px down, about 30 px high).
                "pad": {"t": 85},
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
    fig.update_layout(margin={"b": 170})
