"""The book's live panels in Chromium: the JavaScript twin against the library, the controls.

The twin (``book/_static/losslandscape.js``) must give the library's trajectories and
grids to 1e-9 for every registered method, at the original notebook's settings and at
drawn ones, for the original's N and for others (any N from 1 to all the images); the
panels must answer their controls in the static page, with no kernel. The panels train in
two Web Workers, which give the page's own numbers bit for bit, or in the page where
workers cannot start; a view whose settings changed while it trained is not drawn over a
newer one.
How fast the panels answer is measured by ``benchmarks/book.py`` (``make bench``).
"""

import math

import numpy as np
import pytest

import losslandscape as ll
from losslandscape import twin
from tests import node_twin
from tests.browser import SCREENSHOTS, Page

pytestmark = pytest.mark.slow

# The chapters with a live panel, and the methods each one draws.
PANELS = {
    "03_sgd": ["SGD"],
    "04_momentum": ["SGD-Momentum"],
    "05_nesterov": ["Nesterov-SGD"],
    "06_adagrad": ["AdaGrad"],
    "07_rmsprop": ["RMSProp"],
    "08_adam": ["Adam"],
    "09_race": list(ll.SEED_METHODS),
}
TOLERANCE = 1e-9
# The original notebook's N, and one it never used: the twin builds any N's arrays.
SIZES = (100, 1000, 250)


@pytest.fixture(scope="module")
def race(browser, server):
    page = Page(browser, f"{server}/book/09_race.html")
    page.page.wait_for_function("window.losslandscape?.panels?.[0]?.runs")
    yield page
    assert page.errors == []
    page.page.close()


def drawn_settings(rng, method, n):
    """A setting drawn from the registry's slider ranges, eps at least 0.01 (see the issue)."""
    hyper = {}
    for key, spec in ll.OPTIMIZERS[method].hyper.items():
        low, high = spec.slider
        if spec.positive:
            hyper[key] = float(10 ** rng.uniform(math.log10(max(low, 0.01)), math.log10(high)))
        else:
            hyper[key] = float(rng.uniform(low, high))
    return {
        "method": method,
        "n": n,
        "lr": float(10 ** rng.uniform(-1, 2)),
        "start": [float(rng.uniform(-15, 17)), float(rng.uniform(-15, 18))],
        "epochs": int(rng.integers(1, 1500)),
        "hyperparameters": hyper,
    }


def python_run(landscapes, settings):
    (run,) = ll.train(
        landscapes[settings["n"]],
        [settings["method"]],
        starts=[settings["start"]],
        lrs=[settings["lr"]],
        epochs=settings["epochs"],
        hyperparameters={settings["method"]: settings["hyperparameters"]},
        on_divergence="keep",
    )
    return run


def test_twin_trains_every_method_as_the_library_does(race, mnist):
    landscapes = {n: ll.Landscape(n, data=mnist) for n in SIZES}
    rng = np.random.default_rng(20261125)
    original = {"lr": ll.SEED_LR, "start": list(ll.SEED_START), "epochs": ll.SEED_EPOCHS}
    cases = []
    for method in ll.OPTIMIZERS:
        for n in SIZES:
            defaults = ll.OPTIMIZERS[method].defaults
            cases.append({"method": method, "n": n, **original, "hyperparameters": defaults})
            cases += [drawn_settings(rng, method, n) for _ in range(3)]
    results = race.page.evaluate(
        "cases => Promise.all(cases.map(c => window.losslandscape.train(c)))", cases
    )
    worst = 0.0
    for settings, result in zip(cases, results, strict=True):
        run = python_run(landscapes, settings)
        weights, costs = np.array(result["weights"], float), np.array(result["costs"], float)
        assert weights.shape == run.weights.shape and costs.shape == run.costs.shape, settings
        assert result["divergedAt"] == run.diverged_at, settings
        np.testing.assert_allclose(
            weights, run.weights, rtol=0, atol=TOLERANCE, err_msg=str(settings)
        )
        np.testing.assert_allclose(costs, run.costs, rtol=0, atol=TOLERANCE, err_msg=str(settings))
        worst = max(worst, np.nanmax(np.abs(weights - run.weights), initial=0.0))
    print(f"twin: {len(cases)} runs, largest weight difference {worst:.1e}")


