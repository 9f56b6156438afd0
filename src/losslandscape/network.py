r"""The original notebook's 784-50-500-10 sigmoid network, its cost and its output-layer gradient.

The weights come from NumPy's legacy generator exactly as the original notebook draws them:
``np.random.seed(seed)`` then ``randn(50, 784)``, ``randn(500, 50)`` and
``randn(10, 500)``. :class:`numpy.random.RandomState` gives the same numbers
without touching the global generator. There are no biases.

The cost is the original notebook's: for each image the squared error summed over the ten
outputs, then the mean over images,

.. math:: C = \frac{1}{N} \sum_{n=1}^{N} \sum_{k=0}^{9} \bigl(y_{kn} - \hat y_{kn}\bigr)^2 .
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.special import expit

LAYER_SIZES = (784, 50, 500, 10)
SEED = 135

SEED_GRADIENT_FACTOR = 1.0
"""The original notebook's gradient omits the factor 2 of the squared error; the textbook
gradient of :func:`cost` is ``2.0`` times the original notebook's. Every update rule here is
linear in the gradient apart from RMSProp's and Adam's ``eps``, so the factor
acts as a learning-rate scale for SGD and the momentum methods."""


def init_weights(seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The original notebook's weight matrices ``(w0, w1, w2)``.

    Their shapes are (50, 784), (500, 50) and (10, 500), drawn in that order.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    rng = np.random.RandomState(seed)
    return tuple(rng.randn(n_out, n_in) for n_in, n_out in itertools.pairwise(LAYER_SIZES))


def hidden_activations(w0: np.ndarray, w1: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Output of the second hidden layer, ``(500, n)``, for images ``(n, 784)``."""
    return expit(w1 @ expit(w0 @ images.T))


def forward(weights, images: np.ndarray) -> np.ndarray:
    """The network's output, ``(10, n)``: the original notebook's ``pred``."""
    w0, w1, w2 = weights
    return expit(w2 @ hidden_activations(w0, w1, images))


def cost(pred: np.ndarray, onehot: np.ndarray) -> float:
    """The original notebook's cost for outputs ``pred`` (10, n) and targets ``onehot`` (n, 10)."""
    return float(np.mean(np.sum((onehot.T - pred) ** 2, axis=0)))


def output_gradient(
    a1: np.ndarray, onehot: np.ndarray, pred: np.ndarray, factor: float = SEED_GRADIENT_FACTOR
) -> np.ndarray:
    """Gradient of the cost with respect to the output weights, ``(10, 500)``.

    With the default ``factor=1.0`` this is the original notebook's expression, which lacks
    the factor 2 of the squared error; pass ``factor=2.0`` for the true gradient.
    """
    return factor * ((pred - onehot.T) * pred * (1 - pred) @ a1.T / len(onehot))
