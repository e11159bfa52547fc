"""Aggregation over seeds and the paired comparison behind claim (1).

Every number is computed from runs.csv rows; mean +- sample std (ddof 1) over seeds.
The paired comparison matches runs that differ only in the objective (same data, same
splits, same seed, same test slice): wins, mean difference, an exact two-sided sign test
(ties dropped) and a paired t-test (scipy).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = ["aggregate", "paired_comparison", "compare_variants", "format_mean_std"]


def format_mean_std(mean: float, std: float, n: int, scale: float = 100.0) -> str:
    """'87.3 +- 1.2 (3)' in percent; '-' for NaN; no std with one seed."""
    if mean is None or not math.isfinite(mean):
        return "-"
    if n < 2 or not math.isfinite(std):
        return f"{mean * scale:.1f} (1)" if n == 1 else f"{mean * scale:.1f}"
    return f"{mean * scale:.1f} +- {std * scale:.1f} ({n})"


def aggregate(rows: Iterable[dict[str, Any]], by: Sequence[str] = ("data", "method",
              "variant", "slice"), metrics: Sequence[str] = ("test_acc_cls", "test_auc_cls",
              "test_acc_seg", "test_auc_seg", "val_auc", "seconds")) -> list[dict[str, Any]]:
    """Mean and std over seeds of each metric, per group of ``by`` (status "ok" only).

    Returns:
        one dict per group, first-seen order: the ``by`` values, "n" (runs), and
        "<metric>_mean", "<metric>_std" (NaN where undefined, e.g. std of one run).
    """
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r.get("status", "ok") == "ok":
            groups.setdefault(tuple(r[k] for k in by), []).append(r)
    out = []
    for key, rs in groups.items():
        row: dict[str, Any] = dict(zip(by, key), n=len(rs))
        for m in metrics:
            v = np.array([float(r.get(m, math.nan)) for r in rs], np.float64)
            v = v[np.isfinite(v)]
            row[f"{m}_mean"] = float(v.mean()) if v.size else math.nan
            row[f"{m}_std"] = float(v.std(ddof=1)) if v.size > 1 else math.nan
        out.append(row)
    return out


def paired_comparison(baseline: Sequence[float], treatment: Sequence[float]) -> dict[str, Any]:
    """How often and by how much ``treatment`` beat ``baseline`` on matched pairs.

    Args:
        baseline, treatment: (P,) paired scores (pair p: same data, split and seed).

    Returns:
        {"pairs", "wins", "losses", "ties", "mean_diff" (treatment - baseline),
        "std_diff", "sign_p" (exact two-sided binomial test of wins vs losses, ties
        dropped; 1.0 without untied pairs), "t_p" (paired t-test; NaN with < 2 pairs
        or zero variance)}.

    Raises:
        ValueError: if the lengths differ or there is no pair.
    """
    from scipy import stats

    a, b = np.asarray(baseline, np.float64), np.asarray(treatment, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"baseline and treatment must be paired 1-D scores, got shapes "
                         f"{a.shape} and {b.shape}")
    if a.size == 0:
        raise ValueError("no pairs to compare")
    d = b - a
    wins, losses = int((d > 0).sum()), int((d < 0).sum())
    sign_p = float(stats.binomtest(wins, wins + losses, 0.5).pvalue) if wins + losses else 1.0
    t_p = math.nan
    if d.size > 1 and d.std(ddof=1) > 0:
        t_p = float(stats.ttest_rel(b, a).pvalue)
    return {"pairs": int(d.size), "wins": wins, "losses": losses, "ties": int(d.size - wins
            - losses), "mean_diff": float(d.mean()),
            "std_diff": float(d.std(ddof=1)) if d.size > 1 else math.nan,
            "sign_p": sign_p, "t_p": t_p}


def compare_variants(rows: Iterable[dict[str, Any]], baseline: str,
                     treatments: Sequence[str] | None = None, metric: str = "test_acc_cls",
                     match: Sequence[str] = ("data", "method", "slice", "seed"),
                     ) -> dict[str, Any]:
    """Pair every run of the ``treatments`` variants with the ``baseline`` run that
    matches it on ``match``, and compare them (:func:`paired_comparison`).

    Args:
        rows: runs.csv rows.
        baseline: the baseline variant, e.g. "lambda_seg=0".
        treatments: variants compared with it; None: every other variant.
        metric: the column compared.
        match: columns that define a pair.

    Returns:
        :func:`paired_comparison`'s dict plus "baseline", "metric" and "treatments";
        {"pairs": 0, ...} when nothing pairs up.
    """
    rows = [r for r in rows if r.get("status", "ok") == "ok"
            and math.isfinite(float(r.get(metric, math.nan)))]
    base = {tuple(r[k] for k in match): float(r[metric]) for r in rows
            if r["variant"] == baseline}
    chosen = sorted({r["variant"] for r in rows if r["variant"] != baseline}
                    if treatments is None else treatments)
    a, b = [], []
    for r in rows:
        key = tuple(r[k] for k in match)
        if r["variant"] in chosen and key in base:
            a.append(base[key])
            b.append(float(r[metric]))
    info = {"baseline": baseline, "metric": metric, "treatments": list(chosen)}
    if not a:
        return {**info, "pairs": 0, "wins": 0, "losses": 0, "ties": 0, "mean_diff": math.nan,
                "std_diff": math.nan, "sign_p": math.nan, "t_p": math.nan}
    return {**info, **paired_comparison(a, b)}
