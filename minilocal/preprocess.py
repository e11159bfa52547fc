"""Preprocessing: raw images and videos in, folder-format training data out (paper 4.1).

:func:`build_dataset` takes the inputs an adapter lists (:mod:`minilocal.adapters`), aligns
every face (:mod:`minilocal.faces`), optionally compresses the crops like FF++
(:mod:`minilocal.compress`), writes them with :class:`minilocal.folder.FolderWriter` and
finally assigns train/val/test splits by group, so that what belongs together (a person, a
real video and its fakes) never crosses splits. Inputs that cannot be used go to
``rejects.csv`` with a reason.

Workers: a multiprocessing pool, each process with its own dlib models; faces are
independent, and results come back in input order, so output names and rows are
deterministic. A rerun into the same folder resumes: inputs already written or rejected
are skipped.
"""

from __future__ import annotations

import csv
import logging
import multiprocessing
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .adapters import VIDEO_KINDS, Item, list_items
from .folder import METADATA, REJECTS, FolderWriter, assign_splits, read_records, write_records
from .status import check_settings, mark_complete, mark_started

logger = logging.getLogger(__name__)

__all__ = ["build_dataset"]

CHUNK = 16  # image inputs per worker task (and per H.264 sequence when compressing)


# ---------------------------------------------------------------- workers

@dataclass
class _CropRow:
    """One aligned crop and the metadata.csv columns it is written with."""

    name: str
    image: np.ndarray
    label: str
    landmarks: np.ndarray
    mask: np.ndarray | None
    columns: dict


_opts: dict = {}


def _init_worker(opts: dict, pool: bool = True) -> None:
    if pool:  # one thread per worker process; the caller's own process is left alone
        import cv2

        cv2.setNumThreads(1)
    _opts.clear()
    _opts.update(opts)
    from .face_detection import _dlib

    _dlib()  # load the models once in this process


def _image_faces(item: Item, opts: dict) -> list[_CropRow]:
    from . import faces
    from .image_io import read_image

    image = read_image(item.path)

    def align(im: np.ndarray):
        return faces.align_face(im, opts["size"], opts["scale"],
                                whole_image=opts["kind"] == "dfdc_faces",
                                centre=opts["kind"] == "lfw_faces", border=opts["border"])

    crop = align(image)
    if opts.get("match") == "lfw":  # look like an LFW photo first (source_match.py)
        from .source_match import match_source

        image = match_source(image, crop.box[2] - crop.box[0], seed=item.name)
        crop = align(image)
    mask = np.ones(crop.image.shape[:2], np.uint8) if opts["kind"] == "gan_faces" else None
    return [_CropRow(item.name, crop.image, item.label, crop.landmarks, mask,
                  {"box": " ".join(map(str, crop.box)), "detection": crop.detection})]


def _video_faces(item: Item, opts: dict) -> tuple[list[_CropRow], list[tuple[str, str]]]:
    from .video import video_faces

    found, rejects = video_faces(item.video, k=opts["frames"], size=opts["size"],
                                 scale=opts["scale"])
    out = [_CropRow(f"{item.name}_f{f.frame:04d}", f.crop.image, item.label, f.crop.landmarks,
                 f.mask, {"box": " ".join(map(str, f.crop.box)),
                          "detection": f.crop.detection})
           for f in found]
    # "dir/video.mp4#12": frame 12 of that video (a frame reject never skips the video)
    return out, [(f"{item.source}#{src.rpartition('#')[2]}", why) for src, why in rejects]


def _compress(faces_: list[_CropRow], level: str) -> None:
    from .compress import compress_frames

    for size in {f.image.shape for f in faces_}:
        group = [f for f in faces_ if f.image.shape == size]
        for f, im in zip(group, compress_frames([f.image for f in group], level)):
            f.image = im


def _process(items: list[Item]) -> tuple[list[_CropRow], list[tuple[str, str]]]:
    """Worker task: faces and rejects of a chunk of items, in input order.

    Video faces are compressed as one sequence per video, image faces as one sequence
    per chunk.
    """
    opts = _opts
    level = opts["compression"]
    faces_, rejects, stills = [], [], []
    for item in items:
        try:
            if item.video is not None:
                found, rej = _video_faces(item, opts)
                rejects += rej
                if level != "c0" and found:
                    _compress(found, level)
            else:
                found = _image_faces(item, opts)
                stills += found
        except (ValueError, OSError) as err:  # NoFaceError is a ValueError
            rejects.append((item.source, str(err) or type(err).__name__))
            continue
        except Exception as err:  # e.g. a RuntimeError inside dlib: keep the run going
            logger.warning("unexpected %s on %s: %s", type(err).__name__, item.source, err)
            rejects.append((item.source, f"unexpected {type(err).__name__}: {err}"))
            continue
        comp = item.video.compression if item.video is not None and level == "c0" else level
        for f in found:
            f.columns.update(source=item.source, group=item.group, method=item.method,
                             compression=comp)
        faces_ += found
    if level != "c0" and stills:
        _compress(stills, level)
    return faces_, rejects


# ---------------------------------------------------------------- driver

def _done(out: Path, overwrite: bool) -> tuple[set[str], set[str]]:
    """Names already written and sources already rejected in ``out`` (for resuming)."""
    if overwrite or not (out / METADATA).is_file():
        return set(), set()
    names = {Path(r.file).stem for r in read_records(out)}
    rejected = set()
    if (out / REJECTS).is_file():
        with open(out / REJECTS, newline="") as f:
            rejected = {row["source"] for row in csv.DictReader(f)}
    return names, rejected


