"""Bench section ``tflite``: flatbuffer bytes, op kinds, TFLM arena, accuracy, and time per inference in LiteRT and
TFLite Micro (host), of exactly the flatbuffers ``tinylstm export tflite`` writes: those beside the model
(``MODEL/../tflite``) when they were exported from this bundle, else the generator's output at default options."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from .. import export, tflite_build, tflm
from ..errors import UserError
from ..modeldir import ModelDir
from ..reports.tflite import read_files
from . import register


def exported_files(model: ModelDir, tflite_dir: Path | None = None) -> dict[str, bytes]:
    """The ``export tflite`` files of this model: read from ``tflite_dir`` (default ``MODEL/../tflite``) if they
    belong to its bundle, else generated (default options, nothing written)."""
    folder = Path(tflite_dir) if tflite_dir else model.path.parent / "tflite"
    try:
        files = read_files(folder)
        if json.loads(files[tflite_build.SUMMARY_FILE]).get("bundle_sha256") == tflite_build.bundle_digest(model):
            return files
    except (OSError, ValueError):
        pass
    return export.files_for(export.get("tflite"), model)


@register("tflite", "TFLite float/int8 flatbuffers: bytes, ops, TFLM arena, accuracy, µs per inference")
def bench_tflite(model_dir: Path, args: argparse.Namespace) -> str:
    model = ModelDir.load(model_dir)
    try:
        data = model.data_path(getattr(args, "data", None))
    except UserError:
        data = model.data_path()
    files = exported_files(model, getattr(args, "tflite_dir", None))
    summary = json.loads(files[tflite_build.SUMMARY_FILE])
    X_test, _ = model.rows("test", data)
    seqs = model.bundle.sequences(X_test)
    classifier = model.bundle.is_classifier
    fit = "class = reference's | accuracy" if classifier else "max abs diff vs reference | MAE increase"
    lines = [f"| variant | runtime | bytes | op kinds | TFLM arena host min | {fit} | "
             "µs / inference (median of 3 passes over the test rows, incl. reset) |",
             "|---|---|---|---|---|---|---|---|"]
    variants = [v for v in (*tflite_build.VARIANTS, *(f"stream_{x}" for x in tflite_build.VARIANTS))
                if v in summary["variants"] and tflite_build.file_name(v) in files]
    for variant in variants:
        buf = files[tflite_build.file_name(variant)]
        info = summary["variants"][variant]
        acc = tflite_build.accuracy(model, buf, data)
        for runtime in tflite_build.RUNTIMES:
            times = []
            for _ in range(3):
                start = time.perf_counter()
                if variant.startswith("stream_"):
                    tflm.run_stream(buf, seqs, runtime)  # W invokes per window
                else:
                    tflm.run_scaled(buf, seqs, runtime)
                times.append((time.perf_counter() - start) / len(seqs) * 1e6)
            figures = (f"{100 * acc.agreement[runtime]:.2f} % | {100 * acc.accuracy[runtime]:.2f} %" if classifier
                       else f"{acc.max_abs_vs_reference[runtime]:.2e} | {acc.mae_increase[runtime]:+.4f}")
            lines.append(f"| {variant} | {runtime} | {len(buf):,} | {len(tflm.ops(buf))} | "
                         f"{info.get('tflm_arena_min_host', 0):,} | {figures} | {float(np.median(times)):.1f} |")
    lines += ["", "Times include interpreter reset and Python call overhead per sample (the interpreters are "
                  "constructed once per pass; a stream_* row feeds the W steps of each window one invoke each); "
                  "use them for ratios, not absolute MCU figures."]
    return "\n".join(lines)
