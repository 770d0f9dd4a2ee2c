"""Deterministic costs of one model on each target, as rows a table or a chart takes (notebook 02, bench).

Per target: ``flash_bytes`` (what the model costs in program memory), ``ram_bytes`` (what it needs at run time)
and ``instructions`` per inference where an emulator counts them exactly; ``None`` where a figure does not apply
or its tool is missing (``note`` says which). Every figure is measured by building the target, never estimated:

* ``c-float32`` / ``c-int8``: the C engine compiled with ``arm-none-eabi-gcc -Os`` for a Cortex-M4F — flash = the
  engine object's text (code + const weights); RAM = its measured deepest stack during one ``tinylstm_predict``
  (QEMU, painting; the state lives on that stack); instructions = every instruction QEMU executes per inference
  (:func:`tinylstm.export._cbuild.m4_program_instructions`, "whole program").
* ``tflite-float`` / ``tflite-int8``: the flatbuffer bytes (flash, without the TFLM runtime itself) and the
  smallest TFLM arena (RAM) of the host interpreter.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UserError
from .modeldir import ModelDir


def _row(target: str, flash=None, ram=None, instructions=None, note: str = "") -> dict[str, Any]:
    return {"target": target, "flash_bytes": flash, "ram_bytes": ram, "instructions": instructions, "note": note}


def c_engines(model: ModelDir, X: np.ndarray, work: Path,
              variants: tuple[str, ...] = ("float32", "int8")) -> list[dict[str, Any]]:
    from .export import _cbuild as cb

    rows = []
    for variant in variants:
        target = f"c-{variant}"
        try:
            lib = cb.export_library(model, variant, work / variant)
        except UserError as err:
            rows.append(_row(target, note=str(err)))
            continue
        if not (cb.tool("arm-none-eabi-gcc") and cb.tool("arm-none-eabi-size")):
            rows.append(_row(target, note="arm-none-eabi-gcc missing (scripts/setup.sh --dev)"))
            continue
        obj = work / f"{variant}.o"
        cb._run(["arm-none-eabi-gcc", *cb.M4_FLAGS, "-std=c99", "-Os", "-ffunction-sections", "-fdata-sections",
                 f"-I{lib}", "-c", str(cb.engine_source(lib)), "-o", str(obj)])
        flash = cb.elf_sizes(obj)["text"]
        if not cb.tool("qemu-system-arm"):
            rows.append(_row(target, flash, note="qemu-system-arm missing: no RAM/instruction figure"))
            continue
        stack = cb.m4_stack_bytes(lib, work, X)
        instr = cb.m4_program_instructions(lib, work, X)["whole"]
        rows.append(_row(target, flash, stack, int(round(instr)), "Cortex-M4F -Os, QEMU"))
    return rows


def tflite(model: ModelDir) -> list[dict[str, Any]]:
    from . import tflite_build

    try:
        b = tflite_build.build(model)
    except UserError as err:
        return [_row("tflite-float", note=str(err)), _row("tflite-int8", note=str(err))]
    rows = []
    for variant in tflite_build.VARIANTS:
        fb = b.flatbuffer(variant)
        rows.append(_row(f"tflite-{variant}", len(fb), b.arena_min_host.get(variant),
                         note="flatbuffer bytes; smallest TFLM arena (host)"))
    return rows


def measure(model: ModelDir | str | Path, X: np.ndarray) -> list[dict[str, Any]]:
    """Rows of :func:`_row` for every target measured here; ``X`` raw samples (a few: instruction counts run
    them in QEMU)."""
    model = model if isinstance(model, ModelDir) else ModelDir.load(model)
    X = np.asarray(X, dtype=np.float64)
    with tempfile.TemporaryDirectory(prefix="tinylstm-footprint-") as td:
        rows = c_engines(model, X, Path(td))
    return rows + tflite(model)
