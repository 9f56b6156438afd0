"""Probing a rule by direct calls, as a tutor would: what its path alone cannot name (fast).

For every graded rule, a student version for each probe that applies (each hyperparameter
typed in, an in-place update, a list returned, float32, the arrays in another order, Adam's
``t`` off by one) is named with its id and message, called directly and through its own
sandbox; correct rules in many styles give nothing. The last part checks the probes where
students meet them: the checks their test cells call, and the class report.
"""

import inspect
import re

import numpy as np
import pytest

from losslandscape import grading, optimizers
from losslandscape.grading import probes, report
from losslandscape.grading.sandbox import Budget, RuleProxy

from .student_rules import CORRECT_OTHERWISE, CORRECT_STYLES, OTHER_STATE_FORM, answer_cell

RULES = list(grading.RULES)

# --- Student versions, written as answer cells ---------------------------------------

BODIES = {
    "sgd_step": (["w_new = w - lr * grad"], ["w_new"]),
    "momentum_step": (
        ["velocity = rho * velocity + grad", "w_new = w - lr * velocity"],
        ["w_new", "velocity"],
    ),
    "nesterov_step": (
        [
            "new_velocity = rho * velocity - lr * grad",
            "w_new = w + new_velocity + rho * (new_velocity - velocity)",
        ],
        ["w_new", "new_velocity"],
    ),
    "rmsprop_step": (
        [
            "sq_avg = rho * sq_avg + (1 - rho) * grad * grad",
            "w_new = w - lr * grad / (np.sqrt(sq_avg) + eps)",
        ],
        ["w_new", "sq_avg"],
    ),
    "adam_step": (
        [
            "m = beta1 * m + (1 - beta1) * grad",
            "v = beta2 * v + (1 - beta2) * grad * grad",
            "m_hat = m / (1 - beta1**t)",
            "v_hat = v / (1 - beta2**t)",
            "w_new = w - lr * m_hat / (np.sqrt(v_hat) + eps)",
        ],
        ["w_new", "m", "v"],
    ),
}
"""Each rule as a student writes it: its lines, then the names it returns."""

IN_PLACE = {
    "sgd_step": (["w -= lr * grad"], ["w"], ["w"]),
    "momentum_step": (
        ["velocity *= rho", "velocity += grad", "w -= lr * velocity"],
        ["w", "velocity"],
        ["w", "velocity"],
    ),
    "nesterov_step": (
        [
            "old = velocity.copy()",
            "velocity *= rho",
            "velocity -= lr * grad",
            "w += velocity + rho * (velocity - old)",
        ],
        ["w", "velocity"],
        ["w", "velocity"],
    ),
    "rmsprop_step": (
        [
            "sq_avg *= rho",
            "sq_avg += (1 - rho) * grad * grad",
            "w_new = w - lr * grad / (np.sqrt(sq_avg) + eps)",
        ],
        ["w_new", "sq_avg"],
        ["sq_avg"],
    ),
    "adam_step": (
        [
            "m *= beta1",
            "m += (1 - beta1) * grad",
            "v *= beta2",
            "v += (1 - beta2) * grad * grad",
            "np.subtract(w, lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), out=w)",
        ],
        ["w", "m", "v"],
        ["w", "m", "v"],
    ),
}
"""Each rule updated in place, right in value: its lines, what it returns, what it changes."""


def optimizer(rule):
    return optimizers.OPTIMIZERS[grading.RULES[rule]]


def source(rule, lines, returned, before=(), returns=None):
    """An answer cell defining ``rule``: ``before``, ``lines``, then the return statement."""
    parameters = ", ".join(inspect.signature(optimizer(rule).step).parameters)
    statement = returns if returns is not None else f"return {', '.join(returned)}"
    body = [*before, *lines, *([statement] if statement else [])]
    return f"def {rule}({parameters}):\n" + "".join(f"    {line}\n" for line in body)


