"""``minilocal info``: parameters, receptive field and output size of the network."""

from __future__ import annotations

import argparse
import json


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="describe the network for an input size")
    p.add_argument("--size", type=int, default=128, help="input side in pixels (default 128)")
    p.add_argument("--seg-heads", default="fake",
                   help="comma-separated segmentation heads, '' for none (default: fake)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def parse_heads(text: str) -> tuple[str, ...]:
    """'fake,face' -> ('fake', 'face'); ValueError on a repeated or malformed name."""
    heads = tuple(h.strip() for h in text.split(",") if h.strip())
    bad = [h for h in heads if not h.isidentifier()]
    if bad:
        raise ValueError(f"--seg-heads: names must be letters, digits and _, got {bad}")
    if len(set(heads)) != len(heads):
        raise ValueError(f"--seg-heads names a head twice: {text!r}")
    return heads


def run(args: argparse.Namespace) -> int:
    from ..model import LocalFeatureNet, count_parameters
    from ..receptive_field import layer_geometry, output_size, summary

    heads = parse_heads(args.seg_heads)
    net = LocalFeatureNet(seg_heads=heads)
    last = layer_geometry(net)[-1]
    info = {
        "params": count_parameters(net),
        "receptive_field": last.receptive_field,
        "stride": last.jump,
        "first_centre": int(last.start),
        "input_size": args.size,
        "output_size": output_size(args.size, net),
        "seg_heads": list(heads),
        "widths": list(net.widths),
    }
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"{'layer':<7}{'output (C, H, W)':<20}{'RF':>4}{'jump':>6}{'start':>7}{'params':>10}")
    for row in summary(net, args.size):
        print(f"{row['layer']:<7}{str(row['out_shape']):<20}{row['receptive_field']:>4}"
              f"{row['jump']:>6}{row['start']:>7.0f}{row['params']:>10,}")
    for k, v in info.items():
        print(f"{k}: {v}")
    return 0
