"""Every page of the book is readable at every screen size (issue 19): a phone (390 x 844),
a tablet (768 x 1024) and a laptop (1280 x 900).

For every page in ``_toc.yml`` (the chapters and the reference) at each size, and every
plotly figure on it (``.js-plotly-plot``: the static figures and the live panels), these
tests read the drawn figure from the DOM and check:

- the figure lies within the page's width, so nobody scrolls sideways to see it;
- its controls (each legend's box ``.legend > .bg``, each colour bar ``.colorbar``, the
  mode bar ``.modebar``, each slider ``.slider-container`` and each row of buttons
  ``.updatemenu-container``) lie within the figure and overlap neither one another nor
  what they would hide: a plot's data area (each cartesian subplot's ``.nsewdrag``, each
  3D scene's ``div``), a title of the figure, of an axis or of a subplot, or an annotation;
- every plot is drawn high enough to read, at every size (a phone stacks side-by-side
  scenes, a tablet and a laptop share the page's width between them): each subplot's data
  area and each 3D scene's cube (the smaller of its scene's sides) at least ``MIN_PLOT``
  pixels, a strip of cost curves under its map ``MIN_STRIP``; a picture (axes hidden, such as
  the digits) ``MIN_PICTURE`` on its shorter side;
- every path drawn on a map starts and ends in sight: its first point (as the page opens)
  and its last (in the last animation frame, for a race) lie within the map's axis ranges,
  and, on a 2D map, their points on the screen lie under none of the controls above. A 3D
  path's points are checked against its scene's axis ranges only (its screen position
  depends on the camera; the scene itself is checked to be under no control).

The overlap checks are exact: two boxes overlap when they share any area, however small,
as ``getBoundingClientRect`` gives them (boxes that only touch do not overlap). The mode bar
shows when the pointer is over its figure, so it counts wherever plotly puts it.

A figure that is not rendered (inside a collapsed toggle or ``display: none``) has no
boxes to check: it is skipped, with a warning that names it (today none is: the book folds
code cells' input and exercises' answers, never a figure).
Every page must show as many figures as ``FIGURES`` in test_book_browser.py says, so no
figure is missed. One browser context per size keeps one tab open and walks it through the
book.
"""

import warnings

import pytest

from tests.browser import keep_to, log_errors, overlap, wait_until_drawn
from tests.test_book_browser import FIGURES
from tests.test_book_weight import CHAPTERS, REFERENCE

pytestmark = pytest.mark.slow

SIZES = {"phone": (390, 844), "tablet": (768, 1024), "laptop": (1280, 900)}
PAGES = [*CHAPTERS, *REFERENCE]
# Pixels of height a plot keeps at every size (chapter 2's side-by-side scenes: 267 px on a
# laptop, 286 on a tablet); a strip of cost curves under its map (a figure's further
# subplots) keeps about half of that, as on a laptop (145 to 182 px there).
MIN_PLOT = 250
MIN_STRIP = 120
MIN_PICTURE = 48  # a 28 x 28 digit at 1.7 screen pixels per image pixel

