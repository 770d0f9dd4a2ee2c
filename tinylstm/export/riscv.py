"""``tinylstm export riscv``: the pruned network as an eSELL C header for the RISC-V engine in firmware/riscv.

Writes ``model.h`` (``uint64_t w[], u[], w_offset[], u_offset[], bias[]``, ``float x[]``, the dense fp16 copies
``wd[]``/``ud[]`` for the baseline kernel, the fp16 dense head and layer descriptors), a copy of the engine sources
and a Makefile, and ``riscv.report.md`` (bytes vs dense fp16 and CSR; when the cross compiler and QEMU are
installed, the engine is built and run and its outputs are checked bit for bit against the numpy golden model).

The weights come from a pruned model directory (``tinylstm prune``). When ``--model`` is an unpruned model, the
pruned sibling ``<model>_pruned_<ws>`` is used, and created (magnitude pruning + short fine-tuning) if missing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import atomic
from ..bundle import Bundle
from ..errors import UserError
from . import register

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware" / "riscv"
ENGINE_FILES = ("esell_lstm.c", "esell_engine.h", "Makefile")
CSRC_DIR = Path(__file__).resolve().parents[1] / "csrc"  # tl_act.h: the activations shared with the C engine
CC = "riscv64-unknown-elf-gcc"
QEMU = "qemu-system-riscv32"
CFLAGS = ["-march=rv32imafc", "-mabi=ilp32f", "--specs=picolibc.specs", "--oslib=semihost", "--crt0=semihost",
          "-O2", "-ffp-contract=off", "-fno-tree-loop-distribute-patterns", "-std=c99", "-Wall", "-Wextra", "-Werror", "-Wno-unused-function",
          # qemu virt: RAM at 0x80000000 (code + constants), data after 2 MiB
          "-Wl,--defsym=__flash=0x80000000", "-Wl,--defsym=__flash_size=0x200000",
          "-Wl,--defsym=__ram=0x80200000", "-Wl,--defsym=__ram_size=0x200000"]
QEMU_ARGS = ["-M", "virt", "-bios", "none", "-nographic", "-semihosting-config", "enable=on,target=native",
             "-icount", "shift=0"]
DEFAULT_SAMPLES = 16


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ws", type=float, nargs="+", metavar="S", default=None,
                   help="weight sparsity per LSTM matrix W1 U1 W2 U2 (fractions, or percentages > 1; one value "
                        "for all). Default: 50 %% everywhere, or the sparsity of an already pruned --model")
    p.add_argument("--ht", type=float, default=0.0,
                   help="hidden-state pruning threshold (groups of 4; 0 = off, the default)")
    p.add_argument("--finetune-epochs", type=int, default=None,
                   help="fine-tuning epochs when the pruned model has to be made (default: tinylstm.prune's)")
    p.add_argument("--data", type=Path, default=None,
                   help="training CSV for fine-tuning and test inputs (default: the model's own data file)")
    p.add_argument("--samples", type=int, default=DEFAULT_SAMPLES,
                   help="test rows put into x[] (default: %(default)s)")


# ------------------------------------------------------------------------------------------ pruned model
def resolve_pruned(model_dir: Path, args: argparse.Namespace) -> Path:
    """The pruned model directory for ``args.ws`` (see module docstring)."""
    from .. import prune

    epochs = getattr(args, "finetune_epochs", None)
    epochs = prune.DEFAULT_FINETUNE_EPOCHS if epochs is None else int(epochs)
    ws, data, quiet = getattr(args, "ws", None), getattr(args, "data", None), getattr(args, "quiet", True)
    try:
        return prune.ensure_pruned(Path(model_dir), ws, epochs, data, quiet=quiet)
    except UserError as err:
        if epochs == 0 or data is not None or "fine-tuning needs" not in str(err):
            raise
        # `tinylstm run` on a CSV we cannot locate: export the pruned model without fine-tuning, and say so
        import sys

        print(f"tinylstm: warning: {err}; exporting the pruned model without fine-tuning", file=sys.stderr)
        return prune.ensure_pruned(Path(model_dir), ws, 0, None, quiet=quiet)


# ------------------------------------------------------------------------------------------ C rendering
def _c_u64(words: np.ndarray, per_line: int = 4) -> str:
    vals = [f"0x{int(v):016x}ull" for v in np.asarray(words, np.uint64)]
    if not vals:
        vals = ["0x0000000000000000ull"]  # C forbids empty arrays; never read
    return "\n".join("    " + ", ".join(vals[i:i + per_line]) + "," for i in range(0, len(vals), per_line))


def _c_u16(values: np.ndarray, per_line: int = 12) -> str:
    vals = [f"0x{int(v):04x}" for v in np.asarray(values, np.uint16).ravel()] or ["0x0000"]
    return "\n".join("    " + ", ".join(vals[i:i + per_line]) + "," for i in range(0, len(vals), per_line))


def _c_f32(values: np.ndarray, per_line: int = 6) -> str:
    vals = [f"{float(v).hex()}f".replace("0x1.0000000000000p", "0x1p") for v in np.asarray(values, np.float32).ravel()]
    vals = [re.sub(r"(\.[0-9a-f]*?)0+p", r"\1p", v).replace(".p", "p") for v in vals] or ["0.0f"]
    return "\n".join("    " + ", ".join(vals[i:i + per_line]) + "," for i in range(0, len(vals), per_line))


def render_header(net, bundle: Bundle, x_scaled: np.ndarray, ws: dict, ht: float, source: str) -> str:
    """The C header for the engine (deterministic: same inputs → same bytes; no dates)."""
    from ..esell import fp16_bits, pack16

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
        biases.append(fp16_bits(layer.bias16))
        wd.append(fp16_bits(layer.Wd))
        ud.append(fp16_bits(layer.Ud))
    hw, hb, ddesc = [], [], []
    for W16, b16, act in net.dense:
        ddesc.append(dict(in_=W16.shape[1], out=W16.shape[0], w=sum(a.size for a in hw), b=sum(a.size for a in hb),
                          relu=int(act == "relu")))
        hw.append(fp16_bits(W16))
        hb.append(fp16_bits(b16))
    cat = lambda parts, dt: np.concatenate([np.ravel(a) for a in parts]).astype(dt) if parts else np.zeros(0, dt)  # noqa: E731
    widths = [l.units for l in net.layers] + [d["out"] for d in ddesc] + [d["in_"] for d in ddesc] + [n_in]
    ws_txt = " ".join(f"{k}={100 * v:g}%" for k, v in ws.items())
    sc = bundle.scaler
    lines = [
        "/* Generated by tinylstm export riscv -- do not edit.",
        f" * Model: {bundle.describe()}, data SHA-256 {meta.get('data_sha256', '?')}, seed {meta.get('seed', '?')}.",
        f" * Source: {source}.",
        f" * Weight sparsity (targets): {ws_txt}; achieved: "
        + " ".join(f"{k}={100 * v:.1f}%" for k, v in meta.get("pruning", {}).get("sparsity_achieved", {}).items())
        + f"; fine-tuning epochs: {meta.get('pruning', {}).get('finetune_epochs_run', 0)}.",
        f" * Hidden-state pruning threshold (group 4): {ht:g} ({'on' if ht > 0 else 'off'}).",
        " * LSTM matrices are (4H x n), gate rows f,i,c,o, in eSELL: block columns 4 wide, blocks of 8 rows,",
        " * 2 chunks of 4 rows, fp16 values four per 64-bit word; rows padded to a multiple of 8 and columns to a",
        " * multiple of 4 with zeros (see docs/riscv.md). *_offset[]: 64-bit words per block column, uint16, four",
        " * per word (lowest first). bias[]: fp16 f,i,c,o per layer, four per word.",
        f" * LSTM weight bytes: eSELL {by['esell']} (stream + offsets), dense fp16 {by['dense_fp16']}, "
        f"CSR fp16 {by['csr_fp16']}.",
        f" * Scaler: x_scaled = (x - mean) / scale, mean = {[float(v) for v in sc.x_mean]}, "
        f"scale = {[float(v) for v in sc.x_scale]};",
        f" *         y = y_scaled * {sc.y_scale!r} + {sc.y_mean!r} [{bundle.units.get(bundle.target, '')}].",
        " * Verification: the engine's outputs equal tinylstm.esell.forward (numpy, float32) bit for bit",
        " * (tests/test_riscv.py); the fp16 pruned model is checked against Keras within the documented MAE.",
        " */",
        "#ifndef TINYLSTM_MODEL_H", "#define TINYLSTM_MODEL_H", "", "#include <stdint.h>", '#include "esell_engine.h"',
        "",
        f"#define TL_N_LSTM {len(net.layers)}", f"#define TL_N_DENSE {len(net.dense)}", f"#define TL_STEPS {steps}",
        f"#define TL_N_IN {n_in}", f"#define TL_N_X {n}",
        f"#define TL_MAX_ROWS {max(l.W.padded_rows for l in net.layers)}",
        f"#define TL_MAX_IN4 {max(l.W.padded_cols for l in net.layers)}",
        f"#define TL_MAX_H4 {max(l.U.padded_cols for l in net.layers)}",
        f"#define TL_MAX_WIDTH {max(widths)}",
        f"#define TL_HT_ENABLED {int(ht > 0)}", f"#define TL_HT {float(np.float32(ht)).hex()}f",
        "",
        "static const tl_lstm_t tl_lstm[TL_N_LSTM] = {",
        *[f"    {{{d['in_']}, {d['in_pad']}, {d['units']}, {d['units_pad']}, {d['rows_pad']}, {d['w_word']}, "
          f"{d['w_bc']}, {d['u_word']}, {d['u_bc']}, {d['bias']}, {d['wd']}, {d['ud']}, {d['rs']}}}," for d in desc],
        "};",
        "static const tl_dense_t tl_dense[TL_N_DENSE] = {",
        *[f"    {{{d['in_']}, {d['out']}, {d['w']}, {d['b']}, {d['relu']}}}," for d in ddesc],
        "};", "",
        "/* eSELL streams (layer 1 first) */",
        "static const uint64_t w[] = {", _c_u64(cat(w_words, np.uint64)), "};",
        "static const uint64_t u[] = {", _c_u64(cat(u_words, np.uint64)), "};",
        "static const uint64_t w_offset[] = {", _c_u64(pack16(cat(w_counts, np.uint16))), "};",
        "static const uint64_t u_offset[] = {", _c_u64(pack16(cat(u_counts, np.uint16))), "};",
        "static const uint64_t bias[] = {", _c_u64(pack16(cat(biases, np.uint16))), "};",
        "#define bias16 ((const uint16_t *)bias)", "",
        "/* dense fp16 copies (4H x n row-major, rows f,i,c,o) for the baseline kernel */",
        "static const uint16_t wd[] = {", _c_u16(cat(wd, np.uint16)), "};",
        "static const uint16_t ud[] = {", _c_u16(cat(ud, np.uint16)), "};", "",
        "/* dense head, fp16, W (out x in) row-major */",
        "static const uint16_t head_w[] = {", _c_u16(cat(hw, np.uint16)), "};",
        "static const uint16_t head_b[] = {", _c_u16(cat(hb, np.uint16)), "};", "",
        f"/* {n} input sequences (standardised), [sample][step][input] */",
        "static const float x[] = {", _c_f32(x_scaled), "};", "",
        "#endif", "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------- build and run
def tools_available() -> bool:
    return shutil.which(CC) is not None and shutil.which(QEMU) is not None


@dataclass
class EngineRun:
    y_esell: np.ndarray      # float32 standardised outputs
    y_dense: np.ndarray
    instr_esell: np.ndarray  # retired instructions per inference
    instr_dense: np.ndarray
    mv_esell: np.ndarray     # of which matrix-vector products
    mv_dense: np.ndarray
    text_bytes: int


def build(header_dir: Path, elf: Path) -> Path:
    src = FIRMWARE_DIR / "esell_lstm.c"
    cmd = [CC, *CFLAGS, f"-I{header_dir}", f"-I{FIRMWARE_DIR}", f"-I{CSRC_DIR}", str(src), "-o", str(elf)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"{CC} failed ({res.returncode}):\n{res.stderr}")
    return elf


def run_elf(elf: Path, n: int, timeout: float = 300) -> EngineRun:
    res = subprocess.run([QEMU, *QEMU_ARGS, "-kernel", str(elf)], capture_output=True, text=True, timeout=timeout,
                         stdin=subprocess.DEVNULL)
    out = res.stdout + res.stderr  # the semihosting console may land on either stream
    if res.returncode != 0 or f"DONE {n}" not in out:
        raise RuntimeError(f"{QEMU} exited {res.returncode}:\n{out[-3000:]}")
    rows = [ln.split() for ln in out.splitlines() if ln.startswith("Y ")]
    rows.sort(key=lambda r: int(r[1]))
    as_f = lambda col: np.array([int(r[col], 16) for r in rows], np.uint32).view(np.float32)  # noqa: E731
    as_i = lambda col: np.array([int(r[col]) for r in rows], np.int64)  # noqa: E731
    size = subprocess.run(["riscv64-unknown-elf-size", "-A", str(elf)], capture_output=True, text=True).stdout
    text = sum(int(m.group(1)) for m in re.finditer(r"^\.text\s+(\d+)", size, re.M))
    return EngineRun(as_f(2), as_f(3), as_i(4), as_i(5), as_i(6), as_i(7), text)


def run_engine(net, bundle: Bundle, x_scaled: np.ndarray, ws: dict, ht: float, source: str = "") -> EngineRun:
    """Render the header for ``x_scaled``, build the engine and run it under QEMU."""
    with tempfile.TemporaryDirectory(prefix="tinylstm-riscv-") as tmp:
        tmp = Path(tmp)
        (tmp / "model.h").write_text(render_header(net, bundle, x_scaled, ws, ht, source or "in-memory"))
        elf = build(tmp, tmp / "esell_lstm.elf")
        return run_elf(elf, len(x_scaled))


# ---------------------------------------------------------------------------------------------- export
def _inputs(bundle: Bundle, model_dir: Path, args) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Test rows (raw) for x[]: the model's test split when its CSV is found, else the training mean row."""
    import json

    from .. import esell
    from ..data import load_dataset
    from ..prune import find_data

    try:
        csv = find_data(bundle, getattr(args, "data", None))
        ds = load_dataset(csv, bundle.features, bundle.target)
        test = np.asarray(json.loads((Path(model_dir) / "split.json").read_text())["test"])
        k = max(1, int(getattr(args, "samples", DEFAULT_SAMPLES)))
        X = ds.X[test[:k]]
        return esell.scale_inputs(bundle, X), ds.y[test[:k]], f"first {len(X)} test rows of {csv.name}"
    except (UserError, OSError, KeyError, ValueError):
        X = np.atleast_2d(bundle.scaler.x_mean)
        return esell.scale_inputs(bundle, X), None, "the training mean row (data file not found)"


