"""Tables (CSV, Markdown), plots and per-claim verdicts of the ablation grids.

Our numbers always come from runs.csv rows (mean +- std over seeds, in %); the paper's
come from :data:`~minilocal.ablation.paper.PAPER_RESULTS` and sit in clearly labelled
"paper" columns beside ours. :func:`load_results` reads what ``minilocal ablate`` wrote.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .grid import BUDGETS, TABLES, Budget
from .paper import PAPER_CASES, PAPER_RESULTS
from .stats import aggregate, compare_variants, format_mean_std

__all__ = ["table_layout", "to_markdown", "write_table", "load_results", "plot_series",
           "plot_table", "save_plot_png", "claim_verdicts", "Claim", "CLAIMS", "TABLE_TITLES"]

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


def _write_csv(path: Path, rows: list[dict]) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def _summary_lines(table: str, rows: Sequence[dict[str, Any]]) -> list[str]:
    """Secondary table: every metric of the 'all' slices, and skipped runs."""
    agg = [a for a in aggregate(rows) if a["slice"] == "all" or table == "fig3a"]
    head = ["data", "train", "variant", "test", "ACC cls", "AUC cls", "ACC seg", "AUC seg",
            "val AUC", "s/run"]
    body = [[_short(a["data"]), a["method"], a["variant"], a["slice"],
             *[_cell(a, m) for m in ("test_acc_cls", "test_auc_cls", "test_acc_seg",
                                     "test_auc_seg", "val_auc")],
             f"{a['seconds_mean']:.0f}"] for a in agg]
    lines = ["", "All metrics (mean +- std (seeds), %; seg = mean segmentation probability "
             "of the 'fake' head, thresholded at 0.5 for ACC):", "", to_markdown(head, body)]
    skipped = {(r["data"], r["reason"]) for r in rows if r["status"] == "skipped"}
    for d, reason in sorted(skipped):
        lines += ["", f"**Skipped** {_short(d)}: {reason}"]
    return lines


def write_table(out: str | Path, table: str, rows: Sequence[dict[str, Any]],
                budget: Budget | str = "quick", seeds: int | None = None) -> dict[str, Path]:
    """OUT/table{T}_runs.csv (per run), table{T}.csv (mean/std), table{T}.md (ours beside
    the paper, with the verdict), table{T}.png (matplotlib) and table{T}.html (plotly)."""
    b = BUDGETS[budget] if isinstance(budget, str) else budget
    out, name = Path(out), f"table{table}" if table != "fig3a" else "fig3a"
    rows = list(rows)
    paths = {"runs": out / f"{name}_runs.csv", "csv": out / f"{name}.csv",
             "md": out / f"{name}.md", "png": out / f"{name}.png", "html": out / f"{name}.html"}
    _write_csv(paths["runs"], rows)
    _write_csv(paths["csv"], aggregate(rows))
    header, body = table_layout(table, rows)
    n_seeds = seeds or len({r["seed"] for r in rows})
    total = sum(r["seconds"] for r in rows if r["slice"] == "all" and math.isfinite(r["seconds"]))
    md = [f"# {TABLE_TITLES[table]}", "",
          f"OUR numbers: test ACC of the classifier (%), mean +- std over seeds (n in "
          f"brackets), produced by `minilocal ablate --table {table} --budget {b.name} "
          f"--seeds {n_seeds}`; {b.describe()}. Training compute: {total / 60:.1f} CPU-min "
          f"over {len({r['key'] for r in rows})} runs. PAPER numbers: "
          f"{PAPER_RESULTS['table' + table if table != 'fig3a' else 'fig3a']['caption']} "
          "(other datasets, full-size network, GPU training): compare trends, not values.",
          "", to_markdown(header, body), *_summary_lines(table, rows), "", "## Verdict", ""]
    md += [f"- {v['claim']}: **{v['verdict']}**. {v['evidence']}"
           for v in claim_verdicts({table: rows})]
    if table == "2":
        md += ["", "Caveat: the generated faces and the LFW reals come from different "
               "sources (resolution, JPEG history, framing), so a classifier can learn the "
               "source instead of the generator (shortcut learning)."]
    paths["md"].write_text("\n".join(md) + "\n")
    if any(r["status"] == "ok" for r in rows):
        save_plot_png(table, [r for r in rows if r["status"] == "ok"], paths["png"])
        plot_table(table, [r for r in rows if r["status"] == "ok"]).write_html(
            paths["html"], include_plotlyjs="cdn")
    else:
        paths.pop("png"), paths.pop("html")
    return paths


def load_results(out: str | Path) -> dict[str, list[dict[str, Any]]]:
    """{table: its per-run rows} from OUT/table{T}_runs.csv files; {} when none exist."""
    from .runner import read_rows

    found = {}
    for table in TABLES:
        path = Path(out) / f"{'table' + table if table != 'fig3a' else 'fig3a'}_runs.csv"
        if path.is_file():
            found[table] = read_rows(path)
    return found


def _held(cmp: dict) -> str:
    if not cmp["pairs"]:
        return "not tested"
    if cmp["wins"] > cmp["losses"] and cmp["sign_p"] < 0.05:
        return "held"
    if cmp["losses"] > cmp["wins"] and cmp["sign_p"] < 0.05:
        return "contradicted"
    return "not shown (inconclusive)"


def _evidence(cmp: dict, what: str) -> str:
    if not cmp["pairs"]:
        return f"{what}: no paired runs."
    return (f"{what}: better in {cmp['wins']} of {cmp['pairs']} pairs ({cmp['losses']} worse, "
            f"{cmp['ties']} ties), mean difference {100 * cmp['mean_diff']:+.2f} points, "
            f"sign test p = {cmp['sign_p']:.3g}, paired t-test p = {cmp['t_p']:.3g}.")


CHANCE_AUC = 0.6  # below this mean test AUC a data setting's models are "near chance"


def _setting_aucs(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """{data setting: mean classifier test AUC over its runs (slice "all")}."""
    aucs: dict[str, list[float]] = {}
    for r in rows:
        if r["status"] == "ok" and r["slice"] == "all" and math.isfinite(r["test_auc_cls"]):
            aucs.setdefault(r["data"], []).append(r["test_auc_cls"])
    return {d: sum(v) / len(v) for d, v in aucs.items()}


def _learned(rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """(rows of the data settings whose models learned, what was left out and why).

    The gate is per data setting (e.g. synth c23, DFDC): the mean test AUC of its
    classifier over every run (all variants and seeds) must reach CHANCE_AUC. A setting
    near chance cannot rank objectives, and pooling it with one that learned would hide
    it (or be hidden by it). When no setting learned, every row is returned, so the
    evidence still shows what the noise said (and :func:`_near_chance` gives the verdict).
    """
    means = _setting_aucs(rows)
    kept = {d for d, m in means.items() if m >= CHANCE_AUC}
    dropped = [f"{_short(d)} (mean test AUC {means[d]:.2f})" for d in sorted(means)
               if d not in kept]
    note = ("Not testable (models near chance, mean test AUC < "
            f"{CHANCE_AUC:g}): {', '.join(dropped)}." if dropped else "")
    return ([r for r in rows if r["data"] in kept] if kept else list(rows)), note


def _near_chance(rows: Sequence[dict[str, Any]]) -> str:
    """'' or a verdict saying no data setting's models learned enough to test anything."""
    means = _setting_aucs(rows)
    if any(m >= CHANCE_AUC for m in means.values()):
        return ""
    aucs = [r["test_auc_cls"] for r in rows if r["status"] == "ok" and r["slice"] == "all"
            and math.isfinite(r["test_auc_cls"])]
    mean = sum(aucs) / len(aucs) if aucs else math.nan
    return f"not testable here (models near chance: mean test AUC {mean:.2f})"


