"""The data layer on the real CSV and on the ways a user's CSV differs from it (in-process, no training).

Expected values come from independent sources: pandas' own CSV reader and cleaning, scikit-learn's split and
StandardScaler, and hand-built files whose content the test knows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from tinylstm.data import (
    DATASET_SHA256,
    DATASET_URL,
    DEFAULT_FEATURES,
    DEFAULT_TARGET,
    MAX_ABS_VALUE,
    Scaler,
    load_dataset,
    read_table,
    sliding_windows,
    split,
    to_sequences,
)
from tinylstm.errors import DataError

USED = [*DEFAULT_FEATURES, DEFAULT_TARGET]


@pytest.fixture(scope="module")
def ref_text(reference_csv) -> str:
    return reference_csv.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def ref_ds(reference_csv):
    return load_dataset(reference_csv)


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _write(tmp_path, name: str, data: str | bytes):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


# ------------------------------------------------------------------------------------------- real file
def test_real_file_cleaning_matches_pandas(reference_csv, ref_ds):
    """639 data rows, one exact duplicate: 638 kept, identical (values and order) to pandas dropna+drop_duplicates."""
    df = pd.read_csv(reference_csv)
    assert "COEMISSIONS " in df.columns  # the real header's trailing space, which the loader strips
    df.columns = [c.strip() for c in df.columns]
    expected = df.dropna(subset=USED).drop_duplicates()
    assert len(df) == 639 and len(expected) == 638
    c = ref_ds.clean
    assert (c.rows_read, c.dropped_duplicate, c.dropped_missing, c.rows_kept) == (639, 1, 0, 638)
    assert ref_ds.features == list(DEFAULT_FEATURES) and ref_ds.target == DEFAULT_TARGET
    np.testing.assert_array_equal(ref_ds.X, expected[list(DEFAULT_FEATURES)].to_numpy(float))
    np.testing.assert_array_equal(ref_ds.y, expected[DEFAULT_TARGET].to_numpy(float))
    assert ref_ds.sha256 == "46cf0d3a2d59074d98d97f361acdf1bd20681b78de4a8b5248a3fe5e517a334e"
    assert ref_ds.units == {"ENGINE SIZE": "L", "CYLINDERS": "count", "COEMISSIONS": "g/km",
                            "FUEL CONSUMPTION": "L/100km"}
    assert "1 duplicate" in c.describe() and "638 rows kept" in c.describe()


def test_dataset_card_states_the_facts_of_the_file(reference_csv):
    import hashlib

    card = (ROOT / "data" / "README.md").read_text()
    assert DATASET_SHA256 in card and DATASET_URL in card
    assert hashlib.sha256(reference_csv.read_bytes()).hexdigest() == DATASET_SHA256
    assert f"| Size | {reference_csv.stat().st_size:,} bytes |" in card
    assert "639 rows" in card and "638" in card and "Open Government Licence – Canada" in card
    for column in ("ENGINE SIZE", "CYLINDERS", "FUEL CONSUMPTION", "COEMISSIONS", "L/100km", "g/km"):
        assert column in card


def test_split_is_the_reference_split(ref_ds, reference_csv):
    """70/30 with random_state=42 on the cleaned frame, as the reference notebook splits its DataFrame."""
    from sklearn.model_selection import train_test_split

    sp = split(len(ref_ds.y))
    assert (len(sp.train), len(sp.test)) == (446, 192)
    assert set(sp.train).isdisjoint(sp.test) and set(sp.train) | set(sp.test) == set(range(638))
    df = pd.read_csv(reference_csv)
    df.columns = [c.strip() for c in df.columns]
    df = df.dropna(subset=USED).drop_duplicates().reset_index(drop=True)
    X_tr, X_te, y_tr, y_te = train_test_split(df[list(DEFAULT_FEATURES)], df[DEFAULT_TARGET], test_size=0.3,
                                              random_state=42)
    np.testing.assert_array_equal(ref_ds.X[sp.train], X_tr.to_numpy(float))
    np.testing.assert_array_equal(ref_ds.y[sp.test], y_te.to_numpy(float))


def test_scaler_uses_training_rows_only(ref_ds, trained):
    from sklearn.preprocessing import StandardScaler

    sp = split(len(ref_ds.y))
    sk = StandardScaler().fit(ref_ds.X[sp.train])
    sc = trained.bundle.scaler
    np.testing.assert_allclose(sc.x_mean, sk.mean_, rtol=1e-12)
    np.testing.assert_allclose(sc.x_scale, sk.scale_, rtol=1e-12)
    sky = StandardScaler().fit(ref_ds.y[sp.train, None])
    assert sc.y_mean == pytest.approx(sky.mean_[0], rel=1e-12)
    assert sc.y_scale == pytest.approx(sky.scale_[0], rel=1e-12)
    # ... and not the statistics of all rows (which would leak the test set)
    assert not np.allclose(sc.x_mean, ref_ds.X.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(sc.transform_x(ref_ds.X[sp.train]), sk.transform(ref_ds.X[sp.train]), atol=1e-12)
    np.testing.assert_allclose(sc.inverse_y(sc.transform_y(ref_ds.y)), ref_ds.y, atol=1e-12)


def test_to_sequences_one_feature_per_step(ref_ds):
    seq = to_sequences(ref_ds.X[:4])
    assert seq.shape == (4, 3, 1) and seq.dtype == np.float32
    np.testing.assert_array_equal(seq[:, :, 0], ref_ds.X[:4].astype(np.float32))


# ------------------------------------------------------------------------------ what users' CSVs look like
def test_blank_and_nan_cells_are_cleaned_and_counted(tmp_path, ref_text, ref_ds):
    lines = _lines(ref_text)
    header = [h.strip() for h in lines[0].split(",")]
    eng, co2 = header.index("ENGINE SIZE"), header.index("COEMISSIONS")
    rows = [line.split(",") for line in lines[1:]]
    rows[3][eng] = ""        # blank
    rows[10][co2] = "NaN"    # pandas-style NaN
    rows[20][eng] = "NA"
    rows[20][co2] = " "      # both in one row: one row dropped, two cells counted
    path = _write(tmp_path, "gaps.csv", "\n".join([lines[0], *(",".join(r) for r in rows)]) + "\n")
    ds = load_dataset(path)
    c = ds.clean
    assert (c.rows_read, c.dropped_missing, c.dropped_duplicate, c.rows_kept) == (639, 3, 1, 635)
    assert c.missing_by_column == {"ENGINE SIZE": 2, "CYLINDERS": 0, "COEMISSIONS": 2, "FUEL CONSUMPTION": 0}
    assert "ENGINE SIZE: 2" in c.describe() and "COEMISSIONS: 2" in c.describe()
    df = pd.read_csv(path, skipinitialspace=True, na_values=[" ", "NA"])
    df.columns = [h.strip() for h in df.columns]
    expected = df.dropna(subset=USED).drop_duplicates()[list(DEFAULT_FEATURES)].to_numpy(float)
    np.testing.assert_array_equal(ds.X, expected)


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_other_delimiters_are_detected(tmp_path, ref_text, ref_ds, delimiter):
    path = _write(tmp_path, "other.csv", ref_text.replace(",", delimiter))
    ds = load_dataset(path)
    assert read_table(path).delimiter == delimiter
    np.testing.assert_array_equal(ds.X, ref_ds.X)
    np.testing.assert_array_equal(ds.y, ref_ds.y)


def test_semicolon_file_with_decimal_commas(tmp_path, ref_text, ref_ds):
    """The European spreadsheet export: ``;`` between cells, ``,`` as the decimal mark."""
    text = ref_text.replace(",", ";").replace(".", ",")
    ds = load_dataset(_write(tmp_path, "eu.csv", text))
    np.testing.assert_array_equal(ds.X, ref_ds.X)
    np.testing.assert_array_equal(ds.y, ref_ds.y)


def test_excel_sep_line(tmp_path, ref_text, ref_ds):
    ds = load_dataset(_write(tmp_path, "sep.csv", "sep=;\n" + ref_text.replace(",", ";")))
    np.testing.assert_array_equal(ds.X, ref_ds.X)


def test_encodings_are_decoded(tmp_path, ref_text, ref_ds):
    lines = _lines(ref_text)
    body = [lines[0] + ",NOTE", *(f"{line},Citroën – 10 €" for line in lines[1:])]
    text = "\n".join(body) + "\n"
    cases = {
        "cp1252": (text.encode("cp1252"), "cp1252"),
        "utf8-bom": (b"\xef\xbb\xbf" + text.encode("utf-8"), "utf-8-sig"),
        "utf16": (text.replace(",", "\t").encode("utf-16"), "utf-16"),  # Excel's "Unicode text", tab-delimited
        # byte 0x8D is undefined in cp1252 (and 0xE9 0x8D is not UTF-8): only Latin-1 decodes it
        "latin1": (text.replace("Citroën – 10 €", "caf\xe9\x8d").encode("latin-1"), "latin-1"),
    }
    for name, (blob, encoding) in cases.items():
        path = _write(tmp_path, f"{name}.csv", blob)
        table = read_table(path)
        assert table.encoding == encoding, name
        assert table.columns[0] == "Year" and table.columns[-1] == "NOTE", name  # no BOM left in a name
        ds = load_dataset(path)
        np.testing.assert_array_equal(ds.X, ref_ds.X, err_msg=name)
    assert read_table(tmp_path / "cp1252.csv").rows[0][-1] == "Citroën – 10 €"


def test_bom_does_not_hide_a_first_column(tmp_path):
    rows = ["A,B,Y"] + [f"{i},{i % 3},{2 * i}" for i in range(20)]
    path = _write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + "\n".join(rows).encode())
    ds = load_dataset(path, ["A", "B"], "Y")
    np.testing.assert_array_equal(ds.X[:, 0], np.arange(20))


def _synthetic(n: int = 30) -> list[str]:
    return ["A,B,C,Y"] + [f"{i},{(i * 7) % 5},{i % 4},{i * 0.5}" for i in range(n)]


@pytest.mark.parametrize("name,make,message", [
    ("missing", None, "no such file"),
    ("empty.csv", lambda: b"", "empty file"),
    ("blank.csv", lambda: b"\n \n\t\n", "empty file"),
    ("header.csv", lambda: b"A,B,C,Y\n", "header only"),
    ("header_blank.csv", lambda: b"A,B,C,Y\n,,,\n\n", "header only"),
    ("binary.csv", lambda: bytes(range(256)) * 4, "binary content"),
    ("nonnum.csv", lambda: "\n".join(_synthetic()).replace("3,1,3,", "3,one,3,").encode(),
     "line 5, column 'B': 'one' is not a number"),
    ("units.csv", lambda: "\n".join(_synthetic()).replace(",2.0\n", ",2.0 L\n").encode(),
     "line 6, column 'Y': '2.0 L' is not a number"),
    ("huge.csv", lambda: "\n".join(_synthetic()).replace("\n7,", "\n1e308,").encode(),
     "line 9, column 'A': '1e308' is an absurd magnitude"),
    ("inf.csv", lambda: "\n".join(_synthetic()).replace("\n7,", "\ninf,").encode(), "'inf' is an absurd magnitude"),
    ("neginf.csv", lambda: "\n".join(_synthetic()).replace(",3.5\n", ",-Infinity\n").encode(),
     "column 'Y': '-Infinity' is an absurd magnitude"),
    ("big.csv", lambda: "\n".join(_synthetic()).replace("\n7,", f"\n{MAX_ABS_VALUE * 10:g},").encode(),
     "absurd magnitude"),
    ("dupcol.csv", lambda: "\n".join(_synthetic()).replace("A,B,C,Y", "A,B,B,Y").encode(),
     "column 'B' appears 2 times in the header (columns 2 and 3)"),
    ("ragged.csv", lambda: "\n".join(_synthetic()).replace("\n4,3,0,2.0\n", "\n4,3,0,2.0,9,9\n").encode(),
     "line 6: 6 fields, header has 4"),
    ("few.csv", lambda: "\n".join(_synthetic(6)).encode(), "too few rows"),
    ("quote.csv", lambda: b'A,B,C,Y\n1,2,3,"4\n', "line"),
])
def test_bad_files_raise_one_line_data_errors(tmp_path, name, make, message):
    path = tmp_path / name
    if make:
        path.write_bytes(make())
    with pytest.raises(DataError) as err:
        load_dataset(path, ["A", "B", "C"], "Y")
    text = str(err.value)
    assert "\n" not in text and str(path) in text
    assert message in text


def test_line_numbers_count_multi_line_quoted_cells(tmp_path):
    """A quoted cell spanning lines: the bad cell after it is reported on its real file line."""
    lines = ["A,NOTE,Y"] + [f'{i},"note {i}",{i}' for i in range(20)]
    lines[3] = '2,"first line\nsecond line\nthird line",2'  # rows from here on sit 2 lines further down
    lines[6] = '5,"x",five'
    path = _write(tmp_path, "multi.csv", "\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 9, column 'Y': 'five' is not a number"):
        load_dataset(path, ["A"], "Y")
    assert path.read_text().splitlines()[8] == '5,"x",five'


def test_missing_column_lists_available_and_suggests(tmp_path):
    path = _write(tmp_path, "cols.csv", "\n".join(_synthetic()))
    with pytest.raises(DataError, match=r"no column 'b' \(did you mean 'B'\?\); available columns: A, B, C, Y"):
        load_dataset(path, ["A", "b"], "Y")
    with pytest.raises(DataError, match="no column 'TARGET'.*available columns: A, B, C, Y"):
        load_dataset(path, ["A"], "TARGET")


def test_file_without_header_and_trailing_delimiters(tmp_path, ref_text, ref_ds):
    no_header = _write(tmp_path, "noheader.csv", "\n".join(_lines(ref_text)[1:]))
    with pytest.raises(DataError, match="line 1 looks like data: the file needs a header line"):
        load_dataset(no_header)
    trailing = _write(tmp_path, "trailing.csv", "\n".join(line + "," for line in _lines(ref_text)))
    np.testing.assert_array_equal(load_dataset(trailing).X, ref_ds.X)  # the empty last column is just unused


@pytest.mark.parametrize("features,target,message", [
    (["A", "Y"], "Y", "target column 'Y' is also a feature"),
    (["A", "A"], "Y", "given more than once: A"),
    ([], "Y", "no feature columns"),
    (["A"], " ", "no target column"),
])
def test_column_choice_errors(tmp_path, features, target, message):
    path = _write(tmp_path, "cols.csv", "\n".join(_synthetic()))
    with pytest.raises(DataError, match=message):
        load_dataset(path, features, target)


def test_a_directory_is_not_a_csv(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        load_dataset(tmp_path, ["A"], "Y")


def test_duplicate_unused_column_and_short_rows_are_fine(tmp_path):
    lines = _synthetic()
    lines[0] = "A,B,C,Y,note,note"
    lines = [lines[0]] + [f"{line},x,y" for line in lines[1:]]
    lines[3] = "2,4,2"  # short row: Y missing -> dropped as a missing value, counted
    ds = load_dataset(_write(tmp_path, "d.csv", "\n".join(lines)), ["A", "B", "C"], "Y")
    assert ds.clean.rows_kept == 29 and ds.clean.missing_by_column["Y"] == 1


def test_constant_column_is_a_zero_variance_error(tmp_path):
    from tinylstm.pipeline import check_trainable
    from tinylstm.train import TrainConfig

    lines = ["A,B,Y"] + [f"{i},5,{i * 2}" for i in range(30)]
    ds = load_dataset(_write(tmp_path, "const.csv", "\n".join(lines)), ["A", "B"], "Y")
    with pytest.raises(DataError, match="column 'B' is constant in the training rows"):
        check_trainable(ds, TrainConfig())
    with pytest.raises(DataError, match="target column 'Y' is constant"):
        Scaler.fit(ds.X[:, :1], np.ones(30), ["A"], "Y")


# ---------------------------------------------------------------------------- openness: windows, classes
def test_sliding_windows():
    T, F, window, horizon = 20, 3, 5, 2
    series = np.arange(T * F, dtype=np.float32).reshape(T, F)
    X, y = sliding_windows(series, window, horizon)
    n = T - window - horizon + 1
    assert X.shape == (n, window, F) and y.shape == (n,)
    for i in range(n):
        np.testing.assert_array_equal(X[i], series[i:i + window])
        assert y[i] == series[i + window + horizon - 1, 0]  # column 0, horizon steps after the window's end
    X1, y1 = sliding_windows(np.arange(10.0), 3)  # 1-D series: one value per step
    assert X1.shape == (7, 3, 1) and y1[0] == 3.0 and y1[-1] == 9.0
    with pytest.raises(ValueError, match="too short"):
        sliding_windows(series[:6], window, horizon)
    with pytest.raises(ValueError, match="sliding_windows"):
        to_sequences(series, layout="window")


def test_window_layout_through_model_and_golden_forward():
    """Several features per step: Keras LSTM on sliding windows = the numpy golden forward over its bundle."""
    from tinylstm import reference
    from tinylstm.model import build_model, bundle_from_keras, keras

    keras().utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    series = np.cumsum(rng.normal(size=(60, 2)), axis=0).astype(np.float32)
    X, _ = sliding_windows(series, window=6)
    model = build_model(6, 2, [8, 5], [4])
    scaler = Scaler(np.zeros(2), np.ones(2), 0.0, 1.0)
    bundle = bundle_from_keras(model, scaler, ["s0", "s1"], "s0_next")
    assert bundle.lstm[0].inputs == 2
    got = reference.forward_scaled(bundle, X)
    want = model.predict(X, verbose=0)
    assert np.abs(got - want).max() <= 1e-5


def test_classification_head_through_data_model_bundle_reference(tmp_path, ref_text):
    """A class-coded target column loads like any numeric target; a softmax head survives bundle save/load and
    the numpy golden forward reproduces Keras' class probabilities."""
    from tinylstm import reference
    from tinylstm.bundle import Bundle
    from tinylstm.model import build_model, bundle_from_keras, keras

    lines = _lines(ref_text)
    # class = fuel-consumption band 0 (< 10), 1 (10..14), 2 (>= 14) L/100km
    header = [h.strip() for h in lines[0].split(",")]
    fc = header.index("FUEL CONSUMPTION")
    rows = [line.split(",") for line in lines[1:]]
    bands = [str(int(float(r[fc]) >= 10) + int(float(r[fc]) >= 14)) for r in rows]
    text = "\n".join([lines[0] + ",BAND", *(",".join(r + [b]) for r, b in zip(rows, bands))]) + "\n"
    ds = load_dataset(_write(tmp_path, "classes.csv", text), DEFAULT_FEATURES, "BAND")
    classes = np.unique(ds.y)
    assert classes.tolist() == [0.0, 1.0, 2.0]

    sp = split(len(ds.y))
    x_scaler = Scaler.fit(ds.X[sp.train], ds.y[sp.train], ds.features, ds.target)
    scaler = Scaler(x_scaler.x_mean, x_scaler.x_scale, 0.0, 1.0)  # class indices are not standardised
    keras().utils.set_random_seed(0)
    model = build_model(3, 1, [12, 12], [32], n_outputs=len(classes), head_activation="softmax")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x_train = to_sequences(scaler.transform_x(ds.X[sp.train]))
    model.fit(x_train, ds.y[sp.train].astype(np.int32), epochs=2, batch_size=32, verbose=0)

    bundle = bundle_from_keras(model, scaler, ds.features, ds.target, meta={"classes": classes.tolist()})
    assert bundle.task == "classification" and bundle.n_outputs == 3
    bundle.save(tmp_path / "bundle.npz")
    loaded = Bundle.load(tmp_path / "bundle.npz")
    assert loaded.task == "classification" and loaded.dense[-1].activation == "softmax"
    x_test = to_sequences(scaler.transform_x(ds.X[sp.test]))
    probs = reference.forward_scaled(loaded, x_test)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    assert np.abs(probs - model.predict(x_test, verbose=0)).max() <= 1e-5