def _ordered(ws: dict, n_layers: int) -> dict:
    """Sparsities in matrix order W1 U1 W2 U2 (JSON stores keys sorted)."""
    from ..prune import matrix_names

    return {k: ws[k] for k in matrix_names(n_layers) if k in ws}


def _accuracy(model_dir: Path, pruned: Bundle, args) -> str:
    """One line: test MAE of the float source model and of the eSELL golden model, when the CSV is found."""
    import json

    from .. import esell, reference
    from ..data import load_dataset
    from ..prune import find_data

    try:
        src = Bundle.load(model_dir)
        ds = load_dataset(find_data(pruned, getattr(args, "data", None)), pruned.features, pruned.target)
        test = np.asarray(json.loads((Path(model_dir) / "split.json").read_text())["test"])
    except (UserError, OSError, KeyError, ValueError):
        return ""
    X, y = ds.X[test], ds.y[test]
    f = float(np.mean(np.abs(y - reference.predict(src, X))))
    e = float(np.mean(np.abs(y - esell.predict(pruned, X))))
    unit = pruned.units.get(pruned.target, "")
    return (f"Test MAE ({len(y)} rows): float model {f:.4f} {unit}, pruned eSELL fp16 golden {e:.4f} {unit} "
            f"(Δ {e - f:+.4f}).")


