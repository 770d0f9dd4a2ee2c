"""Bench section ``tflite``: flatbuffer bytes, op kinds, TFLM arena, accuracy, and time per inference in LiteRT and
TFLite Micro (host). Needs ``tinylstm export tflite`` output beside the model (``artifacts/tflite``)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from . import register


@register("tflite", "TFLite float/int8 flatbuffers: bytes, ops, TFLM arena, accuracy, µs per inference")
def bench_tflite(model_dir: Path, args: argparse.Namespace) -> str:
    from .. import tflm
    from ..backends.tflite import load
    from ..bundle import Bundle
    from ..data import to_sequences
    from ..export.tflite import load_rows

    bundle = Bundle.load(model_dir)
    rows = load_rows(model_dir, bundle, args.data)
    seqs = to_sequences(bundle.scaler.transform_x(rows.X_test), bundle.layout)
    lines = ["| variant | runtime | bytes | op kinds | TFLM arena host min | max abs diff vs reference | "
             "MAE increase | µs / inference (median of 3 passes over the test rows, incl. reset) |",
             "|---|---|---|---|---|---|---|---|"]
    for variant in ("float", "int8"):
        buf, summary = load(model_dir, variant, getattr(args, "tflite_dir", None))
        info = summary["variants"][variant]
        for runtime in ("litert", "tflm"):
            times = []
            for _ in range(3):
                start = time.perf_counter()
                tflm.run_scaled(buf, seqs, runtime)
                times.append((time.perf_counter() - start) / len(seqs) * 1e6)
            acc = info["accuracy"][runtime]
            lines.append(f"| {variant} | {runtime} | {info['bytes']:,} | {len(info['ops'])} | "
                         f"{info.get('tflm_arena_min_host', 0):,} | {acc['max_abs_vs_reference']:.2e} | "
                         f"{acc['mae_increase_vs_reference']:+.4f} | {float(np.median(times)):.1f} |")
    lines += ["", "Times include interpreter reset and Python call overhead per sample (the interpreters are "
                  "constructed once per pass); use them for ratios, not absolute MCU figures."]
    return "\n".join(lines)
