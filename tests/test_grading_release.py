"""The committed student notebook is the release of the instructor's, and both validate."""

import json
import re
import shutil

import pytest

from losslandscape import grading
from losslandscape.grading.release import published_url

from .fixture_submissions import CASES, notebook
from .student_rules import STUDENTS
from .test_grading_pipeline import ASSIGNMENT, ROOT, nbgrader

ASSIGNMENTS = ("optimizers", "landscape")
SOLUTION_SNIPPETS = {"optimizers": "np.sqrt(v_hat)", "landscape": "onehot[:, 5]) ** 2"}
"""A line of each solution that no released notebook may hold."""


def source(assignment):
    return ROOT / "solutions" / assignment / f"{assignment}.ipynb"


def released(assignment):
    return ROOT / "assignments" / assignment / f"{assignment}.ipynb"


def test_every_assignment_is_tested_here():
    assert sorted(path.name for path in (ROOT / "solutions").iterdir()) == sorted(ASSIGNMENTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_notebook_is_up_to_date_with_solutions(tmp_path, assignment):
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    shutil.copy(ROOT / "_config.yml", tmp_path)  # the published book's address
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    result = nbgrader(tmp_path, "generate_assignment", assignment, "--force")
    assert result.returncode == 0, result.stderr[-3000:]
    fresh = json.loads((tmp_path / "assignments" / assignment / f"{assignment}.ipynb").read_text())
    assert json.loads(released(assignment).read_text()) == fresh, (
        f"assignments/ is out of date: run `make release ASSIGNMENT={assignment}` and commit "
        "the result"
    )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_notebook_gives_away_no_solution_or_hidden_test(assignment):
    text = released(assignment).read_text()
    secrets = ("BEGIN SOLUTION", "HIDDEN TESTS", "check_hidden", SOLUTION_SNIPPETS[assignment])
    assert SOLUTION_SNIPPETS[assignment] in source(assignment).read_text()
    for secret in secrets:
        assert secret not in text


@pytest.mark.parametrize(
    ("notebook", "flags"),
    [
        (path(a), flags)
        for a in ASSIGNMENTS
        for path, flags in ((source, []), (released, ["--invert"]))
    ],
)
def test_notebooks_validate(notebook, flags):
    result = nbgrader(ROOT, "validate", *flags, str(notebook))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Success!" in result.stdout, result.stdout[-3000:]
    assert "WARNING" not in result.stdout + result.stderr  # quiet: nothing to learn to ignore


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_released_notebook_validates_quietly_in_a_students_folder(tmp_path, assignment):
    folder = tmp_path / "home" / assignment  # as fetched: no course folder around it
    shutil.copytree(released(assignment).parent, folder)
    result = nbgrader(folder, "validate", "--invert", f"{assignment}.ipynb")
    assert "Success!" in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]
    assert "WARNING" not in result.stdout + result.stderr


def _links(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize(("assignment", "links"), [("optimizers", 5), ("landscape", 2)])
def test_released_chapter_links_point_to_the_published_book(assignment, links):
    base = published_url(ROOT / "_config.yml")
    chapters = re.findall(r"file: (book/[\w-]+)", (ROOT / "_toc.yml").read_text())
    mine_all, theirs_all = _links(source(assignment)), _links(released(assignment))
    assert len(theirs_all) == len(mine_all) >= links
    for mine, theirs in zip(mine_all, theirs_all, strict=True):
        # the instructor's link is the chapter's file, found from the notebook's folder
        folder = source(assignment).parent
        assert (folder / mine).resolve().is_file(), mine
        page = (folder / mine).resolve().relative_to(ROOT).with_suffix("")
        assert page.as_posix() in chapters
        assert theirs == f"{base}{page.as_posix()}.html"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("html: {}\n", r"html.baseurl must be the published book's http\(s\) address, got None"),
        ("html:\n  baseurl: ./book\n", r"got './book'"),
    ],
)
def test_a_book_config_without_the_published_address_is_refused(tmp_path, text, message):
    (tmp_path / "_config.yml").write_text(text)
    with pytest.raises(ValueError, match=message):
        published_url(tmp_path / "_config.yml")
    with pytest.raises(ValueError, match="cannot read the book's configuration"):
        published_url(tmp_path / "missing.yml")


def test_validate_shows_a_students_diagnosis_whole(tmp_path):
    submission = tmp_path / f"{ASSIGNMENT}.ipynb"
    submission.write_text(json.dumps(notebook(CASES["mistakes_a6"])))
    result = nbgrader(tmp_path, "validate", str(submission))
    assert "VALIDATION FAILED" in result.stdout
    lines = result.stdout.splitlines()
    for rule, step in (
        ("adam_step", STUDENTS["adam-betas-swapped"][0]),
        ("rmsprop_step", STUDENTS["rmsprop-eps-inside"][0]),
    ):
        with pytest.raises(AssertionError) as failure:
            grading.check_trajectory(step, rule, epochs=5)
        start = next(
            i for i, line in enumerate(lines) if line.startswith(f"    AssertionError: {rule}: ")
        )
        shown = lines[start : lines.index("", start)]
        assert not any(line.endswith("...") for line in shown), shown  # nothing cut
        assert " ".join(" ".join(shown).split()) == "AssertionError: " + " ".join(
            str(failure.value).split()
        )


def test_the_assignment_grades_exactly_the_registrys_exercises():
    """Each rule with an Exercise entry has its answer cell and graded tests, and no other."""
    cells = json.loads((ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    meta = [c["metadata"].get("nbgrader", {}) for c in cells["cells"]]
    answers = [m["grade_id"] for m in meta if m.get("solution")]
    tested = {
        re.fullmatch(r"test_(\w+_step)_\w+", m["grade_id"])[1] for m in meta if m.get("grade")
    }
    assert answers == list(grading.RULES) and tested == set(grading.RULES)
