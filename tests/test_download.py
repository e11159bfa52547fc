"""Tests for minilocal/download.py: verify a local copy, and real HTTP downloads on
127.0.0.1 (resume, ignored Range, corrupted files, retries, registered archives)."""

from __future__ import annotations

import io
import re
import tarfile
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote, urlsplit

import pytest

from minilocal import download as dl
from minilocal.download import download, verify
from conftest import loopback_server
from minilocal.http_fetch import DownloadError
from test_archives import _add
from test_registry import _write, make_toy


# ---------------------------------------------------------------- fixtures -----------


class _Handler(BaseHTTPRequestHandler):
    """Serves server.root; honours "Range: bytes=N-" unless server.ignore_range (then
    200 and the whole file) or server.bad_range (then 206 with the wrong range)."""

    def do_GET(self):
        srv = self.server
        rel = unquote(urlsplit(self.path).path).lstrip("/")
        srv.log.append((rel, self.headers.get("Range")))
        if srv.fail_first.get(rel, 0) > 0:
            srv.fail_first[rel] -= 1
            self.send_error(503)
            return
        path = srv.root / rel
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if m and srv.bad_range:  # claims a partial answer but sends it all
            self.send_response(206)
            self.send_header("Content-Range", f"bytes 0-{len(data) - 1}/{len(data)}")
        elif m and not srv.ignore_range:
            start = int(m.group(1))
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            data = data[start:]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """An HTTP server on 127.0.0.1 (port 0) serving tmp_path/served, in a thread."""
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.delenv("MINILOCAL_DATA_URL", raising=False)
    with loopback_server(_Handler) as httpd:
        httpd.root = tmp_path / "served"
        httpd.root.mkdir()
        httpd.log, httpd.fail_first, httpd.ignore_range, httpd.bad_range = [], {}, False, False
        yield httpd


def _get(srv, **kw) -> dict:
    """download() with the test defaults: the loopback server, no sleeping, no bar."""
    return download(kw.pop("name", "toy"), kw.pop("dest"), registry=kw.pop("registry"),
                    base_url=srv.url, backoff=0, progress=False, **kw)


# ---------------------------------------------------------------- verify -------------


class TestVerify:
    def test_passes_on_a_good_copy(self, tmp_path):
        path, files = make_toy(tmp_path)
        _write(tmp_path / "toy", files)
        report = verify("toy", tmp_path / "toy", registry=path)
        assert report.passed and report.ok == report.expected == 4
        assert "OK 4/4" in report.summary()

    def test_counts_missing_mismatched_and_extra(self, tmp_path):
        path, files = make_toy(tmp_path)
        _write(tmp_path / "toy", files)
        (tmp_path / "toy" / "real" / "b.bin").unlink()
        (tmp_path / "toy" / "fake" / "c.bin").write_bytes(b"tampered")
        (tmp_path / "toy" / "notes.txt").write_text("x")
        report = verify("toy", tmp_path / "toy", registry=path, workers=1)
        assert not report.passed
        assert (report.ok, report.missing, report.mismatched, report.extra) == (
            2, ["real/b.bin"], ["fake/c.bin"], ["notes.txt"])

    def test_missing_derived_file_does_not_fail(self, tmp_path):
        path, files = make_toy(tmp_path)
        _write(tmp_path / "toy", files)
        (tmp_path / "toy" / "metadata.csv").unlink()
        report = verify("toy", tmp_path / "toy", registry=path)
        assert report.passed and report.derived_missing == ["metadata.csv"]

    def test_a_rebuilt_derived_file_is_listed_but_does_not_fail(self, tmp_path):
        path, files = make_toy(tmp_path)
        _write(tmp_path / "toy", files)
        (tmp_path / "toy" / "metadata.csv").write_text("file,label\nreal/a.bin,real\n")
        report = verify("toy", tmp_path / "toy", registry=path)
        assert report.passed and report.ok == 3
        assert report.derived_mismatched == ["metadata.csv"] and not report.mismatched

    def test_no_copy_anywhere(self, tmp_path, monkeypatch):
        path, _ = make_toy(tmp_path)
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("MINILOCAL_DATA", raising=False)
        monkeypatch.setenv("MINILOCAL_BUILD", str(tmp_path / "build"))
        with pytest.raises(FileNotFoundError, match="dataset 'toy' not found"):
            verify("toy", registry=path)

    def test_finds_a_download_in_build_data_raw(self, tmp_path, monkeypatch):
        path, files = make_toy(tmp_path)
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("MINILOCAL_DATA", raising=False)
        monkeypatch.setenv("MINILOCAL_BUILD", str(tmp_path / "build"))
        _write(tmp_path / "build" / "raw" / "toy", files)
        assert verify("toy", registry=path).passed



