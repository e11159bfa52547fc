"""Tests for minilocal/ablation/tables.py: our numbers beside the paper's."""

from __future__ import annotations

import pytest

from minilocal.ablation.tables import table_layout, to_markdown
from test_ablation import _row


def test_table_layout_puts_paper_beside_ours():
    rows = [_row("lambda_seg=0", s, 0.6) for s in range(2)]
    rows += [_row("CVM lambda_seg=0.3", s, 0.7, data="gan_lfw_c23") for s in range(2)]
    rows += [_row("OM lambda_seg=0.3", s, 0.65, data="gan_lfw_c23") for s in range(2)]
    rows += [_row("lambda_seg=0", s, 0.6, data="gan_lfw_c23") for s in range(2)]
    rows = [r for r in rows if r["data"] == "gan_lfw_c23"]
    header, body = table_layout("2", rows)
    assert header[:3] == ["lambda_seg", "GAN c23 CVM train all", "GAN c23 OM train all"]
    assert body[0][:3] == ["0", "60.0 +- 0.0 (2)", "60.0 +- 0.0 (2)"]  # base shared
    assert body[1][1:3] == ["70.0 +- 0.0 (2)", "65.0 +- 0.0 (2)"]
    assert body[1][header.index("paper method-specific c23 StyleGAN CVM")] == "99.78"
    assert to_markdown(header, body).splitlines()[1] == "|" + "---|" * len(header)


def test_table_layout_rejects_unknown_table():
    with pytest.raises(ValueError, match="unknown table"):
        table_layout("4", [_row("lambda_seg=0", 0, 0.5)])
