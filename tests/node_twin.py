"""The book's twin of the model, run in Node as a page loads it: what a reader's browser
computes, without starting one."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from losslandscape import twin

ROOT = Path(__file__).resolve().parents[1]
HARNESS = Path(__file__).with_name("twin_node.js")


def export(folder: Path, data) -> Path:
    """The twin's script and what ``twin.export`` writes for it, laid out as in ``_static``."""
    twin.export(folder / "losslandscape", data)
    shutil.copy(ROOT / "book" / "_static" / "losslandscape.js", folder)
    return folder


def train(folder: Path, requests: list[dict]) -> list[dict]:
    """``window.losslandscape.train(options)`` for each request; NaN comes back as None."""
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
