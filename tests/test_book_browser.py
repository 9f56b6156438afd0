"""Build the book, serve it on 127.0.0.1 and read every chapter in headless Chromium.

Requests that leave 127.0.0.1 are blocked, as on a reader's machine without internet:
every figure must draw from the book's own files. Screenshots of every chapter go to
``artifacts/screenshots/``.
"""

import functools
import http.server
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # WebGL (the 3D figures) in software, as on a machine without a GPU.
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
# Plotly figures per chapter: what each chapter's code draws.
FIGURES = {
    "01_introduction": 1,
    "02_landscape": 2,
    "03_sgd": 3,
    "04_momentum": 3,
    "05_nesterov": 3,
    "06_adagrad": 2,
    "07_rmsprop": 3,
    "08_adam": 4,
    "09_race": 2,
    "10_seed_notes": 6,
}

pytestmark = pytest.mark.slow
playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="session")
def book_html(tmp_path_factory):
    """The book, built in this session exactly as ``make book`` builds it."""
    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [jupyter_book, "build", ".", "--warningiserror", "--nitpick", "--keep-going",
         "--path-output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    problems = [line for line in result.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert result.returncode == 0, "\n".join(problems) or result.stdout[-5000:]
    assert problems == []  # a quiet build: no warning a reader of the log must learn to ignore
    return out / "_build" / "html"


@pytest.fixture(scope="session")
def server(book_html):
    handler = functools.partial(_QuietHandler, directory=str(book_html))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
        httpd.shutdown()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed; run `make system` (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


class Page:
    """A chapter open in the browser, with every JavaScript error and outside request kept."""

    def __init__(self, browser, url):
        self.errors = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on(
            "console",
            lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"),
        )
        self.page.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith("http://127.0.0.1")
                else (self.errors.append(f"outside request: {route.request.url}"), route.abort())
            ),
        )
        self.page.goto(url, wait_until="load")
        # Figures are drawn once plotly has laid them out; MathJax typesets asynchronously.
        self.page.wait_for_function(
            "[...document.querySelectorAll('.js-plotly-plot')].every(gd => gd._fullLayout)"
        )
        self.page.wait_for_function("!window.MathJax || window.MathJax.startup?.promise")
        self.page.evaluate("window.MathJax?.startup?.promise")

    def figures(self):
        """For each plotly figure: its id, its traces and how many of them are drawn."""
        return self.page.evaluate(
            """[...document.querySelectorAll('.js-plotly-plot')].map(gd => ({
                id: gd.id,
                traces: gd.data.length,
                visible: gd._fullData.filter(t => t.visible === true).length,
                drawn: gd.querySelectorAll('.trace, g.contour, .imagelayer image, .gl-container canvas')
                    .length,
                webgl_error: !!gd.querySelector('.no-webgl'),
            }))"""
        )

    def figure(self, div_id, expression):
        return self.page.evaluate(
            f"gd => {expression}", self.page.locator(f"#{div_id}").element_handle()
        )


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
