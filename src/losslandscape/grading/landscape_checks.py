"""The landscape assignment's checks: the frozen network's outputs, cost, gradient and map.

Students write four functions of the two watched weights (see :mod:`.frozen_network`
for the reference answers). Each check calls the student's function on the original
notebook's data (visible) or on networks and images drawn once per grading process
(hidden), compares what it returns with the reference, and where they differ names the
mistake learners make there (:data:`MISTAKES`): the wrong axis averaged, a factor 2
missing or extra, the sigmoid's derivative written as ``sigmoid(z) * (1 - z)``,
broadcasting that silently sums, float32, a transposed result. The gradient is also
compared with central finite differences of the cost, computed here, so a student who
wrote the original notebook's gradient (half the true one) is told so. The map is
timed against the reference's own loop over grid points in the same process (in its
sandbox when nbgrader autogrades): it must be :data:`SPEEDUP` times as fast. What a
check finds is recorded for the class report, as for the update rules.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
from collections.abc import Callable

import numpy as np

from ..data import bundled_path, load_mnist
from ..landscape import SEED_W_A, SEED_W_B
from ..network import hidden_activations, init_weights
from . import _worker, frozen_network
from .findings import RANK_FAILURE, RANK_HIDDEN, RANK_VISIBLE, record
from .messages import failed
from .sandbox import GraderFault, RuleProxy, SandboxError, StudentError
from .settings import DRAW_SEED

PARTS = ("outputs", "cost", "gradient", "cost_map")
"""The functions students write, in the notebook's order."""
SPEEDUP = 10
"""How many times as fast as the loop over grid points the map must be. In the sandbox the
right maps of the fixtures are 26 to 73 times as fast, one that computes all ten outputs at
every grid point 4 times, loops and ``np.vectorize`` once."""
SPEED_ROUNDS = 3
"""The map and the loop are timed alternately this often; the fastest of each counts."""
TOLERANCE = {"outputs": 1e-12, "cost": 1e-12, "gradient": 1e-9, "cost_map": 1e-12}
"""Relative tolerance per part (the issue's 1e-12 for costs; a gradient summed in another
order may differ in its tenth digit where its terms cancel)."""
_ABSOLUTE = {"outputs": 1e-14, "cost": 0.0, "gradient": 1e-14, "cost_map": 0.0}
_SAME_MISTAKE = 1e-9
"""How close a student's result must be to a mistake's to be named by it."""
_FINITE_STEP = 1e-5
VISIBLE_POINTS = ((-9.0, 15.0), (0.0, 0.0), (12.5, -7.25))
"""Where the visible tests evaluate: the original notebook's start, the origin, another."""
GRID = "40\u00a0x\u00a040 grid"
"""The original notebook's grid in a message, kept on one line when wrapped."""
VISIBLE_GRID = (SEED_W_A[::8], SEED_W_B[::5])
"""5 x 8 points of the original notebook's grid; not square, so a transposed map shows."""


