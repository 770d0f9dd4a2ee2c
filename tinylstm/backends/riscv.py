"""Backends ``esell`` (numpy golden model on the eSELL fp16 weights) and ``riscv`` (the engine under QEMU).

Both run the pruned model: ``--ws`` picks the sparsity per LSTM matrix (default 50 % everywhere, fine-tuned;
the pruned model directory is made beside the model on first use), ``--ht`` the hidden-state pruning threshold
(default 0 = off). A ``--model`` that is itself a pruned model directory is used as is.

This module also builds the engine (``firmware/riscv/esell_lstm.c`` + a header from
:func:`tinylstm.export.riscv.render_header`) with the RISC-V cross compiler and runs it in
``qemu-system-riscv32 -icount shift=0`` (:func:`run_engine`, :func:`build`, :func:`run_elf`).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import esell
from ..bundle import Bundle
from ..errors import UserError
from ..export import riscv as rvx
from ..modeldir import ModelDir
from . import register

CC = "riscv64-unknown-elf-gcc"
QEMU = "qemu-system-riscv32"
CFLAGS = ["-march=rv32imafc", "-mabi=ilp32f", "--specs=picolibc.specs", "--oslib=semihost", "--crt0=semihost",
          "-O2", "-ffp-contract=off", "-fno-tree-loop-distribute-patterns", "-std=c99", "-Wall", "-Wextra",
          "-Werror", "-Wno-unused-function",
          # qemu virt: RAM at 0x80000000 (code + constants), data after 2 MiB
          "-Wl,--defsym=__flash=0x80000000", "-Wl,--defsym=__flash_size=0x200000",
          "-Wl,--defsym=__ram=0x80200000", "-Wl,--defsym=__ram_size=0x200000"]
QEMU_ARGS = ["-M", "virt", "-bios", "none", "-nographic", "-semihosting-config", "enable=on,target=native",
             "-icount", "shift=0"]


# --------------------------------------------------------------------------------------- build and run
def tools_available() -> bool:
    return shutil.which(CC) is not None and shutil.which(QEMU) is not None


@dataclass
class EngineRun:
    y_esell: np.ndarray      # float32 outputs (n, K): standardised for a regression, probabilities for a classifier
    y_dense: np.ndarray
    instr_esell: np.ndarray  # retired instructions per inference
    instr_dense: np.ndarray
    mv_esell: np.ndarray     # of which matrix-vector products
    mv_dense: np.ndarray
    text_bytes: int
    argmax_esell: np.ndarray = None  # the engine's argmax of its K outputs (a classifier's class index)
    argmax_dense: np.ndarray = None


def build(header_dir: Path, elf: Path) -> Path:
    """Compile the engine against ``header_dir/model.h``.

    The engine source is compiled from a copy in ``header_dir``: ``#include "model.h"`` looks in the source's own
    directory first, where the checkout's firmware/riscv holds the committed reference header.
    """
    header_dir = Path(header_dir)
    for name in ("esell_lstm.c", "esell_engine.h"):
        if not (header_dir / name).exists():
            shutil.copyfile(rvx.FIRMWARE_DIR / name, header_dir / name)
    src = header_dir / "esell_lstm.c"
    cmd = [CC, *CFLAGS, f"-I{header_dir}", f"-I{rvx.CSRC_DIR}", str(src), "-o", str(elf)]
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
    if len(rows) != n:
        raise RuntimeError(f"{QEMU}: {len(rows)} result lines for {n} inputs:\n{out[-3000:]}")

    def as_f(col: int) -> np.ndarray:
        bits = [[int(v, 16) for v in r[col].split(",")] for r in rows]
        return np.array(bits, np.uint32).reshape(len(rows), -1).view(np.float32)

    def as_i(col: int) -> np.ndarray:
        return np.array([int(r[col]) for r in rows], np.int64)

    size = subprocess.run(["riscv64-unknown-elf-size", "-A", str(elf)], capture_output=True, text=True).stdout
    text = sum(int(m.group(1)) for m in re.finditer(r"^\.text\s+(\d+)", size, re.M))
    return EngineRun(as_f(2), as_f(3), as_i(4), as_i(5), as_i(6), as_i(7), text, as_i(8), as_i(9))


def run_header(header: str | bytes, n: int) -> EngineRun:
    """Build the engine against the ``model.h`` text ``header`` (holding ``n`` inputs) and run it."""
    with tempfile.TemporaryDirectory(prefix="tinylstm-riscv-") as tmp:
        tmp = Path(tmp)
        (tmp / "model.h").write_bytes(header.encode() if isinstance(header, str) else header)
        return run_elf(build(tmp, tmp / "esell_lstm.elf"), n)


def run_engine(net, bundle: Bundle, x_scaled: np.ndarray, ws: dict, ht: float, source: str = "") -> EngineRun:
    """Render the header for ``x_scaled`` (the generator's :func:`~tinylstm.export.riscv.render_header`), build
    the engine and run it under QEMU."""
    return run_header(rvx.render_header(net, bundle, x_scaled, ws, ht, source or "in-memory"), len(x_scaled))


# -------------------------------------------------------------------------------------------- backends
def _add_arguments(p) -> None:
    p.add_argument("--ws", type=float, nargs="+", metavar="S", default=None,
                   help="esell/riscv: weight sparsity per LSTM matrix W1 U1 W2 U2 (one value for all; "
                        "default 50 %%)")
    p.add_argument("--ht", type=float, default=0.0,
                   help="esell/riscv: hidden-state pruning threshold, groups of 4 (default 0 = off)")


def _pruned(model_dir: Path, args: argparse.Namespace) -> tuple[Bundle, float]:
    ht = rvx.check_ht(getattr(args, "ht", 0.0))
    opts = rvx.RiscvOptions(ws=getattr(args, "ws", None), data=getattr(args, "train_data", None))
    return rvx.prepare(ModelDir.load(model_dir), opts).bundle, ht


@register("esell", "numpy golden model on the pruned eSELL fp16 weights (fp32 accumulation; --ws, --ht)",
          add_arguments=_add_arguments)
def predict_esell(model_dir, X_raw, args):
    bundle, ht = _pruned(model_dir, args)
    return esell.predict(bundle, X_raw, ht)


#: Inputs per QEMU run (the header holds them all; the engine runs them one by one).
BATCH = 512


@register("riscv", "the eSELL engine (firmware/riscv) built for RV32IMAFC and run in qemu-system-riscv32 "
          "(--ws, --ht)")
def predict_riscv(model_dir, X_raw, args):
    if not tools_available():
        raise UserError(f"backend riscv needs {CC} and {QEMU} (scripts/setup.sh --dev)")
    bundle, ht = _pruned(model_dir, args)
    net = esell.build_net(bundle, ht)
    ws = bundle.meta.get("pruning", {}).get("sparsity_target", {})
    xs = esell.scale_inputs(bundle, X_raw)
    out = [run_engine(net, bundle, xs[i:i + BATCH], ws, ht).y_esell for i in range(0, len(xs), BATCH)]
    return bundle.outputs(np.concatenate(out).astype(np.float64))
