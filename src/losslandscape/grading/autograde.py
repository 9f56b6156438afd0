"""nbgrader plugins that grade without ever running student code next to the tests.

nbgrader protects the text of its test cells, not the kernel they run in. Here
no kernel is shared: ``nbgrader_config.py`` swaps these classes into the
autograde and feedback pipelines, so plain ``nbgrader autograde`` and the
formgrader use them.

- :class:`TolerantExporter` reads any submission, even broken JSON, so one bad
  file costs its author the points and stops nothing else.
- :class:`RebuildFromRelease` rebuilds the notebook from the released one, with
  the instructor's cells (hidden tests included) from the gradebook, and takes
  only the answer cells' text from the submission.
- :class:`SandboxedExecute` runs each answer cell in its own sandbox and the
  instructor's cells (set-up and tests) in the grader, where a call of a
  student's rule is a call into its sandbox.
- :class:`HideTracebacks` keeps only the error message in feedback.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import warnings
from pathlib import Path

import nbformat
import numpy as np
from nbconvert.exporters import NotebookExporter
from nbformat.v4 import new_code_cell, new_notebook, new_output
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

from .sandbox import RuleProxy, Sandbox

MAX_SUBMISSION_BYTES = 20 << 20


class TolerantExporter(NotebookExporter):
    """Reads a submission however broken: what cannot be read becomes an empty answer."""

    def from_file(self, file_stream, resources=None, **kw):
        try:
            nb = nbformat.reads(file_stream.read(MAX_SUBMISSION_BYTES), as_version=4)
        except UnicodeDecodeError:
            nb = new_notebook()
        except Exception:  # bad JSON, unknown nbformat, anything: salvage what we can
            file_stream.seek(0)
            nb = _salvage(file_stream.read(MAX_SUBMISSION_BYTES))
        return self.from_notebook_node(nb, resources=resources, **kw)


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


class RebuildFromRelease(NbGraderPreprocessor):
    """Replace the submission by the released notebook holding the student's answers."""

    def preprocess(self, nb, resources):
        coursedir = CourseDirectory(config=self.config)
        info = resources["nbgrader"]
        path = Path(
            coursedir.format_path(coursedir.release_directory, ".", info["assignment"]),
            f"{info['notebook']}.ipynb",
        )
        released = nbformat.read(path, as_version=4)
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
                    cell.source = submitted.get(grade_id, fallback)
        return released, resources


class SandboxedExecute(NbGraderPreprocessor):
    """Execute the notebook without a kernel: answers in sandboxes, tests in the grader.

    Answer cells (solution code cells) each run in their own sandbox; cells
    nbgrader restores from the gradebook (locked and test cells) run here in
    one namespace, in order, with a proxy to each answer's function bound to
    its grade_id; other cells, the student's own, are not run.
    """

    max_output_chars = Integer(10_000, help="Printed output kept per cell").tag(config=True)

    def preprocess(self, nb, resources):
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        sandboxes = {
            id(cell): Sandbox(cell.metadata.nbgrader["grade_id"], cell.source)
            for cell in code
            if utils.is_solution(cell) and cell.metadata.nbgrader["grade_id"].isidentifier()
        }
        namespace = {"__name__": "__main__"}
        try:
            for sandbox in sandboxes.values():
                sandbox.wait_ready()
                if sandbox.defined:
                    namespace[sandbox.name] = RuleProxy(sandbox)
            for count, cell in enumerate(code, start=1):
                cell.outputs = []
                cell.execution_count = None
                if id(cell) in sandboxes:
                    error = sandboxes[id(cell)].error
                    if error:
                        cell.outputs = [_error_output(*_split(error))]
                elif utils.is_locked(cell) or utils.is_grade(cell):
                    cell.outputs = self._run(cell.source, namespace)
                    cell.execution_count = count
        finally:
            for sandbox in sandboxes.values():
                sandbox.close()
        return nb, resources

    def _run(self, source: str, namespace: dict) -> list:
        printed = io.StringIO()
        outputs = []
        with (
            warnings.catch_warnings(),
            np.errstate(all="ignore"),
            contextlib.redirect_stdout(printed),
        ):
            warnings.simplefilter("ignore")
            try:
                exec(compile(source, "<cell>", "exec"), namespace)
                error = None
            except Exception as exc:
                error = _error_output(type(exc).__name__, str(exc))
        text = printed.getvalue()
        if text:
            if len(text) > self.max_output_chars:
                text = text[: self.max_output_chars] + "\n... (output truncated)\n"
            outputs.append(new_output("stream", name="stdout", text=text))
        if error:
            outputs.append(error)
        return outputs


def _split(error: str) -> tuple[str, str]:
    name, _, message = error.partition(": ")
    return (name, message) if name.isidentifier() else ("Error", error)


def _error_output(name: str, message: str):
    # Only the message: a traceback would show the grader's code, and the
    # hidden tests' lines if they were the ones that failed.
    return new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])


class HideTracebacks(NbGraderPreprocessor):
    """In feedback, shorten every traceback to its error message."""

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
