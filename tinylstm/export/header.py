"""``tinylstm export header``: ``model.h``, the flatbuffer as a C array plus everything a sketch needs around it.

The header is a drop-in for EloquentTinyML sketches (``TF_NUM_OPS``, ``TF_NUM_INPUTS``, ``TF_NUM_OUTPUTS``,
``registerNetworkOps(tf)``, ``tfModel[]``) and adds, under a ``TINYLSTM_`` prefix: the measured tensor arena, the
scaler, the int8 quantisation, the index of the prediction in the output tensor and self-check vectors. It compiles
as C and C++ (``registerNetworkOps`` is a C++ template, so it only exists in C++). Every literal goes through
:mod:`tinylstm.cgen`. No dates: the same bundle gives the same bytes.

What the file itself states is measured while generating it, deterministically: the TFLM arena, the self-check
vectors' expected TFLM outputs, and the accuracy line, which is :func:`tinylstm.tflite_build.accuracy` — the same
computation the tflite report and the bench state.
"""

from __future__ import annotations

import dataclasses
import textwrap
from dataclasses import dataclass

import numpy as np

from .. import __version__, cgen, tflite_build, tflm
from ..errors import UnsupportedShape, UserError
from ..modeldir import ModelDir
from ..options import flag_of, option
from ..reference import predict as ref_predict
from . import register
from .tflite import TFLiteOptions, build

HEADER_FILE = "model.h"
GUARD = "TINYLSTM_MODEL_H"
#: Provenance comment lines are wrapped to this many characters (plus " * ").
COMMENT_WIDTH = 114


VARIANTS = ("eloquent", "firmware")
PRECISIONS = ("int8", "float")
#: The eloquent header's stated tolerance against Keras (target units): this many output quantisation steps (int8;
#: the training rows' worst case is 1.3 steps on the reference model) or FLOAT_VECTOR_TOL (float).
ELOQUENT_KERAS_STEPS = 3.0


@dataclass(frozen=True)
class HeaderOptions(TFLiteOptions):
    variant: str = option("eloquent", "eloquent: the tutorial's EloquentTinyML sketch uses model.h unchanged "
                                      "(float32 raw inputs, one float32 output in target units, no Reset() needed); "
                                      "firmware: the lean int8-I/O header of firmware/esp32 (scaling and Reset() "
                                      "in the caller)", choices=VARIANTS)
    precision: str = option("int8", "arithmetic inside the flatbuffer", choices=PRECISIONS)
    vectors: int = option(5, "self-check test vectors in the header")


def pick_vectors(X_test: np.ndarray, y_ref: np.ndarray, n: int) -> list[int]:
    """Rows spread over the range of the reference predictions (quantiles), deterministic."""
    order = np.argsort(y_ref, kind="stable")
    if n <= 0:
        return []
    picks = [int(order[int(round(q * (len(order) - 1)))]) for q in np.linspace(0.05, 0.95, n)]
    return list(dict.fromkeys(picks))


def vector_tolerance(precision: str, fb: bytes, bundle) -> float:
    """Self-check tolerance against this flatbuffer's own TFLM output (target units): INT8_VECTOR_STEPS output
    steps (int8; ``fb`` is the int8-I/O flatbuffer) or FLOAT_VECTOR_TOL."""
    if precision == "int8":
        return tflite_build.INT8_VECTOR_STEPS * tflm.io_quant(fb).output_scale * bundle.scaler.y_scale
    return tflite_build.FLOAT_VECTOR_TOL


def keras_tolerance(precision: str, fb: bytes, bundle) -> float:
    """The eloquent header's stated tolerance against Keras (target units): ELOQUENT_KERAS_STEPS output
    quantisation steps (int8) or FLOAT_VECTOR_TOL (float)."""
    if precision == "int8":
        return ELOQUENT_KERAS_STEPS * tflm.io_quant(fb).output_scale * bundle.scaler.y_scale
    return tflite_build.FLOAT_VECTOR_TOL


