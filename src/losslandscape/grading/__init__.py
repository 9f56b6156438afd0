"""Check a student's update rule against the library's, trajectory by trajectory.

The assignment's tests and the student's self-check both train a rule with
the loop in :mod:`._worker` and compare every epoch with the reference, which
the library's rule takes through the very same loop. In the student's kernel
the rule is their own function; when nbgrader autogrades, it is a
:class:`~.sandbox.RuleProxy`, the loop runs inside the rule's sandbox and
only the comparison runs in the grader (see :mod:`.autograde`).

Hidden tests (:func:`check_hidden_steps`, :func:`check_hidden_trajectories`)
draw their settings when grading starts: shapes from a few to a few hundred
elements, runs past 1,000 epochs, learning rates and hyperparameters across
their ranges, several starts. Their messages name the rule, the kind of
failure and the epoch where it shows, never the settings or the student's
own error text.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import math
import os
import re
import secrets
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from ..data import bundled_path
from ..landscape import Landscape
from ..optimizers import OPTIMIZERS
from ..training import SEED_EPOCHS, SEED_LR, SEED_START, train
from . import _worker
from ._worker import RuleFailure
from .sandbox import RuleProxy, SandboxError

RULES: Mapping[str, str] = {
    optimizer.assignment: name
    for name, optimizer in OPTIMIZERS.items()
    if optimizer.assignment is not None
}
"""The functions students write, each with the name of its method (from the registry)."""

TOLERANCE = 1e-8
"""Relative and absolute: loose enough for a rule written in another but equal order."""

DRAW_SEED = int(os.environ.get("LOSSLANDSCAPE_GRADING_SEED") or secrets.randbits(63))
"""Seeds the hidden settings of this grading process; set the environment variable
``LOSSLANDSCAPE_GRADING_SEED`` to draw the same ones again."""

DIAGNOSTIC_SETTINGS: Mapping[str, tuple[dict, ...]] = {
    name: ({}, {"start": (2.0, 5.0), "epochs": 200, **extra})
    for name, extra in {
        "sgd_step": {"lr": 3.0},
        "momentum_step": {"lr": 1.5, "hyperparameters": {"rho": 0.7}},
        "nesterov_step": {"lr": 1.5, "hyperparameters": {"rho": 0.7}},
        "rmsprop_step": {"lr": 0.5, "hyperparameters": {"rho": 0.7, "eps": 0.3}},
        "adam_step": {"lr": 0.5, "hyperparameters": {"beta1": 0.7, "beta2": 0.95, "eps": 0.3}},
    }.items()
}
"""Public runs a wrong rule is also trained on, so its mistake can be named: the original
notebook's 1000 epochs, and 200 from another start with other hyperparameters, which
tell apart mistakes that leave the same path on the original run (momentum dampened by
(1 - rho) and momentum without the learning rate, at lr 10 and rho 0.9)."""

_HIDDEN_KINDS = {
    "raised": "it raised an exception",
    "contract": "it returned something other than the arrays it must return",
    "not finite": "its weights stopped being finite",
    "undefined": "its answer cell does not define it",
    "sandbox": "the sandbox stopped it (time, memory, or the process ended)",
}


@functools.cache
def landscape() -> Landscape:
    """The original notebook's landscape on its first 100 images, always from the bundled data.

    Its first 6,309 images are MNIST's own, so the reference is the same as with
    the full set, and grading neither depends on nor waits for keras's download.
    """
    return Landscape(100, data=bundled_path())


@functools.cache
def _landscape_arrays() -> dict:
    surface = landscape()
    arrays = {key: getattr(surface, key) for key in ("coef_a", "coef_b", "base", "target")}
    return {**arrays, "gradient_factor": surface.gradient_factor}


@functools.cache
def _landscape_wire() -> dict:
    arrays = _landscape_arrays()
    return {k: v if k == "gradient_factor" else _worker.encode(v) for k, v in arrays.items()}


def _setting(name, start=SEED_START, lr=SEED_LR, epochs=SEED_EPOCHS, hyperparameters=None):
    """A trajectory job's setting, checked; hyperparameters in the rule's signature order."""
    optimizer = OPTIMIZERS[RULES[name]]
    hyper = optimizer.hyperparameters(**dict(hyperparameters or {}))
    if isinstance(epochs, bool) or not isinstance(epochs, int | np.integer) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    return {
        "start": [float(start[0]), float(start[1])],
        "lr": float(lr),
        "epochs": int(epochs),
        "hyper": list(hyper.values()),
        "n_state": len(optimizer.state),
        "counts_steps": optimizer.counts_steps,
    }


def _run_trajectory(step: Callable, name: str, setting: dict):
    """``(weights, failure)`` of ``step`` for ``setting``, in its sandbox or right here."""
    if not isinstance(step, RuleProxy):
        return _worker.run_trajectory(step, name, {**setting, "landscape": _landscape_arrays()})
    reply = step.run({"kind": "trajectory", "setting": {**setting, "landscape": _landscape_wire()}})
    if "undefined" in reply:
        return None, RuleFailure("undefined", str(reply["undefined"])[:500])
    try:
        weights = _worker.decode(reply["weights"])
        failure = reply.get("failure")
        if failure is not None:
            failure = _reported_failure(failure)
        if not (isinstance(weights, np.ndarray) and weights.shape == (setting["epochs"] + 1, 2)):
            raise ValueError("a trajectory of the wrong shape")
        return weights.astype(float), failure
    except Exception:
        raise SandboxError(f"the sandbox of {name} sent a malformed reply") from None


def _reported_failure(failure: dict) -> RuleFailure:
    """The failure a sandbox reported, checked: the child that writes the reply runs the
    student's code, so a kind other than :data:`_worker.FAILURE_KINDS` (which would reach
    the class report) makes the reply malformed."""
    if failure["kind"] not in _worker.FAILURE_KINDS:
        raise ValueError("an unknown kind of failure")
    epoch = failure.get("epoch")
    return RuleFailure(
        failure["kind"], str(failure["message"])[:500], int(epoch) if epoch is not None else None
    )


def trajectory(step: Callable, name: str, **setting) -> np.ndarray:
    """The weights ``(epochs + 1, 2)`` that rule ``step``, written as ``name``, takes.

    ``setting`` takes ``start``, ``lr``, ``epochs`` and ``hyperparameters``
    (the original notebook's run by default). Rows from the epoch where the
    rule fails on (it raised, returned something other than arrays of the
    weights' shape, or left the finite numbers) are NaN.
    """
    weights, _ = _run_trajectory(step, name, _setting(name, **setting))
    return weights


def reference(name: str, **setting) -> np.ndarray:
    """The library's trajectory for the rule ``name``, through the same loop as a student's."""
    hyperparameters = tuple(sorted((setting.pop("hyperparameters", None) or {}).items()))
    if "start" in setting:
        setting["start"] = tuple(float(x) for x in setting["start"])
    return _reference(name, hyperparameters, **setting).copy()


@functools.lru_cache(maxsize=256)
def _reference(name, hyperparameters, **setting):
    # Cached: a batch of submissions shares the reference runs.
    step = OPTIMIZERS[RULES[name]].step
    weights, _ = _run_trajectory(
        step, name, _setting(name, hyperparameters=dict(hyperparameters), **setting)
    )
    weights.flags.writeable = False
    return weights


def first_parting(weights: np.ndarray, expected: np.ndarray) -> int | None:
    """The first epoch where ``weights`` and ``expected`` differ by more than the tolerance."""
    close = np.isclose(weights, expected, rtol=TOLERANCE, atol=TOLERANCE).all(axis=1)
    return None if close.all() else int(np.argmin(close))


def check_trajectory(step: Callable, name: str, *, hidden: bool = False, **setting) -> None:
    """Assert that ``step`` follows the reference for ``name`` at every epoch.

    ``setting`` takes the keywords of :func:`trajectory`. The message names
    the first epoch where the two part and both points there, or how the rule
    failed; with ``hidden`` it says only the kind of failure and the epoch.
    """
    weights, failure = _student_run(step, name, setting, hidden)
    expected = reference(name, **setting)
    epoch = first_parting(weights, expected)
    if epoch is None:
        return
    if _broke(failure, epoch):
        _record(name, failure.kind, _RANK_FAILURE)
        if hidden:
            raise _failure(_hidden_message(name, failure.kind, epoch))
        raise _failure(f"{name} fails at epoch {epoch}: {failure}")
    diagnosis = _diagnose(
        step, name, [(setting, weights)], rank=_RANK_HIDDEN if hidden else _RANK_VISIBLE
    )
    if hidden:
        raise _failure(_with_hint(diagnosis.message(hidden=True)))
    raise _failure(diagnosis.message())


def _student_run(step: Callable, name: str, setting: dict, hidden: bool):
    """``(weights, failure)`` of the student's rule for ``setting``; fails the check, on
    record, when its sandbox broke down or its answer cell does not define the rule."""
    try:
        weights, failure = _run_trajectory(step, name, _setting(name, **setting))
    except SandboxError as exc:
        _record(name, "sandbox", _RANK_FAILURE)
        raise _failure(_hidden_message(name, "sandbox") if hidden else str(exc)) from None
    if weights is None:
        _record(name, "undefined", _RANK_FAILURE)
        raise _failure(_hidden_message(name, "undefined") if hidden else f"{name}: {failure}")
    return weights, failure


def _broke(failure: RuleFailure | None, epoch: int) -> bool:
    """Whether the rule itself failed where its path parts (raised, returned junk),
    rather than taking a wrong step; a path that leaves the finite numbers is a step."""
    return failure is not None and failure.epoch == epoch and failure.kind != "not finite"


_HIDDEN_HINT = (
    "Hidden tests use other starts, learning rates, hyperparameters, shapes and run "
    "lengths; the visible tests and self_check show the details."
)


def _with_hint(message: str) -> str:
    """``message`` with :data:`_HIDDEN_HINT` after its first line."""
    first, *notes = message.split("\n")
    return "\n".join([f"{first}. {_HIDDEN_HINT}", *notes])


def _hidden_message(name: str, kind: str, epoch: int | None = None) -> str:
    when = f" at epoch {epoch}" if epoch is not None else ""
    what = _HIDDEN_KINDS.get(kind, "it failed")
    return f"{name} fails a hidden test: {what}{when}. {_HIDDEN_HINT}"


def check_steps(
    step: Callable,
    name: str,
    *,
    lr: float,
    hyperparameters: Mapping[str, float] | None = None,
    shape: tuple[int, ...] = (4, 3),
    steps: int = 3,
    seed: int = 0,
    hidden: bool = False,
) -> None:
    """Assert that ``step`` matches the reference for a few steps on random arrays of ``shape``.

    Each step starts from the reference's weights and state, so a wrong step
    is named by its number.
    """
    optimizer = OPTIMIZERS[RULES[name]]
    hyper = tuple(optimizer.hyperparameters(**(hyperparameters or {})).values())
    rng = np.random.default_rng(seed)
    w = rng.normal(size=shape)
    state = tuple(np.zeros(shape) for _ in optimizer.state)
    calls, wants = [], []
    for t in range(1, steps + 1):
        count = (t,) if optimizer.counts_steps else ()
        args = (w, rng.normal(size=shape), *state, *count, lr, *hyper)
        want = optimizer.step(*args)
        want = want if optimizer.state else (want,)
        calls.append(args)
        wants.append(want)
        w, *state = want
    try:
        got = _run_steps(step, name, len(optimizer.state), calls)
    except SandboxError as exc:
        raise _failure(_hidden_message(name, "sandbox") if hidden else str(exc)) from None
    except RuleFailure as failure:
        if hidden:
            raise _failure(_hidden_message(name, failure.kind)) from None
        raise _failure(f"{name}: {failure}") from None
    for t, (mine, theirs) in enumerate(zip(got, wants, strict=True), start=1):
        for label, a, b in zip(("w_new", *optimizer.state), mine, theirs, strict=True):
            if not np.allclose(a, b, rtol=TOLERANCE, atol=TOLERANCE):
                prefix = f"{name} fails a hidden test" if hidden else name
                raise _failure(f"{prefix}: step {t} gives a wrong {label}")


def _run_steps(step, name, n_state, calls):
    """The checked results of ``step`` on each argument tuple; raises :class:`RuleFailure`."""
    if not isinstance(step, RuleProxy):
        return _worker.run_steps(step, name, n_state, [tuple(map(_copy, c)) for c in calls])
    reply = step.run(
        {
            "kind": "steps",
            "n_state": n_state,
            "calls": [[_worker.encode(arg) for arg in args] for args in calls],
        }
    )
    if "undefined" in reply:
        raise RuleFailure("undefined", str(reply["undefined"])[:500])
    try:
        if reply.get("failure") is not None:
            raise _reported_failure(reply["failure"])
        results = [tuple(_worker.decode(a) for a in result) for result in reply["results"]]
        shapes_match = len(results) == len(calls) and all(
            len(result) == n_state + 1
            and all(isinstance(a, np.ndarray) and a.shape == args[0].shape for a in result)
            for result, args in zip(results, calls, strict=False)
        )
    except RuleFailure:
        raise
    except Exception:
        raise SandboxError(f"the sandbox of {name} sent a malformed reply") from None
    if not shapes_match:
        raise SandboxError(f"the sandbox of {name} sent a malformed reply")
    return results


def _copy(value):
    return np.copy(value) if isinstance(value, np.ndarray) else value


# What the hidden trajectories draw from, per rule: learning rates (log-uniform),
# and hyperparameters narrower than the registry's ranges (which the hidden steps
# tests use), where the runs stay numerically stable.
_TRAJECTORY_LRS = {
    "sgd_step": (1.0, 30.0),
    "momentum_step": (0.3, 5.0),
    "nesterov_step": (0.3, 5.0),
    "rmsprop_step": (0.1, 3.0),
    "adam_step": (0.1, 3.0),
}
_TRAJECTORY_HYPERPARAMETER_RANGES = {
    "rho": (0.5, 0.95),
    "beta1": (0.5, 0.95),
    "beta2": (0.9, 0.9999),
    "eps": (0.01, 0.5),
}
_SHAPE_BANDS = ((2, 6), (10, 60), (100, 400))
"""Elements per hidden steps test: a few, tens, a few hundred."""
_STABILITY = 1e-10
"""A drawn setting is kept only if a start moved by 1e-12 stays this close all the way."""


def _rng(name: str, kind: str) -> np.random.Generator:
    kinds = ("steps", "runs")
    return np.random.default_rng([DRAW_SEED, list(RULES).index(name), kinds.index(kind)])


def _draw_hyperparameters(rng, name, ranges=None) -> dict[str, float]:
    """Each hyperparameter of rule ``name`` drawn from ``ranges`` or its registry range."""
    drawn = {}
    for key, hyper in OPTIMIZERS[RULES[name]].hyper.items():
        low, high = (ranges or {}).get(key, hyper.slider)
        drawn[key] = (
            _log_uniform(rng, low, high) if hyper.positive else float(rng.uniform(low, high))
        )
    return drawn


def _log_uniform(rng, low, high) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


@functools.cache
def hidden_steps_settings(name: str) -> tuple[dict, ...]:
    """The hidden steps tests of rule ``name`` for this grading process, one per shape band."""
    rng = _rng(name, "steps")
    settings = []
    for low, high in _SHAPE_BANDS:
        size = int(rng.integers(low, high + 1))
        rows = int(rng.choice([1, 2, 3]))
        shape = (size,) if size % rows else (rows, size // rows)
        settings.append(
            {
                "lr": _log_uniform(rng, 1e-3, 10.0),
                "hyperparameters": _draw_hyperparameters(rng, name),
                "shape": shape,
                "steps": int(rng.integers(3, 9)),
                "seed": int(rng.integers(2**31)),
            }
        )
    return tuple(settings)


@functools.cache
def hidden_trajectory_settings(name: str) -> tuple[dict, ...]:
    """The hidden trajectories of rule ``name`` for this grading process.

    The original notebook's run, one run of 2,000 to 3,000 epochs and two
    shorter ones, from drawn starts with drawn learning rates and
    hyperparameters. A draw is kept only where the run is numerically stable
    (see :data:`_STABILITY`), so a correct rule written in another order of
    operations still passes.
    """
    rng = _rng(name, "runs")
    settings = [{}]
    for epochs_low, epochs_high in ((2000, 3000), (150, 600), (150, 600)):
        for _ in range(50):
            setting = {
                "start": (float(rng.uniform(-15, 17)), float(rng.uniform(-15, 18))),
                "lr": _log_uniform(rng, *_TRAJECTORY_LRS[name]),
                "epochs": int(rng.integers(epochs_low, epochs_high + 1)),
                "hyperparameters": _draw_hyperparameters(
                    rng, name, _TRAJECTORY_HYPERPARAMETER_RANGES
                ),
            }
            if _stable(name, **setting):
                settings.append(setting)
                break
    return tuple(settings)


def _stable(name, start, lr, epochs, hyperparameters) -> bool:
    method = RULES[name]
    moved = (start[0] * (1 + 1e-12) + 1e-12, start[1])
    runs = train(
        landscape(),
        [method],
        starts=[start, moved],
        lrs=[lr],
        epochs=epochs,
        hyperparameters={method: hyperparameters},
        on_divergence="keep",
    )
    if any(run.diverged_at is not None for run in runs):
        return False
    return bool(np.abs(runs[0].weights - runs[1].weights).max() < _STABILITY)


def check_hidden_steps(step: Callable, name: str) -> None:
    """The hidden steps tests of rule ``name``: small, medium and large arrays."""
    for setting in hidden_steps_settings(name):
        check_steps(step, name, hidden=True, **setting)


def check_hidden_trajectories(step: Callable, name: str) -> None:
    """The hidden trajectories of rule ``name``: the original run, a long one and two more.

    All are run before any is judged, so a wrong rule's mistake is named from
    every path it took; the message says which mistake and from which epoch,
    never a setting.
    """
    runs = []
    for setting in hidden_trajectory_settings(name):
        weights, failure = _student_run(step, name, setting, hidden=True)
        runs.append((setting, weights, failure, first_parting(weights, reference(name, **setting))))
    parted = [(failure, epoch) for _, _, failure, epoch in runs if epoch is not None]
    if not parted:
        return
    failure, epoch = parted[0]
    if _broke(failure, epoch):
        _record(name, failure.kind, _RANK_FAILURE)
        raise _failure(_hidden_message(name, failure.kind, epoch))
    diagnosis = _diagnose(step, name, [(s, w) for s, w, _, _ in runs], rank=_RANK_HIDDEN)
    raise _failure(_with_hint(diagnosis.message(hidden=True)))


@dataclasses.dataclass(frozen=True)
class Finding:
    """What the tests of one rule found wrong, as the class report reads it.

    ``diagnosis`` is a mistake's id from :mod:`.diagnosis`, ``"ambiguous: <id> | <id>"``,
    ``"unknown"`` (the path parts, not by a common mistake), or how the rule failed
    (``"raised"``, ``"contract"``, ``"undefined"``, ``"sandbox"``).
    ``first_divergent_epoch`` is where its path parts from the reference on the original
    notebook's run, if it was trained there. ``message`` is the student's line, with no
    hidden setting in it.
    """

    diagnosis: str
    first_divergent_epoch: int | None = None
    message: str = ""
    rank: int = 0
    """How many runs it was found on, in kind (see :func:`_record`); not stored."""

    def stored(self) -> dict:
        """What the autograded notebook keeps of it, for the class report."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "rank"}


_RANK_FAILURE, _RANK_VISIBLE, _RANK_HIDDEN = 0, 1, 2
_FINDINGS: contextvars.ContextVar[dict[str, Finding] | None] = contextvars.ContextVar(
    "losslandscape_findings", default=None
)


@contextlib.contextmanager
def recording() -> Iterator[dict[str, Finding]]:
    """Collect what the checks called inside find, one :class:`Finding` per rule.

    The grader wraps each rule's tests in it (a context variable: each rule is
    graded in its own thread); where several checks find something, the one
    trained on the most runs wins.
    """
    findings: dict[str, Finding] = {}
    token = _FINDINGS.set(findings)
    try:
        yield findings
    finally:
        _FINDINGS.reset(token)


def _record(name: str, diagnosis: str, rank: int, epoch=None, message: str = "") -> None:
    findings = _FINDINGS.get()
    if findings is not None and (name not in findings or findings[name].rank <= rank):
        findings[name] = Finding(diagnosis, epoch, message, rank)


def _diagnose(step: Callable, name: str, runs: list, rank: int):
    """The :class:`~.diagnosis.Diagnosis` of ``runs`` and of ``step`` on the public
    :data:`DIAGNOSTIC_SETTINGS`, recorded for the class report."""
    from .diagnosis import diagnose, original_parting, run_key

    given = {run_key(name, setting) for setting, _ in runs}
    for setting in DIAGNOSTIC_SETTINGS[name]:
        if run_key(name, setting) in given:
            continue
        try:
            weights, _ = _run_trajectory(step, name, _setting(name, **setting))
        except SandboxError:
            break
        if weights is None:
            break
        runs.append((setting, weights))
    diagnosis = diagnose(name, runs)
    _record(name, diagnosis.label, rank, original_parting(name, runs), diagnosis.summary())
    return diagnosis


def self_check(step: Callable, name: str | None = None, **setting):
    """Draw ``step``'s trajectory against the reference on the landscape.

    Prints the first epoch where they part (or that they agree throughout) and
    returns a plotly figure. ``name`` defaults to ``step.__name__``; ``setting``
    takes the keywords of :func:`trajectory`.
    """
    from .figure import comparison_figure

    name = name or step.__name__
    weights, failure = _run_trajectory(step, name, _setting(name, **setting))
    expected = reference(name, **setting)
    epoch = first_parting(weights, expected)
    if failure is not None and failure.kind != "not finite":
        print(wrapped(f"{name} could not be trained: at epoch {failure.epoch}, {failure}"))
    elif epoch is None:
        print(f"{name} follows the reference for all {len(expected) - 1} epochs.")
    else:
        print(wrapped(_diagnose(step, name, [(setting, weights)], rank=_RANK_FAILURE).message()))
    figure = comparison_figure(name, weights, expected, epoch, landscape())
    return figure


MESSAGE_WIDTH = 82
"""Characters per line of a check's message: ``nbgrader validate`` cuts lines past 87,
its indent (4) and, on the first, ``AssertionError: `` (16) included."""
_FIRST_LINE_PREFIX = len("AssertionError: ")
_PARENTHESES = re.compile(r"\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)")
"""Parentheses with up to two levels inside: ``(w - lr * grad / (sqrt(sq_avg) + eps))``."""
_NO_BREAK = "\u00a0"


def wrapped(message: str) -> str:
    """``message`` in lines of :data:`MESSAGE_WIDTH`, a formula or point in parentheses kept
    on one line where it fits."""
    lines = []
    for number, paragraph in enumerate(message.split("\n")):
        lines += textwrap.wrap(
            _PARENTHESES.sub(_unbreakable, paragraph),
            MESSAGE_WIDTH,
            initial_indent=" " * _FIRST_LINE_PREFIX if number == 0 else "",
            break_long_words=False,
            break_on_hyphens=False,
        ) or [""]
    return "\n".join(lines).lstrip(" ").replace(_NO_BREAK, " ")


def _unbreakable(match: re.Match) -> str:
    # textwrap breaks lines at ASCII spaces only
    group = match.group()
    return group.replace(" ", _NO_BREAK) if len(group) <= MESSAGE_WIDTH // 2 else group


def _failure(message: str) -> AssertionError:
    return AssertionError(wrapped(message))


def _point(row: Sequence[float]) -> str:
    return f"({row[0]:.10g}, {row[1]:.10g})"
