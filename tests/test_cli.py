"""The command line, run from a shell as a user runs it."""

import subprocess
import sys

import numpy as np
import pytest

import losslandscape as ll


def run(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "losslandscape", *args], capture_output=True, text=True, cwd=cwd
    )


def test_reproduce_writes_the_seeds_arrays_and_prints_the_table(tmp_path, mnist):
    result = run(
        "reproduce",
        "--out",
        "r.npz",
        "--seed",
        "7",
        "--lr",
        "3",
        "--start",
        "-5",
        "5",
        "--epochs",
        "40",
        "--train-n",
        "50",
        "--grid-n",
        "20",
        "60",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "note: keras could not load MNIST" in result.stderr  # offline here
    assert "Traceback" not in result.stderr
    saved = np.load(tmp_path / "r.npz")
    expected = ll.reproduce(7, 3.0, (-5.0, 5.0), 40, train_n=50, grid_ns=(20, 60))
    assert set(saved.files) == set(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(saved[key], value)
    lines = result.stdout.splitlines()
    assert "wrote r.npz (19 arrays)" in lines
    adam = next(line for line in lines if line.startswith("Adam"))
    assert adam.split()[1:] == [
        f"{expected[f'Adam_{k}'][-1]:.6f}" for k in ("w250", "w251", "cost")
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "epochs must be an integer >= 1, got 0"),
        (["--lr", "-2"], "lr must be a positive finite number, got -2.0"),
        (["--grid-n", "100", "99999"], "grid_ns=99999 is out of range"),
        (["--data", "missing.npz"], "does not exist; give an npz in keras's layout"),
        (["--start", "1"], "argument --start: expected 2 arguments"),
        (["--lr", "ten"], "argument --lr: invalid float value: 'ten'"),
    ],
)
def test_bad_options_exit_2_with_a_message(tmp_path, args, message):
    result = run("reproduce", "--out", "r.npz", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r.npz").exists()


def test_unwritable_output_is_reported(tmp_path):
    result = run(
        "reproduce", "--out", "no/such/dir/r.npz", "--epochs", "2", "--grid-n", "10", cwd=tmp_path
    )
    assert result.returncode == 1
    assert "cannot write 'no/such/dir/r.npz'" in result.stderr
