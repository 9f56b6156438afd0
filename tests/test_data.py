"""The MNIST loader: keras first, an explicit file when asked, the bundled subset offline."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

import losslandscape as ll
from losslandscape import data


@pytest.fixture
def fresh_loader(monkeypatch):
    """The default loader as a user meets it: no data file named, nothing cached yet."""
    monkeypatch.delenv(data.ENV_VAR)
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    data._load_default.cache_clear()
    yield
    data._load_default.cache_clear()


@pytest.fixture
def keras_fails(fresh_loader, monkeypatch):
    """keras's download failing as it does without a network."""
    from keras.datasets import mnist as keras_mnist

    def offline():
        raise Exception("URL fetch failure on https://storage.googleapis.com/: no network")

    monkeypatch.setattr(keras_mnist, "load_data", offline)


def test_when_keras_fails_the_bundled_subset_is_used_and_said_once(keras_fails):
    with pytest.warns(ll.BundledDataWarning, match=r"bundled subset of 6,309 training images"):
        mnist = ll.load_mnist()
    assert mnist.source == str(data.bundled_path())
    assert ll.load_mnist() is mnist  # cached, and no second warning (warnings are errors here)


def test_the_message_says_why_and_how_to_get_the_full_set(keras_fails):
    with pytest.warns(ll.BundledDataWarning) as record:
        ll.load_mnist()
    message = str(record[0].message)
    assert "URL fetch failure" in message
    assert "keras.datasets.mnist.load_data()" in message and data.ENV_VAR in message


def test_keras_data_is_used_when_keras_delivers(fresh_loader, monkeypatch):
    from keras.datasets import mnist as keras_mnist

    x = np.arange(5 * 28 * 28, dtype=np.uint8).reshape(5, 28, 28)
    y = np.array([0, 1, 2, 3, 9], dtype=np.uint8)
    monkeypatch.setattr(keras_mnist, "load_data", lambda: ((x, y), (x, y)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ll.BundledDataWarning)  # no note when keras delivers
        loaded = ll.load_mnist()
    assert loaded.source == "keras.datasets.mnist"
    np.testing.assert_array_equal(loaded.images, x.reshape(5, 784) / 255)


def test_prepared_as_the_seed_prepares_it(mnist):
    raw = np.load(data.bundled_path())
    assert mnist.images.shape == (6309, 784) and mnist.images.dtype == np.float64
    np.testing.assert_array_equal(mnist.images, raw["x_train"].reshape(-1, 784) / 255)
    np.testing.assert_array_equal(mnist.onehot.argmax(axis=1), raw["y_train"])
    np.testing.assert_array_equal(mnist.onehot.sum(axis=1), 1)
    assert not mnist.images.flags.writeable


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_explicit_path_and_environment_variable(tmp_path, monkeypatch):
    x = np.zeros((3, 28, 28), np.uint8)
    path = write_npz(tmp_path / "tiny.npz", x_train=x, y_train=np.array([1, 2, 3]))
    assert len(ll.load_mnist(path)) == 3
    monkeypatch.setenv(data.ENV_VAR, str(path))
    assert ll.load_mnist().source == str(path.resolve())


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"y_train": np.zeros(3, int)}, "lacks x_train"),
        ({"x_train": np.zeros((3, 28, 28), np.uint8)}, "lacks y_train"),
        (
            {"x_train": np.zeros((3, 784)), "y_train": np.zeros(3, int)},
            "x_train is float64 \\(3, 784\\)",
        ),
        (
            {"x_train": np.zeros((3, 28, 28), np.uint8), "y_train": np.zeros(2, int)},
            "y_train is int64 \\(2,\\) for 3 images",
        ),
        (
            {"x_train": np.zeros((2, 28, 28), np.uint8), "y_train": np.array([0, 10])},
            "labels outside 0..9",
        ),
    ],
)
def test_files_not_in_keras_layout_are_refused(tmp_path, arrays, message):
    path = write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        ll.load_mnist(path)


def test_missing_and_unreadable_files_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; give an npz in keras's layout"):
        ll.load_mnist(tmp_path / "nowhere.npz")
    junk = tmp_path / "junk.npz"
    junk.write_text("not a zip")
    with pytest.raises(ValueError, match="is not a readable npz"):
        ll.load_mnist(junk)


def test_a_process_without_usable_keras_falls_back_too(tmp_path):
    # A keras that fails on import, first on the path: whatever keras and backends the
    # machine has, this process cannot use them.
    shadow = tmp_path / "shadow" / "keras"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text('raise ImportError("this keras cannot be imported")\n')
    script = "import losslandscape as ll; print(len(ll.load_mnist()))"
    result = subprocess.run(  # a clean environment: no data file named
        [sys.executable, "-W", "default", "-c", script],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(shadow.parent), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=True,
    )
    assert result.stdout.strip() == "6309"
    assert "this keras cannot be imported" in result.stderr
    assert "bundled subset" in result.stderr
