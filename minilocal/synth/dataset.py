"""Folder-format datasets of real faces and their synthetic fakes (``minilocal synth``).

:func:`synthesize` makes one fake of a pool face by one of :data:`METHODS`;
:func:`make_fakes` writes the reals and their fakes with exact forgery masks (paper 3.1:
every training label generated automatically); :func:`montage` draws target / fake /
masks rows to look at.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from ..compress import LEVELS
from ..folder import METADATA, REJECTS, FolderWriter, read_records
from ..status import check_settings, mark_complete, mark_started, read_status
from ._workers import _STATE, _imap
from .blend import SynthResult
from .faceswap import faceswap
from .partswap import PARTS, part_swap
from .pool import (SOURCE_K, FacePool, _has_landmarks, _nearest, load_pool,
                   normalize_landmarks)
from .sbi import self_blend

logger = logging.getLogger(__name__)

METHODS = ("faceswap", "sbi", "partswap")
PREVIEW_EXTENSIONS = (".png", ".jpg", ".jpeg")


def synthesize(pool: FacePool, index: int, method: str, rng: np.random.Generator
               ) -> SynthResult:
    """One fake of pool face ``index`` by ``method``; swaps take a source of another
    identity (group) in the same split, with a similar pose (:func:`.pool.choose_source`).

    Raises:
        ValueError: on an unknown method, or from the method (e.g. a one-face pool).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {list(METHODS)}")
    target, tl = pool.images[index], pool.landmarks[index]
    if method == "sbi":
        return self_blend(target, tl, rng)
    usable = pool.sources(index)
    if method == "faceswap":
        j = _nearest(pool.shapes[index], pool.shapes, usable, SOURCE_K, rng)
        return faceswap(target, tl, pool.images[j], pool.landmarks[j], rng, source_index=j)
    part = sorted(PARTS)[int(rng.integers(len(PARTS)))]
    idx = [i for group in PARTS[part] for i in group]  # match the face and the part's shape
    shapes = np.concatenate([pool.shapes, normalize_landmarks(pool.landmarks[:, idx])], 1)
    j = _nearest(shapes[index], shapes, usable, SOURCE_K, rng)
    return part_swap(target, tl, pool.images[j], pool.landmarks[j], rng, part, j)


def _fakes_of(index: int) -> tuple[np.ndarray, list]:
    """Worker task: the (compressed) real of pool face ``index`` and, per method, either
    (method, fake, mask) or (method, None, reason)."""
    pool, level = _STATE["pool"], _STATE["compression"]
    out = []
    for method in _STATE["methods"]:
        rng = np.random.default_rng([_STATE["seed"], index, METHODS.index(method)])
        try:
            r = synthesize(pool, index, method, rng)
        except ValueError as err:
            out.append((method, None, str(err)))
            continue
        out.append((method, r.fake if level == "c0" else _compress(r.fake, level), r.mask))
    real = pool.images[index]
    return (real if level == "c0" else _compress(real, level)), out


def _compress(image: np.ndarray, level: str) -> np.ndarray:
    from ..compress import compress_image

    return compress_image(image, level)


