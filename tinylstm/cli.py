"""The ``tinylstm`` command line.

Every user error prints one line ``tinylstm: error: ...`` and exits with code 2; ``--debug`` shows the traceback.
Heavy imports (TensorFlow) happen inside the commands that need them, so ``--help`` and input checks are fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from . import __version__
from .errors import EXIT_USER_ERROR, UserError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (like every other tinylstm error), exit code 2."""

    def error(self, message: str):
        raise UserError(f"{self.prog}: {message} (see {self.prog} --help)")


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in _csv_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    return values


#: Optimizer names :func:`tinylstm.train._optimizer` accepts (checked here, before TensorFlow loads).
OPTIMIZERS = ("adam", "rmsprop", "sgd", "adamw", "nadam")


def _csv_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _add_data_args(p: argparse.ArgumentParser) -> None:
    from .data import DEFAULT_CSV, DEFAULT_FEATURES, DEFAULT_TARGET

    p.add_argument("--data", type=Path, default=DEFAULT_CSV, help="CSV file (default: %(default)s)")
    p.add_argument("--features", type=_csv_list, default=None,
                   help="comma-separated feature columns: one time step each (feature_per_step), or the values "
                        f"read at every step (window; required) (default: {','.join(DEFAULT_FEATURES)})")
    p.add_argument("--target", default=None, help=f"target column (default: {DEFAULT_TARGET})")
    _add_layout_args(p)


def _add_layout_args(p: argparse.ArgumentParser) -> None:
    from .data import LAYOUTS
    from .series import SPLITS, TASKS

    g = p.add_argument_group("time series (--layout window)")
    g.add_argument("--layout", choices=LAYOUTS, default=None,
                   help="feature_per_step (default: a row's F features are F steps of one value) or window (the CSV "
                        "is a time series, one row per step; a sample is --window consecutive rows)")
    g.add_argument("--window", type=int, default=None, help="rows (time steps) per window")
    g.add_argument("--horizon", type=int, default=None,
                   help="the target is read this many rows after the window's last row (default: 1 for regress, "
                        "0 for classify)")
    g.add_argument("--time-column", default=None, help="sort the rows by this column (numbers or date/times)")
    g.add_argument("--group-column", default=None,
                   help="independent sequences: windows never cross a change of this column; a group never lands "
                        "in two splits")
    g.add_argument("--task", choices=TASKS, default=None, help="regress (default) or classify (softmax head)")
    g.add_argument("--split", choices=SPLITS, default=None,
                   help="chronological (default: first 70 %% train, last 30 %% test, purged) or random")


def _series_spec(args: argparse.Namespace):
    """The :class:`~tinylstm.series.SeriesSpec` the flags ask for, or None for the feature_per_step layout (whose
    defaults for --features/--target are then filled in)."""
    from .data import DEFAULT_FEATURES, DEFAULT_TARGET
    from .series import SeriesSpec

    window_flags = [f"--{n.replace('_', '-')}" for n in ("window", "horizon", "time_column", "group_column", "task",
                                                         "split") if getattr(args, n, None) is not None]
    if (args.layout or "feature_per_step") == "feature_per_step":
        if window_flags:
            raise UserError(f"{', '.join(window_flags)}: only with --layout window")
        if args.features is None:
            args.features = list(DEFAULT_FEATURES)
        if args.target is None:
            args.target = DEFAULT_TARGET
        return None
    if args.window is None:
        raise UserError("--layout window needs --window W (rows per window)")
    if not args.features:
        raise UserError("--layout window needs --features (the columns read at every step)")
    if not args.target:
        raise UserError("--layout window needs --target (the column to forecast or classify)")
    spec = SeriesSpec(window=args.window, horizon=args.horizon, time_column=args.time_column,
                      group_column=args.group_column, task=args.task or "regress",
                      split=args.split or "chronological")
    spec.check()
    return spec


def _add_train_args(p: argparse.ArgumentParser) -> None:
    from .train import TrainConfig

    d = TrainConfig()
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="maximum epochs (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.learning_rate, help="learning rate (default: %(default)s)")
    p.add_argument("--optimizer", default=d.optimizer, help="adam, adamw, nadam, rmsprop or sgd")
    p.add_argument("--lstm-units", type=_int_list, default=d.lstm_units,
                   help="units per LSTM layer, e.g. 12,12 (default: %(default)s)")
    p.add_argument("--dense-units", type=_int_list, default=d.dense_units,
                   help="units per hidden ReLU dense layer (default: %(default)s)")
    p.add_argument("--patience", type=int, default=d.patience, help="early-stopping patience in epochs")


