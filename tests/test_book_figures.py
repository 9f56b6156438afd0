"""The book's figures in headless Chromium, read as a student reads them (see ``tests/browser.py``).

Each test checks one thing the reader saw go wrong: the race's map vanishing while it
plays, maps that stop short of the paths on them, landscape cameras that do not turn
together, titles outside the figure or under a colour bar, Play/Pause over the slider.
Screenshots go to ``artifacts/screenshots/``.
"""

import struct
import zlib

import numpy as np
import pytest

from tests.browser import SCREENSHOTS, Page, overlap
from tests.test_book_browser import FIGURES

pytestmark = pytest.mark.slow

# For every figure with a map: the map's extent, the axes' ranges and every point of
# every path, from gd.data and from every animation frame (a race's paths are only in
# its frames).
MAPS = """gd => {
    // plotly.py sends numpy arrays base64-encoded; gd.data and frames may keep them so.
    const types = {f8: Float64Array, f4: Float32Array, i4: Int32Array, i2: Int16Array,
                   i1: Int8Array, u4: Uint32Array, u2: Uint16Array, u1: Uint8Array};
    const arr = (v) => Array.isArray(v) || ArrayBuffer.isView(v) ? Array.from(v)
        : Array.from(new types[v.dtype](Uint8Array.from(atob(v.bdata), c => c.charCodeAt(0)).buffer));
    const map = {...gd.data[0], x: arr(gd.data[0].x || []), y: arr(gd.data[0].y || [])};
    const layout = gd._fullLayout;
    let extent, ranges;
    if (map.type === 'surface') {
        extent = [Math.min(...map.x), Math.max(...map.x), Math.min(...map.y), Math.max(...map.y)];
        ranges = [...layout.scene.xaxis.range, ...layout.scene.yaxis.range];
    } else if (map.type === 'contour' && gd.data.length > 1) {
        extent = [Math.min(...map.x), Math.max(...map.x), Math.min(...map.y), Math.max(...map.y)];
        ranges = [...layout.xaxis.range, ...layout.yaxis.range];
    } else if (layout.images.length) {
        const image = layout.images[0];
        extent = [image.x, image.x + image.sizex, image.y - image.sizey, image.y];
        ranges = [...layout.xaxis.range, ...layout.yaxis.range];
    } else {
        return null;
    }
    const onMap = (trace) => trace.type === 'scatter3d'
        || (trace.type === 'scatter' && (trace.yaxis || 'y') === 'y');
    const traces = gd.data.map((trace, i) => [i, trace]).filter(([i, t]) => i > 0 && onMap(t));
    const indices = new Set(traces.map(([i]) => i));
    const frames = Object.values(gd._transitionData._frameHash || {});
    for (const frame of frames) {
        frame.data.forEach((trace, k) => {
            if (indices.has(frame.traces[k])) traces.push([frame.traces[k], trace]);
        });
    }
    if (!traces.length) return null;  // a map without paths, e.g. the landscape's surfaces
    const points = [];
    for (const [, trace] of traces) {
        const xs = arr(trace.x), ys = arr(trace.y);
        xs.forEach((x, k) => {
            if (Number.isFinite(x) && Number.isFinite(ys[k])) points.push([x, ys[k]]);
        });
    }
    return {id: gd.id, extent, ranges, points};
}"""


def decode_png(data: bytes) -> np.ndarray:
    """The RGB pixels of a small 8-bit PNG, as Chromium's screenshots write them."""
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and interlace == 0 and colour in (2, 6), header
    channels = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * channels)
    pixels = np.zeros((height, width * channels), np.int64)
    above = np.zeros(width * channels, np.int64)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        row = np.zeros_like(line)
        for x in range(len(line)):
            left = row[x - channels] if x >= channels else 0
            corner = above[x - channels] if x >= channels else 0
            predictor = [
                0,
                left,
                above[x],
                (left + above[x]) // 2,
                _paeth(left, above[x], corner),
            ][kind]
            row[x] = (line[x] + predictor) & 255
        pixels[y] = above = row
    return pixels.reshape(height, width, channels)[..., :3]


def _paeth(left, up, corner):
    p = left + up - corner
    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
    return left if pa <= pb and pa <= pc else up if pb <= pc else corner


def test_race_contour_map_stays_drawn_while_it_plays(browser, server):
    page = Page(browser, f"{server}/book/09_race.html")
    figure = page.page.locator("#race-contour")
    figure.scroll_into_view_if_needed()
    # A patch of the map far from every path (high w_250, low w_251), in page pixels.
    box = page.figure(
        "race-contour",
        """(() => { const r = gd.getBoundingClientRect(), l = gd._fullLayout;
            return {x: r.left + l.xaxis._offset + 0.9 * l.xaxis._length,
                    y: r.top + l.yaxis._offset + 0.9 * l.yaxis._length}; })()""",
    )
    clip = {"x": box["x"], "y": box["y"], "width": 8, "height": 8}

    def map_drawn() -> bool:
        pixels = decode_png(page.page.screenshot(clip=clip))
        # The map is grey (r = g = b); without it the plot's blue-grey background shows.
        return bool(np.all(pixels.max(axis=-1) - pixels.min(axis=-1) <= 3))

    assert map_drawn()
    figure.locator(".updatemenu-button", has_text="Play").click()
    samples, active = [], "gd._fullLayout.sliders[0].active"
    while (
        page.figure("race-contour", active)
        < len(page.figure("race-contour", "gd._fullLayout.sliders[0].steps")) - 1
    ):
        samples.append((page.figure("race-contour", active), map_drawn()))
        if len(samples) == 10:
            figure.screenshot(path=SCREENSHOTS / "09_race-race-contour-during-play.png")
    assert len({step for step, _ in samples}) >= 15, samples  # sampled all through the play
    assert all(drawn for _, drawn in samples), samples
    assert page.errors == []


