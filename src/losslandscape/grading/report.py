"""The instructor's class report, and grades a learning-management system imports.

The last step, after autograding: ``python -m losslandscape.grading.report``
(``make report``) reads the gradebook and what each rule's tests found at autograde
time (stored in the autograded notebooks, see :class:`.findings.Finding`) and
writes, for the next lecture:

- ``reports/<assignment>/mistakes.csv``: one row per student and rule, with the
  columns of :data:`COLUMNS`;
- ``reports/<assignment>/index.html``: the scores per rule, the most common
  mistakes with what each means, and where the students' paths part from the
  reference; one file with plotly.js inside, so it draws offline and from a
  Jupyter server's ``/files/``, which serves it sandboxed and answers any other
  request it made with the login page.

``--canvas`` (``make grades``) writes ``<assignment>_canvas.csv`` instead, in
the layout of Canvas's gradebook import.
"""

from __future__ import annotations

import argparse
import collections
import csv
import dataclasses
import html
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import plotly.graph_objects as go
import plotly.offline

from . import landscape_checks, probes
from .autograde import METADATA, rule_of
from .mistakes import find
from .runs import RULES

COLUMNS = ("student", "rule", "points", "max_points", "diagnosis", "first_divergent_epoch")
"""A "rule" is a function students write: an update rule, or a part of the landscape."""

OTHER_DIAGNOSES = {
    "raised": "the rule raised an exception",
    "contract": "the rule returned something other than the arrays it must return",
    "undefined": "the answer cell does not define the rule",
    "sandbox": "the sandbox stopped the rule (time, memory, or the process ended)",
    "unknown": "the path parts from the reference, though not by a common mistake",
    "steps": "the path is right, a steps test is not: the step is right on some arrays "
    "only (the training loop's, say)",
    "other": "a test failed for another reason; the student's feedback shows it",
    "ungradable": "the notebook could not be read",
}
"""What a diagnosis that is not a mistake of the catalogue means."""


@dataclasses.dataclass(frozen=True)
class Row:
    student: str
    rule: str
    points: float
    max_points: float
    diagnosis: str
    """Empty for a rule with full marks; else a mistake's id, ``ambiguous: <id> | <id>``,
    what calling the rule showed (an id of :mod:`.probes`, ``adam-t-off-by-one`` say), or
    one of :data:`OTHER_DIAGNOSES`."""
    first_divergent_epoch: int | None
    """Where the rule's path parts from the reference on the original notebook's run."""


def collect(course: Path, assignment: str) -> list[Row]:
    """One :class:`Row` per student with a submission and per rule: students sorted, rules
    in the notebook's order (the solution cells' grade_ids)."""
    from nbgrader.api import MissingEntry

    rows = []
    with _gradebook(course) as gradebook:
        try:
            notebooks = {
                notebook.name: [cell.name for cell in notebook.solution_cells]
                for notebook in gradebook.find_assignment(assignment).notebooks
            }
        except MissingEntry:
            raise ValueError(f"the gradebook has no assignment {assignment!r}") from None
        for student in sorted(student.id for student in gradebook.students):
            for notebook, graded in notebooks.items():
                try:
                    submitted = gradebook.find_submission_notebook(notebook, assignment, student)
                except MissingEntry:
                    continue
                scores = collections.defaultdict(lambda: [0.0, 0.0, []])
                for grade in submitted.grades:
                    rule = rule_of(grade.name, graded)
                    if rule is not None:
                        scores[rule][0] += grade.score
                        scores[rule][1] += grade.max_score
                        if grade.score < grade.max_score:
                            scores[rule][2].append(grade.name)
                stored = _stored(course / "autograded" / student / assignment / f"{notebook}.ipynb")
                # in the notebook's order, as the figures show them
                for rule in [rule for rule in graded if rule in scores]:
                    points, max_points, lost = scores[rule]
                    finding = stored.get("findings", {}).get(rule, {})
                    diagnosis = ""
                    if points < max_points:
                        diagnosis = finding.get("diagnosis") or (
                            "ungradable" if stored.get("ungradable") else "steps"
                        )
                        if diagnosis == "steps" and not all(n.endswith("_steps") for n in lost):
                            diagnosis = "other"
                    rows.append(
                        Row(
                            student,
                            rule,
                            points,
                            max_points,
                            diagnosis,
                            finding.get("first_divergent_epoch") if diagnosis else None,
                        )
                    )
    return rows