def labels(rule):
    return ["w_new", *(f"{name}_new" for name in optimizer(rule).state)]


def the(names):
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def ignored(key):
    return (
        f"it ignores {key}: the result is the same whatever {key} it is given; "
        f"use the argument {key}, not a number of your own"
    )


def in_place(names):
    first = names[0]
    op = "-" if first == "w" else "*"
    return (
        f"it changes the caller's {the(names)} in place: assign new arrays ({first} = {first} "
        f"{op} ... makes one, {first} {op}= ... changes the caller's), or work on a copy "
        f"({first} = {first}.copy())"
    )


ADAM_T = "(m / (1 - beta1^t), v / (1 - beta2^t))"


def students():
    """``(label, rule, answer cell, id, explanation)`` for every probe that applies."""
    cases = []
    for rule in RULES:
        prefix = rule.removesuffix("_step")
        lines, returned = BODIES[rule]
        hyper = {"lr": 0.01, **optimizer(rule).defaults}
        for key, value in hyper.items():
            cases.append(
                (
                    f"{prefix} {key} typed in",
                    rule,
                    source(rule, lines, returned, before=[f"{key} = {value!r}"]),
                    f"{prefix}-hyperparameter-ignored:{key}",
                    ignored(key),
                )
            )
        place_lines, place_returned, changed = IN_PLACE[rule]
        cases.append(
            (
                f"{prefix} in place",
                rule,
                source(rule, place_lines, place_returned),
                f"{prefix}-inputs-changed",
                in_place(changed),
            )
        )
        if optimizer(rule).state:
            as_list = f"return [{', '.join(returned)}]"
            said = f"it returns a list: return a tuple, as return {', '.join(labels(rule))} does"
        else:
            as_list = "return w_new.tolist()"
            said = (
                "it returns a list: return the NumPy array that array arithmetic gives "
                "(w - lr * grad)"
            )
        cases.append(
            (f"{prefix} a list", rule, source(rule, lines, returned, returns=as_list),
             f"{prefix}-returns-list", said)
        )  # fmt: skip
        as_float32 = [f"{returned[0]}.astype(np.float32)", *returned[1:]]
        cases.append(
            (
                f"{prefix} float32",
                rule,
                source(rule, lines, as_float32),
                f"{prefix}-float32",
                "it returns float32 arrays, which keep about 6 significant digits where the "
                "grader compares 8: keep the float64 it is given (drop the conversion to "
                "float32)",
            )
        )
        orders = [order for order in _orders(len(returned))]
        for order in orders[:2]:  # Adam: two of its five wrong orders
            shuffled = [returned[i] for i in order]
            said_order = ", ".join(labels(rule)[i] for i in order)
            cases.append(
                (
                    f"{prefix} returns ({', '.join(shuffled)})",
                    rule,
                    source(rule, lines, shuffled),
                    f"{prefix}-wrong-return-order",
                    f"it returns ({said_order}): return ({', '.join(labels(rule))}), in that order",
                )
            )
        if optimizer(rule).counts_steps:
            for sign in "+-":
                cases.append(
                    (
                        f"{prefix} t {sign} 1",
                        rule,
                        source(rule, lines, returned, before=[f"t = t {sign} 1"]),
                        f"{prefix}-t-off-by-one",
                        f"it uses t {sign} 1 where t belongs: t counts this step already, "
                        f"from 1, so use it as given {ADAM_T}",
                    )
                )
    return cases


def _orders(n):
    import itertools

    return [order for order in itertools.permutations(range(n)) if order != tuple(range(n))]


STUDENTS = students()
IDS = [label for label, *_ in STUDENTS]


def defined(rule, text):
    namespace = {"np": np}
    exec(text, namespace)
    return namespace[rule]


def sandboxed(rule, text):
    """The rule as the grader meets a student's: its source, run in its own sandbox."""
    return RuleProxy(rule, text, (Budget(60.0), Budget(600.0)))


