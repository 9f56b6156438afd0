"""The grader's fixture submissions: answer texts applied to the released notebook.

Each case is the reference solution with some answer cells replaced
(:data:`CASES`), optionally with the notebook itself cut about afterwards
(:data:`SURGERY`); only what no answer text can express, files that are not
notebooks at all, lives in ``tests/submissions/``. Every case carries the
points per rule it must score, so the grader's verdict is checked exactly.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from losslandscape import grading
from losslandscape.grading.mistakes import mistakes_for

from .student_rules import CORRECT_OTHERWISE, OTHER_STATE_FORM, STUDENTS, answer_cell

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "assignments" / "optimizers" / "optimizers.ipynb"
SOURCE = ROOT / "solutions" / "optimizers" / "optimizers.ipynb"
FILES = ROOT / "tests" / "submissions"
RULES = tuple(grading.RULES)  # the registry's graded rules, in the book's order
ALL_ZERO = dict.fromkeys(RULES, 0)


def _full_marks() -> dict[str, float]:
    """Each rule's points in the released notebook: the sum of its graded test cells."""
    marks = dict.fromkeys(RULES, 0.0)
    for cell in json.loads(RELEASE.read_text())["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade"):
            rule = re.fullmatch(r"test_(\w+_step)_\w+", meta["grade_id"]).group(1)
            marks[rule] += meta["points"]
    return marks


FULL_MARKS = _full_marks()
TOTAL = sum(FULL_MARKS.values())
"""The assignment's total, as the released notebook's cells give it."""


@dataclass(frozen=True)
class Case:
    answers: dict[str, str] = field(default_factory=dict)
    """Answer text per rule, in place of the reference solution's."""
    points: dict[str, float] = field(default_factory=dict)
    """Points per rule that differ from full marks (:data:`FULL_MARKS`)."""
    diagnoses: dict[str, str] = field(default_factory=dict)
    """The diagnosis the class report must give each rule, where the case knows it."""


def _reference_answers() -> dict[str, str]:
    """The instructor's solutions, as a student would write them."""
    cells = json.loads(SOURCE.read_text())["cells"]
    found = {}
    for cell in cells:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in RULES:
            source = "".join(cell["source"])
            found[grade_id] = re.sub(r"\n *### (BEGIN|END) SOLUTION", "", source)
    return found


def _unanswered() -> dict[str, str]:
    """The answer cells as the release hands them out."""
    cells = json.loads(RELEASE.read_text())["cells"]
    return {
        cell["metadata"]["nbgrader"]["grade_id"]: "".join(cell["source"])
        for cell in cells
        if cell["metadata"].get("nbgrader", {}).get("grade_id") in RULES
    }


REFERENCE = _reference_answers()
UNANSWERED = _unanswered()


def _each_rule(template: str) -> dict[str, str]:
    """``template`` before every rule, with the rule returning its weights unchanged."""
    signatures = {rule: REFERENCE[rule].splitlines()[0] for rule in RULES}
    return {rule: f"{template}\n{signatures[rule]}\n    return w\n" for rule in RULES}


def _correct_if(rule: str, condition: str, preamble: str) -> str:
    """The reference ``rule``, but only when ``condition`` (set up by ``preamble``) holds."""
    signature, *body = REFERENCE[rule].splitlines()
    name = signature.split("(")[0].removeprefix("def ")
    right = signature.replace(f"def {name}(", "def _right(")
    args = signature.split("(", 1)[1].rstrip("):")
    return (
        f"{preamble}\n{right}\n" + "\n".join(body) + f"\n\n{signature}\n"
        f"    result = _right({args})\n"
        f"    return result if {condition} else np.ones_like(w)\n"
    )


_ADAM = REFERENCE["adam_step"]

