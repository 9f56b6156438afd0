"""MNIST, as the seed prepares it: flattened to 784, divided by 255, labels one-hot.

The data comes from, in this order: an explicit npz path (argument, then the
``LOSSLANDSCAPE_MNIST`` environment variable), keras's own loader (its download
and its cache in ``~/.keras/datasets``), and, when keras cannot deliver, the
subset of MNIST bundled with this package.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

ENV_VAR = "LOSSLANDSCAPE_MNIST"
BUNDLED_FILE = "mnist-subset.npz"
N_PIXELS = 784
N_CLASSES = 10


class BundledDataWarning(UserWarning):
    """Keras could not load MNIST, so the bundled subset is used instead."""


@dataclasses.dataclass(frozen=True, eq=False)
class MNIST:
    """Training images of MNIST, ready for the network.

    ``images`` is ``(n, 784)`` float64 in [0, 1], ``labels`` is ``(n,)`` int,
    ``onehot`` is ``(n, 10)`` float64; ``source`` says where they came from.
    Compared by identity, so results computed from it can be cached.
    """

    images: np.ndarray
    labels: np.ndarray
    onehot: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.labels)


def load_mnist(path: str | os.PathLike | None = None) -> MNIST:
    """Load the MNIST training set.

    Args:
        path: an npz file in keras's layout (``x_train`` uint8 ``(n, 28, 28)``,
            ``y_train`` with labels 0..9). Without it, ``$LOSSLANDSCAPE_MNIST``
            is tried, then ``keras.datasets.mnist.load_data()``, then the
            bundled subset (with a :class:`BundledDataWarning`, once).

    Repeated calls with the same source return the same cached object.
    """
    if path is None:
        path = os.environ.get(ENV_VAR) or None
    if path is not None:
        return _load_npz(Path(path).expanduser().resolve())
    return _load_default()


def bundled_path() -> Path:
    """Where the bundled subset (the first 6,309 training images) lives."""
    return Path(str(importlib.resources.files(__package__) / "data" / BUNDLED_FILE))


@functools.lru_cache(maxsize=4)
def _load_npz(path: Path) -> MNIST:
    if not path.is_file():
        raise FileNotFoundError(
            f"MNIST file {str(path)!r} does not exist; give an npz in keras's layout "
            f"(x_train uint8 (n, 28, 28), y_train labels 0..9) or unset {ENV_VAR}"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in ("x_train", "y_train") if key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"MNIST file {str(path)!r} is not a readable npz ({error}); "
            "expected keras's layout: x_train uint8 (n, 28, 28), y_train labels 0..9"
        ) from None
    missing = [key for key in ("x_train", "y_train") if key not in arrays]
    if missing:
        raise ValueError(
            f"MNIST file {str(path)!r} lacks {' and '.join(missing)}; "
            "expected keras's layout: x_train uint8 (n, 28, 28), y_train labels 0..9"
        )
    return _prepare(arrays["x_train"], arrays["y_train"], source=str(path))


@functools.cache
def _load_default() -> MNIST:
    try:
        os.environ.setdefault("KERAS_BACKEND", "jax")
        from keras.datasets import mnist

        (x_train, y_train), _ = mnist.load_data()
    except Exception as error:  # keras reports a failed download as a bare Exception
        path = bundled_path()
        data = _load_npz(path)
        warnings.warn(
            f"keras could not load MNIST ({type(error).__name__}: {error}); using the "
            f"bundled subset of {len(data):,} training images instead of 60,000. "
            f"For the full set, run keras.datasets.mnist.load_data() once with internet "
            f"access, or point {ENV_VAR} at a copy of mnist.npz.",
            BundledDataWarning,
            stacklevel=3,
        )
        return data
    return _prepare(x_train, y_train, source="keras.datasets.mnist")


def _prepare(x_train: np.ndarray, y_train: np.ndarray, source: str) -> MNIST:
    layout = "expected x_train uint8 (n, 28, 28) and y_train (n,) with labels 0..9"
    if x_train.ndim != 3 or x_train.shape[1:] != (28, 28) or x_train.dtype != np.uint8:
        raise ValueError(
            f"{source}: x_train is {x_train.dtype} {x_train.shape}, not keras's layout; {layout}"
        )
    if y_train.shape != (len(x_train),) or not np.issubdtype(y_train.dtype, np.integer):
        raise ValueError(
            f"{source}: y_train is {y_train.dtype} {y_train.shape} for {len(x_train)} "
            f"images; {layout}"
        )
    if len(y_train) == 0 or y_train.min() < 0 or y_train.max() >= N_CLASSES:
        raise ValueError(f"{source}: y_train is empty or has labels outside 0..9; {layout}")
    images = x_train.reshape(-1, N_PIXELS) / 255
    labels = y_train.astype(np.int64)
    # Equal to the seed's OneHotEncoder whenever all ten digits occur, as in MNIST.
    onehot = np.eye(N_CLASSES)[labels]
    for array in (images, labels, onehot):
        array.flags.writeable = False
    return MNIST(images, labels, onehot, source)
