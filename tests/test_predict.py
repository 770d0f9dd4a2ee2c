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


def test_numpy_output_is_byte_identical_for_every_worker_count(tmp_path):
    """--numpy-workers threads compute batches side by side: the output is in row order and has the same bytes
    (float32 and float64) whatever the count, and a count < 1 is a one-line error."""
    path = _awkward_csv(tmp_path / "a.csv", n=9000)  # five 2048-row batches: several in flight at once
    for dtype in ("float64", "float32"):
        outs = []
        for workers in ("1", "3"):
            out = tmp_path / f"{dtype}-{workers}.csv"
            res = run_cli("predict", "--model", str(REFERENCE_MODEL), "--data", str(path), "--out", str(out),
                          "--backend", "numpy", "--numpy-dtype", dtype, "--numpy-workers", workers,
                          "--chunk-rows", "2048", "--quiet")
            assert res.returncode == 0, res.stderr
            outs.append(out.read_bytes())
        assert outs[0] == outs[1] and outs[0].count(b"\n") > 9000
    res = run_cli("predict", "--model", str(REFERENCE_MODEL), "--data", str(path), "--out",
                  str(tmp_path / "p.csv"), "--backend", "numpy", "--numpy-workers", "0")
    assert res.returncode != 0 and "--numpy-workers must be >= 1" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_output_lines_are_the_input_row_and_the_prediction_to_9_digits(tmp_path):
    """Each output line is the input line, the delimiter and the prediction as f"{p:.9g}" (the batch is formatted in
    one %-operation: a '%' in a row or a delimiter must come out as it went in)."""
    plain = _rows(3000)
    for d in (",", "%"):
        rows = list(plain)
        if d == ",":
            rows[5], rows[2500] = "A%s%%d,1.6,4,X%,200", "%(x)s,2,4,%,190"
        path = tmp_path / "pct.csv"
        path.write_text(("sep=%\n" if d == "%" else "") + d.join(["MAKE", *FEATURES[:2], "FUEL", FEATURES[2]])
                        + "\n" + "\n".join(r.replace(",", d) for r in rows) + "\n")
        out = tmp_path / "p.csv"
        res = run_cli("predict", "--model", str(REFERENCE_MODEL), "--data", str(path), "--out", str(out),
                      "--backend", "numpy", "--numpy-dtype", "float64", "--quiet")
        assert res.returncode == 0, res.stderr
        X = np.array([[float(r.split(",")[k]) for k in (1, 2, 4)] for r in rows])
        want = reference.BatchForward(Bundle.load(REFERENCE_MODEL))(X)
        lines = out.read_text().split("\n")
        assert lines[-len(rows) - 1:] == [f"{r.replace(',', d)}{d}{p:.9g}" for r, p in zip(rows, want.tolist())] + [""]


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


@pytest.mark.parametrize("name", ["reference", "digits", "forecast"])
def test_int8_batch_entry_point_equals_the_engine_and_the_golden_model(tmp_path, name):
    """tinylstm_predict_batch (the lanes of tinylstm_int8_batch.c, what c-int8 runs in tinylstm predict) gives the
    bits of tinylstm_predict and of tinylstm.intgolden, whatever the batch length (short last lane group, requests of
    1 window) and NaN for exactly the windows with a non-finite input."""
    require_tool("gcc")
    from tinylstm.backends.c import batch_opt

    model = ModelDir.load(REFERENCE_MODEL.parent / name)
    bundle = model.bundle
    n_in = bundle.n_inputs  # raw windows around the scaler's statistics, step-major; 18 groups of 16 lanes + 13
    X = np.random.default_rng(3).normal(0, 1.5, (301, n_in)) * np.resize(bundle.scaler.x_scale, n_in)
    X += np.resize(bundle.scaler.x_mean, n_in)
    X[7, 0], X[40, -1], X[300, 1] = np.nan, np.inf, -np.inf
    lib = cb.export_library(model, "int8", tmp_path / "lib")
    one = cb.build_host(lib, tmp_path / "one")
    batch = cb.build_host(lib, tmp_path / "batch", opt=batch_opt(argparse.Namespace()), batch=True)
    k = bundle.n_outputs
    got = cb.run_host_batch(batch, X, k)
    bad = ~np.isfinite(X).all(axis=1)
    assert np.isnan(got).reshape(len(X), -1).all(axis=1).tolist() == bad.tolist()
    want = cb.run_host_batch(one, X, k)  # the per-window loop over tinylstm_predict
    np.testing.assert_array_equal(cb.float_bits(got), cb.float_bits(want))
    golden = intgolden.predict(intgolden.quantize(bundle), X[~bad])
    np.testing.assert_array_equal(cb.float_bits(got[~bad]), cb.float_bits(golden.astype(np.float32)))
    y_text, _ = cb.run_host(one, X[~bad])  # and the text protocol the other C tests read
    np.testing.assert_array_equal(cb.float_bits(got[~bad]), cb.float_bits(y_text))
    for rows in (1, 16, 17):
        np.testing.assert_array_equal(cb.float_bits(cb.run_host_batch(batch, X[:40], k, rows)),
                                      cb.float_bits(got[:40]))
    plain = cb.build_host(lib, tmp_path / "plain", opt="-O2", batch=True)  # no -march: other code, same bits
    np.testing.assert_array_equal(cb.float_bits(cb.run_host_batch(plain, X, k)), cb.float_bits(got))


def test_streaming_reader_numbers_equal_float_for_every_spelling(tmp_path):
    """The chunk parser (numpy's tokenizer) gives float()'s value for every spelling float() takes: exponents, signs,
    leading zeros, -0, and the forms only float() knows (1_0, non-ASCII digits), which take the exact path."""
    rows = _rows(5000)
    odd = ["1e2", "+2", "-0", ".5", "5.", "0007", "1.5E+02", "1_0", "\u0661", "2.50000000000000011"]
    for k, cell in enumerate(odd):
        rows[1000 + 400 * k] = f"ACURA,{cell},4,X,{cell}"
    path = tmp_path / "odd.csv"
    path.write_text("MAKE,ENGINE SIZE,CYLINDERS,FUEL,COEMISSIONS\n" + "\n".join(rows) + "\n", encoding="utf-8")
    _, _, X, _ = read_features_exact(path, FEATURES)
    for chunk_lines in (2048, 65536):
        got = np.concatenate([c.X for c in FeatureReader(path, FEATURES, chunk_lines)])
        np.testing.assert_array_equal(got.view(np.int64), X.view(np.int64))
    assert [X[1000 + 400 * k, 0] for k in range(len(odd))] == [float(c) for c in odd]