def command(opts: HeaderOptions) -> str:
    """The command line that regenerates this header (non-default options only; the data is named by SHA-256)."""
    parts = ["tinylstm export header", f"--variant {opts.variant}"]
    for f in dataclasses.fields(opts):
        value = getattr(opts, f.name)
        if f.name in ("data", "variant") or value == f.default:
            continue
        parts.append(flag_of(f) if isinstance(value, bool) else f"{flag_of(f)} {value}")
    return " ".join(parts)


@dataclass(frozen=True)
class Embedded:
    """What goes into one model.h: the flatbuffer, the int8-I/O flatbuffer it derives from, its measured arena."""

    fb: bytes
    inner: bytes  # the compact (int8- or float-I/O) flatbuffer of export tflite
    arena_min: int
    build: tflite_build.Build
    stream_fb: bytes = b""  # the one-step streaming flatbuffer (window model, firmware variant)
    stream_arena_min: int = 0


def check(model: ModelDir, opts: HeaderOptions) -> None:
    """One-line errors for options or models the header cannot serve."""
    if opts.vectors < 1:
        raise UserError(f"--vectors must be >= 1, got {opts.vectors}")
    if opts.no_arena:
        raise UserError("the header needs the measured arena: drop --no-arena")
    if opts.variant not in VARIANTS:
        raise UserError(f"--variant must be one of {', '.join(VARIANTS)}, got {opts.variant!r}")
    if opts.precision not in PRECISIONS:
        raise UserError(f"--precision must be one of {', '.join(PRECISIONS)}, got {opts.precision!r}")
    bundle = model.bundle
    if opts.variant == "eloquent":
        if bundle.layout != "feature_per_step":
            raise UnsupportedShape(f"{model.path}: --variant eloquent needs the feature_per_step layout (this "
                                   f"model: {bundle.layout}); use --variant firmware")
        if bundle.n_outputs != 1:
            raise UnsupportedShape(f"{model.path}: --variant eloquent needs one output (this model: "
                                   f"{bundle.n_outputs}); use --variant firmware")


def embedded(model: ModelDir, opts: HeaderOptions) -> Embedded:
    """The flatbuffer of ``opts`` (converted, compacted, for eloquent given float edges and in-graph reset) and its
    smallest TFLM arena (host bisection; deterministic, cached per bytes)."""
    check(model, opts)
    b = build(model, opts)
    inner = b.flatbuffer(opts.precision)
    if opts.variant == "firmware":
        if tflite_build.has_stream(model.bundle):
            sv = f"stream_{opts.precision}"
            return Embedded(inner, inner, b.arena_min_host[opts.precision], b, b.flatbuffer(sv), b.arena_min_host[sv])
        return Embedded(inner, inner, b.arena_min_host[opts.precision], b)
    fb = tflite_build.eloquent_flatbuffer(model, inner)
    return Embedded(fb, inner, tflite_build.measure_arena(fb), b)


def accuracy(model: ModelDir, opts: HeaderOptions, e: Embedded) -> tflite_build.Accuracy:
    """The accuracy line's figures: firmware = the tflite report's (LiteRT and TFLM, reset per sample); eloquent =
    TFLM with the library's semantics (one interpreter, begin() once, no Reset())."""
    if opts.variant == "firmware":
        return tflite_build.accuracy(model, e.fb, opts.data)
    return tflite_build.eloquent_accuracy(model, e.fb, opts.data)


@register("header", "model.h for the tutorial's EloquentTinyML sketch (default) or the ESP32 firmware",
          options=HeaderOptions, default_subdir="header")
def generate(model: ModelDir, opts: HeaderOptions) -> dict[str, bytes]:
    return {HEADER_FILE: render(model, opts).encode()}


_ALIGN = [
    "#ifdef __has_attribute",
    "#define HAVE_ATTRIBUTE(x) __has_attribute(x)",
    "#else",
    "#define HAVE_ATTRIBUTE(x) 0",
    "#endif",
    "#if HAVE_ATTRIBUTE(aligned) || (defined(__GNUC__) && !defined(__clang__))",
    "#define DATA_ALIGN_ATTRIBUTE __attribute__((aligned(16)))",
    "#else",
    "#define DATA_ALIGN_ATTRIBUTE",
    "#endif",
]