@functools.cache
def original_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(w2, hidden, onehot)`` of the original notebook: seed 135, its first 100 images.

    From the bundled data, whose first 6,309 images are MNIST's own, so the visible
    tests give the same numbers as ``load_mnist()`` and never wait for a download.
    """
    w0, w1, w2 = init_weights()
    data = load_mnist(bundled_path())
    arrays = (w2, hidden_activations(w0, w1, data.images[:100]), data.onehot[:100])
    for array in arrays:
        array.flags.writeable = False
    return arrays


def _reference(part: str) -> Callable:
    return getattr(frozen_network, part)


# --- the mistakes learners make -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Mistake:
    """A wrong version of a part: what it computes, and what to tell the student."""

    id: str
    part: str
    explanation: str
    """Completes "<part> ..." and says how to fix it; names no setting."""
    compute: Callable


def _sigmoid(z):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


# How the outputs go wrong, as functions of the reference's pre-activations (z) and
# of the watched weights; each makes a cost, gradient and map mistake too.
_OUTPUT_FORMS = {
    "weights-swapped": (
        "puts w_a at w2[5, 251] and w_b at w2[5, 250]: w_a is w2[5, 250]",
        lambda w_a, w_b, w2, hidden: _sigmoid(frozen_network.pre_activations(w_b, w_a, w2, hidden)),
    ),
    "no-sigmoid": (
        "leaves out the sigmoid: the outputs are sigmoid(w2 @ hidden), not w2 @ hidden",
        lambda w_a, w_b, w2, hidden: frozen_network.pre_activations(w_a, w_b, w2, hidden),
    ),
    "sigmoid-sign": (
        "takes 1 / (1 + exp(z)) for the sigmoid: it is 1 / (1 + exp(-z))",
        lambda w_a, w_b, w2, hidden: _sigmoid(
            -frozen_network.pre_activations(w_a, w_b, w2, hidden)
        ),
    ),
    "watched-not-set": (
        "ignores w_a and w_b: set w2[5, 250] = w_a and w2[5, 251] = w_b (in a copy of w2)",
        lambda w_a, w_b, w2, hidden: _sigmoid(w2 @ hidden),
    ),
}


def _cost_of(outputs_form, reduce):
    def compute(w_a, w_b, w2, hidden, onehot):
        return reduce((outputs_form(w_a, w_b, w2, hidden) - onehot.T) ** 2)

    return compute


def _the_cost(squares):
    return np.mean(np.sum(squares, axis=0))


# How the cost goes wrong, as a reduction of the (10, N) squared errors.
_COST_FORMS = {
    "mean-over-outputs": (
        "averages over the 10 outputs and sums over the images: the mean is over the wrong "
        "axis. Sum the squared errors over the outputs (axis 0 of the (10, N) array), "
        "then average over the images",
        lambda squares: np.mean(np.sum(squares, axis=1)),
    ),
    "mean-over-all": (
        "averages over all 10 N squared errors (np.mean of the whole array, as PyTorch's "
        "MSELoss does): that is the cost divided by 10. Sum over the 10 outputs, then "
        "average over the images",
        np.mean,
    ),
    "sum-over-images": (
        "sums over the images instead of averaging: divide by the number of images N",
        np.sum,
    ),
    "half": (
        "halves the squared error (the 1/2 some textbooks put in front so that the 2 of "
        "the derivative cancels); the original notebook's cost has no 1/2",
        lambda squares: _the_cost(squares) / 2,
    ),
}


def _true_gradient(w_a, w_b, w2, hidden, onehot, *, derivative=None, error=None):
    z = frozen_network.pre_activations(w_a, w_b, w2, hidden)[5]
    pred = _sigmoid(z)
    slope = pred * (1 - pred) if derivative is None else derivative(pred, z)
    miss = pred - onehot[:, 5] if error is None else error(pred, onehot)
    delta = 2 * miss * slope
    n = len(onehot)
    if delta.ndim == 2:  # broadcast to (N, N): every pair summed
        return np.array([np.sum(delta * hidden[250]) / n, np.sum(delta * hidden[251]) / n])
    return np.array([np.mean(delta * hidden[250]), np.mean(delta * hidden[251])])


def _scaled_gradient(factor):
    return lambda *args: factor * frozen_network.gradient(*args)


_GRADIENT_FORMS = {
    "original-factor": (
        "is half the true gradient: it leaves out the factor 2 that the derivative of the "
        "squared error brings, as the original notebook's gradient does. Finite differences "
        "of cost give twice as much; this assignment asks for the true gradient",
        _scaled_gradient(0.5),
    ),
    "extra-factor-2": (
        "is twice the true gradient: the factor 2 of the squared error is applied twice",
        _scaled_gradient(2.0),
    ),
    "sigmoid-derivative-of-z": (
        "takes the sigmoid's derivative as sigmoid(z) * (1 - z): it is "
        "sigmoid(z) * (1 - sigmoid(z)), the output times one minus the output",
        lambda *args: _true_gradient(*args, derivative=lambda pred, z: pred * (1 - z)),
    ),
    "no-sigmoid-derivative": (
        "leaves out the sigmoid's derivative: the chain rule multiplies the error by "
        "sigmoid(z) * (1 - sigmoid(z)) before the hidden activation",
        lambda *args: _true_gradient(*args, derivative=lambda pred, z: 1.0),
    ),
    "sign": (
        "has the wrong sign: it points downhill, the gradient points uphill",
        _scaled_gradient(-1.0),
    ),
    "sum-over-images": (
        "sums over the images instead of averaging, as the cost does: divide by N",
        lambda *args: len(args[4]) * frozen_network.gradient(*args),
    ),
    "mean-over-all": (
        "is the gradient of the mean over all 10 N squared errors, the cost divided by 10",
        _scaled_gradient(0.1),
    ),
    "broadcast-sums": (
        "sums over every pair of images: an array of shape (N, 1) met one of shape (N,), "
        "so NumPy broadcast both to (N, N). Take the labels of output 5 as onehot[:, 5], "
        "shape (N,), not onehot[:, 5:6] or onehot[:, [5]]",
        lambda *args: _true_gradient(
            *args, error=lambda pred, onehot: pred[None, :] - onehot[:, 5:6]
        ),
    ),
    "swapped": (
        "returns [dC/dw_b, dC/dw_a]: the first entry is the derivative with respect to w_a, "
        "the weight from hidden unit 250",
        lambda *args: frozen_network.gradient(*args)[::-1],
    ),
}


def _mistakes() -> dict[str, tuple[Mistake, ...]]:
    found = {part: [] for part in PARTS}
    for suffix, (said, form) in _OUTPUT_FORMS.items():
        found["outputs"].append(Mistake(f"outputs-{suffix}", "outputs", said, form))
        cost = _cost_of(form, _the_cost)
        found["cost"].append(
            Mistake(
                f"cost-outputs-{suffix}",
                "cost",
                f"computes the outputs with a function that {said}",
                cost,
            )
        )
    for suffix, (said, reduce) in _COST_FORMS.items():
        cost = _cost_of(frozen_network.outputs, reduce)
        found["cost"].append(Mistake(f"cost-{suffix}", "cost", said, cost))
    for suffix, (said, form) in _GRADIENT_FORMS.items():
        found["gradient"].append(Mistake(f"gradient-{suffix}", "gradient", said, form))
    for mistake in found["cost"]:
        said = mistake.explanation
        found["cost_map"].append(
            Mistake(
                mistake.id.replace("cost-", "cost_map-", 1),
                "cost_map",
                said,
                _pointwise(mistake.compute),
            )
        )
    found["outputs"].append(
        Mistake(
            "outputs-transposed",
            "outputs",
            "returns the outputs transposed, (N, 10): return them as (10, N), one row per "
            "output, as w2 @ hidden gives them",
            lambda *args: frozen_network.outputs(*args).T,
        )
    )
    found["cost_map"] += [
        Mistake(
            "cost_map-transposed",
            "cost_map",
            "is transposed: its rows must follow w_b and its columns w_a, so that [j, i] is "
            "the cost at (w_a_values[i], w_b_values[j]), as np.meshgrid(w_a_values, "
            "w_b_values) lays them out",
            lambda *args: frozen_network.cost_map(*args).T,
        ),
        Mistake(
            "cost_map-only-output-5",
            "cost_map",
            "leaves out the squared error of the nine outputs the watched weights do not "
            "feed: it does not change over the grid, but it is part of the cost",
            lambda *args: (
                frozen_network.cost_map(*args) - frozen_network.other_outputs_cost(*args[2:])
            ),
        ),
    ]
    return {part: tuple(mistakes) for part, mistakes in found.items()}


def _pointwise(cost):
    def compute(w_a_values, w_b_values, w2, hidden, onehot):
        return np.array([[cost(a, b, w2, hidden, onehot) for a in w_a_values] for b in w_b_values])

    return compute


MISTAKES: dict[str, tuple[Mistake, ...]] = _mistakes()
"""The named mistakes of each part."""


def find(mistake_id: str) -> Mistake | None:
    """The mistake of this assignment with ``mistake_id``, or None."""
    for mistakes in MISTAKES.values():
        for mistake in mistakes:
            if mistake.id == mistake_id:
                return mistake
    return _GENERIC.get(mistake_id)


def _generic(part: str, kind: str, explanation: str) -> Mistake:
    return Mistake(f"{part}-{kind}", part, explanation, None)


_GENERIC = {
    mistake.id: mistake
    for part in PARTS
    for mistake in (
        _generic(
            part,
            "float32",
            "computes in float32 (single precision), which keeps about 7 digits: use the "
            "float64 arrays it is given",
        ),
        _generic(part, "changes-inputs", "changes an array it is given: work on a copy"),
    )
}
_GENERIC["cost_map-slow"] = _generic(
    "cost_map", "slow", f"is less than {SPEEDUP} times as fast as a loop over the grid"
)


# --- calling the student's function --------------------------------------------------


class Broke(Exception):
    """The student's function could not give a result; the message says why."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def call_student(function: Callable, part: str, args: tuple):
    """What ``function(*args)`` returns, and whether it changed an argument."""
    copies = tuple(np.copy(arg) if isinstance(arg, np.ndarray) else arg for arg in args)
    with _guarded(function, part), np.errstate(all="ignore"):
        result = function(*copies)
    changed = any(
        isinstance(arg, np.ndarray) and not np.array_equal(arg, copy, equal_nan=True)
        for arg, copy in zip(args, copies, strict=True)
    )
    return result, changed


