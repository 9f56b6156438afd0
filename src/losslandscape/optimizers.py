r"""The update rules, as small pure functions, and the registry that describes them.

Each rule takes the weights, the gradient and its state arrays explicitly and
returns new arrays; nothing is mutated. Arrays may have any shape and are
updated elementwise, so one call can advance many runs at once. The signatures
are the ones the assignment asks students to write, so the training loop can
drive a student's rule exactly as it drives these.

The defaults are the original notebook's values, not the textbook's: ``eps = 0.1``
is added to the root of the second moment (the usual value is ``1e-8``), and momentum
and Nesterov use the original notebook's forms (see each docstring).

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

from . import rulecode
from .rulecode import documented

SEED_EPS = 0.1
"""The original notebook adds 0.1 (not 1e-8) to the root of the second moment, which damps
RMSProp and Adam steps wherever the gradient is small."""


@documented
def sgd_step(w, grad, lr):
    r"""Plain gradient descent: one step against the gradient.

    Args:
        w: The weights :math:`w_{t-1}`, an array of any shape (or a float).
        grad: The gradient :math:`g_t` of the cost at ``w``, of the same shape.
        lr: The learning rate :math:`\eta`, a positive number.

    Returns:
        The new weights :math:`w_t`, a new array (``w`` is left unchanged).

    PyTorch (``torch.optim.SGD``), Keras and optax (``optax.sgd``) write it the same way.

    Example:
        >>> sgd_step(np.array([1.0, -2.0]), np.array([0.5, -1.0]), lr=0.1)
        array([ 0.95, -1.9 ])
    """
    return w - lr * grad


@documented
def momentum_step(w, grad, velocity, lr, rho):
    r"""Heavy-ball momentum in the original notebook's (and PyTorch's) form.

    Args:
        w: The weights :math:`w_{t-1}`, an array of any shape (or a float).
        grad: The gradient :math:`g_t` of the cost at ``w``, of the same shape.
        velocity: The velocity :math:`v_{t-1}`, of the same shape; zeros before the first step.
        lr: The learning rate :math:`\eta`, a positive number.
        rho: How much velocity is kept per step, :math:`\rho` in [0, 1).

    Returns:
        The tuple ``(w, velocity)``, :math:`w_t` and :math:`v_t`, new arrays.

    In this form the velocity carries no learning rate. Keras and Sutskever et al. (2013)
    keep :math:`v_t = \rho\, v_{t-1} - \eta\, g_t` and step :math:`w_t = w_{t-1} + v_t`;
    for a constant learning rate both walk the same path.

    Example:
        >>> momentum_step(np.array([1.0]), np.array([0.5]), np.zeros(1), lr=0.1, rho=0.9)
        (array([0.95]), array([0.5]))
    """
    velocity = rho * velocity + grad
    return w - lr * velocity, velocity


@documented
def nesterov_step(w, grad, velocity, lr, rho):
    r"""Nesterov momentum in the original notebook's form (Sutskever's velocity, look-ahead step).

    Args:
        w: The weights :math:`w_{t-1}`, an array of any shape (or a float).
        grad: The gradient :math:`g_t` of the cost at ``w``, of the same shape.
        velocity: The velocity :math:`v_{t-1}`, of the same shape; zeros before the first step.
        lr: The learning rate :math:`\eta`, a positive number.
        rho: How much velocity is kept per step, :math:`\rho` in [0, 1).

    Returns:
        The tuple ``(w, velocity)``, :math:`w_t` and :math:`v_t`, new arrays.

    The gradient is taken at :math:`w_{t-1}` itself and the look-ahead is folded into the
    step, as in Bengio et al. (2013); unrolled, this is the gradient taken at the
    look-ahead point :math:`w + \rho v`. Unlike :func:`momentum_step`'s, this velocity
    contains the learning rate and points downhill. PyTorch, Keras and optax
    (``nesterov=True``) walk the same path.

    Example:
        >>> nesterov_step(np.array([1.0]), np.array([0.5]), np.zeros(1), lr=0.1, rho=0.9)
        (array([0.905]), array([-0.05]))
    """
    new_velocity = rho * velocity - lr * grad
    return w + new_velocity + rho * (new_velocity - velocity), new_velocity


@documented
def adagrad_step(w, grad, sum_sq, lr, eps):
    r"""AdaGrad: each weight's step shrinks with the squared gradients it has seen.

    Args:
        w: The weights :math:`w_{t-1}`, an array of any shape (or a float).
        grad: The gradient :math:`g_t` of the cost at ``w``, of the same shape.
        sum_sq: The sum :math:`s_{t-1}` of the squared gradients; zeros before the first step.
        lr: The learning rate :math:`\eta`, a positive number.
        eps: :math:`\epsilon`, a positive number added to the root of the second moment.

    Returns:
        The tuple ``(w, sum_sq)``, :math:`w_t` and :math:`s_t`, new arrays.

    ``eps`` is added outside the square root, as in PyTorch's ``Adagrad``; Keras and optax
    add it inside (:func:`adagrad_eps_inside_step`). The default ``eps = 0.1`` is the
    original notebook's RMSProp and Adam value, so the three rules differ only in how they
    average the squared gradients: AdaGrad sums them for ever, which is what RMSProp's
    running mean fixes.

    Example:
        >>> adagrad_step(np.array([1.0]), np.array([2.0]), np.zeros(1), lr=0.1, eps=0.1)
        (array([0.9047619]), array([4.]))
    """
    sum_sq = sum_sq + grad * grad
    return w - lr * grad / (np.sqrt(sum_sq) + eps), sum_sq


@documented
def rmsprop_step(w, grad, sq_avg, lr, rho, eps):
    r"""RMSProp: each step divided by a running root-mean-square of the gradient.

    Args:
        w: The weights :math:`w_{t-1}`, an array of any shape (or a float).
        grad: The gradient :math:`g_t` of the cost at ``w``, of the same shape.
        sq_avg: The running mean :math:`s_{t-1}` of the squared gradient; zeros before the
            first step.
        lr: The learning rate :math:`\eta`, a positive number.
        rho: How much of the mean is kept per step, :math:`\rho` in [0, 1).
        eps: :math:`\epsilon`, a positive number added to the root of the second moment.

    Returns:
        The tuple ``(w, sq_avg)``, :math:`w_t` and :math:`s_t`, new arrays.

    ``eps`` is added outside the square root, as in PyTorch's ``RMSprop`` (whose ``alpha``
    is our ``rho``); Keras and optax add it inside (:func:`rmsprop_eps_inside_step`). The
    original notebook's ``eps = 0.1``, far above the usual ``1e-8``, damps the steps
    wherever the gradient is small.

    Example:
        >>> rmsprop_step(np.array([1.0]), np.array([2.0]), np.zeros(1), lr=0.1, rho=0.9, eps=0.1)
        (array([0.72694588]), array([0.4]))
    """
    sq_avg = rho * sq_avg + (1 - rho) * grad * grad
    return w - lr * grad / (np.sqrt(sq_avg) + eps), sq_avg


@documented
def adam_step(w, grad, m, v, t, lr, beta1, beta2, eps):
    r"""Adam with bias correction.

    Args:
        w: The weights :math:`w_{t-1}`, an array of any shape (or a float).
        grad: The gradient :math:`g_t` of the cost at ``w``, of the same shape.
        m: The running mean :math:`m_{t-1}` of the gradient; zeros before the first step.
        v: The running mean :math:`v_{t-1}` of the squared gradient; zeros before the
            first step.
        t: The step count :math:`t`, from 1.
        lr: The learning rate :math:`\eta`, a positive number.
        beta1: How much of :math:`m` is kept per step, :math:`\beta_1` in [0, 1).
        beta2: How much of :math:`v` is kept per step, :math:`\beta_2` in [0, 1).
        eps: :math:`\epsilon`, a positive number added to the root of the second moment.

    Returns:
        The tuple ``(w, m, v)``, :math:`w_t`, :math:`m_t` and :math:`v_t`, new arrays.

    Dividing by :math:`1 - \beta^t` corrects the running means' bias towards their start
    at 0. ``eps`` is added to the root of the corrected :math:`\hat v_t`, as in PyTorch and
    optax. Keras folds the correction into the step size instead (Kingma and Ba's
    "epsilon hat" form, :func:`adam_epsilon_hat_step`), so the same ``eps`` damps less.

    Example:
        >>> adam_step(np.array([1.0]), np.array([2.0]), np.zeros(1), np.zeros(1), 1,
        ...           lr=0.1, beta1=0.9, beta2=0.999, eps=0.1)
        (array([0.9047619]), array([0.2]), array([0.004]))
    """
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


@documented
def momentum_lr_in_velocity_step(w, grad, velocity, lr, rho):
    r"""SGD-Momentum as Keras (and CS231n's notes) write it: the learning rate in the velocity.

    Args:
        w: The weights :math:`w_{t-1}`, an array of any shape (or a float).
        grad: The gradient :math:`g_t` of the cost at ``w``, of the same shape.
        velocity: :math:`v_{t-1}`, the previous steps: :math:`-\eta` times
            :func:`momentum_step`'s velocity (zeros at the start).
        lr: The learning rate :math:`\eta`, a positive number.
        rho: As in :func:`momentum_step`.

    Returns:
        The tuple ``(w, velocity)`` of new arrays.

    For a constant learning rate, the same path as :func:`momentum_step`; the state is
    another, and a learning rate that changes during training changes the paths apart.
    """
    velocity = rho * velocity - lr * grad
    return w + velocity, velocity


@documented
def nesterov_gradient_sum_step(w, grad, velocity, lr, rho):
    r"""Nesterov-SGD as PyTorch writes it: a decaying sum of gradients as the state.

    Args:
        w: The weights :math:`w_{t-1}`, an array of any shape (or a float).
        grad: The gradient :math:`g_t` of the cost at ``w``, of the same shape.
        velocity: :math:`b_{t-1}`, the decaying sum of gradients: :math:`-1/\eta` times
            :func:`nesterov_step`'s velocity (zeros at the start).
        lr: The learning rate :math:`\eta`, a positive number.
        rho: As in :func:`nesterov_step`.

    Returns:
        The tuple ``(w, velocity)`` of new arrays.

    For a constant learning rate, the same path as :func:`nesterov_step`; the state is
    another.
    """
    velocity = rho * velocity + grad
    return w - lr * (grad + rho * velocity), velocity


@documented
def adagrad_eps_inside_step(w, grad, sum_sq, lr, eps):
    r"""AdaGrad as Keras and optax write it: ``eps`` inside the square root.

    Args:
        w: The weights :math:`w_{t-1}`, an array of any shape (or a float).
        grad: The gradient :math:`g_t` of the cost at ``w``, of the same shape.
        sum_sq: As in :func:`adagrad_step`.
        lr: The learning rate :math:`\eta`, a positive number.
        eps: :math:`\epsilon`, a positive number added to the sum before its root.

    Returns:
        The tuple ``(w, sum_sq)`` of new arrays.
    """
    sum_sq = sum_sq + grad * grad
    return w - lr * grad / np.sqrt(sum_sq + eps), sum_sq


@documented
def rmsprop_eps_inside_step(w, grad, sq_avg, lr, rho, eps):
    r"""RMSProp as Keras and optax write it: ``eps`` inside the square root.

    Args:
        w: The weights :math:`w_{t-1}`, an array of any shape (or a float).
        grad: The gradient :math:`g_t` of the cost at ``w``, of the same shape.
        sq_avg: As in :func:`rmsprop_step`.
        lr: The learning rate :math:`\eta`, a positive number.
        rho: As in :func:`rmsprop_step`.
        eps: :math:`\epsilon`, a positive number added to the mean before its root.

    Returns:
        The tuple ``(w, sq_avg)`` of new arrays.
    """
    sq_avg = rho * sq_avg + (1 - rho) * grad * grad
    return w - lr * grad / np.sqrt(sq_avg + eps), sq_avg


@documented(symbols={"step_size": r"\hat\eta"})
def adam_epsilon_hat_step(w, grad, m, v, t, lr, beta1, beta2, eps):
    r"""Adam as Keras writes it: the bias correction folded into the step size.

    Args:
        w: The weights :math:`w_{t-1}`, an array of any shape (or a float).
        grad: The gradient :math:`g_t` of the cost at ``w``, of the same shape.
        m, v, t, beta1, beta2: As in :func:`adam_step`.
        lr: The learning rate :math:`\eta`, a positive number.
        eps: :math:`\epsilon`, a positive number added to :math:`\sqrt{v_t}`.

    Returns:
        The tuple ``(w, m, v)`` of new arrays.

    Kingma and Ba's "epsilon hat" form: equal to :func:`adam_step` with ``eps`` scaled by
    :math:`\sqrt{1 - \beta_2^t}`, so the same ``eps`` damps less.
    """
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    step_size = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    return w - step_size * m / (np.sqrt(v) + eps), m, v


@dataclasses.dataclass(frozen=True)
class Peer:
    """How another library writes a rule, and whether it walks our path.

    Args:
        library: ``"PyTorch"``, ``"Keras"`` or ``"optax"``.
        call: The library's constructor with our names (``lr`` and the
            hyperparameters); ``tests/test_peers.py`` runs exactly this call.
        agrees: Whether the library walks the same path as our rule.
        difference: What differs (or, where it agrees, what looks different but is not).
        their_step: Where the library differs, our rule rewritten in its form.
    """

    library: str
    call: str
    agrees: bool
    difference: str = ""
    their_step: Callable | None = None


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    """A hyperparameter: its default, the values it may take, and a slider's range.

    Args:
        default: The original notebook's value.
        slider: The ends of its slider in the widgets and the book's live panels.
        positive: True for ones like ``eps``, which may be any positive finite number
            and slide on a log scale; the others (decay rates) lie in ``[0, 1)``.
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
    """How a method is drawn in every figure.

    Args:
        color: Its colour, as ``"#RRGGBB"``.
        dash: Its plotly line dash (``"solid"``, ``"dash"``, ``"dot"``, ...).
        symbol: Its plotly marker on 2D maps.
        symbol3d: Its plotly marker on 3D surfaces (which take fewer symbols).
    """

    color: str
    dash: str
    symbol: str
    symbol3d: str


