"""The feedback page as a student reads it: one file, from disk or from a Jupyter server.

One course is built in a temporary folder as the instructor builds it (release, two
submissions, ``nbgrader autograde``, ``nbgrader generate_feedback``): the reference
solution, and Adam without the bias correction, whose visible tests fail, the trajectory's
with a message wider than its box. Each page is opened in Chromium from ``file://`` and,
alone, from a real ``jupyter server``'s ``/files/`` (see tests/single_file.py), and must
ask for nothing but itself. Screenshots go to ``artifacts/screenshots/feedback_<student>.png``.
"""

import ast
import json
import re
import shutil
from pathlib import Path

import pytest
from nbconvert.filters.markdown_mistune import MarkdownWithMath
from nbgrader.api import Gradebook

from losslandscape.grading.feedback import MathMLRenderer, UnconvertibleFormula, mathml

from .browser import ROOT, SCREENSHOTS, Page
from .fixture_submissions import SOURCE, Case, notebook
from .single_file import WAYS, open_page, serve_files  # noqa: F401 (fixture)
from .test_grading_pipeline import ASSIGNMENT, make_course, nbgrader

pytestmark = pytest.mark.slow

ADAM_WITHOUT_BIAS_CORRECTION = (
    "def adam_step(w, grad, m, v, t, lr, beta1, beta2, eps):\n"
    "    m = beta1 * m + (1 - beta1) * grad\n"
    "    v = beta2 * v + (1 - beta2) * grad**2\n"
    "    return w - lr * m / (np.sqrt(v) + eps), m, v\n"
)
# A message with no space to break at: the grader's messages wrap themselves, a
# student's own exception text may not.
UNBROKEN_WORD = "see_my_notes_" * 12
SGD_RAISING = f"def sgd_step(w, grad, lr):\n    raise ValueError({UNBROKEN_WORD!r})\n"
STUDENTS = {
    "reference": Case(),
    "adam_without_bias_correction": Case(
        {"adam_step": ADAM_WITHOUT_BIAS_CORRECTION, "sgd_step": SGD_RAISING}
    ),
}
WRONG = "adam_without_bias_correction"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = make_course(
        tmp_path_factory.mktemp("feedback_course"),
        {student: json.dumps(notebook(case)) for student, case in STUDENTS.items()},
    )
    for step in ("autograde", "generate_feedback"):
        result = nbgrader(course, step, ASSIGNMENT)
        assert result.returncode == 0, result.stderr[-3000:]
    assert "WARNING" not in result.stderr, result.stderr[-3000:]
    return course


def folder(course: Path, student: str) -> Path:
    return course / "feedback" / student / ASSIGNMENT


def html(course: Path, student: str) -> str:
    return (folder(course, student) / f"{ASSIGNMENT}.html").read_text()


def graded_cells(course: Path, student: str) -> list[dict]:
    path = course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    return json.loads(path.read_text())["cells"]


def error_messages(course: Path, student: str) -> list[str]:
    """Every error the student's feedback shows, as nbgrader recorded it."""
    return [
        f"{output['ename']}: {output['evalue']}"
        for cell in graded_cells(course, student)
        for output in cell.get("outputs", [])
        if output["output_type"] == "error"
    ]


FORMULA = re.compile(r"\$\$.+?\$\$|\$[^$]+?\$", re.DOTALL)


def formulas(cells: list[dict]) -> int:
    """How many formulas the markdown of ``cells`` holds ($...$ and $$...$$)."""
    return sum(
        len(FORMULA.findall("".join(cell["source"])))
        for cell in cells
        if cell["cell_type"] == "markdown"
    )


@pytest.fixture(scope="module", params=list(STUDENTS))
def student(request):
    return request.param


@pytest.fixture
def page(browser, course, student):
    page = Page(browser, folder(course, student) / f"{ASSIGNMENT}.html")
    yield page
    page.page.close()


def test_the_page_is_one_file_with_no_script(course, student):
    # beside it, only the released files that are not notebooks, as nbgrader copies them
    released = {p.name for p in (ROOT / "assignments" / ASSIGNMENT).iterdir()}
    extras = {name for name in released if not name.endswith(".ipynb")}
    assert extras == {"nbgrader_config.py"}
    names = {path.name for path in folder(course, student).iterdir()}
    assert names == {f"{ASSIGNMENT}.html", *extras}
    page = html(course, student)
    assert "<script" not in page
    references = [
        *re.findall(r"\bsrc=\"([^\"]*)\"", page),
        *re.findall(r"<link\b[^>]*\bhref=\"([^\"]*)\"", page),
        *re.findall(r"url\(\s*['\"]?([^'\")]*)", page),  # in the inlined styles
        *re.findall(r"@import\s+(?:url\()?['\"]?([^'\")\s;]*)", page),
    ]
    # bootstrap's glyphicons font, which no element of the page uses, is the only other file
    assert {url for url in references if not url.startswith("data:")} <= {
        f"../fonts/glyphicons-halflings-regular.{ext}"
        for ext in ("eot", "eot?#iefix", "woff2", "woff", "ttf", "svg#glyphicons_halflingsregular")
    }, references


