"""Small datasets and a trained network for the tutorials, built on demand (paper 4.1).

The tutorials run in course labs and in CI on a clean clone, where the full datasets of
``minilocal preprocess`` (``build/data/<name>``) may not exist. :func:`tutorial_dataset`
returns a small folder-format dataset of about ``n`` faces: a seeded sample copied from
the built dataset when there is one, else built from the raw data through the library
(:func:`minilocal.preprocess.build_dataset`, :func:`minilocal.synth.make_fakes`). Splits are
assigned by group with a hash (:func:`minilocal.folder.assign_splits`), so a face lands in
the same split in a subset as in the full dataset: a model trained on the full train split
never sees a subset's test faces. :func:`tutorial_model` returns the shipped pretrained
checkpoint, or a small network trained for a few seconds on such a subset.

Everything is cached under ``build_dir() / "tutorial"`` (git-ignored) and written to a
temporary folder first, so an interrupted build never leaves half a dataset behind.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoint import default_checkpoint, load_checkpoint
from .folder import METADATA, SPLITS, FaceRecord, assign_splits, read_records, write_records
from .model import SMALL_WIDTHS, LocalFeatureNet
from .paths import build_dir, built_dataset, find_dataset

logger = logging.getLogger(__name__)

__all__ = ["DATASETS", "tutorial_dir", "tutorial_dataset", "tutorial_model"]

# dataset name -> adapter kind for raw data (None: synthetic fakes made from lfw_faces)
DATASETS = {"dfdc_faces": "dfdc_faces", "lfw_faces": "lfw_faces", "gan_faces": "gan_faces",
            "ffpp_c23": "ffpp", "synth_lfw": None}
SYNTH_FAKES_PER_REAL = 3  # make_fakes(method="all"): faceswap, sbi and partswap per real


def tutorial_dir() -> Path:
    """Where tutorial subsets and quick runs are cached: ``build_dir() / "tutorial"``."""
    return build_dir() / "tutorial"


def _sample_rows(records: list, n: int, seed: int, split: str | None = None) -> list:
    """About n rows (of ``split`` only, when given), the same share of every (split, label)
    cell as in ``records``, in their original order."""
    if split is not None:
        records = [r for r in records if r.split == split]
        if not records:
            raise ValueError(f"the data has no faces in split {split!r}")
    cells: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        cells[(r.split, r.label)].append(i)
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    for key in sorted(cells):
        rows = cells[key]
        k = min(len(rows), max(1, int(round(n * len(rows) / len(records)))))
        keep += rng.choice(rows, k, replace=False).tolist()
    return [records[i] for i in sorted(keep)]


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        dst.symlink_to(src.resolve())
    except OSError:  # no symlinks here (e.g. Windows without privileges): copy
        shutil.copyfile(src, dst)


def _copy_subset(src: Path, out: Path, n: int, seed: int, split: str | None) -> None:
    """Copy a seeded sample of about n faces (images, masks, rows) of ``src`` to ``out``."""
    chosen = _sample_rows(read_records(src), n, seed, split)
    for sub in ("images", "masks"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for r in chosen:
        for rel in (r.file, r.mask):
            if rel:
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src / rel, out / rel)
    write_records(out, chosen)


def _build_from_raw(name: str, out: Path, n: int, seed: int, split: str | None,
                    workers: int, progress: bool) -> None:
    """Align a seeded sample of about n raw inputs of ``name`` into ``out``.

    The inputs get their split as the full build would (by group, seed 0), are sampled like
    :func:`_copy_subset`, linked into a raw folder of the same layout beside ``out`` and
    aligned by :func:`~minilocal.preprocess.build_dataset`.
    """
    from .adapters import list_items
    from .preprocess import build_dataset

    kind, src = DATASETS[name], find_dataset(name)
    items = list_items(kind, src)
    by_name = {it.name: it for it in items}
    records = assign_splits([FaceRecord(file=it.name, label=it.label, group=it.group)
                             for it in items])
    per_input = 16 if kind == "ffpp" else 1  # ffpp: 16 frames of each video
    chosen = [by_name[r.file] for r in _sample_rows(records, max(1, n // per_input), seed, split)]
    raw = out.with_name(out.name + ".raw")
    shutil.rmtree(raw, ignore_errors=True)
    try:
        for it in chosen:
            _link(it.path, raw / it.source)
            if it.video is not None and it.video.real is not None:
                _link(it.video.real, raw / it.video.real.relative_to(src))
        if kind == "dfdc_faces":  # the adapter reads the pairs from metadata.csv
            with open(src / METADATA, newline="") as f:
                rows = list(csv.DictReader(f))
            keep = {it.source for it in chosen}
            with open(raw / METADATA, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(r for r in rows if r["file"] in keep)
        summary = build_dataset(kind, raw, out, workers=workers, progress=progress)
    finally:
        shutil.rmtree(raw, ignore_errors=True)
    if split is not None:  # an ffpp real pulled in beside its fake may sit in another split
        write_records(out, [r for r in read_records(out) if r.split == split])
    if not summary["total"]:
        raise ValueError(f"no face of {name} could be used: {summary['reject_reasons']}")


def _build_subset(name: str, out: Path, n: int, seed: int, split: str | None, workers: int,
                  progress: bool) -> None:
    """Write about n faces of dataset ``name`` to ``out`` (which does not exist yet)."""
    from .synth import make_fakes

    if name == "synth_lfw":
        targets = max(1, n // (1 + SYNTH_FAKES_PER_REAL))
        reals = tutorial_dataset("lfw_faces", max(targets, 8), seed, split, workers, progress)
        make_fakes(reals, out, method="all", n=targets, seed=seed, workers=workers,
                   progress=progress)
    elif (build_dir() / name / METADATA).is_file():
        _copy_subset(build_dir() / name, out, n, seed, split)
    else:
        _build_from_raw(name, out, n, seed, split, workers, progress)


def tutorial_dataset(name: str, n: int | None = 256, seed: int = 0, split: str | None = None,
                     workers: int = 1, progress: bool = False) -> Path:
    """A folder-format dataset of about ``n`` aligned 128 x 128 faces, built if needed.

    * ``n=None``: the full built dataset ``build_dir() / name``;
    * else a cached subset in :func:`tutorial_dir`: a seeded sample with the same share of
      every split and label as the full dataset (or only faces of ``split``), copied from
      the built dataset when that exists, else aligned from the raw data
      (:func:`~minilocal.paths.find_dataset`, :func:`~minilocal.preprocess.build_dataset`:
      a few seconds for a hundred faces). Splits are the full dataset's, by group;
    * ``synth_lfw``: ``n / 4`` real LFW faces (``tutorial_dataset("lfw_faces", n / 4)``)
      and, for each, one FaceSwap, one self-blended and one part-swap fake with its exact
      mask (:func:`~minilocal.synth.make_fakes`), so 1 real : 3 fakes.

    Args:
        name: one of DATASETS.
        n: about how many faces (ffpp_c23: 16 frames per video). Default: 256.
        seed: seed of the sample (of the synthetic fakes for synth_lfw). Default: 0.
        split: "train", "val" or "test": only faces of that split. Default: all splits.
        workers: processes for face alignment when building from raw data. Default: 1.
        progress: show tqdm progress bars while building.

    Returns:
        the dataset folder (metadata.csv, images/, masks/), with its split column.

    Raises:
        ValueError: on an unknown name or split, n < 2, or a split without faces.
        FileNotFoundError: if neither the built nor the raw dataset is found (or, for
            ``n=None``, the built one is missing).

    Example:
        >>> root = tutorial_dataset("dfdc_faces", n=64, split="test")
        >>> faces = minilocal.faceset.load_folder(root)
    """
    if name not in DATASETS:
        raise ValueError(f"unknown tutorial dataset {name!r}; expected one of {list(DATASETS)}")
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS} or None")
    if n is None:
        return built_dataset(name)
    if int(n) < 2:
        raise ValueError(f"n must be at least 2 faces, got {n}")
    out = tutorial_dir() / f"{name}{'_' + split if split else ''}_n{int(n)}_s{int(seed)}"
    if (out / METADATA).is_file():
        return out
    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    logger.info("building tutorial dataset %s (about %d faces) in %s", name, n, out)
    try:
        _build_subset(name, tmp, int(n), int(seed), split, workers, progress)
        if (out / METADATA).is_file():  # built meanwhile by another process
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            shutil.rmtree(out, ignore_errors=True)
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _datasets_of(config: dict) -> list[str]:
    """Names of the datasets a checkpoint was trained on (folder names in config["data"])."""
    data = config.get("data") or []
    data = [data] if isinstance(data, str) else data
    names = [Path(str(d)).name for d in data]
    return [n.split("_n")[0] if n.split("_n")[0] in DATASETS else n for n in names]


def tutorial_model(dataset: str = "synth_lfw", n: int = 256, minutes: float = 0.5,
                   epochs: int = 20, seed: int = 0, device: str | torch.device = "cpu",
                   checkpoint: str | Path | None = None, shipped: bool = True
                   ) -> tuple[LocalFeatureNet, dict[str, Any]]:
    """A trained network for a tutorial: a given checkpoint, the shipped one, or a quick run.

    Order: ``checkpoint`` when given; else the shipped pretrained checkpoint
    (:func:`~minilocal.checkpoint.default_checkpoint`) when ``shipped`` and it exists;
    else a small LocalFeatureNet (``SMALL_WIDTHS``) trained with the joint loss
    (lambda_cls 0.7, lambda_seg {"fake": 0.3}) for at most ``minutes`` on
    ``tutorial_dataset(dataset, n, seed)``, cached in ``tutorial_dir() / "runs"`` so the
    next call loads it. The fake head learns the true masks when every fake has one, else
    the CVM. A quick run is far weaker than the shipped model: it is there so that a
    notebook runs end to end anywhere.

    Args:
        dataset: training data of the quick run, one of DATASETS. Default: "synth_lfw".
        n: faces in that data. Default: 256.
        minutes: training time limit of the quick run. Default: 0.5.
        epochs: at most this many epochs of the quick run. Default: 20.
        seed: seeds data sample, weights and data order. Default: 0.
        device: where to put the model (the quick run trains there). Default: "cpu".
        checkpoint: a checkpoint to load instead (stem or either file).
        shipped: use the shipped checkpoint when present. Default: True.

    Returns:
        (model in eval mode, config): the checkpoint's config plus "checkpoint" (the
        weights file), "source" ("given", "shipped" or "quick") and "datasets" (names of
        the datasets it was trained on, e.g. ["dfdc_faces"]).

    Raises:
        ValueError: on an unknown dataset, as :func:`tutorial_dataset`.
        FileNotFoundError: if ``checkpoint`` is missing, or no data is found for a
            quick run.
    """
    if checkpoint is not None:
        weights, source = Path(checkpoint), "given"
    elif shipped and default_checkpoint().is_file():
        weights, source = default_checkpoint(), "shipped"
    else:
        if dataset not in DATASETS:
            raise ValueError(f"unknown tutorial dataset {dataset!r}; expected one of "
                             f"{list(DATASETS)}")
        run = tutorial_dir() / "runs" / f"{dataset}_n{int(n)}_s{int(seed)}"
        weights, source = run / "best.safetensors", "quick"
        if not weights.is_file():
            _quick_train(tutorial_dataset(dataset, n, seed), run, minutes, epochs, seed,
                         device)
    model, config = load_checkpoint(weights, device=device)
    config = {**config, "checkpoint": str(weights), "source": source,
              "datasets": _datasets_of(config)}
    return model, config


def _quick_train(data: Path, run: Path, minutes: float, epochs: int, seed: int,
                 device: str | torch.device) -> None:
    """Train a SMALL_WIDTHS network on ``data`` into ``run`` (via a temporary folder)."""
    from .recipe import TrainConfig
    from .train import train

    fakes = [r for r in read_records(data) if r.label == "fake"]
    kind = "real" if fakes and all(r.mask for r in fakes) else "cvm"
    dev = str(device) if str(device) in ("cpu", "cuda") else "auto"
    config = TrainConfig(lambda_cls=0.7, lambda_seg={"fake": 0.3}, masks={"fake": kind},
                         epochs=int(epochs), batch_size=32, lr=2e-3, seed=seed, device=dev,
                         patience=0, widths=SMALL_WIDTHS, max_minutes=minutes,
                         checkpoint_every=0)
    tmp = run.with_name(f"{run.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    logger.info("no trained checkpoint: training a quick model on %s (%.1f min)", data, minutes)
    try:
        train(config, data, out=tmp)
        for path in tmp.glob("last.*"):
            path.unlink()  # optimizer state: not needed to use the model
        if not (run / "best.safetensors").is_file():
            shutil.rmtree(run, ignore_errors=True)
            run.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, run)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
