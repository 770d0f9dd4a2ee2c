"""``tinylstm monitor --port PORT``: serial round trip against a board running the tinylstm firmware.

Batch mode (default) sends one request per sample - a CSV row for the ``feature_per_step`` layout, every full
window (W rows of the F feature columns, step-major) for a window model - and compares every answer with the
Python prediction of the same model: the integer golden model when the device reports the ``c-int8`` engine, the
float golden model otherwise. A classifier's replies (class name and K probabilities) are compared class by class
and probability by probability, and the accuracy on the CSV's labels is reported.

``--stream`` (window models, protocol 2) sends ``stream``, then the F feature values of each CSV row, one line per
row in series order, with ``reset`` at every change of group (and after a row with a missing value, which is not
sent). The device's reply after step t of a sequence is the network's output on the t rows since the last reset
(the LSTM state carries on): every reply is checked against the golden model run on that prefix. After exactly W
steps this is the window prediction; replies past W steps continue the state and are not the sliding-window
prediction (the report says by how much they differ).

Any protocol problem (no banner, malformed reply, ``err`` reply, silence) is a one-line error and exit code 2;
``--tolerance`` makes a too-large max |delta| (or, for a classifier, a class that differs from the reference where
the reference's top two probabilities are further apart than the tolerance) exit 1. Devices speaking protocol 1
(the firmware before serial protocol 2) are still accepted for batch regression.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError

PROTOCOLS = (1, 2)
BANNER = re.compile(r"^tinylstm ready engine=(\S+) inputs=(\d+) protocol=(\d+)")
SELFCHECK_DONE = re.compile(r"^selfcheck done pass=(\d+) fail=(\d+)$")
US = re.compile(r"^(.*) us=(\d+)$")


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


@dataclass(frozen=True)
class DeviceInfo:
    """What the banner says: ``tinylstm ready engine=… inputs=… protocol=… [max_line=…] [outputs=…] [classes=…]
    [step_inputs=…]`` (protocol 1 devices send only the first four)."""

    engine: str
    inputs: int
    protocol: int
    max_line: int | None = None
    outputs: int = 1
    classes: tuple[str, ...] = ()
    step_inputs: int | None = None  #: None: no stream mode


def parse_banner(line: str, port: str) -> DeviceInfo:
    m = BANNER.match(line)
    fields = dict(tok.split("=", 1) for tok in line.split()[2:] if "=" in tok)

    def number(key: str) -> int | None:
        if key not in fields:
            return None
        if not fields[key].isdigit():
            raise UserError(f"{port}: malformed banner ({key}={fields[key]!r}): {line[:160]!r}")
        return int(fields[key])

    classes = tuple(fields["classes"].split(",")) if "classes" in fields else ()
    return DeviceInfo(m.group(1), int(m.group(2)), int(m.group(3)), number("max_line"), number("outputs") or 1,
                      classes, number("step_inputs"))


def handshake(link: Link, boot_wait: float) -> tuple[DeviceInfo, str | None]:
    """Ask for the banner ("info", repeated every second while the board boots); skip other output.

    Returns (device info, self-check summary or None)."""
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
    info = parse_banner(line, link.port)
    if info.protocol not in PROTOCOLS:
        raise UserError(f"{link.port}: device speaks protocol {info.protocol}, this tinylstm speaks "
                        + " and ".join(map(str, PROTOCOLS)))
    # Quiet period: answers to repeated 'info' requests and the end of a boot self-check are discarded.
    for _ in range(1000):
        extra = link.readline("", timeout=0.3)
        if extra is None:
            break
        if done := SELFCHECK_DONE.match(extra):
            selfcheck = f"pass={done.group(1)} fail={done.group(2)}"
    return info, selfcheck


def check_device(info: DeviceInfo, bundle, model: Path, port: str, stream: bool) -> None:
    """One line naming what does not match between the device and the model (before any request is sent)."""
    if info.inputs != bundle.n_inputs:
        raise UserError(f"{port}: device model takes {info.inputs} inputs, {model} takes {bundle.n_inputs}")
    if info.protocol == 1:
        if bundle.is_classifier or stream:
            what = "stream mode" if stream else "a classifier"
            raise UserError(f"{port}: device speaks protocol 1 (batch regression only): {what} needs the "
                            "protocol 2 firmware (re-flash it)")
        return
    if info.outputs != bundle.n_outputs:
        raise UserError(f"{port}: device model has {info.outputs} outputs, {model} has {bundle.n_outputs}")
    if bundle.is_classifier and list(info.classes) != bundle.classes:
        raise UserError(f"{port}: device classes {','.join(info.classes) or '(none)'} differ from {model}'s "
                        f"{','.join(bundle.classes)}")
    if stream:
        if bundle.layout != "window":
            raise UserError(f"--stream needs a window-layout model; {model} is {bundle.layout}")
        if info.step_inputs is None:
            raise UserError(f"{port}: device ({info.engine}) has no stream mode (no step_inputs= in its banner)")
        if info.step_inputs != bundle.values_per_step:
            raise UserError(f"{port}: device takes {info.step_inputs} values per step, {model} takes "
                            f"{bundle.values_per_step}")


@dataclass
class Reply:
    y: np.ndarray  #: (K,) outputs (NaN where the device sent no probabilities)
    label: str | None  #: class name (classifier)
    us: int


def parse_reply(reply: str, bundle, what: str, port: str) -> Reply:
    """``ok <value> us=<n>`` (regression) or ``ok <class> [p=<p1>,…,<pK>] us=<n>`` (classifier)."""
    def bad() -> UserError:
        kind = "rejected" if reply.startswith("err ") else "sent a malformed reply to"
        return UserError(f"{port}: device {kind} {what}: {reply[:160]!r}")

    m = US.match(reply)
    if not reply.startswith("ok ") or not m:
        raise bad()
    body, us = m.group(1)[3:], int(m.group(2))
    K = bundle.n_outputs
    if not bundle.is_classifier:
        try:
            y = np.array([float(v) for v in body.split(",")])
        except ValueError:
            raise bad() from None
        if len(y) != K or " " in body:
            raise bad()
        return Reply(y, None, us)
    label, _, probs = body.partition(" p=")
    if label not in bundle.classes:
        raise bad()
    y = np.full(K, np.nan)
    if probs:
        try:
            y = np.array([float(v) for v in probs.split(",")])
        except ValueError:
            raise bad() from None
        if len(y) != K:
            raise bad()
    return Reply(y, label, us)


# ------------------------------------------------------------------------------------------ references
def golden(engine: str, bundle, X: np.ndarray) -> tuple[np.ndarray, str]:
    """The reference outputs (n, K) for whole samples, and its name."""
    if engine == "c-int8":
        from .. import intgolden

        y = intgolden.predict(intgolden.quantize(bundle), X).astype(np.float64)
        return y.reshape(len(X), -1), "integer golden model"
    from ..reference import predict

    note = "float golden model"
    if "int8" in engine:
        note += " (the device runs int8 kernels of its own: expect quantisation error)"
    return predict(bundle, X).reshape(len(X), -1), note


def stream_float(bundle, seqs: np.ndarray) -> np.ndarray:
    """The float golden model's output after every step of raw sequences (n, T, F) → (n, T, K), the LSTM state
    carried from step 0 (what a device answers in stream mode)."""
    from ..reference import dense_forward, lstm_forward

    n, T, _ = seqs.shape
    x = np.asarray(bundle.scaler.transform_x(seqs), np.float32).astype(np.float64)  # as Bundle.sequences
    for layer in bundle.lstm:
        x = lstm_forward(dataclasses.replace(layer, return_sequences=True), x)
    for layer in bundle.dense:
        x = dense_forward(layer, x)
    out = bundle.outputs(x.reshape(n * T, -1))
    return np.asarray(out, np.float64).reshape(n, T, -1)


def stream_int(bundle, seqs: np.ndarray) -> np.ndarray:
    """The integer golden model (``c-int8``) after every step of raw sequences (n, T, F) → (n, T, K)."""
    from .. import intgolden
    from ..numerics import run_lstm

    model = intgolden.quantize(bundle)
    n, T, F = seqs.shape
    mean = np.asarray(model.x_mean).ravel()
    rows = seqs.reshape(n * T, F)
    if mean.size != F:  # scaler stats tiled over the window: one step's worth
        model = dataclasses.replace(model, x_mean=mean[:F], x_k=np.asarray(model.x_k).ravel()[:F])
    x = intgolden.quantize_inputs(model, rows).reshape(n, T, F)
    cell = intgolden.IntCell()
    for layer in (lay for lay in model.layers if lay.kind == "lstm"):
        x, _ = run_lstm(cell, dataclasses.replace(layer, return_sequences=True), x)
    dense = [lay for lay in model.layers if lay.kind == "dense"]
    x = x.reshape(n * T, -1)
    for k, layer in enumerate(dense):
        x = cell.dense(layer, x, k == len(dense) - 1)
    if hasattr(intgolden, "outputs"):  # a classifier's probabilities, as the int8 engine computes them
        y = intgolden.outputs(model, x)
    else:
        y = intgolden.dequantize(model, x[:, 0])
    return np.asarray(y, np.float64).reshape(n, T, -1)


def stream_reference(engine: str, bundle, seqs: np.ndarray) -> np.ndarray:
    return stream_int(bundle, seqs) if engine == "c-int8" else stream_float(bundle, seqs)


# ------------------------------------------------------------------------------------------------ data
@dataclass
class Samples:
    X: np.ndarray  #: (n, n_inputs) raw, float32 values (what the device parses)
    y: np.ndarray  #: (n,) targets / class indices, NaN where unknown
    what: str  #: "row" or "window"


def _series(bundle, data: Path):
    from ..data import read_table
    from ..series import SeriesSpec, load_series

    spec = SeriesSpec.from_dict(bundle.meta.get("series") or {"window": bundle.n_steps})
    columns = read_table(data).columns
    target = bundle.target if bundle.target in columns else None
    series = load_series(data, bundle.features, target, spec, bundle.classes if target else None)
    return spec, series


def batch_samples(bundle, data: Path) -> Samples:
    if bundle.layout != "window":
        from ..predict import read_features

        _, _, X, _ = read_features(data, bundle.features)
        return Samples(X.astype(np.float32).astype(np.float64), np.full(len(X), np.nan), "row")
    from ..series import windows

    spec, series = _series(bundle, data)
    w = windows(series, spec, need_target=False)
    X = w.X.reshape(len(w), -1)
    return Samples(X.astype(np.float32).astype(np.float64), np.asarray(w.y, np.float64), "window")


# ------------------------------------------------------------------------------------------ the checks
def _near_tie(p: np.ndarray, tol: float) -> np.ndarray:
    top2 = np.sort(p, axis=1)[:, -2:] if p.shape[1] > 1 else np.c_[np.zeros(len(p)), p]
    return (top2[:, 1] - top2[:, 0]) <= tol


def compare(bundle, dev_y: np.ndarray, dev_labels: list[str | None], ref: np.ndarray, labels: np.ndarray,
            ref_name: str, tolerance: float | None, what: str) -> tuple[list[str], bool]:
    """Report lines and whether the tolerance failed; ``what`` names one sample ("row", "window", "step")."""
    lines, failed = [], False
    if not bundle.is_classifier:
        delta = np.abs(dev_y[:, 0] - ref[:, 0])
        unit = bundle.units.get(bundle.target, "")
        unit = f" {unit}" if unit else ""
        worst = int(np.argmax(delta))
        lines.append(f"  max |delta| vs {ref_name}: {delta.max():.3g}{unit} ({what} {worst + 1}), "
                     f"mean {delta.mean():.3g}")
        known = ~np.isnan(labels)
        if known.any() and bundle.layout == "window":
            lines.append(f"  MAE vs the CSV's {bundle.target} ({int(known.sum())} {what}s): device "
                         f"{np.abs(dev_y[known, 0] - labels[known]).mean():.4g}, reference "
                         f"{np.abs(ref[known, 0] - labels[known]).mean():.4g}{unit}")
        if tolerance is not None and delta.max() > tolerance:
            lines.append(f"monitor: FAIL: max |delta| {delta.max():.3g} > tolerance {tolerance:g}")
            failed = True
        return lines, failed
    classes = bundle.classes
    dev_cls = np.array([classes.index(c) for c in dev_labels])
    ref_cls = np.argmax(ref, axis=1)
    differ = dev_cls != ref_cls
    tie_tol = tolerance if tolerance is not None else 1e-6
    real = differ & ~_near_tie(ref, tie_tol)
    lines.append(f"  class agrees with {ref_name}: {int((~differ).sum())}/{len(differ)} {what}s"
                 + (f" ({int((differ & ~real).sum())} differ where its top two probabilities are within "
                    f"{tie_tol:g})" if (differ & ~real).any() else ""))
    has_p = ~np.isnan(dev_y).any(axis=1)
    if has_p.any():
        dp = np.abs(dev_y[has_p] - ref[has_p]).max(axis=1)
        worst = int(np.flatnonzero(has_p)[int(np.argmax(dp))])
        lines.append(f"  max |delta p| vs {ref_name}: {dp.max():.3g} ({what} {worst + 1}), mean {dp.mean():.3g}")
        if tolerance is not None and dp.max() > tolerance:
            lines.append(f"monitor: FAIL: max |delta p| {dp.max():.3g} > tolerance {tolerance:g}")
            failed = True
    else:
        lines.append("  the device sent no probabilities (class names only)")
    known = ~np.isnan(labels)
    if known.any():
        truth = labels[known].astype(int)
        lines.append(f"  accuracy on the CSV's labels ({int(known.sum())} {what}s): device "
                     f"{100 * np.mean(dev_cls[known] == truth):.2f} %, reference "
                     f"{100 * np.mean(ref_cls[known] == truth):.2f} %")
    if tolerance is not None and real.any():
        k = int(np.flatnonzero(real)[0])
        lines.append(f"monitor: FAIL: {int(real.sum())} class(es) differ from the reference ({what} {k + 1}: "
                     f"device {classes[dev_cls[k]]}, reference {classes[ref_cls[k]]})")
        failed = True
    return lines, failed


def _selfcheck(link: Link, port: str) -> str | None:
    link.send("selfcheck")  # the device re-runs its boot self-check (the boot output is usually missed)
    for _ in range(10000):
        line = link.readline("to 'selfcheck'")
        if m := SELFCHECK_DONE.match(line):
            return f"pass={m.group(1)} fail={m.group(2)}"
        if not line.startswith("selfcheck "):
            raise UserError(f"{port}: device sent a malformed reply to 'selfcheck': {line[:120]!r}")
    return None


def _command(link: Link, port: str, command: str) -> None:
    link.send(command)
    reply = link.readline(f"to '{command}'")
    if reply != f"ok {command}":
        raise UserError(f"{port}: device answered '{command}' with {reply[:160]!r}")


def _request_text(values: np.ndarray, info: DeviceInfo, port: str, what: str) -> str:
    text = ",".join(f"{v:.9g}" for v in values)
    if info.max_line is not None and len(text) > info.max_line:
        raise UserError(f"{port}: {what} takes {len(text)} characters, the device accepts at most "
                        f"{info.max_line} per line")
    return text


def run_batch(link: Link, info: DeviceInfo, bundle, samples: Samples, port: str):
    n = len(samples.X)
    dev_y, labels, us = np.empty((n, bundle.n_outputs)), [], np.empty(n)
    for k, row in enumerate(samples.X):
        request = _request_text(row, info, port, f"{samples.what} {k + 1}")
        link.send(request)
        shown = request if len(request) <= 60 else request[:57] + "..."
        what = f"{samples.what} {k + 1} ({shown})"
        r = parse_reply(link.readline(f"to {what}"), bundle, what, port)
        dev_y[k], us[k] = r.y, r.us
        labels.append(r.label)
    return dev_y, labels, us


def stream_plan(bundle, data: Path, limit: int):
    """Series rows in order, cut into segments (a group change or a missing value starts a new one):
    (segments as lists of series rows, the series, window targets by last row)."""
    from ..series import windows

    spec, series = _series(bundle, data)
    ok = ~np.isnan(series.X).any(axis=1)
    segments: list[list[int]] = []
    sent = 0
    for r in range(len(series.X)):
        if limit and sent >= limit:
            break
        if not ok[r]:
            if segments and segments[-1]:
                segments.append([])
            continue
        if not segments or (segments[-1] and series.group[segments[-1][-1]] != series.group[r]):
            segments.append([])
        segments[-1].append(r)
        sent += 1
    segments = [s for s in segments if s]
    target = {}
    if len(series.X) >= spec.window:
        w = windows(series, spec, need_target=False)
        target = {int(last): float(y) for last, y in zip(w.last, w.y)}
    return segments, series, target


def run_stream(link: Link, info: DeviceInfo, bundle, engine: str, data: Path, limit: int, port: str,
               tolerance: float | None) -> tuple[list[str], bool, np.ndarray]:
    segments, series, target = stream_plan(bundle, data, limit)
    if not segments:
        raise UserError(f"{data}: no rows to stream")
    W, K = bundle.n_steps, bundle.n_outputs
    X32 = series.X.astype(np.float32).astype(np.float64)
    rows = [r for s in segments for r in s]
    step = np.concatenate([np.arange(1, len(s) + 1) for s in segments])
    dev_y, labels, us = np.empty((len(rows), K)), [], np.empty(len(rows))
    _command(link, port, "stream")
    k = 0
    for si, seg in enumerate(segments):
        if si:
            _command(link, port, "reset")
        for r in seg:
            request = _request_text(X32[r], info, port, f"line {series.line[r]}")
            link.send(request)
            what = f"line {series.line[r]} of {data.name} (step {step[k]}: {request})"
            rep = parse_reply(link.readline(f"to {what}"), bundle, what, port)
            dev_y[k], us[k] = rep.y, rep.us
            labels.append(rep.label)
            k += 1
    _command(link, port, "batch")
    # reference: the golden model after every step, state carried since the segment's first row
    ref = np.empty((len(rows), K))
    starts = np.r_[0, np.cumsum([len(s) for s in segments])[:-1]]
    by_len: dict[int, list[int]] = {}
    for si, seg in enumerate(segments):
        by_len.setdefault(len(seg), []).append(si)
    for T, idx in by_len.items():
        seqs = np.stack([X32[segments[si]] for si in idx])
        out = stream_reference(engine, bundle, seqs)
        for j, si in enumerate(idx):
            ref[starts[si]:starts[si] + T] = out[j]
    ref_name = ("integer" if engine == "c-int8" else "float") + " golden model on the steps since the last reset"
    full = step >= W
    truth = np.array([target.get(r, np.nan) if full[i] else np.nan for i, r in enumerate(rows)])
    lines = [f"  rows streamed and answered: {len(rows)} in {len(segments)} sequence(s) ({len(segments) - 1} "
             f"reset(s)); {int(full.sum())} after a full window of {W} steps, {int((step == W).sum())} exactly at "
             f"{W} (= the window prediction)"]
    out, failed = compare(bundle, dev_y, labels, ref, truth, ref_name, tolerance, "step")
    lines += out
    past = step > W
    if past.any():
        from ..reference import predict

        win = np.stack([X32[r - W + 1:r + 1].reshape(-1) for r, p in zip(rows, past) if p])
        diff = np.abs(predict(bundle, win).reshape(len(win), -1) - ref[past]).max()
        lines.append(f"  past {W} steps the state carries on: the replies differ from the sliding-window "
                     f"prediction of the last {W} rows by up to {diff:.3g}")
    return lines, failed, us


def run(args: argparse.Namespace) -> int:
    from ..bundle import Bundle

    bundle = Bundle.load(args.model)
    data = Path(args.data)
    samples = None
    if not args.stream:
        samples = batch_samples(bundle, data)
        if args.limit:
            samples = Samples(samples.X[: args.limit], samples.y[: args.limit], samples.what)
        if len(samples.X) == 0:
            raise UserError(f"{args.data}: no {samples.what}s to send")
    elif bundle.layout != "window":
        raise UserError(f"--stream needs a window-layout model; {args.model} is {bundle.layout}")
    link = Link(args.port, args.baud, args.timeout)
    try:
        info, selfcheck = handshake(link, args.boot_wait)
        check_device(info, bundle, args.model, args.port, args.stream)
        selfcheck = _selfcheck(link, args.port) or selfcheck
        engine = info.engine
        if args.stream:
            body, failed, us = run_stream(link, info, bundle, engine, data, args.limit, args.port, args.tolerance)
            head = []
        else:
            dev_y, labels, us = run_batch(link, info, bundle, samples, args.port)
    finally:
        link.close()
    if not args.stream:
        ref, ref_name = golden(engine, bundle, samples.X)
        head = [f"  {samples.what}s sent and answered: {len(samples.X)}"]
        body, failed = compare(bundle, dev_y, labels, ref, samples.y, ref_name, args.tolerance, samples.what)
    per = "step" if args.stream else "inference"
    lines = [f"monitor: {args.port}, engine {engine}, protocol {info.protocol}"
             + (f", boot self-check {selfcheck}" if selfcheck else ""), *head,
             *[ln for ln in body if not ln.startswith("monitor: FAIL")],
             f"  device time per {per}: mean {us.mean():.1f} us, min {us.min():.0f} us, max {us.max():.0f} us"]
    print("\n".join(lines))
    status = 0
    if selfcheck and not selfcheck.endswith("fail=0"):
        print(f"monitor: FAIL: the device's self-check failed ({selfcheck})")
        status = 1
    for ln in body:
        if ln.startswith("monitor: FAIL"):
            print(ln)
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
    p.add_argument("--limit", type=int, default=0,
                   help="send only the first N samples (batch: rows or windows; --stream: rows)")
    p.add_argument("--stream", action="store_true",
                   help="window models: stream mode, one CSV row (F values) per line, reset at every group change")
    p.add_argument("--tolerance", type=float, default=None,
                   help="exit 1 when max |delta| exceeds this (target units, or probability for a classifier) or a "
                        "class differs from the reference; a failed device self-check also exits 1")
    p.set_defaults(func=run)
