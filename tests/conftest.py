import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import losslandscape as ll
from losslandscape.data import ENV_VAR, bundled_path
from tests.browser import CHROMIUM, CHROMIUM_ARGS, ROOT, QuietHandler
from tests.deployment import shared_env, unix_user  # noqa: F401 (fixtures)


def pytest_configure(config):
    # Every test, and every process a test starts, computes on the bundled subset:
    # where keras can download MNIST, the default loader would bring all 60,000
    # images and change every number that depends on the data. The loader's own
    # tests (test_data.py) take this away and simulate keras both delivering and failing.
    os.environ[ENV_VAR] = str(bundled_path())


@pytest.fixture(scope="session")
def mnist():
    """The bundled subset: the first 6,309 training images of MNIST."""
    return ll.load_mnist(bundled_path())


@pytest.fixture(scope="session")
def landscape(mnist):
    return ll.Landscape(100, data=mnist)


@pytest.fixture(scope="session")
def book_html(tmp_path_factory):
    """The book, built in this session exactly as ``make book`` builds it.

    While working on one test, ``LOSSLANDSCAPE_BOOK_HTML=_build/html`` reuses a built book.
    """
    if os.environ.get("LOSSLANDSCAPE_BOOK_HTML"):
        return Path(os.environ["LOSSLANDSCAPE_BOOK_HTML"]).resolve()
    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [jupyter_book, "build", ".", "--warningiserror", "--nitpick", "--keep-going",
         "--path-output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    problems = [line for line in result.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert result.returncode == 0, "\n".join(problems) or result.stdout[-5000:]
    # A quiet build: no warning a reader of the log must learn to ignore. The whole stderr
    # is shown, as a logged error's traceback follows its line.
    assert problems == [], result.stderr[-20_000:]
    return out / "_build" / "html"


@pytest.fixture(scope="session")
def server(book_html):
    handler = functools.partial(QuietHandler, directory=str(book_html))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
        httpd.shutdown()


@pytest.fixture(scope="session")
def chromium():
    """Playwright driving Debian's Chromium (its own browser download does not work here)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed; run `make system` (apt-get install chromium)")
    with sync_playwright() as p:
        yield p.chromium


@pytest.fixture(scope="session")
def browser(chromium):
    browser = chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
