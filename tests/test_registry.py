"""Tests for minilocal/registry.py: registry, manifests, verify, real HTTP downloads on
127.0.0.1 (resume, ignored Range, corrupted files, retries) and safe archive extraction."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import re
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest

from minilocal import registry as reg
from minilocal.paths import locate
from minilocal.registry import (
    DownloadError,
    UnsafeArchiveError,
    dataset_info,
    download,
    extract_archive,
    fetch,
    list_datasets,
    load_registry,
    read_manifest,
    verify,
)

REPO = Path(__file__).resolve().parents[1]
REAL = ["dfdc_faces", "ffpp_c23", "gan_faces", "lfw_faces"]


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
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.root = tmp_path / "served"
    httpd.root.mkdir()
    httpd.log, httpd.fail_first, httpd.ignore_range, httpd.bad_range = [], {}, False, False
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_toy(tmp_path: Path, served: Path | None = None, corrupt: bool = False,
             archives: dict[str, bytes] | None = None) -> tuple[Path, dict[str, bytes]]:
    """A registry "toy" (real/ + fake/ -> faces/ at the source, one derived metadata.csv).

    Returns the registry path and local path -> true bytes. Files are written into
    ``served`` at their source paths; with ``corrupt`` one of them is served altered.
    """
    rng = np.random.default_rng(0)
    files = {"real/a.bin": rng.bytes(150_000), "real/b.bin": rng.bytes(3_000),
             "fake/c.bin": rng.bytes(70_000), "metadata.csv": b"file,label\n"}
    files.update(archives or {})
    if corrupt:
        files["fake/bad.bin"] = rng.bytes(5_000)
    checksums = {rel: _sha(data) for rel, data in files.items()}
    folder = tmp_path / "registry"
    (folder / "manifests").mkdir(parents=True)
    reg.write_manifest(folder / "manifests" / "toy.sha256", checksums)
    doc = {"format": 1, "datasets": {"toy": {
        "description": "toy data", "terms": "toy terms",
        "source": {"repository": "owner/toy", "commit": "0" * 40, "path": "faces/"},
        "url_template": "https://example.invalid/owner/toy/" + "0" * 40 + "/{source_path}",
        "files": len(files), "bytes": sum(map(len, files.values())),
        "manifest": "manifests/toy.sha256",
        "source_map": [{"local": "real/", "source": "faces/"},
                       {"local": "fake/", "source": "faces/"},
                       {"local": "", "source": "archives/"}],
        "derived": {"metadata.csv": "made by hand"},
        "archives": sorted(archives or {}), "build": "minilocal preprocess --kind toy"}}}
    (folder / "registry.json").write_text(json.dumps(doc))
    if served is not None:
        for rel, data in files.items():
            if rel == "metadata.csv":
                continue
            src = served / dataset_info("toy", folder / "registry.json").source_path(rel)
            src.parent.mkdir(parents=True, exist_ok=True)
            src.write_bytes(data + b"!" if rel == "fake/bad.bin" else data)
    return folder / "registry.json", files


def _write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def _get(srv, **kw) -> dict:
    """download() with the test defaults: the loopback server, no sleeping, no bar."""
    return download(kw.pop("name", "toy"), kw.pop("dest"), registry=kw.pop("registry"),
                    base_url=srv.url, backoff=0, progress=False, **kw)


# ---------------------------------------------------------------- registry -----------


class TestRegistry:
    def test_committed_registry_has_the_four_datasets(self):
        assert list_datasets() == REAL

    def test_committed_manifests_match_file_counts(self):
        for name, entry in load_registry().items():
            checksums = entry.checksums()
            assert len(checksums) == entry.files, name
            assert entry.commit in entry.url_template and len(entry.commit) == 40
            for rel in checksums:
                if rel not in entry.derived:
                    assert entry.url(rel).startswith("https://raw.githubusercontent.com/")

    def test_committed_manifests_match_a_few_real_files(self, monkeypatch):
        monkeypatch.chdir(REPO)
        monkeypatch.delenv("MINILOCAL_DATA", raising=False)
        checked = 0
        for name, entry in load_registry().items():
            root = locate(name)
            if root is None:
                continue
            for rel, digest in list(entry.checksums().items())[:3]:
                assert reg.sha256_file(root / rel) == digest, f"{name}/{rel}"
                checked += 1
        if not checked:
            pytest.skip("no real data here (../shared/datasets)")

    def test_dfdc_real_and_fake_come_from_faces_224(self):
        entry = dataset_info("dfdc_faces")
        assert entry.source_path("real/abc.jpg") == "faces_224/abc.jpg"
        assert entry.source_path("fake/xyz.jpg") == "faces_224/xyz.jpg"
        assert entry.url("fake/xyz.jpg") == (
            "https://raw.githubusercontent.com/i-Shreyansh/DeepFake-Detection/"
            "39728535acf043fba39623885f91319db521bf23/faces_224/xyz.jpg")

    def test_derived_file_has_no_url(self):
        with pytest.raises(ValueError, match="metadata.csv is derived"):
            dataset_info("dfdc_faces").url("metadata.csv")

    def test_unmapped_path_has_no_source(self):
        with pytest.raises(ValueError, match="matches no source_map prefix"):
            dataset_info("dfdc_faces").source_path("other/x.jpg")

    def test_base_url_env_replaces_the_source(self, monkeypatch):
        monkeypatch.setenv(reg.BASE_URL_ENV, "http://mirror.test/data/")
        url = dataset_info("lfw_faces").url("AJ_Lamas/AJ_Lamas_0001.jpg")
        assert url == "http://mirror.test/data/images_deepfunneled/AJ_Lamas/AJ_Lamas_0001.jpg"

    def test_registry_env_override(self, tmp_path, monkeypatch):
        path, _ = make_toy(tmp_path)
        monkeypatch.setenv(reg.REGISTRY_ENV, str(path))
        assert list_datasets() == ["toy"]

    def test_unknown_dataset_lists_the_registered_ones(self):
        with pytest.raises(ValueError, match=r"unknown dataset 'nope'.*dfdc_faces"):
            dataset_info("nope")

    def test_missing_registry(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="no dataset registry"):
            load_registry(tmp_path / "none.json")

    def test_unknown_registry_format(self, tmp_path):
        (tmp_path / "r.json").write_text('{"format": 2, "datasets": {}}')
        with pytest.raises(ValueError, match="registry format 2 is not 1"):
            load_registry(tmp_path / "r.json")

    @pytest.mark.parametrize("rel", ["../evil.jpg", "/etc/passwd", "a/../../b"])
    def test_manifest_rejects_paths_that_leave_the_dataset(self, tmp_path, rel):
        (tmp_path / "m.sha256").write_text(f"{'0' * 64}  {rel}\n")
        with pytest.raises(ValueError, match="must be a relative path without '..'"):
            read_manifest(tmp_path / "m.sha256")

    def test_manifest_rejects_malformed_lines(self, tmp_path):
        (tmp_path / "m.sha256").write_text("abc file.jpg\n")
        with pytest.raises(ValueError, match=r"m.sha256:1: expected '<sha256>  <path>'"):
            read_manifest(tmp_path / "m.sha256")

    def test_default_dest(self, monkeypatch, tmp_path):
        monkeypatch.delenv("MINILOCAL_DATA", raising=False)
        monkeypatch.setenv("MINILOCAL_BUILD", str(tmp_path / "b"))
        assert reg.default_dest("toy") == tmp_path / "b" / "raw" / "toy"
        monkeypatch.setenv("MINILOCAL_DATA", str(tmp_path / "d"))
        assert reg.default_dest("toy") == tmp_path / "d" / "toy"


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

    def test_fetch_refuses_non_http_urls(self, tmp_path):
        with pytest.raises(ValueError, match="only http"):
            fetch("file:///etc/passwd", tmp_path / "x", "0" * 64)


# ---------------------------------------------------------------- extract_archive ----


def _add(tf: tarfile.TarFile, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE,
         link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data)
    tf.addfile(info, io.BytesIO(data) if data else None)


def _tar(path: Path, members: list[tuple]) -> Path:
    with tarfile.open(path, "w") as tf:
        _add(tf, "ok.txt", b"fine")
        for m in members:
            _add(tf, *m)
    return path


class TestExtractArchive:
    def test_extracts_a_clean_tar(self, tmp_path):
        archive = _tar(tmp_path / "a.tar", [("sub/b.txt", b"bee"),
                                            ("sub/link", b"", tarfile.SYMTYPE, "b.txt")])
        out = extract_archive(archive, tmp_path / "out")
        assert (tmp_path / "out" / "sub" / "b.txt").read_bytes() == b"bee"
        assert (tmp_path / "out" / "sub" / "link").read_bytes() == b"bee"
        assert len(out) == 3

    @pytest.mark.parametrize("member, message", [
        (("../evil.txt", b"x"), "escapes"),
        (("sub/../../evil.txt", b"x"), "escapes"),
        (("/tmp/evil.txt", b"x"), "absolute path"),
        (("link", b"", tarfile.SYMTYPE, "/etc/passwd"), "points outside"),
        (("sub/link", b"", tarfile.SYMTYPE, "../../evil.txt"), "points outside"),
        (("hard", b"", tarfile.LNKTYPE, "../evil.txt"), "escapes"),
        (("dev", b"", tarfile.CHRTYPE), "device or fifo"),
    ])
    def test_refuses_malicious_tar_members(self, tmp_path, member, message):
        archive = _tar(tmp_path / "bad.tar", [member])
        with pytest.raises(UnsafeArchiveError, match=message):
            extract_archive(archive, tmp_path / "out")
        assert list((tmp_path / "out").iterdir()) == []  # nothing written, not even ok.txt
        assert not (tmp_path / "evil.txt").exists()

    def test_extracts_a_clean_zip(self, tmp_path):
        with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
            zf.writestr("d/e.txt", "zed")
        extract_archive(tmp_path / "a.zip", tmp_path / "out")
        assert (tmp_path / "out" / "d" / "e.txt").read_text() == "zed"

    @pytest.mark.parametrize("name, message", [
        ("../evil.txt", "escapes"), ("/abs.txt", "absolute path"),
        ("link", "is a symlink")])
    def test_refuses_malicious_zip_members(self, tmp_path, name, message):
        with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
            zf.writestr("ok.txt", "fine")
            info = zipfile.ZipInfo(name)
            if name == "link":
                info.external_attr = (0o120777 << 16)
            zf.writestr(info, "/etc/passwd")
        with pytest.raises(UnsafeArchiveError, match=message):
            extract_archive(tmp_path / "bad.zip", tmp_path / "out")
        assert list((tmp_path / "out").iterdir()) == []

    def test_refuses_a_file_that_is_no_archive(self, tmp_path):
        (tmp_path / "x.tar").write_bytes(b"plain text, no tar")
        with pytest.raises(ValueError, match="is not a tar or zip archive"):
            extract_archive(tmp_path / "x.tar", tmp_path / "out")


# ---------------------------------------------------------------- ci/make_registry ---


@pytest.fixture
def make_registry():
    """ci/make_registry.py imported as a module."""
    path = REPO / "ci" / "make_registry.py"
    spec = importlib.util.spec_from_file_location("make_registry", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestMakeRegistry:
    def test_entry_maps_counts_and_sizes(self, tmp_path, make_registry):
        _write(tmp_path, {"real/a.jpg": b"aa", "fake/b.jpg": b"bbb", "metadata.csv": b"m"})
        checksums = make_registry.scan(tmp_path)
        entry = make_registry.entry("dfdc_faces", tmp_path, checksums)
        assert (entry["files"], entry["bytes"]) == (3, 6)
        assert checksums["fake/b.jpg"] == _sha(b"bbb")
        assert entry["derived"] == {"metadata.csv": make_registry.DATASETS["dfdc_faces"][
            "derived"]["metadata.csv"]}

    @pytest.mark.parametrize("files, message", [
        ({"real/a.jpg": b"a"}, r"derived files \['metadata.csv'\] are not in"),
        ({"metadata.csv": b"m", "other/x.jpg": b"x"}, "no source_map rule"),
        ({"metadata.csv": b"m", "real/a.jpg": b"1", "fake/a.jpg": b"2"}, "both map to"),
    ])
    def test_entry_refuses_what_cannot_be_downloaded(self, tmp_path, make_registry, files,
                                                      message):
        _write(tmp_path, files)
        with pytest.raises(SystemExit, match=message):
            make_registry.entry("dfdc_faces", tmp_path, make_registry.scan(tmp_path))
