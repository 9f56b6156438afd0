"""The book's twin of the model, run in Node as a page loads it: what a reader's browser
computes, without starting one."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import losslandscape as ll
from losslandscape import twin

ROOT = Path(__file__).resolve().parents[1]
HARNESS = Path(__file__).with_name("twin_node.js")


def export(folder: Path, data) -> Path:
    """The twin's script and what ``twin.export`` writes for it, laid out as in ``_static``."""
    twin.export(folder / "losslandscape", data)
    shutil.copy(ROOT / "book" / "_static" / "losslandscape.js", folder)
    return folder


def call(folder: Path, requests: list[dict]) -> list[dict]:
    """Each request answered by the twin (see ``twin_node.js``); NaN comes back as None."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js runs the book's twin in the tests: apt-get install nodejs")
    result = subprocess.run(
        [node, str(HARNESS), str(folder)],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def train(folder: Path, requests: list[dict]) -> list[dict]:
    """``window.losslandscape.train(options)`` for each request; NaN comes back as None."""
    return call(folder, requests)


def panel_views(folder: Path, settings: list[dict]) -> list[dict]:
    """``window.losslandscape.panelView`` for each settings in turn, each view grown from
    the one before, as a page's panel draws them while its controls move."""
    (result,) = call(folder, [{"call": "panelViews", "args": settings}])
    assert "error" not in result, result
    return result["views"]


def library_run(landscape, request: dict):
    """What the library trains for a twin ``train`` request (the original's defaults)."""
    method = request["method"]
    (run,) = ll.train(
        landscape,
        [method],
        starts=[request.get("start", ll.SEED_START)],
        lrs=[request.get("lr", ll.SEED_LR)],
        epochs=request.get("epochs", ll.SEED_EPOCHS),
        hyperparameters={method: request.get("hyperparameters", {})},
        on_divergence="keep",
    )
    return run


def assert_trains_as_the_library(result: dict, landscape, request: dict) -> None:
    """The twin's ``result`` for a ``train`` request equals the library's run to 1e-9."""
    assert "error" not in result, result
    run = library_run(landscape, request)
    assert result["divergedAt"] == run.diverged_at
    for key, expected in (("weights", run.weights), ("costs", run.costs)):
        got = np.array(result[key], dtype=float)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9, equal_nan=True)


def diverging_runs() -> list[dict]:
    """Ten runs, the five methods twice, that end at different epochs: at lr = 1e308 with a
    tiny eps, RMSProp's weights overflow at epoch 1 and Adam's at 3, so runs trained side by
    side change places; one of the others runs a single epoch."""
    tiny = {"Adam": {"eps": 1e-300}, "RMSProp": {"eps": 1e-300}}
    runs = [
        {
            "method": m,
            "lr": lr,
            "start": start,
            "epochs": epochs,
            "hyperparameters": tiny.get(m, {}),
        }
        for lr, start, epochs in [(1e308, [-9.0, 15.0], 40), (0.7, [3.0, -4.0], 300)]
        for m in ll.SEED_METHODS
    ]
    runs[7]["epochs"] = 1
    return runs