CASES: dict[str, Case] = {
    "reference": Case(),
    "unmodified": Case(UNANSWERED, ALL_ZERO),
    # common mistakes cost exactly their rule
    "adam_without_bias_correction": Case(
        {
            "adam_step": "def adam_step(w, grad, m, v, t, lr, beta1, beta2, eps):\n"
            "    m = beta1 * m + (1 - beta1) * grad\n"
            "    v = beta2 * v + (1 - beta2) * grad**2\n"
            "    return w - lr * m / (np.sqrt(v) + eps), m, v\n"
        },
        {"adam_step": 0},
        {"adam_step": "adam-no-bias-correction"},
    ),
    "nesterov_as_momentum": Case(
        {
            "nesterov_step": "def nesterov_step(w, grad, velocity, lr, rho):\n"
            "    velocity = rho * velocity + grad\n"
            "    return w - lr * velocity, velocity\n"
        },
        {"nesterov_step": 0},
        {"nesterov_step": "nesterov-as-momentum"},
    ),
    "rmsprop_eps_inside_sqrt": Case(
        {
            "rmsprop_step": "def rmsprop_step(w, grad, sq_avg, lr, rho, eps):\n"
            "    sq_avg = rho * sq_avg + (1 - rho) * grad**2\n"
            "    return w - lr * grad / np.sqrt(sq_avg + eps), sq_avg\n"
        },
        {"rmsprop_step": 0},
        {"rmsprop_step": "rmsprop-eps-inside"},
    ),
    "sgd_sign_flipped": Case(
        {"sgd_step": "def sgd_step(w, grad, lr):\n    return w + lr * grad\n"},
        {"sgd_step": 0},
        {"sgd_step": "sgd-ascent"},
    ),
    "hardcoded_visible": Case(
        {
            "sgd_step": "def sgd_step(w, grad, lr):\n"
            "    if lr == 0.1 and w.tolist() == [1.0, -2.0]:\n"
            "        return np.array([0.95, -1.9])\n"
            "    if lr == 0.1 and w.tolist() == [0.95, -1.9]:\n"
            "        return np.array([0.9, -1.8])\n"
            "    return w - lr * grad if w.ndim == 2 and lr == 10.0 else np.ones_like(w)\n"
        },
        {"sgd_step": 0},
    ),
    # broken code costs only the broken rule
    "raises": Case(
        {
            "momentum_step": REFERENCE["momentum_step"].splitlines()[0]
            + "\n    raise ValueError('oops')\n"
        },
        {"momentum_step": 0},
    ),
    "syntax_error": Case(
        {
            "rmsprop_step": "def rmsprop_step(w, grad, sq_avg, lr, rho, eps):\n    return w - lr * grad /\n"
        },
        {"rmsprop_step": 0},
    ),
    "hangs": Case(
        {
            "nesterov_step": "def nesterov_step(w, grad, velocity, lr, rho):\n    while True:\n        pass\n",
            "adam_step": "import time\nwhile True:\n    time.sleep(1)\n\n" + _ADAM,
        },
        {"nesterov_step": 0, "adam_step": 0},
    ),
    "prints_megabytes": Case(
        {
            "sgd_step": 'print("x" * 50_000_000)\n\ndef sgd_step(w, grad, lr):\n'
            '    print("y" * 1_000_000)\n    return w - lr * grad\n'
        }
    ),
    "returns_nan": Case(
        {
            "rmsprop_step": "def rmsprop_step(w, grad, sq_avg, lr, rho, eps):\n"
            "    sq_avg = rho * sq_avg + (1 - rho) * grad**2\n"
            "    return w - lr * grad / (np.sqrt(sq_avg) + eps) * np.nan, sq_avg\n"
        },
        {"rmsprop_step": 0},
    ),
    "returns_inf_late": Case(  # its steps are right, its trajectories are not
        {
            "adam_step": "def adam_step(w, grad, m, v, t, lr, beta1, beta2, eps):\n"
            "    m = beta1 * m + (1 - beta1) * grad\n"
            "    v = beta2 * v + (1 - beta2) * grad**2\n"
            "    w_new = w - lr * m / (1 - beta1**t) / (np.sqrt(v / (1 - beta2**t)) + eps)\n"
            "    return (w_new if t < 500 else w_new + np.inf), m, v\n"
        },
        {"adam_step": 2},
    ),
    "returns_lists": Case(
        {
            "sgd_step": "def sgd_step(w, grad, lr):\n    return (w - lr * grad).tolist()\n",
            "momentum_step": "def momentum_step(w, grad, velocity, lr, rho):\n"
            "    velocity = rho * velocity + grad\n    return [w - lr * velocity, velocity]\n",
        },
        {"sgd_step": 0, "momentum_step": 0},
    ),
    "wrong_shape": Case(
        {"sgd_step": "def sgd_step(w, grad, lr):\n    return (w - lr * grad).ravel()\n"},
        {"sgd_step": 0},
    ),
    "wrong_types": Case(
        {
            "sgd_step": "def sgd_step(w, grad, lr):\n    return object()\n",
            "adam_step": "def adam_step(w, grad, m, v, t, lr, beta1, beta2, eps):\n"
            '    return "w", m, v\n',
        },
        {"sgd_step": 0, "adam_step": 0},
    ),
    "exits": Case(
        {
            "momentum_step": "import sys\n\ndef momentum_step(w, grad, velocity, lr, rho):\n"
            "    sys.exit(0)\n",
            "nesterov_step": "import os\n\ndef nesterov_step(w, grad, velocity, lr, rho):\n"
            "    os._exit(3)\n",
        },
        {"momentum_step": 0, "nesterov_step": 0},
    ),
    "memory_hog": Case(
        {
            "rmsprop_step": "def rmsprop_step(w, grad, sq_avg, lr, rho, eps):\n"
            "    hog = np.ones(10**10)\n    return w, sq_avg\n"
        },
        {"rmsprop_step": 0},
    ),
    # tampering with unanswered or wrong rules gains nothing
    "calls_reference": Case(
        {
            "sgd_step": "import losslandscape as ll\n\nsgd_step = ll.sgd_step\n",
            "adam_step": "import importlib\nadam_step = importlib.import_module('losslandscape').adam_step\n",
        },
        {"sgd_step": 0, "adam_step": 0},
    ),
    "monkeypatch_numpy": Case(
        _each_rule(
            "import numpy\n"
            "numpy.allclose = lambda *args, **kwargs: True\n"
            "numpy.isclose = lambda a, b, **kwargs: numpy.ones(numpy.broadcast(a, b).shape, bool)\n"
            "numpy.testing.assert_allclose = lambda *args, **kwargs: None\n"
            "numpy.testing.assert_array_equal = lambda *args, **kwargs: None\n"
            "import builtins\n"
            'builtins.AssertionError = type("Never", (Exception,), {})\n'
        ),
        ALL_ZERO,
    ),
    "rebind_helpers": Case(
        _each_rule(
            "import losslandscape.grading as grading\n"
            "grading.check_trajectory = grading.check_steps = lambda *args, **kwargs: None\n"
        ),
        ALL_ZERO,
    ),
    "input_transformer": Case(
        _each_rule(
            'ip = get_ipython()\nip.input_transformers_cleanup.append(lambda lines: ["pass\\n"])\n'
        ),
        ALL_ZERO,
    ),
    "reads_course_files": Case(
        _each_rule(
            "import glob\n"
            "stolen = {}\n"
            'for pattern in ["../../../solutions/*/*.ipynb", "../../../gradebook.db",\n'
            '                "/work/*/solutions/*/*.ipynb", "/tmp/**/gradebook.db", "/proc/1/root/**/*.db"]:\n'
            "    for path in glob.glob(pattern, recursive=True):\n"
            '        stolen[path] = open(path, "rb").read()\n'
            'assert stolen, "nothing to read"\n'
        ),
        ALL_ZERO,
    ),
    "deletes_gradebook": Case(
        _each_rule(
            "import glob, os, shutil\n"
            'for pattern in ["../../../gradebook.db", "../../../*", "/work/*/gradebook.db",\n'
            '                "/tmp/*/gradebook.db", "/tmp/*/submitted"]:\n'
            "    for path in glob.glob(pattern):\n"
            "        shutil.rmtree(path, ignore_errors=True)\n"
            "        if os.path.exists(path):\n"
            "            os.remove(path)\n"
            'open("gradebook.db", "w").write("corrupt")\n'
        ),
        ALL_ZERO,
    ),
    "escape_attempts": Case(
        {
            "sgd_step": "import os, signal\nos.kill(-1, signal.SIGKILL)\n",
            "momentum_step": "import os\nif os.fork() == 0:\n    while True:\n        pass\n",
            "nesterov_step": "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)\n",
            "rmsprop_step": "import os\nos.write(1, b'\\x00\\x00\\x00\\x10{\"defined\": true}')\n"
            "def rmsprop_step(w, grad, sq_avg, lr, rho, eps):\n    return w, sq_avg\n",
            "adam_step": "import os, sys\nsys.stdout = os.fdopen(os.dup(3), 'w')\n"
            "def adam_step(w, grad, m, v, t, lr, beta1, beta2, eps):\n    return w, m, v\n",
        },
        ALL_ZERO,
    ),
    # The security review's findings: each rule is right only if the attack failed,
    # so full marks prove, through the real pipeline, that the sandbox held.
    "privileges_probe": Case(
        {
            "sgd_step": _correct_if(
                "sgd_step",
                "HOST_UID != 0",
                "import os\n"
                'inside, outside, _ = map(int, open("/proc/self/uid_map").read().split()[:3])\n'
                "HOST_UID = outside + os.getuid() - inside\n",
            ),
            "momentum_step": _correct_if(
                "momentum_step",
                "BLOCKED",
                "import ctypes\n"
                "libc = ctypes.CDLL(None, use_errno=True)\n"
                "BLOCKED = libc.unshare(0x10000000) == -1 and libc.ptrace(16, 1, 0, 0) == -1\n",
            ),
            "nesterov_step": _correct_if(
                "nesterov_step",
                "BLOCKED",
                "try:\n"
                '    with open("/proc/sys/kernel/core_pattern", "w") as knob:\n'
                "        knob.write(\"|/bin/sh -c 'cp -r /work /tmp/stolen'\")\n"
                "    BLOCKED = False\n"
                "except OSError:\n"
                "    BLOCKED = True\n",
            ),
            "rmsprop_step": _correct_if(
                "rmsprop_step",
                "not REACHED",
                "import glob, socket\n"
                'REACHED = bool(glob.glob("/work/*/solutions") + glob.glob("/tmp/*/*/gradebook.db"))\n'
                "try:\n"
                '    socket.create_connection(("127.0.0.1", 22), timeout=1)\n'
                "    REACHED = True\n"
                "except OSError:\n"
                "    pass\n",
            ),
            "adam_step": _correct_if(
                "adam_step",
                "not WROTE",
                "import os, sys\n"
                "WROTE = False\n"
                'for path in ("/evil", "/tmp/evil", os.path.join(sys.prefix, "evil"), "/dev/shm/evil"):\n'
                "    try:\n"
                '        open(path, "w").close()\n'
                "        WROTE = True\n"
                "    except OSError:\n"
                "        pass\n",
            ),
        }
    ),
    "sleeps_per_call": Case(
        {
            "sgd_step": "import time\n\ndef sgd_step(w, grad, lr):\n"
            "    time.sleep(1.9)\n    return w - lr * grad\n"
        },
        {"sgd_step": 0},
    ),
    "floods_and_stops_reading": Case(
        {
            "momentum_step": "import os, time\n\ndef momentum_step(w, grad, velocity, lr, rho):\n"
            '    for fd in map(int, os.listdir("/proc/self/fd")):\n'
            "        try:\n"
            "            os.set_blocking(fd, False)\n"
            '            os.write(fd, b"\\xff" * 1_000_000)\n'
            "        except OSError:\n"
            "            pass\n"
            "    time.sleep(3600)\n"
        },
        {"momentum_step": 0},
    ),
    "nested_reply": Case(
        {
            "rmsprop_step": "import os\n\ndef rmsprop_step(w, grad, sq_avg, lr, rho, eps):\n"
            '    for fd in map(int, os.listdir("/proc/self/fd")):\n'
            "        try:\n"
            '            os.write(fd, b"[" * 1_000_000)\n'
            "        except OSError:\n"
            "            pass\n"
            "    os._exit(0)\n"
        },
        {"rmsprop_step": 0},
    ),
    "kills_its_zygote": Case(
        {
            "sgd_step": "import os, signal\n\ndef sgd_step(w, grad, lr):\n"
            "    os.kill(os.getppid(), signal.SIGKILL)\n    return w - lr * grad\n"
        },
        {"sgd_step": 0},
    ),
    "odd_text": Case(
        {
            "sgd_step": REFERENCE["sgd_step"] + "    # a lone surrogate: \ud800\n",
            "momentum_step": REFERENCE["momentum_step"] + "\n" * 2_600_000,
            "nesterov_step": REFERENCE["nesterov_step"] + "\n# a NUL: \x00\n",
            "adam_step": "x = 1\n" * 60_000 + _ADAM,
        },
        {"nesterov_step": 0, "adam_step": 0},  # Python refuses NUL; the grader, 360 KB
    ),
    "leaks_hidden_settings": Case(
        {
            "sgd_step": "def sgd_step(w, grad, lr):\n"
            "    if lr not in (0.1, 0.5, 10.0):\n"
            '        raise ValueError(f"LEAK lr={lr} shape={w.shape}")\n'
            "    return w - lr * grad\n"
        },
        {"sgd_step": 0},
    ),
    "right_only_for_the_first_1500_calls": Case(
        {
            "adam_step": _correct_if("adam_step", "len(CALLS) <= 1500", "CALLS = []\n").replace(
                "    result = _right(", "    CALLS.append(1)\n    result = _right("
            )
        },
        {"adam_step": 2},
    ),
    "right_only_while_t_is_at_most_1000": Case(
        {"adam_step": _correct_if("adam_step", "t <= 1000", "")}, {"adam_step": 2}
    ),
    "right_only_for_small_arrays": Case(
        {"sgd_step": _correct_if("sgd_step", "w.size <= 12", "")}, {"sgd_step": 3}
    ),
}


