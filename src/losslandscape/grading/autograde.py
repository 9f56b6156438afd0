"""The autograde phase: nbgrader plugins that grade without ever running student code
next to the tests.

nbgrader protects the text of its test cells, not the kernel they run in. Here
no kernel is shared: ``nbgrader_config.py`` swaps these classes into the
autograde pipeline, so plain ``nbgrader autograde`` and the formgrader use them.
The tests they run call :mod:`.checks`; what those find is stored for
:mod:`.report`, and the feedback phase's plugins are in :mod:`.feedback`.

- :class:`TolerantExporter` checks that the sandbox can run and that every
  student id is safe before anything is graded, and reads any submission,
  even broken JSON, so one bad file costs its author the points and stops
  nothing else.
- :class:`RebuildFromRelease` rebuilds the notebook from the released one
  with the instructor's cells (hidden tests included) from the gradebook, and
  takes only the answer cells' text from the submission.
- :class:`SandboxedExecute` runs each answer in its own sandbox and the
  instructor's cells (set-up and tests) in the grader, where a call of a
  student's rule is a job in its sandbox. Rules are graded side by side.
- :class:`CommentDiagnoses` puts each rule's diagnosis under its answer as the
  autograder's comment.

Whatever a submission holds, it gets a grade: what cannot be graded scores 0
with the reason in the log and in its feedback. A fault of the machine or of
the grader (a sandbox that cannot start, a grader bug) is never the student's:
that submission's run fails, nothing is recorded for it, its earlier grades
stand, and nbgrader exits non-zero, as it does for the instructor's errors (no
sandbox, an unsafe student id, no release).
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import re
import time
import warnings
from pathlib import Path

import nbformat
import numpy as np
from nbconvert.exporters import NotebookExporter
from nbformat.v4 import new_code_cell, new_notebook, new_output
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.converters.base import NbGraderException
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float, Integer

from .findings import recording
from .sandbox import (
    Budget,
    GraderFault,
    RuleProxy,
    SandboxError,
    SandboxUnavailable,
    check_prerequisites,
)

MAX_SUBMISSION_BYTES = 64 << 20
"""A notebook file larger than this is not read (the release is about 25 KB)."""
MAX_ANSWER_CHARACTERS = 256 << 10
"""An answer cell longer than this, once trailing blank space is dropped, is not run."""
STUDENT_ID = re.compile(r"[\w@+-][\w.@+-]*")
"""Letters, digits and ``_ . @ + -``, not starting with a dot: no glob characters,
no path separators, nothing hidden."""
METADATA = "losslandscape"
"""The autograded notebook's metadata key: why it could not be graded, and what each
rule's tests found (see :class:`.findings.Finding`), for the class report. In the
released notebook, ``"answers_in_order": true`` under it runs every answer cell after the
answer cells above it, as a kernel would (see :func:`after_earlier_answers`)."""
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


class TolerantExporter(NotebookExporter):
    """Reads a submission however broken: what cannot be read becomes an empty answer.

    Made once per grading run, before the first submission: it refuses to
    start when the sandbox cannot run or a student id is unsafe.
    """

    def __init__(self, **kw):
        super().__init__(**kw)
        try:
            check_prerequisites()
        except SandboxUnavailable as exc:
            self.log.error("Cannot autograde: %s", exc)
            raise NbGraderException(str(exc)) from None
        unsafe = sorted(_unsafe_student_ids(self.parent))
        for student in unsafe:
            self.log.error(
                "Cannot autograde: the student id %r is unsafe (ids may hold letters, digits "
                "and _ . @ + -, and may not start with a dot); rename its folder",
                student,
            )
        if unsafe:
            raise NbGraderException(f"unsafe student ids: {', '.join(map(repr, unsafe))}")

    def from_file(self, file_stream, resources=None, **kw):
        stream = getattr(file_stream, "buffer", file_stream)  # bytes: decode errors are ours
        data = stream.read(MAX_SUBMISSION_BYTES + 1)
        problem = None
        try:
            if len(data) > MAX_SUBMISSION_BYTES:
                problem = f"the notebook file is larger than {MAX_SUBMISSION_BYTES >> 20} MiB"
                nb = new_notebook()
            else:
                text = data.decode("utf-8") if isinstance(data, bytes) else data
                nb = nbformat.reads(text, as_version=4)
        except UnicodeDecodeError:
            problem, nb = "the file is not a text (UTF-8) notebook", new_notebook()
        except Exception:  # bad JSON, unknown nbformat, anything: salvage what we can
            nb = _salvage(text)
            if not nb.cells:
                problem = "the file is not a notebook that can be read (is it broken JSON?)"
        if problem:
            nb.metadata[METADATA] = {"ungradable": problem}
        return self.from_notebook_node(nb, resources=resources, **kw)


def _unsafe_student_ids(converter) -> set[str]:
    """The student ids this run would grade, or could mistake, that are not :data:`STUDENT_ID`.

    nbgrader globs the submission folders, so a folder named ``[c]ontrol``
    would pick up ``control``'s notebook, and one starting with a dot would be
    skipped without a word: both are looked for here, before nbgrader does.
    """
    coursedir = getattr(converter, "coursedir", None)
    if coursedir is None:
        return set()
    ids = set()
    if coursedir.student_id != "*":
        ids.add(coursedir.student_id)
    else:
        submitted = Path(coursedir.root, coursedir.submitted_directory)
        if submitted.is_dir():
            ids |= {folder.name for folder in submitted.iterdir() if folder.is_dir()}
    pattern = converter._format_source("(?P<assignment_id>.*)", "(?P<student_id>.*)", escape=True)
    for folder in getattr(converter, "assignments", {}):
        match = re.match(pattern, folder)
        ids.add(match.group("student_id") if match else folder)
    return {student for student in ids if not STUDENT_ID.fullmatch(student)}


def _salvage(text) -> nbformat.NotebookNode:
    """The code cells of a notebook nbformat refuses, with their nbgrader metadata."""
    nb = new_notebook()
    try:
        cells = json.loads(text)["cells"]
    except Exception:
        return nb
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(map(str, source)) if isinstance(source, list) else str(source)
        metadata = cell.get("metadata")
        nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
        new = new_code_cell(source)
        if isinstance(nbgrader, dict) and isinstance(nbgrader.get("grade_id"), str):
            new.metadata["nbgrader"] = {"grade_id": nbgrader["grade_id"]}
        nb.cells.append(new)
    return nb


def answers(nb) -> dict[str, str]:
    """The source of each answer in a submission, by grade_id.

    A cell counts for the grade_id in its metadata or, when the metadata is
    gone, for the function it defines. When several cells qualify, the last
    wins, as it would when the notebook runs top to bottom.
    """
    found = {}
    for cell in nb.cells:
        if cell.get("cell_type") != "code" or not isinstance(cell.get("source"), str):
            continue
        metadata = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = metadata.get("grade_id") if isinstance(metadata, dict) else None
        if isinstance(grade_id, str):
            found[grade_id] = cell.source
        for name in re.findall(r"^def\s+([A-Za-z_]\w*)\s*\(", cell.source, re.MULTILINE):
            found[f"def {name}"] = cell.source
    return found


def clean_answer(source: str) -> tuple[str, str | None]:
    """The answer as it is run, and why it cannot be run (or None).

    Lone UTF-16 surrogates (which no file can hold) become U+FFFD and
    trailing blank space goes; an answer still longer than
    :data:`MAX_ANSWER_CHARACTERS` is not run.
    """
    source = _LONE_SURROGATE.sub("\ufffd", source).rstrip()
    if len(source) > MAX_ANSWER_CHARACTERS:
        return "", (
            f"the answer cell holds {len(source):,} characters; the grader runs answers of "
            f"up to {MAX_ANSWER_CHARACTERS:,}"
        )
    return source, None


class RebuildFromRelease(NbGraderPreprocessor):
    """Replace the submission by the released notebook holding the student's answers.

    Grades change only when ``SaveAutoGrades`` stores the new ones, so a run
    that fails on the way leaves the earlier grades as they were.
    """

    def preprocess(self, nb, resources):
        coursedir = CourseDirectory(config=self.config)
        info = resources["nbgrader"]
        path = Path(
            coursedir.format_path(coursedir.release_directory, ".", info["assignment"]),
            f"{info['notebook']}.ipynb",
        )
        released = nbformat.read(path, as_version=4)
        problem = nb.metadata.get(METADATA, {}).get("ungradable")
        if problem:
            released.metadata[METADATA] = {
                **released.metadata.get(METADATA, {}),
                "ungradable": problem,
            }
            self.log.warning("%s cannot be graded: %s", info["student"], problem)
        submitted = answers(nb)
        with Gradebook(info["db_url"]) as gradebook:
            for cell in released.cells:
                if not utils.is_solution(cell) and not utils.is_locked(cell):
                    continue
                grade_id = cell.metadata.nbgrader["grade_id"]
                if utils.is_locked(cell):  # the instructor's text, hidden tests included
                    stored = gradebook.find_source_cell(
                        grade_id, info["notebook"], info["assignment"]
                    )
                    cell.source = stored.source
                elif cell.cell_type == "code":
                    fallback = submitted.get(f"def {grade_id}", cell.source)
                    cell.source, answer_problem = clean_answer(submitted.get(grade_id, fallback))
                    if answer_problem:
                        cell.metadata[METADATA] = {"problem": answer_problem}
                        self.log.warning("%s, %s: %s", info["student"], grade_id, answer_problem)
        return released, resources


class SandboxedExecute(NbGraderPreprocessor):
    """Execute the notebook without a kernel: answers in sandboxes, tests in the grader.

    Answer cells (solution code cells) each get their own sandbox; cells
    nbgrader restores from the gradebook run here: first the set-up cells in
    order, then the test cells of each rule, in order, each rule in its own
    thread with its own copy of the namespace (a test cell belongs to the rule
    its grade_id names: ``test_<rule>_...``). Other cells, the student's own,
    are not run.
    """

    rule_seconds = Float(20.0, help="Wall-clock seconds one rule may take in all").tag(config=True)
    submission_seconds = Float(90.0, help="Wall-clock seconds one submission may take").tag(
        config=True
    )
    max_output_chars = Integer(10_000, help="Printed output kept per cell").tag(config=True)

    def preprocess(self, nb, resources):
        started = time.monotonic()
        student = resources.get("nbgrader", {}).get("student", "?")
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        for cell in code:
            cell.outputs = []
            cell.execution_count = None
        problem = nb.metadata.get(METADATA, {}).get("ungradable")
        findings = {}
        if problem:
            for cell in code:
                if utils.is_grade(cell):
                    cell.outputs = [_error_output("Ungradable", f"not graded: {problem}")]
        else:
            try:
                self._execute(code, findings, nb.metadata.get(METADATA, {}))
            except (SandboxUnavailable, GraderFault) as exc:
                self.log.error("Cannot autograde %s: %s", student, exc)
                raise
        nb.metadata[METADATA] = {
            **nb.metadata.get(METADATA, {}),
            "findings": {rule: finding.stored() for rule, finding in sorted(findings.items())},
        }
        points = sum(
            float(cell.metadata.nbgrader.get("points", 0))
            for cell in code
            if utils.is_grade(cell) and not any(o.output_type == "error" for o in cell.outputs)
        )
        total = sum(
            float(cell.metadata.nbgrader.get("points", 0)) for cell in code if utils.is_grade(cell)
        )
        self.log.info(
            "graded %s: %g of %g points in %.1f s",
            student,
            points,
            total,
            time.monotonic() - started,
        )
        return nb, resources

    def _execute(self, code: list, findings: dict, released: dict) -> None:
        submission = Budget(self.submission_seconds)
        answers = {
            cell.metadata.nbgrader["grade_id"]: cell
            for cell in code
            if utils.is_solution(cell) and cell.metadata.nbgrader["grade_id"].isidentifier()
        }
        sources = {name: cell.source for name, cell in answers.items()}
        if released.get("answers_in_order"):
            names = list(sources)
            sources = {
                name: after_earlier_answers([sources[n] for n in names[:i]], sources[name])
                for i, name in enumerate(names)
            }
        namespace = {"__name__": "__main__"}
        groups: dict[str, list] = {name: [] for name in answers}
        others = []
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for count, cell in enumerate(code, start=1):
                if not (utils.is_locked(cell) or utils.is_grade(cell)) or utils.is_solution(cell):
                    continue
                cell.execution_count = count
                rule = rule_of(cell.metadata.nbgrader.get("grade_id", ""), answers)
                if rule is not None:
                    groups[rule].append(cell)
                elif utils.is_grade(cell):
                    others.append(cell)
                else:  # set-up: everything the tests share
                    cell.outputs = self._run(cell.source, namespace)
            proxies = {}
            try:
                # Each rule in its own thread, from its sandbox's start to its last
                # test, so its budget counts its own time only.
                with concurrent.futures.ThreadPoolExecutor(max(1, len(answers))) as pool:
                    futures = [
                        pool.submit(
                            self._grade_rule,
                            name,
                            cell,
                            sources[name],
                            groups[name],
                            namespace,
                            submission,
                            proxies,
                            findings,
                        )
                        for name, cell in answers.items()
                    ]
                    for future in futures:
                        future.result()
                for cell in others:
                    cell.outputs = self._run(cell.source, {**namespace, **proxies})
            finally:
                for proxy in proxies.values():
                    proxy.close()

    def _grade_rule(
        self, name, answer, source, tests, namespace, submission, proxies, findings
    ) -> None:
        """Start the rule's sandbox on ``source``, show what its answer cell did, run its tests.

        What the tests find wrong (a mistake named from the rule's paths, say) is
        put into ``findings`` for the class report.

        Should the machine fail the sandbox, even where a test caught the error,
        :class:`SandboxUnavailable` is raised: the whole submission fails and
        nothing of it is recorded. So does any error of the grader's own.
        """
        problem = answer.metadata.get(METADATA, {}).get("problem")
        proxy = RuleProxy(
            name, source, (Budget(self.rule_seconds), submission), unavailable=problem
        )
        proxies[name] = proxy
        answer.outputs = _definition_outputs(proxy)
        scope = {**namespace, name: proxy}
        with recording() as found:
            for cell in tests:
                cell.outputs = self._run(cell.source, scope)
        if proxy.machine_fault is not None:
            raise proxy.machine_fault
        findings.update(found)

    def _run(self, source: str, namespace: dict) -> list:
        printed = io.StringIO()
        namespace["print"] = _printer(printed)
        error = None
        try:
            exec(compile(source, "<cell>", "exec"), namespace)
        except (SandboxUnavailable, GraderFault):
            raise
        except Exception as exc:
            error = _error_output(type(exc).__name__, str(exc))
        outputs = []
        text = printed.getvalue()
        if text:
            if len(text) > self.max_output_chars:
                text = text[: self.max_output_chars] + "\n... (output truncated)\n"
            outputs.append(new_output("stream", name="stdout", text=text))
        if error:
            outputs.append(error)
        return outputs


def after_earlier_answers(earlier: list[str], source: str) -> str:
    """The answer ``source`` as a kernel runs it after the ``earlier`` answer cells: each of
    those first, on its own, ignoring what it raises (its own tests show that), so a helper
    defined above (a ``sigmoid``, say) is there, as it is in the student's notebook."""
    if not earlier:
        return source
    return "\n".join(
        [
            f"for _earlier_answer in {tuple(earlier)!r}:",
            "    try:",
            "        exec(compile(_earlier_answer, '<earlier answer cell>', 'exec'))",
            "    except BaseException:",
            "        pass",
            "del _earlier_answer",
            f"exec(compile({source!r}, '<answer cell>', 'exec'))",
        ]
    )


def _printer(stream):
    def printer(*args, **kwargs):
        kwargs["file"] = stream
        print(*args, **kwargs)

    return printer


def rule_of(grade_id: str, rules) -> str | None:
    """The rule a test cell's grade_id names (``test_<rule>_...``), or None."""
    matches = [rule for rule in rules if grade_id.startswith(f"test_{rule}_")]
    return max(matches, key=len, default=None)


def _definition_outputs(proxy: RuleProxy) -> list:
    """What the answer cell shows: nothing, or why it does not define its rule."""
    try:
        reply = proxy.run({"kind": "define"})
    except SandboxError as exc:
        return [_error_output("SandboxError", str(exc))]
    if "undefined" in reply:
        return [_error_output(*_split(str(reply["undefined"])[:500]))]
    if isinstance(reply.get("error"), str):
        return [_error_output(*_split(reply["error"][:500]))]
    return []


def _split(error: str) -> tuple[str, str]:
    name, _, message = error.partition(": ")
    return (name, message) if name.isidentifier() else ("Error", error)


def _error_output(name: str, message: str):
    # Only the message: a traceback would show the grader's code, and the
    # hidden tests' lines if they were the ones that failed.
    return new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])


class CommentDiagnoses(NbGraderPreprocessor):
    """Put each rule's diagnosis under its answer as the autograder's comment.

    The formgrader shows it to the instructor next to the student's code, and the
    feedback page to the student, under their answer. Runs after ``SaveAutoGrades``,
    which clears the autograder's comments of answered cells. The text is the
    diagnosis's summary (no setting and no weights) as written: the formgrader shows it
    as plain text, and the course's feedback template shows this comment as text too,
    where nbgrader's would render it as Markdown.
    """

    def preprocess(self, nb, resources):
        findings = nb.metadata.get(METADATA, {}).get("findings", {})
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            for cell in nb.cells:
                if not utils.is_solution(cell):
                    continue
                grade_id = cell.metadata.nbgrader["grade_id"]
                message = findings.get(grade_id, {}).get("message")
                if message:
                    comment = gradebook.find_comment(
                        grade_id, info["notebook"], info["assignment"], info["student"]
                    )
                    comment.auto_comment = message
            gradebook.db.commit()
        return nb, resources
