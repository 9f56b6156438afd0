"""Answers to the landscape assignment as students write them: right in five styles, and
wrong in the ways learners are wrong here.

Each :class:`Case` replaces some answer cells of the reference solution and says what
every part must score and which mistake the class report must name. The answers run as a
notebook runs them: in order, in one namespace, so a later answer may call an earlier
one or a helper defined there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "landscape" / "landscape.ipynb"
RELEASE = ROOT / "assignments" / "landscape" / "landscape.ipynb"
PARTS = ("outputs", "cost", "gradient", "cost_map")


def _points() -> dict[str, float]:
    """Each graded test cell's points, by grade_id, as the release gives them."""
    return {
        cell["metadata"]["nbgrader"]["grade_id"]: cell["metadata"]["nbgrader"]["points"]
        for cell in json.loads(RELEASE.read_text())["cells"]
        if cell["metadata"].get("nbgrader", {}).get("grade")
    }


POINTS = _points()
TOTAL = sum(POINTS.values())


def _reference() -> dict[str, str]:
    found = {}
    for cell in json.loads(SOURCE.read_text())["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in PARTS:
            found[grade_id] = re.sub(r"\n *### (BEGIN|END) SOLUTION", "", "".join(cell["source"]))
    return found


REFERENCE = _reference()


@dataclass(frozen=True)
class Case:
    answers: dict[str, str] = field(default_factory=dict)
    """Answer text per part, in place of the reference solution's."""
    lost: dict[str, str] = field(default_factory=dict)
    """The graded test cells (grade_id) that score 0, each with the diagnosis the class
    report gives its part ("" where it is not checked)."""

    def answer_cells(self) -> dict[str, str]:
        return {part: self.answers.get(part, REFERENCE[part]) for part in PARTS}


CORRECT = {
    "reference": Case(),
    "einsum": Case(
        {
            "outputs": """\
def outputs(w_a, w_b, w2, hidden):
    w = np.array(w2, dtype=float)
    w[5, 250], w[5, 251] = w_a, w_b
    return 1.0 / (1.0 + np.exp(-np.einsum("kj,jn->kn", w, hidden)))
""",
            "cost": """\
def cost(w_a, w_b, w2, hidden, onehot):
    error = outputs(w_a, w_b, w2, hidden) - onehot.T
    return float(np.einsum("kn,kn->", error, error) / hidden.shape[1])
""",
            "gradient": """\
def gradient(w_a, w_b, w2, hidden, onehot):
    y = outputs(w_a, w_b, w2, hidden)[5]
    delta = 2.0 * (y - onehot[:, 5]) * y * (1.0 - y)
    return np.einsum("n,jn->j", delta, hidden[[250, 251]]) / len(y)
""",
            "cost_map": """\
def cost_map(w_a_values, w_b_values, w2, hidden, onehot):
    y = outputs(0.0, 0.0, w2, hidden)
    rest = np.einsum("kn,kn->", *(2 * [np.delete(y - onehot.T, 5, axis=0)])) / y.shape[1]
    base = np.einsum("j,jn->n", np.delete(w2[5], [250, 251]), np.delete(hidden, [250, 251], 0))
    a, b = np.meshgrid(w_a_values, w_b_values)
    z = base + np.einsum("ji,n->jin", a, hidden[250]) + np.einsum("ji,n->jin", b, hidden[251])
    error = 1.0 / (1.0 + np.exp(-z)) - onehot[:, 5]
    return rest + np.einsum("jin,jin->ji", error, error) / y.shape[1]
""",
        }
    ),
    "scipy_helpers": Case(
        {
            "outputs": """\
from scipy.special import expit as sigmoid


def with_watched(w2, w_a, w_b):
    copy = w2.copy()
    copy[5, [250, 251]] = w_a, w_b
    return copy


def outputs(w_a, w_b, w2, hidden):
    return sigmoid(with_watched(w2, w_a, w_b) @ hidden)
""",
            "cost": """\
def cost(w_a, w_b, w2, hidden, onehot):
    return ((outputs(w_a, w_b, w2, hidden) - onehot.T) ** 2).sum(axis=0).mean()
""",
            "gradient": """\
def gradient(w_a, w_b, w2, hidden, onehot):
    z = with_watched(w2, w_a, w_b)[5] @ hidden
    s = sigmoid(z)
    dz = 2 * (s - onehot[:, 5]) * s * (1 - s) / len(s)
    return hidden[[250, 251]] @ dz
""",
            "cost_map": """\
def cost_map(w_a_values, w_b_values, w2, hidden, onehot):
    pred = outputs(0.0, 0.0, w2, hidden)
    keep = np.arange(10) != 5
    rest = ((pred[keep] - onehot.T[keep]) ** 2).sum(axis=0).mean()
    z = (with_watched(w2, 0.0, 0.0)[5] @ hidden)[np.newaxis, np.newaxis, :]
    z = z + np.asarray(w_a_values)[np.newaxis, :, np.newaxis] * hidden[250]
    z = z + np.asarray(w_b_values)[:, np.newaxis, np.newaxis] * hidden[251]
    return rest + ((sigmoid(z) - onehot[:, 5]) ** 2).mean(axis=-1)
""",
        }
    ),
    "no_copy_of_w2": Case(
        {
            "outputs": """\
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def outputs(w_a, w_b, w2, hidden):
    z = w2 @ hidden
    z[5] += (w_a - w2[5, 250]) * hidden[250] + (w_b - w2[5, 251]) * hidden[251]
    return sigmoid(z)
""",
            "cost": """\
def cost(w_a, w_b, w2, hidden, onehot):
    n = hidden.shape[1]
    return np.sum(np.square(outputs(w_a, w_b, w2, hidden) - onehot.T)) / n
""",
            "gradient": """\
def gradient(w_a, w_b, w2, hidden, onehot):
    y_hat = outputs(w_a, w_b, w2, hidden)[5]
    d_cost_d_out = 2 * (y_hat - onehot[:, 5])
    d_out_d_z = sigmoid_derivative(y_hat)
    d_z_d_w = hidden[250:252]
    return (d_z_d_w * d_cost_d_out * d_out_d_z).mean(axis=1)


def sigmoid_derivative(s):
    return s * (1 - s)
""",
            "cost_map": """\
def cost_map(w_a_values, w_b_values, w2, hidden, onehot):
    n = hidden.shape[1]
    others = np.delete(np.arange(10), 5)
    rest = np.sum(np.square(sigmoid(w2[others] @ hidden) - onehot.T[others])) / n
    base = w2[5] @ hidden - w2[5, 250] * hidden[250] - w2[5, 251] * hidden[251]
    a_part = np.multiply.outer(np.asarray(w_a_values, float), hidden[250])
    b_part = np.multiply.outer(np.asarray(w_b_values, float), hidden[251])
    z = base + a_part[np.newaxis, :, :] + b_part[:, np.newaxis, :]
    return rest + np.sum(np.square(sigmoid(z) - onehot[:, 5]), axis=2) / n
""",
        }
    ),
    "tensordot": Case(
        {
            "outputs": """\
def outputs(w_a, w_b, w2, hidden):
    mask = np.zeros_like(w2)
    mask[5, 250] = w_a - w2[5, 250]
    mask[5, 251] = w_b - w2[5, 251]
    return 1 / (1 + np.exp(-np.tensordot(w2 + mask, hidden, axes=1)))
""",
            "cost": """\
def cost(w_a, w_b, w2, hidden, onehot):
    n = onehot.shape[0]
    per_image = np.linalg.norm(outputs(w_a, w_b, w2, hidden) - onehot.T, axis=0) ** 2
    return per_image.sum() / n
""",
            "gradient": """\
def gradient(w_a, w_b, w2, hidden, onehot):
    p = outputs(w_a, w_b, w2, hidden)[5]
    g = 2 * (p - onehot[:, 5]) * p * (1 - p)
    return np.array([g @ hidden[250], g @ hidden[251]]) / onehot.shape[0]
""",
            "cost_map": """\
def cost_map(w_a_values, w_b_values, w2, hidden, onehot):
    n = onehot.shape[0]
    W_a, W_b = np.meshgrid(w_a_values, w_b_values)
    watched = np.stack([W_a, W_b], axis=-1)
    frozen = w2[5].copy()
    frozen[250:252] = 0
    z5 = frozen @ hidden + np.tensordot(watched, hidden[250:252], axes=1)
    p5 = 1 / (1 + np.exp(-z5))
    others = np.r_[0:5, 6:10]
    p = 1 / (1 + np.exp(-(w2[others] @ hidden)))
    rest = np.linalg.norm(p - onehot.T[others]) ** 2 / n
    return rest + np.linalg.norm(p5 - onehot[:, 5], axis=-1) ** 2 / n
""",
        }
    ),
}
"""Right answers, each in another style: all full marks."""


def _wrong(part: str, source: str, *lost: tuple[str, str]) -> Case:
    return Case({part: source}, dict(lost))


WRONG = {
    "outputs_swapped": _wrong(
        "outputs",
        """\
def outputs(w_a, w_b, w2, hidden):
    w = w2.copy()
    w[5, 250], w[5, 251] = w_b, w_a
    return 1 / (1 + np.exp(-(w @ hidden)))
""",
        ("test_outputs_values", "outputs-weights-swapped"),
        # the reference's cost and gradient call this outputs; its map does not
        ("test_cost_values", "cost-outputs-weights-swapped"),
        ("test_gradient_values", "unknown"),
    ),
    "outputs_changes_w2": _wrong(
        "outputs",
        """\
def outputs(w_a, w_b, w2, hidden):
    w2[5, 250] = w_a
    w2[5, 251] = w_b
    return 1 / (1 + np.exp(-(w2 @ hidden)))
""",
        ("test_outputs_values", "outputs-changes-inputs"),
        ("test_cost_values", "cost-changes-inputs"),
        ("test_gradient_values", "gradient-changes-inputs"),
    ),
    "cost_torch_mse": _wrong(
        "cost",
        """\
def cost(w_a, w_b, w2, hidden, onehot):
    return np.mean((outputs(w_a, w_b, w2, hidden) - onehot.T) ** 2)
""",
        ("test_cost_values", "cost-mean-over-all"),
    ),
    "cost_wrong_axis": _wrong(
        "cost",
        """\
def cost(w_a, w_b, w2, hidden, onehot):
    return np.mean(np.sum((outputs(w_a, w_b, w2, hidden) - onehot.T) ** 2, axis=1))
""",
        ("test_cost_values", "cost-mean-over-outputs"),
    ),
    "cost_hard_coded_n": _wrong(
        "cost",
        """\
def cost(w_a, w_b, w2, hidden, onehot):
    return np.sum((outputs(w_a, w_b, w2, hidden) - onehot.T) ** 2) / 100
""",
        ("test_cost_values", "unknown"),
    ),
    "gradient_original_factor": _wrong(
        "gradient",
        """\
def gradient(w_a, w_b, w2, hidden, onehot):
    p = outputs(w_a, w_b, w2, hidden)[5]
    delta = (p - onehot[:, 5]) * p * (1 - p)
    return np.array([np.mean(delta * hidden[250]), np.mean(delta * hidden[251])])
""",
        ("test_gradient_values", "gradient-original-factor"),
    ),
    "gradient_sigmoid_of_z": _wrong(
        "gradient",
        """\
def gradient(w_a, w_b, w2, hidden, onehot):
    w = w2.copy()
    w[5, 250], w[5, 251] = w_a, w_b
    z = w[5] @ hidden
    s = 1 / (1 + np.exp(-z))
    delta = 2 * (s - onehot[:, 5]) * s * (1 - z)
    return np.array([np.mean(delta * hidden[250]), np.mean(delta * hidden[251])])
""",
        ("test_gradient_values", "gradient-sigmoid-derivative-of-z"),
    ),
    "gradient_broadcast": _wrong(
        "gradient",
        """\
def gradient(w_a, w_b, w2, hidden, onehot):
    p = outputs(w_a, w_b, w2, hidden)[5]
    y = onehot[:, 5:6]
    delta = 2 * (p - y) * p * (1 - p)
    n = len(p)
    return np.array([np.sum(delta * hidden[250]) / n, np.sum(delta * hidden[251]) / n])
""",
        ("test_gradient_values", "gradient-broadcast-sums"),
    ),
    "map_loops": _wrong(
        "cost_map",
        """\
def cost_map(w_a_values, w_b_values, w2, hidden, onehot):
    return np.array([[cost(a, b, w2, hidden, onehot) for a in w_a_values] for b in w_b_values])
""",
        ("test_cost_map_speed", "cost_map-slow"),
    ),
    "map_vectorize": _wrong(
        "cost_map",
        """\
def cost_map(w_a_values, w_b_values, w2, hidden, onehot):
    a, b = np.meshgrid(w_a_values, w_b_values)
    return np.vectorize(lambda x, y: cost(x, y, w2, hidden, onehot))(a, b)
""",
        ("test_cost_map_speed", "cost_map-slow"),
    ),
    "map_every_output": _wrong(
        "cost_map",
        """\
def cost_map(w_a_values, w_b_values, w2, hidden, onehot):
    a, b = np.meshgrid(w_a_values, w_b_values)
    z = np.broadcast_to(w2 @ hidden, a.shape + (10, hidden.shape[1])).copy()
    z[:, :, 5] += (a[..., None] - w2[5, 250]) * hidden[250]
    z[:, :, 5] += (b[..., None] - w2[5, 251]) * hidden[251]
    error = 1 / (1 + np.exp(-z)) - onehot.T
    return np.mean(np.sum(error**2, axis=2), axis=2)
""",
        ("test_cost_map_speed", "cost_map-slow"),
    ),
    "map_ij": _wrong(
        "cost_map",
        """\
def cost_map(w_a_values, w_b_values, w2, hidden, onehot):
    a, b = np.meshgrid(w_a_values, w_b_values, indexing="ij")
    pred = outputs(0.0, 0.0, w2, hidden)
    rest = np.mean(np.sum(np.delete(pred - onehot.T, 5, axis=0) ** 2, axis=0))
    row = w2[5].copy()
    row[250:252] = 0
    z = row @ hidden + a[..., None] * hidden[250] + b[..., None] * hidden[251]
    return rest + np.mean((1 / (1 + np.exp(-z)) - onehot[:, 5]) ** 2, axis=2)
""",
        ("test_cost_map_values", "cost_map-transposed"),
        ("test_cost_map_speed", ""),
    ),
    "map_float32": _wrong(
        "cost_map",
        """\
def cost_map(w_a_values, w_b_values, w2, hidden, onehot):
    h = hidden.astype(np.float32)
    w = w2.astype(np.float32)
    others = [k for k in range(10) if k != 5]
    rest = np.mean(np.sum((1 / (1 + np.exp(-(w[others] @ h))) - onehot.T[others]) ** 2, 0))
    row = w[5].copy()
    row[[250, 251]] = 0
    a = np.asarray(w_a_values, np.float32)[None, :, None]
    b = np.asarray(w_b_values, np.float32)[:, None, None]
    pred = 1 / (1 + np.exp(-(row @ h + a * h[250] + b * h[251])))
    return (rest + np.mean((pred - onehot[:, 5]) ** 2, axis=2)).astype(np.float32)
""",
        ("test_cost_map_values", "cost_map-float32"),
        ("test_cost_map_speed", ""),
    ),
    "map_only_output_5": _wrong(
        "cost_map",
        """\
def cost_map(w_a_values, w_b_values, w2, hidden, onehot):
    row = w2[5].copy()
    row[[250, 251]] = 0
    a = np.asarray(w_a_values)[None, :, None]
    b = np.asarray(w_b_values)[:, None, None]
    pred = 1 / (1 + np.exp(-(row @ hidden + a * hidden[250] + b * hidden[251])))
    return np.mean((pred - onehot[:, 5]) ** 2, axis=2)
""",
        ("test_cost_map_values", "cost_map-only-output-5"),
        ("test_cost_map_speed", ""),
    ),
    "outputs_syntax_error": _wrong(
        "outputs",
        """\
def outputs(w_a, w_b, w2, hidden)
    return 1 / (1 + np.exp(-(w2 @ hidden)))
""",
        ("test_outputs_values", "undefined"),
        # the reference's cost and gradient call outputs, which the notebook never defined
        ("test_cost_values", "raised"),
        ("test_gradient_values", "raised"),
    ),
}
"""Wrong answers, each with the test cells it loses and what the report names."""

CASES = {**CORRECT, **WRONG}


def expected_points(case: Case) -> dict[str, float]:
    """What each graded test cell of ``case`` scores."""
    return {cell: 0.0 if cell in case.lost else points for cell, points in POINTS.items()}


def notebook_text(case: Case) -> str:
    """The released notebook with ``case``'s answers in its answer cells, as handed in."""
    nb = json.loads(RELEASE.read_text())
    answers = case.answer_cells()
    for cell in nb["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return json.dumps(nb)
