"""The checks the assignment's tests call, and the student's self-check.

Each trains the rule through :mod:`.runs` on the visible, hidden or diagnostic
settings of :mod:`.settings`, compares every epoch (or step) with the reference,
and fails with a message from :mod:`.messages` that names the mistake (from
:mod:`.diagnosis`) where a common one fits, or else what calling the rule shows
(:mod:`.probes`); what it finds is recorded for the class report (:mod:`.findings`).
Every steps check also fails a rule that changes its inputs. The hidden checks'
messages tell no setting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ..optimizers import OPTIMIZERS
from . import probes
from ._worker import RuleFailure
from .diagnosis import diagnose, original_parting, run_key
from .findings import RANK_FAILURE, RANK_HIDDEN, RANK_VISIBLE, record
from .messages import failed, hidden_message, with_hint, wrapped
from .mistakes import mistakes_for, outputs, same_outputs, state_forms
from .runs import (
    RULES,
    TOLERANCE,
    first_parting,
    job_setting,
    landscape,
    reference,
    run_steps,
    run_trajectory,
)
from .sandbox import SandboxError
from .settings import diagnostic_settings, hidden_steps_settings, hidden_trajectory_settings


def check_trajectory(step: Callable, name: str, *, hidden: bool = False, **setting) -> None:
    """Assert that ``step`` follows the reference for ``name`` at every epoch.

    ``setting`` takes the keywords of :func:`~.runs.trajectory`. The message names
    the first epoch where the two part and both points there, or how the rule
    failed; with ``hidden`` it says only the kind of failure and the epoch.
    """
    weights, failure = _student_run(step, name, setting, hidden)
    expected = reference(name, **setting)
    epoch = first_parting(weights, expected)
    if epoch is None:
        return
    if _broke(failure, epoch):
        if hidden:
            record(name, failure.kind, RANK_FAILURE)
            raise failed(hidden_message(name, failure.kind, epoch))
        raise failed(_failure_named(step, name, failure, f"{name} fails at epoch {epoch}"))
    diagnosis = _diagnose(
        step, name, [(setting, weights)], rank=RANK_HIDDEN if hidden else RANK_VISIBLE
    )
    if hidden:
        raise failed(_hidden(diagnosis))
    raise failed(diagnosis.message())


def _student_run(step: Callable, name: str, setting: dict, hidden: bool):
    """``(weights, failure)`` of the student's rule for ``setting``; fails the check, on
    record, when its sandbox broke down or its answer cell does not define the rule."""
    try:
        weights, failure = run_trajectory(step, name, job_setting(name, **setting))
    except SandboxError as exc:
        record(name, "sandbox", RANK_FAILURE)
        raise failed(hidden_message(name, "sandbox") if hidden else str(exc)) from None
    if weights is None:
        record(name, "undefined", RANK_FAILURE)
        raise failed(hidden_message(name, "undefined") if hidden else f"{name}: {failure}")
    return weights, failure


def _broke(failure: RuleFailure | None, epoch: int) -> bool:
    """Whether the rule itself failed where its path parts (raised, returned junk),
    rather than taking a wrong step; a path that leaves the finite numbers is a step."""
    return failure is not None and failure.epoch == epoch and failure.kind != "not finite"


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
    """Assert that ``step`` matches the reference for a few steps on random arrays of ``shape``,
    and leaves the arrays it is given as they were.

    Each step starts from the reference's weights and state, so a wrong step
    is named by its number. A rule that changes its inputs is recorded as such
    (:func:`.probes.inputs_changed`).
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
    prefix = f"{name} fails a hidden test" if hidden else name
    try:
        got = run_steps(step, name, len(optimizer.state), calls)
        # An in-place change can make the step itself wrong, so it is named first; the
        # last step's state is no longer zero, which a scaling in place would leave as is.
        changed = probes.inputs_changed(step, name, calls[-1])
    except SandboxError as exc:
        raise failed(hidden_message(name, "sandbox") if hidden else str(exc)) from None
    except RuleFailure as failure:
        if hidden:
            raise failed(hidden_message(name, failure.kind)) from None
        raise failed(_failure_named(step, name, failure, name)) from None
    if changed is not None:
        record(name, changed.id, RANK_FAILURE, None, changed.message)
        raise failed(f"{prefix}: {changed.explanation}")
    for t, (mine, theirs) in enumerate(zip(got, wants, strict=True), start=1):
        for label, a, b in zip(("w_new", *optimizer.state), mine, theirs, strict=True):
            if not np.allclose(a, b, rtol=TOLERANCE, atol=TOLERANCE):
                raise failed(_wrong_steps(step, name, calls, got, f"{prefix}, step {t}", label))


def _failure_named(step: Callable, name: str, failure: RuleFailure, where: str) -> str:
    """The message of a rule that failed: for one that returned something else than its
    arrays, what calling it shows (a list, the wrong order, ...; :func:`.probes.probe`),
    recorded; else the failure itself (an exception's own message and line say more)."""
    found = []
    if failure.kind == "contract":
        try:
            found = probes.probe(step, name)
        except SandboxError:
            found = []
    if not found:
        record(name, failure.kind, RANK_FAILURE)
        return f"{where}: {failure}"
    record(name, found[0].id, RANK_FAILURE, None, found[0].message)
    return f"{where}: {found[0].explanation}"


