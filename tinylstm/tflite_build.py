"""The TFLite library behind ``export tflite``, ``export header``, ``profile``, the tflite backends and bench.

The path, chosen by measurement (see docs/mcu.md):

1. :func:`convert`: rebuild the network from the weight bundle in legacy ``tf_keras`` with a fixed batch of 1
   (``Input((steps, 1), batch_size=1)``, weights copied with ``set_weights``) and convert it with the TFLite
   converter. With a static batch the converter emits the fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` op whose h/c state
   are *variable tensors*, which is what TFLite Micro's LSTM kernel needs. The int8 model is full-integer (int8
   input and output, int16 cell state inside the LSTM), per-tensor weight scales, calibrated on training rows
   (:func:`calibration_rows`). The conversion runs in a subprocess (:mod:`tinylstm.tflite_worker`: TensorFlow with
   ``TF_USE_LEGACY_KERAS=1``; :func:`prefetch` starts it ahead of time).
2. :func:`tinylstm.tflm.compact`: re-serialise compactly and deterministically and, by default, drop the
   last-step STRIDED_SLICE (the dense head then runs on every step; the last output row is the prediction).
3. :func:`build`: both flatbuffers and, unless told otherwise, the smallest TFLM arena of each (bisection in
   subprocesses) — the figure ``model.h`` must contain. Deterministic; cached per bundle and options.

Verification (:func:`accuracy`: LiteRT and TFLM against the numpy golden model on the test rows) is a separate
function: the reports (:mod:`tinylstm.reports.tflite`, :mod:`tinylstm.reports.header`), ``model.h``'s accuracy
line and the bench all state the figures it computes.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import tflite_worker, tflm
from .bundle import Bundle
from .errors import UserError
from .modeldir import ModelDir
from .numerics import Capabilities, check_supported
from .reference import predict as ref_predict

FLOAT_FILE = "model_float.tflite"
INT8_FILE = "model_int8.tflite"
#: The one-step streaming flatbuffers (window layout only): :func:`tinylstm.tflm.one_step` of the W-step ones.
STREAM_FILES = {"float": "model_stream_float.tflite", "int8": "model_stream_int8.tflite"}
SUMMARY_FILE = "tflite.json"
VARIANTS = ("float", "int8")
RUNTIMES = ("litert", "tflm")
RUNTIME_NAMES = {"litert": "LiteRT", "tflm": "TFLM"}
#: Header arena = host minimum × (1 + margin), rounded up to ARENA_ROUND bytes (see docs/mcu.md).
ARENA_MARGIN = 0.10
ARENA_ROUND = 256
ARENA_RULE = f"host minimum x {1 + ARENA_MARGIN:.2f}, rounded up to {ARENA_ROUND} B"
#: Guard rows widen the calibrated int8 input range by this fraction of each feature's training span per side.
DEFAULT_CALIB_MARGIN = 0.15
#: ``--calib-clip`` default: WINDOW_CLIP for window models, off for feature_per_step (see :func:`effective_clip`).
AUTO_CLIP = -1.0
#: Chosen on models/digits' 251 validation windows (TFLM int8 vs Keras, same class: 99.60 % off, 98.80 % at 99.9,
#: 99.60 % at 99.95, 98.41 % at 99.99; the tie broken by mean |Δp|: 0.00262 off, 0.00152 at 99.95; docs/mcu.md).
WINDOW_CLIP = 99.95
#: Self-check tolerance of the header's test vectors, in output quantisation steps (int8) or target units (float).
INT8_VECTOR_STEPS = 2.0
FLOAT_VECTOR_TOL = 1e-3


#: What the TFLite path runs: any layout, regression or classification (softmax kept as TFLite's SOFTMAX), any
#: number of outputs and of values per step.
CAPABILITIES = Capabilities("TFLite", layouts=("feature_per_step", "window"), tasks=("regression", "classification"),
                            max_outputs=None, max_inputs_per_step=None)


def file_name(variant: str) -> str:
    """``float``/``int8`` (the W-step flatbuffers) or ``stream_float``/``stream_int8`` (the one-step ones)."""
    if variant.startswith("stream_"):
        return STREAM_FILES[variant[len("stream_"):]]
    return FLOAT_FILE if variant == "float" else INT8_FILE


def has_stream(bundle: Bundle) -> bool:
    """Whether the model gets one-step streaming flatbuffers: a window model (a time series fed one step at a
    time); a feature_per_step model's steps are its features, not time."""
    return bundle.layout == "window"


