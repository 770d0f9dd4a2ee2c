"""``tinylstm profile``: the microcontroller profiling report.

Per layer: parameters, MACs per inference, weight bytes as float32 and as int8 (int8 weights + int32 biases, as in
the int8 flatbuffer); then per flatbuffer: bytes, op kinds, tensors, the TFLM arena measured by bisection, and the
accuracy of each variant in LiteRT and TFLite Micro on the test rows. ``tinylstm run`` includes the same tables
in ``artifacts/report.md`` (through the tflite exporter's report).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def layer_table(bundle) -> str:
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


def render(bundle, summary: dict) -> str:
    from ..export.tflite import render_report

    return "\n".join(["## Microcontroller profile", "",
                      f"Per layer ({bundle.n_steps} time steps per inference; MACs are the gate/dense "
                      "multiply-accumulates; the int8 flatbuffer stores int8 weights and int32 biases):", "",
                      layer_table(bundle), "",
                      render_report(summary, title="### Flatbuffers (TFLite, TFLite Micro)").rstrip(), ""])


def cmd_profile(args: argparse.Namespace) -> int:
    from .. import atomic
    from ..bundle import Bundle
    from ..export.tflite import SUMMARY_FILE, build, bundle_digest

    bundle = Bundle.load(args.model)
    summary_file = (args.tflite_dir or Path(args.model).parent / "tflite") / SUMMARY_FILE
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    if summary.get("bundle_sha256") != bundle_digest(args.model) or args.fresh:
        summary = build(args.model, args.data, calib_samples=args.calib_samples).summary
    text = render(bundle, summary)
    atomic.write_text(args.out, text)
    if not args.quiet:
        print(text)
    return 0


def add_parser(sub, common) -> None:
    from ..data import DEFAULT_CSV

    p = sub.add_parser("profile", parents=[common],
                       help="microcontroller profile: per-layer params/MACs/bytes, flatbuffers, TFLM arena, accuracy")
    p.add_argument("--model", type=Path, default=Path("artifacts/model"), help="model directory")
    p.add_argument("--tflite-dir", type=Path, default=None,
                   help="use the figures of this `tinylstm export tflite` output (default: MODEL/../tflite)")
    p.add_argument("--data", type=Path, default=DEFAULT_CSV, help="the training CSV (if flatbuffers must be built)")
    p.add_argument("--calib-samples", type=int, default=0, help="int8 calibration rows (0 = all)")
    p.add_argument("--fresh", action="store_true", help="convert and measure again even if tflite.json exists")
    p.add_argument("--out", type=Path, default=Path("artifacts/profile.md"), help="Markdown output")
    p.set_defaults(func=cmd_profile)
