"""The library against the seed's own code, run verbatim, to 1e-12."""

import numpy as np
import pytest

import losslandscape as ll
from tests.seed_verbatim import seed_grid, seed_training

TOLERANCE = 1e-12


@pytest.fixture(scope="module")
def seed_results(mnist):
    grids = {n: seed_grid(mnist.images, mnist.onehot, n)[2] for n in (100, 1000)}
    return grids, seed_training(mnist.images, mnist.onehot)


@pytest.fixture(scope="module")
def ours(mnist):
    return ll.reproduce()


def test_reproduce_returns_the_seeds_arrays(ours):
    expected = {"m1s", "m2s", "Z_100", "Z_1000"} | {
        f"{m}_{k}" for m in ll.SEED_METHODS for k in ("w250", "w251", "cost")
    }
    assert set(ours) == expected
    np.testing.assert_array_equal(ours["m1s"], np.linspace(-15, 17, 40))
    np.testing.assert_array_equal(ours["m2s"], np.linspace(-15, 18, 40))
    assert ours["Z_100"].shape == ours["Z_1000"].shape == (40, 40)
    assert all(ours[f"{m}_cost"].shape == (1000,) for m in ll.SEED_METHODS)


@pytest.mark.parametrize("n", [100, 1000])
def test_loss_grids_equal_the_seeds(seed_results, ours, n):
    np.testing.assert_allclose(ours[f"Z_{n}"], seed_results[0][n], rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("method", ll.SEED_METHODS)
def test_trajectories_equal_the_seeds(seed_results, ours, method):
    for key, reference in zip(("w250", "w251", "cost"), seed_results[1][method], strict=True):
        np.testing.assert_allclose(ours[f"{method}_{key}"], reference, rtol=0, atol=TOLERANCE)


def test_final_values_are_the_published_ones(ours):
    # The table in the seed's description, to its six decimals.
    published = {
        "SGD": (-1.557117, 6.691284, 4.765596),
        "SGD-Momentum": (18.535451, 7.651465, 4.750752),
        "Nesterov-SGD": (18.455594, 7.669013, 4.750781),
        "RMSProp": (17.796950, 7.806299, 4.751024),
        "Adam": (18.597330, 7.637617, 4.750729),
    }
    for method, values in published.items():
        got = [ours[f"{method}_{key}"][-1] for key in ("w250", "w251", "cost")]
        np.testing.assert_allclose(got, values, rtol=0, atol=5e-7)


@pytest.mark.parametrize(
    ("seed", "lr", "start", "epochs", "n"),
    [
        (7, 3.0, (-5.0, 5.0), 200, 100),
        (135, 25.0, (10.0, -12.0), 150, 60),
        (2024, 0.5, (0, 0), 50, 30),
    ],
)
def test_other_settings_equal_the_seeds_code(mnist, seed, lr, start, epochs, n):
    reference = seed_training(mnist.images, mnist.onehot, seed, lr, start, epochs, n)
    ours = ll.reproduce(seed, lr, start, epochs, train_n=n, grid_ns=(n,))
    for method in ll.SEED_METHODS:
        for key, want in zip(("w250", "w251", "cost"), reference[method], strict=True):
            np.testing.assert_allclose(ours[f"{method}_{key}"], want, rtol=0, atol=TOLERANCE)
    grid = seed_grid(mnist.images, mnist.onehot, n, seed)[2]
    np.testing.assert_allclose(ours[f"Z_{n}"], grid, rtol=0, atol=TOLERANCE)