def bundle_digest(model: ModelDir | str | Path) -> str:
    path = model.path if isinstance(model, ModelDir) else Path(model)
    return hashlib.sha256((path / "bundle.npz").read_bytes()).hexdigest()


def header_arena(host_min: int) -> int:
    return int(math.ceil(host_min * (1 + ARENA_MARGIN) / ARENA_ROUND) * ARENA_ROUND)


# ------------------------------------------------------------------------------------------------ conversion
def effective_clip(bundle: Bundle, calib_clip: float) -> float:
    """The calibration clip percentile in force: ``calib_clip``, or with AUTO_CLIP (-1) WINDOW_CLIP for a window
    model and 0 (off) for feature_per_step (whose int8 flatbuffer keeps the tutorial's calibration, byte for
    byte)."""
    if calib_clip == AUTO_CLIP:
        return WINDOW_CLIP if bundle.layout == "window" else 0.0
    return float(calib_clip)


def calibration_rows(model: ModelDir, data: Path | None, calib_samples: int,
                     calib_margin: float, calib_clip: float = AUTO_CLIP) -> tuple[np.ndarray, str, int]:
    """Standardised int8 calibration sequences, their description, and how many training rows they hold.

    With a clip percentile P (:func:`effective_clip`) every standardised value is first clipped to the
    [100 - P, P] percentiles of all of them (pooled over steps and features: the int8 input tensor has one scale,
    and a rare value tens of standard deviations out — digits' edge pixels — would otherwise take the resolution
    of every feature); the guard rows are then added around the clipped range."""
    if not (calib_clip == AUTO_CLIP or calib_clip == 0 or 50 < calib_clip <= 100):
        raise UserError(f"--calib-clip must be -1 (auto), 0 (off) or a percentile in (50, 100], got {calib_clip}")
    if calib_samples < 0:
        raise UserError(f"--calib-samples must be >= 0, got {calib_samples}")
    if not 0 <= calib_margin <= 10:
        raise UserError(f"--calib-margin must be in [0, 10], got {calib_margin}")
    bundle = model.bundle
    X_train, _ = model.rows("train", data)
    n_cal = len(X_train) if calib_samples == 0 else min(calib_samples, len(X_train))
    X = np.asarray(X_train[:n_cal], dtype=np.float64).reshape(-1, bundle.n_steps, bundle.values_per_step)
    shape = (bundle.n_steps, bundle.values_per_step)
    scaled = (X - bundle.input_mean().reshape(shape)) / bundle.input_scale().reshape(shape)  # float64 margins
    clip = effective_clip(bundle, calib_clip)
    if clip:
        lo_q, hi_q = np.percentile(scaled, [100 - clip, clip])  # pooled: the int8 input has one scale
        scaled = np.clip(scaled, lo_q, hi_q)
    if calib_margin > 0:
        lo, hi = scaled.min(axis=0), scaled.max(axis=0)
        span = hi - lo
        scaled = np.concatenate([scaled, (lo - calib_margin * span)[None], (hi + calib_margin * span)[None]])
    text = (f"min-max calibration (TFLite converter) on {n_cal} of {len(X_train)} training rows"
            + (" (all)" if n_cal == len(X_train) else " (the first, split order)")
            + (f", values clipped to their {100 - clip:g}th..{clip:g}th percentile" if clip else "")
            + (f" + 2 guard rows at each feature's training min/max widened by {calib_margin:g} x its span"
               if calib_margin > 0 else ""))
    return scaled.astype(np.float32), text, n_cal


_PENDING: dict[tuple[str, str], tflite_worker.Worker] = {}


def _job_key(bundle_sha256: str, calib_seqs: np.ndarray) -> tuple[str, str]:
    calib = np.ascontiguousarray(calib_seqs, np.float32)
    return bundle_sha256, hashlib.sha256(repr(calib.shape).encode() + calib.tobytes()).hexdigest()


def convert(model: ModelDir | Bundle, calib_seqs: np.ndarray) -> tuple[bytes, bytes]:
    """Raw converter output (float, int8) for the model's bundle (or a bundle), calibrated on ``calib_seqs``: the
    result of the conversion :func:`prefetch` started for them, or a conversion run now
    (:mod:`tinylstm.tflite_worker`)."""
    if isinstance(model, ModelDir):
        worker = _PENDING.pop(_job_key(bundle_digest(model), calib_seqs), None)
        if worker is not None:
            return worker.result()
        return tflite_worker.run_job(model.path / "bundle.npz", calib_seqs)
    return tflite_worker.run_job(model, calib_seqs)


def prefetch(model: ModelDir, data: Path | None = None, calib_samples: int = 0,
             calib_margin: float = DEFAULT_CALIB_MARGIN, calib_clip: float = AUTO_CLIP,
             worker: tflite_worker.Worker | None = None) -> None:
    """Start the conversion :func:`build` with these options will ask for, in ``worker`` (one started earlier) or
    a new worker process; :func:`convert` then waits for its bytes. Same bytes as converting later."""
    check_supported(model.bundle, CAPABILITIES)
    calib, _, _ = calibration_rows(model, model.data_path(data), calib_samples, calib_margin, calib_clip)
    key = _job_key(bundle_digest(model), calib)
    if key in _PENDING:
        if worker is not None:
            worker.close()
        return
    worker = worker if worker is not None else tflite_worker.Worker()
    worker.submit(model.path / "bundle.npz", calib)
    _PENDING[key] = worker


def discard(worker: tflite_worker.Worker) -> None:
    """Stop ``worker`` and forget its job (a run that ends without asking for the conversion it prefetched)."""
    for key, w in list(_PENDING.items()):
        if w is worker:
            del _PENDING[key]
    worker.close()


# ------------------------------------------------------------------------------------------------ build
@dataclass(frozen=True)
class Build:
    """Both compact flatbuffers (what ``export tflite`` writes), the converter's raw output, the measured arenas;
    for a window model also the one-step streaming flatbuffers."""

    float_fb: bytes
    int8_fb: bytes
    raw_float: bytes
    raw_int8: bytes
    bundle_sha256: str
    calibration: str
    calib_rows: int
    head_every_step: bool
    arena_min_host: dict  # variant (float, int8, stream_float, stream_int8) -> bytes ({} when not measured)
    stream_float_fb: bytes = b""
    stream_int8_fb: bytes = b""

    @property
    def variants(self) -> tuple[str, ...]:
        """The flatbuffers of this build: float, int8 and, for a window model, stream_float, stream_int8."""
        return VARIANTS + (tuple(f"stream_{v}" for v in VARIANTS) if self.stream_float_fb else ())

    def flatbuffer(self, variant: str) -> bytes:
        return {"float": self.float_fb, "int8": self.int8_fb, "stream_float": self.stream_float_fb,
                "stream_int8": self.stream_int8_fb}[variant]

    def raw(self, variant: str) -> bytes:
        return self.raw_float if variant.endswith("float") else self.raw_int8


def stream_flatbuffer(raw: bytes) -> bytes:
    """The one-step streaming flatbuffer of a converter flatbuffer: head on every step, then every activation
    shape cut to one step (:func:`tinylstm.tflm.one_step`), compacted like the W-step one. Same weights and
    quantisation as the W-step flatbuffer, hence the same arithmetic per step."""
    return tflm.transform(raw, tflm.drop_trailing_slice, tflm.one_step, tflm.share_lstm_intermediates)


def build_bundle(bundle: Bundle, calib_seqs: np.ndarray) -> Build:
    """The flatbuffers of a bundle that has no model directory or training CSV (tests' random shapes), int8
    calibrated on the standardised sequences ``calib_seqs`` as given; no arena measured, nothing cached."""
    check_supported(bundle, CAPABILITIES)
    raw_float, raw_int8 = convert(bundle, calib_seqs)
    stream = (stream_flatbuffer(raw_float), stream_flatbuffer(raw_int8)) if has_stream(bundle) else (b"", b"")
    return Build(tflm.compact(raw_float, head_every_step=True), tflm.compact(raw_int8, head_every_step=True),
                 raw_float, raw_int8, "", f"min-max calibration on {len(calib_seqs)} given sequences",
                 len(calib_seqs), True, {}, *stream)


