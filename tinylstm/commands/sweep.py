"""``tinylstm sweep``: architecture search on Ray Tune (thin CLI over :mod:`tinylstm.sweep`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub, common) -> None:
    from ..cli import _add_data_args
    from ..sweep import DEFAULT_SPACE

    p = sub.add_parser("sweep", parents=[common],
                       help="search architectures on Ray Tune: train, score on validation rows, export, verify and "
                            "measure every trial; results table, Pareto figures, the best model within a budget",
                       description="Each trial trains its architecture (seeded), scores it on the validation rows "
                                   "only, exports it to every target of the space, verifies the export and measures "
                                   "its flash, RAM and instructions. A failed trial is a row with its reason. "
                                   "Writes OUT/results.csv, OUT/results.parquet and OUT/pareto_<target>.png; with "
                                   "--budget also OUT/best (a model directory) and its test error. See docs/sweep.md.")
    _add_data_args(p)
    p.add_argument("--space", type=Path, default=None,
                   help=f"search space TOML (default: {DEFAULT_SPACE.name} in the package, documented in "
                        "docs/sweep.md)")
    p.add_argument("--trials", type=int, default=40, help="number of trials (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the search and of every trial's training")
    p.add_argument("--out", type=Path, default=Path("artifacts/sweep"), help="sweep directory (default: %(default)s)")
    p.add_argument("--address", default=None,
                   help="an existing Ray cluster (e.g. ray://host:10001 or auto); default: a local Ray here")
    p.add_argument("--concurrency", type=int, default=None,
                   help="trials at a time (default: the CPU count; also the batch size of the optuna search)")
    p.add_argument("--resume", action="store_true",
                   help="continue the sweep in --out: finished trials are not trained again")
    p.add_argument("--remeasure", action="store_true",
                   help="measure every finished trial of the sweep in --out again with this code (its kept model is "
                        "not retrained; other seeds are, deterministically) and rewrite the table and figures")
    p.add_argument("--budget", default=None, metavar="SPEC",
                   help="e.g. target=c-int8,flash=8KiB,ram=2KiB,instructions=20000: write the model meeting it with "
                        "the lowest validation error to OUT/best and report its test error (fpga: cycles=, latency_us=;"
                        " with [fpga] part also luts=, dsp= and fmax_mhz=, a minimum)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..cli import _series_spec
    from ..sweep import Budget, SweepOptions, sweep

    spec = _series_spec(args)
    budget = Budget.parse(args.budget) if args.budget else None
    sweep(SweepOptions(data=args.data, features=tuple(args.features), target=args.target, spec=spec,
                       space=args.space, trials=args.trials, out=args.out, seed=args.seed, address=args.address,
                       concurrency=args.concurrency, resume=args.resume, budget=budget, quiet=args.quiet,
                       remeasure=args.remeasure))
    return 0
