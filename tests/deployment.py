"""Fixtures for tests that run the course as a class's server does: real Unix users and
the shared environment they all run (``deploy/hub/install-env``).

Both need root. Where the machine cannot give them, the tests fail and say why: a
skipped deployment test would pass a class's server that was never tried.
"""

import fcntl
import hashlib
import os
import platform
import re
import secrets
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL_ENV = ROOT / "deploy" / "hub" / "install-env"
SYSTEM_PYTHON = Path("/usr/bin/python3")
ENVS = Path("/opt/losslandscape")
# Another key's environment unused this long is removed (each is 1.8 GB).
STALE_SECONDS = 3 * 24 * 3600


def _need_root(what: str) -> None:
    if os.geteuid() != 0:
        pytest.fail(f"{what} needs root (the tests create Unix users); run the tests as root")


def shared_env_path() -> Path:
    """Where the shared environment for this checkout is built, keyed on all it depends on:
    the pins, the package's metadata, the build script, the Python it is made from and this
    checkout's place (the library is installed from it in place)."""
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
    return ENVS / f"test-env-{key.hexdigest()[:16]}"


def _unreadable_by_others(root: Path) -> list[Path]:
    """What of the library's checkout another user could not read (the environment
    imports the library from it)."""
    bad = [f for f in (root, *root.parents) if f.stat().st_mode & 0o005 != 0o005]
    for folder, dirs, files in os.walk(root / "src"):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in dirs + files:
            mode = os.stat(os.path.join(folder, name)).st_mode
            need = 0o005 if stat.S_ISDIR(mode) else 0o004
            if mode & need != need:
                bad.append(Path(folder, name))
    return bad


def _prune(keep: Path) -> None:
    """Removes other keys' environments that were left half-built, or that no session holds
    and none has used for STALE_SECONDS. Call with ENVS/.lock held."""
    for prefix in ENVS.glob("test-env-*"):
        stamp = prefix / "installed"
        fresh = stamp.exists() and time.time() - stamp.stat().st_mtime < STALE_SECONDS
        if prefix == keep or fresh:
            continue
        if stamp.exists():
            with stamp.open() as held:
                try:  # a session using it holds it shared
                    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                shutil.rmtree(prefix, ignore_errors=True)
        else:  # no build runs while we hold the lock
            shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_env() -> Path:
    """The shared environment, built with the deploy script's own builder (about a minute,
    once per machine and key), as root, readable by every user. The library is installed
    in place from this checkout, so changing its source needs no rebuild."""
    _need_root("the shared environment")
    if not SYSTEM_PYTHON.exists():
        pytest.fail(f"{SYSTEM_PYTHON} is missing: install Debian's python3 and python3-venv")
    unreadable = _unreadable_by_others(ROOT)
    assert unreadable == [], f"other users cannot read the checkout: chmod o+rX {unreadable[:5]}"
    prefix = shared_env_path()
    ENVS.mkdir(mode=0o755, parents=True, exist_ok=True)
    with (ENVS / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time, on this machine
        if not (prefix / "installed").exists():
            result = subprocess.run(
                [INSTALL_ENV, prefix, "--editable"], capture_output=True, text=True, timeout=1800
            )
            assert result.returncode == 0, result.stderr[-5000:]
        stamp = (prefix / "installed").open()
        fcntl.flock(stamp, fcntl.LOCK_SH)  # held while this session runs
        os.utime(prefix / "installed")
        _prune(keep=prefix)
    try:
        yield prefix
    finally:
        stamp.close()


@dataclass(frozen=True)
class UnixUser:
    name: str
    uid: int
    gid: int
    home: Path


# Each test user's comment names the session that made it, so a later session can remove
# the users of one that was killed before it could clean up.
_COMMENT = "losslandscape test user, pid {pid} started {started}"
_COMMENT_RE = re.compile(r"losslandscape test user, pid (\d+) started (\d+)")


def _session_alive(pid: int, started: int) -> bool:
    try:
        return int(psutil.Process(pid).create_time()) == started
    except psutil.NoSuchProcess:
        return False


def _remove_user(name: str) -> None:
    for _ in range(100):  # userdel refuses a user whose processes are still ending
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        if subprocess.run(["userdel", "--remove", name], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"could not remove the test user {name}")


def _remove_orphans() -> None:
    entries = subprocess.run(["getent", "passwd"], capture_output=True, text=True).stdout
    for entry in entries.splitlines():
        name, *fields = entry.split(":")
        found = _COMMENT_RE.fullmatch(fields[3]) if len(fields) > 3 else None
        if found and not _session_alive(int(found[1]), int(found[2])):
            _remove_user(name)


@pytest.fixture(scope="session")
def unix_user():
    """Makes real Unix users (home folder 0700, own group); removes them and all their
    processes when the session ends, however it ends (a killed session's users go at the
    next session's start)."""
    _need_root("creating Unix users")
    for tool in ("useradd", "userdel", "pkill", "getent"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: install Debian's passwd and procps packages")
    _remove_orphans()
    me = psutil.Process()
    comment = _COMMENT.format(pid=me.pid, started=int(me.create_time()))
    made = []

    def make(prefix: str = "lltest") -> UnixUser:
        name = f"{prefix}-{secrets.token_hex(3)}"
        subprocess.run(
            ["useradd", "--create-home", "--user-group", "--shell", "/bin/bash",
             "--comment", comment, name],
            check=True,
        )  # fmt: skip
        made.append(name)
        entry = subprocess.run(
            ["getent", "passwd", name], capture_output=True, text=True, check=True
        ).stdout.split(":")
        home = Path(entry[5])
        home.chmod(0o700)
        return UnixUser(name, int(entry[2]), int(entry[3]), home)

    try:
        yield make
    finally:
        for name in made:
            _remove_user(name)
