"""The landscape assignment's checks, in the student's kernel: the reference against the
library, every fixture answer through the notebook's own test cells, every named mistake
named, the speed test as a ratio, and the self-check's figure.

The same answers go through nbgrader, in their sandboxes, in test_landscape_pipeline.py.
"""

import contextlib
import json
import re

import numpy as np
import pytest

import losslandscape as ll
from losslandscape.grading import _worker, frozen_network, landscape_checks
from losslandscape.grading.autograde import after_earlier_answers
from losslandscape.grading.findings import recording
from losslandscape.grading.landscape_checks import MISTAKES, PARTS, original_data
from losslandscape.grading.map_figure import ARROWS
from losslandscape.grading.sandbox import GraderFault, RuleProxy

from .browser import SCREENSHOTS, Page, overlap
from .landscape_submissions import CORRECT, POINTS, SOURCE, TOTAL, WRONG, expected_points
from .test_self_check_figure import _inside as inside
from .test_self_check_figure import serve_figures

CHECKS = {
    "outputs": landscape_checks.check_outputs,
    "cost": landscape_checks.check_cost,
    "gradient": landscape_checks.check_gradient,
    "cost_map": landscape_checks.check_map,
}


@pytest.fixture(scope="module")
def library():
    data = ll.data.load_mnist(ll.data.bundled_path())
    return (
        ll.Landscape(100, data=data),
        ll.Landscape(100, data=data, gradient_factor=2.0),
    )


@pytest.mark.parametrize("point", [(-9.0, 15.0), (0.0, 0.0), (30.0, -40.0), (-1e3, 2e3)])
def test_the_reference_is_the_librarys_cost_and_true_gradient(library, point):
    landscape, true = library
    args = (*point, *original_data())
    assert frozen_network.cost(*args) == pytest.approx(float(landscape.cost(*point)), rel=1e-12)
    _, gradient = true.cost_and_gradient(np.array([point]))
    np.testing.assert_allclose(frozen_network.gradient(*args), gradient[0], rtol=1e-9, atol=1e-15)


def test_the_reference_maps_are_the_librarys_grid(library):
    landscape, _ = library
    w_a, w_b = np.linspace(-40, 30, 17), np.linspace(-25, 45, 11)
    want = landscape.grid(w_a, w_b)
    for cost_map in (frozen_network.cost_map, frozen_network.cost_map_loop):
        np.testing.assert_allclose(cost_map(w_a, w_b, *original_data()), want, rtol=1e-12)


def test_the_assignment_grades_exactly_its_parts():
    cells = json.loads(SOURCE.read_text())["cells"]
    answers = [
        cell["metadata"]["nbgrader"]["grade_id"]
        for cell in cells
        if cell["metadata"].get("nbgrader", {}).get("solution")
    ]
    assert tuple(answers) == PARTS
    assert TOTAL == 15
    assert {re.match(r"test_(cost_map|\w+?)_", cell).group(1) for cell in POINTS} == set(PARTS)


def test_what_the_notebook_tells_students_is_what_the_grader_does():
    text = " ".join(
        "".join(cell["source"])
        for cell in json.loads(SOURCE.read_text())["cells"]
        if cell["cell_type"] == "markdown"
    )
    text = " ".join(text.split())
    assert f"at least {landscape_checks.SPEEDUP} times as fast as that loop" in text
    data = original_data()
    assert "$C(-9, 15) \\approx 4.8007$" in text
    assert round(float(frozen_network.cost(-9.0, 15.0, *data)), 4) == 4.8007
    assert "with `h = 1e-5` agrees with the true gradient to about eight digits" in text
    h = 1e-5
    central = [
        (frozen_network.cost(-9 + h, 15, *data) - frozen_network.cost(-9 - h, 15, *data)) / (2 * h),
        (frozen_network.cost(-9, 15 + h, *data) - frozen_network.cost(-9, 15 - h, *data)) / (2 * h),
    ]
    np.testing.assert_allclose(central, frozen_network.gradient(-9.0, 15.0, *data), rtol=3e-8)
    assert f"{TOTAL:g} in all" in text


