"""Tests for minilocal/commands/data.py: `minilocal data list | verify | download`."""

from __future__ import annotations

from pathlib import Path

import pytest

from minilocal.cli import main
from test_registry import _write, make_toy, server  # noqa: F401  (server is a fixture)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The toy registry with a good copy in $MINILOCAL_DATA/toy; returns (registry, files)."""
    path, files = make_toy(tmp_path)
    _write(tmp_path / "data" / "toy", files)
    monkeypatch.setenv("MINILOCAL_DATA", str(tmp_path / "data"))
    return path, files


def test_list_shows_name_files_location_and_terms(toy, capsys):
    path, _ = toy
    assert main(["data", "--registry", str(path), "list"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("toy"))
    assert "4" in row.split() and "(4/4)" in row and "toy terms" in row
    assert str(Path(path).parents[1] / "data" / "toy") in row


def test_list_of_the_committed_registry(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("dfdc_faces", "ffpp_c23", "gan_faces", "lfw_faces"):
        assert name in out


def test_verify_passes(toy, capsys):
    path, _ = toy
    assert main(["data", "--registry", str(path), "verify", "toy", "--quiet"]) == 0
    assert "toy: OK 4/4 ok" in capsys.readouterr().out


def test_verify_fails_on_a_mismatch(toy, capsys, tmp_path):
    path, _ = toy
    (tmp_path / "data" / "toy" / "real" / "a.bin").write_bytes(b"tampered")
    assert main(["data", "--registry", str(path), "verify", "toy", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "mismatched: real/a.bin" in out


def test_verify_unknown_dataset(toy, capsys):
    path, _ = toy
    assert main(["data", "--registry", str(path), "verify", "nope"]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err


def test_verify_root_needs_one_name(toy, capsys, tmp_path):
    path, _ = toy
    assert main(["data", "--registry", str(path), "verify", "a", "b",
                 "--root", str(tmp_path)]) == 2
    assert "--root needs exactly one NAME" in capsys.readouterr().err


def test_download_then_verify(tmp_path, server, capsys):  # noqa: F811
    path, files = make_toy(tmp_path, server.root)
    dest = tmp_path / "dl"
    assert main(["data", "--registry", str(path), "download", "toy", "--dest", str(dest),
                 "--base-url", server.url, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "3 downloaded" in out and "derived, not downloadable: metadata.csv" in out
    assert (dest / "fake" / "c.bin").read_bytes() == files["fake/c.bin"]
    assert main(["data", "--registry", str(path), "verify", "toy", "--root", str(dest),
                 "--quiet"]) == 0
    assert "derived missing: metadata.csv" in capsys.readouterr().out


def test_download_of_a_corrupted_file_fails(tmp_path, server, capsys):  # noqa: F811
    path, _ = make_toy(tmp_path, server.root, corrupt=True)
    assert main(["data", "--registry", str(path), "download", "toy", "--dest",
                 str(tmp_path / "dl"), "--base-url", server.url, "--retries", "0",
                 "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "1 failed" in captured.out and "fake/bad.bin" in captured.err
    assert not (tmp_path / "dl" / "fake" / "bad.bin").exists()


def test_data_without_action_prints_help(capsys):
    assert main(["data"]) == 2
    assert "verify" in capsys.readouterr().out