@register("riscv", "pruned LSTM in E-LSTM's eSELL format (fp16, 64-bit words) as a C header for the RISC-V "
          "engine (firmware/riscv)", add_arguments=add_arguments, default_subdir="riscv", in_run=True)
def export(model_dir: Path, out_dir: Path, args: argparse.Namespace) -> list[Path]:
    from .. import esell

    pruned_dir = resolve_pruned(Path(model_dir), args)
    bundle = Bundle.load(pruned_dir)
    ht = float(getattr(args, "ht", 0.0) or 0.0)
    if ht < 0:
        raise UserError(f"--ht must be >= 0, got {ht:g}")
    net = esell.build_net(bundle, ht)
    ws = _ordered(bundle.meta.get("pruning", {}).get("sparsity_target", {}), len(bundle.lstm))
    x_scaled, _, what = _inputs(bundle, pruned_dir, args)
    out_dir = Path(out_dir)
    source = f"{pruned_dir.name}/bundle.npz, inputs: {what}"
    written = [atomic.write_text(out_dir / "model.h", render_header(net, bundle, x_scaled, ws, ht, source))]
    for name in ENGINE_FILES:
        written.append(atomic.write_bytes(out_dir / name, (FIRMWARE_DIR / name).read_bytes()))
    written.append(atomic.write_bytes(out_dir / "tl_act.h", (CSRC_DIR / "tl_act.h").read_bytes()))
    text = report(net, bundle, x_scaled, ws, ht, source)
    src_dir = Path(model_dir) if pruned_dir != Path(model_dir) else None
    acc = _accuracy(src_dir, bundle, args) if src_dir is not None else ""
    if acc:
        text = text.replace("\n\n| LSTM weights", f"\n\n{acc}\n\n| LSTM weights", 1)
    written.append(atomic.write_text(out_dir / "riscv.report.md", text))
    return written


