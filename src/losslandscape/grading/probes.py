"""Probe a rule by calling it on chosen inputs, as a tutor would, where its path says too little.

A wrong rule whose path matches no mistake of :mod:`.diagnosis` is called directly
(through its sandbox when it is a :class:`~.sandbox.RuleProxy`, one fresh process per
call, which reports the arguments the rule changed) on fixed, public inputs: arrays of
shape :data:`PROBE_SHAPE`, the step count :data:`PROBE_T`, the learning rate
:data:`PROBE_LR` and the registry's default hyperparameters. :func:`probe` names what
the calls show, each as a :class:`ProbeFinding`:

- ``<rule>-raises``, ``-returns-none``, ``-returns-list``, ``-wrong-return-count``,
  ``-wrong-return-type``, ``-wrong-shape``: what it returns is not the rule's arrays;
- ``<rule>-wrong-return-order``: a reordering of what it returns is the reference's;
- ``<rule>-t-off-by-one``: it equals the reference called with ``t + 1`` or ``t - 1``;
- ``<rule>-w-ignored``, ``<rule>-t-ignored`` and
  ``<rule>-hyperparameter-ignored:<names>`` (``lr`` too): it returns the same whatever
  value that argument takes, where the reference's result changes (not said of a rule
  that ignores a state array too, whose hyperparameters go with it);
- ``<rule>-float32`` (or ``-float16``): it returns arrays of less precision;
- ``<rule>-inputs-changed``: the caller's arrays differ after the call.

A finding is named only from what the calls show, and an argument is said to be ignored
only by a rule whose result follows its gradient (one that returns a constant ignores
everything, which says nothing). A correct rule, however written (in place on copies,
``out=``, another library's form of the state), gives none. :mod:`.checks` probes a rule
where the catalogue finds nothing, and checks with :func:`inputs_changed` that every rule
leaves its inputs alone; :func:`meaning` reads an id for the class report (:mod:`.report`).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable, Sequence

import numpy as np

from ..optimizers import OPTIMIZERS, Hyperparameter, Optimizer
from . import _worker
from .mistakes import Mistake, fingerprint_arguments, outputs, same_outputs
from .runs import RULES, TOLERANCE, graded_function
from .sandbox import RuleProxy, SandboxError

PROBE_SHAPE = (2, 3)
"""The arrays' shape: another than the training loop's ``(1, 2)``."""
PROBE_T = 3
"""The step count, for rules that take one; ``t - 1`` and ``t + 1`` are valid too."""
PROBE_OTHER_T = 6
PROBE_LR = 0.1
PROBE_OTHER_LR = 0.4
_SEED = 20240518
_CLEARLY_APART = 1e-5
"""How far the reference's results for two values of an argument must be apart (relative)
before a rule that returns the same for both is said to ignore it."""


@dataclasses.dataclass(frozen=True)
class ProbeFinding:
    """What calling rule ``rule`` showed: ``id`` for the class report, and ``explanation``,
    what its code did and the fix, in the words of the catalogue's explanations."""

    id: str
    rule: str
    explanation: str

    @property
    def message(self) -> str:
        """The line a student reads."""
        return f"{self.rule}: {self.explanation}"


# --- Calling the rule ---------------------------------------------------------------


class _Stop(Exception):
    """The rule cannot be called any more: its sandbox broke down or it is undefined."""


@dataclasses.dataclass
class _Outcome:
    result: object = None
    raised: str | None = None
    """The exception's type, when the rule raised."""
    unsupported: str | None = None
    """What it returned, when that is not made of numbers (``an object of type str``)."""
    changed: tuple[int, ...] = ()
    """The positions of the array arguments whose values the call changed."""


def _call(step: Callable, args: Sequence) -> _Outcome:
    """``step(*args)`` on copies of ``args``: its result as the wire carries it, what it
    raised, and which arguments it changed. Raises :class:`_Stop` and
    :class:`~.sandbox.SandboxError` (the sandbox broke down)."""
    if isinstance(step, RuleProxy):
        return _call_in_sandbox(step, args)
    copies = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
    outcome = _Outcome()
    try:
        with np.errstate(all="ignore"):
            result = step(*copies)
        # As the sandbox would send it: numbers only, scalars and containers kept.
        outcome.result = _worker.decode(_worker.encode(result))
    except _worker.Unsupported as exc:
        outcome.unsupported = str(exc)
    except Exception as exc:
        outcome.raised = type(exc).__name__
    outcome.changed = tuple(
        i
        for i, (a, c) in enumerate(zip(args, copies, strict=True))
        if isinstance(a, np.ndarray) and not np.array_equal(a, c, equal_nan=True)
    )
    return outcome


