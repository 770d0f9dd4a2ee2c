"""Build and run the generated C engine: on the host (gcc), and on an emulated Cortex-M4F (QEMU mps2-an386).

Used by the ``c-float``/``c-int8``/``cortex-m4`` backends, the ``cengine`` bench and the tests. Everything is
compiled in a caller-given (usually temporary) directory; nothing is written into the checkout.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from .. import export
from ..cgen import c_array, c_define, c_float
from ..errors import UserError
from ..modeldir import ModelDir
from .c import CSRC, COptions

ROOT = Path(__file__).resolve().parents[2]
M4_DIR = ROOT / "firmware" / "cortex-m4"
HOST_CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
M4_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]

ENGINE_SOURCES = ("tinylstm_float.c", "tinylstm_int8.c")


def _run(cmd: list[str], cwd: Path | None = None, timeout: float = 300, stdin: str | None = None) -> str:
    try:
        proc = subprocess.run(cmd, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as err:
        raise UserError(f"{cmd[0]} not found: install it (scripts/setup.sh --dev)") from err
    except subprocess.TimeoutExpired as err:
        raise UserError(f"{' '.join(cmd[:3])}...: no result within {timeout:.0f} s") from err
    if proc.returncode != 0:
        raise UserError(f"{' '.join(cmd)} failed with exit code {proc.returncode}: "
                        f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
    return proc.stdout


def export_library(model: ModelDir | str | Path, variant: str, out: Path, math: str = "poly") -> Path:
    """One variant of ``tinylstm export c`` for ``model``, published into ``out`` (flat files)."""
    export.write(export.get("c"), model, out, COptions(variant=variant, math=math))
    return Path(out)


def engine_source(lib_dir: Path) -> Path:
    """The engine source of an exported library (``tinylstm_float.c`` or ``tinylstm_int8.c``)."""
    found = [Path(lib_dir) / name for name in ENGINE_SOURCES if (Path(lib_dir) / name).exists()]
    if len(found) != 1:
        raise UserError(f"{lib_dir}: not one tinylstm C library (engine sources found: {[p.name for p in found]})")
    return found[0]


def needs_libm(lib_dir: Path) -> bool:
    return "TINYLSTM_MATH_LIBM" in (Path(lib_dir) / "tinylstm_model.h").read_text()


#: Host-only batch entry points (``tinylstm_predict_batch``) by engine source: they include that source.
BATCH_SOURCES = {"tinylstm_int8.c": "tinylstm_int8_batch.c"}


def build_host(lib_dir: Path, exe: Path, opt: str = "-O2", sanitize: bool = False,
               extra: list[str] | None = None, cc: str = "gcc", batch: bool = False) -> Path:
    """Compile the engine in ``lib_dir`` with the host test program (strict C99 warnings as errors).

    ``batch``: the program's ``--batch`` mode calls ``tinylstm_predict_batch`` of the engine's batch source
    (:data:`BATCH_SOURCES`; an engine without one keeps the per-window loop)."""
    lib_dir = Path(lib_dir)
    source = engine_source(lib_dir)
    flags: list[str] = []
    if batch and source.name in BATCH_SOURCES:
        source, flags = CSRC / BATCH_SOURCES[source.name], ["-DTINYLSTM_BATCH"]
    cmd = [cc, *HOST_CFLAGS, *opt.split(), *(SANITIZE if sanitize else []), *flags, *(extra or []),
           "-I", str(lib_dir), str(source), str(CSRC / "host_main.c"), "-o", str(exe)]
    if needs_libm(lib_dir):
        cmd.append("-lm")
    _run(cmd)
    return Path(exe)


def _rows_text(X: np.ndarray) -> str:
    X32 = np.asarray(X, dtype=np.float64).astype(np.float32)
    return "".join(",".join(f"{float(v):.9g}" for v in row) + "\n" for row in X32)


def parse_outputs(text: str, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Result lines "<bits>,<bits>... <q>,<q>...|- <value>" (host_main.c, firmware/cortex-m4/test_main.c) ->
    (float32 outputs, int32 outputs or None): (n,) for one output, (n, K) for K outputs."""
    lines = [l for l in text.splitlines() if re.match(r"^[0-9a-f]{8}[ ,]", l)]
    if len(lines) != n:
        raise UserError(f"C engine printed {len(lines)} results for {n} rows")
    bits = np.array([[int(v, 16) for v in l.split()[0].split(",")] for l in lines], dtype=np.uint32)
    y = bits.view(np.float32)
    qs = [l.split()[1] for l in lines]
    q = None if qs[0] == "-" else np.array([[int(v) for v in t.split(",")] for t in qs], dtype=np.int64)
    if y.shape[1] == 1:
        return y[:, 0], None if q is None else q[:, 0]
    return y, q