@contextlib.contextmanager
def _guarded(function: Callable, part: str):
    """Turn how a call of the student's ``function`` failed into :class:`Broke`."""
    try:
        yield
    except SandboxError as exc:
        raise Broke("sandbox", str(exc)) from None
    except NameError as exc:
        if not isinstance(function, RuleProxy):
            raise Broke("raised", f"{part} raised {_worker.describe(exc, function)}") from None
        raise Broke("undefined", str(exc)) from None  # the proxy's: no such function
    except StudentError as exc:
        raise Broke("raised", f"{part} raised {exc}") from None
    except Exception as exc:
        if isinstance(function, RuleProxy):  # the proxy's own TypeError: not made of numbers
            raise Broke("contract", str(exc)) from None
        raise Broke("raised", f"{part} raised {_worker.describe(exc, function)}") from None


def as_result(part: str, result, want: np.ndarray):
    """``result`` as an array to compare with ``want``, or the contract it breaks."""
    if part == "cost":
        if isinstance(result, int | float | np.number) and not isinstance(result, bool):
            return np.asarray(result), None
        if isinstance(result, np.ndarray) and result.shape in ((), (1,)):
            return result.reshape(()), None
        return None, f"cost must return one number (a float), got {_kind(result)}"
    if not isinstance(result, np.ndarray) or result.dtype.kind not in "iuf":
        return None, f"{part} must return a NumPy array of numbers, got {_kind(result)}"
    if result.shape != want.shape:
        if result.shape == want.T.shape and part in ("outputs", "cost_map"):
            return result, None  # named as transposed below
        return None, (
            f"{part} must return an array of shape {want.shape}, got shape {result.shape}"
        )
    return result, None