_FIRMWARE_HELPERS = [
    "/* the firmware's arithmetic around the interpreter (scaling, int8 (de)quantisation), also host-tested */",
    "static inline float tinylstm_scale_input(int k, float raw) {",
    "    return (raw - tinylstm_x_mean[k]) / tinylstm_x_scale[k];",
    "}",
    "static inline signed char tinylstm_quantize_input(float scaled) {",
    "    float q = scaled / TINYLSTM_INPUT_SCALE;",
    "    long r = (long)(q >= 0.0f ? q + 0.5f : q - 0.5f) + TINYLSTM_INPUT_ZERO_POINT;",
    "    return (signed char)(r < -128 ? -128 : (r > 127 ? 127 : r));",
    "}",
    "static inline float tinylstm_dequantize_output(signed char v) {",
    "    return ((float)v - (float)TINYLSTM_OUTPUT_ZERO_POINT) * TINYLSTM_OUTPUT_SCALE;",
    "}",
    "static inline float tinylstm_unscale_output(float scaled) {",
    "    return scaled * TINYLSTM_Y_SCALE + TINYLSTM_Y_MEAN;",
    "}",
]


# A window model's inputs are step-major (x[t * F + f]); its scaler has one mean/std per feature f.
_WINDOW_HELPERS = [
    "/* the firmware's arithmetic around the interpreter (scaling, int8 (de)quantisation), also host-tested;",
    " * k is the position in the step-major window (t * TINYLSTM_STEP_INPUTS + f) or, streaming, the feature f */",
    "static inline float tinylstm_scale_input(int k, float raw) {",
    "    return (raw - tinylstm_x_mean[k % TINYLSTM_STEP_INPUTS]) / tinylstm_x_scale[k % TINYLSTM_STEP_INPUTS];",
    "}",
    *_FIRMWARE_HELPERS[4:],
]


def _window_lines(bundle, e: Embedded, precision: str, unit: str) -> list[str]:
    """The firmware header's scaler/output/flatbuffer lines for a window model."""
    sc, f = bundle.scaler, bundle.values_per_step
    if bundle.is_classifier:
        out = (f"{bundle.n_outputs} class probabilities = output[TINYLSTM_OUTPUT_INDEX + j] (dequantised), j in the"
               f" order of TINYLSTM_CLASS_NAMES ({', '.join(bundle.classes)}); the class is their argmax"
               " (the softmax is TFLite's SOFTMAX inside the flatbuffer).")
    else:
        out = (f"{bundle.target} [{unit}] = output[TINYLSTM_OUTPUT_INDEX] (dequantised) * y_scale + y_mean"
               f" (y_mean {cgen.c_float(sc.y_mean)}, y_scale {cgen.c_float(sc.y_scale)}); horizon"
               f" {bundle.horizon} step(s) after the window's last row.")
    return [
        f"Scaler: scaled = (raw - tinylstm_x_mean[k % {f}]) / tinylstm_x_scale[k % {f}] (per feature, the training"
        " rows' mean and std).",
        "Output: the dense head runs on every step, the last row of the output tensor is the prediction: " + out,
        f"Flatbuffer: {precision}, input (1, {bundle.n_steps}, {f}), {len(e.fb)} bytes, ops "
        f"{', '.join(tflm.ops(e.fb))}.",
        "The LSTM keeps h/c in variable tensors: call interpreter.Reset() before every independent window.",
    ]


