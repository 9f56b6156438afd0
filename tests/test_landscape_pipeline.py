"""The landscape assignment through the whole nbgrader pipeline, in one course with the
optimizers assignment: release both, submit every fixture answer of
tests/landscape_submissions.py as its own student, autograde (each answer in its
sandbox, after the answers above it), feedback, the class report and one grades export
for both assignments, as the instructor runs them (README, "Teaching a class").
"""

import csv
import html
import json
import re
import subprocess
import sys

import pytest

from losslandscape.grading import landscape_checks

from .fixture_submissions import Case as OptimizersCase
from .fixture_submissions import notebook as optimizers_notebook
from .landscape_submissions import CASES, POINTS, TOTAL, expected_points, notebook_text
from .test_grading_pipeline import make_course, nbgrader, submit

pytestmark = pytest.mark.slow

ASSIGNMENT = "landscape"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    submissions = {name: notebook_text(case) for name, case in CASES.items()}
    course = make_course(tmp_path_factory.mktemp("course"), submissions, assignment=ASSIGNMENT)
    assert nbgrader(course, "generate_assignment", "optimizers", "--force").returncode == 0
    for student in ("reference", "einsum"):  # two students hand in both assignments
        submit(course, student, json.dumps(optimizers_notebook(OptimizersCase())), "optimizers")
    result = nbgrader(course, "autograde", ASSIGNMENT)
    assert result.returncode == 0, result.stderr[-3000:]
    (course / "autograde.log").write_text(result.stderr)
    assert nbgrader(course, "autograde", "optimizers").returncode == 0
    return course


def cell_scores(course) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {
            student.id: {
                grade.name: grade.score
                for grade in gradebook.find_submission_notebook(
                    ASSIGNMENT, ASSIGNMENT, student.id
                ).grades
            }
            for student in gradebook.students
        }


def test_each_submission_scores_exactly_what_its_parts_earn(course):
    assert cell_scores(course) == {name: expected_points(case) for name, case in CASES.items()}


def test_grading_takes_seconds_per_submission(course):
    log = (course / "autograde.log").read_text()
    seconds = dict(re.findall(rf"graded (\S+): [\d.]+ of {TOTAL:g} points in ([\d.]+) s", log))
    assert set(seconds) == set(CASES)
    assert "Warning" not in log


def test_each_wrong_part_is_commented_under_its_answer(course):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student, case in CASES.items():
            named = {}
            for grade_id, diagnosis in case.lost.items():
                part = re.match(r"test_(cost_map|\w+?)_", grade_id).group(1)
                named[part] = named.get(part) or diagnosis
            for part in landscape_checks.PARTS:
                comment = gradebook.find_comment(part, ASSIGNMENT, ASSIGNMENT, student)
                mistake = landscape_checks.find(named.get(part, ""))
                if mistake is not None:
                    said = " ".join((comment.auto_comment or "").split())
                    assert said == f"{part} {mistake.explanation}.", (student, part, said)
                elif part not in named:
                    assert comment.auto_comment is None, (student, part)


@pytest.fixture(scope="module")
def feedback(course):
    result = nbgrader(course, "generate_feedback", ASSIGNMENT)
    assert result.returncode == 0, result.stderr[-3000:]
    return {
        page.parts[-3]: " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.read_text())).split())
        for page in (course / "feedback").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.html")
    }


def test_feedback_shows_the_visible_tests_words_and_hides_the_hidden_tests(feedback):
    assert set(feedback) == set(CASES)
    for student, page in feedback.items():
        assert "check_hidden" not in page and "HIDDEN TESTS" not in page, student
    assert "gradient: it is half the true gradient" in feedback["gradient_original_factor"]
    assert "central differences of the cost give" in feedback["gradient_original_factor"]
    assert "times as fast as a loop over its points" in feedback["map_vectorize"]
    assert "cost fails a hidden test" in feedback["cost_hard_coded_n"]
    assert f"landscape (Score: {TOTAL:.1f} / {TOTAL:.1f})" in feedback["tensordot"]


def test_the_class_report_names_each_students_mistake_per_part(course):
    _run_report(course, ASSIGNMENT)
    folder = course / "reports" / ASSIGNMENT
    with open(folder / "mistakes.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["rule"] for row in rows[:4]] == list(landscape_checks.PARTS)
    found = {(row["student"], row["rule"]): row["diagnosis"] for row in rows}
    for student, case in CASES.items():
        for grade_id, diagnosis in case.lost.items():
            part = re.match(r"test_(cost_map|\w+?)_", grade_id).group(1)
            if diagnosis:
                assert found[student, part] == diagnosis, (student, part)
    page = (folder / "index.html").read_text()
    assert "Where the paths part" not in page  # no update rule is trained here
    meaning = landscape_checks.find("cost_map-slow").explanation
    assert html.escape(f"Cost_map {meaning}.") in page


def _run_report(course, *args):
    return subprocess.run(
        [sys.executable, "-m", "losslandscape.grading.report", *args, "--course", str(course)],
        capture_output=True,
        text=True,
        check=True,
    )


def test_one_grades_export_holds_both_assignments(course):
    _run_report(course, "optimizers", ASSIGNMENT, "--canvas")
    with open(course / "course_canvas.csv", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0][-2:] == ["optimizers", ASSIGNMENT]
    assert rows[1][-2:] == ["25", f"{TOTAL:g}"]
    by_student = {row[3]: row[-2:] for row in rows[2:]}
    assert by_student["reference"] == ["25", f"{TOTAL:g}"]
    assert by_student["map_loops"] == ["", f"{TOTAL - POINTS['test_cost_map_speed']:g}"]