_BUILDS: dict[tuple, Build] = {}


def build(model: ModelDir, data: Path | None = None, calib_samples: int = 0,
          calib_margin: float = DEFAULT_CALIB_MARGIN, keep_slice: bool = False, arena: bool = True,
          use_cache: bool = True, calib_clip: float = AUTO_CLIP) -> Build:
    """Convert, compact and (with ``arena``) measure the smallest TFLM arena of every flatbuffer."""
    check_supported(model.bundle, CAPABILITIES)
    digest = bundle_digest(model)
    data_path = model.data_path(data)
    key = (digest, str(data_path.resolve()), calib_samples, calib_margin, keep_slice,
           effective_clip(model.bundle, calib_clip))
    cached = _BUILDS.get(key) if use_cache else None
    if cached is not None and (cached.arena_min_host or not arena):
        return cached
    if cached is None:
        calib, text, n_cal = calibration_rows(model, data_path, calib_samples, calib_margin, calib_clip)
        raw_float, raw_int8 = convert(model, calib)
        stream = ((stream_flatbuffer(raw_float), stream_flatbuffer(raw_int8)) if has_stream(model.bundle)
                  else (b"", b""))
        cached = Build(tflm.compact(raw_float, head_every_step=not keep_slice),
                       tflm.compact(raw_int8, head_every_step=not keep_slice), raw_float, raw_int8, digest, text,
                       n_cal, not keep_slice, {}, *stream)
    if arena:
        cached = Build(**{**cached.__dict__,
                          "arena_min_host": {v: measure_arena(cached.flatbuffer(v)) for v in cached.variants}})
    _BUILDS[key] = cached
    return cached


# ------------------------------------------------------------------------------------------------ EloquentTinyML
def eloquent_flatbuffer(model: ModelDir, fb: bytes) -> bytes:
    """The EloquentTinyML drop-in form of a compact flatbuffer ``fb`` (int8 or float, head on every step).

    :func:`tinylstm.tflm.float_edges`: a float32 input of raw feature values, standardised inside the graph in
    float (MUL, ADD) before the QUANTIZE into the int8 model, and one float32 output in target units (DEQUANTIZE,
    then a float FULLY_CONNECTED (0, …, 0, y_scale) + y_mean that picks the last step and undoes the target
    scaling); :func:`tinylstm.tflm.reset_state_in_graph`: the LSTM state zeroed at the start of every invoke, so
    every call gives the same answer without ``Reset()``. Chosen over an unrolled, stateless graph by measurement
    (docs/mcu.md): 6,816 vs 11,696 B and 6 vs 11 op kinds (int8, reference model).
    """
    sc = model.bundle.scaler
    n_out = int(np.prod(tflm.io_quant(fb).output_shape))
    w = np.zeros(n_out)
    w[-1] = sc.y_scale
    x_scale, x_mean = np.asarray(sc.x_scale, np.float64), np.asarray(sc.x_mean, np.float64)
    return tflm.transform(fb, lambda m: tflm.float_edges(m, 1.0 / x_scale, -x_mean / x_scale, w, float(sc.y_mean)),
                          tflm.reset_state_in_graph)


def run_raw(fb: bytes, X_raw: np.ndarray, arena_size: int = 1 << 16, reset: bool = False) -> np.ndarray:
    """A float-I/O flatbuffer (:func:`eloquent_flatbuffer`) on raw rows in TFLM, with ``begin()``-once semantics:
    one interpreter for all rows, no ``reset()`` between them unless ``reset``. Returns target units (n,)."""
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(bytes(fb), arena_size=arena_size)
    shape = tuple(int(v) for v in tflm.io_quant(fb).input_shape)
    out = np.empty(len(X_raw))
    for n, x in enumerate(np.atleast_2d(X_raw)):
        if reset:
            it.reset()
        it.set_input(np.asarray(x, np.float32).reshape(shape), 0)
        it.invoke()
        out[n] = float(np.asarray(it.get_output(0)).reshape(-1)[0])
    return out


_ARENAS: dict[str, int] = {}


