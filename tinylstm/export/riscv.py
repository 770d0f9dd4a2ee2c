"""``tinylstm export riscv``: the pruned network as an eSELL C header for the RISC-V engine in firmware/riscv.

A pure generator: :func:`generate` returns ``model.h`` (``uint64_t w[], u[], w_offset[], u_offset[], bias[]``,
``float x[]``, the dense fp16 copies ``wd[]``/``ud[]`` for the baseline kernel, the fp16 dense head and layer
descriptors) and a copy of the engine sources and Makefile. It writes, builds and runs nothing.

The weights come from a pruned model directory (``tinylstm prune``). :func:`prepare` (run before ``generate`` by
``tinylstm export``) turns an unpruned model into its pruned sibling ``<model>_pruned_<ws>``, created (magnitude
pruning + short fine-tuning) if missing; a model that is already pruned is used as is. Building the engine and
running it under QEMU live in :mod:`tinylstm.backends.riscv`; the report (bytes, bit-exactness, instructions) in
:mod:`tinylstm.reports.riscv`.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import cgen, esell, prune
from ..bundle import Bundle
from ..errors import UserError
from ..modeldir import ModelDir
from ..options import option
from . import register

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware" / "riscv"
ENGINE_FILES = ("esell_lstm.c", "esell_engine.h", "Makefile")
CSRC_DIR = Path(__file__).resolve().parents[1] / "csrc"  # tl_act.h: the activations shared with the C engine
DEFAULT_SAMPLES = 16


@dataclass(frozen=True)
class RiscvOptions:
    ws: list[float] | None = option(
        None, "weight sparsity per LSTM matrix W1 U1 W2 U2 (fractions, or percentages > 1; one value for all). "
        "Default: 50 % everywhere, or the sparsity of an already pruned --model", type=float, nargs="+",
        metavar="S")
    ht: float = option(0.0, "hidden-state pruning threshold (groups of 4; 0 = off)", type=float)
    finetune_epochs: int | None = option(
        None, f"fine-tuning epochs when the pruned model has to be made (default: {prune.DEFAULT_FINETUNE_EPOCHS})",
        type=int)
    data: Path | None = option(None, "training CSV for fine-tuning and test inputs (default: the model's own data "
                               "file)", type=Path)
    samples: int = option(DEFAULT_SAMPLES, "test rows put into x[]", type=int)
    #: library only: fail when the training CSV is missing instead of falling back to the training mean row
    #: (for regenerating committed files, whose bytes must not depend on whether the CSV is present)
    strict_inputs: bool = option(False, "no fallback input row when the CSV is missing", cli=False)


# ------------------------------------------------------------------------------------------ pruned model
def prepare(model: ModelDir, opts: RiscvOptions) -> ModelDir:
    """The pruned model directory for ``opts.ws`` (see the module docstring); may prune and fine-tune."""
    epochs = prune.DEFAULT_FINETUNE_EPOCHS if opts.finetune_epochs is None else int(opts.finetune_epochs)
    try:
        path = prune.ensure_pruned(model.path, opts.ws, epochs, opts.data, quiet=True)
    except UserError as err:
        if epochs == 0 or opts.data is not None or "fine-tuning needs" not in str(err):
            raise
        # `tinylstm run` on a CSV we cannot locate: export the pruned model without fine-tuning, and say so
        print(f"tinylstm: warning: {err}; exporting the pruned model without fine-tuning", file=sys.stderr)
        path = prune.ensure_pruned(model.path, opts.ws, 0, None, quiet=True)
    return model if Path(path) == model.path else ModelDir.load(path)


def check_ht(ht: float) -> float:
    ht = float(ht or 0.0)
    if ht < 0:
        raise UserError(f"--ht must be >= 0, got {ht:g}")
    return ht


# ------------------------------------------------------------------------------------------ C rendering
def bundle_sha256(model: ModelDir) -> str:
    path = model.path / "bundle.npz"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "?"


def render_header(net, bundle: Bundle, x_scaled: np.ndarray, ws: dict, ht: float, source: str,
                  bundle_sha: str = "?") -> str:
    """The C header for the engine (deterministic: same inputs → same bytes; no dates)."""
    x_scaled = np.asarray(x_scaled, np.float32)
    n, steps, n_in = x_scaled.shape
    meta = bundle.meta
    by = net.lstm_bytes()
    w_words, u_words, w_counts, u_counts, biases, wd, ud = [], [], [], [], [], [], []
    desc = []
    for layer in net.layers:
        H = layer.units
        d = dict(in_=layer.inputs, in_pad=layer.W.padded_cols, units=H, units_pad=layer.U.padded_cols,
                 rows_pad=layer.W.padded_rows, w_word=sum(len(a) for a in w_words),
                 w_bc=sum(len(a) for a in w_counts), u_word=sum(len(a) for a in u_words),
                 u_bc=sum(len(a) for a in u_counts), bias=sum(len(a) for a in biases),
                 wd=sum(a.size for a in wd), ud=sum(a.size for a in ud), rs=int(layer.return_sequences))
        desc.append(d)
        w_words.append(layer.W.words)
        u_words.append(layer.U.words)
        w_counts.append(layer.W.counts)
        u_counts.append(layer.U.counts)
        biases.append(esell.fp16_bits(layer.bias16))
        wd.append(esell.fp16_bits(layer.Wd))
        ud.append(esell.fp16_bits(layer.Ud))
    hw, hb, ddesc = [], [], []
    for W16, b16, act in net.dense:
        ddesc.append(dict(in_=W16.shape[1], out=W16.shape[0], w=sum(a.size for a in hw), b=sum(a.size for a in hb),
                          act=esell.ACT_CODES[act]))
        hw.append(esell.fp16_bits(W16))
        hb.append(esell.fp16_bits(b16))

    def cat(parts, dt):
        return np.concatenate([np.ravel(a) for a in parts]).astype(dt) if parts else np.zeros(0, dt)

    widths = [l.units for l in net.layers] + [d["out"] for d in ddesc] + [d["in_"] for d in ddesc] + [n_in]
    ws_txt = " ".join(f"{k}={100 * v:g}%" for k, v in ws.items())
    pruning = meta.get("pruning", {})
    sc = bundle.scaler
    h64, h16 = cgen.c_hex(64), cgen.c_hex(16)
    comment = cgen.c_comment([
        "Generated by `tinylstm export riscv` -- do not edit.",
        f"Model: {bundle.describe()}; bundle SHA-256 {bundle_sha}; data SHA-256 {meta.get('data_sha256', '?')}; "
        f"seed {meta.get('seed', '?')}.",
        f"Source: {source}.",
        f"Weight sparsity (targets): {ws_txt}; achieved: "
        + " ".join(f"{k}={100 * v:.1f}%" for k, v in pruning.get("sparsity_achieved", {}).items())
        + f"; fine-tuning epochs: {pruning.get('finetune_epochs_run', 0)}.",
        f"Hidden-state pruning threshold (group 4): {ht:g} ({'on' if ht > 0 else 'off'}).",
        "LSTM matrices are (4H x n), gate rows f,i,c,o, in eSELL: block columns 4 wide, blocks of 8 rows,",
        "2 chunks of 4 rows, fp16 values four per 64-bit word; rows padded to a multiple of 8 and columns to a",
        "multiple of 4 with zeros (see docs/riscv.md). *_offset[]: 64-bit words per block column, uint16, four",
        "per word (lowest first). bias[]: fp16 f,i,c,o per layer, four per word.",
        f"LSTM weight bytes: eSELL {by['esell']} (stream + offsets), dense fp16 {by['dense_fp16']}, "
        f"CSR fp16 {by['csr_fp16']}.",
        f"Scaler: x_scaled = (x - mean) / scale, mean = {[float(v) for v in sc.x_mean]}, "
        f"scale = {[float(v) for v in sc.x_scale]};",
        (f"        y = y_scaled * {sc.y_scale!r} + {sc.y_mean!r} [{bundle.units.get(bundle.target, '')}]."
         if not bundle.is_classifier else
         f"        per feature of each of the {bundle.n_steps} steps; outputs: softmax probabilities of the "
         f"{bundle.n_outputs} classes {','.join(bundle.classes)} (argmax = the class)."),
        "Tolerance: the engine's outputs equal tinylstm.esell.forward (numpy, float32) bit for bit (0 ulp,",
        *(["tests/test_riscv.py); the fp16 pruned model is checked against Keras within the documented MAE."]
          if not bundle.is_classifier else
          ["tests/test_riscv_shapes.py); fp16 eSELL probabilities within "
           f"{esell.PROB_ATOL:g} of Keras on the same weights, class agreement >= 99 %."]),
    ])
    defines = [
        cgen.c_define("TL_N_LSTM", len(net.layers)), cgen.c_define("TL_N_DENSE", len(net.dense)),
        cgen.c_define("TL_STEPS", steps), cgen.c_define("TL_N_IN", n_in), cgen.c_define("TL_N_X", n),
        cgen.c_define("TL_MAX_ROWS", max(l.W.padded_rows for l in net.layers)),
        cgen.c_define("TL_MAX_IN4", max(l.W.padded_cols for l in net.layers)),
        cgen.c_define("TL_MAX_H4", max(l.U.padded_cols for l in net.layers)),
        cgen.c_define("TL_MAX_WIDTH", max(widths)),
        cgen.c_define("TL_HT_ENABLED", int(ht > 0)), cgen.c_define("TL_HT", cgen.c_float(ht)),
    ]
    lstm_rows = [[d["in_"], d["in_pad"], d["units"], d["units_pad"], d["rows_pad"], d["w_word"], d["w_bc"],
                  d["u_word"], d["u_bc"], d["bias"], d["wd"], d["ud"], d["rs"]] for d in desc]
    dense_rows = [[d["in_"], d["out"], d["w"], d["b"], d["act"]] for d in ddesc]
    parts = [
        comment,
        "#ifndef TINYLSTM_MODEL_H\n#define TINYLSTM_MODEL_H\n\n#include <stdint.h>\n#include \"esell_engine.h\"\n",
        "\n".join(defines) + "\n",
        _struct_array("tl_lstm_t", "tl_lstm", "TL_N_LSTM", lstm_rows),
        _struct_array("tl_dense_t", "tl_dense", "TL_N_DENSE", dense_rows),
        _array("uint64_t", "w", cat(w_words, np.uint64), h64, 4, comment="eSELL streams (layer 1 first)"),
        _array("uint64_t", "u", cat(u_words, np.uint64), h64, 4),
        _array("uint64_t", "w_offset", esell.pack16(cat(w_counts, np.uint16)), h64, 4),
        _array("uint64_t", "u_offset", esell.pack16(cat(u_counts, np.uint16)), h64, 4),
        _array("uint64_t", "bias", esell.pack16(cat(biases, np.uint16)), h64, 4),
        "#define bias16 ((const uint16_t *)bias)\n",
        _array("uint16_t", "wd", cat(wd, np.uint16), h16, 12,
                     comment="dense fp16 copies (4H x n row-major, rows f,i,c,o) for the baseline kernel"),
        _array("uint16_t", "ud", cat(ud, np.uint16), h16, 12),
        _array("uint16_t", "head_w", cat(hw, np.uint16), h16, 12,
                     comment="dense head, fp16, W (out x in) row-major"),
        _array("uint16_t", "head_b", cat(hb, np.uint16), h16, 12),
        _array("float", "x", x_scaled, cgen.c_float, 6,
                     comment=f"{n} input sequences (standardised), [sample][step][input]"),
        "#endif\n",
    ]
    return "\n".join(parts)


def _array(ctype: str, name: str, values: np.ndarray, fmt, per_line: int, comment: str = "") -> str:
    """``static const CTYPE NAME[] = {...};`` (unsized: the engine takes sizes from the descriptors)."""
    text = cgen.c_array(ctype, name, values, fmt, per_line, comment=comment)
    return re.sub(rf"\b{name}\[\d+\] = ", f"{name}[] = ", text, count=1)


def _struct_array(ctype: str, name: str, count: str, rows: list[list[int]]) -> str:
    """``static const CTYPE NAME[COUNT] = {{...}, ...};`` (one brace-initialised struct per row)."""
    n, k = len(rows), len(rows[0])
    text = cgen.c_array(ctype, name, np.array(rows, np.int64), cgen.c_int, dims=[n, k])
    return text.replace(f"{name}[{n}][{k}]", f"{name}[{count}]", 1)


def header_inputs(model: ModelDir, opts: RiscvOptions) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Scaled inputs for x[]: the first ``opts.samples`` test rows of the model's split when its CSV is found,
    else the training mean row. Returns (x_scaled, y_raw or None, description)."""
    bundle = model.bundle
    try:
        X, y = model.rows("test", opts.data)
        k = max(1, int(opts.samples))
        name = model.data_path(opts.data).name
        return esell.scale_inputs(bundle, X[:k]), y[:k], f"first {len(X[:k])} test rows of {name}"
    except (UserError, OSError, KeyError, ValueError) as err:
        if opts.strict_inputs:
            raise UserError(f"{model.path}: the RISC-V header's test inputs need the training CSV ({err})") from err
        X = np.atleast_2d(bundle.input_mean())
        return esell.scale_inputs(bundle, X), None, "the training mean row (data file not found)"


