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

    def __init__(self, answer, selfcheck="selfcheck 0 PASS got=1 expected=1 tol=0.0001\nselfcheck done pass=1 fail=0",
                 banner="tinylstm ready engine=c-float inputs=3 protocol=1 max_line=96"):
        self.selfcheck = selfcheck
        self.banner = banner
        self.received = []  # every line but 'info' and 'selfcheck', in order
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
                    reply = self.banner
                elif text == "selfcheck":
                    reply = self.selfcheck
                else:
                    self.received.append(text)
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
        deadline = time.monotonic() + 60  # a cap, not a timing check: os.read blocks until the app answers
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
        deadline = time.monotonic() + 60  # a cap, not a timing check: os.read blocks until the app answers
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
    stubs = cb.ROOT / "tests" / "esp32_stubs"  # Arduino.h: a compile-only stand-in
    lib = tmp_path / "lib"
    write_library(trained.bundle, lib, "int8")
    src = cb.ESP32_DIR / "src"
    for f in ("main.cpp", "app.cpp", "engine_c.cpp"):
        subprocess.run(["g++", "-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-DTINYLSTM_ENGINE_C",
                        "-I", str(stubs), "-I", str(src), "-I", str(lib), "-c", str(src / f),
                        "-o", str(tmp_path / (f + ".o"))], check=True)


# ------------------------------------------------------------------------ protocol 2: windows, classes, stream
MODELS = cb.ROOT / "models"


def test_monitor_accepts_a_protocol_1_device(trained, tmp_path):
    """A board flashed before serial protocol 2 (banner without outputs=, one float per reply) still checks out."""
    from tinylstm.reference import predict

    X = trained.X_test[:6]
    csv = _csv(tmp_path, X)
    answers = iter(f"ok {v:.9g} us=7" for v in predict(trained.bundle, X.astype(np.float32).astype(np.float64)))
    dev = FakeDevice(lambda line: next(answers))  # banner: protocol=1 max_line=96
    try:
        res = run_cli("monitor", "--port", dev.path, "--data", str(csv), "--model", str(trained.model_dir),
                      "--timeout", "3", "--tolerance", "1e-6", timeout=60)
    finally:
        dev.close()
    assert res.returncode == 0, res.stdout + res.stderr
    assert "engine c-float, protocol 1" in res.stdout and "rows sent and answered: 6" in res.stdout
    assert dev.received == [",".join(f"{v:.9g}" for v in row) for row in X.astype(np.float32).astype(np.float64)]


@pytest.fixture(scope="module")
def window_csvs(tmp_path_factory):
    """data/digits.csv and data/forecast.csv as `tinylstm data example` writes them (the models' training data)."""
    from tinylstm import examples

    root = tmp_path_factory.mktemp("window_data")
    return {name: examples.write(name, root / f"{name}.csv") for name in ("digits", "forecast")}


def _bundle(name):
    from tinylstm.bundle import Bundle

    return Bundle.load(MODELS / name)


def _prefix_prediction(bundle, rows):
    """The numpy reference on the t rows given (a window of t steps): the network after t steps from a reset."""
    import dataclasses

    from tinylstm.reference import predict

    short = dataclasses.replace(bundle, meta={**bundle.meta, "window": len(rows)})
    return predict(short, np.asarray(rows, np.float64).reshape(1, -1))[0]


def _banner(bundle, engine="c-float", stream=True):
    b = (f"tinylstm ready engine={engine} inputs={bundle.n_inputs} protocol=2 max_line=1024 "
         f"outputs={bundle.n_outputs}")
    if bundle.is_classifier:
        b += " classes=" + ",".join(bundle.classes)
    return b + (f" step_inputs={bundle.values_per_step}" if stream else "")


def _ok(bundle, y, label=None):
    if not bundle.is_classifier:
        return f"ok {float(y):.9g} us=4"
    label = label or bundle.classes[int(np.argmax(y))]
    return f"ok {label} p=" + ",".join(f"{float(v):.9g}" for v in y) + " us=4"


class StreamBoard:
    """The answers of a protocol-2 device in stream mode, computed step by step from the rows since the last reset
    (independently of the monitor: the numpy reference on each prefix as a window of its own length)."""

    def __init__(self, bundle, fail_at=None):
        self.bundle, self.rows, self.mode, self.n, self.fail_at = bundle, [], "batch", 0, fail_at

    def __call__(self, line):
        if line in ("stream", "reset", "batch"):
            self.mode = "batch" if line == "batch" else "stream"
            self.rows = []
            return f"ok {line}"
        self.n += 1
        if self.n == self.fail_at:
            return "err value 2 is not a number"
        if self.mode == "stream":
            self.rows.append([float(np.float32(v)) for v in line.split(",")])  # a device parses float32
            return _ok(self.bundle, _prefix_prediction(self.bundle, self.rows))
        from tinylstm.reference import predict

        return _ok(self.bundle, predict(self.bundle, np.array([[float(np.float32(v)) for v in line.split(",")]]))[0])


