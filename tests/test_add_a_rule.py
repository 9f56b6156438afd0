"""A new rule is one registry entry: AMSGrad, registered here at test time and written
nowhere else, trains compiled and in NumPy, runs in the book's twin (Node and Chromium),
draws, and is graded through the sandbox, all equal to 1e-9.

CONTRIBUTING.md walks through the same steps for a rule that stays.
"""

import contextlib
import dataclasses
import functools
import http.server
import threading

import numpy as np
import pytest

import losslandscape as ll
from losslandscape import _kernel, grading, plotting, rulecode, twin
from losslandscape.grading.sandbox import Budget, RuleProxy
from tests.browser import Page, QuietHandler

from . import node_twin


def amsgrad_step(w, grad, m, v, v_max, t, lr, beta1, beta2, eps):
    """AMSGrad (Reddi et al., 2018) as PyTorch writes it: Adam on the largest v so far."""
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    v_max = np.maximum(v_max, v)
    m_hat = m / (1 - beta1**t)
    v_max_hat = v_max / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_max_hat) + eps), m, v, v_max


AMSGRAD = ll.Optimizer(
    "AMSGrad",
    amsgrad_step,
    {
        "beta1": ll.Hyperparameter(0.9, (0.0, 0.99)),
        "beta2": ll.Hyperparameter(0.999, (0.0, 0.9999)),
        "eps": ll.Hyperparameter(0.1, (1e-8, 1.0), positive=True),
    },
    style=ll.Style("#882255", "dash", "hexagon", "diamond-open"),
    assignment=ll.Exercise("amsgrad_step", diagnostic_lr=0.5, hidden_lrs=(0.1, 3.0)),
)
# Hyperparameters where AMSGrad's path leaves Adam's: v shrinks once the gradient does.
APART = {"beta1": 0.5, "beta2": 0.9, "eps": 1e-3}
SETTINGS = [
    {"lr": ll.SEED_LR, "start": list(ll.SEED_START), "epochs": 300},
    {"lr": 0.5, "start": [3.0, -4.0], "epochs": 400, "hyperparameters": APART},
]


@pytest.fixture(scope="module")
def amsgrad():
    ll.register(AMSGRAD)
    yield ll.OPTIMIZERS["AMSGrad"]
    ll.unregister("AMSGrad")


def python_run(landscape, setting):
    return node_twin.library_run(landscape, {"method": "AMSGrad", **setting})


def by_hand(landscape, setting):
    """The rule's own step, called on the weights one epoch at a time."""
    hyper = {**AMSGRAD.defaults, **setting.get("hyperparameters", {})}
    w, state = np.array(setting["start"], dtype=float), [np.zeros(2)] * 3
    path = [w]
    for t in range(1, setting["epochs"] + 1):
        _, (grad,) = landscape.cost_and_gradient(w[None])
        w, *state = amsgrad_step(w, grad, *state, t, setting["lr"], *hyper.values())
        path.append(w)
    return np.array(path)


def test_it_trains_compiled_as_its_step_says(amsgrad, landscape):
    assert _kernel.loop_for(amsgrad) is not None  # compiled from the entry alone
    assert amsgrad.state == ("m", "v", "v_max") and amsgrad.counts_steps
    for setting in SETTINGS:
        run = python_run(landscape, setting)
        np.testing.assert_allclose(run.weights, by_hand(landscape, setting), rtol=1e-9, atol=1e-9)
    adam = ll.train(landscape, ["Adam"], lrs=[0.5], starts=[(3.0, -4.0)], epochs=400,
                    hyperparameters={"Adam": APART})[0]  # fmt: skip
    assert np.abs(python_run(landscape, SETTINGS[1]).weights - adam.weights).max() > 1e-3


def test_its_maths_is_written_from_its_code(amsgrad):
    equations = amsgrad.equations()
    assert "v^{\\max}_{t} &= \\max\\left(v^{\\max}_{t-1}, v_{t}\\right)" in equations
    assert "\\sqrt{\\hat{v^{\\max}}_{t}} + \\epsilon" in equations


