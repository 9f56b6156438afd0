"""The feedback page as a student reads it: one file, every test named, every message whole.

``nbgrader generate_feedback`` renders ``feedback/<student>/<assignment>/<notebook>.html``
with nbgrader's ``feedback`` template (``nbgrader/server_extensions/formgrader/templates``),
whose header loads MathJax 2 from a CDN; its summary calls every test "Test cell"; and an
error message's ``<pre>`` does not wrap. ``nbgrader release_feedback`` hands students the
page alone, and a Jupyter server serves it from ``/files/`` as a sandboxed page whose other
requests go to the login page: whatever the page shows must be inside it. ``nbgrader_config.py``
renders it with :class:`FeedbackExporter` and the course's template,
``nbgrader_templates/course_feedback`` (in the library, next to this file), which extends
nbgrader's and loads no script:

- :class:`FeedbackExporter` writes every formula of the markdown as MathML, which browsers
  draw themselves; a formula it cannot convert stops the page's generation
  (:class:`UnconvertibleFormula`) rather than reach the student as TeX.
- :func:`summary_title` names a test in the summary after what it checks.

The feedback phase follows :mod:`.autograde`; before the page is rendered, the
preprocessors ``nbgrader_config.py`` puts in ``GenerateFeedback``'s pipeline drop the
hidden tests (:class:`HideHiddenTests`) and shorten every traceback to its message
(:class:`HideTracebacks`).
"""

from __future__ import annotations

import ast
import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jinja2
import nbgrader
from latex2mathml import commands
from latex2mathml.converter import convert_to_element
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from traitlets import List

TEMPLATES = Path(__file__).resolve().parent / "nbgrader_templates"
"""The course's nbconvert templates, shipped with the library, so any course folder that
uses this ``nbgrader_config.py`` (a test's, say) renders its feedback with them."""
NBGRADER_TEMPLATES = Path(nbgrader.__file__).parent / "server_extensions/formgrader/templates"
"""Where nbgrader's ``feedback`` template is, which the course's extends."""

ENVIRONMENTS = frozenset(
    name.removeprefix("\\") for name in (*commands.MATRICES, commands.ALIGN, commands.ALIGNSTAR)
)
"""The ``\\begin{...}`` environments latex2mathml lays out; it would drop any other's name."""


class UnconvertibleFormula(ValueError):
    """A formula that latex2mathml cannot write as MathML."""


def mathml(tex: str, display: bool) -> str:
    """``tex`` as a MathML ``<math>`` element, or :class:`UnconvertibleFormula`."""
    unknown = set(re.findall(r"\\begin\{([^}]*)\}", tex)) - ENVIRONMENTS
    if unknown:
        raise UnconvertibleFormula(f"no MathML for the environment {sorted(unknown)} in ${tex}$")
    try:
        element = convert_to_element(tex, display="block" if display else "inline")
    except Exception as exc:  # latex2mathml's errors share no base class
        raise UnconvertibleFormula(f"no MathML for ${tex}$: {exc!r}") from exc
    # latex2mathml keeps symbols as character references in the text (its own convert()
    # unescapes the whole string, tags and a \text{a<b} alike): make them characters.
    for node in element.iter():
        node.text = node.text and html.unescape(node.text)
    # It passes a command it does not know through as text (<mi>\foo</mi>).
    left = [text for text in element.itertext() if "\\" in text]
    if left:
        raise UnconvertibleFormula(f"no MathML for {', '.join(left)} in ${tex}$")
    return ET.tostring(element, encoding="unicode")


class MathMLRenderer(IPythonRenderer):
    """nbconvert's markdown renderer, with formulas as MathML instead of TeX for MathJax."""

    def block_math(self, body: str) -> str:
        return mathml(body, display=True)

    def inline_math(self, body: str) -> str:
        return mathml(body, display=False)

    def latex_environment(self, name: str, body: str) -> str:
        return mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter, rendering markdown with :class:`MathMLRenderer`."""

    @jinja2.pass_context
    def markdown2html(self, context, source):
        # HTMLExporter.markdown2html, but for the renderer
        cell = context.get("cell", {})
        renderer = MathMLRenderer(
            escape=False,
            attachments=cell.get("attachments", {}),
            embed_images=self.embed_images,
            path=context.get("resources", {}).get("metadata", {}).get("path", ""),
            anchor_link_text=self.anchor_link_text,
            exclude_anchor_links=self.exclude_anchor_links,
            **self.lexer_options,
        )
        return MarkdownWithMath(renderer=renderer).render(source)


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


class _TakesDisplayPriority(NbGraderPreprocessor):
    """Accepts the ``display_data_priority`` that nbconvert's HTML exporter gives everyone.

    nbgrader's preprocessors declare it without ``config=True``, so traitlets
    warns on every ``generate_feedback`` that the option is not recognized.
    """

    display_data_priority = List().tag(config=True)


class HideHiddenTests(_TakesDisplayPriority, ClearHiddenTests):
    """nbgrader's ClearHiddenTests, without the warning."""


class HideTracebacks(_TakesDisplayPriority):
    """In feedback, shorten every traceback to its error message."""

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
