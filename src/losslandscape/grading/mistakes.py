"""The catalogue of mistakes, grown from the reference rules by mistake operators.

A mistake is a wrong step, as a student writes it. Rather than hand-pick them, each
operator below rewrites the reference rule's own code (read by
:mod:`losslandscape.rulecode`) the way learners get it wrong, wherever the rule has a
place for it: the gradient's sign, the learning rate twice or missing, a state never
updated, ``(1 - rho)`` dropped or added, ``eps`` inside the square root or missing, the
square root dropped, ``t`` off by one, a bias correction dropped (each alone and both),
the corrected moments stored, hyperparameters swapped, the look-ahead dropped, a sign
flipped. Each variant carries its sentence and its fix, written from the code it
changed. Variants that compute what another does (or what the reference does) are
dropped, so every mistake in the catalogue is a different rule. Besides the operators,
every other library's form of a rule in the registry (a :class:`~losslandscape.optimizers.Peer`'s
``their_step``) is a mistake with a note on whose convention it is.

:func:`mistakes_for` gives a rule's mistakes, :func:`pairs_for` every two of them
combined (for a student who made two), :func:`late` one that is right until an epoch
and wrong after (for drawing hidden runs that can tell, :mod:`.settings`).
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import functools
import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType

import numpy as np

from .. import rulecode
from ..optimizers import OPTIMIZERS, Optimizer
from .runs import RULES, TOLERANCE, first_parting, graded_function, trajectory
from .settings import LONG_RUN_HYPERPARAMETER_RANGES, diagnostic_settings

Path = tuple
"""Where a node sits in a rule: the statement's index, then the fields and indexes down
to it (statements are the assignments' values, then the returned values)."""


@dataclasses.dataclass(frozen=True, eq=False)
class Mistake:
    """A mistake in one rule: the wrong step, as a student writes it.

    ``step`` has the signature of the rule ``rule`` (an assignment function name, e.g.
    ``"adam_step"``). ``explanation`` tells a student what is wrong and the fix, with
    its formula. ``convention`` is set where the "mistake" is how another library
    writes the rule. ``edits`` are the operator's replacements in the reference's code
    (empty for another library's form), which :func:`pairs_for` combines. A mistake
    with ``after`` is made only from step ``after + 1`` on (:func:`late_for`).
    """

    id: str
    rule: str
    step: Callable
    explanation: str
    convention: str = ""
    edits: Mapping = dataclasses.field(default_factory=dict, repr=False)
    after: int | None = None

    @property
    def method(self) -> str:
        """The rule's name in the registry (``"Adam"`` for ``"adam_step"``)."""
        return RULES[self.rule]

    def stepper(self) -> Callable:
        """The step for one run: ``step``, or for a mistake made only after step ``after``,
        a new rule that counts its calls (:func:`late`)."""
        return self.step if self.after is None else late(self, self.after)


@dataclasses.dataclass(frozen=True)
class _Rule:
    """A reference rule's code as statements: what each assignment and return computes."""

    code: rulecode.RuleCode
    targets: tuple[str, ...]
    """Each statement's name: the assigned variable, then ``w`` and the state arrays."""
    values: tuple[ast.expr, ...]

    @property
    def assigned(self) -> int:
        return len(self.code.assignments)

    def nodes(self) -> Iterator[tuple[Path, ast.AST]]:
        """Every node with its path, each statement in order, a parent before its children."""
        for index, value in enumerate(self.values):
            yield from _walk(value, (index,))

    def definition(self, value: ast.expr) -> ast.expr:
        """What a returned name was last assigned, else ``value`` itself."""
        if isinstance(value, ast.Name) and value.id in self.targets[: self.assigned]:
            return self.values[max(i for i in range(self.assigned) if self.targets[i] == value.id)]
        return value

    def formula(self, index: int, values=None) -> str:
        """Statement ``index`` as the feedback writes formulas: ``m <- beta1 * m + ...``,
        ``grad^2``, ``sqrt``; a returned ``w`` as its expression alone."""
        value = _formula((values or self.values)[index])
        if index < self.assigned:
            return f"{self.targets[index]} <- {value}"
        if index == self.assigned:
            return value
        return f"{self.targets[index]} <- {value}"


def _walk(node: ast.AST, path: Path) -> Iterator[tuple[Path, ast.AST]]:
    yield path, node
    for field, value in ast.iter_fields(node):
        if isinstance(value, ast.AST):
            yield from _walk(value, (*path, field))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield from _walk(item, (*path, field, i))


def _formula(node: ast.expr) -> str:
    class Plain(ast.NodeTransformer):
        def visit_Attribute(self, node):  # np.sqrt -> sqrt
            return ast.Name(node.attr) if isinstance(node.value, ast.Name) else node

        def visit_BinOp(self, node):  # grad * grad -> grad^2, also in (1 - rho) * grad * grad
            node = self.generic_visit(node)
            if not isinstance(node.op, ast.Mult):
                return node
            if ast.dump(node.left) == ast.dump(node.right):
                return ast.BinOp(node.left, ast.Pow(), ast.Constant(2))
            left = node.left
            if (
                isinstance(left, ast.BinOp)
                and isinstance(left.op, ast.Mult)
                and ast.dump(left.right) == ast.dump(node.right)
            ):
                return ast.BinOp(
                    left.left, ast.Mult(), ast.BinOp(node.right, ast.Pow(), ast.Constant(2))
                )
            return node

    text = ast.unparse(Plain().visit(copy.deepcopy(node)))
    return re.sub(r"\s*\*\*\s*", "^", text)


@functools.cache
def _rule(name: str) -> _Rule:
    optimizer = OPTIMIZERS[RULES[graded_function(name)]]
    code = rulecode.read(optimizer.step)
    targets = (*(a.targets[0].id for a in code.assignments), "w", *code.state)
    values = (*(a.value for a in code.assignments), *code.returned)
    return _Rule(code, targets, values)


def _replaced(rule: _Rule, edits: Mapping[Path, ast.expr]) -> tuple[ast.expr, ...]:
    """The rule's statements with the node at each path of ``edits`` replaced."""
    values = [copy.deepcopy(value) for value in rule.values]
    for path, new in edits.items():
        index, *steps = path
        if not steps:
            values[index] = copy.deepcopy(new)
            continue
        parent = values[index]
        *down, last = steps
        for step in down:
            parent = parent[step] if isinstance(step, int) else getattr(parent, step)
        if isinstance(last, int):
            parent[last] = copy.deepcopy(new)
        else:
            setattr(parent, last, copy.deepcopy(new))
    return tuple(values)


_INPUT = "{}__given"
"""A name the operators use for a state array as it was passed in (the reference may
reassign the argument's own name)."""


def _compile(rule: _Rule, edits: Mapping[Path, ast.expr], name: str) -> Callable:
    name = re.sub(r"\W", "_", name)
    values = _replaced(rule, edits)
    params = [arg.arg for arg in rule.code.function.args.args]
    lines = [f"def {name}({', '.join(params)}):"]
    lines += [f"    {_INPUT.format(state)} = {state}" for state in rule.code.state]
    lines += [
        f"    {target} = {ast.unparse(value)}"
        for target, value in zip(rule.targets, values[: rule.assigned], strict=False)
    ]
    returned = ", ".join(ast.unparse(value) for value in values[rule.assigned :])
    lines.append(f"    return {returned}")
    namespace = {"np": np}
    exec(compile("\n".join(lines), f"<mistake {name}>", "exec"), namespace)
    return namespace[name]


# --- The operators: each yields (kind, edits, explanation) for a rule ---------------------


def _is_name(node, *names) -> bool:
    return isinstance(node, ast.Name) and (not names or node.id in names)


def _one_minus(node) -> str | None:
    """``h`` if ``node`` is ``(1 - h)`` for a hyperparameter ``h``."""
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Sub)
        and isinstance(node.left, ast.Constant)
        and node.left.value == 1
        and isinstance(node.right, ast.Name)
    ):
        return node.right.id
    return None


