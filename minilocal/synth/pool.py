"""A pool of aligned real faces and pose-nearest source choice (Procrustes), paper 3.1.

:func:`load_pool` reads the real faces (a folder-format dataset with landmarks, or raw
images aligned with :func:`minilocal.faces.align_face`) into a :class:`FacePool`; a swap
source is the pool face whose pose is most like the target's (:func:`choose_source`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from ..image_io import read_decoded
from ..folder import (IMAGE_EXTENSIONS, METADATA, FaceRecord, assign_splits,
                      parse_landmarks, read_records)
from ._workers import _STATE, _imap

logger = logging.getLogger(__name__)

SOURCE_K = 5  # a swap source is drawn from the 5 nearest poses (variety over the pool)


def normalize_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Landmark shapes without translation and scale, as unit complex vectors.

    Args:
        landmarks: (K, 2) or (M, K, 2) float (x, y).

    Returns:
        (K,) or (M, K) complex128, centred, with unit norm; |<a, b>|^2 = 1 - d^2, d the
        full Procrustes distance (rotation removed too).
    """
    z = np.asarray(landmarks, np.float64)
    z = z[..., 0] + 1j * z[..., 1]
    z = z - z.mean(-1, keepdims=True)
    return z / np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), 1e-12)


def choose_source(target_landmarks: np.ndarray, pool_landmarks: np.ndarray,
                  exclude=None, k: int = 1, rng: np.random.Generator | None = None) -> int:
    """The pool face whose pose is most like the target's (Procrustes distance).

    Args:
        target_landmarks: (K, 2) float (x, y).
        pool_landmarks: (M, K, 2) float; rows with NaN are never chosen.
        exclude: pool indices (or an (M,) bool mask) not to use: the target itself and,
            preferably, every face of its identity.
        k: choose at random (``rng``) among the k nearest. Default: 1, the nearest.
        rng: numpy Generator, needed when k > 1.

    Returns:
        the chosen index into ``pool_landmarks``.

    Raises:
        ValueError: on mismatched shapes, or when no usable face is left (e.g. a pool of
            one face).
    """
    pool = np.asarray(pool_landmarks, np.float64)
    t = np.asarray(target_landmarks, np.float64)
    if pool.ndim != 3 or pool.shape[1:] != t.shape or t.ndim != 2 or t.shape[1] != 2:
        raise ValueError(f"pool_landmarks must be (M, K, 2) matching target_landmarks "
                         f"(K, 2), got {pool.shape} and {t.shape}")
    M = len(pool)
    ok = np.isfinite(pool).all(axis=(1, 2))
    if exclude is not None:
        ex = np.asarray(exclude)
        if ex.dtype == bool:
            if ex.shape != (M,):
                raise ValueError(f"exclude mask must be ({M},), got {ex.shape}")
            ok &= ~ex
        elif ex.size:
            ok[ex.astype(np.int64)] = False
    if k > 1 and rng is None:
        raise ValueError("choose_source with k > 1 needs rng")
    pool = np.where(ok[:, None, None], pool, 0)
    return _nearest(normalize_landmarks(t), normalize_landmarks(pool), ok, k, rng)


def _nearest(shape: np.ndarray, shapes: np.ndarray, ok: np.ndarray, k: int,
             rng: np.random.Generator | None) -> int:
    """Index of one of the k usable ``shapes`` with the largest |<shape, shapes>|, i.e.
    nearest to ``shape`` in full Procrustes distance (:func:`normalize_landmarks`)."""
    if not ok.any():
        raise ValueError(f"no source face left in a pool of {len(ok)} after excluding the "
                         "target (and its identity): a swap needs a second face")
    idx = np.flatnonzero(ok)
    d = 1 - np.abs((shapes[idx] * np.conj(shape)).sum(1)) ** 2  # no BLAS: no thread spin
    k = min(k, len(idx))
    pos = np.argpartition(d, k - 1)[:k] if k < len(idx) else np.arange(len(idx))
    pos = pos[np.argsort(d[pos], kind="stable")]
    return int(idx[pos[rng.integers(k)]] if k > 1 else idx[pos[0]])


@dataclass
class FacePool:
    """Aligned real faces to make fakes from.

    images: (M, S, S, 3) uint8 RGB.
    landmarks: (M, 68, 2) float32 (x, y) in crop pixels.
    records: M metadata rows (group, split, source, box, detection are copied to the fakes).
    """

    images: np.ndarray
    landmarks: np.ndarray
    records: list[FaceRecord]

    def __post_init__(self) -> None:
        self.groups = np.array([r.group or r.file for r in self.records])  # (M,) identities
        self.splits = np.array([r.split for r in self.records])  # (M,)
        self.shapes = normalize_landmarks(self.landmarks)  # (M, 68) complex, for pose matching

    def sources(self, index: int) -> np.ndarray:
        """(M,) bool: the faces that may be the source of a swap onto face ``index``: another
        identity (group) in the same split; in a small pool any other identity, else any
        other face."""
        other = self.groups != self.groups[index]
        usable = other & (self.splits == self.splits[index])
        if not usable.any():
            usable = other if other.any() else np.arange(len(self)) != index
        return usable

    def __len__(self) -> int:
        return len(self.records)


