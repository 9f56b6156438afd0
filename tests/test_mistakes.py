"""The catalogue grown from mistake operators, hidden runs that can tell, and the mistakes
learners publish, graded as the notebook grades them (fast).

Every variant an operator makes of a reference rule must be named from its paths, on its
own and made together with another; every hidden run drawn must tell every variant from
the reference, the long one even when the mistake is made only after the visible run.
"""

import itertools
import re

import numpy as np
import pytest

from losslandscape import grading, optimizers
from losslandscape.grading import mistakes, probes, report, runs, settings
from losslandscape.grading.diagnosis import diagnose
from losslandscape.grading.mistakes import MISTAKES

from .student_rules import REAL_WORLD, adam_bias_correction_until_1000
from .test_diagnosis import reference_code


def runs_of(step, rule):
    """``step``'s path on the original run and on the hidden runs of this process."""
    return [
        (setting, grading.trajectory(step, rule, **setting))
        for setting in grading.hidden_trajectory_settings(rule)
    ]


def named(step, rule, runs):
    """The diagnosis of ``runs``, settled by calling ``step`` where the paths cannot tell."""
    found = diagnose(rule, runs)
    if found.verdict == "ambiguous":
        found = found.settled(probes.settle(step, rule, found.mistakes))
    return found


def kinds(rule):
    return {
        m.id.removeprefix(rule.removesuffix("_step") + "-") for m in mistakes.mistakes_for(rule)
    }


# --- The operators ---------------------------------------------------------------------


def test_every_rule_gets_every_operator_that_applies_to_it():
    every = {"ascent", "lr-squared", "no-lr"}
    assert kinds("sgd_step") == every
    assert kinds("momentum_step") == every | {"state-unchanged", "dampened"}
    assert every | {"state-unchanged", "dampened", "as-momentum", "sign-in-w-3"} <= kinds(
        "nesterov_step"
    )
    assert every | {
        "state-unchanged",
        "no-one-minus-rho",
        "eps-inside",
        "no-eps",
        "no-sqrt",
        "sign-in-sq-avg-1",
    } <= kinds("rmsprop_step")
    assert every | {
        "state-unchanged",
        "no-one-minus-beta1",
        "no-one-minus-beta2",
        "eps-inside",
        "no-eps",
        "no-sqrt",
        "t-plus-one",
        "t-minus-one",
        "no-bias-correction",
        "no-bias-correction-m",
        "no-bias-correction-v",
        "corrected-stored",
        "betas-swapped",
        "epsilon-hat",
    } <= kinds("adam_step")


def test_every_mistake_computes_something_of_its_own():
    for rule in grading.RULES:
        found = [
            mistakes.outputs(m.step, args)
            for m in mistakes.mistakes_for(rule)
            for args in mistakes.fingerprint_arguments(rule)[:1]
        ]
        reference = optimizers.OPTIMIZERS[grading.RULES[rule]].step
        found.append(mistakes.outputs(reference, mistakes.fingerprint_arguments(rule)[0]))
        for a, b in itertools.combinations(found, 2):
            assert not mistakes.same_outputs(a, b)


def test_explanations_give_the_fix_as_a_formula_and_never_the_courses_code():
    for mistake in MISTAKES:
        assert re.search(r"\(.*[-+*/^].*\)", mistake.explanation), mistake.explanation
        assert "np." not in mistake.explanation and "**" not in mistake.explanation
        assert not any(line in mistake.explanation for line in reference_code(mistake.rule))


def test_a_generated_mistake_is_the_rule_with_the_one_change():
    mistake = mistakes.find("rmsprop-no-one-minus-rho")
    w, grad, sq_avg = np.array([1.0]), np.array([2.0]), np.array([0.5])
    w_new, sq_new = mistake.step(w, grad, sq_avg, 0.1, 0.9, 1e-8)
    np.testing.assert_allclose(sq_new, 0.9 * 0.5 + 4.0)
    np.testing.assert_allclose(w_new, 1.0 - 0.1 * 2.0 / (np.sqrt(0.9 * 0.5 + 4.0) + 1e-8))
    stored = mistakes.find("adam-corrected-stored")
    _, m, v = stored.step(w, grad, np.zeros(1), np.zeros(1), 1, 0.1, 0.9, 0.999, 1e-8)
    np.testing.assert_allclose((m, v), ([2.0], [4.0]))  # corrected at t = 1: the gradient


# --- Named on its own and with one other -------------------------------------------------


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.id)
def test_every_mistake_is_named_on_its_own(mistake):
    found = named(mistake.step, mistake.rule, runs_of(mistake.step, mistake.rule))
    assert found.mistake is mistake, found.message()


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.id)
def test_the_visible_test_self_check_and_the_report_name_every_mistake_alike(mistake, capsys):
    rule = mistake.rule
    with grading.recording() as found, pytest.raises(AssertionError) as failure:
        grading.check_trajectory(mistake.step, rule)
    said = f"{rule}: {mistake.explanation}; "
    assert " ".join(str(failure.value).split()).startswith(said)
    grading.self_check(mistake.step, rule)
    assert " ".join(capsys.readouterr().out.split()).startswith(said)
    assert found[rule].diagnosis == mistake.id
    meaning = report.meaning(mistake.id)
    assert meaning.startswith(mistake.explanation[0].upper() + mistake.explanation[1:] + ".")
    assert meaning.endswith(mistake.convention)


