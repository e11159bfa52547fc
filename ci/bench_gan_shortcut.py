"""How much a no-model classifier tells GAN faces from LFW reals: the source shortcut (Table 2).

Four face-blind statistics per aligned 128-px crop (``minilocal.source_match.
source_statistics``: sharpness, high-pass energy, JPEG blockiness, contrast) and a logistic
regression, 5-fold cross-validated AUC (``shortcut_auc``). Rows: the GAN faces as built
(``--kind gan_faces``) and matched to LFW (``--match lfw``), each as stored and after the
H.264 re-encoding the ablation applies on load (both classes). The LFW reals are a random
subset of the same size. 0.5: no source cue; 1.0: the source is given away.

    minilocal preprocess ../shared/datasets/gan_faces build/data/gan_faces --kind gan_faces
    minilocal preprocess ../shared/datasets/gan_faces build/data/gan_faces_matched \\
        --kind gan_faces --match lfw
    .venv/bin/python ci/bench_gan_shortcut.py [--levels c0,c23,c40]

Measured 2026-12-03 (901 GAN faces, 901 LFW faces; +- 1.96 SE): as built c0 0.999 +- 0.002,
c23 0.991 +- 0.004, c40 0.737 +- 0.023; matched c0 0.758 +- 0.022, c23 0.763 +- 0.022,
c40 0.686 +- 0.024. Matching shrinks the shortcut; it does not remove it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from minilocal.compress import compress_image  # noqa: E402
from minilocal.faceset import load_folder  # noqa: E402
from minilocal.metrics import auc_standard_error  # noqa: E402
from minilocal.source_match import shortcut_auc, source_statistics  # noqa: E402


def crops(root: Path, n: int | None = None, seed: int = 0) -> np.ndarray:
    """(N, 128, 128, 3) uint8 of ROOT (a random n of them when n is given)."""
    images = load_folder(root, size=128).images.permute(0, 2, 3, 1).numpy()
    if n is not None and n < len(images):
        images = images[np.random.default_rng(seed).choice(len(images), n, replace=False)]
    return images


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lfw", default="build/data/lfw_faces")
    p.add_argument("--gan", default="build/data/gan_faces")
    p.add_argument("--matched", default="build/data/gan_faces_matched")
    p.add_argument("--levels", default="c0,c23,c40", help="re-encodings applied on load")
    args = p.parse_args(argv)
    sets = {"as built": ROOT / args.gan, "matched to LFW (--match lfw)": ROOT / args.matched}
    print("| GAN faces | re-encoding | n (LFW / GAN) | shortcut AUC, 4 statistics | "
          "best single statistic |\n|---|---|---|---|---|")
    names = ("Laplacian var.", "high-pass", "blockiness", "contrast")
    for label, root in sets.items():
        if not (root / "metadata.csv").is_file():
            print(f"| {label} | - | - | not built: {root} | - |")
            continue
        gan = crops(root)
        lfw = crops(ROOT / args.lfw, n=len(gan))
        y = np.r_[np.zeros(len(lfw)), np.ones(len(gan))]
        for level in args.levels.split(","):
            images = np.concatenate([lfw, gan])
            if level != "c0":
                images = np.stack([compress_image(im, level) for im in images])
            stats = source_statistics(images)
            auc = shortcut_auc(stats, y)
            single = [shortcut_auc(stats[:, [i]], y) for i in range(stats.shape[1])]
            best = int(np.argmax(single))
            se = auc_standard_error(auc, len(gan), len(lfw))
            print(f"| {label} | {level} | {len(lfw)} / {len(gan)} | {auc:.3f} +- "
                  f"{1.96 * se:.3f} | {names[best]} {single[best]:.3f} |", flush=True)
    print("\n+- is 1.96 Hanley-McNeil SE; chance (no source cue) is 0.5.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
