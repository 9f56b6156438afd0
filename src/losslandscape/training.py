r"""Train only the two watched weights and record their trajectories.

:func:`train` runs every combination of method, starting point and learning rate
on a :class:`~losslandscape.landscape.Landscape` and returns one :class:`Trajectory`
per run. The runs advance together: one forward pass per epoch serves them all, and
each method's rule updates all of its runs in one call.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from . import _kernel
from .landscape import Landscape
from .optimizers import SEED_METHODS, Optimizer, get_optimizer

SEED_START = (-9.0, 15.0)
"""The original notebook's starting point ``(w_a, w_b)``."""
SEED_LR = 10.0
"""The original notebook's learning rate, the same for all five methods."""
SEED_EPOCHS = 1000
"""The original notebook's number of full-batch updates."""


class DivergenceError(FloatingPointError):
    """A run's weights overflowed to infinity or NaN.

    Raised by :func:`train` (with ``on_divergence="raise"``, the default); the message
    names the method, the learning rate, the start and the epoch. A subclass of
    ``FloatingPointError``, so ``except FloatingPointError`` catches it too.
    """


@dataclasses.dataclass(frozen=True)
class Trajectory:
    r"""One run of :func:`train`: the watched weights after every update and the cost at each.

    Each argument is kept as the attribute of the same name. :func:`train` builds
    trajectories; there is rarely a reason to build one yourself.

    Args:
        method: The method's name, e.g. ``"Adam"``.
        lr: The learning rate :math:`\eta`, a float.
        start: The starting point :math:`w_0 = (w_a, w_b)`, a pair of floats.
        hyperparameters: The hyperparameters the run used (the method's defaults with any
            overrides), by name; empty for SGD, e.g. ``{"rho": 0.9}`` for momentum.
        weights: Array of shape ``(epochs + 1, 2)``. Row :math:`t` is
            :math:`w_t = (w_a, w_b)` after update :math:`t`; row 0 is the start.
        costs: Array of shape ``(epochs + 1,)``. ``costs[t]`` is the cost
            :math:`C(w_t)` at ``weights[t]``, so the two are paired. The original
            notebook records them shifted by one (see :meth:`seed_record`).
        diverged_at: The first row whose weights are not finite, or None. From that row
            on, ``weights`` and ``costs`` are NaN.

    Example:
        >>> from losslandscape.data import bundled_path
        >>> (run,) = train(Landscape(100, data=bundled_path()), ["SGD"], epochs=1000)
        >>> run.method, run.lr, run.start, run.epochs
        ('SGD', 10.0, (-9.0, 15.0), 1000)
        >>> run.weights.shape, run.costs.shape
        ((1001, 2), (1001,))
        >>> run.weights[-1].round(3), round(float(run.costs[-1]), 4)
        (array([-1.557,  6.691]), 4.7656)
    """

    method: str
    lr: float
    start: tuple[float, float]
    hyperparameters: Mapping[str, float]
    weights: np.ndarray
    costs: np.ndarray
    diverged_at: int | None = None

    @property
    def epochs(self) -> int:
        """The number of updates, ``len(weights) - 1``."""
        return len(self.weights) - 1

    def seed_record(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""The run as the original notebook records it, shifted by one.

        The original notebook appends the weights after update :math:`t` but the cost
        it computed before that update, at :math:`w_{t-1}`. So its ``cost[i]`` is
        :math:`C(w_i)` while its ``w_a[i]`` and ``w_b[i]`` are :math:`w_{i+1}`;
        neither the start's weights nor the last cost :math:`C(w_T)` appear.

        Returns:
            The tuple ``(w_a, w_b, cost)`` of arrays of shape ``(epochs,)``, that is
            ``weights[1:, 0]``, ``weights[1:, 1]`` and ``costs[:-1]``.

        Keras's ``History`` and the usual PyTorch loop (``loss.backward()``,
        ``optimizer.step()``, then ``loss.item()`` recorded) record the same way: the
        loss of the batch before its update, which with one full batch per epoch is this.

        Example:
            >>> from losslandscape.data import bundled_path
            >>> (run,) = train(Landscape(100, data=bundled_path()), ["SGD"], epochs=3)
            >>> w_a, w_b, cost = run.seed_record()
            >>> w_a.shape, cost.shape
            ((3,), (3,))
            >>> bool(cost[0] == run.costs[0]), bool(w_a[0] == run.weights[1, 0])
            (True, True)
        """
        return self.weights[1:, 0], self.weights[1:, 1], self.costs[:-1]


def train(
    landscape: Landscape,
    methods: Iterable[str | Optimizer] = SEED_METHODS,
    *,
    starts: Sequence[Sequence[float]] = (SEED_START,),
    lrs: Sequence[float] = (SEED_LR,),
    epochs: int = SEED_EPOCHS,
    hyperparameters: Mapping[str, Mapping[str, float]] | None = None,
    on_divergence: str = "raise",
) -> list[Trajectory]:
    r"""Train the watched weights with every combination of method, start and learning rate.

    Every run begins at its start :math:`w_0 = (w_a, w_b)` and takes :math:`T` =
    ``epochs`` full-batch steps on the landscape's N images,

    .. math::

        g_t = \tilde\nabla C(w_{t-1}), \qquad
        w_t = \mathrm{step}(w_{t-1}, g_t, \dots), \qquad t = 1, \dots, T,

    where :math:`\tilde\nabla C` is :meth:`Landscape.cost_and_gradient
    <losslandscape.landscape.Landscape.cost_and_gradient>`'s gradient (by default the
    original notebook's, half the true one) and ``step`` is the method's update rule
    with its state starting at zero. When every method is a registered rule, the runs
    go through a compiled loop written from the rules' code; otherwise (with a
    student's step, say, ``dataclasses.replace(OPTIMIZERS["SGD"], step=my_step)``)
    through the same loop in NumPy. Each run records :math:`w_t` and the cost
    :math:`C(w_t)` for :math:`t = 0, \dots, T`.

    Args:
        landscape: The :class:`~losslandscape.landscape.Landscape` to descend: the
            frozen network and its N images.
        methods: Registered method names (see
            :data:`~losslandscape.optimizers.OPTIMIZERS`) or
            :class:`~losslandscape.optimizers.Optimizer` objects. Defaults to the
            original notebook's five, SGD, SGD-Momentum, Nesterov-SGD, RMSProp and Adam.
        starts: Starting points ``(w_a, w_b)``, each a pair of finite numbers.
            Defaults to the original notebook's ``[(-9, 15)]``.
        lrs: Learning rates :math:`\eta`, each a positive finite number. Defaults to
            the original notebook's ``[10]``.
        epochs: The number of full-batch updates :math:`T`, an integer >= 1.
            Defaults to the original notebook's 1000.
        hyperparameters: Per method name, values that replace its defaults, e.g.
            ``{"Adam": {"beta1": 0.8}}``; a method not named keeps its defaults.
        on_divergence: ``"raise"`` (the default) a :class:`DivergenceError` when a
            run's weights overflow, or ``"keep"`` the run with ``diverged_at`` set
            and NaN from there on.

    Returns:
        A list with one :class:`Trajectory` per run, ordered by method, then start,
        then learning rate; each has ``weights`` of shape ``(epochs + 1, 2)`` and
        ``costs`` of shape ``(epochs + 1,)``.

    Raises:
        ValueError: If a method is not registered
            (``unknown optimizer ...; allowed: ...``) or ``methods`` is empty
            (``methods is empty; give at least one optimizer``).
        ValueError: If a start is not a pair of finite numbers
            (``start must be a pair of numbers (w_a, w_b), got ...``,
            ``start must be finite, got ...``).
        ValueError: If a learning rate is not a positive finite number
            (``lr must be a positive finite number, got ...``), or ``starts`` or ``lrs``
            is empty (``starts and lrs must each hold at least one value``).
        ValueError: If ``epochs`` is not an integer >= 1
            (``epochs must be an integer >= 1, got ...``) or ``on_divergence`` is neither
            value (``on_divergence must be 'raise' or 'keep', got ...``).
        ValueError: If ``hyperparameters`` names a method that is not trained
            (``hyperparameters given for ..., which is not among the methods trained: ...``),
            a hyperparameter the method lacks
            (``SGD has no hyperparameter rho; allowed: none ...``) or a value outside its
            range (``Adam: beta1 must be a number in [0, 1), got 1.5``).
        ValueError: If an update rule returns weights of another shape
            (``SGD: the update rule returned weights of shape (), expected (1, 2)``).
        DivergenceError: If a run's weights overflow and ``on_divergence="raise"``.

    PyTorch's, Keras's and optax's loops take a step per mini-batch; here every epoch
    is one step on all N images, as in the original notebook.

    Example:
        >>> from losslandscape.data import bundled_path
        >>> landscape = Landscape(100, data=bundled_path())
        >>> runs = train(landscape, ["SGD", "Adam"], starts=[(-9, 15), (2, 5)],
        ...              lrs=[1.0, 10.0], epochs=50, hyperparameters={"Adam": {"beta1": 0.8}})
        >>> [(run.method, run.start, run.lr) for run in runs[:3]]
        [('SGD', (-9.0, 15.0), 1.0), ('SGD', (-9.0, 15.0), 10.0), ('SGD', (2.0, 5.0), 1.0)]
        >>> runs[-1].weights.shape, runs[-1].hyperparameters
        ((51, 2), {'beta1': 0.8, 'beta2': 0.999, 'eps': 0.1})
    """
    optimizers = [get_optimizer(method) for method in methods]
    if not optimizers:
        raise ValueError("methods is empty; give at least one optimizer")
    starts = [_check_start(start) for start in starts]
    lrs = [_check_lr(lr) for lr in lrs]
    if not starts or not lrs:
        raise ValueError("starts and lrs must each hold at least one value")
    if isinstance(epochs, bool) or not isinstance(epochs, int | np.integer) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if on_divergence not in ("raise", "keep"):
        raise ValueError(f"on_divergence must be 'raise' or 'keep', got {on_divergence!r}")
    overrides = dict(hyperparameters or {})
    unknown = set(overrides) - {opt.name for opt in optimizers}
    if unknown:
        raise ValueError(
            f"hyperparameters given for {', '.join(sorted(unknown))}, which is not among "
            f"the methods trained: {', '.join(opt.name for opt in optimizers)}"
        )

    per_method = len(starts) * len(lrs)
    groups = [
        _Group(
            opt,
            slice(i * per_method, (i + 1) * per_method),
            lrs[0] if len(lrs) == 1 else np.tile(lrs, len(starts))[:, None],
            opt.hyperparameters(**overrides.get(opt.name, {})),
        )
        for i, opt in enumerate(optimizers)
    ]
    starts_per_run = np.array([start for _ in optimizers for start in starts for _ in lrs])
    if all(_kernel.loop_for(opt) is not None for opt in optimizers):
        history, costs = _train_compiled(landscape, groups, starts_per_run, lrs, epochs)
    else:
        history, costs = _train_numpy(landscape, groups, starts_per_run, epochs)

    trajectories = []
    runs = itertools.product(groups, starts, lrs)
    for run, (group, start, lr) in enumerate(runs):
        finite = np.isfinite(history[:, run]).all(axis=1)
        diverged_at = None if finite.all() else int(np.argmin(finite))
        if diverged_at is not None:
            if on_divergence == "raise":
                raise DivergenceError(
                    f"{group.optimizer.name} with lr={lr} from start {start} diverged: its "
                    f"weights overflowed at epoch {diverged_at}; use a smaller learning "
                    f"rate, or on_divergence='keep' to keep the run"
                )
            history[diverged_at:, run] = costs[diverged_at:, run] = np.nan
        trajectories.append(
            Trajectory(
                group.optimizer.name,
                lr,
                start,
                group.hyperparameters,
                history[:, run].copy(),
                costs[:, run].copy(),
                diverged_at,
            )
        )
    return trajectories


def _train_compiled(landscape, groups, starts_per_run, lrs, epochs):
    """Each method's runs through the compiled loop written for its rule."""
    history = np.empty((epochs + 1, len(starts_per_run), 2))
    costs = np.empty((epochs + 1, len(starts_per_run)))
    for group in groups:
        runs = starts_per_run[group.runs]
        history[:, group.runs], costs[:, group.runs] = _kernel.loop_for(group.optimizer)(
            runs,
            np.tile(lrs, len(runs) // len(lrs)),
            np.tile(np.array(group.hyper_args, dtype=float), (len(runs), 1)),
            int(epochs),
            landscape.coef_a,
            landscape.coef_b,
            landscape.base,
            landscape.target,
            landscape.rest,
            landscape.gradient_factor,
        )
    return history, costs


def _train_numpy(landscape, groups, starts_per_run, epochs):
    """The same loop as the compiled kernel, for any update rule with the rules' signature."""
    weights = starts_per_run.copy()
    history = np.empty((epochs + 1, len(weights), 2))
    costs = np.empty((epochs + 1, len(weights)))
    history[0] = weights
    # Saturated sigmoids overflow exp harmlessly; a run that truly diverges is
    # caught from its recorded weights.
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, epochs + 1):
            costs[t - 1], grad = landscape.cost_and_gradient(weights)
            for group in groups:
                weights[group.runs] = group.advance(weights[group.runs], grad[group.runs], t)
            history[t] = weights
        costs[epochs] = landscape.cost_and_gradient(weights)[0]
    return history, costs


