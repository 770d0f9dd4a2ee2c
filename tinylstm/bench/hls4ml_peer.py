"""Bench section ``fpga-peer``: hls4ml, the public Keras → HLS compiler, converting the same Keras model as the FPGA
core, beside the core's fixed-point golden model (bit-exact with the RTL), on the same test rows.

hls4ml needs its own package versions, so it runs in another interpreter: ``TINYLSTM_HLS4ML_PYTHON`` names a Python
with ``hls4ml==1.3.0`` (and the Keras/TensorFlow the model was saved with; ``docs/fpga.md`` says how to make one).
Without it the section prints one line saying so. That interpreter runs :mod:`tinylstm.bench._hls4ml_run` (a plain
script, JSON on stdout), which converts ``<model>/model.keras`` (Vitis backend, ``io_parallel``), builds hls4ml's C
simulation (``compile()``: g++ with the bundled ap_types headers) once per precision, and predicts the standardised
test rows this process gives it. The scaler, the split and the Keras reference stay in this process: every figure
is measured against the project's own Keras predictions (target units, e.g. L/100km).

The sweep: hls4ml's default (``ap_fixed<16,6>`` for every weight, bias, result and accumulator; LSTM sigmoid/tanh
tables of 1,024 entries of ``ap_fixed<18,8>``), other ``ap_fixed`` precisions with the tables left at their
default, then rows that also change the tables or the accumulator, to show what limits the error. A configuration
*matches* the core when neither its |ΔMAE| nor its max |Δ| vs Keras is larger than the core's (as printed: 4 and
3 decimals). hls4ml's resource and latency estimate comes only from vendor HLS synthesis (``build()`` runs Vitis
HLS), which this machine does not have: the peer is compared on accuracy only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import backends
from .. import fixedpoint as fx
from ..data import DEFAULT_CSV
from ..errors import UserError
from ..modeldir import ModelDir
from . import register

ENV = "TINYLSTM_HLS4ML_PYTHON"
RUNNER = Path(__file__).with_name("_hls4ml_run.py")
RND = "AP_RND_CONV,AP_SAT"


@dataclass(frozen=True)
class PeerConfig:
    """One hls4ml configuration: the model-wide precision, and optionally the LSTM table entries and the types
    ``accum`` / ``table`` of the LSTM and Dense layers (hls4ml ``Precision`` keys)."""

    precision: str
    table_size: int | None = None
    types: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        extra = [f"{self.table_size} table entries"] if self.table_size else []
        extra += [f"{k} {v}" for k, v in self.types]
        return f"`{self.precision}`" + (f" + {', '.join(extra)}" if extra else "")

    def request(self) -> dict:
        return {"label": self.label, "precision": self.precision, "table_size": self.table_size,
                "types": dict(self.types) or None}


#: hls4ml's default first, then ap_fixed precisions at the default tables, then table/accumulator changes.
SWEEP: tuple[PeerConfig, ...] = (
    PeerConfig("ap_fixed<16,6>"),
    PeerConfig("ap_fixed<16,5>"),  # the core's Q5.11
    PeerConfig("ap_fixed<16,7>"),
    PeerConfig("ap_fixed<16,8>"),
    PeerConfig("ap_fixed<18,8>"),
    PeerConfig("ap_fixed<20,8>"),
    PeerConfig("ap_fixed<24,10>"),
    PeerConfig("ap_fixed<32,12>"),
    PeerConfig(f"ap_fixed<16,6,{RND}>"),
    PeerConfig("ap_fixed<16,6>", 4096),
    # the closest hls4ml comes to the core's arithmetic: Q5.11 rounded and saturated, tables of step 1/256
    PeerConfig(f"ap_fixed<16,5,{RND}>", 4096, (("table", "ap_fixed<18,2,AP_RND_CONV>"),)),
    # hls4ml's LSTM keeps its gate sums in the result type: a wider accumulator does not compile (nnet_recurrent.h)
    PeerConfig("ap_fixed<16,6>", None, (("accum", "ap_fixed<32,12>"),)),
    PeerConfig("ap_fixed<24,10>", 65536, (("table", "ap_fixed<32,8>"),)),
    PeerConfig("ap_fixed<32,12>", 65536, (("table", "ap_fixed<32,8>"),)),
)


@dataclass(frozen=True)
class PeerOptions:
    """``python``: hls4ml's interpreter (None: skip); ``timeout_s``: the whole sweep (seconds)."""

    python: str | None = None
    configs: tuple[PeerConfig, ...] = SWEEP
    backend: str = "Vitis"
    io_type: str = "io_parallel"
    timeout_s: float = 3600.0

    @classmethod
    def from_env(cls, **kw) -> "PeerOptions":
        return cls(python=os.environ.get(ENV) or None, **kw)


