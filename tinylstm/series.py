"""The ``window`` layout: a CSV read as one or more time series, cut into windows, split without leakage.

A sample is W consecutive rows of the ``features`` columns (F values per step, step-major); its target is the
``target`` column at the row H steps after the window's last row (H = 0: the last row itself). The series is
sorted by the time column when one is given (``pandas.to_datetime`` or numbers), kept in file order otherwise.
With a group column the file holds several independent sequences: a window never crosses a change of group, and
a group never lands in two splits. A window never spans a row with a missing value.

Splits (indices into the window list, which is in series order):

* ``chronological`` (default): the first 70 % of the windows (or of the groups, in time order) train, the last
  30 % test; validation is the end of the training windows. Between consecutive parts a **purge gap** drops the
  training windows whose rows (inputs or target) overlap the next part's, so no row of a test or validation
  window belongs to a training window.
* ``random``: windows (or whole groups) drawn with the split seed; validation drawn from the training part.

Every problem a user can cause raises :class:`~tinylstm.errors.DataError` naming the file and, where known, the
line and column.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .data import _MISSING, RawTable, _column_index, _parse_cell, read_table, sha256_of
from .errors import DataError

TASKS = ("regress", "classify")
SPLITS = ("chronological", "random")
#: Fewest windows that still give train, validation and test windows.
MIN_WINDOWS = 10


@dataclass(frozen=True)
class SeriesSpec:
    """How a CSV becomes windows (the ``--layout window`` options). Stored in the bundle's ``meta["series"]``."""

    window: int
    horizon: int | None = None  #: None: 1 for regression, 0 for classification
    time_column: str | None = None
    group_column: str | None = None
    task: str = "regress"
    split: str = "chronological"
    test_size: float = 0.3
    validation_split: float = 0.2
    split_seed: int = 42

    @property
    def h(self) -> int:
        """The horizon H in steps (the default resolved)."""
        if self.horizon is not None:
            return int(self.horizon)
        return 0 if self.task == "classify" else 1

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["horizon"] = self.h
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SeriesSpec":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def check(self) -> None:
        if self.window < 1:
            raise DataError(f"--window must be >= 1, got {self.window}")
        if self.horizon is not None and self.horizon < 0:
            raise DataError(f"--horizon must be >= 0, got {self.horizon}")
        if self.task not in TASKS:
            raise DataError(f"--task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.split not in SPLITS:
            raise DataError(f"--split must be one of {', '.join(SPLITS)}, got {self.split!r}")


@dataclass
class Series:
    """The cleaned series in row order (sorted by time within each group): per-row values and bookkeeping."""

    path: Path
    features: list[str]
    target: str
    X: np.ndarray  #: (T, F) float64, NaN where missing
    y: np.ndarray  #: (T,) float64 target values (regression) or class index (classification), NaN where missing
    group: np.ndarray  #: (T,) int group id (0 without a group column), in order of appearance
    line: np.ndarray  #: (T,) 1-based file line of each row
    offset: np.ndarray  #: (T,) 0-based data-row offset in the file (for predict's output)
    classes: list[str] = field(default_factory=list)
    rows_read: int = 0
    sha256: str = ""


@dataclass
class Windows:
    """Every full window of a :class:`Series`: ``X`` (n, W, F) raw, ``y`` (n,), ``last`` (n,) the series row of
    each window's last step, ``target_row`` (n,) the row its target is read from (-1: past the series' end)."""

    X: np.ndarray
    y: np.ndarray
    last: np.ndarray
    target_row: np.ndarray
    group: np.ndarray
    dropped_missing: int = 0
    dropped_no_target: int = 0
    dropped_target_missing: int = 0

    def __len__(self) -> int:
        return len(self.y)

    def describe(self, spec: SeriesSpec, n_rows: int) -> str:
        why = []
        if self.dropped_missing:
            why.append(f"{self.dropped_missing} span a row with a missing feature value")
        if self.dropped_target_missing:
            why.append(f"{self.dropped_target_missing} have a missing target")
        if self.dropped_no_target:
            why.append(f"{self.dropped_no_target} have no row {spec.h} step(s) after their end")
        dropped = sum((self.dropped_missing, self.dropped_no_target, self.dropped_target_missing))
        return (f"{n_rows} rows → {len(self)} windows of {spec.window} step(s), horizon {spec.h}"
                + (f"; dropped {dropped} window(s): " + ", ".join(why) if dropped else "; none dropped"))


# ------------------------------------------------------------------------------------------------- reading
def _times(table: RawTable, col: int, name: str, offsets: list[int]) -> np.ndarray:
    """The time column as sortable float64 (numbers as they are, dates as nanoseconds)."""
    cells = [table.rows[o][col] if col < len(table.rows[o]) else "" for o in offsets]
    for o, cell in zip(offsets, cells):
        if cell.lower() in _MISSING:
            raise DataError(f"{table.path}: line {table.line_of(o)}, column {name!r}: missing time value")
    numbers = [_is_float(c) for c in cells]
    if all(numbers):
        return np.array([float(c) for c in cells], dtype=np.float64)
    if numbers[0]:  # numeric times with a stray cell: name the cell, not the first (good) number
        o = offsets[numbers.index(False)]
        raise DataError(f"{table.path}: line {table.line_of(o)}, column {name!r}: {cells[numbers.index(False)]!r} "
                        f"is neither a number nor a date/time (line {table.line_of(offsets[0])} holds a number)")
    import pandas as pd

    for o, cell in zip(offsets, cells):
        try:
            pd.to_datetime(cell)
        except (ValueError, TypeError, OverflowError):
            raise DataError(f"{table.path}: line {table.line_of(o)}, column {name!r}: {cell!r} is neither a "
                            f"number nor a date/time") from None
    stamps = pd.to_datetime(pd.Series(cells), format="mixed")
    return stamps.astype("int64").to_numpy().astype(np.float64)


def _labels(table: RawTable, path: Path, cells: list[str], lines: list[int], target: str
            ) -> tuple[np.ndarray, list[str]]:
    """Class labels → (indices with NaN for missing, sorted class names; numbers sorted numerically)."""
    present = [(c, ln) for c, ln in zip(cells, lines) if c.lower() not in _MISSING]
    numeric = [(c, ln) for c, ln in present if _is_float(c)]
    if numeric and len(numeric) != len(present):
        text = next((c, ln) for c, ln in present if not _is_float(c))
        raise DataError(f"{path}: line {text[1]}, column {target!r}: label {text[0]!r} is text but line "
                        f"{numeric[0][1]} holds the number {numeric[0][0]!r}; labels must be all numbers or all text")
    if numeric:
        values = sorted({float(c) for c, _ in present})
        names = [_number_name(v) for v in values]
        index = {v: k for k, v in enumerate(values)}
        y = np.array([index[float(c)] if c.lower() not in _MISSING else math.nan for c in cells], np.float64)
    else:
        names = sorted({c for c, _ in present})
        index = {v: k for k, v in enumerate(names)}
        y = np.array([index[c] if c.lower() not in _MISSING else math.nan for c in cells], np.float64)
    return y, names


def _is_float(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _number_name(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def load_series(path: str | Path, features: Sequence[str], target: str | None, spec: SeriesSpec,
                classes: Sequence[str] | None = None) -> Series:
    """Read ``path`` as a time series (see the module docstring). ``target=None``: features only (predict).

    ``classes``: a trained classifier's class names (labels outside them are errors); default: found here.
    """
    spec.check()
    path = Path(path)
    features = [f.strip() for f in features]
    if not features or not all(features):
        raise DataError(f"{path}: the window layout needs --features (the columns read at each step)")
    repeated = sorted({f for f in features if features.count(f) > 1})
    if repeated:
        raise DataError(f"{path}: feature column(s) given more than once: {', '.join(repeated)}")
    table = read_table(path)
    idx = [_column_index(table, f) for f in features]
    t_idx = _column_index(table, spec.time_column) if spec.time_column else None
    g_idx = _column_index(table, spec.group_column) if spec.group_column else None
    y_idx = _column_index(table, target) if target else None
    for name, i in (("time", t_idx), ("group", g_idx)):
        if i is not None and i in idx:
            raise DataError(f"{path}: the {name} column {table.columns[i]!r} is also a feature")
    width = len(table.columns)
    offsets = [o for o, row in enumerate(table.rows) if any(row)]
    for o in offsets:
        if len(table.rows[o]) > width:
            raise DataError(f"{path}: line {table.line_of(o)}: {len(table.rows[o])} fields, header has {width}")
    rows = [table.rows[o] + [""] * (width - len(table.rows[o])) for o in offsets]
    lines = [table.line_of(o) for o in offsets]
    decimal_comma = table.delimiter != ","
    X = np.array([[_parse_cell(path, ln, f, r[i], decimal_comma) for f, i in zip(features, idx)]
                  for r, ln in zip(rows, lines)], dtype=np.float64).reshape(len(rows), len(idx))
    names: list[str] = []
    if y_idx is None:
        y = np.full(len(rows), math.nan)
    elif spec.task == "classify":
        y, names = _labels(table, path, [r[y_idx] for r in rows], lines, target)
        if classes is not None:
            known = {c: k for k, c in enumerate(classes)}
            stray = [n for n in names if n not in known]
            if stray:
                raise DataError(f"{path}: column {target!r}: label {stray[0]!r} is not one of the model's classes")
            remap = np.array([known[n] for n in names], np.float64)
            y = np.where(np.isnan(y), np.nan, remap[np.nan_to_num(y).astype(int)])
            names = list(classes)
    else:
        y = np.array([_parse_cell(path, ln, target, r[y_idx], decimal_comma) for r, ln in zip(rows, lines)])
    # groups: ids in order of first appearance (without a time column, a change of value starts a new sequence)
    if g_idx is not None:
        keys = [r[g_idx] for r in rows]
        for k, ln in zip(keys, lines):
            if k.lower() in _MISSING:
                raise DataError(f"{path}: line {ln}, column {spec.group_column!r}: missing group value")
        first: dict[str, int] = {}
        group = np.array([first.setdefault(k, len(first)) for k in keys], dtype=np.int64)
    else:
        group = np.zeros(len(rows), dtype=np.int64)
    order = np.arange(len(rows))
    if t_idx is not None:
        times = _times(table, t_idx, spec.time_column, offsets)
        order = np.lexsort((times, group))
        g_sorted, t_sorted = group[order], times[order]
        dup = np.flatnonzero((g_sorted[1:] == g_sorted[:-1]) & (t_sorted[1:] == t_sorted[:-1]))
        if dup.size:
            a, b = order[dup[0]], order[dup[0] + 1]
            raise DataError(f"{path}: lines {lines[min(a, b)]} and {lines[max(a, b)]}, column "
                            f"{spec.time_column!r}: the same time {rows[a][t_idx]!r} twice"
                            + (" in one group" if g_idx is not None else ""))
    elif g_idx is not None:
        # file order: every change of the group value starts a new sequence
        change = np.r_[0, np.cumsum([rows[k][g_idx] != rows[k - 1][g_idx] for k in range(1, len(rows))])]
        group = change.astype(np.int64)
    line_arr = np.asarray(lines, dtype=np.int64)
    return Series(path, features, target or "", X[order], y[order], group[order], line_arr[order],
                  np.asarray(offsets, dtype=np.int64)[order], names, len(rows), sha256_of(path))


def windows(series: Series, spec: SeriesSpec, need_target: bool = True) -> Windows:
    """Every full window of ``series`` (series order). ``need_target=False`` keeps windows whose target row is
    past the series' end or missing (predict)."""
    W, H = spec.window, spec.h
    T = len(series.y)
    if T < W:
        raise DataError(f"{series.path}: a window of {W} rows is longer than the series ({T} rows)")
    if need_target and T < W + H:
        raise DataError(f"{series.path}: window {W} + horizon {H} reaches past the end of the series ({T} rows)")
    bad = np.isnan(series.X).any(axis=1)
    starts = np.arange(T - W + 1)
    last = starts + W - 1
    same_group = series.group[starts] == series.group[last]
    bad_csum = np.r_[0, np.cumsum(bad)]
    clean = (bad_csum[last + 1] - bad_csum[starts]) == 0
    target_row = last + H
    has_row = target_row < T
    target_row = np.where(has_row, target_row, -1)
    in_group = np.where(has_row, series.group[np.clip(target_row, 0, T - 1)] == series.group[last], False)
    ok_target = has_row & in_group
    y = np.where(ok_target, series.y[np.clip(target_row, 0, T - 1)], np.nan)
    keep = same_group & clean
    dropped_missing = int((same_group & ~clean).sum())
    dropped_no_target = dropped_target_missing = 0
    if need_target:
        dropped_no_target = int((keep & ~ok_target).sum())
        keep &= ok_target
        missing_y = keep & np.isnan(y)
        dropped_target_missing = int(missing_y.sum())
        keep &= ~missing_y
    sel = starts[keep]
    X = np.lib.stride_tricks.sliding_window_view(series.X, W, axis=0).transpose(0, 2, 1)[sel]
    return Windows(np.ascontiguousarray(X), y[keep], last[keep], np.where(ok_target, target_row, -1)[keep],
                   series.group[last[keep]], dropped_missing, dropped_no_target, dropped_target_missing)


# --------------------------------------------------------------------------------------------------- splits
@dataclass(frozen=True)
class WindowSplit:
    """Indices into a :class:`Windows` list: train (fit), validation (early stopping), test (reported once)."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    purged: int = 0


def _span(w: Windows, spec: SeriesSpec) -> tuple[np.ndarray, np.ndarray]:
    """First and last series row each window touches (inputs and target)."""
    first = w.last - spec.window + 1
    return first, np.maximum(w.last, w.target_row)


def _purge_before(idx: np.ndarray, nxt: np.ndarray, w: Windows, spec: SeriesSpec) -> tuple[np.ndarray, int]:
    """Drop from ``idx`` the windows whose rows reach the first row of the part ``nxt`` (chronological)."""
    if not len(nxt) or not len(idx):
        return idx, 0
    first, end = _span(w, spec)
    start_next = first[nxt].min()
    keep = idx[end[idx] < start_next]
    return keep, len(idx) - len(keep)


def split_windows(w: Windows, spec: SeriesSpec, path: Path | str = "data") -> WindowSplit:
    """The split of the module docstring. Needs at least :data:`MIN_WINDOWS` windows."""
    n = len(w)
    if n < MIN_WINDOWS:
        raise DataError(f"{path}: only {n} full window(s); need at least {MIN_WINDOWS} to split train/validation/test")
    grouped = spec.group_column is not None and len(np.unique(w.group)) > 1
    if spec.split == "random":
        rng = np.random.default_rng(spec.split_seed)
        if grouped:
            groups = rng.permutation(np.unique(w.group))
            n_test = max(1, int(round(len(groups) * spec.test_size)))
            train_g, test_g = groups[:-n_test], groups[-n_test:]
            n_val = max(1, int(len(train_g) * spec.validation_split))
            val_g, fit_g = train_g[-n_val:], train_g[:-n_val]
            pick = lambda gs: np.flatnonzero(np.isin(w.group, gs))  # noqa: E731
            parts = pick(fit_g), pick(val_g), pick(test_g)
        else:
            perm = rng.permutation(n)
            n_test = max(1, int(round(n * spec.test_size)))
            train, test = perm[:-n_test], perm[-n_test:]
            n_val = max(1, int(len(train) * spec.validation_split))
            parts = np.sort(train[:-n_val]), np.sort(train[-n_val:]), np.sort(test)
        purged = 0
    else:
        if grouped:  # whole groups, in time (series) order
            order = list(dict.fromkeys(w.group.tolist()))
            n_test = max(1, int(round(len(order) * spec.test_size)))
            n_val = max(1, int((len(order) - n_test) * spec.validation_split))
            fit_g, val_g, test_g = (order[:-n_test - n_val], order[-n_test - n_val:-n_test], order[-n_test:])
            pick = lambda gs: np.flatnonzero(np.isin(w.group, gs))  # noqa: E731
            parts, purged = (pick(fit_g), pick(val_g), pick(test_g)), 0
        else:
            cut = n - max(1, int(round(n * spec.test_size)))
            test = np.arange(cut, n)
            train, p1 = _purge_before(np.arange(cut), test, w, spec)
            n_val = max(1, int(len(train) * spec.validation_split))
            val = train[-n_val:]
            fit, p2 = _purge_before(train[:-n_val], val, w, spec)
            parts, purged = (fit, val, test), p1 + p2
    fit, val, test = parts
    if len(fit) < 1 or len(val) < 1 or len(test) < 1:
        raise DataError(f"{path}: {n} windows leave an empty train, validation or test part "
                        f"({len(fit)}/{len(val)}/{len(test)}); use more rows or a shorter window")
    return WindowSplit(np.asarray(fit, np.int64), np.asarray(val, np.int64), np.asarray(test, np.int64), purged)


def check_classes(w: Windows, classes: list[str], path: Path | str, target: str, max_classes: int = 256) -> None:
    """Every class needs at least two windows; at most ``max_classes`` classes."""
    if len(classes) < 2:
        raise DataError(f"{path}: column {target!r}: a classifier needs at least 2 classes, found {len(classes)}")
    if len(classes) > max_classes:
        raise DataError(f"{path}: column {target!r}: {len(classes)} classes, at most {max_classes} supported")
    counts = np.bincount(w.y.astype(np.int64), minlength=len(classes))
    few = [(c, int(k)) for c, k in zip(classes, counts) if k < 2]
    if few:
        raise DataError(f"{path}: column {target!r}: class {few[0][0]!r} has {few[0][1]} window(s); every class "
                        f"needs at least 2")
