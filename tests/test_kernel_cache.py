"""The compiled loop computes what the source says, whatever was cached before."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import losslandscape

pytestmark = pytest.mark.slow

# Adam through the compiled kernel and, with the same rule wrapped so the kernel
# does not know it, through the NumPy loop.
SCRIPT = """
import dataclasses, json
import losslandscape as ll
from losslandscape import optimizers
landscape = ll.Landscape(100)
adam = ll.OPTIMIZERS["Adam"]
wrapped = dataclasses.replace(adam, step=lambda *args: optimizers.adam_step(*args))
(compiled,), (numpy,) = (ll.train(landscape, [m], epochs=300) for m in (adam, wrapped))
print(json.dumps([compiled.weights[-1].tolist(), numpy.weights[-1].tolist()]))
"""
BIAS_CORRECTION = "    m_hat = m / (1 - beta1**t)\n"


def run(package: Path, cache: Path) -> tuple[list[float], list[float]]:
    env = {**os.environ, "PYTHONPATH": str(package.parent), "XDG_CACHE_HOME": str(cache)}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return tuple(json.loads(result.stdout))


def test_an_edited_rule_is_compiled_afresh_and_a_reverted_one_too(tmp_path):
    package = tmp_path / "copy" / "losslandscape"
    shutil.copytree(Path(losslandscape.__file__).parent, package)
    rules = package / "optimizers.py"
    original = rules.read_text()
    assert original.count(BIAS_CORRECTION) == 1
    cache = tmp_path / "cache"  # one cache across all three runs, as on a user's machine

    compiled, numpy = run(package, cache)
    assert compiled == pytest.approx(numpy, abs=1e-12)

    rules.write_text(original.replace(BIAS_CORRECTION, "    m_hat = m\n"))
    edited, edited_numpy = run(package, cache)
    assert edited == pytest.approx(edited_numpy, abs=1e-12)
    assert edited != pytest.approx(compiled, abs=1e-3)  # the edit changed the path

    rules.write_text(original)
    assert run(package, cache) == (compiled, numpy)