@pytest.mark.parametrize(
    "source", ["assignments", "solutions"], ids=["released notebook", "solution notebook"]
)
def test_every_formula_of_the_notebooks_converts_to_mathml(source):
    cells = json.loads((ROOT / source / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())["cells"]
    rendered = [
        MarkdownWithMath(renderer=MathMLRenderer(escape=False)).render("".join(cell["source"]))
        for cell in cells
        if cell["cell_type"] == "markdown"
    ]
    assert sum(text.count("<math ") for text in rendered) == formulas(cells) > 10
    # no TeX left, and every symbol a character, not an escaped character reference
    assert not [text for text in rendered if re.search(r"[$\\]|&amp;#", text)]
    assert "<mo>←</mo>" in "".join(rendered) and "<mi>β</mi>" in "".join(rendered)


@pytest.mark.parametrize(
    ("tex", "why"),
    [
        (r"\hat{w} = \unknowncommand{w}", r"\\unknowncommand"),
        (r"\begin{tikzpicture} x \end{tikzpicture}", "environment"),
        (r"\frac{m}{", "NoAvailableTokensError"),
    ],
)
def test_a_formula_without_mathml_is_an_error_not_tex_on_the_page(tex, why):
    with pytest.raises(UnconvertibleFormula, match=why):
        mathml(tex, display=False)


def test_feedback_generation_stops_at_a_formula_without_mathml(course, tmp_path):
    broken = tmp_path / "course"
    shutil.copytree(course, broken)
    graded = broken / "autograded" / WRONG / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = json.loads(graded.read_text())
    cell = next(cell for cell in nb["cells"] if FORMULA.search("".join(cell["source"])))
    cell["source"] = ["A formula with no MathML: $\\unknowncommand{x}$.\n"]
    graded.write_text(json.dumps(nb))
    shutil.rmtree(broken / "feedback")
    result = nbgrader(broken, "generate_feedback", ASSIGNMENT, "--student", WRONG)
    assert result.returncode != 0
    assert "UnconvertibleFormula" in result.stderr and "\\unknowncommand" in result.stderr
    assert not (broken / "feedback" / WRONG / ASSIGNMENT / f"{ASSIGNMENT}.html").exists()


def test_the_hidden_tests_stay_hidden(course, student):
    page = html(course, student)
    for secret in ("HIDDEN TESTS", "check_hidden", "most recent call last", str(course)):
        assert secret not in page, secret


MATH = """() => [...document.querySelectorAll('math')].map(math => {
    const box = math.getBoundingClientRect();
    return {
        mathml: math instanceof MathMLElement,
        display: getComputedStyle(math).display,
        drawn: box.width > 0 && box.height > 0,
        // a fraction laid out as one: its numerator above its denominator
        fractions: [...math.querySelectorAll('mfrac')].every(frac =>
            frac.children[0].getBoundingClientRect().bottom
                <= frac.children[1].getBoundingClientRect().top + 1),
    };
})"""


@pytest.mark.parametrize("way", WAYS)
def test_every_formula_is_drawn_wherever_the_page_is_opened(
    browser, jupyter_files, course, student, way
):
    visit = open_page(browser, jupyter_files, folder(course, student) / f"{ASSIGNMENT}.html", way)
    try:
        assert visit.others() == [] and visit.errors == []
        drawn = visit.page.evaluate(MATH)
        assert len(drawn) == formulas(graded_cells(course, student)) > 10
        for math in drawn:
            assert math["mathml"] and math["drawn"] and math["fractions"], math
            assert math["display"] in ("math", "block math"), math
        assert visit.page.locator("math[display=block] mfrac").count() >= 3
        # No TeX left in the rendered markdown: every $...$ became MathML, of symbols.
        texts = visit.page.locator(".text_cell_render").all_inner_texts()
        assert texts and not [text for text in texts if re.search(r"[$\\]|&#", text)]
        symbols = visit.page.evaluate(
            "[...document.querySelectorAll('mo')].map(mo => mo.textContent)"
        )
        assert {"←", "\N{MINUS SIGN}", "+", "="} <= set(symbols), symbols
        visit.page.screenshot(path=SCREENSHOTS / f"feedback_{student}_{way}.png", full_page=True)
    finally:
        visit.close()


def test_the_autograders_comment_reads_as_written(browser, jupyter_files, course):
    """In the formgrader (plain text) and in the feedback (the diagnosis, as written)."""
    message = json.loads(
        (course / "autograded" / WRONG / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    )["metadata"]["losslandscape"]["findings"]["adam_step"]["message"]
    assert message.startswith("adam_step: the bias correction is missing (m / (1 - beta1^t)")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        stored = gradebook.find_comment("adam_step", ASSIGNMENT, ASSIGNMENT, WRONG).auto_comment
    # the formgrader shows auto_comment as its comment box's placeholder, character for character
    assert stored == message and "\\" not in stored
    page = folder(course, WRONG) / f"{ASSIGNMENT}.html"
    for way in WAYS:
        visit = open_page(browser, jupyter_files, page, way)
        try:
            assert visit.others() == [] and visit.errors == []
            footers = visit.page.locator(".panel-footer").all_inner_texts()
            assert [" ".join(footer.split()) for footer in footers] == [
                " ".join(f"Comments: {message}".split())
            ]
            # the diagnosis's own characters, and its line breaks, as the grader wrote them
            assert visit.page.locator(".auto-comment").all_inner_texts() == [message]
        finally:
            visit.close()


ERROR_BOXES = """() => [...document.querySelectorAll('.output_error pre')].map(pre => {
    const text = document.createRange();
    text.selectNodeContents(pre);
    const t = text.getBoundingClientRect(), box = pre.getBoundingClientRect();
    return {
        text: pre.innerText,
        overflows: pre.scrollWidth > pre.clientWidth,
        textInside: t.left >= box.left && t.right <= box.right && t.bottom <= box.bottom,
        onScreen: box.left >= 0 && box.right <= document.documentElement.clientWidth,
    };
})"""


def test_an_instructors_comment_stays_markdown(course, tmp_path):
    """The formgrader's comment box takes Markdown and formulas; the diagnosis's text
    is shown as written only while it is the comment."""
    commented = tmp_path / "course"
    shutil.copytree(course, commented)
    with Gradebook(f"sqlite:///{commented / 'gradebook.db'}") as gradebook:
        comment = gradebook.find_comment("adam_step", ASSIGNMENT, ASSIGNMENT, WRONG)
        comment.manual_comment = "Divide by **both** corrections, $1 - \\beta_1^t$."
        gradebook.db.commit()
    result = nbgrader(commented, "generate_feedback", ASSIGNMENT, "--student", WRONG, "--force")
    assert result.returncode == 0, result.stderr[-3000:]
    page = (folder(commented, WRONG) / f"{ASSIGNMENT}.html").read_text()
    footer = page[page.index('<div class="panel-footer">') :]
    footer = footer[: footer.index("</div>")]
    assert "auto-comment" not in footer and "it shows from epoch" not in footer
    assert "<strong>both</strong>" in footer and "<msubsup><mi>β</mi>" in footer, footer


@pytest.mark.parametrize("width", [1280, 700])
def test_every_error_message_is_read_whole_inside_its_box(browser, course, width):
    page = Page(browser, folder(course, WRONG) / f"{ASSIGNMENT}.html", width=width)
    try:
        assert page.errors == []
        boxes = page.page.evaluate(ERROR_BOXES)
        messages = error_messages(course, WRONG)
        assert len(boxes) == len(messages) >= 2
        for box, message in zip(boxes, messages, strict=True):
            assert " ".join(box["text"].split()) == " ".join(message.split())
            assert not box["overflows"] and box["textInside"] and box["onScreen"], box
        if width == 1280:
            page.page.screenshot(path=SCREENSHOTS / f"feedback_{WRONG}.png", full_page=True)
        # The trajectory's message ends with the reference's weights, which a student needs;
        # the student's own message is one word wider than the box unless it wraps.
        assert any("the reference's (" in message for message in messages)
        assert any(UNBROKEN_WORD in message for message in messages)
        unwrapped = page.page.evaluate(
            "() => [...document.querySelectorAll('.output_error pre')].map(pre => {"
            "  pre.style.whiteSpace = 'pre';"
            "  return pre.scrollWidth > pre.clientWidth; })"
        )
        assert any(unwrapped)  # so the check above would see a message that ran past its box
    finally:
        page.page.close()


def expected_summary(commented=()) -> list[tuple[str, str]]:
    """Each test cell's grade_id and the first line of its docstring, without the full stop,
    after the grader's comment on each answer in ``commented``."""
    found = []
    for cell in json.loads(SOURCE.read_text())["cells"]:
        nbgrader_metadata = cell["metadata"].get("nbgrader", {})
        if nbgrader_metadata.get("grade_id") in commented:
            rule = nbgrader_metadata["grade_id"]
            found.append((f"comment-{rule}", f"Comment on {rule}"))
        if nbgrader_metadata.get("grade") and not nbgrader_metadata.get("solution"):
            docstring = ast.get_docstring(ast.parse("".join(cell["source"])))
            title = docstring.splitlines()[0].removesuffix(".")
            found.append((nbgrader_metadata["grade_id"], title))
    return found


def test_the_summary_names_each_test_by_what_it_checks(course, student, page):
    entries = page.page.evaluate(
        "[...document.querySelectorAll('#toc li a')]"
        ".map(a => [a.getAttribute('href').slice(1), a.innerText])"
    )
    # the diagnosis of the wrong adam_step is the grader's comment under it
    expected = expected_summary(commented=["adam_step"] if student == WRONG else [])
    assert [tuple(entry) for entry in entries] == expected
    assert len(expected) == len({title for _, title in expected}) == 10 + (student == WRONG)
    assert expected[-1] == (
        "test_adam_step_trajectory",
        "adam_step in the training loop: the original notebook's first epochs (the rest is hidden)",
    )
    # each entry leads to its test
    for grade_id, _ in entries:
        assert page.page.locator(f"a[name='{grade_id}']").count() == 1
    page.page.screenshot(path=SCREENSHOTS / f"feedback_{student}_summary.png")
