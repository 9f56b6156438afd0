"""Each update rule, one and two steps, against values worked out by hand.

Every case starts at w = 1 with zero state, takes gradient 0.5 then -0.25,
with lr = 0.1 and the seed's rho = 0.9, beta1 = 0.9, beta2 = 0.999, eps = 0.1.
The expected values are written as the arithmetic done by hand.
"""

import inspect
import math

import numpy as np
import pytest

import losslandscape as ll

LR, RHO, EPS, B1, B2 = 0.1, 0.9, 0.1, 0.9, 0.999
G1, G2 = 0.5, -0.25

# SGD: w1 = 1 - 0.1*0.5; w2 = w1 - 0.1*(-0.25)
SGD = [1 - 0.05, 1 - 0.05 + 0.025]
# Momentum: v1 = 0.5, w1 = 1 - 0.05; v2 = 0.9*0.5 - 0.25 = 0.2, w2 = w1 - 0.1*0.2
MOMENTUM = [(0.95, 0.5), (0.93, 0.2)]
# Nesterov: v1 = -0.05, w1 = 1 - 0.05 + 0.9*(-0.05) = 0.905
#           v2 = 0.9*(-0.05) + 0.025 = -0.02, w2 = 0.905 - 0.02 + 0.9*(-0.02 + 0.05) = 0.912
NESTEROV = [(0.905, -0.05), (0.912, -0.02)]
# AdaGrad: s1 = 0.25, w1 = 1 - 0.05/(0.5 + 0.1) = 11/12
#          s2 = 0.25 + 0.0625 = 0.3125, w2 = 11/12 + 0.025/(sqrt(0.3125) + 0.1)
ADAGRAD = [(11 / 12, 0.25), (11 / 12 + 0.025 / (math.sqrt(0.3125) + 0.1), 0.3125)]
# RMSProp: s1 = 0.1*0.25 = 0.025, w1 = 1 - 0.05/(sqrt(0.025) + 0.1)
#          s2 = 0.9*0.025 + 0.1*0.0625 = 0.02875, w2 = w1 + 0.025/(sqrt(0.02875) + 0.1)
_RMS_W1 = 1 - 0.05 / (math.sqrt(0.025) + 0.1)
RMSPROP = [(_RMS_W1, 0.025), (_RMS_W1 + 0.025 / (math.sqrt(0.02875) + 0.1), 0.02875)]
# Adam: m1 = 0.05, v1 = 0.00025, m_hat = 0.5, v_hat = 0.25, w1 = 1 - 0.1*0.5/(0.5 + 0.1) = 11/12
#       m2 = 0.045 - 0.025 = 0.02, v2 = 0.00024975 + 0.0000625 = 0.00031225,
#       m_hat = 0.02/0.19, v_hat = 0.00031225/0.001999, w2 = 11/12 - 0.1*m_hat/(sqrt(v_hat) + 0.1)
ADAM = [
    (11 / 12, 0.05, 0.00025),
    (11 / 12 - 0.1 * (0.02 / 0.19) / (math.sqrt(0.00031225 / 0.001999) + 0.1), 0.02, 0.00031225),
]

CASES = {
    "SGD": (lambda w, g, state, t: (ll.sgd_step(w, g, LR),), SGD),
    "SGD-Momentum": (lambda w, g, s, t: ll.momentum_step(w, g, *s, LR, RHO), MOMENTUM),
    "Nesterov-SGD": (lambda w, g, s, t: ll.nesterov_step(w, g, *s, LR, RHO), NESTEROV),
    "AdaGrad": (lambda w, g, s, t: ll.adagrad_step(w, g, *s, LR, EPS), ADAGRAD),
    "RMSProp": (lambda w, g, s, t: ll.rmsprop_step(w, g, *s, LR, RHO, EPS), RMSPROP),
    "Adam": (lambda w, g, s, t: ll.adam_step(w, g, *s, t, LR, B1, B2, EPS), ADAM),
}


def two_steps(name, w, shape):
    call, _ = CASES[name]
    state = tuple(np.zeros(shape) for _ in ll.OPTIMIZERS[name].state)
    results = []
    for t, g in enumerate((G1, G2), start=1):
        w, *state = call(w, np.full(shape, g), state, t)
        results.append((w, *state))
    return results


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("shape", [(), (3,), (2, 4)])
def test_one_and_two_steps_match_hand_computed_values(name, shape):
    expected = CASES[name][1]
    for got, want in zip(two_steps(name, np.ones(shape), shape), expected, strict=True):
        want = want if isinstance(want, tuple) else (want,)
        assert len(got) == len(want)
        for array, value in zip(got, want, strict=True):
            assert np.shape(array) == shape
            np.testing.assert_allclose(array, value, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", CASES)
def test_rules_are_pure(name):
    w, grad = np.ones((2, 2)), np.full((2, 2), G1)
    state = tuple(np.full((2, 2), 0.3) for _ in ll.OPTIMIZERS[name].state)
    copies = [a.copy() for a in (w, grad, *state)]
    CASES[name][0](w, grad, state, 1)
    for before, after in zip(copies, (w, grad, *state), strict=True):
        np.testing.assert_array_equal(before, after)


def test_every_registered_rule_has_its_hand_computed_case():
    assert set(CASES) == set(ll.OPTIMIZERS)


def test_registry_lists_the_seeds_methods_with_its_defaults():
    assert ll.SEED_METHODS == ("SGD", "SGD-Momentum", "Nesterov-SGD", "RMSProp", "Adam")
    assert "AdaGrad" in ll.OPTIMIZERS and "AdaGrad" not in ll.SEED_METHODS
    assert ll.OPTIMIZERS["AdaGrad"].defaults == {"eps": 0.1}
    assert ll.OPTIMIZERS["RMSProp"].defaults == {"rho": 0.9, "eps": 0.1}
    assert ll.OPTIMIZERS["Adam"].defaults == {"beta1": 0.9, "beta2": 0.999, "eps": 0.1}
    assert ll.OPTIMIZERS["Adam"].hyperparameters(eps=1e-8)["eps"] == 1e-8


@pytest.mark.parametrize(
    ("name", "overrides", "message"),
    [
        ("SGD", {"rho": 0.5}, "SGD has no hyperparameter rho; allowed: none"),
        ("Adam", {"beta3": 0.5}, "allowed: beta1, beta2, eps"),
        ("SGD-Momentum", {"rho": 1.0}, r"rho must be a number in \[0, 1\), got 1.0"),
        ("RMSProp", {"eps": 0.0}, "eps must be a positive finite number, got 0.0"),
        ("Adam", {"beta2": "high"}, "beta2 must be a number, got 'high'"),
    ],
)
def test_bad_hyperparameters_are_named(name, overrides, message):
    with pytest.raises(ValueError, match=message):
        ll.OPTIMIZERS[name].hyperparameters(**overrides)


@pytest.mark.parametrize("name", list(ll.OPTIMIZERS))
def test_registry_entries_match_their_step_signatures(name):
    optimizer = ll.OPTIMIZERS[name]
    parameters = list(inspect.signature(optimizer.step).parameters)
    count = ["t"] if optimizer.counts_steps else []
    assert parameters == ["w", "grad", *optimizer.state, *count, "lr", *optimizer.hyper]
