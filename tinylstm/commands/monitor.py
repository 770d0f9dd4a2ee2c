"""``tinylstm monitor --port PORT``: serial round trip against a board running the tinylstm firmware.

Sends the feature columns of a CSV row by row (the line protocol of docs/cengine.md), compares every answer with
the Python prediction of the same model - the integer golden model when the device reports the ``c-int8``
engine, the float golden model otherwise - and prints count, max |delta| and microseconds per inference as
measured on the device. Any protocol problem (no banner, malformed reply, ``err`` reply, silence) is a one-line
error and exit code 2; ``--tolerance`` makes a too-large max |delta| exit 1.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np

from ..errors import UserError

BANNER = re.compile(r"^tinylstm ready engine=(\S+) inputs=(\d+) protocol=(\d+)")
OK = re.compile(r"^ok (\S+) us=(\d+)$")
SELFCHECK_DONE = re.compile(r"^selfcheck done pass=(\d+) fail=(\d+)$")


class Link:
    """Line-oriented serial link with a deadline per reply."""

    def __init__(self, port: str, baud: int, timeout: float):
        try:
            import serial
        except ImportError as err:  # pragma: no cover - pyserial is a dependency
            raise UserError("pyserial is not installed: pip install pyserial") from err
        self.port, self.timeout = port, timeout
        try:
            self.ser = serial.serial_for_url(port, baudrate=baud, timeout=0.05, write_timeout=timeout)
        except (serial.SerialException, OSError, ValueError) as err:
            raise UserError(f"{port}: cannot open serial port ({err})") from err
        self.buf = b""

    def close(self) -> None:
        self.ser.close()

    def send(self, text: str) -> None:
        import serial

        try:
            self.ser.write(text.encode("ascii") + b"\n")
            self.ser.flush()
        except (serial.SerialException, OSError) as err:
            raise UserError(f"{self.port}: write failed ({err})") from err

    def readline(self, what: str, timeout: float | None = None) -> str | None:
        """The next line; UserError after ``timeout`` seconds of silence (None when ``timeout`` is given)."""
        import serial

        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b"\n" not in self.buf:
            if time.monotonic() > deadline:
                if timeout is not None:
                    return None
                raise UserError(f"{self.port}: no answer within {self.timeout:g} s {what} "
                                "(device stopped answering, wrong port or wrong baud rate?)")
            try:
                chunk = self.ser.read(256)
            except (serial.SerialException, OSError) as err:
                raise UserError(f"{self.port}: read failed {what} ({err})") from err
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("ascii", errors="replace").rstrip("\r")


def handshake(link: Link, boot_wait: float) -> tuple[str, int, str | None]:
    """Ask for the banner ("info", repeated every second while the board boots); skip other output.

    Returns (engine, inputs, self-check summary or None)."""
    if boot_wait > 0:
        time.sleep(boot_wait)  # an ESP32 resets when the port opens
    selfcheck = None
    deadline = time.monotonic() + link.timeout
    lines = 0
    while True:
        link.send("info")
        line = link.readline("", timeout=1.0)
        while line is not None and not BANNER.match(line):
            lines += 1
            if m := SELFCHECK_DONE.match(line):
                selfcheck = f"pass={m.group(1)} fail={m.group(2)}"
            if lines > 500:
                raise UserError(f"{link.port}: no 'tinylstm ready' banner in 500 lines: "
                                "is the tinylstm firmware running?")
            line = link.readline("", timeout=1.0)
        if line is not None:
            break
        if time.monotonic() > deadline:
            raise UserError(f"{link.port}: no answer within {link.timeout:g} s to 'info' (expected the "
                            "'tinylstm ready ...' banner; device not running the firmware, wrong port or baud?)")
    m = BANNER.match(line)
    if m.group(3) != "1":
        raise UserError(f"{link.port}: device speaks protocol {m.group(3)}, this tinylstm speaks 1")
    # Quiet period: answers to repeated 'info' requests and the end of a boot self-check are discarded.
    for _ in range(1000):
        extra = link.readline("", timeout=0.3)
        if extra is None:
            break
        if done := SELFCHECK_DONE.match(extra):
            selfcheck = f"pass={done.group(1)} fail={done.group(2)}"
    return m.group(1), int(m.group(2)), selfcheck


def golden(engine: str, model_dir: Path, X: np.ndarray) -> tuple[np.ndarray, str]:
    from ..bundle import Bundle

    bundle = Bundle.load(model_dir)
    if engine == "c-int8":
        from .. import intgolden

        return intgolden.predict(intgolden.quantize(bundle), X).astype(np.float64), "integer golden model"
    from ..reference import predict

    note = "float golden model"
    if "int8" in engine:
        note += " (the device runs int8 kernels of its own: expect quantisation error)"
    return predict(bundle, X), note


def run(args: argparse.Namespace) -> int:
    from ..bundle import Bundle
    from ..predict import read_features

    bundle = Bundle.load(args.model)
    _, rows, X, _ = read_features(Path(args.data), bundle.features)
    if args.limit:
        X = X[: args.limit]
    if len(X) == 0:
        raise UserError(f"{args.data}: no rows to send")
    X = X.astype(np.float32).astype(np.float64)  # what the device parses
    link = Link(args.port, args.baud, args.timeout)
    try:
        engine, n_inputs, selfcheck = handshake(link, args.boot_wait)
        if n_inputs != bundle.n_inputs:
            raise UserError(f"{args.port}: device model takes {n_inputs} inputs, {args.model} takes {bundle.n_inputs}")
        link.send("selfcheck")  # the device re-runs its boot self-check (the boot output is usually missed)
        for _ in range(10000):
            line = link.readline("to 'selfcheck'")
            if m := SELFCHECK_DONE.match(line):
                selfcheck = f"pass={m.group(1)} fail={m.group(2)}"
                break
            if not line.startswith("selfcheck "):
                raise UserError(f"{args.port}: device sent a malformed reply to 'selfcheck': {line[:120]!r}")
        y_dev, us = np.empty(len(X)), np.empty(len(X))
        for k, row in enumerate(X):
            request = ",".join(f"{v:.9g}" for v in row)
            link.send(request)
            reply = link.readline(f"to row {k + 1} ({request})")
            m = OK.match(reply)
            if not m:
                kind = "rejected" if reply.startswith("err ") else "sent a malformed reply to"
                raise UserError(f"{args.port}: device {kind} row {k + 1} ({request}): {reply[:120]!r}")
            try:
                y_dev[k] = float(m.group(1))
            except ValueError:
                raise UserError(f"{args.port}: device sent a malformed reply to row {k + 1}: {reply[:120]!r}") from None
            us[k] = int(m.group(2))
    finally:
        link.close()
    y_ref, ref_name = golden(engine, args.model, X)
    delta = np.abs(y_dev - y_ref)
    unit = bundle.units.get(bundle.target, "")
    worst = int(np.argmax(delta))
    lines = [f"monitor: {args.port}, engine {engine}" + (f", boot self-check {selfcheck}" if selfcheck else ""),
             f"  rows sent and answered: {len(X)}",
             f"  max |delta| vs {ref_name}: {delta.max():.3g} {unit} (row {worst + 1}), mean {delta.mean():.3g}",
             f"  device time per inference: mean {us.mean():.1f} us, min {us.min():.0f} us, max {us.max():.0f} us"]
    print("\n".join(lines))
    status = 0
    if selfcheck and not selfcheck.endswith("fail=0"):
        print(f"monitor: FAIL: the device's self-check failed ({selfcheck})")
        status = 1
    if args.tolerance is not None and delta.max() > args.tolerance:
        print(f"monitor: FAIL: max |delta| {delta.max():.3g} > tolerance {args.tolerance:g}")
        status = 1
    return status


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from ..data import DEFAULT_CSV

    p = sub.add_parser("monitor", parents=[common],
                       help="send CSV rows to a board running the tinylstm firmware and check every answer")
    p.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0 (any pyserial URL works)")
    p.add_argument("--data", type=Path, default=DEFAULT_CSV, help="CSV with the model's feature columns")
    p.add_argument("--model", type=Path, default=Path("artifacts/model"), help="model directory")
    p.add_argument("--baud", type=int, default=115200, help="baud rate (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each reply (default: %(default)s)")
    p.add_argument("--boot-wait", type=float, default=0.0,
                   help="seconds to wait after opening the port before the handshake (ESP32 reset: 2)")
    p.add_argument("--limit", type=int, default=0, help="send only the first N rows")
    p.add_argument("--tolerance", type=float, default=None,
                   help="exit 1 when max |delta| exceeds this (target units); a failed device self-check also exits 1")
    p.set_defaults(func=run)