def _train_config(args: argparse.Namespace):
    from .train import TrainConfig

    if args.epochs < 1:
        raise UserError(f"--epochs must be >= 1, got {args.epochs}")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    if not args.lr > 0:
        raise UserError(f"--lr must be > 0, got {args.lr}")
    if args.patience < 0:
        raise UserError(f"--patience must be >= 0, got {args.patience}")
    if not args.lstm_units or min(args.lstm_units) < 1:
        raise UserError(f"--lstm-units needs at least one layer, each >= 1 unit, got {args.lstm_units}")
    if args.dense_units and min(args.dense_units) < 1:
        raise UserError(f"--dense-units must each be >= 1, got {args.dense_units}")
    if args.optimizer.lower() not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {args.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    return TrainConfig(seed=args.seed, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                       optimizer=args.optimizer, lstm_units=args.lstm_units, dense_units=args.dense_units,
                       patience=args.patience)


# ------------------------------------------------------------------------------------------- commands
def cmd_data_fetch(args: argparse.Namespace) -> int:
    from .data import DATASET_SHA256, fetch, sha256_of

    dest = Path(args.dest)
    if not args.force and dest.is_file() and sha256_of(dest) == DATASET_SHA256:
        print(f"{dest} is already there (SHA-256 verified); --force downloads it again")
        return 0
    path = fetch(dest, args.url, force=True)
    print(f"wrote {path} (SHA-256 verified)")
    return 0


def cmd_data_example(args: argparse.Namespace) -> int:
    from . import examples

    path = examples.write(args.name, args.dest or Path("data") / f"{args.name}.csv")
    if not args.quiet:
        print(f"wrote {path}; train on it with: tinylstm train --data {path} {examples.OPTIONS[args.name]}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from . import pipeline

    spec = _series_spec(args)
    pipeline.train_only(args.data, args.features, args.target, _train_config(args), args.out, args.quiet, spec=spec)
    return 0


def _check_model_flags(args: argparse.Namespace) -> None:
    """evaluate/predict take the layout from the model; layout flags given there must agree with it."""
    from .modeldir import ModelDir

    given = {n: getattr(args, n, None) for n in ("layout", "window", "horizon", "time_column", "group_column",
                                                 "task", "split")}
    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        return
    md = ModelDir.load(args.model)
    spec = md.series_spec
    have = {"layout": md.bundle.layout}
    if spec is not None:
        have.update(spec.as_dict())
    for name, value in given.items():
        flag = f"--{name.replace('_', '-')}"
        if name not in have:
            raise UserError(f"{flag}: {args.model} is a {md.bundle.layout} model (trained without {flag})")
        if have[name] != value:
            raise UserError(f"{flag} {value}: {args.model} was trained with {flag} {have[name]} "
                            f"(evaluate and predict use the model's layout)")


def cmd_import_keras(args: argparse.Namespace) -> int:
    from .keras_import import ImportOptions, import_keras

    spec = _series_spec(args)
    opt = ImportOptions(model=args.model_file, data=args.data, features=tuple(args.features), target=args.target,
                        out=args.out, layout=args.layout or "feature_per_step", spec=spec, scaler=args.scaler)
    summary = import_keras(opt)
    if not args.quiet:
        print(f"import-keras: {args.model_file} → {args.out} ({summary['params']} params, layers "
              f"{', '.join(summary['layers'])}; scaler {summary['scaler']}; |bundle - Keras| "
              f"{summary['bundle_vs_keras_max_abs']:.2g} on {summary['test_rows']} test rows)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from . import pipeline

    _check_model_flags(args)
    pipeline.evaluate_only(args.model, args.data, args.out, args.figures or Path(args.out) / "figures", args.quiet)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from . import pipeline

    spec = _series_spec(args)
    pipeline.run(args.data, args.features, args.target, _train_config(args), args.out, args.figures, args.quiet,
                 exports_enabled=not args.no_exports, spec=spec)
    return 0


def _model_layout(model: str) -> str:
    from .bundle import Bundle

    return Bundle.load(model).layout


def cmd_predict(args: argparse.Namespace) -> int:
    from . import predict

    _check_model_flags(args)
    n = predict.predict_csv(args.model, args.data, args.out, args.backend, args)
    if not args.quiet:
        what = "windows predicted" if _model_layout(args.model) == "window" else "rows"
        print(f"wrote {args.out} ({n} {what}, backend {args.backend})")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from . import atomic, export, reports
    from .modeldir import ModelDir
    from .options import from_namespace

    exporter = export.get(args.target_name)
    model, options = ModelDir.load(args.model), from_namespace(exporter.options, args)
    if exporter.prepare is not None:
        model = exporter.prepare(model, options)
    written = atomic.publish_files(Path(args.out), export.files_for(exporter, model, options, prepared=True))
    text = None if args.no_report else reports.section(exporter.name, model, options, Path(args.out))
    if text:
        written.append(atomic.write_text(Path(args.out) / f"{exporter.name}.report.md", text))
    if not args.quiet:
        for path in written:
            print(f"wrote {path}")
    return 0


def cmd_export_firmware(args: argparse.Namespace) -> int:
    from . import firmware

    out = firmware.run(args.check, args.model, args.pruned, args.root)
    if args.check:
        for name in out.differing:
            print(f"differs: {name}", file=sys.stderr)
        if out.differing:
            print(f"tinylstm: {len(out.differing)} committed generated file(s) differ from what "
                  "`tinylstm export firmware` writes", file=sys.stderr)
            return 1
        if not args.quiet:
            print("export firmware --check: every committed generated file is up to date")
        return 0
    if not args.quiet:
        for path in out.written:
            print(f"wrote {path}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench as benchmarks

    _check_model_flags(args)  # --layout window [...]: the tasks section benches --model on --data
    benchmarks.run_cli(args)
    return 0


# --------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from . import backends, export
    from . import bench as benchmarks

    parser = _Parser(prog="tinylstm",
                     description="One tiny LSTM from a CSV to every embedded target, each export verified.")
    parser.add_argument("--version", action="version", version=f"tinylstm {__version__}")
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    common.add_argument("--quiet", action="store_true", help="no progress bars or chatter")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p_data = sub.add_parser("data", help="data set commands", parents=[common])
    data_sub = p_data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    from .data import DATASET_URL, DEFAULT_CSV

    p_fetch = data_sub.add_parser("fetch", help="download the reference CSV (SHA-256 verified)", parents=[common])
    p_fetch.add_argument("--dest", type=Path, default=DEFAULT_CSV, help="where to write it (default: %(default)s)")
    p_fetch.add_argument("--url", default=DATASET_URL, help="source URL (default: the tutorial's published copy)")
    p_fetch.add_argument("--force", action="store_true", help="download even when a verified copy is there")
    p_fetch.set_defaults(func=cmd_data_fetch)
    from .examples import NAMES as EXAMPLES

    p_ex = data_sub.add_parser("example", parents=[common],
                               help="write an example time-series CSV (digits: sequence classification; forecast: "
                                    "a 3-channel series) generated from installed packages, no download")
    p_ex.add_argument("name", choices=EXAMPLES)
    p_ex.add_argument("--dest", type=Path, default=None, help="where to write it (default: data/NAME.csv)")
    p_ex.set_defaults(func=cmd_data_example)

    p_train = sub.add_parser("train", help="train the model and write the weight bundle", parents=[common])
    _add_data_args(p_train)
    _add_train_args(p_train)
    p_train.add_argument("--out", type=Path, default=Path("artifacts/model"), help="model directory")
    p_train.set_defaults(func=cmd_train)

    p_eval = sub.add_parser("evaluate", help="metrics, baselines, figures and report for a trained model",
                            parents=[common])
    p_eval.add_argument("--model", type=Path, default=Path("artifacts/model"), help="model directory")
    p_eval.add_argument("--data", type=Path, default=DEFAULT_CSV, help="the CSV the model was trained on")
    p_eval.add_argument("--out", type=Path, default=Path("artifacts"), help="report directory")
    p_eval.add_argument("--figures", type=Path, default=None, help="figure directory (default: OUT/figures)")
    _add_layout_args(p_eval)
    p_eval.set_defaults(func=cmd_evaluate)

    p_run = sub.add_parser("run", help="the whole pipeline: train, evaluate, figures, every export",
                           parents=[common])
    _add_data_args(p_run)
    _add_train_args(p_run)
    p_run.add_argument("--out", type=Path, default=Path("artifacts"), help="artifact directory")
    p_run.add_argument("--figures", type=Path, default=None, help="figure directory (default: OUT/figures)")
    p_run.add_argument("--no-exports", action="store_true", help="train, evaluate and draw only")
    p_run.set_defaults(func=cmd_run)

    p_pred = sub.add_parser("predict", help="predict raw CSV rows with any backend", parents=[common])
    p_pred.add_argument("--model", type=Path, default=Path("artifacts/model"), help="model directory")
    p_pred.add_argument("--data", type=Path, required=True, help="CSV with the model's feature columns")
    p_pred.add_argument("--out", type=Path, required=True, help="output CSV (input rows + a prediction column)")
    p_pred.add_argument("--chunk-rows", type=int, default=None,
                        help="rows read and predicted per batch (rounded up to a multiple of 2048; default 65536)")
    p_pred.add_argument("--proba", action="store_true",
                        help="classifier: also one <target>_p_<class> probability column per class")
    p_pred.add_argument("--next", action="store_true",
                        help="window model: also print the prediction H steps after each sequence's last row")
    names = [b.name for b in backends.all_backends()]
    p_pred.add_argument("--backend", default="keras", choices=names,
                        help="; ".join(f"{b.name}: {b.help}" for b in backends.all_backends()))
    for backend in backends.all_backends():
        if backend.add_arguments:
            backend.add_arguments(p_pred.add_argument_group(f"backend {backend.name}"))
    _add_layout_args(p_pred)
    p_pred.set_defaults(func=cmd_predict)

    p_imp = sub.add_parser("import-keras", parents=[common],
                           help="turn your own trained Keras model (LSTM + Dense layers) into a model directory")
    p_imp.add_argument("model_file", type=Path, metavar="MODEL", help="a .keras (or .h5) file")
    _add_data_args(p_imp)
    p_imp.add_argument("--scaler", default=None,
                       help="JSON file {x_mean, x_scale[, y_mean, y_scale]} the model was trained with, or "
                            "'identity' (raw inputs); default: fitted on the training rows")
    p_imp.add_argument("--out", type=Path, required=True, help="model directory to write")
    p_imp.set_defaults(func=cmd_import_keras)

    p_export = sub.add_parser("export", help="export the trained model to a target", parents=[common])
    ex_sub = p_export.add_subparsers(dest="target_name", required=True, metavar="TARGET")
    from .options import add_arguments as add_option_arguments

    for exporter in export.all_targets():
        p = ex_sub.add_parser(exporter.name, help=exporter.help, parents=[common])
        p.add_argument("--model", type=Path, default=Path("artifacts/model"), help="model directory")
        p.add_argument("--out", type=Path, default=Path("artifacts") / exporter.default_subdir,
                       help="output directory (default: %(default)s)")
        p.add_argument("--no-report", action="store_true",
                       help=f"write only the generated files, not {exporter.name}.report.md (no verification run)")
        add_option_arguments(p, exporter.options)
        p.set_defaults(func=cmd_export)

    p_fw = ex_sub.add_parser("firmware", parents=[common],
                             help="regenerate every committed generated firmware file (model.h, the ESP32 C library, "
                                  "the RISC-V data header) from models/reference, or from --model")
    p_fw.add_argument("--model", type=Path, default=None,
                      help="model directory (default: the committed models/reference)")
    p_fw.add_argument("--pruned", type=Path, default=None,
                      help="pruned model for the RISC-V header (default: models/reference_pruned_50 with the "
                           "reference model, else MODEL's pruned sibling, made if missing)")
    p_fw.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 naming each file that differs from what would be written")
    p_fw.add_argument("--root", type=Path, default=None,
                      help="the checkout whose firmware/ and models/ are used (default: this package's checkout)")
    p_fw.set_defaults(func=cmd_export_firmware)

    p_bench = sub.add_parser("bench", help="measure figures (sizes, counts, times, accuracy) into a table",
                             parents=[common])
    p_bench.add_argument("--model", type=Path, default=Path("artifacts/model"), help="model directory")
    p_bench.add_argument("--out", type=Path, default=Path("artifacts/bench.md"), help="Markdown table output")
    p_bench.add_argument("--only", help="comma-separated sections: " +
                         ", ".join(s.name for s in benchmarks.all_sections()))
    p_bench.add_argument("--seeds", type=int, default=5, help="seeds for the training benchmark")
    p_bench.add_argument("--data", type=Path, default=DEFAULT_CSV,
                         help="CSV for the training benchmark (and, with --layout window, the model's series)")
    _add_layout_args(p_bench)
    p_bench.set_defaults(func=cmd_bench)

    from .commands import add_all

    add_all(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    leading = 0  # `tinylstm --debug run ...`: the common flags belong to the subcommand, so move them after it
    while leading < len(argv) and argv[leading] in ("--debug", "--quiet"):
        leading += 1
    if leading and leading < len(argv):
        argv = argv[leading:] + argv[:leading]
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except UserError as err:
        if debug:
            raise
        print(f"tinylstm: error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as err:  # the file system refused (permissions, full disk, a directory where a file goes)
        if debug:
            raise
        where = f"{err.filename}: " if getattr(err, "filename", None) else ""
        print(f"tinylstm: error: {where}{err.strerror or err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as err:
        print("tinylstm: interrupted" + (f" ({err})" if str(err) else ""), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
