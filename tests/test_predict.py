"""tinylstm predict at scale: the streaming reader, batch sessions and the feature-major golden model.

Deterministic facts only (no wall-clock asserts; the figures are in ``tinylstm bench --only predict``).
"""

from __future__ import annotations

import argparse
import csv
import io

import numpy as np
import pytest
from conftest import REFERENCE_MODEL, require_tool, run_cli

from tinylstm import backends, intgolden, reference
from tinylstm.bundle import Bundle
from tinylstm.data import FeatureReader, read_features_exact, sliding_windows
from tinylstm.errors import DataError
from tinylstm.export import _cbuild as cb
from tinylstm.modeldir import ModelDir

FEATURES = ["ENGINE SIZE", "CYLINDERS", "COEMISSIONS"]


def _rows(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    size = rng.choice(["1.6", "2", "3.5", "5.7", "1.25e0"], n)
    cyl = rng.choice(["4", "6", "8"], n)
    co2 = rng.integers(100, 400, n).astype(str)
    return [f"ACURA,{a},{b},X,{c}" for a, b, c in zip(size, cyl, co2)]


def _awkward_csv(path, n=7000):
    """Several chunks of plain rows with, here and there, what only the exact path handles: blank lines, padded
    cells, a quoted cell spanning lines across a chunk boundary, CRLF line ends."""
    rows = _rows(n)
    rows[3000] = ""
    rows[4000] = "  FORD , 2.0 ,4,X, 200 "
    rows[2047] = '"multi\nline",1.6,4,"X",180'  # starts right before a 2048-line chunk boundary
    rows[5000] = "GMC,3.0,6,,250"  # an empty unused cell
    path.write_bytes(("MAKE,ENGINE SIZE,CYLINDERS,FUEL,COEMISSIONS\r\n" + "\r\n".join(rows) + "\r\n").encode())
    return path


def test_streaming_reader_gives_the_exact_rows_and_values(tmp_path):
    path = _awkward_csv(tmp_path / "a.csv")
    header, rows, X, delim = read_features_exact(path, FEATURES)
    want = []
    for row in rows:  # each row as predict wrote it before streaming (csv.writer)
        buf = io.StringIO()
        csv.writer(buf, delimiter=delim, lineterminator="\n").writerow(row)
        want.append(buf.getvalue()[:-1])
    for chunk_lines in (1, 2048, 5000, 65536):
        reader = FeatureReader(path, FEATURES, chunk_lines)
        chunks = list(reader)
        assert reader.columns == header and reader.delimiter == delim
        assert [r for c in chunks for r in c.rows] == want
        got_X = np.concatenate([c.X for c in chunks])
        np.testing.assert_array_equal(got_X, X)
        assert sum(len(c.rows) for c in chunks) == len(rows) == 6999


def test_chunked_output_is_byte_identical_to_one_batch(tmp_path):
    path = _awkward_csv(tmp_path / "a.csv")
    outs = {}
    for backend, chunk in (("numpy", "1"), ("numpy", "1000000"), ("c-int8", "1"), ("c-int8", "1000000")):
        out = tmp_path / f"{backend}-{chunk}.csv"
        res = run_cli("predict", "--model", str(REFERENCE_MODEL), "--data", str(path), "--out", str(out),
                      "--backend", backend, "--chunk-rows", chunk, "--quiet")
        assert res.returncode == 0, res.stderr
        outs[backend, chunk] = out.read_bytes()
    assert outs["numpy", "1"] == outs["numpy", "1000000"]
    assert outs["c-int8", "1"] == outs["c-int8", "1000000"]
    lines = outs["numpy", "1"].decode().split("\n")
    assert lines[0] == "MAKE,ENGINE SIZE,CYLINDERS,FUEL,COEMISSIONS,COEMISSIONS_predicted".replace(
        "COEMISSIONS_predicted", "FUEL CONSUMPTION_predicted")
    assert '"multi\nline",1.6,4,X,180,' in outs["numpy", "1"].decode()  # csv.writer quoting, as before
    assert "\nFORD,2.0,4,X,200," in outs["numpy", "1"].decode()  # padded cells stripped, as before


@pytest.mark.parametrize("bad, message", [
    ("ACURA,1.6,x4,X,200", "line 5001, column 'CYLINDERS': 'x4' is not a number"),
    ("ACURA,,4,X,200", "line 5001, column 'ENGINE SIZE': missing value, cannot predict this row"),
    ("ACURA,1.6,4,X,1e300", "line 5001, column 'COEMISSIONS': '1e300' is an absurd magnitude"),
    ("ACURA,1.6,4,X,200,1", "line 5001: 6 fields, header has 5"),
])
def test_errors_in_a_late_chunk_name_line_and_column(tmp_path, bad, message):
    rows = _rows(6000)
    rows[4999] = bad  # file line 5001 (header is line 1), in the third 2048-line chunk
    path = tmp_path / "bad.csv"
    path.write_text("MAKE,ENGINE SIZE,CYLINDERS,FUEL,COEMISSIONS\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as err:
        list(FeatureReader(path, FEATURES, 2048))
    assert str(err.value).startswith(f"{path}: {message}")
    res = run_cli("predict", "--model", str(REFERENCE_MODEL), "--data", str(path), "--out",
                  str(tmp_path / "p.csv"), "--backend", "numpy", "--chunk-rows", "2048")
    assert res.returncode != 0 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p.csv").exists()  # nothing published


def test_batch_forward_equals_the_golden_model_and_ignores_batch_boundaries():
    bundle = Bundle.load(REFERENCE_MODEL)
    X = ModelDir.load(REFERENCE_MODEL).rows("test")[0]
    X = np.tile(X, (40, 1))[np.random.default_rng(0).permutation(len(X) * 40)]
    golden = reference.predict(bundle, X)
    f64 = reference.BatchForward(bundle)(X)
    np.testing.assert_allclose(f64, golden, rtol=1e-12)
    f32 = reference.BatchForward(bundle, np.float32)(X)
    assert np.abs(f32 - golden).max() <= 1e-4  # the float engines' tolerance against Keras
    B = reference.BLOCK
    for dtype, whole in ((np.float64, f64), (np.float32, f32)):
        fwd = reference.BatchForward(bundle, dtype)
        parts = np.concatenate([fwd(X[s:s + 3 * B]) for s in range(0, len(X), 3 * B)] )
        np.testing.assert_array_equal(parts.view(np.int64), whole.view(np.int64))
        for k, m in enumerate((1, 3, 7, 31, 100, 1000, B - 1)):  # short calls at block-aligned offsets
            start = (k % 3) * B
            np.testing.assert_array_equal(fwd(X[start:start + m]).view(np.int64),
                                          whole[start:start + m].view(np.int64))


def test_c_sessions_equal_the_golden_models():
    require_tool("gcc")
    model = ModelDir.load(REFERENCE_MODEL)
    X = model.rows("test")[0]
    X = np.tile(X, (8, 1))
    batches = [X[:1000], X[1000:1001], X[1001:]]
    with backends.session("c-int8", REFERENCE_MODEL, argparse.Namespace(c_workers=2)) as run:
        y8 = np.concatenate(list(run(batches)))
    np.testing.assert_array_equal(cb.float_bits(y8.astype(np.float32)),
                                  cb.float_bits(intgolden.predict(intgolden.quantize(model.bundle), X)))
    with backends.session("c-float", REFERENCE_MODEL, argparse.Namespace(c_workers=3)) as run:
        yf = np.concatenate(list(run(batches)))
    # the batch engine (-O3) gives the very bits of the text-protocol engine (-O2) the other tests verify
    np.testing.assert_array_equal(yf, backends.run("c-float", REFERENCE_MODEL, X))
    assert np.abs(yf - reference.predict(model.bundle, X)).max() <= 1e-4


def test_sliding_windows_are_views_not_copies():
    series = np.arange(60, dtype=np.float32).reshape(20, 3)
    X, y = sliding_windows(series, 5, 2)
    assert np.shares_memory(X, series) and np.shares_memory(y, series)
    np.testing.assert_array_equal(X[3], series[3:8])
