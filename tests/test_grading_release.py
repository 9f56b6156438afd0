"""The committed student notebook is the release of the instructor's, and both validate."""

import json
import shutil

import pytest

from .test_grading_pipeline import ASSIGNMENT, ROOT, nbgrader

SOURCE = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
RELEASED = ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def test_released_notebook_is_up_to_date_with_solutions(tmp_path):
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    result = nbgrader(tmp_path, "generate_assignment", ASSIGNMENT, "--force")
    assert result.returncode == 0, result.stderr[-3000:]
    fresh = json.loads((tmp_path / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    assert json.loads(RELEASED.read_text()) == fresh, (
        "assignments/ is out of date: run `make release` and commit the result"
    )


def test_released_notebook_gives_away_no_solution_or_hidden_test():
    text = RELEASED.read_text()
    for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "check_steps", "np.sqrt(v_hat)"):
        assert secret not in text


@pytest.mark.parametrize(("notebook", "flags"), [(SOURCE, []), (RELEASED, ["--invert"])])
def test_notebooks_validate(notebook, flags):
    result = nbgrader(ROOT, "validate", *flags, str(notebook))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Success!" in result.stdout, result.stdout[-3000:]
    assert "WARNING" not in result.stdout + result.stderr  # quiet: nothing to learn to ignore