@pytest.mark.parametrize("n", SIZES)
def test_twin_grids_as_the_library_does(race, mnist, n):
    landscape = ll.Landscape(n, data=mnist)
    axes = [
        (np.linspace(-15, 17, 40), np.linspace(-15, 18, 40)),  # the original grid
        (np.linspace(-30, 45, 23), np.linspace(-50, 20, 31)),
        (np.linspace(-3000, 3000, 9), np.linspace(-2000, 2500, 7)),  # exp would overflow
    ]
    for wa, wb in axes:
        rows = race.page.evaluate(
            "a => window.losslandscape.grid(a)", {"n": n, "wa": wa.tolist(), "wb": wb.tolist()}
        )
        np.testing.assert_allclose(rows, landscape.grid(wa, wb), rtol=0, atol=TOLERANCE)


def test_twin_names_what_is_wrong(race):
    errors = race.page.evaluate(
        """async () => {
            const attempts = [
                {method: "Adamax"},
                {method: "Adam", hyperparameters: {beta3: 0.5}},
                {method: "Adam", hyperparameters: {beta1: 1.5}},
                {method: "SGD", lr: -1},
                {method: "SGD", n: 0},
                {method: "SGD", n: 2.5},
            ];
            const messages = [];
            for (const attempt of attempts) {
                try { await window.losslandscape.train(attempt); messages.push(null); }
                catch (error) { messages.push(error.message); }
            }
            return messages;
        }"""
    )
    assert errors[0].startswith('unknown optimizer "Adamax"; allowed: SGD, ')
    assert errors[1] == (
        "Adam has no hyperparameter beta3; allowed: beta1, beta2, eps "
        "(the learning rate is passed separately)"
    )
    assert errors[2] == "Adam: beta1 must be a number in [0, 1), got 1.5"
    assert errors[3] == "lr must be a positive finite number, got -1"
    assert errors[4] == "n must be an integer from 1 to 6309, got 0"
    assert errors[5] == "n must be an integer from 1 to 6309, got 2.5"


# Model.runsParallel (the Web Workers, once started) against Model.runs (the page) on the
# same runs: the runs it gives, in order, and those not equal bit for bit (Object.is: NaN is
# NaN, 0 is not -0) in weights, costs or divergedAt.
COMPARE_RUNS = """async ({n, runs}) => {
    const twin = window.losslandscape;
    const workers = await twin.workers();
    const model = await twin.model(n);
    const parallel = await model.runsParallel(runs);
    const page = model.runs(runs);
    const same = (xs, ys) => xs.length === ys.length && xs.every((x, i) => Object.is(x, ys[i]));
    const differ = page.flatMap((run, i) => {
        const other = parallel[i];
        return other && same(run.weights, other.weights) && same(run.costs, other.costs)
            && run.divergedAt === other.divergedAt ? [] : [i];
    });
    return {workers, count: parallel.length, differ, divergedAt: page.map((r) => r.divergedAt)};
}"""
RACE = [{"method": m, "lr": 10.0, "start": [-9.0, 15.0], "epochs": 1000} for m in ll.SEED_METHODS]


