"""The command line, run from a shell as a user runs it."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import losslandscape as ll
from losslandscape.cli import table
from losslandscape.data import ENV_VAR


def run(*args, cwd, keras_fails=False):
    env = dict(os.environ)
    if keras_fails:  # no data file named, and a keras that cannot load: the offline path
        del env[ENV_VAR]
        env["KERAS_BACKEND"] = "tensorflow"  # not installed, so `import keras` fails
    return subprocess.run(
        [sys.executable, "-m", "losslandscape", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )


SMALL = ["--seed", "7", "--lr", "3", "--start", "-5", "5", "--epochs", "40", "--train-n", "50"]


def test_reproduce_writes_the_seeds_arrays_and_prints_the_table(tmp_path):
    result = run("reproduce", "--out", "r.npz", *SMALL, "--grid-n", "20", "60", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # an explicit data file: nothing to note
    saved = np.load(tmp_path / "r.npz")
    expected = ll.reproduce(7, 3.0, (-5.0, 5.0), 40, train_n=50, grid_ns=(20, 60))
    assert set(saved.files) == set(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(saved[key], value)
    lines = result.stdout.splitlines()
    assert lines[0] == "wrote r.npz (19 arrays)"
    adam = next(line for line in lines if line.startswith("Adam"))
    assert adam.split()[1:] == [
        f"{expected[f'Adam_{k}'][-1]:.6f}" for k in ("w250", "w251", "cost")
    ]


def test_without_keras_the_bundled_data_is_used_and_noted_on_stderr_only(tmp_path):
    result = run(
        "reproduce", "--out", "r.npz", *SMALL, "--grid-n", "20", cwd=tmp_path, keras_fails=True
    )
    assert result.returncode == 0, result.stderr
    assert "note: keras could not load MNIST" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.splitlines()[0] == "wrote r.npz (18 arrays)"  # results only


def test_the_note_shows_when_the_run_fails_too(tmp_path):
    result = run("reproduce", "--out", "r.npz", "--grid-n", "7000", cwd=tmp_path, keras_fails=True)
    assert result.returncode == 2
    assert "note: keras could not load MNIST" in result.stderr
    assert "--grid-n 7000 is out of range" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "--epochs must be an integer >= 1, got 0"),
        (["--lr", "-2"], "--lr must be a positive finite number, got -2.0"),
        (["--grid-n", "100", "99999"], "--grid-n 99999 is out of range"),
        (["--train-n", "0"], "--train-n 0 is out of range"),
        (["--data", "missing.npz"], "does not exist; give an npz in keras's layout"),
        (["--start", "1"], "argument --start: expected 2 arguments"),
        (["--lr", "ten"], "argument --lr: invalid float value: 'ten'"),
        (["--epoch", "10"], "unrecognized arguments: --epoch"),  # no abbreviations
    ],
)
def test_bad_options_exit_2_with_a_message_naming_the_option(tmp_path, args, message):
    result = run("reproduce", "--out", "r.npz", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "grid_ns" not in result.stderr and "train_n" not in result.stderr
    assert not (tmp_path / "r.npz").exists()


def test_unwritable_output_is_reported(tmp_path):
    result = run(
        "reproduce", "--out", "no/such/dir/r.npz", "--epochs", "2", "--grid-n", "10", cwd=tmp_path
    )
    assert result.returncode == 1
    assert "cannot write 'no/such/dir/r.npz'" in result.stderr


def test_the_table_stays_aligned_for_any_value():
    results = {}
    for i, method in enumerate(ll.SEED_METHODS):
        for key in ("w250", "w251", "cost"):
            results[f"{method}_{key}"] = np.array([-(10.0 ** (3 * i)) if key == "w250" else 1.5])
    lines = table(results).splitlines()
    # every number column ends at the same place on every line
    ends = {tuple(m.end() for m in re.finditer(r"\S+", line))[1:] for line in lines}
    assert len(ends) == 1
    assert lines[-1].split()[1] == "-1000000000000.000000"
