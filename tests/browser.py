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


class Page:
    """A page open in the browser, with every JavaScript error and outside request kept.

    A page served by the tests' server may fetch from 127.0.0.1 only; a page opened from
    disk (a ``Path`` or ``file://`` URL: feedback, the class report) from disk only.
    """

    def __init__(self, browser, url, width=1280):
        if isinstance(url, Path):
            url = url.as_uri()
        own = "file://" if url.startswith("file://") else "http://127.0.0.1"
        self.errors = []
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on(
            "console",
            lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"),
        )
        if own == "file://":  # a file the page asks for and does not find
            self.page.on(
                "requestfailed",
                lambda request: self.errors.append(f"failed: {request.url} {request.failure}"),
            )
        self.page.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith(own)
                else (self.errors.append(f"outside request: {route.request.url}"), route.abort())
            ),
        )
        self.page.goto(url, wait_until="load")
        # Figures are drawn once plotly has laid them out; MathJax typesets asynchronously.
        self.page.wait_for_function(
            "[...document.querySelectorAll('.js-plotly-plot')].every(gd => gd._fullLayout)"
        )
        # Live panels draw their figure once the model's arrays have arrived.
        self.page.wait_for_function(
            "[...document.querySelectorAll('.losslandscape-live')]"
            ".every(panel => panel.querySelector('.js-plotly-plot')?._fullLayout)"
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


def overlap(a, b) -> bool:
    """Whether two bounding boxes (``x``, ``y``, ``width``, ``height``) overlap."""
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )
