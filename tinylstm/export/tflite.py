"""``tinylstm export tflite`` (float32 + full-integer int8 flatbuffers) and ``tinylstm export header`` (model.h).

The path, chosen by measurement (see docs/mcu.md):

1. Rebuild the network from the weight bundle in legacy ``tf_keras`` with a fixed batch of 1
   (``Input((steps, 1), batch_size=1)``, weights copied with ``set_weights``) and convert it with the TFLite
   converter. With a static batch the converter emits the fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` op whose h/c state
   are *variable tensors*, which is what TFLite Micro's LSTM kernel needs. The int8 model is full-integer (int8 input
   and output, int16 cell state inside the LSTM), per-tensor weight scales, calibrated on training rows.
   The conversion runs in a subprocess (TensorFlow with ``TF_USE_LEGACY_KERAS=1``), the only TensorFlow use here.
2. Re-serialise the converter output compactly and deterministically (:func:`tinylstm.tflm.compact`) and, by
   default, drop the last-step STRIDED_SLICE: the dense head then runs on every step and the last output row is
   the prediction (``--keep-slice`` keeps the (1, 1) output instead).
3. Verify both flatbuffers on the test rows in LiteRT and in TFLite Micro's interpreter (raw rows through the
   scaler and the int8 quantisation), and measure the smallest TFLM arena by bisection in subprocesses.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import atomic, tflm
from ..bundle import Bundle
from ..errors import UserError
from . import register

FLOAT_FILE = "model_float.tflite"
INT8_FILE = "model_int8.tflite"
SUMMARY_FILE = "tflite.json"
REPORT_FILE = "tflite.report.md"
DEFAULT_HEADER_DIR = Path("firmware/esp32/include")
#: Header arena = host minimum × (1 + margin), rounded up to ARENA_ROUND bytes (see docs/mcu.md).
ARENA_MARGIN = 0.10
#: Guard rows widen the calibrated int8 input range by this fraction of each feature's training span per side.
DEFAULT_CALIB_MARGIN = 0.15
ARENA_ROUND = 256
#: Self-check tolerance of the header's test vectors, in output quantisation steps (int8) or target units (float).
INT8_VECTOR_STEPS = 2.0
FLOAT_VECTOR_TOL = 1e-3


# ------------------------------------------------------------------------------------------------ options
def _add_tflite_args(p: argparse.ArgumentParser) -> None:
    from ..data import DEFAULT_CSV

    p.add_argument("--data", type=Path, default=DEFAULT_CSV,
                   help="the CSV the model was trained on: training rows calibrate int8, test rows verify "
                        "(default: %(default)s)")
    p.add_argument("--calib-samples", type=int, default=0,
                   help="calibrate int8 on the first N training rows (the split is shuffled); 0 = all (default)")
    p.add_argument("--calib-margin", type=float, default=DEFAULT_CALIB_MARGIN,
                   help="add two guard rows at each feature's training min - F*span and max + F*span to the int8 "
                        "calibration, so inputs a little outside the training range do not saturate "
                        "(default: %(default)s; 0 = training rows only)")
    p.add_argument("--keep-slice", action="store_true",
                   help="keep the STRIDED_SLICE before the dense head (output (1, 1) instead of one row per step)")
    p.add_argument("--no-arena", action="store_true", help="skip the TFLM arena bisection (faster)")


def _add_header_args(p: argparse.ArgumentParser) -> None:
    _add_tflite_args(p)
    p.add_argument("--variant", choices=("int8", "float"), default="int8",
                   help="which flatbuffer goes into model.h (default: %(default)s)")
    p.add_argument("--vectors", type=int, default=5, help="self-check test vectors in the header (default: 5)")
    # `tinylstm export header` writes the firmware's header unless --out says otherwise
    p.set_defaults(out=DEFAULT_HEADER_DIR)


def _opt(args: argparse.Namespace, name: str, default):
    return getattr(args, name, default)


# ------------------------------------------------------------------------------------------------ data
@dataclass
class Rows:
    X_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    data_file: Path


def _training_csv(model_dir: Path, data: Path, want: str) -> Path:
    """``data``, or else the CSV that ``tinylstm run`` recorded in ``<out>/report.json`` if it has the bundle's hash
    (``run --data other.csv`` calls exporters with default options)."""
    from ..data import sha256_of

    data = Path(data)
    if want and (not data.exists() or sha256_of(data) != want):
        report = Path(model_dir).parent / "report.json"
        if report.exists():
            recorded = Path(json.loads(report.read_text()).get("data", {}).get("file", ""))
            if recorded.is_file() and sha256_of(recorded) == want:
                return recorded
    return data


def load_rows(model_dir: Path, bundle: Bundle, data: Path) -> Rows:
    from ..data import ensure_default_dataset, load_dataset

    want = bundle.meta.get("data_sha256")
    data = _training_csv(model_dir, data, want)
    ds = load_dataset(ensure_default_dataset(data), bundle.features, bundle.target)
    if want and want != ds.sha256:
        raise UserError(f"{data}: not the file this model was trained on (SHA-256 {ds.sha256[:12]}…, bundle "
                        f"says {want[:12]}…); pass --data with the training CSV")
    split_file = Path(model_dir) / "split.json"
    if not split_file.exists():
        raise UserError(f"{split_file}: missing (the model directory must come from tinylstm train)")
    sp = json.loads(split_file.read_text())
    train, test = np.asarray(sp["train"]), np.asarray(sp["test"])
    return Rows(ds.X[train], ds.X[test], ds.y[test], ds.path)


def bundle_digest(model_dir: Path) -> str:
    return hashlib.sha256((Path(model_dir) / "bundle.npz").read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------------ conversion
def _convert_worker(bundle_path: str, calib_path: str, out_prefix: str) -> None:
    """Runs in a subprocess with TF_USE_LEGACY_KERAS=1: bundle → tf_keras (batch 1) → float + int8 flatbuffers."""
    import tensorflow as tf
    import tf_keras as K

    tf.keras.utils.set_random_seed(0)
    bundle = Bundle.load(bundle_path)
    calib = np.load(calib_path).astype(np.float32)
    inp = K.Input((bundle.n_steps, 1), batch_size=1, dtype="float32")
    x = inp
    weights = []
    for layer in bundle.lstm:
        x = K.layers.LSTM(layer.units, return_sequences=layer.return_sequences)(x)
        weights += [layer.W, layer.U, layer.b]
    for layer in bundle.dense:
        x = K.layers.Dense(layer.units, activation=layer.activation)(x)
        weights += [layer.W, layer.b]
    model = K.Model(inp, x)
    model.set_weights([np.asarray(w, np.float32) for w in weights])

    def converter():
        return tf.lite.TFLiteConverter.from_keras_model(model)

    conv = converter()
    Path(out_prefix + ".float").write_bytes(conv.convert())
    conv = converter()
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([row[None]] for row in calib)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    conv._experimental_disable_per_channel = True  # per-tensor scales: same accuracy here, 740 B smaller
    Path(out_prefix + ".int8").write_bytes(conv.convert())


def convert(model_dir: Path, calib_seqs: np.ndarray) -> tuple[bytes, bytes]:
    """Raw converter output (float, int8) for the bundle in ``model_dir``, calibrated on ``calib_seqs``."""
    with tempfile.TemporaryDirectory() as tmp:
        calib = Path(tmp) / "calib.npy"
        np.save(calib, np.asarray(calib_seqs, np.float32))
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        r = subprocess.run([sys.executable, "-m", "tinylstm.export.tflite", "--convert-worker",
                            str(Path(model_dir) / "bundle.npz"), str(calib), str(Path(tmp) / "out")],
                           capture_output=True, text=True, env=env, timeout=900)
        if r.returncode != 0:
            tail = "\n".join(r.stderr.strip().splitlines()[-5:])
            raise RuntimeError(f"TFLite conversion failed:\n{tail}")
        return (Path(tmp) / "out.float").read_bytes(), (Path(tmp) / "out.int8").read_bytes()


# ------------------------------------------------------------------------------------------------ build
@dataclass
class Build:
    """Both flatbuffers with everything measured about them."""

    float_fb: bytes
    int8_fb: bytes
    bundle_sha256: str
    calibration: str
    head_every_step: bool
    summary: dict = field(default_factory=dict)

    def flatbuffer(self, variant: str) -> bytes:
        return self.float_fb if variant == "float" else self.int8_fb


_CACHE: dict[tuple, Build] = {}


def header_arena(host_min: int) -> int:
    return int(math.ceil(host_min * (1 + ARENA_MARGIN) / ARENA_ROUND) * ARENA_ROUND)


def build(model_dir: Path, data: Path, calib_samples: int = 0, keep_slice: bool = False, arena: bool = True,
          use_cache: bool = True, calib_margin: float = DEFAULT_CALIB_MARGIN) -> Build:
    """Convert, compact, verify and measure (cached per bundle + options within a process)."""
    from ..reference import predict as ref_predict

    model_dir = Path(model_dir)
    bundle = Bundle.load(model_dir)
    digest = bundle_digest(model_dir)
    key = (digest, str(Path(data).resolve()), calib_samples, keep_slice, arena, calib_margin)
    if use_cache and key in _CACHE:
        return _CACHE[key]
    if calib_samples < 0:
        raise UserError(f"--calib-samples must be >= 0, got {calib_samples}")
    if not 0 <= calib_margin <= 10:
        raise UserError(f"--calib-margin must be in [0, 10], got {calib_margin}")
    rows = load_rows(model_dir, bundle, data)
    from ..data import to_sequences

    n_cal = len(rows.X_train) if calib_samples == 0 else min(calib_samples, len(rows.X_train))
    scaled = bundle.scaler.transform_x(rows.X_train[:n_cal])
    if calib_margin > 0:
        lo, hi = scaled.min(axis=0), scaled.max(axis=0)
        span = hi - lo
        scaled = np.vstack([scaled, lo - calib_margin * span, hi + calib_margin * span])
    calib = to_sequences(scaled, bundle.layout)
    raw_float, raw_int8 = convert(model_dir, calib)
    fb_float = tflm.compact(raw_float, head_every_step=not keep_slice)
    fb_int8 = tflm.compact(raw_int8, head_every_step=not keep_slice)
    calibration = (f"min-max calibration (TFLite converter) on {n_cal} of {len(rows.X_train)} training rows"
                   + (" (all)" if n_cal == len(rows.X_train) else " (the first, split order)")
                   + (f" + 2 guard rows at each feature's training min/max widened by {calib_margin:g} x its span"
                      if calib_margin > 0 else ""))

    ref = ref_predict(bundle, rows.X_test)
    ref_mae = float(np.abs(ref - rows.y_test).mean())
    variants = {}
    for name, raw, fb in (("float", raw_float, fb_float), ("int8", raw_int8, fb_int8)):
        info = tflm.summary(fb)
        info["converter_bytes"] = len(raw)
        info["sha256"] = hashlib.sha256(fb).hexdigest()
        acc = {}
        for runtime in ("litert", "tflm"):
            y = tflm.predict(fb, bundle, rows.X_test, runtime)
            acc[runtime] = {"max_abs_vs_reference": float(np.abs(y - ref).max()),
                            "mae": float(np.abs(y - rows.y_test).mean()),
                            "mae_increase_vs_reference": float(np.abs(y - rows.y_test).mean()) - ref_mae}
        info["accuracy"] = acc
        if arena:
            with tempfile.NamedTemporaryFile(suffix=".tflite", delete=False) as f:
                f.write(fb)
            try:
                info["tflm_arena_min_host"] = tflm.min_arena(f.name)
            finally:
                os.unlink(f.name)
            info["tflm_arena_header"] = header_arena(info["tflm_arena_min_host"])
        variants[name] = info
    summary = {
        "bundle_sha256": digest, "data_sha256": bundle.meta.get("data_sha256", ""), "seed": bundle.meta.get("seed"),
        "calibration": calibration, "calib_rows": n_cal, "test_rows": int(len(rows.X_test)),
        "head_every_step": not keep_slice, "reference_test_mae": ref_mae,
        "target_unit": bundle.units.get(bundle.target, ""), "variants": variants,
        "arena_rule": f"host minimum x {1 + ARENA_MARGIN:.2f}, rounded up to {ARENA_ROUND} B",
    }
    result = Build(fb_float, fb_int8, digest, calibration, not keep_slice, summary)
    _CACHE[key] = result
    return result


def build_from_args(model_dir: Path, args: argparse.Namespace) -> Build:
    from ..data import DEFAULT_CSV

    return build(model_dir, _opt(args, "data", DEFAULT_CSV), _opt(args, "calib_samples", 0),
                 _opt(args, "keep_slice", False), not _opt(args, "no_arena", False),
                 calib_margin=_opt(args, "calib_margin", DEFAULT_CALIB_MARGIN))


# ------------------------------------------------------------------------------------------------ report
def render_report(summary: dict, title: str = "## TensorFlow Lite / TFLite Micro") -> str:
    unit = summary["target_unit"]
    lines = [title, "",
             f"Fused-LSTM flatbuffers rebuilt from the weight bundle (tf_keras, batch 1), compacted; "
             f"{summary['calibration']}; verified on {summary['test_rows']} test rows with the LSTM state reset "
             f"per sample. Reference (numpy golden model) test MAE {summary['reference_test_mae']:.4f} {unit}.", "",
             "| variant | bytes (converter → compact) | op kinds | tensors | TFLM arena host min → header | "
             f"max abs diff vs reference LiteRT / TFLM [{unit}] | MAE increase LiteRT / TFLM [{unit}] |",
             "|---|---|---|---|---|---|---|"]
    for name, v in summary["variants"].items():
        a = v["accuracy"]
        arena = (f"{v['tflm_arena_min_host']:,} → {v['tflm_arena_header']:,}" if "tflm_arena_min_host" in v
                 else "not measured")
        lines.append(f"| {name} | {v['converter_bytes']:,} → **{v['bytes']:,}** | {len(v['ops'])}: "
                     f"{', '.join(f'{k}×{n}' for k, n in v['op_counts'].items())} | {v['tensors']} | {arena} | "
                     f"{a['litert']['max_abs_vs_reference']:.2e} / {a['tflm']['max_abs_vs_reference']:.2e} | "
                     f"{a['litert']['mae_increase_vs_reference']:+.4f} / {a['tflm']['mae_increase_vs_reference']:+.4f} |")
    lines += ["", f"Arena in model.h: {summary['arena_rule']} (the host interpreter is 64-bit; see docs/mcu.md)."]
    return "\n".join(lines) + "\n"


@register("tflite", "float32 + full-integer int8 TFLite flatbuffers, verified in LiteRT and TFLite Micro",
          add_arguments=_add_tflite_args, default_subdir="tflite")
def export_tflite(model_dir: Path, out_dir: Path, args: argparse.Namespace) -> list[Path]:
    b = build_from_args(model_dir, args)
    out_dir = Path(out_dir)
    return [atomic.write_bytes(out_dir / FLOAT_FILE, b.float_fb), atomic.write_bytes(out_dir / INT8_FILE, b.int8_fb),
            atomic.write_json(out_dir / SUMMARY_FILE, b.summary),
            atomic.write_text(out_dir / REPORT_FILE, _profile_report(model_dir, b.summary))]


def _profile_report(model_dir: Path, summary: dict) -> str:
    from ..commands.profile import render

    return render(Bundle.load(model_dir), summary)


@register("header", "model.h for TFLite Micro / EloquentTinyML sketches and the ESP32 firmware "
                    "(default --out firmware/esp32/include)", add_arguments=_add_header_args,
          default_subdir="header")
def export_header(model_dir: Path, out_dir: Path, args: argparse.Namespace) -> list[Path]:
    from .header import render_header

    if _opt(args, "vectors", 5) < 1:
        raise UserError(f"--vectors must be >= 1, got {args.vectors}")
    if _opt(args, "no_arena", False):
        raise UserError("the header needs the measured arena: drop --no-arena")
    b = build_from_args(model_dir, args)
    variant = _opt(args, "variant", "int8")
    text = render_header(Bundle.load(model_dir), b, variant, _opt(args, "vectors", 5), Path(model_dir),
                         _opt(args, "data", None))
    return [atomic.write_text(Path(out_dir) / "model.h", text)]


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--convert-worker":
    _convert_worker(*sys.argv[2:])
