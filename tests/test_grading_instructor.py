"""What the instructor meets around autograding: unsafe ids, a missing sandbox, regrades."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .fixture_submissions import RULES, UNANSWERED, Case, notebook
from .test_grading_pipeline import ASSIGNMENT, in_course, make_course, nbgrader, scores, submit

pytestmark = pytest.mark.slow
FULL_MARKS = dict.fromkeys(RULES, 5.0)


REFERENCE_TEXT = json.dumps(notebook(Case()))
UNANSWERED_TEXT = json.dumps(notebook(Case(UNANSWERED)))


def test_an_unsafe_student_id_stops_the_run_before_any_grade_changes(tmp_path):
    course = make_course(tmp_path, {"control": REFERENCE_TEXT})
    assert nbgrader(course, "autograde", ASSIGNMENT).returncode == 0
    graded = course / "autograded" / "control" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    before = graded.read_bytes()
    submit(course, "[c]ontrol", UNANSWERED_TEXT)
    submit(course, ".hidden", UNANSWERED_TEXT)  # nbgrader's glob would skip it silently
    result = nbgrader(course, "autograde", ASSIGNMENT, "--force")
    assert result.returncode == 1
    assert "the student id '[c]ontrol' is unsafe" in result.stderr
    assert "the student id '.hidden' is unsafe" in result.stderr
    assert "rename its folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert scores(course) == {"control": FULL_MARKS}
    assert graded.read_bytes() == before


def test_without_bubblewrap_autograde_says_what_to_install_in_one_line(tmp_path):
    course = make_course(tmp_path, {"anna": REFERENCE_TEXT})
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no /usr/bin: no bwrap
    result = subprocess.run(
        [Path(sys.executable).parent / "nbgrader", "autograde", ASSIGNMENT],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, result.stderr
    assert "install the Debian packages bubblewrap and util-linux" in errors[0]
    assert "Traceback" not in result.stderr


def test_an_ungradable_submission_scores_zero_with_the_reason_in_its_feedback(tmp_path):
    course = make_course(tmp_path, {"anna": REFERENCE_TEXT})
    assert nbgrader(course, "autograde", ASSIGNMENT).returncode == 0
    assert scores(course) == {"anna": FULL_MARKS}
    submit(course, "anna", REFERENCE_TEXT[: len(REFERENCE_TEXT) // 2])  # cut off: not JSON
    result = nbgrader(course, "autograde", ASSIGNMENT, "--force")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "anna cannot be graded: the file is not a notebook that can be read" in result.stderr
    assert scores(course) == {"anna": dict.fromkeys(RULES, 0.0)}
    assert nbgrader(course, "generate_feedback", ASSIGNMENT, "--force").returncode == 0
    page = course / "feedback" / "anna" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    assert "not graded: the file is not a notebook that can be read" in page.read_text()


# The formgrader's path, with the grader made to fail after the rebuild: the
# grade from before must not survive.
CRASHING_REGRADE = """
import json, sys
from nbgrader.apps import NbGrader, NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from losslandscape.grading import autograde

def crash(self, code):
    raise RuntimeError("the grader itself failed")

autograde.SandboxedExecute._execute = crash
app = NbGrader()
app.load_config_file()
api = NbGraderAPI(CourseDirectory(parent=app), parent=app)
print(json.dumps(api.autograde("optimizers", "anna")["success"]))
"""


def test_a_regrade_that_fails_leaves_no_stale_grade(tmp_path):
    course = make_course(tmp_path, {"anna": REFERENCE_TEXT})
    assert nbgrader(course, "autograde", ASSIGNMENT).returncode == 0
    assert scores(course) == {"anna": FULL_MARKS}
    result = in_course(course, [sys.executable, "-c", CRASHING_REGRADE])
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) is False
    assert scores(course) == {"anna": dict.fromkeys(RULES, 0.0)}


# The formgrader's path again, with the machine refusing adam_step's sandbox.
ONE_RULE_FAILS = CRASHING_REGRADE.replace(
    """def crash(self, code):
    raise RuntimeError("the grader itself failed")

autograde.SandboxedExecute._execute = crash""",
    """real = autograde.RuleProxy

def refuse_adam(name, *args, **kwargs):
    if name == "adam_step":
        raise OSError("Resource temporarily unavailable")
    return real(name, *args, **kwargs)

autograde.RuleProxy = refuse_adam""",
)


def test_a_grader_failure_in_one_rule_costs_that_rule_only(tmp_path):
    assert ONE_RULE_FAILS != CRASHING_REGRADE
    course = make_course(tmp_path, {"anna": REFERENCE_TEXT})
    result = in_course(course, [sys.executable, "-c", ONE_RULE_FAILS])
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) is True
    assert scores(course) == {"anna": {**FULL_MARKS, "adam_step": 0.0}}