# Every rendered figure's boxes in page pixels (x, y, width, height), and the points where
# its map paths start and end, in data and on the screen.
READ_FIGURES = r"""() => {
  const box = (r) => ({x: r.left, y: r.top, width: r.width, height: r.height});
  const drawn = (el) => box(el.getBoundingClientRect());
  const sized = (b) => b.width > 0 && b.height > 0;
  // plotly.py sends numpy arrays base64-encoded; gd.data and frames may keep them so.
  const types = {f8: Float64Array, f4: Float32Array, i4: Int32Array, i2: Int16Array,
                 i1: Int8Array, u4: Uint32Array, u2: Uint16Array, u1: Uint8Array};
  const arr = (v) => v === undefined || v === null ? []
      : Array.isArray(v) || ArrayBuffer.isView(v) ? Array.from(v)
      : Array.from(new types[v.dtype](Uint8Array.from(atob(v.bdata), (c) => c.charCodeAt(0)).buffer));
  const finite = (trace, is3d) => {
    const xs = arr(trace.x), ys = arr(trace.y), zs = is3d ? arr(trace.z) : [];
    const points = [];
    xs.forEach((x, k) => {
      const point = is3d ? [x, ys[k], zs[k]] : [x, ys[k]];
      if (point.every(Number.isFinite)) points.push(point);
    });
    return points;
  };
  return [...document.querySelectorAll('.js-plotly-plot')].map((gd, index) => {
    const figure = drawn(gd);
    const id = gd.id || `figure ${index}`;
    if (!gd.checkVisibility() || !sized(figure)) return {id, hidden: true};
    const layout = gd._fullLayout;
    const controls = [];
    const add = (kind, el) => {
      const b = drawn(el);
      if (sized(b)) controls.push({name: kind, box: b});
    };
    gd.querySelectorAll('.legend > .bg').forEach((el) => add('legend', el));
    gd.querySelectorAll('.colorbar').forEach((el) => add('colour bar', el));
    gd.querySelectorAll('.modebar').forEach((el) => add('mode bar', el));
    gd.querySelectorAll('.slider-container').forEach((el) => add('slider', el));
    gd.querySelectorAll('.updatemenu-container').forEach((el) => add('buttons', el));
    const covered = [];
    gd.querySelectorAll('.draglayer .nsewdrag').forEach((el) => {
      covered.push({name: `plot area ${el.parentNode.getAttribute('class')}`, box: drawn(el)});
    });
    const scenes = Object.keys(layout).filter((key) => /^scene\d*$/.test(key));
    for (const key of scenes) covered.push({name: `3D ${key}`, box: drawn(layout[key]._scene.container)});
    gd.querySelectorAll('.infolayer > g[class^="g-"][class$="title"]').forEach((el) => {
      const b = drawn(el);
      if (sized(b)) covered.push({name: `title "${el.textContent}"`, box: b});
    });
    gd.querySelectorAll('.annotation').forEach((el) => {
      const b = drawn(el);
      if (sized(b)) covered.push({name: `annotation "${el.textContent}"`, box: b});
    });
    // The paths on a map: every scatter trace beside a contour map (trace 0, or a picture
    // of it carried by an invisible grid of points), and every 3D scatter over a surface.
    const map = gd.data[0] || {};
    const onMap = map.type === 'surface' ? (t) => t.type === 'scatter3d'
        : map.type === 'contour' || layout.images.length
          ? (t, i) => i > 0 && (t.type || 'scatter') === 'scatter' && (t.xaxis || 'x') === 'x'
              && (t.yaxis || 'y') === 'y'
          : () => false;
    const frames = Object.values(gd._transitionData._frameHash || {});
    const paths = [];
    gd.data.forEach((trace, i) => {
      if (!onMap(trace, i)) return;
      const is3d = trace.type === 'scatter3d';
      let last = trace;
      for (const frame of frames) {  // the frames' order is the slider's
        const k = (frame.traces || []).indexOf(i);
        if (k >= 0) last = frame.data[k];
      }
      const first = finite(trace, is3d)[0], end = finite(last, is3d).at(-1);
      const full = gd._fullData[i];
      const axes = is3d ? ['xaxis', 'yaxis', 'zaxis'].map((a) => layout[full.scene][a])
          : [layout[full.xaxis.replace('x', 'xaxis')], layout[full.yaxis.replace('y', 'yaxis')]];
      const where = (point) => {
        if (!point) return null;
        const ranges = axes.map((ax) => [...ax.range].sort((a, b) => a - b));
        const inRange = point.every((v, a) => ranges[a][0] <= v && v <= ranges[a][1]);
        const screen = is3d ? null : {
          x: figure.x + axes[0]._offset + axes[0].l2p(axes[0].d2l(point[0])),
          y: figure.y + axes[1]._offset + axes[1].l2p(axes[1].d2l(point[1])),
        };
        return {point, ranges, inRange, screen};
      };
      paths.push({name: `${trace.name || 'trace'} (trace ${i})`, start: where(first), end: where(end)});
    });
    // How high each plot is drawn: a 3D scene's cube (the smaller of its sides), a
    // subplot's data area; a picture, with its axes hidden, by its shorter side.
    const plots = scenes.map((key) => {
      const b = drawn(layout[key]._scene.container);
      return {name: `3D ${key}`, height: Math.min(b.width, b.height), kind: 'plot'};
    });
    for (const [id, {xaxis, yaxis}] of Object.entries(layout._plots || {})) {
      if (xaxis.visible === false && yaxis.visible === false) {
        const side = Math.min(xaxis._length, yaxis._length);
        plots.push({name: `picture ${id}`, height: side, kind: 'picture'});
      } else {
        plots.push({name: `plot area ${id}`, height: yaxis._length, kind: id === 'xy' ? 'plot' : 'strip'});
      }
    }
    return {id, hidden: false, figure, controls, covered, paths, plots,
            width: document.documentElement.clientWidth};
  });
}"""