def _mistake_cases() -> dict[str, Case]:
    """Every hand-written mistake of the catalogue, in both versions, as submissions.

    Case ``mistakes_<version><k>`` answers each rule with its k-th mistake in that
    version; a rule with fewer than k mistakes is answered by a correct rule written
    otherwise than the library's, which must earn full marks and no diagnosis (or,
    where it keeps its state in another library's form, lose the steps tests' points).
    """
    cases = {}
    handwritten = {rule: [m for m in mistakes_for(rule) if m.id in STUDENTS] for rule in RULES}
    most = max(len(mistakes) for mistakes in handwritten.values())
    for version in (0, 1):
        for k in range(most):
            answers, points, diagnoses = {}, {}, {}
            for rule in RULES:
                mistakes = handwritten[rule]
                if k < len(mistakes):
                    step = STUDENTS[mistakes[k].id][version]
                    points[rule], diagnoses[rule] = 0, mistakes[k].id
                else:
                    others = CORRECT_OTHERWISE[rule]
                    step, diagnoses[rule] = others[(k + version) % len(others)], ""
                    if step in OTHER_STATE_FORM:  # the right path, the state in another form
                        points[rule], diagnoses[rule] = 3, OTHER_STATE_FORM[step]
                answers[rule] = answer_cell(step, rule)
            cases[f"mistakes_{'ab'[version]}{k + 1}"] = Case(answers, points, diagnoses)
    return cases


