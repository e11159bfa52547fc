"""Evaluation of a trained detector on a labelled face set (paper section 4, Fig. 3).

Two image scores, as in the paper: the classifier's p_fake and the mean per-location
forgery probability of a segmentation head ("seg"). Both are measured on centre crops of
the 128 x 128 input (Fig. 3a: the network has no fully connected layer over space, so
it accepts smaller inputs; the segmentation score degrades more gracefully). Where true
forgery masks exist, the head's probability map is spread back onto the input through
the receptive-field centres and compared with the mask pixel by pixel.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch
from torch import nn

from .faceset import FaceSet
from .folder import format_landmarks, read_records
from .metrics import binary_metrics, localization_report
from .model import RECEPTIVE_FIELD, fake_probability_map, p_fake, seg_score
from .receptive_field import upsample_to_input
from .runtime import bf16_supported, eval_mode, model_device
from .status import warn_if_incomplete

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_SIZES", "Scores", "centre_crop", "score_images", "evaluate",
           "load_eval_set"]

DEFAULT_SIZES = (128, 112, 96, 80, 64, 48)  # input sides of Fig. 3a, centre crops of 128


class Scores(NamedTuple):
    """Image scores for one input size.

    cls: (N,) float64, the classifier's p_fake in [0, 1].
    seg: (N,) float64, the mean forgery probability of the segmentation head, or None
        when the model has no segmentation head.
    """

    cls: np.ndarray
    seg: np.ndarray | None


def centre_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """The central size x size window. (..., H, W) -> (..., size, size), a view.

    Raises:
        ValueError: if ``size`` exceeds H or W.
    """
    H, W = images.shape[-2:]
    if size > H or size > W:
        raise ValueError(f"crop size {size} is larger than the {H}x{W} images")
    top, left = (H - size) // 2, (W - size) // 2
    return images[..., top:top + size, left:left + size]


def _check_sizes(sizes: Sequence[int], H: int, W: int) -> tuple[int, ...]:
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise ValueError("sizes is empty: give at least one input size, e.g. (128,)")
    bad = [s for s in sizes if s < RECEPTIVE_FIELD or s > min(H, W)]
    if bad:
        raise ValueError(f"sizes {bad} must lie between the receptive field "
                         f"({RECEPTIVE_FIELD}) and the image size ({H}x{W})")
    return tuple(sorted(set(sizes), reverse=True))


def _run(model: nn.Module, images: torch.Tensor, sizes: tuple[int, ...], head: str,
         batch_size: int, device: torch.device, autocast: bool, progress: bool,
         map_rows: torch.Tensor | None):
    """One pass over the batches: scores per size, and full-size maps for ``map_rows``."""
    from tqdm.auto import tqdm

    N = images.shape[0]
    cls = {s: [] for s in sizes}
    seg: dict[int, list] = {s: [] for s in sizes}
    maps, has_seg = [], None
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16,
                                                enabled=autocast):
        for start in tqdm(range(0, N, batch_size), desc="evaluating", disable=not progress):
            batch = images[start:start + batch_size].to(device)
            for size in sizes:
                x = centre_crop(batch, size).float().div_(255)
                out = model(x)
                if has_seg is None:
                    if head not in out.seg_logits and out.seg_logits:
                        raise ValueError(f"head {head!r} not in the model's segmentation "
                                         f"heads {sorted(out.seg_logits)}")
                    has_seg = head in out.seg_logits
                cls[size].append(p_fake(out.cls_logits).double().cpu())
                if has_seg:
                    seg_logits = out.seg_logits[head]
                    seg[size].append(seg_score(seg_logits).double().cpu())
                    if size == sizes[0] and map_rows is not None:
                        rows = map_rows[start:start + batch_size].to(device)
                        if rows.any():
                            prob = fake_probability_map(seg_logits[rows])
                            maps.append(upsample_to_input(prob, size, model).half().cpu())
    scores = {s: Scores(torch.cat(cls[s]).numpy(),
                        torch.cat(seg[s]).numpy() if has_seg else None) for s in sizes}
    return scores, (torch.cat(maps) if maps else None)


def score_images(model: nn.Module, images: torch.Tensor, sizes: Sequence[int] = (128,),
                 head: str = "fake", batch_size: int = 64,
                 device: str | torch.device | None = None, autocast: bool | None = None,
                 progress: bool = False) -> dict[int, Scores]:
    """Both image scores at each input size, batched, without gradients.

    Args:
        model: a network returning :class:`~minilocal.model.Output` (put in eval mode
            for the call, then restored).
        images: (N, 3, H, W) uint8 RGB, e.g. ``FaceSet.images``.
        sizes: input sides; each a centre crop of the images, 33 <= size <= H.
            Default: (128,).
        head: the segmentation head behind the "seg" score. Default: "fake".
        batch_size: images per forward pass. Default: 64.
        device: where to run. Default: the device of the model's parameters.
        autocast: run under bf16 autocast. Default: :func:`~minilocal.runtime.bf16_supported`.
        progress: show a tqdm progress bar. Default: False.

    Returns:
        {size: :class:`Scores`}.

    Raises:
        ValueError: on images that are not (N, 3, H, W) uint8, a size out of range, or
            a ``head`` the model does not have.
    """
    scores, _ = _inference(model, images, sizes, head, batch_size, device, autocast, progress,
                           None)
    return scores


def _inference(model: nn.Module, images: torch.Tensor, sizes: Sequence[int], head: str,
               batch_size: int, device, autocast: bool | None, progress: bool,
               has_mask: torch.Tensor | None, name: str = "images") -> tuple[dict, Any]:
    """Check the inputs, run the model in eval mode (restoring its mode), return _run's."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must be (N, 3, H, W) uint8, got {tuple(images.shape)} "
                         f"{images.dtype}")
    sizes = _check_sizes(sizes, *images.shape[-2:])
    dev = model_device(model, device)
    autocast = bf16_supported(dev) if autocast is None else autocast
    with eval_mode(model):
        return _run(model, images, sizes, head, batch_size, dev, autocast, progress, has_mask)


