r"""The cost as a function of two watched output-layer weights, all others frozen.

Only the output layer depends on the watched weights, so the hidden activations
are computed once and the cost at any pair :math:`(a, b)` needs just the
pre-activation of the output unit(s) they feed:

.. math:: z_n = \beta_n + a\, h_{j_a n} + b\, h_{j_b n},

where :math:`\beta_n` is the unit's input with both watched weights set to 0.
For a target :math:`y \in \{0, 1\}` the squared error is
:math:`\sigma(s_n z_n)^2` with :math:`s_n = 1 - 2 y_n`, and
:math:`e^{-s z}` factorises into a part that depends on :math:`a` and a part
that depends on :math:`b`. A whole grid then costs one multiplication, one
addition and one reciprocal per point and image, and no exponential.
"""

from __future__ import annotations

import concurrent.futures
import functools
import math
import os

import numpy as np
from scipy.special import expit

from .data import MNIST, load_mnist
from .network import LAYER_SIZES, SEED, SEED_GRADIENT_FACTOR, hidden_activations, init_weights

WATCHED = ((5, 250), (5, 251))
"""The seed's watched weights: ``w2[5][250]`` and ``w2[5][251]`` as (output, hidden unit)."""

SEED_W_A = np.linspace(-15, 17, 40)
"""The seed's grid over the first watched weight (``m1s``)."""
SEED_W_B = np.linspace(-15, 18, 40)
"""The seed's grid over the second watched weight (``m2s``)."""

_BLOCK_ELEMENTS = 1 << 16  # one block of grid points x images, sized to stay in cache
_MAX_EXPONENT = 700.0  # exp overflows float64 past 709.78
_PARALLEL_ELEMENTS = 1 << 22  # below this, threads cost more than they save


