r"""The update rules, as small pure functions, and the registry that describes them.

Each rule takes the weights, the gradient and its state arrays explicitly and
returns new arrays; nothing is mutated. Arrays may have any shape and are
updated elementwise, so one call can advance many runs at once. The signatures
are the ones the assignment asks students to write, so the training loop can
drive a student's rule exactly as it drives these.

The defaults are the seed's values, not the textbook's: ``eps = 0.1`` is added
to the root of the second moment (the usual value is ``1e-8``), and momentum
and Nesterov use the seed's forms (see each docstring).

:data:`OPTIMIZERS` holds one :class:`Optimizer` per rule, with everything the
project knows about it: its step, its state, its hyperparameters with their
defaults and ranges, how it is drawn and the function students write for it.
The compiled kernel, the NumPy loop, the figures, the widgets and the grader
all read it, so a new rule is one entry (and its chapter). The original
notebook's five are :data:`SEED_METHODS`; AdaGrad is registered besides them.
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


def adagrad_step(w, grad, sum_sq, lr, eps):
    r"""AdaGrad: every weight's step shrinks with the squared gradients it has seen.

    .. math::
        s &\leftarrow s + g^2 \\
        w &\leftarrow w - \frac{\eta\, g}{\sqrt{s} + \epsilon}

    ``s`` starts at 0 and ``eps`` is added outside the square root, as in
    PyTorch's ``Adagrad``. The default ``eps = 0.1`` is the original
    notebook's RMSProp and Adam value, so the three rules differ only in how
    they average the squared gradients: AdaGrad sums them for ever, which is
    what RMSProp's running mean fixes.
    """
    sum_sq = sum_sq + grad * grad
    return w - lr * grad / (np.sqrt(sum_sq) + eps), sum_sq


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


def adagrad_eps_inside_step(w, grad, sum_sq, lr, eps):
    r"""AdaGrad as Keras and optax write it: ``eps`` inside the square root.

    .. math:: w \leftarrow w - \frac{\eta\, g}{\sqrt{s + \epsilon}}
    """
    sum_sq = sum_sq + grad * grad
    return w - lr * grad / np.sqrt(sum_sq + eps), sum_sq


def rmsprop_eps_inside_step(w, grad, sq_avg, lr, rho, eps):
    r"""RMSProp as Keras and optax write it: ``eps`` inside the square root.

    .. math:: w \leftarrow w - \frac{\eta\, g}{\sqrt{s + \epsilon}}
    """
    sq_avg = rho * sq_avg + (1 - rho) * grad * grad
    return w - lr * grad / np.sqrt(sq_avg + eps), sq_avg


def adam_epsilon_hat_step(w, grad, m, v, t, lr, beta1, beta2, eps):
    r"""Adam as Keras writes it: the bias correction folded into the step size.

    .. math::
        \hat\eta = \eta\, \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}, \qquad
        w \leftarrow w - \frac{\hat\eta\, m}{\sqrt{v} + \hat\epsilon}

    Kingma and Ba's "epsilon hat" form: equal to :func:`adam_step` with
    ``eps`` scaled by ``sqrt(1 - beta2**t)``, so the same ``eps`` damps less.
    """
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    step_size = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    return w - step_size * m / (np.sqrt(v) + eps), m, v


@dataclasses.dataclass(frozen=True)
class Peer:
    """How another library writes a rule, and whether it walks our path.

    ``call`` is the library's constructor with our names (``lr`` and the
    hyperparameters); ``tests/test_peers.py`` runs exactly this call. Where the
    library differs, ``their_step`` is our rule rewritten in its form, and
    ``difference`` says what differs.
    """

    library: str
    call: str
    agrees: bool
    difference: str = ""
    their_step: Callable | None = None


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    """A hyperparameter: its default, the values it may take, and a slider's range.

    ``positive`` ones (``eps``) may be any positive finite number and slide
    on a log scale; the others (decay rates) lie in ``[0, 1)``.
    """

    default: float
    slider: tuple[float, float]
    positive: bool = False

    def check(self, method: str, key: str, value) -> float:
        """``value`` as a float, or a ValueError naming the method, the key and what is allowed."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{method}: {key} must be a number, got {value!r}") from None
        if self.positive:
            ok, allowed = math.isfinite(number) and number > 0, "a positive finite number"
        else:
            ok, allowed = 0 <= number < 1, "a number in [0, 1)"
        if not ok:
            raise ValueError(f"{method}: {key} must be {allowed}, got {value!r}")
        return number


