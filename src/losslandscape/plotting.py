"""Plotly figures of the loss landscape and the optimizers' trajectories.

Every function takes :class:`Surface` grids and :class:`~losslandscape.training.Trajectory`
runs and returns a fresh ``go.Figure``; nothing here keeps state between calls.

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

from __future__ import annotations

import base64
import dataclasses
import io
import math
import os
import re
from collections.abc import Sequence

import numpy as np
import PIL.Image
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy.interpolate import RegularGridInterpolator

from .landscape import WATCHED, Landscape
from .optimizers import OPTIMIZERS, UNREGISTERED_STYLE, Style
from .training import Trajectory

STATIC_ENV = "LOSSLANDSCAPE_STATIC_HTML"
"""Set (to anything but "" or "0") when notebooks run to become static HTML, e.g. in the book."""

SURFACE_SCALE = "Cividis"
# Light to mid grey, linear in lightness: low cost is light so paths ending there stand out.
BACKDROP_SCALE = [[0.0, "#fbfbfb"], [1.0, "#6e6e6e"]]
_BACKDROP_RGB = np.array([[0xFB] * 3, [0x6E] * 3], float)
_LINE_RGB = np.array([0x99] * 3, np.uint8)  # the contour lines' grey

MAX_GROWTH = 1.0
"""How far a map may grow to cover the paths on it: at most its own width on each side.
A run that flies off further (a diverging one reaches 1e30) leaves the drawn map, and the
figure says so instead of computing a gigantic grid."""

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
        points = _finite_points(runs)
        if self._landscape is None or len(points) == 0:
            return self
        w_a = _grow(self.w_a, points[:, 0].min(), points[:, 0].max())
        w_b = _grow(self.w_b, points[:, 1].min(), points[:, 1].max())
        if len(w_a) == len(self.w_a) and len(w_b) == len(self.w_b):
            return self
        return Surface.of(self._landscape, w_a, w_b)


def leaving(surface: Surface, runs: Sequence[Trajectory], names: Sequence[str]) -> list[str]:
    """The names of the runs with a finite point outside the surface's grid."""
    (a0, a1), (b0, b1) = surface.extent
    out = []
    for run, name in zip(runs, names, strict=True):
        points = _finite_points([run])
        if np.any((points < [a0, b0]) | (points > [a1, b1])):
            out.append(name)
    return out


