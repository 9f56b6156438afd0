"""What a student reads when a check fails: lines that fit, hidden tests that tell no setting.

Used by :mod:`.checks` (and by :mod:`.diagnosis` for a point's format); it imports
nothing of the grader's. A hidden test's message names the rule, the kind of
failure and the epoch where it shows, never the settings or the student's own
error text.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence

MESSAGE_WIDTH = 82
"""Characters per line of a check's message: ``nbgrader validate`` cuts lines past 87,
its indent (4) and, on the first, ``AssertionError: `` (16) included."""
_FIRST_LINE_PREFIX = len("AssertionError: ")
_PARENTHESES = re.compile(r"\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)")
"""Parentheses with up to two levels inside: ``(w - lr * grad / (sqrt(sq_avg) + eps))``."""
_NO_BREAK = "\u00a0"

_HIDDEN_KINDS = {
    "raised": "it raised an exception",
    "contract": "it returned something other than the arrays it must return",
    "not finite": "its weights stopped being finite",
    "undefined": "its answer cell does not define it",
    "sandbox": "the sandbox stopped it (time, memory, or the process ended)",
}
_HIDDEN_HINT = (
    "Hidden tests use other starts, learning rates, hyperparameters, shapes and run lengths"
)
_SELF_CHECK_SETTINGS = "(its arguments start, lr, epochs and hyperparameters)"


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


def failed(message: str) -> AssertionError:
    """The error a failing check raises: ``message``, :func:`wrapped`."""
    return AssertionError(wrapped(message))


def point(row: Sequence[float]) -> str:
    """Two weights as a student reads them: ``(x, y)`` to ten significant digits."""
    return f"({row[0]:.10g}, {row[1]:.10g})"


def with_hint(message: str, original_run_shows: bool | None = None) -> str:
    """``message`` with the hint on what hidden tests vary after its first line, and where
    to look: ``self_check`` as it is (on the original notebook's run) where that run shows
    the mistake (``original_run_shows``), with other settings where it does not, and
    either where that is not known."""
    first, *notes = message.split("\n")
    if original_run_shows is None:
        hint = f"{_HIDDEN_HINT}; self_check takes other settings too {_SELF_CHECK_SETTINGS}."
    elif original_run_shows:
        hint = f"{_HIDDEN_HINT}; self_check shows it on the original notebook's run."
    else:
        hint = (
            f"{_HIDDEN_HINT}, and your rule follows the reference on the original notebook's "
            f"run: try self_check with other settings {_SELF_CHECK_SETTINGS}."
        )
    return "\n".join([f"{first}. {hint}", *notes])


def hidden_message(name: str, kind: str, epoch: int | None = None) -> str:
    """A hidden test's failure of rule ``name``: the kind of failure and the epoch alone."""
    when = f" at epoch {epoch}" if epoch is not None else ""
    what = _HIDDEN_KINDS.get(kind, "it failed")
    return with_hint(f"{name} fails a hidden test: {what}{when}")
