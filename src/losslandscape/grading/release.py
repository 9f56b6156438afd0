"""The released notebook links each chapter it names to the published book.

The instructor's notebook links chapters by their path in the repository
(``../../book/03_sgd.ipynb``), which works where the repository is. A student's
copy, its feedback page and the published book are elsewhere, so
``nbgrader generate_assignment`` rewrites every such link to the chapter's page in
the published book, whose address is set in one place: ``html.baseurl`` in the
book's ``_config.yml``, next to ``nbgrader_config.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

CHAPTER_LINK = re.compile(r"\]\((?:\.\./)+(book/[\w-]+)\.(?:ipynb|md)(#[\w-]+)?\)")
"""A markdown link to a chapter by its path from the notebook's folder, with any anchor."""


def published_url(book_config: Path) -> str:
    """The published book's address, ``html.baseurl`` in ``book_config``, ending in ``/``."""
    try:
        config = yaml.safe_load(book_config.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ValueError(
            f"cannot read the book's configuration {book_config} ({exc.strerror}); the released "
            "notebook's chapter links take the published book's address from its html.baseurl"
        ) from None
    url = (config.get("html") or {}).get("baseurl")
    if not isinstance(url, str) or not re.match(r"https?://", url):
        raise ValueError(
            f"{book_config}: html.baseurl must be the published book's http(s) address, got {url!r}"
        )
    return url if url.endswith("/") else f"{url}/"


class LinkToPublishedBook(NbGraderPreprocessor):
    """Rewrite the chapter links of markdown cells to pages of the published book.

    Runs first in ``generate_assignment``, so the checksums and the copies of the
    cells nbgrader keeps in the gradebook are those of the rewritten text.
    """

    base_url = Unicode(help="The published book's address, ending in /").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            cell.source = CHAPTER_LINK.sub(rf"]({self.base_url}\1.html\2)", cell.source)
        return cell, resources
