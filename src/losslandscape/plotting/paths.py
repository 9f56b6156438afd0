"""The optimizers' paths on the contour map, above their cost per epoch: every run in one
figure, or one run at a time chosen by a slider."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..optimizers import OPTIMIZERS, UNREGISTERED_STYLE, Style
from ..training import Trajectory
from .picture import contour_picture
from .surface import (
    BACKDROP_SCALE,
    MODE_BAR_ROOM,
    Surface,
    contour_levels,
    fit_map_to_runs,
    map_hovertemplate,
    top_legend,
)


def method_style(method: str) -> Style:
    """The colour, dash and marker symbols of a method, from the registry (grey for
    unregistered names)."""
    registered = OPTIMIZERS.get(method)
    return registered.style if registered is not None else UNREGISTERED_STYLE


def trajectory_figure(
    surface: Surface, runs: Sequence[Trajectory], *, names: Sequence[str] | None = None
) -> go.Figure:
    """The runs' paths on the contour map (top) and their cost per epoch (bottom)."""
    names = list(names or [run.method for run in runs])
    surface = surface.covering(runs)
    fig = map_and_curves_figure(surface)
    for run, name in zip(runs, names, strict=True):
        epochs = np.arange(run.epochs + 1)
        for trace, row in path_traces(run, name, epochs, surface.labels):
            fig.add_trace(trace, row=row, col=1)
    fit_map_to_runs(fig, surface, runs, names)
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
    The map covers every run and both plots keep their ranges for every step, so what
    moves when the slider moves is the run, never the scale.
    """
    if len(labels) != len(runs):
        raise ValueError(f"{len(labels)} labels for {len(runs)} runs; give one label per run")
    names = [f"{prefix}{label}" for label in labels]
    surface = surface.covering(runs)
    fig = map_and_curves_figure(surface)
    owner = [None]  # the run each trace draws; None for the map
    for i, run in enumerate(runs):
        for trace, row in path_traces(run, names[i], np.arange(run.epochs + 1), surface.labels):
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
                "pad": {"t": 60},
                "steps": steps,
            }
        ],
        margin={"b": 90},
    )
    fit_map_to_runs(fig, surface, runs, names)
    fig.update_xaxes(range=[0, max(run.epochs for run in runs)], row=2, col=1)
    fig.update_yaxes(range=cost_range(runs), row=2, col=1)
    return fig


def map_and_curves_figure(
    surface: Surface, *, picture: bool = False, height: int = 720
) -> go.Figure:
    """An empty two-row figure ``height`` pixels high: the contour map (trace 0) above an
    empty cost-per-epoch plot.

    With ``picture``, the map is drawn as an image under the plot and trace 0 is an
    invisible grid of points that carries the colour bar and the tooltips (for animations,
    see :func:`~losslandscape.plotting.race.race_contour_figure`).
    """
    fig = make_subplots(rows=2, cols=1, row_heights=[0.65, 0.35], vertical_spacing=0.1)
    colorbar = {"title": {"text": "cost"}, "len": 0.6, "y": 1, "yanchor": "top"}
    name = f"cost, N = {surface.n_samples:,}"
    if picture:
        start, size, end = contour_levels(surface.z)
        a, b = np.meshgrid(surface.w_a, surface.w_b)
        fig.add_trace(
            go.Scatter(
                x=a.ravel(),
                y=b.ravel(),
                customdata=surface.z.ravel(),
                mode="markers",
                marker={
                    "color": surface.z.ravel(),
                    "colorscale": BACKDROP_SCALE,
                    "cmin": start,
                    "cmax": end,
                    "opacity": 0,
                    "colorbar": colorbar,
                    "showscale": True,
                },
                name=name,
                showlegend=False,
                hovertemplate=map_hovertemplate(surface, "customdata"),
            ),
            row=1,
            col=1,
        )
        (a0, a1), (b0, b1) = surface.extent
        fig.add_layout_image(
            source=contour_picture(surface, start, size, end),
            x=a0,
            y=b1,
            sizex=a1 - a0,
            sizey=b1 - b0,
            sizing="stretch",
            layer="below",
            row=1,
            col=1,
        )
        # The picture lies under the grid lines; without them it reads as the contour map.
        fig.update_xaxes(showgrid=False, zeroline=False, row=1, col=1)
        fig.update_yaxes(showgrid=False, zeroline=False, row=1, col=1)
    else:
        fig.add_trace(
            go.Contour(
                **surface.xyz,
                colorscale=BACKDROP_SCALE,
                contours={"coloring": "fill", "showlabels": True, "labelfont": {"color": "#333"}},
                line={"width": 0.5, "color": "#999"},
                colorbar=colorbar,
                name=name,
                hovertemplate=map_hovertemplate(surface),
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
        height=height,
        margin={"l": 60, "r": 20, "t": MODE_BAR_ROOM, "b": 50},
        legend=top_legend("click to hide/show:", height),
    )
    return fig


def path_traces(
    run: Trajectory,
    name: str,
    epochs: np.ndarray,
    labels: tuple[str, str],
    *,
    head: bool = False,
):
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
        hovertemplate=path_hovertemplate(name, labels),
        customdata=path_customdata(run, epochs),
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


def path_hovertemplate(name: str, labels: tuple[str, str]) -> str:
    """A path point's tooltip: epoch, both weights and the cost there (``customdata``)."""
    return (
        f"{name}<br>epoch %{{customdata[0]}}<br>{labels[0]} = %{{x:.3f}}"
        f"<br>{labels[1]} = %{{y:.3f}}<br>cost %{{customdata[1]:.5f}}<extra></extra>"
    )


def path_customdata(run: Trajectory, epochs) -> np.ndarray:
    """The ``customdata`` :func:`path_hovertemplate` reads: each epoch and the cost there."""
    epochs = np.asarray(epochs)
    return np.c_[epochs, run.costs[epochs]]


def cost_range(runs: Sequence[Trajectory]) -> list[float]:
    """The range of every run's finite costs, with a margin: one scale for all runs."""
    costs = np.concatenate([run.costs for run in runs])
    costs = costs[np.isfinite(costs)]
    low, high = costs.min(), costs.max()
    pad = 0.05 * (high - low or 1.0)
    return [float(low - pad), float(high + pad)]