def _eps_inside(library: str, call: str, their_step: Callable) -> Peer:
    """A library that adds eps inside the square root; ``their_step`` is our rule so written."""
    return Peer(library, call, False, "adds eps inside the square root", their_step)


def _decay(default: float, top: float = 0.99) -> Hyperparameter:
    return Hyperparameter(default, (0.0, top))


def _eps(default: float = SEED_EPS) -> Hyperparameter:
    return Hyperparameter(default, (1e-8, 1.0), positive=True)


@dataclasses.dataclass(frozen=True)
class Style:
    """How a method is drawn: a colour, a dash, a marker in 2D and one in 3D."""

    color: str
    dash: str
    symbol: str
    symbol3d: str


UNREGISTERED_STYLE = Style("#7F7F7F", "solid", "star", "circle-open")
"""Grey: for rules that are not registered, a student's for instance."""


@dataclasses.dataclass(frozen=True)
class Optimizer:
    """An update rule and everything the project knows about it.

    ``step(w, grad, *state, [t,] lr, *hyperparameters)`` returns the new
    weights, followed by the new state arrays when there are any; state arrays
    start at zero, and ``t`` (counting from 1) is passed when ``counts_steps``.
    ``hyper`` lists the hyperparameters in the order of the signature. Use
    :func:`dataclasses.replace` to swap in another ``step`` with the same
    signature (a student's, for instance).
    """

    name: str
    step: Callable
    state: tuple[str, ...] = ()
    hyper: Mapping[str, Hyperparameter] = dataclasses.field(default_factory=dict)
    counts_steps: bool = False
    style: Style = dataclasses.field(default_factory=lambda: UNREGISTERED_STYLE)
    assignment: str | None = None
    """The name of the function students write for this rule, if the assignment has one."""
    peers: tuple[Peer, ...] = ()
    """How PyTorch, Keras and optax write this rule, and whether they agree with ours."""

    @property
    def defaults(self) -> dict[str, float]:
        return {key: hyper.default for key, hyper in self.hyper.items()}

    def hyperparameters(self, **overrides: float) -> dict[str, float]:
        """The defaults updated with ``overrides``, each checked, in the signature's order."""
        unknown = set(overrides) - set(self.hyper)
        if unknown:
            allowed = ", ".join(self.hyper) or "none"
            raise ValueError(
                f"{self.name} has no hyperparameter {', '.join(sorted(unknown))}; "
                f"allowed: {allowed} (the learning rate is passed separately)"
            )
        values = {**self.defaults, **overrides}
        return {key: self.hyper[key].check(self.name, key, values[key]) for key in self.hyper}