def found(step, rule):
    return [(finding.id, finding.explanation) for finding in probes.probe(step, rule)]


def test_every_rule_has_every_probe_that_applies():
    for rule in RULES:
        prefix = rule.removesuffix("_step")
        ids = {case[3] for case in STUDENTS if case[1] == rule}
        expected = {f"{prefix}-{kind}" for kind in ("inputs-changed", "returns-list", "float32")}
        expected |= {
            f"{prefix}-hyperparameter-ignored:{key}" for key in ("lr", *optimizer(rule).hyper)
        }
        if optimizer(rule).state:
            expected.add(f"{prefix}-wrong-return-order")
        if optimizer(rule).counts_steps:
            expected.add(f"{prefix}-t-off-by-one")
        assert ids == expected


# --- Each mistake, named --------------------------------------------------------------


@pytest.mark.parametrize(("label", "rule", "text", "id", "explanation"), STUDENTS, ids=IDS)
def test_each_probe_names_what_the_student_did_called_directly(label, rule, text, id, explanation):
    assert found(defined(rule, text), rule) == [(id, explanation)]


@pytest.mark.parametrize(("label", "rule", "text", "id", "explanation"), STUDENTS, ids=IDS)
def test_each_probe_names_what_the_student_did_in_the_sandbox(label, rule, text, id, explanation):
    proxy = sandboxed(rule, text)
    try:
        assert found(proxy, rule) == [(id, explanation)]
    finally:
        proxy.close()


def test_a_message_is_the_rule_then_what_its_code_did_and_the_fix():
    (finding,) = probes.probe(defined("adam_step", STUDENTS[IDS.index("adam t + 1")][2]), "Adam")
    assert finding.rule == "adam_step"
    assert finding.message == (
        "adam_step: it uses t + 1 where t belongs: t counts this step already, from 1, so use "
        f"it as given {ADAM_T}"
    )


def test_several_hyperparameters_typed_in_are_named_together():
    lines, returned = BODIES["adam_step"]
    text = source("adam_step", lines, returned, before=["beta1, beta2, eps = 0.9, 0.999, 1e-8"])
    assert found(defined("adam_step", text), "adam_step") == [
        (
            "adam-hyperparameter-ignored:beta1,beta2,eps",
            "it ignores beta1, beta2 and eps: the result is the same whatever values they are "
            "given; use the arguments, not numbers of your own",
        )
    ]


def test_a_state_left_out_keeps_its_hyperparameters_from_being_blamed():
    def momentum_step(w, grad, velocity, lr, rho):
        velocity = grad  # the velocity forgotten, and rho with it
        return w - lr * velocity, velocity

    def adam_step(w, grad, m, v, t, lr, beta1, beta2, eps):
        beta2 = 0.999
        m = (1 - beta1) * grad  # the running mean forgotten
        v = beta2 * v + (1 - beta2) * grad * grad
        return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v

    assert found(momentum_step, "momentum_step") == []
    assert found(adam_step, "adam_step") == []


def test_two_findings_come_most_telling_first():
    text = source(
        "momentum_step",
        ["velocity *= 0.9", "velocity += grad", "w_new = w - lr * velocity"],
        ["velocity", "w_new"],
    )
    assert [id for id, _ in found(defined("momentum_step", text), "momentum_step")] == [
        "momentum-wrong-return-order",
        "momentum-hyperparameter-ignored:rho",
        "momentum-inputs-changed",
    ]


