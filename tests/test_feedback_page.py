"""The feedback page as a student reads it: opened from disk, with no network.

One course is built in a temporary folder as the instructor builds it (release, two
submissions, ``nbgrader autograde``, ``nbgrader generate_feedback``): the reference
solution, and Adam without the bias correction, whose visible tests fail, the trajectory's
with a message wider than its box. Each page is opened in Chromium from ``file://`` with
every other request refused. Screenshots go to ``artifacts/screenshots/feedback_<student>.png``.
"""

import ast
import json
import re
from pathlib import Path

import pytest

from losslandscape.grading.feedback import MATHJAX_URL, mathjax_files

from .browser import SCREENSHOTS, Page
from .fixture_submissions import SOURCE, Case, notebook
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
MATHJAX_BUDGET = 2_000_000
"""Bytes of MathJax in each student's feedback folder: TeX input, CommonHTML output, fonts."""


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


def formulas(course: Path, student: str) -> int:
    """How many formulas the notebook's markdown holds ($...$ and $$...$$)."""
    return sum(
        len(re.findall(r"\$\$.+?\$\$|\$[^$]+?\$", "".join(cell["source"]), re.DOTALL))
        for cell in graded_cells(course, student)
        if cell["cell_type"] == "markdown"
    )


class FeedbackPage(Page):
    """A feedback page opened from disk, once MathJax has typeset it with its fonts."""

    def __init__(self, browser, path: Path, width: int = 1280):
        super().__init__(browser, path, width)
        self.page.evaluate("document.fonts.ready.then(() => 1)")


@pytest.fixture(scope="module", params=list(STUDENTS))
def student(request):
    return request.param


@pytest.fixture
def page(browser, course, student):
    page = FeedbackPage(browser, folder(course, student) / f"{ASSIGNMENT}.html")
    yield page
    page.page.close()


def test_the_page_asks_no_server_for_scripts_or_styles(course, student):
    page = html(course, student)
    scripts = re.findall(r"<script\b[^>]*\bsrc=\"([^\"]*)\"", page)
    assert scripts == [MATHJAX_URL]
    references = [
        *scripts,
        *re.findall(r"<link\b[^>]*\bhref=\"([^\"]*)\"", page),
        *re.findall(r"url\(\s*['\"]?([^'\")]*)", page),  # in the inlined styles
        *re.findall(r"@import\s+(?:url\()?['\"]?([^'\")\s;]*)", page),
    ]
    assert not [url for url in references if re.match(r"(https?:)?//", url)], references


def test_mathjax_sits_next_to_the_page_and_is_small(course, student):
    mathjax = folder(course, student) / "mathjax"
    shipped = {
        path.relative_to(mathjax.parent).as_posix(): path.read_bytes()
        for path in mathjax.rglob("*")
        if path.is_file()
    }
    assert shipped == mathjax_files()  # exactly the book's part of MathJax, byte for byte
    assert MATHJAX_URL in shipped
    size = sum(map(len, shipped.values()))
    assert size < MATHJAX_BUDGET, f"{size:,} bytes of MathJax per feedback folder"


def test_the_hidden_tests_stay_hidden(course, student):
    page = html(course, student)
    for secret in ("HIDDEN TESTS", "check_hidden", "most recent call last", str(course)):
        assert secret not in page, secret


def test_offline_the_formulas_are_typeset(course, student, page):
    assert page.errors == []
    typeset = page.page.locator("mjx-container").count()
    assert typeset == formulas(course, student) > 0
    # No TeX left in the rendered markdown: every $...$ became MathJax's output.
    texts = page.page.locator(".text_cell_render").all_inner_texts()
    assert texts and not [text for text in texts if "$" in text or "\\" in text]
    # The glyphs are drawn with MathJax's own fonts, read from the folder next to the page.
    fonts = page.page.evaluate(
        "[...document.fonts].filter(f => f.family.startsWith('MJX')).map(f => [f.family, f.status])"
    )
    assert fonts and ["MJXTEX-I", "loaded"] in fonts
    assert not [font for font in fonts if font[1] == "error"], fonts


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


@pytest.mark.parametrize("width", [1280, 700])
def test_every_error_message_is_read_whole_inside_its_box(browser, course, width):
    page = FeedbackPage(browser, folder(course, WRONG) / f"{ASSIGNMENT}.html", width=width)
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
