"""Compiled training loops for the registered rules.

NumPy spends about a microsecond per call on arrays of two elements, and an
epoch of five methods makes some forty such calls; compiled, the same epoch
costs what its arithmetic costs. The rules themselves are not rewritten: for a
registered rule, a loop is written out from its registry entry (its state,
whether it counts steps, its hyperparameters) around its step's own source
(:func:`~losslandscape.rulecode.kernel_source`), compiled the first time the
rule trains, and called on scalars, so the maths lives in one place and nothing
dispatches on numbers. Rules that are not registered (a student's, say) take the
NumPy loop in :mod:`losslandscape.training`.

numba keeps the compiled code in :func:`cache_folder`, one module per rule named
after its whole source: its own cache checks only the file a function comes from,
so an edited rule would otherwise leave the loop's machine code stale.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import math
import os
import re
import sys
import tempfile
from pathlib import Path

import numba

from .optimizers import OPTIMIZERS, Optimizer
from .rulecode import kernel_source


def cache_folder() -> Path:
    """Where numba keeps the loops: a folder named after this file and numba's and Python's
    versions; each rule's loop module in it is named after its own source."""
    digest = hashlib.sha256(f"{numba.__version__} {sys.version}".encode())
    digest.update(Path(__file__).read_bytes())
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "losslandscape" / "numba" / digest.hexdigest()[:16]


def _cost_and_gradient(w_a, w_b, coef_a, coef_b, base, target, rest, factor):
    """The original notebook's cost and gradient at one weight pair.

    Summed over the output units the watched weights feed and over the images.
    """
    n = target.shape[1]
    squared = grad_a = grad_b = 0.0
    for k in range(target.shape[0]):
        for i in range(n):
            pred = 1.0 / (1.0 + math.exp(-(base[k, i] + w_a * coef_a[k, i] + w_b * coef_b[k, i])))
            error = pred - target[k, i]
            squared += error * error
            delta = error * pred * (1 - pred)
            grad_a += delta * coef_a[k, i]
            grad_b += delta * coef_b[k, i]
    return rest + squared / n, factor * (grad_a / n), factor * (grad_b / n)


_LOOP = '''
def {loop}(starts, lrs, hypers, epochs, coef_a, coef_b, base, target, rest, factor):
    """Train every run with {name}: weights (epochs+1, runs, 2), costs (epochs+1, runs)."""
    runs = len(starts)
    history = np.empty((epochs + 1, runs, 2))
    costs = np.empty((epochs + 1, runs))
    for r in range(runs):
        w_a, w_b = starts[r, 0], starts[r, 1]
        {zeros}
        history[0, r, 0], history[0, r, 1] = w_a, w_b
        for t in range(1, epochs + 1):
            cost, g_a, g_b = cost_and_gradient(
                w_a, w_b, coef_a, coef_b, base, target, rest, factor
            )
            costs[t - 1, r] = cost
            {update_a}
            {update_b}
            history[t, r, 0], history[t, r, 1] = w_a, w_b
        costs[epochs, r] = cost_and_gradient(
            w_a, w_b, coef_a, coef_b, base, target, rest, factor
        )[0]
    return history, costs
'''


def _loop_source(optimizer: Optimizer) -> str:
    """A module with the rule's step and its loop, the step called with the rule's signature."""
    step = optimizer.step.__name__
    hyper = [f"hypers[r, {i}]" for i in range(len(optimizer.hyper))]
    count = ["t"] if optimizer.counts_steps else []

    def update(axis: str) -> str:
        state = [f"{name}_{axis}" for name in optimizer.state]
        args = ", ".join([f"w_{axis}", f"g_{axis}", *state, *count, "lrs[r]", *hyper])
        return f"{', '.join([f'w_{axis}', *state])} = {step}({args})"

    zeros = " = ".join([f"{name}_{axis}" for name in optimizer.state for axis in "ab"] + ["0.0"])
    loop = _LOOP.format(
        loop="loop",
        name=optimizer.name,
        zeros=zeros if optimizer.state else "pass",
        update_a=update("a"),
        update_b=update("b"),
    )
    return "\n".join(
        [
            f'"""{optimizer.name}\'s loop, written by losslandscape._kernel; do not edit."""',
            "import numba",
            "import numpy as np",
            "from losslandscape._kernel import compiled_cost_and_gradient as cost_and_gradient",
            "",
            kernel_source(optimizer.step),
            f"{step} = numba.njit(cache=CACHE)({step})",
            loop,
            "loop = numba.njit(cache=CACHE)(loop)",
            "",
        ]
    )


@contextlib.contextmanager
def _cached_in(folder: Path):
    """numba caches what is compiled in this block in ``folder``, or nowhere if it cannot."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        usable = os.access(folder, os.W_OK)
    except OSError:
        usable = False
    previous = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(folder)
    try:
        yield usable  # without a usable folder, numba would fall back to __pycache__
    finally:
        numba.config.CACHE_DIR = previous


def _load_loop(optimizer: Optimizer):
    source = _loop_source(optimizer)
    name = re.sub(r"\W", "_", optimizer.name).lower()
    module_name = f"{name}_{hashlib.sha256(source.encode()).hexdigest()[:16]}"
    folder = cache_folder()
    with _cached_in(folder) as usable:
        home = folder if usable else Path(tempfile.mkdtemp(prefix="losslandscape-kernel-"))
        path = home / f"{module_name}.py"
        source = source.replace("CACHE", str(usable))
        if not path.is_file() or path.read_text() != source:
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(source)
            partial.replace(path)  # atomic: another process may be reading it
        spec = importlib.util.spec_from_file_location(f"losslandscape_loop_{module_name}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # numba finds the loop's globals here on a cache hit
        spec.loader.exec_module(module)
        return module.loop


with _cached_in(cache_folder()) as _usable:
    compiled_cost_and_gradient = numba.njit(cache=_usable)(_cost_and_gradient)

_LOOPS: dict[tuple, object] = {}


def loop_for(optimizer: Optimizer):
    """The compiled loop for ``optimizer``, or None when its step is not the registered one.

    Compiled (or loaded from numba's cache) the first time each rule trains.
    """
    registered = OPTIMIZERS.get(optimizer.name)
    key = (optimizer.name, optimizer.step, optimizer.state, tuple(optimizer.hyper))
    if registered is None or key != (
        registered.name,
        registered.step,
        registered.state,
        tuple(registered.hyper),
    ):
        return None
    if key not in _LOOPS:
        _LOOPS[key] = _load_loop(registered)
    return _LOOPS[key]
