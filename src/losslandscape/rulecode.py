r"""A rule's step function, read once and written out as maths, JavaScript and kernel code.

Every update rule is defined exactly once, as the NumPy step in
:mod:`losslandscape.optimizers` (the function students write in the assignment).
This module reads the step's own source and writes from it:

- :func:`equations`: the LaTeX of its update, each quantity indexed by the step
  :math:`t`, for the docstrings (:func:`documented`) and the book's chapters;
- :func:`javascript`: the rule for the book's twin of the model, which the build
  writes into ``_static/losslandscape/rules.js`` (``losslandscape.twin``);
- :func:`kernel_source`: the step as plain source for the compiled loops
  (``losslandscape._kernel``), which inline it rather than import it.

Each is written operation for operation in the function's own order, so the twin
and the kernel agree with NumPy to rounding. The step's signature says what each
argument is: ``(w, grad, *state, [t,] lr, *hyperparameters)``, where ``t`` (the
step count, from 1) is present for rules that count steps. Only a small part of
Python is read: assignments to names, one ``return``, ``+ - * / **``, unary minus,
numbers and the functions in :data:`FUNCTIONS`. Anything else is a
:class:`RuleCodeError` that names the line and says what is allowed.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import keyword
import re
import textwrap
from collections.abc import Callable, Mapping

FUNCTIONS: Mapping[str, tuple[str, str, int]] = {
    "sqrt": ("Math.sqrt", r"\sqrt{{{0}}}", 1),
    "exp": ("Math.exp", r"\exp\left({0}\right)", 1),
    "abs": ("Math.abs", r"\left|{0}\right|", 1),
    "maximum": ("Math.max", r"\max\left({0}, {1}\right)", 2),
    "minimum": ("Math.min", r"\min\left({0}, {1}\right)", 2),
}
"""The NumPy functions a rule may call (as ``np.<name>``): their JavaScript, their LaTeX
and how many arguments they take.
Each is elementwise and, like its JavaScript twin, propagates NaN."""

_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}

SYMBOLS: Mapping[str, str] = {
    "w": "w",
    "grad": "g",
    "lr": r"\eta",
    "eps": r"\epsilon",
    "velocity": "v",
    "sum_sq": "s",
    "sq_avg": "s",
}
"""LaTeX for names that are not simply a letter or a Greek letter with an optional
index (``beta1`` is :math:`\\beta_1`); ``_hat``, ``_max`` and ``_min`` after any name
add a hat or a superscript."""

_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega",
}  # fmt: skip
_JS_RESERVED = {
    "arguments",
    "await",
    "case",
    "catch",
    "class",
    "const",
    "debugger",
    "default",
    "delete",
    "do",
    "enum",
    "eval",
    "export",
    "extends",
    "function",
    "h",
    "instanceof",
    "let",
    "new",
    "state",
    "static",
    "super",
    "switch",
    "this",
    "throw",
    "typeof",
    "var",
    "void",
    "yield",
}  # fmt: skip  (h and state name the generated function's own parameters)


class RuleCodeError(ValueError):
    """A step function this module cannot read: what was found, where, and what is allowed."""


@dataclasses.dataclass(frozen=True)
class RuleCode:
    """A step function, parsed and checked: its arguments by role and its statements."""

    name: str
    state: tuple[str, ...]
    counts_steps: bool
    hyper: tuple[str, ...]
    assignments: tuple[ast.Assign, ...]
    returned: tuple[ast.expr, ...]
    """The new weights, then the new value of each state array, in the signature's order."""
    function: ast.FunctionDef


