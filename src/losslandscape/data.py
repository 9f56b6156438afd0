"""MNIST as the original notebook prepares it: flattened to 784, over 255, labels one-hot.

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
"""The environment variable naming an npz that :func:`load_mnist` loads when given no path."""
BUNDLED_FILE = "mnist-subset.npz"
N_PIXELS = 784
N_CLASSES = 10


class BundledDataWarning(UserWarning):
    """Keras could not load MNIST, so the bundled subset is used instead.

    Issued once per process by :func:`load_mnist`; its message says why keras failed and
    how to get the full set. Silence it with
    ``warnings.simplefilter("ignore", BundledDataWarning)``.
    """


@dataclasses.dataclass(frozen=True, eq=False)
class MNIST:
    """Training images of MNIST, ready for the network.

    :func:`load_mnist` builds it, with read-only arrays. Compared by identity, so results
    computed from it can be cached; ``len(mnist)`` is the number of images n.

    Args:
        images: Array of shape ``(n, 784)``, float64 in [0, 1]: each 28 x 28 image
            flattened row by row and divided by 255.
        labels: Array of shape ``(n,)``, int64, the digits 0 to 9.
        onehot: Array of shape ``(n, 10)``, float64, the labels one-hot: the targets
            :math:`y` of the network's ten outputs.
        source: Where the images came from: the npz's path, or
            ``"keras.datasets.mnist"``.

    Each argument is kept as the attribute of the same name.

    Example:
        >>> mnist = load_mnist(bundled_path())
        >>> len(mnist), mnist.images.shape, mnist.onehot.shape
        (6309, (6309, 784), (6309, 10))
        >>> mnist.labels[:5], int(mnist.onehot[0].argmax())
        (array([5, 0, 4, 1, 9]), 5)
    """

    images: np.ndarray
    labels: np.ndarray
    onehot: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.labels)


def load_mnist(path: str | os.PathLike | None = None) -> MNIST:
    """Load the MNIST training set, prepared as the original notebook prepares it.

    Args:
        path: An npz file in keras's layout, as ``keras.datasets.mnist`` downloads it:
            ``x_train`` uint8 of shape ``(n, 28, 28)`` and ``y_train`` with labels 0 to 9
            (``~`` is expanded). Without it, the file named by ``$LOSSLANDSCAPE_MNIST``
            (:data:`ENV_VAR`) is loaded; without that, ``keras.datasets.mnist.load_data()``
            (its download, or its cache in ``~/.keras/datasets``); and when keras cannot
            deliver, the bundled subset (:func:`bundled_path`), with a
            :class:`BundledDataWarning`.

    Returns:
        An :class:`MNIST`. Repeated calls with the same source return the same cached
        object.

    Raises:
        FileNotFoundError: If the npz file does not exist
            (``MNIST file ... does not exist; give an npz in keras's layout ...``).
        ValueError: If the file is not a readable npz
            (``MNIST file ... is not a readable npz ...``) or lacks ``x_train`` or
            ``y_train`` (``MNIST file ... lacks x_train ...``).
        ValueError: If ``x_train`` is not uint8 of shape ``(n, 28, 28)``
            (``...: x_train is ..., not keras's layout; ...``), ``y_train`` is not
            integers of shape ``(n,)`` (``...: y_train is ... for n images; ...``), or
            it is empty or has labels outside 0 to 9
            (``...: y_train is empty or has labels outside 0..9; ...``).

    Warns:
        BundledDataWarning: When keras cannot load MNIST (no internet, no keras), once
            per process, before the bundled subset is used.

    The original notebook loads ``keras.datasets.mnist`` and scales it the same way; the
    bundled subset holds the first 6,309 of its 60,000 training images, so any
    ``Landscape`` with N <= 6,309 is the same on either.

    Example:
        >>> mnist = load_mnist(bundled_path())
        >>> mnist.images.shape, float(mnist.images.max())
        ((6309, 784), 1.0)
        >>> load_mnist(bundled_path()) is mnist
        True
    """
    if path is None:
        path = os.environ.get(ENV_VAR) or None
    if path is not None:
        return _load_npz(Path(path).expanduser().resolve())
    return _load_default()


def bundled_path() -> Path:
    """Where the subset of MNIST bundled with the package lives.

    Returns:
        The ``pathlib.Path`` of an npz in keras's layout holding the first 6,309 training
        images of MNIST and their labels, for :func:`load_mnist`.
    """
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
    # Equal to the original notebook's OneHotEncoder whenever all ten digits occur.
    onehot = np.eye(N_CLASSES)[labels]
    for array in (images, labels, onehot):
        array.flags.writeable = False
    return MNIST(images, labels, onehot, source)