def _kernel(case) -> dict:
    """The notebook's namespace after its set-up cell and the case's answers, run in order."""
    namespace = {}
    cells = json.loads(SOURCE.read_text())["cells"]
    setup = next(c for c in cells if c["metadata"].get("nbgrader", {}).get("grade_id") == "setup")
    exec("".join(setup["source"]), namespace)
    for source in case.answer_cells().values():
        with contextlib.suppress(SyntaxError):  # the notebook goes on, as a kernel does
            exec(source, namespace)
    return namespace


def _test_cells() -> dict[str, str]:
    """The graded test cells' source, hidden tests included."""
    return {
        cell["metadata"]["nbgrader"]["grade_id"]: "".join(cell["source"])
        for cell in json.loads(SOURCE.read_text())["cells"]
        if cell["metadata"].get("nbgrader", {}).get("grade")
    }


def _graded(case) -> tuple[dict[str, float], dict[str, str]]:
    """Each test cell's points and each part's recorded diagnosis, as the notebook runs."""
    namespace = _kernel(case)
    points = {}
    with recording() as found:
        for grade_id, source in _test_cells().items():
            try:
                exec(source, dict(namespace))
                points[grade_id] = POINTS[grade_id]
            except Exception:
                points[grade_id] = 0.0
    return points, {part: finding.diagnosis for part, finding in found.items()}


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_right_answers_in_every_style_get_full_marks(name):
    points, diagnoses = _graded(CORRECT[name])
    assert points == POINTS
    assert diagnoses == {}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_answers_lose_exactly_their_parts_and_are_named(name):
    case = WRONG[name]
    points, diagnoses = _graded(case)
    assert points == expected_points(case)
    for grade_id, diagnosis in case.lost.items():
        part = re.match(r"test_(cost_map|\w+?)_", grade_id).group(1)
        if diagnosis == "undefined":  # in a kernel the test cell's own NameError says so
            assert part not in _kernel(case)
        elif diagnosis:
            assert diagnoses.get(part) == diagnosis, (grade_id, diagnoses)


def _student(mistake):
    if mistake.part == "cost":
        return lambda *args: float(mistake.compute(*args))
    return lambda *args: np.asarray(mistake.compute(*args), float)


@pytest.mark.parametrize(
    "mistake", [m for part in PARTS for m in MISTAKES[part]], ids=lambda mistake: mistake.id
)
def test_every_mistake_is_named_by_the_visible_and_the_hidden_tests(mistake):
    for check in (CHECKS[mistake.part], lambda f: landscape_checks.check_hidden(f, mistake.part)):
        with recording() as found, pytest.raises(AssertionError) as failure:
            check(_student(mistake))
        assert found[mistake.part].diagnosis == mistake.id
        assert " ".join(mistake.explanation.split()[:6]) in " ".join(str(failure.value).split())


@pytest.fixture
def drawn_with(monkeypatch):
    """Draw the hidden tests from a given seed, as LOSSLANDSCAPE_GRADING_SEED would."""

    def draw(seed):
        monkeypatch.setattr(landscape_checks, "DRAW_SEED", seed)
        landscape_checks._hidden_cases.cache_clear()

    yield draw
    landscape_checks._hidden_cases.cache_clear()


def test_a_draw_where_two_mistakes_coincide_is_not_kept(drawn_with):
    # This seed draws, among others, a few images with no 5 among them, where summing over
    # every pair of images gives the sum over the images: such a draw must not be a test.
    drawn_with(22062253913051)
    broadcast = next(m for m in MISTAKES["gradient"] if m.id == "gradient-broadcast-sums")
    with recording() as found, pytest.raises(AssertionError):
        landscape_checks.check_hidden(_student(broadcast), "gradient")
    assert found["gradient"].diagnosis == broadcast.id


def test_no_two_mistakes_of_a_part_look_alike_on_the_visible_tests():
    for part in PARTS:
        for args, _ in landscape_checks._visible_cases(part):
            results = [np.asarray(m.compute(*args), float) for m in MISTAKES[part]]
            for i, mine in enumerate(results):
                for theirs in results[i + 1 :]:
                    assert mine.shape != theirs.shape or not np.allclose(mine, theirs, rtol=1e-6)


