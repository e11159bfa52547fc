"""Tests for minilocal/archives.py: clean tar and zip archives unpack; members that
would land outside the target folder, links out of it and device files are refused."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from minilocal.archives import UnsafeArchiveError, extract_archive


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