@pytest.mark.parametrize(
    ("text", "id", "explanation"),
    [
        (
            "def adam_step(w, grad, m, v, t, lr, beta1, beta2, eps):\n    raise NotImplementedError('soon')\n",
            "adam-raises",
            "it raises NotImplementedError when called with arrays of shape (2, 3): call it on "
            "such arrays yourself to find the line that raises",
        ),
        (
            "def sgd_step(w, grad, lr):\n    w_new = w - lr * grad\n",
            "sgd-returns-none",
            "it returns None: end it with return w_new",
        ),
        (
            "def momentum_step(w, grad, velocity, lr, rho):\n    return w - lr * (rho * velocity + grad)\n",
            "momentum-wrong-return-count",
            "it returns a single array: return the tuple w_new, velocity_new",
        ),
        (
            "def rmsprop_step(w, grad, sq_avg, lr, rho, eps):\n    return w.ravel(), sq_avg\n",
            "rmsprop-wrong-shape",
            "it returns w_new of shape (6,) for weights of shape (2, 3): the rule works "
            "elementwise, so each array keeps the weights' shape",
        ),
        (
            "def adam_step(w, grad, m, v, t, lr, beta1, beta2, eps):\n    return 'w', m, v\n",
            "adam-wrong-return-type",
            "it returns an object of type str where NumPy arrays belong: return a tuple of "
            "NumPy arrays (w_new, m_new, v_new)",
        ),
        (
            "def adam_step(w, grad, m, v, t, lr, beta1, beta2, eps):\n"
            "    m = beta1 * m + (1 - beta1) * grad\n"
            "    v = beta2 * v + (1 - beta2) * grad * grad\n"
            "    m_hat = m / (1 - beta1)\n"
            "    v_hat = v / (1 - beta2)\n"
            "    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v\n",
            "adam-t-ignored",
            f"it ignores t: the result is the same whatever t it is given; use this step's t {ADAM_T}",
        ),
        (
            "def sgd_step(w, grad, lr):\n    return -lr * grad\n",
            "sgd-w-ignored",
            "it ignores w: the result is the same whatever weights it is given; the new "
            "weights are w moved by the step, not the step alone",
        ),
    ],
    ids=[
        "raises",
        "returns None",
        "one array for two",
        "wrong shape",
        "a string",
        "t ignored",
        "w ignored",
    ],
)
def test_what_it_returns_or_raises_is_named_directly_and_in_the_sandbox(text, id, explanation):
    rule = re.match(r"def (\w+)\(", text).group(1)
    assert found(defined(rule, text), rule) == [(id, explanation)]
    proxy = sandboxed(rule, text)
    try:
        assert found(proxy, rule) == [(id, explanation)]
    finally:
        proxy.close()


# --- Correct rules: nothing --------------------------------------------------------------


CORRECT = [
    (rule, step)
    for rule in RULES
    for step in (
        optimizer(rule).step,
        *CORRECT_OTHERWISE[rule],
        *CORRECT_STYLES[rule],
    )
]
CORRECT_IDS = [f"{rule}-{step.__name__}" for rule, step in CORRECT]


def test_the_correct_styles_are_many_and_other_state_forms_are_among_the_correct():
    assert sum(map(len, CORRECT_STYLES.values())) >= 13
    assert all(any(step is s for _, s in CORRECT) for step in OTHER_STATE_FORM)


@pytest.mark.parametrize(("rule", "step"), CORRECT, ids=CORRECT_IDS)
def test_correct_rules_in_any_style_give_no_finding_directly_or_in_the_sandbox(rule, step):
    assert probes.probe(step, rule) == []
    assert probes.inputs_changed(step, rule, probes.probe_arguments(rule)) is None
    proxy = sandboxed(rule, answer_cell(step, rule))
    try:
        assert probes.probe(proxy, rule) == []
        assert probes.inputs_changed(proxy, rule, probes.probe_arguments(rule)) is None
    finally:
        proxy.close()


@pytest.mark.parametrize("rule", RULES)
def test_correct_styles_pass_every_check_and_leave_nothing_on_record(rule):
    with grading.recording() as record:
        for step in CORRECT_STYLES[rule]:
            grading.check_steps(step, rule, lr=0.5)
            grading.check_hidden_steps(step, rule)
            grading.check_trajectory(step, rule, epochs=5)
            grading.check_hidden_trajectories(step, rule)
    assert record == {}