def test_the_gradient_test_tells_the_original_notebooks_convention_by_finite_differences():
    def halved(*args):
        return frozen_network.gradient(*args) / 2

    with pytest.raises(AssertionError) as failure:
        landscape_checks.check_gradient(halved)
    said = " ".join(str(failure.value).split())
    assert "half the true gradient" in said and "original notebook's gradient" in said
    h = 1e-5
    args = original_data()
    central = (frozen_network.cost(-9 + h, 15, *args) - frozen_network.cost(-9 - h, 15, *args)) / (
        2 * h
    )
    assert f"central differences of the cost give [{central:.6g}" in said


def test_a_reference_that_disagrees_with_finite_differences_is_the_graders_fault(monkeypatch):
    right = frozen_network.gradient
    monkeypatch.setattr(frozen_network, "gradient", lambda *args: 3 * right(*args))
    with pytest.raises(GraderFault, match="a grader bug, no grade was changed"):
        landscape_checks.check_gradient(right)


def test_the_speed_test_is_a_ratio_against_the_loop_in_the_same_process():
    seconds, loop, result = landscape_checks.race(frozen_network.cost_map)
    np.testing.assert_allclose(
        result,
        frozen_network.cost_map(ll.landscape.SEED_W_A, ll.landscape.SEED_W_B, *original_data()),
    )
    assert seconds > 0 and loop > 0
    namespace = _kernel(WRONG["map_loops"])
    with recording() as found, pytest.raises(AssertionError, match="times as fast as a loop"):
        landscape_checks.check_map_speed(namespace["cost_map"])
    assert found["cost_map"].diagnosis == "cost_map-slow"


@pytest.mark.parametrize(
    "reply",
    [
        {"times": [0.0, 0.05]},
        {"times": [1e-9, float("inf")]},
        {"times": [float("nan"), 0.05]},
        {"times": ["fast", 0.05]},
        {"failure": "not a dict"},
    ],
)
def test_a_forged_race_reply_is_the_sandboxs_fault_not_a_pass(reply):
    """The reply is written where the student's code runs, so it may say anything."""
    answer = frozen_network.cost_map(ll.landscape.SEED_W_A, ll.landscape.SEED_W_B, *original_data())
    forged = object.__new__(RuleProxy)
    forged.run = lambda job: {"result": _worker.encode(answer), **reply}
    with recording() as found, pytest.raises(AssertionError, match="malformed reply"):
        landscape_checks.check_map_speed(forged)
    assert found["cost_map"].diagnosis == "sandbox"


def test_a_fast_wrong_map_earns_no_speed_points():
    with pytest.raises(AssertionError, match="must first be right"):
        landscape_checks.check_map_speed(lambda *args: frozen_network.cost_map(*args) * 2)


def test_hidden_tests_draw_other_networks_sizes_and_grids_and_tell_no_setting():
    cases = landscape_checks._hidden_cases("cost_map")
    sizes = {(len(args[0]), len(args[1]), args[3].shape[1]) for args, _ in cases}
    assert len(sizes) == 3 and all(a != b for a, b, _ in sizes)
    with pytest.raises(AssertionError) as failure:
        landscape_checks.check_hidden(
            lambda *args: frozen_network.cost_map(*args) + 1e-3, "cost_map"
        )
    said = str(failure.value)
    assert "fails a hidden test" in said and "Hidden tests use" in said
    assert not re.search(r"\d\.\d{3}", said), said  # no value of a hidden setting


def test_a_hidden_test_tells_no_shape_of_its_own():
    def right_for_100_images(*args):
        outputs = frozen_network.outputs(*args)
        return outputs if outputs.shape[1] == 100 else outputs[:, 1:]

    landscape_checks.check_outputs(right_for_100_images)
    with pytest.raises(AssertionError) as failure:
        landscape_checks.check_hidden(right_for_100_images, "outputs")
    said = " ".join(str(failure.value).split())
    assert said.startswith("outputs fails a hidden test: it returned something other than")
    assert not re.search(r"\(10, \d+\)", said), said


def test_an_earlier_answer_runs_first_and_its_errors_stay_its_own():
    source = after_earlier_answers(
        ["def helper():\n    return 2\n", "raise ValueError('broken cell')\n", "def f(\n"],
        "def part():\n    return helper()\n",
    )
    namespace = {}
    exec(source, namespace)
    assert namespace["part"]() == 2
    with pytest.raises(SyntaxError) as failure:
        exec(after_earlier_answers(["x = 1\n"], "y = 2\ndef part(:\n"), {})
    assert (failure.value.filename, failure.value.lineno) == ("<answer cell>", 2)


def test_self_check_draws_both_maps_and_names_the_mistake(capsys):
    figure = ll.grading.self_check_map(
        lambda *args: frozen_network.cost_map(*args).T, frozen_network.gradient
    )
    said = " ".join(capsys.readouterr().out.split())
    assert "is transposed" in said
    assert "gradient agrees with the reference at all 36 arrows" in said
    contours = [trace for trace in figure.data if trace.type == "contour"]
    assert len(contours) == 2
    arrows = [a for a in figure.layout.annotations if a.showarrow]
    assert len(arrows) == 2 * 36
    assert {a.arrowcolor for a in arrows} == {"black", "#D55E00"}


# Where each part of the figure is drawn, as the student's browser lays it out.
BOXES = """gd => {
    const box = (e) => { const r = e.getBoundingClientRect();
        return {x: r.x, y: r.y, width: r.width, height: r.height}; };
    const named = (selector) => [...gd.querySelectorAll(selector)]
        .filter((e) => e.textContent.trim() && e.getBoundingClientRect().width > 0)
        .map((e) => ({name: e.textContent.trim(), ...box(e)}));
    return {
        figure: box(gd),
        titles: [...named('.g-gtitle'), ...named('.annotation-text-g')],
        colorbars: [...gd.querySelectorAll('.colorbar')].map(box),
        ticks: named('.xaxislayer-above text, .yaxislayer-above text'),
        texts: named('.main-svg text'),
        arrows: gd.querySelectorAll('.annotation-arrow-g').length,
    };
}"""


def test_self_check_of_the_unanswered_release_says_why_and_draws_the_reference(capsys):
    def unanswered(*args):
        raise NotImplementedError()

    figure = ll.grading.self_check_map(unanswered, unanswered)
    said = capsys.readouterr().out
    assert "cost_map raised NotImplementedError (line 2 of unanswered)" in said
    assert "gradient raised NotImplementedError (line 2 of unanswered)" in said
    assert [trace.type for trace in figure.data] == ["contour"]  # the reference's
    assert [a.text for a in figure.layout.annotations if a.text][-1] == "no map to draw"
    arrows = [a for a in figure.layout.annotations if a.showarrow]
    assert len(arrows) == ARROWS**2 and {a.arrowcolor for a in arrows} == {"black"}


@pytest.fixture(scope="module")
def map_figures(tmp_path_factory):
    """self_check_map's figure for a right and a transposed map, as offline pages."""
    maps = {
        "right": frozen_network.cost_map,
        "transposed": lambda *args: frozen_network.cost_map(*args).T,
    }
    figures = {
        case: ll.grading.self_check_map(cost_map, frozen_network.gradient)
        for case, cost_map in maps.items()
    }
    yield from serve_figures(tmp_path_factory.mktemp("self_check_map"), figures)


@pytest.mark.slow
@pytest.mark.parametrize("width", [800, 1000])
@pytest.mark.parametrize("case", ["right", "transposed"])
def test_the_self_check_map_reads_clearly_in_a_browser(browser, map_figures, case, width):
    page = Page(browser, f"{map_figures}/{case}-{width}.html")
    gd = page.page.locator(".js-plotly-plot")
    if width == 1000:
        gd.screenshot(path=SCREENSHOTS / f"selfcheck_map_{case}.png")
    layout = gd.evaluate(BOXES)
    frame = layout["figure"]
    assert frame["width"] == width
    assert len(layout["colorbars"]) == 1
    titles = layout["titles"]
    assert len(titles) == 3  # the figure's and each map's
    for i, a in enumerate(titles):
        for b in [*titles[i + 1 :], *layout["ticks"], *layout["colorbars"]]:
            assert not overlap(a, b), (a, b)
    for box in [*layout["texts"], *layout["colorbars"]]:
        assert inside(box, frame), box
    assert layout["arrows"] == 2 * ARROWS**2
    assert page.errors == []
