"""Data settings of the ablation grids: which folders, which fakes, which caps.

Settings (paper section 4.1 analogues, built from the datasets we have):

* ``synth_c23`` / ``synth_c40``: LFW reals and their synthetic fakes (faceswap, partswap,
  sbi) with exact forgery masks, compressed after synthesis (:func:`minilocal.synth.
  make_fakes`; built on first use into ``OUT/data``). A real and its fakes share a split.
* ``gan_lfw_c23`` / ``gan_lfw_c40``: fully generated faces (label fake) against LFW reals,
  both re-encoded at that level when loaded. The two classes come from different
  sources, so a classifier can separate the *sources* (shortcut learning). The GAN faces
  are read from ``build/data/gan_faces_matched`` (``minilocal preprocess --kind gan_faces
  --match lfw``: LFW's scale, blur, grain and JPEG quality), which shrinks that shortcut
  (``ci/bench_gan_shortcut.py``: a 4-statistic logistic regression separates the sources
  at AUC 0.99 as built, 0.76 matched, both at c23) but does not remove it.
* ``dfdc``: DFDC real/deepfake pairs (CVM only, no true masks).
* ``ffpp_c23``: the FF++ sample frames with difference masks (a handful of video pairs).

Splits come from each dataset's split column (by group, fixed before any run; rows
without one get :func:`~minilocal.folder.assign_splits` with seed 0). Caps keep whole
groups, drawn in an order fixed by seed 0, so every seed and every objective of a cell
sees the very same train, val and test images.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

import cv2
import numpy as np

from ..faceset import FaceSet
from ..folder import FaceRecord, assign_splits, read_records
from ..paths import build_dir

logger = logging.getLogger(__name__)

__all__ = ["SETTINGS", "SOURCES", "resolve_sources", "load_setting", "setting_sources",
           "make_demo_sources"]

SOURCES = ("lfw_faces", "gan_faces", "dfdc_faces", "ffpp_c23")  # built folder datasets
GAN_MATCHED = "gan_faces_matched"  # where the ablation reads the GAN faces from
SETTINGS = ("synth_c23", "synth_c40", "gan_lfw_c23", "gan_lfw_c40", "dfdc", "ffpp_c23")
SPLIT_SEED = 0  # seeds split assignment (where missing) and the capped subsets


def setting_sources(name: str) -> tuple[list[tuple[str, str | None]], str | None]:
    """([(source, label kept or None for both)], compression applied on load).

    Raises:
        ValueError: for an unknown setting.
    """
    if name in ("synth_c23", "synth_c40"):
        return [(name, None)], None
    if name in ("gan_lfw_c23", "gan_lfw_c40"):
        return [("gan_faces", "fake"), ("lfw_faces", "real")], name.rsplit("_", 1)[1]
    if name == "dfdc":
        return [("dfdc_faces", None)], None
    if name == "ffpp_c23":
        return [("ffpp_c23", None)], None
    raise ValueError(f"unknown data setting {name!r}; expected one of {SETTINGS}")


def resolve_sources(out: str | Path, synth_n: int,
                    data: Mapping[str, str | Path] | None = None,
                    needed: tuple[str, ...] = (), progress: bool = False) -> dict[str, Path]:
    """Folders of every source, building the synthetic sets that ``needed`` lacks.

    Args:
        out: the ablation output folder (synthetic sets go to OUT/data/synth_cXX_nN).
        synth_n: LFW faces made into fakes (make_fakes ``n``).
        data: overrides {source: folder}, e.g. {"synth_c23": "tests/tiny"}.
        needed: sources that must exist; missing synth_* are built (seed 0).
        progress: tqdm bars while building.

    Raises:
        FileNotFoundError: if a needed source is missing and cannot be built.
    """
    paths = {s: build_dir() / s for s in SOURCES}
    paths["gan_faces"] = build_dir() / GAN_MATCHED  # source-matched (module docstring)
    for c in ("c23", "c40"):
        paths[f"synth_{c}"] = Path(out) / "data" / f"synth_{c}_n{synth_n}"
    paths.update({k: Path(v) for k, v in (data or {}).items()})
    for name in needed:
        p = paths.get(name)
        if p is not None and (p / "metadata.csv").is_file():
            continue
        if name.startswith("synth_") and name not in (data or {}):
            from ..synth import make_fakes

            lfw = paths["lfw_faces"]
            if not (lfw / "metadata.csv").is_file():
                raise FileNotFoundError(f"{name} is built from {lfw}, which is missing; run "
                                        "`minilocal preprocess` for lfw_faces first")
            logger.info("building %s from %s (n=%d)", p, lfw, synth_n)
            make_fakes(lfw, p, method="all", n=synth_n, seed=SPLIT_SEED,
                       compression=name.rsplit("_", 1)[1], progress=progress, overwrite=True)
            continue
        how = (f"minilocal preprocess gan_faces {p} --kind gan_faces --match lfw"
               if name == "gan_faces" else "minilocal preprocess / synth")
        raise FileNotFoundError(f"data source {name!r} not found at {p}; build it ({how}) "
                                f"or pass data={{{name!r}: folder}}")
    return paths


def _cap(records: list[FaceRecord], cap: int | None) -> list[FaceRecord]:
    """Whole groups in a seed-0 order until ``cap`` rows (at least one group)."""
    if cap is None or len(records) <= cap:
        return records
    groups: dict[str, list] = {}
    for r in records:
        groups.setdefault(r.group or r.file, []).append(r)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(groups))
    names, kept = list(groups), []
    for i in order:
        if kept and len(kept) + len(groups[names[i]]) > cap:
            continue
        kept += groups[names[i]]
    return kept


def _balance(records: list[FaceRecord]) -> list[FaceRecord]:
    """At most as many fakes as reals (a seed-0 subset of the fakes), when both exist."""
    reals = [r for r in records if r.label == "real"]
    fakes = [r for r in records if r.label == "fake"]
    if not reals or len(fakes) <= len(reals):
        return records
    keep = set(np.random.default_rng(SPLIT_SEED).permutation(len(fakes))[:len(reals)].tolist())
    chosen = {id(fakes[i]) for i in keep}
    return [r for r in records if r.label == "real" or id(r) in chosen]


def load_setting(name: str, method: str, sources: Mapping[str, Path], size: int,
                 caps: tuple[int | None, int | None, int | None] = (None, None, None),
                 balance: bool = True, balance_train: bool | None = None
                 ) -> tuple[FaceSet, FaceSet, FaceSet]:
    """The (train, val, test) FaceSets of a data setting, (N, 3, size, size) uint8.

    Args:
        name: one of SETTINGS.
        method: "all", or keep only the fakes of this method (reals are all kept).
        sources: {source: folder}, from :func:`resolve_sources`.
        size: face side S.
        caps: most images of train, val, test (whole groups; shared by all sources
            of the setting in equal parts); None: no cap.
        balance: where a source has more fakes than reals in a split (e.g. one fake
            per method of each real), keep a seed-0 subset of as many fakes as reals.
        balance_train: the same for the train split alone (None: as ``balance``); False
            trains on every fake (the trainer's class-balanced loss weighs the classes)
            while val and test stay balanced.

    Raises:
        ValueError: on an unknown setting, or a method no fake of the setting has.
    """
    parts, compression = setting_sources(name)
    per_split: dict[str, list] = {"train": [], "val": [], "test": []}  # [(root, rows)]
    methods = set()
    for source, label in parts:
        root = Path(sources[source])
        records = read_records(root)
        if not all(r.split for r in records):
            records = assign_splits(records, seed=SPLIT_SEED)
        records = [r for r in records if label is None or r.label == label]
        methods |= {r.method for r in records if r.label == "fake"}
        if method != "all":
            records = [r for r in records if r.label == "real" or r.method == method]
        for i, split in enumerate(per_split):
            cap = caps[i] if caps[i] is None else max(1, caps[i] // len(parts))
            rows = [r for r in records if r.split == split]
            even = balance if split != "train" or balance_train is None else balance_train
            per_split[split].append((root, _cap(_balance(rows) if even else rows, cap)))
    if method != "all" and method not in methods:
        raise ValueError(f"setting {name!r} has no fakes of method {method!r}; it has "
                         f"{sorted(methods)}")
    return tuple(FaceSet.concat([  # type: ignore[return-value]
        FaceSet.from_records(root, rows, size, compression=compression)
        for root, rows in per_split[s]]) for s in per_split)


def _demo_face(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random background with a skin-coloured ellipse and 68 landmarks on it."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    c0, c1 = rng.uniform(40, 200, 3), rng.uniform(40, 200, 3)
    image = c0 * (1 - xx[..., None]) + c1 * yy[..., None] + rng.normal(0, 6, (size, size, 3))
    cx, cy = rng.uniform(0.45, 0.55, 2) * size
    ax, ay = rng.uniform(0.25, 0.32) * size, rng.uniform(0.32, 0.4) * size
    cv2.ellipse(image, (int(cx), int(cy)), (int(ax), int(ay)), 0, 0, 360,
                tuple(float(v) for v in rng.uniform([150, 100, 80], [230, 170, 140])), -1)
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    r = np.where(np.arange(68) < 17, 1.0, 0.55)  # jaw outline + inner points
    pts = np.stack([cx + r * ax * np.cos(t), cy + r * ay * np.sin(t)], 1).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8), pts


def make_demo_sources(out: str | Path, n: int = 24, size: int = 64, seed: int = 0
                      ) -> dict[str, Path]:
    """Tiny procedurally drawn stand-ins for every source, for tests and CI demos.

    Each of ``n`` "real faces" (an ellipse on a smooth background, 68 landmarks) gets
    one fake per synthetic method: a blurred, colour-shifted patch of the face, with its
    exact mask. Also a GAN-like set (noisy faces, label fake) and an LFW-like set of
    reals. Splits by group: 4 of every 6 faces train, 1 val, 1 test. No real data.

    Returns:
        {source: folder} for synth_c23, synth_c40, gan_faces and lfw_faces, to pass as
        ``data=`` to :func:`~minilocal.ablation.run_grid`.
    """
    from ..folder import FolderWriter
    from ..synth import METHODS

    out, rng = Path(out), np.random.default_rng(seed)
    split_of = lambda i: ("train", "train", "train", "train", "val", "test")[i % 6]  # noqa: E731
    faces = [_demo_face(rng, size) for _ in range(n)]
    writers = {k: FolderWriter(out / k, overwrite=True) for k in ("synth", "gan_faces",
                                                                   "lfw_faces")}
    for i, (image, pts) in enumerate(faces):
        cols = dict(group=f"id{i}", split=split_of(i), compression="c0")
        writers["synth"].add(image, "real", mask=np.zeros((size, size), np.uint8),
                             landmarks=pts, **cols)
        writers["lfw_faces"].add(image, "real", landmarks=pts, **cols)
        for k, method in enumerate(METHODS):
            mask = np.zeros((size, size), np.uint8)
            x0, y0 = (pts[17:].mean(0) - size * (0.1 + 0.05 * k)).astype(int)
            w = int(size * (0.2 + 0.1 * k))
            mask[max(y0, 0):y0 + w, max(x0, 0):x0 + w] = 1
            shifted = cv2.GaussianBlur(image, (0, 0), 1.5).astype(np.float32) \
                + rng.uniform(-25, 25, 3)
            fake = np.where(mask[..., None] > 0, np.clip(shifted, 0, 255), image)
            writers["synth"].add(fake.astype(np.uint8), "fake", mask=mask, landmarks=pts,
                                 method=method, **cols)
        gan, gpts = _demo_face(rng, size)
        gan = np.clip(gan + rng.normal(0, 12, gan.shape), 0, 255).astype(np.uint8)
        writers["gan_faces"].add(gan, "fake", mask=np.ones((size, size), np.uint8),
                                 landmarks=gpts, method="gan", group=f"gan{i}",
                                 split=split_of(i), compression="c0")
    for w in writers.values():
        w.close()
    return {"synth_c23": out / "synth", "synth_c40": out / "synth",
            "gan_faces": out / "gan_faces", "lfw_faces": out / "lfw_faces"}
