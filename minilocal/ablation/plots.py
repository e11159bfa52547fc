"""Plots of the ablation tables, plotly or PNG (section 4: Tables 1-3, Fig. 3a).

Each point is our mean +- std over seeds, in %. :func:`plot_series` gives the numbers,
:func:`plot_table` draws them with plotly and :func:`save_plot_png` with matplotlib.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

from .grid import TABLES
from .stats import aggregate
from .tables import BASELINE, TABLE_TITLES, _lam, _short

__all__ = ["plot_series", "plot_table", "save_plot_png"]


def plot_series(table: str, rows: Sequence[dict[str, Any]], metric: str = "test_acc_cls"
                ) -> tuple[str, list[dict[str, Any]]]:
    """(x-axis title, [{"name", "x", "y", "err"}]) in %, for either plotting backend."""
    agg = aggregate(rows)
    series: dict[str, dict] = {}
    if table in ("1", "2"):
        xt = "lambda_seg"
        kinds: dict[str, set] = {}  # per data setting: mask labels of its lambda > 0 runs
        for a in agg:
            if a["variant"] != BASELINE:
                kinds.setdefault(a["data"], set()).add(_lam(a["variant"])[0])
        for a in sorted(agg, key=lambda a: _lam(a["variant"])[1]):
            if a["slice"] != "all":
                continue
            kind, lam = _lam(a["variant"])  # the base case starts every series of its data
            for k in kinds.get(a["data"], {""}) if a["variant"] == BASELINE else {kind}:
                name = f"{_short(a['data'])} {k + ' ' if k else ''}train {a['method']}" + (
                    f" / test {a['slice']}" if a["slice"] != "all" else "")
                s = series.setdefault(name, {"name": name, "x": [], "y": [], "err": []})
                s["x"].append(lam)
                s["y"].append(100 * a[f"{metric}_mean"])
                s["err"].append(100 * (a[f"{metric}_std"] if a["n"] > 1 else 0.0))
    elif table == "3":
        xt = "case"
        for a in sorted(agg, key=lambda a: a["variant"]):  # "case 1" .. "case 7"
            if a["slice"] != "all":  # per-method slices are unbalanced: not this plot
                continue
            s = series.setdefault(a["data"], {"name": _short(a["data"]), "x": [], "y": [],
                                              "err": []})
            s["x"].append(a["variant"])
            s["y"].append(100 * a[f"{metric}_mean"])
            s["err"].append(100 * (a[f"{metric}_std"] if a["n"] > 1 else 0.0))
    elif table == "fig3a":
        xt = "input size (px)"
        for score, label in (("cls", "classifier p_fake"), ("seg", "mean seg. probability")):
            s = {"name": label, "x": [], "y": [], "err": []}
            for a in sorted(agg, key=lambda a: -int(a["slice"].split("=")[-1])
                            if a["slice"].startswith("size=") else 0):
                if a["slice"].startswith("size=") and math.isfinite(a[f"test_acc_{score}_mean"]):
                    m = f"test_{metric.split('_')[1]}_{score}"
                    s["x"].append(int(a["slice"].split("=")[1]))
                    s["y"].append(100 * a[f"{m}_mean"])
                    s["err"].append(100 * (a[f"{m}_std"] if a["n"] > 1 else 0.0))
            series[label] = s
    else:
        raise ValueError(f"unknown table {table!r}; expected one of {TABLES}")
    return xt, [s for s in series.values() if s["x"]]


def plot_table(table: str, rows: Sequence[dict[str, Any]], metric: str = "test_acc_cls",
               title: str | None = None):
    """A plotly figure of :func:`plot_series` (mean +- std over seeds)."""
    import plotly.graph_objects as go

    xt, series = plot_series(table, rows, metric)
    fig = go.Figure()
    for s in series:
        fig.add_trace(go.Scatter(x=s["x"], y=s["y"], name=s["name"],  # cases: categories
                                 mode="markers" if table == "3" else "lines+markers",
                                 error_y={"type": "data", "array": s["err"]}))
    fig.update_layout(title=title or TABLE_TITLES[table], xaxis_title=xt,
                      yaxis_title=f"{metric} (%)", template="plotly_white", height=420)
    if table == "fig3a":
        fig.update_xaxes(autorange="reversed")
    return fig


def save_plot_png(table: str, rows: Sequence[dict[str, Any]], path: str | Path,
                  metric: str = "test_acc_cls", title: str | None = None) -> Path:
    """The same plot as :func:`plot_table`, drawn with matplotlib into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xt, series = plot_series(table, rows, metric)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for s in series:
        ax.errorbar([str(x) for x in s["x"]] if table == "3" else s["x"], s["y"],
                    yerr=s["err"], marker="o", capsize=3, label=s["name"],
                    linestyle="none" if table == "3" else "-")  # cases: categories
    if table == "fig3a":
        ax.invert_xaxis()
    ax.set_xlabel(xt)
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(title or TABLE_TITLES[table], fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
