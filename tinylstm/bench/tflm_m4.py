"""Bench section ``tflm-m4``: the firmware's TFLM engine on a 32-bit MCU (Cortex-M4F, QEMU mps2-an386).

Builds TensorFlow Lite Micro from the sources of the runtime the ESP32 firmware pins (``tflm_esp32``, reference
kernels; point ``TINYLSTM_TFLM_SRC`` at its ``src`` directory), links ``firmware/esp32/src/engine_tflm.cpp`` with the
header's ``model.h`` and the harness in ``tests/tflm_m4/``, runs the self-check vectors under QEMU, and finds the
smallest arena with which the interpreter allocates *and* reproduces every vector, by bisection (one QEMU run per
probe). This is the 32-bit counterpart of the host (64-bit) arena in the TFLite section.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
from pathlib import Path

from . import register

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "tests" / "tflm_m4"
CXX = "arm-none-eabi-g++"
CPU = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
LIB_FLAGS = [*CPU, "-Os", "-std=c++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics",
             "-ffunction-sections", "-fdata-sections", "-fno-unwind-tables", "-w"]
QEMU = ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none"]


def build_lib(src: Path, work: Path, jobs: int = 2) -> Path:
    """TFLM (without the signal library and test helpers) as a static library for Cortex-M4F; cached in ``work``."""
    lib = work / "libtflm.a"
    if lib.exists():
        return lib
    files = sorted(str(p.relative_to(src)) for p in (src / "tensorflow").rglob("*")
                   if p.suffix in (".cpp", ".cc") and not re.search(r"test_helper|mock_micro_graph|fake_micro", p.name))
    makefile = work / "Makefile"
    objs = [f"obj/{f}.o" for f in files]
    makefile.write_text(
        "OBJ := " + " ".join(objs) + "\n"
        f"libtflm.a: $(OBJ)\n\tarm-none-eabi-ar rcs $@ $^\n"
        f"obj/%.o: {src}/%\n\t@mkdir -p $(dir $@)\n\t@{CXX} {' '.join(LIB_FLAGS)} -I{src} -c $< -o $@\n")
    subprocess.run(["make", "-s", "-j", str(jobs), "-C", str(work)], check=True)
    return lib


def build_app(src: Path, lib: Path, header_dir: Path, out: Path, sources: tuple[Path, ...] = ()) -> Path:
    """Link the firmware's engine_tflm.cpp + model.h with the harness (default) or the given main sources."""
    startup = out.with_name("startup.o")
    subprocess.run(["arm-none-eabi-gcc", *CPU, "-Os", "-Wall", "-c", str(HARNESS / "startup.c"), "-o", str(startup)],
                   check=True, capture_output=True, text=True)
    cmd = [CXX, *CPU, "-Os", "-std=c++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics",
           "-ffunction-sections", "-fdata-sections", "-DTINYLSTM_ENGINE_TFLM", "-Wall", "-Wextra",
           "-I", str(header_dir), "-I", str(ROOT / "firmware/esp32/src"), "-isystem", str(src),
           *(str(p) for p in (sources or (HARNESS / "harness.cpp",))),
           str(ROOT / "firmware/esp32/src/engine_tflm.cpp"),
           str(startup),
           "-T", str(HARNESS / "link.ld"), "-nostartfiles", "--specs=rdimon.specs", "-Wl,--gc-sections",
           str(lib), "-lm", "-o", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"Cortex-M4 link failed:\n{r.stderr[-2000:]}")
    return out


