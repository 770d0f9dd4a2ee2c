"""``tinylstm predict``: raw CSV rows in, the same rows plus a prediction column out.

The CSV is streamed: :class:`~tinylstm.data.FeatureReader` reads it in chunks, the backend's session predicts
each batch (the C engines once per batch, in worker processes), and the rows are written to a temporary file that
is renamed onto ``--out`` at the end. Memory stays flat in the row count. Batches hold exactly ``chunk_rows``
rows (a multiple of :data:`~tinylstm.reference.BLOCK`), so every backend sees the same batch boundaries however
the file's lines fall, and the output is byte-identical for every chunk size.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import csv
import io
from pathlib import Path
from typing import Iterator

import numpy as np

from . import atomic, backends
from .bundle import Bundle
from .data import FeatureChunk, FeatureReader, read_features_exact, read_table
from .errors import DataError, UserError
from .reference import BLOCK

#: Rows per batch by default (about 1 MB of CSV).
DEFAULT_CHUNK_ROWS = 32 * BLOCK


def read_features(path: Path, features: list[str]) -> tuple[list[str], list[list[str]], np.ndarray, str]:
    """The whole file's feature columns at once: (header, rows, X, delimiter) (see :func:`read_features_exact`)."""
    return read_features_exact(Path(path), features)


