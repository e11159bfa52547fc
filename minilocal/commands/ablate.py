"""``minilocal ablate``: reproduce the paper's Tables 1-3 and Fig. 3a at small scale.

Trains the grid (resumable: runs already in OUT/runs.csv are skipped), then writes
OUT/table{T}.csv|md|png|html beside the paper's numbers.
"""

from __future__ import annotations

import argparse
import sys
import time


def add_parser(sub) -> None:
    p = sub.add_parser(
        "ablate", help="reproduce the paper's ablations (Tables 1-3, Fig. 3a)",
        description="Train the grid of one table (or all), mean +- std over seeds, paired "
                    "comparison with the lambda_seg = 0 base case, tables beside the paper's "
                    "numbers. Resumable: rerun the same command after an interruption.")
    p.add_argument("--table", required=True, choices=("1", "2", "3", "fig3a", "all"),
                   help="which table (all: 1, 2, 3, fig3a in turn)")
    p.add_argument("--budget", choices=("tiny", "quick", "long", "cpu", "full"), default="quick",
                   help="quick: 2-core CPU, minutes per table; long: synth c23 only with 3x "
                        "the epochs (Table 1: lambda_seg 0 vs 0.3; Table 3: cases 1-3; "
                        "about 2 min a run); cpu: the paper's network and the trainer's "
                        "CPU recipe, 60 CPU-minutes a run on all the data (Table 1 with "
                        "--seeds 5: 30 CPU-hours, resumable); full: the paper's grid, for a "
                        "GPU; tiny: smoke test "
                        "(default: quick)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per cell (default 3)")
    p.add_argument("--out", default="build/ablation", help="results folder "
                   "(default build/ablation)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--data", action="append", default=[], metavar="SOURCE=DIR",
                   help="use DIR for a data source (synth_c23, synth_c40, lfw_faces, "
                        "gan_faces, dfdc_faces, ffpp_c23; gan_faces defaults to "
                        "build/data/gan_faces_matched, built with --match lfw); repeatable")
    p.add_argument("--setting", action="append", default=[], metavar="NAME",
                   help="train only the runs of this data setting (e.g. synth_c23, dfdc); "
                        "repeatable. Two processes with different settings can share one "
                        "--out, e.g. one per CPU core")
    p.add_argument("--report", metavar="DIR", default=None,
                   help="train nothing: write the tables of the runs already in --out (a "
                        "grid stopped part-way too) to DIR, e.g. to commit them")
    p.add_argument("--dry-run", action="store_true", help="list the runs and exit")
    p.add_argument("--progress", action="store_true", help="tqdm bars while training")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from .. import ablation
    from .train import parse_pairs

    if args.threads:
        torch.set_num_threads(args.threads)
    data = parse_pairs(",".join(args.data), "--data") if args.data else None
    tables = ["1", "2", "3", "fig3a"] if args.table == "all" else [args.table]
    for table in tables:
        budget = ablation.BUDGETS[args.budget]
        cells = everything = ablation.grid(table, args.budget, args.seeds)
        if args.report:
            rows = ablation.grid_rows(everything, args.out, budget)
            if not rows:
                print(f"error: no runs of table {table} ({args.budget} budget) in "
                      f"{args.out}/runs.csv to report", file=sys.stderr)
                return 2
            _write(args, table, rows, f"{len({r['key'] for r in rows})} of "
                                      f"{len(everything)} runs")
            continue
        if args.setting:
            unknown = sorted(set(args.setting) - {c.data for c in cells})
            if unknown:
                print(f"error: table {table} has no data setting {', '.join(unknown)}; it "
                      f"has {', '.join(sorted({c.data for c in cells}))}", file=sys.stderr)
                return 2
            cells = [c for c in cells if c.data in args.setting]
        todo = ablation.pending(cells, args.out, budget)
        print(f"table {table}: {len(cells)} runs, {len(cells) - len(todo)} already in "
              f"{args.out}/runs.csv, {len(todo)} to train ({args.budget} budget)", flush=True)
        if args.dry_run:
            for c in todo:
                print("  ", c.key)
            continue
        t0 = time.perf_counter()
        counter = iter(range(1, len(todo) + 1))

        def on_run(cell, rows):
            r = rows[0]
            what = (f"test ACC {100 * r['test_acc_cls']:.1f} AUC {100 * r['test_auc_cls']:.1f}"
                    if r["status"] == "ok" else f"skipped: {r['reason']}")
            print(f"  [{next(counter)}/{len(todo)}] {cell.key}: {what} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)

        ablation.run_grid(cells, args.out, args.budget, data=data, device=args.device,
                          progress=args.progress, on_run=on_run)
        # the table holds every run of the grid in OUT, those of other --setting processes too
        rows = ablation.grid_rows(everything, args.out, budget)
        _write(args, table, rows, f"done in {time.perf_counter() - t0:.0f} s")
    return 0


def _write(args: argparse.Namespace, table: str, rows: list[dict], what: str) -> None:
    from pathlib import Path

    from .. import ablation

    Path(args.report or args.out).mkdir(parents=True, exist_ok=True)
    paths = ablation.write_table(args.report or args.out, table, rows, args.budget, args.seeds)
    print(f"table {table} ({what}): " + ", ".join(str(p) for p in paths.values()), flush=True)
    for v in ablation.claim_verdicts({table: rows}):
        print(f"  {v['claim']}: {v['verdict']}. {v['evidence']}")
