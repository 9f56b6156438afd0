"""Command line: ``python -m losslandscape reproduce --out FILE.npz``."""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import warnings
from pathlib import Path

import numpy as np

from .data import BundledDataWarning
from .network import SEED
from .optimizers import SEED_METHODS
from .reproduce import reproduce
from .training import SEED_EPOCHS, SEED_LR, SEED_START, DivergenceError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m losslandscape",
        allow_abbrev=False,
        description="Loss landscapes and optimizer trajectories of the original notebook's "
        "MNIST network.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "reproduce",
        allow_abbrev=False,
        help="compute the original notebook's loss grids and trajectories and save them as npz",
        description="Compute the original notebook's loss grids and five trajectories; save them "
        "as an npz with the keys of losslandscape.reproduce() and print the final weights.",
    )
    run.add_argument("--out", required=True, type=Path, help="the npz file to write")
    run.add_argument(
        "--seed", type=int, default=SEED, help="random seed of the weights (%(default)s)"
    )
    run.add_argument("--lr", type=float, default=SEED_LR, help="learning rate (%(default)s)")
    run.add_argument(
        "--start",
        type=float,
        nargs=2,
        metavar=("A", "B"),
        default=SEED_START,
        help="starting weights w2[5][250] w2[5][251] (%(default)s)",
    )
    run.add_argument("--epochs", type=int, default=SEED_EPOCHS, help="epochs (%(default)s)")
    run.add_argument(
        "--train-n", type=int, default=100, help="images used for training (%(default)s)"
    )
    run.add_argument(
        "--grid-n",
        type=int,
        nargs="+",
        default=[100, 1000],
        metavar="N",
        help="image counts of the loss grids (%(default)s)",
    )
    run.add_argument("--data", help="MNIST npz in keras's layout (default: keras, then bundled)")
    return parser


# The library's parameter names, as the options a user typed them.
OPTIONS = {
    "train_n": "--train-n",
    "grid_ns": "--grid-n",
    "epochs": "--epochs",
    "lr": "--lr",
    "start": "--start",
    "seed": "--seed",
}


def as_options(message: str) -> str:
    """``message`` with the library's parameter names replaced by the options."""
    for name, option in OPTIONS.items():
        message = re.sub(rf"\b{name}=", f"{option} ", message)
        message = re.sub(rf"\b{name}\b", option, message)
    return message


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    error = None
    with warnings.catch_warnings(record=True) as notes:
        # The fallback note is for the person at the terminal, not a code location.
        warnings.simplefilter("always", BundledDataWarning)
        # stdout carries results only: keras's download chatter goes to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            try:
                results = reproduce(
                    seed=args.seed,
                    lr=args.lr,
                    start=tuple(args.start),
                    epochs=args.epochs,
                    train_n=args.train_n,
                    grid_ns=tuple(args.grid_n),
                    data=args.data,
                )
            except (ValueError, FileNotFoundError, DivergenceError) as exc:
                error = as_options(str(exc))
    for note in notes:
        print(f"note: {note.message}", file=sys.stderr)
    if error is not None:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    try:
        np.savez(args.out, **results)
    except OSError as exc:
        parser.exit(1, f"{parser.prog}: error: cannot write {str(args.out)!r}: {exc.strerror}\n")
    print(f"wrote {args.out} ({len(results)} arrays)")
    print(table(results))
    return 0


def table(results: dict[str, np.ndarray]) -> str:
    """The final weights and cost of each method, in columns as wide as their values."""
    rows = [("method", "w_250", "w_251", "cost")]
    for method in SEED_METHODS:
        last = (results[f"{method}_{key}"][-1] for key in ("w250", "w251", "cost"))
        rows.append((method, *(f"{value:.6f}" for value in last)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


if __name__ == "__main__":
    sys.exit(main())