class _Group:
    """The runs of one method: their rule, learning rates and optimizer state."""

    def __init__(self, optimizer: Optimizer, runs: slice, lr, hyperparameters):
        self.optimizer = optimizer
        self.runs = runs
        self.lr = lr
        self.hyperparameters = hyperparameters
        self.hyper_args = tuple(hyperparameters.values())
        self.state = tuple(np.zeros((runs.stop - runs.start, 2)) for _ in optimizer.state)

    def advance(self, weights: np.ndarray, grad: np.ndarray, t: int) -> np.ndarray:
        step_count = (t,) if self.optimizer.counts_steps else ()
        result = self.optimizer.step(
            weights, grad, *self.state, *step_count, self.lr, *self.hyper_args
        )
        if self.state:
            new_weights, *state = result
            self.state = tuple(state)
        else:
            new_weights = result
        if np.shape(new_weights) != weights.shape:
            raise ValueError(
                f"{self.optimizer.name}: the update rule returned weights of shape "
                f"{np.shape(new_weights)}, expected {weights.shape}"
            )
        return new_weights


def _check_start(start) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in start)
    except (TypeError, ValueError):
        raise ValueError(f"start must be a pair of numbers (w_a, w_b), got {start!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"start must be finite, got {start!r}")
    return a, b


def _check_lr(lr) -> float:
    try:
        value = float(lr)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(lr, bool) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    return value
