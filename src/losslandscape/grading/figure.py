"""The figure :func:`~.checks.self_check` returns in the student's kernel: a student's path
against the reference's.

Most wrong formulas part from the reference at epoch 1, a pixel from the start, and by
1e-3 on a map 40 units wide, so the map alone shows two equal paths. Beside it, a zoom on
the two points where the paths part and their distance per epoch on a log scale, down to
the grader's tolerance, show a difference of 1e-6 as clearly as one of 10.
"""

from __future__ import annotations

import re
import textwrap
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..landscape import SEED_W_A, SEED_W_B, Landscape
from ..plotting.surface import BACKDROP_SCALE, Surface, fit_map_to_runs, map_hovertemplate
from .runs import TOLERANCE

REFERENCE_COLOR = "black"
STUDENT_COLOR = "#D55E00"
"""Okabe-Ito vermilion: reads on the grey map, on the black reference line and on white."""

_FLOAT32 = np.finfo(np.float32)


class _Side(NamedTuple):
    """One of the two paths and how it is drawn."""

    label: str  # the path's legend entry
    owner: str  # whose point at the parting epoch
    path: np.ndarray
    line: dict
    marker: dict


def comparison_figure(
    name: str,
    weights: np.ndarray,
    expected: np.ndarray,
    epoch: int | None,
    surface: Landscape,
    stopped: tuple[int, str] | None = None,
) -> go.Figure:
    """Rule ``name``'s path ``weights`` against the reference's ``expected`` (both
    ``(epochs + 1, 2)``), which part at ``epoch`` (None if they agree), on ``surface``;
    ``stopped`` is the epoch and the reason where the rule itself failed (it raised,
    returned a list, ...), which the title says rather than "not finite".

    Left, the map at the original notebook's spacing, extended to both paths; right, a zoom
    on the two points at ``epoch`` and the paths' distance per epoch. Rows of ``weights``
    may be NaN from where the rule failed. The map, the paths and the distances are sent
    as float32, as :func:`~losslandscape.plotting.show` sends figures; the markers and the
    zoom keep float64, as they show differences below float32's resolution.
    """
    with np.errstate(over="ignore"):  # hypot: no overflow before the distance itself does
        distance = np.hypot(*(weights - expected).T)
    finite = np.isfinite(weights).all(axis=1)
    lost = None if finite.all() else int(np.argmin(finite))
    apart = None if epoch is None or not finite[epoch] else float(distance[epoch])
    sides = (
        _Side(
            "reference",
            "reference",
            expected,
            {"color": REFERENCE_COLOR, "width": 3},
            {"symbol": "circle-open", "size": 14, "color": REFERENCE_COLOR, "line": {"width": 2}},
        ),
        _Side(
            f"your {name}",
            "yours",
            weights,
            {"color": STUDENT_COLOR, "width": 2.5, "dash": "dash"},
            {
                "symbol": "x",
                "size": 8,
                "color": STUDENT_COLOR,
                "line": {"width": 1, "color": "#fff"},
            },
        ),
    )
    # Surface.covering and fit_map_to_runs read nothing of a run but its weights.
    runs = [SimpleNamespace(weights=side.path) for side in sides]
    grid = Surface.of(surface, SEED_W_A, SEED_W_B).covering(runs)
    fig = make_subplots(
        rows=2,
        cols=2,
        specs=[[{"rowspan": 2}, {}], [None, {}]],
        column_widths=[0.56, 0.44],
        row_heights=[0.45, 0.55],
        horizontal_spacing=0.17,
        vertical_spacing=0.22,
        subplot_titles=[
            "the cost over the two weights",
            f"epoch {epoch} up close: {_number(apart)} apart" if apart else "",
            "your distance from the reference" + _gaps(distance, lost, stopped is not None),
        ],
    )
    fig.add_trace(
        go.Contour(
            **{key: _light(value) for key, value in grid.xyz.items()},
            colorscale=BACKDROP_SCALE,
            contours={"coloring": "fill", "showlabels": True, "labelfont": {"color": "#333"}},
            line={"width": 0.5, "color": "#999"},
            colorbar={
                "title": {"text": "cost"},
                "thickness": 12,
                "x": fig.layout.xaxis.domain[1] + 0.01,
                "xanchor": "left",
            },
            name=f"cost, N = {grid.n_samples:,}",
            hovertemplate=map_hovertemplate(grid),
        ),
        row=1,
        col=1,
    )
    epochs = np.arange(len(expected))
    for side in sides:
        fig.add_trace(
            go.Scatter(
                x=_light(side.path[:, 0]),
                y=_light(side.path[:, 1]),
                customdata=_light(np.c_[epochs, distance]),
                mode="lines",
                line=side.line,
                name=side.label,
                legendgroup=side.label,
                hovertemplate=_path_hover(side.label, grid.labels, ".6g"),
            ),
            row=1,
            col=1,
        )
    fit_map_to_runs(fig, grid, runs, [side.label for side in sides])
    fig.update_xaxes(title_text=grid.labels[0], row=1, col=1)
    fig.update_yaxes(title_text=grid.labels[1], row=1, col=1)
    if apart:
        _add_zoom(fig, sides, epoch, apart, distance, grid.labels)
    else:
        if stopped is not None:  # why, wrapped to the empty panel's width
            text = "<br>".join(
                [f"your rule stopped at epoch {stopped[0]}:", *textwrap.wrap(stopped[1], 36)]
            )
        elif epoch is None:
            text = "the paths agree<br>at every epoch:<br>nothing to zoom into"
        else:
            text = "the paths part where<br>your weights are not finite:<br>nothing to zoom into"
        # In paper coordinates: plotly.js drops an axis without traces, and "x2 domain" with it.
        fig.add_annotation(
            text=text,
            x=np.mean(fig.layout.xaxis2.domain),
            y=np.mean(fig.layout.yaxis2.domain),
            xref="paper",
            yref="paper",
            showarrow=False,
        )
        fig.update_xaxes(visible=False, row=1, col=2)
        fig.update_yaxes(visible=False, row=1, col=2)
    # On the map the three points lie a pixel or two apart: nested sizes keep each in sight.
    start = {"symbol": "square-open", "size": 22, "color": REFERENCE_COLOR, "line": {"width": 2}}
    for col in (1, 2) if apart else (1,):
        size = {} if col == 1 else {"size": 12}
        legend = col == 1
        fig.add_trace(_point(expected[0], "start", {**start, **size}, legend), row=1, col=col)
        if epoch is not None:
            for side in (s for s in sides if np.isfinite(s.path[epoch]).all()):
                label = f"{side.owner} at epoch {epoch}"
                point = _point(side.path[epoch], label, {**side.marker, **size}, legend)
                fig.add_trace(point, row=1, col=col)
    _add_distance(fig, sides, epoch, apart, distance)
    fig.update_layout(
        title={
            "text": _title(name, len(expected) - 1, epoch, apart, lost, stopped),
            "x": 0.01,
            "y": 0.985,
            "yanchor": "top",
        },
        height=600,
        margin={"l": 60, "r": 20, "t": 64, "b": 20},
        legend={"orientation": "h", "x": 0, "y": -0.12, "yanchor": "top"},
    )
    return fig


