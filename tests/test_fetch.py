"""``tinylstm data fetch`` for real: the CLI downloads from an HTTP server on 127.0.0.1 run by the test."""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import stat
import threading
from pathlib import Path

import pytest
from conftest import run_cli

from tinylstm.data import DATASET_SHA256

PREVIOUS = b"a previous copy, which a failed download must leave alone\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server API)
        self.requests.append(self.path)
        if self.path == "/truncated.csv":
            body = self.files["/FuelConsumption.csv"]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def server(reference_csv):
    good = reference_csv.read_bytes()
    assert hashlib.sha256(good).hexdigest() == DATASET_SHA256
    corrupted = bytearray(good)
    corrupted[100] ^= 0x01  # one flipped bit
    _Handler.files = {"/FuelConsumption.csv": good, "/corrupted.csv": bytes(corrupted),
                      "/captive.csv": b"<html>please log in to the hotel wifi</html>"}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _no_proxy_for_localhost(monkeypatch):
    """A CI machine's http_proxy must not swallow requests to the test's own server."""
    for key in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(key, ",".join(p for p in [os.environ.get(key), "127.0.0.1", "localhost"] if p))


def _fetch(url: str, dest: Path, *extra: str):
    return run_cli("data", "fetch", "--url", url, "--dest", str(dest), *extra, timeout=120)


def _assert_one_line_error(proc, *needles: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tinylstm: error: ") and "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_good_download_is_verified_and_written(server, tmp_path, reference_csv):
    dest = tmp_path / "data" / "FuelConsumption.csv"
    proc = _fetch(f"{server}/FuelConsumption.csv", dest)
    assert proc.returncode == 0, proc.stderr
    assert "SHA-256 verified" in proc.stdout
    assert dest.read_bytes() == reference_csv.read_bytes()
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == DATASET_SHA256
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o666 & ~umask  # an ordinary file, not a 0600 temp file
    assert [p.name for p in dest.parent.iterdir()] == ["FuelConsumption.csv"]  # no temp file left

    # a verified copy is kept without downloading again; --force downloads
    before = len(_Handler.requests)
    proc = _fetch(f"{server}/FuelConsumption.csv", dest)
    assert proc.returncode == 0 and "already there" in proc.stdout and len(_Handler.requests) == before
    proc = _fetch(f"{server}/FuelConsumption.csv", dest, "--force")
    assert proc.returncode == 0 and len(_Handler.requests) == before + 1


@pytest.mark.parametrize("path,needles", [
    ("/corrupted.csv", ["checksum mismatch", DATASET_SHA256, "left untouched"]),
    ("/captive.csv", ["checksum mismatch"]),
    ("/missing.csv", ["HTTP 404", "by hand"]),
    ("/truncated.csv", ["incomplete download", "by hand"]),
])
def test_failed_download_leaves_previous_file_untouched(server, tmp_path, path, needles):
    dest = tmp_path / "FuelConsumption.csv"
    dest.write_bytes(PREVIOUS)
    line = _assert_one_line_error(_fetch(f"{server}{path}", dest), str(dest), *needles)
    assert f"{server}{path}" in line
    assert dest.read_bytes() == PREVIOUS
    assert [p.name for p in tmp_path.iterdir()] == ["FuelConsumption.csv"]


def test_failed_download_writes_nothing_when_there_was_nothing(server, tmp_path):
    dest = tmp_path / "new" / "FuelConsumption.csv"
    _assert_one_line_error(_fetch(f"{server}/corrupted.csv", dest), "checksum mismatch")
    assert not dest.exists()


def test_offline_says_where_to_put_the_file(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dest = tmp_path / "data" / "FuelConsumption.csv"
    url = f"http://127.0.0.1:{port}/FuelConsumption.csv"
    line = _assert_one_line_error(_fetch(url, dest), "cannot download", "offline?",
                                  f"put it at {dest} by hand", DATASET_SHA256, url)
    assert "refused" in line.lower()
    assert not dest.parent.exists() or not any(dest.parent.iterdir())


def test_bad_url_and_directory_dest(tmp_path):
    _assert_one_line_error(_fetch("not a url", tmp_path / "x.csv"), "not a valid URL")
    _assert_one_line_error(_fetch("http://127.0.0.1:9/x.csv", tmp_path), "is a directory")


def test_debug_shows_the_traceback(server, tmp_path):
    proc = _fetch(f"{server}/missing.csv", tmp_path / "x.csv", "--debug")
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "HTTP 404" in proc.stderr
