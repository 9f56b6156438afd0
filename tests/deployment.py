"""Fixtures for tests that run the course as a class's server does: real Unix users and
the shared environment they all run (``deploy/hub/install-env``).

Both need root. Where the machine cannot give them, the tests fail and say why: a
skipped deployment test would pass a class's server that was never tried.
"""

import hashlib
import os
import platform
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL_ENV = ROOT / "deploy" / "hub" / "install-env"
SYSTEM_PYTHON = Path("/usr/bin/python3")


def _need_root(what: str) -> None:
    if os.geteuid() != 0:
        pytest.fail(f"{what} needs root (the tests create Unix users); run the tests as root")


def shared_env_path() -> Path:
    """Where the shared environment for this checkout is built, keyed on all it depends on:
    the pins, the package's metadata, the Python it is made from and this checkout's
    place (the library is installed from it in place)."""
    version = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import sys; print(sys.version)"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    key = hashlib.sha256()
    for part in (
        (ROOT / "requirements.txt").read_bytes(),
        (ROOT / "pyproject.toml").read_bytes(),
        INSTALL_ENV.read_bytes(),
        version.encode(),
        platform.machine().encode(),
        str(ROOT).encode(),
    ):
        key.update(hashlib.sha256(part).digest())
    return Path("/opt/losslandscape") / f"test-env-{key.hexdigest()[:16]}"


@pytest.fixture(scope="session")
def shared_env() -> Path:
    """The shared environment, built with the deploy script (a few minutes, once per
    machine and key), as root, readable by every user."""
    _need_root("the shared environment")
    if not SYSTEM_PYTHON.exists():
        pytest.fail(f"{SYSTEM_PYTHON} is missing: install Debian's python3-venv")
    prefix = shared_env_path()
    if not (prefix / "installed").exists():
        result = subprocess.run(
            [INSTALL_ENV, prefix, "--editable"], capture_output=True, text=True, timeout=1800
        )
        assert result.returncode == 0, result.stderr[-5000:]
    for folder in (ROOT, *ROOT.parents):  # the library is read from this checkout
        assert folder.stat().st_mode & 0o005 == 0o005, f"{folder} is not readable by all users"
    return prefix


@dataclass(frozen=True)
class UnixUser:
    name: str
    uid: int
    gid: int
    home: Path


@pytest.fixture(scope="session")
def unix_user():
    """Makes real Unix users (home folder 0700, own group); removes them and all their
    processes when the session ends, however it ends."""
    _need_root("creating Unix users")
    if shutil.which("useradd") is None:
        pytest.fail("useradd is missing: install Debian's passwd package")
    made = []

    def make(prefix: str = "lltest") -> UnixUser:
        name = f"{prefix}-{secrets.token_hex(3)}"
        subprocess.run(
            ["useradd", "--create-home", "--user-group", "--shell", "/bin/bash", name], check=True
        )
        made.append(name)
        entry = subprocess.run(
            ["getent", "passwd", name], capture_output=True, text=True, check=True
        ).stdout.split(":")
        home = Path(entry[5])
        home.chmod(0o700)
        return UnixUser(name, int(entry[2]), int(entry[3]), home)

    yield make
    for name in made:
        for _ in range(100):  # userdel refuses a user whose processes are still ending
            subprocess.run(["pkill", "-KILL", "-u", name], check=False)
            if subprocess.run(["userdel", "--remove", name], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