def test_web_workers_train_the_pages_runs_bit_for_bit(race):
    diverging = node_twin.diverging_runs()  # a worker's runs change places as they end
    rng = np.random.default_rng(20261204)
    drawn = [drawn_settings(rng, m, 100) for m in [*ll.OPTIMIZERS, *ll.OPTIMIZERS][:7]]
    cases = {
        "the race's five (three and two)": (1000, RACE),
        "ten, some diverging (five and five)": (250, diverging),
        "seven drawn runs, every method (four and three)": (100, drawn),
        "one run (one worker)": (1000, RACE[-1:]),
    }
    results = {}
    for name, (n, runs) in cases.items():
        results[name] = race.page.evaluate(COMPARE_RUNS, {"n": n, "runs": runs})
        assert results[name]["workers"] == 2, name
        assert results[name]["count"] == len(runs), name
        assert results[name]["differ"] == [], name
    diverged = results["ten, some diverging (five and five)"]["divergedAt"]
    assert diverged[:5] == [None, None, None, 1, 3]
    # A run a worker refuses is refused with the page's own message.
    errors = race.page.evaluate(
        """async () => {
            const model = await window.losslandscape.model(100);
            const runs = [{method: "SGD", lr: 1, start: [0, 0], epochs: 5},
                          {method: "Adam", lr: 1, start: [0, 0], epochs: 5,
                           hyperparameters: {beta1: 1.5}}];
            const message = (f) => f().then(() => null, (error) => error.message);
            return [await message(() => model.runsParallel(runs)),
                    await message(async () => model.runs(runs))];
        }"""
    )
    assert errors == ["Adam: beta1 must be a number in [0, 1), got 1.5"] * 2


# Moves the learning rate slider to each of `positions` in turn (log10 of the rate), the
# first at once and each next one while the update before it trains, as a reader dragging
# it quickly would; gives the rates the panel trained and the rates it drew, in order.
QUICK_MOVES = """async (positions) => {
    const twin = window.losslandscape, panel = twin.panels[0], input = panel.lr.input;
    const move = (position) => {
        input.value = position;
        input.dispatchEvent(new Event("input", {bubbles: true}));
    };
    const panelView = twin.panelView, later = positions.slice(1), trained = [], drawn = [];
    twin.panelView = (settings, previous) => {
        trained.push(settings.lr);
        const view = panelView(settings, previous);
        if (later.length) move(later.shift());
        return view.then((v) => ({...v, lr: settings.lr}));
    };
    const draw = panel.draw;
    panel.draw = function () {
        drawn.push(this.view.lr);
        return draw.call(this);
    };
    move(positions[0]);
    await new Promise(function settled(resolve) {
        if (!panel.pending && panel.drawn === panel.version) resolve();
        else requestAnimationFrame(() => settled(resolve));
    });
    twin.panelView = panelView;
    delete panel.draw;
    return {trained, drawn};
}"""


def test_a_view_whose_settings_changed_while_it_trained_is_not_drawn(browser, server):
    page = Page(browser, f"{server}/book/09_race.html")
    page.page.wait_for_function("window.losslandscape?.panels?.[0]?.runs")
    assert page.page.evaluate("window.losslandscape.workers()") == 2
    # Moved twice quickly: only the latest rate's runs are drawn.
    moves = page.page.evaluate(QUICK_MOVES, [0.5, 0.0])
    assert moves["trained"] == pytest.approx([10**0.5, 1.0])
    assert moves["drawn"] == pytest.approx([1.0])
    # Moved on while each of two updates trains, as in a drag: the first view is dropped,
    # not the second (the paths would never show while the drag goes on), and the views are
    # drawn in the order the slider moved, the latest last.
    moves = page.page.evaluate(QUICK_MOVES, [0.2, 0.4, 0.6])
    assert moves["trained"] == pytest.approx([10**0.2, 10**0.4, 10**0.6])
    assert moves["drawn"] == pytest.approx([10**0.4, 10**0.6])
    assert page.errors == []
    page.page.close()


def _without_workers(how):
    def prepare(page):
        if how == "browser without Worker":
            page.add_init_script("delete window.Worker")
        else:  # the page's Content Security Policy forbids them

            def forbid(route):
                response = route.fetch()
                headers = {**response.headers, "content-security-policy": "worker-src 'none'"}
                route.fulfill(response=response, headers=headers)

            page.route("**/09_race.html", forbid)

    return prepare