@dataclass(frozen=True)
class Figures:
    """Test-row figures of one predictor, target units: MAE vs the labels, ΔMAE = MAE - Keras' MAE, max and mean
    |prediction - Keras|."""

    mae: float
    d_mae: float
    max_abs: float
    mean_abs: float

    @classmethod
    def of(cls, pred: np.ndarray, keras: np.ndarray, y: np.ndarray) -> "Figures":
        pred, keras, y = (np.asarray(a, np.float64).reshape(-1) for a in (pred, keras, y))
        mae, mae_k = float(np.abs(pred - y).mean()), float(np.abs(keras - y).mean())
        d = np.abs(pred - keras)
        return cls(mae, mae - mae_k, float(d.max()), float(d.mean()))

    def no_worse_than(self, other: "Figures") -> bool:
        """|ΔMAE| and max |Δ| no larger than ``other``'s, compared as printed (4 and 3 decimals)."""
        return (round(abs(self.d_mae), 4) <= round(abs(other.d_mae), 4)
                and round(self.max_abs, 3) <= round(other.max_abs, 3))


@dataclass
class PeerRun:
    config: dict
    figures: Figures | None
    cpu_s: float
    error: str | None = None


@dataclass
class PeerResult:
    hls4ml: str
    keras: str
    #: max |Keras in hls4ml's interpreter - the project's Keras| (target units): same model, same inputs
    keras_agreement: float
    runs: list[PeerRun] = field(default_factory=list)


def run_peer(model_dir: Path, seq: np.ndarray, opts: PeerOptions) -> dict:
    """Run :data:`RUNNER` under ``opts.python`` on standardised inputs ``seq`` (n, steps, values); its JSON answer."""
    keras_file = Path(model_dir) / "model.keras"
    if not keras_file.is_file():
        raise UserError(f"{keras_file}: no Keras model for hls4ml to convert")
    with tempfile.TemporaryDirectory(prefix="tinylstm-hls4ml-") as td:
        tmp = Path(td)
        np.save(tmp / "inputs.npy", np.asarray(seq, np.float32))
        req = {"model": str(keras_file.resolve()), "inputs": str(tmp / "inputs.npy"), "workdir": str(tmp / "prj"),
               "backend": opts.backend, "io_type": opts.io_type, "configs": [c.request() for c in opts.configs]}
        (tmp / "request.json").write_text(json.dumps(req))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
        env.pop("PYTHONPATH", None)  # the other interpreter must not import this checkout's packages
        try:
            proc = subprocess.run([opts.python, str(RUNNER), str(tmp / "request.json")], capture_output=True,
                                  text=True, timeout=opts.timeout_s, env=env, cwd=tmp)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise UserError(f"{ENV}={opts.python}: {type(err).__name__}: {err}") from err
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise UserError(f"{ENV}={opts.python}: the hls4ml runner exited {proc.returncode}: {tail[:200]}")
    try:
        return json.loads(proc.stdout)
    except ValueError as err:
        raise UserError(f"{ENV}={opts.python}: the hls4ml runner printed no JSON ({err})") from err


def compare(bundle, answer: dict, keras: np.ndarray, y: np.ndarray) -> PeerResult:
    """The runner's answer (network outputs, standardised) → figures in target units against ``keras``."""
    own_keras = bundle.outputs(np.asarray(answer["keras_out"]))
    result = PeerResult(answer["hls4ml"], answer["keras"], float(np.abs(own_keras - keras).max()))
    for run in answer["runs"]:
        fig = None if run["out"] is None else Figures.of(bundle.outputs(np.asarray(run["out"])), keras, y)
        result.runs.append(PeerRun(run, fig, float(run["cpu_s"]), run["error"]))
    return result


