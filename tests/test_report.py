"""The class report and the Canvas export on a gradebook made by hand (fast).

The whole pipeline, with real submissions, is in tests/test_grading_pipeline.py; here
each case the report must read is set up exactly: a rule with full marks, a named
mistake, a rule that lost only its steps points, a student with no submission, and
what the instructor meets from the shell when something is missing. The page is opened
in Chromium from disk and, alone, from a real ``jupyter server``'s ``/files/`` (see
tests/single_file.py).
"""

import csv
import html
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from losslandscape.grading import report
from losslandscape.grading.mistakes import CATALOGUE

from .single_file import WAYS, open_page, serve_files  # noqa: F401 (fixture)

ASSIGNMENT = "optimizers"
REPORT = [sys.executable, "-m", "losslandscape.grading.report"]
POINTS = {"steps": 2, "trajectory": 3}


@pytest.fixture(autouse=True)
def venv_on_path(monkeypatch):
    # nbgrader runs alembic to make a new gradebook, as `make` runs it, from the venv
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def _course(folder, students):
    """A gradebook with two rules (their answer and test cells, as a release makes them) and
    ``students`` as ``{id: {test: score} or None}``,
    and each submission's autograded notebook with ``findings``."""
    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}") as gradebook:
        gradebook.add_assignment(ASSIGNMENT)
        gradebook.add_notebook(ASSIGNMENT, ASSIGNMENT)
        for rule in ("sgd_step", "adam_step"):
            gradebook.add_solution_cell(rule, ASSIGNMENT, ASSIGNMENT)
            for kind, points in POINTS.items():
                gradebook.add_grade_cell(
                    f"test_{rule}_{kind}",
                    ASSIGNMENT,
                    ASSIGNMENT,
                    max_score=points,
                    cell_type="code",
                )
        for student, (scores, findings) in students.items():
            gradebook.add_student(student, first_name="Ada", last_name=student.title())
            if scores is None:
                continue
            with warnings.catch_warnings():  # nbgrader's known autoflush notice, as in the config
                warnings.filterwarnings("ignore", message=r"Object of type <\w+> not in session")
                gradebook.add_submission(ASSIGNMENT, student)
            for name, score in scores.items():
                grade = gradebook.find_grade(name, ASSIGNMENT, ASSIGNMENT, student)
                grade.auto_score = score
            gradebook.db.commit()
            autograded = folder / "autograded" / student / ASSIGNMENT
            autograded.mkdir(parents=True)
            metadata = {"losslandscape": {"findings": findings}}
            (autograded / f"{ASSIGNMENT}.ipynb").write_text(
                json.dumps({"cells": [], "metadata": metadata, "nbformat": 4, "nbformat_minor": 5})
            )
    return folder


FULL = {f"test_{r}_{k}": p for r in ("sgd_step", "adam_step") for k, p in POINTS.items()}
ADAM_WRONG = {**FULL, "test_adam_step_steps": 0, "test_adam_step_trajectory": 0}
SGD_STEPS_ONLY = {**FULL, "test_sgd_step_steps": 0}
FINDING = {
    "adam_step": {
        "diagnosis": "adam-no-bias-correction",
        "first_divergent_epoch": 1,
        "message": "adam_step: the bias correction is missing",
    }
}


@pytest.fixture
def course(tmp_path):
    return _course(
        tmp_path,
        {
            "ann": (FULL, {}),
            "bob": (ADAM_WRONG, FINDING),
            "cy": (SGD_STEPS_ONLY, {}),
            "ghost": (None, {}),
        },
    )


def test_rows_say_each_rules_points_and_diagnosis(course):
    rows = {(row.student, row.rule): row for row in report.collect(course, ASSIGNMENT)}
    assert set(rows) == {(s, r) for s in ("ann", "bob", "cy") for r in ("adam_step", "sgd_step")}
    assert rows["ann", "adam_step"] == report.Row("ann", "adam_step", 5, 5, "", None)
    assert rows["bob", "adam_step"] == report.Row(
        "bob", "adam_step", 0, 5, "adam-no-bias-correction", 1
    )
    assert rows["bob", "sgd_step"].diagnosis == ""
    assert rows["cy", "sgd_step"] == report.Row("cy", "sgd_step", 3, 5, "steps", None)