def _stream_lines(model: ModelDir, opts: HeaderOptions, e: Embedded) -> list[str]:
    """The streaming section of the provenance comment, with its measured equality to the W-step flatbuffer."""
    bundle = model.bundle
    gap = tflite_build.stream_gap(model, e.fb, e.stream_fb, opts.data)
    same = ", ".join(f"{tflite_build.RUNTIME_NAMES[r]} {'bit-exact' if g == 0 else f'max |diff| {g:.3g}'}"
                     for r, g in gap.items())
    arena = tflite_build.header_arena(e.stream_arena_min)
    return [
        "",
        f"STREAMING (TINYLSTM_HAS_STREAM_TFLITE): tinylstm_stream_tflite[] is the same network for ONE time step,"
        f" input (1, 1, {bundle.values_per_step}) = the {bundle.values_per_step} scaled (and, int8, quantised) values"
        " of one step, output (1, "
        f"{bundle.n_outputs}) = the prediction after that step (TINYLSTM_STREAM_OUTPUT_INDEX 0). Same ops (one"
        " resolver serves both), weights and quantisation as tfModel; only the shapes differ.",
        "  The LSTM h/c state stays in TFLM's variable tensors between Invoke() calls: Reset() once at the start of"
        " every independent sequence, then one Invoke() per step. After W steps the output equals tfModel's on"
        " the same window; without a Reset() the state runs on (a longer sequence, as the numpy reference model"
        " continues it) - not a sliding window.",
        f"  Checked on every test window, step by step, against tfModel's output rows: {same}.",
        f"  Arena: host minimum {e.stream_arena_min} bytes, TINYLSTM_STREAM_ARENA_SIZE {arena} bytes"
        f" ({tflite_build.ARENA_RULE}). Use its own interpreter (and arena) beside, or instead of, tfModel's.",
    ]


