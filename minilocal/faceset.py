"""Faces in memory: a folder-format dataset's images, masks and CVMs as uint8 tensors.

:func:`load_folder` reads a dataset (the rows of :func:`~minilocal.folder.read_records`,
optionally of some splits) into a :class:`FaceSet`; :meth:`FaceSet.from_records`,
:meth:`FaceSet.from_arrays`, :meth:`FaceSet.concat` and :meth:`FaceSet.empty` build one
from chosen rows, from arrays already in memory, from other FaceSets, or with no rows.
Each face's landmarks give its CVM, the convex-hull mask (paper 3.1).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np
import torch

from .folder import LABELS, FaceRecord, parse_landmarks, read_records
from .masks import cvm as cvm_mask

__all__ = ["FaceSet", "load_folder"]


def _read_rgb(path: Path, size: int | None, compression: str | None = None
              ) -> tuple[np.ndarray, tuple[int, int]]:
    """(H, W, 3) uint8 RGB, re-encoded at ``compression`` if given, then resized to
    size x size if given; and the size on disk.

    Decoded like :func:`minilocal.image_io.read_image`: size checked in the header first,
    EXIF orientation applied."""
    from .image_io import read_decoded

    rgb = cv2.cvtColor(read_decoded(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    saved = rgb.shape[:2]
    if compression:
        from .compress import compress_image

        rgb = compress_image(rgb, compression)
    if size is not None and saved != (size, size):
        rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    return rgb, saved


def _read_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A true forgery mask as (H, W) uint8 {0, 1} at ``shape`` (nearest neighbour)."""
    from .image_io import read_decoded

    m = read_decoded(path, cv2.IMREAD_GRAYSCALE)
    if m.shape != shape:
        m = cv2.resize(m, shape[::-1], interpolation=cv2.INTER_NEAREST)
    return (m > 127).astype(np.uint8)


