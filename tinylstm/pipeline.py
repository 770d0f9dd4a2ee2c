"""The pipeline behind ``tinylstm train``, ``evaluate`` and ``run``.

Layout of ``--out`` (default ``artifacts/``)::

    model/      model.keras, bundle.npz (the weight bundle), config.json, history.json, split.json
    report.json every metric, the data summary, links to figures and exports
    report.md   the same for people
    <target>/   one directory per exporter (``tinylstm export TARGET``)
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import atomic, export, plots, reports
from .bundle import Bundle
from .data import Dataset, Scaler, ensure_default_dataset, load_dataset, split
from .errors import DataError, UnsupportedShape, UserError
from .evaluate import baselines, regression_metrics
from .modeldir import ModelDir
from .reference import predict as numpy_predict
from .sidework import SideWork
from .train import TrainConfig, TrainResult, load_keras_model, save, train

#: Fault injection for the tests of atomic publishing: ``TINYLSTM_FAULT=kill:<point>`` kills the process with
#: SIGKILL at that point, ``raise:<point>`` fails there with a user error. Points: ``after-train``,
#: ``after-evaluate``, ``export:<target>`` (before that target's export), ``before-publish``.
FAULT_ENV = "TINYLSTM_FAULT"


def _fault_point(name: str) -> None:
    fault = os.environ.get(FAULT_ENV, "")
    if fault == f"kill:{name}":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == f"raise:{name}":
        raise UserError(f"injected failure at {name} ({FAULT_ENV})")


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, flush=True)


def load_data(path: Path, features: Sequence[str], target: str, quiet: bool = False) -> Dataset:
    """Load and clean the CSV (downloading the default data set when it is missing); say what was dropped."""
    ds = load_dataset(ensure_default_dataset(path), features, target)
    _say(quiet, f"data: {ds.path}: {ds.clean.describe()}")
    return ds


def check_trainable(ds: Dataset, config: TrainConfig) -> None:
    """Every data check training would hit, done before TensorFlow loads and before anything is written.

    Raises :class:`~tinylstm.errors.UserError` for a split that leaves no test or validation rows, or a column
    that is constant in the training rows (zero variance: it cannot be standardised).
    """
    sp = split(len(ds.y), config.test_size, config.split_seed)
    if len(sp.test) < 1 or int(len(sp.train) * config.validation_split) < 1:
        raise DataError(f"{ds.path}: too few rows ({len(ds.y)}) for a train/test split with a validation split")
    Scaler.fit(ds.X[sp.train], ds.y[sp.train], ds.features, ds.target, ds.path)


def check_output_dir(path: Path, option: str) -> None:
    """Fail early (before training) when ``path`` cannot become a directory we can write into."""
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{option} {path}: {existing} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: no permission to write in {existing}")


def load_windows(path: Path, features: Sequence[str], target: str, spec, quiet: bool = False):
    """Load a time-series CSV and cut its windows (``--layout window``); say what was dropped. Checks every data
    problem training would hit (split sizes, classes, constant columns) before TensorFlow loads."""
    from .series import check_classes, load_series, split_windows, windows

    series = load_series(path, features, target, spec)
    w = windows(series, spec)
    sp = split_windows(w, spec, series.path)
    if spec.task == "classify":
        check_classes(w, series.classes, series.path, series.target)
    _say(quiet, f"data: {series.path}: {w.describe(spec, len(series.y))}; split ({spec.split}) "
                f"{len(sp.train)} train / {len(sp.validation)} validation / {len(sp.test)} test windows"
                + (f", {sp.purged} purged at the boundaries" if sp.purged else ""))
    return series


def train_only(data: Path, features: Sequence[str], target: str, config: TrainConfig, model_dir: Path,
               quiet: bool = False, staged: bool = False, spec=None, shown: Path | None = None,
               dataset: Dataset | None = None) -> TrainResult:
    """Train and save into ``model_dir`` (swapped in whole; ``staged``: ``model_dir`` is a fresh staging dir).

    ``spec``: a :class:`~tinylstm.series.SeriesSpec` for the window layout (None: feature_per_step);
    ``dataset``: ``data`` already loaded with :func:`load_data` (feature_per_step)."""
    from .train import train_windows

    check_output_dir(model_dir, "--out")
    if spec is not None:
        series = load_windows(data, features, target, spec, quiet)
        result = train_windows(series, spec, config, quiet)
    else:
        ds = dataset if dataset is not None else load_data(data, features, target, quiet)
        check_trainable(ds, config)
        result = train(ds, config, quiet)
    save(result, model_dir, in_place=staged)
    _say(quiet, f"train: {result.bundle.describe()} ({result.bundle.params()} params), "
                f"{len(result.history['loss'])} epochs in {result.seconds:.1f} s, best epoch {result.best_epoch}; "
                f"wrote {shown or model_dir}")
    return result


def evaluate(model_dir: Path, ds: Dataset, out_dir: Path, figures_dir: Path,
             extra: dict[str, Any] | None = None, quiet: bool = False,
             publish_as: tuple[Path, Path] | None = None, side: SideWork | None = None) -> dict[str, Any]:
    """Metrics on train/test, baselines, the bundle-vs-Keras check, figures, and the report files.

    ``publish_as`` = (staging dir, final dir): paths under the staging dir are reported as under the final one.
    ``side`` (``tinylstm run``, see :func:`start_side_work`): the baselines and exploratory figures are taken from
    its jobs, and the prediction figures are handed to it (job ``figures``: the caller collects it before
    publishing); without it everything is computed here.
    """
    model_dir, out_dir, figures_dir = Path(model_dir), Path(out_dir), Path(figures_dir)
    md = ModelDir.load(model_dir)
    bundle = md.bundle
    if bundle.layout == "window":
        return evaluate_windows(md, ds, out_dir, figures_dir, extra, quiet, publish_as)
    if bundle.meta.get("data_sha256") and bundle.meta["data_sha256"] != ds.sha256:
        _say(quiet, f"warning: {ds.path} is not the file this model was trained on (SHA-256 differs)")
    if md.split is None:
        raise DataError(f"{model_dir / 'split.json'}: missing (the model directory must come from tinylstm train)")
    sp = md.split
    if max(sp.train.max(), sp.test.max()) >= len(ds.y):
        raise DataError(f"{ds.path}: has {len(ds.y)} rows, fewer than the model's split; wrong --data?")
    model = _load_keras(model_dir)
    preds, splits = {}, {}
    for name, idx in (("train", sp.train), ("test", sp.test)):
        seq = bundle.sequences(ds.X[idx])
        preds[name] = bundle.scaler.inverse_y(np.asarray(model.predict(seq, verbose=0))[:, 0])
        splits[name] = (ds.y[idx], preds[name])
    bundle_gap = float(np.abs(numpy_predict(bundle, ds.X[sp.test]) - preds["test"]).max())
    history = json.loads((model_dir / "history.json").read_text())
    unit = ds.units.get(ds.target, "")
    figures = _figures(ds, splits, history, bundle, unit, figures_dir, side)
    figures, report_root = _as_published(figures, out_dir, publish_as)
    base = side.result("baselines") if side is not None and side.has("baselines") else \
        baselines(ds.X[sp.train], ds.y[sp.train], ds.X[sp.test], ds.y[sp.test])
    report = {
        "data": {"file": str(ds.path), "sha256": ds.sha256, "features": ds.features, "target": ds.target,
                 "units": ds.units, "cleaning": ds.clean.__dict__, "rows_train": len(sp.train),
                 "rows_test": len(sp.test)},
        "model": {"architecture": bundle.describe(), "params": bundle.params(), "macs": bundle.macs(),
                  "gate_order": "i,f,c,o", "seed": bundle.meta.get("seed"),
                  "best_epoch": bundle.meta.get("best_epoch"), "epochs_run": len(history["loss"])},
        "metrics": {name: regression_metrics(y, p).as_dict() for name, (y, p) in splits.items()},
        "baselines": {k: v.as_dict() for k, v in base.items()},
        "bundle_vs_keras_max_abs": bundle_gap,
        "figures": {k: str(Path(v).relative_to(report_root.parent) if _is_under(v, report_root.parent) else v)
                    for k, v in figures.items()},
        **(extra or {}),
    }
    write_report(report, out_dir)
    m = report["metrics"]["test"]
    _say(quiet, f"evaluate: test MAE {m['mae']:.4f} {unit}, RMSE {m['rmse']:.4f}, R² {m['r2']:.4f}; "
                f"linear {report['baselines']['linear_regression']['mae']:.4f}, "
                f"gradient boosting {report['baselines']['gradient_boosting']['mae']:.4f}, "
                f"random forest {report['baselines']['random_forest']['mae']:.4f}; "
                f"wrote {report_root / 'report.md'}")
    return report


def evaluate_windows(md: ModelDir, data: Path | None, out_dir: Path, figures_dir: Path,
                     extra: dict[str, Any] | None = None, quiet: bool = False,
                     publish_as: tuple[Path, Path] | None = None) -> dict[str, Any]:
    """:func:`evaluate` for a window-layout model: Keras on the train/validation/test windows, the metrics of its
    task (forecast: MAE, RMSE, …; classification: accuracy, macro-F1, per-class recall, confusion matrix), the
    baselines (persistence and linear regression; majority class and gradient boosting), figures, report."""
    from .evaluate import classification_baselines, classification_metrics, forecast_baselines

    bundle, spec = md.bundle, md.series_spec
    series, w = md.windows(data)
    model = _load_keras(md.path)
    samples = {name: md.rows(name, data) for name in ("train", "validation", "test")}
    outs = {name: bundle.outputs(np.asarray(model.predict(bundle.sequences(X), verbose=0)))
            for name, (X, _) in samples.items()}
    bundle_gap = float(np.abs(numpy_predict(bundle, samples["test"][0]) - outs["test"]).max())
    history = json.loads((md.path / "history.json").read_text())
    Xtr, ytr = samples["train"]
    Xte, yte = samples["test"]
    figures: dict[str, Path] = {}
    if bundle.is_classifier:
        metrics = {name: classification_metrics(y, outs[name], bundle.classes) for name, (_, y) in samples.items()}
        base = classification_baselines(Xtr, ytr, Xte, yte, bundle.classes)
        figures["confusion"] = plots.confusion_matrix(metrics["test"]["confusion"], bundle.classes,
                                                      f"{bundle.target}: test windows (LSTM)",
                                                      figures_dir / "confusion.png")
        figures["loss"] = plots.loss_curves(history, 1.0, "", figures_dir / "loss.png")
    else:
        metrics = {name: regression_metrics(y, outs[name]).as_dict() for name, (_, y) in samples.items()}
        persistence = series.y[w.last[md.split.test]]
        base = {k: v.as_dict() for k, v in forecast_baselines(Xtr, ytr, Xte, yte, persistence).items()}
        splits = {"train": (ytr, outs["train"]), "test": (yte, outs["test"])}
        unit = bundle.units.get(bundle.target, "")
        figures.update({
            "loss": plots.loss_curves(history, bundle.scaler.y_scale, unit, figures_dir / "loss.png"),
            "residuals": plots.residuals(splits, unit, figures_dir / "residuals.png"),
            "predicted_vs_actual": plots.predicted_vs_actual(splits, bundle.target, unit,
                                                             figures_dir / "pred_vs_actual.png"),
            "series": plots.series(yte, outs["test"], bundle.target, unit, figures_dir / "test_series.png"),
        })
    figures, report_root = _as_published(figures, out_dir, publish_as)
    report = {
        "data": {"file": str(series.path), "sha256": series.sha256, "features": bundle.features,
                 "target": bundle.target, "units": bundle.units, "layout": "window", "series": spec.as_dict(),
                 "windows": w.describe(spec, len(series.y)), "rows_read": series.rows_read,
                 "rows_train": len(md.split.train), "rows_validation": len(md.validation),
                 "rows_test": len(md.split.test)},
        "model": {"architecture": bundle.describe(), "params": bundle.params(), "macs": bundle.macs(),
                  "gate_order": "i,f,c,o", "seed": bundle.meta.get("seed"), "task": bundle.task,
                  "classes": bundle.classes, "best_epoch": bundle.meta.get("best_epoch"),
                  "epochs_run": len(history["loss"])},
        "metrics": metrics,
        "baselines": base,
        "bundle_vs_keras_max_abs": bundle_gap,
        "figures": {k: str(Path(v).relative_to(report_root.parent) if _is_under(v, report_root.parent) else v)
                    for k, v in figures.items()},
        **(extra or {}),
    }
    write_report(report, out_dir)
    m = metrics["test"]
    if bundle.is_classifier:
        _say(quiet, f"evaluate: test accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f} on {m['n']} windows; "
                    f"majority class {base['majority_class']['accuracy']:.4f}, gradient boosting "
                    f"{base['gradient_boosting']['accuracy']:.4f}; wrote {report_root / 'report.md'}")
    else:
        _say(quiet, f"evaluate: test MAE {m['mae']:.4f}, RMSE {m['rmse']:.4f} on {m['n']} windows; persistence "
                    f"{base['persistence']['mae']:.4f}, linear regression {base['linear_regression']['mae']:.4f}; "
                    f"wrote {report_root / 'report.md'}")
    return report


def _load_keras(model_dir: Path):
    """:func:`~tinylstm.train.load_keras_model`, with a damaged file reported as a user error, not a traceback."""
    try:
        return load_keras_model(model_dir)
    except UserError:
        raise
    except Exception as err:  # Keras raises assorted types for a truncated or foreign file
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise UserError(f"{Path(model_dir) / 'model.keras'}: cannot load the Keras model ({reason}); "
                        f"train again with tinylstm train --out {model_dir}") from err


def _as_published(figures: dict[str, Path], out_dir: Path, publish_as: tuple[Path, Path] | None
                  ) -> tuple[dict[str, Path], Path]:
    """The figure paths and the report directory as the user will find them once ``publish_as`` = (staging dir,
    final dir) is published (unchanged without it)."""
    if publish_as is None:
        return figures, out_dir
    stage, final = publish_as
    return {k: _moved(v, stage, final) for k, v in figures.items()}, _moved(out_dir, stage, final)


def _moved(path: Path, stage: Path, final: Path) -> Path:
    """``path`` with the staging directory ``stage`` replaced by ``final``."""
    try:
        return Path(final) / Path(path).relative_to(stage)
    except ValueError:
        return Path(path)


def _is_under(path: Path, root: Path) -> bool:
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
        return True
    except ValueError:
        return False


def eda_figures(ds: Dataset, fig_dir: Path) -> dict[str, Path]:
    """Exploratory figures of the used columns (names with units): pairplot and Spearman heatmap."""
    fig_dir = Path(fig_dir)
    used = {name: col for name, col in zip(plots.labelled([*ds.features, ds.target], ds.units),
                                           [*ds.X.T, ds.y])}
    return {"pairplot": plots.pairplot(used, fig_dir / "pairplot.png"),
            "spearman": plots.spearman_heatmap(used, fig_dir / "spearman.png")}


#: The prediction figures of a feature_per_step model: name in the report → file name.
PREDICTION_FIGURES = {"loss": "loss.png", "residuals": "residuals.png", "residual_histograms": "residual_hist.png",
                      "predicted_vs_actual": "pred_vs_actual.png", "series": "test_series.png"}


def prediction_figures(splits, history, y_scale: float, label: str, unit: str, fig_dir: Path) -> dict[str, Path]:
    """Loss curves (``y_scale``: the target's standard deviation, to show the loss in its units), residuals,
    residual histograms, predicted vs actual and the test series, named as in :data:`PREDICTION_FIGURES`."""
    f = {name: Path(fig_dir) / file for name, file in PREDICTION_FIGURES.items()}
    return {
        "loss": plots.loss_curves(history, y_scale, unit, f["loss"]),
        "residuals": plots.residuals(splits, unit, f["residuals"]),
        "residual_histograms": plots.residual_histograms(splits, unit, f["residual_histograms"]),
        "predicted_vs_actual": plots.predicted_vs_actual(splits, label, unit, f["predicted_vs_actual"]),
        "series": plots.series(*splits["test"], label, unit, f["series"]),
    }


def _figures(ds: Dataset, splits, history, bundle: Bundle, unit: str, fig_dir: Path,
             side: SideWork | None = None) -> dict[str, Path]:
    args = (splits, history, bundle.scaler.y_scale, ds.target, unit, fig_dir)
    if side is None:
        drawn = prediction_figures(*args)
    else:  # drawn in the side process; the paths are known now
        side.submit("figures", prediction_figures, *args)
        drawn = {name: Path(fig_dir) / file for name, file in PREDICTION_FIGURES.items()}
    eda = side.result("eda_figures") if side is not None and side.has("eda_figures") else eda_figures(ds, fig_dir)
    return {**drawn, **eda}


def start_side_work(ds: Dataset, config: TrainConfig, fig_dir: Path) -> SideWork:
    """Start the model-independent part of :func:`evaluate` (baselines on the split ``config`` makes, exploratory
    figures into ``fig_dir``) in a side process (:mod:`tinylstm.sidework`); pass it to ``evaluate(side=...)``."""
    side = SideWork()
    sp = split(len(ds.y), config.test_size, config.split_seed)
    side.submit("baselines", baselines, ds.X[sp.train], ds.y[sp.train], ds.X[sp.test], ds.y[sp.test])
    side.submit("eda_figures", eda_figures, ds, fig_dir)
    return side


def write_report(report: dict[str, Any], out_dir: Path) -> None:
    """``report.json`` (everything) and ``report.md`` (the same, for people)."""
    atomic.write_json(Path(out_dir) / "report.json", report)
    atomic.write_text(Path(out_dir) / "report.md", render_markdown(report, Path(out_dir)))


def _render_windows(report: dict[str, Any], out_dir: Path) -> list[str]:
    d, m = report["data"], report["model"]
    unit = d["units"].get(d["target"], "")
    sp = d["series"]
    lines = [
        "# tinylstm report", "",
        f"Data: `{d['file']}` (SHA-256 `{d['sha256'][:16]}…`), a time series: windows of {sp['window']} rows of "
        f"{', '.join(d['features'])} → {d['target']} {sp['horizon']} step(s) after the window's last row"
        + (f", sorted by {sp['time_column']}" if sp.get("time_column") else "")
        + (f", sequences by {sp['group_column']}" if sp.get("group_column") else "") + ".",
        f"Windows: {d['windows']}; split ({sp['split']}) {d['rows_train']} train / {d['rows_validation']} "
        f"validation / {d['rows_test']} test windows.", "",
        f"Model: {m['architecture']}, {m['params']} parameters, {m['macs']} MACs per inference, seed {m['seed']}, "
        f"best epoch {m['best_epoch']} of {m['epochs_run']}.", "",
    ]
    if m["task"] == "classification":
        lines += ["## Metrics (classification)", "", "| set | accuracy | macro-F1 | windows |", "|---|---|---|---|"]
        rows = [(k, v) for k, v in report["metrics"].items()] + \
               [(f"test, {k.replace('_', ' ')} baseline", v) for k, v in report["baselines"].items()]
        lines += [f"| {k} | {v['accuracy']:.4f} | {v['macro_f1']:.4f} | {v['n']} |" for k, v in rows]
        rec = report["metrics"]["test"]["recall"]
        lines += ["", "Per-class recall (test): " + ", ".join(f"{c}: {r:.3f}" for c, r in rec.items()) + "."]
    else:
        lines += [f"## Metrics (forecast) [{unit}]", "", "| set | MAE | RMSE | R² | max error |",
                  "|---|---|---|---|---|"]
        rows = [(k, v) for k, v in report["metrics"].items()] + \
               [(f"test, {k.replace('_', ' ')} baseline", v) for k, v in report["baselines"].items()]
        lines += [f"| {k} | {v['mae']:.4f} | {v['rmse']:.4f} | {v['r2']:.4f} | {v['max_error']:.4f} |"
                  for k, v in rows]
    lines += ["", f"Weight bundle (numpy float golden model) vs Keras on the test windows: max |Δ| "
                  f"{report['bundle_vs_keras_max_abs']:.2e}.", "", "## Figures", ""]
    return lines


def render_markdown(report: dict[str, Any], out_dir: Path) -> str:
    if report["data"].get("layout") == "window":
        return _render_tail(report, out_dir, _render_windows(report, out_dir))
    d, m = report["data"], report["model"]
    unit = d["units"].get(d["target"], "")
    lines = [
        "# tinylstm report", "",
        f"Data: `{d['file']}` (SHA-256 `{d['sha256'][:16]}…`), features {', '.join(d['features'])} → "
        f"target {d['target']} [{unit}].",
        f"Cleaning: {d['cleaning']['rows_read']} rows read, {d['cleaning']['dropped_duplicate']} duplicate and "
        f"{d['cleaning']['dropped_missing']} incomplete rows dropped, {d['cleaning']['rows_kept']} kept; "
        f"split {d['rows_train']} train / {d['rows_test']} test.", "",
        f"Model: {m['architecture']}, {m['params']} parameters, {m['macs']} MACs per inference, seed {m['seed']}, "
        f"best epoch {m['best_epoch']} of {m['epochs_run']}.", "",
        f"## Metrics [{unit}]", "",
        "| set | MAE | RMSE | R² | max error | residual mean | residual std |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [(k, v) for k, v in report["metrics"].items()] + \
           [(f"test, {k.replace('_', ' ')} baseline", v) for k, v in report["baselines"].items()]
    for name, v in rows:
        lines.append(f"| {name} | {v['mae']:.4f} | {v['rmse']:.4f} | {v['r2']:.4f} | {v['max_error']:.4f} | "
                     f"{v['residual_mean']:+.4f} | {v['residual_std']:.4f} |")
    lines += ["", f"Weight bundle (numpy float golden model) vs Keras on the test set: max |Δ| "
                  f"{report['bundle_vs_keras_max_abs']:.2e} {unit}.", "", "## Figures", ""]
    return _render_tail(report, out_dir, lines)


def _render_tail(report: dict[str, Any], out_dir: Path, lines: list[str]) -> str:
    for name, path in report["figures"].items():
        rel = Path(path)
        if not rel.is_absolute():
            rel = Path("..") / rel if out_dir.name else rel
        lines.append(f"- [{name}]({rel.as_posix()})")
    phases = report.get("timing_s", {}).get("phases")
    if phases:
        total = report["timing_s"]["total"]
        cpu = dict(report["timing_s"].get("phases_cpu", []))
        lines += ["", "## Where the time went (this run; wall clock, and CPU of the process + reaped children)", "",
                  "| phase | s | CPU s | share |", "|---|---|---|---|"]
        lines += [f"| {name} | {sec:.1f} | {cpu.get(name, float('nan')):.1f} | {100 * sec / total:.0f} % |"
                  for name, sec in phases]
        lines.append(f"| **total** | **{total:.1f}** | **{report['timing_s']['cpu_total']:.1f}** | 100 % |")
    for section in report.get("sections", []):
        lines += ["", section.rstrip()]
    return "\n".join(lines) + "\n"


def evaluate_only(model_dir: Path, data: Path, out_dir: Path, figures_dir: Path, quiet: bool = False) -> dict:
    bundle = Bundle.load(model_dir)
    check_output_dir(out_dir, "--out")
    check_output_dir(figures_dir, "--figures")
    if bundle.layout == "window":
        return evaluate(model_dir, Path(data), out_dir, figures_dir, quiet=quiet)
    ds = load_data(data, bundle.features, bundle.target, quiet)
    return evaluate(model_dir, ds, out_dir, figures_dir, quiet=quiet)


def run(data: Path, features: Sequence[str], target: str, config: TrainConfig, out_dir: Path,
        figures_dir: Path | None = None, quiet: bool = False, exports_enabled: bool = True,
        spec=None) -> dict[str, Any]:
    """Train, evaluate, draw, and run every registered exporter (unless disabled); one report at the end.

    Everything is written into a temporary sibling of ``out_dir`` and published at the very end: each entry the
    run owns (``model/``, ``report.json``, ``report.md``, ``figures/``, one directory per export) is swapped into
    ``out_dir``; other files there (e.g. ``bench.md``) are left alone. A run that fails or is killed at any
    point before that leaves the previous outputs byte-identical. ``figures_dir`` defaults to
    ``<out_dir>/figures``; another directory is staged and swapped the same way.
    """
    phases = Phases()
    out_dir = Path(out_dir)
    figures_dir = Path(figures_dir) if figures_dir is not None else out_dir / "figures"
    check_output_dir(out_dir, "--out")
    check_output_dir(figures_dir, "--figures")
    inside = _is_under(figures_dir, out_dir)
    stage = atomic.stage_dir(out_dir)
    fig_stage = stage / figures_dir.resolve().relative_to(out_dir.resolve()) if inside else \
        atomic.stage_dir(figures_dir)
    # targets' slow, model-independent work (the TFLite worker's TensorFlow import) starts beside training
    head_starts = [(t, t.head_start()) for t in export.all_targets()
                   if exports_enabled and t.in_run and t.head_start is not None]
    side: SideWork | None = None
    try:
        with phases("train (load data, fit, save)"):
            loaded = None
            if spec is None:  # baselines and exploratory figures beside training (tinylstm.sidework)
                loaded = load_data(data, features, target, quiet)
                check_trainable(loaded, config)
                side = start_side_work(loaded, config, fig_stage)
            result = train_only(data, features, target, config, stage / "model", quiet, staged=True, spec=spec,
                                shown=out_dir / "model", dataset=loaded)
        ds = result.dataset if spec is None else Path(data)
        _fault_point("after-train")
        _warm(head_starts, ModelDir.load(stage / "model"))
        with phases("evaluate (metrics, baselines, figures)"):
            report = evaluate(stage / "model", ds, stage, fig_stage, quiet=quiet, publish_as=(stage, out_dir),
                              side=side)
        _fault_point("after-evaluate")
        exports, sections = {}, []
        model = ModelDir.load(stage / "model")
        for target_ in export.all_targets():
            if not (target_.in_run and exports_enabled):
                continue
            _fault_point(f"export:{target_.name}")
            sub = stage / target_.default_subdir
            options = target_.options()
            try:
                with phases(f"export {target_.name} (generate, write)"):
                    prepared = target_.prepare(model, options) if target_.prepare is not None else model
                    written = atomic.publish_files(sub, export.files_for(target_, prepared, options, prepared=True))
            except UnsupportedShape as err:  # this target cannot run the network's shape: say so, go on
                exports[target_.name] = f"skipped: {err}"
                _say(quiet, f"export {target_.name}: skipped ({err})")
                continue
            with phases(f"report {target_.name} (verify, measure)"):
                text = reports.section(target_.name, prepared, options, sub)
            if text:
                written.append(atomic.write_text(sub / f"{target_.name}.report.md", text))
                sections.append(text)
            exports[target_.name] = [str(_moved(Path(p), stage, out_dir)) for p in written]
            _say(quiet, f"export {target_.name}: wrote {len(written)} file(s) under {out_dir / target_.default_subdir}")
        report["exports"] = exports
        report["sections"] = sections
        if side is not None:
            with phases("figures (side process: wait, stop)"):
                if side.has("figures"):
                    side.result("figures")
                side.close()
        total = phases.total()
        report["timing_s"] = {"train": round(phases.seconds[0], 2),
                              "train_evaluate_figures": round(sum(phases.seconds[:2]), 2),
                              "total": round(total, 2), "train_fit_only": round(result.seconds, 2),
                              # a list, in run order (report.json sorts the keys of mappings)
                              "phases": [[name, round(sec, 2)] for name, sec in zip(phases.names, phases.seconds)],
                              "phases_cpu": [[name, round(sec, 2)] for name, sec in zip(phases.names, phases.cpu)],
                              "cpu_total": round(phases.cpu_total(), 2)}
        write_report(report, stage)
        _fault_point("before-publish")
        _publish_run(stage, out_dir, None if inside else (fig_stage, figures_dir))
    finally:
        if side is not None:
            side.close()
        for _, head in head_starts:
            head.close()
        shutil.rmtree(stage, ignore_errors=True)
        if not inside:
            shutil.rmtree(fig_stage, ignore_errors=True)
    _say(quiet, phases.table())
    _say(quiet, f"run: done in {report['timing_s']['total']:.1f} s; report {out_dir / 'report.md'}")
    return report


def _warm(head_starts: list, model: ModelDir) -> None:
    """Hand the trained model to every target's head start (default options, as the run exports them). One that
    cannot take it is stopped: the target's export then meets the same problem and reports it the usual way."""
    for target_, head in head_starts:
        try:
            head.warm(model, target_.options())
        except (UserError, UnsupportedShape):
            head.close()


class Phases:
    """Wall-clock and CPU seconds per named phase of a run (``with phases("name"): ...``), and the process CPU time.

    A phase's CPU time is this process's plus that of the children reaped during it (a worker started earlier,
    e.g. the TFLite conversion, counts in the phase that collects it)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.seconds: list[float] = []
        self.cpu: list[float] = []
        self._start = time.perf_counter()
        self._cpu0 = _cpu_seconds()

    def __call__(self, name: str) -> "_Phase":
        return _Phase(self, name)

    def total(self) -> float:
        return time.perf_counter() - self._start

    def cpu_total(self) -> float:
        """CPU seconds of this process and its finished children (conversions, compilers, simulators)."""
        return _cpu_seconds() - self._cpu0

    def table(self) -> str:
        total = self.total()
        rows = [f"| {n} | {s:.1f} | {c:.1f} | {100 * s / total:.0f} % |"
                for n, s, c in zip(self.names, self.seconds, self.cpu)]
        return "\n".join(["| phase | s | CPU s | share |", "|---|---|---|---|", *rows,
                          f"| **total** | **{total:.1f}** | **{self.cpu_total():.1f}** | 100 % |"])


class _Phase:
    def __init__(self, phases: Phases, name: str) -> None:
        self.phases, self.name = phases, name

    def __enter__(self) -> None:
        self.t0, self.c0 = time.perf_counter(), _cpu_seconds()

    def __exit__(self, *exc: object) -> None:
        self.phases.names.append(self.name)
        self.phases.seconds.append(time.perf_counter() - self.t0)
        self.phases.cpu.append(_cpu_seconds() - self.c0)


def _cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _publish_run(stage: Path, out_dir: Path, figures: tuple[Path, Path] | None) -> None:
    """Swap every entry of the finished staging directory into ``out_dir`` (report files last)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = sorted(stage.iterdir(), key=lambda p: (p.name.startswith("report."), p.name))
    for entry in entries:
        atomic.swap_in(entry, out_dir / entry.name)
    if figures is not None:
        atomic.swap_in(*figures)
