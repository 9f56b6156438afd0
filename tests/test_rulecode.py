"""Each rule's maths, its twin's JavaScript and its kernel code are read from its step."""

import re

import numpy as np
import pytest

import losslandscape as ll
from losslandscape import rulecode


def test_equations_index_every_quantity_by_the_step():
    assert ll.OPTIMIZERS["Nesterov-SGD"].equations() == (
        "\\begin{aligned}\n"
        "v_{t} &= \\rho\\, v_{t-1} - \\eta\\, g_{t} \\\\\n"
        "w_{t} &= w_{t-1} + v_{t} + \\rho\\, \\left(v_{t} - v_{t-1}\\right)\n"
        "\\end{aligned}"
    )
    adam = ll.OPTIMIZERS["Adam"].equations()
    assert "\\hat{m}_{t} &= \\frac{m_{t}}{1 - \\beta_{1}^{t}}" in adam
    assert (
        "w_{t} &= w_{t-1} - \\frac{\\eta\\, \\hat{m}_{t}}{\\sqrt{\\hat{v}_{t}} + \\epsilon}" in adam
    )
    # A name times itself is its square; numbers and brackets as a reader writes them.
    assert "\\left(1 - \\rho\\right)\\, g_{t}^{2}" in ll.OPTIMIZERS["RMSProp"].equations()


def test_equations_display_as_maths_in_jupyter_and_the_book():
    latex = ll.OPTIMIZERS["SGD"].equations()._repr_latex_()
    assert latex == "$$\n\\begin{aligned}\nw_{t} &= w_{t-1} - \\eta\\, g_{t}\n\\end{aligned}\n$$"


@pytest.mark.parametrize("step", [ll.sgd_step, ll.momentum_step, ll.adam_step, ll.rmsprop_step])
def test_docstrings_carry_the_equations_of_their_own_code(step):
    assert rulecode.equations(step) in step.__doc__.replace("\n    ", "\n")
    assert re.search(r"^Args:\n    w: ", step.__doc__, re.M) and "Returns:" in step.__doc__


def test_kernel_source_is_the_step_without_its_decorator():
    source = rulecode.kernel_source(ll.adam_step)
    assert source.startswith("def adam_step(w, grad, m, v, t, lr, beta1, beta2, eps):")
    namespace = {"np": np}
    exec(source, namespace)
    args = (np.array([1.0]), np.array([2.0]), np.zeros(1), np.zeros(1), 1, 0.1, 0.9, 0.999, 0.1)
    assert np.array_equal(namespace["adam_step"](*args)[0], ll.adam_step(*args)[0])


def in_loop(w, grad, lr):
    for _ in range(3):
        w = w - lr * grad
    return w


def with_attribute(w, grad, lr):
    return w - lr * grad.T


def with_global(w, grad, lr):
    return w - lr * grad * SCALE  # noqa: F821 (the point: a name the rule does not define)


def no_lr(w, grad, rate):
    return w - rate * grad


def with_default(w, grad, lr=0.1):
    return w - lr * grad


def reserved(w, grad, lr, new):
    return w - lr * grad * new


@pytest.mark.parametrize(
    "step, message",
    [
        (in_loop, "in_loop: cannot read 'for _ in range(3):' (line 2 of the function); "
         "a rule may use only assignments to one name and a return"),
        (with_attribute, "with_attribute: cannot read 'grad.T' (line 2 of the function); "
         "a rule may use + - * / **, unary minus, numbers and np.sqrt, np.exp, np.abs, "
         "np.maximum, np.minimum (with positional arguments)"),
        (with_global, "with_global: cannot read 'SCALE' (line 2 of the function); "
         "a rule may use names it defines itself, not 'SCALE'"),
        (no_lr, "no_lr('w', 'grad', 'rate'): a rule's arguments are (w, grad, *state, [t,] lr, "
         "*hyperparameters)"),
        (with_default, "with_default: a rule takes plain positional arguments, without defaults"),
        (reserved, "reserved: cannot read 'def reserved(w, grad, lr, new):' (line 1 of the "
         "function); a rule may use names other than 'new', which is reserved"),
        (lambda w, grad, lr: w - lr * grad, "<lambda>: a rule must be a def statement"),
        (np.sqrt, "sqrt: its source cannot be read"),
    ],
)  # fmt: skip
def test_a_rule_it_cannot_read_is_refused_with_what_is_allowed(step, message):
    with pytest.raises(rulecode.RuleCodeError) as caught:
        rulecode.read(step)
    assert str(caught.value).startswith(message)


def test_register_refuses_what_the_twin_could_not_run_and_a_signature_it_contradicts():
    with pytest.raises(rulecode.RuleCodeError, match="in_loop: cannot read"):
        ll.register(ll.Optimizer("Looped", in_loop))
    momentum = ll.Optimizer("Mislabelled", ll.momentum_step, {}, state=("velocity",))
    with pytest.raises(ValueError, match=r"momentum_step's signature has state \('velocity',\)"):
        ll.register(momentum)
    with pytest.raises(ValueError, match="'SGD' is registered already"):
        ll.register(ll.OPTIMIZERS["SGD"])
    with pytest.raises(ValueError, match="'SGD' was not added by register"):
        ll.unregister("SGD")
    assert "Looped" not in ll.OPTIMIZERS and "Mislabelled" not in ll.OPTIMIZERS