def _kind(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, list | tuple):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def agrees(part: str, got, want) -> bool:
    return got.shape == want.shape and bool(
        np.allclose(got, want, rtol=TOLERANCE[part], atol=_ABSOLUTE[part])
    )


def named_mistake(part: str, got, args) -> Mistake | None:
    """The mistake of ``part`` whose result on ``args`` ``got`` is, or None."""
    want = _reference(part)(*args)
    if got.shape != want.shape:  # as_result lets only the transpose through
        return find(f"{part}-transposed")
    if got.dtype == np.float32:
        return find(f"{part}-float32")
    for mistake in MISTAKES[part]:
        with np.errstate(all="ignore"):
            theirs = np.asarray(mistake.compute(*args), float)
        if theirs.shape == got.shape and np.allclose(
            got, theirs, rtol=_SAME_MISTAKE, atol=_SAME_MISTAKE * 1e-3
        ):
            return mistake
    return None


# --- the checks -------------------------------------------------------------------------


def _check(function: Callable, part: str, cases, *, hidden: bool) -> None:
    """Fail, naming the mistake where one fits, unless ``function`` agrees with the reference
    on every argument tuple of ``cases`` and leaves its arguments alone."""
    rank = RANK_HIDDEN if hidden else RANK_VISIBLE
    prefix = f"{part} fails a hidden test" if hidden else part
    for args, shown in cases:
        want = np.asarray(_reference(part)(*args), float)
        try:
            result, changed = call_student(function, part, args)
        except Broke as broke:
            record(part, broke.kind, RANK_FAILURE)
            message = str(broke)
            if hidden:
                message = _with_hint(f"{prefix}: {_HIDDEN_KINDS.get(broke.kind, 'it failed')}")
            raise failed(message) from None
        if changed:
            mistake = find(f"{part}-changes-inputs")
            record(part, mistake.id, RANK_FAILURE, None, f"{part} {mistake.explanation}.")
            raise failed(f"{prefix}: it {mistake.explanation}.")
        got, broken = as_result(part, result, want)
        if broken:
            record(part, "contract", RANK_FAILURE)
            # a hidden test's shapes would tell its N and grid
            raise failed(_with_hint(f"{prefix}: {_HIDDEN_KINDS['contract']}") if hidden else broken)
        if agrees(part, got, want):
            continue
        mistake = named_mistake(part, got, args)
        end = "" if hidden else "."  # a hidden test's hint follows after a full stop
        if mistake is not None:
            record(part, mistake.id, rank, None, f"{part} {mistake.explanation}.")
            said = f"{prefix}: it {mistake.explanation}{end}"
        else:
            record(part, "unknown", rank, None, f"{part} returns other values than the reference.")
            said = f"{prefix}: it returns other values than the reference{end}"
        if part == "gradient":
            measured = _finite_differences(args, want)
            if not hidden:
                said += (
                    f"\nAt {shown}, central differences of the cost give {_numbers(measured)}; "
                    f"gradient returns {_numbers(got)}."
                )
        elif not hidden:
            said += (
                f"\nAt {shown} it returns {_numbers(got)}; the reference returns {_numbers(want)}."
            )
        raise failed(_with_hint(said) if hidden else said)


