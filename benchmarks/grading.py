"""How long autograding takes: one submission, and a whole class in one batch.

Run with ``make bench``. Builds a throwaway course in a temporary folder,
submits ``--class-size`` full-marks submissions and times plain
``nbgrader autograde`` as the instructor runs it, start-up included.
Targets: one submission in under 15 s, a class of 300 in under 5 minutes.
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixture_submissions import Case, notebook
from tests.test_grading_pipeline import ASSIGNMENT, ROOT, nbgrader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--class-size", type=int, default=300, help="submissions in the batch")
    args = parser.parse_args()
    text = json.dumps(notebook(Case()))
    with tempfile.TemporaryDirectory() as folder:
        course = Path(folder)
        shutil.copy(ROOT / "nbgrader_config.py", course)
        shutil.copy(ROOT / "_config.yml", course)  # the published book's address
        for name in ("solutions", "assignments"):
            shutil.copytree(ROOT / name, course / name)
        nbgrader(course, "generate_assignment", ASSIGNMENT, "--force").check_returncode()
        for i in range(args.class_size):
            target = course / "submitted" / f"student{i:03d}" / ASSIGNMENT
            target.mkdir(parents=True)
            (target / f"{ASSIGNMENT}.ipynb").write_text(text)

        start = time.perf_counter()
        nbgrader(course, "autograde", ASSIGNMENT, "--student", "student000").check_returncode()
        one = time.perf_counter() - start
        start = time.perf_counter()
        result = nbgrader(course, "autograde", ASSIGNMENT, "--force")
        result.check_returncode()
        batch = time.perf_counter() - start
        graded = result.stderr.count("of 25 points in")

    minutes = batch / 60
    print(f"one submission, nbgrader start-up included: {one:5.1f} s  (target < 15 s)")
    print(
        f"a class of {graded} in one batch: {minutes:4.1f} min, "
        f"{batch / graded:.2f} s per submission  (target for 300: < 5 min)"
    )
    met = one < 15 and graded == args.class_size and batch / graded * 300 < 300
    print("all targets met" if met else "TARGET MISSED")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