def _call_in_sandbox(step: RuleProxy, args: Sequence) -> _Outcome:
    """One call job in the rule's sandbox: a fresh process runs the answer cell, calls the
    rule and reports which arguments it changed (see :func:`._worker._run_job`)."""
    reply = step.run({"kind": "call", "args": [_worker.encode(a) for a in args]})
    if "undefined" in reply:
        raise _Stop
    outcome = _Outcome()
    try:
        failure = reply.get("failure")
        if failure is not None:
            outcome.raised = _exception_type(str(failure["message"]))
        else:
            try:
                outcome.result = _worker.decode(reply["result"])
            except _worker.Unsupported as exc:
                outcome.unsupported = str(exc)[:100]
        changed = {int(i) for i in dict(reply.get("changed", {}))}
    except Exception:
        raise SandboxError(f"the sandbox of {step.__name__} sent a malformed reply") from None
    outcome.changed = tuple(
        sorted(i for i in changed if 0 <= i < len(args) and isinstance(args[i], np.ndarray))
    )
    return outcome


def _exception_type(described: str) -> str:
    """The type in :func:`._worker.describe`'s ``Type: message (line n of rule)``."""
    name = re.split(r"[:(]", described, maxsplit=1)[0].strip()
    return name if name.isidentifier() and len(name) <= 80 else "an exception"


# --- The inputs --------------------------------------------------------------------


class _Inputs:
    """The probe's arguments of one rule, by name, in its signature's order."""

    def __init__(self, optimizer: Optimizer):
        rng = np.random.default_rng(_SEED)
        self.values: dict = {
            "w": rng.normal(size=PROBE_SHAPE),
            "grad": rng.normal(size=PROBE_SHAPE),
            # positive, as the averages of squares must be; the velocities may be too
            **{name: rng.uniform(0.2, 1.5, size=PROBE_SHAPE) for name in optimizer.state},
            **({"t": PROBE_T} if optimizer.counts_steps else {}),
            "lr": PROBE_LR,
            **optimizer.defaults,
        }
        self.other_grad = rng.normal(size=PROBE_SHAPE)
        self.other_arrays = {
            "w": rng.normal(size=PROBE_SHAPE),
            **{name: rng.uniform(0.2, 1.5, size=PROBE_SHAPE) for name in optimizer.state},
        }
        self.optimizer = optimizer

    def args(self, **changes) -> tuple:
        return tuple(changes.get(name, value) for name, value in self.values.items())

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.values)

    def reference(self, **changes) -> tuple[np.ndarray, ...]:
        with np.errstate(all="ignore"):
            result = self.optimizer.step(*self.args(**changes))
        return tuple(result) if self.optimizer.state else (result,)


def _other_value(hyper: Hyperparameter) -> float:
    """A value of a hyperparameter far from its default, in its range."""
    if hyper.positive:
        return hyper.default * 4
    return 0.5 if abs(hyper.default - 0.5) > 0.2 else 0.2


# --- What the calls show --------------------------------------------------------------


def probe(step: Callable, name: str) -> list[ProbeFinding]:
    """What calling ``step``, written as rule ``name``, shows wrong; most telling first.

    ``step`` is a function or a :class:`~.sandbox.RuleProxy`. Empty for a correct rule,
    for a wrong one whose calls show none of the findings above, and for one that cannot
    be called (its sandbox broke down, it is undefined); should the sandbox break down
    half-way, what was found until then.
    """
    rule = graded_function(name)
    optimizer = OPTIMIZERS[RULES[rule]]
    inputs = _Inputs(optimizer)
    try:
        base = _call(step, inputs.args())
    except (_Stop, SandboxError):
        return []
    findings = []
    if base.raised is not None:
        findings.append(_finding(rule, "raises", _raises(base.raised)))
    elif base.unsupported is not None:
        findings.append(
            _finding(rule, "wrong-return-type", _wrong_type(base.unsupported, optimizer))
        )
    else:
        problem, got = _contract(rule, optimizer, base.result)
        if problem is not None:
            findings.append(problem)
        else:
            findings += _value_findings(step, rule, inputs, got)
    if base.changed:
        findings.append(_inputs_changed(rule, [inputs.names[i] for i in base.changed]))
    return findings


