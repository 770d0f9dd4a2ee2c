"""``tinylstm profile``: the microcontroller profiling report (a thin command over :mod:`tinylstm.reports.tflite`).

Per layer: parameters, MACs per inference, weight bytes as float32 and as int8 (int8 weights + int32 biases, as in
the int8 flatbuffer); then per flatbuffer: bytes, op kinds, tensors, the TFLM arena measured by bisection, and the
accuracy of each variant in LiteRT and TFLite Micro on the test rows. It reads the flatbuffers of an
``export tflite`` of the same bundle (default ``MODEL/../tflite``) or generates them in memory. Then the FPGA core
(:mod:`tinylstm.reports.fpga_profile`): cycles per inference simulated in Icarus and the placed figures of a
``tinylstm fpga build`` report (``--fpga-build``), inferences/s = Fmax ÷ cycles.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import atomic, export, tflite_build
from ..export.tflite import TFLiteOptions
from ..modeldir import ModelDir
from ..reports import fpga_profile
from ..reports import tflite as report


def cmd_profile(args: argparse.Namespace) -> int:
    model = ModelDir.load(args.model)
    folder = args.tflite_dir or Path(args.model).parent / "tflite"
    summary_file = folder / tflite_build.SUMMARY_FILE
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    if summary.get("bundle_sha256") == tflite_build.bundle_digest(model) and not args.fresh:
        files = report.read_files(folder)
    else:
        opts = TFLiteOptions(data=args.data, calib_samples=args.calib_samples)
        files = export.files_for(export.get("tflite"), model, opts)
    text = report.render(model, files, args.data)
    build = args.fpga_build or Path(args.model).parent / "fpga" / "build_up5k-sg48_tl_icebreaker"
    X_test, _ = model.rows("test", args.data)
    text += "\n" + fpga_profile.section(model, X_test, build)
    atomic.write_text(args.out, text)
    if not args.quiet:
        print(text)
    return 0


def add_parser(sub, common) -> None:
    p = sub.add_parser("profile", parents=[common],
                       help="microcontroller profile: per-layer params/MACs/bytes, flatbuffers, TFLM arena, accuracy")
    p.add_argument("--model", type=Path, default=Path("artifacts/model"), help="model directory")
    p.add_argument("--tflite-dir", type=Path, default=None,
                   help="use the flatbuffers of this `tinylstm export tflite` output (default: MODEL/../tflite)")
    p.add_argument("--data", type=Path, default=None,
                   help="the training CSV (default: found beside the model, see ModelDir.data_path)")
    p.add_argument("--calib-samples", type=int, default=0, help="int8 calibration rows (0 = all)")
    p.add_argument("--fresh", action="store_true", help="convert and measure again even if tflite.json exists")
    p.add_argument("--fpga-build", type=Path, default=None,
                   help="a `tinylstm fpga build` directory whose report.json gives the placed FPGA figures "
                        "(default: MODEL/../fpga/build_up5k-sg48_tl_icebreaker)")
    p.add_argument("--out", type=Path, default=Path("artifacts/profile.md"), help="Markdown output")
    p.set_defaults(func=cmd_profile)
