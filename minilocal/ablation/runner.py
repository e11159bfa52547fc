"""Run a grid of :class:`~minilocal.ablation.grid.Cell` s: train, select on val, test.

Each run trains with :func:`minilocal.train.fit` (best epoch chosen by validation AUC
only), reloads RUN/best.*, and evaluates on the test split with
:func:`minilocal.evaluate.evaluate`: both scores (classifier p_fake and mean segmentation
probability of the "fake" head), overall, per fake method and per input size. Results go
to ``OUT/runs.csv``, one row per (run, slice), appended as soon as a run ends; a rerun
skips every run already there, so a long grid can be interrupted and resumed.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import re
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import torch

from ..checkpoint import checkpoint_paths, load_checkpoint
from ..evaluate import evaluate
from ..model import DEFAULT_WIDTHS, LocalFeatureNet
from ..recipe import TrainConfig
from ..train import fit
from .data import load_setting, resolve_sources, setting_sources
from .grid import BUDGETS, Budget, Cell

logger = logging.getLogger(__name__)

__all__ = ["RESULTS_CSV", "RESULT_COLUMNS", "pending", "grid_rows", "run_grid", "run_cell", "read_results",
           "read_rows"]

RESULTS_CSV = "runs.csv"
METRICS = ("test_acc_cls", "test_auc_cls", "test_acc_seg", "test_auc_seg")
RESULT_COLUMNS = ["key", "data", "method", "variant", "lambda_cls", "lambda_seg", "masks",
                  "seed", "budget", "slice", "status", "reason", "n_train", "n_val",
                  "n_test", "epochs_run", "best_epoch", "val_auc", "val_acc", *METRICS,
                  "seconds", "config"]


def read_results(out: str | Path) -> list[dict[str, Any]]:
    """The rows of OUT/runs.csv (numbers as float/int, "" as NaN); [] when absent."""
    path = Path(out) / RESULTS_CSV
    return read_rows(path) if path.is_file() else []


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a results CSV (runs.csv or table*_runs.csv), numbers parsed ("" -> NaN)."""
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for k in ("lambda_cls", "val_auc", "val_acc", "seconds", *METRICS):
                row[k] = float(row[k]) if row.get(k) not in (None, "") else math.nan
            for k in ("seed", "n_train", "n_val", "n_test", "epochs_run", "best_epoch"):
                row[k] = int(float(row[k])) if row.get(k) not in (None, "") else -1
            rows.append(row)
    return rows


def _append(out: Path, rows: list[dict]) -> None:
    path = out / RESULTS_CSV
    new = not path.is_file()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerows(rows)


def _slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9=.,_-]+", "_", key)


def _metric_row(metrics: Mapping[str, Any]) -> dict[str, float]:
    out = {"test_acc_cls": metrics["cls"]["acc"], "test_auc_cls": metrics["cls"]["auc"]}
    if "seg" in metrics:
        out.update(test_acc_seg=metrics["seg"]["acc"], test_auc_seg=metrics["seg"]["auc"])
    return out


def _skip(cell: Cell, budget: Budget, reason: str, n=(0, 0, 0)) -> list[dict]:
    logger.warning("skipping %s: %s", cell.key, reason)
    return [{**cell.describe(), "budget": budget.name, "slice": "all", "status": "skipped",
             "reason": reason, "n_train": n[0], "n_val": n[1], "n_test": n[2]}]