@pytest.mark.parametrize("chapter", list(FIGURES))
def test_every_map_covers_every_path_drawn_on_it(browser, server, chapter):
    page = Page(browser, f"{server}/book/{chapter}.html")
    maps = [m for m in page.page.evaluate(
        f"[...document.querySelectorAll('.js-plotly-plot')].map({MAPS})"
    ) if m]  # fmt: skip
    for figure in maps:
        x0, x1, y0, y1 = figure["extent"]
        points = np.array(figure["points"])
        assert len(points), figure["id"]
        assert np.all((x0 <= points[:, 0]) & (points[:, 0] <= x1)), figure["id"]
        assert np.all((y0 <= points[:, 1]) & (points[:, 1] <= y1)), figure["id"]
        # The axes show the map, not a blank strip beside it.
        np.testing.assert_allclose(figure["ranges"], figure["extent"], err_msg=figure["id"])
    assert page.errors == []


def test_landscape_cameras_turn_together(browser, server):
    page = Page(browser, f"{server}/book/02_landscape.html")
    figure = page.page.locator("#landscape-100-1000")
    figure.scroll_into_view_if_needed()
    eyes = "[gd._fullLayout.scene._scene.getCamera().eye, gd._fullLayout.scene2._scene.getCamera().eye]"
    before = page.figure("landscape-100-1000", eyes)
    assert before[0] == pytest.approx(before[1])
    # A real drag across the left scene.
    domain = page.figure(
        "landscape-100-1000",
        """(() => { const r = gd.getBoundingClientRect(), d = gd._fullLayout.scene.domain;
            return {x: r.left + r.width * (d.x[0] + d.x[1]) / 2,
                    y: r.top + r.height * (1 - (d.y[0] + d.y[1]) / 2)}; })()""",
    )
    mouse = page.page.mouse
    mouse.move(domain["x"], domain["y"])
    mouse.down()
    for step in range(1, 11):
        mouse.move(domain["x"] + 12 * step, domain["y"] + 3 * step)
    mouse.up()
    page.page.wait_for_timeout(500)
    left, right = page.figure("landscape-100-1000", eyes)
    assert abs(left["x"] - before[0]["x"]) + abs(left["y"] - before[0]["y"]) > 0.1
    for axis in "xyz":
        assert right[axis] == pytest.approx(left[axis], abs=1e-6)
    figure.screenshot(path=SCREENSHOTS / "02_landscape-turned-together.png")
    assert page.errors == []


@pytest.mark.parametrize("chapter", list(FIGURES))
def test_titles_inside_the_figure_and_clear_of_colour_bars(browser, server, chapter):
    page = Page(browser, f"{server}/book/{chapter}.html")
    for gd in page.page.locator(".js-plotly-plot").all():
        gd.scroll_into_view_if_needed()
        frame = gd.bounding_box()
        bars = [b.bounding_box() for b in gd.locator(".colorbar").all()]
        titles = gd.locator(".g-xtitle text, .g-ytitle text, .g-x2title text, .g-y2title text")
        for title in titles.all():
            box = title.bounding_box()
            if box is None or not title.text_content():
                continue
            assert frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"]
            assert (
                frame["y"] <= box["y"] and box["y"] + box["height"] <= frame["y"] + frame["height"]
            )
            assert not any(overlap(box, bar) for bar in bars if bar), title.text_content()
        # A 3D scene's colour bar lies beside its scene, not over it.
        scenes = gd.evaluate(
            """gd => Object.keys(gd._fullLayout).filter(k => /^scene\\d*$/.test(k)).map(k => {
                const r = gd.getBoundingClientRect(), d = gd._fullLayout[k].domain;
                const paper = gd._fullLayout._size;  // domains are fractions of the paper
                return {x: r.left + paper.l + paper.w * d.x[0], width: paper.w * (d.x[1] - d.x[0])};
            })"""
        )
        for scene in scenes:
            for bar in bars:
                inside = scene["x"] + 1 < bar["x"] < scene["x"] + scene["width"] - 1
                assert not inside, (gd.get_attribute("id"), scene, bar)
    assert page.errors == []


@pytest.mark.parametrize(
    ("chapter", "div_id"),
    [
        ("09_race", "race-3d"),
        ("09_race", "race-contour"),
        ("03_sgd", "sgd-lr-sweep"),
        ("08_adam", "adam-beta1-sweep"),
    ],
)
def test_buttons_and_slider_do_notoverlap(browser, server, chapter, div_id):
    page = Page(browser, f"{server}/book/{chapter}.html")
    figure = page.page.locator(f"#{div_id}")
    figure.scroll_into_view_if_needed()
    buttons = [b.bounding_box() for b in figure.locator(".updatemenu-button").all()]
    slider = [
        s.bounding_box()
        for s in figure.locator(
            ".slider-rail-rect, .slider-grip-rect, .slider-label, .slider-current-value"
        ).all()
    ]
    axis_titles = [t.bounding_box() for t in figure.locator(".g-x2title text").all()]
    assert slider, div_id
    for part in slider:
        assert not any(overlap(part, button) for button in buttons), (part, buttons)
        assert not any(overlap(part, title) for title in axis_titles if title), part
    figure.screenshot(path=SCREENSHOTS / f"{chapter}-{div_id}-controls.png")
    assert page.errors == []
