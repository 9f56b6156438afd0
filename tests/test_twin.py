"""What the book's JavaScript twin reads, and the twin run in Node against the library.

What it is given (the exported arrays, the registry, the panels' settings) is the
library's, number for number; run in Node as a page loads it, it trains every rule, at
any N, and its live panel draws what the ipywidgets panel draws. ``tests/test_book_live.py``
runs it in Chromium, in the built book.
"""

import html
import json
import re

import numpy as np
import pytest
from IPython.display import HTML

import losslandscape as ll
from losslandscape import plotting, twin, widgets
from losslandscape.panel import MAP_W_A, MAP_W_B, PANEL

from . import node_twin


def test_export_writes_the_registry_and_every_images_arrays_exactly(tmp_path, mnist):
    written = twin.export(tmp_path, mnist)
    assert [p.name for p in written] == ["rules.js", "registry.json", "images.json"]
    # One set of per-image arrays serves every N: about half a megabyte for 6,309 images.
    assert written[2].stat().st_size < 600_000
    registry = json.loads((tmp_path / "registry.json").read_text())
    assert list(registry["methods"]) == list(ll.OPTIMIZERS)
    for name, optimizer in ll.OPTIMIZERS.items():
        entry = registry["methods"][name]
        assert entry["state"] == list(optimizer.state)
        assert entry["countsSteps"] == optimizer.counts_steps
        assert {k: h["default"] for k, h in entry["hyper"].items()} == optimizer.defaults
        assert list(entry["hyper"]) == list(optimizer.hyper)  # the signature's order
        assert [h["step"] for h in entry["hyper"].values()] == [
            PANEL.hyper_step(h) for h in optimizer.hyper.values()
        ]
    assert registry["images"] == len(mnist)
    assert registry["panel"] == PANEL.registry(len(mnist))
    assert registry["original"]["start"] == list(ll.SEED_START)
    landscape = ll.Landscape(len(mnist), data=mnist)
    arrays = json.loads((tmp_path / "images.json").read_text())
    assert arrays["images"] == len(mnist) and arrays["gradientFactor"] == 1.0
    for key, attribute in [
        ("base", "base"),
        ("coefA", "coef_a"),
        ("coefB", "coef_b"),
        ("target", "target"),
    ]:
        # Bit for bit: the twin starts from exactly the library's numbers.
        assert np.array_equal(np.array(arrays[key]), getattr(landscape, attribute))
    # Each image's error on the other outputs; their mean, summed as NumPy sums, is rest.
    assert float(np.mean(arrays["rest"])) == landscape.rest
    # Any first N: Landscape(N)'s numbers, but for BLAS's rounding of a few of them.
    for n in (1, 37, 1000):
        prefix = ll.Landscape(n, data=mnist)
        for key, attribute in [("base", "base"), ("coefA", "coef_a"), ("coefB", "coef_b")]:
            columns = np.array(arrays[key])[:, :n]
            np.testing.assert_allclose(columns, getattr(prefix, attribute), rtol=1e-14, atol=0)
        assert float(np.mean(arrays["rest"][:n])) == pytest.approx(prefix.rest, rel=1e-14)


def panel_config(markup: str) -> dict:
    attribute = re.search(r"data-config='([^']*)'", markup).group(1)
    return json.loads(html.unescape(attribute))


def test_panel_carries_settings_and_an_empty_figure_frame(mnist):
    # A start beyond the grid's edge: the frame must not carry a note about this first run.
    markup = twin.panel_html(["Adam", "SGD"], lr=3.0, start=(60, 2), data=mnist, name="p")
    assert f'class="{twin.PANEL_CLASS}" id="p"' in markup
    config = panel_config(markup)
    assert config["methods"] == ["Adam", "SGD"] and config["lr"] == 3.0
    assert config["start"] == [60.0, 2.0] and config["wA"] == ll.SEED_W_A.tolist()
    assert config["wB"] == ll.SEED_W_B.tolist()
    traces = config["figure"]["data"]
    # The map, then each method's path and cost curve, styled, with no numbers in the page.
    assert [t["type"] for t in traces] == ["contour"] + ["scatter"] * 4
    assert [t["name"] for t in traces[1::2]] == ["Adam", "SGD"]
    assert traces[1]["line"]["color"] == ll.OPTIMIZERS["Adam"].style.color
    assert all(len(t["x"]) == 0 for t in traces) and len(traces[0]["z"]) == 0
    assert config["figure"]["layout"].get("annotations", []) == []


def test_panel_refuses_methods_the_twin_cannot_train(mnist):
    with pytest.raises(ValueError, match="allowed: SGD, SGD-Momentum"):
        twin.panel_html(["Adamax"], data=mnist)
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        twin.panel_html(["SGD"], lr=float("nan"), data=mnist)


def test_live_panel_is_the_twin_in_static_html(monkeypatch):
    monkeypatch.setenv(plotting.STATIC_ENV, "1")
    panel = widgets.live_panel(["Adam"])
    assert isinstance(panel, HTML) and twin.PANEL_CLASS in panel.data
    assert panel_config(panel.data)["methods"] == ["Adam"]


