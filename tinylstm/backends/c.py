"""C engine backends: the generated C99 library compiled on the host (gcc), or run on an emulated Cortex-M4F.

The library is what ``tinylstm export c`` generates for the model directory (one variant, flat files).
``c-float`` / ``c-int8`` compile the engine with the host C compiler (strict C99) into a temporary directory and
run it on the rows; ``cortex-m4`` cross-compiles it with ``arm-none-eabi-gcc`` (-Os, hard float) and runs it under
``qemu-system-arm -M mps2-an386`` with the rows compiled in (slow, exact).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from ..export import _cbuild as cb
from ..modeldir import ModelDir
from . import register


def _add_c_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--c-math", choices=("poly", "libm"), default="poly",
                   help="c-float/cortex-m4: sigmoid/tanh from the own exp polynomial (default) or libm")
    p.add_argument("--m4-variant", choices=("float32", "int8"), default="int8",
                   help="cortex-m4: engine variant to run in QEMU (default: %(default)s)")
    p.add_argument("--cc", default="gcc", help="c-float/c-int8: host C compiler (default: %(default)s)")


def _host(model_dir: Path, X_raw: np.ndarray, args: argparse.Namespace, variant: str) -> np.ndarray:
    model = ModelDir.load(model_dir)
    with tempfile.TemporaryDirectory(prefix="tinylstm-c-") as tmp:
        lib = cb.export_library(model, variant, Path(tmp) / "lib", getattr(args, "c_math", "poly"))
        exe = cb.build_host(lib, Path(tmp) / "engine", cc=getattr(args, "cc", "gcc"))
        y, _ = cb.run_host(exe, X_raw)
    return y.astype(np.float64)


@register("c-float", "the generated float32 C engine, compiled with the host C compiler", add_arguments=_add_c_args)
def predict_c_float(model_dir, X_raw, args):
    return _host(model_dir, X_raw, args, "float32")


@register("c-int8", "the generated int8 C engine, compiled with the host C compiler")
def predict_c_int8(model_dir, X_raw, args):
    return _host(model_dir, X_raw, args, "int8")


@register("cortex-m4", "the generated C engine on an emulated Cortex-M4F (arm-none-eabi-gcc -Os + qemu mps2-an386)")
def predict_cortex_m4(model_dir, X_raw, args):
    model = ModelDir.load(model_dir)
    variant = getattr(args, "m4_variant", "int8")
    out = np.empty(len(X_raw))
    with tempfile.TemporaryDirectory(prefix="tinylstm-m4-") as tmp:
        lib = cb.export_library(model, variant, Path(tmp) / "lib", getattr(args, "c_math", "poly"))
        chunk = 2000  # rows compiled into one image (flash holds far more; keeps compile times short)
        for start in range(0, len(X_raw), chunk):
            rows = X_raw[start:start + chunk]
            elf = cb.build_m4(lib, Path(tmp) / f"run{start}" / "test.elf", "test", rows, opt="-Os")
            y, _ = cb.run_m4(elf, len(rows))
            out[start:start + len(rows)] = y
    return out
