"""The seed notebook's numbers in one call: its two loss grids and five trajectories."""

from __future__ import annotations

import os

import numpy as np

from .data import load_mnist
from .landscape import SEED_W_A, SEED_W_B, Landscape, check_n_samples
from .network import SEED
from .optimizers import SEED_METHODS
from .training import SEED_EPOCHS, SEED_LR, SEED_START, train


def reproduce(
    seed: int = SEED,
    lr: float = SEED_LR,
    start: tuple[float, float] = SEED_START,
    epochs: int = SEED_EPOCHS,
    train_n: int = 100,
    grid_ns: tuple[int, ...] = (100, 1000),
    data: str | os.PathLike | None = None,
) -> dict[str, np.ndarray]:
    """Everything the seed computes, keyed as the seed names it.

    Returns:
        ``m1s`` and ``m2s``, the seed's grid axes; ``Z_<n>`` for each n in
        ``grid_ns``, shape ``(len(m2s), len(m1s))``; and for each of the seed's
        methods ``<name>_w250``, ``<name>_w251`` and ``<name>_cost``, recorded as
        the seed records them: the weights after each update, the cost computed
        before it (see :meth:`~losslandscape.training.Trajectory.seed_record`).
    """
    mnist = load_mnist(data)
    check_n_samples("train_n", train_n, len(mnist))
    if not grid_ns:
        raise ValueError("grid_ns is empty; give at least one image count for a loss grid")
    for n in grid_ns:
        check_n_samples("grid_ns", n, len(mnist))
    landscapes = {n: Landscape(n, seed=seed, data=mnist) for n in {*grid_ns, train_n}}
    results = {"m1s": SEED_W_A.copy(), "m2s": SEED_W_B.copy()}
    for n in grid_ns:
        results[f"Z_{n}"] = landscapes[n].grid(SEED_W_A, SEED_W_B)
    runs = train(landscapes[train_n], SEED_METHODS, starts=[start], lrs=[lr], epochs=epochs)
    for run in runs:
        w_a, w_b, cost = run.seed_record()
        results[f"{run.method}_w250"] = w_a
        results[f"{run.method}_w251"] = w_b
        results[f"{run.method}_cost"] = cost
    return results