def test_it_draws_in_its_own_style(amsgrad, landscape):
    runs = ll.train(landscape, ["Adam", "AMSGrad"], epochs=50)
    figure = plotting.trajectory_figure(
        plotting.Surface.of(landscape, ll.SEED_W_A, ll.SEED_W_B), runs
    )
    colours = {trace.name: trace.line.color for trace in figure.data if trace.type == "scatter"}
    assert colours["AMSGrad"] == "#882255" and colours["Adam"] == ll.OPTIMIZERS["Adam"].style.color


@pytest.fixture(scope="module")
def exported(amsgrad, tmp_path_factory, mnist):
    return node_twin.export(tmp_path_factory.mktemp("twin"), mnist)


def requests():
    return [
        {"method": "AMSGrad", "n": 100, **setting, "hyperparameters": s}
        for setting in SETTINGS
        for s in [setting.get("hyperparameters", {})]
    ]


def check_twin(results, landscape):
    for request, result in zip(requests(), results, strict=True):
        assert "error" not in result, result
        expected = python_run(landscape, request)
        np.testing.assert_allclose(result["weights"], expected.weights, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(result["costs"], expected.costs, rtol=1e-9, atol=1e-9)


def test_the_books_twin_runs_it_in_node(exported, landscape):
    assert "AMSGrad" in (exported / "losslandscape" / "rules.js").read_text()
    check_twin(node_twin.train(exported, requests()), landscape)


@pytest.mark.slow
def test_the_books_twin_runs_it_in_chromium(exported, landscape, browser):
    (exported / "index.html").write_text(
        "<!doctype html><script src='losslandscape/rules.js'></script>"
        "<script src='losslandscape.js'></script>"
    )
    handler = functools.partial(QuietHandler, directory=str(exported))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        page = Page(browser, f"http://127.0.0.1:{httpd.server_address[1]}/index.html")
        results = page.page.evaluate(
            "requests => Promise.all(requests.map(r => window.losslandscape.train(r)))",
            requests(),
        )
        httpd.shutdown()
    assert page.errors == []
    check_twin(results, landscape)


def test_its_live_panel_is_offered(amsgrad, mnist):
    assert "AMSGrad" in twin.registry(mnist)["methods"]
    assert "data-config=" in twin.panel_html(["AMSGrad", "Adam"], data=mnist, name="p")


AMSGRAD_SOURCE = rulecode.kernel_source(amsgrad_step)
WITHOUT_MAX = AMSGRAD_SOURCE.replace("v_max = np.maximum(v_max, v)", "v_max = v")


@contextlib.contextmanager
def sandboxed(source: str):
    """The rule as the grader meets a student's: its source, run in its own sandbox."""
    rule = RuleProxy("amsgrad_step", source, (Budget(60.0), Budget(600.0)))
    try:
        yield rule
    finally:
        rule.close()


def test_the_grader_grades_it_through_the_sandbox(amsgrad):
    assert grading.RULES["amsgrad_step"] == "AMSGrad"
    with sandboxed(AMSGRAD_SOURCE) as rule:
        grade(rule)


def grade(rule):
    grading.check_steps(rule, "amsgrad_step", lr=0.5)
    grading.check_trajectory(rule, "amsgrad_step", epochs=300)
    grading.check_trajectory(rule, "amsgrad_step", **{**SETTINGS[1], "start": (3.0, -4.0)})
    grading.check_hidden_steps(rule, "amsgrad_step")
    grading.check_hidden_trajectories(rule, "amsgrad_step")


def test_the_grader_fails_it_without_its_maximum(amsgrad):
    with sandboxed(WITHOUT_MAX) as wrong:  # Adam under another name
        fail(wrong)


def fail(wrong):
    with pytest.raises(AssertionError, match=r"^amsgrad_step: your path parts from the reference"):
        grading.check_trajectory(wrong, "amsgrad_step", **{**SETTINGS[1], "start": (3.0, -4.0)})
    with pytest.raises(AssertionError, match=r"(?s)^amsgrad_step: your path parts.+a hidden test"):
        grading.check_hidden_trajectories(wrong, "amsgrad_step")


def test_unregistered_it_is_gone_everywhere(mnist):
    extra = dataclasses.replace(AMSGRAD, name="AMSGrad-2")
    ll.register(extra)
    ll.unregister("AMSGrad-2")
    assert "AMSGrad-2" not in ll.OPTIMIZERS and "AMSGrad-2" not in twin.rules_script()
    assert "AMSGrad-2" not in twin.registry(mnist)["methods"]
