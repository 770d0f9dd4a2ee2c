"""Bench section ``cengine``: the runtime-free C engine's flash/RAM on Cortex-M4 (-Os), host time per inference
against the TFLite Micro interpreter and LiteRT in the same run, and Cortex-M4 instructions per inference (QEMU).

How each figure is measured (also printed under the table):

* **Flash**: ``arm-none-eabi-size`` of the engine object (``tinylstm_float.c`` / ``tinylstm_int8.c`` with its
  generated data) compiled with ``-Os -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
  -ffunction-sections`` (text = code + const weights), and the growth of a linked image
  (``firmware/cortex-m4/size_main.c``: no printf, no semihosting, ``--gc-sections``) when it calls
  ``tinylstm_predict`` versus the same program without the engine (this includes any libgcc/libc helper pulled in).
* **Static RAM**: data + bss of the engine object (the state struct lives on the stack; its size and the deepest
  stack use from ``-fstack-usage`` are listed separately).
* **Host time**: all three engines on the same rows in one process. C: the generated engine as a shared library
  (-O2) called through ``ctypes`` once per row (Python call overhead included, like the interpreters) and, for
  reference, a C loop without any Python (``tinylstm_predict`` back to back). TFLM: ``tflite_micro`` (PyPI) running a
  float TFLite model of the same bundle (tf_keras, ``Input(batch_size=1)``, fused LSTM ops) with
  ``set_input``/``invoke``/``get_output`` + ``reset()`` per row. LiteRT: ``ai_edge_litert`` with the same model,
  ``set_tensor``/``invoke``/``get_tensor`` + ``reset_all_variables()``. Median of repeated passes.
* **Cortex-M4 instructions** (at -Os and -O2): ``qemu-system-arm -M mps2-an386 -singlestep -d exec,nochain``
  logs one line per executed instruction; ``firmware/cortex-m4/count_main.c`` is traced running 5 and 1
  inferences and the difference divided by 4: every instruction (the whole program: what the engine calls -
  ``memcpy``, ``memset``, libgcc - counts; start-up and exit cancel), and those inside the engine's own functions
  (``arm-none-eabi-nm -S``). Deterministic.
* **State struct and stack**: ``sizeof(tinylstm_state)``; the stack depth of one ``tinylstm_predict`` measured
  by stack painting in QEMU (``firmware/cortex-m4/test_main.c -DTINYLSTM_STACK_PAINT``), beside the
  ``-fstack-usage`` frame chain.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..export import _cbuild as cb
from ..export.c import selfcheck_inputs
from ..modeldir import ModelDir
from ..reference import forward_scaled
from . import cores, register

HERE = Path(__file__).resolve().parent

#: Host flags of the "fast" C rows: same bits as -O2 (tests/test_c_engine.py checks it); -fno-trapping-math
#: lets GCC vectorise the branch-free activation loops.
FAST_HOST = ["-O3", "-march=native", "-fno-trapping-math"]
#: The same for valgrind, which cannot run AVX-512: x86-64-v3 = AVX2 + FMA (any recent x86 machine).
CALLGRIND_HOST = ["-O3", "-march=x86-64-v3" if platform.machine() in ("x86_64", "AMD64") else "-march=native",
                  "-fno-trapping-math"]
CALLGRIND_RUNS = 10
ROWS = 64  # rows timed per pass (test-set rows when the model directory has a split, else self-check rows)
COUNT_RUNS = 4  # whole-program counting: traces of COUNT_RUNS + 1 and 1 inferences
M4_OPTS = ("-Os", "-O2")


def _rows(model: ModelDir, data: Path | None) -> np.ndarray:
    """The first ROWS test rows of the model's split; the self-check rows when the split or the CSV is missing."""
    try:
        X = model.rows("test", data)[0][:ROWS]
        if len(X):
            return X
    except UserError:
        pass
    return np.tile(selfcheck_inputs(model.bundle), (ROWS // 8, 1))


def _m4_sizes(lib: Path, tmp: Path, opt: str = "-Os") -> dict:
    obj = tmp / f"{lib.name}{opt}.o"
    subprocess.run(["arm-none-eabi-gcc", *cb.M4_FLAGS, "-std=c99", opt, "-ffunction-sections", "-fdata-sections",
                    "-fstack-usage", "-c", str(cb.engine_source(lib)), "-o", str(obj)], check=True, cwd=tmp)
    sizes = cb.elf_sizes(obj)
    stack = {}
    su_file = obj.with_suffix(".su")
    if su_file.exists():
        for line in su_file.read_text().splitlines():
            name, nbytes = line.split("\t")[0].split(":")[-1], int(line.split("\t")[1])
            stack[name] = nbytes
    full = cb.elf_sizes(cb.build_m4(lib, tmp / f"{lib.name}{opt}_size" / "size.elf", "size", opt=opt))
    base = cb.elf_sizes(cb.build_m4(lib, tmp / f"{lib.name}{opt}_base" / "base.elf", "size", opt=opt,
                                    extra=["-DTINYLSTM_SIZE_BASELINE"]))
    return {"obj": sizes, "image": full, "base": base, "stack": stack}


def _stack_chain(st: dict[str, int]) -> int:
    """-fstack-usage: the entry frames plus the deepest other frame (the engine calls one kernel at a time)."""
    entry = ("tinylstm_predict", "tinylstm_predict_q")
    return sum(st.get(k, 0) for k in entry) + max([v for k, v in st.items() if k not in entry] or [0])


def _callgrind_total(cmd: list[str], toggle: str, out: Path) -> int:
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", f"--toggle-collect={toggle}", *cmd],
                   check=True, capture_output=True, timeout=900)
    for line in out.read_text(errors="replace").splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out}")


