"""``minilocal predict``: p_fake, segmentation score and a heatmap for an image or video."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .evaluate import jsonable, load_model

_ARRAYS = ("face", "prob_map", "heatmap")


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
                        "padded image and then using the whole image")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in _ARRAYS}


def run(args: argparse.Namespace) -> int:
    import cv2

    from ..predict import (VIDEO_EXTENSIONS, heatmap_figure, predict_image, predict_video,
                           video_figure, score_title)

    path = Path(args.input)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    model, _ = load_model(args.checkpoint, args.device)
    fallback = not args.no_fallback
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        result = predict_video(model, path, frames=args.frames, size=args.size,
                               head=args.head, fallback=fallback)
        out = {"input": str(path), "kind": "video", "p_fake": result["p_fake"],
               "seg_score": result["seg_score"],
               "frames": [_public(r) for r in result["frames"]]}
        figure = (lambda: video_figure(result))
    else:
        from ..faces import read_image

        result = predict_image(model, read_image(path), size=args.size, head=args.head,
                               fallback=fallback)
        out = {"input": str(path), "kind": "image", **_public(result)}
        if result["prob_map"] is not None:
            out["max_pixel_p_fake"] = float(result["prob_map"].max())
        figure = (lambda: heatmap_figure(result["face"], result["prob_map"],
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
    seg = "n/a (no segmentation head)" if out["seg_score"] is None else f"{out['seg_score']:.4f}"
    print(f"{path}: p_fake {out['p_fake']:.4f}  mean segmentation p_fake {seg}")
    if out["kind"] == "video":
        for r in out["frames"]:
            print(f"  frame {r['index']:>6}: p_fake {r['p_fake']:.4f}  seg "
                  f"{'n/a' if r['seg_score'] is None else format(r['seg_score'], '.4f')}  "
                  f"box {r['box']}  ({r['detection']})")
    else:
        print(f"  face box {out['box']} ({out['detection']})")
    if out["heatmap"]:
        print(f"  heatmap: {out['heatmap']}")
    return 0
