"""The whole nbgrader pipeline on the fixture submissions in tests/submissions/.

One course folder is built in a temporary directory: release, submit every
fixture as its own student, ``nbgrader autograde`` them all in one batch,
generate feedback and export the grades, exactly as the instructor would.
"""

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .fixture_submissions import RULES, expected_points, write_submissions

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "optimizers"
EXPECTED = expected_points()


def in_course(course: Path, command: list) -> subprocess.CompletedProcess:
    """``command`` run in the course folder, with the virtual environment's tools on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(command, cwd=course, env=env, capture_output=True, text=True, timeout=600)


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    return in_course(course, [Path(sys.executable).parent / "nbgrader", *args])


def digest(folder: Path) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    for folder in ("solutions", "assignments"):
        shutil.copytree(ROOT / folder, course / folder)
    assert nbgrader(course, "generate_assignment", ASSIGNMENT, "--force").returncode == 0
    assert write_submissions(course / "submitted") == sorted(EXPECTED)
    before = digest(course / "solutions"), digest(course / "submitted")
    result = nbgrader(course, "autograde", ASSIGNMENT)
    assert result.returncode == 0, result.stderr[-3000:]
    (course / "autograde.log").write_text(result.stderr)
    assert (digest(course / "solutions"), digest(course / "submitted")) == before
    return course


def scores(course: Path) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        result = {}
        for student in gradebook.students:
            notebook = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student.id)
            per_rule = dict.fromkeys(RULES, 0.0)
            for grade in notebook.grades:
                rule = next(r for r in RULES if grade.name.startswith(f"test_{r}_"))
                per_rule[rule] += grade.score
            result[student.id] = per_rule
        return result


def test_each_submission_scores_exactly_what_its_rules_earn(course):
    assert scores(course) == EXPECTED


def test_every_submission_is_graded_within_its_budget(course):
    log = (course / "autograde.log").read_text()
    seconds = {
        student: float(time)
        for student, time in re.findall(r"graded (\S+): [\d.]+ of 25 points in ([\d.]+) s", log)
    }
    assert set(seconds) == set(EXPECTED)
    assert "Warning" not in log  # SQLAlchemy's autoflush notice is silenced in the config
    # rules run side by side, so even the stalling ones end with the rule's budget
    assert max(seconds.values()) < 20 + 5, seconds
    assert seconds["sleeps_per_call"] > 19  # it did run into the budget


# What the formgrader's "autograde" button runs: the server extension loads the
# course's nbgrader_config.py into an NbGrader app and calls NbGraderAPI.autograde.
FORMGRADER = """
import json, sys
from nbgrader.apps import NbGrader, NbGraderAPI
from nbgrader.coursedir import CourseDirectory

app = NbGrader()
app.load_config_file()
api = NbGraderAPI(CourseDirectory(parent=app), parent=app)
print(json.dumps({s: api.autograde("optimizers", s)["success"] for s in sys.argv[1:]}))
"""


def test_the_formgrader_grades_through_the_same_sandbox(course):
    students = [
        "reference",
        "privileges_probe",
        "nested_reply",
        "reads_course_files",
        "invalid_json",
    ]
    before = scores(course)
    result = in_course(course, [sys.executable, "-c", FORMGRADER, *students])
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == dict.fromkeys(students, True)
    assert scores(course) == before


def test_where_the_trajectory_parts_is_named(course):
    path = course / "autograded" / "nesterov_as_momentum" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    cells = json.loads(path.read_text())["cells"]
    errors = [
        output["evalue"]
        for cell in cells
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "test_nesterov_step_trajectory"
        for output in cell["outputs"]
        if output["output_type"] == "error"
    ]
    assert errors
    assert "leaves the reference trajectory at epoch 1 of 5" in errors[0]


def test_feedback_hides_the_hidden_tests(course):
    result = nbgrader(course, "generate_feedback", ASSIGNMENT)
    assert result.returncode == 0
    assert "WARNING" not in result.stderr  # quiet: nothing to learn to ignore
    pages = list((course / "feedback").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.html"))
    assert len(pages) == len(EXPECTED)
    for page in pages:
        html = page.read_text()
        secrets = ("HIDDEN TESTS", "check_hidden", "most recent call last", str(course))
        for secret in secrets:
            assert secret not in html, (page, secret)
        # the hidden settings a rule put into its exception's message
        assert not re.search(r"LEAK lr=\d", html), page


def test_grades_export_as_csv(course):
    assert nbgrader(course, "export", "--to", "grades.csv").returncode == 0
    with open(course / "grades.csv", newline="") as file:
        rows = {row["student_id"]: float(row["score"]) for row in csv.DictReader(file)}
    assert rows == {case: sum(points.values()) for case, points in EXPECTED.items()}
