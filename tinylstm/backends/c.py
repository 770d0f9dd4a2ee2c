"""C engine backends: the generated C99 library compiled on the host (gcc), or run on an emulated Cortex-M4F.

The library is what ``tinylstm export c`` generates for the model directory (one variant, flat files).
``c-float`` / ``c-int8`` compile the engine with the host C compiler (strict C99) into a temporary directory and
run it on the rows (``tinylstm predict``: a session of ``--batch`` engine processes, the int8 engine through its
host batch entry point ``tinylstm_predict_batch``, docs/cengine.md); ``cortex-m4`` cross-compiles it with
``arm-none-eabi-gcc`` (-Os, hard float) and runs it under ``qemu-system-arm -M mps2-an386`` with the rows compiled
in (slow, exact).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import functools
import itertools
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..export import _cbuild as cb
from ..modeldir import ModelDir
from . import register


def _add_c_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--c-math", choices=("poly", "libm"), default="poly",
                   help="c-float/cortex-m4: sigmoid/tanh from the own exp polynomial (default) or libm")
    p.add_argument("--m4-variant", choices=("float32", "int8"), default="int8",
                   help="cortex-m4: engine variant to run in QEMU (default: %(default)s)")
    p.add_argument("--cc", default="gcc", help="c-float/c-int8: host C compiler (default: %(default)s)")
    p.add_argument("--c-opt", default=None, help="c-float/c-int8 in tinylstm predict: host optimisation flags of the "
                   f"batch engine (default: {' '.join(BATCH_OPT)}, without -march=native where the compiler refuses "
                   "it; the same bits as the -O2 engine, checked in the tests)")
    p.add_argument("--c-workers", type=int, default=None,
                   help="c-float/c-int8: engine processes for tinylstm predict (default: the CPU count, at most 4)")


def _host(model_dir: Path, X_raw: np.ndarray, args: argparse.Namespace, variant: str) -> np.ndarray:
    model = ModelDir.load(model_dir)
    with tempfile.TemporaryDirectory(prefix="tinylstm-c-") as tmp:
        lib = cb.export_library(model, variant, Path(tmp) / "lib", getattr(args, "c_math", "poly"))
        exe = cb.build_host(lib, Path(tmp) / "engine", cc=getattr(args, "cc", "gcc"))
        y, _ = cb.run_host(exe, X_raw)
    return y.astype(np.float64)


class _Engine:
    """One engine process in ``--batch`` mode (see host_main.c): a request is a row count + float32 rows, the
    answer that many float32 outputs."""

    def __init__(self, exe: Path, n_outputs: int = 1):
        self.k = n_outputs
        self.proc = subprocess.Popen([str(exe), "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def send(self, X: np.ndarray) -> int:
        rows = np.ascontiguousarray(X, dtype=np.float32)  # what the text protocol's "%.9g" + strtof gave
        self.proc.stdin.write(np.uint32(len(rows)).tobytes() + rows.tobytes())
        self.proc.stdin.flush()
        return len(rows)

    def receive(self, n: int) -> np.ndarray:
        data = self.proc.stdout.read(4 * n * self.k)
        if len(data) != 4 * n * self.k:
            raise UserError(f"C engine ended (exit status {self.proc.poll()}) after {len(data) // (4 * self.k)} of "
                            f"{n} results")
        y = np.frombuffer(data, dtype=np.float32).astype(np.float64).reshape(n, self.k)
        return y[:, 0] if self.k == 1 else y

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


#: Batches read (at most) while the engine compiles.
READ_AHEAD = 16

#: Default flags of the batch engine: the float engine's fused multiply-adds become one instruction with the host's
#: FMA (-march=native), the branch-free activations and the int8 lane loops vectorise (-fno-trapping-math); neither
#: changes a bit (ISO C mode keeps FMA contraction off; integer arithmetic is exact).
BATCH_OPT = ("-O2", "-march=native", "-fno-trapping-math")


@functools.lru_cache(maxsize=None)
def _takes_native(cc: str) -> bool:
    """Whether ``cc`` accepts -march=native (GCC and Clang do on x86-64 and AArch64; some cross targets not)."""
    try:
        return subprocess.run([cc, "-march=native", "-x", "c", "-E", "-o", os.devnull, os.devnull],
                              capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def batch_opt(args: argparse.Namespace) -> str:
    """The host compiler flags of the predict batch engine: ``--c-opt``, else :data:`BATCH_OPT`."""
    given = getattr(args, "c_opt", None)
    if given:
        return given
    cc = getattr(args, "cc", "gcc")
    return " ".join(f for f in BATCH_OPT if f != "-march=native" or _takes_native(cc))


def _workers(args: argparse.Namespace) -> int:
    n = getattr(args, "c_workers", None) or min(os.cpu_count() or 1, 4)
    if n < 1:
        raise UserError(f"--c-workers must be >= 1, got {n}")
    return n


def _session(variant: str):
    @contextlib.contextmanager
    def session(model_dir: Path, args: argparse.Namespace):
        """Build the engine once (with its batch entry point where it has one: the int8 engine's
        ``tinylstm_predict_batch``) - in a thread, while the caller reads its first batch; batches go round-robin
        to worker processes, several in flight, so the engines compute while the caller reads and writes CSV."""
        model = ModelDir.load(model_dir)
        n_workers = _workers(args)
        with tempfile.TemporaryDirectory(prefix="tinylstm-c-") as tmp, \
                concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tinylstm-cc") as pool:

            def build() -> Path:
                lib = cb.export_library(model, variant, Path(tmp) / "lib", getattr(args, "c_math", "poly"))
                return cb.build_host(lib, Path(tmp) / "engine", opt=batch_opt(args), cc=getattr(args, "cc", "gcc"),
                                     batch=True)

            built = pool.submit(build)
            engines: list[_Engine] = []
            try:
                def run(batches):
                    flight: collections.deque[tuple[_Engine, int]] = collections.deque()
                    batches = iter(batches)
                    if not engines:  # read ahead while the compiler runs, then wait for it (its error, if any)
                        ahead = []
                        for X in batches:
                            ahead.append(X)
                            if built.done() or len(ahead) >= READ_AHEAD:
                                break
                        exe = built.result()
                        engines.extend(_Engine(exe, model.bundle.n_outputs) for _ in range(n_workers))
                        batches = itertools.chain(ahead, batches)
                    for k, X in enumerate(batches):
                        if len(flight) == len(engines):
                            yield flight[0][0].receive(flight.popleft()[1])
                        engine = engines[k % len(engines)]
                        flight.append((engine, engine.send(X)))
                    while flight:
                        engine, n = flight.popleft()
                        yield engine.receive(n)

                yield run
            finally:
                for engine in engines:
                    engine.close()
                built.cancel()
    return session


@register("c-float", "the generated float32 C engine, compiled with the host C compiler", add_arguments=_add_c_args,
          session=_session("float32"))
def predict_c_float(model_dir, X_raw, args):
    return _host(model_dir, X_raw, args, "float32")


@register("c-int8", "the generated int8 C engine, compiled with the host C compiler", session=_session("int8"))
def predict_c_int8(model_dir, X_raw, args):
    return _host(model_dir, X_raw, args, "int8")


@register("cortex-m4", "the generated C engine on an emulated Cortex-M4F (arm-none-eabi-gcc -Os + qemu mps2-an386)")
def predict_cortex_m4(model_dir, X_raw, args):
    model = ModelDir.load(model_dir)
    variant = getattr(args, "m4_variant", "int8")
    k = model.bundle.n_outputs
    out = np.empty((len(X_raw), k)) if k > 1 else np.empty(len(X_raw))
    with tempfile.TemporaryDirectory(prefix="tinylstm-m4-") as tmp:
        lib = cb.export_library(model, variant, Path(tmp) / "lib", getattr(args, "c_math", "poly"))
        chunk = 2000  # rows compiled into one image (flash holds far more; keeps compile times short)
        for start in range(0, len(X_raw), chunk):
            rows = X_raw[start:start + chunk]
            elf = cb.build_m4(lib, Path(tmp) / f"run{start}" / "test.elf", "test", rows, opt="-Os")
            y, _ = cb.run_m4(elf, len(rows))
            out[start:start + len(rows)] = y
    return out
