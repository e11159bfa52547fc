"""Tests for minilocal/commands/data.py: `minilocal data list | verify | download`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from minilocal.cli import main
from test_download import server  # noqa: F401  (a fixture)
from test_registry import _write, make_toy

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


# ---------------------------------------------------------------- --timeout and --deadline

from test_bad_input_api import TestDownloads as _Downloads  # noqa: E402  (not collected twice)
from test_bad_input_api import abuse  # noqa: E402,F401  (a fixture)


def _slow_toy(tmp_path):
    """A registry whose file "trickle" the abuse server sends at one byte per 0.2 s."""
    return _Downloads._toy(None, tmp_path, {"trickle": b"x" * 200, "good": b"g" * 100},
                              total=300)


def _download(reg, tmp_path, url, *flags):
    return main(["data", "--registry", str(reg), "download", "toy", "--dest",
                 str(tmp_path / "out"), "--base-url", url, "--quiet", *flags])


def test_download_deadline_flag_stops_a_trickle(tmp_path, abuse, capsys):  # noqa: F811
    start = time.monotonic()
    rc = _download(_slow_toy(tmp_path), tmp_path, abuse.url, "--deadline", "1",
                   "--timeout", "5")
    captured = capsys.readouterr()
    assert rc == 1 and time.monotonic() - start < 4  # not the 40 s the trickle takes
    assert "1 failed" in captured.out and "deadline passed" in captured.err
    assert (tmp_path / "out" / "good").read_bytes() == b"g" * 100  # the good file is kept


def test_download_timeout_flag_is_per_read(tmp_path, abuse, capsys):  # noqa: F811
    start = time.monotonic()
    rc = _download(_slow_toy(tmp_path), tmp_path, abuse.url, "--timeout", "0.05",
                   "--deadline", "0", "--retries", "0")
    captured = capsys.readouterr()
    assert rc == 1 and time.monotonic() - start < 4
    assert "timed out" in captured.err and "deadline" not in captured.err


@pytest.mark.parametrize("flag, value, phrase", [
    ("--timeout", "0", "--timeout must be more than 0 seconds, got 0.0"),
    ("--timeout", "nan", "--timeout must be more than 0 seconds, got nan"),
    ("--deadline", "-1", "--deadline must be at least 0 seconds (0: none), got -1.0"),
])
def test_download_bad_time_limits(flag, value, phrase, tmp_path, capsys):
    rc = main(["data", "download", "lfw_faces", "--dest", str(tmp_path / "d"), flag, value])
    err = capsys.readouterr().err
    assert rc == 2 and phrase in err and not (tmp_path / "d").exists()
