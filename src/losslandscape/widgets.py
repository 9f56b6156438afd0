"""Live ipywidgets panels: move a slider, the trajectories are retrained and redrawn.

A thin layer over ``losslandscape.plotting``: the figure is its ``trajectory_figure`` as
a ``go.FigureWidget`` (which needs ``anywidget``), and every change retrains with
:func:`~losslandscape.training.train`, which takes milliseconds, so the panel follows
the slider without visible delay. Its controls' ranges and steps and its map's growth come
from ``losslandscape.panel``, as the book's page panel's do.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import ipywidgets as w
import numpy as np
import plotly.graph_objects as go

from . import twin
from .data import MNIST, load_mnist
from .landscape import Landscape
from .optimizers import OPTIMIZERS, SEED_METHODS
from .panel import MAP_W_A, MAP_W_B, PANEL
from .plotting import STATIC_ENV, Surface, trajectory_figure
from .plotting.paths import path_customdata
from .plotting.surface import grown_axes, path_bounds
from .training import SEED_EPOCHS, SEED_LR, SEED_START, train

_SLIDER = {"continuous_update": True, "style": {"description_width": "8em"}}


class OptimizerPanel:
    r"""Sliders for the learning rate, each method's hyperparameters, the start, N and the epochs.

    Every change of a control retrains the runs with :func:`~losslandscape.training.train`
    (with ``on_divergence="keep"``, so a run that diverges is reported, not raised) and
    redraws their paths on the contour map and their cost per epoch. Show the panel as a
    notebook cell's last value. The controls' ranges and steps are
    ``losslandscape.panel.PANEL``'s, as in the book's page panel.

    The map is the grid ``w_a`` by ``w_b`` grown at its own spacing to cover every path
    drawn since the panel opened, by at most ``MAX_GROWTH`` (1) times its width on each
    side, as every map in the book grows (``losslandscape.plotting.surface.grown_axes``); it
    is computed again when N or its extent changes, and the status line names a path that
    leaves it.

    Args:
        methods: Registered method names to draw, default ``("SGD",)``; with more than
            one, a menu chooses which are shown.
        n_samples: The initial N, default 100. The N slider offers any N from 1 to
            ``len(data)`` on a log scale (``PANEL.n_values``, with 100 and 1,000 on it) and
            this value.
        lr: The initial learning rate, default 10. The slider spans 0.1 to
            :math:`10^{2.5} \approx 316` on a log scale; a value outside is clamped to it.
        start: The initial start ``(w_a, w_b)``, default ``(-9, 15)``. The sliders span
            ``w_a`` and ``w_b``; a value outside is clamped to them.
        epochs: How many epochs each run trains, default 1000. The epochs slider spans 10 to
            5,000 in steps of 10; a value outside is clamped to it.
        data: An :class:`~losslandscape.data.MNIST`, an npz path or None, as for
            :class:`~losslandscape.landscape.Landscape`.
        w_a: The contour map's grid over :math:`w_a`, a strictly increasing sequence,
            default the original notebook's :data:`~losslandscape.landscape.SEED_W_A`.
        w_b: The contour map's grid over :math:`w_b`, default
            :data:`~losslandscape.landscape.SEED_W_B`.

    Attributes:
        methods: The methods drawn, a tuple of names.
        figure: The ``go.FigureWidget``, the paths on the contour map above the cost per
            epoch below.
        controls: The widgets by name, a dict with ``"lr"``, ``"<method>.<key>"`` for each
            hyperparameter (e.g. ``"Adam.beta1"``), ``"start_a"``, ``"start_b"``,
            ``"n_samples"``, ``"epoch"`` and, for more than one method, ``"methods"``.
            Setting a control's ``value`` retrains and redraws.
        status: An ``ipywidgets.HTML`` line with each run's weights and cost after the
            last epoch, or the epoch at which it diverged, and the epoch at which a path
            leaves the map, if one does.
        widget: The whole panel, the controls beside the figure, an ``ipywidgets.HBox``.

    Raises:
        KeyError: If a method is not registered.
        ValueError: If ``methods`` is empty
            (``methods is empty; give at least one optimizer``).

    An ``n_samples`` that is not an integer from 1 to ``len(data)`` is refused by the N
    slider, with a ``traitlets.TraitError``.

    Example:
        >>> from losslandscape.data import bundled_path
        >>> panel = OptimizerPanel(["SGD", "Adam"], data=bundled_path())
        >>> list(panel.controls)  # doctest: +NORMALIZE_WHITESPACE
        ['lr', 'Adam.beta1', 'Adam.beta2', 'Adam.eps', 'start_a', 'start_b', 'n_samples',
         'epoch', 'methods']
        >>> panel.controls["lr"].value = 1.0  # retrains and redraws
        >>> panel.controls["epoch"].value = 10
        >>> print(panel.status.value.replace("<br>", "\n"))
        <b>after epoch 10</b>
        SGD: (-8.993, 14.989), cost 4.80069
        Adam: (-8.928, 14.893), cost 4.80039
    """

    def __init__(
        self,
        methods: Sequence[str] = ("SGD",),
        *,
        n_samples: int = 100,
        lr: float = SEED_LR,
        start: Sequence[float] = SEED_START,
        epochs: int = SEED_EPOCHS,
        data=None,
        w_a=MAP_W_A,
        w_b=MAP_W_B,
    ):
        self.methods = tuple(methods)
        self._data = data if isinstance(data, MNIST) else load_mnist(data)
        self._w_a, self._w_b = np.asarray(w_a, float), np.asarray(w_b, float)
        self._landscape_n: tuple[int, Landscape] | None = None
        self.controls = self._make_controls(n_samples, lr, start, epochs)
        runs = self._train()
        # Every path drawn since the panel opened: the map covers them all.
        self._bounds = path_bounds(runs)
        # trajectory_figure grows the grid to these paths by the same rule (grown_axes).
        self.figure = go.FigureWidget(trajectory_figure(self._surface(), runs))
        # The status line names a path that leaves the map, as on the page; not a note.
        self.figure.layout.annotations = ()
        shown = self.figure.data[0]
        self._map = (self.controls["n_samples"].value, np.array(shown.x), np.array(shown.y))
        self.status = w.HTML()
        self._show(runs)
        for control in self.controls.values():
            control.observe(self.update, names="value")
        self.widget = w.HBox(
            [w.VBox([*self.controls.values(), self.status]), self.figure],
            layout={"flex_flow": "row wrap"},
        )

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def update(self, change=None) -> None:
        """Retrain with the controls' values and redraw; called on every change of a control.

        Args:
            change: The traitlets change that called it (a dict with ``"owner"``,
                ``"name"``, ``"old"`` and ``"new"``), or None (the default) to update by
                hand. The contour map is computed again when N changes or a path reaches
                past it.
        """
        runs = self._train()
        self._bounds = path_bounds(runs, self._bounds)
        w_a, w_b = grown_axes(self._w_a, self._w_b, self._bounds)
        n = self.controls["n_samples"].value
        old_n, old_a, old_b = self._map
        with self.figure.batch_update():
            if n != old_n or not (np.array_equal(w_a, old_a) and np.array_equal(w_b, old_b)):
                surface = Surface.of(self._landscape(), w_a, w_b)
                self.figure.data[0].update(surface.xyz, name=f"cost, N = {n:,}")
                self.figure.layout.xaxis.range, self.figure.layout.yaxis.range = surface.extent
                self._map = (n, w_a, w_b)
            self._show(runs)

    def _make_controls(self, n_samples, lr, start, epochs) -> dict[str, w.Widget]:
        controls: dict[str, w.Widget] = {
            "lr": w.FloatLogSlider(
                value=lr,
                base=10,
                min=PANEL.lr_log10[0],
                max=PANEL.lr_log10[1],
                step=PANEL.lr_log10_step,
                description="learning rate",
                **_SLIDER,
            )
        }
        for method in self.methods:
            for key, hyper in OPTIMIZERS[method].hyper.items():
                label = key if len(self.methods) == 1 else f"{method} {key}"
                controls[f"{method}.{key}"] = _hyper_slider(hyper, label)
        a0, a1, b0, b1 = self._w_a[0], self._w_a[-1], self._w_b[0], self._w_b[-1]
        controls["start_a"] = w.FloatSlider(
            value=start[0], min=a0, max=a1, step=0.5, description="start w_a", **_SLIDER
        )
        controls["start_b"] = w.FloatSlider(
            value=start[1], min=b0, max=b1, step=0.5, description="start w_b", **_SLIDER
        )
        sizes = PANEL.n_values(len(self._data), also=[n_samples])
        # A new N builds a Landscape and a map: on release of the slider, not while dragging.
        controls["n_samples"] = w.SelectionSlider(
            options=[(f"{n:,}", n) for n in sizes],
            value=n_samples,
            description="N images",
            **{**_SLIDER, "continuous_update": False},
        )
        low, high = PANEL.epochs
        controls["epoch"] = w.IntSlider(
            value=min(max(epochs, low), high),
            min=low,
            max=high,
            step=PANEL.epochs_step,
            description="epochs",
            **_SLIDER,
        )
        if len(self.methods) > 1:
            controls["methods"] = w.SelectMultiple(
                options=self.methods, value=self.methods, description="methods shown", rows=5
            )
        return controls

    def _landscape(self) -> Landscape:
        n = self.controls["n_samples"].value
        if self._landscape_n is None or self._landscape_n[0] != n:
            # One at a time: the slider offers some 150 N, each Landscape's arrays are N long.
            self._landscape_n = (n, Landscape(n, data=self._data))
        return self._landscape_n[1]

    def _surface(self) -> Surface:
        return Surface.of(self._landscape(), self._w_a, self._w_b)

    def _train(self):
        c = self.controls
        hyper = {
            method: {key: c[f"{method}.{key}"].value for key in OPTIMIZERS[method].defaults}
            for method in self.methods
            if OPTIMIZERS[method].defaults
        }
        return train(
            self._landscape(),
            self.methods,
            starts=[(c["start_a"].value, c["start_b"].value)],
            lrs=[c["lr"].value],
            epochs=c["epoch"].value,
            hyperparameters=hyper,
            on_divergence="keep",
        )

    def _show(self, runs) -> None:
        """Put the runs into the path and cost traces, and their ends into the status line."""
        last = self.controls["epoch"].value
        shown = self.controls["methods"].value if "methods" in self.controls else self.methods
        w_a, w_b = self._map[1:]
        lines, leaving = [], []
        for i, run in enumerate(runs):
            path, curve = self.figure.data[1 + 2 * i], self.figure.data[2 + 2 * i]
            epochs = np.arange(last + 1)
            path.x, path.y = run.weights.T
            path.customdata = path_customdata(run, epochs)
            curve.x, curve.y = epochs, run.costs
            path.visible = curve.visible = run.method in shown
            if run.diverged_at is not None:
                lines.append(f"{run.method}: diverged at epoch {run.diverged_at}")
            else:
                (a, b), cost = run.weights[last], run.costs[last]
                lines.append(f"{run.method}: ({a:.3f}, {b:.3f}), cost {cost:.5f}")
            epoch = _leaves_at(run.weights, w_a, w_b)
            if epoch is not None:
                leaving.append(f"{run.method} leaves the map at epoch {epoch}")
        self.status.value = f"<b>after epoch {last}</b><br>" + "<br>".join(lines + leaving)


def _leaves_at(weights: np.ndarray, w_a: np.ndarray, w_b: np.ndarray) -> int | None:
    """The first epoch at which a path's finite point lies outside the map, or None."""
    finite = np.all(np.isfinite(weights), axis=1)
    a, b = weights[:, 0], weights[:, 1]
    outside = finite & ((a < w_a[0]) | (a > w_a[-1]) | (b < w_b[0]) | (b > w_b[-1]))
    return int(np.argmax(outside)) if outside.any() else None


