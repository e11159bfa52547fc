"""Tests for minilocal/ablation/plots.py: the series of each table's plot."""

from __future__ import annotations

import pytest

from minilocal.ablation.plots import plot_series
from test_ablation import _row


def test_table1_plot_starts_each_series_at_its_own_base_case():
    rows = [_row(v, s, 0.6, data=d) for s in range(2) for d, v in
            (("synth_c23", "lambda_seg=0"), ("synth_c23", "lambda_seg=0.3"),
             ("dfdc", "lambda_seg=0"), ("dfdc", "CVM lambda_seg=0.3"))]
    xt, series = plot_series("1", rows)
    assert xt == "lambda_seg"
    assert [(s["name"], s["x"]) for s in series] == [
        ("synth c23 train all", [0.0, 0.3]), ("DFDC CVM train all", [0.0, 0.3])]


def test_table3_plot_has_one_point_per_case_and_setting():
    rows = [_row(f"case {c}", s, 0.6, slice_=sl) for c in (2, 1) for s in range(2)
            for sl in ("all", "faceswap", "sbi")]
    rows += [_row("case 1", s, 0.7, data="dfdc") for s in range(2)]
    xt, series = plot_series("3", rows)
    assert xt == "case" and [s["name"] for s in series] == ["synth c23", "DFDC"]
    assert series[0]["x"] == ["case 1", "case 2"] and series[1]["x"] == ["case 1"]
    assert series[1]["y"] == [pytest.approx(70.0)]
