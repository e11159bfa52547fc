"""Recipe table: short training runs from scratch, compared on validation only (issue 11).

Each recipe is the shipped checkpoint's recipe (BASE) with one change, trained from
scratch on dfdc_faces + synth_lfw for the same CPU-time budget, on one thread, so that
runs side by side on a shared machine get the same compute. The best epoch (by pooled
validation AUC, as ``minilocal train`` chooses) is then scored on each dataset's
validation split at 128 px. Test splits are never read.

Usage::

    .venv/bin/python ci/recipe_runs.py run base lr3e-3 ...   # in the background, resumable
    .venv/bin/python ci/recipe_runs.py table                 # markdown table of finished runs
    .venv/bin/python ci/recipe_runs.py list                  # the recipes
    .venv/bin/python ci/recipe_runs.py test base mesonet4    # test splits, for the model
                                                             # card only (never to choose)

Runs go to build/runs/recipe/NAME (RUN/best.*, history.csv, result.json). A run that was
interrupted resumes from RUN/last.*; a run with result.json is skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "ci"))

from minilocal.evaluate import evaluate, score_images  # noqa: E402
from minilocal.faceset import load_folder  # noqa: E402
from minilocal.metrics import auc_standard_error, binary_metrics  # noqa: E402
from minilocal.model import LocalFeatureNet  # noqa: E402
from minilocal.recipe import TrainConfig  # noqa: E402
from minilocal.train import fit  # noqa: E402
from minilocal.train_data import load_splits  # noqa: E402

DATA = ("build/data/dfdc_faces", "build/data/synth_lfw")
OUT = ROOT / "build" / "runs" / "recipe"
CPU_MINUTES = 15.0
# the shipped checkpoint's recipe (MODEL_CARD.md), the row every other one changes
BASE = dict(lambda_cls=0.5, lambda_seg={"fake": 0.3, "face": 0.2},
            masks={"fake": "real_or_cvm", "face": "cvm"}, train_size=64, lr=1e-3,
            schedule="cosine", warmup=0.02, batch_size=64, weight_decay=1e-4,
            balance=True, jpeg_p=0.3, colour=0.1)
CLS_ONLY = dict(lambda_cls=1.0, lambda_seg={}, masks={})
RECIPES = {  # name: (model, changes to BASE, what it tests)
    "base": ("localfeature", {}, "the shipped recipe"),
    "base-seed1": ("localfeature", {"seed": 1}, "the shipped recipe, seed 1 (noise)"),
    "final128": ("localfeature", {"final_size": 128, "final_fraction": 0.25},
                 "64-px crops, 128 for the last 25%"),
    "train96": ("localfeature", {"train_size": 96}, "96-px crops throughout"),
    "lr3e-3": ("localfeature", {"lr": 3e-3}, "peak lr 3e-3"),
    "constant": ("localfeature", {"schedule": "constant"}, "constant lr (not annealed)"),
    "no-aug": ("localfeature", {"jpeg_p": 0.0, "colour": 0.0}, "no JPEG, no colour jitter"),
    "no-balance": ("localfeature", {"balance": False}, "L_cls without class weights"),
    "cls-only": ("localfeature", CLS_ONLY, "lambda_seg = 0 (L_cls only)"),
    "fake-cvm": ("localfeature", {"masks": {"fake": "cvm", "face": "cvm"}},
                 "fake head on the CVM, not the exact mask"),
    "batch32": ("localfeature", {"batch_size": 32}, "batch 32"),
    "wd1e-2": ("localfeature", {"weight_decay": 1e-2}, "weight decay 1e-2"),
    "mesonet4": ("mesonet4", {**CLS_ONLY, "train_size": 128},
                 "MesoNet-4 (L_cls only, 128-px faces), same data and budget"),
    # beside the shipped checkpoint (MODEL_CARD.md): its fine-tune ran 105 minutes of wall time
    "mesonet4-105": ("mesonet4", {**CLS_ONLY, "train_size": 128, "max_cpu_minutes": 105.0},
                     "MesoNet-4 for 105 CPU-minutes (the shipped fine-tune's wall time)"),
}


def build_model(kind: str, config: TrainConfig) -> torch.nn.Module:
    if kind == "mesonet4":
        from bench_model import Meso4  # ci/bench_model.py
        return Meso4(128)
    return LocalFeatureNet(seg_heads=config.heads, check_inputs=False)


def config_of(name: str, cpu_minutes: float) -> TrainConfig:
    _, changes, _ = RECIPES[name]
    # a recipe may set its own max_cpu_minutes; every other one gets cpu_minutes
    return TrainConfig(**{"epochs": 1000, "patience": 0, "max_cpu_minutes": cpu_minutes,
                          "checkpoint_every": 200, **BASE, **changes})


def score(model: torch.nn.Module, root: str) -> dict:
    """AUC (+ Hanley-McNeil SE) of the class score and the seg score on ROOT's val split."""
    val = load_folder(ROOT / root, split="val", size=128)
    s = score_images(model, val.images, sizes=(128,))[128]
    n_fake = int(val.labels.sum())
    row = {"n": len(val), "n_fake": n_fake}
    for key, values in (("cls", s.cls), ("seg", s.seg)):
        if values is None:
            continue
        auc = binary_metrics(val.labels, values)["auc"]
        row[key] = {"auc": auc, "se": auc_standard_error(auc, n_fake, len(val) - n_fake)}
    return row


