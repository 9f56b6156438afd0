"""Bad input gets an error that names the parameter, the value and what is allowed."""

import numpy as np
import pytest

import losslandscape as ll


@pytest.mark.parametrize(
    ("n", "message"),
    [
        (
            0,
            "n_samples=0 is out of range: the loaded data holds 6,309 images, so 1 <= n_samples <= 6,309",
        ),
        (6310, "n_samples=6310 is out of range"),
        (2.5, "n_samples must be an integer, got 2.5"),
        (True, "n_samples must be an integer, got True"),
    ],
)
def test_n_samples(mnist, n, message):
    with pytest.raises(ValueError, match=message):
        ll.Landscape(n, data=mnist)


@pytest.mark.parametrize(
    ("w_a", "message"),
    [
        ([], r"w_a_values must be a non-empty 1-D sequence, got shape \(0,\)"),
        ([[1.0, 2.0]], r"w_a_values must be a non-empty 1-D sequence, got shape \(1, 2\)"),
        ([1.0, 1.0, 2.0], "w_a_values must be strictly increasing"),
        ([3.0, 2.0], "w_a_values must be strictly increasing"),
        ([0.0, np.nan], "w_a_values must hold finite numbers only"),
        (["a", "b"], "w_a_values must be a 1-D sequence of numbers"),
    ],
)
def test_grid_axes(landscape, w_a, message):
    with pytest.raises(ValueError, match=message):
        landscape.grid(w_a, [0.0, 1.0])


def test_loss_grid_checks_both_axes(mnist):
    with pytest.raises(ValueError, match="w_b_values must be strictly increasing"):
        ll.loss_grid(10, [0.0, 1.0], [1.0, 0.0])


@pytest.mark.parametrize(
    ("lr", "message"),
    [
        (0, "lr must be a positive finite number, got 0"),
        (-1.0, "got -1.0"),
        (np.inf, "got inf"),
        (np.nan, "got nan"),
        ("fast", "got 'fast'"),
        (True, "got True"),
    ],
)
def test_learning_rate(landscape, lr, message):
    with pytest.raises(ValueError, match=message):
        ll.train(landscape, ["SGD"], lrs=[lr], epochs=2)


@pytest.mark.parametrize("epochs", [0, -5, 2.0, True])
def test_epochs(landscape, epochs):
    with pytest.raises(ValueError, match=f"epochs must be an integer >= 1, got {epochs!r}"):
        ll.train(landscape, ["SGD"], epochs=epochs)


def test_unknown_optimizer(landscape):
    message = f"unknown optimizer 'Adamax'; allowed: {', '.join(ll.OPTIMIZERS)}"
    with pytest.raises(ValueError, match=message):
        ll.train(landscape, ["Adamax"], epochs=2)


def test_other_training_arguments(landscape):
    with pytest.raises(ValueError, match="methods is empty"):
        ll.train(landscape, [], epochs=2)
    with pytest.raises(
        ValueError, match=r"start must be a pair of numbers \(w_a, w_b\), got \(1, 2, 3\)"
    ):
        ll.train(landscape, ["SGD"], starts=[(1, 2, 3)], epochs=2)
    with pytest.raises(ValueError, match="start must be finite"):
        ll.train(landscape, ["SGD"], starts=[(np.inf, 2)], epochs=2)
    with pytest.raises(ValueError, match="hyperparameters given for Adam, which is not among"):
        ll.train(landscape, ["SGD"], hyperparameters={"Adam": {"eps": 1.0}}, epochs=2)
    with pytest.raises(ValueError, match="on_divergence must be 'raise' or 'keep'"):
        ll.train(landscape, ["SGD"], on_divergence="ignore", epochs=2)


@pytest.mark.parametrize(
    "watched",
    [
        ((5, 500), (5, 251)),
        ((10, 0), (5, 251)),
        ((5, 250), (5, 250)),
        ((-1, 3), (5, 251)),
        ((5, 250),),
        "w2[5][250]",
    ],
)
def test_watched_weights(mnist, watched):
    with pytest.raises(
        ValueError,
        match=r"is not two distinct \(output, hidden unit\) pairs with 0 <= output < 10 and 0 <= hidden unit < 500",
    ):
        ll.Landscape(10, data=mnist, watched=watched)


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "135"])
def test_seed(mnist, seed):
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*32\)"):
        ll.Landscape(10, data=mnist, seed=seed)


def test_gradient_factor(mnist):
    with pytest.raises(ValueError, match="gradient_factor must be a positive finite number, got 0"):
        ll.Landscape(10, data=mnist, gradient_factor=0)


def test_reproduce_names_its_own_parameters(mnist):
    with pytest.raises(ValueError, match="train_n=0 is out of range"):
        ll.reproduce(train_n=0)
    with pytest.raises(ValueError, match="grid_ns=7000 is out of range"):
        ll.reproduce(grid_ns=(100, 7000))
    with pytest.raises(ValueError, match="grid_ns is empty"):
        ll.reproduce(grid_ns=())
