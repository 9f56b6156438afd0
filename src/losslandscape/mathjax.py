"""The part of MathJax 3 that the book's pages ship, so formulas are typeset with no network.
(The grader's feedback pages need none: their formulas are MathML, see
:mod:`losslandscape.grading.feedback`.)

The files come from the pinned sphinx-mathjax-offline package (MathJax 3.2.2), which is
not loaded as a Sphinx extension: it would copy all 24 MB of MathJax. Shipped: the one
entry script (``tex-chtml.js``: TeX input with amsmath, CommonHTML output, the menu), the
web fonts that output fetches for the glyphs it draws, and the TeX extensions its
autoload fetches when a formula uses their macros. Not shipped: what only a reader's menu
choices fetch (the SVG renderer, the accessibility explorer and speech).
"""

from __future__ import annotations

import os
from importlib.metadata import distribution
from pathlib import Path

ROOT = Path(
    distribution("sphinx-mathjax-offline").locate_file("sphinx-mathjax-offline/static/mathjax")
)
ENTRY = "tex-chtml.js"
PARTS = (ENTRY, "output/chtml/fonts/woff-v2", "input/tex/extensions")
"""What the entry script fetches while it typesets, relative to it."""
UNUSED = frozenset({"all-packages.js"})
"""Loaded only when configured, never by autoload."""


def files() -> dict[str, Path]:
    """Every file shipped, by its path relative to the entry script's folder."""
    found = {}
    for part in PARTS:
        source = ROOT / part
        if source.is_file():
            found[part] = source
            continue
        for folder, folders, names in os.walk(source):
            folders.sort()
            for name in sorted(set(names) - UNUSED):
                path = Path(folder, name)
                found[path.relative_to(ROOT).as_posix()] = path
    return found
