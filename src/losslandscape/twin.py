"""What the book's JavaScript twin of the two-weight model needs, written at build time.

The published book has no kernel, so its live panels retrain in the reader's browser:
``book/_static/losslandscape.js`` is a line-by-line twin of
:meth:`Landscape.cost_and_gradient` and the compiled training loop, and :func:`export`
writes what it reads:

- ``rules.js``: every registered rule, written from its step's source by
  :func:`~losslandscape.rulecode.javascript` (never by hand);
- ``registry.json``: every registered rule's state, hyperparameters (defaults, the
  values allowed, slider ranges) and style, from :data:`~losslandscape.OPTIMIZERS`,
  with the original notebook's settings;
- ``n<N>.json`` for each N: the arrays a :class:`Landscape` of N images computes
  the cost from (``base``, ``coef_a``, ``coef_b``, ``target``, ``rest``); with the
  original watched weights these are four rows of N numbers.

Numbers are written with Python's shortest round-trip repr, which JavaScript parses
to the same float64, so the twin starts from exactly the library's arrays.
:func:`panel_html` is the static-HTML form of :func:`~losslandscape.widgets.live_panel`.
"""

from __future__ import annotations

import html
import json
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import rulecode
from .data import MNIST, load_mnist
from .landscape import SEED_W_A, SEED_W_B, Landscape
from .optimizers import OPTIMIZERS
from .plotting import Surface, trajectory_figure
from .training import SEED_EPOCHS, SEED_LR, SEED_START, train

PANEL_CLASS = "losslandscape-live"
"""The class of a live panel's element: pages with one load the book's ``losslandscape.js``."""

# Log10 of the learning-rate slider's ends, as the ipywidgets panel's.
LR_RANGE = (-1.0, 2.5)
MAX_EPOCHS = 5000


def sizes(data: MNIST) -> list[int]:
    """The N a reader can choose: the original notebook's 100 and 1,000, and all images."""
    return sorted({100, 1000, len(data)} & set(range(1, len(data) + 1)))


def landscape_arrays(landscape: Landscape) -> dict:
    """The arrays the cost and gradient are computed from, as JSON-ready lists."""
    return {
        "n": landscape.n_samples,
        "rest": landscape.rest,
        "gradientFactor": landscape.gradient_factor,
        "base": landscape.base.tolist(),
        "coefA": landscape.coef_a.tolist(),
        "coefB": landscape.coef_b.tolist(),
        "target": landscape.target.tolist(),
    }


def registry(data: MNIST) -> dict:
    """Every registered rule as the twin and the panels need it, and the original's settings."""
    return {
        "methods": {
            name: {
                "state": list(opt.state),
                "countsSteps": opt.counts_steps,
                "hyper": {
                    key: {
                        "default": hyper.default,
                        "slider": list(hyper.slider),
                        "positive": hyper.positive,
                    }
                    for key, hyper in opt.hyper.items()
                },
                "style": {"color": opt.style.color, "dash": opt.style.dash},
            }
            for name, opt in OPTIMIZERS.items()
        },
        "original": {
            "lr": SEED_LR,
            "start": list(SEED_START),
            "epochs": SEED_EPOCHS,
            "wA": SEED_W_A.tolist(),
            "wB": SEED_W_B.tolist(),
        },
        "sizes": sizes(data),
        "lrRange": list(LR_RANGE),
        "maxEpochs": MAX_EPOCHS,
    }


def rules_script() -> str:
    """``rules.js``: sets ``window.losslandscapeRules``, each registered rule by name."""
    rules = ",\n".join(
        f"  {json.dumps(name)}: {textwrap.indent(rulecode.javascript(opt.step), '  ').lstrip()}"
        for name, opt in OPTIMIZERS.items()
    )
    return (
        "/* Written by losslandscape.twin.export from each rule's step function; do not edit.\n"
        " * rule(w, grad, state, t, lr, h) -> the new weight; updates state in place. */\n"
        f"window.losslandscapeRules = {{\n{rules},\n}};\n"
    )


def export(folder: str | Path, data: MNIST | None = None) -> list[Path]:
    """Write ``rules.js``, ``registry.json`` and one ``n<N>.json`` per size into ``folder``.

    Returns:
        The paths written, in that order.
    """
    data = data if data is not None else load_mnist()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "rules.js", folder / "registry.json"]
    written[0].write_text(rules_script())
    written[1].write_text(json.dumps(registry(data), separators=(",", ":")))
    for n in sizes(data):
        path = folder / f"n{n}.json"
        arrays = landscape_arrays(Landscape(n, data=data))
        path.write_text(json.dumps(arrays, separators=(",", ":")))
        written.append(path)
    return written


def panel_html(
    methods: Sequence[str],
    *,
    n_samples: int = 100,
    lr: float = SEED_LR,
    start: Sequence[float] = SEED_START,
    epochs: int = SEED_EPOCHS,
    data=None,
    w_a=SEED_W_A,
    w_b=SEED_W_B,
    name: str | None = None,
) -> str:
    """A live panel for the static book: the figure's frame and the settings it starts from.

    The figure is :func:`~losslandscape.plotting.trajectory_figure`, as in the ipywidgets
    panel, with its arrays left empty: ``losslandscape.js`` trains and fills them as the
    page opens, so the page carries styles, not numbers.
    """
    unknown = [m for m in methods if m not in OPTIMIZERS]
    if unknown or not methods:
        raise ValueError(
            f"live panels draw registered methods only, got {list(methods)!r}; "
            f"allowed: {', '.join(OPTIMIZERS)}"
        )
    data = data if isinstance(data, MNIST) else load_mnist(data)
    landscape = Landscape(n_samples, data=data)
    # One epoch gives the traces their styles; it also checks lr and start.
    runs = train(landscape, methods, starts=[start], lrs=[lr], epochs=1)
    figure = trajectory_figure(Surface.of(landscape, w_a, w_b), runs)
    # The page's own status line says when a path leaves the map, not a note of this frame.
    figure.layout.annotations = ()
    for trace in figure.data:
        trace.x = trace.y = []
        if trace.type == "contour":
            trace.z = []
        else:
            trace.customdata = []
    figure.update_layout(dragmode=False, uirevision="panel")
    name = name or "live-" + "-".join(m.lower() for m in methods)
    config = {
        "id": name,
        "methods": list(methods),
        "n": n_samples,
        "lr": float(lr),
        "start": [float(x) for x in start],
        "epochs": int(epochs),
        "wA": [float(np.min(w_a)), float(np.max(w_a))],
        "wB": [float(np.min(w_b)), float(np.max(w_b))],
        "figure": json.loads(figure.to_json()),
    }
    return (
        f'<div class="{PANEL_CLASS}" id="{html.escape(name)}" '
        f"data-config='{html.escape(json.dumps(config, separators=(',', ':')))}'>"
        "<noscript>This live panel needs JavaScript.</noscript></div>"
    )
