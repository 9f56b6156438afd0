"""How soon the published book answers: each chapter's first figure, and the live panel.

Run with ``make bench`` after ``make book`` (it reads ``_build/html``, or ``--html``);
``--live`` times the live panel only.
Budgets, for a quiet machine: every chapter's first figure within 2 s of opening it, of
which loading plotly.js is a floor every page with a figure pays, so each page's own share
(beyond plotly.js and a trivial figure, measured side by side) within 0.9 s; in the page,
five 1000-epoch runs at N = 1,000 as the race's panel trains them (``runsParallel``: three
and two on two Web Workers, each share side by side) within 20 ms and a 100 x 100 grid
within 200 ms, the median of seven; and, for the record, the same five runs trained by the
page alone (``runs``, as where workers cannot start), the workers' first call (which
compiles their code) and the largest map a panel draws (its grid grown to three times its
width each way) at all 6,309 images. These are timings, so they live here and not in the
tests.
"""

import argparse
import functools
import http.server
import statistics
import sys
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.browser import CHROMIUM, CHROMIUM_ARGS, ROOT, QuietHandler
from tests.test_book_weight import CHAPTERS

FIRST_FIGURE_BUDGET_MS = 2000
PAGE_SHARE_BUDGET_MS = 900
LOADS = 3
LIVE_BUDGETS_MS = {"five_runs_ms": 20, "grid_100x100_ms": 200}

# Set while the page loads: when the first figure has been laid out and drawn, and when the
# page has loaded, in ms since navigation started.
TIMING = """
window.__timing = {};
(function poll() {
  const gd = document.querySelector('.js-plotly-plot');
  if (gd && gd._fullLayout
      && gd.querySelector('.trace, g.contour, .imagelayer image, .gl-container canvas')) {
    window.__timing.figure = performance.now();
  } else {
    requestAnimationFrame(poll);
  }
})();
addEventListener('load', () => { window.__timing.load = performance.now(); });
"""
# The floor every page with a figure stands on: plotly.js loaded and one trivial figure.
FLOOR_PAGE = """<!DOCTYPE html><html><head><script src="/_static/plotly.min.js"></script></head>
<body><div id="floor"></div><script>Plotly.newPlot("floor", [{x: [1, 2], y: [1, 2]}]);</script>
</body></html>"""
LIVE = """async () => {
    const model = await window.losslandscape.model(1000);
    const workers = await window.losslandscape.workers();
    const methods = ["SGD", "SGD-Momentum", "Nesterov-SGD", "RMSProp", "Adam"];
    const five = methods.map((method) => ({method, lr: 10, start: [-9, 15], epochs: 1000}));
    const axis = (lo, hi) => Array.from({length: 100}, (_, i) => lo + (hi - lo) * i / 99);
    let started = performance.now();
    await model.runsParallel(five);
    const first = performance.now() - started;
    const train = [], page = [], grid = [];
    for (let repeat = 0; repeat < 7; repeat++) {
        started = performance.now();
        await model.runsParallel(five);
        train.push(performance.now() - started);
        started = performance.now();
        model.runs(five);
        page.push(performance.now() - started);
        started = performance.now();
        model.grid(axis(-15, 20), axis(-15, 18));
        grid.push(performance.now() - started);
    }
    const median = xs => xs.sort((a, b) => a - b)[xs.length >> 1];
    // The panel's grid grown as far as it grows, at all the images.
    const reg = await window.losslandscape.registry();
    const {wA, wB} = reg.original, far = [-1e9, -1e9, 1e9, 1e9];
    const largest = window.losslandscape.mapExtent(
        {wa: wA, wb: wB, runs: [{weights: far}], maxGrowth: reg.panel.map.maxGrowth});
    const all = await window.losslandscape.model(reg.images);
    started = performance.now();
    all.grid(largest.wa, largest.wb);
    return {five_runs_ms: median(train), grid_100x100_ms: median(grid), workers,
            five_runs_page_ms: median(page), five_runs_first_call_ms: first,
            [`largest_map_${largest.wa.length}x${largest.wb.length}_all_images_ms`]:
                performance.now() - started};
}"""


def first_figure_ms(browser, url: str, floor_url: str) -> float:
    # A fresh context each time: a reader opening the page with nothing cached.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route(floor_url, lambda route: route.fulfill(body=FLOOR_PAGE, content_type="text/html"))
    context.add_init_script(TIMING)
    page = context.new_page()
    page.goto(url, wait_until="load")
    page.wait_for_function("window.__timing.figure && window.__timing.load")
    timing = page.evaluate("window.__timing.figure")
    context.close()
    return timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--live", action="store_true", help="time the live panel only")
    args = parser.parse_args()
    if not (args.html / "index.html").exists():
        sys.exit(f"{args.html} holds no built book: run `make book` first")
    handler = functools.partial(QuietHandler, directory=str(args.html))
    met = True
    with (
        http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd,
        sync_playwright() as playwright,
    ):
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        server = f"http://127.0.0.1:{httpd.server_address[1]}"
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        floor_url = f"{server}/__floor.html"
        for chapter in [] if args.live else CHAPTERS:
            chapters, floors = [], []
            for _ in range(LOADS):
                floors.append(first_figure_ms(browser, floor_url, floor_url))
                chapters.append(first_figure_ms(browser, f"{server}/{chapter}.html", floor_url))
            whole, share = statistics.median(chapters), min(chapters) - min(floors)
            met &= min(chapters) <= FIRST_FIGURE_BUDGET_MS and share <= PAGE_SHARE_BUDGET_MS
            print(
                f"{chapter}: first figure {whole:.0f} ms (median of {LOADS}; budget "
                f"{FIRST_FIGURE_BUDGET_MS}), plotly.js and a trivial figure "
                f"{statistics.median(floors):.0f} ms, the page's own share {share:.0f} ms "
                f"(budget {PAGE_SHARE_BUDGET_MS})"
            )
        page = browser.new_page()
        page.goto(f"{server}/book/09_race.html", wait_until="load")
        page.wait_for_function("window.losslandscape?.panels?.[0]?.runs")
        timings = page.evaluate(LIVE)
        browser.close()
        httpd.shutdown()
    met &= all(timings[key] <= budget for key, budget in LIVE_BUDGETS_MS.items())
    print(f"live panel in Chromium, N = 1,000: {timings} (budgets {LIVE_BUDGETS_MS})")
    print("all budgets met" if met else "BUDGET MISSED")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
