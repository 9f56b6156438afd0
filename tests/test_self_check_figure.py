"""The figure ``self_check`` draws (``grading/figure.py``), on rules written as students
write them: an Adam without bias correction and a Nesterov written as plain momentum both
part at epoch 1, by 0.11 and 0.012, invisible on the map alone.

The browser test renders the figure offline in Chromium (see ``tests/browser.py``) and
reads its layout as a student sees it; its screenshots go to ``artifacts/screenshots/selfcheck_*.png``.
"""

import functools
import http.server
import threading

import numpy as np
import pytest

from losslandscape import grading
from losslandscape.grading import TOLERANCE
from losslandscape.grading.figure import REFERENCE_COLOR, comparison_figure
from losslandscape.landscape import SEED_W_A, SEED_W_B
from losslandscape.plotting import BACKDROP_SCALE
from tests.browser import SCREENSHOTS, Page, QuietHandler, overlap


def adam_without_bias_correction(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    return w - lr * m / (np.sqrt(v) + eps), m, v


def nesterov_as_plain_momentum(w, grad, velocity, lr, rho):
    velocity = rho * velocity + grad
    return w - lr * velocity, velocity


def sgd(w, grad, lr):
    return w - lr * grad


def momentum_in_keras_form(w, grad, velocity, lr, rho):
    """Correct, in another order of operations: a few 1e-15 off the reference's path."""
    velocity = rho * velocity - lr * grad
    return w + velocity, velocity


def momentum_growing_tenfold(w, grad, velocity, lr, rho):
    """Its weights grow tenfold per epoch, past 1e300, and stop being finite at epoch 308."""
    velocity = rho * velocity + grad
    return 10 * w - lr * velocity, velocity


def sgd_raising_past_14_5(w, grad, lr):
    """Raises from epoch 42, where the weights first fall below 14.5."""
    if np.abs(w).max() < 14.5:
        raise ValueError("a bug of the student's")
    return w - lr * grad


RULES = {
    "adam": ("adam_step", adam_without_bias_correction),
    "nesterov": ("nesterov_step", nesterov_as_plain_momentum),
    "sgd": ("sgd_step", sgd),
    "keras": ("momentum_step", momentum_in_keras_form),
    "tenfold": ("momentum_step", momentum_growing_tenfold),
    "raising": ("sgd_step", sgd_raising_past_14_5),
}
WRONG = ["adam", "nesterov"]


@functools.cache
def drawn(case):
    """``(weights, expected, epoch, figure)`` for a case of :data:`RULES`, as self_check
    computes them."""
    name, step = RULES[case]
    weights = grading.trajectory(step, name)
    expected = grading.reference(name)
    epoch = grading.first_parting(weights, expected)
    return (
        weights,
        expected,
        epoch,
        comparison_figure(name, weights, expected, epoch, grading.landscape()),
    )


def traces(fig, name, xaxis=None):
    return [t for t in fig.data if t.name == name and (xaxis is None or t.xaxis == xaxis)]


def the(fig, name, xaxis=None):
    (trace,) = traces(fig, name, xaxis)
    return trace


def title(fig):
    return fig.layout.title.text


def subplot_titles(fig):
    return [a.text for a in fig.layout.annotations]


def distance_title(fig):
    (text,) = [t for t in subplot_titles(fig) if t.startswith("your distance from the reference")]
    return text


def test_the_wrong_rules_part_at_epoch_1_and_the_correct_ones_never():
    assert [drawn(case)[2] for case in RULES] == [1, 1, None, None, 1, 42]


@pytest.mark.parametrize("case", [*WRONG, "sgd", "keras"])
def test_the_map_covers_both_paths_at_the_original_spacing(case):
    weights, expected, _, fig = drawn(case)
    contour = fig.data[0]
    assert contour.type == "contour"
    x, y = np.asarray(contour.x, float), np.asarray(contour.y, float)
    np.testing.assert_allclose(np.diff(x), SEED_W_A[1] - SEED_W_A[0], rtol=1e-5)
    np.testing.assert_allclose(np.diff(y), SEED_W_B[1] - SEED_W_B[0], rtol=1e-5)
    points = np.r_[weights, expected]
    (x0, x1), (y0, y1) = fig.layout.xaxis.range, fig.layout.yaxis.range
    assert x0 <= points[:, 0].min() and points[:, 0].max() <= x1
    assert y0 <= points[:, 1].min() and points[:, 1].max() <= y1
    # The axes show the map, not a blank strip beside it.
    np.testing.assert_allclose([x0, x1, y0, y1], [x[0], x[-1], y[0], y[-1]], rtol=1e-6)


def test_the_map_grows_where_the_original_grid_stops_short():
    _, expected, _, fig = drawn("adam")
    assert expected[:, 0].max() > SEED_W_A[-1]  # the reference runs to 18.6, the grid to 17
    assert fig.layout.xaxis.range[1] >= expected[:, 0].max()


@pytest.mark.parametrize("case", [*WRONG, "keras", "tenfold"])
def test_the_distance_is_the_norm_of_the_difference_on_a_log_axis(case):
    weights, expected, _, fig = drawn(case)
    distance = the(fig, "distance")
    assert distance.xaxis == "x3"
    assert fig.layout.yaxis3.type == "log"
    # The Euclidean norm; np.linalg.norm would overflow at 1e154 (squares past 1e308).
    with np.errstate(over="ignore"):
        norm = np.hypot(*(weights - expected).T)
    small = norm < 1e150
    np.testing.assert_allclose(norm[small], np.linalg.norm((weights - expected)[small], axis=1))
    y = np.asarray(distance.y, float)
    plotted = np.isfinite(y)
    np.testing.assert_array_equal(np.asarray(distance.x)[plotted], np.flatnonzero(plotted))
    np.testing.assert_allclose(y[plotted], norm[plotted], rtol=1e-6)
    # Every epoch with a finite, non-zero distance is drawn; the others are gaps.
    np.testing.assert_array_equal(plotted, np.isfinite(norm) & (norm > 0))
    # The log axis (its range in powers of ten) spans every drawn distance and the tolerance.
    low, high = fig.layout.yaxis3.range
    assert low < np.log10(min(y[plotted].min(), TOLERANCE))
    assert np.log10(max(y[plotted].max(), TOLERANCE)) < high


@pytest.mark.parametrize("case", WRONG)
def test_a_wrong_rule_says_where_the_distance_is_zero_and_not_drawn(case):
    _, _, _, fig = drawn(case)
    assert "0 at epoch 0: not drawn (log scale)" in distance_title(fig)


def test_a_rule_right_in_another_order_is_drawn_below_the_tolerance():
    _, _, _, fig = drawn("keras")
    y = np.asarray(the(fig, "distance").y, float)
    assert 0 < np.nanmax(y) < TOLERANCE
    # Its distance is exactly 0 at scattered epochs: the title counts them.
    zeros = np.isnan(y[1:]).sum() + 1
    assert f"0 at {zeros} epochs: not drawn (log scale)" in distance_title(fig)


@pytest.mark.parametrize("case", [*WRONG, "sgd"])
def test_the_tolerance_is_a_labelled_dashed_line_at_1e_8(case):
    _, expected, _, fig = drawn(case)
    line = the(fig, "grader's tolerance")
    assert line.xaxis == "x3"
    assert list(line.y) == [1e-8, 1e-8] and TOLERANCE == 1e-8
    assert list(line.x) == [0, len(expected) - 1]
    assert line.line.dash == "dash"
    assert "tolerance 1e-8" in line.text[-1]


@pytest.mark.parametrize("case", WRONG)
def test_the_parting_points_are_marked_exactly_on_the_map_and_in_the_zoom(case):
    weights, expected, epoch, fig = drawn(case)
    assert epoch == 1
    for xaxis in ("x", "x2"):
        yours = the(fig, f"yours at epoch {epoch}", xaxis)
        theirs = the(fig, f"reference at epoch {epoch}", xaxis)
        start = the(fig, "start", xaxis)
        assert (yours.x[0], yours.y[0]) == tuple(weights[epoch])
        assert (theirs.x[0], theirs.y[0]) == tuple(expected[epoch])
        assert (start.x[0], start.y[0]) == tuple(expected[0]) == tuple(weights[0])
        # Three symbols, and on the map (where they lie a pixel or two apart) nested sizes.
        assert len({start.marker.symbol, theirs.marker.symbol, yours.marker.symbol}) == 3
        if xaxis == "x":
            assert start.marker.size > theirs.marker.size > yours.marker.size
    # The zoom holds both points, well apart.
    (x0, x1), (y0, y1) = fig.layout.xaxis2.range, fig.layout.yaxis2.range
    for point in weights[epoch], expected[epoch]:
        assert x0 < point[0] < x1 and y0 < point[1] < y1
    apart = np.linalg.norm(weights[epoch] - expected[epoch])
    assert apart >= 0.2 * (x1 - x0)
    assert f"epoch {epoch} up close" in subplot_titles(fig)[1]
    assert f"leaves the reference at epoch {epoch}" in title(fig)


def test_the_title_says_how_far_apart_the_paths_are_and_the_tolerance():
    assert title(drawn("adam")[3]) == (
        "Your adam_step leaves the reference at epoch 1, 0.114 away (the grader allows 1e-8)"
    )
    assert "0.0116 away" in title(drawn("nesterov")[3])


@pytest.mark.parametrize("case", ["sgd", "keras"])
def test_a_correct_rule_is_said_to_agree_and_has_no_parting_markers(case):
    _, _, _, fig = drawn(case)
    assert "follows the reference at all 1000 epochs" in title(fig)
    assert not [t for t in fig.data if "at epoch" in (t.name or "")]
    assert any("agree<br>at every epoch" in text for text in subplot_titles(fig))
    assert fig.layout.xaxis2.visible is False


def test_a_correct_rule_with_the_same_arithmetic_has_no_distance_to_draw():
    _, _, _, fig = drawn("sgd")
    assert np.isnan(np.asarray(the(fig, "distance").y, float)).all()
    assert "0 at every epoch: the paths are the same" in distance_title(fig)


def test_a_path_that_stops_being_finite_is_drawn_as_far_as_it_goes():
    weights, _, _, fig = drawn("tenfold")
    assert np.isnan(weights[308:]).all() and np.abs(weights[307]).max() > 1e300
    assert title(fig).endswith("not finite from epoch 308")
    assert "none from epoch 308: weights not finite" in distance_title(fig)
    y = np.asarray(the(fig, "distance").y, float)
    assert np.isfinite(y[1:308]).all() and np.isnan(y[308:]).all()
    # Past float32's range, the arrays stay float64 rather than overflow.
    assert np.asarray(the(fig, "your momentum_step", "x").x).dtype == np.float64
    assert any("leaves the map" in text for text in subplot_titles(fig))
    fig.to_json()


def test_a_rule_that_fails_where_it_parts_has_only_the_reference_point_marked():
    weights, expected, epoch, _ = drawn("raising")
    assert epoch == 42 and np.isnan(weights[42:]).all()
    fig = grading.self_check(sgd_raising_past_14_5, "sgd_step")
    # why there is no path: the exception and its line, not "not finite"
    assert title(fig) == "Your sgd_step could not be trained from epoch 42"
    (why,) = [text for text in subplot_titles(fig) if text.startswith("your rule stopped")]
    assert why.split("<br>") == [
        "your rule stopped at epoch 42:",
        "ValueError: a bug of the student's",
        "(line 4 of sgd_raising_past_14_5)",
    ]
    assert "none from epoch 42: your rule stopped" in distance_title(fig)
    theirs = the(fig, "reference at epoch 42")
    assert (theirs.x[0], theirs.y[0]) == tuple(expected[42])
    assert not traces(fig, "yours at epoch 42")


def test_a_rule_that_returns_a_list_is_told_so_above_the_figure():
    def momentum_step(w, grad, velocity, lr, rho):
        velocity = rho * velocity + grad
        return [w - lr * velocity, velocity]

    fig = grading.self_check(momentum_step)
    assert title(fig) == "Your momentum_step could not be trained from epoch 1"
    (why,) = [text for text in subplot_titles(fig) if text.startswith("your rule stopped")]
    assert " ".join(why.split("<br>")[1:]) == (
        "it returns a list: return a tuple, as return w_new, velocity_new does"
    )


def test_the_bulky_arrays_are_float32_and_the_points_float64():
    weights, _, _, fig = drawn("adam")
    contour = fig.data[0]
    for values in (contour.x, contour.y, contour.z):
        assert np.asarray(values).dtype == np.float32
    path = the(fig, "your adam_step", "x")
    assert np.asarray(path.x).dtype == np.float32
    assert np.asarray(the(fig, "distance").y).dtype == np.float32
    assert fig.to_plotly_json()["data"][0]["z"]["dtype"] == "f4"
    # The zoom shows differences float32 cannot: it keeps every digit.
    np.testing.assert_array_equal(the(fig, "your adam_step", "x2").x, weights[:5, 0])


def test_tooltips_give_the_epoch_both_weights_and_the_distance():
    _, _, _, fig = drawn("adam")
    for trace in (the(fig, "reference", "x"), the(fig, "your adam_step", "x2")):
        hover = trace.hovertemplate
        assert "epoch %{customdata[0]}" in hover and "%{customdata[1]:.3g}" in hover
        assert "5,250</sub> = %{x:" in hover and "5,251</sub> = %{y:" in hover
        assert np.asarray(trace.customdata).shape[1] == 2
    hover = the(fig, "distance").hovertemplate
    assert "epoch %{x}" in hover and "distance %{y:.3g}" in hover
    assert "yours (%{customdata[0]" in hover and "reference (%{customdata[2]" in hover


def _contrast(a, b):
    """WCAG contrast ratio of two "#rrggbb" colours."""

    def luminance(colour):
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
        linear = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted([luminance(a), luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_reference_line_reads_on_white_and_on_every_grey_of_the_map():
    assert REFERENCE_COLOR == "black"
    assert _contrast("#000000", "#ffffff") >= 4.5
    for _, grey in BACKDROP_SCALE:
        assert _contrast("#000000", grey) >= 3


def test_self_check_returns_this_figure(capsys):
    fig = drawn("nesterov")[3]
    returned = grading.self_check(nesterov_as_plain_momentum, "nesterov_step")
    capsys.readouterr()
    assert returned.to_plotly_json() == fig.to_plotly_json()


# --- In the browser -----------------------------------------------------------------------

BOXES = """gd => {
    const box = (e) => { const r = e.getBoundingClientRect();
        return {x: r.x, y: r.y, width: r.width, height: r.height}; };
    const named = (selector) => [...gd.querySelectorAll(selector)]
        .filter((e) => e.textContent.trim() && e.getBoundingClientRect().width > 0)
        .map((e) => ({name: e.textContent.trim(), ...box(e)}));
    return {
        figure: box(gd),
        plotTop: gd._fullLayout._size.t,
        title: named('.g-gtitle')[0],
        legend: box(gd.querySelector('.legend')),
        legendBg: gd.querySelector('.legend .bg').style.fill,
        swatches: Object.fromEntries([...gd.querySelectorAll('.legend .traces')].map((t) => [
            t.textContent, t.querySelector('path.js-line')?.style.stroke
                || t.querySelector('path.scatterpts')?.style.stroke])),
        colorbars: [...gd.querySelectorAll('.colorbar')].map(box),
        labels: [...named('.annotation'), ...named('[class^="g-"][class$="title"]:not(.g-gtitle)')],
        ticks: named('.xaxislayer-above text, .yaxislayer-above text'),
        texts: named('.main-svg text'),
    };
}"""

ZOOM = """(gd, points) => {
    const ax = gd._fullLayout.xaxis2, ay = gd._fullLayout.yaxis2;
    return points.map(([x, y]) => [ax._offset + ax.l2p(x), ay._offset + ay.l2p(y)]);
}"""


def _inside(box, frame) -> bool:
    return (
        frame["x"] <= box["x"] + 0.5
        and box["x"] + box["width"] <= frame["x"] + frame["width"] + 0.5
        and frame["y"] <= box["y"] + 0.5
        and box["y"] + box["height"] <= frame["y"] + frame["height"] + 0.5
    )


def serve_figures(directory, figures):
    """Serve each figure of ``figures`` (by name) as offline HTML pages ``<name>-<width>.html``
    at widths 800 and 1000 (plotly.js from the installed package, inline); yields the URL."""
    for name, figure in figures.items():
        for width in (800, 1000):
            figure.write_html(
                directory / f"{name}-{width}.html",
                include_plotlyjs=True,
                default_width=f"{width}px",
            )
    handler = functools.partial(QuietHandler, directory=str(directory))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
        httpd.shutdown()


@pytest.fixture(scope="module")
def figures_server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("self_check")
    yield from serve_figures(directory, {case: drawn(case)[3] for case in RULES})


@pytest.mark.slow
@pytest.mark.parametrize("width", [800, 1000])
@pytest.mark.parametrize("case", [*WRONG, "sgd", "keras", "raising"])
def test_the_figure_reads_clearly_in_a_browser(browser, figures_server, case, width):
    page = Page(browser, f"{figures_server}/{case}-{width}.html")
    gd = page.page.locator(".js-plotly-plot")
    if width == 1000:
        gd.screenshot(path=SCREENSHOTS / f"selfcheck_{case}.png")
    layout = gd.evaluate(BOXES)
    frame = layout["figure"]
    assert frame["width"] == width
    # The legend is clear of the colour bar; both, the titles and the notes are clear of
    # each other and of every tick label.
    assert len(layout["colorbars"]) == 1
    assert not overlap(layout["legend"], layout["colorbars"][0])
    important = [
        {"name": "legend", **layout["legend"]},
        {"name": "colour bar", **layout["colorbars"][0]},
        layout["title"],
        *layout["labels"],
    ]
    for i, a in enumerate(important):
        for b in important[i + 1 :]:
            assert not overlap(a, b), (a, b)
        for tick in layout["ticks"]:
            assert not overlap(a, tick), (a, tick)
    # Nothing is clipped: every text and the legend lie within the figure.
    for box in [*layout["texts"], layout["legend"], *layout["colorbars"]]:
        assert _inside(box, frame), box
    # Little space above the plots: the title at the top, the subplot titles right below.
    assert layout["title"]["y"] - frame["y"] < 12
    assert layout["plotTop"] <= 70
    # The reference's swatch is black on the legend's white.
    assert layout["legendBg"] == "rgb(255, 255, 255)"
    assert layout["swatches"]["reference"] == "rgb(0, 0, 0)"
    weights, expected, epoch, _ = drawn(case)
    if case in WRONG:
        # In the zoom, the two points at the parting epoch lie well apart.
        (a, b) = gd.evaluate(ZOOM, [list(weights[epoch]), list(expected[epoch])])
        assert np.hypot(a[0] - b[0], a[1] - b[1]) > 30
    assert page.errors == []