def run_cell(cell: Cell, budget: Budget, sources: Mapping[str, Path], out: str | Path,
             device: str = "cpu", cache: dict | None = None, progress: bool = False
             ) -> list[dict[str, Any]]:
    """Train one cell, select its best epoch on val, test it; rows for runs.csv.

    Data that cannot give the run (a split without both classes, missing masks) gives
    one row with status "skipped" and the reason, instead of an error.

    Returns:
        one row per slice: "all", each fake method (when trained on several) and
        "size=S" for each evaluation size (when several).
    """
    t0 = time.perf_counter()
    size = cell.size or budget.size
    cache = {} if cache is None else cache
    caps = (budget.max_train, budget.max_val, budget.max_test)
    ckey = (cell.data, cell.method, size, caps, budget.balance_train)
    try:
        if ckey not in cache:
            cache[ckey] = load_setting(cell.data, cell.method, sources, size, caps,
                                       balance_train=budget.balance_train)
        train_set, val_set, test_set = cache[ckey]
    except (ValueError, FileNotFoundError) as err:
        return _skip(cell, budget, str(err))
    n = (len(train_set), len(val_set), len(test_set))
    n_fake = int(test_set.labels.sum()) if n[2] else 0
    if n_fake in (0, n[2]):
        return _skip(cell, budget, f"the test split needs real and fake images, got "
                     f"{n[2] - n_fake} real and {n_fake} fake", n)
    config = TrainConfig(
        lambda_cls=cell.lambda_cls, lambda_seg=dict(cell.lambda_seg), masks=dict(cell.masks),
        size=size, train_size=min(budget.train_size or size, size), epochs=budget.epochs,
        batch_size=budget.batch_size, lr=budget.lr, seed=cell.seed, device=device,
        patience=budget.patience, checkpoint_every=0 if budget.cpu_minutes is None else 200,
        max_cpu_minutes=budget.cpu_minutes,
        widths=budget.widths or DEFAULT_WIDTHS)
    run = Path(out) / "runs" / budget.name / _slug(cell.key)
    torch.manual_seed(cell.seed)
    model = LocalFeatureNet(seg_heads=config.heads, widths=config.widths, check_inputs=False)
    try:
        history = fit(model, train_set, val_set, config, out=run, resume=True,
                      progress=progress, meta={"cell": cell.describe(), "budget": budget.name})
    except ValueError as err:  # unusable data (check_data)
        return _skip(cell, budget, str(err), n)
    best = max(history, key=lambda r: r["val_auc"])
    net, _ = load_checkpoint(run / "best", device=device)
    head = "fake" if "fake" in config.heads else (config.heads[0] if config.heads else "fake")
    with warnings.catch_warnings():  # one-class localization slices: NaN, expected
        warnings.simplefilter("ignore", UserWarning)
        result = evaluate(net, test_set, sizes=cell.sizes or (size,), device=device,
                          head=head, autocast=False)
    if head != "fake":  # e.g. case 4 (face head only): its map is no fake score
        result = json.loads(json.dumps(result))
        for part in [result, *result["sizes"].values(), *result["per_method"].values()]:
            part.pop("seg", None)
    base = {**cell.describe(), "budget": budget.name, "status": "ok", "reason": "",
            "n_train": n[0], "n_val": n[1], "n_test": n[2], "epochs_run": len(history),
            "best_epoch": best["epoch"], "val_auc": best["val_auc"],
            "val_acc": best["val_acc"], "seconds": round(time.perf_counter() - t0, 1),
            "config": json.dumps({"train": {k: v for k, v in vars(config).items()}},
                                 default=str)}
    rows = [{**base, "slice": "all", **_metric_row(result)}]
    if cell.method == "all" and len(result["per_method"]) > 1:
        rows += [{**base, "slice": m, **_metric_row(v)} for m, v in result["per_method"].items()]
    if len(result["sizes"]) > 1:
        rows += [{**base, "slice": f"size={s}", **_metric_row(v)}
                 for s, v in result["sizes"].items()]
    return rows


def pending(cells: Iterable[Cell], out: str | Path, budget: Budget) -> list[Cell]:
    """The cells not yet in OUT/runs.csv, in the order they run: seed by seed (every
    cell's seed 0, then seed 1, ...), so that a grid stopped part-way holds paired seeds."""
    done = {r["key"] for r in read_results(out) if r["budget"] == budget.name}
    return sorted((c for c in cells if c.key not in done), key=lambda c: c.seed)


def run_grid(cells: Iterable[Cell], out: str | Path, budget: Budget | str = "quick",
             data: Mapping[str, str | Path] | None = None, device: str = "cpu",
             progress: bool = False, on_run: Callable[[Cell, list[dict]], None] | None = None
             ) -> list[dict[str, Any]]:
    """Run every cell not yet in OUT/runs.csv; return the rows of all the given cells.

    Cells run in :func:`pending` order: seed by seed, so a long grid that is stopped
    part-way leaves paired comparisons, not five seeds of one cell.

    Args:
        cells: the runs, e.g. :func:`~minilocal.ablation.grid.grid` ("1", "quick", 3).
        out: results folder (runs.csv, runs/KEY/best.*, data/ for built synthetic sets).
        budget: a Budget or a name in BUDGETS.
        data: source folder overrides, see :func:`~minilocal.ablation.data.resolve_sources`.
        device: "cpu", "cuda" or "auto".
        progress: tqdm bars while training.
        on_run: called after each new run with (cell, its rows), e.g. to log progress.

    Raises:
        ValueError: on an unknown budget.
        FileNotFoundError: if a data source is missing and cannot be built.
    """
    b = BUDGETS.get(budget) if isinstance(budget, str) else budget
    if b is None:
        raise ValueError(f"unknown budget {budget!r}; expected one of {sorted(BUDGETS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cells = list(cells)
    todo = pending(cells, out, b)
    needed = tuple(sorted({s for c in todo for s, _ in setting_sources(c.data)[0]}))
    sources = None
    cache: dict = {}
    for i, cell in enumerate(todo):
        if sources is None:
            try:
                sources = resolve_sources(out, b.synth_n, data, needed, progress)
            except FileNotFoundError:
                sources = resolve_sources(out, b.synth_n, data)  # skip what is missing
        logger.info("run %d/%d: %s", i + 1, len(todo), cell.key)
        rows = run_cell(cell, b, sources, out, device, cache, progress)
        _append(out, rows)
        for suffix in ("safetensors", "json"):  # keep best.* only
            p = checkpoint_paths(out / "runs" / b.name / _slug(cell.key) / "last")[0].with_suffix(
                f".{suffix}")
            p.unlink(missing_ok=True)
        if on_run is not None:
            on_run(cell, rows)
    return grid_rows(cells, out, b)


def grid_rows(cells: Iterable[Cell], out: str | Path, budget: Budget) -> list[dict[str, Any]]:
    """The rows in OUT/runs.csv of the given cells (those already trained), each labelled
    with its cell's variant (a run shared by two tables takes this grid's label)."""
    variant = {c.key: c.variant for c in cells}
    return [{**r, "variant": variant[r["key"]]} for r in read_results(out)
            if r["key"] in variant and r["budget"] == budget.name]
