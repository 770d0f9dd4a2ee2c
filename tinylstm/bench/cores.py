"""Bench section ``cores``: the C engines on the ESP32 family's cores that install here (also appended to
``bench --only cengine``).

* **ESP32-C3 (RV32IMC, no FPU)**: ``riscv64-unknown-elf-gcc -march=rv32imc -mabi=ilp32`` (soft float), run in
  ``qemu-system-riscv32 -M virt -icount shift=0`` on the model's test rows: retired instructions per
  ``tinylstm_predict`` (``minstret`` read around each call: exact, libgcc's soft-float helpers and everything
  else the engine calls included), int8 compared bit for bit with :mod:`tinylstm.intgolden`, float with Keras.
  Flash: the engine object's text (code + const weights) apart from the libgcc helpers it pulls in (a real C3
  has them in ROM), from the map of ``firmware/esp32-c3/size_main.c`` linked with and without the engine.
* **Xtensa LX106 (ESP8266)**: ``xtensa-lx106-elf-gcc`` object text at -Os with the ESP8266 Arduino core's
  code-generation flags, beside Cortex-M4F (``arm-none-eabi-gcc -Os``, hard float) and RV32IMC; both engines
  run in ``qemu-system-xtensa -M sim -cpu lx106`` on the same rows: retired instructions per inference (CCOUNT
  under icount), int8 compared bit for bit with :mod:`tinylstm.intgolden`, float with Keras.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .. import crossbuild as xb
from .. import intgolden
from ..errors import UserError
from ..export import _cbuild as cb
from ..export.c import FLOAT_TOLERANCE, selfcheck_inputs
from ..modeldir import ModelDir
from . import register

OPTS = ("-Os", "-O2")


def _rows(model: ModelDir, data: Path | None) -> tuple[np.ndarray, str]:
    try:
        X = model.rows("test", data)[0]
        if len(X):
            return X, f"the {len(X)} test rows"
    except UserError:
        pass
    return selfcheck_inputs(model.bundle), "the 8 self-check rows (no test split or CSV)"


def _keras(model: ModelDir, X: np.ndarray) -> np.ndarray | None:
    """Keras predictions in target units (None when the model has no Keras file)."""
    if not (model.path / "model.keras").exists():
        return None
    from ..train import load_keras_model  # deferred on purpose: TensorFlow

    keras = load_keras_model(model.path)
    return model.bundle.outputs(np.asarray(keras.predict(model.bundle.sequences(X), verbose=0)))


def _m4_text(lib: Path, tmp: Path) -> int | None:
    if not (cb.tool("arm-none-eabi-gcc") and cb.tool("arm-none-eabi-size")):
        return None
    obj = tmp / f"m4_{lib.name}.o"
    subprocess.run(["arm-none-eabi-gcc", *cb.M4_FLAGS, "-std=c99", "-Os", "-ffunction-sections", "-fdata-sections",
                    f"-I{lib}", "-c", str(cb.engine_source(lib)), "-o", str(obj)], check=True)
    return cb.elf_sizes(obj)["text"]


def _spread(v: np.ndarray) -> str:
    return f"{int(np.median(v)):,} ({int(v.min()):,} – {int(v.max()):,})"


def table(model: ModelDir, data: Path | None = None) -> str:
    """The ESP32-family tables (Markdown) for ``model``."""
    X, rows_note = _rows(model, data)
    X = X.astype(np.float32).astype(np.float64)
    q_golden = intgolden.predict_q(intgolden.quantize(model.bundle), X)
    unit = model.bundle.units.get(model.bundle.target, "")
    lines = []
    with tempfile.TemporaryDirectory(prefix="tinylstm-bench-cores-") as td:
        tmp = Path(td)
        libs = {v: cb.export_library(model, v, tmp / v) for v in ("float32", "int8")}
        keras = _keras(model, X) if xb.rv_tools() or xb.xt_run_tools() else None
        if xb.rv_tools():
            lines += ["| ESP32-C3 (RV32IMC, soft float) | flash: engine object text (code + const weights) | "
                      "libgcc helpers it pulls in (in ROM on a C3) | linked image growth | retired instructions "
                      "per inference, median (min – max) | check on the same rows |", "|---|---|---|---|---|---|"]
            for variant, lib in libs.items():
                for opt in OPTS:
                    fl = xb.rv_flash(lib, tmp / f"rv_{variant}", opt)
                    run = xb.rv_run(lib, X, tmp / f"rv_{variant}", opt)
                    helpers = sum(fl["libgcc"].values())
                    names = ", ".join(m.removesuffix(".o").lstrip("_") for m in fl["libgcc"])
                    growth = fl["image"]["text"] + fl["image"]["data"] - fl["base"]["text"] - fl["base"]["data"]
                    check = _check(variant, run, q_golden, keras, unit, "bit-exact with tinylstm.intgolden")
                    lines.append(f"| C {variant} {opt} | {fl['obj']['text']:,} B | {helpers:,} B ({names}) | "
                                 f"{growth:,} B | {_spread(run.instructions)} | {check} |")
            lines += ["", f"Rows: {rows_note}, every one run in `qemu-system-riscv32 -M virt -icount shift=0`; "
                      "instructions: `minstret` read around each `tinylstm_predict` call (exact; the libgcc "
                      "soft-float helpers and everything else the engine calls count). libgcc comes from "
                      "Debian's rv32im multilib (GCC picks it for -march=rv32imc; the engine itself is compiled "
                      "RV32IMC); image growth: firmware/esp32-c3/size_main.c with vs without the "
                      "engine (`--gc-sections`).", ""]
        else:
            lines += ["ESP32-C3: riscv64-unknown-elf-gcc or qemu-system-riscv32 missing (scripts/setup.sh --dev).", ""]
        lines += _lx106_run_table(libs, X, q_golden, keras, unit, tmp, rows_note)
        m4 = {v: _m4_text(lib, tmp) for v, lib in libs.items()}
        rv = {v: xb.rv_flash(lib, tmp / f"rvf_{v}")["obj"]["text"] if cb.tool(xb.RV_CC) else None
              for v, lib in libs.items()}
        xt = {v: xb.xt_flash(lib, tmp / f"xt_{v}") if xb.xt_tools() else None for v, lib in libs.items()}

    def cell(v: int | None) -> str:
        return "tool missing" if v is None else f"{v:,} B"

    lines += ["| engine text at -Os (code + const weights) | Cortex-M4F (hard float) | ESP32-C3 RV32IMC (soft float) "
              "| ESP8266 Xtensa LX106 (soft float) | of which constant tables (LX106 .rodata) |",
              "|---|---|---|---|---|"]
    for v in libs:
        lines.append(f"| C {v} | {cell(m4[v])} | {cell(rv[v])} | {cell(xt[v]['text'] if xt[v] else None)} | "
                     f"{cell(xt[v]['rodata'] if xt[v] else None)} |")
    lines += ["", "Object text of the engine alone (libgcc/libc helpers not counted). Xtensa: "
              f"`xtensa-lx106-elf-gcc -Os {' '.join(xb.XT_FLAGS)}` (the ESP8266 Arduino core's long calls and "
              "literals in text); the ESP32's LX6 is a superset of this core with a single-precision FPU (no "
              "compiler for it installs here), so its float engine would not call soft-float helpers. The LX106 "
              "engines also run in QEMU (the table above)."]
    return "\n".join(lines)


def _check(variant: str, run, q_golden: np.ndarray, keras: np.ndarray | None, unit: str, exact: str) -> str:
    """The check column of a core's run: int8 bit for bit against the integer golden model, float against Keras
    (``FLOAT_TOLERANCE``, in ``unit``)."""
    if variant == "int8":
        return f"{exact}: " + ("yes" if np.array_equal(run.q, q_golden) else "**NO**")
    if keras is None:
        return "no Keras model to compare"
    d = float(np.max(np.abs(run.y.astype(np.float64) - keras)))
    return f"max \\|Δ\\| vs Keras {d:.2g} {unit} ({'≤' if d <= FLOAT_TOLERANCE else '**>**'} {FLOAT_TOLERANCE:g})"


def _lx106_run_table(libs: dict[str, Path], X: np.ndarray, q_golden: np.ndarray, keras: np.ndarray | None,
                     unit: str, tmp: Path, rows_note: str) -> list[str]:
    """Both engines on the LX106 in ``qemu-system-xtensa -M sim``: instructions per inference, int8 bit-exactness
    with :mod:`tinylstm.intgolden` (output 0), float distance from Keras."""
    if not xb.xt_run_tools():
        return ["ESP8266 LX106 run: xtensa-lx106-elf-gcc, picolibc-xtensa-lx106-elf or qemu-system-xtensa missing "
                "(scripts/setup.sh --dev).", ""]
    q0 = q_golden if q_golden.ndim == 1 else q_golden[:, 0]
    k0 = None if keras is None else (keras if keras.ndim == 1 else keras[:, 0])
    lines = ["| ESP8266 Xtensa LX106 (soft float) | flash: engine object text (code + const weights) | retired "
             "instructions per inference, median (min – max) | check on the same rows |", "|---|---|---|---|"]
    for variant, lib in libs.items():
        for opt in OPTS:
            run = xb.xt_run(lib, X, tmp / f"xt_run_{variant}", opt)
            text = xb.xt_flash(lib, tmp / f"xt_run_{variant}", opt)["text"]
            check = _check(variant, run, q0, k0, unit, "bit-exact with tinylstm.intgolden (output 0)")
            lines.append(f"| C {variant} {opt} | {text:,} B | {_spread(run.instructions)} | {check} |")
    lines += ["", f"Rows: {rows_note}, every one run in `qemu-system-xtensa -M sim -cpu lx106 -semihosting -icount "
              f"shift={xb.XT_ICOUNT_SHIFT}` (firmware/xtensa-lx106: own start-up, linker script, `simcall` "
              "console/exit); instructions: CCOUNT read around each `tinylstm_predict` call, "
              f"{xb.xt_ccount_per_insn():g} cycles per instruction under that icount scale (checked by a loop of "
              "known length in the same program), everything the engine calls counted, including "
              "firmware/xtensa-lx106/lx106_rt.c's soft-float helpers (`__addsf3`, `__mulsf3`, `__adddf3`, "
              "`__muldf3`, ...) and `__muldi3` (Debian's lx106 libgcc lacks them; an ESP8266 has them in ROM: their "
              "cost here is this C code's, not the ROM's).", ""]
    return lines


@register("cores", "ESP32-family cores: ESP32-C3 RV32IMC and Xtensa LX106 flash + retired instructions (QEMU)")
def section(model_dir: Path, args) -> str:
    return table(ModelDir.load(model_dir), getattr(args, "data", None))
