"""Reproducing the paper's experiments (section 4) at small scale: ``minilocal ablate``.

* :mod:`.grid`: the runs of Tables 1-3 and Fig. 3a, and the budgets (tiny/quick/full);
* :mod:`.data`: the data settings (synthetic fakes of LFW, GAN vs LFW, DFDC, FF++);
* :mod:`.runner`: train, select on validation, test; resumable runs.csv;
* :mod:`.stats`: mean +- std over seeds and the paired comparison;
* :mod:`.tables`: our numbers beside the paper's, as tables;
* :mod:`.plots`: the same numbers as plots (plotly, PNG);
* :mod:`.claims`: the paper's claims and their verdicts on our runs;
* :mod:`.report`: the files of a table (CSV, Markdown, PNG, HTML), written and read back;
* :mod:`.paper`: the paper's numbers (reference data, transcribed from its text).

Example:
    >>> from minilocal import ablation
    >>> rows = ablation.run_grid(ablation.grid("1", "quick", seeds=3), "build/ablation")
    >>> ablation.write_table("build/ablation", "1", rows, "quick")
"""

from pathlib import Path

from .claims import BASE_CASE_AUC, base_case_lines, claim_verdicts
from .data import SETTINGS, load_setting, make_demo_sources, resolve_sources
from .grid import BUDGETS, TABLES, Budget, Cell, case_lambdas, grid
from .paper import PAPER_CASES, PAPER_RESULTS
from .plots import plot_table, save_plot_png
from .report import load_results, write_table
from .runner import RESULT_COLUMNS, grid_rows, pending, read_results, run_cell, run_grid
from .stats import aggregate, compare_variants, format_mean_std, paired_comparison
from .tables import table_layout, to_markdown

RESULTS = Path(__file__).with_name("results")  # committed tables (metrics only), README.md

__all__ = ["RESULTS", "BUDGETS", "TABLES", "SETTINGS", "PAPER_RESULTS", "PAPER_CASES", "RESULT_COLUMNS",
           "Budget", "Cell", "grid", "case_lambdas", "load_setting", "resolve_sources",
           "make_demo_sources", "pending", "grid_rows", "run_grid", "run_cell", "read_results", "aggregate",
           "paired_comparison", "compare_variants", "format_mean_std", "table_layout",
           "to_markdown", "write_table", "load_results", "plot_table", "save_plot_png",
           "claim_verdicts", "BASE_CASE_AUC", "base_case_lines", "run_tables", "run_demo", "load_or_demo"]


def run_tables(tables, out, budget: str = "quick", seeds: int = 3, data=None,
               device: str = "cpu", progress: bool = False) -> dict:
    """Run and write each table in turn: {table: write_table paths}.

    Args:
        tables: e.g. ["1", "2", "3", "fig3a"].
        out, budget, seeds, data, device, progress: as in :func:`grid` and :func:`run_grid`.
    """
    written = {}
    for t in tables:
        rows = run_grid(grid(t, budget, seeds), out, budget, data=data, device=device,
                        progress=progress)
        written[t] = write_table(out, t, rows, budget, seeds)
    return written


def run_demo(out, seeds: int = 2, tables=("1", "2", "3", "fig3a")) -> dict:
    """The TINY grids on procedurally drawn demo data (no real data; ~30 s on a CPU):
    exercises the whole pipeline where no results exist (CI). Numbers are meaningless.

    Returns:
        {table: rows}, as :func:`load_results` (OUT/demo_data holds the demo sources).
    """
    from pathlib import Path

    data = make_demo_sources(Path(out) / "demo_data")
    run_tables(tables, out, "tiny", seeds, data=data)
    return load_results(out)


def load_or_demo(results_dir, demo_dir, seeds: int = 2) -> tuple[dict, dict]:
    """Results of ``minilocal ablate`` from ``results_dir``; tables missing there come
    from the TINY demo grid (:func:`run_demo`) in ``demo_dir``.

    Returns:
        ({table: rows}, {table: "results" | "tiny demo"}).
    """
    found = load_results(results_dir)
    missing = [t for t in TABLES if t not in found]
    origin = {t: "results" for t in found}
    if missing:
        demo = run_demo(demo_dir, seeds, tuple(missing))
        found.update({t: demo[t] for t in missing})
        origin.update({t: "tiny demo" for t in missing})
    return {t: found[t] for t in TABLES}, origin
