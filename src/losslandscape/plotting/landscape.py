"""The landscape alone: its surfaces side by side in 3D, or one contour map at a time."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .surface import MODE_BAR_ROOM, SURFACE_SCALE, Surface, contour_levels, map_hovertemplate

# Each column of landscape_figure: its scene over SCENE_WIDTH of the column's width from its
# left edge, its colour bar ending at BAR_END, against the next scene. The bar's width is
# fixed in pixels (about 40), so the gap between them is what must hold it: 0.28 of a
# column is 47 px in the narrowest figure tested, on a 390 px phone (338 px of plots).
SCENE_WIDTH = 0.7
BAR_END = 0.98
SCENE_TOP = 0.92  # of the plots' height: the subplot titles above the scenes


def landscape_figure(
    surfaces: Sequence[Surface], *, colorscale=SURFACE_SCALE, height: int = 480
) -> go.Figure:
    """The surfaces side by side, one 3D scene each with its own colour bar to its right.

    The scenes start from the same camera; in the book (see
    :func:`~losslandscape.plotting.show`) turning one turns the others.
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
                    # Right of its own scene, its right edge against the next scene, so it
                    # covers neither scene at any width.
                    "x": left + BAR_END * width,
                    "xanchor": "right",
                    "xpad": 2,
                    "len": 0.7,
                    "thickness": 12,
                },
                contours_z={"show": True, "usecolormap": True, "project_z": True},
                hovertemplate=map_hovertemplate(surface),
            ),
            row=1,
            col=col,
        )
        scene = scene_layout(surface)
        scene["domain"] = {"x": [left, left + SCENE_WIDTH * width], "y": [0, SCENE_TOP]}
        fig.update_scenes(scene, row=1, col=col)
    # Each scene's title centred over it, on the scene (below the mode bar's strip).
    for annotation, col in zip(fig.layout.annotations, range(n), strict=True):
        annotation.update(x=(col + SCENE_WIDTH / 2) * width, y=SCENE_TOP, yanchor="bottom")
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": MODE_BAR_ROOM, "b": 10})
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
