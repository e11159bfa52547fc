"""``minilocal train``: train LocalFeatureNet with the joint loss on folder-format data.

Multi-GPU: ``torchrun --nproc_per_node G $(which minilocal) train ...`` (one process per
GPU, DDP; rank 0 writes the run directory).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path


def _defaults() -> dict:
    from ..train import TrainConfig

    return {f.name: f.default for f in fields(TrainConfig) if not callable(f.default_factory)}


def add_parser(sub) -> None:
    from ..train import CPU_TRAIN_SIZE

    d = _defaults()
    p = sub.add_parser("train", help="train a detector (joint classification + segmentation)",
                       description="Train LocalFeatureNet with L = lambda_cls L_cls + "
                       "sum_k lambda_seg[k] L_seg[k]. Writes RUN/best.*, RUN/last.*, "
                       "RUN/history.csv and RUN/history.json.")
    p.add_argument("--data", action="append", required=True, metavar="DIR",
                   help="folder-format dataset (directory or name found by find_dataset); "
                        "repeat to train on several")
    p.add_argument("--out", required=True, metavar="RUN", help="run directory")
    p.add_argument("--lambda-cls", type=float, default=None,
                   help="weight of the image loss (default: 1 - sum of --lambda-seg, or 0.7)")
    p.add_argument("--lambda-seg", default=None, metavar="HEAD=W,...",
                   help="segmentation weights, e.g. fake=0.3,face=0.2; 'none' for none "
                        "(default: fake=1-lambda_cls, or fake=0.3)")
    p.add_argument("--masks", default="", metavar="HEAD=KIND,...",
                   help="mask kind per head (zeros, ones, cvm, real, real_or_cvm), e.g. "
                        "fake=real,face=cvm (default: fake=real_or_cvm, the exact mask where "
                        "one is known; cvm for every other head)")
    p.add_argument("--size", type=int, default=d["size"], help="face side when loaded "
                   f"(default {d['size']})")
    p.add_argument("--train-size", type=int, default=None, help="random training crop side "
                   f"(default: {CPU_TRAIN_SIZE} on CPU, --size on GPU)")
    p.add_argument("--eval-size", type=int, default=None, help="validation centre crop "
                   "(default: --size)")
    p.add_argument("--final-size", type=int, default=None, help="crop side for the last "
                   "--final-fraction of the run, e.g. 128 so BatchNorm sees whole faces")
    p.add_argument("--final-fraction", type=float, default=None, help="fraction of the run "
                   "at --final-size (default 0.25 when --final-size is given)")
    p.add_argument("--epochs", type=int, default=d["epochs"])
    p.add_argument("--batch-size", type=int, default=d["batch_size"], help="per process")
    p.add_argument("--lr", type=float, default=d["lr"])
    p.add_argument("--weight-decay", type=float, default=d["weight_decay"])
    p.add_argument("--schedule", choices=("cosine", "constant"), default=d["schedule"])
    p.add_argument("--warmup", type=float, default=d["warmup"],
                   help=f"linear lr warm-up, fraction of the run (default {d['warmup']})")
    p.add_argument("--no-balance", action="store_true",
                   help="do not weight L_cls's classes by N / (2 N_c)")
    p.add_argument("--min-change", type=int, default=d["min_change"],
                   help="exact-mask pixels changed by fewer grey levels are labelled real "
                        f"(default {d['min_change']}; 0: the exact mask as it is)")
    p.add_argument("--no-crop-labels", action="store_true",
                   help="keep 'fake' for crops of exact-mask fakes that show no fake pixel")
    p.add_argument("--jpeg-p", type=float, default=d["jpeg_p"],
                   help=f"probability of JPEG re-encoding a crop (default {d['jpeg_p']})")
    p.add_argument("--colour", type=float, default=d["colour"],
                   help=f"colour jitter strength (default {d['colour']}; 0: off)")
    p.add_argument("--patience", type=int, default=d["patience"],
                   help="early stopping: epochs without better val AUC (0: off)")
    p.add_argument("--checkpoint-every", type=int, default=d["checkpoint_every"],
                   help="steps between RUN/last.* saves (also at every epoch end)")
    p.add_argument("--widths", default=None, help="8 comma-separated conv widths")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=d["device"])
    p.add_argument("--amp", choices=("auto", "bf16", "off"), default=d["amp"])
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--resume", action="store_true", help="continue from RUN/last.*")
    p.add_argument("--init", default=None, metavar="CKPT",
                   help="start from the weights of this checkpoint (fine-tune), e.g. the "
                        "shipped minilocal/weights/minilocal_default")
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument("--max-minutes", type=float, default=None,
                   help="wall-clock training budget; stops with a validated checkpoint")
    p.add_argument("--max-cpu-minutes", type=float, default=None,
                   help="the same in CPU time of this process (fairer on a shared machine)")
    p.add_argument("--limit", type=int, default=None,
                   help="use at most N images per split (seeded subset)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def parse_pairs(text: str, what: str, cast=str) -> dict:
    """'fake=0.3,face=0.2' -> {'fake': 0.3, 'face': 0.2}; ValueError naming the bad item."""
    out = {}
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        head, sep, value = item.partition("=")
        try:
            if not sep or not head.strip():
                raise ValueError
            out[head.strip()] = cast(value.strip())
        except ValueError:
            raise ValueError(f"{what} must look like head=value,head=value; bad item "
                             f"{item!r} in {text!r}") from None
    return out


def resolve_lambdas(lambda_cls: float | None, lambda_seg: str | None,
                    masks: dict[str, str]) -> tuple[float, dict[str, float]]:
    """Fill in whichever of lambda_cls / lambda_seg is missing so that they sum to 1."""
    if lambda_seg is not None:
        seg = {} if lambda_seg.strip().lower() in ("", "none") else parse_pairs(
            lambda_seg, "--lambda-seg", float)
        cls = 1.0 - sum(seg.values()) if lambda_cls is None else lambda_cls
        return round(cls, 10), seg
    if lambda_cls is None:
        return 0.7, {"fake": 0.3}
    heads = list(masks) or ["fake"]
    if len(heads) > 1:
        raise ValueError(f"--masks names {len(heads)} heads; give their weights with "
                         "--lambda-seg")
    return lambda_cls, {heads[0]: round(1.0 - lambda_cls, 10)}


def _dataset(name: str) -> Path:
    from ..folder import find_dataset

    return Path(name) if Path(name).is_dir() else find_dataset(name)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..train import TrainConfig, train

    if args.threads:
        torch.set_num_threads(args.threads)
    masks = parse_pairs(args.masks, "--masks")
    lambda_cls, lambda_seg = resolve_lambdas(args.lambda_cls, args.lambda_seg, masks)
    masks = {**{h: "real_or_cvm" if h == "fake" else "cvm" for h in lambda_seg}, **masks}
    widths = {}
    if args.widths:
        try:
            widths = {"widths": tuple(int(w) for w in args.widths.split(","))}
        except ValueError:
            raise ValueError(f"--widths must be 8 comma-separated integers, got "
                             f"{args.widths!r}") from None
        if len(widths["widths"]) != 8:
            raise ValueError(f"--widths must list 8 widths, got {len(widths['widths'])}")
    config = TrainConfig(
        lambda_cls=lambda_cls, lambda_seg=lambda_seg, masks=masks, size=args.size,
        train_size=args.train_size, eval_size=args.eval_size, final_size=args.final_size,
        final_fraction=(args.final_fraction if args.final_fraction is not None
                        else 0.25 if args.final_size else 0.0), epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        schedule=args.schedule, warmup=args.warmup, balance=not args.no_balance,
        min_change=args.min_change, crop_labels=not args.no_crop_labels, jpeg_p=args.jpeg_p,
        colour=args.colour, seed=args.seed, device=args.device, amp=args.amp,
        compile=args.compile, patience=args.patience, checkpoint_every=args.checkpoint_every,
        init=args.init, max_minutes=args.max_minutes, max_cpu_minutes=args.max_cpu_minutes,
        limit=args.limit, **widths)
    data = [_dataset(d) for d in args.data]
    history = train(config, data, out=args.out, resume=args.resume, progress=not args.quiet)
    import os

    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    if not history:
        print(f"nothing to do: {args.out} already finished {config.epochs} epochs")
        return 0
    best = max(history, key=lambda r: r["val_auc"])
    last = history[-1]
    print(f"{len(history)} epochs, {last['step']} steps; last: loss {last['loss']:.4f} "
          f"val AUC {last['val_auc']:.4f} ACC {last['val_acc']:.4f} "
          f"({last['images_per_s']:.0f} img/s)")
    print(f"best val AUC {best['val_auc']:.4f} at epoch {best['epoch']}: "
          f"{Path(args.out) / 'best.safetensors'}")
    print(f"history: {Path(args.out) / 'history.csv'}; config: "
          + json.dumps({"lambda_cls": lambda_cls, "lambda_seg": lambda_seg, "masks": masks}))
    return 0
