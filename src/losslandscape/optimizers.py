r"""The five update rules of the seed notebook, as small pure functions.

Each rule takes the weights, the gradient and its state arrays explicitly and
returns new arrays; nothing is mutated. Arrays may have any shape and are
updated elementwise, so one call can advance many runs at once. The signatures
are the ones the assignment asks students to write, so the training loop can
drive a student's rule exactly as it drives these.

The defaults are the seed's values, not the textbook's: ``eps = 0.1`` is added
to the root of the second moment (the usual value is ``1e-8``), and momentum
and Nesterov use the seed's forms (see each docstring).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np

SEED_EPS = 0.1
"""The seed adds 0.1 (not 1e-8) to the root of the second moment, which damps
RMSProp and Adam steps wherever the gradient is small."""


def sgd_step(w, grad, lr):
    r"""Plain gradient descent.

    .. math:: w \leftarrow w - \eta\, g
    """
    return w - lr * grad


def momentum_step(w, grad, velocity, lr, rho):
    r"""Heavy-ball momentum in the seed's (and PyTorch's) form.

    .. math::
        v &\leftarrow \rho\, v + g \\
        w &\leftarrow w - \eta\, v

    The other common form (Keras, Sutskever et al.) keeps ``v = rho*v - lr*g``
    and steps ``w += v``; for a constant learning rate both give the same path.
    """
    velocity = rho * velocity + grad
    return w - lr * velocity, velocity


def nesterov_step(w, grad, velocity, lr, rho):
    r"""Nesterov momentum in the seed's form (Sutskever's velocity, look-ahead step).

    .. math::
        v_\text{old} &\leftarrow v \\
        v &\leftarrow \rho\, v - \eta\, g \\
        w &\leftarrow w + v + \rho\,(v - v_\text{old})

    The gradient is taken at ``w`` itself; the look-ahead is folded into the
    step, as in Bengio et al. (2013). Note the velocity already contains the
    learning rate, unlike :func:`momentum_step`.
    """
    new_velocity = rho * velocity - lr * grad
    return w + new_velocity + rho * (new_velocity - velocity), new_velocity


def rmsprop_step(w, grad, sq_avg, lr, rho, eps):
    r"""RMSProp with ``eps`` added outside the square root.

    .. math::
        s &\leftarrow \rho\, s + (1-\rho)\, g^2 \\
        w &\leftarrow w - \frac{\eta\, g}{\sqrt{s} + \epsilon}
    """
    sq_avg = rho * sq_avg + (1 - rho) * grad * grad
    return w - lr * grad / (np.sqrt(sq_avg) + eps), sq_avg


def adam_step(w, grad, m, v, t, lr, beta1, beta2, eps):
    r"""Adam with bias correction; ``t`` counts steps from 1.

    .. math::
        m &\leftarrow \beta_1 m + (1-\beta_1)\, g \\
        v &\leftarrow \beta_2 v + (1-\beta_2)\, g^2 \\
        w &\leftarrow w - \frac{\eta\, m / (1-\beta_1^t)}{\sqrt{v / (1-\beta_2^t)} + \epsilon}
    """
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


@dataclasses.dataclass(frozen=True)
class Optimizer:
    """An update rule with the names of its state arrays and its default hyperparameters.

    ``step(w, grad, *state, [t,] lr, **hyperparameters)`` returns the new
    weights, followed by the new state arrays when there are any. State arrays
    start at zero. Use :func:`dataclasses.replace` to swap in another ``step``
    with the same signature (a student's, for instance).
    """

    name: str
    step: Callable
    state: tuple[str, ...] = ()
    defaults: Mapping[str, float] = dataclasses.field(default_factory=dict)
    counts_steps: bool = False

    def hyperparameters(self, **overrides: float) -> dict[str, float]:
        """The defaults updated with ``overrides``, each checked."""
        unknown = set(overrides) - set(self.defaults)
        if unknown:
            allowed = ", ".join(self.defaults) or "none"
            raise ValueError(
                f"{self.name} has no hyperparameter {', '.join(sorted(unknown))}; "
                f"allowed: {allowed} (the learning rate is passed separately)"
            )
        values = {**self.defaults, **overrides}
        for key, value in values.items():
            _check_hyperparameter(self.name, key, value)
        return values


def _check_hyperparameter(method: str, key: str, value) -> None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{method}: {key} must be a number, got {value!r}") from None
    if key == "eps":
        ok, allowed = math.isfinite(value) and value > 0, "a positive finite number"
    else:
        ok, allowed = 0 <= value < 1, "a number in [0, 1)"
    if not ok:
        raise ValueError(f"{method}: {key} must be {allowed}, got {value!r}")


OPTIMIZERS: Mapping[str, Optimizer] = MappingProxyType(
    {
        "SGD": Optimizer("SGD", sgd_step),
        "SGD-Momentum": Optimizer("SGD-Momentum", momentum_step, ("velocity",), {"rho": 0.9}),
        "Nesterov-SGD": Optimizer("Nesterov-SGD", nesterov_step, ("velocity",), {"rho": 0.9}),
        "RMSProp": Optimizer("RMSProp", rmsprop_step, ("sq_avg",), {"rho": 0.9, "eps": SEED_EPS}),
        "Adam": Optimizer(
            "Adam",
            adam_step,
            ("m", "v"),
            {"beta1": 0.9, "beta2": 0.999, "eps": SEED_EPS},
            counts_steps=True,
        ),
    }
)
"""The seed's five methods, under the seed's names, in the seed's order."""

SEED_METHODS: tuple[str, ...] = tuple(OPTIMIZERS)


def get_optimizer(method: str | Optimizer) -> Optimizer:
    """Look up a method by its seed name, or pass an :class:`Optimizer` through."""
    if isinstance(method, Optimizer):
        return method
    try:
        return OPTIMIZERS[method]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown optimizer {method!r}; allowed: {', '.join(SEED_METHODS)}"
        ) from None