def test_a_rule_that_cannot_be_called_gives_nothing():
    proxy = RuleProxy(
        "sgd_step", "x = 1\n", (Budget(60.0), Budget(600.0)), unavailable="not defined"
    )
    assert probes.probe(proxy, "sgd_step") == []
    assert probes.inputs_changed(proxy, "sgd_step", probes.probe_arguments("sgd_step")) is None


# --- Where students meet them -----------------------------------------------------------


def flat(text):
    return " ".join(text.split())


def _raised(check, *args, **kwargs):
    with pytest.raises(AssertionError) as failure:
        check(*args, **kwargs)
    return flat(str(failure.value))


IN_PLACE_CASES = [case for case in STUDENTS if case[0].endswith(" in place")]


@pytest.mark.parametrize(
    ("label", "rule", "text", "id", "explanation"),
    IN_PLACE_CASES,
    ids=[case[0] for case in IN_PLACE_CASES],
)
def test_a_rule_that_changes_its_inputs_loses_the_steps_tests_whatever_its_path(
    label, rule, text, id, explanation
):
    for step in (defined(rule, text), sandboxed(rule, text)):
        try:
            with grading.recording() as record:
                visible = _raised(grading.check_steps, step, rule, lr=0.5)
                hidden = _raised(grading.check_hidden_steps, step, rule)
                grading.check_trajectory(step, rule, epochs=5)  # its path is right
                grading.check_hidden_trajectories(step, rule)
        finally:
            if isinstance(step, RuleProxy):
                step.close()
        assert visible == f"{rule}: {explanation}"
        assert hidden == f"{rule} fails a hidden test: {explanation}"
        assert record[rule].diagnosis == id
        assert record[rule].message == f"{rule}: {explanation}"
        assert record[rule].first_divergent_epoch is None


def test_a_state_scaled_in_place_from_zero_is_caught_too():
    def momentum_step(w, grad, velocity, lr, rho):
        velocity *= rho  # the caller's velocity, scaled; zeros stay zeros
        velocity = velocity + grad
        return w - lr * velocity, velocity

    said = f"momentum_step: {in_place(['velocity'])}"
    assert [f.message for f in probes.probe(momentum_step, "momentum_step")] == [said]
    assert _raised(grading.check_steps, momentum_step, "momentum_step", lr=0.5) == said


def test_the_steps_test_is_recorded_when_a_visible_assertion_failed_first():
    # The released sgd_step test asserts its w is left alone before check_hidden_steps
    # runs; the hidden trajectories, which pass, record why for the class report.
    (case,) = [case for case in IN_PLACE_CASES if case[1] == "sgd_step"]
    with grading.recording() as record:
        grading.check_hidden_trajectories(defined("sgd_step", case[2]), "sgd_step")
    assert record["sgd_step"].diagnosis == "sgd-inputs-changed"


def rho_typed_in(w, grad, velocity, lr, rho):
    velocity = 0.9 * velocity + grad  # right on the visible run only
    return w - lr * velocity, velocity


def adam_t_ahead(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1 ** (t + 1))
    v_hat = v / (1 - beta2 ** (t + 1))
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def test_a_path_no_common_mistake_explains_is_named_by_the_probes_in_the_hidden_test():
    with grading.recording() as record:
        grading.check_trajectory(rho_typed_in, "momentum_step", epochs=5)  # the default rho
        hidden = _raised(grading.check_hidden_trajectories, rho_typed_in, "momentum_step")
    explanation = ignored("rho")
    assert re.fullmatch(
        rf"momentum_step: {re.escape(explanation)}; a hidden test shows it from epoch \d+", hidden
    ), hidden
    # the visible tests pass it, so the message sends the student nowhere
    assert "self_check" not in hidden and "visible" not in hidden
    finding = record["momentum_step"]
    assert finding.diagnosis == "momentum-hyperparameter-ignored:rho"
    assert re.fullmatch(
        rf"momentum_step: {re.escape(explanation)}; it shows from epoch \d+", finding.message
    )
    numbers = set(re.findall(r"\d+(?:\.\d+)?", hidden))
    assert numbers <= set(re.findall(r"\d+", hidden.split("from epoch")[1])), hidden