def _monitor(dev, model, csv, *extra, timeout="5"):
    return run_cli("monitor", "--port", dev.path, "--data", str(csv), "--model", str(MODELS / model),
                   "--timeout", timeout, *extra, timeout=240)


def test_monitor_stream_forecast_against_a_stream_device(window_csvs):
    bundle = _bundle("forecast")
    board = StreamBoard(bundle)
    dev = FakeDevice(board, banner=_banner(bundle))
    try:
        res = _monitor(dev, "forecast", window_csvs["forecast"], "--stream", "--limit", "30", "--tolerance", "1e-6")
    finally:
        dev.close()
    assert res.returncode == 0, res.stdout + res.stderr
    assert "rows streamed and answered: 30 in 1 sequence(s) (0 reset(s)); 19 after a full window of 12 steps, " \
           "1 exactly at 12" in res.stdout
    m = re.search(r"max \|delta\| vs float golden model on the steps since the last reset: (\S+)", res.stdout)
    assert m and float(m.group(1)) <= 1e-6, res.stdout  # the replies carry 9 digits
    assert re.search(r"MAE vs the CSV's load \(19 steps\)", res.stdout)
    assert "past 12 steps the state carries on" in res.stdout
    assert dev.received[0] == "stream" and dev.received[-1] == "batch" and len(dev.received) == 32
    assert all(len(r.split(",")) == 3 for r in dev.received[1:-1])  # F raw values per line


def test_monitor_stream_classifier_resets_at_every_group(window_csvs):
    bundle = _bundle("digits")
    dev = FakeDevice(StreamBoard(bundle), banner=_banner(bundle))
    try:
        res = _monitor(dev, "digits", window_csvs["digits"], "--stream", "--limit", "24", "--tolerance", "1e-6")
    finally:
        dev.close()
    assert res.returncode == 0, res.stdout + res.stderr
    assert "rows streamed and answered: 24 in 3 sequence(s) (2 reset(s)); 3 after a full window of 8 steps" \
        in res.stdout
    assert [k for k, r in enumerate(dev.received) if r == "reset"] == [9, 18]  # after images 0 and 1 (8 rows each)
    assert "class agrees with float golden model on the steps since the last reset: 24/24 steps" in res.stdout
    # the first three images of the CSV (8 rows each: image,row,p0..p7,label), classified independently
    lines = [line.split(",") for line in window_csvs["digits"].read_text().splitlines()[1:25]]
    images = [np.array([[float(v) for v in row[2:10]] for row in lines[8 * i:8 * i + 8]]) for i in range(3)]
    labels = [int(lines[8 * i][-1]) for i in range(3)]
    correct = sum(int(np.argmax(_prefix_prediction(bundle, img))) == lab for img, lab in zip(images, labels))
    assert f"accuracy on the CSV's labels (3 steps): device {100 * correct / 3:.2f} %" in res.stdout


def test_monitor_batch_classifier_flags_a_wrong_class(window_csvs):
    from tinylstm.reference import predict

    bundle = _bundle("digits")
    sent = {"n": 0}

    def answer(line):
        sent["n"] += 1
        y = predict(bundle, np.array([[float(np.float32(v)) for v in line.split(",")]]))[0]
        wrong = bundle.classes[(int(np.argmax(y)) + 1) % 10] if sent["n"] == 4 else None
        return _ok(bundle, y, wrong)

    for extra, code in ((["--tolerance", "1e-6"], 1), ([], 0)):
        sent["n"] = 0
        dev = FakeDevice(answer, banner=_banner(bundle, stream=False))
        try:
            res = _monitor(dev, "digits", window_csvs["digits"], "--limit", "10", *extra)
        finally:
            dev.close()
        assert res.returncode == code, res.stdout + res.stderr
        assert "windows sent and answered: 10" in res.stdout
        assert "class agrees with float golden model: 9/10 windows" in res.stdout
        assert all(len(r.split(",")) == 64 for r in dev.received)  # W x F values, step-major
        assert ("monitor: FAIL: 1 class(es) differ from the reference (window 4" in res.stdout) == (code == 1)


