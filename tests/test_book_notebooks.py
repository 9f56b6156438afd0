"""nbval runs every chapter of the book, in a live kernel, as a reader in Jupyter would.

The notebooks are committed without outputs, so there is nothing to compare: nbval runs
with ``--nbval-lax`` and fails on any exception. The numbers the prose states are checked
by hidden ``assert`` cells inside the chapters (tagged ``remove-cell``), so a chapter whose
text and code drift apart fails here and fails the book's build.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from losslandscape.data import ENV_VAR, bundled_path
from losslandscape.plotting import STATIC_ENV

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))


def test_every_chapter_is_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    assert CHAPTERS, "no notebooks in book/"
    for chapter in CHAPTERS:
        assert f"book/{chapter.stem}" in toc, chapter.name


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_is_committed_without_outputs(chapter):
    cells = json.loads(chapter.read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, chapter.name


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_runs_and_its_prose_numbers_hold(chapter):
    env = {k: v for k, v in os.environ.items() if k != STATIC_ENV}  # live: widgets are built
    env[ENV_VAR] = str(bundled_path())  # the data the book is built on, without the network
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
         "-p", "no:cacheprovider", "-q", "-o", "addopts=", str(chapter)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
