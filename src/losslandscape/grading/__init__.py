"""Check a student's update rule against the library's, trajectory by trajectory.

The assignment's tests and the student's self-check both drive a rule through
:func:`losslandscape.train` and compare every epoch with the reference. In the
student's kernel the rule is their own function; when nbgrader autogrades, it
is a :class:`~.sandbox.RuleProxy` to the same function running in a sandbox
(see :mod:`.nbgrader`), and this comparison runs in the grader.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..data import bundled_path
from ..landscape import SEED_W_A, SEED_W_B, Landscape
from ..optimizers import OPTIMIZERS
from ..training import SEED_EPOCHS, SEED_LR, SEED_START, train

RULES: Mapping[str, str] = {
    "sgd_step": "SGD",
    "momentum_step": "SGD-Momentum",
    "nesterov_step": "Nesterov-SGD",
    "rmsprop_step": "RMSProp",
    "adam_step": "Adam",
}
"""The functions students write, each with the seed's name of its method."""

TOLERANCE = 1e-8
"""Relative and absolute: loose enough for a rule written in another but equal order."""


@functools.cache
def landscape() -> Landscape:
    """The seed's landscape on its first 100 images, always from the bundled data.

    Its first 6,309 images are MNIST's own, so the reference is the same as with
    the full set, and grading neither depends on nor waits for keras's download.
    """
    return Landscape(100, data=bundled_path())


def trajectory(
    step: Callable,
    name: str,
    *,
    start: Sequence[float] = SEED_START,
    lr: float = SEED_LR,
    epochs: int = SEED_EPOCHS,
    hyperparameters: Mapping[str, float] | None = None,
) -> np.ndarray:
    """The weights ``(epochs + 1, 2)`` that rule ``step``, written as ``name``, takes.

    Every value ``step`` returns is checked: it must be NumPy arrays of the
    weights' shape (and the state's number of them), or a ``TypeError`` says
    what is wrong. Divergence is kept: its rows are NaN.
    """
    optimizer = OPTIMIZERS[RULES[name]]
    checked = dataclasses.replace(optimizer, step=_checked(step, name, len(optimizer.state)))
    (run,) = train(
        landscape(),
        [checked],
        starts=[start],
        lrs=[lr],
        epochs=epochs,
        hyperparameters={optimizer.name: dict(hyperparameters or {})},
        on_divergence="keep",
    )
    return run.weights


def reference(name: str, **setting) -> np.ndarray:
    """The library's trajectory for the rule ``name``, through the same loop as a student's."""
    hyperparameters = tuple(sorted((setting.pop("hyperparameters", None) or {}).items()))
    if "start" in setting:
        setting["start"] = tuple(float(x) for x in setting["start"])
    return _reference(name, hyperparameters, **setting).copy()


@functools.lru_cache(maxsize=64)
def _reference(name, hyperparameters, **setting):
    # Cached: a batch of submissions shares the reference runs.
    step = OPTIMIZERS[RULES[name]].step
    return trajectory(step, name, hyperparameters=dict(hyperparameters), **setting)


def first_parting(weights: np.ndarray, expected: np.ndarray) -> int | None:
    """The first epoch where ``weights`` and ``expected`` differ by more than the tolerance."""
    close = np.isclose(weights, expected, rtol=TOLERANCE, atol=TOLERANCE).all(axis=1)
    return None if close.all() else int(np.argmin(close))


def check_trajectory(step: Callable, name: str, **setting) -> None:
    """Assert that ``step`` follows the reference for ``name`` at every epoch.

    ``setting`` takes the keywords of :func:`trajectory` (start, lr, epochs,
    hyperparameters). The message names the first epoch where the two part
    and both points there, not the setting.
    """
    weights = trajectory(step, name, **setting)
    expected = reference(name, **setting)
    epoch = first_parting(weights, expected)
    if epoch is not None:
        raise AssertionError(
            f"{name} leaves the reference trajectory at epoch {epoch} of {len(expected) - 1}: "
            f"your weights are {_point(weights[epoch])}, the reference's "
            f"{_point(expected[epoch])} (after epoch {epoch - 1} they agreed)"
        )