def parse_argmax(text: str) -> np.ndarray:
    """The ``a=<k>`` (tinylstm_argmax) field of every result line."""
    return np.array([int(m) for m in re.findall(r"^[0-9a-f]{8}[ ,].* a=(-?\d+)$", text, re.M)], np.int64)


def host_text(exe: Path, X: np.ndarray, timeout: float = 120) -> str:
    """The host program's raw output for whole windows (see :func:`parse_outputs`, :func:`parse_argmax`)."""
    return _run([str(exe)], stdin=_rows_text(X), timeout=timeout)


def m4_text(elf: Path, timeout: float = 600) -> str:
    out = _run(qemu_cmd(elf), timeout=timeout)
    if "TINYLSTM-M4 DONE" not in out:
        raise UserError(f"Cortex-M4 program did not finish: {out[-500:]}")
    return out


def run_host(exe: Path, X: np.ndarray, timeout: float = 120) -> tuple[np.ndarray, np.ndarray | None]:
    """Whole windows (n, W*F) through ``tinylstm_predict`` (int8: and ``tinylstm_predict_q``)."""
    out = _run([str(exe)], stdin=_rows_text(X), timeout=timeout)
    return parse_outputs(out, len(X))


def stream_text(X_steps: np.ndarray, reset_every: int | None) -> str:
    """Stream lines for host_main.c --stream (and the M4 stream program): one step (F values) a line, ``reset``
    before the first step and every ``reset_every`` steps (None: only at the start)."""
    lines = []
    for k, row in enumerate(np.asarray(X_steps, np.float64).astype(np.float32)):
        if k == 0 or (reset_every and k % reset_every == 0):
            lines.append("reset\n")
        lines.append(",".join(f"{float(v):.9g}" for v in row) + "\n")
    return "".join(lines)


