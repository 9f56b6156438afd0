"""Check a student's update rule against the library's, trajectory by trajectory.

The assignment's tests and the student's self-check (``from losslandscape import
grading``) call the checks; nbgrader runs them through the course's plugins. The
modules, in the order grading goes:

1. :mod:`._worker` trains a rule with the loop both the student's rule and the
   reference take; it is also the script that runs student code in
   :mod:`.sandbox`, bubblewrap, one sandbox per rule, when nbgrader autogrades.
2. :mod:`.runs` trains a rule through that loop, right here or in its sandbox, and
   compares its path with the reference's (:func:`trajectory`, :func:`reference`,
   :func:`first_parting`).
3. :mod:`.settings` draws the hidden tests' settings when grading starts and holds
   the public :func:`diagnostic_settings`.
4. :mod:`.diagnosis` names a wrong rule's mistake from the paths it leaves; where
   no common mistake fits, :mod:`.probes` calls the rule on chosen inputs, as a tutor
   would (a hyperparameter ignored, inputs changed in place, ``t`` off by one...).
5. :mod:`.checks` holds what the tests call (:func:`check_trajectory`,
   :func:`check_steps`, :func:`check_hidden_steps`,
   :func:`check_hidden_trajectories`) and :func:`self_check`, which draws the
   comparison with :mod:`.figure`. Their messages are written by :mod:`.messages`,
   and what they find is recorded (:mod:`.findings`) for the class report.
6. :mod:`.autograde`: nbgrader's autograde phase, answers in sandboxes and tests
   in the grader.
7. :mod:`.feedback`: the feedback phase, the page a student reads.
8. :mod:`.report`: the instructor's class report and the grades to import.

:mod:`.release` links the released notebook to the published book, before all of it.

The second assignment, ``landscape``, goes through the same sandbox, autograde, feedback
and report; its own steps are :mod:`.frozen_network` (the reference answers and the
original notebook's loop), :mod:`.landscape_checks` (what its tests call: the checks, the
named mistakes, the speed race) and :mod:`.map_figure` (:func:`self_check_map`).
"""

from .checks import (
    check_hidden_steps,
    check_hidden_trajectories,
    check_steps,
    check_trajectory,
    self_check,
)
from .findings import Finding, recording
from .landscape_checks import (
    check_cost,
    check_gradient,
    check_hidden,
    check_map,
    check_map_speed,
    check_outputs,
)
from .messages import MESSAGE_WIDTH, wrapped
from .runs import RULES, TOLERANCE, first_parting, landscape, reference, trajectory
from .settings import (
    DRAW_SEED,
    diagnostic_settings,
    hidden_steps_settings,
    hidden_trajectory_settings,
)

__all__ = [
    "DRAW_SEED",
    "MESSAGE_WIDTH",
    "RULES",
    "TOLERANCE",
    "Finding",
    "check_cost",
    "check_gradient",
    "check_hidden",
    "check_hidden_steps",
    "check_hidden_trajectories",
    "check_map",
    "check_map_speed",
    "check_outputs",
    "check_steps",
    "check_trajectory",
    "diagnostic_settings",
    "first_parting",
    "hidden_steps_settings",
    "hidden_trajectory_settings",
    "landscape",
    "recording",
    "reference",
    "self_check",
    "self_check_map",
    "trajectory",
    "wrapped",
]


def self_check_map(cost_map, gradient=None):
    """Draw ``cost_map`` beside the reference map, with ``gradient``'s arrows; see
    :func:`.map_figure.self_check_map`. Imported here: the grader never draws."""
    from .map_figure import self_check_map as draw

    return draw(cost_map, gradient)
