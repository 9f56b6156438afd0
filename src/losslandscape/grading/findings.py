"""What the checks find wrong in each rule, recorded for the class report.

:mod:`.checks` records a :class:`Finding` as it fails a rule; :mod:`.autograde`
collects them per rule with :func:`recording` and stores them in the autograded
notebook, which :mod:`.report` reads. Outside :func:`recording` (in a student's
kernel) nothing is kept.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator

RANK_FAILURE, RANK_VISIBLE, RANK_HIDDEN = 0, 1, 2
"""What a finding rests on, in kind: a failure of the rule (it raised, say), a visible
test's runs, or the hidden tests' runs too; see :func:`record`."""


@dataclasses.dataclass(frozen=True)
class Finding:
    """What the tests of one rule found wrong, as the class report reads it.

    ``diagnosis`` is a mistake's id from :mod:`.diagnosis`, ``"ambiguous: <id> | <id>"``,
    what calling the rule showed (an id from :mod:`.probes`: ``"adam-t-off-by-one"``,
    ``"momentum-inputs-changed"``...), ``"unknown"`` (the path parts, not by a common
    mistake, and the calls show nothing), or how the rule failed (``"raised"``,
    ``"contract"``, ``"undefined"``, ``"sandbox"``).
    ``first_divergent_epoch`` is where its path parts from the reference on the original
    notebook's run, if it was trained there. ``message`` is the student's line, with no
    hidden setting in it.
    """

    diagnosis: str
    first_divergent_epoch: int | None = None
    message: str = ""
    rank: int = 0
    """How many runs it was found on, in kind (see :func:`record`); not stored."""

    def stored(self) -> dict:
        """What the autograded notebook keeps of it, for the class report."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "rank"}


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


def record(name: str, diagnosis: str, rank: int, epoch=None, message: str = "") -> None:
    """Keep a :class:`Finding` for rule ``name`` unless one of higher ``rank`` is kept."""
    findings = _FINDINGS.get()
    if findings is not None and (name not in findings or findings[name].rank <= rank):
        findings[name] = Finding(diagnosis, epoch, message, rank)
