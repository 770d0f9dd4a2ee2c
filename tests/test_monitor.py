"""The ESP32 firmware app (app.cpp + engine_c.cpp, host-compiled) on a pseudo-terminal, driven for real by
`tinylstm monitor`; malformed requests to the app; a device sending malformed replies or going silent."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import tty

import numpy as np
import pytest
from conftest import require_tool, run_cli

from tinylstm.export import _cbuild as cb
from tinylstm.export.c import write_library

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def apps(trained, tmp_path_factory):
    require_tool("gcc", "g++")
    root = tmp_path_factory.mktemp("app")
    out = {}
    for variant in ("float32", "int8"):
        lib = root / f"lib_{variant}"
        write_library(trained.bundle, lib, variant)
        out[variant] = cb.build_host_app(lib, root / f"app_{variant}", sanitize=(variant == "int8"))
    return out


class Device:
    """A program attached to the master side of a pty; the slave path is the 'serial port'."""

    def __init__(self, argv):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo, no line editing: a plain byte pipe like a UART
        self.path = os.ttyname(self.slave)
        self.proc = subprocess.Popen(argv, stdin=self.master, stdout=self.master, stderr=subprocess.PIPE)

    def close(self):
        self.proc.kill()
        self.proc.wait()
        os.close(self.master)
        os.close(self.slave)


class FakeDevice:
    """A Python 'board' on a pty: answers 'info' with a banner, then requests with ``answer(line)`` (None: silence)."""

    def __init__(self, answer, selfcheck="selfcheck 0 PASS got=1 expected=1 tol=0.0001\nselfcheck done pass=1 fail=0"):
        self.selfcheck = selfcheck
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.answer = answer
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        import select

        buf = b""
        while not self.stop:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                buf += os.read(self.master, 256)
            except OSError:
                return
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode()
                if text == "info":
                    reply = "tinylstm ready engine=c-float inputs=3 protocol=1 max_line=96"
                elif text == "selfcheck":
                    reply = self.selfcheck
                else:
                    reply = self.answer(text)
                if reply is not None:
                    os.write(self.master, (reply + "\n").encode())

    def close(self):
        self.stop = True
        self.thread.join()
        os.close(self.master)
        os.close(self.slave)


def _csv(tmp_path, X):
    path = tmp_path / "rows.csv"
    rows = "".join(f"{a},{b},{c},0\n" for a, b, c in X)
    path.write_text("ENGINE SIZE,CYLINDERS,COEMISSIONS,FUEL CONSUMPTION\n" + rows)
    return path


@pytest.mark.parametrize("variant,engine,reference", [("float32", "c-float", "float golden"),
                                                      ("int8", "c-int8", "integer golden")])
def test_monitor_round_trip_against_host_firmware(apps, trained, tmp_path, variant, engine, reference):
    csv = _csv(tmp_path, trained.X_test[:60])
    dev = Device([str(apps[variant])])
    try:
        res = run_cli("monitor", "--port", dev.path, "--data", str(csv), "--model", str(trained.model_dir),
                      "--timeout", "10", "--tolerance", "1e-4", timeout=180)
    finally:
        dev.close()
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"engine {engine}" in res.stdout and "self-check pass=8 fail=0" in res.stdout
    assert "rows sent and answered: 60" in res.stdout
    m = re.search(rf"max \|delta\| vs {reference} model: (\S+)", res.stdout)
    assert m, res.stdout
    # float: the C float engine vs the float64 golden model; int8: the same integer arithmetic, printed with %.9g
    assert float(m.group(1)) <= (1e-4 if variant == "float32" else 1e-5)
    assert re.search(r"device time per inference: mean \d+\.\d us", res.stdout)


def test_app_boot_self_check_and_malformed_requests(apps, trained):
    dev = Device([str(apps["int8"])])  # the ASan/UBSan build: a crash or overflow would kill it
    try:
        fh = os.fdopen(os.dup(dev.slave), "r+b", buffering=0)
        got = b""
        deadline = time.monotonic() + 10
        while b"selfcheck done" not in got and time.monotonic() < deadline:
            got += os.read(dev.slave, 4096)
        boot = got.decode().splitlines()
        assert boot[0].startswith("tinylstm ready engine=c-int8 inputs=3 protocol=2 max_line=96 outputs=1"), boot[0]
        assert sum(" PASS " in l for l in boot) == 8 and "selfcheck done pass=8 fail=0" in boot[-1]
        requests = ["", "   ", "1,2", "1,2,3,4", "a,b,c", "1,,3", "nan,4,200", "inf,4,200", "0x10,4,200",
                    "1" * 500, "2.0,4,1e999", "2.0;4;196", "\x00\xff,4,196", "2.0,4,196", "2.0 4  196", " 2.0 , 4 196 ",
                    "1,2,", "batch"]
        for r in requests:
            fh.write(r.encode("latin-1") + b"\n")
        got = b""
        deadline = time.monotonic() + 10
        while got.count(b"\n") < len(requests) and time.monotonic() < deadline:
            got += os.read(dev.slave, 4096)
        replies = got.decode("latin-1").splitlines()
        assert len(replies) == len(requests), replies
        assert replies[0] == replies[1] == "err empty line"
        assert replies[2] == "err expected 3 values, got 2" and replies[3] == "err expected 3 values, got 4"
        assert replies[4] == "err value 1 is not a number" and replies[5] == "err value 2 is not a number"
        assert all(r.startswith("err value 1 is not a number") for r in replies[6:9])
        assert replies[9] == "err line too long (max 96 characters)"
        assert replies[10] == "err value 3 is not a number"
        assert replies[11].startswith("err ") and replies[12].startswith("err ")
        from tinylstm import intgolden

        m = re.fullmatch(r"ok (\S+) us=(\d+)", replies[13])
        assert m, replies[13]
        want = intgolden.predict(intgolden.quantize(trained.bundle), np.array([[2.0, 4, 196]]))[0]
        assert float(m.group(1)) == pytest.approx(float(want), abs=1e-5)
        value = replies[13].split(" us=")[0]
        assert replies[14].split(" us=")[0] == replies[15].split(" us=")[0] == value  # spaces separate values too
        assert replies[16] == "err value 3 is not a number" and replies[17] == "ok batch"
        assert dev.proc.poll() is None  # still alive
        fh.close()
    finally:
        dev.close()
    assert b"runtime error" not in dev.proc.stderr.read()


def test_monitor_malformed_reply_is_a_clear_error(trained, tmp_path):
    csv = _csv(tmp_path, trained.X_test[:5])
    for answer, message in [(lambda line: "ok twelve us=5", "malformed reply"),
                            (lambda line: "garbage", "malformed reply"),
                            (lambda line: "err value 1 is not a number", "rejected row 1")]:
        dev = FakeDevice(answer)
        try:
            res = run_cli("monitor", "--port", dev.path, "--data", str(csv), "--model", str(trained.model_dir),
                          "--timeout", "3", timeout=60)
        finally:
            dev.close()
        assert res.returncode == 2, res.stdout + res.stderr
        assert message in res.stderr and res.stderr.startswith("tinylstm: error:")
        assert "Traceback" not in res.stderr


def test_monitor_device_that_stops_answering_times_out(trained, tmp_path):
    csv = _csv(tmp_path, trained.X_test[:5])
    count = {"n": 0}

    def answer(line):
        count["n"] += 1
        return "ok 10.0 us=3" if count["n"] <= 2 else None  # two answers, then silence

    dev = FakeDevice(answer)
    t0 = time.monotonic()
    try:
        res = run_cli("monitor", "--port", dev.path, "--data", str(csv), "--model", str(trained.model_dir),
                      "--timeout", "2", timeout=60)
    finally:
        dev.close()
    assert res.returncode == 2
    assert "no answer within 2 s to row 3" in res.stderr
    assert time.monotonic() - t0 < 40


def test_monitor_no_device_and_bad_port(trained, tmp_path):
    csv = _csv(tmp_path, trained.X_test[:2])
    silent_master, silent_slave = os.openpty()
    tty.setraw(silent_slave)
    try:
        res = run_cli("monitor", "--port", os.ttyname(silent_slave), "--data", str(csv), "--model",
                      str(trained.model_dir), "--timeout", "2", timeout=60)
    finally:
        os.close(silent_master)
        os.close(silent_slave)
    assert res.returncode == 2 and "no answer within 2 s to 'info'" in res.stderr
    res = run_cli("monitor", "--port", str(tmp_path / "nope"), "--data", str(csv), "--model", str(trained.model_dir))
    assert res.returncode == 2 and "cannot open serial port" in res.stderr


def test_monitor_reports_failed_device_self_check(trained, tmp_path):
    from tinylstm.reference import predict

    X = trained.X_test[:3]
    csv = _csv(tmp_path, X)
    answers = iter(f"ok {v:.9g} us=7" for v in predict(trained.bundle, X.astype(np.float32).astype(np.float64)))
    dev = FakeDevice(lambda line: next(answers),
                     selfcheck="selfcheck 0 FAIL got=3 expected=1 tol=0.0001\nselfcheck done pass=0 fail=1")
    try:
        res = run_cli("monitor", "--port", dev.path, "--data", str(csv), "--model", str(trained.model_dir),
                      "--timeout", "3", timeout=60)
    finally:
        dev.close()
    assert res.returncode == 1, res.stdout + res.stderr
    assert "rows sent and answered: 3" in res.stdout and "self-check failed (pass=0 fail=1)" in res.stdout


def test_arduino_main_compiles_against_a_stub_core(apps, trained, tmp_path):
    """main.cpp (the PlatformIO entry point) compiles with the app and the C engine against a minimal Arduino API."""
    stub = tmp_path / "Arduino.h"
    stub.write_text("#pragma once\nstruct SerialStub { void begin(unsigned long) {} explicit operator bool() const "
                    "{ return true; } int available() { return 0; } int read() { return -1; } "
                    "void print(const char *) {} };\nextern SerialStub Serial;\nunsigned long micros();\n"
                    "unsigned long millis();\nvoid delay(unsigned long);\n")
    lib = tmp_path / "lib"
    write_library(trained.bundle, lib, "int8")
    src = cb.ESP32_DIR / "src"
    for f in ("main.cpp", "app.cpp", "engine_c.cpp"):
        subprocess.run(["g++", "-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-DTINYLSTM_ENGINE_C",
                        "-I", str(tmp_path), "-I", str(src), "-I", str(lib), "-c", str(src / f),
                        "-o", str(tmp_path / (f + ".o"))], check=True)