@functools.cache
def read(step: Callable) -> RuleCode:
    """Parse ``step`` and check it is a rule this module can write out.

    Raises:
        RuleCodeError: the source is unavailable, the signature is not
            ``(w, grad, *state, [t,] lr, *hyperparameters)``, or the body uses
            more of Python than assignments, one return and arithmetic.
    """
    name = getattr(step, "__name__", repr(step))
    try:
        source = textwrap.dedent(inspect.getsource(step))
    except (OSError, TypeError) as error:
        raise RuleCodeError(f"{name}: its source cannot be read ({error})") from None
    try:
        function = ast.parse(source).body[0]
    except SyntaxError:  # a lambda's source is the line around it
        function = None
    if not isinstance(function, ast.FunctionDef):
        raise RuleCodeError(f"{name}: a rule must be a def statement, not a lambda")
    args = function.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs or args.defaults:
        raise RuleCodeError(f"{name}: a rule takes plain positional arguments, without defaults")
    params = [arg.arg for arg in args.args]
    if params[:2] != ["w", "grad"] or "lr" not in params:
        raise RuleCodeError(
            f"{name}{tuple(params)}: a rule's arguments are (w, grad, *state, [t,] lr, "
            "*hyperparameters)"
        )
    lr_at = params.index("lr")
    counts_steps = params[lr_at - 1] == "t"
    state = tuple(params[2 : lr_at - counts_steps])
    hyper = tuple(params[lr_at + 1 :])
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
        raise RuleCodeError(f"{name}: a rule ends with a return of the new weights and state")
    assignments = body[:-1]
    for statement in assignments:
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):
            raise _unreadable(name, statement, "only assignments to one name and a return")
    value = body[-1].value
    returned = tuple(value.elts) if isinstance(value, ast.Tuple) else (value,)
    if len(returned) != 1 + len(state):
        raise _unreadable(
            name, body[-1], f"a return of w and the {len(state)} state array(s) {state}"
        )
    defined = set(params)
    for statement in [*assignments, body[-1]]:
        expressions = [statement.value] if isinstance(statement, ast.Assign) else returned
        for expression in expressions:
            _check_expression(name, expression, defined)
        if isinstance(statement, ast.Assign):
            target = statement.targets[0].id
            _check_name(name, statement, target)
            defined.add(target)
    for param in params:
        _check_name(name, function, param)
    return RuleCode(name, state, counts_steps, hyper, tuple(assignments), returned, function)


def _check_expression(name: str, node: ast.expr, defined: set[str]) -> None:
    """Raise unless ``node`` is arithmetic on defined names, numbers and FUNCTIONS."""
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        children = [node.left, node.right]
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        children = [node.operand]
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
        children = []
    elif isinstance(node, ast.Name):
        if node.id not in defined:
            raise _unreadable(name, node, f"names it defines itself, not {node.id!r}")
        children = []
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "np"
        and node.func.attr in FUNCTIONS
        and not node.keywords
        and len(node.args) == FUNCTIONS[node.func.attr][2]
    ):
        children = node.args
    else:
        raise _unreadable(name, node, "+ - * / **, unary minus, numbers and " + _ALLOWED_CALLS)
    for child in children:
        _check_expression(name, child, defined)


_ALLOWED_CALLS = ", ".join(f"np.{f}" for f in FUNCTIONS) + " (with positional arguments)"


def _check_name(name: str, node: ast.AST, identifier: str) -> None:
    if identifier in _JS_RESERVED or keyword.iskeyword(identifier) or identifier == "np":
        raise _unreadable(name, node, f"names other than {identifier!r}, which is reserved")


def _unreadable(name: str, node: ast.AST, allowed: str) -> RuleCodeError:
    found = ast.unparse(node).splitlines()[0] if not isinstance(node, ast.operator) else "?"
    line = getattr(node, "lineno", None)
    where = f" (line {line} of the function)" if line else ""
    return RuleCodeError(f"{name}: cannot read {found!r}{where}; a rule may use {allowed}")


def kernel_source(step: Callable) -> str:
    """The step's definition without decorators, for the compiled loops to inline.

    Inlined, the step is part of the loops' own source, so their cache (keyed on that
    source) can never run machine code compiled from an older version of the rule.
    """
    return ast.unparse(_bare(read(step).function))


