"""How much faster the library is than the seed's own loops, measured side by side.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/speed.py``). Every
figure is a ratio against the seed's verbatim code timed in this same process,
so a slower or busier machine shifts both sides alike. The targets:

- ``reproduce()`` with the seed's settings at least 500x faster than the seed's run;
- a 200 x 200 grid over every loaded image in under a tenth of the seed's 40 x 40
  grid at N=1000, with bounded memory;
- five 1000-epoch trajectories recomputed after a slider change in under 20 ms.
"""

import statistics
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import losslandscape as ll
from tests.seed_verbatim import seed_grid, seed_training


def timed(function, repeat=1):
    """Median wall time in seconds over ``repeat`` calls, and the last result."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ll.BundledDataWarning)
        mnist = ll.load_mnist()
    print(f"data: {len(mnist):,} images from {mnist.source}")

    print("timing the seed's verbatim loops (about 20 s) ...", flush=True)
    seed_grid_100, _ = timed(lambda: seed_grid(mnist.images, mnist.onehot, 100))
    seed_grid_1000, _ = timed(lambda: seed_grid(mnist.images, mnist.onehot, 1000))
    seed_train, _ = timed(lambda: seed_training(mnist.images, mnist.onehot))
    seed_total = seed_grid_100 + seed_grid_1000 + seed_train

    first_call, _ = timed(ll.reproduce)  # compiles or loads the training kernel
    warm_call, _ = timed(ll.reproduce, repeat=7)

    everything = ll.Landscape(len(mnist), data=mnist)
    w_a, w_b = np.linspace(-15, 17, 200), np.linspace(-15, 18, 200)
    tracemalloc.start()
    fine_grid, _ = timed(lambda: everything.grid(w_a, w_b), repeat=3)
    grid_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    landscape = ll.Landscape(100, data=mnist)
    lrs = iter(np.linspace(1, 20, 21))  # a slider moving: a new learning rate each time
    slider, _ = timed(lambda: ll.train(landscape, lrs=[next(lrs)], epochs=1000), repeat=21)

    rows = [
        ("seed: grid N=100, 40 x 40", f"{seed_grid_100:9.3f} s", ""),
        ("seed: grid N=1000, 40 x 40", f"{seed_grid_1000:9.3f} s", ""),
        ("seed: five trajectories, 1000 epochs", f"{seed_train:9.3f} s", ""),
        ("seed: whole run", f"{seed_total:9.3f} s", ""),
        (
            "reproduce(), first call in a process",
            f"{first_call * 1e3:9.1f} ms",
            f"{seed_total / first_call:8.0f}x faster",
        ),
        (
            "reproduce(), warm (median of 7)",
            f"{warm_call * 1e3:9.1f} ms",
            f"{seed_total / warm_call:8.0f}x faster (target >= 500x)",
        ),
        (
            f"grid 200 x 200 over {len(mnist):,} images",
            f"{fine_grid * 1e3:9.1f} ms",
            f"{fine_grid / seed_grid_1000:8.3f} of the seed's N=1000 grid (target < 0.1), "
            f"peak {grid_peak / 2**20:.0f} MiB",
        ),
        ("five 1000-epoch trajectories, new lr", f"{slider * 1e3:9.1f} ms", "(target < 20 ms)"),
    ]
    width = max(len(name) for name, _, _ in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value}  {note}")
    met = seed_total / warm_call >= 500 and fine_grid < 0.1 * seed_grid_1000 and slider < 0.020
    print("all targets met" if met else "TARGET MISSED")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