def build_dataset(kind: str, src: str | Path, out: str | Path, size: int = 128,
                  limit: int | None = None, compression: str = "c0", workers: int = 1,
                  seed: int = 0, frames: int = 16, label: str | None = None,
                  scale: float = 1.3, border: str | None = None, match: str | None = None,
                  overwrite: bool = False,
                  fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                  progress: bool = False) -> dict:
    """Build a folder-format dataset of aligned face crops from a raw source.

    Args:
        kind: one of KINDS.
        src: the source folder (e.g. ``find_dataset("dfdc_faces")``).
        out: the dataset folder to write (created; resumed if it holds a dataset). It is
            marked in progress before the first face and complete after the splits are
            assigned (:mod:`minilocal.status`); a resume with another kind, source, size,
            scale, frames, compression, border or label is refused.
        size: crop side S in pixels. Default: 128.
        limit: use only the first ``limit`` inputs (images, or videos for ffpp).
        compression: "c0" (as decoded), "c23" or "c40" (H.264 like FF++). Default: "c0".
        workers: processes, each with its own dlib models. Default: 1 (no pool).
        seed: seed of the group-wise split assignment. Default: 0.
        frames: frames sampled evenly per video (ffpp). Default: 16.
        label: "real" or "fake" for a flat ``folder`` source.
        scale: crop side over the face box side. Default: 1.3 (FF++).
        border: where the crop box leaves the image, "black" (pad) or "clip" (fit the box
            inside, :func:`~minilocal.faces.fit_box`). Default: "clip" for dfdc_faces (tight
            crops: black padding was 32% of each crop), else "black".
        match: "lfw": before alignment, make each image look like an LFW photo in scale,
            blur, grain and JPEG quality (:func:`~minilocal.source_match.match_source`), so
            a real-vs-GAN classifier has less of a source shortcut. Default: None (as is).
        overwrite: start a new dataset instead of resuming. Default: False.
        fractions: train/val/test fractions by group. Default: (0.8, 0.1, 0.1).
        progress: show a tqdm progress bar.

    Returns:
        a summary dict: kind, out, inputs, written, rejected, skipped, total, seconds,
        faces_per_s, detection (counts), reject_reasons (counts), splits (counts).

    Raises:
        ValueError: on a bad kind, compression, size, workers or limit, or a resume with
            other settings.
        FileNotFoundError: if ``src`` is missing or not laid out as ``kind`` expects.
    """
    from .compress import LEVELS

    if compression not in LEVELS:
        raise ValueError(f"unknown compression {compression!r}; expected one of {list(LEVELS)}")
    if size < 8:
        raise ValueError(f"size must be at least 8 px, got {size}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    if match not in (None, "lfw"):
        raise ValueError(f"unknown match {match!r}; expected None or 'lfw'")
    items = list_items(kind, src, label)
    if limit is not None:
        items = items[:limit]
    out = Path(out)
    border = border or ("clip" if kind == "dfdc_faces" else "black")
    settings = {"kind": kind, "src": str(Path(src).resolve()), "size": size, "scale": scale,
                "frames": frames, "compression": compression, "border": border,
                "label": label}
    if match:  # only when set, so datasets built before the option still resume
        settings["match"] = match
    if not overwrite:
        check_settings(out, "preprocess", settings)  # no 64- and 128-px crops in one set
    names, rejected = _done(out, overwrite)
    todo = [it for it in items if it.source not in rejected and
            (it.name not in names if it.video is None
             else not any(n.startswith(it.name + "_f") for n in names))]
    opts = {"kind": kind, "size": size, "scale": scale, "frames": frames,
            "compression": compression, "border": border, "match": match}
    chunk = 1 if kind in VIDEO_KINDS else CHUNK
    tasks = [todo[i:i + chunk] for i in range(0, len(todo), chunk)]
    detection, reasons = Counter(), Counter()
    written = n_rejected = 0
    t0 = time.perf_counter()
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc=f"preprocess {kind}", unit="input", disable=not progress,
               mininterval=1 if os.isatty(2) else 30)
    pool = None
    rerun = (f"minilocal preprocess {src} {out} --kind {kind} --size {size} --frames {frames} "
             f"--compress {compression} --border {border}"
             + (f" --label {label}" if label else "") + (f" --limit {limit}" if limit else "")
             + (f" --match {match}" if match else ""))
    mark_started(out, "preprocess", settings, rerun)  # complete only once splits are set
    with FolderWriter(out, overwrite=overwrite) as writer:
        try:
            if workers > 1 and len(tasks) > 1:
                pool = multiprocessing.get_context("fork").Pool(
                    min(workers, len(tasks)), _init_worker, (opts,))
                results = pool.imap(_process, tasks)
            else:
                _init_worker(opts, pool=False)
                results = map(_process, tasks)
            for task, (found, rejects) in zip(tasks, results):
                for f in found:
                    try:
                        writer.add(f.image, f.label, mask=f.mask, landmarks=f.landmarks,
                                   name=f.name, **f.columns)
                    except ValueError as err:  # e.g. two inputs with one file stem
                        rejects.append((f.columns["source"], str(err)))
                        continue
                    detection[f.columns["detection"]] += 1
                    written += 1
                for source, reason in rejects:
                    writer.reject(source, reason)
                    reasons[_reason_kind(reason)] += 1
                    n_rejected += 1
                bar.update(len(task))
        finally:
            bar.close()
            if pool is not None:
                pool.terminate()
                pool.join()
    _finish_splits(out, fractions, seed)
    mark_complete(out)
    seconds = time.perf_counter() - t0
    records = read_records(out)
    summary = {
        "kind": kind, "out": str(out), "inputs": len(items), "written": written,
        "rejected": n_rejected, "skipped": len(items) - len(todo), "total": len(records),
        "seconds": round(seconds, 2),
        "faces_per_s": round(written / seconds, 1) if seconds > 0 else 0.0,
        "detection": dict(detection), "reject_reasons": dict(reasons),
        "splits": dict(Counter(r.split for r in records)),
    }
    logger.info("preprocess summary: %s", summary)
    return summary


def _reason_kind(reason: str) -> str:
    """A reject reason without frame numbers, paths and sizes, for counting."""
    if reason.startswith("frame "):
        reason = reason.split(":", 1)[-1].strip()
    head = reason.split(":")[0].split("(")[0]
    return "".join(c for c in head if not c.isdigit()).strip()


def _finish_splits(out: Path, fractions, seed: int) -> None:
    """Assign every row its split by group, and rewrite metadata.csv."""
    if not (out / METADATA).is_file():
        return
    records = read_records(out)
    if records:
        write_records(out, assign_splits(records, fractions, seed))