def _score_metrics(labels: np.ndarray, scores: Scores, rows: np.ndarray | None = None) -> dict:
    pick = (lambda a: a) if rows is None else (lambda a: a[rows])
    out = {"cls": binary_metrics(pick(labels), pick(scores.cls))}
    if scores.seg is not None:
        out["seg"] = binary_metrics(pick(labels), pick(scores.seg))
    return out


def evaluate(model: nn.Module, faceset: FaceSet, sizes: Sequence[int] = DEFAULT_SIZES,
             batch_size: int = 64, device: str | torch.device | None = None,
             head: str = "fake", autocast: bool | None = None,
             progress: bool = False) -> dict:
    """Detection metrics at each input size, per method and compression, and localization.

    Args:
        model: a network returning :class:`~minilocal.model.Output`.
        faceset: the labelled faces, (N, 3, H, W) uint8 images (H = 128 in the paper).
        sizes: input sides, centre crops of the images (Fig. 3a). Default:
            (128, 112, 96, 80, 64, 48).
        batch_size: images per forward pass. Default: 64.
        device: where to run. Default: the device of the model's parameters.
        head: the segmentation head behind the "seg" score and the localization.
            Default: "fake".
        autocast: bf16 autocast. Default: :func:`~minilocal.runtime.bf16_supported` (on
            where it helps).
        progress: show a tqdm progress bar. Default: False.

    Returns:
        a JSON-ready dict (NaN where a metric is undefined)::

            {"n", "n_real", "n_fake", "head", "size" (the largest, used below),
             "sizes": {"128": {"cls": {acc, auc, ap, eer, n, n_fake}, "seg": {...}}, ...},
             "cls": {...}, "seg": {...},            # at the largest size
             "per_method": {method: {"cls", "seg"}}  # reals + that method's fakes
             "per_compression": {c: {"cls", "seg"}}
             "localization": {pixel_auc, pixel_ap, iou, ..., pixel_auc_fakes,
                              baselines: {centre_gaussian: {...}, hull: {...}}} or None}

        Localization uses the images with a true mask (reals of ``minilocal synth`` carry
        an all-zero one); "pixel_auc" pools their pixels (reals' pixels negative),
        "pixel_auc_fakes" uses the fakes only; the baselines are maps that use no model
        (:func:`~minilocal.metrics.localization_report`).

        "seg" entries are absent when the model has no segmentation head;
        "per_method"/"per_compression" are empty when the records have no such column.

    Raises:
        ValueError: as :func:`score_images`.
    """
    images, labels = faceset.images, faceset.labels.numpy()
    scores, maps = _inference(model, images, sizes, head, batch_size, device, autocast,
                              progress, faceset.has_mask, name="faceset.images")
    sizes = _check_sizes(sizes, *images.shape[-2:])
    full = sizes[0]
    result: dict = {"n": int(len(labels)), "n_real": int((labels == 0).sum()),
                    "n_fake": int((labels == 1).sum()), "head": head, "size": full,
                    "autocast": bool(autocast),
                    "sizes": {str(s): _score_metrics(labels, scores[s]) for s in sizes}}
    result.update(result["sizes"][str(full)])
    methods = sorted({r.method for r, y in zip(faceset.records, labels) if y == 1 and r.method})
    result["per_method"] = {
        m: _score_metrics(labels, scores[full], np.array(
            [y == 0 or r.method == m for r, y in zip(faceset.records, labels)]))
        for m in methods}
    compressions = sorted({r.compression for r in faceset.records if r.compression})
    result["per_compression"] = {
        c: _score_metrics(labels, scores[full],
                          np.array([r.compression == c for r in faceset.records]))
        for c in compressions}
    result["localization"] = None
    if maps is not None:
        rows = faceset.has_mask
        hulls = centre_crop(faceset.cvm[rows], full) if bool(faceset.has_cvm[rows].all()) \
            else None
        result["localization"] = localization_report(
            maps.float(), centre_crop(faceset.masks[rows], full), faceset.labels[rows], hulls)
    return result


