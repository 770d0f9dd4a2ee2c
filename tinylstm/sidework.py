"""The parts of ``tinylstm run`` that need no TensorFlow, run in a side process beside the rest of the run.

``tinylstm run`` is one Python process that trains with single-threaded TensorFlow kernels (determinism), so
while it trains the second core of a small machine has little to do (the TFLite worker's TensorFlow import,
:mod:`tinylstm.tflite_worker`). The work that depends only on the data and its split, the baselines
(:func:`tinylstm.evaluate.baselines`: the 500-tree random forest) and the exploratory figures
(:func:`tinylstm.pipeline.eda_figures`: the pair plot), is started here before training and its results are
picked up by evaluate; the figures of the trained model's predictions are drawn here too, beside the eSELL
fine-tune, and collected before the run publishes. Same functions, same arguments: the same numbers and the same
PNG bytes as when evaluate computes them itself (``tinylstm evaluate`` still does).

The side process is a fresh interpreter (``python -m tinylstm.sidework``; forking a process that has imported
TensorFlow can hang) and a direct child, so its CPU time counts in the run's ``cpu_total`` once
:meth:`SideWork.close` has reaped it. Jobs go to it as pickle files named on its stdin, results come back as
pickles on its stdout; its stderr goes to a log file of its own, so it never holds the caller's stdout or stderr
open (a caller that reads the run's output to EOF is not kept waiting by it). It ends when its stdin reaches EOF
(the caller closed it, or died) and, mid-job, within :data:`WATCH_S` seconds of its parent's death (it watches
``os.getppid()``, as :mod:`tinylstm.tflite_worker` does). Its job files live in a temporary directory that
:meth:`SideWork.close` removes; when the caller dies instead (SIGKILL), the side process removes it before it ends.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

#: Seconds between the side process's checks that its parent is still alive.
WATCH_S = 0.2


class SideWork:
    """Named jobs ``fn(*args)`` (``fn`` a module-level function, arguments picklable) in one side process,
    submitted any time and collected by name; they run one after the other in submission order. An exception
    raised by a job is raised again by :meth:`result`."""

    def __init__(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="tinylstm-side-"))
        self._log = open(self._tmp / "side.log", "wb")
        root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self._proc = subprocess.Popen([sys.executable, "-m", __name__, "--serve", str(os.getpid()), str(self._tmp)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=env)
        self._order: list[str] = []   # submitted, results not yet read, in submission order
        self._done: dict[str, tuple[bool, Any]] = {}

    def submit(self, name: str, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)`` as job ``name``; returns at once (the arguments go through a file, so a large data
        set never blocks on the pipe while the side process is busy)."""
        assert self._proc.stdin is not None
        job = self._tmp / f"job-{len(self._order) + len(self._done)}-{os.getpid()}-{time.monotonic_ns()}.pkl"
        with open(job, "wb") as f:
            pickle.dump((fn, args), f, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump((name, str(job)), self._proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self._proc.stdin.flush()
        self._order.append(name)

    def has(self, name: str) -> bool:
        return name in self._order or name in self._done

    def result(self, name: str) -> Any:
        """Wait for job ``name`` and return its value (once: the job is forgotten)."""
        assert self._proc.stdout is not None
        while name not in self._done:
            try:
                got, ok, value = pickle.load(self._proc.stdout)
            except EOFError:
                raise RuntimeError(f"side process ended before job {name!r}:\n{self._tail()}") from None
            self._order.remove(got)
            self._done[got] = (ok, value)
        ok, value = self._done.pop(name)
        if not ok:
            raise value
        return value

    def close(self) -> None:
        """Stop the side process (jobs not collected are dropped) and remove its files (safe to call twice)."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        for f in (self._proc.stdin, self._proc.stdout, self._log):
            if f is not None and not f.closed:
                f.close()
        self._order.clear()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _tail(self) -> str:
        self._log.flush()
        return "\n".join((self._tmp / "side.log").read_text(errors="replace").strip().splitlines()[-5:])


# ------------------------------------------------------------------------------------------------ in the side process
def _watch(parent: int, tmp: Path) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_S)
    shutil.rmtree(tmp, ignore_errors=True)  # the parent died without close(): nobody else will
    os._exit(0)


def _serve(parent: int, tmp: Path) -> int:
    """Read (name, job file) pickles from stdin until EOF, run each file's (fn, args); write (name, ok, value or
    exception) pickles to the original stdout (the jobs' own prints go to stderr, the log). On EOF, and when the
    parent dies, remove ``tmp`` (the job files and the log)."""
    threading.Thread(target=_watch, args=(parent, tmp), daemon=True).start()
    results = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    jobs = sys.stdin.buffer
    while True:
        try:
            name, path = pickle.load(jobs)
        except EOFError:
            shutil.rmtree(tmp, ignore_errors=True)
            return 0
        try:
            with open(path, "rb") as f:
                fn, args = pickle.load(f)
            out = (name, True, fn(*args))
        except Exception as err:  # handed back to the caller, raised there
            out = (name, False, err)
        pickle.dump(out, results, protocol=pickle.HIGHEST_PROTOCOL)
        results.flush()


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--serve":
    sys.exit(_serve(int(sys.argv[2]), Path(sys.argv[3])))
