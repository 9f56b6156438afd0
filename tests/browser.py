"""The built book in headless Chromium, for the tests that read it as a reader does.

The fixtures (``book_html``, ``server``, ``browser``) are in ``conftest.py``, so one build
and one browser serve every browser test of a session. Requests that leave 127.0.0.1 are
blocked, as on a reader's machine without internet: every page must work from the book's
own files.
"""

import http.server
import shutil
from pathlib import Path

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


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def log_errors(page, errors: list[str]) -> None:
    """Keep every uncaught error and console error of ``page`` in ``errors``."""
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on("console", lambda msg: msg.type == "error" and errors.append(f"console: {msg.text}"))


def keep_to(page, own, errors: list[str] | None = None) -> None:
    """Let ``page`` fetch only URLs starting with ``own``; the rest are blocked (and, with
    ``errors``, recorded there), as on a reader's machine without internet."""

    def route(route):
        if route.request.url.startswith(own):
            route.continue_()
        else:
            if errors is not None:
                errors.append(f"outside request: {route.request.url}")
            route.abort()

    page.route("**/*", route)


def wait_until_drawn(page) -> None:
    """Until every figure is laid out, every live panel has drawn its settings (its model's
    arrays have arrived) and MathJax has typeset."""
    page.wait_for_function(
        "[...document.querySelectorAll('.js-plotly-plot')].every(gd => gd._fullLayout)"
    )
    page.wait_for_function(
        "[...document.querySelectorAll('.losslandscape-live')]"
        ".every(panel => panel.querySelector('.js-plotly-plot')?._fullLayout)"
    )
    page.wait_for_function(
        "(window.losslandscape?.panels || []).every(p => !(p.drawn < p.version))"
    )
    page.wait_for_function("!window.MathJax || window.MathJax.startup?.promise")
    page.evaluate("window.MathJax?.startup?.promise")


class Page:
    """A page open in the browser, with every JavaScript error and outside request kept.

    A page served by the tests' server may fetch from 127.0.0.1 only; a page opened from
    disk (a ``Path`` or ``file://`` URL: feedback, the class report) from disk only.
    ``prepare``, if given, is called with the Playwright page before it opens ``url`` (to add
    an init script, or a route, which takes precedence over the one that keeps it offline).
    """

    def __init__(self, browser, url, width=1280, prepare=None):
        if isinstance(url, Path):
            url = url.as_uri()
        own = "file://" if url.startswith("file://") else "http://127.0.0.1"
        self.errors = []
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        log_errors(self.page, self.errors)
        if own == "file://":  # a file the page asks for and does not find
            self.page.on(
                "requestfailed",
                lambda request: self.errors.append(f"failed: {request.url} {request.failure}"),
            )
        keep_to(self.page, own, self.errors)
        if prepare is not None:
            prepare(self.page)
        self.page.goto(url, wait_until="load")
        wait_until_drawn(self.page)

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


def overlap(a, b) -> bool:
    """Whether two bounding boxes (``x``, ``y``, ``width``, ``height``) overlap."""
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )
