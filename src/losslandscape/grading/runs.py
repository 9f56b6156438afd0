"""Train a rule through the worker's loop and compare its path with the reference's.

The first step of grading, under every check: a student's rule and the library's
(the reference) take the very same loop, :func:`._worker.run_trajectory`, and
differ only in the rule. In the student's kernel the rule is their own function and
the loop runs right here; when nbgrader autogrades, it is a
:class:`~.sandbox.RuleProxy`, the loop runs inside the rule's sandbox and only the
comparison runs in the grader (see :mod:`.autograde`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import numpy as np

from ..data import bundled_path
from ..landscape import Landscape
from ..optimizers import OPTIMIZERS
from ..training import SEED_EPOCHS, SEED_LR, SEED_START
from . import _worker
from ._worker import RuleFailure
from .sandbox import RuleProxy, SandboxError


class _GradedRules(Mapping[str, str]):
    """Read from the registry at each use, so a rule registered later is graded too."""

    def _current(self) -> dict[str, str]:
        return {
            optimizer.assignment.function: name
            for name, optimizer in OPTIMIZERS.items()
            if optimizer.assignment is not None
        }

    def __getitem__(self, function: str) -> str:
        return self._current()[function]

    def __iter__(self):
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())

    def __repr__(self) -> str:
        return repr(self._current())


RULES: Mapping[str, str] = _GradedRules()
"""The functions students write, each with the name of its method (from the registry's
:class:`~losslandscape.optimizers.Exercise` entries)."""

TOLERANCE = 1e-8
"""Relative and absolute: loose enough for a rule written in another but equal order."""


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


def job_setting(name, start=SEED_START, lr=SEED_LR, epochs=SEED_EPOCHS, hyperparameters=None):
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


def run_trajectory(step: Callable, name: str, setting: dict):
    """``(weights, failure)`` of ``step`` for a :func:`job_setting`, in its sandbox or right here.

    ``weights`` is None when the rule's answer cell does not define it.
    """
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


def run_steps(step: Callable, name: str, n_state: int, calls: list) -> list:
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


def _reported_failure(failure: dict) -> RuleFailure:
    """The failure a sandbox reported, checked: the child that writes the reply runs the
    student's code, so a kind other than :data:`._worker.FAILURE_KINDS` (which would reach
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
    weights, _ = run_trajectory(step, name, job_setting(name, **setting))
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
    weights, _ = run_trajectory(
        step, name, job_setting(name, hyperparameters=dict(hyperparameters), **setting)
    )
    weights.flags.writeable = False
    return weights


def first_parting(weights: np.ndarray, expected: np.ndarray) -> int | None:
    """The first epoch where the paths differ by more than :data:`TOLERANCE`; NaN meets NaN."""
    close = np.isclose(weights, expected, rtol=TOLERANCE, atol=TOLERANCE, equal_nan=True)
    close = close.all(axis=1)
    return None if close.all() else int(np.argmin(close))


def graded_function(name: str) -> str:
    """The function students write for ``name``: itself, or the one of a method's name."""
    if name in RULES:
        return name
    for rule, method in RULES.items():
        if method == name:
            return rule
    allowed = ", ".join(f"{rule} ({method})" for rule, method in RULES.items())
    raise ValueError(f"unknown rule {name!r}; allowed: {allowed}")