def _add_zoom(fig, sides, epoch, apart, distance, labels) -> None:
    """The paths around ``epoch``, in a window four times as wide as they are apart there,
    at equal scales so each step shows its true direction."""
    shown = np.arange(max(epoch - 1, 0), min(epoch + 4, len(distance)))
    for side in sides:
        fig.add_trace(
            go.Scatter(
                x=side.path[shown, 0],
                y=side.path[shown, 1],
                customdata=np.c_[shown, distance[shown]],
                mode="lines+markers",
                line=side.line,
                marker={"size": 5, "color": side.line["color"]},
                name=side.label,
                legendgroup=side.label,
                showlegend=False,
                hovertemplate=_path_hover(side.label, labels, ".10g"),
            ),
            row=1,
            col=2,
        )
    centre = (sides[0].path[epoch] + sides[1].path[epoch]) / 2
    window = np.c_[centre - 2 * apart, centre + 2 * apart]
    fig.update_xaxes(range=window[0], nticks=4, row=1, col=2)
    fig.update_yaxes(range=window[1], nticks=4, scaleanchor="x2", row=1, col=2)


def _add_distance(fig, sides, epoch, apart, distance) -> None:
    """The distance per epoch on a log scale, with the grader's tolerance, two decades
    either side at least; epochs where it is 0 or not finite are gaps (see :func:`_gaps`)."""
    last = len(distance) - 1
    drawn = np.where(np.isfinite(distance) & (distance > 0), distance, np.nan)
    points = np.c_[sides[1].path, sides[0].path]
    fig.add_trace(
        go.Scatter(
            x=np.arange(last + 1),
            y=_light(drawn),
            customdata=_light(points),
            mode="lines",
            line={"color": STUDENT_COLOR, "width": 2},
            name="distance",
            showlegend=False,
            hovertemplate="epoch %{x}<br>distance %{y:.3g}"
            "<br>yours (%{customdata[0]:.6g}, %{customdata[1]:.6g})"
            "<br>reference (%{customdata[2]:.6g}, %{customdata[3]:.6g})<extra></extra>",
        ),
        row=2,
        col=2,
    )
    fig.add_trace(
        go.Scatter(
            x=[0, last],
            y=[TOLERANCE, TOLERANCE],
            mode="lines+text",
            text=["", f"grader's tolerance {_number(TOLERANCE)}"],
            textposition="top left",
            line={"color": "#555", "width": 1.5, "dash": "dash"},
            name="grader's tolerance",
            showlegend=False,
            hovertemplate=f"grader's tolerance {_number(TOLERANCE)}<extra></extra>",
        ),
        row=2,
        col=2,
    )
    if apart:
        fig.add_trace(
            go.Scatter(
                x=[epoch],
                y=[apart],
                mode="markers+text",
                marker=sides[1].marker,
                text=[f"epoch {epoch}"],
                textposition="bottom right",
                name=f"{sides[1].owner} at epoch {epoch}",
                legendgroup=f"{sides[1].owner} at epoch {epoch}",
                showlegend=False,
                hovertemplate="epoch %{x}: %{y:.3g} apart<extra></extra>",
            ),
            row=2,
            col=2,
        )
    positive = drawn[np.isfinite(drawn)]
    low = positive.min(initial=TOLERANCE / 100)
    high = positive.max(initial=TOLERANCE * 100)
    fig.update_xaxes(range=[0, last], title_text="epoch", row=2, col=2)
    fig.update_yaxes(
        type="log",
        range=[np.floor(np.log10(low)) - 0.5, np.ceil(np.log10(high)) + 0.5],
        exponentformat="power",
        row=2,
        col=2,
    )