def table(model_dir: Path, data: Path | None, opts: PeerOptions | None = None) -> list[str]:
    """Markdown lines: Keras, the core (golden model, default format) and hls4ml's sweep on the test rows."""
    opts = opts or PeerOptions.from_env()
    head = ["hls4ml (the public Keras → HLS compiler) converting the same `model.keras` as the core: its C "
            "simulation, `io_parallel`, Vitis backend."]
    if not opts.python:
        return head + ["", f"hls4ml: skipped — hls4ml not installed (set {ENV} to a Python with hls4ml==1.3.0; "
                           "`docs/fpga.md`, *hls4ml beside the core*)."]
    md = ModelDir.load(model_dir)
    bundle = md.bundle
    if bundle.is_classifier:
        return head + ["", "hls4ml: skipped — the peer table is for a regression model (MAE in target units)."]
    X, y = md.rows("test", data)
    keras = np.asarray(backends.run("keras", md.path, X), np.float64)
    core = Figures.of(fx.predict(bundle, X), keras, y)
    try:
        res = compare(bundle, run_peer(md.path, bundle.sequences(X), opts), keras, y)
    except UserError as err:
        return head + ["", f"hls4ml: failed — {err}"]
    unit = bundle.units.get(bundle.target, "")
    kmae = float(np.abs(keras - y).mean())
    width = fx.QFormat.parse(fx.DEFAULT_FORMAT).width
    rows = [f"| Keras (float32, the reference) | – | {kmae:.4f} | – | – | – | – | – |",
            f"| FPGA core, {fx.DEFAULT_FORMAT} (golden model = RTL, 0 LSB) | {width} | {core.mae:.4f} | "
            f"{core.d_mae:+.4f} | {core.max_abs:.3f} | {core.mean_abs:.4f} | – | – |"]
    matched = []
    for run in res.runs:
        label = run.config["label"] + (" (hls4ml's default)" if run is res.runs[0] else "")
        if run.figures is None:
            rows.append(f"| hls4ml {label} | – | – | – | – | – | failed: {str(run.error)[:120]} | {run.cpu_s:.1f} |")
            continue
        f = run.figures
        ok = f.no_worse_than(core)
        if ok:
            matched.append(run.config["label"])
        rows.append(f"| hls4ml {label} | {_width(run.config['precision'])} | {f.mae:.4f} | {f.d_mae:+.4f} | "
                    f"{f.max_abs:.3f} | {f.mean_abs:.4f} | {'**yes**' if ok else 'no'} | {run.cpu_s:.1f} |")
    verdict = (f"the first configuration as good as the core is {matched[0]}" if matched
               else "no configuration of the sweep is as good as the core")
    return head + [
        f"hls4ml {res.hls4ml} with Keras {res.keras} in `{opts.python}`; its Keras agrees with the project's to "
        f"{res.keras_agreement:.2g} {unit}. {len(y)} test rows; Δ = against the project's Keras predictions, "
        f"{unit}; *as good as the core* = |ΔMAE| and max |Δ| no larger than the core's (as printed). Default "
        "tables: 1,024 entries of `ap_fixed<18,8>` per LSTM sigmoid/tanh.", "",
        "| model | bits | test MAE | ΔMAE vs Keras | max \\|Δ\\| vs Keras | mean \\|Δ\\| vs Keras | as good as the "
        "core | CPU s (convert + g++ + predict) |", "|---|---|---|---|---|---|---|---|", *rows, "",
        f"Verdict: {verdict}. hls4ml's resource and latency estimate is not available here: it comes from "
        "vendor HLS synthesis (`hls_model.build()` runs Vitis HLS, not installed; not on iCE40/ECP5 either)."]


def _width(precision: str) -> str:
    inner = precision[precision.index("<") + 1:precision.index(">")]
    return inner.split(",")[0]


def _with_fpga(args: argparse.Namespace) -> bool:
    """True when the ``fpga`` section runs in the same bench run (it ends with this table)."""
    only = getattr(args, "only", None)
    return not only or "fpga" in {w.strip() for w in only.split(",")}


@register("fpga-peer", f"only the hls4ml peer table of the fpga section (needs {ENV}; no simulation, no P&R)")
def section(model_dir: Path, args: argparse.Namespace) -> str:
    if _with_fpga(args):
        return "In the `fpga` section of this run (its last table)."
    data = getattr(args, "data", None) or DEFAULT_CSV
    return "\n".join(table(Path(model_dir), data if Path(data).exists() else None))