def _names(rule: _Rule, name: str) -> dict[Path, ast.expr]:
    return {path: node for path, node in rule.nodes() if _is_name(node, name)}


def _first_with(rule: _Rule, name: str) -> int:
    return next(i for i, v in enumerate(rule.values) if any(_is_name(n, name) for n in ast.walk(v)))


def _every_name(rule: _Rule, name: str, new: ast.expr) -> dict[Path, ast.expr]:
    return dict.fromkeys(_names(rule, name), new)


def _statement(path: Path) -> int:
    return path[0]


def _ascent(rule: _Rule):
    fix = rule.formula(_first_with(rule, "lr"))
    negated = ast.UnaryOp(ast.USub(), ast.Name("grad"))
    yield (
        "ascent",
        _every_name(rule, "grad", negated),
        f"the step goes uphill, along the gradient, not against it ({fix})",
    )


def _learning_rate(rule: _Rule):
    fix = rule.formula(_first_with(rule, "lr"))
    squared = ast.BinOp(ast.Name("lr"), ast.Mult(), ast.Name("lr"))
    yield (
        "lr-squared",
        _every_name(rule, "lr", squared),
        f"the learning rate is applied twice (lr^2), not once ({fix})",
    )
    yield (
        "no-lr",
        _every_name(rule, "lr", ast.Constant(1.0)),
        f"the learning rate is missing ({fix})",
    )