def _gaps(distance: np.ndarray, lost: int | None, stopped: bool = False) -> str:
    """Lines for the distance plot's title that say where it has gaps, and why (``stopped``:
    the rule itself failed there)."""
    lines = []
    zero = np.flatnonzero(distance == 0)
    if len(zero) == len(distance):
        lines.append("0 at every epoch: the paths are the same")
    elif len(zero):
        lines.append(f"0 at {_epochs(zero)}: not drawn (log scale)")
    if lost is not None:
        why = "your rule stopped" if stopped else "weights not finite"
        lines.append(f"none from epoch {lost}: {why}")
    return "".join(f'<br><span style="font-size: 12px">{line}</span>' for line in lines)


def _epochs(epochs: np.ndarray) -> str:
    """``epochs`` (sorted) in a few words: "epoch 0", "epochs 0 to 4", "246 epochs"."""
    if len(epochs) == 1:
        return f"epoch {epochs[0]}"
    if epochs[-1] - epochs[0] == len(epochs) - 1:
        return f"epochs {epochs[0]} to {epochs[-1]}"
    return f"{len(epochs)} epochs"


def _title(name, last, epoch, apart, lost, stopped=None) -> str:
    if stopped is not None and (apart is None or lost is not None):
        return f"Your {name} could not be trained from epoch {stopped[0]}"
    if epoch is None:
        return (
            f"Your {name} follows the reference at all {last} epochs "
            f"(the grader allows {_number(TOLERANCE)})"
        )
    if apart is None:
        return f"Your {name} leaves the reference at epoch {epoch}: its weights are not finite"
    if lost is not None:
        return (
            f"Your {name} leaves the reference at epoch {epoch}, {_number(apart)} away; "
            f"not finite from epoch {lost}"
        )
    return (
        f"Your {name} leaves the reference at epoch {epoch}, {_number(apart)} away "
        f"(the grader allows {_number(TOLERANCE)})"
    )


def _number(x: float) -> str:
    """``x`` to three digits, exponent without padding: 0.114, 1.23e-6."""
    return re.sub(r"e([+-])0*(\d)", r"e\1\2", f"{x:.3g}").replace("e+", "e")


def _point(point, label: str, marker: dict, legend: bool) -> go.Scatter:
    """One marker at ``point``, in float64: its tooltip gives it to ten digits."""
    return go.Scatter(
        x=[float(point[0])],
        y=[float(point[1])],
        mode="markers",
        marker=marker,
        name=label,
        legendgroup=label,
        showlegend=legend,
        hovertemplate=f"{label}<br>(%{{x:.10g}}, %{{y:.10g}})<extra></extra>",
    )


def _path_hover(label: str, labels: tuple[str, str], digits: str) -> str:
    """A path point's tooltip: epoch, both weights and the distance between the paths."""
    return (
        f"{label}<br>epoch %{{customdata[0]}}<br>{labels[0]} = %{{x:{digits}}}"
        f"<br>{labels[1]} = %{{y:{digits}}}<br>distance between the paths "
        "%{customdata[1]:.3g}<extra></extra>"
    )


def _light(values: np.ndarray) -> np.ndarray:
    """``values`` as float32, half the weight, unless some would not fit (a diverging
    path's weights reach 1e300 before they stop being finite)."""
    magnitudes = np.abs(values[np.isfinite(values) & (values != 0)])
    fits = np.all((_FLOAT32.tiny <= magnitudes) & (magnitudes <= _FLOAT32.max))
    return values.astype(np.float32) if fits else values