def chunk_rows_of(args: argparse.Namespace) -> int:
    """``--chunk-rows`` rounded up to a multiple of :data:`~tinylstm.reference.BLOCK` (one-line error if < 1)."""
    n = getattr(args, "chunk_rows", None) or DEFAULT_CHUNK_ROWS
    if n < 1:
        raise UserError(f"--chunk-rows must be >= 1, got {n}")
    return -(-n // BLOCK) * BLOCK


def batches(chunks: Iterator[FeatureChunk], size: int) -> Iterator[FeatureChunk]:
    """Re-cut chunks into batches of exactly ``size`` rows (the last one shorter)."""
    rows: list[str] = []
    xs: list[np.ndarray] = []
    have = 0
    for chunk in chunks:
        rows.extend(chunk.rows)
        xs.append(chunk.X)
        have += len(chunk.rows)
        while have >= size:
            X = np.concatenate(xs) if len(xs) > 1 else xs[0]
            yield FeatureChunk(rows[:size], X[:size])
            rows, xs, have = rows[size:], [X[size:]], have - size
    if have:
        yield FeatureChunk(rows, np.concatenate(xs))


def predict_csv(model_dir: Path, data: Path, out: Path, backend: str, args: argparse.Namespace) -> int:
    """Write ``out`` = rows of ``data`` + a ``<target>_predicted`` column; returns the row count."""
    from .pipeline import check_output_dir

    bundle = Bundle.load(model_dir)
    if bundle.layout == "window":
        return predict_windows_csv(model_dir, data, out, backend, args)
    if getattr(args, "next", False) or getattr(args, "proba", False):
        raise UserError("--next and --proba are for window-layout models (forecasts, classifiers)")
    backends.get(backend)  # fail on an unknown name before reading anything
    if Path(out).is_dir():
        raise DataError(f"--out {out}: is a directory; give the output CSV's file name")
    check_output_dir(Path(out).parent, "--out")
    size = chunk_rows_of(args)
    reader = FeatureReader(Path(data), bundle.features, chunk_lines=size)
    d = reader.delimiter
    head = io.StringIO()
    csv.writer(head, delimiter=d, lineterminator="\n").writerow([*reader.columns, f"{bundle.target}_predicted"])
    line_format = "%s" + d.replace("%", "%%") + "%.9g\n"
    n = 0
    pending: collections.deque[FeatureChunk] = collections.deque()

    def inputs() -> Iterator[np.ndarray]:
        for batch in batches(iter(reader), size):
            pending.append(batch)
            yield batch.X

    parts = [head.getvalue()]  # the output until it outgrows one batch: then it streams to a temporary file
    with contextlib.ExitStack() as stack:
        run = stack.enter_context(backends.session(backend, model_dir, args))
        f = None
        try:
            for y in run(inputs()):
                batch = pending.popleft()
                if len(y) != len(batch.rows):
                    raise UserError(f"backend {backend} returned {len(y)} predictions for {len(batch.rows)} rows")
                # 9 significant digits: float32 results round-trip exactly (one %-format of the whole batch,
                # rows and values as its arguments: the bytes of f"{row}{d}{p:.9g}\n" per row, in a third less CPU)
                cells: list = [None] * (2 * len(batch.rows))
                cells[::2], cells[1::2] = batch.rows, y.tolist()
                parts.append(line_format * len(batch.rows) % tuple(cells))
                n += len(batch.rows)
                if f is None and len(parts) > 2:
                    tmp = stack.enter_context(atomic.atomic_path(out))
                    f = stack.enter_context(open(tmp, "w", encoding="utf-8", newline=""))
                if f is not None:
                    f.write("".join(parts))
                    parts = []
            if f is None:
                atomic.write_text(out, "".join(parts))
        except OSError as err:  # name the output the user gave, not the temporary file
            if f is None or err.errno is None:
                raise
            raise OSError(err.errno, err.strerror, str(out)) from None
    return n


# ------------------------------------------------------------------------------------------ window layout
def predict_windows_csv(model_dir: Path, data: Path, out: Path, backend: str, args: argparse.Namespace) -> int:
    """A window-layout model on a time-series CSV: every input row (file order) plus ``<target>_predicted`` on the
    row each window predicts (empty where no full window precedes it); a classifier writes the class name and,
    with ``--proba``, one ``<target>_p_<class>`` column per class. Returns the number of windows predicted.

    Windows whose target row lies past the end of the series (the last H of each sequence) are predicted too:
    ``--next`` prints them (the forecast a user most wants); they have no row to be written on.
    """
    from .modeldir import ModelDir
    from .pipeline import check_output_dir
    from .series import load_series, windows

    md = ModelDir.load(model_dir)
    bundle, spec = md.bundle, md.series_spec
    if getattr(args, "proba", False) and not bundle.is_classifier:
        raise UserError(f"--proba: {model_dir} is a forecast (regression), it has no class probabilities")
    backends.get(backend)
    if Path(out).is_dir():
        raise DataError(f"--out {out}: is a directory; give the output CSV's file name")
    check_output_dir(Path(out).parent, "--out")
    table = read_table(Path(data))
    target = bundle.target if bundle.target in table.columns and bundle.target not in bundle.features else None
    series = load_series(Path(data), bundle.features, target, spec, bundle.classes if target else None)
    w = windows(series, spec, need_target=False)
    if not len(w):
        raise DataError(f"{data}: no full window of {spec.window} rows without a missing value")
    size = chunk_rows_of(args)
    parts = []
    with backends.session(backend, model_dir, args) as run:
        for y in run(w.X[k:k + size].reshape(-1, bundle.n_inputs) for k in range(0, len(w), size)):
            parts.append(np.asarray(y))
    pred = np.concatenate(parts)
    proba = bool(getattr(args, "proba", False)) and bundle.is_classifier
    extra = [f"{bundle.target}_predicted"] + ([f"{bundle.target}_p_{c}" for c in bundle.classes] if proba else [])
    cells: dict[int, list[str]] = {}
    for k in np.flatnonzero(w.target_row >= 0):
        offset = int(series.offset[w.target_row[k]])
        cells[offset] = _cells(bundle, pred[k], proba)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=table.delimiter, lineterminator="\n")
    writer.writerow([*table.columns, *extra])
    width = len(table.columns)
    for offset, row in enumerate(table.rows):
        if not any(row):
            continue
        writer.writerow([*(row + [""] * (width - len(row))), *cells.get(offset, [""] * len(extra))])
    atomic.write_text(out, buf.getvalue())
    if getattr(args, "next", False):
        _print_next(bundle, spec, series, w, pred, table)
    return len(w)


def _cells(bundle: Bundle, y: np.ndarray, proba: bool) -> list[str]:
    if not bundle.is_classifier:
        return [f"{float(y):.9g}"]
    out = [bundle.classes[int(np.argmax(y))]]
    return out + ([f"{float(p):.9g}" for p in y] if proba else [])


def _print_next(bundle: Bundle, spec, series, w, pred: np.ndarray, table) -> None:
    """The prediction for the row H steps after each sequence's last row (``--next``)."""
    for g in dict.fromkeys(w.group.tolist()):
        k = int(np.flatnonzero(w.group == g)[-1])
        rows_in_group = np.flatnonzero(series.group == g)
        if w.last[k] != rows_in_group[-1]:
            continue  # the sequence's last row does not end a full window (a missing value): nothing to forecast
        line = int(series.line[w.last[k]])
        where = f"after line {line}"
        if spec.group_column:
            row = table.rows[series.offset[w.last[k]]]
            where += f" ({spec.group_column} {row[table.columns.index(spec.group_column)]})"
        value = _cells(bundle, pred[k], bundle.is_classifier)
        print(f"next: {bundle.target} {spec.h} step(s) {where}: {', '.join(value)}")