UNREGISTERED_STYLE = Style("#7F7F7F", "solid", "star", "circle-open")
"""Grey, for rules that are not registered (a student's, for instance)."""


@dataclasses.dataclass(frozen=True)
class Exercise:
    """How the assignment grades a rule that students write.

    The grader (``losslandscape.grading``) reads everything per rule from here, so a
    graded rule needs this entry and its cells in the assignment's notebook, nothing else.

    Args:
        function: The name of the function students write.
        diagnostic_lr: The learning rate of a public run from (2, 5) over 200 epochs
            on which a wrong rule is also trained, so that mistakes which leave the
            same path on the original run can be told apart and named.
        hidden_lrs: The range the hidden trajectories draw learning rates from,
            log-uniformly; wide, but where this rule's runs stay numerically stable.
        diagnostic_hyperparameters: The diagnostic run's hyperparameters, unlike the
            original notebook's defaults.
    """

    function: str
    diagnostic_lr: float
    hidden_lrs: tuple[float, float]
    diagnostic_hyperparameters: Mapping[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Optimizer:
    """An update rule and everything the project knows about it.

    Args:
        name: How the book, the figures and ``train`` call it.
        step: ``step(w, grad, *state, [t,] lr, *hyperparameters)``, which returns the
            new weights followed by the new state arrays when there are any; state
            arrays start at zero, and ``t`` (counting from 1) is passed when
            ``counts_steps``.
        hyper: Its hyperparameters in the signature's order.
        style: How it is drawn.
        assignment: How the assignment grades it, if students write it.
        peers: How PyTorch, Keras and optax write it, and whether they agree with ours.
        state: The names of its state arrays; read from ``step``'s signature when not given.
        counts_steps: Whether ``step`` takes ``t``; read from its signature when not given.

    Use ``dataclasses.replace`` to swap in another ``step`` with the same signature
    (a student's, for instance).
    """

    name: str
    step: Callable
    hyper: Mapping[str, Hyperparameter] = dataclasses.field(default_factory=dict)
    style: Style = dataclasses.field(default_factory=lambda: UNREGISTERED_STYLE)
    assignment: Exercise | None = None
    peers: tuple[Peer, ...] = ()
    state: tuple[str, ...] | None = None
    counts_steps: bool | None = None

    def __post_init__(self):
        if self.state is None or self.counts_steps is None:
            code = rulecode.read(self.step)
            if self.state is None:
                object.__setattr__(self, "state", code.state)
            if self.counts_steps is None:
                object.__setattr__(self, "counts_steps", code.counts_steps)
        object.__setattr__(self, "state", tuple(self.state))

    def check_signature(self) -> None:
        """Raise ValueError unless the entry's state, step count and hyperparameters are
        its step's (read from its source, see :func:`~losslandscape.rulecode.read`)."""
        code = rulecode.read(self.step)
        entry = (self.state, self.counts_steps, tuple(self.hyper))
        if (code.state, code.counts_steps, code.hyper) != entry:
            raise ValueError(
                f"{self.name}: {code.name}'s signature has state {code.state}, "
                f"{'a' if code.counts_steps else 'no'} step count and hyperparameters "
                f"{code.hyper}, but the entry says {self.state}, "
                f"{'a' if self.counts_steps else 'no'} step count and {tuple(self.hyper)}"
            )

    def equations(self) -> rulecode.Equations:
        """The update as LaTeX, written from the step's code (displays as maths in Jupyter)."""
        return rulecode.equations(self.step)

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
_REGISTRY: dict[str, Optimizer] = {
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
            assignment=Exercise("sgd_step", diagnostic_lr=3.0, hidden_lrs=(1.0, 30.0)),
        ),
        Optimizer(
            "SGD-Momentum",
            momentum_step,
            {"rho": _decay(0.9)},
            style=Style("#0072B2", "dash", "square", "square"),
            peers=(
                Peer("PyTorch", "torch.optim.SGD(params, lr=lr, momentum=rho)", True),
                Peer(
                    "Keras",
                    "keras.optimizers.SGD(learning_rate=lr, momentum=rho)",
                    True,
                    "keeps the learning rate in the velocity (v = rho v - lr g, w + v): the "
                    "same path for a constant learning rate, another state",
                    momentum_lr_in_velocity_step,
                ),
                Peer("optax", "optax.sgd(lr, momentum=rho)", True),
            ),
            assignment=Exercise(
                "momentum_step", 1.5, (0.3, 5.0), diagnostic_hyperparameters={"rho": 0.7}
            ),
        ),
        Optimizer(
            "Nesterov-SGD",
            nesterov_step,
            {"rho": _decay(0.9)},
            style=Style("#009E73", "dot", "diamond", "diamond"),
            peers=(
                Peer(
                    "PyTorch",
                    "torch.optim.SGD(params, lr=lr, momentum=rho, nesterov=True)",
                    True,
                    "keeps a decaying sum of gradients (b = rho b + g, w - lr (g + rho b)): "
                    "the same path for a constant learning rate, another state",
                    nesterov_gradient_sum_step,
                ),
                Peer(
                    "Keras",
                    "keras.optimizers.SGD(learning_rate=lr, momentum=rho, nesterov=True)",
                    True,
                ),
                Peer("optax", "optax.sgd(lr, momentum=rho, nesterov=True)", True),
            ),
            assignment=Exercise(
                "nesterov_step", 1.5, (0.3, 5.0), diagnostic_hyperparameters={"rho": 0.7}
            ),
        ),
        Optimizer(
            "AdaGrad",
            adagrad_step,
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
            assignment=Exercise(
                "rmsprop_step",
                0.5,
                (0.1, 3.0),
                diagnostic_hyperparameters={"rho": 0.7, "eps": 0.3},
            ),
        ),
        Optimizer(
            "Adam",
            adam_step,
            {"beta1": _decay(0.9), "beta2": _decay(0.999, top=0.9999), "eps": _eps()},
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
            assignment=Exercise(
                "adam_step",
                0.5,
                (0.1, 3.0),
                diagnostic_hyperparameters={"beta1": 0.7, "beta2": 0.95, "eps": 0.3},
            ),
        ),
    )
}
for _optimizer in _REGISTRY.values():
    _optimizer.check_signature()

