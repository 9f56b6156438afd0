"""Showing a figure: itself in a live notebook, or HTML for the book's static pages."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

STATIC_ENV = "LOSSLANDSCAPE_STATIC_HTML"
"""Set (to anything but "" or "0") when notebooks run to become static HTML, e.g. in the book."""

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
# A figure that carries a layout for narrow pages, layout.meta.narrow = {below, narrow, wide}
# (each the trace and layout changes of a Plotly.update, the height among them; see
# landscape_figure), takes it while the figure is narrower than `below` pixels and its own
# again when wider: plotly has no media queries, and its responsive mode sets the size only.
_FIT_WIDTH = """
const gd = document.getElementById("{plot_id}");
const {below, narrow, wide} = gd.layout.meta.narrow;
let shown = wide;
function fit() {
  const wanted = gd.clientWidth < below ? narrow : wide;
  if (wanted !== shown) {
    shown = wanted;
    // A new height: plotly.py's box around the figure keeps the one it was written with,
    // and plotly, told a height, stops following the page's width unless told to autosize.
    gd.parentElement.style.height = `${wanted[1].height}px`;
    Plotly.update(gd, wanted[0], {...wanted[1], autosize: true});
  }
}
fit();
window.addEventListener("resize", fit);
"""


def show(fig: go.Figure, name: str):
    """Display ``fig``: itself in a live notebook, else as HTML that needs a page's plotly.js.

    When :data:`STATIC_ENV` is set (the book's build sets it), the figure becomes a
    ``<div>`` with the deterministic id ``name`` and no embedded plotly.js: the book ships
    one shared ``plotly.min.js``, so pages stay small and work offline. A figure with
    several 3D scenes has linked cameras: turning one turns the others, in the page (a
    script after the plot) and live (a ``FigureWidget`` that copies the camera). A figure
    that carries a layout for narrow pages (``layout.meta["narrow"]``, as
    :func:`~losslandscape.plotting.landscape_figure`'s) takes it in a page narrower than it
    asks.

    The mode bar (zoom, pan, reset, turn, save as PNG) shows in the strip kept for it at
    the top of the library's figures (:data:`~losslandscape.plotting.surface.MODE_BAR_ROOM`);
    a figure whose axes are all hidden, a picture such as the MNIST digits, has nothing to
    zoom or turn and none, so it covers nothing of a figure that keeps no such strip.
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
            config={
                "responsive": True,
                "displaylogo": False,
                # plotly's default, "hover": it shows while the pointer is over the figure.
                "displayModeBar": "hover" if scenes or _has_visible_axes(fig) else False,
            },
            post_script=[
                *([_LINK_CAMERAS] if linked else []),
                *([_FIT_WIDTH] if _has_narrow_layout(fig) else []),
            ],
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


def _has_narrow_layout(fig: go.Figure) -> bool:
    return isinstance(fig.layout.meta, dict) and "narrow" in fig.layout.meta


def _has_visible_axes(fig: go.Figure) -> bool:
    return any(axis.visible is not False for axis in [*fig.select_xaxes(), *fig.select_yaxes()])


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
