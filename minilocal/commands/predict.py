"""``minilocal predict``: p_fake, segmentation score and a heatmap for an image or video.

Exit codes: 0 scored; 1 no face found (nothing scored; with ``--json`` the object says
``"face": null`` and gives the ``reason``); 2 a bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .evaluate import jsonable, load_model

_ARRAYS = ("face", "prob_map", "heatmap")
EXIT_NO_FACE = 1


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="score the face in an image or video and draw "
                       "its forgery heatmap")
    p.add_argument("input", help="an image (jpg, png, ...) or a video (mp4, avi, ...)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint (stem or .safetensors); default: the shipped one")
    p.add_argument("--heatmap", default=None, metavar="OUT.png",
                   help="write face crop | heatmap overlay | colour bar to this PNG")
    p.add_argument("--frames", type=int, default=8,
                   help="frames analysed in a video, evenly spaced (default 8)")
    p.add_argument("--size", type=int, default=128, help="face crop side (default 128)")
    p.add_argument("--head", default="fake", help="segmentation head (default: fake)")
    p.add_argument("--no-fallback", action="store_true",
                   help="fail when the HOG detector finds no face instead of retrying on a "
                        "padded image")
    p.add_argument("--whole-image", action="store_true",
                   help="when no face is found, score the whole image as the face (only "
                        "for inputs that are already tight face crops)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in _ARRAYS}


def check_args(args: argparse.Namespace) -> Path:
    """The input path, after every check that needs no model: input, sizes, --heatmap."""
    from ..cli import check_crop_size, check_output_file, check_positive

    path = Path(args.input)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; predict takes one image or video file "
                         "(use `minilocal evaluate --data FOLDER` for a dataset)")
    check_positive(args.frames, "--frames")
    check_crop_size(args.size)
    if args.heatmap:
        check_output_file(args.heatmap, "--heatmap")
    return path


def _no_face(args: argparse.Namespace, path: Path, kind: str, reason: str) -> int:
    """Say that nothing was scored: a JSON object with ``"face": null``, or one line."""
    if args.json:
        print(json.dumps({"input": str(path), "kind": kind, "face": None, "reason": reason,
                          "p_fake": None, "seg_score": None, "heatmap": None}))
    else:
        print(f"minilocal predict: {path}: {reason}; nothing scored (pass --whole-image if "
              "the input is already a tight face crop)", file=sys.stderr)
    return EXIT_NO_FACE


def run(args: argparse.Namespace) -> int:
    import cv2

    from ..face_detection import NoFaceError
    from ..image_io import read_image
    from ..predict import VIDEO_EXTENSIONS, predict_image, predict_video
    from ..viz.panels import heatmap_panel, score_title, video_panels

    path = check_args(args)
    model, _ = load_model(args.checkpoint, args.device)
    if args.heatmap and not getattr(model, "head_names", ("?",)):
        raise ValueError("--heatmap needs a segmentation head; this checkpoint has none")
    options = dict(size=args.size, head=args.head, fallback=not args.no_fallback,
                   whole_image=args.whole_image)
    kind = "video" if path.suffix.lower() in VIDEO_EXTENSIONS else "image"
    try:
        if kind == "video":
            result = predict_video(model, path, frames=args.frames, **options)
        else:
            result = predict_image(model, read_image(path), **options)
    except NoFaceError as err:
        return _no_face(args, path, kind, str(err))
    if kind == "video":
        out = {"input": str(path), "kind": "video", "p_fake": result["p_fake"],
               "seg_score": result["seg_score"],
               "frames": [_public(r) for r in result["frames"]],
               "skipped": result["skipped"]}
        figure = (lambda: video_panels(result))
    else:
        out = {"input": str(path), "kind": "image", **_public(result),
               "face": {"box": result["box"], "detection": result["detection"]}}
        if result["prob_map"] is not None:
            out["max_pixel_p_fake"] = float(result["prob_map"].max())
        figure = (lambda: heatmap_panel(result["face"], result["prob_map"],
                                         f"{path.name}  {score_title(result)}"))
    out["heatmap"] = None
    if args.heatmap:
        heatmap = Path(args.heatmap)
        heatmap.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(heatmap), figure()[..., ::-1]):
            raise ValueError(f"could not write {heatmap} (use a .png name)")
        out["heatmap"] = str(heatmap)
    if args.json:
        print(json.dumps(jsonable(out)))
        return 0
    _print_text(path, out)
    return 0


def _print_text(path: Path, out: dict) -> None:
    """The human-readable report of a scored image or video."""
    seg = "n/a (no segmentation head)" if out["seg_score"] is None else f"{out['seg_score']:.4f}"
    print(f"{path}: p_fake {out['p_fake']:.4f}  mean segmentation p_fake {seg}")
    if out["kind"] == "video":
        for r in out["frames"]:
            print(f"  frame {r['index']:>6}: p_fake {r['p_fake']:.4f}  seg "
                  f"{'n/a' if r['seg_score'] is None else format(r['seg_score'], '.4f')}  "
                  f"box {r['box']}  ({r['detection']})")
        for r in out["skipped"]:
            print(f"  frame {r['index']:>6}: skipped, {r['reason']}")
    else:
        print(f"  face box {out['box']} ({out['detection']})")
    if out["heatmap"]:
        print(f"  heatmap: {out['heatmap']}")
