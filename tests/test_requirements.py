"""The pinned requirements install on every supported Python the machine has.

Supported: CPython 3.11 (from Debian 12's 3.11.2 on) to 3.13. For each such
interpreter found, pip resolves ``requirements.txt`` for its exact version
without installing anything.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUPPORTED = ((3, 11, 2), (3, 14))
CANDIDATES = [sys.executable, "/usr/bin/python3", *(f"python3.{minor}" for minor in (11, 12, 13))]


def interpreters() -> dict[str, str]:
    """Version -> path of every supported interpreter on this machine, ours included."""
    found = {}
    for candidate in CANDIDATES:
        path = shutil.which(candidate)
        if path is None:
            continue
        query = subprocess.run(
            [path, "-c", "import sys; print('.'.join(map(str, sys.version_info[:3])))"],
            capture_output=True,
            text=True,
        )
        if query.returncode != 0:  # a shim for a version that is not installed
            continue
        version = query.stdout.strip()
        if SUPPORTED[0] <= tuple(map(int, version.split("."))) < SUPPORTED[1]:
            found.setdefault(version, path)
    return found


@pytest.mark.parametrize(("version", "path"), sorted(interpreters().items()))
def test_requirements_resolve_for(version, path, tmp_path):
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed"),
            *("--quiet", "--only-binary=:all:", "--python-version", version),
            *("--target", str(tmp_path), "-r", str(ROOT / "requirements.txt")),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert result.returncode == 0, f"{path} (Python {version}): {errors}"


def test_the_systems_python3_is_among_those_checked():
    system = Path("/usr/bin/python3")
    if system.exists():
        version = subprocess.run(
            [system, "-c", "import sys; print('.'.join(map(str, sys.version_info[:3])))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert version in interpreters()