def report(net, bundle: Bundle, x_scaled: np.ndarray, ws: dict, ht: float, source: str) -> str:
    from .. import esell

    by = net.lstm_bytes()
    lines = ["## RISC-V / eSELL export", "",
             f"Weights: {source}; sparsity targets {', '.join(f'{k} {100 * v:g} %' for k, v in ws.items())}; "
             f"hidden-state pruning threshold {ht:g}.", "",
             "| LSTM weights | bytes | vs dense fp16 |", "|---|---|---|",
             f"| eSELL (stream + offsets) | {by['esell']} | {by['esell'] / by['dense_fp16']:.3f} |",
             f"| dense fp16 | {by['dense_fp16']} | 1.000 |",
             f"| CSR fp16 (uint16 indices) | {by['csr_fp16']} | {by['csr_fp16'] / by['dense_fp16']:.3f} |", ""]
    if tools_available() and not os.environ.get("TINYLSTM_SKIP_QEMU"):
        run = run_engine(net, bundle, x_scaled, ws, ht, source)
        golden = esell.forward(net, x_scaled)[:, 0]
        exact = bool(np.array_equal(run.y_esell, golden))
        lines += [f"Engine built with `{CC}` ({' '.join(CFLAGS[:2])}) and run in `{QEMU} -icount shift=0` on "
                  f"{len(x_scaled)} inputs: outputs equal the numpy eSELL golden model bit for bit: "
                  f"**{'yes' if exact else 'NO'}**.", "",
                  "| kernel | retired instructions / inference (median) | of which matrix products |",
                  "|---|---|---|",
                  f"| eSELL | {int(np.median(run.instr_esell))} | {int(np.median(run.mv_esell))} |",
                  f"| dense fp16 | {int(np.median(run.instr_dense))} | {int(np.median(run.mv_dense))} |",
                  f"| ratio | {np.median(run.instr_esell) / np.median(run.instr_dense):.3f} | "
                  f"{np.median(run.mv_esell) / np.median(run.mv_dense):.3f} |", ""]
    else:
        lines += [f"(`{CC}`/`{QEMU}` not installed: the engine was not built or run.)", ""]
    return "\n".join(lines)
