"""Every chapter of the built book in headless Chromium (see ``tests/browser.py``).

Screenshots of every chapter go to ``artifacts/screenshots/``.
"""

import pytest

from tests.browser import SCREENSHOTS, Page

# Plotly figures per chapter: what each chapter's code draws, live panels included.
FIGURES = {
    "01_introduction": 1,
    "02_landscape": 2,
    "03_sgd": 4,
    "04_momentum": 4,
    "05_nesterov": 4,
    "06_adagrad": 3,
    "07_rmsprop": 4,
    "08_adam": 5,
    "09_race": 3,
    "10_seed_notes": 6,
}

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("chapter", list(FIGURES))
def test_chapter_draws_every_figure_without_errors(browser, server, chapter):
    page = Page(browser, f"{server}/book/{chapter}.html")
    figures = page.figures()
    assert len(figures) == FIGURES[chapter], figures
    for figure in figures:
        assert figure["traces"] >= 1 and figure["visible"] >= 1, figure
        assert figure["drawn"] >= 1 and not figure["webgl_error"], figure
    # Math is typeset from the book's own MathJax, not left as TeX source.
    assert page.page.locator("mjx-container").count() > 0
    # No live widget in the static page: the panel cells show their note instead.
    assert page.page.locator(".widget-area, .jupyter-widgets").count() == 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.page.screenshot(path=SCREENSHOTS / f"{chapter}.png", full_page=True)
    assert page.errors == []
    page.page.close()


def test_race_plays_and_pauses(browser, server):
    page = Page(browser, f"{server}/book/09_race.html")
    for div_id in ("race-3d", "race-contour"):
        figure = page.page.locator(f"#{div_id}")
        figure.scroll_into_view_if_needed()
        points = "gd._fullData[2].x.length + gd._fullData[1].x.length"
        before = page.figure(div_id, points)
        figure.locator(".updatemenu-button", has_text="Play").click()
        page.page.wait_for_function(
            "id => document.getElementById(id)._fullLayout.sliders[0].active >= 3",
            arg=div_id,
            timeout=20_000,
        )
        figure.locator(".updatemenu-button", has_text="Pause").click()
        assert page.figure(div_id, points) > before
        page.page.screenshot(path=SCREENSHOTS / f"09_race-{div_id}-playing.png")
    assert page.errors == []


def test_static_slider_switches_the_shown_run(browser, server):
    page = Page(browser, f"{server}/book/03_sgd.html")
    figure = page.page.locator("#sgd-lr-sweep")
    figure.scroll_into_view_if_needed()
    visible = "gd._fullData.map(t => t.visible)"
    before = page.figure("sgd-lr-sweep", visible)
    assert page.figure("sgd-lr-sweep", "gd._fullLayout.sliders[0].active") == 2
    rail = figure.locator(".slider-rail-touch-rect").bounding_box()
    page.page.mouse.click(rail["x"] + 0.98 * rail["width"], rail["y"] + rail["height"] / 2)
    page.page.wait_for_function(
        "() => document.getElementById('sgd-lr-sweep')._fullLayout.sliders[0].active === 4"
    )
    after = page.figure("sgd-lr-sweep", visible)
    assert after != before and after[0] is True and sum(after) == 3
    page.page.screenshot(path=SCREENSHOTS / "03_sgd-slider-moved.png")
    assert page.errors == []
