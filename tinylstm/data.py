"""Data layer: fetch the reference CSV, load any CSV, clean, split, scale and shape into sequences.

Every problem a user can cause raises :class:`~tinylstm.errors.DataError` with a one-line message naming the
file and, where known, the line and column. Line numbers are 1-based lines of the file (the header is line 1).
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import http.client
import io
import itertools
import math
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from . import atomic
from .errors import DataError

DEFAULT_CSV = Path("data/FuelConsumption.csv")
DEFAULT_FEATURES = ("ENGINE SIZE", "CYLINDERS", "COEMISSIONS")
DEFAULT_TARGET = "FUEL CONSUMPTION"
DATASET_URL = "https://raw.githubusercontent.com/thommaskevin/TinyML/main/18_LSTM/data/FuelConsumption.csv"
DATASET_SHA256 = "46cf0d3a2d59074d98d97f361acdf1bd20681b78de4a8b5248a3fe5e517a334e"
#: Units of the reference data set's columns (other CSVs have none unless the user gives them).
REFERENCE_UNITS = {
    "ENGINE SIZE": "L",
    "CYLINDERS": "count",
    "COEMISSIONS": "g/km",
    "FUEL CONSUMPTION": "L/100km",
}

#: Largest magnitude accepted in a cell. Every target computes in float32 or narrower fixed point, where the
#: standardised values of a column holding numbers beyond this lose all precision; such a cell is a typo.
MAX_ABS_VALUE = 1e15
#: Fewest cleaned rows with which a 70/30 split still leaves a training set with a validation split.
MIN_ROWS = 10
_DELIMITERS = ",;\t|"


# --------------------------------------------------------------------------------------------------- fetch
def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fetch(
    dest: Path = DEFAULT_CSV,
    url: str = DATASET_URL,
    sha256: str = DATASET_SHA256,
    timeout_s: float = 30.0,
    force: bool = False,
) -> Path:
    """Download ``url`` to ``dest``, verify its SHA-256 and rename it into place.

    Nothing is written to ``dest`` unless the checksum matches, so a good existing copy is never replaced by a
    bad download. A ``dest`` that already has the right checksum is kept as is (no download) unless ``force``.
    Returns ``dest``.
    """
    dest = Path(dest)
    if dest.is_dir():
        raise DataError(f"{dest}: is a directory; give the file path, e.g. --dest {dest / DEFAULT_CSV.name}")
    if not force and dest.is_file() and sha256_of(dest) == sha256:
        return dest
    manual = f"download {url} elsewhere and put it at {dest} by hand (SHA-256 {sha256})"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            payload = resp.read()
    except urllib.error.HTTPError as err:
        raise DataError(f"{url}: download failed with HTTP {err.code} {err.reason}; {manual}") from None
    except ValueError as err:  # not a URL at all
        raise DataError(f"{url}: not a valid URL ({err})") from None
    except http.client.IncompleteRead as err:
        raise DataError(f"{url}: incomplete download ({len(err.partial)} bytes, connection closed early); "
                        f"try again, or {manual}") from None
    except http.client.HTTPException as err:
        raise DataError(f"{url}: cannot download ({type(err).__name__}: {err}); {manual}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DataError(f"{url}: cannot download ({reason}); offline? {manual}") from None
    digest = hashlib.sha256(payload).hexdigest()
    if digest != sha256:
        raise DataError(
            f"{url}: checksum mismatch (got SHA-256 {digest}, expected {sha256}); {dest} left untouched"
        )
    atomic.write_bytes(dest, payload)
    return dest


def ensure_default_dataset(path: Path) -> Path:
    """Return ``path``; if it is the default data set and missing, download it first."""
    path = Path(path)
    if not path.exists() and path.resolve() == DEFAULT_CSV.resolve():
        fetch(path)
    return path


# ---------------------------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class RawTable:
    """A CSV read as text: stripped column names and rows of stripped string cells."""

    path: Path
    columns: list[str]
    rows: list[list[str]]
    delimiter: str
    encoding: str
    #: File line number (1-based) of the header.
    header_line: int = 1
    #: File line number (1-based) on which each data row starts (quoted cells may span lines).
    line_numbers: list[int] = field(default_factory=list)

    def line_of(self, offset: int) -> int:
        """File line of data row ``offset`` (0-based)."""
        return self.line_numbers[offset] if offset < len(self.line_numbers) else self.header_line + 1 + offset


#: File signatures a user may hand over instead of a CSV, with what to do about it.
_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx or .ods workbook? save the sheet as CSV)",
    b"\xd0\xcf\x11\xe0": "an OLE2 file (an Excel .xls workbook? save the sheet as CSV)",
    b"\x1f\x8b": "gzip-compressed (decompress it first: gunzip FILE)",
    b"%PDF": "a PDF document",
    b"\x89HDF": "an HDF5 file",
    b"PAR1": "a Parquet file (convert it to CSV)",
}


def _decode(path: Path, blob: bytes) -> tuple[str, str]:
    if blob[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with BOM (Excel's "Unicode text" export)
        try:
            return blob.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as err:
            raise DataError(f"{path}: starts with a UTF-16 byte-order mark but does not decode "
                            f"({err.reason})") from None
    for magic, kind in _SIGNATURES.items():
        if blob.startswith(magic):
            raise DataError(f"{path}: {kind}, not a CSV text file")
    if b"\x00" in blob[:8192]:
        raise DataError(f"{path}: binary content (NUL bytes), not a CSV text file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return blob.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return blob.decode("latin-1"), "latin-1"


def _sniff_delimiter(path: Path, header_line: str) -> str:
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        return ","  # a single column; the column check will say what is missing
    ties = [d for d, n in counts.items() if n == counts[best]]
    if len(ties) > 1:
        raise DataError(f"{path}: line 1: cannot tell the delimiter (header has as many of {ties!r})")
    return best


def read_table(path: str | Path) -> RawTable:
    """Read a delimited text file into a :class:`RawTable`.

    The delimiter (``, ; TAB |``) is detected from the header; the encoding is UTF-8 (with or without BOM),
    else Windows-1252, else Latin-1.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a CSV file")
    blob = path.read_bytes()
    if not blob.strip():
        raise DataError(f"{path}: empty file")
    text, encoding = _decode(path, blob)
    lines = text.splitlines()
    first = 0
    while not lines[first].strip():  # leading blank lines (there is a non-blank one: blob.strip() above)
        first += 1
    sep = re.fullmatch(r"\s*sep=(.)\s*", lines[first])  # Excel's explicit-delimiter line
    if sep:
        delimiter, first = sep.group(1), first + 1
        if first >= len(lines):
            raise DataError(f"{path}: only a 'sep=' line, no header")
    else:
        delimiter = _sniff_delimiter(path, lines[first])
    reader = csv.reader(io.StringIO("\n".join(lines[first:])), delimiter=delimiter)
    all_rows, starts, previous_end = [], [], 0
    try:
        for row in reader:  # a quoted cell may span lines: remember the file line each row starts on
            all_rows.append(row)
            starts.append(first + previous_end + 1)
            previous_end = reader.line_num
    except csv.Error as err:
        raise DataError(f"{path}: line {first + reader.line_num}: malformed CSV ({err})") from None
    header = [name.strip() for name in all_rows[0]]
    rows = [[cell.strip() for cell in row] for row in all_rows[1:]]
    if not any(any(cell for cell in row) for row in rows):
        raise DataError(f"{path}: header only, no data rows")
    return RawTable(path, header, rows, delimiter, encoding, starts[0], starts[1:])