OPTIMIZERS: Mapping[str, Optimizer] = MappingProxyType(_REGISTRY)
"""Every registered rule, by name, in the order the book teaches them (then any
:func:`register` added)."""


def register(optimizer: Optimizer) -> Optimizer:
    """Add a rule to :data:`OPTIMIZERS`: from then on it trains compiled, draws in the
    figures and the widgets, runs in the book's twin, and (with ``assignment``) is graded.

    Args:
        optimizer: The rule's entry; its name must be new.

    Returns:
        ``optimizer``, as registered.

    Raises:
        ValueError: the name is taken, or the entry disagrees with its step's signature.
        RuleCodeError: the step uses more of Python than a rule may (see
            :mod:`losslandscape.rulecode`).
    """
    if optimizer.name in _REGISTRY:
        raise ValueError(f"{optimizer.name!r} is registered already; unregister it first")
    optimizer.check_signature()
    rulecode.javascript(optimizer.step)  # refuse now what the book's twin could not run
    _REGISTRY[optimizer.name] = optimizer
    return optimizer


def unregister(name: str) -> None:
    """Remove a rule that :func:`register` added; the built-in rules stay.

    Args:
        name: The rule's name.

    Raises:
        ValueError: ``name`` was not added by :func:`register`.
    """
    if name not in _REGISTRY or name in _BUILT_IN:
        added = ", ".join(n for n in _REGISTRY if n not in _BUILT_IN) or "none"
        raise ValueError(f"{name!r} was not added by register(); added: {added}")
    del _REGISTRY[name]


_BUILT_IN = frozenset(_REGISTRY)

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