@pytest.mark.parametrize("model,banner,extra,message", [
    ("digits", "tinylstm ready engine=c-float inputs=64 protocol=1 max_line=96", [],
     "protocol 1 (batch regression only): a classifier needs the protocol 2 firmware"),
    ("forecast", "tinylstm ready engine=c-float inputs=36 protocol=1 max_line=96", ["--stream"],
     "protocol 1 (batch regression only): stream mode needs"),
    ("forecast", "tinylstm ready engine=tflm-int8 inputs=36 protocol=2 max_line=1024 outputs=1", ["--stream"],
     "has no stream mode"),
    ("digits", "tinylstm ready engine=c-float inputs=64 protocol=2 max_line=1024 outputs=10 classes=a,b", [],
     "device classes a,b differ"),
    ("forecast", "tinylstm ready engine=c-float inputs=36 protocol=3 max_line=96", [], "speaks protocol 3"),
    ("forecast", "tinylstm ready engine=c-float inputs=36 protocol=2 max_line=40 outputs=1", [],
     "the device accepts at most 40 per line"),
])
def test_monitor_refuses_a_device_that_cannot_take_the_model(window_csvs, model, banner, extra, message):
    dev = FakeDevice(lambda line: "ok 1 us=1", banner=banner)
    try:
        res = _monitor(dev, model, window_csvs[model], *extra)
    finally:
        dev.close()
    assert res.returncode == 2, res.stdout + res.stderr
    assert message in res.stderr and res.stderr.startswith("tinylstm: error:") and "Traceback" not in res.stderr


def test_monitor_stream_err_reply_is_a_clear_error(window_csvs):
    bundle = _bundle("forecast")
    dev = FakeDevice(StreamBoard(bundle, fail_at=5), banner=_banner(bundle))
    try:
        res = _monitor(dev, "forecast", window_csvs["forecast"], "--stream", "--limit", "10")
    finally:
        dev.close()
    assert res.returncode == 2 and "rejected line 6 of forecast.csv (step 5" in res.stderr, res.stderr


def test_tflm_engine_compiles_against_the_committed_model_header(tmp_path):
    """engine_tflm.cpp + app.cpp + main.cpp against compile-only stand-ins of tflm_esp32.h and Arduino.h."""
    require_tool("g++")
    stubs = cb.ROOT / "tests" / "esp32_stubs"
    src = cb.ESP32_DIR / "src"
    for f in ("engine_tflm.cpp", "app.cpp", "main.cpp"):
        subprocess.run(["g++", "-std=gnu++17", "-Wall", "-Wextra", "-Werror", "-pedantic", "-DTINYLSTM_ENGINE_TFLM",
                        "-I", str(stubs), "-I", str(src), "-I", str(cb.ESP32_DIR / "include"), "-c", str(src / f),
                        "-o", str(tmp_path / (f + ".o"))], check=True)


# ------------------------------------------------------------- protocol 2 against the host-compiled firmware
@pytest.fixture(scope="module")
def window_apps(tmp_path_factory):
    """The app + C engine for models/forecast and models/digits: {(model, variant): executable}."""
    require_tool("gcc", "g++")
    root = tmp_path_factory.mktemp("window_app")
    out = {}
    for model, variant in (("forecast", "float32"), ("digits", "int8"), ("digits", "float32")):
        lib = root / f"lib_{model}_{variant}"
        write_library(_bundle(model), lib, variant)
        out[model, variant] = cb.build_host_app(lib, root / f"app_{model}_{variant}", sanitize=(model == "forecast"))
    return out


def _talk(dev, requests, n_lines, timeout=20):
    fh = os.fdopen(os.dup(dev.slave), "r+b", buffering=0)
    try:
        for r in requests:
            fh.write(r.encode("latin-1") + b"\n")
        got = b""
        deadline = time.monotonic() + timeout
        while got.count(b"\n") < n_lines and time.monotonic() < deadline:
            got += os.read(dev.slave, 65536)
    finally:
        fh.close()
    return got.decode("latin-1").splitlines()


def _value(reply):
    m = re.fullmatch(r"ok (\S+) us=\d+", reply)
    assert m, reply
    return float(m.group(1))