def adam_beta2_typed_in(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = 0.99 * v + (1 - 0.99) * grad * grad
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - 0.99**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def test_a_path_no_common_mistake_explains_is_named_by_the_probes_in_the_visible_test(capsys):
    explanation = ignored("beta2")
    with grading.recording() as record:
        visible = _raised(grading.check_trajectory, adam_beta2_typed_in, "adam_step", epochs=5)
    assert re.fullmatch(
        rf"adam_step: {re.escape(explanation)}; from epoch \d+ your weights are \(\S+ \S+\), "
        r"the reference's \(\S+ \S+\)",
        visible,
    ), visible
    assert record["adam_step"].diagnosis == "adam-hyperparameter-ignored:beta2"
    grading.self_check(adam_beta2_typed_in, "adam_step")
    assert flat(capsys.readouterr().out).startswith(f"adam_step: {explanation}; from epoch ")


def test_t_off_by_one_is_named_by_the_catalogue_in_the_probes_words():
    explanation = (
        f"it uses t + 1 where t belongs: t counts this step already, from 1, so use it as given "
        f"{ADAM_T}"
    )
    with grading.recording() as record:
        visible = _raised(grading.check_trajectory, adam_t_ahead, "adam_step", epochs=5)
    assert flat(visible).startswith(f"adam_step: {explanation}; from epoch 1 your weights are")
    assert record["adam_step"].diagnosis == "adam-t-plus-one"
    assert probes.probe(adam_t_ahead, "adam_step")[0].explanation == explanation


def test_other_findings_follow_on_lines_of_their_own():
    def momentum_step(w, grad, velocity, lr, rho):
        velocity *= 0.5
        velocity += grad
        return w - lr * velocity, velocity

    with pytest.raises(AssertionError) as failure:
        grading.check_trajectory(momentum_step, "momentum_step", epochs=5)
    first, second = str(failure.value).split("\nAlso, ")
    assert flat(first).startswith(f"momentum_step: {ignored('rho')}; from epoch ")
    assert flat(second) == f"{in_place(['velocity'])}."


def test_a_path_the_probes_cannot_explain_stays_unknown():
    def sgd_step(w, grad, lr):
        return w - lr * grad * (1 + 1e-6)

    with grading.recording() as record:
        message = _raised(grading.check_trajectory, sgd_step, "sgd_step")
    assert "though not by a common mistake" in message
    assert record["sgd_step"].diagnosis == "unknown"


# --- In the class report ----------------------------------------------------------------


@pytest.mark.parametrize(("label", "rule", "text", "id", "explanation"), STUDENTS, ids=IDS)
def test_the_class_report_reads_every_probe_id(label, rule, text, id, explanation):
    meaning = report.meaning(id)
    assert meaning != f"{id[:1].upper()}{id[1:]}."  # not the id itself
    assert meaning.startswith("It ")
    if "hyperparameter-ignored" in id or id.endswith("float32"):
        # what says no more than the id: the student's own words, as a sentence
        assert meaning == f"{explanation[:1].upper()}{explanation[1:]}."


def test_the_class_report_reads_the_generic_probe_ids():
    assert report.meaning("adam-t-off-by-one") == (
        f"It uses t + 1 or t - 1 where t belongs: t counts this step already, from 1 {ADAM_T}."
    )
    assert report.meaning("rmsprop-inputs-changed").startswith(
        "It changes the arrays it is given in place"
    )
    assert report.meaning("momentum-hyperparameter-ignored:beta1") == (
        "Momentum-hyperparameter-ignored:beta1."  # momentum has no beta1: not a probe's id
    )