def _hyper_slider(hyper, label: str) -> w.Widget:
    """A slider over the registry's range for ``hyper``: log-scaled for positive ones."""
    low, high = hyper.slider
    step = PANEL.hyper_step(hyper)
    if hyper.positive:
        return w.FloatLogSlider(
            value=hyper.default,
            base=10,
            min=math.log10(low),
            max=math.log10(high),
            step=step,
            description=label,
            **_SLIDER,
        )
    return w.FloatSlider(
        value=hyper.default,
        min=low,
        max=high,
        step=step,
        readout_format=f".{max(0, -math.floor(math.log10(step)))}f",
        description=label,
        **_SLIDER,
    )


def live_panel(methods: Sequence[str] = SEED_METHODS, **kwargs):
    """An :class:`OptimizerPanel` in a live notebook; in a static build, its JavaScript twin.

    Static HTML has no kernel, so there the panel is ``losslandscape.twin.panel_html``:
    the same figure and controls, retrained in the reader's browser by the book's
    ``losslandscape.js``. A build is static when ``$LOSSLANDSCAPE_STATIC_HTML`` is set to
    anything but ``""`` or ``"0"``, as the book's build does.

    Args:
        methods: Registered method names, default the original notebook's five
            (:data:`~losslandscape.optimizers.SEED_METHODS`).
        **kwargs: ``n_samples``, ``lr``, ``start``, ``epochs``, ``data``, ``w_a`` and
            ``w_b``, as for :class:`OptimizerPanel`.

    Returns:
        The :class:`OptimizerPanel` in a live notebook; in a static build, an
        ``IPython.display.HTML`` with the twin's figure and settings, which the page's
        script trains as it opens.

    Raises:
        KeyError: In a live notebook, if a method is not registered.
        ValueError: If ``methods`` is empty. In a static build also if a method is not
            registered (``live panels draw registered methods only, got ...``), or for a
            learning rate or start that :func:`~losslandscape.training.train` refuses
            (a live panel's sliders clamp them instead).
    """
    if os.environ.get(STATIC_ENV, "") in ("", "0"):
        return OptimizerPanel(methods, **kwargs)
    from IPython.display import HTML

    return HTML(twin.panel_html(methods, **kwargs))
