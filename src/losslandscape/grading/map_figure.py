"""The landscape assignment's self-check: the student's map beside the reference's, with
each side's gradient drawn as arrows on it.

Both maps share one colour scale, so a map off by a constant (the nine other outputs
left out) or by a factor (a mean over the wrong axis) looks different at a glance; the
arrows point downhill, along minus the gradient, all of one length (its value is in the
arrow's hover text), so a gradient with the wrong sign or with its two entries swapped
points the wrong way.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..landscape import SEED_W_A, SEED_W_B
from . import frozen_network
from .landscape_checks import (
    GRID,
    Broke,
    agrees,
    as_result,
    call_student,
    named_mistake,
    original_data,
)
from .messages import wrapped

ARROWS = 6
"""Arrows per axis, on the grid's points spread evenly."""
STUDENT_COLOR = "#D55E00"
REFERENCE_COLOR = "black"


def self_check_map(cost_map, gradient=None) -> go.Figure:
    """Draw ``cost_map`` (and ``gradient``'s arrows) beside the reference on the original
    notebook's 40 x 40 grid at N = 100, print what differs, and return the figure."""
    w2, hidden, onehot = original_data()
    args = (SEED_W_A, SEED_W_B, w2, hidden, onehot)
    want = frozen_network.cost_map(*args)
    mine, said = _student_map(cost_map, args, want)
    print(wrapped(said))
    points = _arrow_points()
    arrows = {"reference": [frozen_network.gradient(a, b, *args[2:]) for a, b in points]}
    if gradient is not None:
        arrows["yours"], said = _student_arrows(gradient, points, args[2:], arrows["reference"])
        print(wrapped(said))
    return _figure(mine, want, points, arrows)


def _student_map(cost_map, args, want):
    try:
        result, changed = call_student(cost_map, "cost_map", args)
    except Broke as broke:
        return None, str(broke)
    got, broken = as_result("cost_map", result, want)
    if broken:
        return None, broken
    if changed:
        return got, "cost_map changes an array it is given: work on a copy"
    if agrees("cost_map", got, want):
        return got, f"cost_map agrees with the reference on the original notebook's {GRID}."
    mistake = named_mistake("cost_map", got, args)
    what = f"it {mistake.explanation}" if mistake else "it differs from the reference"
    shown = got if got.shape == want.shape else None
    return shown, f"cost_map on the original notebook's {GRID}: {what}."


def _student_arrows(gradient, points, data, reference):
    got = []
    for (a, b), want in zip(points, reference, strict=True):
        try:
            result, _ = call_student(gradient, "gradient", (a, b, *data))
        except Broke as broke:
            return None, str(broke)
        value, broken = as_result("gradient", result, want)
        if broken:
            return None, broken
        got.append(value)
    for (a, b), value, want in zip(points, got, reference, strict=True):
        if not agrees("gradient", value, want):
            mistake = named_mistake("gradient", value, (a, b, *data))
            what = f"it {mistake.explanation}" if mistake else "it differs from the reference"
            return got, f"gradient at w_a = {a:g}, w_b = {b:g}: {what}."
    return got, f"gradient agrees with the reference at all {len(points)} arrows."


def _arrow_points():
    a = np.linspace(SEED_W_A[0], SEED_W_A[-1], ARROWS + 2)[1:-1]
    b = np.linspace(SEED_W_B[0], SEED_W_B[-1], ARROWS + 2)[1:-1]
    return [(float(x), float(y)) for y in b for x in a]


def _figure(mine, want, points, arrows) -> go.Figure:
    titles = ("your cost_map", "the reference")
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.08)
    low, high = float(want.min()), float(want.max())
    for col, values in enumerate((mine, want), start=1):
        if values is None:
            fig.add_annotation(
                text="no map to draw",
                showarrow=False,
                xref=f"{_axis('x', col)} domain",
                yref=f"{_axis('y', col)} domain",
                x=0.5,
                y=0.5,
            )
            continue
        fig.add_trace(
            go.Contour(
                x=SEED_W_A,
                y=SEED_W_B,
                z=values,
                zmin=low,
                zmax=high,
                colorscale="Viridis",
                showscale=col == 2,
                colorbar={"title": "cost", "len": 0.9},
                hovertemplate="w_a %{x:.3f}<br>w_b %{y:.3f}<br>cost %{z:.6f}<extra></extra>",
            ),
            row=1,
            col=col,
        )
    sides = (("yours", 1, STUDENT_COLOR), ("reference", 2, REFERENCE_COLOR))
    reach = 0.8 * (SEED_W_A[-1] - SEED_W_A[0]) / (ARROWS + 1)
    for key, col, colour in sides:
        vectors = arrows.get(key)
        if vectors is None:
            continue
        for (a, b), vector in zip(points, vectors, strict=True):
            length = float(np.hypot(*vector))
            if not (np.isfinite(length) and length > 0):
                continue
            # Directions alone: on the plateau the gradient is thousands of times smaller
            # than on the slope, and an arrow to scale would vanish there.
            dx, dy = -reach * np.asarray(vector) / length
            fig.add_annotation(
                hovertext=f"gradient ({vector[0]:.4g}, {vector[1]:.4g})",
                x=a + dx,
                y=b + dy,
                ax=a,
                ay=b,
                xref=_axis("x", col),
                yref=_axis("y", col),
                axref=_axis("x", col),
                ayref=_axis("y", col),
                showarrow=True,
                arrowhead=2,
                arrowwidth=1.5,
                arrowcolor=colour,
            )
    fig.update_xaxes(title_text="w_a = w2[5, 250]")
    fig.update_yaxes(title_text="w_b = w2[5, 251]", col=1)
    fig.update_layout(
        height=440,
        margin={"l": 60, "r": 20, "t": 70, "b": 50},
        template="plotly_white",
        title={
            "text": "Arrows point downhill, along minus the gradient (hover for its value)",
            "y": 0.98,
            "yanchor": "top",
        },
    )
    return fig


def _axis(letter: str, col: int) -> str:
    """Plotly's name of the axis of subplot ``col``: ``x``, then ``x2``, ``x3``..."""
    return letter if col == 1 else f"{letter}{col}"