# Colours from Okabe & Ito (2008), distinct under the common colour-vision
# deficiencies (no yellow), and a dash and markers of its own for each method.
OPTIMIZERS: Mapping[str, Optimizer] = MappingProxyType(
    {
        optimizer.name: optimizer
        for optimizer in (
            Optimizer(
                "SGD",
                sgd_step,
                style=Style("#000000", "solid", "circle", "circle"),
                peers=(
                    Peer("PyTorch", "torch.optim.SGD(params, lr=lr)", True),
                    Peer("Keras", "keras.optimizers.SGD(learning_rate=lr)", True),
                    Peer("optax", "optax.sgd(lr)", True),
                ),
                assignment="sgd_step",
            ),
            Optimizer(
                "SGD-Momentum",
                momentum_step,
                ("velocity",),
                {"rho": _decay(0.9)},
                style=Style("#0072B2", "dash", "square", "square"),
                peers=(
                    Peer("PyTorch", "torch.optim.SGD(params, lr=lr, momentum=rho)", True),
                    Peer(
                        "Keras",
                        "keras.optimizers.SGD(learning_rate=lr, momentum=rho)",
                        True,
                        "keeps v = rho v - lr g, equal for a constant learning rate",
                    ),
                    Peer("optax", "optax.sgd(lr, momentum=rho)", True),
                ),
                assignment="momentum_step",
            ),
            Optimizer(
                "Nesterov-SGD",
                nesterov_step,
                ("velocity",),
                {"rho": _decay(0.9)},
                style=Style("#009E73", "dot", "diamond", "diamond"),
                peers=(
                    Peer(
                        "PyTorch",
                        "torch.optim.SGD(params, lr=lr, momentum=rho, nesterov=True)",
                        True,
                    ),
                    Peer(
                        "Keras",
                        "keras.optimizers.SGD(learning_rate=lr, momentum=rho, nesterov=True)",
                        True,
                    ),
                    Peer("optax", "optax.sgd(lr, momentum=rho, nesterov=True)", True),
                ),
                assignment="nesterov_step",
            ),
            Optimizer(
                "AdaGrad",
                adagrad_step,
                ("sum_sq",),
                {"eps": _eps()},
                style=Style("#56B4E9", "longdashdot", "star-triangle-up", "square-open"),
                peers=(
                    Peer("PyTorch", "torch.optim.Adagrad(params, lr=lr, eps=eps)", True),
                    _eps_inside(
                        "Keras",
                        "keras.optimizers.Adagrad(learning_rate=lr, "
                        "initial_accumulator_value=0.0, epsilon=eps)",
                        adagrad_eps_inside_step,
                    ),
                    _eps_inside(
                        "optax",
                        "optax.adagrad(lr, initial_accumulator_value=0.0, eps=eps)",
                        adagrad_eps_inside_step,
                    ),
                ),
            ),
            Optimizer(
                "RMSProp",
                rmsprop_step,
                ("sq_avg",),
                {"rho": _decay(0.9), "eps": _eps()},
                style=Style("#D55E00", "dashdot", "triangle-up", "cross"),
                peers=(
                    Peer("PyTorch", "torch.optim.RMSprop(params, lr=lr, alpha=rho, eps=eps)", True),
                    _eps_inside(
                        "Keras",
                        "keras.optimizers.RMSprop(learning_rate=lr, rho=rho, epsilon=eps)",
                        rmsprop_eps_inside_step,
                    ),
                    _eps_inside(
                        "optax", "optax.rmsprop(lr, decay=rho, eps=eps)", rmsprop_eps_inside_step
                    ),
                ),
                assignment="rmsprop_step",
            ),
            Optimizer(
                "Adam",
                adam_step,
                ("m", "v"),
                {"beta1": _decay(0.9), "beta2": _decay(0.999, top=0.9999), "eps": _eps()},
                counts_steps=True,
                style=Style("#CC79A7", "longdash", "x", "x"),
                peers=(
                    Peer(
                        "PyTorch",
                        "torch.optim.Adam(params, lr=lr, betas=(beta1, beta2), eps=eps)",
                        True,
                    ),
                    Peer(
                        "Keras",
                        "keras.optimizers.Adam(learning_rate=lr, beta_1=beta1, beta_2=beta2, "
                        "epsilon=eps)",
                        False,
                        "folds the bias correction into the step size (the epsilon-hat form)",
                        adam_epsilon_hat_step,
                    ),
                    Peer("optax", "optax.adam(lr, b1=beta1, b2=beta2, eps=eps)", True),
                ),
                assignment="adam_step",
            ),
        )
    }
)
"""Every registered rule, by name, in the order the book teaches them."""

SEED_METHODS: tuple[str, ...] = ("SGD", "SGD-Momentum", "Nesterov-SGD", "RMSProp", "Adam")
"""The original notebook's five methods, under its names, in its order."""


def get_optimizer(method: str | Optimizer) -> Optimizer:
    """Look up a registered method by name, or pass an :class:`Optimizer` through."""
    if isinstance(method, Optimizer):
        return method
    try:
        return OPTIMIZERS[method]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown optimizer {method!r}; allowed: {', '.join(OPTIMIZERS)}"
        ) from None
