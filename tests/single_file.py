"""A page that must be one file, opened the two ways a reader meets it.

- From disk, as the instructor opens the class report or a student a feedback page.
- Through a Jupyter server's ``/files/``, as in a JupyterHub, after the page alone (no
  file beside it, as ``release_feedback`` and ``fetch_feedback`` deliver it) is copied
  into the server's root. jupyter_server sends it with ``Content-Security-Policy: ...;
  sandbox allow-scripts``: the page runs in an opaque origin that carries no login
  cookie, so any other request it makes is answered with the login page.

Either way the page must make no request but for itself, and log no error.
"""

from __future__ import annotations

import dataclasses
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser import keep_to, log_errors

JUPYTER = Path(sys.executable).with_name("jupyter-server")
WAYS = ("file", "jupyter")
"""How a page is opened: from disk, or from a Jupyter server's /files/."""


@dataclasses.dataclass
class JupyterFiles:
    """A running ``jupyter server`` and the folder it serves."""

    root: Path
    base: str
    token: str

    def url(self, page: Path) -> str:
        """Copy ``page`` alone into the server's root; its ``/files/`` address."""
        name = f"{secrets.token_hex(4)}-{page.name}"
        shutil.copyfile(page, self.root / name)
        return f"{self.base}/files/{name}?token={self.token}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", name="jupyter_files")
def serve_files(tmp_path_factory):
    """A ``jupyter server`` on a free port of 127.0.0.1, with a token, serving a new folder."""
    root = tmp_path_factory.mktemp("jupyter_root")
    home = tmp_path_factory.mktemp("jupyter_home")
    port, token = _free_port(), secrets.token_hex(16)
    log = home / "server.log"
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [JUPYTER, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
             "--ServerApp.allow_root=True"],  # the tests may run as root, in a container
            env={"PATH": f"{JUPYTER.parent}:/usr/bin:/bin", "HOME": str(home),
                 "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
                 "JUPYTER_RUNTIME_DIR": str(home / "runtime")},
            cwd=root, stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    server.wait()
                    pytest.fail(f"jupyter server did not start: {log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield JupyterFiles(root, base, token)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class Visit:
    """``url`` open in Chromium, with every request it made and every error it logged."""

    def __init__(self, browser, url: str, width: int = 1280):
        self.url = url
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.page.on("request", lambda request: self.requests.append(request.url))
        log_errors(self.page, self.errors)
        # Nothing leaves the machine, whatever the page asks for.
        keep_to(self.page, ("file://", "http://127.0.0.1"))
        response = self.page.goto(url, wait_until="load")
        if url.startswith("http"):
            assert response.status == 200, response.status
            assert "sandbox allow-scripts" in response.headers["content-security-policy"]
        self.page.wait_for_timeout(300)  # for any late request or error to be logged

    def others(self) -> list[str]:
        """Every request but for the page itself."""
        return [url for url in self.requests if url != self.url]

    def close(self):
        self.page.close()


def open_page(browser, jupyter_files: JupyterFiles, page: Path, way: str, width=1280) -> Visit:
    """``page`` opened ``way`` (one of :data:`WAYS`)."""
    url = page.as_uri() if way == "file" else jupyter_files.url(page)
    return Visit(browser, url, width)