def _looks_aligned(root: Path, records, size: int) -> bool:
    if any(r.box or r.detection or r.landmarks for r in records):
        return True
    from .image_io import image_size, read_encoded

    path = root / records[0].file  # the header's size is enough: nothing is decoded
    try:
        return image_size(read_encoded(path), str(path)) == (size, size)
    except (OSError, ValueError):  # raw images then: each is read (and reported) on its own
        return False


def load_eval_set(root: str | Path, split: str | None = "test", size: int = 128,
                  align: bool | None = None, limit: int | None = None, seed: int = 0,
                  progress: bool = False) -> FaceSet:
    """Load a folder-format dataset for evaluation, aligning raw images when needed.

    Args:
        root: the dataset directory (metadata.csv, or real/ + fake/ folders).
        split: keep rows of this split; None or "all" keeps every row. Default: "test".
        size: side of the face crops. Default: 128.
        align: run the faces pipeline (:func:`minilocal.faces.align_face`) on every
            image. Default (None): when the rows carry no face box, detection or
            landmarks and the images are not size x size, i.e. raw images.
        limit: keep a seeded random sample of at most this many rows (before aligning).
        seed: seed of that sample. Default: 0.
        progress: show a tqdm progress bar.

    Returns:
        a :class:`~minilocal.faceset.FaceSet` of size x size faces; raw images that
        cannot be read, or where no face is found, are skipped with a warning. A dataset
        marked incomplete (:mod:`minilocal.status`) is loaded with a warning.

    Raises:
        FileNotFoundError: if ``root`` is not a dataset.
        ValueError: if the split holds no rows, or no image gives a face.
    """
    root = Path(root)
    records = read_records(root)
    warn_if_incomplete(root)  # an interrupted preprocess/synth: say so, and how to finish
    if split not in (None, "all"):
        records = [r for r in records if r.split == split]
        if not records:
            have = sorted({r.split for r in read_records(root) if r.split})
            hint = (f"its splits are {have}" if have else
                    "it has no split column; pass split='all' (--split all)")
            raise ValueError(f"{root}: no rows in split {split!r}; {hint}")
    if limit is not None and len(records) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(records), limit, replace=False))
        records = [records[i] for i in keep]
    if align is None:
        align = not _looks_aligned(root, records, size)
        logger.info("%s: %s", root, "raw images, aligning faces" if align else "aligned crops")
    if not align:
        return FaceSet.from_records(root, records, size, progress=progress)
    return _align_records(root, records, size, progress)


def _align_records(root: Path, records, size: int, progress: bool) -> FaceSet:
    from tqdm.auto import tqdm

    from . import faces as faces_mod
    from .image_io import read_image
    from .masks import cvm

    images, hulls, kept, skipped = [], [], [], []
    for r in tqdm(records, desc=f"aligning {root.name}", disable=not progress):
        try:
            crop = faces_mod.align_face(read_image(root / r.file), size=size)
        except ValueError as err:  # unreadable image, or NoFaceError
            skipped.append((r.file, str(err)))
            continue
        images.append(crop.image)
        pts = None if crop.landmarks is None else np.asarray(crop.landmarks, np.float32)
        hulls.append(cvm(pts, size, size) if pts is not None else None)
        box = crop.box if isinstance(crop.box, str) else " ".join(
            str(int(round(float(v)))) for v in crop.box)
        kept.append(replace(r, box=box, detection=str(crop.detection), mask="",
                            landmarks=format_landmarks(pts) if pts is not None else ""))
    if skipped:
        logger.warning("%s: skipped %d of %d unusable images (first: %s: %s)",
                       root, len(skipped), len(records), *skipped[0])
    if not kept:
        raise ValueError(f"{root}: none of the {len(records)} images gave a face")
    if any(r.mask for r in records):
        logger.warning("%s: true masks of raw images are not aligned; localization skipped",
                       root)
    return FaceSet.from_arrays(kept, images, hulls=hulls)