def _state_unchanged(rule: _Rule):
    state = rule.code.state
    if not state:
        return
    first = rule.assigned + 1
    edits = {(first + i,): ast.Name(_INPUT.format(s)) for i, s in enumerate(state)}
    fixes = ", ".join(_formula(rule.definition(rule.values[first + i])) for i in range(len(state)))
    one = len(state) == 1
    yield (
        "state-unchanged",
        edits,
        f"{_and(state)} {'is' if one else 'are'} never updated: return the new "
        f"{'one' if one else 'ones'} ({fixes}), not the {'one' if one else 'ones'} passed in",
    )


def _dampened(rule: _Rule):
    """A decaying sum ``h * s + x`` written as an average, ``h * s + (1 - h) * x``."""
    for index in range(rule.assigned):
        value = rule.values[index]
        if not (isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add | ast.Sub)):
            continue
        decay = value.left
        if not (isinstance(decay, ast.BinOp) and isinstance(decay.op, ast.Mult)):
            continue
        if not (_is_name(decay.left, *rule.code.hyper) and _is_name(decay.right, *rule.code.state)):
            continue
        if any(_one_minus(node) for node in ast.walk(value.right)):
            continue
        h = decay.left.id
        scaled = ast.BinOp(_minus(h), ast.Mult(), value.right)
        yield (
            "dampened",
            {(index, "right"): scaled},
            f"the gradient is scaled by (1 - {h}), not added whole ({rule.formula(index)})",
        )


def _minus(h: str) -> ast.expr:
    return ast.BinOp(ast.Constant(1), ast.Sub(), ast.Name(h))


def _no_one_minus(rule: _Rule):
    for path, node in rule.nodes():
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)):
            continue
        h = _one_minus(node.left)
        if h is None:
            continue
        term = _formula(_replaced(rule, {path: node.right})[_statement(path)])
        what = "the squared gradient" if "grad^2" in term else "the gradient"
        yield (
            f"no-one-minus-{h}",
            {path: node.right},
            f"{what} lacks its factor (1 - {h}) ({rule.formula(_statement(path))})",
        )


def _sqrt_calls(rule: _Rule):
    for path, node in rule.nodes():
        if isinstance(node, ast.Call) and _formula(node.func) == "sqrt":
            yield path, node


def _eps_inside(rule: _Rule):
    for path, node in rule.nodes():
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)):
            continue
        if not (_is_name(node.right, "eps") and isinstance(node.left, ast.Call)):
            continue
        if _formula(node.left.func) != "sqrt":
            continue
        inside = copy.deepcopy(node.left)
        inside.args = [ast.BinOp(inside.args[0], ast.Add(), ast.Name("eps"))]
        yield (
            "eps-inside",
            {path: inside},
            f"eps is added inside the square root, not outside ({rule.formula(_statement(path))})",
        )
        yield (
            "no-eps",
            {path: node.left},
            f"eps is missing from the denominator ({rule.formula(_statement(path))})",
        )


