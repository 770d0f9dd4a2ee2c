"""Bench section ``riscv``: sparsity vs test accuracy, retired RV32 instructions and weight bytes (eSELL)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .. import esell, prune, reference
from ..backends import riscv as rvb
from ..bundle import Bundle
from ..modeldir import ModelDir
from . import register

LEVELS = (0.0, 0.3, 0.5, 0.7, 0.9)
#: Test inputs run on the emulated core per level (instruction counts barely depend on the input).
ENGINE_SAMPLES = 16
#: Hidden-state pruning thresholds measured at 50 % weight sparsity.
HT_LEVELS = (0.1, 0.2)


@register("riscv", "eSELL on RV32IMAFC (qemu -icount): sparsity / test MAE / retired instructions / bytes")
def section(model_dir: Path, args: argparse.Namespace) -> str:
    model_dir = Path(model_dir)
    model = ModelDir.load(model_dir)
    src = model.bundle
    data = getattr(args, "data", None)
    csv = model.data_path(data if data is not None and Path(data).exists() else None)
    X, y = model.rows("test", csv)
    unit = src.units.get(src.target, "")
    if src.is_classifier:  # accuracy (fraction of test windows whose argmax is the label)
        mae = lambda p: float(np.mean(np.argmax(p, axis=1) == y))  # noqa: E731
        metric, unit = "test accuracy", ""
    else:
        mae = lambda p: float(np.mean(np.abs(y - p)))  # noqa: E731
        metric = "test MAE"
    base = mae(reference.predict(src, X))
    tools = rvb.tools_available()
    rows = []
    cases = [(s, "unstructured", 0.0) for s in LEVELS] + [(0.5, "balanced", 0.0)]
    cases += [(0.5, "unstructured", ht) for ht in HT_LEVELS]
    for s, pattern, ht in cases:
        pdir = prune.ensure_pruned(model_dir, [s], data=csv, pattern=pattern, quiet=True)
        b = Bundle.load(pdir)
        net = esell.build_net(b, ht)
        ach = np.mean(list(b.meta["pruning"]["sparsity_achieved"].values()))
        by = net.lstm_bytes()
        m = mae(esell.predict(b, X, ht))
        label = f"{100 * s:g}" + ("" if pattern == "unstructured" else " (balanced)") + (f", ht {ht:g}" if ht else "")
        cells = [label, f"{100 * ach:.1f}",
                 f"{m:.4f}", f"{m - base:+.4f}"]
        if tools:
            run = rvb.run_engine(net, b, esell.scale_inputs(b, X[:ENGINE_SAMPLES]), {}, ht)
            exact = np.array_equal(run.y_esell, esell.forward(net, esell.scale_inputs(b, X[:ENGINE_SAMPLES])))
            ie, idn = np.median(run.instr_esell), np.median(run.instr_dense)
            me, md = np.median(run.mv_esell), np.median(run.mv_dense)
            cells += [f"{int(ie)}", f"{int(idn)}", f"{ie / idn:.3f}", f"{int(me)}", f"{int(md)}", f"{me / md:.3f}",
                      "yes" if exact else "NO"]
        else:
            cells += ["–"] * 7
        cells += [f"{by['esell']}", f"{by['dense_fp16']}", f"{by['esell'] / by['dense_fp16']:.3f}",
                  f"{by['csr_fp16']}", f"{by['esell'] / by['csr_fp16']:.3f}"]
        rows.append("| " + " | ".join(cells) + " |")
    head = (f"| target sparsity % | achieved % | {metric} | Δ vs float | instr/inference eSELL | dense fp16 | ratio | "
            "matrix-product instr eSELL | dense fp16 | ratio | bit-exact vs golden | eSELL bytes | dense fp16 bytes | "
            "ratio | CSR fp16 bytes | eSELL/CSR |")
    return "\n".join([
        f"Model `{model_dir}`; float (dense fp32) {metric} {base:.4f} {unit}. Each sparsity applies to W1 U1 W2 U2, "
        f"magnitude-pruned and fine-tuned under the mask ({prune.DEFAULT_FINETUNE_EPOCHS} epochs max); accuracy "
        f"from the eSELL fp16 golden model on the {len(y)} test rows. Instructions: retired instructions "
        f"(minstret, `qemu-system-riscv32 -icount shift=0`, RV32IMAFC, -O2) per inference, median of "
        f"{ENGINE_SAMPLES} test inputs; the dense fp16 kernel runs the same pruned weights stored densely. Bytes: "
        f"the four LSTM matrices (eSELL = streams + offset tables; CSR = fp16 values + uint16 column indices + "
        f"uint16 row pointers). Rows with `ht` add E-LSTM's hidden-state pruning (groups of 4).", "", head,
        "|" + "---|" * (head.count("|") - 1), *rows])
