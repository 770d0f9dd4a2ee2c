"""tinylstm.sidework: jobs by name, errors raised at the caller, and a side process that outlives neither its
parent nor the parent's output pipes (a SIGKILLed ``tinylstm run`` once hung its caller on the inherited stderr)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import ROOT

from tinylstm.sidework import WATCH_S, SideWork


def test_jobs_by_name_large_arguments_and_errors():
    side = SideWork()
    try:
        side.submit("sum", np.sum, np.ones(2_000_000))  # 16 MB of arguments: through a file, not the pipe
        side.submit("max", np.max, np.arange(5))
        assert side.has("sum") and side.has("max")
        assert side.result("max") == 4 and side.result("sum") == 2_000_000.0
        side.submit("bad", int, "x")
        with pytest.raises(ValueError, match="invalid literal"):
            side.result("bad")
    finally:
        side.close()
        side.close()  # twice is fine
    assert not side._tmp.exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0]
    return state != "Z"


def test_a_killed_parent_neither_hangs_its_caller_nor_leaves_the_side_process_or_its_files(tmp_path):
    pid_file = tmp_path / "side.pid"
    parent = textwrap.dedent(f"""
        import os, signal, time
        from tinylstm.sidework import SideWork
        side = SideWork()
        side.submit("nap", time.sleep, 60)
        open({str(pid_file)!r}, "w").write(f"{{side._proc.pid}} {{side._tmp}}")
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", parent], env=env, capture_output=True, text=True, timeout=50)
    assert proc.returncode == -9
    assert time.monotonic() - start < 40  # the 60 s job did not keep stdout/stderr open
    pid, tmp = pid_file.read_text().split(" ", 1)
    side_pid = int(pid)
    assert os.path.isdir(tmp)
    deadline = time.monotonic() + 20 * WATCH_S + 5
    while _alive(side_pid) and time.monotonic() < deadline:
        time.sleep(WATCH_S)
    assert not _alive(side_pid)
    assert not os.path.exists(tmp)  # its job files and log: removed by the side process itself
