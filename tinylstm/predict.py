"""``tinylstm predict``: raw CSV rows in, the same rows plus a prediction column out."""

from __future__ import annotations

import argparse
import csv
import io
import math
from pathlib import Path

import numpy as np

from . import atomic, backends
from .bundle import Bundle
from .data import _column_index, _parse_cell, read_table
from .errors import DataError


def read_features(path: Path, features: list[str]) -> tuple[list[str], list[list[str]], np.ndarray, str]:
    """Read a CSV's feature columns as floats (any extra columns are carried along untouched).

    Returns (header, rows, X, delimiter). A missing or non-numeric feature cell is an error: a prediction
    cannot be made for that row.
    """
    table = read_table(path)
    idx = [_column_index(table, f) for f in features]
    rows, values = [], []
    decimal_comma = table.delimiter != ","
    for offset, row in enumerate(table.rows):
        if not any(row):
            continue
        line = table.line_of(offset)
        if len(row) > len(table.columns):
            raise DataError(f"{table.path}: line {line}: {len(row)} fields, header has {len(table.columns)}")
        row = row + [""] * (len(table.columns) - len(row))  # short row: keep the prediction in its column
        vals = [_parse_cell(table.path, line, f, row[i], decimal_comma) for f, i in zip(features, idx)]
        for f, v in zip(features, vals):
            if math.isnan(v):
                raise DataError(f"{table.path}: line {line}, column {f!r}: missing value, cannot predict this row")
        rows.append(row)
        values.append(vals)
    return table.columns, rows, np.asarray(values, dtype=np.float64), table.delimiter


def predict_csv(model_dir: Path, data: Path, out: Path, backend: str, args: argparse.Namespace) -> int:
    """Write ``out`` = rows of ``data`` + a ``<target>_predicted`` column; returns the row count."""
    from .pipeline import check_output_dir

    bundle = Bundle.load(model_dir)
    backends.get(backend)  # fail on an unknown name before reading anything
    if Path(out).is_dir():
        raise DataError(f"--out {out}: is a directory; give the output CSV's file name")
    check_output_dir(Path(out).parent, "--out")
    header, rows, X, delimiter = read_features(Path(data), bundle.features)
    y = backends.run(backend, model_dir, X, args)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow([*header, f"{bundle.target}_predicted"])
    for row, pred in zip(rows, y):
        writer.writerow([*row, f"{pred:.9g}"])  # 9 digits: float32 results round-trip exactly
    atomic.write_text(out, buf.getvalue())
    return len(rows)
