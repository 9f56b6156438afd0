"""What the instructor meets around autograding: unsafe ids, a missing sandbox, regrades.

A fault of the machine or of the grader is never the student's: the run says so and
fails, and no grade changes.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from .fixture_submissions import FULL_MARKS, RULES, UNANSWERED, Case, notebook
from .test_grading_pipeline import ASSIGNMENT, in_course, make_course, nbgrader, scores, submit

WITHOUT_USER_NAMESPACES = Path(__file__).with_name("without_user_namespaces.py")

pytestmark = pytest.mark.slow


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


# The formgrader's path, with the grader made to fail after the rebuild.
CRASHING_REGRADE = """
import json, sys
from nbgrader.apps import NbGrader, NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from losslandscape.grading import autograde

def crash(self, *args):
    raise RuntimeError("the grader itself failed")

autograde.SandboxedExecute._execute = crash
app = NbGrader()
app.load_config_file()
api = NbGraderAPI(CourseDirectory(parent=app), parent=app)
result = api.autograde("optimizers", "anna")
print(json.dumps([result["success"], result.get("log", "") + result.get("error", "")]))
"""


def test_a_regrade_that_fails_reports_the_failure_and_keeps_the_earlier_grade(tmp_path):
    course = make_course(tmp_path, {"anna": REFERENCE_TEXT})
    assert nbgrader(course, "autograde", ASSIGNMENT).returncode == 0
    submit(course, "anna", UNANSWERED_TEXT)  # a new submission, which would score 0
    result = in_course(course, [sys.executable, "-c", CRASHING_REGRADE])
    assert result.returncode == 0, result.stderr[-3000:]
    success, log = json.loads(result.stdout.splitlines()[-1])
    assert success is False
    assert "the grader itself failed" in log
    assert scores(course) == {"anna": FULL_MARKS}


# The formgrader's path again, with the machine refusing adam_step's sandbox.
ONE_RULE_FAILS = CRASHING_REGRADE.replace(
    """def crash(self, *args):
    raise RuntimeError("the grader itself failed")

autograde.SandboxedExecute._execute = crash""",
    """real = autograde.RuleProxy

def refuse_adam(name, *args, **kwargs):
    if name == "adam_step":
        raise OSError("Resource temporarily unavailable")
    return real(name, *args, **kwargs)

autograde.RuleProxy = refuse_adam""",
)


def test_a_machine_fault_in_one_rule_records_nothing_for_the_submission(tmp_path):
    assert ONE_RULE_FAILS != CRASHING_REGRADE
    course = make_course(tmp_path, {"anna": REFERENCE_TEXT})
    result = in_course(course, [sys.executable, "-c", ONE_RULE_FAILS])
    assert result.returncode == 0, result.stderr[-3000:]
    success, log = json.loads(result.stdout.splitlines()[-1])
    assert success is False
    assert "Resource temporarily unavailable" in log
    # No zero for anna: nothing is scored until the machine works.
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "anna")
        assert [grade.auto_score for grade in notebook.grades] == [None] * len(notebook.grades)


def as_user(user, env: Path, course: Path, *command) -> subprocess.CompletedProcess:
    """``command`` run in ``course`` as ``user``, with the shared environment first on PATH,
    as an instructor's terminal on the class's hub has it."""
    environment = [f"HOME={user.home}", f"PATH={env / 'bin'}:/usr/bin:/bin", "LANG=C.UTF-8"]
    return subprocess.run(
        ["runuser", "-u", user.name, "--", "env", "-i", *environment, *map(str, command)],
        cwd=course, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def test_as_an_ordinary_user_without_user_namespaces_autograde_stops_and_changes_no_grade(
    shared_env, unix_user
):
    """An instructor grades as an ordinary user: it works; then on a machine that denies
    user namespaces, autograde stops before any grade changes and says why, in one line."""
    user = unix_user()
    (user.home / "course").mkdir()
    course = make_course(user.home / "course", {"anna": REFERENCE_TEXT, "ben": UNANSWERED_TEXT})
    shutil.chown(course, user.name, user.name)
    for path in course.rglob("*"):
        shutil.chown(path, user.name, user.name)
    graded = as_user(user, shared_env, course, "nbgrader", "autograde", ASSIGNMENT)
    assert graded.returncode == 0, graded.stderr[-3000:]
    before = scores(course)
    assert before == {"anna": FULL_MARKS, "ben": dict.fromkeys(RULES, 0.0)}
    feedback = course / "autograded" / "anna" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    autograded = feedback.read_bytes()

    submit(course, "ben", REFERENCE_TEXT)  # ben hands in again: a regrade would change his grade
    python = shared_env / "bin" / "python"
    result = as_user(user, shared_env, course, python, WITHOUT_USER_NAMESPACES,
                     "nbgrader", "autograde", ASSIGNMENT, "--force")  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, result.stderr
    assert "bubblewrap said: bwrap: No permissions to create new namespace" in errors[0]
    assert "needs unprivileged user namespaces" in errors[0]
    assert "No grade was changed" in errors[0]
    assert "Traceback" not in result.stderr
    assert scores(course) == before
    assert feedback.read_bytes() == autograded