def settle(step: Callable, name: str, candidates: Sequence[Mistake]) -> tuple[Mistake, ...]:
    """Which of ``candidates`` (mistakes whose paths all match the student's) ``step``
    makes, told by calling it on :func:`.mistakes.fingerprint_arguments`, where different
    rules return different results; all of them where the calls cannot tell (the rule
    raises there, or cannot be called)."""
    rule = graded_function(name)
    calls = fingerprint_arguments(rule)
    try:
        got = [_call(step, args).result for args in calls]
        got = [tuple(np.asarray(x, dtype=float) for x in _as_tuple(r)) for r in got]
    except (_Stop, SandboxError, TypeError, ValueError):
        return tuple(candidates)
    kept = tuple(
        mistake
        for mistake in candidates
        if all(
            same_outputs(mine, outputs(mistake.step, args), TOLERANCE)
            for mine, args in zip(got, calls, strict=True)
        )
    )
    return kept or tuple(m for m in candidates if "+" not in m.id) or tuple(candidates)


def _as_tuple(result) -> tuple:
    if result is None:
        raise TypeError("no result")
    return tuple(result) if isinstance(result, list | tuple) else (result,)


def inputs_changed(step: Callable, name: str, args: Sequence) -> ProbeFinding | None:
    """What ``step`` changes of the caller's ``args`` (the rule's arguments, in order)
    when called on them, or None if nothing (or if it cannot be called). Raises
    :class:`~.sandbox.SandboxError` if its sandbox breaks down."""
    rule = graded_function(name)
    optimizer = OPTIMIZERS[RULES[rule]]
    try:
        outcome = _call(step, args)
    except _Stop:
        return None
    if not outcome.changed:
        return None
    names = _argument_names(optimizer)
    return _inputs_changed(rule, [names[i] for i in outcome.changed if i < len(names)])


def probe_arguments(name: str) -> tuple:
    """The probe's arguments of rule ``name``, in its signature's order."""
    return _Inputs(OPTIMIZERS[RULES[graded_function(name)]]).args()


def _value_findings(step, rule: str, inputs: _Inputs, got: tuple) -> list[ProbeFinding]:
    """What the values ``got`` (the rule's arrays on the probe's inputs), and its results
    on inputs changed one argument at a time, show."""
    optimizer = inputs.optimizer
    want = inputs.reference()
    low = sorted(
        {a.dtype for a in got if a.dtype.kind == "f" and a.dtype.itemsize < 8},
        key=lambda dtype: dtype.itemsize,
    )
    precision = max((np.finfo(dtype).resolution for dtype in low), default=0.0)
    tolerance = max(TOLERANCE, 100 * precision)

    def close(a, b, rtol=tolerance):
        return all(np.allclose(x, y, rtol=rtol, atol=rtol) for x, y in zip(a, b, strict=True))

    def apart(a, b):
        return not close(a, b, _CLEARLY_APART)

    findings = []
    if not all(np.isfinite(a).all() for a in got):
        return _precision(rule, low)  # NaN compares with nothing: the paths say it already
    right = close(got, want)
    labels = _labels(optimizer)
    if not right and len(got) > 1:
        for order in itertools.permutations(range(len(got))):
            if order != tuple(range(len(got))) and close([got[i] for i in order], want):
                returned = [""] * len(got)
                for j, i in enumerate(order):
                    returned[i] = labels[j]
                findings.append(
                    _finding(rule, "wrong-return-order", _wrong_order(returned, optimizer))
                )
                break
    off_by_one = None
    if not right and optimizer.counts_steps:
        off_by_one = next((d for d in (1, -1) if close(got, inputs.reference(t=PROBE_T + d))), None)
        if off_by_one is not None:
            findings.append(_finding(rule, "t-off-by-one", _t_off_by_one(off_by_one, rule)))
    try:
        # Only a rule whose result follows its gradient is said to ignore an argument:
        # one that returns a constant ignores everything, which says nothing.
        if _same(_arrays(step, rule, inputs.args(grad=inputs.other_grad)), got):
            return findings + _precision(rule, low)
        arrays = [
            key
            for key, value in inputs.other_arrays.items()
            if apart(inputs.reference(**{key: value}), want)
            and _same(_arrays(step, rule, inputs.args(**{key: value})), got)
        ]
        if "w" in arrays:
            findings.append(_finding(rule, "w-ignored", _W_IGNORED))
        if set(arrays) - {"w"}:
            # A state left out takes its hyperparameters with it (velocity = grad ignores
            # rho too): naming those would send the student to the wrong line.
            return findings + _precision(rule, low)
        if optimizer.counts_steps and off_by_one is None:
            changed = {"t": PROBE_OTHER_T}
            if apart(inputs.reference(**changed), want) and _same(
                _arrays(step, rule, inputs.args(**changed)), got
            ):
                findings.append(_finding(rule, "t-ignored", _t_ignored(rule)))
        others = {"lr": PROBE_OTHER_LR}
        others |= {key: _other_value(hyper) for key, hyper in optimizer.hyper.items()}
        ignored = [
            key
            for key, value in others.items()
            if apart(inputs.reference(**{key: value}), want)
            and _same(_arrays(step, rule, inputs.args(**{key: value})), got)
        ]
        if ignored:
            kind = "hyperparameter-ignored:" + ",".join(ignored)
            findings.append(_finding(rule, kind, _ignored(ignored)))
    except (_Stop, SandboxError):
        pass
    return findings + _precision(rule, low)


