"""Small balanced face samples to look at: fakes with their true masks beside reals.

:func:`sample_faces` takes a handful of faces from a dataset, fakes and reals interleaved,
preferring fakes whose true forgery mask is known. Without a name it tries the synthetic
fakes ``synth_lfw``, then ``dfdc_faces``. For the raw DFDC real/fake pairs (a
``metadata.csv`` with an ``original`` column) each fake comes with its own real and an
approximate mask: the pair's pixel difference (:func:`~minilocal.masks.real_mask`).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from ..faceset import FaceSet
from ..folder import FaceRecord, read_records
from ..masks import real_mask
from ..model import RECEPTIVE_FIELD
from ..paths import dataset_candidates

logger = logging.getLogger(__name__)

__all__ = ["DEMO_DATASETS", "sample_faces"]

DEMO_DATASETS = ("synth_lfw", "dfdc_faces")  # tried in order when no name is given


def _is_raw_pairs(root: Path) -> bool:
    meta = root / "metadata.csv"
    if not meta.is_file():
        return False
    with open(meta, newline="") as f:
        return "original" in (csv.DictReader(f).fieldnames or [])


def _has_masks(root: Path) -> bool:
    return _is_raw_pairs(root) or any(r.mask for r in read_records(root))


def _read(root: Path, records: Sequence[FaceRecord], size: int) -> FaceSet:
    """The faces of ``records`` at size x size, decoded like the training loader."""
    try:
        return FaceSet.from_records(root, records, size)
    except ValueError as err:
        raise ValueError(f"cannot read image: {err}") from None


def _interleave(fakes: list, reals: list) -> list:
    out = []
    for k in range(max(len(fakes), len(reals))):
        out += fakes[k:k + 1] + reals[k:k + 1]
    return out


def _from_folder(root: Path, n: int, size: int, split: str | None, seed: int) -> FaceSet:
    records = read_records(root)
    if split is not None and any(r.split == split for r in records):
        records = [r for r in records if r.split == split]
    rng = np.random.default_rng(seed)
    fakes = [r for r in records if r.label == "fake"]
    fakes = [r for r in fakes if r.mask] or fakes  # prefer fakes whose true mask is known
    reals = [r for r in records if r.label == "real"]
    pick = lambda rows, k: [rows[i] for i in np.sort(  # noqa: E731
        rng.choice(len(rows), min(k, len(rows)), replace=False))] if rows else []
    n_fake = min((n + 1) // 2, len(fakes))
    n_real = min(n - n_fake, len(reals))
    n_fake = min(n - n_real, len(fakes))  # top up with fakes when reals run short
    chosen = _interleave(pick(fakes, n_fake), pick(reals, n_real))
    if not chosen:
        raise ValueError(f"{root}: no faces" + (f" in split {split!r}" if split else ""))
    return _read(root, chosen, size)


def _from_raw_pairs(root: Path, n: int, size: int, seed: int) -> FaceSet:
    with open(root / "metadata.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["label"] == "fake" and r.get("original")]
    rng = np.random.default_rng(seed)
    pairs = [rows[i] for i in np.sort(rng.choice(len(rows), min((n + 1) // 2, len(rows)),
                                                 replace=False))]
    records = []
    for row in pairs:  # each fake, then its real
        real_file = f"real/{row['original']}.jpg"
        records += [FaceRecord(file=file, label=label, group=row["original"],
                               method="dfdc" if label == "fake" else "", source=file,
                               detection="given")
                    for label, file in (("fake", row["file"]), ("real", real_file))]
    images = list(np.ascontiguousarray(_read(root, records, size).images.permute(0, 2, 3, 1)))
    masks = [real_mask(images[k + 1], images[k]) if r.label == "fake" else None
             for k, r in enumerate(records)]
    return FaceSet.from_arrays(records[:n], images[:n], masks[:n])


def sample_faces(name: str | None = None, n: int = 16, size: int = 128,
                 split: str | None = "test", seed: int = 0, need_masks: bool = False
                 ) -> FaceSet:
    """A small balanced sample of faces, fakes and reals interleaved (fake first).

    Args:
        name: a dataset directory, or a dataset name (found under build/data, then in
            the data roots: :func:`~minilocal.paths.find_dataset`). Default: the first
            of DEMO_DATASETS that exists.
        n: number of faces (fewer if the dataset is smaller). Default: 16.
        size: faces are resized to size x size. Default: 128.
        split: take rows of this split when the dataset has it. Default: "test".
        seed: seed of the sample. Default: 0.
        need_masks: skip datasets without true masks (the raw DFDC pairs count: their
            masks are approximate). Default: False.

    Returns:
        a :class:`~minilocal.faceset.FaceSet`; ``has_mask`` marks fakes with a true mask.
        For raw DFDC pairs the mask is the pair's pixel difference (approximate: the
        fake's frame can differ slightly from the real one); each fake's real follows it.

    Raises:
        FileNotFoundError: if no dataset is found.
        ValueError: if n < 1 or size is below the 33 px receptive field.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if size < RECEPTIVE_FIELD:
        raise ValueError(f"size must be at least the {RECEPTIVE_FIELD} px receptive field, "
                         f"got {size}")
    names = [name] if name else list(DEMO_DATASETS)
    roots = [root for candidate in names for root in dataset_candidates(candidate, built=True)]
    for root in roots:
        if need_masks and not _has_masks(root):
            continue
        logger.info("sample_faces: %d faces from %s", n, root)
        faces = (_from_raw_pairs(root, n, size, seed) if _is_raw_pairs(root)
                 else _from_folder(root, n, size, split, seed))
        faces.records = [replace(r, source=r.source or str(root / r.file))
                         for r in faces.records]
        return faces
    raise FileNotFoundError(f"none of the datasets {names} was found"
                            + (" with true masks" if need_masks else "")
                            + "; build one with `minilocal preprocess` or set MINILOCAL_DATA")
