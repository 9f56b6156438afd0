"""Train only the two watched weights and record their trajectories.

Many runs (methods x starting points x learning rates) advance together: one
forward pass per epoch serves them all, and each method's rule updates all of
its runs in one call.
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
SEED_LR = 10.0
SEED_EPOCHS = 1000


class DivergenceError(FloatingPointError):
    """A trajectory's weights overflowed to infinity or NaN."""


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """One run: the watched weights after every update and the cost at each.

    ``weights`` is ``(epochs + 1, 2)``: the start, then the weights after each
    update. ``costs[i]`` is the cost at ``weights[i]``, so the two are paired.
    ``diverged_at`` is the first row whose weights are not finite (the rows
    from there on are NaN), or None.
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
        return len(self.weights) - 1

    def seed_record(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(w_a, w_b, cost)`` as the seed records them, each of length ``epochs``.

        The seed appends the weights after update ``i`` but the cost computed
        before it, so its cost at index ``i`` belongs to the weights at ``i - 1``.
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
    """Train the watched weights with every combination of method, start and learning rate.

    Args:
        landscape: the frozen network and data.
        methods: seed names (see :data:`~losslandscape.optimizers.OPTIMIZERS`)
            or :class:`~losslandscape.optimizers.Optimizer` objects.
        starts: starting points ``(w_a, w_b)``.
        lrs: learning rates, each positive and finite.
        epochs: number of full-batch updates, at least 1.
        hyperparameters: per method name, values that replace its defaults,
            e.g. ``{"Adam": {"beta1": 0.8}}``.
        on_divergence: ``"raise"`` a :class:`DivergenceError` when a run's
            weights overflow, or ``"keep"`` it with ``diverged_at`` set.

    Returns:
        One :class:`Trajectory` per run, ordered by method, then start, then
        learning rate.
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