def _arrays(step, rule: str, args: tuple) -> tuple | None:
    """The rule's arrays for ``args``, or None where it raised or broke its contract."""
    outcome = _call(step, args)
    if outcome.raised is not None or outcome.unsupported is not None:
        return None
    problem, got = _contract(rule, OPTIMIZERS[RULES[rule]], outcome.result)
    return None if problem is not None else got


def _same(a: tuple | None, b: tuple) -> bool:
    return a is not None and all(
        np.allclose(x, y, rtol=TOLERANCE, atol=TOLERANCE) for x, y in zip(a, b, strict=True)
    )


def _precision(rule: str, low: list) -> list[ProbeFinding]:
    return [_finding(rule, dtype.name, _low_precision(dtype)) for dtype in low[:1]]


def _contract(rule: str, optimizer: Optimizer, result) -> tuple[ProbeFinding | None, tuple]:
    """What is wrong with the kind of ``result`` (None if nothing), and its arrays."""
    labels = _labels(optimizer)
    returned = _returned(optimizer)
    if result is None:
        return _finding(rule, "returns-none", f"it returns None: end it with return {returned}"), ()
    if isinstance(result, list):
        return _finding(rule, "returns-list", _list_returned(optimizer)), ()
    if len(labels) == 1 and isinstance(result, tuple):
        what = f"a tuple of {len(result)} value{'s' if len(result) != 1 else ''}"
        return _finding(rule, "wrong-return-count", f"it returns {what}: return w_new alone"), ()
    if len(labels) > 1 and not isinstance(result, tuple):
        what = "a single array" if isinstance(result, np.ndarray) else _kind(result)
        return _finding(
            rule, "wrong-return-count", f"it returns {what}: return the tuple {returned}"
        ), ()
    items = result if isinstance(result, tuple) else (result,)
    if len(items) != len(labels):
        return _finding(
            rule,
            "wrong-return-count",
            f"it returns {len(items)} values, not {len(labels)}: return {returned}",
        ), ()
    for label, item in zip(labels, items, strict=True):
        if isinstance(item, list):
            return _finding(
                rule,
                "returns-list",
                f"it returns a list as {label}: keep it the NumPy array that array arithmetic "
                "gives (no .tolist() or list())",
            ), ()
        if not isinstance(item, np.ndarray):
            return _finding(
                rule,
                "wrong-return-type",
                f"it returns {_kind(item)} as {label}: return NumPy arrays, of the weights' "
                "shape, computed with array arithmetic",
            ), ()
        if item.shape != PROBE_SHAPE:
            return _finding(
                rule,
                "wrong-shape",
                f"it returns {label} of shape {item.shape} for weights of shape {PROBE_SHAPE}: "
                "the rule works elementwise, so each array keeps the weights' shape",
            ), ()
    return None, tuple(items)


def _kind(value) -> str:
    if isinstance(value, np.generic | int | float):
        return "a single number"
    if isinstance(value, tuple):
        return "a tuple"
    return "None" if value is None else f"a {type(value).__name__}"


# --- Words ---------------------------------------------------------------------------


def _labels(optimizer: Optimizer) -> tuple[str, ...]:
    return ("w_new", *(f"{name}_new" for name in optimizer.state))


def _returned(optimizer: Optimizer) -> str:
    return ", ".join(_labels(optimizer))


def _argument_names(optimizer: Optimizer) -> tuple[str, ...]:
    counts = ("t",) if optimizer.counts_steps else ()
    return ("w", "grad", *optimizer.state, *counts, "lr", *optimizer.hyper)


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _finding(rule: str, kind: str, explanation: str) -> ProbeFinding:
    return ProbeFinding(f"{rule.removesuffix('_step')}-{kind}", rule, explanation)


def _raises(kind: str) -> str:
    return (
        f"it raises {kind} when called with arrays of shape {PROBE_SHAPE}: "
        "call it on such arrays yourself to find the line that raises"
    )


def _wrong_type(unsupported: str, optimizer: Optimizer) -> str:
    return f"it returns {unsupported} where NumPy arrays belong: return {_returned_as(optimizer)}"