def make_fakes(src: str | Path, out: str | Path, method: str = "all", n: int = 100,
               seed: int = 0, compression: str = "c0", workers: int = 1,
               progress: bool = False, preview: str | Path | None = None,
               limit: int | None = None, size: int = 128, overwrite: bool = False
               ) -> dict:
    """Write a folder-format dataset of real faces and fakes made from them.

    ``n`` targets are drawn (seeded) from the pool of :func:`load_pool`; each is written
    once as a real (with an all-zero mask: known to be untouched) and once per method as a
    fake (label fake, its exact mask, method column, the target's landmarks, group and
    split, so a real and its fakes share a split). ``compression`` c23/c40 re-encodes real
    and fake images (H.264 intra frame, :func:`minilocal.compress.compress_image`) after
    synthesis; masks describe the uncompressed manipulation. A method that cannot make a
    fake of a target records (source, reason) in rejects.csv. OUT/synth.json holds the
    returned summary.

    OUT is marked in progress before the first row and complete after the last
    (:mod:`minilocal.status`). Called again on an interrupted OUT with the same settings,
    it resumes: targets whose real and fakes (or rejects) are all written are skipped, the
    rest written as an uninterrupted run would have, so the result is the same (every
    draw is seeded by (seed, target, method)).

    Args:
        src: real faces (see :func:`load_pool`).
        out: the dataset folder to create, or an interrupted one to finish.
        method: one of METHODS or "all". Default: "all".
        n: number of targets (fakes per method). Default: 100.
        seed: everything random derives from it. Default: 0.
        compression: "c0", "c23" or "c40". Default: "c0".
        workers: processes. Default: 1.
        progress: tqdm progress bars.
        preview: write a :func:`montage` of the first 4 fakes per method there (PNG).
        limit: pool size for sources and targets (default: all faces of ``src``; raw
            images: max(2 n, 200), as each must be aligned first).
        size: crop side S. Default: 128.
        overwrite: replace an existing dataset in ``out``.

    Returns:
        {"out", "reals", "fakes": {method: count}, "rejected", "reject_reasons", "pool",
        "seconds", "fakes_per_s", ...} (JSON-ready).

    Raises:
        ValueError: on a bad method, n, workers, compression or size (below the
            network's 33 px receptive field), an existing complete ``out`` (or one
            interrupted with other settings) without ``overwrite``, an ``out`` equal to,
            inside or around ``src``, or a ``preview`` that is not an image file name.
        FileNotFoundError: if ``src`` holds no image.
    """
    methods = list(METHODS) if method == "all" else [method]
    if method != "all" and method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {list(METHODS)} or 'all'")
    if compression not in LEVELS:
        raise ValueError(f"unknown compression {compression!r}; expected one of {list(LEVELS)}")
    if int(n) < 1 or int(workers) < 1:
        raise ValueError(f"n and workers must be >= 1, got n={n}, workers={workers}")
    out = Path(out)
    _check_outputs(src, out, size, preview)
    settings = {"src": str(Path(src).resolve()), "method": method, "n": int(n), "seed": seed,
                "compression": compression, "size": int(size), "limit": limit}
    resume = _resumable(out, settings, overwrite)
    start = time.perf_counter()
    if limit is None and not _has_landmarks(Path(src)):
        limit = max(2 * n, 200)
    pool, rejects = load_pool(src, size, limit, seed, workers, progress)
    if not len(pool):
        raise ValueError(f"no usable face in {src}: {len(rejects)} rejected, e.g. "
                         f"{rejects[:1]}")
    if (out / METADATA).exists() and not resume:  # overwrite: once the new pool is good
        for sub in ("images", "masks"):
            shutil.rmtree(out / sub, ignore_errors=True)
    targets = np.random.default_rng(seed).permutation(len(pool))[:n].tolist()
    rerun = (f"minilocal synth {src} {out} --method {method} --n {n} --seed {seed} "
             f"--compress {compression} --size {size}"
             + (f" --limit {settings['limit']}" if settings["limit"] else ""))
    mark_started(out, "synth", settings, rerun)  # complete only after the last row
    state = {"pool": pool, "seed": seed, "methods": methods, "compression": compression}
    with FolderWriter(out, overwrite=not resume) as writer:
        done_rejects = set(_rejects(out)) if resume else set()

        def reject(source: str, reason: str) -> None:
            if (source, reason) not in done_rejects:  # a resume writes each one once
                writer.reject(source, reason)

        rejected = {source for source, _ in done_rejects}

        def finished(t: int) -> bool:
            """Its real and, per method, its fake or its reject are written."""
            return f"real_{t:06d}" in writer.existing and all(
                f"{m}_{t:06d}" in writer.existing or f"{pool.records[t].source} [{m}]"
                in rejected for m in methods)

        for source, reason in rejects:
            reject(source, reason)
        todo = [t for t in targets if not finished(t)]  # resume: the interrupted rest
        for t, (real, fakes) in zip(todo, _imap(_fakes_of, todo, state, workers, progress,
                                                f"synth {method}")):
            rec = pool.records[t]
            cols = dict(group=rec.group, split=rec.split, compression=compression,
                        source=rec.source, box=rec.box, detection=rec.detection)
            if f"real_{t:06d}" not in writer.existing:
                writer.add(real, "real", mask=np.zeros(real.shape[:2], np.uint8),
                           landmarks=pool.landmarks[t], name=f"real_{t:06d}", **cols)
            for m, fake, mask in fakes:
                if fake is None:
                    reject(f"{rec.source} [{m}]", mask)
                elif f"{m}_{t:06d}" not in writer.existing:
                    writer.add(fake, "fake", mask=mask, landmarks=pool.landmarks[t],
                               name=f"{m}_{t:06d}", method=m, **cols)
    seconds = time.perf_counter() - start
    records = read_records(out)
    counts = Counter(r.method for r in records if r.label == "fake")
    written = _rejects(out)
    summary = {"out": str(out), "src": str(src), "pool": len(pool), "reals": len(targets),
               "fakes": {m: counts[m] for m in methods}, "rejected": len(written),
               "reject_reasons": dict(Counter(reason.split(":")[0][:60]
                                              for _, reason in written)),
               "compression": compression, "seed": seed, "resumed": resume,
               "seconds": round(seconds, 1),
               "fakes_per_s": round(sum(counts.values()) / max(seconds, 1e-9), 1)}
    (out / "synth.json").write_text(json.dumps(summary, indent=1))
    mark_complete(out)
    names = {Path(r.file).stem for r in records}
    results = [synthesize(pool, t, m, np.random.default_rng([seed, t, METHODS.index(m)]))
               for t in targets[:4] for m in methods if f"{m}_{t:06d}" in names]
    if preview is not None and results:
        results.sort(key=lambda r: METHODS.index(r.method))
        Path(preview).parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(preview), cv2.cvtColor(montage(results), cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write the preview {preview}")
    return summary


def _resumable(out: Path, settings: dict, overwrite: bool) -> bool:
    """True when ``out`` holds an interrupted synth run with these settings (resume it);
    False for a new folder or with ``overwrite``.

    Raises:
        ValueError: for a complete (or legacy, unmarked) dataset without ``overwrite``, and
            for an interrupted one made with other settings (naming them).
    """
    if overwrite or not (out / METADATA).exists():
        return False
    status = read_status(out)
    if status is None or status["complete"]:
        raise ValueError(f"{out} already holds a dataset; pass overwrite=True "
                         "(--overwrite) or choose another folder")
    check_settings(out, "synth", settings)
    logger.info("resuming the interrupted synth run in %s", out)
    return True


def _rejects(out: Path) -> list[tuple[str, str]]:
    """The (source, reason) rows of OUT/rejects.csv, in order."""
    path = out / REJECTS
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [(row["source"], row["reason"]) for row in csv.DictReader(f)]


def _check_outputs(src: str | Path, out: Path, size: int, preview: str | Path | None
                   ) -> None:
    """Refuse, before any work, what would fail late or destroy the inputs: a crop smaller
    than the receptive field, OUT overlapping SRC, a file at OUT, a preview not .png/.jpg."""
    from ..model import RECEPTIVE_FIELD

    if int(size) < RECEPTIVE_FIELD:
        raise ValueError(f"size must be at least {RECEPTIVE_FIELD} px (the network's "
                         f"receptive field), got {size}")
    s, o = Path(src).resolve(), out.resolve()
    if s == o or s in o.parents or o in s.parents:
        raise ValueError(f"OUT {out} and SRC {src} overlap (one is, or holds, the other); "
                         "write the fakes to a separate folder")
    if out.exists() and not out.is_dir():
        raise ValueError(f"OUT {out} is a file, expected a folder")
    if preview is not None and Path(preview).suffix.lower() not in PREVIEW_EXTENSIONS:
        raise ValueError(f"preview {preview}: use a {' or '.join(PREVIEW_EXTENSIONS)} name")


def montage(results: list[SynthResult], per_row: int = 1, scale: int = 1,
            label: bool = True) -> np.ndarray:
    """A grid to look at: per example, target | fake | soft mask | mask.

    Args:
        results: SynthResults of one size (H, W).
        per_row: examples side by side in one row. Default: 1.
        scale: integer zoom (nearest neighbour). Default: 1.
        label: write method and detail on the fake.

    Returns:
        (rows x H x scale, per_row x 4 x W x scale, 3) uint8 RGB.

    Raises:
        ValueError: if ``results`` is empty or of mixed sizes.
    """
    if not results:
        raise ValueError("montage needs at least one SynthResult")
    shape = results[0].fake.shape
    if any(r.fake.shape != shape for r in results):
        raise ValueError("montage needs SynthResults of one size")
    tiles = []
    for r in results:
        fake = r.fake.copy()
        if label:
            cv2.putText(fake, f"{r.method} {r.detail}".strip(), (2, 10),
                        cv2.FONT_HERSHEY_PLAIN, 0.7, (255, 255, 0), 1, cv2.LINE_AA)
        soft = np.repeat(np.rint(r.soft_mask * 255).astype(np.uint8)[..., None], 3, 2)
        binary = np.repeat(r.mask[..., None] * 255, 3, 2).astype(np.uint8)
        tiles.append(np.concatenate([r.target, fake, soft, binary], 1))
    blank = np.zeros_like(tiles[0])
    tiles += [blank] * (-len(tiles) % per_row)
    grid = np.concatenate([np.concatenate(tiles[i:i + per_row], 1)
                           for i in range(0, len(tiles), per_row)], 0)
    return np.repeat(np.repeat(grid, scale, 0), scale, 1) if scale > 1 else grid