def _host_instructions(libs: dict[str, Path], X: np.ndarray, seq32: np.ndarray, tflite: Path, tmp: Path) -> dict:
    """Deterministic host instructions per inference (valgrind callgrind): C tinylstm_predict vs TFLM Invoke."""
    res = {}
    (tmp / "cg").mkdir(exist_ok=True)
    (tmp / "cg" / "run_rows.h").write_text(cb.vectors_header(X))
    for name, lib in libs.items():
        for tag, flags in (("o2", ["-O2"]), ("fast", CALLGRIND_HOST)):
            exe = tmp / "cg" / f"cg_{name}_{tag}"
            subprocess.run(["gcc", *cb.HOST_CFLAGS, *flags, f"-DCG_RUNS={CALLGRIND_RUNS}", "-I", str(lib),
                            "-I", str(tmp / "cg"), str(cb.engine_source(lib)), str(cb.CSRC / "callgrind_main.c"),
                            "-o", str(exe)], check=True)
            res[f"c_{name}_{tag}"] = _callgrind_total([str(exe)], "tinylstm_predict",
                                                      tmp / "cg" / f"{name}_{tag}.out") / CALLGRIND_RUNS
    np.save(tmp / "cg" / "rows.npy", seq32)
    res["tflm"] = _callgrind_total([sys.executable, str(HERE / "_cengine_tflm_invoke.py"), str(tflite),
                                    str(tmp / "cg" / "rows.npy"), str(CALLGRIND_RUNS)],
                                   "*MicroInterpreter::Invoke*", tmp / "cg" / "tflm.out") / CALLGRIND_RUNS
    return res




