"""What the book's JavaScript twin of the two-weight model needs, written at build time.

The published book has no kernel, so its live panels retrain in the reader's browser:
``book/_static/losslandscape.js`` is a line-by-line twin of
:meth:`Landscape.cost_and_gradient` and the compiled training loop, and :func:`export`
writes what it reads:

- ``rules.js``: every registered rule, written from its step's source by
  :func:`~losslandscape.rulecode.javascript` (never by hand);
- ``registry.json``: every registered rule's state, hyperparameters (defaults, the
  values allowed, slider ranges and steps) and style, from
  :data:`~losslandscape.OPTIMIZERS`, the original notebook's settings, the number of
  images and the live panels' settings (:data:`~losslandscape.panel.PANEL`);
- ``images.json``: per image, what a :class:`Landscape` of any first N images computes
  the cost from (:func:`image_arrays`), so the twin builds the arrays of every N from 1 to
  all itself.

Numbers are written with Python's shortest round-trip repr, which JavaScript parses
to the same float64, so the twin starts from exactly the library's numbers.
:func:`panel_html` is the static-HTML form of :func:`~losslandscape.widgets.live_panel`.
"""

from __future__ import annotations

import html
import json
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.special import expit

from . import rulecode
from .data import MNIST, load_mnist
from .landscape import SEED_W_A, SEED_W_B, Landscape
from .network import LAYER_SIZES, hidden_activations, init_weights
from .optimizers import OPTIMIZERS
from .panel import MAP_W_A, MAP_W_B, PANEL
from .plotting import Surface, trajectory_figure
from .training import SEED_EPOCHS, SEED_LR, SEED_START, train

PANEL_CLASS = "losslandscape-live"
"""The class of a live panel's element: pages with one load the book's ``losslandscape.js``."""

IMAGES_FILE = "images.json"
"""The per-image arrays :func:`export` writes, from which the twin builds any N's."""


def image_arrays(data: MNIST) -> dict:
    r"""Per image, what the cost over the first N images is computed from, for any N.

    ``base``, ``coefA``, ``coefB`` and ``target`` are :class:`Landscape`'s ``base``,
    ``coef_a``, ``coef_b`` and ``target`` over all the images (m rows of one number per
    image; targets as 0 and 1); the first N columns are ``Landscape(N)``'s. ``rest`` is
    each image's squared error summed over the outputs the watched weights do not feed:
    ``Landscape(N).rest`` is the mean of its first N, summed as NumPy sums (pairwise, as
    the twin does too).

    Each ``Landscape(N)`` computes its hidden activations for its own N images, and BLAS
    may round a few of them in the last bit differently for another N, so the first N
    columns agree with ``Landscape(N)``'s to rounding (about 1e-15), and exactly for all
    images.
    """
    landscape = Landscape(len(data), data=data)
    w0, w1, w2 = init_weights(landscape.seed)
    (k_a, _), (k_b, _) = landscape.watched
    others = [k for k in range(LAYER_SIZES[-1]) if k not in (k_a, k_b)]
    hidden = hidden_activations(w0, w1, data.images[: len(data)])
    targets = data.onehot[: len(data)].T
    # As Landscape's rest, before the mean; w2's other rows hold no watched weight.
    rest = np.sum((targets[others] - expit(w2[others] @ hidden)) ** 2, axis=0)
    return {
        "images": landscape.n_samples,
        "gradientFactor": landscape.gradient_factor,
        "base": landscape.base.tolist(),
        "coefA": landscape.coef_a.tolist(),
        "coefB": landscape.coef_b.tolist(),
        "target": landscape.target.astype(int).tolist(),
        "rest": rest.tolist(),
    }


def registry(data: MNIST) -> dict:
    """Every registered rule as the twin and the panels need it, the original's settings,
    the number of images and the panels' settings."""
    return {
        "methods": {
            name: {
                "state": list(opt.state),
                "countsSteps": opt.counts_steps,
                "hyper": {
                    key: {
                        "default": hyper.default,
                        "slider": list(hyper.slider),
                        "step": PANEL.hyper_step(hyper),
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
        "images": len(data),
        "panel": PANEL.registry(len(data)),
    }


def rules_script() -> str:
    """``rules.js``: sets ``losslandscapeRules``, each registered rule by name, on the page's
    ``window`` or on the Web Worker's global scope that loads it (``globalThis``)."""
    rules = ",\n".join(
        f"  {json.dumps(name)}: {textwrap.indent(rulecode.javascript(opt.step), '  ').lstrip()}"
        for name, opt in OPTIMIZERS.items()
    )
    return (
        "/* Written by losslandscape.twin.export from each rule's step function; do not edit.\n"
        " * rule(w, grad, state, t, lr, h) -> the new weight; updates state in place. */\n"
        f"globalThis.losslandscapeRules = {{\n{rules},\n}};\n"
    )


def export(folder: str | Path, data: MNIST | None = None) -> list[Path]:
    """Write ``rules.js``, ``registry.json`` and ``images.json`` into ``folder``.

    Returns:
        The paths written, in that order.
    """
    data = data if data is not None else load_mnist()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "rules.js", folder / "registry.json", folder / IMAGES_FILE]
    for stale in folder.glob("n[0-9]*.json"):  # one N's arrays, as older builds wrote them
        stale.unlink()
    written[0].write_text(rules_script())
    written[1].write_text(json.dumps(registry(data), separators=(",", ":")))
    written[2].write_text(json.dumps(image_arrays(data), separators=(",", ":")))
    return written


def panel_html(
    methods: Sequence[str],
    *,
    n_samples: int = 100,
    lr: float = SEED_LR,
    start: Sequence[float] = SEED_START,
    epochs: int = SEED_EPOCHS,
    data=None,
    w_a=MAP_W_A,
    w_b=MAP_W_B,
    name: str | None = None,
) -> str:
    """A live panel for the static book: the figure's frame and the settings it starts from.

    The figure is :func:`~losslandscape.plotting.trajectory_figure`, as in the ipywidgets
    panel, with its arrays left empty: ``losslandscape.js`` trains and fills them as the
    page opens, so the page carries styles, not numbers. The settings carry the map's grid
    (``wA``, ``wB``), which the page grows as the ipywidgets panel does.
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
        "wA": np.asarray(w_a, float).tolist(),
        "wB": np.asarray(w_b, float).tolist(),
        "figure": json.loads(figure.to_json()),
    }
    return (
        f'<div class="{PANEL_CLASS}" id="{html.escape(name)}" '
        f"data-config='{html.escape(json.dumps(config, separators=(',', ':')))}'>"
        "<noscript>This live panel needs JavaScript.</noscript></div>"
    )
