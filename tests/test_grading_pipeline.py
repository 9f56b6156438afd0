"""The whole nbgrader pipeline on the fixture submissions (tests/fixture_submissions.py).

One course folder is built in a temporary directory: release, submit every
fixture as its own student, ``nbgrader autograde`` them all in one batch,
generate feedback, write the class report and export the grades, exactly as
the instructor would (``make report`` and ``make grades`` with ``COURSE`` set
to the folder).
"""

import csv
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from losslandscape import grading
from losslandscape.grading import mistakes
from losslandscape.grading.mistakes import CATALOGUE

from .browser import SCREENSHOTS, Page
from .fixture_submissions import (
    CASES,
    FULL_MARKS,
    RULES,
    TOTAL,
    expected_points,
    write_submissions,
)
from .student_rules import STUDENTS

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


TEST_RULE_SECONDS = 10
"""The grading budget per rule in test courses: half the course's 20 s, so the fixtures that
stall cost less, and still ten times what a rule takes here."""


def make_course(
    folder: Path,
    submissions: dict[str, str],
    rule_seconds: float | None = TEST_RULE_SECONDS,
    assignment: str = ASSIGNMENT,
) -> Path:
    """A course folder with this repository's configuration and releases, ``assignment``
    released again, and ``submissions`` (notebook texts by student id) handed in for it;
    each rule may take ``rule_seconds`` of grading (None: the course's own budget)."""
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    if rule_seconds is not None:
        with (folder / "nbgrader_config.py").open("a") as config:
            config.write(f"c.SandboxedExecute.rule_seconds = {rule_seconds}\n")
    shutil.copy(ROOT / "_config.yml", folder)  # the published book's address
    shutil.copytree(ROOT / "solutions", folder / "solutions")
    shutil.copytree(ROOT / "assignments", folder / "assignments")
    assert nbgrader(folder, "generate_assignment", assignment, "--force").returncode == 0
    for student, text in submissions.items():
        submit(folder, student, text, assignment)
    return folder


def submit(course: Path, student: str, text: str, assignment: str = ASSIGNMENT) -> None:
    target = course / "submitted" / student / assignment
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{assignment}.ipynb").write_text(text)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("course"), {})
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
        for student, time in re.findall(
            rf"graded (\S+): [\d.]+ of {TOTAL:g} points in ([\d.]+) s", log
        )
    }
    assert set(seconds) == set(EXPECTED)
    assert "Warning" not in log  # SQLAlchemy's autoflush notice is silenced in the config
    # Rules run side by side, so even the stalling ones (which would sleep for an hour) end
    # with the rule's budget; the bound leaves room for a busy machine.
    assert max(seconds.values()) < 6 * TEST_RULE_SECONDS, seconds
    assert seconds["sleeps_per_call"] > TEST_RULE_SECONDS - 1  # it did run into the budget


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


def test_the_visible_test_names_the_mistake_where_the_paths_part(course):
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
    explanation = CATALOGUE["nesterov-as-momentum"].explanation
    assert re.fullmatch(
        rf"nesterov_step: {re.escape(explanation)}; from epoch 1 your weights are "
        r"\(\S+, \S+\), the reference's \(\S+, \S+\)",
        " ".join(errors[0].split()),  # wrapped for nbgrader validate
    ), errors[0]


@pytest.fixture(scope="module")
def feedback(course):
    result = nbgrader(course, "generate_feedback", ASSIGNMENT)
    assert result.returncode == 0
    assert "WARNING" not in result.stderr  # quiet: nothing to learn to ignore
    pages = {
        page.parts[-3]: page.read_text()
        for page in (course / "feedback").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.html")
    }
    assert set(pages) == set(EXPECTED)
    return pages


def test_feedback_hides_the_hidden_tests(course, feedback):
    for student, page in feedback.items():
        secrets = ("HIDDEN TESTS", "check_hidden", "most recent call last", str(course))
        for secret in secrets:
            assert secret not in page, (student, secret)
        # the hidden settings a rule put into its exception's message
        assert not re.search(r"LEAK lr=\d", page), student