def run(elf: Path, arena: int | None = None, timeout: float = 60) -> tuple[int, str]:
    args = f"app {arena}" if arena else "app"
    try:
        r = subprocess.run([*QEMU, "-semihosting-config", f"enable=on,target=native,arg={args.replace(' ', ',arg=')}",
                            "-kernel", str(elf)], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, "timeout"
    return r.returncode, r.stdout + r.stderr


def min_arena(elf: Path, hi: int = 65536) -> int:
    rc, out = run(elf, hi)
    if rc != 0:
        raise RuntimeError(f"TFLM on Cortex-M4 fails even with {hi} bytes: {out[-300:]}")
    lo = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if run(elf, mid)[0] == 0:
            hi = mid
        else:
            lo = mid
    return hi


def instructions_per_inference(elf: Path, n: int = 10) -> int:
    """Executed instructions per engine_predict() (QEMU -singlestep exec trace, N inferences minus none)."""
    counts = []
    for k in (0, n):
        trace = elf.with_name(f"trace{k}.log")
        subprocess.run([*QEMU, "-semihosting-config", f"enable=on,target=native,arg=app,arg=bench,arg={k}",
                        "-kernel", str(elf), "-singlestep", "-d", "exec,nochain", "-D", str(trace)],
                       check=True, capture_output=True, timeout=600)
        with trace.open("rb") as f:
            counts.append(sum(1 for line in f if line.startswith(b"Trace")))
        trace.unlink()
    return round((counts[1] - counts[0]) / n)


@register("tflm-m4", "firmware TFLM engine on Cortex-M4F (QEMU): self-check, 32-bit arena by bisection, "
                     "instructions per inference, code size (needs TINYLSTM_TFLM_SRC=<tflm_esp32>/src)")
def bench_tflm_m4(model_dir: Path, args: argparse.Namespace) -> str:
    from ..bundle import Bundle
    from ..export.header import render_header
    from ..export.tflite import build

    src = os.environ.get("TINYLSTM_TFLM_SRC")
    missing = [t for t in (CXX, "qemu-system-arm", "make", "arm-none-eabi-size") if shutil.which(t) is None]
    if not src or missing:
        why = "set TINYLSTM_TFLM_SRC to the src/ directory of tflm_esp32 (the commit platformio.ini pins)" \
            if not src else "missing tools " + ", ".join(missing)
        return f"Skipped: {why}."
    src = Path(src).resolve()
    work = ROOT / "build" / "tflm-m4"
    work.mkdir(parents=True, exist_ok=True)
    lib = build_lib(src, work)
    bundle = Bundle.load(model_dir)
    b = build(model_dir, args.data)
    rows, details = [], []
    for variant in ("int8", "float"):
        vdir = work / variant
        vdir.mkdir(exist_ok=True)
        (vdir / "model.h").write_text(render_header(bundle, b, variant, 5, Path(model_dir), args.data))
        elf = build_app(src, lib, vdir, vdir / "app.elf")
        rc, out = run(elf)
        vectors = [line for line in out.splitlines() if line.startswith("vector")]
        verdict = "PASS" if rc == 0 and "self-check PASS" in out else "FAIL"
        size = subprocess.run(["arm-none-eabi-size", str(elf)], capture_output=True, text=True).stdout
        text, data, bss = (int(v) for v in size.splitlines()[-1].split()[:3])
        arena = min_arena(elf)
        used = re.search(r"arena_used_bytes (\d+)", run(elf, arena)[1])
        info = b.summary["variants"][variant]
        rows.append(f"| {variant} | {verdict} ({len(vectors)} vectors) | **{arena:,}** | "
                    f"{int(used.group(1)) if used else 0:,} | {info['tflm_arena_min_host']:,} | "
                    f"{info['tflm_arena_header']:,} | {instructions_per_inference(elf):,} | "
                    f"{text:,} / {data:,} / {bss:,} |")
        details += [f"    {variant}: {v}" for v in vectors]
    return "\n".join([
        "model.h (both variants) with `firmware/esp32/src/engine_tflm.cpp` on TFLM built from the tflm_esp32 sources "
        "(reference kernels, `-Os`), Cortex-M4F in QEMU mps2-an386:", "",
        "| variant | self-check | smallest arena, 32-bit (bisection, every vector reproduced) | arena_used_bytes() "
        "there | host 64-bit minimum | TF_ARENA_SIZE in model.h | instructions / inference (engine_predict, "
        "incl. reset + scaling) | app .text / .data / .bss (incl. TFLM, newlib, 64 KB probe arena) |",
        "|---|---|---|---|---|---|---|---|", *rows, "", *details,
    ])