def _claim_lambda_seg(rows: Sequence[dict[str, Any]]) -> dict[str, str] | None:
    rows, _ = _learned([r for r in rows if r["slice"] == "all"])
    cmp = compare_variants(rows, BASELINE)
    auc = compare_variants(rows, BASELINE, metric="test_auc_cls")
    return {"claim": "(1) lambda_seg > 0 beats lambda_seg = 0",
            "paper": "Table 1: the base case is always the worst, up to +2.6 points",
            "verdict": _held(cmp), "evidence": _evidence(
                cmp, "test ACC, every lambda_seg > 0 run vs its lambda_seg = 0 "
                     "twin (same data, split, seed)") + " " + _evidence(
                auc, f"Test AUC ({_held(auc)})"), "comparison": json.dumps(cmp)}


def _claim_cvm_for_real(rows: Sequence[dict[str, Any]]) -> dict[str, str] | None:
    rows, _ = _learned([r for r in rows if r["slice"] == "all"])
    cvm_vs_real = compare_variants(rows, "case 2", ["case 3"])
    n = cvm_vs_real["pairs"]
    # "no significant loss" means something only where the sign test could find one:
    # with n pairs its smallest two-sided p is 2 * 0.5 ** n (n >= 6 for p < 0.05).
    detectable = 2 * 0.5 ** n < 0.05
    return {"claim": "(2a) CVM can replace real forgery masks (case 3 vs case 2)",
            "paper": "Table 3: case 3 within 0.3 points of case 2 on FF-DF and DFDD",
            "verdict": ("not tested" if not n else
                        "contradicted" if _held(cvm_vs_real) == "contradicted" else
                        "held (no significant loss)" if detectable else
                        f"not shown ({n} pairs are too few for a sign test to "
                        "detect a loss)"),
            "evidence": _evidence(cvm_vs_real, "case 3 (CVM) vs case 2 (real masks)"),
            "comparison": json.dumps(cvm_vs_real)}


def _claim_two_heads(rows: Sequence[dict[str, Any]]) -> dict[str, str] | None:
    rows, _ = _learned([r for r in rows if r["slice"] == "all"])
    k2 = compare_variants(rows, "case 1", ["case 6"])
    means: dict[str, list] = {}
    for a in aggregate(rows):
        means.setdefault(a["data"], []).append((a["test_acc_cls_mean"], a["variant"]))
    best = {d: max(v)[1] for d, v in means.items()}
    k2_best = sum(b in ("case 5", "case 6", "case 7") for b in best.values())
    return {"claim": "(2b) k = 2 (face + fake heads) works best overall",
            "paper": "Table 3: case 6 (CVM, CVM) best on FF-DF, DFDC, Celeb-DF",
            "verdict": "not tested" if not k2["pairs"] else "held"
            if k2_best == len(best) and _held(k2) == "held" else "not shown",
            "evidence": "best case per dataset (mean ACC): "
            + ", ".join(f"{_short(d)}: {b}" for d, b in best.items()) + ". "
            + _evidence(k2, "case 6 vs case 1"), "comparison": json.dumps(k2)}


def _claim_gan_faces(rows: Sequence[dict[str, Any]]) -> dict[str, str] | None:
    rows, _ = _learned([r for r in rows if r["slice"] == "all"])
    variants = {r["variant"] for r in rows}
    cvm = compare_variants(rows, BASELINE, sorted(v for v in variants if "CVM" in v))
    om = compare_variants(rows, BASELINE, sorted(v for v in variants if "OM" in v))
    verdict = ("held" if _held(cvm) == "held" and _held(om) != "held" else
               f"CVM {_held(cvm)}; OM {_held(om)}")
    return {"claim": "(3) GAN faces: CVM helps, ones masks (OM) do not",
            "paper": "Table 2: OM about the base case, CVM better in every case",
            "verdict": verdict, "evidence": _evidence(cvm, "ACC, CVM vs lambda_seg = 0")
            + " " + _evidence(om, "ACC, OM vs lambda_seg = 0") + " " + " ".join(
                _evidence(compare_variants(rows, BASELINE, sorted(
                    v for v in variants if k in v), "test_auc_cls"),
                    f"Test AUC, {k} vs lambda_seg = 0") for k in ("CVM", "OM")),
            "comparison": json.dumps({"cvm": cvm, "om": om})}


