"""How well the feedback knows what learners write: mistakes named, false alarms, and
hidden runs that can tell, measured on the test fixtures.

Run with ``make bench``. Grades every fixture rule as the notebook's test cells do (the
visible steps test, the visible trajectory, the hidden steps and trajectories) and reads
what is recorded for the class report:

- mistakes named: the hand-written versions of the catalogue's mistakes and the mistakes
  learners publish (``tests/student_rules.py``), each with the diagnosis it must get;
- false alarms: correct rules written in other styles that are diagnosed at all;
- hidden runs that tell: over ``--seeds`` grading processes, how often a drawn run fails to
  tell some mistake from the reference (the draw then falls back), and which.
"""

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from losslandscape import grading
from losslandscape.grading import mistakes, settings
from tests.student_rules import CORRECT_OTHERWISE, CORRECT_STYLES, REAL_WORLD, STUDENTS
from tests.test_diagnosis import adam_step_typo
from tests.test_mistakes import graded_as_the_notebook_grades


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="grading processes to draw")
    args = parser.parse_args()

    cases = [(step, rule, want) for step, (rule, want) in REAL_WORLD.items()]
    for mistake_id, versions in STUDENTS.items():
        rule = mistakes.find(mistake_id).rule
        cases += [(step, rule, mistake_id) for step in versions]
    cases.append((adam_step_typo, "adam_step", "unknown"))  # beta1 * t for beta1 ** t
    named = right = 0
    unnamed = []
    for step, rule, want in cases:
        got, _ = graded_as_the_notebook_grades(step, rule)
        named += got not in ("", "unknown")
        right += got == want
        if got in ("", "unknown"):
            unnamed.append(f"{rule}: {step.__name__}")
    print(
        f"mistakes: {len(cases)}, named {named} ({named / len(cases):.0%}), "
        f"named as expected {right}"
    )
    print("  still 'not by a common mistake':", ", ".join(unnamed) or "none")

    correct = [
        (step, rule)
        for rule in grading.RULES
        for step in (*CORRECT_OTHERWISE[rule], *CORRECT_STYLES[rule])
    ]
    alarms = [
        f"{rule}: {step.__name__} -> {got}"
        for step, rule in correct
        for got, _ in [graded_as_the_notebook_grades(step, rule)]
        if got and got not in ("momentum-lr-in-velocity", "nesterov-gradient-sum")
    ]
    print(
        f"correct rules in other styles: {len(correct)}, diagnosed: {len(alarms)}",
        *alarms,
        sep="\n  ",
    )

    untold = collections.Counter()
    for seed in range(args.seeds):
        settings.DRAW_SEED = 1000 + seed
        settings.hidden_trajectory_settings.cache_clear()
        for rule in grading.RULES:
            for setting in grading.hidden_trajectory_settings(rule)[1:]:
                untold.update(settings.untold(rule, setting))
    print(
        f"hidden runs drawn: {args.seeds} processes x {len(grading.RULES)} rules x 3; "
        f"mistakes some run failed to tell: {dict(untold) or 'none'}"
    )


if __name__ == "__main__":
    main()
