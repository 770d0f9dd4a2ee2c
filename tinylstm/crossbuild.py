"""Cross builds of the generated C engine for the ESP32 family's cores that install here, and their runs in QEMU.

* **ESP32-C3 (RV32IMC, no FPU)**: ``riscv64-unknown-elf-gcc -march=rv32imc -mabi=ilp32`` (soft float for the
  float engine; GCC picks picolibc's and libgcc's rv32im multilib, a subset of RV32IMC), run in
  ``qemu-system-riscv32 -M virt -icount shift=0``: retired instructions per ``tinylstm_predict`` from
  ``minstret`` (exact, every call the engine makes counted, libgcc's soft-float helpers included).
  Flash: the engine object's own text (code + const weights) apart from the libgcc helpers it pulls in (a real
  C3 takes those from its ROM), which a linked image's map file lists one by one.
* **The firmware app on that core**: ``firmware/esp32/src/app.cpp`` + ``engine_c.cpp`` + the C engine +
  ``firmware/esp32-c3/app_main.cpp`` (a 16550 UART shim instead of Arduino's ``Serial``) in
  ``qemu-system-riscv32 -M virt -serial pty``: :class:`QemuBoard` gives the pseudo-terminal that
  ``tinylstm monitor --port`` opens as it would a board's port.
* **Xtensa LX106 (ESP8266)**: ``xtensa-lx106-elf-gcc`` with the ESP8266 Arduino core's code-generation flags;
  text per engine. Both engines also run in ``qemu-system-xtensa -M sim -cpu lx106 -semihosting``
  (``firmware/xtensa-lx106``: own start-up, linker script, ``simcall`` console/exit, and ``lx106_rt.c``: the
  soft-float and 64-bit helpers Debian's lx106 libgcc leaves out, ``__addsf3``, ``__subsf3``, ``__mulsf3``,
  ``__floatsisf``, ``__adddf3``, ``__subdf3``, ``__muldf3``, ``__extendsfdf2``, ``__truncdfsf2``, ``__muldi3``,
  which an ESP8266 has in its ROM). Retired instructions per ``tinylstm_predict``
  from CCOUNT under ``-icount shift=10``: QEMU advances CCOUNT by 2^10 ns x 40 MHz = 40.96 per instruction, so
  the count is CCOUNT / 40.96 rounded (exact: the readings' rounding is at most 2 cycles), with a loop of known
  length in the same program checking the factor.

Everything is compiled into a caller-given (usually temporary) directory; nothing is written into the checkout.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError
from .export import _cbuild as cb

ROOT = cb.ROOT
C3_DIR = ROOT / "firmware" / "esp32-c3"
APP_SRC = ROOT / "firmware" / "esp32" / "src"

RV_CC, RV_CXX, RV_SIZE = "riscv64-unknown-elf-gcc", "riscv64-unknown-elf-g++", "riscv64-unknown-elf-size"
RV_QEMU = "qemu-system-riscv32"
#: The ESP32-C3's ISA. Integer-only ABI: every float operation of the float engine is a libgcc call.
RV_ARCH = ["-march=rv32imc", "-mabi=ilp32"]
RV_COMMON = [*RV_ARCH, "--specs=picolibc.specs", "-ffunction-sections", "-fdata-sections", "-Wall", "-Wextra",
             "-Werror"]
#: qemu virt: RAM at 0x80000000 (code + constants), data after 2 MiB (picolibc.ld's memory symbols).
RV_LINK = ["-Wl,--gc-sections", "-Wl,--defsym=__flash=0x80000000", "-Wl,--defsym=__flash_size=0x200000",
           "-Wl,--defsym=__ram=0x80200000", "-Wl,--defsym=__ram_size=0x200000"]
RV_QEMU_TEST = ["-M", "virt", "-bios", "none", "-nographic", "-monitor", "none", "-serial", "none",
                "-semihosting-config", "enable=on,target=native", "-icount", "shift=0"]

XT_CC, XT_SIZE, XT_QEMU = "xtensa-lx106-elf-gcc", "xtensa-lx106-elf-size", "qemu-system-xtensa"
XT_DIR = ROOT / "firmware" / "xtensa-lx106"
#: picolibc for lx106 (headers, libc.a for memcpy/memset); its specs file is not on GCC's default search path.
XT_SPECS = "/usr/lib/xtensa-lx106-elf/picolibc.specs"
#: icount shift of the runs: 2^10 ns per instruction; QEMU's lx106 runs CCOUNT at 40 MHz -> 40.96 per instruction.
XT_ICOUNT_SHIFT = 10
#: passes of test_main.c's calibration loop (2 instructions each) and the 2 instructions framing it
XT_CAL_LOOPS = 10_000
XT_QEMU_TEST = ["-M", "sim", "-cpu", "lx106", "-semihosting", "-nographic", "-monitor", "none"]
#: QEMU's CCOUNT clock for the lx106 (kHz)
XT_CLOCK_KHZ = 40_000
#: Code generation of the ESP8266 Arduino core (platform espressif8266): calls reach across the address space,
#: literal pools inside .text (IRAM/flash-cached code cannot load literals from elsewhere).
XT_FLAGS = ["-mlongcalls", "-mtext-section-literals", "-ffunction-sections", "-fdata-sections"]

#: libgcc's soft-float (and wide-integer) helpers: what a real ESP32-C3 calls in its ROM.
_LIBGCC_MAP = re.compile(r"libgcc\.a\(([^)]+)\)")


def rv_tools() -> bool:
    return cb.tool(RV_CC) and cb.tool(RV_QEMU) and cb.tool(RV_SIZE)


def xt_tools() -> bool:
    return cb.tool(XT_CC) and cb.tool(XT_SIZE)


def xt_run_tools() -> bool:
    """The LX106 run needs the compiler, picolibc for lx106 and qemu-system-xtensa."""
    return xt_tools() and cb.tool(XT_QEMU) and Path(XT_SPECS).exists()


def _need(*files: Path) -> None:
    for f in files:
        if not f.exists():
            raise UserError(f"{f} missing: the ESP32-family builds run from a tinylstm checkout")


def _size(tool: str, path: Path) -> dict[str, int]:
    text, data, bss = (int(v) for v in cb._run([tool, str(path)]).splitlines()[1].split()[:3])
    return {"text": text, "data": data, "bss": bss}


# -------------------------------------------------------------------------------- ESP32-C3 (RV32IMC)
@dataclass
class CoreRun:
    y: np.ndarray             # float32 outputs (target units)
    q: np.ndarray | None      # int8 engine: the int32 network output
    instructions: np.ndarray  # retired instructions of each tinylstm_predict call


def rv_build_test(lib_dir: Path, out: Path, X: np.ndarray, opt: str = "-Os") -> Path:
    """``firmware/esp32-c3/test_main.c`` + the engine of ``lib_dir`` with the rows ``X`` compiled in."""
    _need(C3_DIR / "test_main.c", C3_DIR / "rv_csr.h")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.parent / "run_rows.h").write_text(cb.vectors_header(X))
    cmd = [RV_CC, *RV_COMMON, "--oslib=semihost", "--crt0=semihost", opt, "-std=c99", f"-I{lib_dir}",
           f"-I{out.parent}", f"-I{C3_DIR}", str(C3_DIR / "test_main.c"), str(cb.engine_source(lib_dir)),
           *RV_LINK, "-o", str(out)]
    if cb.needs_libm(lib_dir):
        cmd.append("-lm")
    cb._run(cmd)
    return out


def parse_core_output(text: str, n: int, done: str) -> CoreRun:
    """"<bits> <q|-> i=<instructions>" lines and a final ``done`` line -> :class:`CoreRun`."""
    if f"{done} {n}" not in text:
        raise UserError(f"the emulated program did not finish ({n} rows): {text[-800:]}")
    rows = [ln.split() for ln in text.splitlines() if re.match(r"^[0-9a-f]{8} \S+ i=\d+$", ln)]
    if len(rows) != n:
        raise UserError(f"the emulated program printed {len(rows)} results for {n} rows")
    y = np.array([int(r[0], 16) for r in rows], np.uint32).view(np.float32)
    q = None if rows[0][1] == "-" else np.array([int(r[1]) for r in rows], np.int64)
    return CoreRun(y, q, np.array([int(r[2][2:]) for r in rows], np.int64))


def rv_run_test(elf: Path, n: int, timeout: float = 600) -> CoreRun:
    proc = subprocess.run([RV_QEMU, *RV_QEMU_TEST, "-kernel", str(elf)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    out = proc.stdout + proc.stderr  # the semihosting console may land on either stream
    if proc.returncode != 0:
        raise UserError(f"{RV_QEMU} exited {proc.returncode}: {out[-800:]}")
    return parse_core_output(out, n, "TINYLSTM-RV DONE")


def rv_run(lib_dir: Path, X: np.ndarray, work: Path, opt: str = "-Os") -> CoreRun:
    return rv_run_test(rv_build_test(lib_dir, Path(work) / f"rv{opt}" / "test.elf", X, opt), len(X))


def map_contributions(map_file: Path, archive: str) -> dict[str, int]:
    """Bytes of output sections each member of ``archive`` (e.g. ``libgcc.a``) adds to a linked image.

    Reads the GNU ld map: ``<section> <address> <size> <path>/<archive>(<member>)`` (the section name may stand on
    the line before the address), for the allocated sections only (.text/.rodata/.srodata/.data/.sdata/.bss)."""
    sizes: dict[str, int] = {}
    pending = None
    in_memory_map = False
    for line in Path(map_file).read_text().splitlines():
        if line.startswith("Linker script and memory map"):
            in_memory_map = True
            continue
        if not in_memory_map:
            continue
        parts = line.split()
        if len(parts) == 1 and parts[0].startswith("."):
            pending = parts[0]
            continue
        if pending is not None and len(parts) == 3 and parts[0].startswith("0x"):
            parts = [pending, *parts]
        pending = None
        if len(parts) != 4 or not parts[1].startswith("0x") or not parts[2].startswith("0x"):
            continue
        section, size, origin = parts[0], int(parts[2], 16), parts[3]
        if not re.match(r"^\.(s?rodata|text|s?data|s?bss)\b", section) or f"{archive}(" not in origin:
            continue
        member = origin.rsplit("(", 1)[1].rstrip(")")
        sizes[member] = sizes.get(member, 0) + size
    return {k: v for k, v in sorted(sizes.items()) if v}


def rv_flash(lib_dir: Path, work: Path, opt: str = "-Os") -> dict:
    """Flash of the engine on RV32IMC: the engine object (code + const weights, what a product adds of its own)
    and, apart, the libgcc members and libc functions a program calling ``tinylstm_predict`` links because of it
    (``firmware/esp32-c3/size_main.c`` with vs without the engine, ``--gc-sections``, map file)."""
    _need(C3_DIR / "size_main.c")
    work = Path(work) / f"rvsize{opt}"
    work.mkdir(parents=True, exist_ok=True)
    obj = work / "engine.o"
    cb._run([RV_CC, *RV_COMMON, opt, "-std=c99", f"-I{lib_dir}", "-c", str(cb.engine_source(lib_dir)),
             "-o", str(obj)])
    images = {}
    for tag, extra in (("image", []), ("base", ["-DTINYLSTM_SIZE_BASELINE"])):
        elf = work / f"{tag}.elf"
        cb._run([RV_CC, *RV_COMMON, "--crt0=minimal", opt, "-std=c99", *extra, f"-I{lib_dir}",
                 str(C3_DIR / "size_main.c"), *([] if extra else [str(obj)]), *RV_LINK,
                 f"-Wl,-Map={work / (tag + '.map')}", "-o", str(elf)])
        images[tag] = {"size": _size(RV_SIZE, elf), "libgcc": map_contributions(work / f"{tag}.map", "libgcc.a"),
                       "libc": map_contributions(work / f"{tag}.map", "libc.a")}
    base_gcc, base_c = images["base"]["libgcc"], images["base"]["libc"]
    helpers = {k: v for k, v in images["image"]["libgcc"].items() if k not in base_gcc}
    libc = {k: v for k, v in images["image"]["libc"].items() if k not in base_c}
    return {"obj": _size(RV_SIZE, obj), "libgcc": helpers, "libc": libc,
            "image": images["image"]["size"], "base": images["base"]["size"]}


# ------------------------------------------------------------------------- the firmware app on RV32IMC
def rv_build_app(lib_dir: Path, out: Path, opt: str = "-Os") -> Path:
    """The firmware app (app.cpp + engine_c.cpp + the engine + its self-check vectors) with the 16550 shim."""
    lib_dir, out = Path(lib_dir), Path(out)
    _need(APP_SRC / "app.cpp", APP_SRC / "engine_c.cpp", C3_DIR / "app_main.cpp", C3_DIR / "uart16550.c")
    out.parent.mkdir(parents=True, exist_ok=True)
    flags = [*RV_COMMON, "--crt0=minimal", opt]
    objs = []
    for src in (cb.engine_source(lib_dir), lib_dir / "tinylstm_selfcheck.c", C3_DIR / "uart16550.c"):
        obj = out.parent / f"{src.stem}.o"
        cb._run([RV_CC, *flags, "-std=c99", f"-I{lib_dir}", f"-I{C3_DIR}", "-c", str(src), "-o", str(obj)])
        objs.append(str(obj))
    for src in (APP_SRC / "app.cpp", APP_SRC / "engine_c.cpp", C3_DIR / "app_main.cpp"):
        obj = out.parent / f"{src.stem}.cpp.o"
        cb._run([RV_CXX, *flags, "-std=c++11", "-pedantic", "-fno-exceptions", "-fno-rtti", "-DTINYLSTM_ENGINE_C",
                 f"-I{APP_SRC}", f"-I{C3_DIR}", f"-I{lib_dir}", "-c", str(src), "-o", str(obj)])
        objs.append(str(obj))
    # linked by gcc, not g++: there is no libstdc++ for this target (app_main.cpp defines what C++ needs)
    cb._run([RV_CC, *flags, *objs, *RV_LINK, "-o", str(out)])
    return out


class QemuBoard:
    """The app's ELF in ``qemu-system-riscv32 -M virt -serial pty``: ``.port`` is the pseudo-terminal of its
    16550 UART (QEMU 7.2 prints "char device redirected to /dev/pts/N (label serial0)" on its stdout; older
    versions on stderr: both are read). Use as a context manager."""

    PTY = re.compile(r"char device redirected to (\S+)")

    def __init__(self, elf: Path, timeout: float = 20):
        _need(Path(elf))
        self.proc = subprocess.Popen([RV_QEMU, "-M", "virt", "-bios", "none", "-display", "none", "-monitor",
                                      "none", "-serial", "pty", "-kernel", str(elf)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.port = None
        deadline = time.monotonic() + timeout
        seen = ""
        while self.port is None and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            seen += line
            if m := self.PTY.search(line):
                self.port = m.group(1)
        time.sleep(0.2)
        if self.port is None or self.proc.poll() is not None:
            self.close()
            raise UserError(f"{RV_QEMU} did not report its serial pty: {seen[-500:]}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self) -> "QemuBoard":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------------------------------------- Xtensa LX106
def xt_flash(lib_dir: Path, work: Path, opt: str = "-Os") -> dict[str, int]:
    """text/data/bss of the engine object for the ESP8266's LX106 (code + const weights in text), and ``rodata``:
    the bytes of its constant tables (the ESP8266 Arduino core keeps ``.rodata`` in DRAM, where byte and
    half-word loads are legal; tables moved to flash with PROGMEM could only be read 32 bits at a time)."""
    work = Path(work) / f"xt{opt}"
    work.mkdir(parents=True, exist_ok=True)
    obj = work / "engine.o"
    cb._run([XT_CC, *XT_FLAGS, opt, "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{lib_dir}", "-c",
             str(cb.engine_source(lib_dir)), "-o", str(obj)])
    sizes = _size(XT_SIZE, obj)
    sections = cb._run([XT_SIZE, "-A", str(obj)])
    sizes["rodata"] = sum(int(m.group(1)) for m in re.finditer(r"^\.rodata\S*\s+(\d+)", sections, re.M))
    return sizes


XT_SOURCES = ("startup.S", "xt_sim.c", "lx106_rt.c", "test_main.c")


def xt_build_test(lib_dir: Path, out: Path, X: np.ndarray, opt: str = "-Os") -> Path:
    """``firmware/xtensa-lx106/test_main.c`` + start-up + helpers + the engine of ``lib_dir``, rows ``X``
    compiled in, linked with ``firmware/xtensa-lx106/link.ld`` for ``qemu-system-xtensa -M sim -cpu lx106``."""
    _need(*(XT_DIR / f for f in (*XT_SOURCES, "link.ld", "xt_sim.h")))
    lib_dir, out = Path(lib_dir), Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.parent / "run_rows.h").write_text(cb.vectors_header(X))
    cb._run([XT_CC, f"--specs={XT_SPECS}", "-nostartfiles", "-T", str(XT_DIR / "link.ld"), *XT_FLAGS, opt,
             "-std=c99", "-Wall", "-Wextra", "-Werror", f"-DXT_CAL_LOOPS={XT_CAL_LOOPS}", f"-I{lib_dir}",
             f"-I{out.parent}", f"-I{XT_DIR}", *(str(XT_DIR / f) for f in XT_SOURCES), str(cb.engine_source(lib_dir)),
             "-Wl,--gc-sections", f"-Wl,-Map={out.with_suffix('.map')}", "-o", str(out),
             *(["-lm"] if cb.needs_libm(lib_dir) else [])])
    return out


def xt_ccount_per_insn(shift: int = XT_ICOUNT_SHIFT) -> float:
    """CCOUNT cycles per instruction under ``-icount shift=S``: 2^S ns x XT_CLOCK_KHZ (40.96 for S = 10)."""
    return 2**shift * XT_CLOCK_KHZ / 1e6


def xt_instructions(cycles: np.ndarray | int, shift: int = XT_ICOUNT_SHIFT) -> np.ndarray:
    """CCOUNT cycles under ``-icount shift=S`` -> retired instructions, rounded. Each CCOUNT reading is rounded
    down, so a difference is within 1 cycle of count x cycles-per-instruction, and test_main.c's per-call figure
    (a difference minus the measured cost of a read, another difference) within 2: with more than 4 cycles per
    instruction (S >= 7) the rounding is exact."""
    per = xt_ccount_per_insn(shift)
    c = np.asarray(cycles, np.float64)
    n = np.rint(c / per).astype(np.int64)
    if per <= 4 or np.any(np.abs(n * per - c) > 2.0):
        raise UserError(f"CCOUNT differences {cycles} are not whole instructions at {per} per instruction: "
                        "QEMU's lx106 clock is not what tinylstm/crossbuild.py assumes")
    return n


def xt_run_test(elf: Path, n: int, timeout: float = 600, shift: int = XT_ICOUNT_SHIFT) -> CoreRun:
    """Run a test ELF in ``qemu-system-xtensa -M sim -cpu lx106 -icount shift=S`` (S >= 7 for exact counts)."""
    proc = subprocess.run([XT_QEMU, *XT_QEMU_TEST, "-icount", f"shift={shift}", "-kernel", str(elf)],
                          capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise UserError(f"{XT_QEMU} exited {proc.returncode}: {out[-800:]}")
    m = re.search(r"^TINYLSTM-XT CAL (\d+)$", out, re.M)
    if not m:
        raise UserError(f"the emulated program printed no calibration line: {out[-800:]}")
    if xt_instructions(int(m.group(1)), shift) != 2 * XT_CAL_LOOPS + 2:
        raise UserError(f"the calibration loop counted {m.group(1)} CCOUNT cycles, not about "
                        f"{(2 * XT_CAL_LOOPS + 2) * xt_ccount_per_insn(shift):.0f}: CCOUNT is not instructions x "
                        f"{xt_ccount_per_insn(shift)}")
    run = parse_core_output(out.replace(" c=", " i="), n, "TINYLSTM-XT DONE")
    run.instructions = xt_instructions(run.instructions, shift)
    return run


def xt_run(lib_dir: Path, X: np.ndarray, work: Path, opt: str = "-Os") -> CoreRun:
    """The engine of ``lib_dir`` on the rows ``X`` in QEMU's LX106: outputs and instructions per inference."""
    return xt_run_test(xt_build_test(lib_dir, Path(work) / f"xt{opt}" / "test.elf", X, opt), len(X))