def _no_sqrt(rule: _Rule):
    for path, node in _sqrt_calls(rule):
        yield (
            "no-sqrt",
            {path: node.args[0]},
            f"the square root of {_formula(node.args[0])} is missing "
            f"({rule.formula(_statement(path))})",
        )


def _t_shifted(rule: _Rule):
    if not rule.code.counts_steps:
        return
    uses = ", ".join(_formula(rule.values[i]) for i in sorted({p[0] for p in _names(rule, "t")}))
    for kind, op, sign in (("t-plus-one", ast.Add(), "+"), ("t-minus-one", ast.Sub(), "-")):
        shifted = ast.BinOp(ast.Name("t"), op, ast.Constant(1))
        yield (
            kind,
            _every_name(rule, "t", shifted),
            f"it uses t {sign} 1 where t belongs: t counts this step already, from 1, so use it "
            f"as given ({uses})",
        )


def _bias_corrections(rule: _Rule) -> list[tuple[Path, ast.expr, str]]:
    """Each ``x / (1 - h ** t)``: its path, ``x``, and the state ``x`` names."""
    found = []
    for path, node in rule.nodes():
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)):
            continue
        below = node.right
        if (
            isinstance(below, ast.BinOp)
            and isinstance(below.op, ast.Sub)
            and isinstance(below.right, ast.BinOp)
            and isinstance(below.right.op, ast.Pow)
            and _is_name(below.right.right, "t")
        ):
            found.append((path, node.left, _formula(node.left)))
    return found


def _no_bias_correction(rule: _Rule):
    corrections = _bias_corrections(rule)
    if not corrections:
        return
    values = ", ".join(_formula(rule.values[_statement(p)]) for p, _, _ in corrections)
    yield (
        "no-bias-correction",
        {path: kept for path, kept, _ in corrections},
        f"the bias correction is missing ({values})",
    )
    if len(corrections) > 1:
        for path, kept, label in corrections:
            yield (
                f"no-bias-correction-{label}",
                {path: kept},
                f"the bias correction of {label} is missing "
                f"({_formula(rule.values[_statement(path)])})",
            )


def _corrected_stored(rule: _Rule):
    """The bias-corrected moments returned as the state in place of the moments."""
    corrected, fixes = {}, []
    for path, _, label in _bias_corrections(rule):
        if len(path) == 1 and _statement(path) < rule.assigned:
            corrected[label] = rule.targets[_statement(path)]
            fixes.append(rule.formula(_statement(path)))
    first = rule.assigned + 1
    edits = {
        (first + i,): ast.Name(corrected[s])
        for i, s in enumerate(rule.code.state)
        if s in corrected
    }
    if edits:
        yield (
            "corrected-stored",
            edits,
            f"the bias-corrected {_and(sorted(set(corrected.values())))} are stored as the "
            f"state: return {_and(sorted(corrected))} and correct them anew at every step "
            f"({', '.join(fixes)})",
        )


def _swapped(rule: _Rule):
    """Two hyperparameters named alike (``beta1``, ``beta2``), each used for the other."""
    for a, b in itertools.combinations(rule.code.hyper, 2):
        stem = re.sub(r"\d+$", "", a)
        if stem != re.sub(r"\d+$", "", b) or a == b:
            continue
        edits = {**_every_name(rule, a, ast.Name(b)), **_every_name(rule, b, ast.Name(a))}
        fixes = ", ".join(rule.formula(_first_with(rule, h)) for h in (a, b))
        yield (
            f"{stem}s-swapped",
            edits,
            f"{a} and {b} are swapped: {a} goes with the gradient, {b} with its square ({fixes})",
        )


def _as_momentum(rule: _Rule):
    """The look-ahead ``+ h * (new - old)`` of the new weights dropped."""
    index = rule.assigned
    value = rule.values[index]
    if (
        isinstance(value, ast.BinOp)
        and isinstance(value.op, ast.Add)
        and isinstance(value.right, ast.BinOp)
        and isinstance(value.right.op, ast.Mult)
        and _is_name(value.right.left, *rule.code.hyper)
    ):
        yield (
            "as-momentum",
            {(index,): value.left},
            f"the look-ahead is missing: step to {rule.formula(index)}, not {_formula(value.left)}",
        )


