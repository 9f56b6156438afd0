"""The landscape alone: its surfaces side by side in 3D, or one contour map at a time."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .surface import MODE_BAR_ROOM, SURFACE_SCALE, Surface, contour_levels, map_hovertemplate

# Each cell of landscape_figure (a column side by side, a row stacked): its scene over
# SCENE_WIDTH of the cell's width from its left edge (NARROW_SCENE_WIDTH stacked) and over
# SCENE_TOP of its height from its bottom, its title above it, its colour bar ending at
# BAR_END of the cell's width, against the next scene. The bar's width is fixed in pixels
# (41 with its numbers), so the gap between them is what must hold it: side by side 0.18 of
# a column, at least 52 px (NARROW_BELOW); stacked 0.14 of the width, 47 px on a 390 px
# phone. Side by side on a 1280 px laptop (a figure 688 px wide) each scene is 267 px wide,
# and its cube as high.
SCENE_WIDTH = 0.8
NARROW_SCENE_WIDTH = 0.84
BAR_END = 0.98
SCENE_TOP = 0.92
NARROW_BELOW = 600
"""Below this width in pixels (a phone's), :func:`landscape_figure` stacks its scenes: side
by side each would be under 232 px wide (and its cube as small), stacked 284 px on a phone
390 px wide."""
NARROW_ROW = 330  # pixels of height per stacked scene, its title included


def landscape_figure(
    surfaces: Sequence[Surface], *, colorscale=SURFACE_SCALE, height: int = 480
) -> go.Figure:
    """The surfaces side by side, one 3D scene each with its own colour bar to its right.

    The scenes start from the same camera; in the book (see
    :func:`~losslandscape.plotting.show`) turning one turns the others, and in a page
    narrower than :data:`NARROW_BELOW` the scenes are stacked, each as wide as the page
    allows, in the layout the figure carries for it (``layout.meta["narrow"]``).
    """
    n = len(surfaces)
    fig = make_subplots(
        rows=1,
        cols=n,
        specs=[[{"type": "surface"}] * n],
        subplot_titles=[f"N = {s.n_samples:,}" for s in surfaces],
    )
    for col, surface in enumerate(surfaces, start=1):
        fig.add_trace(
            go.Surface(
                **surface.xyz,
                colorscale=colorscale,
                name=f"N = {surface.n_samples:,}",
                # Right of its own scene, its right edge against the next scene, so it
                # covers neither scene at any width (see _arrangement).
                colorbar={
                    "title": {"text": "cost"},
                    "xanchor": "right",
                    "xpad": 2,
                    "thickness": 12,
                },
                contours_z={"show": True, "usecolormap": True, "project_z": True},
                hovertemplate=map_hovertemplate(surface),
            ),
            row=1,
            col=col,
        )
        fig.update_scenes(scene_layout(surface), row=1, col=col)
    # Each scene's title centred over it, on its cell (below the mode bar's strip).
    fig.update_annotations(yanchor="bottom")
    fig.update_layout(margin={"l": 10, "r": 10, "t": MODE_BAR_ROOM, "b": 10})
    side_by_side = _arrangement(n, stacked=False, height=height)
    stacked = _arrangement(n, stacked=True, height=n * NARROW_ROW + MODE_BAR_ROOM + 10)
    traces, layout = side_by_side
    for i, trace in enumerate(fig.data):
        trace.update({key: values[i] for key, values in traces.items()})
    fig.update_layout(layout)
    fig.update_layout(
        meta={"narrow": {"below": NARROW_BELOW, "narrow": stacked, "wide": side_by_side}}
    )
    return fig


def _arrangement(n: int, *, stacked: bool, height: int) -> tuple[dict, dict]:
    """Where n scenes, their colour bars and titles go, side by side or stacked, as the
    trace and layout changes ``Plotly.update`` takes (and plotly.py, in its dotted form)."""
    traces = {"colorbar.x": [], "colorbar.y": [], "colorbar.len": []}
    layout = {"height": height}
    width, cell = (1, 1 / n) if stacked else (1 / n, 1)
    scene = NARROW_SCENE_WIDTH if stacked else SCENE_WIDTH
    for i in range(n):
        left, bottom = (0, 1 - (i + 1) * cell) if stacked else (i * width, 0)
        top = bottom + SCENE_TOP * cell
        traces["colorbar.x"].append(left + BAR_END * width)
        traces["colorbar.y"].append((bottom + top) / 2)
        traces["colorbar.len"].append(0.75 * (top - bottom))
        layout[f"scene{i + 1 if i else ''}.domain"] = {
            "x": [left, left + scene * width],
            "y": [bottom, top],
        }
        layout[f"annotations[{i}].x"] = left + scene * width / 2
        layout[f"annotations[{i}].y"] = top
    return traces, layout


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
        start, size, end = contour_levels(np.concatenate([s.z.ravel() for s in surfaces]))
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
                hovertemplate=map_hovertemplate(surface),
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


def scene_layout(surface: Surface) -> dict:
    """The layout of a 3D scene of the surface: axes titled after both weights and the
    cost, a cube, and a camera that shows the whole of it."""
    label_a, label_b = surface.labels
    return {
        "xaxis": {"title": {"text": label_a}},
        "yaxis": {"title": {"text": label_b}},
        "zaxis": {"title": {"text": "cost"}},
        # Far enough out that the axes' numbers and titles stay inside the scene.
        "camera": {"eye": {"x": 2.2, "y": -2.2, "z": 1.4}},
        "aspectmode": "cube",
    }