def _wrong_steps(step: Callable, name: str, calls: list, got: list, where: str, label: str) -> str:
    """The message of a steps test whose step ``where`` gives a wrong ``label``: the
    catalogue's mistake (or another library's form of the state) that returns what the rule
    returned on every call, else what calling the rule shows (:func:`.probes.probe`),
    recorded; else only where."""
    for mistake in (*mistakes_for(name), *state_forms(name)):
        if all(
            same_outputs(tuple(mine), outputs(mistake.step, args), TOLERANCE)
            for mine, args in zip(got, calls, strict=True)
        ):
            said = [f"{name}: {mistake.explanation}", mistake.convention]
            record(name, mistake.id, RANK_FAILURE, None, "\n".join(filter(None, said)))
            return "\n".join(filter(None, [f"{where}: {mistake.explanation}", mistake.convention]))
    try:
        found = probes.probe(step, name)
    except SandboxError:
        found = []
    if found:
        record(name, found[0].id, RANK_FAILURE, None, found[0].message)
        return f"{where}: {found[0].explanation}"
    return f"{where} gives a wrong {label}"


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
        _note_inputs_changed(step, name)
        return
    failure, epoch = parted[0]
    if _broke(failure, epoch):
        record(name, failure.kind, RANK_FAILURE)
        raise failed(hidden_message(name, failure.kind, epoch))
    diagnosis = _diagnose(step, name, [(s, w) for s, w, _, _ in runs], rank=RANK_HIDDEN)
    # The first hidden run is the original notebook's, all 1000 epochs: self_check's own.
    raise failed(_hidden(diagnosis, original_run_shows=runs[0][3] is not None))


def _hidden(diagnosis, original_run_shows: bool | None = None) -> str:
    """A hidden test's message of ``diagnosis``; with the hint on what hidden tests vary
    unless calling the rule showed what is wrong (which the visible tests may not show)."""
    message = diagnosis.message(hidden=True)
    if diagnosis.verdict == "probed":
        return message
    return with_hint(message, original_run_shows)


def _note_inputs_changed(step: Callable, name: str) -> None:
    """Record, for the class report and the comment under the answer, a rule whose paths are
    right but which changes its inputs: the steps test failed it, perhaps by an assertion
    of its own before :func:`check_steps` could record why."""
    try:
        changed = probes.inputs_changed(step, name, probes.probe_arguments(name))
    except SandboxError:
        return
    if changed is not None:
        record(name, changed.id, RANK_FAILURE, None, changed.message)


def _diagnose(step: Callable, name: str, runs: list, rank: int):
    """The :class:`~.diagnosis.Diagnosis` of ``runs`` and of ``step`` on the public
    :func:`~.settings.diagnostic_settings`, recorded for the class report; where no common
    mistake fits, with what calling ``step`` shows (:func:`.probes.probe`)."""
    given = {run_key(name, setting) for setting, _ in runs}
    for setting in diagnostic_settings(name):
        if run_key(name, setting) in given:
            continue
        try:
            weights, _ = run_trajectory(step, name, job_setting(name, **setting))
        except SandboxError:
            break
        if weights is None:
            break
        runs.append((setting, weights))
    diagnosis = diagnose(name, runs)
    if diagnosis.verdict == "ambiguous":
        diagnosis = diagnosis.settled(probes.settle(step, name, diagnosis.mistakes))
    if diagnosis.verdict == "unknown":
        found = probes.probe(step, name)
        if found:
            diagnosis = diagnosis.probed(found)
    record(name, diagnosis.label, rank, original_parting(name, runs), diagnosis.summary())
    return diagnosis


def self_check(step: Callable, name: str | None = None, **setting):
    """Draw ``step``'s trajectory against the reference on the landscape.

    Prints the first epoch where they part (or that they agree throughout) and
    returns a plotly figure. ``name`` defaults to ``step.__name__``; ``setting``
    takes the keywords of :func:`~.runs.trajectory`.
    """
    # Imported here: the grader never draws, so autograding never loads plotly.
    from .figure import comparison_figure

    name = name or step.__name__
    weights, failure = run_trajectory(step, name, job_setting(name, **setting))
    expected = reference(name, **setting)
    epoch = first_parting(weights, expected)
    stopped = None
    if failure is not None and failure.kind != "not finite":
        where = f"{name} could not be trained from epoch {failure.epoch}"
        said = _failure_named(step, name, failure, where)
        stopped = (failure.epoch, said.removeprefix(f"{where}: "))
        print(wrapped(said))
    elif epoch is None:
        print(f"{name} follows the reference for all {len(expected) - 1} epochs.")
    else:
        print(wrapped(_diagnose(step, name, [(setting, weights)], rank=RANK_FAILURE).message()))
    return comparison_figure(name, weights, expected, epoch, landscape(), stopped)