def _with_hint(message: str) -> str:
    """A hidden test's ``message`` (its first line) with what the hidden tests vary."""
    first, *notes = message.split("\n")
    hint = (
        "Hidden tests use other networks, other numbers of images and other weights and "
        "grids: nothing may assume the original notebook's N = 100, its weights or its grid"
    )
    return "\n".join([f"{first}. {hint}.", *notes])


_HIDDEN_KINDS = {
    "raised": "it raised an exception",
    "contract": "it returned something other than what it must return",
    "undefined": "its answer cell does not define it",
    "sandbox": "the sandbox stopped it (time, memory, or the process ended)",
}


def _numbers(values) -> str:
    values = np.asarray(values)
    if values.ndim == 0:
        return f"{float(values):.10g}"
    flat = values.ravel()
    shown = ", ".join(f"{float(x):.6g}" for x in flat[:4])
    return f"[{shown}{', ...' if flat.size > 4 else ''}]"


def _finite_differences(args, want) -> np.ndarray:
    """Central differences of the reference cost at ``args``, checked against the reference
    gradient ``want``: a disagreement is the grader's fault, never the student's."""
    w_a, w_b, *rest = args
    h = _FINITE_STEP
    cost = frozen_network.cost
    measured = np.array(
        [
            (cost(w_a + h, w_b, *rest) - cost(w_a - h, w_b, *rest)) / (2 * h),
            (cost(w_a, w_b + h, *rest) - cost(w_a, w_b - h, *rest)) / (2 * h),
        ]
    )
    if not np.allclose(measured, want, rtol=1e-5, atol=1e-9):
        raise GraderFault(
            f"the grader's reference gradient {want} disagrees with finite differences "
            f"{measured}: a grader bug, no grade was changed"
        )
    return measured


