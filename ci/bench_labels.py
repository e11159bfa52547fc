"""Label benchmark: what the training labels say about the pixels, before and after the
rules of issue 11 (it is not a test; it prints figures).

For a ``minilocal synth`` dataset (fakes with exact masks and their reals), per method:

* hull and exact-mask coverage of the crop (how wrong a CVM label is for a part swap);
* the fraction of exact-mask pixels that changed by less than ``--min-change`` grey levels
  (labelled fake before, real now: :func:`minilocal.masks.changed_mask`);
* for random training crops of ``--crops`` sides: the fraction that hold no fake pixel at
  any receptive-field centre (image label "fake" before, "real" now:
  :func:`minilocal.train_data.crop_labels`).

For any other folder datasets given with ``--black``: the fraction of each crop that is
pure black (0, 0, 0) padding, e.g. dfdc_faces built with ``--border black`` vs ``clip``.

Usage::

    .venv/bin/python ci/bench_labels.py --synth build/data/synth_lfw \\
        --black build/data/dfdc_faces --black build/data/dfdc_black
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from minilocal.augment import augment_batch, step_generator
from minilocal.faceset import load_folder
from minilocal.masks import MIN_CHANGE
from minilocal.receptive_field import label_grid
from minilocal.train_data import changed_masks


def synth_report(root: Path, min_change: int, crops: list[int], limit: int) -> None:
    data = load_folder(root)
    changed = changed_masks(data, min_change).masks
    methods = sorted({r.method for r in data.records if r.label == "fake" and r.method})
    head = f"{'method':<10} {'n':>5} {'hull':>6} {'mask':>6} {'faint':>6}"
    head += "".join(f" {f'empty@{c}':>9}" for c in crops)
    print(f"{root}: coverage of the crop, faint = mask pixels changed by < {min_change} "
          f"levels, empty@S = S-px crops with no fake pixel at any receptive-field centre")
    print(head)
    for method in methods:
        idx = [i for i, r in enumerate(data.records)
               if r.method == method and bool(data.has_mask[i])][:limit]
        idx_t = torch.tensor(idx)
        mask, kept = data.masks[idx_t].float(), changed[idx_t].float()
        faint = 1 - kept.sum() / mask.sum().clamp(min=1)
        row = (f"{method:<10} {len(idx):>5} {data.cvm[idx_t].float().mean():>6.3f} "
               f"{mask.mean():>6.3f} {faint:>6.3f}")
        for side in crops:
            _, m = augment_batch(data.images[idx_t], {"m": changed[idx_t]}, side,
                                 step_generator(0, 0, side))
            empty = ~label_grid(m["m"]).flatten(1).bool().any(1)
            row += f" {empty.float().mean():>9.3f}"
        print(row)


def black_report(root: Path) -> None:
    data = load_folder(root)
    black = (data.images.amax(dim=1) == 0).float().mean(dim=(1, 2))  # (N,)
    print(f"{root}: {len(data)} crops, pure-black fraction mean {black.mean():.3f}, "
          f"median {black.median():.3f}, crops over 10% black {(black > 0.1).float().mean():.3f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--synth", type=Path, help="a minilocal synth dataset")
    p.add_argument("--black", type=Path, action="append", default=[],
                   help="a dataset whose black padding to measure (repeatable)")
    p.add_argument("--min-change", type=int, default=MIN_CHANGE)
    p.add_argument("--crops", default="64,96", help="training crop sides")
    p.add_argument("--limit", type=int, default=3000, help="fakes per method")
    a = p.parse_args()
    torch.set_num_threads(1)
    if a.synth:
        synth_report(a.synth, a.min_change, [int(c) for c in a.crops.split(",")], a.limit)
    for root in a.black:
        black_report(root)


if __name__ == "__main__":
    main()