class _SizedPage:
    """One tab at one screen size, walked from page to page of the book.

    As ``tests.browser.Page``: requests that leave the tests' server are blocked and
    recorded, and so is every JavaScript error; a page counts as open once plotly has laid
    out every figure, every live panel has drawn, and MathJax has typeset.
    """

    def __init__(self, browser, size):
        width, height = size
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.errors = []
        self.url = None
        log_errors(self.page, self.errors)
        keep_to(self.page, "http://127.0.0.1", self.errors)

    def open(self, url):
        if url == self.url:
            return
        self.errors.clear()
        self.page.goto(url, wait_until="load")
        wait_until_drawn(self.page)
        self.url = url

    def figures(self):
        return self.page.evaluate(READ_FIGURES)


@pytest.fixture(scope="module", params=list(SIZES))
def sized(request, browser, server):
    """A tab at one of SIZES, and the URL of a page of the book."""
    tab = _SizedPage(browser, SIZES[request.param])
    yield tab, request.param, lambda page: f"{server}/{page}.html"
    tab.context.close()


def _figures(sized, page):
    tab, size, url = sized
    tab.open(url(page))
    figures = tab.figures()
    chapter = page.rsplit("/", 1)[-1]
    assert len(figures) == FIGURES.get(chapter, 0), (size, page, [f["id"] for f in figures])
    hidden = [f["id"] for f in figures if f["hidden"]]
    if hidden:
        warnings.warn(f"{size} {page}: not rendered, not checked: {hidden}", stacklevel=2)
    return tab, size, [f for f in figures if not f["hidden"]]


def _inside(inner, outer) -> bool:
    return (
        outer["x"] <= inner["x"]
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
        and outer["y"] <= inner["y"]
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"]
    )


def _at(point, box) -> bool:
    """Whether a screen point lies inside a box (its edges included: a marker there is
    half hidden)."""
    return (
        box["x"] <= point["x"] <= box["x"] + box["width"]
        and box["y"] <= point["y"] <= box["y"] + box["height"]
    )


def _rounded(box):
    return {key: round(value, 1) for key, value in box.items()}


@pytest.mark.parametrize("page", PAGES)
def test_controls_cover_nothing_and_stay_in_their_figure(sized, page):
    tab, size, figures = _figures(sized, page)
    problems = []
    for fig in figures:
        where = f"{size} {page} #{fig['id']}"
        frame = fig["figure"]
        if frame["x"] < 0 or frame["x"] + frame["width"] > fig["width"]:
            problems.append(
                f"{where}: figure {_rounded(frame)} wider than the page ({fig['width']})"
            )
        controls = fig["controls"]
        for k, control in enumerate(controls):
            name, box = control["name"], control["box"]
            if not _inside(box, frame):
                problems.append(
                    f"{where}: {name} {_rounded(box)} leaves the figure {_rounded(frame)}"
                )
            for other in controls[k + 1 :]:
                if overlap(box, other["box"]):
                    problems.append(
                        f"{where}: {name} {_rounded(box)} overlaps {other['name']} "
                        f"{_rounded(other['box'])}"
                    )
            for item in fig["covered"]:
                if overlap(box, item["box"]):
                    problems.append(
                        f"{where}: {name} {_rounded(box)} covers {item['name']} "
                        f"{_rounded(item['box'])}"
                    )
    assert problems == [], "\n".join(problems)
    assert tab.errors == [], (size, page)


@pytest.mark.parametrize("page", [p for p in PAGES if p.rsplit("/", 1)[-1] in FIGURES])
def test_every_path_starts_and_ends_in_sight(sized, page):
    tab, size, figures = _figures(sized, page)
    problems = []
    for fig in figures:
        for path in fig["paths"]:
            for end in ("start", "end"):
                where = f"{size} {page} #{fig['id']} {path['name']} {end}"
                point = path[end]
                if point is None:
                    problems.append(f"{where}: no finite point")
                    continue
                if not point["inRange"]:
                    problems.append(f"{where} {point['point']}: outside the axes {point['ranges']}")
                if point["screen"] is None:
                    continue
                for control in fig["controls"]:
                    if _at(point["screen"], control["box"]):
                        problems.append(
                            f"{where} {point['point']}: under the {control['name']} "
                            f"{_rounded(control['box'])}"
                        )
    assert problems == [], "\n".join(problems)
    assert tab.errors == [], (size, page)


@pytest.mark.parametrize("page", PAGES)
def test_every_plot_is_big_enough_to_read(sized, page):
    tab, size, figures = _figures(sized, page)
    problems = []
    for fig in figures:
        for plot in fig["plots"]:
            least = {"plot": MIN_PLOT, "strip": MIN_STRIP, "picture": MIN_PICTURE}[plot["kind"]]
            if plot["height"] < least:
                problems.append(
                    f"{size} {page} #{fig['id']}: {plot['name']} is drawn "
                    f"{plot['height']:.0f} px high, under {least}"
                )
    assert problems == [], "\n".join(problems)
    assert tab.errors == [], (size, page)
