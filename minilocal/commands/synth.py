"""``minilocal synth``: fakes with exact forgery masks made from real faces."""

from __future__ import annotations

import argparse
import json


def add_parser(sub) -> None:
    from ..compress import LEVELS
    from ..synth import METHODS

    p = sub.add_parser(
        "synth", help="make fakes with exact masks (faceswap, sbi, partswap) from real faces",
        description="Make fakes from the real faces of SRC (a folder-format dataset with "
                    "landmarks, or raw images, which are aligned first) and write the reals "
                    "and the fakes, with their exact forgery masks, to the folder-format "
                    "dataset OUT. A real and its fakes share a group and a split. "
                    "Rerunning the same command on an interrupted OUT finishes it.")
    p.add_argument("src", metavar="SRC", help="real faces: e.g. build/data/lfw_faces")
    p.add_argument("out", metavar="OUT", help="dataset folder to write")
    p.add_argument("--method", choices=(*METHODS, "all"), default="all",
                   help="manipulation (default: all, one fake per method and target)")
    p.add_argument("--n", type=int, default=100, help="targets, i.e. fakes per method "
                   "(default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of everything random (default 0)")
    p.add_argument("--compress", choices=tuple(LEVELS), default="c0",
                   help="H.264 level applied to reals and fakes after synthesis (default c0)")
    p.add_argument("--preview", metavar="PNG", default=None,
                   help="write a montage of target / fake / soft mask / mask rows")
    p.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    p.add_argument("--limit", type=int, default=None,
                   help="pool of faces to use (default: all; raw images: max(2n, 200))")
    p.add_argument("--size", type=int, default=128, help="crop side in pixels (default 128)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT (or start an interrupted one again)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=run)


def check_args(args: argparse.Namespace) -> None:
    """Every check that needs no face: numbers, SRC, OUT and --preview, before any work."""
    from pathlib import Path

    from ..cli import (check_crop_size, check_output_dir, check_output_file, check_positive,
                       check_separate)
    from ..synth.dataset import PREVIEW_EXTENSIONS

    check_positive(args.n, "--n")
    check_positive(args.workers, "--workers")
    check_positive(args.limit, "--limit")
    check_crop_size(args.size)
    if not Path(args.src).exists():
        raise FileNotFoundError(f"SRC {args.src} does not exist")
    check_separate(args.src, args.out)
    check_output_dir(args.out)
    if args.preview:
        check_output_file(args.preview, "--preview", PREVIEW_EXTENSIONS)
        if Path(args.src).resolve() in Path(args.preview).resolve().parents:
            raise ValueError(f"--preview {args.preview} is inside SRC {args.src}; write it "
                             "elsewhere")


def run(args: argparse.Namespace) -> int:
    """Exit code 0 when at least one fake was written, 1 otherwise."""
    from ..synth import make_fakes

    check_args(args)
    summary = make_fakes(args.src, args.out, method=args.method, n=args.n, seed=args.seed,
                         compression=args.compress, workers=args.workers,
                         progress=not args.no_progress, preview=args.preview,
                         limit=args.limit, size=args.size, overwrite=args.overwrite)
    if args.json:
        print(json.dumps(summary))
    else:
        fakes = ", ".join(f"{m} {c}" for m, c in summary["fakes"].items())
        if summary.get("resumed"):
            print(f"{summary['out']}: resumed the interrupted run")
        print(f"{summary['out']}: {summary['reals']} reals, fakes: {fakes}; "
              f"{summary['rejected']} rejected; pool {summary['pool']} faces; "
              f"{summary['seconds']} s ({summary['fakes_per_s']} fakes/s)")
        for reason, count in summary["reject_reasons"].items():
            print(f"rejected {count}: {reason}")
        if args.preview:
            print(f"preview: {args.preview}")
    return 0 if sum(summary["fakes"].values()) else 1