def landscape_figure(
    surfaces: Sequence[Surface], *, colorscale=SURFACE_SCALE, height: int = 480
) -> go.Figure:
    """The surfaces side by side, one 3D scene each with its own colour bar to its right.

    The scenes start from the same camera; in the book (see :func:`show`) turning one
    turns the others.
    """
    n = len(surfaces)
    fig = make_subplots(
        rows=1,
        cols=n,
        specs=[[{"type": "surface"}] * n],
        subplot_titles=[f"N = {s.n_samples:,}" for s in surfaces],
    )
    width = 1 / n
    for col, surface in enumerate(surfaces, start=1):
        left = (col - 1) * width
        fig.add_trace(
            go.Surface(
                **surface.xyz,
                colorscale=colorscale,
                name=f"N = {surface.n_samples:,}",
                colorbar={
                    "title": {"text": "cost"},
                    # Right of its own scene, so it covers neither scene's axes.
                    "x": left + 0.87 * width,
                    "xanchor": "left",
                    "len": 0.7,
                    "thickness": 12,
                },
                contours_z={"show": True, "usecolormap": True, "project_z": True},
                hovertemplate=_surface_hover(surface),
            ),
            row=1,
            col=col,
        )
        scene = _scene(surface)
        # The z axis's title sits left of its numbers: room for both.
        scene["domain"] = {"x": [left, left + 0.83 * width], "y": [0, 0.92]}
        fig.update_scenes(scene, row=1, col=col)
    for annotation, col in zip(fig.layout.annotations, range(n), strict=True):
        annotation.x = (col + 0.43) * width
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def trajectory_figure(
    surface: Surface, runs: Sequence[Trajectory], *, names: Sequence[str] | None = None
) -> go.Figure:
    """The runs' paths on the contour map (top) and their cost per epoch (bottom)."""
    names = list(names or [run.method for run in runs])
    surface = surface.covering(runs)
    fig = _map_and_curves(surface)
    for run, name in zip(runs, names, strict=True):
        epochs = np.arange(run.epochs + 1)
        for trace, row in _path_traces(run, name, epochs, surface.labels):
            fig.add_trace(trace, row=row, col=1)
    _fix_map(fig, surface, runs, names)
    return fig


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
    fig = _map_and_curves(surface, picture=True)
    epochs = _frame_epochs(runs, every)
    for run in runs:
        for trace, row in _path_traces(run, run.method, np.arange(1), surface.labels, head=True):
            fig.add_trace(trace, row=row, col=1)
    # Fixed ranges, so the frames do not rescale the axes as paths grow.
    _fix_map(fig, surface, runs, names)
    fig.update_xaxes(range=[0, max(run.epochs for run in runs)], row=2, col=1)
    fig.update_yaxes(range=_cost_range(runs), row=2, col=1)
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
                    customdata=_epoch_cost(run, shown),
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
            hovertemplate=_surface_hover(surface),
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
        hover = _path_hover(run.method, surface.labels)
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
                    customdata=_epoch_cost(run, [0]),
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
                    customdata=_epoch_cost(run, shown),
                ),
                go.Scatter3d(
                    x=run.weights[head, 0],
                    y=run.weights[head, 1],
                    z=run.costs[head] + dz,
                    customdata=_epoch_cost(run, head),
                ),
            ]
            traces += [2 + 3 * i, 3 + 3 * i]
        frames.append(go.Frame(data=data, traces=traces, name=str(epoch)))
    fig.frames = frames
    label_a, label_b = surface.labels
    range_a, range_b = _map_ranges(surface, runs)
    fig.update_layout(
        scene={
            **_scene(surface),
            "xaxis": {"title": {"text": label_a}, "range": range_a},
            "yaxis": {"title": {"text": label_b}, "range": range_b},
            # From above and across the valley (it runs along w_a, which the wide x axis shows
            # unshortened), so the valley's walls do not hide the paths on its floor.
            "camera": {"eye": {"x": 0.4, "y": -1.35, "z": 1.75}, "center": {"z": -0.2}},
            "aspectmode": "manual",
            "aspectratio": {"x": 1.5, "y": 1.0, "z": 0.6},
            "domain": {"x": [0, 0.9], "y": [0, 0.93]},  # the colour bar to its right
        },
        height=height,
        margin={"l": 0, "r": 0, "t": 30, "b": 0},
        legend={"orientation": "h", "x": 0, "y": 1, "title": {"text": "click to hide/show:"}},
    )
    _note_leaving(fig, surface, runs, names, {"xref": "paper", "yref": "paper"})
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
    The map covers every run and both plots keep their ranges for every step, so what
    moves when the slider moves is the run, never the scale.
    """
    if len(labels) != len(runs):
        raise ValueError(f"{len(labels)} labels for {len(runs)} runs; give one label per run")
    names = [f"{prefix}{label}" for label in labels]
    surface = surface.covering(runs)
    fig = _map_and_curves(surface)
    owner = [None]  # the run each trace draws; None for the map
    for i, run in enumerate(runs):
        for trace, row in _path_traces(run, names[i], np.arange(run.epochs + 1), surface.labels):
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
    _fix_map(fig, surface, runs, names)
    fig.update_xaxes(range=[0, max(run.epochs for run in runs)], row=2, col=1)
    fig.update_yaxes(range=_cost_range(runs), row=2, col=1)
    return fig


def surfaces_slider_figure(
    surfaces: Sequence[Surface], *, shared_scale: bool = False, height: int = 560
) -> go.Figure:
    """One surface at a time as a contour map, chosen by a slider (works in static HTML).

    By default each map keeps its own colour range, so the slider shows how the shape
    changes with N and the colour bar's numbers how the level changes. With
    ``shared_scale`` all maps share one colour range and the same contour levels, so the
    same colour means the same cost on every map.
    """
    shared = {}
    if shared_scale:
        start, size, end = _levels(np.concatenate([s.z.ravel() for s in surfaces]))
        shared = {"zmin": start, "zmax": end, "autocontour": False}
        contours = {"start": start, "end": end, "size": size}
    else:
        contours = {}
    fig = go.Figure()
    for i, surface in enumerate(surfaces):
        fig.add_trace(
            go.Contour(
                **surface.xyz,
                colorscale=SURFACE_SCALE,
                contours={"showlabels": True, "labelfont": {"color": "white"}, **contours},
                colorbar={"title": {"text": "cost"}},
                name=f"N = {surface.n_samples:,}",
                visible=i == 0,
                hovertemplate=_map_hover(surface),
                **shared,
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


# Turning one scene turns the others. plotly.js reports a scene's camera as
# "sceneN.camera" in plotly_relayouting (while dragging) and plotly_relayout (at the end);
# `following` stops the relayouts this script makes from echoing back.
_LINK_CAMERAS = """
const gd = document.getElementById("{plot_id}");
const scenes = Object.keys(gd._fullLayout).filter((key) => /^scene\\d*$/.test(key));
let following = false;
function follow(event) {
  const moved = Object.keys(event).find((key) => /^scene\\d*\\.camera$/.test(key));
  if (following || !moved) return;
  const update = {};
  for (const scene of scenes) {
    if (`${scene}.camera` !== moved) update[`${scene}.camera`] = event[moved];
  }
  following = true;
  Plotly.relayout(gd, update).finally(() => { following = false; });
}
gd.on("plotly_relayouting", follow);
gd.on("plotly_relayout", follow);
"""


def show(fig: go.Figure, name: str):
    """Display ``fig``: itself in a live notebook, else as HTML that needs a page's plotly.js.

    When :data:`STATIC_ENV` is set (the book's build sets it), the figure becomes a
    ``<div>`` with the deterministic id ``name`` and no embedded plotly.js: the book ships
    one shared ``plotly.min.js``, so pages stay small and work offline. A figure with
    several 3D scenes has linked cameras: turning one turns the others, in the page (a
    script after the plot) and live (a ``FigureWidget`` that copies the camera).
    """
    scenes = [key for key in fig.layout.to_plotly_json() if _is_scene(key)]
    linked = len(scenes) > 1
    if os.environ.get(STATIC_ENV, "") in ("", "0"):
        return _linked_widget(fig, scenes) if linked else fig
    import plotly.io as pio
    from IPython.display import HTML

    return HTML(
        pio.to_html(
            _single_precision(fig.to_plotly_json()),
            validate=False,  # fig is a valid figure; validating would cast back to float64
            include_plotlyjs=False,
            full_html=False,
            div_id=name,
            auto_play=False,  # animations start when the reader presses Play
            config={"responsive": True, "displaylogo": False},
            post_script=_LINK_CAMERAS if linked else None,
        )
    )


def _single_precision(spec):
    """``spec`` (from ``to_plotly_json``) with its float64 arrays as float32: half the page's
    weight, and seven significant digits, more than any tooltip or axis shows."""
    if isinstance(spec, dict):
        if spec.get("dtype") == "f8" and "bdata" in spec:  # plotly's base64 typed array
            values = np.frombuffer(base64.b64decode(spec["bdata"]), np.float64)
            return {**spec, "dtype": "f4", "bdata": base64.b64encode(values.astype("<f4")).decode()}
        return {key: _single_precision(value) for key, value in spec.items()}
    if isinstance(spec, list | tuple):
        return [_single_precision(value) for value in spec]
    return spec


def _is_scene(key: str) -> bool:
    return re.fullmatch(r"scene\d*", key) is not None


def _linked_widget(fig: go.Figure, scenes: Sequence[str]) -> go.FigureWidget:
    widget = go.FigureWidget(fig)

    def follow(scene, camera):
        for other in scenes:
            if widget.layout[other].camera.to_plotly_json() != camera.to_plotly_json():
                widget.layout[other].camera = camera.to_plotly_json()

    for scene in scenes:
        widget.layout[scene].on_change(follow, "camera")
    return widget


def _scene(surface: Surface) -> dict:
    label_a, label_b = surface.labels
    return {
        "xaxis": {"title": {"text": label_a}},
        "yaxis": {"title": {"text": label_b}},
        "zaxis": {"title": {"text": "cost"}},
        # Far enough out that the axes' numbers and titles stay inside the scene.
        "camera": {"eye": {"x": 2.2, "y": -2.2, "z": 1.4}},
        "aspectmode": "cube",
    }


def _map_and_curves(surface: Surface, *, picture: bool = False) -> go.Figure:
    """An empty two-row figure: the contour map (trace 0) above an empty cost-per-epoch plot.

    With ``picture``, the map is drawn as an image under the plot and trace 0 is an
    invisible grid of points that carries the colour bar and the tooltips (for animations,
    see :func:`race_contour_figure`).
    """
    fig = make_subplots(rows=2, cols=1, row_heights=[0.65, 0.35], vertical_spacing=0.1)
    colorbar = {"title": {"text": "cost"}, "len": 0.6, "y": 1, "yanchor": "top"}
    name = f"cost, N = {surface.n_samples:,}"
    if picture:
        start, size, end = _levels(surface.z)
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
                hovertemplate=_map_hover(surface, "customdata"),
            ),
            row=1,
            col=1,
        )
        (a0, a1), (b0, b1) = surface.extent
        fig.add_layout_image(
            source=_picture(surface, start, size, end),
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
                hovertemplate=_map_hover(surface),
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


def _path_traces(
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
        hovertemplate=_path_hover(name, labels),
        customdata=_epoch_cost(run, epochs),
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


def _path_hover(name: str, labels: tuple[str, str]) -> str:
    """A path point's tooltip: epoch, both weights and the cost there (``customdata``)."""
    return (
        f"{name}<br>epoch %{{customdata[0]}}<br>{labels[0]} = %{{x:.3f}}"
        f"<br>{labels[1]} = %{{y:.3f}}<br>cost %{{customdata[1]:.5f}}<extra></extra>"
    )


def _epoch_cost(run: Trajectory, epochs) -> np.ndarray:
    epochs = np.asarray(epochs)
    return np.c_[epochs, run.costs[epochs]]


def _map_hover(surface: Surface, cost: str = "z") -> str:
    label_a, label_b = surface.labels
    return (
        f"{label_a} = %{{x:.2f}}<br>{label_b} = %{{y:.2f}}<br>cost %{{{cost}:.5f}}<extra></extra>"
    )


def _surface_hover(surface: Surface) -> str:
    label_a, label_b = surface.labels
    return f"{label_a} = %{{x:.2f}}<br>{label_b} = %{{y:.2f}}<br>cost %{{z:.5f}}<extra></extra>"


def _fix_map(fig: go.Figure, surface: Surface, runs, names) -> None:
    """The map's axes fixed to the map (or to the paths, on a bare grid), with a note for
    every path that leaves it."""
    range_a, range_b = _map_ranges(surface, runs)
    fig.update_xaxes(range=range_a, row=1, col=1)
    fig.update_yaxes(range=range_b, row=1, col=1)
    _note_leaving(fig, surface, runs, names, {"xref": "x domain", "yref": "y domain"})


def _map_ranges(surface: Surface, runs) -> tuple[list[float], list[float]]:
    if surface._landscape is None:  # nothing to extend the grid with: widen the axes
        return _extent(surface.w_a, runs, 0), _extent(surface.w_b, runs, 1)
    return surface.extent


def _note_leaving(fig: go.Figure, surface: Surface, runs, names, refs: dict) -> None:
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


def _levels(z: np.ndarray) -> tuple[float, float, float]:
    """Contour levels (start, size, end) at a round step, about 15 bands over ``z``."""
    low, high = float(np.nanmin(z)), float(np.nanmax(z))
    raw = (high - low) / 15 or 1.0
    power = 10 ** math.floor(math.log10(raw))
    size = next(power * m for m in (1, 2, 2.5, 5, 10) if power * m >= raw)
    return math.floor(low / size) * size, size, math.ceil(high / size) * size


def _picture(surface: Surface, start: float, size: float, end: float) -> str:
    """The filled contour map as a PNG data URI: bands of ``size`` from ``start`` to ``end``
    in the backdrop greys, a grey line where the band changes, north up."""
    width, height = 720, 420
    a = np.linspace(surface.w_a[0], surface.w_a[-1], width)
    b = np.linspace(surface.w_b[-1], surface.w_b[0], height)  # the first row is the top
    interpolate = RegularGridInterpolator((surface.w_b, surface.w_a), surface.z)
    bb, aa = np.meshgrid(b, a, indexing="ij")
    z = interpolate(np.stack([bb, aa], axis=-1))
    band = np.clip(np.floor((z - start) / size), 0, round((end - start) / size) - 1)
    shade = (band + 0.5) * size / (end - start)
    rgb = (_BACKDROP_RGB[0] + shade[..., None] * (_BACKDROP_RGB[1] - _BACKDROP_RGB[0])).round()
    rgb = rgb.astype(np.uint8)
    edge = np.zeros(band.shape, bool)
    edge[:, 1:] |= band[:, 1:] != band[:, :-1]
    edge[1:] |= band[1:] != band[:-1]
    rgb[edge] = _LINE_RGB
    return "data:image/png;base64," + base64.b64encode(_png(rgb)).decode()


def _png(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of ``rgb`` (height, width, 3)."""
    buffer = io.BytesIO()
    PIL.Image.fromarray(rgb).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


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


def _extent(axis: np.ndarray, runs: Sequence[Trajectory], column: int) -> list[float]:
    """The grid's range along one weight, widened to every finite point the runs visit."""
    visited = np.r_[axis[[0, -1]], _finite_points(runs)[:, column]]
    return [float(visited.min()), float(visited.max())]


def _cost_range(runs: Sequence[Trajectory]) -> list[float]:
    """The range of every run's finite costs, with a margin: one scale for all runs."""
    costs = np.concatenate([run.costs for run in runs])
    costs = costs[np.isfinite(costs)]
    low, high = costs.min(), costs.max()
    pad = 0.05 * (high - low or 1.0)
    return [float(low - pad), float(high + pad)]


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