class Landscape:
    """The seed's network with everything frozen but two output-layer weights.

    Args:
        n_samples: how many training images (the first ``n_samples``) the cost
            averages over, between 1 and ``len(data)``.
        seed: the seed of the weights.
        data: an :class:`~losslandscape.data.MNIST`, a path to an npz in
            keras's layout, or None for :func:`~losslandscape.data.load_mnist`.
        watched: the two watched weights as ``(output, hidden unit)`` pairs;
            any two distinct output-layer weights.
        gradient_factor: multiplies the seed's gradient; 1.0 is the seed's
            (which lacks the factor 2 of the squared error), 2.0 the true one.
    """

    def __init__(
        self,
        n_samples: int,
        *,
        seed: int = SEED,
        data: MNIST | str | os.PathLike | None = None,
        watched=WATCHED,
        gradient_factor: float = SEED_GRADIENT_FACTOR,
    ):
        mnist = data if isinstance(data, MNIST) else load_mnist(data)
        self.n_samples = check_n_samples("n_samples", n_samples, len(mnist))
        self.seed = seed
        self.watched = _check_watched(watched)
        self.gradient_factor = _check_positive("gradient_factor", gradient_factor)
        self.data_source = mnist.source

        w2 = init_weights(seed)[2].copy()
        (k_a, j_a), (k_b, j_b) = self.watched
        self.initial_weights = (float(w2[k_a, j_a]), float(w2[k_b, j_b]))
        w2[k_a, j_a] = w2[k_b, j_b] = 0.0
        a1 = _hidden(mnist, seed, self.n_samples)
        targets = mnist.onehot[: self.n_samples].T

        outputs = sorted({k_a, k_b})
        others = [k for k in range(LAYER_SIZES[-1]) if k not in outputs]
        other_errors = (targets[others] - expit(w2[others] @ a1)) ** 2
        self.rest = float(np.mean(np.sum(other_errors, axis=0)))
        """Mean over images of the squared error of the outputs the watched weights do not feed."""

        self.base = w2[outputs] @ a1
        self.coef_a = np.where(np.array(outputs)[:, None] == k_a, a1[j_a], 0.0)
        self.coef_b = np.where(np.array(outputs)[:, None] == k_b, a1[j_b], 0.0)
        self.target = targets[outputs]

    def cost(self, w_a, w_b) -> np.ndarray:
        """The cost at weights ``w_a``, ``w_b`` (broadcast against each other)."""
        w_a, w_b = np.broadcast_arrays(np.asarray(w_a, float), np.asarray(w_b, float))
        weights = np.stack([w_a.ravel(), w_b.ravel()], axis=1)
        return self.cost_and_gradient(weights)[0].reshape(w_a.shape)

    def cost_and_gradient(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cost ``(r,)`` and the seed's gradient ``(r, 2)`` at ``weights`` ``(r, 2)``."""
        z = weights[:, 0, None, None] * self.coef_a + weights[:, 1, None, None] * self.coef_b
        z += self.base
        pred = expit(z)
        error = pred - self.target
        delta = error * pred * (1 - pred)
        costs = self.rest + np.einsum("rkn,rkn->r", error, error) / self.n_samples
        grad = np.stack(
            [
                np.einsum("rkn,kn->r", delta, self.coef_a),
                np.einsum("rkn,kn->r", delta, self.coef_b),
            ],
            axis=1,
        )
        return costs, self.gradient_factor * (grad / self.n_samples)

    def grid(self, w_a_values, w_b_values) -> np.ndarray:
        """The cost over a grid, shape ``(len(w_b_values), len(w_a_values))``.

        The orientation is the seed's ``np.meshgrid(m1s, m2s)``: rows follow
        ``w_b``, columns ``w_a``. Memory stays bounded: the grid is computed
        in blocks of about 64k point-image pairs, on all cores.
        """
        w_a = _check_axis("w_a_values", w_a_values)
        w_b = _check_axis("w_b_values", w_b_values)
        total = np.full((len(w_b), len(w_a)), self.rest)
        for k in range(len(self.target)):
            total += self._grid_term(k, w_a, w_b) / self.n_samples
        return total

    def _grid_term(self, k: int, w_a: np.ndarray, w_b: np.ndarray) -> np.ndarray:
        """Sum over images of output ``k``'s squared error, for every grid point."""
        coef_a, coef_b, base = self.coef_a[k], self.coef_b[k], self.base[k]
        sign = 1 - 2 * self.target[k]
        bound = (
            np.abs(w_a).max() * np.abs(coef_a).max()
            + np.abs(w_b).max() * np.abs(coef_b).max()
            + np.abs(base).max()
        )
        if bound < _MAX_EXPONENT:
            factor_a = np.exp(-sign * (w_a[:, None] * coef_a))
            factor_b = np.exp(-sign * (base + w_b[:, None] * coef_b))

            def block(j, i0, i1):
                u = factor_a[i0:i1] * factor_b[j]
                u += 1
                np.reciprocal(u, out=u)
                return np.einsum("in,in->i", u, u)
        else:  # exponentials could overflow: evaluate the sigmoid directly

            def block(j, i0, i1):
                z = w_a[i0:i1, None] * coef_a + (base + w_b[j] * coef_b)
                error = expit(z) - self.target[k]
                return np.einsum("in,in->i", error, error)

        term = np.empty((len(w_b), len(w_a)))
        step = max(1, _BLOCK_ELEMENTS // self.n_samples)

        def rows(js):
            for j in js:
                for i0 in range(0, len(w_a), step):
                    term[j, i0 : i0 + step] = block(j, i0, i0 + step)

        workers = os.cpu_count() or 1
        if workers == 1 or term.size * self.n_samples < _PARALLEL_ELEMENTS:
            rows(range(len(w_b)))
        else:
            with concurrent.futures.ThreadPoolExecutor(workers) as pool:
                list(pool.map(rows, [range(w, len(w_b), workers) for w in range(workers)]))
        return term


def loss_grid(
    n_samples: int,
    w_a_values,
    w_b_values,
    *,
    seed: int = SEED,
    data: MNIST | str | os.PathLike | None = None,
    watched=WATCHED,
) -> np.ndarray:
    """The seed's cost over a grid of the two watched weights.

    Returns an array of shape ``(len(w_b_values), len(w_a_values))``, oriented
    like the seed's ``Z = zs.reshape(np.meshgrid(m1s, m2s)[0].shape)``.
    """
    return Landscape(n_samples, seed=seed, data=data, watched=watched).grid(w_a_values, w_b_values)


@functools.lru_cache(maxsize=8)
def _hidden(mnist: MNIST, seed: int, n_samples: int) -> np.ndarray:
    # Computed for exactly the first n images, as the seed does, and kept for reuse.
    w0, w1, _ = init_weights(seed)
    a1 = hidden_activations(w0, w1, mnist.images[:n_samples])
    a1.flags.writeable = False
    return a1


def check_n_samples(name: str, n_samples, available: int) -> int:
    """``n_samples`` as an int, or a ValueError naming ``name`` and the allowed range."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {n_samples!r}")
    if not 1 <= n_samples <= available:
        raise ValueError(
            f"{name}={n_samples} is out of range: the loaded data holds "
            f"{available:,} images, so 1 <= {name} <= {available:,}"
        )
    return int(n_samples)


def _check_watched(watched) -> tuple[tuple[int, int], tuple[int, int]]:
    n_outputs, n_hidden = LAYER_SIZES[-1], LAYER_SIZES[-2]
    allowed = (
        f"two distinct (output, hidden unit) pairs with 0 <= output < {n_outputs} "
        f"and 0 <= hidden unit < {n_hidden}"
    )
    try:
        pairs = tuple((int(k), int(j)) for k, j in watched)
    except (TypeError, ValueError):
        raise ValueError(f"watched={watched!r} is not {allowed}") from None
    if (
        len(pairs) != 2
        or pairs[0] == pairs[1]
        or not all(0 <= k < n_outputs and 0 <= j < n_hidden for k, j in pairs)
    ):
        raise ValueError(f"watched={watched!r} is not {allowed}")
    return pairs


def _check_axis(name: str, values) -> np.ndarray:
    try:
        axis = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-D sequence of numbers, got {values!r}") from None
    if axis.ndim != 1 or axis.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {axis.shape}")
    if not np.all(np.isfinite(axis)):
        raise ValueError(f"{name} must hold finite numbers only")
    if axis.size > 1 and not np.all(np.diff(axis) > 0):
        raise ValueError(f"{name} must be strictly increasing")
    return axis


def _check_positive(name: str, value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return number