def test_feedback_names_every_mistake_the_student_made(course, feedback):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for case, expected in CASES.items():
            # the page as it reads: tags gone, wrapped messages joined
            text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", feedback[case])).split())
            for rule, diagnosis in expected.diagnoses.items():
                comment = gradebook.find_comment(rule, ASSIGNMENT, ASSIGNMENT, case).auto_comment
                if diagnosis in CATALOGUE:
                    mistake = CATALOGUE[diagnosis]
                    # by the visible test, which runs first in its cell
                    assert f"{rule}: {mistake.explanation}; from epoch " in text, (case, rule)
                    assert mistake.convention in text
                    # and under the answer, as the autograder's comment, with no number
                    # but the epoch
                    said = f"{rule}: {mistake.explanation}; it shows from epoch"
                    assert f"Comments: {said}" in text, (case, rule)
                    # stored as written: the formgrader shows it as plain text
                    assert " ".join(comment.split()).startswith(f"{said} "), comment
                    assert "\\" not in comment, comment
                elif diagnosis:  # the right path, the state in another library's form
                    form = mistakes.find(diagnosis)
                    assert f"{rule}, step 1: {form.explanation}" in text, (case, rule)
                    assert form.convention in text
                    said = " ".join(comment.split())
                    assert said == f"{rule}: {form.explanation} {form.convention}", comment
                else:  # right: no mistake named
                    named = [m.id for m in CATALOGUE.values() if f"{rule}: {m.explanation}" in text]
                    assert named == [], (case, rule)
                    assert comment is None, (case, rule, comment)


def _make(target: str, course: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", ROOT, target, f"COURSE={course}"],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def report(course):
    result = _make("report", course)
    assert result.returncode == 0, result.stdout + result.stderr
    folder = course / "reports" / ASSIGNMENT
    assert f"wrote {folder / 'mistakes.csv'} and {folder / 'index.html'}" in result.stdout
    with open(folder / "mistakes.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    return folder, rows


def _original_parting(step, rule):
    weights = np.nan_to_num(grading.trajectory(step, rule), nan=np.inf)
    return grading.first_parting(weights, grading.reference(rule))


def test_the_class_report_names_each_students_mistake_per_rule(report):
    _, rows = report
    assert list(rows[0]) == [
        "student",
        "rule",
        "points",
        "max_points",
        "diagnosis",
        "first_divergent_epoch",
    ]
    found = {(row["student"], row["rule"]): row for row in rows}
    assert set(found) == {(student, rule) for student in EXPECTED for rule in RULES}
    for (student, rule), row in found.items():
        assert (
            float(row["points"]) == EXPECTED[student][rule]
            and float(row["max_points"]) == FULL_MARKS[rule]
        )
        # empty exactly for a rule with full marks
        assert (row["diagnosis"] == "") == (EXPECTED[student][rule] == FULL_MARKS[rule]), row
        case = CASES.get(student)
        if case is not None and rule in case.diagnoses:
            assert row["diagnosis"] == case.diagnoses[rule], row
    for student, case in CASES.items():
        if student.startswith("mistakes_"):
            version = "ab".index(student.removeprefix("mistakes_")[0])
            for rule, diagnosis in case.diagnoses.items():
                if diagnosis in CATALOGUE:
                    epoch = _original_parting(STUDENTS[diagnosis][version], rule)
                    assert found[student, rule]["first_divergent_epoch"] == str(epoch)
    named = {row["diagnosis"] for row in rows}
    assert set(STUDENTS) <= named  # every hand-written mistake, through the pipeline
    assert found["raises", "momentum_step"]["diagnosis"] == "raised"


def test_the_class_report_page_reads_offline_in_a_browser(report, browser):
    folder, rows = report
    opened = Page(browser, folder / "index.html")
    page = opened.page
    assert len(page.query_selector_all(".js-plotly-plot")) == 3
    titles = page.eval_on_selector_all("h2", "hs => hs.map(h => h.textContent)")
    assert titles[:3] == ["Scores per rule", "The most common mistakes", "Where the paths part"]
    # every diagnosis in the table, with what it means, once
    table = page.eval_on_selector_all(
        "table tr td:first-child", "cells => cells.map(c => c.textContent)"
    )
    assert sorted(table) == sorted({row["diagnosis"] for row in rows if row["diagnosis"]})
    text = page.inner_text("body")
    assert CATALOGUE["adam-epsilon-hat"].convention in text
    # the parting epochs drawn are the report's own
    drawn = page.evaluate(
        "[...document.querySelectorAll('.js-plotly-plot')][2].data.flatMap(t => [...t.x])"
    )
    epochs = [int(row["first_divergent_epoch"]) for row in rows if row["first_divergent_epoch"]]
    assert sorted(drawn) == sorted(epochs)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "class_report.png", full_page=True)
    page.close()
    assert opened.errors == []


def test_grades_export_for_nbgrader_and_canvas(course):
    result = _make("grades", course)
    assert result.returncode == 0, result.stdout + result.stderr
    totals = {case: sum(points.values()) for case, points in EXPECTED.items()}
    with open(course / "grades.csv", newline="") as file:
        rows = {row["student_id"]: float(row["score"]) for row in csv.DictReader(file)}
    assert rows == totals
    with open(course / f"{ASSIGNMENT}_canvas.csv", newline="") as file:
        header, possible, *students = list(csv.reader(file))
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    assert possible == ["Points Possible", "", "", "", "", f"{TOTAL:g}"]
    assert {row[3]: float(row[5]) for row in students} == totals
