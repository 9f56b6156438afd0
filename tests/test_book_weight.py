"""The built book is light (issue 10): its size and what each page fetches.

Each page loads plotly.js only when it shows a figure and MathJax only from the book's own
files (``book/_ext/offline_assets.py``). How soon each chapter draws is a timing, measured
by ``benchmarks/book.py`` (``make bench``), not tested here.
"""

import pytest
import yaml

from tests.browser import ROOT, Page

pytestmark = pytest.mark.slow

MAX_BYTES = 20_000_000


def _pages(reference: bool) -> list[str]:
    """The chapters (the root and every part but the reference), or the reference's pages."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    parts = [p for p in toc["parts"] if (p["caption"] == "Reference") == reference]
    pages = [ch["file"] for part in parts for ch in part["chapters"]]
    return pages if reference else [toc["root"], *pages]


CHAPTERS = _pages(reference=False)
# The API reference has formulas but no figure; Sphinx's own pages have neither.
REFERENCE = _pages(reference=True)
PAGES = [*CHAPTERS, *REFERENCE, "search", "genindex", "py-modindex"]

# Every file the page fetched, from Chromium's resource timing, with its HTTP status.
FETCHED = """performance.getEntriesByType('resource').map(e => ({
    url: e.name, status: e.responseStatus}))"""


def _open(browser, server, page):
    opened = Page(browser, f"{server}/{page}.html")
    fetched = opened.page.evaluate(FETCHED)
    return opened, fetched


def test_the_book_weighs_at_most_20_mb(book_html):
    sizes = {
        str(path.relative_to(book_html)): path.stat().st_size
        for path in book_html.rglob("*")
        if path.is_file()
    }
    total = sum(sizes.values())
    largest = sorted(sizes.items(), key=lambda item: -item[1])[:8]
    print(f"\n_build/html: {total / 1e6:.1f} MB in {len(sizes)} files; largest:")
    for name, size in largest:
        print(f"  {size / 1e6:5.2f} MB  {name}")
    assert total <= MAX_BYTES, f"{total / 1e6:.1f} MB; largest: {largest}"


def test_plotly_is_fetched_by_the_pages_with_a_figure_only(browser, server):
    with_figure = []
    for page in PAGES:
        opened, fetched = _open(browser, server, page)
        figures = opened.figures()
        plotly = [f["url"] for f in fetched if "plotly.min.js" in f["url"]]
        if figures:
            with_figure.append(page)
            assert len(plotly) == 1, (page, plotly)
            assert all(figure["drawn"] >= 1 for figure in figures), (page, figures)
        else:
            assert plotly == [], page
        assert opened.errors == [], page
        opened.page.close()
    # Both kinds of page were seen, so neither branch above checked nothing.
    assert set(CHAPTERS) == set(with_figure)


def test_mathjax_typesets_every_page_from_the_books_own_files(browser, server):
    for page in PAGES:
        opened, fetched = _open(browser, server, page)
        mathjax = [f for f in fetched if "/_static/mathjax/" in f["url"]]
        if page in CHAPTERS + REFERENCE:  # every chapter has formulas, and the API page
            assert opened.page.locator("mjx-container").count() > 0, page
            assert mathjax, page
        assert opened.page.locator("mjx-merror").count() == 0, page
        assert [f for f in mathjax if f["status"] != 200] == [], page
        # Requests that leave the server are blocked and recorded as errors (tests/browser.py).
        assert opened.errors == [], page
        opened.page.close()
