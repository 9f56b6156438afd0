"""The original notebook's numbers in one call: its two loss grids and five trajectories."""

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
    """Everything the original notebook computes, keyed as it names them.

    With the defaults, as in the original notebook: the cost over the 40 x 40 grid
    :data:`~losslandscape.landscape.SEED_W_A` x :data:`~losslandscape.landscape.SEED_W_B`
    for N = 100 and N = 1000 images, and the five methods
    (:data:`~losslandscape.optimizers.SEED_METHODS`, with their default
    hyperparameters) trained on N = 100 images from (-9, 15) with learning rate 10 for
    1000 epochs, with the original notebook's gradient (``gradient_factor=1.0``).

    Args:
        seed: The random seed the network's weights are drawn with, default the
            original notebook's 135.
        lr: The learning rate of every method, a positive finite number, default 10.
        start: The starting point ``(w_a, w_b)``, default ``(-9, 15)``.
        epochs: The number of full-batch updates, an integer >= 1, default 1000.
        train_n: N, the number of images the methods train on, default 100.
        grid_ns: The numbers of images to draw a loss grid for, default ``(100, 1000)``.
        data: An npz path for :func:`~losslandscape.data.load_mnist`, or None (the
            default) for its default sources.

    Returns:
        A dict of float64 arrays, with ``m1s`` and ``m2s``, the grid's axes, shape ``(40,)``;
        ``Z_<n>`` for each n in ``grid_ns``, the cost over the grid, shape
        ``(len(m2s), len(m1s))``; and for each method ``<name>_w250``, ``<name>_w251``
        and ``<name>_cost``, shape ``(epochs,)``, recorded as the original notebook
        records them: the weights after each update but the cost computed before it
        (see :meth:`~losslandscape.training.Trajectory.seed_record`).

    Raises:
        ValueError: If ``train_n`` or an entry of ``grid_ns`` is not an integer
            (``train_n must be an integer, got ...``) or out of range
            (``train_n=0 is out of range: the loaded data holds 6,309 images, so ...``,
            ``grid_ns=7000 is out of range: ...``).
        ValueError: If ``grid_ns`` is empty
            (``grid_ns is empty; give at least one image count for a loss grid``).
        ValueError: If ``seed``, ``lr``, ``start`` or ``epochs`` is not allowed, with the
            messages of :class:`~losslandscape.landscape.Landscape` and
            :func:`~losslandscape.training.train`.
        ~losslandscape.training.DivergenceError: If a method's weights overflow (for a
            huge ``lr``).
        FileNotFoundError: If ``data`` names no file; see
            :func:`~losslandscape.data.load_mnist` for the data's other errors.

    Example:
        >>> from losslandscape.data import bundled_path
        >>> results = reproduce(data=bundled_path())
        >>> results["Z_100"].shape, results["Z_1000"].shape, results["Adam_w250"].shape
        ((40, 40), (40, 40), (1000,))
        >>> [key for key in results if key.startswith("SGD_")]
        ['SGD_w250', 'SGD_w251', 'SGD_cost']
        >>> round(float(results["SGD_w250"][-1]), 3), round(float(results["SGD_cost"][0]), 4)
        (-1.557, 4.8007)
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