def _has_landmarks(src: Path) -> bool:
    """Whether ``src`` is a folder-format dataset whose reals all have landmarks."""
    if not (src / METADATA).is_file():
        return False
    reals = [r for r in read_records(src) if r.label == "real"]
    return bool(reals) and all(r.landmarks for r in reals)


def _group_of(path: Path, root: Path) -> str:
    """The identity of a raw image: its folder below ``root`` (LFW), else its file stem."""
    rel = path.relative_to(root)
    return str(rel.parent) if rel.parent != Path(".") else path.stem




def _align(item: tuple[str, str]) -> tuple[np.ndarray, np.ndarray, str, str] | str:
    from .. import faces
    from ..image_io import read_image

    path, _ = item
    try:
        crop = faces.align_face(read_image(path), _STATE["size"], whole_image=False)
    except ValueError as err:  # NoFaceError is a ValueError
        return str(err) or type(err).__name__
    return crop.image, crop.landmarks, " ".join(map(str, crop.box)), crop.detection


def load_pool(src: str | Path, size: int = 128, limit: int | None = None, seed: int = 0,
              workers: int = 1, progress: bool = False, split_seed: int = 0
              ) -> tuple[FacePool, list[tuple[str, str]]]:
    """The real faces of ``src`` with landmarks, and the (source, reason) of those left out.

    ``src`` is a folder-format dataset whose reals have landmarks (e.g. build/data/
    lfw_faces), or raw images (a folder tree, a ``real/`` folder, or a dataset without
    landmarks), which are aligned with :func:`minilocal.faces.align_face`. Raw groups are
    the image's folder (the LFW person) or its file stem. Faces without a split get one by
    group (:func:`minilocal.folder.assign_splits`, ``split_seed``).

    Args:
        src: the folder.
        size: crop side S; folder images of another size are resized. Default: 128.
        limit: use at most this many faces, a seeded random subset. Default: all.
        seed: seed of that subset.
        workers: processes for alignment.

    Raises:
        FileNotFoundError: if ``src`` holds no image.
    """
    src = Path(src)
    if (src / METADATA).is_file() or (src / "real").is_dir():
        records = [r for r in read_records(src) if r.label == "real"]
    else:
        paths = sorted(p for p in src.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        records = [FaceRecord(file=str(p.relative_to(src)), label="real",
                              group=_group_of(p, src)) for p in paths]
    if not records:
        raise FileNotFoundError(f"{src} holds no real face images")
    order = np.random.default_rng(seed).permutation(len(records))[:limit]
    records = [records[i] for i in sorted(order)]
    images, landmarks, kept, rejects = [], [], [], []
    if _has_landmarks(src):
        for r in records:
            pts = parse_landmarks(r.landmarks)
            if pts is None or pts.shape != (68, 2):
                rejects.append((r.source or r.file, "not 68 landmarks"))
                continue
            try:  # header checked before decoding (no 20000 x 20000 px bomb), EXIF applied
                bgr = read_decoded(src / r.file)
            except (OSError, ValueError) as err:
                rejects.append((r.source or r.file, str(err)))
                continue
            h, w = bgr.shape[:2]
            if (h, w) != (size, size):
                bgr = cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA)
                pts = pts * np.array([size / w, size / h], np.float32)
            images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            landmarks.append(pts)
            kept.append(replace(r, source=r.source or r.file))
    else:
        items = [(str(src / r.file), r.file) for r in records]
        for r, out in zip(records, _imap(_align, items, {"size": size}, workers, progress,
                                         "aligning")):
            if isinstance(out, str):
                rejects.append((r.file, out))
                continue
            images.append(out[0])
            landmarks.append(out[1])
            kept.append(replace(r, group=r.group or Path(r.file).stem, source=r.file,
                                box=out[2], detection=out[3], landmarks="", mask=""))
    if any(not r.split for r in kept):
        kept = [r if r.split else a for r, a in zip(kept, assign_splits(kept, seed=split_seed))]
    pool = FacePool(np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8),
                    np.stack(landmarks).astype(np.float32) if landmarks
                    else np.zeros((0, 68, 2), np.float32), kept)
    logger.info("pool of %d faces from %s (%d left out)", len(pool), src, len(rejects))
    return pool, rejects
