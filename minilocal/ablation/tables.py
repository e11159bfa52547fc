"""Ablation tables: our numbers beside the paper's (section 4: Tables 1-3, Fig. 3a).

Our numbers always come from runs.csv rows (mean +- std over seeds, in %); the paper's
come from :data:`~minilocal.ablation.paper.PAPER_RESULTS` and sit in clearly labelled
"paper" columns beside ours. :mod:`.report` writes these tables to files.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from .grid import TABLES
from .paper import PAPER_CASES, PAPER_RESULTS
from .stats import aggregate, format_mean_std

__all__ = ["table_layout", "to_markdown", "TABLE_TITLES"]

TABLE_TITLES = {"1": "Table 1: segmentation loss (lambda_seg, real masks) vs image-level only",
                "2": "Table 2: generated vs real faces, ones masks (OM) vs CVM",
                "3": "Table 3: segmentation objectives (cases 1-7)",
                "fig3a": "Fig. 3a: accuracy vs input size (centre crops)"}
BASELINE = "lambda_seg=0"


def _lam(variant: str) -> tuple[str, float]:
    """'CVM lambda_seg=0.3' -> ('CVM', 0.3)."""
    m = re.match(r"(?:(\w+) )?lambda_seg=([\d.]+)$", variant)
    if not m:
        raise ValueError(f"not a lambda_seg variant: {variant!r}")
    return m.group(1) or "", float(m.group(2))


def _short(data: str) -> str:
    return {"synth_c23": "synth c23", "synth_c40": "synth c40", "gan_lfw_c23": "GAN c23",
            "gan_lfw_c40": "GAN c40", "dfdc": "DFDC", "ffpp_c23": "FF++ c23"}.get(data, data)


def _cell(agg: dict | None, metric: str = "test_acc_cls") -> str:
    if agg is None:
        return "-"
    return format_mean_std(agg[f"{metric}_mean"], agg[f"{metric}_std"], agg["n"])


def table_layout(table: str, rows: Sequence[dict[str, Any]], metric: str = "test_acc_cls",
                 paper: bool = True) -> tuple[list[str], list[list[str]]]:
    """(header, body) of a table: ours (mean +- std (seeds), %) then paper columns.

    Per-method test slices of a run trained on all methods hold every real but only that
    method's fakes (unbalanced), so they show AUC, which no class ratio changes.

    Args:
        table: one of TABLES.
        rows: that table's runs.csv rows.
        metric: our metric shown (the paper reports test ACC of the classifier).
        paper: add the paper's columns.
    """
    agg = aggregate(rows)
    index = {(a["data"], a["method"], a["variant"], a["slice"]): a for a in agg}
    if table in ("1", "2"):
        cols = []  # (data, method, slice, kind)
        for a in agg:
            kind, _ = _lam(a["variant"])
            if a["variant"] != BASELINE:
                c = (a["data"], a["method"], a["slice"], kind)
                if c not in cols:
                    cols.append(c)
        for a in agg:  # settings with only the base case
            if not any(c[:3] == (a["data"], a["method"], a["slice"]) for c in cols):
                cols.append((a["data"], a["method"], a["slice"], ""))
        lams = sorted({_lam(a["variant"])[1] for a in agg})
        header = ["lambda_seg"] + [
            f"{_short(d)} {kind + ' ' if kind else ''}train {m}"
            + (f" / test {s} (AUC)" if s != "all" else "") for d, m, s, kind in cols]
        body = []
        for lam in lams:
            line = [f"{lam:g}"]
            for d, m, s, kind in cols:
                v = BASELINE if lam == 0 else (f"{kind} " if kind else "") + f"lambda_seg={lam:g}"
                line.append(_cell(index.get((d, m, v, s)), metric if s == "all" else
                                  metric.replace("acc", "auc")))
            body.append(line)
        if paper:
            _paper_lambda_cols(table, header, body, lams, {c[0] for c in cols},
                               any(c[1] != "all" for c in cols))
        return header, body
    if table == "3":
        datas = list(dict.fromkeys(a["data"] for a in agg))
        header = ["case", "face mask", "fake mask"] + [f"{_short(d)} (ours)" for d in datas]
        pcols = list(PAPER_RESULTS["table3"]["cases"][1]) if paper else []
        header += [f"paper {c}" for c in pcols]
        body = []
        for case, (face, fake) in PAPER_CASES.items():
            line = [str(case), face or "none", fake or "none"]
            line += [_cell(index.get((d, "all", f"case {case}", "all")), metric) for d in datas]
            for c in pcols:
                v = PAPER_RESULTS["table3"]["cases"][case][c]
                line.append("-" if v is None else f"{v:.2f}")
            body.append(line)
        return header, body
    if table == "fig3a":
        sizes = sorted({int(a["slice"].split("=")[1]) for a in agg
                        if a["slice"].startswith("size=")}, reverse=True)
        header = ["input size", "ACC classifier", "ACC mean seg. prob.", "AUC classifier",
                  "AUC mean seg. prob."]
        body = []
        for s in sizes:
            a = next(x for x in agg if x["slice"] == f"size={s}")
            body.append([str(s)] + [_cell(a, m) for m in ("test_acc_cls", "test_acc_seg",
                                                          "test_auc_cls", "test_auc_seg")])
        return header, body
    raise ValueError(f"unknown table {table!r}; expected one of {TABLES}")


def _paper_lambda_cols(table: str, header: list, body: list, lams, datas: set,
                       specific: bool) -> None:
    comps = sorted({d.rsplit("_", 1)[1] for d in datas if d[-3:] in ("c23", "c40")})
    ref = PAPER_RESULTS[f"table{table}"]
    halves = (["all_methods", "method_specific"] if specific else ["all_methods"]) \
        if table == "1" else ["method_specific"]
    for half in halves:
        names = [c for c in next(iter(ref[half].values()))
                 if c.split()[0] in comps and (table == "1" or "StyleGAN" in c)]
        header += [f"paper {half.replace('_', '-')} {c}" for c in names]
        for lam, line in zip(lams, body):
            vals = ref[half].get(lam)
            line += [f"{vals[c]:.2f}" if vals else "-" for c in names]


def to_markdown(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)
