"""Backends ``esell`` (numpy golden model on the eSELL fp16 weights) and ``riscv`` (the engine under QEMU).

Both run the pruned model: ``--ws`` picks the sparsity per LSTM matrix (default 50 % everywhere, fine-tuned;
the pruned model directory is made beside the model on first use), ``--ht`` the hidden-state pruning threshold
(default 0 = off). A ``--model`` that is itself a pruned model directory is used as is.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from . import register


def _add_arguments(p) -> None:
    p.add_argument("--ws", type=float, nargs="+", metavar="S", default=None,
                   help="esell/riscv: weight sparsity per LSTM matrix W1 U1 W2 U2 (one value for all; "
                        "default 50 %%)")
    p.add_argument("--ht", type=float, default=0.0,
                   help="esell/riscv: hidden-state pruning threshold, groups of 4 (default 0 = off)")


def _pruned(model_dir: Path, args: argparse.Namespace):
    from ..bundle import Bundle
    from ..errors import UserError
    from ..export.riscv import resolve_pruned

    ht = float(getattr(args, "ht", 0.0) or 0.0)
    if ht < 0:
        raise UserError(f"--ht must be >= 0, got {ht:g}")
    ns = argparse.Namespace(ws=getattr(args, "ws", None), data=getattr(args, "train_data", None),
                            finetune_epochs=None, quiet=getattr(args, "quiet", True))
    return Bundle.load(resolve_pruned(Path(model_dir), ns)), ht


@register("esell", "numpy golden model on the pruned eSELL fp16 weights (fp32 accumulation; --ws, --ht)",
          add_arguments=_add_arguments)
def predict_esell(model_dir, X_raw, args):
    from .. import esell

    bundle, ht = _pruned(model_dir, args)
    return esell.predict(bundle, X_raw, ht)


#: Inputs per QEMU run (the header holds them all; the engine runs them one by one).
BATCH = 512


@register("riscv", "the eSELL engine (firmware/riscv) built for RV32IMAFC and run in qemu-system-riscv32 "
          "(--ws, --ht)")
def predict_riscv(model_dir, X_raw, args):
    from .. import esell
    from ..errors import UserError
    from ..export import riscv as rv

    if not rv.tools_available():
        raise UserError(f"backend riscv needs {rv.CC} and {rv.QEMU} (scripts/setup.sh --dev)")
    bundle, ht = _pruned(model_dir, args)
    net = esell.build_net(bundle, ht)
    ws = bundle.meta.get("pruning", {}).get("sparsity_target", {})
    xs = esell.scale_inputs(bundle, X_raw)
    out = [rv.run_engine(net, bundle, xs[i:i + BATCH], ws, ht).y_esell for i in range(0, len(xs), BATCH)]
    return bundle.scaler.inverse_y(np.concatenate(out).astype(np.float64))