def measure_arena(fb: bytes) -> int:
    """The smallest arena TFLM's host interpreter runs ``fb`` with (bisection in subprocesses; cached per bytes)."""
    key = hashlib.sha256(fb).hexdigest()
    if key not in _ARENAS:
        _ARENAS[key] = _bisect_arena(fb)
    return _ARENAS[key]


def _bisect_arena(fb: bytes) -> int:
    with tempfile.NamedTemporaryFile(suffix=".tflite", delete=False) as f:
        f.write(fb)
    try:
        return tflm.min_arena(f.name)
    finally:
        os.unlink(f.name)


def summary(model: ModelDir, b: Build) -> dict:
    """``tflite.json``: what was built, from which model, and its measured arena (no verification figures)."""
    bundle = model.bundle
    variants = {}
    for name in b.variants:
        fb = b.flatbuffer(name)
        info = tflm.summary(fb)
        info["converter_bytes"] = len(b.raw(name))
        info["sha256"] = hashlib.sha256(fb).hexdigest()
        if name in b.arena_min_host:
            info["tflm_arena_min_host"] = b.arena_min_host[name]
            info["tflm_arena_header"] = header_arena(b.arena_min_host[name])
        variants[name] = info
    return {"bundle_sha256": b.bundle_sha256, "data_sha256": bundle.meta.get("data_sha256", ""),
            "seed": bundle.meta.get("seed"), "calibration": b.calibration, "calib_rows": b.calib_rows,
            "head_every_step": b.head_every_step, "target_unit": bundle.units.get(bundle.target, ""),
            "arena_rule": ARENA_RULE, "variants": variants,
            **({"classes": bundle.classes} if bundle.is_classifier else {})}


# ------------------------------------------------------------------------------------------------ verification
@dataclass(frozen=True)
class Accuracy:
    """One flatbuffer on the model's test rows against the numpy golden model, per runtime.

    Regression (target units): max |diff| and MAE (increase over the reference's). Classification: max |diff| of
    the K probabilities, ``accuracy`` (share of test windows classified right), ``agreement`` (share whose class
    equals the reference's); ``mae``/``mae_increase`` stay empty."""

    test_rows: int
    reference_mae: float
    max_abs_vs_reference: dict  # runtime -> float
    mae: dict
    mae_increase: dict  # runtime -> MAE - reference MAE
    reference_accuracy: float | None = None
    accuracy: dict | None = None  # runtime -> share right (classification)
    agreement: dict | None = None  # runtime -> share of the reference's class (classification)

    def line(self, unit: str) -> str:
        """The accuracy sentence ``model.h`` and the reports state (for the runtimes measured)."""
        m, d = self.max_abs_vs_reference, self.mae_increase
        names = [r for r in RUNTIMES if r in m]
        if self.agreement is not None:
            a, g = self.accuracy, self.agreement

            def per(fmt) -> str:
                return ", ".join(f"{RUNTIME_NAMES[r]} {fmt(r)}" for r in names)

            return (f"max |diff| of the probabilities {per(lambda r: f'{m[r]:.3g}')}; class equal to the "
                    f"reference's on {per(lambda r: f'{100 * g[r]:.2f} %')} of the windows; accuracy "
                    f"{per(lambda r: f'{100 * a[r]:.2f} %')} (reference {100 * self.reference_accuracy:.2f} %)")
        return (f"max |diff| {', '.join(f'{RUNTIME_NAMES[r]} {m[r]:.3g}' for r in names)} {unit}; MAE increase "
                f"{', '.join(f'{RUNTIME_NAMES[r]} {d[r]:+.4f}' for r in names)} {unit}")


_ACCURACY: dict[tuple, Accuracy] = {}