def test_app_stream_mode_on_a_window_model(window_apps, window_csvs):
    """models/forecast (W 12, F 3) on the ASan/UBSan build: banner, stream replies vs the numpy reference on every
    prefix, reset, batch, bad lines in both modes."""
    bundle = _bundle("forecast")
    rows = [line.split(",")[1:4] for line in window_csvs["forecast"].read_text().splitlines()[1:15]]
    dev = Device([str(window_apps["forecast", "float32"])])
    try:
        requests = (["stream"] + [",".join(r) for r in rows[:5]] + ["selfcheck"] + [",".join(r) for r in rows[5:12]]
                    + ["1,2", "1,2,3,4", "nan,1,2", "1,inf,2", ",".join(",".join(r) for r in rows[:12]),
                       " ".join(rows[12]), "reset", ",".join(rows[0]), "batch",
                       ",".join(",".join(r) for r in rows[:12]), "1,2,3"])
        # boot: banner + 8 self-check lines + done; one reply per request, 9 lines for the 'selfcheck'
        lines = _talk(dev, requests, 10 + len(requests) - 1 + 9)
    finally:
        dev.close()
    assert b"runtime error" not in dev.proc.stderr.read()
    assert lines[0] == "tinylstm ready engine=c-float inputs=36 protocol=2 max_line=576 outputs=1 step_inputs=3"
    assert lines[9] == "selfcheck done pass=8 fail=0"
    replies = [ln for ln in lines[10:] if not ln.startswith("selfcheck ")]
    assert sum(ln.startswith("selfcheck done") for ln in lines) == 2  # the one asked for mid-stream
    assert replies[0] == "ok stream"
    steps = [_value(r) for r in replies[1:13]]
    X = np.array(rows, np.float32).astype(np.float64)
    want = [_prefix_prediction(bundle, X[:t]) for t in range(1, 13)]
    assert np.max(np.abs(np.array(steps) - want)) <= 1e-4  # the float engine's stated tolerance (target units)
    assert replies[13:18] == ["err expected 3 values, got 2", "err expected 3 values, got 4",
                              "err value 1 is not a number", "err value 2 is not a number",
                              "err expected 3 values, got 36"]
    # step 13 carries the state on (rejected lines took no step): the reference on all 13 rows
    assert _value(replies[18]) == pytest.approx(float(_prefix_prediction(bundle, X[:13])), abs=1e-4)
    assert replies[19] == "ok reset" and _value(replies[20]) == steps[0]  # a reset starts the sequence again
    assert replies[21] == "ok batch"
    assert _value(replies[22]) == pytest.approx(steps[11], rel=1e-6, abs=0)  # reset + W steps = the batch call
    assert replies[23] == "err expected 36 values, got 3"


@pytest.mark.parametrize("model,variant,limit,tol,reference", [
    ("forecast", "float32", "150", "1e-4", "float"), ("digits", "int8", "80", "1e-5", "integer")])
def test_monitor_stream_against_host_firmware(window_apps, window_csvs, model, variant, limit, tol, reference):
    dev = Device([str(window_apps[model, variant])])
    try:
        res = _monitor(dev, model, window_csvs[model], "--stream", "--limit", limit, "--tolerance", tol, timeout="10")
    finally:
        dev.close()
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"rows streamed and answered: {limit} in " in res.stdout and "self-check pass=8 fail=0" in res.stdout
    if model == "digits":
        assert "in 10 sequence(s) (9 reset(s)); 10 after a full window of 8 steps" in res.stdout
        assert f"class agrees with {reference} golden model on the steps since the last reset: 80/80" in res.stdout
        assert re.search(r"accuracy on the CSV's labels \(10 steps\): device \d+\.\d+ %", res.stdout)
    else:
        m = re.search(rf"max \|delta\| vs {reference} golden model on the steps since the last reset: (\S+)",
                      res.stdout)
        assert m and float(m.group(1)) <= float(tol), res.stdout
    assert re.search(r"device time per step: mean \d+\.\d us", res.stdout)


def test_monitor_batch_classifier_against_host_firmware(window_apps, window_csvs):
    dev = Device([str(window_apps["digits", "float32"])])
    try:
        res = _monitor(dev, "digits", window_csvs["digits"], "--limit", "40", "--tolerance", "1e-4", timeout="10")
    finally:
        dev.close()
    assert res.returncode == 0, res.stdout + res.stderr
    assert "windows sent and answered: 40" in res.stdout
    assert "class agrees with float golden model: 40/40 windows" in res.stdout
    m = re.search(r"max \|delta p\| vs float golden model: (\S+)", res.stdout)
    assert m and float(m.group(1)) <= 1e-4, res.stdout
    assert re.search(r"accuracy on the CSV's labels \(40 windows\): device \d+\.\d+ %", res.stdout)