@dataclass
class FaceSet:
    """Faces held in memory, as uint8 tensors, with their metadata rows.

    images: (N, 3, H, W) uint8 RGB.
    labels: (N,) int64, 0 real, 1 fake (-1 for a row whose label is neither, an upload).
    masks: (N, H, W) uint8 {0, 1}, the true forgery masks (zeros where none is known).
    has_mask: (N,) bool, whether row n has a true forgery mask.
    cvm: (N, H, W) uint8 {0, 1}, the landmark convex hull (zeros where no landmarks).
    has_cvm: (N,) bool, whether row n has landmarks.
    records: the N metadata rows.

    Built in one of four ways: :meth:`from_records` (the rows of a folder-format dataset:
    what :func:`load_folder` and every dataset reader use), :meth:`from_arrays` (faces
    already in memory), :meth:`concat` and :meth:`empty`.
    """

    images: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor
    has_mask: torch.Tensor
    cvm: torch.Tensor
    has_cvm: torch.Tensor
    records: list[FaceRecord]

    def __len__(self) -> int:
        return len(self.records)

    def subset(self, index: Sequence[int] | torch.Tensor) -> "FaceSet":
        """The rows at ``index``, in that order."""
        idx = torch.as_tensor(index, dtype=torch.long)
        return FaceSet(self.images[idx], self.labels[idx], self.masks[idx], self.has_mask[idx],
                       self.cvm[idx], self.has_cvm[idx], [self.records[i] for i in idx.tolist()])

    @classmethod
    def from_records(cls, root: str | Path, records: Sequence[FaceRecord],
                     size: int | None = None, *, compression: str | None = None,
                     progress: bool = False) -> "FaceSet":
        """Read the faces of ``records``: each image, its true mask and its landmarks' CVM.

        Args:
            root: the dataset directory the rows' paths are relative to.
            records: the rows to read, in this order (the caller chooses them).
            size: resize images and masks to size x size (landmarks are scaled with
                them). Default: keep; then all images must already share one size.
            compression: re-encode each image at this level (``compress.LEVELS``) as it is
                read, before resizing. Default: none.
            progress: show a tqdm progress bar.

        Returns:
            a FaceSet; no rows give :meth:`empty` of ``size``.

        Raises:
            ValueError: when images differ in size and ``size`` is None, no row is given
                without a size, or an image or mask cannot be used.
        """
        root = Path(root)
        if not records:
            if size is None:
                raise ValueError(f"{root}: no images")
            return cls.empty(size)
        from tqdm.auto import tqdm

        images, masks, hulls = [], [], []
        for r in tqdm(records, desc=f"loading {root.name}", disable=not progress):
            im, saved = _read_rgb(root / r.file, size, compression)
            H, W = im.shape[:2]
            if images and im.shape != images[0].shape:
                raise ValueError(f"{r.file} is {W}x{H} but earlier images are "
                                 f"{images[0].shape[1]}x{images[0].shape[0]}; pass size=")
            images.append(im)
            masks.append(_read_mask(root / r.mask, (H, W)) if r.mask else None)
            pts = parse_landmarks(r.landmarks)  # in the saved image's pixels
            if pts is not None and saved != (H, W):
                pts = pts * np.array([W / saved[1], H / saved[0]], np.float32)
            hulls.append(None if pts is None else cvm_mask(pts, H, W))
        return cls.from_arrays(records, images, masks, hulls)

    @classmethod
    def from_arrays(cls, records: Sequence[FaceRecord], images: Sequence[np.ndarray],
                    masks: Sequence[np.ndarray | None] | None = None,
                    hulls: Sequence[np.ndarray | None] | None = None) -> "FaceSet":
        """A FaceSet of faces already in memory (aligned on the fly, uploaded, or with
        masks computed from image pairs).

        Args:
            records: the N rows; the labels follow their ``label`` (-1 if not real/fake).
            images: N (H, W, 3) uint8 RGB arrays of one size.
            masks: N true forgery masks (H, W), nonzero = manipulated, or None where none
                is known. Default: none known.
            hulls: N landmark convex hulls (H, W) {0, 1}, or None where there are no
                landmarks. Default: none.

        Raises:
            ValueError: if there are no rows (use :meth:`empty`) or the lengths differ.
        """
        N = len(records)
        masks = [None] * N if masks is None else list(masks)
        hulls = [None] * N if hulls is None else list(hulls)
        if N == 0 or not len(images) == len(masks) == len(hulls) == N:
            raise ValueError(f"from_arrays needs one image, mask and hull per record, got "
                             f"{N} records, {len(images)} images, {len(masks)} masks and "
                             f"{len(hulls)} hulls (no rows: FaceSet.empty(size))")
        zeros = np.zeros(np.shape(images[0])[:2], np.uint8)
        return cls(
            images=torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous(),
            labels=torch.tensor([LABELS.get(r.label, -1) for r in records], dtype=torch.long),
            masks=torch.from_numpy(np.stack([zeros if m is None else
                                             (np.asarray(m) > 0).astype(np.uint8)
                                             for m in masks])),
            has_mask=torch.tensor([m is not None for m in masks], dtype=torch.bool),
            cvm=torch.from_numpy(np.stack([zeros if h is None else np.asarray(h, np.uint8)
                                           for h in hulls])),
            has_cvm=torch.tensor([h is not None for h in hulls], dtype=torch.bool),
            records=list(records))

    @classmethod
    def concat(cls, sets: Sequence["FaceSet"]) -> "FaceSet":
        """The rows of ``sets`` one after the other (all of one image size)."""
        if not sets:
            raise ValueError("concat needs at least one FaceSet")
        if len(sets) == 1:
            return sets[0]
        tensors = [torch.cat([getattr(s, f.name) for s in sets]) for f in fields(cls)
                   if f.name != "records"]
        return cls(*tensors, records=[r for s in sets for r in s.records])

    @classmethod
    def empty(cls, size: int) -> "FaceSet":
        """No rows, of size x size faces."""
        z = torch.zeros(0, size, size, dtype=torch.uint8)
        return cls(torch.zeros(0, 3, size, size, dtype=torch.uint8),
                   torch.zeros(0, dtype=torch.long), z, torch.zeros(0, dtype=torch.bool), z,
                   torch.zeros(0, dtype=torch.bool), [])


def load_folder(root: str | Path, split: str | Iterable[str] | None = None,
                size: int | None = None, progress: bool = False) -> FaceSet:
    """Load a folder-format dataset into memory as uint8 tensors.

    Args:
        root: the dataset directory.
        split: keep only rows of this split (or these splits). Default: all rows.
        size: resize images (and masks) to size x size. Default: keep; then all images
            must already share one size.
        progress: show a tqdm progress bar.

    Returns:
        a :class:`FaceSet` (:meth:`FaceSet.from_records` of the rows kept).

    Raises:
        ValueError: when no row is left, or images differ in size and ``size`` is None.
    """
    root = Path(root)
    records = read_records(root)
    if split is not None:
        keep = {split} if isinstance(split, str) else set(split)
        records = [r for r in records if r.split in keep]
    if not records:
        raise ValueError(f"{root}: no images" + (f" in split {split!r}" if split else ""))
    return FaceSet.from_records(root, records, size, progress=progress)
