"""The feedback page as a student reads it: offline, every test named, every message whole.

``nbgrader generate_feedback`` renders ``feedback/<student>/<assignment>/<notebook>.html``
with nbgrader's ``feedback`` template (``nbgrader/server_extensions/formgrader/templates``),
whose header calls nbconvert's ``mathjax()`` macro without the exporter's ``mathjax_url``,
so the page loads MathJax 2 from a CDN whatever is configured; its summary calls every test
"Test cell"; and an error message's ``<pre>`` does not wrap. ``nbgrader_config.py`` renders
the page with the course's template, ``nbgrader_templates/course_feedback`` (in the library,
next to this file), which extends nbgrader's and takes the place of nbconvert's
``mathjax.html.j2``, with the two helpers here:

- :class:`OfflineMathJax` writes MathJax into ``mathjax/`` next to the page, through
  nbconvert's writer like any support file: the same part of the same MathJax 3.2.2 as the
  book ships (:mod:`losslandscape.mathjax`), about 1.8 MB for each student's folder. Every
  page of an assignment shares the one copy.
- :func:`summary_title` names a test in the summary after what it checks.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import nbgrader

from .. import mathjax
from .autograde import _TakesDisplayPriority

TEMPLATES = Path(__file__).resolve().parent / "nbgrader_templates"
"""The course's nbconvert templates, shipped with the library, so any course folder that
uses this ``nbgrader_config.py`` (a test's, say) renders its feedback with them."""
NBGRADER_TEMPLATES = Path(nbgrader.__file__).parent / "server_extensions/formgrader/templates"
"""Where nbgrader's ``feedback`` template is, which the course's extends."""
MATHJAX_FOLDER = "mathjax"
MATHJAX_URL = f"{MATHJAX_FOLDER}/{mathjax.ENTRY}"
"""Where the page loads MathJax from, relative to it (``mathjax.html.j2`` says the same)."""


@functools.cache
def mathjax_files() -> dict[str, bytes]:
    """The content of every MathJax file the page may fetch, by its path relative to the page."""
    return {f"{MATHJAX_FOLDER}/{name}": path.read_bytes() for name, path in mathjax.files().items()}


class OfflineMathJax(_TakesDisplayPriority):
    """Write the MathJax that the page loads into ``mathjax/`` next to it.

    The files go into the exporter's ``outputs``, which nbconvert's writer writes into
    the page's folder, as it writes a notebook's extracted figures.
    """

    def preprocess(self, nb, resources):
        resources.setdefault("outputs", {}).update(mathjax_files())
        # The writer logs "Support files will be in <output_files_dir>/": say where they are.
        resources["output_files_dir"] = MATHJAX_FOLDER
        return nb, resources


def summary_title(cell) -> str:
    """What a test cell checks, as the feedback's summary names it: its docstring's first line.

    The course's tests open with one, written for the student (``\"\"\"adam_step: returns
    (w, m, v), bias correction with t from 1, one and two steps by hand.\"\"\"``); the
    summary shows it without the full stop, as a title. A test without one is named by
    its grade_id.
    """
    try:
        docstring = ast.get_docstring(ast.parse(cell.source))
    except (SyntaxError, ValueError):  # not Python (a magic, say), or a NUL
        docstring = None
    first_line = docstring.splitlines()[0].strip().removesuffix(".") if docstring else ""
    return first_line or cell.metadata.nbgrader.grade_id