def _bare(function: ast.FunctionDef) -> ast.FunctionDef:
    bare = ast.FunctionDef(
        name=function.name,
        args=function.args,
        body=function.body,
        decorator_list=[],
        returns=None,
        type_params=[],
    )
    return ast.fix_missing_locations(ast.copy_location(bare, function))


def javascript(step: Callable) -> str:
    """The rule as a JavaScript function ``(w, grad, state, t, lr, h)`` of one weight.

    ``state`` is that weight's array of state values (updated in place), ``h`` the
    hyperparameters by name; it returns the new weight. Every operation is
    parenthesised as Python grouped it, so the order, and the rounding, are Python's.
    """
    code = read(step)
    lines = [f"let {name} = state[{i}];" for i, name in enumerate(code.state)]
    lines += [f"const {name} = h.{name};" for name in code.hyper]
    declared = {"w", "grad", "t", "lr", *code.state, *code.hyper}
    for statement in code.assignments:
        target = statement.targets[0].id
        keyword_ = "" if target in declared else "let "
        declared.add(target)
        lines.append(f"{keyword_}{target} = {_js(statement.value)};")
    lines.append(f"const next = [{', '.join(_js(value) for value in code.returned)}];")
    lines += [f"state[{i}] = next[{i + 1}];" for i in range(len(code.state))]
    lines.append("return next[0];")
    body = textwrap.indent("\n".join(lines), "  ")
    return f"function (w, grad, state, t, lr, h) {{\n{body}\n}}"


def _js(node: ast.expr) -> str:
    if isinstance(node, ast.BinOp):
        return f"({_js(node.left)} {_OPERATORS[type(node.op)]} {_js(node.right)})"
    if isinstance(node, ast.UnaryOp):
        return f"(-{_js(node.operand)})"
    if isinstance(node, ast.Constant):
        return repr(node.value)
    if isinstance(node, ast.Name):
        return node.id
    function, _, _ = FUNCTIONS[node.func.attr]
    return f"{function}({', '.join(_js(arg) for arg in node.args)})"


def equations(step: Callable, symbols: Mapping[str, str] | None = None) -> Equations:
    r"""The update as LaTeX ``aligned`` equations, each quantity indexed by the step t.

    Arguments that change (the weights and the state) read :math:`x_{t-1}` before
    the step assigns them and :math:`x_t` after; the gradient is :math:`g_t`;
    hyperparameters carry no index. ``symbols`` maps argument or local names to
    LaTeX where the defaults (:data:`SYMBOLS`, Greek letters by name) do not fit.
    """
    code = read(step)
    table = {**SYMBOLS, **(symbols or {})}
    # A local returned as a state's new value is that state at step t.
    alias = {
        value.id: state
        for value, state in zip(code.returned[1:], code.state, strict=True)
        if isinstance(value, ast.Name) and value.id != state
    }
    at_t = {"grad"}  # names that hold their step-t value
    varying = {"w", "grad", *code.state}

    def symbol(name: str) -> str:
        base = _symbol(alias.get(name, name), table)
        if name == "t" and code.counts_steps:
            return "t"
        if name not in varying:
            return base
        return f"{base}_{{t}}" if name in at_t or name in alias else f"{base}_{{t-1}}"

    lines = []
    for statement in code.assignments:
        target = statement.targets[0].id
        right = _latex(statement.value, symbol)
        varying.add(target)
        at_t.add(target)
        lines.append(f"{symbol(target)} &= {right}")
    for value, state in zip(code.returned[1:], code.state, strict=True):
        if not (isinstance(value, ast.Name) and alias.get(value.id, value.id) == state):
            right = _latex(value, symbol)
            at_t.add(state)
            lines.append(f"{symbol(state)} &= {right}")
    right = _latex(code.returned[0], symbol)
    at_t.add("w")
    lines.append(f"{symbol('w')} &= {right}")
    return Equations("\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}")


class Equations(str):
    """LaTeX equations that Jupyter and the book display as maths (``text/latex``)."""

    def _repr_latex_(self) -> str:
        return f"$$\n{self}\n$$"