def _host_timing(model_dir: Path, bundle, X: np.ndarray, libs: dict[str, Path], tmp: Path) -> dict:
    shared = {}
    for name, lib in libs.items():
        so = tmp / f"lib{name}.so"
        subprocess.run(["gcc", *cb.HOST_CFLAGS, *FAST_HOST, "-shared", "-fPIC", "-I", str(lib),
                        str(cb.engine_source(lib)), "-o", str(so)], check=True)
        shared[name] = str(so)
    ref_std = forward_scaled(bundle, bundle.sequences(X))[:, 0]
    cfg = {"root": str(cb.ROOT), "model": str(model_dir), "rows": X.tolist(), "libs": shared, "passes": 7, "repeat": 20,
           "arena": 64 * 1024, "tflite_out": str(tmp / "model.tflite"), "ref_std": ref_std.tolist()}
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, str(HERE / "_cengine_timing.py"), json.dumps(cfg)], capture_output=True,
                          text=True, env=env, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"timing subprocess failed: {proc.stderr[-1500:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    if cb.tool("valgrind"):
        seq32 = bundle.sequences(X).astype(np.float32)
        res["instructions"] = _host_instructions(libs, X, seq32, tmp / "model.tflite", tmp)
    # C loop without Python: the host test program's 'bench' mode (thread CPU ns per tinylstm_predict)
    for name, lib in libs.items():
        for tag, flags in (("o2", ["-O2"]), ("fast", FAST_HOST)):
            exe = cb.build_host(lib, tmp / f"host_{name}_{tag}", opt=flags[0], extra=flags[1:])
            res[f"c_{name}_{tag}_loop_ns"] = min(cb.host_ns_per_inference(exe, X, 100_000) for _ in range(3))
    return res


