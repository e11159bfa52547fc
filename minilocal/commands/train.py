"""``minilocal train``: train LocalFeatureNet with the joint loss on folder-format data.

Multi-GPU: ``torchrun --nproc_per_node G $(which minilocal) train ...`` (one process per
GPU, DDP; rank 0 writes the run directory).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path


# TrainConfig fields without a flag: the command trains with their defaults
NO_FLAG = ("flip", "jpeg_quality", "channels_last", "fractions")
# fields whose flag is text to parse, or whose default follows from other flags (see run)
SPECIAL = {
    "lambda_cls": dict(type=float, default=None, help="weight of the image loss (default: "
                       "1 - sum of --lambda-seg, or 0.5)"),
    "lambda_seg": dict(default=None, metavar="HEAD=W,...", help="segmentation weights, e.g. "
                       "fake=0.3,face=0.2; 'none' for none (default: fake=1-lambda_cls, or "
                       "fake=0.3,face=0.2)"),
    "masks": dict(default="", metavar="HEAD=KIND,...", help="mask kind per head (zeros, ones, "
                  "cvm, real, real_or_cvm), e.g. fake=real,face=cvm (default: "
                  "fake=real_or_cvm, the exact mask where one is known; cvm for every other "
                  "head)"),
    "final_fraction": dict(type=float, default=None, help="fraction of the run at "
                           "--final-size (default 0.25 when --final-size is given)"),
    "widths": dict(default=None, help="8 comma-separated conv widths"),
}


def field_help(cls: type) -> dict[str, str]:
    """{field: the comment after it} in the source of dataclass ``cls``."""
    import inspect
    import re

    lines = inspect.getsource(cls).splitlines()
    found = (re.match(r"\s+(\w+): [^#]*#\s*(.*)", line) for line in lines)
    return {m[1]: m[2] for m in found if m}


def add_config_flags(p: argparse.ArgumentParser) -> list[str]:
    """One flag per TrainConfig field (``--name-with-dashes``), its default and help taken
    from the dataclass; a bool field that defaults to True gets ``--no-name``. Returns the
    fields that run() reads back by name."""
    from typing import get_type_hints

    from ..recipe import CHOICES, TrainConfig

    hints, comments, plain = get_type_hints(TrainConfig), field_help(TrainConfig), []
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.name in NO_FLAG:
            continue
        if f.name in SPECIAL:
            p.add_argument(flag, **SPECIAL[f.name])
            continue
        plain.append(f.name)
        text = comments.get(f.name, "").replace("%", "%%")
        kind = next(t for t in getattr(hints[f.name], "__args__", (hints[f.name],))
                    if t is not type(None))
        if kind is bool and f.default:
            p.add_argument("--no-" + flag[2:], dest=f.name, action="store_false",
                           help=f"turn {f.name} off ({text})")
        elif kind is bool:
            p.add_argument(flag, action="store_true", help=text)
        else:
            default = "" if f.default is None else f"; default {f.default}"
            p.add_argument(flag, type=None if kind is str else kind, default=f.default,
                           choices=CHOICES.get(f.name),
                           help=text + default)
    return plain


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a detector (joint classification + segmentation)",
                       description="Train LocalFeatureNet with L = lambda_cls L_cls + "
                       "sum_k lambda_seg[k] L_seg[k]. Writes RUN/best.*, RUN/last.*, "
                       "RUN/history.csv and RUN/history.json.")
    p.add_argument("--data", action="append", required=True, metavar="DIR",
                   help="folder-format dataset (directory or name found by find_dataset); "
                        "repeat to train on several")
    p.add_argument("--out", required=True, metavar="RUN", help="run directory")
    plain = add_config_flags(p)
    p.add_argument("--resume", action="store_true", help="continue from RUN/last.*")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run, config_fields=plain)


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
    if lambda_cls is None:  # the trainer's defaults (TrainConfig)
        from ..recipe import TrainConfig

        default = TrainConfig()
        return default.lambda_cls, dict(default.lambda_seg)
    heads = list(masks) or ["fake"]
    if len(heads) > 1:
        raise ValueError(f"--masks names {len(heads)} heads; give their weights with "
                         "--lambda-seg")
    return lambda_cls, {heads[0]: round(1.0 - lambda_cls, 10)}


def run(args: argparse.Namespace) -> int:
    import torch

    from ..paths import find_dataset
    from ..recipe import TrainConfig
    from ..train import train

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
        **{name: getattr(args, name) for name in args.config_fields},
        lambda_cls=lambda_cls, lambda_seg=lambda_seg, masks=masks,
        final_fraction=(args.final_fraction if args.final_fraction is not None
                        else 0.25 if args.final_size else 0.0), **widths)
    data = [find_dataset(d) for d in args.data]
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
