"""Name a student's mistake from the trajectories their rule leaves.

A wrong rule leaves a wrong path, and the common mistakes leave paths we can
compute: :data:`MISTAKES` holds each as the wrong step a student writes, and
:func:`diagnose` trains every mistake of a rule through the grader's own loop
(the one :func:`~.runs.reference` takes) on the settings the student's rule
was run on. A mistake is named only when its path matches the student's on every
setting, to the grader's tolerance; the student's code is never read. It sits on
:mod:`.runs`; :mod:`.checks` calls it when a rule's path parts from the reference, and
where no mistake fits, asks :mod:`.probes` what calling the rule shows
(:meth:`Diagnosis.probed`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

import numpy as np

from ..optimizers import OPTIMIZERS, adam_epsilon_hat_step, rmsprop_eps_inside_step
from .messages import point
from .runs import RULES, first_parting, graded_function, job_setting, reference, trajectory


@dataclasses.dataclass(frozen=True)
class Mistake:
    """A common mistake in one rule: the wrong step, as a student writes it.

    ``step`` has the signature of the rule ``rule`` (an assignment function
    name, e.g. ``"adam_step"``). ``explanation`` tells a student what is wrong
    and the fix, with its formula. ``convention`` is set where the "mistake"
    is how another library writes the rule.
    """

    id: str
    rule: str
    step: Callable
    explanation: str
    convention: str = ""

    @property
    def method(self) -> str:
        """The rule's name in the registry (``"Adam"`` for ``"adam_step"``)."""
        return RULES[self.rule]


# The wrong steps, one per mistake, each written the way a student would.


def _sgd_ascent(w, grad, lr):
    return w + lr * grad


def _sgd_lr_squared(w, grad, lr):
    return w - lr * lr * grad


def _sgd_no_lr(w, grad, lr):
    return w - grad


def _momentum_ascent(w, grad, velocity, lr, rho):
    velocity = rho * velocity + grad
    return w + lr * velocity, velocity


def _momentum_lr_squared(w, grad, velocity, lr, rho):
    velocity = rho * velocity + lr * grad
    return w - lr * velocity, velocity


def _momentum_no_lr(w, grad, velocity, lr, rho):
    velocity = rho * velocity + grad
    return w - velocity, velocity


def _momentum_state_unchanged(w, grad, velocity, lr, rho):
    new_velocity = rho * velocity + grad
    return w - lr * new_velocity, velocity


def _momentum_dampened(w, grad, velocity, lr, rho):
    velocity = rho * velocity + (1 - rho) * grad
    return w - lr * velocity, velocity


def _nesterov_ascent(w, grad, velocity, lr, rho):
    new_velocity = rho * velocity + lr * grad
    return w + new_velocity + rho * (new_velocity - velocity), new_velocity


def _nesterov_lr_squared(w, grad, velocity, lr, rho):
    new_velocity = rho * velocity - lr * grad
    return w + lr * (new_velocity + rho * (new_velocity - velocity)), new_velocity


def _nesterov_no_lr(w, grad, velocity, lr, rho):
    new_velocity = rho * velocity - grad
    return w + new_velocity + rho * (new_velocity - velocity), new_velocity


def _nesterov_state_unchanged(w, grad, velocity, lr, rho):
    new_velocity = rho * velocity - lr * grad
    return w + new_velocity + rho * (new_velocity - velocity), velocity


def _nesterov_as_momentum(w, grad, velocity, lr, rho):
    velocity = rho * velocity - lr * grad
    return w + velocity, velocity


def _rmsprop_ascent(w, grad, sq_avg, lr, rho, eps):
    sq_avg = rho * sq_avg + (1 - rho) * grad * grad
    return w + lr * grad / (np.sqrt(sq_avg) + eps), sq_avg


def _rmsprop_lr_squared(w, grad, sq_avg, lr, rho, eps):
    sq_avg = rho * sq_avg + (1 - rho) * grad * grad
    return w - lr * lr * grad / (np.sqrt(sq_avg) + eps), sq_avg


def _rmsprop_no_lr(w, grad, sq_avg, lr, rho, eps):
    sq_avg = rho * sq_avg + (1 - rho) * grad * grad
    return w - grad / (np.sqrt(sq_avg) + eps), sq_avg


def _rmsprop_state_unchanged(w, grad, sq_avg, lr, rho, eps):
    new_sq_avg = rho * sq_avg + (1 - rho) * grad * grad
    return w - lr * grad / (np.sqrt(new_sq_avg) + eps), sq_avg


def _rmsprop_no_one_minus_rho(w, grad, sq_avg, lr, rho, eps):
    sq_avg = rho * sq_avg + grad * grad
    return w - lr * grad / (np.sqrt(sq_avg) + eps), sq_avg


