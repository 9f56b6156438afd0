"""Live ipywidgets panels: move a slider, the trajectories are retrained and redrawn.

A thin layer over ``losslandscape.plotting``: the figure is its ``trajectory_figure`` as
a ``go.FigureWidget`` (which needs ``anywidget``), and every change retrains with
:func:`~losslandscape.training.train`, which takes milliseconds, so the panel follows
the slider without visible delay.
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
from .landscape import SEED_W_A, SEED_W_B, Landscape
from .optimizers import OPTIMIZERS, SEED_METHODS
from .plotting import STATIC_ENV, Surface, trajectory_figure
from .training import SEED_EPOCHS, SEED_LR, SEED_START, train

_SLIDER = {"continuous_update": True, "style": {"description_width": "8em"}}


class OptimizerPanel:
    r"""Sliders for the learning rate, each method's hyperparameters, the start, N and the epoch.

    Every change of a control retrains the runs with :func:`~losslandscape.training.train`
    (with ``on_divergence="keep"``, so a run that diverges is reported, not raised) and
    redraws their paths on the contour map and their cost per epoch. Show the panel as a
    notebook cell's last value.

    Args:
        methods: Registered method names to draw, default ``("SGD",)``; with more than
            one, a menu chooses which are shown.
        n_samples: The initial N, default 100; the N menu offers 100, 1,000, all the
            images and this value, those of them between 1 and ``len(data)``.
        lr: The initial learning rate, default 10. The slider spans 0.1 to
            :math:`10^{2.5} \approx 316` on a log scale; a value outside is clamped to it.
        start: The initial start ``(w_a, w_b)``, default ``(-9, 15)``. The sliders span
            ``w_a`` and ``w_b``; a value outside is clamped to them.
        epochs: How many epochs each run trains, default 1000; the "epochs shown" slider
            cuts the drawn paths anywhere from 1 to ``epochs``.
        data: An :class:`~losslandscape.data.MNIST`, an npz path or None, as for
            :class:`~losslandscape.landscape.Landscape`.
        w_a: The contour map's grid over :math:`w_a`, default the original notebook's
            :data:`~losslandscape.landscape.SEED_W_A`.
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
        status: An ``ipywidgets.HTML`` line with each run's weights and cost at the epoch
            shown, or the epoch at which it diverged.
        widget: The whole panel, the controls beside the figure, an ``ipywidgets.HBox``.

    Raises:
        KeyError: If a method is not registered.
        ValueError: If ``methods`` is empty
            (``methods is empty; give at least one optimizer``).

    An ``n_samples`` outside 1 to ``len(data)`` or ``epochs`` below 1 is refused by the
    widgets, with a ``traitlets.TraitError``.

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
        w_a=SEED_W_A,
        w_b=SEED_W_B,
    ):
        self.methods = tuple(methods)
        self._data = data if isinstance(data, MNIST) else load_mnist(data)
        self._w_a, self._w_b = np.asarray(w_a, float), np.asarray(w_b, float)
        self._landscapes: dict[int, Landscape] = {}
        self.controls = self._make_controls(n_samples, lr, start, epochs)
        runs = self._train()
        self.figure = go.FigureWidget(trajectory_figure(self._surface(), runs))
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
                hand. A change of the N menu redraws the contour map too.
        """
        runs = self._train()
        surface = self._surface().covering(runs)
        shown = self.figure.data[0]
        new_n = change is not None and change["owner"] is self.controls["n_samples"]
        with self.figure.batch_update():
            # A new N, or a path that left the map (it grows at its own spacing): redraw it.
            if new_n or (len(surface.w_a), len(surface.w_b)) != (len(shown.x), len(shown.y)):
                shown.update(surface.xyz)
            self._show(runs)

    def _make_controls(self, n_samples, lr, start, epochs) -> dict[str, w.Widget]:
        controls: dict[str, w.Widget] = {
            "lr": w.FloatLogSlider(
                value=lr,
                base=10,
                min=-1,
                max=2.5,
                step=0.05,
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
        sizes = sorted({100, 1000, len(self._data), n_samples} & set(range(1, len(self._data) + 1)))
        controls["n_samples"] = w.Dropdown(
            options=[(f"{n:,}", n) for n in sizes], value=n_samples, description="N images"
        )
        controls["epoch"] = w.IntSlider(
            value=epochs, min=1, max=epochs, description="epochs shown", **_SLIDER
        )
        if len(self.methods) > 1:
            controls["methods"] = w.SelectMultiple(
                options=self.methods, value=self.methods, description="methods shown", rows=5
            )
        return controls

    def _landscape(self) -> Landscape:
        n = self.controls["n_samples"].value
        if n not in self._landscapes:
            self._landscapes[n] = Landscape(n, data=self._data)
        return self._landscapes[n]

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
            epochs=c["epoch"].max,
            hyperparameters=hyper,
            on_divergence="keep",
        )

    def _show(self, runs) -> None:
        """Put the runs, cut at the chosen epoch, into the path and cost traces."""
        last = self.controls["epoch"].value
        shown = self.controls["methods"].value if "methods" in self.controls else self.methods
        lines = []
        for i, run in enumerate(runs):
            path, curve = self.figure.data[1 + 2 * i], self.figure.data[2 + 2 * i]
            epochs = np.arange(last + 1)
            path.x, path.y = run.weights[: last + 1].T
            path.customdata = epochs
            curve.x, curve.y = epochs, run.costs[: last + 1]
            path.visible = curve.visible = run.method in shown
            if run.diverged_at is not None and run.diverged_at <= last:
                lines.append(f"{run.method}: diverged at epoch {run.diverged_at}")
            else:
                (a, b), cost = run.weights[last], run.costs[last]
                lines.append(f"{run.method}: ({a:.3f}, {b:.3f}), cost {cost:.5f}")
        self.status.value = f"<b>after epoch {last}</b><br>" + "<br>".join(lines)


def _hyper_slider(hyper, label: str) -> w.Widget:
    """A slider over the registry's range for ``hyper``: log-scaled for positive ones."""
    low, high = hyper.slider
    if hyper.positive:
        return w.FloatLogSlider(
            value=hyper.default,
            base=10,
            min=math.log10(low),
            max=math.log10(high),
            step=0.5,
            description=label,
            **_SLIDER,
        )
    fine = high > 0.999  # e.g. Adam's beta2: its default 0.999 needs four decimals
    return w.FloatSlider(
        value=hyper.default,
        min=low,
        max=high,
        step=0.0001 if fine else 0.01,
        readout_format=".4f" if fine else ".2f",
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
