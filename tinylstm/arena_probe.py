"""The smallest TFLM tensor arena for a flatbuffer, found by exact bisection in one process.

Run as ``python -m tinylstm.arena_probe MODEL.tflite [--hi BYTES]`` (prints the minimum in bytes), with
``--check ARENA`` (one run in a fresh process, exit 0 when it works) or with ``--allocations ARENA`` (prints TFLM's
RecordingMicroAllocator breakdown). TFLM can segfault instead of failing
with too small an arena, so every probe runs in a forked child of this process (which has already imported
TFLite Micro once): a crash ends only that probe. A probe passes when the interpreter allocates and invokes twice.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np


def _probe(runtime, buf: bytes, arena: int) -> None:
    """Allocate and invoke twice (exit status 0 on success); runs in the forked child."""
    it = runtime.Interpreter.from_bytes(buf, arena_size=arena)
    d = it.get_input_details(0)
    x = np.zeros(d["shape"], dtype=d["dtype"])
    for _ in range(2):
        it.reset()
        it.set_input(x, 0)
        it.invoke()


def runs_with(runtime, buf: bytes, arena: int) -> bool:
    """Whether TFLM runs ``buf`` with ``arena`` bytes (in a forked child: a crash is a "no")."""
    pid = os.fork()
    if pid == 0:  # child
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            _probe(runtime, buf, arena)
            code = 0
        except BaseException:  # noqa: BLE001 - any failure is a failed probe
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def min_arena(runtime, buf: bytes, hi: int = 1 << 16) -> int:
    """Bisection between 0 (fails) and ``hi`` (must pass): the smallest passing arena size in bytes."""
    if not runs_with(runtime, buf, hi):
        raise RuntimeError(f"TFLM does not run the model even with a {hi}-byte arena")
    lo = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if runs_with(runtime, buf, mid):
            hi = mid
        else:
            lo = mid
    return hi


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tinylstm.arena_probe")
    p.add_argument("model", nargs="+", help="flatbuffer file(s)")
    p.add_argument("--hi", type=int, default=1 << 16, help="an arena size known to be enough (bytes)")
    p.add_argument("--check", type=int, default=None, metavar="ARENA",
                   help="instead: run once with this arena in this very process (no fork); exit 0 if it works")
    p.add_argument("--allocations", type=int, default=None, metavar="ARENA",
                   help="instead: print TFLM's allocation breakdown after one invoke with this arena")
    args = p.parse_args(argv)
    from tflite_micro.python.tflite_micro import runtime

    for path in args.model:
        buf = open(path, "rb").read()
        if args.check is not None:
            _probe(runtime, buf, args.check)
            print("ok")
        elif args.allocations is not None:
            it = runtime.Interpreter.from_bytes(buf, arena_size=args.allocations)
            _probe(runtime, buf, args.allocations)
            it.print_allocations()
        else:
            print(min_arena(runtime, buf, args.hi), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