@pytest.mark.parametrize("how", ["browser without Worker", "Content-Security-Policy"])
def test_where_workers_cannot_start_the_page_trains_the_same_runs(browser, server, how):
    page = Page(browser, f"{server}/book/09_race.html", prepare=_without_workers(how))
    page.page.wait_for_function("window.losslandscape?.panels?.[0]?.runs")
    result = page.page.evaluate(COMPARE_RUNS, {"n": 1000, "runs": RACE})
    assert result["workers"] == 0
    assert result["count"] == len(RACE) and result["differ"] == [], result
    # The panel draws, and answers its controls.
    set_n(page, 1000)
    settle(page)
    state = figure_state(page)
    assert state["mapName"] == "cost, N = 1,000"
    assert state["start"] == [[-9, 15]] * len(ll.SEED_METHODS)
    # Chromium reports the workers the policy blocks, and nothing else goes wrong.
    blocked = [e for e in page.errors if "Creating a worker from" in e and "'none'" in e]
    assert page.errors == blocked and bool(blocked) == (how == "Content-Security-Policy")
    page.page.close()


@pytest.mark.parametrize("chapter", list(PANELS))
def test_every_panel_draws_its_methods_in_the_static_page(browser, server, chapter):
    page = Page(browser, f"{server}/book/{chapter}.html")
    page.page.wait_for_function("window.losslandscape?.panels?.[0]?.runs")
    panel = page.page.locator(f".{twin.PANEL_CLASS}")
    assert panel.count() == 1
    drawn = page.page.evaluate(
        """() => {
            const gd = document.querySelector('.ll-figure');
            return gd.data.slice(1).filter(t => t.xaxis !== 'x2').map(t => [t.name, t.x.length]);
        }"""
    )
    assert drawn == [[method, ll.SEED_EPOCHS + 1] for method in PANELS[chapter]]
    assert page.errors == []
    page.page.close()


def figure_state(page):
    return page.page.evaluate(
        """() => {
            const gd = document.querySelector('.ll-figure');
            const paths = gd.data.filter(t => t.type === 'scatter' && t.xaxis !== 'x2');
            return {
                start: paths.map(t => [t.x[0], t.y[0]]),
                ends: paths.map(t => [t.x.at(-1), t.y.at(-1)]),
                costRange: gd._fullLayout.yaxis2.range,
                mapName: gd.data[0].name,
                mapX: [gd.data[0].x[0], gd.data[0].x.at(-1)],
                mapY: [gd.data[0].y[0], gd.data[0].y.at(-1)],
                visible: paths.map(t => t.visible),
                traces: gd.data.length,
                pathsX: paths.map(t => [Math.min(...t.x), Math.max(...t.x)]),
                pathsY: paths.map(t => [Math.min(...t.y), Math.max(...t.y)]),
            };
        }"""
    )


def set_n(page, n):
    """Move the N slider to ``n``, as a reader dragging it there would."""
    position = page.page.evaluate("n => window.losslandscape.panels[0].n.position(n)", n)
    assert position >= 0, f"N = {n} is not on the slider"
    page.page.get_by_label("N images").fill(str(position))


def settle(page):
    """Wait until the panel has drawn what its controls say (it redraws on the next frame)."""
    page.page.wait_for_function(
        "(p => !p.pending && p.drawn === p.version)(window.losslandscape.panels[0])"
    )


