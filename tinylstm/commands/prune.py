"""``tinylstm prune``: magnitude pruning of the LSTM matrices with fine-tuning under the mask; ``--sweep`` draws
the accuracy-vs-sparsity figure."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import atomic, prune
from ..errors import UserError
from ..modeldir import ModelDir
from ..prune import DEFAULT_FINETUNE_EPOCHS, PATTERNS


def add_parser(sub, common) -> None:
    p = sub.add_parser("prune", parents=[common],
                       help="magnitude-prune the LSTM matrices (per matrix) and fine-tune under the mask",
                       description="Prune the W and U matrices of every LSTM layer to a target sparsity each "
                                   "(smallest magnitudes first), fine-tune the rest with the zeros kept, write a "
                                   "pruned model directory. --sweep instead measures test MAE over sparsity levels "
                                   "and draws figures/accuracy_vs_sparsity.png.")
    p.add_argument("--model", type=Path, default=Path("artifacts/model"), help="model directory to prune")
    p.add_argument("--out", type=Path, default=None,
                   help="pruned model directory (default: <model>_pruned_<ws>, e.g. artifacts/model_pruned_50)")
    p.add_argument("--ws", type=float, nargs="+", metavar="S", default=None,
                   help="sparsity per matrix W1 U1 W2 U2 (fractions, or percentages > 1; one value for all; "
                        "default 0.5)")
    p.add_argument("--epochs", type=int, default=DEFAULT_FINETUNE_EPOCHS,
                   help="fine-tuning epochs (0 = prune only; default %(default)s, early stopping on val loss)")
    p.add_argument("--pattern", choices=PATTERNS, default="unstructured",
                   help="unstructured (per-matrix magnitude, default) or balanced (same count removed in every "
                        "4-input row segment: no eSELL chunk padding)")
    p.add_argument("--data", type=Path, default=None, help="training CSV (default: the model's own data file)")
    p.add_argument("--sweep", type=str, default=None, metavar="PCTS",
                   help="comma-separated sparsity percentages, e.g. 0,10,20,...,90: measure and draw the figure")
    p.add_argument("--figure", type=Path, default=Path("figures/accuracy_vs_sparsity.png"),
                   help="figure path for --sweep (default: %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.epochs < 0:
        raise UserError(f"--epochs must be >= 0, got {args.epochs}")
    if args.sweep:
        try:
            levels = [float(v) / 100.0 for v in args.sweep.split(",") if v.strip()]
        except ValueError:
            raise UserError(f"--sweep: {args.sweep!r} is not a comma-separated list of percentages") from None
        if not levels or any(not 0 <= s < 1 for s in levels):
            raise UserError(f"--sweep: percentages must be in [0, 100), got {args.sweep!r}")
        root = args.out or Path(args.model).parent / "prune_sweep"
        rows = prune.sweep(args.model, levels, root, args.epochs, args.data, args.pattern, args.quiet)
        bundle = ModelDir.load(args.model).bundle
        unit = bundle.units.get(bundle.target, "")
        fig = prune.plot_sweep(rows, unit, args.figure)
        atomic.write_json(Path(root) / "sweep.json", rows)
        if not args.quiet:
            print("| sparsity % | float MAE | pruned (eSELL fp16) | fine-tuned (eSELL fp16) |")
            print("|---|---|---|---|")
            for r in rows:
                print(f"| {100 * r['sparsity']:g} | {r['float_mae']:.4f} | {r['pruned_esell_mae']:.4f} | "
                      f"{r.get('finetuned_esell_mae', float('nan')):.4f} |")
            print(f"wrote {fig} and {Path(root) / 'sweep.json'}")
        return 0
    prune.prune_model(args.model, args.out, args.ws, args.epochs, prune.DEFAULT_FINETUNE_LR, args.data,
                      args.pattern, quiet=args.quiet)
    return 0