@register("cengine", "runtime-free C engine: Cortex-M4 flash/RAM/instructions, host speed vs TFLM and LiteRT")
def section(model_dir: Path, args) -> str:
    model = ModelDir.load(model_dir)
    bundle = model.bundle
    X = _rows(model, getattr(args, "data", None))
    lines = []
    with tempfile.TemporaryDirectory(prefix="tinylstm-bench-c-") as td:
        tmp = Path(td)
        libs = {}
        for name, variant, math in (("float32", "float32", "poly"), ("float32-libm", "float32", "libm"),
                                    ("int8", "int8", "poly")):
            libs[name] = cb.export_library(model, variant, tmp / name, math)
        have_arm = cb.tool("arm-none-eabi-gcc") and cb.tool("arm-none-eabi-size")
        have_qemu = have_arm and cb.tool("qemu-system-arm")
        rows_m4 = []  # (engine, opt)
        for name in ("float32", "float32-libm", "int8"):
            for opt in M4_OPTS if name != "float32-libm" else ("-Os",):
                rows_m4.append((name, opt))
        m4 = {}
        if have_arm:
            for name, opt in rows_m4:
                r = {"sizes": _m4_sizes(libs[name], tmp, opt), "state": cb.m4_state_bytes(libs[name], tmp)}
                if have_qemu:
                    r["instr"] = cb.m4_program_instructions(libs[name], tmp, X, opt)
                    r["stack"] = cb.m4_stack_bytes(libs[name], tmp, X, opt)
                m4[(name, opt)] = r
        timing = _host_timing(model_dir, bundle, X, {"float32": libs["float32"], "int8": libs["int8"]}, tmp)

    lines += ["| engine | opt | flash: engine object text (code + const weights) | linked image growth | static RAM "
              "(data + bss) | state struct | stack: measured (painting) / -fstack-usage chain | Cortex-M4 "
              "instructions per inference: whole program | in the engine's functions |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, opt in rows_m4:
        if (name, opt) not in m4:
            lines.append(f"| C {name} | {opt} | arm-none-eabi-gcc missing | | | | | | |")
            continue
        r = m4[(name, opt)]
        s = r["sizes"]
        obj = s["obj"]
        growth = s["image"]["text"] + s["image"]["data"] - s["base"]["text"] - s["base"]["data"]
        ins = r.get("instr")
        whole = f"{ins['whole']:,.0f}" if ins else "qemu-system-arm missing"
        inside = f"{ins['functions']:,.0f}" if ins else "-"
        stack = f"{r['stack']:,} B" if "stack" in r else "-"
        lines.append(f"| C {name} | {opt} | {obj['text']:,} B | {growth:,} B | {obj['data'] + obj['bss']} B | "
                     f"{r['state']:,} B | {stack} / ~{_stack_chain(s['stack']):,} B | {whole} | {inside} |")
    unit_note = (f"TFLite model for TFLM/LiteRT: {timing['tflite_bytes']:,} B flatbuffer (float, tf_keras fused LSTM) "
                 "+ the TFLM runtime itself.")
    lines += ["", "| host, same rows, same run (thread CPU time) | µs per inference | TFLM invoke / this |",
              "|---|---|---|"]
    tflm = timing["tflm_invoke_us"]
    fast = " ".join(FAST_HOST)
    rows = [("TFLite Micro (tflite-micro, float): invoke() only", timing["tflm_invoke_us"]),
            ("TFLite Micro: reset + set_input + invoke + get_output", timing["tflm_us"]),
            ("LiteRT (ai-edge-litert, float): invoke() only", timing["litert_invoke_us"]),
            ("LiteRT: reset + set_tensor + invoke + get_tensor", timing["litert_us"]),
            ("C float32, C loop, -O2", timing["c_float32_o2_loop_ns"] / 1000),
            (f"C float32, C loop, {fast}", timing["c_float32_fast_loop_ns"] / 1000),
            ("C int8, C loop, -O2", timing["c_int8_o2_loop_ns"] / 1000),
            (f"C int8, C loop, {fast}", timing["c_int8_fast_loop_ns"] / 1000),
            (f"C float32 via ctypes ({fast}), one call per row", timing["c_float32_us"]),
            (f"C int8 via ctypes ({fast}), one call per row", timing["c_int8_us"])]
    for label, us in rows:
        lines.append(f"| {label} | {us:.3f} | {tflm / us:.1f}× |")
    ins = timing.get("instructions")
    if ins:
        lines += ["", "| host instructions per inference (valgrind callgrind, deterministic) | instructions | "
                  "TFLM / this |", "|---|---|---|"]
        t = ins["tflm"]
        cgf = " ".join(CALLGRIND_HOST)
        for label, key in (("TFLite Micro `MicroInterpreter::Invoke` (float)", "tflm"),
                           ("C float32 `tinylstm_predict`, -O2", "c_float32_o2"),
                           (f"C float32 `tinylstm_predict`, {cgf}", "c_float32_fast"),
                           ("C int8 `tinylstm_predict`, -O2", "c_int8_o2"),
                           (f"C int8 `tinylstm_predict`, {cgf}", "c_int8_fast")):
            lines.append(f"| {label} | {ins[key]:,.0f} | {t / ins[key]:.1f}× |")
    lines += ["", unit_note,
              f"TFLM / LiteRT outputs vs the float golden model: max {timing['tflm_maxdiff_std']:.2g} / "
              f"{timing['litert_maxdiff_std']:.2g} standardised units (same model; state reset before every row).",
              "Call overhead: 'invoke() only' rows still include one Python-to-C++ call per row (timed around "
              "invoke alone); the full-call rows include the whole Python sequence per row, like the ctypes rows (one "
              "ctypes call each); the C-loop rows call tinylstm_predict back to back in C with no overhead.",
              f"Cortex-M4 instructions: QEMU mps2-an386 `-singlestep -d exec,nochain` traces of "
              f"firmware/cortex-m4/count_main.c running {COUNT_RUNS + 1} and 1 inferences; the difference / "
              f"{COUNT_RUNS}: every executed instruction (whole program: memcpy, memset, libgcc helpers included; "
              "start-up and exit cancel), and those inside the engine's own functions (arm-none-eabi-nm -S).",
              "State struct: sizeof(tinylstm_state) (all working memory of one inference; tinylstm_predict keeps it "
              "on the stack). Stack measured: firmware/cortex-m4/test_main.c -DTINYLSTM_STACK_PAINT paints 8 KiB "
              "below the stack pointer, runs one tinylstm_predict and finds the deepest overwritten word (state "
              "struct included); -fstack-usage chain: entry frames + the deepest kernel frame.",
              "Flash: `arm-none-eabi-size` of the engine object (tinylstm_float.c / tinylstm_int8.c with its data) "
              "at -Os (Cortex-M4F hard float); image growth: "
              "firmware/cortex-m4/size_main.c with vs without the engine (no printf, no semihosting)."]
    lines += ["", "### ESP32-family cores", "", cores.table(model, getattr(args, "data", None))]
    return "\n".join(lines)
