"""Which training crop gives the best validation AUC per CPU-minute?

The network's receptive field is 33 px, so a random 64 x 64 (or 48 x 48) crop of the
128 x 128 face carries the same local evidence as the whole face at a fraction of the
compute. This script trains LocalFeatureNet from scratch once per crop size, each for the
same CPU-time budget, and evaluates every run on the full val split at 128 px (centre,
i.e. the whole face). It prints a table and writes build/bench/crop_size/results.json.

    .venv/bin/python ci/bench_crop_size.py --minutes 3 --sizes 128,96,64,48
    .venv/bin/python ci/bench_crop_size.py --step-speed --sizes 128,64   # bf16 / NHWC

Data: the folder-format DFDC faces (build/data/dfdc_faces, split column filled). The
machine is shared, so the budget is CPU time of this process (one thread by default, so
that no spin-waiting is counted), not wall-clock; the table also records the wall time
and load average each run saw.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import torch

from minilocal.paths import find_dataset
from minilocal.model import LocalFeatureNet
from minilocal.recipe import TrainConfig
from minilocal.train import fit
from minilocal.train_data import load_splits


def step_speed(sizes: list[int], batch_size: int = 32, rounds: int = 2) -> None:
    """Train-step throughput per CPU-second of fp32 vs bf16 autocast, NCHW vs
    channels_last: what TrainConfig's amp="auto" and channels_last=True rest on."""
    import itertools

    from minilocal.loss import JointLoss
    from minilocal.receptive_field import output_size

    loss, best = JointLoss(0.7, {"fake": 0.3}), {}
    settings = list(itertools.product(sizes, (False, True), (False, True)))
    nets = {}
    for key in settings:
        torch.manual_seed(0)
        net = LocalFeatureNet(check_inputs=False)
        net = net.to(memory_format=torch.channels_last) if key[2] else net
        nets[key] = (net, torch.optim.AdamW(net.parameters(), 1e-3))
    for _ in range(rounds):
        for size, bf16, cl in settings:
            net, opt = nets[(size, bf16, cl)]
            x = torch.rand(batch_size, 3, size, size)
            x = x.contiguous(memory_format=torch.channels_last) if cl else x
            y, h = torch.randint(0, 2, (batch_size,)), output_size(size)
            seg = {"fake": torch.randint(0, 2, (batch_size, h, h))}
            for i in range(3 if size <= 64 else 2):  # the first step is a warm-up
                t0 = time.process_time()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    out = net(x)
                opt.zero_grad()
                loss(out, y, seg).total.backward()
                opt.step()
                if i:
                    ips = batch_size / (time.process_time() - t0)
                    best[(size, bf16, cl)] = max(best.get((size, bf16, cl), 0.0), ips)
    for (size, bf16, cl), ips in best.items():
        print(f"step {size:>3} px  bf16={bf16!s:5}  channels_last={cl!s:5}: "
              f"{ips:6.1f} images per CPU-second")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="build/data/dfdc_faces",
                   help="folder-format dataset dir (or a name for find_dataset)")
    p.add_argument("--sizes", default="128,96,64,48", help="training crop sides")
    p.add_argument("--minutes", type=float, default=3.0,
                   help="training budget per size, in CPU minutes of this process")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--amp", default="auto", choices=("auto", "bf16", "off"))
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: no spin-waiting counted as CPU time)")
    p.add_argument("--out", default="build/bench/crop_size")
    p.add_argument("--step-speed", action="store_true",
                   help="only time one training step per setting (fp32/bf16, NCHW/NHWC)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.step_speed:
        step_speed([int(s) for s in args.sizes.split(",")], args.batch_size)
        return
    root = find_dataset(args.data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    base = TrainConfig(size=128, eval_size=128, epochs=1000, batch_size=args.batch_size,
                       lr=args.lr, schedule="constant", seed=args.seed, device="cpu",
                       amp=args.amp, patience=0, checkpoint_every=0,
                       max_cpu_minutes=args.minutes)
    t0 = time.perf_counter()
    train_set, val_set = load_splits(root, base)
    print(f"data {root}: {len(train_set)} train, {len(val_set)} val faces, loaded in "
          f"{time.perf_counter() - t0:.0f} s; torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs", flush=True)
    rows = []
    for size in sizes:
        config = replace(base, train_size=size)
        torch.manual_seed(config.seed)
        model = LocalFeatureNet(seg_heads=config.heads, widths=config.widths,
                                check_inputs=False)
        run = out / f"crop{size}_seed{args.seed}"
        for f in run.glob("*"):
            f.unlink()
        load0, cpu0, wall0 = os.getloadavg()[0], time.process_time(), time.perf_counter()
        history = fit(model, train_set, val_set, config, out=run)
        last = history[-1]
        images = last["step"] * config.batch_size
        row = {"train_size": size, "val_auc": last["val_auc"], "val_acc": last["val_acc"],
               "val_auc_seg": last.get("val_auc_seg"), "steps": last["step"],
               "train_images": images, "epochs": images / len(train_set),
               "images_per_cpu_s": images / (60 * args.minutes),
               "cpu_s": time.process_time() - cpu0, "wall_s": time.perf_counter() - wall0,
               "load_start": load0, "load_end": os.getloadavg()[0]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    (out / f"results_seed{args.seed}.json").write_text(json.dumps(
        {"args": vars(args), "rows": rows}, indent=2))
    print(f"\ncrop | val AUC@128 | val ACC | AUC(seg) | images seen | img/CPU-s | CPU s | "
          f"wall s | load")
    for r in rows:
        print(f"{r['train_size']:>4} | {r['val_auc']:.4f} | {r['val_acc']:.4f} | "
              f"{(r['val_auc_seg'] or float('nan')):.4f} | {r['train_images']:>6} "
              f"({r['epochs']:.2f} ep) | {r['images_per_cpu_s']:.1f} | {r['cpu_s']:.0f} | "
              f"{r['wall_s']:.0f} | "
              f"{r['load_start']:.1f}-{r['load_end']:.1f}")


if __name__ == "__main__":
    main()