SETTINGS = [
    {},  # the original notebook's run
    {"lr": 0.7, "start": [3.0, -4.0], "epochs": 400},
    {"lr": 40.0, "epochs": 60},  # large steps, some of which leave the map or diverge
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, mnist):
    return node_twin.export(tmp_path_factory.mktemp("twin"), mnist)


@pytest.mark.parametrize("method", list(ll.OPTIMIZERS))
def test_the_twin_trains_every_rule_as_the_library_does(exported, mnist, method):
    """rules.js is written from the Python rules: Node runs it as a page does."""
    landscape = ll.Landscape(100, data=mnist)
    optimizer = ll.OPTIMIZERS[method]
    # The registry's other end of each hyperparameter's slider, besides the defaults.
    other = {key: h.slider[1] * 0.9 for key, h in optimizer.hyper.items()}
    requests = [
        {"method": method, **setting, "hyperparameters": hyper}
        for setting in SETTINGS
        for hyper in ({}, other)
    ]
    results = node_twin.train(exported, requests)
    for request, result in zip(requests, results, strict=True):
        node_twin.assert_trains_as_the_library(result, landscape, request)


def test_the_twin_refuses_bad_settings_as_the_library_does(exported):
    results = node_twin.train(
        exported,
        [
            {"method": "Adamax"},
            {"method": "Adam", "hyperparameters": {"beta1": 1.0}},
            {"method": "SGD", "lr": -1},
        ],
    )
    assert results[0]["error"].startswith('unknown optimizer "Adamax"; allowed: SGD, ')
    assert results[1]["error"] == "Adam: beta1 must be a number in [0, 1), got 1"
    assert results[2]["error"] == "lr must be a positive finite number, got -1"


def test_runs_trained_side_by_side_are_each_the_run_trained_alone(exported, mnist):
    """Model.runs, which the panels' Web Workers call, evaluates four (or three) runs' costs
    in one pass over the images: each run is, bit for bit, the one train() gives alone, and
    the library's."""
    landscape = ll.Landscape(250, data=mnist)
    settings = node_twin.diverging_runs()
    # And three side by side (costAndGradient3), as a Web Worker trains its share of five.
    three = [settings[i] for i in (5, 6, 8)]
    together, side_by_side = node_twin.call(
        exported, [{"call": "runs", "args": {"n": 250, "runs": runs}} for runs in (settings, three)]
    )
    alone = node_twin.train(exported, [{**s, "n": 250} for s in settings])
    assert together == alone and side_by_side == [alone[i] for i in (5, 6, 8)]
    assert [run["divergedAt"] for run in together[:5]] == [None, None, None, 1, 3]
    for request, result in zip(settings, together, strict=True):
        node_twin.assert_trains_as_the_library(result, landscape, request)


# Any N from 1 to all: the twin slices the arrays of all the images.
ANY_N = [1, 37, 250, 4000, 6309]


def test_the_twin_builds_any_n_as_the_library_does(exported, mnist):
    answers = node_twin.call(exported, [{"call": "model", "args": n} for n in ANY_N])
    for n, answer in zip(ANY_N, answers, strict=True):
        rest = ll.Landscape(n, data=mnist).rest
        assert answer["n"] == n and answer["rest"] == pytest.approx(rest, rel=1e-14)
        if n == len(mnist):  # the arrays are Landscape(N)'s own: summed as NumPy sums
            assert answer["rest"] == rest


@pytest.mark.parametrize("n", ANY_N)
def test_the_twin_trains_and_grids_any_n_as_the_library_does(exported, mnist, n):
    landscape = ll.Landscape(n, data=mnist)
    settings = [
        {"method": "SGD", "n": n},
        {"method": "Adam", "n": n, "lr": 3.0, "start": [12.0, -7.0], "epochs": 500},
        {"method": "RMSProp", "n": n, "lr": 40.0, "epochs": 300, "hyperparameters": {"rho": 0.5}},
    ]
    wa, wb = np.linspace(-30, 45, 23), np.linspace(-50, 20, 31)
    requests = [*settings, {"call": "grid", "args": {"n": n, "wa": wa.tolist(), "wb": wb.tolist()}}]
    *results, grid = node_twin.call(exported, requests)
    for request, result in zip(settings, results, strict=True):
        node_twin.assert_trains_as_the_library(result, landscape, request)
    np.testing.assert_allclose(grid["z"], landscape.grid(wa, wb), rtol=0, atol=1e-9)


def test_the_twin_refuses_an_n_it_cannot_build(exported):
    bad = [0, 6310, 2.5, "100", None]
    results = node_twin.train(exported, [{"method": "SGD", "n": n} for n in bad])
    assert [r["error"] for r in results] == [
        f"n must be an integer from 1 to 6309, got {shown}"
        for shown in ["0", "6310", "2.5", '"100"', "null"]
    ]