def _adam_ascent(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w + lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam_lr_squared(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr**2 * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam_no_lr(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam_state_unchanged(w, grad, m, v, t, lr, beta1, beta2, eps):
    new_m = beta1 * m + (1 - beta1) * grad
    new_v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = new_m / (1 - beta1**t)
    v_hat = new_v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam_no_bias_correction(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return w - lr * m / (np.sqrt(v) + eps), m, v


def _adam_betas_swapped(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta2 * m + (1 - beta2) * grad
    v = beta1 * v + (1 - beta1) * grad * grad
    m_hat = m / (1 - beta2**t)
    v_hat = v / (1 - beta1**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _convention(method: str, step: Callable) -> str:
    """The note for a rule written as another library writes it, from the registry's peers."""
    peers = [peer for peer in OPTIMIZERS[method].peers if peer.their_step is step]
    libraries = " and ".join(peer.library for peer in peers)
    verb = "write" if len(peers) > 1 else "writes"
    return (
        f"This is how {libraries} {verb} {method}: it {peers[0].difference}. "
        f"The course follows the original notebook and PyTorch."
    )


_UPHILL = "the step goes uphill, along the gradient, not against it ({fix})"
_LR_TWICE = "the learning rate is applied twice (lr^2), not once ({fix})"
_NO_LR = "the learning rate is missing ({fix})"
_STEPS = {
    "sgd_step": "w - lr * grad",
    "momentum_step": "w - lr * velocity",
    "nesterov_step": "velocity <- rho * velocity - lr * grad",
    "rmsprop_step": "w - lr * grad / (sqrt(sq_avg) + eps)",
    "adam_step": "w - lr * m_hat / (sqrt(v_hat) + eps)",
}
"""Each rule's step, the fix of the mistakes every rule can make; ``<-`` and ``^`` keep
the formulas from reading as code."""


def _every_rule(kind: str, explanation: str, steps: Mapping[str, Callable]) -> list[Mistake]:
    return [
        Mistake(
            f"{rule.removesuffix('_step')}-{kind}", rule, step, explanation.format(fix=_STEPS[rule])
        )
        for rule, step in steps.items()
    ]


MISTAKES: tuple[Mistake, ...] = (
    *_every_rule(
        "ascent",
        _UPHILL,
        {
            "sgd_step": _sgd_ascent,
            "momentum_step": _momentum_ascent,
            "nesterov_step": _nesterov_ascent,
            "rmsprop_step": _rmsprop_ascent,
            "adam_step": _adam_ascent,
        },
    ),
    *_every_rule(
        "lr-squared",
        _LR_TWICE,
        {
            "sgd_step": _sgd_lr_squared,
            "momentum_step": _momentum_lr_squared,
            "nesterov_step": _nesterov_lr_squared,
            "rmsprop_step": _rmsprop_lr_squared,
            "adam_step": _adam_lr_squared,
        },
    ),
    *_every_rule(
        "no-lr",
        _NO_LR,
        {
            "sgd_step": _sgd_no_lr,
            "momentum_step": _momentum_no_lr,
            "nesterov_step": _nesterov_no_lr,
            "rmsprop_step": _rmsprop_no_lr,
            "adam_step": _adam_no_lr,
        },
    ),
    Mistake(
        "momentum-state-unchanged",
        "momentum_step",
        _momentum_state_unchanged,
        "the velocity is never updated: return the new one (rho * velocity + grad), "
        "not the one passed in",
    ),
    Mistake(
        "nesterov-state-unchanged",
        "nesterov_step",
        _nesterov_state_unchanged,
        "the velocity is never updated: return the new one (rho * velocity - lr * grad), "
        "not the one passed in",
    ),
    Mistake(
        "rmsprop-state-unchanged",
        "rmsprop_step",
        _rmsprop_state_unchanged,
        "the average is never updated: return the new one "
        "(rho * sq_avg + (1 - rho) * grad^2), not the one passed in",
    ),
    Mistake(
        "adam-state-unchanged",
        "adam_step",
        _adam_state_unchanged,
        "m and v are never updated: return the new ones (beta1 * m + (1 - beta1) * grad, "
        "beta2 * v + (1 - beta2) * grad^2), not the ones passed in",
    ),
    Mistake(
        "momentum-dampened",
        "momentum_step",
        _momentum_dampened,
        "the gradient is scaled by (1 - rho), not added whole (velocity <- rho * velocity + grad)",
    ),
    Mistake(
        "nesterov-as-momentum",
        "nesterov_step",
        _nesterov_as_momentum,
        "the look-ahead is missing: step to w + velocity + rho * (velocity - old velocity), "
        "not w + velocity",
    ),
    Mistake(
        "rmsprop-no-one-minus-rho",
        "rmsprop_step",
        _rmsprop_no_one_minus_rho,
        "the squared gradient lacks its factor (1 - rho) "
        "(sq_avg <- rho * sq_avg + (1 - rho) * grad^2)",
    ),
    Mistake(
        "rmsprop-eps-inside",
        "rmsprop_step",
        rmsprop_eps_inside_step,
        "eps is added inside the square root, not outside (w - lr * grad / (sqrt(sq_avg) + eps))",
        _convention("RMSProp", rmsprop_eps_inside_step),
    ),
    Mistake(
        "adam-no-bias-correction",
        "adam_step",
        _adam_no_bias_correction,
        "the bias correction is missing (m / (1 - beta1^t), v / (1 - beta2^t))",
    ),
    Mistake(
        "adam-betas-swapped",
        "adam_step",
        _adam_betas_swapped,
        "beta1 and beta2 are swapped: beta1 averages the gradient "
        "(m <- beta1 * m + (1 - beta1) * grad), beta2 its square "
        "(v <- beta2 * v + (1 - beta2) * grad^2)",
    ),
    Mistake(
        "adam-epsilon-hat",
        "adam_step",
        adam_epsilon_hat_step,
        "the bias correction is folded into the step size (the epsilon-hat form), not applied "
        "to m and v (w - lr * m_hat / (sqrt(v_hat) + eps))",
        _convention("Adam", adam_epsilon_hat_step),
    ),
)
"""The catalogue: every common mistake :func:`diagnose` can name."""

CATALOGUE: Mapping[str, Mistake] = MappingProxyType({mistake.id: mistake for mistake in MISTAKES})
"""The mistakes by id."""


def mistakes_for(name: str) -> tuple[Mistake, ...]:
    """The catalogue's mistakes in rule ``name`` (an assignment function or registry name)."""
    rule = graded_function(name)
    return tuple(mistake for mistake in MISTAKES if mistake.rule == rule)


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """What :func:`diagnose` found in a student's rule ``name``.

    ``verdict`` is ``"correct"``, ``"mistake"`` (``mistakes`` holds the one
    mistake whose paths the student's follow), ``"ambiguous"`` (several do, and
    the runs given cannot tell them apart), ``"unknown"`` (none does) or
    ``"probed"`` (none does, but calling the rule showed what is wrong:
    ``probes`` holds the :class:`~.probes.ProbeFinding` s, see :meth:`probed`). Unless
    correct, ``run`` is the index of the first run given that parts from the
    reference, ``epoch`` the first epoch where it does, and ``weights`` and
    ``expected`` the student's and the reference's weights there.
    """

    name: str
    verdict: str
    mistakes: tuple[Mistake, ...] = ()
    run: int | None = None
    epoch: int | None = None
    weights: tuple[float, float] | None = None
    expected: tuple[float, float] | None = None
    probes: tuple = ()

    def probed(self, findings) -> Diagnosis:
        """This unknown diagnosis, with what probing the rule found (:func:`.probes.probe`,
        most telling first) as what is wrong."""
        return dataclasses.replace(self, verdict="probed", probes=tuple(findings))

    @property
    def correct(self) -> bool:
        return self.verdict == "correct"

    @property
    def label(self) -> str:
        """The verdict in one word for the class report: a mistake's id,
        ``ambiguous: <id> | <id>``, the first probe finding's id, ``unknown``, or empty if
        correct."""
        if self.verdict == "mistake":
            return self.mistake.id
        if self.verdict == "probed":
            return self.probes[0].id
        if self.verdict == "ambiguous":
            return "ambiguous: " + " | ".join(mistake.id for mistake in self.mistakes)
        return "" if self.correct else "unknown"

    @property
    def mistake(self) -> Mistake | None:
        """The mistake named, if exactly one matches."""
        return self.mistakes[0] if self.verdict == "mistake" else None

    @property
    def distance(self) -> float | None:
        """How far apart the student's and the reference's weights are at ``epoch``."""
        if self.weights is None:
            return None
        return math.dist(self.weights, self.expected)

    def message(self, hidden: bool = False) -> str:
        """One short line for the student, then a line on the convention if the mistake is one.

        Pass ``hidden`` when the run at index ``run`` is a hidden test: then it
        names only the rule, the mistake and the epoch, no setting and no weights.
        """
        if self.correct:
            return f"{self.name} follows the reference on every run."
        if hidden:
            return self._lines(f"a hidden test shows it from epoch {self.epoch}")
        if not all(math.isfinite(x) for x in self.weights):
            return self._lines(f"at epoch {self.epoch} your weights are no longer finite")
        where = (
            f"from epoch {self.epoch} your weights are {point(self.weights)}, "
            f"the reference's {point(self.expected)}"
        )
        if self.verdict == "unknown":
            where += f", {self.distance:.3g} apart"
        return self._lines(where)

    def summary(self) -> str:
        """The diagnosis with no setting and no weights, wherever the path parted: for the
        class report and the comment under the student's answer."""
        if self.correct:
            return self.message()
        return self._lines(f"it shows from epoch {self.epoch}")

    def _lines(self, where: str) -> str:
        if self.verdict == "mistake":
            what = self.mistake.explanation
        elif self.verdict == "ambiguous":
            *others, last = (mistake.explanation for mistake in self.mistakes)
            what = f"either {', '.join(others)} or {last} (these runs cannot tell which)"
        elif self.verdict == "probed":
            what = self.probes[0].explanation
        else:
            what = "your path parts from the reference, though not by a common mistake"
        notes = [m.convention for m in self.mistakes if m.convention]
        notes += [f"Also, {finding.explanation}." for finding in self.probes[1:]]
        return "\n".join([f"{self.name}: {what}; {where}", *notes])


def diagnose(name: str, student_runs: Iterable[tuple[Mapping, np.ndarray]]) -> Diagnosis:
    """Which mistake, if any, the student's rule ``name`` makes, judged by its paths alone.

    ``student_runs`` holds ``(setting, weights)`` pairs: ``setting`` takes the
    keywords of :func:`~.runs.trajectory` (``start``, ``lr``,
    ``epochs``, ``hyperparameters``) and ``weights`` is the ``(epochs + 1, 2)``
    path the student's rule took, NaN from where it failed. Two paths agree
    where they are within the grader's tolerance or both NaN. The rule is
    correct if it follows the reference on every run; a mistake is named only
    if its path agrees with the student's on every run, so give the hidden
    runs too: one run can be a coincidence.
    """
    rule = graded_function(name)
    runs = [(run_key(rule, s), _path(rule, s, weights)) for s, weights in student_runs]
    if not runs:
        raise ValueError(f"{rule}: give at least one (setting, weights) run to diagnose")
    partings = [first_parting(weights, _reference(rule, key)) for key, weights in runs]
    if all(epoch is None for epoch in partings):
        return Diagnosis(rule, "correct")
    index, epoch = next((i, epoch) for i, epoch in enumerate(partings) if epoch is not None)
    weights, expected = runs[index][1], _reference(rule, runs[index][0])
    matches = tuple(
        mistake
        for mistake in mistakes_for(rule)
        if all(first_parting(w, _mistake_path(mistake, key)) is None for key, w in runs)
    )
    verdict = "unknown" if not matches else "mistake" if len(matches) == 1 else "ambiguous"
    return Diagnosis(
        rule,
        verdict,
        matches,
        index,
        epoch,
        (float(weights[epoch, 0]), float(weights[epoch, 1])),
        (float(expected[epoch, 0]), float(expected[epoch, 1])),
    )


def original_parting(name: str, student_runs: Iterable[tuple[Mapping, np.ndarray]]) -> int | None:
    """The epoch where the student's path parts from the reference on the original
    notebook's run, if ``student_runs`` holds that run (else None)."""
    rule = graded_function(name)
    original = run_key(rule, {})
    for setting, weights in student_runs:
        key = run_key(rule, setting)
        if key == original:
            return first_parting(_path(rule, setting, weights), _reference(rule, key))
    return None


def run_key(name: str, setting: Mapping) -> tuple:
    """``setting`` of rule ``name`` with its defaults filled in, hashable: runs that are
    the same have the same key (and share a cache)."""
    rule = graded_function(name)
    full = job_setting(rule, **setting)
    names = OPTIMIZERS[RULES[rule]].hyper
    return (
        ("start", tuple(full["start"])),
        ("lr", full["lr"]),
        ("epochs", full["epochs"]),
        ("hyperparameters", tuple(zip(names, full["hyper"], strict=True))),
    )


def _path(rule: str, setting: Mapping, weights) -> np.ndarray:
    epochs = job_setting(rule, **setting)["epochs"]
    path = np.asarray(weights, dtype=float)
    if path.shape != (epochs + 1, 2):
        raise ValueError(
            f"{rule}: a run of {epochs} epochs has weights of shape {(epochs + 1, 2)}, "
            f"got {path.shape}"
        )
    return path


def _reference(rule: str, key: tuple) -> np.ndarray:
    setting = dict(key)
    return reference(rule, **{**setting, "hyperparameters": dict(setting["hyperparameters"])})


@functools.lru_cache(maxsize=1024)
def _mistake_path(mistake: Mistake, key: tuple) -> np.ndarray:
    # The grader's loop, as for the reference; cached, as the catalogue's paths
    # are the same for every student graded in one process.
    setting = dict(key)
    setting["hyperparameters"] = dict(setting["hyperparameters"])
    weights = trajectory(mistake.step, mistake.rule, **setting)
    weights.flags.writeable = False
    return weights