def _symbol(name: str, table: Mapping[str, str]) -> str:
    if name in table:
        return table[name]
    if name.endswith("_hat"):
        return rf"\hat{{{_symbol(name.removesuffix('_hat'), table)}}}"
    for bound in ("max", "min"):
        if name.endswith(f"_{bound}"):
            return rf"{_symbol(name.removesuffix(f'_{bound}'), table)}^{{\{bound}}}"
    letters, index = re.fullmatch(r"([A-Za-z_]*?)_?(\d*)", name).groups()
    if letters in table:
        base = table[letters]
    elif letters in _GREEK:
        base = "\\" + letters
    elif len(letters) == 1:
        base = letters
    else:
        base = r"\mathit{" + letters.replace("_", r"\_") + "}"
    return f"{base}_{{{index}}}" if index else base


_PRECEDENCE = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2, ast.USub: 3, ast.Pow: 4}


def _latex(node: ast.expr, symbol: Callable[[str], str]) -> str:
    def precedence(n: ast.expr) -> int:
        if isinstance(n, ast.BinOp):
            return _PRECEDENCE[type(n.op)]
        if isinstance(n, ast.UnaryOp):
            return _PRECEDENCE[ast.USub]
        return 5

    def grouped(n: ast.expr, below: int) -> str:
        text = _latex(n, symbol)
        return f"\\left({text}\\right)" if precedence(n) < below else text

    if isinstance(node, ast.Name):
        return symbol(node.id)
    if isinstance(node, ast.Constant):
        return repr(node.value)
    if isinstance(node, ast.Call):
        _, form, _ = FUNCTIONS[node.func.attr]
        return form.format(*(_latex(arg, symbol) for arg in node.args))
    if isinstance(node, ast.UnaryOp):
        return "-" + grouped(node.operand, 2)
    op = type(node.op)
    if op is ast.Div:
        return rf"\frac{{{_latex(node.left, symbol)}}}{{{_latex(node.right, symbol)}}}"
    if op is ast.Pow:
        return f"{grouped(node.left, 5)}^{{{_latex(node.right, symbol)}}}"
    if op is ast.Mult:
        return _product(_factors(node), symbol, grouped)
    right = grouped(node.right, 2) if op is ast.Sub else _latex(node.right, symbol)
    return f"{_latex(node.left, symbol)} {_OPERATORS[op]} {right}"


def _factors(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return _factors(node.left) + _factors(node.right)
    return [node]


def _product(factors: list[ast.expr], symbol, grouped) -> str:
    """Factors side by side, a name times itself as its square, numbers set apart by a dot."""
    parts: list[tuple[str, int, bool]] = []  # (text, power, is a number)
    for factor in factors:
        text = grouped(factor, 2)
        if parts and isinstance(factor, ast.Name) and parts[-1][0] == text:
            parts[-1] = (text, parts[-1][1] + 1, False)
        else:
            parts.append((text, 1, isinstance(factor, ast.Constant)))
    out = ""
    for i, (text, power, number) in enumerate(parts):
        term = f"{text}^{{{power}}}" if power > 1 else text
        if i:
            out += r" \cdot " if number or parts[i - 1][2] else r"\, "
        out += term
    return out


def documented(step: Callable | None = None, *, symbols: Mapping[str, str] | None = None):
    """Decorator: put the update's :func:`equations` after the docstring's first paragraph.

    The maths a reader sees in ``help()`` and the API page is then written from the
    code itself, and cannot drift from it.
    """

    def decorate(function: Callable) -> Callable:
        maths = textwrap.indent(equations(function, symbols), "    ")
        summary, _, rest = inspect.cleandoc(function.__doc__ or "").partition("\n\n")
        function.__doc__ = f"{summary}\n\n.. math::\n\n{maths}\n\n{rest}".rstrip() + "\n"
        return function

    return decorate(step) if step is not None else decorate