def _visible_cases(part: str):
    w2, hidden, onehot = original_data()
    data = (w2, hidden, onehot) if part != "outputs" else (w2, hidden)
    if part == "cost_map":
        a, b = VISIBLE_GRID
        return [((a, b, *data), "the 5 x 8 grid of the check")]
    return [((w_a, w_b, *data), f"w_a = {w_a:g}, w_b = {w_b:g}") for w_a, w_b in VISIBLE_POINTS]


_TELLS = 100
"""A drawn hidden case is kept only if every mistake of its part misses the reference there
by this many times the tolerance, so the mistake written in any order of operations does."""
_DRAWS = 50


@functools.cache
def _hidden_cases(part: str):
    """Networks, images and weights drawn once per grading process: other seeds, other N,
    weights across the landscape and grids of other sizes, never square. A draw where some
    mistake would pass (a gradient all but 0 where the sigmoid saturates, say), or would
    look like another, is not kept."""
    rng = np.random.default_rng([DRAW_SEED, 21, PARTS.index(part)])
    data = load_mnist(bundled_path())
    cases = []
    for _ in range(_DRAWS):
        w0, w1, w2 = init_weights(int(rng.integers(2**32)))
        n = int(rng.integers(20, 300))
        chosen = np.sort(rng.choice(len(data), n, replace=False))
        hidden = hidden_activations(w0, w1, data.images[chosen])
        arrays = (w2, hidden, data.onehot[chosen]) if part != "outputs" else (w2, hidden)
        if part == "cost_map":
            sizes = rng.choice(np.arange(3, 31), 2, replace=False)
            args = (*(np.sort(rng.uniform(-25, 25, size)) for size in sizes), *arrays)
        else:
            args = (*rng.uniform(-20, 20, 2), *arrays)
        if _tells(part, args):
            cases.append((args, None))
        if len(cases) == 3:
            return cases
    raise GraderFault(f"no hidden test of {part} could tell every mistake in {_DRAWS} draws")


def _tells(part: str, args) -> bool:
    """Whether every mistake of ``part`` misses the reference on ``args`` by far, and each
    misses every other (with no image of a 5 among few, summing over every pair of images
    gives what summing over the images does)."""
    want = np.asarray(_reference(part)(*args), float)
    tolerance = _TELLS * TOLERANCE[part], _TELLS * _ABSOLUTE[part]
    with np.errstate(all="ignore"):
        results = [want, *(np.asarray(m.compute(*args), float) for m in MISTAKES[part])]
    return not any(
        mine.shape == theirs.shape and np.allclose(mine, theirs, *tolerance)
        for i, mine in enumerate(results)
        for theirs in results[i + 1 :]
    )


def check_outputs(outputs: Callable) -> None:
    """The visible test of ``outputs``: the original notebook's network at three points."""
    _check(outputs, "outputs", _visible_cases("outputs"), hidden=False)


def check_cost(cost: Callable) -> None:
    """The visible test of ``cost``: the original notebook's cost at three points."""
    _check(cost, "cost", _visible_cases("cost"), hidden=False)