def _claim_small_inputs(rows: Sequence[dict[str, Any]]) -> dict[str, str] | None:
    kept, _ = _learned(rows)
    rows = [r for r in kept if r["slice"].startswith("size=")]
    sizes = sorted({int(r["slice"][5:]) for r in rows})
    if not sizes:
        return None
    small = [r for r in rows if int(r["slice"][5:]) <= max(64, sizes[0])]
    seg_vs_cls = _paired_scores(small)
    agg = {a["slice"]: a for a in aggregate(rows)}
    hi, lo = agg[f"size={sizes[-1]}"], agg[f"size={sizes[0]}"]
    change = "; ".join(
        f"{name} {100 * hi[k]:.1f} -> {100 * lo[k]:.1f} ({100 * (lo[k] - hi[k]):+.1f} "
        "points)" for name, k in (("classifier", "test_acc_cls_mean"),
                                  ("mean seg. probability", "test_acc_seg_mean")))
    return {"claim": "(4) graceful degradation; mean seg. probability beats the "
                     "classifier at small sizes",
            "paper": "Fig. 3a (plot only)", "verdict": f"seg vs cls at <= 64 px: "
            f"{_held(seg_vs_cls)}", "evidence":
            f"ACC {sizes[-1]} -> {sizes[0]} px: {change}. "
            + _evidence(seg_vs_cls, "seg ACC vs cls ACC, sizes <= 64, per seed"),
            "comparison": json.dumps(seg_vs_cls)}


@dataclass(frozen=True)
class Claim:
    """A claim of the paper and the test of it on one table's rows."""

    table: str  # the results it is tested on: "1", "2", "3" or "fig3a"
    test: Callable[[Sequence[dict[str, Any]]], dict[str, str] | None]  # None: no data


CLAIMS = (Claim("1", _claim_lambda_seg), Claim("3", _claim_cvm_for_real),
          Claim("3", _claim_two_heads), Claim("2", _claim_gan_faces),
          Claim("fig3a", _claim_small_inputs))


def claim_verdicts(results: dict[str, Sequence[dict[str, Any]]]) -> list[dict[str, str]]:
    """One verdict per paper claim (:data:`CLAIMS`) that ``results`` ({table: rows}) can test.

    A claim "held" when the paired comparison favours it with an exact sign test
    p < 0.05, is "contradicted" when it significantly goes the other way, and is "not
    shown (inconclusive)" otherwise. Only data settings whose models learned (mean test
    AUC >= CHANCE_AUC) enter a comparison; the others are named in the evidence, and a
    claim with none left is "not testable here", whatever its comparison would say.

    Returns:
        [{"claim", "paper", "verdict", "evidence", "comparison" (JSON)}].
    """
    out = []
    for claim in CLAIMS:
        if claim.table not in results:
            continue
        v = claim.test(results[claim.table])
        if v is None:
            continue
        kept, gate = _learned(results[claim.table])
        chance = _near_chance(results[claim.table])
        if chance:
            v["verdict"] = chance
        elif gate:
            v["evidence"] = f"{gate} {v['evidence']}"
            if v["verdict"].startswith("not tested"):  # only near-chance settings could
                v["verdict"] = "not testable here (models near chance where it is tested)"
            else:
                tested = sorted({_short(r["data"]) for r in kept})
                v["verdict"] += f" (tested on {', '.join(tested)} only)"
        out.append(v)
    return out


def _paired_scores(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    from .stats import paired_comparison

    pairs = [(r["test_acc_cls"], r["test_acc_seg"]) for r in rows
             if math.isfinite(r["test_acc_cls"]) and math.isfinite(r["test_acc_seg"])]
    if not pairs:
        return {"pairs": 0, "wins": 0, "losses": 0, "ties": 0}
    return paired_comparison([a for a, _ in pairs], [b for _, b in pairs])
