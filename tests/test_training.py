"""Training: the compiled loop, the NumPy loop for any rule, sweeps and divergence."""

import dataclasses

import numpy as np
import pytest

import losslandscape as ll


def as_custom(name):
    """The built-in rule behind a new function object, so training takes the NumPy loop."""
    optimizer = ll.OPTIMIZERS[name]
    return dataclasses.replace(optimizer, step=lambda *args: optimizer.step(*args))


# Not the defaults, but no tiny eps: with eps near 0 the normalised step of RMSProp
# and Adam near a zero of the gradient is pure rounding noise in any implementation.
HYPER = {
    "SGD-Momentum": {"rho": 0.5},
    "Nesterov-SGD": {"rho": 0.7},
    "AdaGrad": {"eps": 0.05},
    "RMSProp": {"rho": 0.8, "eps": 0.05},
    "Adam": {"beta1": 0.8, "beta2": 0.99, "eps": 0.05},
}


@pytest.mark.parametrize("watched", [ll.WATCHED, ((2, 5), (8, 400))])
def test_compiled_loop_equals_numpy_loop(mnist, watched):
    land = ll.Landscape(80, data=mnist, watched=watched, gradient_factor=2.0)
    options = dict(starts=[(-9, 15), (3, -4)], lrs=[0.5, 4.0], epochs=120, hyperparameters=HYPER)
    compiled = ll.train(land, ll.OPTIMIZERS, **options)
    reference = ll.train(land, [as_custom(m) for m in ll.OPTIMIZERS], **options)
    assert len(compiled) == len(reference) == len(ll.OPTIMIZERS) * 2 * 2
    for fast, slow in zip(compiled, reference, strict=True):
        assert (fast.method, fast.start, fast.lr) == (slow.method, slow.start, slow.lr)
        np.testing.assert_allclose(fast.weights, slow.weights, rtol=0, atol=1e-12)
        np.testing.assert_allclose(fast.costs, slow.costs, rtol=0, atol=1e-12)


def test_a_sweep_equals_its_runs_trained_alone(landscape):
    starts, lrs = [(-9, 15), (0, 0), (12, -3)], [1.0, 10.0]
    sweep = ll.train(landscape, ["Adam", "SGD"], starts=starts, lrs=lrs, epochs=60)
    order = [(m, s, lr) for m in ("Adam", "SGD") for s in starts for lr in lrs]
    assert [(t.method, t.start, t.lr) for t in sweep] == [
        (m, tuple(map(float, s)), lr) for m, s, lr in order
    ]
    for run, (method, start, lr) in zip(sweep, order, strict=True):
        alone = ll.train(landscape, [method], starts=[start], lrs=[lr], epochs=60)[0]
        np.testing.assert_array_equal(run.weights, alone.weights)


def test_costs_are_paired_with_weights_and_seed_record_shifts_them(landscape):
    run = ll.train(landscape, ["SGD"], epochs=30)[0]
    assert run.weights.shape == (31, 2) and run.costs.shape == (31,)
    np.testing.assert_array_equal(run.weights[0], [-9, 15])
    np.testing.assert_allclose(
        run.costs, landscape.cost(run.weights[:, 0], run.weights[:, 1]), atol=1e-13
    )
    w_a, w_b, cost = run.seed_record()
    np.testing.assert_array_equal(w_a, run.weights[1:, 0])
    np.testing.assert_array_equal(w_b, run.weights[1:, 1])
    np.testing.assert_array_equal(cost, run.costs[:-1])  # the cost before each update


def test_every_run_descends_from_the_seeds_start(landscape):
    for run in ll.train(landscape, epochs=200):
        assert run.costs[-1] < run.costs[0]


@pytest.mark.parametrize("custom", [False, True])
def test_divergence_is_reported_not_hidden_in_nan(mnist, custom):
    # With a large gradient Adam's step is about lr, so lr near the largest float
    # overflows the weights at once.
    land = ll.Landscape(100, data=mnist, gradient_factor=1e4)
    method = as_custom("Adam") if custom else "Adam"
    with pytest.raises(ll.DivergenceError, match=r"Adam with lr=1e\+308 .* diverged: .* epoch 1;"):
        ll.train(land, [method], lrs=[1e308], epochs=100)
    run = ll.train(land, [method], lrs=[1e308], epochs=100, on_divergence="keep")[0]
    assert run.diverged_at is not None and 1 <= run.diverged_at <= 100
    assert np.all(np.isfinite(run.weights[: run.diverged_at]))
    assert np.all(np.isnan(run.weights[run.diverged_at :]))


def test_a_rule_returning_the_wrong_shape_is_named(landscape):
    broken = dataclasses.replace(ll.OPTIMIZERS["SGD"], step=lambda w, g, lr: w.sum())
    with pytest.raises(
        ValueError, match=r"SGD: the update rule returned weights of shape \(\), expected \(1, 2\)"
    ):
        ll.train(landscape, [broken], epochs=3)


def test_a_rule_that_returns_nan_is_reported(landscape):
    broken = dataclasses.replace(ll.OPTIMIZERS["SGD"], step=lambda w, g, lr: w - lr * g / 0.0)
    with (
        pytest.raises(ll.DivergenceError, match=r"SGD with lr=10\.0 .* epoch 1;"),
        np.errstate(divide="ignore", invalid="ignore"),
    ):
        ll.train(landscape, [broken], epochs=5)
