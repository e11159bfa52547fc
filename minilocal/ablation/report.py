"""The report files of an ablation table: CSV, Markdown (ours beside the paper), PNG, HTML.

:func:`write_table` writes what ``minilocal ablate`` leaves in its --out folder: the runs
and their mean +- std as CSV, a Markdown page with the table (:mod:`.tables`), every
metric and the verdicts of the paper's claims (:mod:`.claims`), and the plot
(:mod:`.plots`) as PNG and HTML. :func:`load_results` reads the runs back.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Sequence

from .claims import BASE_CASE_AUC, base_case_lines, claim_verdicts
from .grid import BUDGETS, TABLES, Budget
from .paper import PAPER_RESULTS
from .plots import plot_table, save_plot_png
from .stats import aggregate
from .tables import TABLE_TITLES, _cell, _short, table_layout, to_markdown

__all__ = ["write_table", "load_results"]


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
          f"--seeds {n_seeds}`; {b.describe()}. Wall time: {total / 60:.1f} min "
          f"over {len({r['key'] for r in rows})} runs (training and testing). PAPER numbers: "
          f"{PAPER_RESULTS['table' + table if table != 'fig3a' else 'fig3a']['caption']} "
          "(other datasets, full-size network, GPU training): compare trends, not values.",
          "", to_markdown(header, body), *_summary_lines(table, rows), "",
          f"Base cases (a verdict is trusted where the base case reaches test AUC "
          f"{BASE_CASE_AUC}):", "", *[f"- {line}" for line in base_case_lines(rows)],
          "", "## Verdict", ""]
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
