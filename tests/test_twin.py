"""What the book's JavaScript twin reads: the exported arrays and the panels' settings.

The twin itself runs in Chromium in ``tests/test_book_live.py``; here, that what it is
given is the library's, number for number.
"""

import html
import json
import re

import numpy as np
import pytest
from IPython.display import HTML

import losslandscape as ll
from losslandscape import plotting, twin, widgets

from . import node_twin


def test_export_writes_the_registry_and_each_sizes_arrays_exactly(tmp_path, mnist):
    written = twin.export(tmp_path, mnist)
    assert [p.name for p in written] == [
        "rules.js",
        "registry.json",
        "n100.json",
        "n1000.json",
        "n6309.json",
    ]
    registry = json.loads((tmp_path / "registry.json").read_text())
    assert list(registry["methods"]) == list(ll.OPTIMIZERS)
    for name, optimizer in ll.OPTIMIZERS.items():
        entry = registry["methods"][name]
        assert entry["state"] == list(optimizer.state)
        assert entry["countsSteps"] == optimizer.counts_steps
        assert {k: h["default"] for k, h in entry["hyper"].items()} == optimizer.defaults
        assert list(entry["hyper"]) == list(optimizer.hyper)  # the signature's order
    assert registry["sizes"] == [100, 1000, len(mnist)]
    assert registry["original"]["start"] == list(ll.SEED_START)
    landscape = ll.Landscape(1000, data=mnist)
    arrays = json.loads((tmp_path / "n1000.json").read_text())
    for key, attribute in [("base", "base"), ("coefA", "coef_a"), ("coefB", "coef_b")]:
        # Bit for bit: the twin starts from exactly the library's numbers.
        assert np.array_equal(np.array(arrays[key]), getattr(landscape, attribute))
    assert arrays["rest"] == landscape.rest and arrays["n"] == 1000


def panel_config(markup: str) -> dict:
    attribute = re.search(r"data-config='([^']*)'", markup).group(1)
    return json.loads(html.unescape(attribute))


def test_panel_carries_settings_and_an_empty_figure_frame(mnist):
    # A start beyond the grid's edge: the frame must not carry a note about this first run.
    markup = twin.panel_html(["Adam", "SGD"], lr=3.0, start=(60, 2), data=mnist, name="p")
    assert f'class="{twin.PANEL_CLASS}" id="p"' in markup
    config = panel_config(markup)
    assert config["methods"] == ["Adam", "SGD"] and config["lr"] == 3.0
    assert config["start"] == [60.0, 2.0] and config["wA"] == [-15.0, 17.0]
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
        assert "error" not in result, result
        (run,) = ll.train(
            landscape,
            [method],
            starts=[request.get("start", ll.SEED_START)],
            lrs=[request.get("lr", ll.SEED_LR)],
            epochs=request.get("epochs", ll.SEED_EPOCHS),
            hyperparameters={method: request["hyperparameters"]},
            on_divergence="keep",
        )
        weights = np.array(result["weights"], dtype=float)
        assert result["divergedAt"] == run.diverged_at
        np.testing.assert_allclose(weights, run.weights, rtol=1e-9, atol=1e-9, equal_nan=True)
        costs = np.array(result["costs"], dtype=float)
        np.testing.assert_allclose(costs, run.costs, rtol=1e-9, atol=1e-9, equal_nan=True)


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
