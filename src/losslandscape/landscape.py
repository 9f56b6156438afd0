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
"""The original notebook's watched weights ``w2[5][250]`` and ``w2[5][251]``.

Each is an ``(output, hidden unit)`` pair: both weights connect hidden units 250 and 251
of the second hidden layer to output 5, the digit 5's unit.
"""

SEED_W_A = np.linspace(-15, 17, 40)
"""The original notebook's grid over the first watched weight (its ``m1s``).

40 points from -15 to 17, ``np.linspace(-15, 17, 40)``.
"""
SEED_W_B = np.linspace(-15, 18, 40)
"""The original notebook's grid over the second watched weight (its ``m2s``).

40 points from -15 to 18, ``np.linspace(-15, 18, 40)``.
"""

_BLOCK_ELEMENTS = 1 << 16  # one block of grid points x images, sized to stay in cache
_MAX_EXPONENT = 700.0  # exp overflows float64 past 709.78
_PARALLEL_ELEMENTS = 1 << 22  # below this, threads cost more than they save


class Landscape:
    r"""The original notebook's network with everything frozen but two output-layer weights.

    The network is 784-50-500-10, sigmoid units without biases, its weights drawn with
    the random ``seed``. Let :math:`h_n` be the second hidden layer's activations for
    image :math:`n`, :math:`W` the output layer's weights, of which
    :math:`a = W_{k_a j_a}` and :math:`b = W_{k_b j_b}` are watched, and :math:`y_n` the
    image's label one-hot. The cost is the squared error summed over the ten outputs,
    averaged over the first N images:

    .. math::

        C(a, b) = \frac{1}{N} \sum_{n=1}^{N} \sum_{k=0}^{9}
            \bigl(\sigma(z_{kn}) - y_{kn}\bigr)^2,
        \qquad z_{kn} = \sum_{j} W_{kj}\, h_{jn},
        \qquad \sigma(z) = \frac{1}{1 + e^{-z}}.

    Its true gradient is

    .. math::

        \frac{\partial C}{\partial a} = \frac{2}{N} \sum_{n=1}^{N} \delta_{k_a n}\, h_{j_a n},
        \qquad
        \delta_{kn} = \bigl(\sigma(z_{kn}) - y_{kn}\bigr)\, \sigma(z_{kn})
            \bigl(1 - \sigma(z_{kn})\bigr),

    and likewise for :math:`b`. The original notebook's gradient lacks the factor 2;
    :meth:`cost_and_gradient` returns :math:`\gamma / 2` times the true gradient, with
    :math:`\gamma` = ``gradient_factor``, 1.0 by default as in the original notebook.
    Automatic differentiation of :math:`C` (PyTorch's ``backward``, ``jax.grad``) gives
    the true one, :math:`\gamma = 2`. PyTorch's ``nn.MSELoss()`` averages over all
    :math:`10 N` outputs, so it is :math:`C / 10`.

    Only the output layer depends on :math:`a` and :math:`b`, so the hidden activations
    are computed once, here, and every later cost is cheap.

    Args:
        n_samples: N, how many training images the cost averages over: the first
            ``n_samples`` of the data, an integer with 1 <= N <= ``len(data)``. The
            original notebook trains on N = 100 and draws the landscape for N = 100 and
            N = 1000.
        seed: The random seed the weights are drawn with (NumPy's legacy
            ``np.random.seed``, then ``randn`` per layer), an integer in [0, 2**32).
            Defaults to the original notebook's 135.
        data: An :class:`~losslandscape.data.MNIST`, a path to an npz in keras's layout,
            or None (the default) for :func:`~losslandscape.data.load_mnist`'s default
            sources.
        watched: The two watched weights :math:`(k_a, j_a)` and :math:`(k_b, j_b)` as
            ``(output, hidden unit)`` pairs, any two distinct output-layer weights.
            Defaults to the original notebook's, :data:`WATCHED`.
        gradient_factor: :math:`\gamma`, a positive finite number multiplying the
            original notebook's gradient: 1.0 (the default) is the original notebook's,
            which lacks the factor 2 of the squared error, 2.0 the true gradient.

    Raises:
        ValueError: If ``n_samples`` is not an integer
            (``n_samples must be an integer, got ...``) or out of range
            (``n_samples=0 is out of range: the loaded data holds 6,309 images, so ...``).
        ValueError: If ``watched`` is not two distinct pairs in range
            (``watched=... is not two distinct (output, hidden unit) pairs with ...``).
        ValueError: If ``gradient_factor`` is not a positive finite number
            (``gradient_factor must be a positive finite number, got ...``).
        ValueError: If ``seed`` is not an integer in [0, 2**32)
            (``seed must be an integer in [0, 2**32), got ...``).
        FileNotFoundError: If ``data`` is a path to no file; see
            :func:`~losslandscape.data.load_mnist` for the data's other errors.

    Example:
        >>> from losslandscape.data import bundled_path
        >>> landscape = Landscape(100, data=bundled_path())
        >>> round(float(landscape.cost(-9.0, 15.0)), 4)
        4.8007
        >>> landscape.grid(SEED_W_A, SEED_W_B).shape
        (40, 40)

        The bundled subset holds the first 6,309 training images of MNIST, so for
        N <= 6,309 ``Landscape(N)`` gives the same numbers from keras's full set.
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
        """N, the number of images the cost averages over."""
        self.seed = seed
        """The random seed the weights were drawn with."""
        self.watched = _check_watched(watched)
        """The watched weights as ``((k_a, j_a), (k_b, j_b))``, ``(output, hidden unit)``."""
        self.gradient_factor = _check_positive("gradient_factor", gradient_factor)
        """The factor on the original notebook's gradient (1.0 its own, 2.0 the true one)."""
        self.data_source = mnist.source
        """Where the images came from, the ``source`` of the data's ``MNIST``."""

        w2 = init_weights(seed)[2].copy()
        (k_a, j_a), (k_b, j_b) = self.watched
        self.initial_weights = (float(w2[k_a, j_a]), float(w2[k_b, j_b]))
        """The watched weights ``(a, b)`` as drawn; training starts elsewhere (``starts``)."""
        w2[k_a, j_a] = w2[k_b, j_b] = 0.0
        a1 = _hidden(mnist, seed, self.n_samples)
        targets = mnist.onehot[: self.n_samples].T

        outputs = sorted({k_a, k_b})
        others = [k for k in range(LAYER_SIZES[-1]) if k not in outputs]
        other_errors = (targets[others] - expit(w2[others] @ a1)) ** 2
        self.rest = float(np.mean(np.sum(other_errors, axis=0)))
        """Mean over images of the squared error of the outputs the watched weights do not feed."""

        self.base = w2[outputs] @ a1
        r"""The pre-activations :math:`\beta` of the outputs the watched weights feed.

        Shape ``(m, N)``, with both watched weights set to 0; m is 1 when both feed the
        same output (as in the original notebook), else 2, in increasing output order.
        """
        self.coef_a = np.where(np.array(outputs)[:, None] == k_a, a1[j_a], 0.0)
        r"""What :math:`a` multiplies in those pre-activations, shape ``(m, N)``.

        :math:`h_{j_a n}` in the row of output :math:`k_a`, 0 in the other row.
        """
        self.coef_b = np.where(np.array(outputs)[:, None] == k_b, a1[j_b], 0.0)
        r"""What :math:`b` multiplies in those pre-activations, shape ``(m, N)``."""
        self.target = targets[outputs]
        """The one-hot targets of those outputs, shape ``(m, N)``."""

    def cost(self, w_a, w_b) -> np.ndarray:
        """The cost :math:`C(w_a, w_b)` at one point or many.

        Args:
            w_a: The first watched weight, a number or an array of any shape.
            w_b: The second watched weight, a number or an array that broadcasts
                against ``w_a``.

        Returns:
            The cost, a float64 array of the shape ``w_a`` and ``w_b`` broadcast to
            (0-d for two numbers).

        Raises:
            ValueError: If ``w_a`` and ``w_b`` do not broadcast against each other.

        Example:
            >>> from losslandscape.data import bundled_path
            >>> landscape = Landscape(100, data=bundled_path())
            >>> landscape.cost([-9.0, 0.0, 9.0], 15.0).round(4)
            array([4.8007, 4.7845, 4.7839])
        """
        w_a, w_b = np.broadcast_arrays(np.asarray(w_a, float), np.asarray(w_b, float))
        weights = np.stack([w_a.ravel(), w_b.ravel()], axis=1)
        return self.cost_and_gradient(weights)[0].reshape(w_a.shape)

    def cost_and_gradient(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""The cost and the original notebook's gradient at r points at once.

        This is what :func:`~losslandscape.training.train` calls, once per epoch, for
        all its runs together.

        Args:
            weights: The points, a float array of shape ``(r, 2)`` whose row ``i`` is
                ``(w_a, w_b)``.

        Returns:
            The tuple ``(costs, gradient)``, with ``costs`` of shape ``(r,)``, the cost
            :math:`C` at each point, and ``gradient`` of shape ``(r, 2)``,
            :math:`\frac{\gamma}{2} \nabla C` there, with :math:`\gamma` =
            ``gradient_factor``. By default that is the original notebook's gradient,
            half the true one.

        Example:
            >>> from losslandscape.data import bundled_path
            >>> landscape = Landscape(100, data=bundled_path())
            >>> costs, gradient = landscape.cost_and_gradient(np.array([[-9.0, 15.0]]))
            >>> costs.round(4), gradient.round(6)
            (array([4.8007]), array([[-0.000723,  0.001061]]))

            The true gradient is twice that; a central difference agrees:

            >>> true = Landscape(100, data=bundled_path(), gradient_factor=2.0)
            >>> true.cost_and_gradient(np.array([[-9.0, 15.0]]))[1].round(6)
            array([[-0.001445,  0.002122]])
            >>> h = 1e-6
            >>> round(float(landscape.cost(-9 + h, 15) - landscape.cost(-9 - h, 15)) / (2 * h), 6)
            -0.001445
        """
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
        """The cost over a grid of the two watched weights.

        Equal to :meth:`cost` on ``np.meshgrid(w_a_values, w_b_values)`` up to rounding,
        but computed without an exponential per point (see the module's notes), in
        blocks of about 64k point-image pairs on all cores, so memory stays bounded.

        Args:
            w_a_values: The grid's values of :math:`w_a`, a non-empty 1-D sequence of
                finite, strictly increasing numbers (the original notebook's ``m1s`` is
                :data:`SEED_W_A`).
            w_b_values: The grid's values of :math:`w_b`, likewise (its ``m2s`` is
                :data:`SEED_W_B`).

        Returns:
            A float64 array of shape ``(len(w_b_values), len(w_a_values))`` whose
            ``[j, i]`` is the cost at ``(w_a_values[i], w_b_values[j])``. Rows follow
            ``w_b`` and columns ``w_a``, as the original notebook's
            ``np.meshgrid(m1s, m2s)``, so ``plt.contour(m1s, m2s, Z)`` and
            ``go.Contour(x=m1s, y=m2s, z=Z)`` draw it the right way round.

        Raises:
            ValueError: If an axis is not a sequence of numbers
                (``w_a_values must be a 1-D sequence of numbers, got ...``), is empty or
                not 1-D (``w_a_values must be a non-empty 1-D sequence, got shape ...``),
                holds NaN or infinity (``w_a_values must hold finite numbers only``) or
                is not strictly increasing (``w_a_values must be strictly increasing``);
                the messages name the axis, ``w_a_values`` or ``w_b_values``.

        Example:
            >>> from losslandscape.data import bundled_path
            >>> landscape = Landscape(100, data=bundled_path())
            >>> landscape.grid([-9.0, 0.0, 9.0], [15.0, 16.0]).round(4)
            array([[4.8007, 4.7845, 4.7839],
                   [4.8022, 4.7861, 4.7865]])
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
    """The original notebook's cost over a grid of the two watched weights, in one call.

    Short for ``Landscape(n_samples, seed=seed, data=data, watched=watched).grid(w_a_values,
    w_b_values)``; build the :class:`Landscape` yourself to draw several grids or to
    train on the same network.

    Args:
        n_samples: N, how many images the cost averages over (the first N), as for
            :class:`Landscape`.
        w_a_values: The grid's values of :math:`w_a`, a non-empty, strictly increasing
            1-D sequence of finite numbers, e.g. :data:`SEED_W_A`.
        w_b_values: The grid's values of :math:`w_b`, likewise, e.g. :data:`SEED_W_B`.
        seed: The random seed of the weights, default the original notebook's 135.
        data: An :class:`~losslandscape.data.MNIST`, an npz path or None, as for
            :class:`Landscape`.
        watched: The two watched weights, default :data:`WATCHED`.

    Returns:
        A float64 array of shape ``(len(w_b_values), len(w_a_values))``, oriented like the
        original notebook's ``Z = zs.reshape(np.meshgrid(m1s, m2s)[0].shape)``: rows
        follow ``w_b``, columns ``w_a``.

    Raises:
        ValueError: With the messages of :class:`Landscape` (for ``n_samples``, ``seed``
            or ``watched``) and :meth:`Landscape.grid` (for the axes).

    Example:
        >>> from losslandscape.data import bundled_path
        >>> Z = loss_grid(100, SEED_W_A, SEED_W_B, data=bundled_path())
        >>> Z.shape, round(float(Z.min()), 4), round(float(Z.max()), 4)
        ((40, 40), 4.7513, 4.8121)
    """
    return Landscape(n_samples, seed=seed, data=data, watched=watched).grid(w_a_values, w_b_values)


@functools.lru_cache(maxsize=8)
def _hidden(mnist: MNIST, seed: int, n_samples: int) -> np.ndarray:
    # Computed for exactly the first n images, as the original notebook does, and kept.
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