# -------------------------------------------------------------------------------------------- cleaning
@dataclass
class CleanReport:
    """What cleaning did, in row counts of the file's data rows."""

    rows_read: int
    dropped_missing: int
    dropped_duplicate: int
    rows_kept: int
    missing_by_column: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for the console and the report."""
        missing = ", ".join(f"{c}: {n}" for c, n in self.missing_by_column.items() if n) or "none"
        return (
            f"{self.rows_read} rows read; dropped {self.dropped_duplicate} duplicate row(s) and "
            f"{self.dropped_missing} row(s) with missing values (blank/NaN cells by column: {missing}); "
            f"{self.rows_kept} rows kept"
        )


@dataclass
class Dataset:
    """Cleaned numeric data: ``X`` (rows × features) and ``y`` (rows,) in the CSV's own units."""

    path: Path
    features: list[str]
    target: str
    X: np.ndarray
    y: np.ndarray
    clean: CleanReport
    units: dict[str, str] = field(default_factory=dict)
    sha256: str = ""


_MISSING = {"", "nan", "na", "n/a", "null", "none", "?"}


_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")


def _parse_cell(path: Path, line: int, column: str, cell: str, decimal_comma: bool = False) -> float:
    """One numeric cell; missing markers give NaN. ``decimal_comma`` accepts ``1,6`` (files not delimited by ``,``)."""
    if cell.lower() in _MISSING:
        return math.nan
    try:
        value = float(cell)
    except ValueError:
        if decimal_comma and _DECIMAL_COMMA.fullmatch(cell):
            value = float(cell.replace(",", "."))
        else:
            raise DataError(f"{path}: line {line}, column {column!r}: {cell!r} is not a number") from None
    if not math.isfinite(value) or abs(value) > MAX_ABS_VALUE:
        raise DataError(
            f"{path}: line {line}, column {column!r}: {cell!r} is an absurd magnitude "
            f"(accepted: finite and |x| <= {MAX_ABS_VALUE:g})"
        )
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _column_index(table: RawTable, name: str) -> int:
    """Index of column ``name``; a missing or ambiguous (repeated) column is an error."""
    name = name.strip()
    matches = [i for i, c in enumerate(table.columns) if c == name]
    if not matches:
        close = difflib.get_close_matches(name, table.columns, n=1) or \
            [c for c in table.columns if c.lower() == name.lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        if len(table.columns) == 1:
            hint += " (the header is a single column: is the delimiter something other than , ; TAB or |?)"
        elif 2 * sum(_is_number(c) for c in table.columns) >= len(table.columns):
            hint += f" (line {table.header_line} looks like data: the file needs a header line naming its columns)"
        raise DataError(
            f"{table.path}: no column {name!r}{hint}; available columns: {', '.join(table.columns)}"
        )
    if len(matches) > 1:
        where = " and ".join(str(i + 1) for i in matches)
        raise DataError(f"{table.path}: line {table.header_line}: column {name!r} appears {len(matches)} times "
                        f"in the header (columns {where}); rename the duplicates")
    return matches[0]


def check_columns(path: Path | str, features: Sequence[str], target: str | None) -> tuple[list[str], str | None]:
    """Stripped feature/target names; empty, repeated or overlapping names are errors."""
    features = [f.strip() for f in features]
    if not features or not all(features):
        raise DataError(f"{path}: no feature columns given (e.g. --features 'ENGINE SIZE,CYLINDERS')")
    repeated = sorted({f for f in features if features.count(f) > 1})
    if repeated:
        raise DataError(f"{path}: feature column(s) given more than once: {', '.join(repeated)}")
    if target is None:
        return features, None
    target = target.strip()
    if not target:
        raise DataError(f"{path}: no target column given (--target)")
    if target in features:
        raise DataError(f"{path}: target column {target!r} is also a feature")
    return features, target


def load_dataset(
    path: str | Path = DEFAULT_CSV,
    features: Sequence[str] = DEFAULT_FEATURES,
    target: str = DEFAULT_TARGET,
) -> Dataset:
    """Load, validate and clean a CSV like the reference notebook.

    Cleaning: exact duplicate rows (all columns) are dropped first, then rows with a missing value (blank or
    NaN-like) in a used column. Non-numeric or absurd cells in used columns are errors, not dropped.
    """
    features, target = check_columns(path, features, target)
    table = read_table(path)
    used = [*features, target]
    idx = [_column_index(table, c) for c in used]
    width = len(table.columns)

    seen: set[tuple[str, ...]] = set()
    values: list[list[float]] = []
    n_dup = 0
    missing_by_column = {c: 0 for c in used}
    n_missing_rows = 0
    n_rows = 0
    decimal_comma = table.delimiter != ","
    for offset, row in enumerate(table.rows):
        line = table.line_of(offset)
        if not any(row):
            continue  # blank line
        n_rows += 1
        if len(row) > width:
            raise DataError(f"{table.path}: line {line}: {len(row)} fields, header has {width}")
        row = row + [""] * (width - len(row))
        key = tuple(row)
        if key in seen:
            n_dup += 1
            continue
        seen.add(key)
        parsed = [_parse_cell(table.path, line, c, row[i], decimal_comma) for c, i in zip(used, idx)]
        gaps = [c for c, v in zip(used, parsed) if math.isnan(v)]
        if gaps:
            n_missing_rows += 1
            for c in gaps:
                missing_by_column[c] += 1
            continue
        values.append(parsed)

    report = CleanReport(n_rows, n_missing_rows, n_dup, len(values), missing_by_column)
    if len(values) < MIN_ROWS:
        raise DataError(f"{table.path}: too few rows to split and train: {report.describe()} (need {MIN_ROWS})")
    arr = np.asarray(values, dtype=np.float64)
    units = {c: REFERENCE_UNITS[c] for c in used if c in REFERENCE_UNITS}
    return Dataset(table.path, features, target, arr[:, :-1], arr[:, -1], report, units, sha256_of(table.path))


# ------------------------------------------------------------------------------------ split and scaling
@dataclass(frozen=True)
class Split:
    """Row indices into a :class:`Dataset` for the train and test sets."""

    train: np.ndarray
    test: np.ndarray


def split(n_rows: int, test_size: float = 0.3, seed: int = 42) -> Split:
    """The reference split: ``sklearn.model_selection.train_test_split`` with ``random_state=seed``."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(np.arange(n_rows), test_size=test_size, random_state=seed)
    return Split(np.asarray(train), np.asarray(test))


@dataclass(frozen=True)
class Scaler:
    """Standardisation of features and target: ``scaled = (raw - mean) / scale``.

    Statistics come from the training split only (population standard deviation, as scikit-learn's
    ``StandardScaler``). It is part of the model: every export takes raw inputs and returns raw target units.
    """

    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: float
    y_scale: float

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, names: Sequence[str] = (), target: str = "target",
            path: Path | str = "data") -> "Scaler":
        """Fit on training rows; a zero-variance column is an error naming the column."""
        x_scale = X.std(axis=0)
        y_scale = float(y.std())
        for i, s in enumerate(x_scale):
            if not s > 0:
                name = names[i] if i < len(names) else f"#{i}"
                raise DataError(f"{path}: column {name!r} is constant in the training rows (zero variance)")
        if not y_scale > 0:
            raise DataError(f"{path}: target column {target!r} is constant in the training rows (zero variance)")
        return cls(X.mean(axis=0), x_scale, float(y.mean()), y_scale)

    def transform_x(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.x_mean) / self.x_scale

    def transform_y(self, y: np.ndarray) -> np.ndarray:
        return (np.asarray(y, dtype=np.float64) - self.y_mean) / self.y_scale

    def inverse_y(self, y_scaled: np.ndarray) -> np.ndarray:
        return np.asarray(y_scaled, dtype=np.float64) * self.y_scale + self.y_mean


# ---------------------------------------------------------------------------------------- sequences
#: Sequence layouts. ``feature_per_step``: each feature is one time step holding one value (the reference);
#: ``window``: sliding windows over a time series, several features per step (see :func:`sliding_windows`).
LAYOUTS = ("feature_per_step", "window")


def to_sequences(X_scaled: np.ndarray, layout: str = "feature_per_step") -> np.ndarray:
    """Shape scaled rows (n, F) into LSTM input (n, steps, values_per_step), float32."""
    X_scaled = np.asarray(X_scaled, dtype=np.float32)
    if layout == "feature_per_step":
        return X_scaled.reshape(X_scaled.shape[0], X_scaled.shape[1], 1)
    raise ValueError(f"layout {layout!r} needs sliding_windows(), not to_sequences()")


def sliding_windows(series: np.ndarray, window: int, horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Windows over a time series (T, F): inputs (n, window, F) and the target ``horizon`` steps after each.

    The target is column 0 of the series. This is the layout for real time series (several features per step).
    ``X`` is a read-only strided view of ``series`` (no copy: memory stays that of the series), ``y`` a view too.
    """
    series = np.asarray(series, dtype=np.float32)
    if series.ndim == 1:
        series = series[:, None]
    n = series.shape[0] - window - horizon + 1
    if n <= 0:
        raise ValueError(f"series of {series.shape[0]} steps is too short for window {window} + horizon {horizon}")
    X = np.lib.stride_tricks.sliding_window_view(series, window, axis=0)[:n].transpose(0, 2, 1)
    y = series[window + horizon - 1 : window + horizon - 1 + n, 0]
    return X, y


# ------------------------------------------------------------------------------------- streaming features
#: Line breaks of :meth:`str.splitlines` (the streaming reader splits lines exactly as :func:`read_table` does).
_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
_TEXT_BLOCK = 1 << 20  # characters decoded per read
_ASCII_SPACE_NOT_NL = " \t\v\f\r\x1c\x1d\x1e\x1f"


def _stream_encoding(path: Path) -> str:
    """The encoding :func:`_decode` would choose for the whole file, found by incremental decoding (flat memory)."""
    with open(path, "rb") as f:
        head = f.read(8192)
    if not head.strip():
        raise DataError(f"{path}: empty file")  # a whitespace-only head: let the exact reader decide
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        candidates = ["utf-16"]
    else:
        for magic, kind in _SIGNATURES.items():
            if head.startswith(magic):
                raise DataError(f"{path}: {kind}, not a CSV text file")
        if b"\x00" in head:
            raise DataError(f"{path}: binary content (NUL bytes), not a CSV text file")
        candidates = ["utf-8-sig", "cp1252"]
    for encoding in candidates:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open(path, "rb") as f:
                while block := f.read(_TEXT_BLOCK):
                    decoder.decode(block)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    if candidates == ["utf-16"]:
        raise DataError(f"{path}: starts with a UTF-16 byte-order mark but does not decode")
    return "latin-1"


def _stream_lines(path: Path, encoding: str) -> Iterator[list[str]]:
    """Blocks of the file's lines, exactly as ``decoded_text.splitlines()`` would give them."""
    with open(path, encoding=encoding, newline="") as f:
        carry = ""
        while True:
            block = f.read(_TEXT_BLOCK)
            if not block:
                if carry:
                    yield carry.splitlines()
                return
            text = carry + block
            cut = len(text)
            if text[-1] == "\r" or text[-1] not in _LINE_BREAKS:  # last line incomplete (or "\r" of a "\r\n")
                last_break = max(text.rfind(ch, 0, len(text) - (text[-1] == "\r")) for ch in _LINE_BREAKS)
                cut = last_break + 1
            carry = text[cut:]
            if cut:
                yield text[:cut].splitlines()


@dataclass
class FeatureChunk:
    """Consecutive data rows of a CSV: ``rows`` each as the text ``csv.writer`` writes for them, ``X`` their
    feature values (float64, CSV units)."""

    rows: list[str]
    X: np.ndarray


class FeatureReader:
    """Stream a CSV's feature columns in chunks, in flat memory, for ``tinylstm predict``.

    Accepts exactly what :func:`read_table` + the per-cell parser accept and gives the same rows and values: a
    chunk without quotes, padding or unusual cells is split and parsed vectorised (one ``str.split`` and one
    ``float`` map per chunk); any other chunk goes through :mod:`csv` and :func:`_parse_cell` row by row. Any
    problem found while streaming is reported by re-reading the file with the exact whole-file reader
    (:func:`read_features_exact`), so the one-line error — file, line, column, and which problem comes first —
    is the one it gives.
    """

    def __init__(self, path: str | Path, features: Sequence[str], chunk_lines: int = 65536):
        self.path = Path(path)
        self.features = list(features)
        self.chunk_lines = max(1, int(chunk_lines))
        self._blocks: Iterator[list[str]] | None = None
        self._pending: list[str] = []  # lines read from the file; self._pos is the first unread one
        self._pos = 0
        self._taken = 0  # lines taken so far (not reset when the buffer is compacted)
        try:
            self._open()
        except (DataError, csv.Error, UnicodeError):
            self._exact_error()

    # -- errors
    def _exact_error(self):
        read_features_exact(self.path, self.features)  # raises the exact one-line error
        raise DataError(f"{self.path}: cannot read this file")  # not reached unless the two readers disagree

    # -- lines
    def _fill(self, n: int) -> None:
        """Make at least ``n`` unread lines available (fewer at the end of the file)."""
        while len(self._pending) - self._pos < n:
            block = next(self._blocks, None)
            if block is None:
                return
            self._pending = self._pending[self._pos:] + block if self._pos < len(self._pending) else block
            self._pos = 0

    def _next_lines(self, n: int) -> list[str]:
        self._fill(n)
        out = self._pending[self._pos:self._pos + n]
        self._pos += len(out)
        self._taken += len(out)
        return out

    def _unread(self, n: int) -> None:
        """Put back the last ``n`` lines :meth:`_next_lines` returned (they are still in the buffer)."""
        self._pos -= n
        self._taken -= n

    def _line_iter(self):
        while True:
            self._fill(1)
            if self._pos >= len(self._pending):
                return
            self._pos += 1
            self._taken += 1
            yield self._pending[self._pos - 1] + "\n"

    def _open(self):
        path = self.path
        if not path.exists():
            raise DataError(f"{path}: no such file")
        if path.is_dir():
            raise DataError(f"{path}: is a directory, not a CSV file")
        self.encoding = _stream_encoding(path)
        self._blocks = _stream_lines(path, self.encoding)
        while True:  # leading blank lines
            lines = self._next_lines(1)
            if not lines:
                raise DataError(f"{path}: empty file")
            if lines[0].strip():
                break
        first = lines[0]
        sep = re.fullmatch(r"\s*sep=(.)\s*", first)
        if sep:
            self.delimiter = sep.group(1)
        else:
            self.delimiter = _sniff_delimiter(path, first)
            self._unread(1)
        self._csv = csv.reader(self._line_iter(), delimiter=self.delimiter)
        header = next(self._csv, None)
        if header is None:
            raise DataError(f"{path}: no header")
        self.columns = [name.strip() for name in header]
        table = RawTable(path, self.columns, [], self.delimiter, self.encoding)
        self.idx = [_column_index(table, f) for f in self.features]
        self.width = len(self.columns)
        self.decimal_comma = self.delimiter != ","
        d = re.escape(self.delimiter)
        space = r"[^\S\n\t]" if self.delimiter == "\t" else r"[^\S\n]"
        self._padded = re.compile(rf"(?m)(?:^|{d}){space}|{space}(?:{d}|$)")
        self.n_rows = 0

    # -- chunks
    def __iter__(self) -> Iterator[FeatureChunk]:
        try:
            while True:
                lines = self._next_lines(self.chunk_lines)
                if not lines:
                    break
                chunk = self._fast(lines)
                if chunk is None:
                    chunk = self._slow(lines)
                self.n_rows += len(chunk.rows)
                if chunk.rows:
                    yield chunk
            if not self.n_rows:
                raise DataError(f"{self.path}: header only, no data rows")
        except (DataError, csv.Error, UnicodeError):
            self._exact_error()

    def _fast(self, lines: list[str]) -> FeatureChunk | None:
        d, width = self.delimiter, self.width
        text = "\n".join(lines)
        if '"' in text or "\x00" in text:
            return None
        if not text.isascii() or any(ch in text for ch in _ASCII_SPACE_NOT_NL):
            if self._padded.search(text):  # a cell with leading/trailing white space: csv + strip row by row
                return None
        if "" in lines:
            lines = [line for line in lines if line]
        counts = set(map(str.count, lines, itertools.repeat(d)))
        if lines and counts != {width - 1}:
            return None
        # numpy's C tokenizer on the feature columns only: its numbers are Python's float() (the same correctly
        # rounded conversion) for every cell it takes; what float() alone takes (1_000, non-ASCII digits) raises here
        # and goes the exact way
        try:
            X = (np.loadtxt(lines, dtype=np.float64, delimiter=d, comments=None, quotechar=None, usecols=self.idx,
                            ndmin=2) if lines else np.empty((0, len(self.idx)), dtype=np.float64))
        except ValueError:
            return None
        if not (np.isfinite(X).all() and (np.abs(X) <= MAX_ABS_VALUE).all()):
            return None
        return FeatureChunk(lines, X)

    def _slow(self, lines: list[str]) -> FeatureChunk:
        """Row by row through :mod:`csv` (a quoted cell may continue past the chunk's last line)."""
        self._unread(len(lines))
        end = self._taken + len(lines)
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=self.delimiter, lineterminator="\n")
        rows, values = [], []
        for row in self._csv:
            if any(row):
                row = [cell.strip() for cell in row]
                if len(row) > self.width:
                    raise DataError("too many fields")
                row = row + [""] * (self.width - len(row))
                vals = [_parse_cell(self.path, 0, f, row[i], self.decimal_comma)
                        for f, i in zip(self.features, self.idx)]
                if any(math.isnan(v) for v in vals):
                    raise DataError("missing value")
                buf.seek(0)
                buf.truncate()
                writer.writerow(row)
                rows.append(buf.getvalue()[:-1])
                values.append(vals)
            if self._taken >= end:
                break
        return FeatureChunk(rows, np.asarray(values, dtype=np.float64).reshape(len(values), len(self.idx)))


def read_features_exact(path: Path, features: Sequence[str]) -> tuple[list[str], list[list[str]], np.ndarray, str]:
    """Whole-file reader of feature columns (any extra columns carried along): (header, rows, X, delimiter).

    The reference behaviour of :class:`FeatureReader` (which streams) and the source of its error messages. A
    missing or non-numeric feature cell is an error: a prediction cannot be made for that row.
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
