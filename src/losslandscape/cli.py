"""Command line: ``python -m losslandscape reproduce --out FILE.npz``."""

from __future__ import annotations

import argparse
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
        description="Loss landscapes and optimizer trajectories of the seed's MNIST network.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "reproduce",
        help="compute the seed notebook's loss grids and trajectories and save them as npz",
        description="Compute the seed notebook's loss grids and five trajectories; save them "
        "as an npz with the keys of losslandscape.reproduce() and print the final weights.",
    )
    run.add_argument("--out", required=True, type=Path, help="the npz file to write")
    run.add_argument("--seed", type=int, default=SEED, help="seed of the weights (%(default)s)")
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings(record=True) as notes:
        # The fallback note is for the person at the terminal, not a code location.
        warnings.simplefilter("always", BundledDataWarning)
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
        except (ValueError, FileNotFoundError, DivergenceError) as error:
            parser.exit(2, f"{parser.prog}: error: {error}\n")
    for note in notes:
        print(f"note: {note.message}", file=sys.stderr)
    try:
        np.savez(args.out, **results)
    except OSError as error:
        parser.exit(1, f"{parser.prog}: error: cannot write {str(args.out)!r}: {error.strerror}\n")
    print(f"wrote {args.out} ({len(results)} arrays)")
    print(f"{'method':<14}{'w_250':>12}{'w_251':>12}{'cost':>12}")
    for method in SEED_METHODS:
        w_a, w_b, cost = (results[f"{method}_{key}"][-1] for key in ("w250", "w251", "cost"))
        print(f"{method:<14}{w_a:>12.6f}{w_b:>12.6f}{cost:>12.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