def _gradebook(course: Path):
    """The course's gradebook, never a new empty one (nbgrader would make one)."""
    from nbgrader.api import Gradebook

    database = course / "gradebook.db"
    if not database.is_file():
        raise FileNotFoundError(
            f"no gradebook at {database}: run `make autograde` (nbgrader autograde) first"
        )
    return Gradebook(f"sqlite:///{database}")


def _stored(path: Path) -> dict:
    """What autograding stored in the notebook at ``path`` (nothing if it is not there)."""
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))["metadata"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    stored = metadata.get(METADATA, {}) if isinstance(metadata, dict) else {}
    return stored if isinstance(stored, dict) else {}


def write_csv(rows: Sequence[Row], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for row in rows:
            values = dataclasses.astuple(row)
            writer.writerow(["" if value is None else _number(value) for value in values])


def _number(value):
    return f"{value:g}" if isinstance(value, float) else value


def meaning(diagnosis: str) -> str:
    """A diagnosis in words: a mistake's explanation (and convention), what calling the rule
    showed, or a failure's."""
    if diagnosis.startswith("ambiguous: "):
        ids = diagnosis.removeprefix("ambiguous: ").split(" | ")
        return "One of: " + " ".join(meaning(i) for i in ids)
    mistake = find(diagnosis)
    if mistake is not None:
        return " ".join(filter(None, [_sentence(mistake.explanation), mistake.convention]))
    part = landscape_checks.find(diagnosis)
    if part is not None:
        return _sentence(f"{part.part} {part.explanation}")
    probed = probes.meaning(diagnosis)
    return _sentence(probed or OTHER_DIAGNOSES.get(diagnosis, diagnosis))


def _sentence(text: str) -> str:
    return f"{text[:1].upper()}{text[1:]}."


# Points as in matplotlib's RdYlBu: full marks blue, nothing red, colour-blind safe.
_POINT_COLOURS = ("#d7191c", "#fdae61", "#abd9e9", "#2c7bb6")


def figures(rows: Sequence[Row]) -> list[tuple[str, str, go.Figure]]:
    """The report's figures: (title, what it shows, figure); where the paths part only for
    update rules."""
    rules = list(dict.fromkeys(row.rule for row in rows))
    shown = [
        (
            "Scores per rule",
            "How many students earned how many points for each rule.",
            _scores(rows, rules),
        ),
        (
            "The most common mistakes",
            "Each diagnosis, counted over students and rules; the table below says what "
            "each one means.",
            _diagnoses(rows),
        ),
    ]
    trained = [rule for rule in rules if rule in RULES]
    if not trained:
        return shown
    return [
        *shown,
        (
            "Where the paths part",
            "The first epoch where a student's path leaves the reference on the original "
            "notebook's run (1000 epochs), one point per student and rule; a formula error "
            "shows at epoch 1 or 2, a later one is a subtler mistake.",
            _partings(rows, trained),
        ),
    ]


def _scores(rows, rules) -> go.Figure:
    values = sorted({row.points for row in rows})
    figure = go.Figure()
    for value in values:
        top = max((row.max_points for row in rows), default=1) or 1
        colour = _POINT_COLOURS[round(value / top * (len(_POINT_COLOURS) - 1))]
        counts = [sum(r.rule == rule and r.points == value for r in rows) for rule in rules]
        figure.add_bar(
            y=rules,
            x=counts,
            name=f"{value:g} points",
            orientation="h",
            marker_color=colour,
            hovertemplate="%{y}: %{x} students<extra>" + f"{value:g} points</extra>",
        )
    figure.update_layout(barmode="stack", xaxis_title="students", legend_traceorder="normal")
    figure.update_yaxes(autorange="reversed")
    return _tidy(figure, height=120 + 40 * len(rules))


def _diagnoses(rows) -> go.Figure:
    counts = collections.Counter(row.diagnosis for row in rows if row.diagnosis)
    common = counts.most_common(15)[::-1]
    figure = go.Figure(
        go.Bar(
            y=[diagnosis for diagnosis, _ in common],
            x=[count for _, count in common],
            orientation="h",
            marker_color="#2c7bb6",
            customdata=[_wrap(meaning(diagnosis)) for diagnosis, _ in common],
            hovertemplate="%{y}: %{x}<br>%{customdata}<extra></extra>",
        )
    )
    figure.update_layout(xaxis_title="students and rules", yaxis_automargin=True)
    return _tidy(figure, height=120 + 28 * max(len(common), 1))


def _partings(rows, rules) -> go.Figure:
    figure = go.Figure()
    for index, rule in enumerate(rules):
        parted = [row for row in rows if row.rule == rule and row.first_divergent_epoch]
        # Spread the points of one rule across its band, so equal epochs stay countable.
        offsets = [((i * 0.618) % 1 - 0.5) * 0.5 for i in range(len(parted))]
        figure.add_scatter(
            x=[row.first_divergent_epoch for row in parted],
            y=[index + offset for offset in offsets],
            mode="markers",
            name=rule,
            marker={"size": 9, "opacity": 0.75},
            customdata=[[row.student, row.diagnosis] for row in parted],
            hovertemplate="%{customdata[0]}: epoch %{x}<br>%{customdata[1]}<extra>"
            + rule
            + "</extra>",
        )
    # The whole run, so where the class parts is seen against where it could have.
    ticks = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    figure.update_xaxes(
        type="log",
        range=[-0.1, 3.05],
        tickvals=ticks,
        title="first epoch off the reference, of 1000 (log scale)",
    )
    figure.update_yaxes(
        tickvals=list(range(len(rules))), ticktext=rules, range=[len(rules) - 0.5, -0.5]
    )
    figure.update_layout(showlegend=False)
    return _tidy(figure, height=120 + 40 * len(rules))


def _tidy(figure: go.Figure, height: int) -> go.Figure:
    figure.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 10, "b": 40},
        template="plotly_white",
        font={"size": 13},
    )
    return figure


