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
from .data import FeatureChunk, FeatureReader, read_features_exact
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
    backends.get(backend)  # fail on an unknown name before reading anything
    if Path(out).is_dir():
        raise DataError(f"--out {out}: is a directory; give the output CSV's file name")
    check_output_dir(Path(out).parent, "--out")
    size = chunk_rows_of(args)
    reader = FeatureReader(Path(data), bundle.features, chunk_lines=size)
    d = reader.delimiter
    head = io.StringIO()
    csv.writer(head, delimiter=d, lineterminator="\n").writerow([*reader.columns, f"{bundle.target}_predicted"])
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
                # 9 significant digits: float32 results round-trip exactly
                parts.append("".join([f"{row}{d}{p:.9g}\n" for row, p in zip(batch.rows, y.tolist())]))
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
