"""Name a student's mistake from the trajectories their rule leaves.

A wrong rule leaves a wrong path, and the common mistakes leave paths we can
compute: :mod:`.mistakes` grows them from the reference rules, and :func:`diagnose`
trains every mistake of a rule through the grader's own loop (the one
:func:`~.runs.reference` takes) on the settings the student's rule was run on, and
where none fits, every two of them made together, and for a path that parts only after
the visible run's epochs, every one of them made only from then on. A mistake is named only when its
path matches the student's on every setting, to the grader's tolerance; the student's
code is never read. It sits on :mod:`.runs`; :mod:`.checks` calls it when a rule's
path parts from the reference, settles what paths cannot tell apart by calling the
rule (:func:`.probes.settle`), and where no mistake fits, asks :mod:`.probes` what
calling the rule shows (:meth:`Diagnosis.probed`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable, Mapping

import numpy as np

from ..optimizers import OPTIMIZERS
from .messages import point
from .mistakes import Mistake, late_for, mistakes_for, pairs_for
from .runs import RULES, first_parting, graded_function, job_setting, reference, trajectory


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

    def settled(self, mistakes: tuple[Mistake, ...]) -> Diagnosis:
        """This ambiguous diagnosis narrowed to ``mistakes`` (by calling the rule)."""
        verdict = "mistake" if len(mistakes) == 1 else "ambiguous"
        return dataclasses.replace(self, verdict=verdict, mistakes=mistakes)

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
    correct if it follows the reference on every run; a mistake (or, where none
    does, two made together) is named only if its path agrees with the student's
    on every run, so give the hidden runs too: one run can be a coincidence.
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
    shortest_first = sorted(runs, key=lambda run: len(run[1]))

    def fits(mistake: Mistake) -> bool:
        return all(first_parting(w, _mistake_path(mistake, k)) is None for k, w in shortest_first)

    matches = tuple(filter(fits, mistakes_for(rule)))
    if not matches or not np.isfinite(weights[epoch]).all():
        # Paths that stop being finite tell little: two mistakes made together may fail
        # where one does, and calling the rule settles which (probes.settle).
        matches += tuple(filter(fits, pairs_for(rule)))
    visible = job_setting(rule)["epochs"]
    if not matches and min(e for e in partings if e is not None) > visible:
        # Right for as long as the visible run: a mistake made only past it?
        matches = tuple(filter(fits, late_for(rule, visible)))
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


@functools.lru_cache(maxsize=4096)
def _mistake_path(mistake: Mistake, key: tuple) -> np.ndarray:
    # The grader's loop, as for the reference; cached, as the catalogue's paths
    # are the same for every student graded in one process.
    setting = dict(key)
    setting["hyperparameters"] = dict(setting["hyperparameters"])
    weights = trajectory(mistake.stepper(), mistake.rule, **setting)
    weights.flags.writeable = False
    return weights