def _returned_as(optimizer: Optimizer) -> str:
    if optimizer.state:
        return f"a tuple of NumPy arrays ({_returned(optimizer)})"
    return "a NumPy array (w_new)"


def _list_returned(optimizer: Optimizer) -> str:
    if optimizer.state:
        return f"it returns a list: return a tuple, as return {_returned(optimizer)} does"
    return "it returns a list: return the NumPy array that array arithmetic gives (w - lr * grad)"


def _wrong_order(returned: Sequence[str], optimizer: Optimizer) -> str:
    return f"it returns ({', '.join(returned)}): return ({_returned(optimizer)}), in that order"


_BIAS_CORRECTION = {"adam_step": " (m / (1 - beta1^t), v / (1 - beta2^t))"}
"""Where a rule uses its step count, for the messages on t; ``^`` keeps it from reading as
code."""


def _t_off_by_one(delta: int, rule: str) -> str:
    sign = "+" if delta > 0 else "-"
    return (
        f"it uses t {sign} 1 where t belongs: t counts this step already, from 1, so use it "
        f"as given{_BIAS_CORRECTION.get(rule, '')}"
    )


def _t_ignored(rule: str) -> str:
    return (
        "it ignores t: the result is the same whatever t it is given; use this step's "
        f"t{_BIAS_CORRECTION.get(rule, '')}"
    )


def _ignored(names: Sequence[str]) -> str:
    if len(names) == 1:
        (key,) = names
        return (
            f"it ignores {key}: the result is the same whatever {key} it is given; "
            f"use the argument {key}, not a number of your own"
        )
    return (
        f"it ignores {_and(names)}: the result is the same whatever values they are given; "
        "use the arguments, not numbers of your own"
    )


_W_IGNORED = (
    "it ignores w: the result is the same whatever weights it is given; the new weights are "
    "w moved by the step, not the step alone"
)


def _low_precision(dtype: np.dtype) -> str:
    digits = np.finfo(dtype).precision
    return (
        f"it returns {dtype.name} arrays, which keep about {digits} significant digits where "
        f"the grader compares 8: keep the float64 it is given (drop the conversion to "
        f"{dtype.name})"
    )


def _inputs_changed(rule: str, names: Sequence[str]) -> ProbeFinding:
    first = names[0]
    op = "-" if first == "w" else "*"
    return _finding(
        rule,
        "inputs-changed",
        f"it changes the caller's {_and(names)} in place: assign new arrays ({first} = "
        f"{first} {op} ... makes one, {first} {op}= ... changes the caller's), or work on a "
        f"copy ({first} = {first}.copy())",
    )


def _generic(kind: str, rule: str) -> str | None:
    """What a finding of ``kind`` means for rule ``rule``, whatever the details were."""
    optimizer = OPTIMIZERS[RULES[rule]]
    returned = _returned(optimizer)
    if kind.startswith("hyperparameter-ignored:"):
        names = kind.removeprefix("hyperparameter-ignored:").split(",")
        known = {"lr", *optimizer.hyper}
        return _ignored(names) if set(names) <= known else None
    if kind in ("float16", "float32"):
        return _low_precision(np.dtype(kind))
    return {
        "raises": f"it raises an exception when called with arrays of shape {PROBE_SHAPE}",
        "returns-none": f"it returns None: end it with return {returned}",
        "returns-list": f"it returns a list where {_returned_as(optimizer)} belongs",
        "wrong-return-count": f"it returns another number of values than {returned}",
        "wrong-return-type": f"it returns something else than {_returned_as(optimizer)}",
        "wrong-shape": "it returns arrays of another shape than the weights'",
        "wrong-return-order": f"it returns its arrays in another order than ({returned})",
        "t-off-by-one": (
            "it uses t + 1 or t - 1 where t belongs: t counts this step already, from 1"
            + _BIAS_CORRECTION.get(rule, "")
        ),
        "t-ignored": _t_ignored(rule),
        "w-ignored": _W_IGNORED,
        "inputs-changed": (
            "it changes the arrays it is given in place, so the caller's change too: assign "
            "new arrays, or work on copies"
        ),
    }.get(kind)


def meaning(diagnosis: str) -> str | None:
    """What the finding ``diagnosis`` (an id of :func:`probe`'s) means, for the class
    report; None if it is not one."""
    for rule in RULES:
        prefix = f"{rule.removesuffix('_step')}-"
        if diagnosis.startswith(prefix):
            text = _generic(diagnosis.removeprefix(prefix), rule)
            if text is not None:
                return text
    return None