def _compare(bundle, ref: np.ndarray, y_test: np.ndarray, outputs: dict) -> Accuracy:
    """``outputs``: runtime -> what the flatbuffer gave for the test rows (Bundle.outputs form)."""
    gap = {r: float(np.abs(y - ref).max()) for r, y in outputs.items()}
    if bundle.is_classifier:
        truth = np.asarray(y_test).astype(int)
        ref_cls = ref.argmax(axis=1)
        acc = {r: float((y.argmax(axis=1) == truth).mean()) for r, y in outputs.items()}
        agree = {r: float((y.argmax(axis=1) == ref_cls).mean()) for r, y in outputs.items()}
        return Accuracy(int(len(ref)), float("nan"), gap, {}, {}, float((ref_cls == truth).mean()), acc, agree)
    ref_mae = float(np.abs(ref - y_test).mean())
    mae = {r: float(np.abs(y - y_test).mean()) for r, y in outputs.items()}
    return Accuracy(int(len(ref)), ref_mae, gap, mae, {r: v - ref_mae for r, v in mae.items()})


def accuracy(model: ModelDir, fb: bytes, data: Path | None = None) -> Accuracy:
    """Run ``fb`` in LiteRT and TFLM on the test rows (state reset per sample); cached per flatbuffer and data.
    A one-step streaming flatbuffer is fed the W steps of every test window (reset before each)."""
    X_test, y_test = model.rows("test", data)
    key = (hashlib.sha256(fb).hexdigest(), bundle_digest(model), str(model.data_path(data).resolve()))
    if key not in _ACCURACY:
        bundle = model.bundle
        ref = ref_predict(bundle, X_test)
        stream = int(np.prod(tflm.io_quant(fb).input_shape)) == bundle.values_per_step and bundle.n_steps > 1
        outputs = {}
        for runtime in RUNTIMES:
            if stream:
                outputs[runtime] = stream_predict(fb, bundle, X_test, runtime)
            else:
                outputs[runtime] = tflm.predict(fb, bundle, X_test, runtime)
        _ACCURACY[key] = _compare(bundle, ref, y_test, outputs)
    return _ACCURACY[key]


def stream_predict(fb: bytes, bundle, X_raw: np.ndarray, runtime: str, arena_size: int = 65536) -> np.ndarray:
    """A one-step flatbuffer over each raw window's W steps (Reset() before each window): the output after the
    last step, as :meth:`Bundle.outputs` gives it."""
    y = tflm.run_stream(fb, bundle.sequences(np.atleast_2d(X_raw)), runtime, arena_size)[:, -1, :]
    return bundle.outputs(y[:, 0] if y.shape[1] == 1 else y)


_STREAM_GAPS: dict[tuple, dict] = {}


def stream_gap(model: ModelDir, fb: bytes, stream_fb: bytes, data: Path | None = None) -> dict:
    """Per runtime, the largest |difference| between the one-step flatbuffer fed the test windows step by step
    (Reset() before each) and the W-step flatbuffer's output rows (row t = the output after step t), in the
    flatbuffers' own (standardised, dequantised) units; 0.0 = bit-exact. Cached per flatbuffers and data."""
    key = (hashlib.sha256(fb + stream_fb).hexdigest(), bundle_digest(model), str(model.data_path(data).resolve()))
    if key not in _STREAM_GAPS:
        X_test, _ = model.rows("test", data)
        seqs = model.bundle.sequences(X_test)
        _STREAM_GAPS[key] = {r: float(np.abs(tflm.run_stream(stream_fb, seqs, r) - tflm.run_rows(fb, seqs, r)).max())
                             for r in RUNTIMES}
    return _STREAM_GAPS[key]


def eloquent_accuracy(model: ModelDir, fb: bytes, data: Path | None = None) -> Accuracy:
    """A float-I/O flatbuffer (:func:`eloquent_flatbuffer`) on the test rows in TFLM the way EloquentTinyML runs it:
    raw floats in, ``outputs[0]`` out, one interpreter for every row and no ``reset()``; cached like
    :func:`accuracy`."""
    X_test, y_test = model.rows("test", data)
    key = ("eloquent", hashlib.sha256(fb).hexdigest(), bundle_digest(model), str(model.data_path(data).resolve()))
    if key not in _ACCURACY:
        ref = ref_predict(model.bundle, X_test)
        ref_mae = float(np.abs(ref - y_test).mean())
        y = run_raw(fb, X_test)
        mae = float(np.abs(y - y_test).mean())
        _ACCURACY[key] = Accuracy(int(len(X_test)), ref_mae, {"tflm": float(np.abs(y - ref).max())},
                                  {"tflm": mae}, {"tflm": mae - ref_mae})
    return _ACCURACY[key]