def run(name: str, cpu_minutes: float) -> None:
    out = OUT / name
    if (out / "result.json").is_file():
        print(f"{name}: done already", flush=True)
        return
    kind, _, what = RECIPES[name]
    config = config_of(name, cpu_minutes)
    train_set, val_set = load_splits([ROOT / d for d in DATA], config)
    torch.manual_seed(config.seed)
    model = build_model(kind, config)
    resume = (out / "last.safetensors").is_file()
    t0 = time.time()
    history = fit(model, train_set, val_set, config, out=out, resume=resume,
                  meta={"data": list(DATA), "recipe": name})
    best = build_model(kind, config)
    best.load_state_dict(load_file(str(out / "best.safetensors")))
    cfg = json.loads((out / "best.json").read_text())
    result = {"name": name, "model": kind, "what": what, "changes": RECIPES[name][1],
              "cpu_minutes": config.max_cpu_minutes, "threads": torch.get_num_threads(),
              "images_seen": history[-1]["step"] * config.batch_size,
              "best_epoch": cfg["epoch"], "epochs": len(history),
              "pooled_val_auc": cfg["metrics"]["val_auc"],
              "images_per_s": sum(r["images_per_s"] for r in history) / len(history),
              "wall_s_this_call": time.time() - t0,
              "val": {Path(d).name: score(best, d) for d in DATA}}
    (out / "result.json").write_text(json.dumps(result, indent=1))
    v = result["val"]
    print(f"{name}: dfdc {v['dfdc_faces']['cls']['auc']:.3f} synth "
          f"{v['synth_lfw']['cls']['auc']:.3f}", flush=True)


def load_best(name: str) -> torch.nn.Module:
    kind = RECIPES[name][0]
    model = build_model(kind, config_of(name, CPU_MINUTES))
    model.load_state_dict(load_file(str(OUT / name / "best.safetensors")))
    return model.eval()


def test(name: str) -> dict:
    """Test-split metrics of a finished run (ml.evaluate at 128 px) on each dataset.

    For reporting beside the shipped checkpoint (e.g. MesoNet-4 in MODEL_CARD.md); the
    recipe table itself uses validation only."""
    model = load_best(name)
    result = {}
    for d in DATA:
        faces = load_folder(ROOT / d, split="test", size=128)
        result[Path(d).name] = evaluate(model, faces, sizes=(128,))
    (OUT / name / "test.json").write_text(json.dumps(result, indent=1))
    for d, r in result.items():
        auc = r["cls"]["auc"]
        per = ", ".join(f"{m} {v['cls']['auc']:.3f}" for m, v in r["per_method"].items()
                        if m not in ("", "real"))
        print(f"{name} test {d}: AUC {auc:.3f} +- "
              f"{auc_standard_error(auc, r['n_fake'], r['n_real']):.3f} (n {r['n']}, "
              f"{r['n_fake']} fake){'; ' + per if per else ''}", flush=True)
    return result


def table() -> str:
    rows = ["| recipe | change | images seen | best epoch | val AUC dfdc_faces | "
            "val AUC synth_lfw | mean | seg AUC dfdc / synth |",
            "|---|---|---:|---:|---:|---:|---:|---|"]
    for name in RECIPES:
        f = OUT / name / "result.json"
        if not f.is_file():
            continue
        r = json.loads(f.read_text())
        d, s = r["val"]["dfdc_faces"], r["val"]["synth_lfw"]
        seg = (f"{d['seg']['auc']:.3f} / {s['seg']['auc']:.3f}" if "seg" in d else "-")
        rows.append(f"| {name} | {r['what']} | {r['images_seen']:,} | {r['best_epoch']}/"
                    f"{r['epochs']} | {d['cls']['auc']:.3f} +- {d['cls']['se']:.3f} | "
                    f"{s['cls']['auc']:.3f} +- {s['cls']['se']:.3f} | "
                    f"{(d['cls']['auc'] + s['cls']['auc']) / 2:.3f} | {seg} |")
    n = {k: json.loads((OUT / k / "result.json").read_text())["val"] for k in RECIPES
         if (OUT / k / "result.json").is_file()}
    if n:
        any_ = next(iter(n.values()))
        rows.append(f"\nval n: dfdc_faces {any_['dfdc_faces']['n']} "
                    f"({any_['dfdc_faces']['n_fake']} fake), synth_lfw {any_['synth_lfw']['n']} "
                    f"({any_['synth_lfw']['n_fake']} fake); +- is the Hanley-McNeil SE.")
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("names", nargs="+", choices=list(RECIPES))
    r.add_argument("--cpu-minutes", type=float, default=CPU_MINUTES)
    r.add_argument("--threads", type=int, default=1)
    t = sub.add_parser("test")
    t.add_argument("names", nargs="+", choices=list(RECIPES))
    sub.add_parser("table")
    sub.add_parser("list")
    args = p.parse_args(argv)
    if args.cmd == "list":
        for k, (m, ch, what) in RECIPES.items():
            print(f"{k:<12} {m:<13} {what}  {ch}")
    elif args.cmd == "test":
        for name in args.names:
            test(name)
    elif args.cmd == "table":
        print(table())
    else:
        torch.set_num_threads(args.threads)
        for name in args.names:
            run(name, args.cpu_minutes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
