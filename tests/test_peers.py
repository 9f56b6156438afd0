"""Our rules against the ones users meet later: Keras's and optax's optimizers.

Each registry entry records, for each library, the constructor call with our
names and whether that library walks our path. This test runs exactly those
calls in float64 on the two watched weights, fed the landscape's gradient.
Where the entry says a library agrees, the paths must be equal; where it says
it does not, our rule rewritten in the library's form (``Peer.their_step``)
must walk the library's path, and ours must not.
"""

import dataclasses
import os

import numpy as np
import pytest

import losslandscape as ll

pytestmark = pytest.mark.slow

os.environ.setdefault("KERAS_BACKEND", "jax")
import jax  # noqa: E402 (keras reads its backend when first imported)

jax.config.update("jax_enable_x64", True)
import keras  # noqa: E402
import optax  # noqa: E402

jnp = jax.numpy

SETTINGS = {
    "original": {"lr": 10.0, "start": (-9.0, 15.0), "epochs": 1000, "hyper": {}},
    "other": {
        "lr": 2.5,
        "start": (4.0, -6.0),
        "epochs": 300,
        "hyper": {"rho": 0.7, "beta1": 0.8, "beta2": 0.99, "eps": 0.05},
    },
}
RUN_HERE = ("Keras", "optax")  # PyTorch is not installed; its rows come from its documentation


def peers():
    for name, optimizer in ll.OPTIMIZERS.items():
        for peer in optimizer.peers:
            if peer.library in RUN_HERE:
                for setting in SETTINGS:
                    yield pytest.param(name, peer, setting, id=f"{name}-{peer.library}-{setting}")


@pytest.fixture(scope="module")
def landscape():
    return ll.Landscape(100, data=ll.data.bundled_path())


def their_path(peer, landscape, lr, start, epochs, hyperparameters):
    """The library's optimizer, built by the registry's call, on the two weights."""
    optimizer = eval(peer.call, {"keras": keras, "optax": optax}, {"lr": lr, **hyperparameters})
    params = jnp.asarray(start, dtype=jnp.float64)
    path = [np.array(start)]
    if peer.library == "Keras":
        keras.config.set_floatx("float64")
        variable = keras.Variable(params, dtype="float64")
        optimizer.build([variable])
    else:
        state = optimizer.init(params)
    for _ in range(epochs):
        weights = np.asarray(variable.value if peer.library == "Keras" else params)
        grad = jnp.asarray(landscape.cost_and_gradient(weights[None])[1][0])
        if peer.library == "Keras":
            optimizer.apply_gradients([(grad, variable)])
            path.append(np.asarray(variable.value).copy())
        else:
            updates, state = optimizer.update(grad, state, params)
            params = optax.apply_updates(params, updates)
            path.append(np.asarray(params).copy())
    return np.array(path)


@pytest.mark.parametrize(("name", "peer", "setting"), list(peers()))
def test_each_peer_walks_our_path_or_the_documented_other_one(landscape, name, peer, setting):
    lr, start, epochs, hyper = SETTINGS[setting].values()
    optimizer = ll.OPTIMIZERS[name]
    hyperparameters = optimizer.hyperparameters(
        **{key: value for key, value in hyper.items() if key in optimizer.hyper}
    )
    theirs = their_path(peer, landscape, lr, start, epochs, hyperparameters)

    def ours(step):
        rule = dataclasses.replace(optimizer, step=step)
        (run,) = ll.train(
            landscape,
            [rule],
            starts=[start],
            lrs=[lr],
            epochs=epochs,
            hyperparameters={name: hyperparameters},
        )
        return run.weights

    mine = ours(optimizer.step)
    if peer.agrees:
        np.testing.assert_allclose(theirs, mine, rtol=0, atol=1e-10)
        if peer.their_step is not None:  # the same path, their state
            assert peer.difference
            np.testing.assert_allclose(theirs, ours(peer.their_step), rtol=0, atol=1e-10)
    else:
        assert peer.difference and peer.their_step is not None
        np.testing.assert_allclose(theirs, ours(peer.their_step), rtol=0, atol=1e-10)
        assert np.abs(theirs - mine).max() > 1e-3


def test_every_rule_names_all_three_libraries():
    for optimizer in ll.OPTIMIZERS.values():
        assert [peer.library for peer in optimizer.peers] == ["PyTorch", "Keras", "optax"]
