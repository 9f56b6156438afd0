"""How long autograding takes: one submission, a whole class in one batch, and a batch of
wrong submissions whose mistakes are named.

Run with ``make bench``. Builds throwaway courses in temporary folders and times plain
``nbgrader autograde`` as the instructor runs it, start-up included: ``--class-size``
full-marks submissions, then the fixture submissions that hand in every mistake of the
diagnosis catalogue (each wrong rule is trained once more on the public diagnostic runs
and every mistake of its rule is trained on all its runs, so a wrong submission costs
more than a right one); and the landscape assignment's fixture answers, right and wrong.
Targets: one submission of either assignment in under 15 s, a class of 300 in under 5
minutes.
"""

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixture_submissions import CASES, Case, notebook
from tests.landscape_submissions import CASES as LANDSCAPE_CASES
from tests.landscape_submissions import notebook_text
from tests.test_grading_pipeline import ASSIGNMENT, make_course, nbgrader


def autograde(course: Path, *args: str, assignment: str = ASSIGNMENT) -> tuple[float, int]:
    """Seconds that ``nbgrader autograde`` takes in ``course``, and how many it graded."""
    start = time.perf_counter()
    result = nbgrader(course, "autograde", assignment, *args)
    result.check_returncode()
    graded = re.findall(r"graded \S+: [\d.]+ of [\d.]+ points in", result.stderr)
    return time.perf_counter() - start, len(graded)


def landscape(copies: int) -> tuple[float, float, int]:
    """One right landscape submission's seconds, start-up included, and a batch of every
    fixture answer (right in five styles, wrong in fifteen ways) ``copies`` times over."""
    submissions = {
        f"{name}{i}": notebook_text(case)
        for i in range(copies)
        for name, case in LANDSCAPE_CASES.items()
    }
    with tempfile.TemporaryDirectory() as folder:
        course = make_course(Path(folder), submissions, None, "landscape")
        one, _ = autograde(course, "--student", "reference0", assignment="landscape")
        batch, graded = autograde(course, "--force", assignment="landscape")
    return one, batch, graded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--class-size", type=int, default=300, help="submissions in the batch")
    args = parser.parse_args()
    right = json.dumps(notebook(Case()))
    wrong = {
        name: json.dumps(notebook(case))
        for name, case in CASES.items()
        if name.startswith("mistakes_")
    }
    with tempfile.TemporaryDirectory() as folder:
        course = make_course(
            Path(folder),
            {f"student{i:03d}": right for i in range(args.class_size)},
            rule_seconds=None,
        )
        one, _ = autograde(course, "--student", "student000")
        batch, graded = autograde(course, "--force")
    with tempfile.TemporaryDirectory() as folder:
        mistakes, diagnosed = autograde(make_course(Path(folder), wrong, rule_seconds=None))

    minutes = batch / 60
    print(f"one submission, nbgrader start-up included: {one:5.1f} s  (target < 15 s)")
    print(
        f"a class of {graded} in one batch: {minutes:4.1f} min, "
        f"{batch / graded:.2f} s per submission  (target for 300: < 5 min)"
    )
    # The rules of a submission are graded side by side, so the batch keeps every core busy:
    # the rate per core is what sizes a class's grading machines (deploy/kubernetes).
    print(
        f"grading rate: {graded / minutes / os.cpu_count():.0f} full-marks submissions per "
        f"minute per core ({os.cpu_count()} cores), "
        f"{diagnosed / (mistakes / 60) / os.cpu_count():.0f} wrong ones"
    )
    print(
        f"{diagnosed} submissions with every mistake of the catalogue named: {mistakes:.1f} s, "
        f"{mistakes / diagnosed:.2f} s per submission, start-up included"
    )
    landscape_one, landscape_batch, landscape_graded = landscape(copies=5)
    print(
        f"landscape: one submission {landscape_one:4.1f} s, start-up included (target < 15 s); "
        f"{landscape_graded} fixture submissions (right and wrong) in {landscape_batch:.1f} s, "
        f"{landscape_batch / landscape_graded:.2f} s each"
    )
    met = (
        one < 15
        and graded == args.class_size
        and batch / graded * 300 < 300
        and landscape_one < 15
        and landscape_graded == 5 * len(LANDSCAPE_CASES)
    )
    print("all targets met" if met else "TARGET MISSED")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
