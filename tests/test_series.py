"""The ``window`` layout's data layer (tinylstm.series): reading, windows, leakage-free splits, bad input.

Small CSVs written by the tests, with known contents, so every expected value is counted by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinylstm.errors import DataError
from tinylstm.series import SeriesSpec, check_classes, load_series, split_windows, windows


def _write(tmp_path: Path, text: str, name: str = "s.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _series_csv(tmp_path: Path, n: int = 40, shuffle: bool = False, dates: bool = False) -> Path:
    """x = row number, y = 10 * row number, time = row number (or a date per day); optionally rows shuffled."""
    rows = [(f"2026-01-{1 + k // 24:02d} {k % 24:02d}:00" if dates else str(k), k, 10 * k) for k in range(n)]
    if shuffle:
        rows = [rows[i] for i in np.random.default_rng(0).permutation(n)]
    return _write(tmp_path, "t,x,y\n" + "".join(f"{t},{x},{y}\n" for t, x, y in rows))


# ------------------------------------------------------------------------------------------- reading
@pytest.mark.parametrize("dates", [False, True])
def test_rows_sorted_by_time_column_numbers_or_dates(tmp_path, dates):
    path = _series_csv(tmp_path, 30, shuffle=True, dates=dates)
    s = load_series(path, ["x"], "y", SeriesSpec(window=3, time_column="t"))
    assert s.X[:, 0].tolist() == list(range(30))
    assert s.y.tolist() == [10.0 * k for k in range(30)]


def test_file_order_without_time_column(tmp_path):
    path = _series_csv(tmp_path, 12, shuffle=True)
    s = load_series(path, ["x"], "y", SeriesSpec(window=3))
    want = [int(line.split(",")[1]) for line in path.read_text().splitlines()[1:]]
    assert s.X[:, 0].tolist() == want


def test_window_contents_and_horizon(tmp_path):
    path = _series_csv(tmp_path, 10)
    s = load_series(path, ["x"], "y", SeriesSpec(window=3, horizon=2, time_column="t"))
    w = windows(s, SeriesSpec(window=3, horizon=2, time_column="t"))
    # windows start at rows 0..5 (a target 2 rows after the last row must exist: last <= 9 - 2)
    assert len(w) == 6 and w.dropped_no_target == 2
    assert w.X[0, :, 0].tolist() == [0, 1, 2] and w.y[0] == 40.0
    assert w.X[5, :, 0].tolist() == [5, 6, 7] and w.y[5] == 90.0


def test_default_horizon_is_1_for_regression_0_for_classification():
    assert SeriesSpec(window=4).h == 1 and SeriesSpec(window=4, task="classify").h == 0


def test_windows_skip_missing_values_and_say_how_many(tmp_path):
    text = "x,y\n" + "".join(f"{'' if k == 5 else k},{k}\n" for k in range(12))
    spec = SeriesSpec(window=3, horizon=0)
    w = windows(load_series(_write(tmp_path, text), ["x"], "y", spec), spec)
    # 10 windows of 3 in 12 rows; the 3 that contain row 5 are dropped
    assert len(w) == 7 and w.dropped_missing == 3
    assert not np.isnan(w.X).any()
    assert "dropped 3 window(s): 3 span a row with a missing feature value" in w.describe(spec, 12)


def test_windows_never_cross_a_group(tmp_path):
    text = "g,t,x,y\n" + "".join(f"{g},{t},{100 * g + t},{g}\n" for g in range(3) for t in range(5))
    spec = SeriesSpec(window=3, horizon=0, group_column="g", time_column="t")
    w = windows(load_series(_write(tmp_path, text), ["x"], "y", spec), spec)
    assert len(w) == 9  # 3 per group of 5 rows
    for k in range(len(w)):
        assert len({int(v) // 100 for v in w.X[k, :, 0]}) == 1


def test_class_labels_sorted_numbers_numerically_text_alphabetically(tmp_path):
    num = "x,y\n" + "".join(f"{k},{[10, 9, 2][k % 3]}\n" for k in range(12))
    s = load_series(_write(tmp_path, num), ["x"], "y", SeriesSpec(window=2, task="classify"))
    assert s.classes == ["2", "9", "10"] and s.y[:3].tolist() == [2, 1, 0]
    txt = "x,y\n" + "".join(f"{k},{['walk', 'idle', 'run'][k % 3]}\n" for k in range(12))
    s = load_series(_write(tmp_path, txt, "t.csv"), ["x"], "y", SeriesSpec(window=2, task="classify"))
    assert s.classes == ["idle", "run", "walk"] and s.y[:3].tolist() == [2, 0, 1]


# ------------------------------------------------------------------------------------------- splits
def _rows_of(w, idx, spec):
    rows = set()
    for k in idx:
        rows.update(range(int(w.last[k]) - spec.window + 1, int(w.last[k]) + 1))
        rows.add(int(w.target_row[k]))
    return rows


def test_chronological_split_purges_every_shared_row(tmp_path):
    spec = SeriesSpec(window=5, horizon=3, time_column="t")
    w = windows(load_series(_series_csv(tmp_path, 200), ["x"], "y", spec), spec)
    sp = split_windows(w, spec)
    train, val, test = (_rows_of(w, i, spec) for i in (sp.train, sp.validation, sp.test))
    assert not train & test and not train & val
    assert sp.purged > 0
    # chronological: every training window ends before every validation window, validation before test
    assert w.last[sp.train].max() < w.last[sp.validation].min() <= w.last[sp.validation].max() < w.last[sp.test].min()
    assert abs(len(sp.test) / len(w) - 0.3) < 0.01


@pytest.mark.parametrize("split", ["chronological", "random"])
def test_a_group_never_lands_in_two_splits(tmp_path, split):
    text = "g,t,x,y\n" + "".join(f"{g},{t},{t},{g % 2}\n" for g in range(20) for t in range(6))
    spec = SeriesSpec(window=3, horizon=0, group_column="g", time_column="t", split=split)
    w = windows(load_series(_write(tmp_path, text), ["x"], "y", spec), spec)
    sp = split_windows(w, spec)
    parts = [set(w.group[i].tolist()) for i in (sp.train, sp.validation, sp.test)]
    assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]
    assert sum(len(p) for p in parts) == 20


def test_random_split_is_seeded(tmp_path):
    spec = SeriesSpec(window=3, split="random", split_seed=7)
    w = windows(load_series(_series_csv(tmp_path, 60), ["x"], "y", spec), spec)
    a, b = split_windows(w, spec), split_windows(w, spec)
    assert np.array_equal(a.test, b.test) and np.array_equal(a.train, b.train)
    c = split_windows(w, SeriesSpec(window=3, split="random", split_seed=8))
    assert not np.array_equal(a.test, c.test)


# ------------------------------------------------------------------------------------------- bad input
def _err(fn, *args, **kw) -> str:
    with pytest.raises(DataError) as e:
        fn(*args, **kw)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_window_longer_than_series(tmp_path):
    spec = SeriesSpec(window=50)
    s = load_series(_series_csv(tmp_path, 20), ["x"], "y", spec)
    assert "a window of 50 rows is longer than the series (20 rows)" in _err(windows, s, spec)


def test_horizon_past_end(tmp_path):
    spec = SeriesSpec(window=15, horizon=10)
    s = load_series(_series_csv(tmp_path, 20), ["x"], "y", spec)
    assert "horizon 10 reaches past the end of the series (20 rows)" in _err(windows, s, spec)


def test_unparseable_time(tmp_path):
    path = _write(tmp_path, "t,x,y\n0,1,2\nyesterday-ish,2,3\n")
    msg = _err(load_series, path, ["x"], "y", SeriesSpec(window=1, time_column="t"))
    assert "line 3, column 't'" in msg and "neither a number nor a date" in msg


def test_duplicated_time(tmp_path):
    path = _write(tmp_path, "t,x,y\n0,1,2\n1,2,3\n0,3,4\n")
    msg = _err(load_series, path, ["x"], "y", SeriesSpec(window=1, time_column="t"))
    assert "lines 2 and 4, column 't': the same time '0' twice" in msg


def test_labels_mixing_numbers_and_text(tmp_path):
    path = _write(tmp_path, "x,y\n1,3\n2,cat\n3,3\n")
    msg = _err(load_series, path, ["x"], "y", SeriesSpec(window=1, task="classify"))
    assert "line 3, column 'y': label 'cat' is text but line 2 holds the number '3'" in msg


def test_class_with_fewer_than_two_samples(tmp_path):
    path = _write(tmp_path, "x,y\n" + "".join(f"{k},{'b' if k == 7 else 'a'}\n" for k in range(20)))
    spec = SeriesSpec(window=1, task="classify")
    s = load_series(path, ["x"], "y", spec)
    msg = _err(check_classes, windows(s, spec), s.classes, path, "y")
    assert "class 'b' has 1 window(s); every class needs at least 2" in msg


def test_more_classes_than_a_target_holds(tmp_path):
    path = _write(tmp_path, "x,y\n" + "".join(f"{k},{k // 2}\n" for k in range(600)))
    spec = SeriesSpec(window=1, task="classify")
    s = load_series(path, ["x"], "y", spec)
    assert "300 classes, at most 256 supported" in _err(check_classes, windows(s, spec), s.classes, path, "y")


def test_window_layout_needs_features(tmp_path):
    assert "needs --features" in _err(load_series, _series_csv(tmp_path, 5), [], "y", SeriesSpec(window=2))


def test_missing_group_value(tmp_path):
    path = _write(tmp_path, "g,x,y\na,1,2\n,2,3\n")
    assert "line 3, column 'g': missing group value" in _err(
        load_series, path, ["x"], "y", SeriesSpec(window=1, group_column="g"))
