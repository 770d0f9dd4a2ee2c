"""Report section of ``tinylstm export riscv``: eSELL bytes against dense fp16 and CSR, the test MAE of the float
model and of the pruned eSELL golden model, and — when the cross compiler and QEMU are installed — the exported
``model.h`` built, run, and checked bit for bit against the numpy golden model, with retired instructions."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .. import esell, reference
from ..backends import riscv as rvb
from ..errors import UserError
from ..export import riscv as rvx
from ..modeldir import ModelDir


def accuracy_line(source: ModelDir, pruned: ModelDir, opts: rvx.RiscvOptions) -> str:
    """One line: test MAE (a classifier: accuracy and class agreement) of the float source model and of the eSELL
    golden model, when the CSV is found."""
    try:
        X, y = source.rows("test", opts.data)
    except (UserError, OSError, KeyError, ValueError):
        return ""
    if pruned.bundle.is_classifier:
        pf = reference.predict(source.bundle, X).argmax(axis=1)
        pe = esell.predict(pruned.bundle, X).argmax(axis=1)
        return (f"Test accuracy ({len(y)} windows): float model {100 * np.mean(pf == y):.2f} %, pruned eSELL fp16 "
                f"golden {100 * np.mean(pe == y):.2f} %; classes agree on {100 * np.mean(pf == pe):.2f} %.")
    f = float(np.mean(np.abs(y - reference.predict(source.bundle, X))))
    e = float(np.mean(np.abs(y - esell.predict(pruned.bundle, X))))
    unit = pruned.bundle.units.get(pruned.bundle.target, "")
    return (f"Test MAE ({len(y)} rows): float model {f:.4f} {unit}, pruned eSELL fp16 golden {e:.4f} {unit} "
            f"(Δ {e - f:+.4f}).")


def source_model(pruned: ModelDir) -> ModelDir | None:
    """The unpruned model a pruned directory ``<model>_pruned_<tag>`` was made from, when it is still beside it
    (checked by the SHA-256 recorded at pruning)."""
    want = pruned.bundle.meta.get("pruning", {}).get("source_bundle_sha256")
    if not want or "_pruned_" not in pruned.path.name:
        return None
    cand = pruned.path.parent / pruned.path.name.rsplit("_pruned_", 1)[0]
    try:
        if hashlib.sha256((cand / "bundle.npz").read_bytes()).hexdigest() == want:
            return ModelDir.load(cand)
    except (OSError, UserError):
        pass
    return None


def section(model: ModelDir, opts: rvx.RiscvOptions | None, out_dir: Path) -> str:
    """Markdown for the export in ``out_dir``. ``model`` is the model the user named or the pruned one that
    :func:`tinylstm.export.riscv.prepare` made of it (cached); the float source model's accuracy is put beside
    the pruned one's when the source is known."""
    opts = rvx.RiscvOptions() if opts is None else opts
    pruned = model if model.is_pruned else rvx.prepare(model, opts)
    source = model if pruned is not model else source_model(pruned)
    bundle = pruned.bundle
    ht = rvx.check_ht(opts.ht)
    net = esell.build_net(bundle, ht)
    ws = rvx.ordered_sparsity(bundle)
    x_scaled, _, what = rvx.header_inputs(pruned, opts)
    by = net.lstm_bytes()
    targets = ", ".join(f"{k} {100 * v:g} %" for k, v in ws.items())
    lines = ["## RISC-V / eSELL export", "",
             f"Weights: {rvx.source_of(pruned, what)}; sparsity targets {targets}; "
             f"hidden-state pruning threshold {ht:g}.", ""]
    acc = accuracy_line(source, pruned, opts) if source is not None else ""
    if acc:
        lines += [acc, ""]
    lines += ["| LSTM weights | bytes | vs dense fp16 |", "|---|---|---|",
              f"| eSELL (stream + offsets) | {by['esell']} | {by['esell'] / by['dense_fp16']:.3f} |",
              f"| dense fp16 | {by['dense_fp16']} | 1.000 |",
              f"| CSR fp16 (uint16 indices) | {by['csr_fp16']} | {by['csr_fp16'] / by['dense_fp16']:.3f} |", ""]
    if rvb.tools_available() and not os.environ.get("TINYLSTM_SKIP_QEMU"):
        header = Path(out_dir) / "model.h"
        text = header.read_bytes() if header.is_file() else rvx.model_header(pruned, opts).encode()
        run = rvb.run_header(text, len(x_scaled))
        golden = esell.forward(net, x_scaled)
        exact = bool(np.array_equal(run.y_esell, golden))
        lines += [f"Engine built with `{rvb.CC}` ({' '.join(rvb.CFLAGS[:2])}) and run in `{rvb.QEMU} -icount "
                  f"shift=0` on {len(x_scaled)} inputs: outputs equal the numpy eSELL golden model bit for bit: "
                  f"**{'yes' if exact else 'NO'}**"
                  + (f" ({bundle.n_outputs} softmax probabilities each; engine argmax = golden argmax: "
                     f"**{'yes' if np.array_equal(run.argmax_esell, golden.argmax(axis=1)) else 'NO'}**)"
                     if bundle.is_classifier else "") + ".", "",
                  "| kernel | retired instructions / inference (median) | of which matrix products |",
                  "|---|---|---|",
                  f"| eSELL | {int(np.median(run.instr_esell))} | {int(np.median(run.mv_esell))} |",
                  f"| dense fp16 | {int(np.median(run.instr_dense))} | {int(np.median(run.mv_dense))} |",
                  f"| ratio | {np.median(run.instr_esell) / np.median(run.instr_dense):.3f} | "
                  f"{np.median(run.mv_esell) / np.median(run.mv_dense):.3f} |", ""]
    else:
        lines += [f"(`{rvb.CC}`/`{rvb.QEMU}` not installed: the engine was not built or run.)", ""]
    return "\n".join(lines)
