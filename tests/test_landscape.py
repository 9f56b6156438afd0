"""The fast grid and gradient against a brute-force pass through the whole network."""

import tracemalloc

import numpy as np
import pytest

import losslandscape as ll
from losslandscape import network


def brute_force(mnist, n, seed, watched, w_a, w_b):
    """Cost and full output gradient with every layer evaluated, as the seed does."""
    weights = network.init_weights(seed)
    (k_a, j_a), (k_b, j_b) = watched
    weights[2][k_a, j_a], weights[2][k_b, j_b] = w_a, w_b
    images, onehot = mnist.images[:n], mnist.onehot[:n]
    pred = network.forward(weights, images)
    a1 = network.hidden_activations(weights[0], weights[1], images)
    grad = network.output_gradient(a1, onehot, pred)
    return network.cost(pred, onehot), grad[k_a, j_a], grad[k_b, j_b]


SETTINGS = [
    (100, 135, ll.WATCHED),
    (257, 135, ((3, 10), (7, 499))),  # two different output units
    (1000, 7, ((0, 0), (0, 1))),
]


@pytest.mark.parametrize(("n", "seed", "watched"), SETTINGS)
def test_grid_and_gradient_equal_brute_force_at_random_pairs(mnist, n, seed, watched):
    land = ll.Landscape(n, seed=seed, data=mnist, watched=watched)
    rng = np.random.default_rng(n)
    pairs = rng.uniform(-30, 30, size=(6, 2))
    costs, grads = land.cost_and_gradient(pairs)
    for (w_a, w_b), cost, grad in zip(pairs, costs, grads, strict=True):
        want_cost, want_grad_a, want_grad_b = brute_force(mnist, n, seed, watched, w_a, w_b)
        assert land.grid([w_a], [w_b])[0, 0] == pytest.approx(want_cost, abs=1e-12)
        assert cost == pytest.approx(want_cost, abs=1e-12)
        np.testing.assert_allclose(grad, [want_grad_a, want_grad_b], rtol=0, atol=1e-15)


def test_grid_far_out_takes_the_overflow_safe_path_and_stays_exact(mnist):
    # |w| * h + |base| passes 700 here, where the factorised exponentials would overflow.
    land = ll.Landscape(50, data=mnist)
    w_a, w_b = np.array([-2000.0, -1.0, 1500.0]), np.array([-900.0, 3000.0])
    grid = land.grid(w_a, w_b)
    assert np.all(np.isfinite(grid))
    for j, b in enumerate(w_b):
        for i, a in enumerate(w_a):
            want = brute_force(mnist, 50, ll.SEED, ll.WATCHED, a, b)[0]
            assert grid[j, i] == pytest.approx(want, abs=1e-12)


def test_grid_is_oriented_like_the_seeds_meshgrid(landscape):
    w_a, w_b = np.array([-3.0, 0.0, 4.0]), np.array([-1.0, 2.0])
    grid = landscape.grid(w_a, w_b)
    assert grid.shape == (2, 3)
    for j, b in enumerate(w_b):
        for i, a in enumerate(w_a):
            assert grid[j, i] == pytest.approx(landscape.cost(a, b), abs=1e-13)


def test_loss_grid_matches_landscape_grid(mnist, landscape):
    grid = ll.loss_grid(100, ll.SEED_W_A, ll.SEED_W_B)
    np.testing.assert_array_equal(grid, landscape.grid(ll.SEED_W_A, ll.SEED_W_B))


def test_fine_grid_over_all_images_uses_bounded_memory(mnist):
    land = ll.Landscape(len(mnist), data=mnist)
    w_a, w_b = np.linspace(-15, 17, 200), np.linspace(-15, 18, 200)
    tracemalloc.start()
    try:
        grid = land.grid(w_a, w_b)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Two factor tables of 200 x 6,309 floats (20 MB) and small blocks, not 200 x 200 x 6,309.
    assert peak < 48e6, f"peak {peak / 1e6:.0f} MB"
    spot = land.cost(w_a[[0, 123, 199]], w_b[[7, 50, 199]])
    np.testing.assert_allclose(grid[[7, 50, 199], [0, 123, 199]], spot, rtol=0, atol=1e-12)


def test_gradient_factor_two_is_the_true_gradient(mnist):
    seed_land = ll.Landscape(100, data=mnist)
    true_land = ll.Landscape(100, data=mnist, gradient_factor=2.0)
    w = np.array([[-9.0, 15.0]])
    h = 1e-5
    numeric = [
        (seed_land.cost(-9 + h, 15) - seed_land.cost(-9 - h, 15)) / (2 * h),
        (seed_land.cost(-9, 15 + h) - seed_land.cost(-9, 15 - h)) / (2 * h),
    ]
    np.testing.assert_allclose(true_land.cost_and_gradient(w)[1][0], numeric, rtol=1e-6)
    np.testing.assert_allclose(
        seed_land.cost_and_gradient(w)[1][0], np.array(numeric) / 2, rtol=1e-6
    )
