"""Tests for minilocal/cli.py and the `info` subcommand."""

import json
import subprocess
import sys

from minilocal.cli import main


def test_info_json_reports_the_papers_network(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert 900_000 <= info["params"] <= 1_100_000
    assert info["receptive_field"] == 33 and info["stride"] == 2 and info["output_size"] == 48


def test_info_for_another_size_and_heads(capsys):
    main(["info", "--json", "--size", "64", "--seg-heads", "fake,face"])
    info = json.loads(capsys.readouterr().out)
    assert info["output_size"] == 16 and info["seg_heads"] == ["fake", "face"]


def test_info_table(capsys):
    main(["info"])
    out = capsys.readouterr().out
    assert "conv8" in out and "receptive_field: 33" in out


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "minilocal.cli", "info", "--json"],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["receptive_field"] == 33


def test_too_small_size_is_a_clean_error(capsys):
    assert main(["info", "--size", "20"]) == 2
    assert "too small" in capsys.readouterr().err