def test_the_ipywidgets_panel_takes_its_controls_from_the_one_source(mnist):
    panel = widgets.OptimizerPanel(["Adam"], n_samples=250, data=mnist)
    c = panel.controls
    assert (c["lr"].min, c["lr"].max, c["lr"].step) == (*PANEL.lr_log10, PANEL.lr_log10_step)
    assert (c["epoch"].min, c["epoch"].max, c["epoch"].step) == (*PANEL.epochs, PANEL.epochs_step)
    # The page's N slider offers the registry's values and the panel's own N, as this one.
    values = PANEL.registry(len(mnist))["n"]["values"]
    assert list(c["n_samples"].options) == [(f"{n:,}", n) for n in sorted({*values, 250})]
    assert {100, 1000, len(mnist)} <= set(values) and values[0] == 1
    for key, hyper in ll.OPTIMIZERS["Adam"].hyper.items():
        assert c[f"Adam.{key}"].step == PANEL.hyper_step(hyper)


def page_settings(panel: widgets.OptimizerPanel) -> dict:
    """The settings of the ipywidgets ``panel``'s controls, as the page's panel passes its
    own to ``panelView``, on the panels' grid (the one ``panel_html`` writes)."""
    c = panel.controls
    return {
        "methods": list(panel.methods),
        "n": c["n_samples"].value,
        "lr": c["lr"].value,
        "start": [c["start_a"].value, c["start_b"].value],
        "epochs": c["epoch"].value,
        "hyperparameters": {
            method: {key: c[f"{method}.{key}"].value for key in ll.OPTIMIZERS[method].hyper}
            for method in panel.methods
        },
        "wA": MAP_W_A.tolist(),
        "wB": MAP_W_B.tolist(),
    }


def drawn(panel: widgets.OptimizerPanel) -> dict:
    """What the ipywidgets panel draws: its map, its paths and the runs its status says leave."""
    data = panel.figure.data
    return {
        "wa": np.array(data[0].x),
        "wb": np.array(data[0].y),
        "z": np.array(data[0].z),
        "name": data[0].name,
        "paths": [np.array([t.x, t.y], dtype=float).T for t in data[1::2]],
        "leaving": panel.status.value.split("<br>")[1 + len(panel.methods) :],
    }


# Each case: a panel opened with these arguments, then one control moved at a time.
PANEL_CASES = {
    # The original's five at N = 100: a path runs past the grid's edge at w_a = 17.
    "original": ({"methods": ll.SEED_METHODS}, []),
    # A smaller learning rate afterwards: the paths come back, the map stays as it grew;
    # then N = 1,000, on the same map.
    "map stays grown": ({"methods": ll.SEED_METHODS}, [("lr", 10**0.8), ("n_samples", 1000)]),
    # N = 250 (not one of three sizes any more): with rho = 0.99 both momentum methods fly
    # past the map's limits at lr = 100; then fewer epochs.
    "paths leave the map": (
        {"methods": ["SGD", "SGD-Momentum", "Nesterov-SGD"], "n_samples": 250, "lr": 100.0,
         "epochs": 300},
        [("SGD-Momentum.rho", 0.99), ("Nesterov-SGD.rho", 0.99), ("epoch", 100)],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(PANEL_CASES))
def test_the_page_panel_draws_what_the_ipywidgets_panel_draws(exported, mnist, case):
    arguments, moves = PANEL_CASES[case]
    panel = widgets.OptimizerPanel(**arguments, data=mnist)
    steps, pictures = [page_settings(panel)], [drawn(panel)]
    for control, value in moves:
        panel.controls[control].value = value
        steps.append(page_settings(panel))
        pictures.append(drawn(panel))
    # The page's panel, moved through the same settings in the same order.
    views = node_twin.panel_views(exported, steps)
    for settings, view, picture in zip(steps, views, pictures, strict=True):
        # The same map: the same axes, to the last bit, and the same costs on them.
        assert np.array_equal(view["wa"], picture["wa"]), settings
        assert np.array_equal(view["wb"], picture["wb"]), settings
        np.testing.assert_allclose(view["z"], picture["z"], rtol=0, atol=1e-9)
        assert picture["name"] == f"cost, N = {view['n']:,}"
        # The same paths, and the same of them leaving the map, at the same epoch.
        for run, path in zip(view["runs"], picture["paths"], strict=True):
            weights = np.array(run["weights"], dtype=float)
            np.testing.assert_allclose(weights, path, rtol=1e-9, atol=1e-9, equal_nan=True)
        assert picture["leaving"] == [
            f"{run['method']} leaves the map at epoch {epoch}"
            for run, epoch in zip(view["runs"], view["leaving"], strict=True)
            if epoch is not None
        ]
    first = views[0]
    sizes = {(len(view["wa"]), len(view["wb"])) for view in views}
    assert sizes != {(len(ll.SEED_W_A), len(ll.SEED_W_B))}, "no path left the original grid"
    if case == "map stays grown":
        assert views[1]["wa"] == first["wa"] and not views[1]["mapChanged"]
        assert views[2]["mapChanged"] and views[2]["wa"] == first["wa"]  # new N, same map
    if case == "paths leave the map":
        assert [epoch is not None for epoch in views[-2]["leaving"]] == [False, True, True]