def check_steps(
    step: Callable,
    name: str,
    *,
    lr: float,
    hyperparameters: Mapping[str, float] | None = None,
    shape: tuple[int, ...] = (4, 3),
    steps: int = 3,
    seed: int = 0,
) -> None:
    """Assert that ``step`` matches the reference for a few steps on random arrays of ``shape``."""
    optimizer = OPTIMIZERS[RULES[name]]
    hyper = tuple(optimizer.hyperparameters(**(hyperparameters or {})).values())
    checked = _checked(step, name, len(optimizer.state))
    rng = np.random.default_rng(seed)
    w = rng.normal(size=shape)
    state = tuple(np.zeros(shape) for _ in optimizer.state)
    for t in range(1, steps + 1):
        grad = rng.normal(size=shape)
        count = (t,) if optimizer.counts_steps else ()
        args = (w, grad, *state, *count, lr, *hyper)
        got = checked(*(np.copy(arg) for arg in args))
        want = optimizer.step(*args)
        got, want = (got, want) if state else ((got,), (want,))
        for label, mine, theirs in zip(("w_new", *optimizer.state), got, want, strict=True):
            if not np.allclose(mine, theirs, rtol=TOLERANCE, atol=TOLERANCE):
                raise AssertionError(f"{name}: step {t} gives a wrong {label}")
        w, *state = want
        state = tuple(state)


def self_check(step: Callable, name: str | None = None, **setting):
    """Draw ``step``'s trajectory against the reference on the landscape.

    Prints the first epoch where they part (or that they agree throughout) and
    returns a plotly figure. ``name`` defaults to ``step.__name__``; ``setting``
    takes the keywords of :func:`trajectory`.
    """
    import plotly.graph_objects as go

    name = name or step.__name__
    try:
        weights = trajectory(step, name, **setting)
    except Exception as exc:  # show the student what went wrong, then stop
        print(f"{name} could not be trained: {type(exc).__name__}: {exc}")
        return None
    expected = reference(name, **setting)
    epoch = first_parting(weights, expected)
    if epoch is None:
        print(f"{name} follows the reference for all {len(expected) - 1} epochs.")
    else:
        print(
            f"{name} leaves the reference at epoch {epoch}: you are at {_point(weights[epoch])}, "
            f"the reference at {_point(expected[epoch])}."
        )
    figure = go.Figure(
        go.Contour(
            x=SEED_W_A,
            y=SEED_W_B,
            z=landscape().grid(SEED_W_A, SEED_W_B),
            colorscale="Viridis",
            colorbar={"title": "cost"},
        )
    )
    for label, path, style in (
        ("reference", expected, {"color": "white", "width": 4}),
        (f"your {name}", weights, {"color": "red", "width": 2, "dash": "dash"}),
    ):
        figure.add_scatter(x=path[:, 0], y=path[:, 1], mode="lines", name=label, line=style)
    if epoch is not None:
        figure.add_scatter(
            x=[weights[epoch, 0]],
            y=[weights[epoch, 1]],
            mode="markers",
            marker={"color": "red", "size": 12, "symbol": "x"},
            name=f"parts at epoch {epoch}",
        )
    figure.update_layout(xaxis_title="w2[5][250]", yaxis_title="w2[5][251]", height=500)
    return figure


def _checked(step: Callable, name: str, n_state: int) -> Callable:
    """``step`` with every return checked against the rule's contract."""
    expected = "w_new" if n_state == 0 else f"a tuple of {n_state + 1} arrays"

    def checked(w, *args):
        result = step(w, *args)
        arrays = (result,) if n_state == 0 else result
        if n_state and not (isinstance(result, tuple) and len(result) == n_state + 1):
            raise TypeError(f"{name} must return {expected}, got {_kind(result)}")
        for array in arrays:
            if not isinstance(array, np.ndarray):
                raise TypeError(
                    f"{name} must return NumPy arrays, got {_kind(array)}; "
                    "use array arithmetic instead of lists or Python numbers"
                )
            if array.shape != w.shape:
                raise TypeError(
                    f"{name} returned an array of shape {array.shape}, but the weights "
                    f"have shape {w.shape}; the rule works elementwise"
                )
        return result

    return checked


def _kind(value) -> str:
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def _point(row: np.ndarray) -> str:
    return f"({row[0]:.10g}, {row[1]:.10g})"