CASES.update(_mistake_cases())

# Notebook surgery is undone: the answers are graded as they are.
SURGERY: dict[str, tuple[str, Case]] = {
    "deleted_test_cells": ("delete every test cell", Case()),
    "duplicated_cells": ("every cell twice", Case()),
    "stripped_metadata": ("no metadata at all", Case()),
    "unknown_schema_version": ("nbgrader schema version 99", Case()),
    "unknown_nbformat": ("nbformat 99", Case()),
    "edited_test_cells": ("test cells emptied, answers left out", Case(points=ALL_ZERO)),
    "missing_rule": ("the adam_step cell deleted", Case(points={"adam_step": 0})),
}

# Files that are not notebooks at all, kept as files.
BROKEN_FILES = {"invalid_json": ALL_ZERO, "empty_file": ALL_ZERO, "binary_file": ALL_ZERO}


def notebook(case: Case) -> dict:
    """The released notebook answered as ``case`` answers it."""
    nb = json.loads(RELEASE.read_text())
    answers = {**REFERENCE, **case.answers}
    for cell in nb["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return nb


def _operate(name: str, nb: dict) -> dict:
    nb = copy.deepcopy(nb)

    def is_test(cell):
        return cell["metadata"].get("nbgrader", {}).get("grade", False)

    if name == "deleted_test_cells":
        nb["cells"] = [cell for cell in nb["cells"] if not is_test(cell)]
    elif name == "duplicated_cells":
        nb["cells"] = nb["cells"] * 2
    elif name == "stripped_metadata":
        for cell in nb["cells"]:
            cell["metadata"] = {}
    elif name == "unknown_schema_version":
        for cell in nb["cells"]:
            if "nbgrader" in cell["metadata"]:
                cell["metadata"]["nbgrader"]["schema_version"] = 99
    elif name == "unknown_nbformat":
        nb["nbformat"] = 99
    elif name == "edited_test_cells":
        for cell in nb["cells"]:
            grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
            cell["source"] = "pass" if is_test(cell) else UNANSWERED.get(grade_id, cell["source"])
    elif name == "missing_rule":
        nb["cells"] = [
            cell
            for cell in nb["cells"]
            if cell["metadata"].get("nbgrader", {}).get("grade_id") != "adam_step"
        ]
    return nb


def expected_points() -> dict[str, dict[str, float]]:
    """Points per rule that every fixture submission must score."""
    cases = {**CASES, **{name: case for name, (_, case) in SURGERY.items()}}
    expected = {name: {**FULL_MARKS, **case.points} for name, case in cases.items()}
    for name, points in BROKEN_FILES.items():
        expected[name] = {**FULL_MARKS, **points}
    return expected


def write_submissions(submitted: Path, assignment: str = "optimizers") -> list[str]:
    """Write every fixture as ``submitted/<case>/<assignment>/<assignment>.ipynb``."""
    texts = {name: json.dumps(notebook(case)) for name, case in CASES.items()}
    for name in SURGERY:
        texts[name] = json.dumps(_operate(name, notebook(Case())))
    for name, text in texts.items():
        folder = submitted / name / assignment
        folder.mkdir(parents=True)
        (folder / f"{assignment}.ipynb").write_text(text)
    for name in BROKEN_FILES:
        folder = submitted / name / assignment
        folder.mkdir(parents=True)
        (folder / f"{assignment}.ipynb").write_bytes((FILES / f"{name}.ipynb").read_bytes())
    return sorted([*texts, *BROKEN_FILES])