def ordered_sparsity(bundle: Bundle) -> dict:
    """Sparsity targets in matrix order W1 U1 W2 U2 (JSON stores keys sorted)."""
    ws = bundle.meta.get("pruning", {}).get("sparsity_target", {})
    return {k: ws[k] for k in prune.matrix_names(len(bundle.lstm)) if k in ws}


def source_of(model: ModelDir, what: str) -> str:
    return f"{model.path.name}/bundle.npz, inputs: {what}"


def model_header(model: ModelDir, opts: RiscvOptions) -> str:
    """``model.h`` for a (pruned) model directory."""
    ht = check_ht(opts.ht)
    net = esell.build_net(model.bundle, ht)
    x_scaled, _, what = header_inputs(model, opts)
    return render_header(net, model.bundle, x_scaled, ordered_sparsity(model.bundle), ht, source_of(model, what),
                         bundle_sha256(model))


@register("riscv", "pruned LSTM in E-LSTM's eSELL format (fp16, 64-bit words) as a C header for the RISC-V "
          "engine (firmware/riscv)", options=RiscvOptions, default_subdir="riscv", in_run=True, prepare=prepare)
def generate(model: ModelDir, opts: RiscvOptions) -> dict[str, bytes]:
    """``model.h`` plus the engine sources (with the shared ``tl_act.h``) and Makefile. ``model`` is used as it
    is: :func:`prepare` makes the pruned one (an unpruned model given straight to ``generate`` is encoded with
    all its weights)."""
    files = {"model.h": model_header(model, opts).encode()}
    for name in ENGINE_FILES:
        files[name] = (FIRMWARE_DIR / name).read_bytes()
    files["tl_act.h"] = (CSRC_DIR / "tl_act.h").read_bytes()
    return files
