"""The whole nbgrader pipeline on the fixture submissions in tests/submissions/.

One course folder is built in a temporary directory: release, submit every
fixture as its own student, ``nbgrader autograde`` them all in one batch,
generate feedback and export the grades, exactly as the instructor would.
"""

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from losslandscape.grading import RULES

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "tests" / "submissions"
ASSIGNMENT = "optimizers"
ZERO = dict.fromkeys(RULES, 0)

# Points per rule (5 each) that differ from full marks, for every fixture.
EXPECTED = {
    "reference": {},
    "unmodified": ZERO,
    # common mistakes cost exactly their rule
    "adam_without_bias_correction": {"adam_step": 0},
    "nesterov_as_momentum": {"nesterov_step": 0},
    "rmsprop_eps_inside_sqrt": {"rmsprop_step": 0},
    "sgd_sign_flipped": {"sgd_step": 0},
    "hardcoded_visible": {"sgd_step": 0},
    # broken code costs only the broken rule
    "raises": {"momentum_step": 0},
    "syntax_error": {"rmsprop_step": 0},
    "hangs": {"nesterov_step": 0, "adam_step": 0},
    "prints_megabytes": {},
    "returns_nan": {"rmsprop_step": 0},
    "returns_inf_late": {"adam_step": 2},  # its first steps are right, its trajectory is not
    "returns_lists": {"sgd_step": 0, "momentum_step": 0},
    "wrong_shape": {"sgd_step": 0},
    "wrong_types": {"sgd_step": 0, "adam_step": 0},
    "exits": {"momentum_step": 0, "nesterov_step": 0},
    "memory_hog": {"rmsprop_step": 0},
    "missing_rule": {"adam_step": 0},
    # notebook surgery is undone: the answers are graded as they are
    "deleted_test_cells": {},
    "duplicated_cells": {},
    "stripped_metadata": {},
    "unknown_schema_version": {},
    "unknown_nbformat": {},
    "edited_test_cells": ZERO,
    "invalid_json": ZERO,
    "empty_file": ZERO,
    "binary_file": ZERO,
    # tampering with unanswered or wrong rules gains nothing
    "monkeypatch_numpy": ZERO,
    "rebind_helpers": ZERO,
    "input_transformer": ZERO,
    "calls_reference": {"sgd_step": 0, "adam_step": 0},
    "reads_course_files": ZERO,
    "deletes_gradebook": ZERO,
    "escape_attempts": ZERO,
}


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [Path(sys.executable).parent / "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


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
    for case in EXPECTED:
        target = course / "submitted" / case / ASSIGNMENT
        target.mkdir(parents=True)
        shutil.copy(SUBMISSIONS / f"{case}.ipynb", target / f"{ASSIGNMENT}.ipynb")
    before = digest(course / "solutions"), digest(course / "submitted")
    result = nbgrader(course, "autograde", ASSIGNMENT)
    assert result.returncode == 0, result.stderr[-3000:]
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


def test_every_fixture_has_an_expectation():
    assert {p.stem for p in SUBMISSIONS.glob("*.ipynb")} == set(EXPECTED)


def test_each_submission_scores_exactly_what_its_rules_earn(course):
    got = scores(course)
    want = {case: {**dict.fromkeys(RULES, 5.0), **diff} for case, diff in EXPECTED.items()}
    assert got == want


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
    students = ["reference", "monkeypatch_numpy", "reads_course_files", "invalid_json"]
    before = scores(course)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [sys.executable, "-c", FORMGRADER, *students],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
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
    assert nbgrader(course, "generate_feedback", ASSIGNMENT).returncode == 0
    pages = list((course / "feedback").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.html"))
    assert len(pages) == len(EXPECTED)
    for page in pages:
        html = page.read_text()
        secrets = ("HIDDEN TESTS", "check_steps(", "lr=3.5", "most recent call last", str(course))
        for secret in secrets:
            assert secret not in html, (page, secret)


def test_grades_export_as_csv(course):
    assert nbgrader(course, "export", "--to", "grades.csv").returncode == 0
    with open(course / "grades.csv", newline="") as file:
        rows = {row["student_id"]: float(row["score"]) for row in csv.DictReader(file)}
    assert rows == {
        case: 25.0 - sum(5 - p for p in diff.values()) for case, diff in EXPECTED.items()
    }
