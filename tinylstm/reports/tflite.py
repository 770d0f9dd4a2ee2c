"""Report of ``tinylstm export tflite`` (also ``tinylstm profile``'s): per-layer sizes, then per flatbuffer its
bytes, op kinds, tensors, TFLM arena and its accuracy in LiteRT and TFLite Micro on the test rows.

The accuracy figures are :func:`tinylstm.tflite_build.accuracy` of the written flatbuffers — the same computation
``model.h`` states in its provenance comment and the bench prints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from .. import tflite_build, tflm
from ..modeldir import ModelDir


def layer_table(bundle) -> str:
    """Per layer: parameters, MACs per inference, weight bytes as float32 and as int8 (int8 weights, int32 bias)."""
    steps = bundle.n_steps
    rows, tot = [], [0, 0, 0, 0]
    for k, l in enumerate(bundle.lstm):
        p, macs = l.params(), l.macs_per_step() * steps
        fbytes, qbytes = 4 * p, l.W.size + l.U.size + 4 * l.b.size
        rows.append(f"| lstm{k} | LSTM({l.units}{', seq' if l.return_sequences else ''}) in {l.inputs} × {steps} "
                    f"steps | {p:,} | {macs:,} | {fbytes:,} | {qbytes:,} | {3 * l.units * steps} σ, "
                    f"{2 * l.units * steps} tanh |")
        tot = [tot[0] + p, tot[1] + macs, tot[2] + fbytes, tot[3] + qbytes]
    for k, d in enumerate(bundle.dense):
        p, macs = d.params(), int(d.W.size)
        fbytes, qbytes = 4 * p, d.W.size + 4 * d.b.size
        rows.append(f"| dense{k} | Dense({d.units}, {d.activation}) in {d.W.shape[0]} | {p:,} | {macs:,} | "
                    f"{fbytes:,} | {qbytes:,} | {f'{d.units} ReLU' if d.activation == 'relu' else d.activation} |")
        tot = [tot[0] + p, tot[1] + macs, tot[2] + fbytes, tot[3] + qbytes]
    return "\n".join([
        "| layer | shape | params | MACs / inference | float32 bytes | int8 bytes (int32 bias) | activations |",
        "|---|---|---|---|---|---|---|", *rows,
        f"| **total** | {bundle.describe()} | **{tot[0]:,}** | **{tot[1]:,}** | **{tot[2]:,}** | **{tot[3]:,}** | |",
    ])


def flatbuffer_table(model: ModelDir, files: Mapping[str, bytes], data: Path | None = None,
                     title: str = "## TensorFlow Lite / TFLite Micro") -> str:
    """The flatbuffers of one ``export tflite`` (``files`` as its generator returns them), verified here; a window
    model's one-step streaming flatbuffers get their own rows (fed the W steps of each test window) and the
    measured stream-vs-W-step gap."""
    summary = json.loads(files[tflite_build.SUMMARY_FILE])
    unit = summary["target_unit"]
    variants = [v for v in (*tflite_build.VARIANTS, *(f"stream_{x}" for x in tflite_build.VARIANTS))
                if v in summary["variants"]]
    accs = {v: tflite_build.accuracy(model, files[tflite_build.file_name(v)], data) for v in variants}
    first = accs["float"]
    classifier = first.agreement is not None
    reference = (f"Reference (numpy golden model) test accuracy {100 * first.reference_accuracy:.2f} %." if classifier
                 else f"Reference (numpy golden model) test MAE {first.reference_mae:.4f} {unit}.")
    last_cols = ("max abs diff of the probabilities vs reference LiteRT / TFLM | class = reference's LiteRT / TFLM "
                 "| accuracy LiteRT / TFLM |" if classifier else
                 f"max abs diff vs reference LiteRT / TFLM [{unit}] | MAE increase LiteRT / TFLM [{unit}] |")
    lines = [title, "",
             f"Fused-LSTM flatbuffers rebuilt from the weight bundle (tf_keras, batch 1), compacted; "
             f"{summary['calibration']}; verified on {first.test_rows} test rows with the LSTM state reset "
             f"per sample. {reference}", "",
             "| variant | bytes (converter → compact) | op kinds | tensors | TFLM arena host min → header | "
             + last_cols,
             "|---|---|---|---|---|---|---|" + ("---|" if classifier else "")]
    for name in variants:
        fb = files[tflite_build.file_name(name)]
        v, a = summary["variants"][name], accs[name]
        arena = (f"{v['tflm_arena_min_host']:,} → {v['tflm_arena_header']:,}" if "tflm_arena_min_host" in v
                 else "not measured")
        counts = tflm.op_counts(fb)
        m = a.max_abs_vs_reference
        tail = (f"{100 * a.agreement['litert']:.2f} % / {100 * a.agreement['tflm']:.2f} % | "
                f"{100 * a.accuracy['litert']:.2f} % / {100 * a.accuracy['tflm']:.2f} % |" if classifier else
                f"{a.mae_increase['litert']:+.4f} / {a.mae_increase['tflm']:+.4f} |")
        lines.append(f"| {name} | {v['converter_bytes']:,} → **{len(fb):,}** | {len(counts)}: "
                     f"{', '.join(f'{k}×{n}' for k, n in counts.items())} | {tflm.tensor_count(fb)} | {arena} | "
                     f"{m['litert']:.2e} / {m['tflm']:.2e} | " + tail)
    lines += ["", f"Arena in model.h: {summary['arena_rule']} (the host interpreter is 64-bit; see docs/mcu.md)."]
    if "stream_float" in variants:
        gaps = {x: tflite_build.stream_gap(model, files[tflite_build.file_name(x)],
                                           files[tflite_build.file_name(f"stream_{x}")], data)
                for x in tflite_build.VARIANTS}
        lines += ["", "Streaming (`model_stream_*.tflite`, input (1, 1, F), one step per invoke, `Reset()` per "
                      "sequence): after every step of every test window, largest |difference| from the W-step "
                      "flatbuffer's output row for that step: "
                  + "; ".join(f"{x} " + ", ".join(f"{tflite_build.RUNTIME_NAMES[r]} "
                                                  f"{'0 (bit-exact)' if g == 0 else f'{g:.2e}'}"
                                                  for r, g in gaps[x].items()) for x in tflite_build.VARIANTS)
                  + "."]
    return "\n".join(lines) + "\n"


def render(model: ModelDir, files: Mapping[str, bytes], data: Path | None = None) -> str:
    """The microcontroller profile: the layer table and the flatbuffer table."""
    bundle = model.bundle
    return "\n".join(["## Microcontroller profile", "",
                      f"Per layer ({bundle.n_steps} time steps per inference; MACs are the gate/dense "
                      "multiply-accumulates; the int8 flatbuffer stores int8 weights and int32 biases):", "",
                      layer_table(bundle), "",
                      flatbuffer_table(model, files, data, title="### Flatbuffers (TFLite, TFLite Micro)").rstrip(),
                      ""])


def read_files(out_dir: Path) -> dict[str, bytes]:
    """The files an ``export tflite`` wrote into ``out_dir``."""
    names = (tflite_build.FLOAT_FILE, tflite_build.INT8_FILE, tflite_build.SUMMARY_FILE,
             *tflite_build.STREAM_FILES.values())
    return {n: (Path(out_dir) / n).read_bytes() for n in names if n in _REQUIRED or (Path(out_dir) / n).exists()}


_REQUIRED = (tflite_build.FLOAT_FILE, tflite_build.INT8_FILE, tflite_build.SUMMARY_FILE)


def section(model: ModelDir, options: Any, out_dir: Path) -> str:
    return render(model, read_files(out_dir), getattr(options, "data", None))