def test_live_controls_retrain_in_the_page(browser, server, mnist):
    page = Page(browser, f"{server}/book/09_race.html")
    page.page.wait_for_function("window.losslandscape?.panels?.[0]?.runs")
    figure = page.page.locator(".ll-figure")
    figure.scroll_into_view_if_needed()
    before = figure_state(page)
    assert before["mapName"] == "cost, N = 100"

    # The learning rate, with the keyboard as a reader would: the paths change, the cost
    # axis does not.
    lr = page.page.get_by_label("learning rate")
    lr.focus()
    for _ in range(20):
        page.page.keyboard.press("ArrowLeft")
    settle(page)
    slower = figure_state(page)
    assert slower["ends"] != before["ends"]
    assert slower["costRange"] == before["costRange"]
    assert page.page.locator(".ll-controls output").first.inner_text() != "10.0"

    # A click on the map starts every path there.
    figure.scroll_into_view_if_needed()
    box = page.page.evaluate(
        """() => {
            const gd = document.querySelector('.ll-figure'), r = gd.getBoundingClientRect();
            const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            return {x: r.left + xa._offset + xa.l2p(5), y: r.top + ya._offset + ya.l2p(-5)};
        }"""
    )
    page.page.mouse.click(box["x"], box["y"])
    settle(page)
    clicked = figure_state(page)
    for a, b in clicked["start"]:
        assert abs(a - 5) < 0.2 and abs(b + 5) < 0.2, clicked["start"]

    # Every path stays on the map.
    for (x0, x1), (y0, y1) in zip(clicked["pathsX"], clicked["pathsY"], strict=True):
        assert clicked["mapX"][0] <= x0 and x1 <= clicked["mapX"][1]
        assert clicked["mapY"][0] <= y0 and y1 <= clicked["mapY"][1]

    # N = 1,000 on the N slider: the map is recomputed for the new data.
    set_n(page, 1000)
    settle(page)
    thousand = figure_state(page)
    assert thousand["mapName"] == "cost, N = 1,000"
    assert thousand["ends"] != clicked["ends"]
    readout = page.page.locator(".ll-controls label", has_text="N images").locator("output")
    assert readout.inner_text() == "1,000"

    # Any N on the slider's log scale, here 251: the map and the paths are the library's.
    set_n(page, 251)
    settle(page)
    drawn = page.page.evaluate(
        """() => {
            const p = window.losslandscape.panels[0], v = p.view;
            return {
                n: v.n, wa: v.wa, wb: v.wb, z: v.z, start: p.start, lr: p.lr.value(),
                epochs: p.epochs.value(), ends: v.runs.map(r => [...r.weights.slice(-2)]),
                mapName: document.querySelector('.ll-figure').data[0].name,
            };
        }"""
    )
    assert drawn["n"] == 251 and drawn["mapName"] == "cost, N = 251"
    landscape = ll.Landscape(251, data=mnist)
    np.testing.assert_allclose(
        drawn["z"], landscape.grid(drawn["wa"], drawn["wb"]), rtol=0, atol=TOLERANCE
    )
    runs = ll.train(
        landscape,
        ll.SEED_METHODS,
        starts=[drawn["start"]],
        lrs=[drawn["lr"]],
        epochs=drawn["epochs"],
        on_divergence="keep",
    )
    ends = np.array([run.weights[-1] for run in runs])
    np.testing.assert_allclose(drawn["ends"], ends, rtol=0, atol=TOLERANCE)
    set_n(page, 1000)
    settle(page)

    # Hide one method; keep the runs and change a setting: both are drawn.
    page.page.get_by_label("show SGD", exact=True).uncheck()
    settle(page)
    assert figure_state(page)["visible"] == [False, True, True, True, True]
    page.page.get_by_role("button", name="Keep these runs").click()
    settle(page)
    kept = figure_state(page)
    assert kept["traces"] == thousand["traces"] + 2 * 4
    page.page.get_by_role("button", name="Original settings").click()
    settle(page)
    reset = figure_state(page)
    assert reset["start"][0] == [-9, 15] and reset["mapName"] == "cost, N = 100"
    assert reset["traces"] == kept["traces"]  # kept runs stay until cleared
    page.page.get_by_role("button", name="Clear kept runs").click()
    settle(page)
    assert figure_state(page)["traces"] == before["traces"]
    figure.screenshot(path=SCREENSHOTS / "09_race-live-panel.png")
    assert page.errors == []
    page.page.close()
