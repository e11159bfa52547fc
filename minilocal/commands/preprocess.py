"""``minilocal preprocess``: raw images or videos -> a folder-format dataset of aligned faces."""

from __future__ import annotations

import argparse
import json


def add_parser(sub) -> None:
    from ..adapters import KINDS
    from ..compress import LEVELS

    p = sub.add_parser(
        "preprocess", help="align faces (crops + landmarks + masks) into a folder dataset",
        description="Detect and align the faces of SRC into the folder-format dataset OUT "
                    "(images/, masks/, metadata.csv, rejects.csv), then assign train/val/"
                    "test splits by group. Rerunning into the same OUT resumes.")
    p.add_argument("src", metavar="SRC",
                   help="source folder (images, or an FF++ tree), or the name of a dataset "
                        "in the data roots, e.g. dfdc_faces")
    p.add_argument("out", metavar="OUT", help="dataset folder to write")
    p.add_argument("--kind", choices=KINDS, default="folder",
                   help="how SRC is laid out (default: folder)")
    p.add_argument("--size", type=int, default=128, help="crop side in pixels (default 128)")
    p.add_argument("--frames", type=int, default=16,
                   help="frames sampled evenly per video, ffpp only (default 16)")
    p.add_argument("--compress", choices=tuple(LEVELS), default="c0",
                   help="re-encode crops with H.264 like FF++ (default c0: unchanged)")
    p.add_argument("--border", choices=("black", "clip"), default=None,
                   help="where the 1.3x box leaves the image: pad with black, or fit the box "
                        "inside (default: clip for dfdc_faces, black otherwise)")
    p.add_argument("--match", choices=("lfw",), default=None,
                   help="make each image look like an LFW photo (scale, blur, grain, JPEG "
                        "quality) before alignment: for GAN faces against LFW reals, to shrink "
                        "the source shortcut (minilocal.source_match)")
    p.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    p.add_argument("--limit", type=int, default=None, help="only the first N inputs")
    p.add_argument("--seed", type=int, default=0, help="seed of the split assignment")
    p.add_argument("--label", choices=("real", "fake"), default=None,
                   help="label of every image of a flat folder (kind folder)")
    p.add_argument("--overwrite", action="store_true",
                   help="start a new dataset instead of resuming OUT")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=run)


def check_args(args: argparse.Namespace, src) -> None:
    """Every check that needs no image, before any work: numbers, SRC and OUT."""
    from ..cli import check_crop_size, check_output_dir, check_positive, check_separate

    check_crop_size(args.size)
    for flag in ("frames", "workers", "limit"):
        check_positive(getattr(args, flag), f"--{flag}")
    if not src.exists():
        raise FileNotFoundError(f"SRC {src} does not exist")
    check_separate(src, args.out)
    check_output_dir(args.out)


def run(args: argparse.Namespace) -> int:
    """Exit code 0 when the dataset holds at least one face, 1 when nothing was processed."""
    from pathlib import Path

    from ..preprocess import build_dataset
    from ..paths import find_dataset

    src = Path(args.src)  # a folder or a file (video, image)
    if not src.exists():
        src = find_dataset(args.src)  # a name: ./datasets_small, ../shared/datasets, ...
    check_args(args, src)
    summary = build_dataset(args.kind, src, args.out, size=args.size, limit=args.limit,
                            compression=args.compress, workers=args.workers, seed=args.seed,
                            frames=args.frames, label=args.label, border=args.border,
                            match=args.match,
                            overwrite=args.overwrite, progress=not args.no_progress)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['out']}: {summary['written']} faces written, {summary['rejected']} "
              f"rejected, {summary['skipped']} skipped (already done); {summary['total']} in "
              f"the dataset; {summary['seconds']} s ({summary['faces_per_s']} faces/s)")
        print("detection: " + ", ".join(f"{k} {v}" for k, v in summary["detection"].items()))
        print("splits: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["splits"].items())))
        for reason, n in summary["reject_reasons"].items():
            print(f"rejected {n}: {reason}")
    return 0 if summary["total"] > 0 else 1
