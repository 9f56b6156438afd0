"""How long autograding takes: one submission, and a class extrapolated from a batch.

Run with ``make bench``. Builds a throwaway course in a temporary folder,
submits ``--copies`` full-marks submissions and one more, and times plain
``nbgrader autograde`` as the instructor runs it. Targets: one submission in
under 15 s, a class of 300 in under 30 minutes.
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_grading_pipeline import ASSIGNMENT, ROOT, SUBMISSIONS, nbgrader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20, help="submissions in the batch")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        course = Path(folder)
        shutil.copy(ROOT / "nbgrader_config.py", course)
        for name in ("solutions", "assignments"):
            shutil.copytree(ROOT / name, course / name)
        nbgrader(course, "generate_assignment", ASSIGNMENT, "--force").check_returncode()
        for i in range(args.copies + 1):
            target = course / "submitted" / f"student{i:03d}" / ASSIGNMENT
            target.mkdir(parents=True)
            shutil.copy(SUBMISSIONS / "reference.ipynb", target / f"{ASSIGNMENT}.ipynb")

        start = time.perf_counter()
        nbgrader(course, "autograde", ASSIGNMENT, "--student", "student000").check_returncode()
        one = time.perf_counter() - start
        start = time.perf_counter()
        nbgrader(course, "autograde", ASSIGNMENT).check_returncode()
        batch = time.perf_counter() - start

    per_submission = batch / args.copies
    class_minutes = per_submission * 300 / 60
    print(f"one submission, nbgrader start-up included: {one:5.1f} s  (target < 15 s)")
    print(f"batch of {args.copies}: {batch:5.1f} s, {per_submission:.1f} s per submission")
    print(f"a class of 300, one after the other: {class_minutes:5.1f} min  (target < 30 min)")
    met = one < 15 and class_minutes < 30
    print("all targets met" if met else "TARGET MISSED")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
