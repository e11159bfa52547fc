"""The folder format: the one on-disk layout every minilocal dataset is written in.

A dataset is a directory holding ``metadata.csv`` and, beside it, the files it names::

    ROOT/metadata.csv     one row per face; columns COLUMNS (only file, label required)
    ROOT/images/*.png     aligned RGB face crops (lossless; compression is applied before)
    ROOT/masks/*.png      true forgery masks, 0 or 255 (only where one is known)
    ROOT/rejects.csv      inputs that could not be used: source, reason
    ROOT/status.json      in progress or complete, for datasets minilocal builds (see
                          minilocal.status; none: an older or hand-made dataset)

Readers also accept a plain ``ROOT/real/*`` + ``ROOT/fake/*`` image layout.
:class:`FolderWriter` appends each row as soon as its files are on disk, so an
interrupted run keeps everything it wrote. Loading the faces into memory is
:mod:`minilocal.faceset`'s job.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "COLUMNS", "METADATA", "REJECTS", "LABELS", "FaceRecord", "FolderWriter", "read_records",
    "assign_splits", "write_records", "format_landmarks", "parse_landmarks",
]

METADATA = "metadata.csv"
REJECTS = "rejects.csv"
LABELS = {"real": 0, "fake": 1}
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
SPLITS = ("train", "val", "test")
TMP_SUFFIX = ".tmp.png"  # a PNG being written; renamed to its name once whole


@dataclass
class FaceRecord:
    """One row of metadata.csv. Paths are relative to the dataset root."""

    file: str  # the image, e.g. images/000001.png
    label: str  # "real" or "fake"
    mask: str = ""  # true forgery mask (PNG, 0/255), "" when unknown
    landmarks: str = ""  # 68 (x, y) in crop pixels, "x0 y0 x1 y1 ...", "" when unknown
    group: str = ""  # what must not cross splits: the identity or the real video
    split: str = ""  # train, val or test ("" = not assigned)
    method: str = ""  # manipulation method, e.g. faceswap, sbi, Deepfakes; "" for real
    compression: str = ""  # c0, c23 or c40
    source: str = ""  # the input file this face came from
    box: str = ""  # face box in the source image, "x0 y0 x1 y1"
    detection: str = ""  # how the face was found: hog, hog_padded, whole_image, given


COLUMNS = [f.name for f in fields(FaceRecord)]


def format_landmarks(landmarks: np.ndarray) -> str:
    """(K, 2) float -> "x0 y0 x1 y1 ..." with 0.01 px precision."""
    return " ".join(f"{v:.2f}" for v in np.asarray(landmarks, np.float64).reshape(-1))


def parse_landmarks(text: str) -> np.ndarray | None:
    """ "x0 y0 x1 y1 ..." -> (K, 2) float32, or None for ""."""
    if not text:
        return None
    return np.array(text.split(), np.float32).reshape(-1, 2)


def read_records(root: str | Path) -> list[FaceRecord]:
    """The rows of ``root/metadata.csv``, or of a ``real/`` + ``fake/`` image layout.

    metadata.csv is untrusted input: every ``file`` and ``mask`` must be a relative path
    that stays inside ``root`` (no '..', no absolute path, no symlink leading out), and
    no ``file`` may appear twice. (The real/ + fake/ layout lists what is in the folder;
    its entries may be symlinks, as the user put them there.)

    Raises:
        FileNotFoundError: if neither layout is there.
        ValueError: naming metadata.csv (and the row) for a missing file/label column, an
            empty or unsafe path, a duplicated file, or a label other than real/fake.
    """
    root = Path(root)
    meta = root / METADATA
    if meta.is_file():
        records = _read_metadata(meta)
    elif (root / "real").is_dir() or (root / "fake").is_dir():
        records = []
        for label in LABELS:
            folder = root / label
            if folder.is_dir():
                records += [FaceRecord(file=f"{label}/{p.name}", label=label)
                            for p in sorted(folder.iterdir())
                            if p.suffix.lower() in IMAGE_EXTENSIONS]
    else:
        raise FileNotFoundError(f"{root} has neither {METADATA} nor real/ and fake/ folders")
    bad = sorted({r.label for r in records} - set(LABELS))
    if bad:
        raise ValueError(f"{root}: labels must be 'real' or 'fake', found {bad}")
    return records


def _read_metadata(meta: Path) -> list[FaceRecord]:
    """The checked rows of one metadata.csv (see :func:`read_records`)."""
    root, known = meta.parent, set(COLUMNS)
    base = root.resolve()
    records: list[FaceRecord] = []
    seen: dict[str, int] = {}  # normalised file -> row
    with open(meta, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("file", "label") if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{meta} lacks required columns {missing} (has "
                             f"{reader.fieldnames or []}); a dataset needs at least file,label")
        for n, row in enumerate(reader, 1):
            where = f"{meta}, row {n} (line {reader.line_num})"
            rec = FaceRecord(**{k: (v or "") for k, v in row.items() if k in known})
            if rec.label not in LABELS:
                raise ValueError(f"{where}: labels must be 'real' or 'fake', found "
                                 f"{rec.label!r}")
            key = _check_inside(root, base, rec.file, f"{where}: file")
            if rec.mask:
                _check_inside(root, base, rec.mask, f"{where}: mask")
            if key in seen:
                raise ValueError(f"{where}: file {rec.file!r} is listed twice (also row "
                                 f"{seen[key]}); each image may appear only once")
            seen[key] = n
            records.append(rec)
    return records


def _check_inside(root: Path, base: Path, rel: str, what: str) -> str:
    """``rel`` normalised, if it names a file inside ``root`` (resolved: ``base``);
    else ValueError.

    Refuses an empty path, an absolute one, one with '..' and one that leaves ``root``
    through a symlink."""
    if not rel.strip():
        raise ValueError(f"{what} is empty")
    parts = rel.replace("\\", "/").split("/")
    if Path(rel).is_absolute() or rel.startswith(("/", "\\")) or ".." in parts:
        raise ValueError(f"{what} {rel!r} must be a path inside the dataset folder "
                         "(relative, without '..')")
    if not (root / rel).resolve().is_relative_to(base):
        raise ValueError(f"{what} {rel!r} leads outside the dataset folder {root} "
                         "(through a symbolic link)")
    return os.path.normpath(rel)


def write_records(root: str | Path, records: Sequence[FaceRecord]) -> None:
    """Rewrite ``root/metadata.csv`` atomically (temp file + rename)."""
    path = Path(root) / METADATA
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(asdict(r) for r in records)
    os.replace(tmp, path)


def assign_splits(records: Sequence[FaceRecord], fractions: tuple[float, float, float] =
                  (0.8, 0.1, 0.1), seed: int = 0) -> list[FaceRecord]:
    """Give every record a train/val/test split, by group, deterministically from ``seed``.

    All records of a group (an empty group counts as its own file) land in one split.
    A group goes to the split chosen by a hash of (seed, group), so adding data never
    moves an existing group to another split.

    Raises:
        ValueError: if the fractions are not three non-negative numbers summing to 1.
    """
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions must be 3 non-negative numbers summing to 1, got {fractions}")
    cuts = np.cumsum(fractions)
    out = []
    for r in records:
        key = r.group or r.file
        u = int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:12], 16) / 16**12
        out.append(replace(r, split=SPLITS[int(np.searchsorted(cuts, u, side="right").clip(0, 2))]))
    return out


class FolderWriter:
    """Write a folder-format dataset row by row; nothing written is lost on a crash.

    Args:
        root: the dataset directory (created).
        overwrite: start a new metadata.csv even if one exists. Default: False, which
            appends to an existing dataset and skips names already present.

    Appending to an existing dataset first deletes the ``*.tmp.png`` files that a run
    killed while writing an image left behind (only this writer makes them).

    Example:
        >>> with FolderWriter("build/data/demo") as w:
        ...     w.add(face_rgb, "fake", mask=mask, landmarks=pts, group="id7", method="sbi")
        ...     w.reject("broken.jpg", "no face found")
    """

    def __init__(self, root: str | Path, overwrite: bool = False) -> None:
        self.root = Path(root)
        (self.root / "images").mkdir(parents=True, exist_ok=True)
        (self.root / "masks").mkdir(parents=True, exist_ok=True)
        meta, rej = self.root / METADATA, self.root / REJECTS
        self.existing: set[str] = set()
        if overwrite or not meta.exists():
            with open(meta, "w", newline="") as f:
                csv.DictWriter(f, fieldnames=COLUMNS).writeheader()
            with open(rej, "w", newline="") as f:
                csv.writer(f).writerow(["source", "reason"])
        else:
            self.existing = {Path(r.file).stem for r in read_records(self.root)}
            for sub in ("images", "masks"):  # left by a kill inside _write_png
                for tmp in (self.root / sub).glob("*" + TMP_SUFFIX):
                    tmp.unlink()
            if not rej.exists():
                with open(rej, "w", newline="") as f:
                    csv.writer(f).writerow(["source", "reason"])
        self._meta = open(meta, "a", newline="")
        self._rej = open(rej, "a", newline="")
        self._writer = csv.DictWriter(self._meta, fieldnames=COLUMNS)
        self.count = len(self.existing)
        self.rejected = 0

    def __enter__(self) -> "FolderWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._meta.close()
        self._rej.close()

    def add(self, image: np.ndarray, label: str, *, mask: np.ndarray | None = None,
            landmarks: np.ndarray | None = None, name: str | None = None,
            **columns: str) -> FaceRecord:
        """Write one face and append its row.

        Args:
            image: (H, W, 3) uint8 RGB.
            label: "real" or "fake".
            mask: (H, W) true forgery mask, {0, 1} or {0, 255}; None when unknown.
            landmarks: (68, 2) float (x, y) in image pixels; None when unknown.
            name: file stem; default: a running number.
            columns: other FaceRecord fields (group, method, compression, source, box,
                detection, split).

        Raises:
            ValueError: on a bad image, label or mask shape.
        """
        if label not in LABELS:
            raise ValueError(f"label must be 'real' or 'fake', got {label!r}")
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
        if mask is not None and np.asarray(mask).shape != image.shape[:2]:
            raise ValueError(f"mask must be {image.shape[:2]}, got {np.asarray(mask).shape}")
        name = name or f"{self.count:06d}"
        if name in self.existing:
            raise ValueError(f"{name!r} is already in {self.root}")
        rec = FaceRecord(file=f"images/{name}.png", label=label, **columns)
        _write_png(self.root / rec.file, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if mask is not None:
            rec.mask = f"masks/{name}.png"
            _write_png(self.root / rec.mask, (np.asarray(mask) > 0).astype(np.uint8) * 255)
        if landmarks is not None:
            rec.landmarks = format_landmarks(landmarks)
        self._writer.writerow(asdict(rec))
        self._meta.flush()
        self.existing.add(name)
        self.count += 1
        return rec

    def reject(self, source: str, reason: str) -> None:
        """Record an input that could not be used, and why."""
        csv.writer(self._rej).writerow([source, reason])
        self._rej.flush()
        self.rejected += 1
        logger.info("rejected %s: %s", source, reason)


def _write_png(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.stem + TMP_SUFFIX)
    if not cv2.imwrite(str(tmp), array):
        raise OSError(f"could not write {path}")
    os.replace(tmp, path)