def _signs(rule: _Rule):
    """Every ``+`` written ``-`` and every ``-`` written ``+``."""
    flips = {ast.Add: ast.Sub, ast.Sub: ast.Add}
    counts: dict[str, int] = {}
    for path, node in rule.nodes():
        if not (isinstance(node, ast.BinOp) and type(node.op) in flips):
            continue
        flipped = copy.deepcopy(node)
        flipped.op = flips[type(node.op)]()
        index = _statement(path)
        target = rule.targets[index]
        counts[target] = counts.get(target, 0) + 1
        variant = _replaced(rule, {path: flipped})
        yield (
            f"sign-in-{target.replace('_', '-')}-{counts[target]}",
            {path: flipped},
            f"a sign is flipped: {rule.formula(index, variant)}, not {rule.formula(index)}",
        )


OPERATORS = (
    _ascent,
    _learning_rate,
    _state_unchanged,
    _dampened,
    _no_one_minus,
    _eps_inside,
    _no_sqrt,
    _t_shifted,
    _no_bias_correction,
    _corrected_stored,
    _swapped,
    _as_momentum,
    _signs,
)
"""The mistake operators, most telling first: where two give the same rule, the earlier
one names it."""


def _and(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


# --- The catalogue --------------------------------------------------------------------


def _convention(optimizer: Optimizer, step: Callable) -> str:
    """The note for a rule written as another library writes it, from the registry's peers:
    whose form it is, and whose the course's is."""
    peers = [peer for peer in optimizer.peers if peer.their_step is step]
    libraries = _and([peer.library for peer in peers])
    verb = "write" if len(peers) > 1 else "writes"
    agreeing = [p.library for p in optimizer.peers if p.agrees and p.their_step is None]
    return (
        f"This is how {libraries} {verb} {optimizer.name}: it {peers[0].difference}. "
        f"The course follows the original notebook, as {_and(agreeing)} "
        f"{'do' if len(agreeing) > 1 else 'does'}."
    )


def _conventions(rule: str) -> list[Mistake]:
    """Every other library's form of the rule in the registry, as a mistake."""
    optimizer = OPTIMIZERS[RULES[rule]]
    code = _rule(rule)
    steps = dict.fromkeys(peer.their_step for peer in optimizer.peers if peer.their_step)
    found = []
    for step in steps:
        peer = next(p for p in optimizer.peers if p.their_step is step)
        if peer.agrees:  # the same path: only the state it returns is another
            states = ", ".join(
                f"{code.targets[i]} <- {_formula(code.definition(code.values[i]))}"
                for i in range(code.assigned + 1, len(code.values))
            )
            explanation = f"it returns another state than the course's ({states})"
        else:
            explanation = f"it {peer.difference}, where the course's rule steps to "
            explanation += code.formula(code.assigned)
        found.append(
            Mistake(
                step.__name__.removesuffix("_step").replace("_", "-"),
                rule,
                step,
                explanation,
                _convention(optimizer, step),
            )
        )
    return found


@functools.cache
def state_forms(name: str) -> tuple[Mistake, ...]:
    """Other libraries' forms of rule ``name`` that take the course's path with another
    state (Keras's momentum, PyTorch's Nesterov): only the steps tests, which check the
    state returned, tell them."""
    rule = graded_function(name)
    agreeing = {p.their_step for p in OPTIMIZERS[RULES[rule]].peers if p.agrees}
    return tuple(m for m in _conventions(rule) if m.step in agreeing)


_PROBE_SHAPE = (3, 2)


@functools.cache
def fingerprint_arguments(name: str) -> tuple[tuple, ...]:
    """Two fixed argument tuples of rule ``name``, with a state already built up and values
    unlike any default, on which two different rules return different results."""
    optimizer = OPTIMIZERS[RULES[graded_function(name)]]
    rng = np.random.default_rng(20241204)
    calls = []
    for _ in range(2):
        w, grad = rng.normal(size=_PROBE_SHAPE), rng.normal(size=_PROBE_SHAPE)
        state = [rng.uniform(0.1, 1.0, _PROBE_SHAPE) for _ in optimizer.state]
        count = [int(rng.integers(2, 9))] if optimizer.counts_steps else []
        lr = float(rng.uniform(0.1, 0.9))
        hyper = [float(rng.uniform(0.3, 0.8)) for _ in optimizer.hyper]
        calls.append((w, grad, *state, *count, lr, *hyper))
    return tuple(calls)


def outputs(step: Callable, args: tuple) -> tuple[np.ndarray, ...] | None:
    """What ``step(*args)`` returns, as float arrays, or None where it raises or returns
    something else than numbers."""
    try:
        with np.errstate(all="ignore"):
            result = step(*(np.copy(a) if isinstance(a, np.ndarray) else a for a in args))
        result = result if isinstance(result, tuple) else (result,)
        return tuple(np.asarray(x, dtype=float) for x in result)
    except Exception:
        return None


def same_outputs(a, b, tolerance: float = 1e-12) -> bool:
    """Whether two :func:`outputs` agree (NaN meets NaN)."""
    return (
        a is not None
        and b is not None
        and len(a) == len(b)
        and all(
            x.shape == y.shape and np.allclose(x, y, rtol=tolerance, atol=tolerance, equal_nan=True)
            for x, y in zip(a, b, strict=True)
        )
    )


def _step_fingerprint(rule: str, step: Callable) -> tuple | None:
    found = [outputs(step, args) for args in fingerprint_arguments(rule)]
    return None if None in found else tuple(itertools.chain(*found))


def _path_fingerprint(rule: str, step: Callable) -> np.ndarray | None:
    """The first epochs of ``step``'s paths on the public diagnostic settings, or None
    where they leave the finite numbers (paths that fail cannot tell two rules apart)."""
    paths = [
        trajectory(step, rule, **{**setting, "epochs": _FINGERPRINT_EPOCHS})
        for setting in diagnostic_settings(rule)
    ]
    path = np.concatenate(paths)
    return path if np.isfinite(path).all() else None


_FINGERPRINT_EPOCHS = 100


class _Seen:
    """The rules found so far, by what they return and by the paths they take."""

    def __init__(self, rule: str):
        self.rule = rule
        self.steps: list = []
        self.paths: list = []

    def new(self, step: Callable) -> bool:
        """Whether ``step`` computes something none before did, and leaves a path of its
        own where its path is finite; remembers it."""
        outputs_seen = _step_fingerprint(self.rule, step)
        if outputs_seen is None or any(same_outputs(outputs_seen, s) for s in self.steps):
            return False
        path = _path_fingerprint(self.rule, step)
        if path is not None and any(first_parting(path, p) is None for p in self.paths):
            return False
        self.steps.append(outputs_seen)
        if path is not None:
            self.paths.append(path)
        return True


@functools.cache
def mistakes_for(name: str) -> tuple[Mistake, ...]:
    """The catalogue's mistakes in rule ``name`` (an assignment function or registry name):
    every operator wherever it applies, then every other library's form of the rule.

    A variant is kept only if it computes what no earlier one (nor the reference) does
    and, where its path stays finite, takes a path of its own: a student's path can then
    name it alone.
    """
    rule = graded_function(name)
    code = _rule(rule)
    prefix = rule.removesuffix("_step")
    seen = _Seen(rule)
    seen.new(OPTIMIZERS[RULES[rule]].step)
    conventions = {m.id: m for m in _conventions(rule)}
    found = []
    for operator in OPERATORS:
        for kind, edits, explanation in operator(code):
            mistake_id = f"{prefix}-{kind}"
            library = conventions.pop(mistake_id, None)
            # Another library's form keeps the registry's own function and its docstring.
            step = library.step if library else _compile(code, edits, f"{prefix}_{kind}")
            if not seen.new(step):
                continue
            convention = library.convention if library else ""
            found.append(
                Mistake(mistake_id, rule, step, explanation, convention, MappingProxyType(edits))
            )
    found += [m for m in conventions.values() if seen.new(m.step)]
    return tuple(found)


@functools.cache
def pairs_for(name: str) -> tuple[Mistake, ...]:
    """Every two operator mistakes of rule ``name`` made together, where they change
    different parts of the rule and the two together compute something neither does."""
    rule = graded_function(name)
    code = _rule(rule)
    singles = [m for m in mistakes_for(rule) if m.edits]
    seen = _Seen(rule)
    for known in (OPTIMIZERS[RULES[rule]].step, *(m.step for m in mistakes_for(rule))):
        seen.new(known)
    found = []
    for first, second in itertools.combinations(singles, 2):
        if any(_nested(a, b) for a in first.edits for b in second.edits):
            continue
        edits = {**first.edits, **second.edits}
        step = _compile(code, edits, f"{rule}_two_mistakes")
        if not seen.new(step):
            continue
        found.append(
            Mistake(
                f"{first.id}+{second.id.removeprefix(rule.removesuffix('_step') + '-')}",
                rule,
                step,
                f"{first.explanation}; and {second.explanation}",
                edits=MappingProxyType(edits),
            )
        )
    return tuple(found)


def _nested(a: Path, b: Path) -> bool:
    """Whether one path lies within the other (or they are the same)."""
    return a[: len(b)] == b or b[: len(a)] == a


@functools.cache
def late_for(name: str, after: int) -> tuple[Mistake, ...]:
    """The mistakes of rule ``name`` made only from step ``after + 1`` on: a rule right for
    the visible run's epochs (``after``) and wrong past them.

    Only those that still change the step then, at the top of the long hidden run's
    hyperparameter ranges, each once: past 1,000 steps, ``beta1 ** t`` is below 1e-22,
    so a mistake in ``m``'s bias correction is then no mistake in float64.
    """
    rule = graded_function(name)
    optimizer = OPTIMIZERS[RULES[rule]]
    tops = [
        LONG_RUN_HYPERPARAMETER_RANGES.get(key, hyper.slider)[1]
        for key, hyper in optimizer.hyper.items()
    ]
    calls = []
    for args in fingerprint_arguments(rule):
        head = list(args[: len(args) - len(tops)])
        if optimizer.counts_steps:
            head[-2] = after + 1  # (..., t, lr)
        calls.append((*head, *tops))

    def results(step):
        return tuple(outputs(step, args) for args in calls)

    seen = [results(optimizer.step)]
    found = []
    for mistake in mistakes_for(rule):
        made = results(mistake.step)
        if None in made or any(
            all(same_outputs(a, b, TOLERANCE) for a, b in zip(made, other, strict=True))
            for other in seen
        ):
            continue
        seen.append(made)
        found.append(
            dataclasses.replace(
                mistake,
                id=f"{mistake.id}-after-{after}",
                explanation=f"from step {after + 1} on, {mistake.explanation}",
                after=after,
            )
        )
    return tuple(found)


def late(mistake: Mistake, after: int) -> Callable:
    """``mistake``'s rule, right (the reference) for the first ``after`` calls and wrong
    from then on: a new one per run, as it counts its calls."""
    reference = OPTIMIZERS[mistake.method].step
    calls = 0

    def step(*args):
        nonlocal calls
        calls += 1
        return (reference if calls <= after else mistake.step)(*args)

    return step


def __getattr__(attribute: str):
    # MISTAKES and CATALOGUE train every variant a little: only when first asked for.
    if attribute == "MISTAKES":
        return tuple(m for rule in RULES for m in mistakes_for(rule))
    if attribute == "CATALOGUE":
        return MappingProxyType({m.id: m for rule in RULES for m in mistakes_for(rule)})
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


MISTAKES: tuple[Mistake, ...]
"""The catalogue: every mistake :func:`~.diagnosis.diagnose` names on its own."""

CATALOGUE: Mapping[str, Mistake]
"""The mistakes by id."""


def find(mistake_id: str) -> Mistake | None:
    """The mistake ``mistake_id`` names: one of the catalogue's, two of them together
    (``<id>+<kind>``), one made late (``<id>-after-<step>``) or another library's state;
    None if it names none."""
    for rule in RULES:
        if mistake_id.startswith(rule.removesuffix("_step") + "-"):
            known = mistakes_for(rule) + state_forms(rule)
            known += pairs_for(rule) if "+" in mistake_id else ()
            after = re.search(r"-after-(\d+)$", mistake_id)
            known += late_for(rule, int(after.group(1))) if after else ()
            return next((m for m in known if m.id == mistake_id), None)
    return None