def _window_defines(bundle, n_out: int) -> list[str]:
    d = cgen.c_define
    lines = [
        d("TINYLSTM_NUM_INPUTS", bundle.n_inputs, "raw values per window, step-major: W x F"),
        d("TINYLSTM_NUM_STEPS", bundle.n_steps, "W"),
        d("TINYLSTM_STEP_INPUTS", bundle.values_per_step, "F, values per time step"),
        d("TINYLSTM_NUM_OUTPUTS", bundle.n_outputs, "K"),
        d("TINYLSTM_OUTPUT_ROWS", n_out // bundle.n_outputs, "rows of the output tensor (one per step)"),
        d("TINYLSTM_IS_CLASSIFIER", 1 if bundle.is_classifier else 0),
    ]
    if bundle.is_classifier:
        lines.append(d("TINYLSTM_CLASS_NAMES", "{" + ", ".join(cgen.c_string(c) for c in bundle.classes) + "}",
                       "in output order"))
    return lines


def _stream_defines(e: Embedded) -> list[str]:
    d = cgen.c_define
    return [
        d("TINYLSTM_HAS_STREAM_TFLITE", 1, "tinylstm_stream_tflite[]: one step per Invoke(), state kept"),
        d("TINYLSTM_STREAM_MODEL_BYTES", len(e.stream_fb)),
        d("TINYLSTM_STREAM_ARENA_MIN_HOST", e.stream_arena_min),
        d("TINYLSTM_STREAM_ARENA_SIZE", tflite_build.header_arena(e.stream_arena_min)),
        d("TINYLSTM_STREAM_OUTPUT_INDEX", 0),
    ]


def render(model: ModelDir, opts: HeaderOptions) -> str:
    e = embedded(model, opts)
    bundle, variant, precision, fb = model.bundle, opts.variant, opts.precision, e.fb
    eloquent = variant == "eloquent"
    b = e.build
    q = tflm.io_quant(e.inner)
    op_list = tflm.ops(fb)
    counts = tflm.op_counts(fb)
    unit = bundle.units.get(bundle.target, "")
    acc = accuracy(model, opts, e)
    X_test, _ = model.rows("test", opts.data)
    ref = ref_predict(bundle, X_test)
    window = bundle.layout == "window"
    # a classifier's vectors spread over the predicted classes (sorted by class index), a regression's over its range
    idx = pick_vectors(X_test, ref.argmax(axis=1) if bundle.is_classifier else ref, opts.vectors)
    X_vec = X_test[idx]
    y_engine = (tflite_build.run_raw(fb, X_vec) if eloquent else tflm.predict(fb, bundle, X_vec, "tflm"))
    tol = vector_tolerance(precision, e.inner, bundle)
    io = tflm.io_quant(fb)
    n_out, n_in = int(np.prod(io.output_shape)), int(np.prod(io.input_shape))
    arena = tflite_build.header_arena(e.arena_min)
    sc = bundle.scaler
    nf = bundle.n_inputs
    other = "firmware" if eloquent else "eloquent"
    n_k, n_f = bundle.n_outputs, bundle.values_per_step

    provenance = [
        f"model.h - generated by tinylstm {__version__} (`{command(opts)}`); do not edit.",
        "",
        (f"Header variant: eloquent - the EloquentTinyML tutorial's sketch uses it unchanged: tf.predict(raw) with"
         f" the {nf} raw feature values as float, tf.outputs[0] = {bundle.target} [{unit}]; begin() once, no"
         " Reset() needed." if eloquent else
         "Header variant: firmware - for firmware/esp32 (engine_tflm.cpp): int8 input/output, the caller scales,"
         " quantises and calls Reset() per sample with the helpers below."),
        f"  The other variant: `tinylstm export header --variant {other}`"
        + (" (the project's firmware, int8 I/O)." if eloquent else " (float raw-unit I/O for EloquentTinyML)."),
        f"Model: {bundle.describe()}, {bundle.params()} parameters, {bundle.macs()} MACs per inference.",
        f"Weight bundle SHA-256 {b.bundle_sha256}.",
        f"Trained on {bundle.meta.get('data_file', '?')} (SHA-256 {bundle.meta.get('data_sha256', '?')}),"
        f" seed {bundle.meta.get('seed')}.",
        ("Inputs (raw units, one LSTM time step each): " if not window else
         f"Inputs: a window of {bundle.n_steps} time steps x {n_f} values, step-major x[t * {n_f} + f], raw units: ")
        + ", ".join(f"{f} [{bundle.units.get(f, '')}]" for f in bundle.features) + ".",
    ]
    if eloquent:
        provenance += [
            "Scaler folded into the graph: input * (1 / x_scale) + (-x_mean / x_scale) in float (MUL, ADD), then",
            "  QUANTIZE; output DEQUANTIZE, then a float FULLY_CONNECTED picks the last step: x * y_scale + y_mean"
            if precision == "int8" else
            "  the LSTMs; a float FULLY_CONNECTED picks the last step: x * y_scale + y_mean",
            f"  (x_mean {', '.join(cgen.c_float(v) for v in sc.x_mean)}; x_scale "
            f"{', '.join(cgen.c_float(v) for v in sc.x_scale)}; y_mean {cgen.c_float(sc.y_mean)}, y_scale "
            f"{cgen.c_float(sc.y_scale)}).",
            f"Flatbuffer: {precision} inside, float32 input ({n_in}) and output ({n_out}), {len(fb)} bytes, ops "
            + ", ".join(f"{k} x{v}" for k, v in counts.items()) + ".",
            "LSTM state: zeroed by the graph itself at the start of every invoke (QUANTIZE/MUL of a constant zero"
            " into the h/c variable tensors), so every call gives the same answer whether or not anyone resets.",
        ]
    elif window:
        provenance += _window_lines(bundle, e, precision, unit)
    else:
        provenance += [
            "Scaler: scaled = (raw - tinylstm_x_mean[k]) / tinylstm_x_scale[k] (the training rows' mean and std);",
            f"  {bundle.target} [{unit}] = output[TINYLSTM_OUTPUT_INDEX] (dequantised) * y_scale + y_mean"
            f" (y_mean {cgen.c_float(sc.y_mean)}, y_scale {cgen.c_float(sc.y_scale)}).",
            f"Flatbuffer: {precision}, {len(fb)} bytes, ops {', '.join(op_list)}.",
            "The LSTM keeps h/c in variable tensors: call interpreter.Reset() before every independent sample.",
        ]
    provenance += [
        f"{b.calibration}." if precision == "int8" else "Float32 weights and activations.",
        (f"Accuracy on {acc.test_rows} test rows against the numpy golden model (= Keras to 1e-5), run as the"
         f" library runs it (one interpreter, no Reset()): {acc.line(unit)}." if eloquent else
         f"Accuracy on {acc.test_rows} test rows against the numpy golden model (= Keras to 1e-5; the figures of"
         f" `tinylstm export tflite`'s report): {acc.line(unit)}."),
    ]
    if eloquent:
        ktol = keras_tolerance(precision, e.inner, bundle)
        provenance.append(
            f"Stated tolerance against Keras: {ktol:.4g} {unit}"
            + (f" ({ELOQUENT_KERAS_STEPS:g} output quantisation steps)." if precision == "int8" else "."))
    provenance += [
        f"Tensor arena: smallest that TFLM's host (64-bit) interpreter runs with = {e.arena_min} bytes;",
        f"  TF_ARENA_SIZE = {tflite_build.ARENA_RULE} = {arena} bytes"
        + (" (margin " f"{arena - e.arena_min} B); ARENA_SIZE = TF_ARENA_SIZE unless the sketch defines it first."
           " Below the minimum TFLM may crash instead of failing AllocateTensors()." if eloquent else "."),
        "Self-check vectors: expected = TFLite Micro (host) output of this flatbuffer; tolerance "
        f"{tol:.4g} {unit if not bundle.is_classifier else '(probability)'}"
        + (f" ({tflite_build.INT8_VECTOR_STEPS:g} output quantisation steps)." if precision == "int8" else "."),
    ]
    if e.stream_fb:
        provenance += _stream_lines(model, opts, e)
    d = cgen.c_define
    provenance = [w for line in provenance
                  for w in (textwrap.wrap(line, COMMENT_WIDTH, subsequent_indent="  ", break_long_words=False,
                                          break_on_hyphens=False) or [""])]
    parts = [cgen.c_comment(provenance).rstrip("\n"), f"#ifndef {GUARD}", d(GUARD, "").rstrip(), "", *_ALIGN, "",
             "/* EloquentTinyML configuration */",
             d("TF_NUM_INPUTS", n_in), d("TF_NUM_OUTPUTS", n_out), d("TF_NUM_OPS", len(op_list)),
             d("TF_ARENA_SIZE", arena)]
    if eloquent:
        parts += ["#ifndef ARENA_SIZE", d("ARENA_SIZE", "TF_ARENA_SIZE").rstrip(), "#endif"]
    parts += [
        "",
        "/* tinylstm additions */",
        d("TINYLSTM_HEADER_VARIANT", cgen.c_string(variant)),
        d("TINYLSTM_VARIANT", cgen.c_string(precision), "arithmetic inside the flatbuffer"),
        d("TINYLSTM_INT8", 1 if precision == "int8" else 0),
        d("TINYLSTM_FLOAT_IO", 1 if eloquent else 0, "1: raw float inputs, one float output in target units"),
        d("TINYLSTM_NUM_FEATURES", nf),
        d("TINYLSTM_OUTPUT_INDEX", n_out - n_k, "the prediction's position in the output tensor"
          + (f" (the first of its {n_k} values: the last row)" if n_k > 1 else "")),
        d("TINYLSTM_ARENA_MIN_HOST", e.arena_min),
        d("TINYLSTM_MODEL_BYTES", len(fb)),
    ]
    if window:
        parts += _window_defines(bundle, n_out)
    if e.stream_fb:
        parts += _stream_defines(e)
    if not eloquent:
        parts += [
            d("TINYLSTM_INPUT_SCALE", cgen.c_float(q.input_scale)),
            d("TINYLSTM_INPUT_ZERO_POINT", f"({cgen.c_int(q.input_zero_point)})"),
            d("TINYLSTM_OUTPUT_SCALE", cgen.c_float(q.output_scale)),
            d("TINYLSTM_OUTPUT_ZERO_POINT", f"({cgen.c_int(q.output_zero_point)})"),
            d("TINYLSTM_Y_MEAN", cgen.c_float(sc.y_mean)),
            d("TINYLSTM_Y_SCALE", cgen.c_float(sc.y_scale)),
        ]
    parts += [d("TINYLSTM_NUM_VECTORS", len(idx)), ""]
    if not eloquent:
        parts += [
            cgen.c_array("float", "tinylstm_x_mean", sc.x_mean, cgen.c_float, qualifiers="const",
                         comment="scaler: scaled = (raw - mean) / scale, per feature in input order").rstrip("\n"),
            cgen.c_array("float", "tinylstm_x_scale", sc.x_scale, cgen.c_float, qualifiers="const").rstrip("\n"),
            ""]
    parts += [
        cgen.c_array("float", "tinylstm_vector_inputs", X_vec, cgen.c_float, qualifiers="const",
                     dims=[len(idx), nf],
                     comment=(f"self-check: raw inputs -> expected {bundle.target} [{unit}] within "
                              "tinylstm_vector_tolerance" if not bundle.is_classifier else
                              f"self-check: raw windows -> expected {bundle.n_outputs} class probabilities each "
                              "within tinylstm_vector_tolerance")).rstrip("\n"),
        cgen.c_array("float", "tinylstm_vector_expected", y_engine, cgen.c_float, qualifiers="const",
                     **({"dims": [len(idx), n_k]} if bundle.is_classifier else {})).rstrip("\n"),
    ]
    if eloquent:
        parts += [
            cgen.c_array("float", "tinylstm_vector_reference", ref[idx], cgen.c_float, qualifiers="const",
                         comment="the float (Keras) model for the same rows, within "
                                 "tinylstm_keras_tolerance").rstrip("\n"),
            f"const float tinylstm_keras_tolerance = {cgen.c_float(keras_tolerance(precision, e.inner, bundle))};",
        ]
    elif bundle.is_classifier:
        parts.append("/* numpy float golden model for the same rows (class): "
                     f"{', '.join(bundle.classes[int(v)] for v in ref[idx].argmax(axis=1))} */")
    else:
        parts.append(f"/* numpy float golden model for the same rows: {', '.join(f'{v:.4f}' for v in ref[idx])} */")
    parts += [f"const float tinylstm_vector_tolerance = {cgen.c_float(tol)};", ""]
    if not eloquent:
        parts += [*(_WINDOW_HELPERS if window else _FIRMWARE_HELPERS), ""]
    parts += [
        "#ifdef __cplusplus",
        "/* Register exactly the ops the flatbuffer uses (EloquentTinyML: registerNetworkOps(tf)). */",
        "template <class TF>",
        "void registerNetworkOps(TF &nn) {",
        *[f"    nn.resolver.{tflm.TFLM_RESOLVER[op]}();" for op in op_list],
        "}",
        "#endif",
        "",
        f"/* the {variant} flatbuffer ({precision}, {len(fb)} bytes), const so it stays in flash */",
        f"const unsigned char tfModel[{len(fb)}] DATA_ALIGN_ATTRIBUTE = {{",
        cgen.c_values(np.frombuffer(fb, dtype=np.uint8), cgen.c_hex(8), per_line=16) + ",",
        "};",
        "",
    ]
    if e.stream_fb:
        parts += [
            f"/* the one-step streaming flatbuffer ({precision}, {len(e.stream_fb)} bytes): same ops, weights and "
            "quantisation; Reset() per sequence */",
            f"const unsigned char tinylstm_stream_tflite[{len(e.stream_fb)}] DATA_ALIGN_ATTRIBUTE = {{",
            cgen.c_values(np.frombuffer(e.stream_fb, dtype=np.uint8), cgen.c_hex(8), per_line=16) + ",",
            "};",
            "",
        ]
    parts += [
        f"#endif /* {GUARD} */",
        "",
    ]
    return "\n".join(parts)