def test_the_report_command_writes_the_csv_and_the_page(course):
    result = subprocess.run(
        [*REPORT, ASSIGNMENT, "--course", course],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    folder = course / "reports" / ASSIGNMENT
    with open(folder / "mistakes.csv", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == list(report.COLUMNS)
    assert ["bob", "adam_step", "0", "5", "adam-no-bias-correction", "1"] in rows
    assert ["ann", "sgd_step", "5", "5", "", ""] in rows
    assert sorted(path.name for path in folder.iterdir()) == ["index.html", "mistakes.csv"]
    page = (folder / "index.html").read_text()
    assert not re.search(r"<script[^>]*\bsrc=|<link\b", page)
    assert len(page) > 3_000_000  # plotly.js, inside
    assert html.escape(report.meaning("adam-no-bias-correction")) in page
    assert "3 students, 6 rules graded, 2 of them not full marks" in result.stdout


def test_canvas_export_leaves_a_missing_submission_empty(course):
    path = course / "canvas.csv"
    report.write_canvas_csv(course, [ASSIGNMENT], path)
    with open(path, newline="") as file:
        header, possible, *rows = list(csv.reader(file))
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    assert possible == ["Points Possible", "", "", "", "", "10"]
    assert rows == [
        ["Ann, Ada", "", "ann", "ann", "", "10"],
        ["Bob, Ada", "", "bob", "bob", "", "5"],
        ["Cy, Ada", "", "cy", "cy", "", "8"],
        ["Ghost, Ada", "", "ghost", "ghost", "", ""],
    ]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            "nothing",
            r"error: no gradebook at .*gradebook.db: run `make autograde` \(nbgrader autograde\) "
            "first",
        ),
        ("other assignment", r"error: the gradebook has no assignment 'optimizers'"),
    ],
)
def test_the_command_says_what_is_missing(tmp_path, setup, message):
    if setup == "other assignment":
        with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
            gradebook.add_assignment("another")
    for extra in ([], ["--canvas"]):
        result = subprocess.run(
            [*REPORT, ASSIGNMENT, "--course", tmp_path, *extra],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 2
        assert result.stdout == ""
        assert re.fullmatch(message + r"\n", result.stderr), result.stderr


def test_each_diagnosis_reads_as_a_sentence():
    mistake = CATALOGUE["rmsprop-eps-inside"]
    assert report.meaning("rmsprop-eps-inside") == (
        f"{mistake.explanation[0].upper()}{mistake.explanation[1:]}. {mistake.convention}"
    )
    both = report.meaning("ambiguous: momentum-dampened | momentum-no-lr")
    assert both.startswith("One of: The gradient is scaled by (1 - rho)")
    assert "The learning rate is missing" in both
    assert report.meaning("raised") == "The rule raised an exception."


FIGURES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => ({
    svg: !!gd.querySelector('.main-svg'),
    traces: gd.data.length,
    drawn: gd.querySelectorAll('.main-svg .trace').length,
    points: gd.querySelectorAll('.main-svg .point').length,
}))"""


@pytest.mark.slow
@pytest.mark.parametrize("way", WAYS)
def test_the_page_draws_its_figures_wherever_it_is_opened(browser, jupyter_files, course, way):
    folder = course / "reports" / ASSIGNMENT
    rows = report.collect(course, ASSIGNMENT)
    report.write_html(rows, folder, ASSIGNMENT)
    visit = open_page(browser, jupyter_files, folder / "index.html", way)
    try:
        visit.page.wait_for_function(
            "[...document.querySelectorAll('.js-plotly-plot')].every(gd => gd._fullLayout)"
        )
        assert visit.others() == [] and visit.errors == []
        figures = visit.page.evaluate(FIGURES)
        assert len(figures) == len(report.figures(rows)) == 3  # update rules: where paths part
        for figure in figures:
            assert figure["svg"] and figure["traces"] and figure["drawn"], figure
            assert figure["points"] > 0, figure  # bars and markers drawn from the data
    finally:
        visit.close()


@pytest.mark.slow
def test_a_file_beside_the_page_does_not_load_from_jupyter(browser, jupyter_files, tmp_path):
    """What the report was before: its plotly.js beside it stays unread from /files/."""
    page = tmp_path / "page.html"
    page.write_text('<script src="beside.js"></script><p>page</p>')
    (tmp_path / "beside.js").write_text("document.title = 'beside.js ran'")
    for way, ran in (("file", True), ("jupyter", False)):
        (jupyter_files.root / "beside.js").write_text("document.title = 'beside.js ran'")
        visit = open_page(browser, jupyter_files, page, way)
        try:
            assert (visit.page.title() == "beside.js ran") is ran
            assert visit.others()  # the test sees the request
        finally:
            visit.close()