def run_host_batch(exe: Path, X: np.ndarray, n_outputs: int = 1, request_rows: int | None = None,
                   timeout: float = 120) -> np.ndarray:
    """Whole windows (n, W*F) through the program's ``--batch`` mode, ``request_rows`` windows per request (default:
    all in one): float32 outputs (n,) or (n, K), NaN for a window with a non-finite input."""
    X32 = np.ascontiguousarray(np.asarray(X, np.float64), dtype=np.float32)
    step = request_rows or max(len(X32), 1)
    data = b"".join(np.uint32(len(part)).tobytes() + part.tobytes()
                    for part in (X32[k:k + step] for k in range(0, len(X32), step)))
    try:
        proc = subprocess.run([str(exe), "--batch"], input=data + np.uint32(0).tobytes(), capture_output=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise UserError(f"{exe} --batch: no result within {timeout:.0f} s") from err
    if proc.returncode != 0 or len(proc.stdout) != 4 * len(X32) * n_outputs:
        raise UserError(f"{exe} --batch: exit code {proc.returncode}, {len(proc.stdout)} bytes for {len(X32)} windows")
    y = np.frombuffer(proc.stdout, np.float32).reshape(len(X32), n_outputs)
    return y[:, 0] if n_outputs == 1 else y


def run_host_stream(exe: Path, X_steps: np.ndarray, reset_every: int | None = None,
                    timeout: float = 120) -> tuple[np.ndarray, np.ndarray | None]:
    """Time steps (m, F) through ``tinylstm_step`` (int8: and ``tinylstm_step_q``): the output after each step."""
    out = _run([str(exe), "--stream"], stdin=stream_text(X_steps, reset_every), timeout=timeout)
    return parse_outputs(out, len(X_steps))


def host_ns_per_inference(exe: Path, X: np.ndarray, iters: int) -> float:
    out = _run([str(exe)], stdin=_rows_text(X) + f"bench {iters}\n", timeout=600)
    return float(out.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ ESP32 app on the host
ESP32_DIR = ROOT / "firmware" / "esp32"


def build_host_app(lib_dir: Path, exe: Path, sanitize: bool = False) -> Path:
    """The ESP32 firmware's app (app.cpp + engine_c.cpp) with the C engine in ``lib_dir``, as a PC program that
    talks the serial protocol on stdin/stdout (strict warnings as errors)."""
    lib_dir, exe = Path(lib_dir), Path(exe)
    src = ESP32_DIR / "src"
    for f in (src / "app.cpp", src / "engine_c.cpp", ESP32_DIR / "host" / "host_main.cpp"):
        if not f.exists():
            raise UserError(f"{f} missing: the host firmware build runs from a tinylstm checkout")
    objs = []
    san = SANITIZE if sanitize else []
    for c in (engine_source(lib_dir), lib_dir / "tinylstm_selfcheck.c"):
        obj = exe.parent / (c.stem + ".o")
        _run(["gcc", *HOST_CFLAGS, "-O2", *san, "-I", str(lib_dir), "-c", str(c), "-o", str(obj)])
        objs.append(str(obj))
    _run(["g++", "-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", *san, "-DTINYLSTM_ENGINE_C",
          "-I", str(src), "-I", str(lib_dir), str(src / "app.cpp"), str(src / "engine_c.cpp"),
          str(ESP32_DIR / "host" / "host_main.cpp"), *objs, "-o", str(exe)])
    return exe


# ------------------------------------------------------------------------------------------ Cortex-M4F
def _m4_sources() -> list[Path]:
    files = [M4_DIR / "startup.c", M4_DIR / "link.ld"]
    for f in files:
        if not f.exists():
            raise UserError(f"{f} missing: the Cortex-M4 backend runs from a tinylstm checkout")
    return files


def vectors_header(X: np.ndarray, stream_resets: int | None = None) -> str:
    """``run_rows.h``: the rows compiled into a test program (after ``tinylstm_model.h``). ``stream_resets``: the
    rows are time steps (F values each) for the stream test, with a reset every that many steps (0: never)."""
    X32 = np.asarray(X, np.float64).astype(np.float32)
    extra = "" if stream_resets is None else c_define("RUN_STREAM_RESET_EVERY", int(stream_resets)) + "\n"
    return (c_define("RUN_NUM_ROWS", len(X32)) + "\n" + extra
            + c_array("float", "run_rows", X32, c_float, dims=list(X32.shape)))


def build_m4(lib_dir: Path, out: Path, program: str = "test", X: np.ndarray | None = None,
             opt: str = "-O2", extra: list[str] | None = None, stream_resets: int | None = None) -> Path:
    """Link the engine for the mps2-an386 (Cortex-M4F) with one of the programs of firmware/cortex-m4.

    ``program``: ``test`` (semihosting, prints one result line per row of ``X``), ``size`` (no printf, no
    semihosting: what a product links), ``count`` (like size, runs a fixed number of inferences then exits).
    """
    _m4_sources()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lib_dir = Path(lib_dir)
    inc = [f"-I{lib_dir}", f"-I{out.parent}"]
    if X is not None:
        (out.parent / "run_rows.h").write_text(vectors_header(X, stream_resets))
    common = ["arm-none-eabi-gcc", *M4_FLAGS, "-std=c99", "-Wall", "-Wextra", "-Werror", opt, "-ffunction-sections",
              "-fdata-sections", *(extra or []), *inc, str(M4_DIR / "startup.c"), str(engine_source(lib_dir))]
    ld = ["-T", str(M4_DIR / "link.ld"), "-nostartfiles", "-Wl,--gc-sections", "-o", str(out)]
    if stream_resets is not None:
        common.append("-DTINYLSTM_STREAM_TEST")
    if program == "test":
        cmd = [*common, str(M4_DIR / "test_main.c"), "--specs=rdimon.specs", *ld, "-lc", "-lrdimon"]
    elif program in ("size", "count"):
        cmd = [*common, str(M4_DIR / f"{program}_main.c"), "--specs=nano.specs", "--specs=nosys.specs", *ld,
               "-lc", "-lgcc"]
    else:
        raise ValueError(program)
    if needs_libm(lib_dir):
        cmd.insert(cmd.index("-o"), "-lm")
        if program != "test":
            cmd += ["-lm", "-lc", "-lgcc"]
    _run(cmd)
    return out


def qemu_cmd(elf: Path, trace: Path | None = None) -> list[str]:
    cmd = ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-semihosting", "-monitor", "none",
           "-serial", "none", "-kernel", str(elf)]
    if trace is not None:
        cmd += ["-singlestep", "-d", "exec,nochain", "-D", str(trace)]
    return cmd


def run_m4(elf: Path, n: int, timeout: float = 600) -> tuple[np.ndarray, np.ndarray | None]:
    out = _run(qemu_cmd(elf), timeout=timeout)
    if "TINYLSTM-M4 DONE" not in out:
        raise UserError(f"Cortex-M4 program did not finish: {out[-500:]}")
    return parse_outputs(out, n)


def elf_sizes(elf: Path) -> dict[str, int]:
    """text/data/bss of an ELF (arm-none-eabi-size, Berkeley format)."""
    out = _run(["arm-none-eabi-size", str(elf)])
    text, data, bss = (int(v) for v in out.splitlines()[1].split()[:3])
    return {"text": text, "data": data, "bss": bss}


def symbol_ranges(elf: Path, names: set[str] | None = None,
                  source_syms: set[str] | None = None) -> list[tuple[int, int, str]]:
    """(start, end, name) of FUNC symbols (``arm-none-eabi-nm -S``); Thumb bit cleared."""
    out = _run(["arm-none-eabi-nm", "-S", "--defined-only", str(elf)])
    ranges = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tT":
            start, size, name = int(parts[0], 16) & ~1, int(parts[1], 16), parts[3]
            if names is None or name in names:
                ranges.append((start, start + size, name))
    return ranges


def count_traced(trace: Path, ranges: list[tuple[int, int, str]]) -> int:
    """Executed instructions inside ``ranges`` from a ``-d exec,nochain -singlestep`` QEMU log."""
    starts = np.array(sorted(r[0] for r in ranges), dtype=np.int64)
    ends = np.array([e for s, e, _ in sorted(ranges)], dtype=np.int64)
    pcs = []
    pat = re.compile(rb"Trace [^\[]*\[[0-9a-f]+/([0-9a-f]+)/")
    with open(trace, "rb") as fh:
        for line in fh:
            m = pat.search(line)
            if m:
                pcs.append(int(m.group(1), 16))
    if not pcs:
        return 0
    pc = np.array(pcs, dtype=np.int64)
    idx = np.searchsorted(starts, pc, side="right") - 1
    ok = (idx >= 0) & (pc < ends[np.clip(idx, 0, None)])
    return int(ok.sum())


def count_trace_lines(trace: Path) -> int:
    """Every executed instruction of a ``-d exec,nochain -singlestep`` QEMU log (one ``Trace`` line each)."""
    n = 0
    with open(trace, "rb") as fh:
        for line in fh:
            if line.startswith(b"Trace "):
                n += 1
    return n


def m4_program_instructions(lib_dir: Path, work: Path, X: np.ndarray, opt: str = "-Os",
                            runs: tuple[int, int] = (1, 5), functions: set[str] | None = None) -> dict[str, float]:
    """Cortex-M4 instructions per inference from QEMU traces of ``firmware/cortex-m4/count_main.c`` running
    ``runs[1]`` and ``runs[0]`` inferences (rows of ``X`` in turn), the difference divided by the difference of
    the run counts: ``whole`` counts every executed instruction (start-up and exit cancel; whatever the engine
    calls - ``memcpy``, ``memset``, libgcc helpers - counts), ``functions`` only those inside the named functions
    (default: the engine's own, those of its object file). Deterministic."""
    lib_dir = Path(lib_dir)
    whole, inside = [], []
    for n in runs:
        d = Path(work) / f"whole_{lib_dir.name}{opt}_{n}"
        elf = build_m4(lib_dir, d / "count.elf", "count", X[:max(runs)], opt=opt, extra=[f"-DTINYLSTM_COUNT_RUNS={n}"])
        if functions is None:
            obj = d / "engine.o"
            _run(["arm-none-eabi-gcc", *M4_FLAGS, "-std=c99", opt, "-ffunction-sections", "-fdata-sections",
                  f"-I{lib_dir}", "-c", str(engine_source(lib_dir)), "-o", str(obj)])
            functions = {p.split()[-1] for p in _run(["arm-none-eabi-nm", "--defined-only", str(obj)]).splitlines()
                         if p.split()[1] in "tT"}
        trace = d / "trace.log"
        _run(qemu_cmd(elf, trace), timeout=600)
        whole.append(count_trace_lines(trace))
        inside.append(count_traced(trace, symbol_ranges(elf, functions)))
        trace.unlink()
    k = runs[1] - runs[0]
    return {"whole": (whole[1] - whole[0]) / k, "functions": (inside[1] - inside[0]) / k}


def m4_state_bytes(lib_dir: Path, work: Path) -> int:
    """sizeof(tinylstm_state) for the Cortex-M4 (an array of that size in an object file, read with nm -S)."""
    d = Path(work) / f"state_{Path(lib_dir).name}"
    d.mkdir(parents=True, exist_ok=True)
    src = d / "state.c"
    src.write_text('#include "tinylstm_model.h"\nchar tinylstm_state_size[sizeof(tinylstm_state)];\n')
    obj = d / "state.o"
    _run(["arm-none-eabi-gcc", *M4_FLAGS, "-std=c99", f"-I{lib_dir}", "-c", str(src), "-o", str(obj)])
    for line in _run(["arm-none-eabi-nm", "-S", str(obj)]).splitlines():
        if line.endswith(" tinylstm_state_size"):
            return int(line.split()[1], 16)
    raise UserError(f"{obj}: no tinylstm_state_size symbol")


def m4_stack_bytes(lib_dir: Path, work: Path, X: np.ndarray, opt: str = "-Os") -> int:
    """Deepest stack use of one ``tinylstm_predict`` (state struct included) on the Cortex-M4, measured in QEMU by
    painting: ``firmware/cortex-m4/test_main.c`` fills the free stack with a pattern, runs one inference and
    prints how many bytes below its own stack pointer were overwritten."""
    elf = build_m4(lib_dir, Path(work) / f"stack_{Path(lib_dir).name}{opt}" / "test.elf", "test", X[:1], opt=opt,
                   extra=["-DTINYLSTM_STACK_PAINT"])
    out = _run(qemu_cmd(elf), timeout=600)
    m = re.search(r"^TINYLSTM-M4 STACK (\d+)$", out, re.M)
    if not m:
        raise UserError(f"stack painting printed no result: {out[-300:]}")
    return int(m.group(1))


def tool(name: str) -> bool:
    return shutil.which(name) is not None


def float_bits(y: np.ndarray) -> np.ndarray:
    return np.asarray(y, np.float32).view(np.uint32)