def _partner(mistake):
    """A mistake made together with ``mistake``: the first pair of the catalogue with it."""
    prefix = mistake.rule.removesuffix("_step") + "-"
    kind = mistake.id.removeprefix(prefix)
    for pair in mistakes.pairs_for(mistake.rule):
        first, second = pair.id.split("+")
        if mistake.id in (first, prefix + second) and kind:
            return pair
    return None


@pytest.mark.parametrize("mistake", [m for m in MISTAKES if m.edits], ids=lambda m: m.id)
def test_every_mistake_made_with_another_is_named_as_both(mistake):
    pair = _partner(mistake)
    assert pair is not None, f"{mistake.id} is made with no other"
    found = named(pair.step, pair.rule, runs_of(pair.step, pair.rule))
    assert found.mistake is pair, found.message()
    assert mistake.explanation in found.message()


def test_late_mistakes_are_right_until_the_epoch_given():
    mistake = mistakes.find("sgd-ascent")
    step = mistakes.late(mistake, after=2)
    w, grad = np.array([1.0]), np.array([1.0])
    assert [float(step(w, grad, 0.5)[0]) for _ in range(4)] == [0.5, 0.5, 1.5, 1.5]


# --- Hidden runs that tell -----------------------------------------------------------------


@pytest.fixture(
    params=[11, pytest.param(12, marks=pytest.mark.slow), pytest.param(13, marks=pytest.mark.slow)]
)
def draw_seed(request, monkeypatch):
    """Another grading process's hidden settings (more of them in the slow tier)."""
    monkeypatch.setattr(settings, "DRAW_SEED", request.param)
    settings.hidden_trajectory_settings.cache_clear()
    yield request.param
    settings.hidden_trajectory_settings.cache_clear()


@pytest.mark.parametrize("rule", list(grading.RULES))
def test_the_hidden_runs_tell_every_mistake_the_long_one_even_after_the_visible_run(
    rule, draw_seed
):
    hidden = grading.hidden_trajectory_settings(rule)
    long_run = max(hidden[1:], key=lambda setting: setting["epochs"])
    visible = runs.job_setting(rule)["epochs"]
    assert long_run["epochs"] > visible
    for mistake in mistakes.mistakes_for(rule):
        assert any(
            grading.first_parting(
                grading.trajectory(mistake.step, rule, **s), grading.reference(rule, **s)
            )
            is not None
            for s in hidden[1:]
        ), mistake.id
    assert settings.untold(rule, long_run) == []


def test_adam_that_drops_its_bias_correction_after_the_visible_run_loses_the_hidden_points(
    draw_seed,
):
    grading.check_trajectory(adam_bias_correction_until_1000, "adam_step")  # visible: right
    with pytest.raises(AssertionError) as failure:
        grading.check_hidden_trajectories(adam_bias_correction_until_1000, "adam_step")
    message = " ".join(str(failure.value).split())
    explanation = mistakes.find("adam-no-bias-correction").explanation
    assert message.startswith(
        f"adam_step: from step 1001 on, {explanation}; a hidden test shows it from epoch 1001."
    )
    # the original run shows nothing, so the student is sent to other settings
    assert message.endswith(
        "and your rule follows the reference on the original notebook's run: try self_check "
        "with other settings (its arguments start, lr, epochs and hyperparameters)."
    )


def test_a_hidden_message_sends_the_student_to_self_check_where_it_shows_the_mistake(capsys):
    mistake = mistakes.find("adam-no-bias-correction")
    with pytest.raises(AssertionError) as failure:
        grading.check_hidden_trajectories(mistake.step, "adam_step")
    message = " ".join(str(failure.value).split())
    assert message.endswith("; self_check shows it on the original notebook's run.")
    grading.self_check(mistake.step, "adam_step")  # and it does
    assert " ".join(capsys.readouterr().out.split()).startswith(
        f"adam_step: {mistake.explanation}; from epoch"
    )


# --- Mistakes learners publish ----------------------------------------------------------


def graded_as_the_notebook_grades(step, rule):
    """The diagnosis recorded when the notebook's tests of ``rule`` run on ``step``."""
    checks = (
        lambda: grading.check_steps(step, rule, lr=0.1),
        lambda: grading.check_trajectory(step, rule, epochs=5),
        lambda: grading.check_hidden_steps(step, rule),
        lambda: grading.check_hidden_trajectories(step, rule),
    )
    failed = 0
    with grading.recording() as found:
        for check in checks:
            try:
                check()
            except AssertionError:
                failed += 1
    return found[rule].diagnosis if rule in found else "", failed


@pytest.mark.parametrize(
    ("step", "case"), REAL_WORLD.items(), ids=lambda v: getattr(v, "__name__", "")
)
def test_mistakes_learners_publish_are_named_by_the_notebooks_tests(step, case):
    rule, expected = case
    diagnosis, failed = graded_as_the_notebook_grades(step, rule)
    assert failed > 0
    assert diagnosis == expected