def _wrap(text: str, width: int = 70) -> str:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + len(word) > width:
            lines.append(line)
            line = ""
        line = f"{line} {word}".strip()
    return "<br>".join([*lines, line])


def write_html(rows: Sequence[Row], folder: Path, assignment: str) -> None:
    """``index.html`` in ``folder``: one file, plotly.js inside."""
    folder.mkdir(parents=True, exist_ok=True)
    students = sorted({row.student for row in rows})
    sections = []
    for title, caption, figure in figures(rows):
        plot = figure.to_html(full_html=False, include_plotlyjs=False, config={"responsive": True})
        sections.append(f"<h2>{title}</h2>\n<p>{caption}</p>\n{plot}")
    page = _PAGE.format(
        assignment=html.escape(assignment),
        plotlyjs=plotly.offline.get_plotlyjs(),
        summary=html.escape(_summary(rows, students)),
        sections="\n".join(sections),
        table=_table(rows),
    )
    (folder / "index.html").write_text(page, encoding="utf-8")


def _summary(rows, students) -> str:
    if not rows:
        return "No graded submissions yet."
    earned = sum(row.points for row in rows)
    possible = sum(row.max_points for row in rows)
    wrong = sum(bool(row.diagnosis) for row in rows)
    return (
        f"{len(students)} students, {len(rows)} rules graded, {wrong} of them not full marks; "
        f"{earned:g} of {possible:g} points earned in all."
    )