# ---------------------------------------------------------------- download -----------


class TestDownload:
    def test_fetches_and_verifies_every_file(self, tmp_path, server):
        path, files = make_toy(tmp_path, server.root)
        report = _get(server, dest=tmp_path / "out", registry=path)
        assert report.downloaded == 3 and report.present == 0 and not report.failed
        assert report.derived_skipped == ["metadata.csv"]
        for rel, data in files.items():
            if rel != "metadata.csv":
                assert (tmp_path / "out" / rel).read_bytes() == data
        assert not list((tmp_path / "out").rglob("*.part"))
        assert {rel for rel, _ in server.log} == {"faces/a.bin", "faces/b.bin", "faces/c.bin"}

    def test_rejects_and_deletes_a_corrupted_file(self, tmp_path, server):
        path, _ = make_toy(tmp_path, server.root, corrupt=True)
        with pytest.raises(DownloadError, match=r"toy: 1 of 4 files failed.*sha256") as err:
            _get(server, dest=tmp_path / "out", registry=path, retries=2)
        assert list(err.value.report.failed) == ["fake/bad.bin"]
        assert err.value.report.downloaded == 3
        assert not (tmp_path / "out" / "fake" / "bad.bin").exists()
        assert not (tmp_path / "out" / "fake" / "bad.bin.part").exists()
        assert [r for r, _ in server.log].count("faces/bad.bin") == 3  # 1 + 2 retries

    def test_resumes_a_part_file_with_range(self, tmp_path, server):
        path, files = make_toy(tmp_path, server.root)
        part = tmp_path / "out" / "real" / "a.bin.part"
        part.parent.mkdir(parents=True)
        part.write_bytes(files["real/a.bin"][:100_000])
        report = _get(server, dest=tmp_path / "out", registry=path)
        assert report.resumed == 1 and report.downloaded == 2
        assert [h for r, h in server.log if r == "faces/a.bin"] == ["bytes=100000-"]
        assert (tmp_path / "out" / "real" / "a.bin").read_bytes() == files["real/a.bin"]
        assert not part.exists()

    def test_restarts_when_the_server_ignores_range(self, tmp_path, server):
        path, files = make_toy(tmp_path, server.root)
        server.ignore_range = True
        part = tmp_path / "out" / "real" / "a.bin.part"
        part.parent.mkdir(parents=True)
        part.write_bytes(files["real/a.bin"][:100_000])
        report = _get(server, dest=tmp_path / "out", registry=path)
        assert report.resumed == 0 and report.downloaded == 3
        # asked with a Range, got a 200, restarted in the same request (no retry)
        assert [h for r, h in server.log if r == "faces/a.bin"] == ["bytes=100000-"]
        assert (tmp_path / "out" / "real" / "a.bin").read_bytes() == files["real/a.bin"]

    def test_a_wrong_content_range_restarts_the_file(self, tmp_path, server):
        path, files = make_toy(tmp_path, server.root)
        server.bad_range = True
        part = tmp_path / "out" / "real" / "a.bin.part"
        part.parent.mkdir(parents=True)
        part.write_bytes(files["real/a.bin"][:100_000])
        report = _get(server, dest=tmp_path / "out", registry=path)
        assert report.downloaded == 3
        assert [h for r, h in server.log if r == "faces/a.bin"] == ["bytes=100000-", None]
        assert (tmp_path / "out" / "real" / "a.bin").read_bytes() == files["real/a.bin"]

    def test_a_stale_part_is_rejected_then_refetched_whole(self, tmp_path, server):
        path, files = make_toy(tmp_path, server.root)
        part = tmp_path / "out" / "real" / "a.bin.part"
        part.parent.mkdir(parents=True)
        part.write_bytes(b"\0" * 100_000)  # right size, wrong bytes
        report = _get(server, dest=tmp_path / "out", registry=path)
        assert report.downloaded == 3
        assert [h for r, h in server.log if r == "faces/a.bin"] == ["bytes=100000-", None]
        assert (tmp_path / "out" / "real" / "a.bin").read_bytes() == files["real/a.bin"]

    def test_a_complete_part_is_kept_after_416(self, tmp_path, server):
        path, files = make_toy(tmp_path, server.root)
        part = tmp_path / "out" / "real" / "a.bin.part"
        part.parent.mkdir(parents=True)
        part.write_bytes(files["real/a.bin"])
        report = _get(server, dest=tmp_path / "out", registry=path)
        assert report.resumed == 1
        assert (tmp_path / "out" / "real" / "a.bin").read_bytes() == files["real/a.bin"]

    def test_verified_files_are_not_fetched_again(self, tmp_path, server):
        path, _ = make_toy(tmp_path, server.root)
        _get(server, dest=tmp_path / "out", registry=path)
        server.log.clear()
        report = _get(server, dest=tmp_path / "out", registry=path)
        assert report.present == 3 and report.downloaded == 0 and server.log == []

    def test_a_wrong_local_file_is_replaced(self, tmp_path, server):
        path, files = make_toy(tmp_path, server.root)
        _write(tmp_path / "out", {"real/b.bin": b"not it"})
        report = _get(server, dest=tmp_path / "out", registry=path)
        assert report.downloaded == 3
        assert (tmp_path / "out" / "real" / "b.bin").read_bytes() == files["real/b.bin"]

    def test_transient_errors_are_retried(self, tmp_path, server):
        path, _ = make_toy(tmp_path, server.root)
        server.fail_first["faces/b.bin"] = 2
        report = _get(server, dest=tmp_path / "out", registry=path, retries=2)
        assert report.downloaded == 3
        assert [r for r, _ in server.log].count("faces/b.bin") == 3

    def test_a_missing_file_is_not_retried(self, tmp_path, server):
        path, _ = make_toy(tmp_path, server.root)
        (server.root / "faces" / "b.bin").unlink()
        with pytest.raises(DownloadError, match="HTTP 404"):
            _get(server, dest=tmp_path / "out", registry=path, retries=3)
        assert [r for r, _ in server.log].count("faces/b.bin") == 1

    def test_registered_archives_are_extracted(self, tmp_path, server):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tf:
            _add(tf, "inner/x.txt", b"hello")
        path, _ = make_toy(tmp_path, server.root, archives={"pack.tar.gz": buf.getvalue()})
        report = _get(server, dest=tmp_path / "out", registry=path)
        assert report.extracted == ["pack.tar.gz"]
        assert (tmp_path / "out" / "inner" / "x.txt").read_bytes() == b"hello"


class TestDefaultDest:
    def test_default_dest(self, monkeypatch, tmp_path):
        monkeypatch.delenv("MINILOCAL_DATA", raising=False)
        monkeypatch.setenv("MINILOCAL_BUILD", str(tmp_path / "b"))
        assert dl.default_dest("toy") == tmp_path / "b" / "raw" / "toy"
        monkeypatch.setenv("MINILOCAL_DATA", str(tmp_path / "d"))
        assert dl.default_dest("toy") == tmp_path / "d" / "toy"
