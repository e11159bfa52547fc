"""``minilocal evaluate``: detection metrics of a checkpoint on a folder-format dataset."""

from __future__ import annotations

import argparse
import json
import math


def add_parser(sub) -> None:
    from ..evaluate import DEFAULT_SIZES

    sizes = ",".join(map(str, DEFAULT_SIZES))
    p = sub.add_parser("evaluate", help="ACC/AUC/AP/EER per input size, method and "
                       "compression, and localization, on a dataset")
    p.add_argument("--data", required=True,
                   help="dataset directory (folder format, or real/ + fake/), or a dataset "
                        "name found by minilocal.paths.find_dataset")
    p.add_argument("--split", default="test", help="split to evaluate; 'all' for every row "
                   "(default: test)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint (stem or .safetensors); default: the shipped one")
    p.add_argument("--sizes", default=sizes,
                   help=f"input sides, centre crops of the 128 face (default: {sizes})")
    p.add_argument("--image-size", type=int, default=128,
                   help="side of the face crops that the sizes are cut from (default 128)")
    p.add_argument("--head", default="fake", help="segmentation head for the 'seg' score")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--limit", type=int, default=None,
                   help="evaluate a seeded random sample of at most N rows")
    p.add_argument("--align", choices=("auto", "yes", "no"), default="auto",
                   help="run face alignment on raw images (auto: when the folder does not "
                        "hold aligned 128 px crops)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-autocast", action="store_true", help="run in fp32 (default: bf16 "
                   "autocast where the hardware has it)")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def load_model(checkpoint: str | None, device: str = "cpu"):
    """(model, config) from ``checkpoint``, or the shipped default, with a clear error."""
    from ..checkpoint import default_checkpoint, load_checkpoint

    if checkpoint is None and not default_checkpoint().is_file():
        raise FileNotFoundError(
            f"no checkpoint given and no pretrained checkpoint shipped (looked for "
            f"{default_checkpoint()}); pass --checkpoint RUN/best.safetensors")
    return load_checkpoint(checkpoint, device=device)


def parse_sizes(text: str) -> tuple[int, ...]:
    """'128,96' -> (128, 96); ValueError naming the bad text."""
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise ValueError(f"--sizes must be comma-separated integers, got {text!r}") from None
    if not sizes:
        raise ValueError(f"--sizes is empty: {text!r}")
    return sizes


def jsonable(value):
    """NaN -> None recursively, so the output is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def run(args: argparse.Namespace) -> int:
    from ..cli import check_crop_size, check_positive
    from ..evaluate import evaluate, load_eval_set
    from ..paths import find_dataset

    sizes = parse_sizes(args.sizes)
    for size in sizes:
        check_crop_size(size, "each of --sizes")
    check_crop_size(args.image_size, "--image-size")
    check_positive(args.batch_size, "--batch-size")
    check_positive(args.limit, "--limit")
    root = find_dataset(args.data)
    model, config = load_model(args.checkpoint, args.device)
    align = {"auto": None, "yes": True, "no": False}[args.align]
    faces = load_eval_set(root, split=args.split, size=args.image_size, align=align,
                          limit=args.limit, progress=args.progress)
    result = evaluate(model, faces, sizes=sizes, batch_size=args.batch_size,
                      device=args.device, head=args.head,
                      autocast=False if args.no_autocast else None, progress=args.progress)
    result = {"data": str(root), "split": args.split,
              "checkpoint": args.checkpoint or "default", **result}
    if args.json:
        print(json.dumps(jsonable(result)))
        return 0
    print(format_table(result))
    return 0


def _fmt(v) -> str:
    return "   nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:6.3f}"


def _rows(label: str, entry: dict) -> list[str]:
    return [f"{label:<22}{score:<6}{_fmt(m['acc'])} {_fmt(m['auc'])} {_fmt(m['ap'])} "
            f"{_fmt(m['eer'])} {m['n']:>7}" for score, m in entry.items()
            if isinstance(m, dict) and "acc" in m]


def format_table(result: dict) -> str:
    """A readable table of an :func:`~minilocal.evaluate.evaluate` result."""
    lines = [f"data {result['data']}  split {result['split']}  n {result['n']} "
             f"(real {result['n_real']}, fake {result['n_fake']})  checkpoint "
             f"{result['checkpoint']}  bf16 autocast {result['autocast']}",
             "cls = classifier p_fake, seg = mean segmentation probability "
             f"(head {result['head']!r})", "",
             f"{'input size':<22}{'score':<6}{'   ACC':>6} {'   AUC':>6} {'    AP':>6} "
             f"{'   EER':>6} {'n':>7}"]
    for size, entry in result["sizes"].items():
        lines += _rows(f"{size}x{size}", entry)
    for key, name in (("per_method", "method"), ("per_compression", "compression")):
        if result.get(key):
            lines += ["", f"per {name} at {result['size']} px (reals + that {name}'s fakes)"
                      if name == "method" else f"per {name} at {result['size']} px"]
            for value, entry in result[key].items():
                lines += _rows(value, entry)
    loc = result.get("localization")
    if loc:
        lines += ["", f"localization ({loc['n']} images with true masks, {loc['n_fakes']} "
                  f"of them fake, {result['size']} px; baselines use no model):",
                  f"  {'map':<16} {'pixel AUC':>9} {'AUC fakes':>9} {'pixel AP':>9} "
                  f"{'IoU@0.5':>8} {'IoU fakes':>9}"]
        for name, entry in (("model", loc), *loc.get("baselines", {}).items()):
            lines.append(f"  {name:<16} {_fmt(entry['pixel_auc']):>9} "
                         f"{_fmt(entry['pixel_auc_fakes']):>9} {_fmt(entry['pixel_ap']):>9} "
                         f"{_fmt(entry['iou']):>8} {_fmt(entry['iou_fakes']):>9}")
    else:
        lines += ["", "localization: no true forgery masks in this data"]
    return "\n".join(lines)