def check_gradient(gradient: Callable) -> None:
    """The visible test of ``gradient``: the true gradient at three points, which central
    finite differences of the cost confirm."""
    _check(gradient, "gradient", _visible_cases("gradient"), hidden=False)


def check_map(cost_map: Callable) -> None:
    """The visible test of ``cost_map``: a 5 x 8 grid on the original notebook's data."""
    _check(cost_map, "cost_map", _visible_cases("cost_map"), hidden=False)


def check_hidden(function: Callable, part: str) -> None:
    """The hidden tests of ``part``: three networks, image sets and points (or grids)."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; allowed: {', '.join(PARTS)}")
    _check(function, part, _hidden_cases(part), hidden=True)


# --- the map's speed ---------------------------------------------------------------------


def race(cost_map: Callable) -> tuple[float, float, object]:
    """``(map_seconds, loop_seconds, result)``: the student's map and the reference's loop
    over grid points, on the original notebook's 40 x 40 grid, timed in the same process."""
    args = (SEED_W_A, SEED_W_B, *original_data())
    if not isinstance(cost_map, RuleProxy):
        namespace = {"np": np}
        exec(frozen_network.LOOP_SOURCE, namespace)
        return _worker.race(cost_map, namespace[frozen_network.LOOP_NAME], args, SPEED_ROUNDS)
    reply = cost_map.run(
        {
            "kind": "race",
            "args": [_worker.encode(arg) for arg in args],
            "reference": frozen_network.LOOP_SOURCE,
            "reference_name": frozen_network.LOOP_NAME,
            "rounds": SPEED_ROUNDS,
        }
    )
    if "undefined" in reply:
        raise NameError(f"cost_map is not defined: {str(reply['undefined'])[:500]}")
    malformed = SandboxError("the sandbox of cost_map sent a malformed reply")
    failure = reply.get("failure")
    if failure is not None:
        if not isinstance(failure, dict):
            raise malformed
        raise StudentError(str(failure.get("message", ""))[:500])
    try:
        seconds, loop = (float(x) for x in reply["times"])
        result = _worker.decode(reply["result"])
    except _worker.Unsupported as exc:
        raise TypeError(f"cost_map returned {exc}; return a NumPy array") from None
    except Exception:
        raise malformed from None
    # The reply is written where the student's code runs: no time of 0, NaN or infinity.
    if not (0 < seconds < math.inf and 0 < loop < math.inf):
        raise malformed
    return seconds, loop, result


def check_map_speed(cost_map: Callable) -> None:
    """``cost_map`` is right on the original notebook's 40 x 40 grid and at least
    :data:`SPEEDUP` times as fast there as the loop over its points."""
    part = "cost_map"
    args = (SEED_W_A, SEED_W_B, *original_data())
    try:
        with _guarded(cost_map, part):
            seconds, loop, result = race(cost_map)
    except Broke as broke:
        record(part, broke.kind, RANK_FAILURE)
        raise failed(str(broke)) from None
    want = frozen_network.cost_map(*args)
    got, broken = as_result(part, result, want)
    if broken or not agrees(part, got, want):
        raise failed(
            f"cost_map must first be right on the original notebook's {GRID} "
            "(see the test above) before its speed counts"
        )
    if loop / seconds >= SPEEDUP:
        return
    mistake = find("cost_map-slow")
    record(part, mistake.id, RANK_VISIBLE, None, f"cost_map {mistake.explanation}.")
    raise failed(
        f"cost_map took {seconds * 1e3:.1f} ms on the original notebook's {GRID}, "
        f"{loop / seconds:.1f} times as fast as a loop over its points ({loop * 1e3:.0f} ms); "
        f"it must be at least {SPEEDUP} times as fast. Only output 5 depends on w_a and w_b, "
        "and its pre-activation linearly: compute it for all grid points at once, with "
        "arrays of shape (len(w_b_values), len(w_a_values), N), and the other nine outputs' "
        "error once."
    )
