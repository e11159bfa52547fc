"""The data side of training: the train/val splits and what each head learns from a batch.

:func:`load_splits` reads folder-format datasets into in-memory
:class:`~minilocal.faceset.FaceSet` splits; :func:`check_data` says whether they can train
the heads of a :class:`~minilocal.recipe.TrainConfig`. :func:`train_batch` draws one
training batch. The labels follow the pixels: :func:`head_masks` gives each head its dense
mask (:func:`~minilocal.masks.label_masks`; real images: zeros, except for the ``face``
head), :func:`changed_masks` keeps an exact mask's pixels that really changed, and
:func:`crop_labels` calls a training crop real when none of its receptive-field centres
falls on a fake pixel.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import torch

from .augment import augment_batch, photometric, step_generator
from .faceset import FaceSet, load_folder
from .folder import assign_splits, read_records
from .masks import MIN_CHANGE, changed_mask, label_masks
from .receptive_field import label_grid
from .recipe import TrainConfig, crop_size_at
from .status import warn_if_incomplete

if TYPE_CHECKING:  # in annotations only
    from .run_state import Run

__all__ = ["FACE_HEAD", "load_splits", "check_data", "head_masks", "changed_masks",
           "crop_labels", "train_batch"]

FACE_HEAD = "face"  # the head that predicts the face region for every image (real or fake)


def head_masks(data: FaceSet, index: torch.Tensor, masks: Mapping[str, str],
               heads: Sequence[str]) -> dict[str, torch.Tensor]:
    """Dense masks of a batch for each head: :func:`~minilocal.masks.label_masks` of its
    kind, gated by the label (real images: zeros) for every head but the ``face`` head.

    Args:
        data: the FaceSet (tensors on any device).
        index: (B,) int64 rows of the batch.
        masks: {head: kind}, kinds from MASK_KINDS.
        heads: the heads to build.

    Returns:
        {head: (B, H, W) uint8 in {0, 1}}.
    """
    exact = data.has_mask[index.to(data.has_mask.device)]
    return {head: label_masks(masks[head], data.labels[index], data.masks[index], exact,
                              data.cvm[index], gate_by_label=head != FACE_HEAD)
            for head in heads}


def check_data(data: FaceSet, config: TrainConfig, name: str = "train") -> None:
    """Raise ValueError unless ``data`` can train/validate with ``config``.

    Needs both classes, true masks for the fakes of a "real" head, and landmarks (for the
    CVM) of every image a "cvm" head labels (only fakes, except for the face head).
    """
    n = len(data)
    n_fake = int(data.labels.sum()) if n else 0
    if n == 0 or n_fake in (0, n):
        raise ValueError(f"the {name} set needs real and fake images, got {n - n_fake} real "
                         f"and {n_fake} fake; check the data and its split column")
    fake = data.labels == 1
    for head in config.heads:
        kind = config.masks[head]
        labelled = torch.ones_like(fake) if head == FACE_HEAD else fake
        if kind == "real":
            lack = int((fake & ~data.has_mask).sum())
            what = "true forgery masks (mask column)"
        elif kind == "cvm":
            lack = int((labelled & ~data.has_cvm).sum())
            what = "landmarks for the CVM (landmarks column)"
        elif kind == "real_or_cvm":
            lack = int((labelled & ~data.has_mask & ~data.has_cvm).sum())
            what = "either a true forgery mask or landmarks"
        else:
            continue
        if lack:
            every = kind == "cvm" and head == FACE_HEAD
            whom = f"{n} {name}" if every else f"{n_fake} fake {name}"
            raise ValueError(f"head {head!r} uses {kind!r} masks but {lack} of the {whom} "
                             f"images lack {what}; use another mask kind or other data")


def changed_masks(data: FaceSet, min_change: int = MIN_CHANGE) -> FaceSet:
    """The FaceSet with each exact-mask fake's mask cut to the pixels that changed.

    Rule (:func:`~minilocal.masks.changed_mask`): a masked pixel stays fake iff some
    channel differs from the fake's own real by >= ``min_change`` grey levels. A fake's
    real is the real row with the same (group, source, box), as ``minilocal synth``
    writes them; fakes without one, or without an exact mask, are left as they are.

    Returns:
        a new FaceSet (masks replaced; images and records shared).
    """
    if min_change <= 0:
        return data
    key = lambda r: (r.group, r.source, r.box)  # noqa: E731
    reals = {key(r): i for i, r in enumerate(data.records) if r.label == "real"}
    masks = data.masks.clone()
    for i, r in enumerate(data.records):
        j = reals.get(key(r))
        if r.label == "fake" and bool(data.has_mask[i]) and j is not None:
            masks[i] = changed_mask(data.images[j], data.images[i], data.masks[i], min_change)
    return replace(data, masks=masks)


def crop_labels(labels: torch.Tensor, exact: torch.Tensor, fake_centres: torch.Tensor
                ) -> torch.Tensor:
    """Image labels of training crops: what each crop shows.

    Rule: a fake with an exact mask (``exact``) whose crop holds no fake pixel at any
    receptive-field centre is labelled real (0): every output of the network sees, at its
    centre, an untouched pixel of a real photo. Other rows keep their label.

    Args:
        labels: (N,) int64 image labels.
        exact: (N,) bool, fakes whose mask is exact (not a CVM).
        fake_centres: (N, H', W') the crop's fake-pixel mask at the receptive-field centres.

    Returns:
        (N,) int64.
    """
    shows_fake = fake_centres.flatten(1).bool().any(1).to(labels.device)
    real_crop = exact.to(labels.device).bool() & ~shows_fake
    return torch.where(real_crop, torch.zeros_like(labels), labels)


def train_batch(run: Run, epoch: int, step: int, index: torch.Tensor, done: float
                ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """One training batch: random crops (side :func:`~minilocal.recipe.crop_size_at`
    ``done``), flips, JPEG and colour, all drawn from (seed, epoch, step, rank); image
    labels of what each crop shows (:func:`crop_labels`); each head's labels at the
    receptive-field centres (:func:`~minilocal.receptive_field.label_grid`).

    Args:
        run: the :class:`~minilocal.run_state.Run` (its config, train set, rank, model).
        epoch, step: where in the run the batch is drawn.
        index: (B,) int64 rows of ``run.train_set``.
        done: the fraction of the run done (:class:`~minilocal.run_state.RunProgress`).

    Returns:
        images (B, 3, S, S) uint8, labels (B,) int64, {head: (B, S', S') labels}.
    """
    config, data = run.config, run.train_set
    g = step_generator(config.seed, epoch, step, run.info.rank)
    labels = data.labels[index]
    masks = head_masks(data, index, config.masks, config.heads)
    masks[" fake pixels"] = data.masks[index]  # for crop_labels (no head name)
    crop = crop_size_at(config, done, config.train_size)
    images, masks = augment_batch(data.images[index], masks, crop, g, flip=config.flip)
    fake_pixels = masks.pop(" fake pixels")
    images = photometric(images, g, config.jpeg_p, config.jpeg_quality, config.colour)
    seg_labels = {h: label_grid(m, run.model) for h, m in masks.items()}
    if config.crop_labels:
        exact = data.has_mask[index] & (labels == 1)
        if bool(exact.any()):
            labels = crop_labels(labels, exact, run.centres(fake_pixels))
    return images, labels, seg_labels


def load_splits(data: str | Path | Iterable[str | Path], config: TrainConfig,
                progress: bool = False) -> tuple[FaceSet, FaceSet]:
    """Load the train and val splits of one or more folder-format datasets.

    Rows without a split get one from :func:`~minilocal.folder.assign_splits` (by group,
    seeded with ``config.seed``). ``config.limit`` keeps a seeded subset of each split.
    A dataset marked incomplete (:mod:`minilocal.status`) is loaded with a warning.

    Returns:
        (train, val) FaceSets with images (N, 3, size, size) uint8.

    Raises:
        ValueError: if a split is empty or lacks a class.
    """
    roots = [Path(data)] if isinstance(data, (str, Path)) else [Path(d) for d in data]
    if not roots:
        raise ValueError("no dataset given")
    parts = []
    for root in roots:
        warn_if_incomplete(root)  # an interrupted preprocess/synth: say so, and how to finish
        if all(r.split for r in read_records(root)):
            parts.append(load_folder(root, split=("train", "val"), size=config.size,
                                     progress=progress))
        else:
            fs = load_folder(root, size=config.size, progress=progress)
            fs.records = assign_splits(fs.records, config.fractions, config.seed)
            parts.append(fs)
    faces = changed_masks(FaceSet.concat(parts), config.min_change)
    out = []
    for split in ("train", "val"):
        idx = [i for i, r in enumerate(faces.records) if r.split == split]
        if config.limit is not None and len(idx) > config.limit:
            g = torch.Generator().manual_seed(config.seed)
            keep = torch.randperm(len(idx), generator=g)[: config.limit].sort().values
            idx = [idx[i] for i in keep.tolist()]
        subset = faces.subset(idx)
        check_data(subset, config, split)
        out.append(subset)
    return out[0], out[1]