def _table(rows) -> str:
    by_diagnosis = collections.defaultdict(list)
    for row in rows:
        if row.diagnosis:
            by_diagnosis[row.diagnosis].append(row)
    body = []
    for diagnosis, found in sorted(by_diagnosis.items(), key=lambda item: (-len(item[1]), item[0])):
        students = ", ".join(sorted({row.student for row in found}))
        body.append(
            "<tr>"
            f"<td><code>{html.escape(diagnosis)}</code></td>"
            f"<td>{html.escape(', '.join(sorted({row.rule for row in found})))}</td>"
            f"<td>{html.escape(meaning(diagnosis))}</td>"
            f"<td class='count'>{len(found)}</td>"
            f"<td>{html.escape(students)}</td>"
            "</tr>"
        )
    if not body:
        return "<p>Every rule earned full marks: nothing to explain.</p>"
    columns = ("diagnosis", "rule", "what it means", "count", "students")
    head = "<tr>" + "".join(f"<th>{column}</th>" for column in columns) + "</tr>"
    return f"<table>\n{head}\n" + "\n".join(body) + "\n</table>"


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>What the class got wrong: {assignment}</title>
<script>{plotlyjs}</script>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }}
h1 {{ font-size: 1.6rem; }} h2 {{ font-size: 1.2rem; margin-top: 2rem; }}
table {{ border-collapse: collapse; width: 100%; font-size: 0.92rem; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.35rem 0.5rem; text-align: left;
         vertical-align: top; overflow-wrap: anywhere; }}
td.count {{ text-align: right; }}
td:first-child, th {{ white-space: nowrap; }}
td:nth-child(2) {{ overflow-wrap: normal; }}
</style>
</head>
<body>
<h1>What the class got wrong: {assignment}</h1>
<p>{summary}</p>
{sections}
<h2>Each diagnosis, what it means and who made it</h2>
{table}
<p>The same rows, one per student and rule, are in <a href="mistakes.csv">mistakes.csv</a>.</p>
</body>
</html>
"""


def write_canvas_csv(course: Path, assignments: Iterable[str], path: Path) -> None:
    """Each student's total per assignment, in the columns of Canvas's gradebook import.

    Canvas matches a row to a student by its ``SIS Login ID`` (the nbgrader student
    id here, so use the LMS login as the id); a missing submission is an empty cell,
    which Canvas leaves as it is. The second row gives each assignment's points.
    """
    from nbgrader.api import MissingEntry

    assignments = list(assignments)
    with _gradebook(course) as gradebook:
        maxima = []
        for assignment in assignments:
            try:
                maxima.append(gradebook.find_assignment(assignment).max_score)
            except MissingEntry:
                raise ValueError(f"the gradebook has no assignment {assignment!r}") from None
        rows = []
        for student in sorted(gradebook.students, key=lambda s: s.id):
            scores = []
            for assignment in assignments:
                try:
                    scores.append(f"{gradebook.find_submission(assignment, student.id).score:g}")
                except MissingEntry:
                    scores.append("")
            name = ", ".join(filter(None, [student.last_name, student.first_name])) or student.id
            rows.append([name, "", student.id, student.id, "", *scores])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *assignments])
        writer.writerow(["Points Possible", "", "", "", "", *(f"{m:g}" for m in maxima)])
        writer.writerows(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m losslandscape.grading.report",
        description="Write the class report of an autograded assignment: reports/<assignment>/"
        "mistakes.csv and index.html; with --canvas, the grades for Canvas's gradebook import.",
    )
    parser.add_argument(
        "assignments",
        nargs="+",
        metavar="assignment",
        help="the assignment's nbgrader id, e.g. optimizers; with --canvas, one or more",
    )
    parser.add_argument("--course", type=Path, default=Path("."), help="course folder (.)")
    parser.add_argument(
        "--out", type=Path, help="folder of the report (reports/<assignment>) or the Canvas CSV"
    )
    parser.add_argument(
        "--canvas",
        action="store_true",
        help="write <assignment>_canvas.csv for Canvas instead (course_canvas.csv for several)",
    )
    args = parser.parse_args(argv)
    if not args.canvas and len(args.assignments) > 1:
        parser.error("a class report is per assignment: name one (several go with --canvas)")
    first = args.assignments[0]
    try:
        if args.canvas:
            name = first if len(args.assignments) == 1 else "course"
            path = args.out or args.course / f"{name}_canvas.csv"
            write_canvas_csv(args.course, args.assignments, path)
            print(f"wrote {path}")
            return 0
        rows = collect(args.course, first)
        folder = args.out or args.course / "reports" / first
        write_csv(rows, folder / "mistakes.csv")
        write_html(rows, folder, first)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = _summary(rows, {row.student for row in rows})
    print(f"wrote {folder / 'mistakes.csv'} and {folder / 'index.html'}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
