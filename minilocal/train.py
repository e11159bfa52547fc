"""Training with the joint classification-segmentation loss (paper sections 3.3 and 4).

``fit`` trains any model whose forward returns :class:`~minilocal.model.Output` on
in-memory :class:`~minilocal.folder.FaceSet` splits; ``train`` loads folder-format data
and builds a :class:`~minilocal.model.LocalFeatureNet` with one head per mask task.
Everything random (data order, crops, flips) is a pure function of (seed, epoch, step),
so a run killed at any point and resumed from ``RUN/last.*`` ends with the same weights
as one that never stopped.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

from . import distributed as D
from .augment import augment_batch, centre_crop, epoch_order, photometric, step_generator
from .checkpoint import checkpoint_paths, read_checkpoint, read_config, save_checkpoint
from .folder import FaceSet, assign_splits, load_folder, read_records
from .loss import JointLoss, balanced_weights, check_lambdas
from .masks import MASK_KINDS, MIN_CHANGE, changed_mask
from .metrics import binary_metrics
from .model import DEFAULT_WIDTHS, RECEPTIVE_FIELD, LocalFeatureNet, p_fake, seg_score
from .receptive_field import label_grid
from .status import warn_if_incomplete

logger = logging.getLogger(__name__)

__all__ = ["TrainConfig", "fit", "train", "load_splits", "head_masks", "check_data",
           "changed_masks", "crop_labels", "lr_at", "crop_size_at", "CPU_TRAIN_SIZE", "FACE_HEAD",
           "check_run_dir", "resume_differences", "RESUME_MAY_CHANGE"]

# Default training crop on CPU: the best val AUC (at 128) per CPU-minute in
# ci/bench_crop_size.py, 2 CPU-minutes on DFDC: 96 px 0.631/0.592 (seeds 0/1), 64 px
# 0.619/0.559, 128 px 0.552, 48 px 0.505. A narrow win, within seed noise.
CPU_TRAIN_SIZE = 96
FACE_HEAD = "face"  # the head that predicts the face region for every image (real or fake)
DEVICES, AMPS, SCHEDULES = ("auto", "cpu", "cuda"), ("auto", "bf16", "off"), ("cosine", "constant")
# TrainConfig fields a resumed run may change: how long, where and how fast it runs, not what
# it learns from. epochs and the two budgets extend or shorten the run (the lr schedule
# follows the new length); device, compile and channels_last change where and how the same
# arithmetic runs; checkpoint_every and patience change when it saves and stops; init only
# gives the starting weights, which a resume replaces with RUN/last.*. Any other change
# (lr, lambdas, heads, masks, sizes, augmentation, seed, data...) would silently continue
# another experiment under the old run's name, so --resume refuses it.
RESUME_MAY_CHANGE = ("max_minutes", "max_cpu_minutes", "epochs", "device", "checkpoint_every",
                     "patience", "compile", "channels_last", "init")


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run.

    lambda_cls = 0.7, lambda_seg = {"fake": 0.3}: paper Table 1 (every lambda_seg in
    0.2-0.7 beats 0; 0.3 is among the best at c23). The paper gives no optimizer
    settings; AdamW, lr 1e-3 with warm-up and cosine decay, class-balanced L_cls, JPEG and
    colour augmentation are this project's choice (MODEL_CARD.md says what was measured).

    Labels that say what the pixels show (``min_change``, ``crop_labels``): the ``fake``
    head of a fake with an exact mask learns the masked pixels that changed by at least
    ``min_change`` grey levels (:func:`changed_masks`), and a training crop of such a fake
    that holds none of them at any receptive-field centre is labelled real
    (:func:`crop_labels`). Fakes without an exact mask (CVM only) keep their labels.

    Raises:
        ValueError: naming the bad field (lambdas, mask kinds, sizes, choices).
    """

    lambda_cls: float = 0.7  # weight of the image classification loss L_cls (eq. 4)
    lambda_seg: Mapping[str, float] = field(default_factory=lambda: {"fake": 0.3})  # {head: w}
    masks: Mapping[str, str] = field(  # {head: mask kind}
        default_factory=lambda: {"fake": "real_or_cvm"})
    size: int = 128  # side the aligned faces are resized to when loaded
    train_size: int | None = None  # random crop side; None: CPU_TRAIN_SIZE on CPU, size on GPU
    eval_size: int | None = None  # centre crop side for validation; None: size (whole face)
    final_size: int | None = None  # crop side for the run's last final_fraction (e.g. 128)
    final_fraction: float = 0.0  # last fraction of the run's progress trained at final_size
    flip: bool = True  # random horizontal flips
    epochs: int = 10  # passes over the training split
    batch_size: int = 64  # images per step and per process
    lr: float = 1e-3  # AdamW peak learning rate
    weight_decay: float = 1e-4  # AdamW decoupled weight decay
    schedule: str = "cosine"  # lr over the run's progress: "cosine" decay or "constant"
    warmup: float = 0.02  # linear lr warm-up over this fraction of the run (0: none)
    balance: bool = True  # weight L_cls's classes by N / (2 N_c) of the train split
    min_change: int = MIN_CHANGE  # exact-mask pixels changed by less are labelled real; 0: off
    crop_labels: bool = True  # a crop of an exact-mask fake with no fake centre is real
    jpeg_p: float = 0.3  # probability of re-encoding a training crop as JPEG
    jpeg_quality: tuple[int, int] = (60, 95)  # its quality range
    colour: float = 0.1  # brightness/contrast/saturation jitter strength (0: off)
    seed: int = 0  # seeds weights, data order, crops, flips and split assignment
    device: str = "auto"  # "auto" (cuda when available), "cpu" or "cuda"
    amp: str = "auto"  # bf16 autocast: "auto" (where the GPU/CPU has native bf16), "bf16", "off"
    channels_last: bool = True  # NHWC memory format (faster on GPU and on this AVX-512 CPU)
    compile: bool = False  # torch.compile the model
    patience: int = 3  # stop after this many epochs without a better val AUC; 0: never
    checkpoint_every: int = 200  # steps between RUN/last.* saves; 0: at epoch ends only
    widths: tuple[int, ...] = DEFAULT_WIDTHS  # LocalFeatureNet convolution widths (train() only)
    max_minutes: float | None = None  # stop (validated, checkpointed) after this wall time
    max_cpu_minutes: float | None = None  # same, in CPU time of this process (fair on shared CPUs)
    init: str | None = None  # start from this checkpoint's weights (fine-tuning; train() only)
    limit: int | None = None  # keep at most this many images per split (seeded), for quick runs
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)  # train/val/test where no split is set

    def __post_init__(self) -> None:
        check_lambdas(self.lambda_cls, self.lambda_seg)
        for head in self.heads:
            kind = self.masks.get(head)
            if kind is None:
                raise ValueError(f"head {head!r} has lambda_seg > 0 but no mask kind; set "
                                 f"masks={{{head!r}: one of {MASK_KINDS}}}")
            if kind not in MASK_KINDS:
                raise ValueError(f"mask kind {kind!r} of head {head!r} is not one of {MASK_KINDS}")
        for name in ("size", "train_size", "eval_size", "final_size"):
            value = getattr(self, name)
            if value is not None and not RECEPTIVE_FIELD <= value:
                raise ValueError(f"{name} must be >= {RECEPTIVE_FIELD} (the receptive field), "
                                 f"got {value}")
            if value is not None and value > self.size:
                raise ValueError(f"{name} ({value}) cannot exceed size ({self.size})")
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0 or self.weight_decay < 0:
            raise ValueError(f"need lr > 0 and weight_decay >= 0, got {self.lr}, "
                             f"{self.weight_decay}")
        for name, value, choices in (("device", self.device, DEVICES), ("amp", self.amp, AMPS),
                                     ("schedule", self.schedule, SCHEDULES)):
            if value not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {value!r}")
        if self.patience < 0 or self.checkpoint_every < 0:
            raise ValueError("patience and checkpoint_every must be >= 0")
        if not 0 <= self.warmup < 1 or not 0 <= self.jpeg_p <= 1 or not 0 <= self.colour < 1:
            raise ValueError(f"need 0 <= warmup < 1, 0 <= jpeg_p <= 1, 0 <= colour < 1, got "
                             f"{self.warmup}, {self.jpeg_p}, {self.colour}")
        lo, hi = self.jpeg_quality
        if not 1 <= lo <= hi <= 100 or self.min_change < 0:
            raise ValueError(f"need 1 <= jpeg_quality[0] <= jpeg_quality[1] <= 100 and "
                             f"min_change >= 0, got {self.jpeg_quality}, {self.min_change}")
        if not 0 <= self.final_fraction <= 1 or (self.final_fraction > 0) != bool(self.final_size):
            raise ValueError(f"final_size and 0 < final_fraction <= 1 go together, got "
                             f"{self.final_size}, {self.final_fraction}")
        if self.limit is not None and self.limit < 2:
            raise ValueError(f"limit must be >= 2 images, got {self.limit}")

    @property
    def heads(self) -> list[str]:
        """Segmentation heads that are trained (lambda_seg > 0), in the given order."""
        return [h for h, w in self.lambda_seg.items() if w > 0]


# --------------------------------------------------------------------------- data


def head_masks(data: FaceSet, index: torch.Tensor, masks: Mapping[str, str],
               heads: Sequence[str]) -> dict[str, torch.Tensor]:
    """Dense masks of a batch for each head, as :func:`~minilocal.masks.label_mask` assigns.

    The ``face`` head gets its mask for every image; any other head predicts manipulated
    pixels, so real images get zeros.

    Args:
        data: the FaceSet (tensors on any device).
        index: (B,) int64 rows of the batch.
        masks: {head: kind}, kinds from MASK_KINDS.
        heads: the heads to build.

    Returns:
        {head: (B, H, W) uint8 in {0, 1}}.
    """
    out, labels = {}, data.labels[index].to(torch.uint8)[:, None, None]
    B, (H, W) = len(index), data.images.shape[-2:]
    for head in heads:
        kind = masks[head]
        if kind in ("zeros", "ones"):
            m = torch.full((B, H, W), int(kind == "ones"), dtype=torch.uint8,
                           device=data.images.device)
        elif kind == "real_or_cvm":
            exact = data.has_mask[index.to(data.has_mask.device)].to(data.masks.device)
            exact = exact[:, None, None]
            m = torch.where(exact, data.masks[index], data.cvm[index])
        else:
            m = (data.cvm if kind == "cvm" else data.masks)[index]
        out[head] = m if head == FACE_HEAD else m * labels
    return out


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


def _concat(sets: Sequence[FaceSet]) -> FaceSet:
    if len(sets) == 1:
        return sets[0]
    return FaceSet(*(torch.cat([getattr(s, k) for s in sets]) for k in
                     ("images", "labels", "masks", "has_mask", "cvm", "has_cvm")),
                   records=[r for s in sets for r in s.records])


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
    faces = changed_masks(_concat(parts), config.min_change)
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


# --------------------------------------------------------------------------- helpers


def _pick_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' asked for but torch sees no CUDA GPU; use 'cpu'")
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def _use_bf16(amp: str, device: torch.device) -> bool:
    """bf16 autocast for "auto": on GPUs that support it, and on CPUs with native bf16
    (AVX512-BF16 / AMX), where a training step measured 2.0x (64 px crops) to 2.6x
    (128 px) faster than fp32 (ci/bench_crop_size.py --step-speed, AMD EPYC)."""
    if amp != "auto":
        return amp == "bf16"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _unwrap(model: nn.Module) -> nn.Module:
    model = getattr(model, "module", model)  # DDP
    return getattr(model, "_orig_mod", model)  # torch.compile


class _Saveable:
    """What save_checkpoint needs from a model: state_dict() and config()."""

    def __init__(self, model: nn.Module) -> None:
        self.model = _unwrap(model)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def config(self) -> dict:
        fn = getattr(self.model, "config", None)
        return fn() if callable(fn) else {"class": type(self.model).__name__}


def _holds_run(run: Path) -> bool:
    """Whether ``run`` holds a run: either file of RUN/last.* (even one without the other)."""
    return any(p.exists() for p in checkpoint_paths(run / "last"))


def _jsonable(value: Any) -> Any:
    """``value`` as it reads back from a checkpoint's JSON (tuples become lists)."""
    return json.loads(json.dumps(value, default=str))


def resume_differences(saved: Mapping[str, Any], config: TrainConfig,
                       resolved: bool = True) -> list[str]:
    """The settings of ``config`` that differ from a saved run's train config.

    Args:
        saved: the ``"train"`` entry of RUN/last.json. A field missing there (a run saved
            before the field existed) counts as its TrainConfig default.
        config: the new run's config.
        resolved: False before the data is loaded, when a train_size or eval_size of None
            (chosen from the images) cannot be compared yet; those are then skipped.

    Returns:
        "name old -> new" for every differing field not in RESUME_MAY_CHANGE, in field
        order; empty when the run may resume.
    """
    new, default = _jsonable(asdict(config)), _jsonable(asdict(TrainConfig()))
    out = []
    for name, value in new.items():
        if name in RESUME_MAY_CHANGE or (not resolved and value is None
                                         and name in ("train_size", "eval_size")):
            continue
        old = saved.get(name, default[name])
        if old != value:
            out.append(f"{name} {json.dumps(old)} -> {json.dumps(value)}")
    return out


def _refuse_changes(run: Path, saved_cfg: Mapping[str, Any], config: TrainConfig,
                    resolved: bool, data: Sequence[str] | None = None) -> None:
    """ValueError naming every changed setting (and changed data) of a resumed run."""
    saved = saved_cfg.get("train")
    if not isinstance(saved, dict):
        raise ValueError(f"{run / 'last.json'} has no 'train' settings to resume from; "
                         "it was not written by minilocal train")
    differ = resume_differences(saved, config, resolved)
    if data is not None and isinstance(saved_cfg.get("data"), list):
        before = [str(Path(d).resolve()) for d in saved_cfg["data"]]
        after = [str(Path(d).resolve()) for d in data]
        if before != after:
            differ.append(f"data {saved_cfg['data']} -> {list(data)}")
    if differ:
        raise ValueError(f"--resume: {run} was trained with other settings: "
                         f"{'; '.join(differ)}. Resume with the old values (only "
                         f"{', '.join(RESUME_MAY_CHANGE)} may change) or train into a new "
                         "--out")


def check_run_dir(out: str | Path | None, resume: bool, config: TrainConfig | None = None,
                  data: Sequence[str] | None = None) -> None:
    """Check the run directory before any data is loaded; create and write nothing.

    ``out`` must be (or be creatable as) a writable folder. A folder holding a run
    (RUN/last.*) needs ``resume``, and then the run's saved settings must match
    ``config`` (see :func:`resume_differences`) and ``data``.

    Raises:
        ValueError: naming ``out``: a file, under a file, read-only, holding a run without
            resume, or holding a run with other settings.
    """
    from .cli import check_output_dir

    if out is None:
        return
    run = check_output_dir(out, "--out")
    if not _holds_run(run):
        return
    if not resume:
        raise ValueError(f"--out {run} already holds a run (last.*); continue it with "
                         "--resume (resume=True) or choose another --out")
    if config is not None:
        _refuse_changes(run, read_config(run / "last"), config, resolved=False, data=data)


def crop_size_at(config: TrainConfig, progress: float, train_size: int) -> int:
    """Training crop side at ``progress`` (0..1 of the run): ``train_size``, then
    ``config.final_size`` over the last ``config.final_fraction`` of the run, so that the
    BatchNorm statistics and the image label's pooling see whole faces before the end."""
    if config.final_size and progress >= 1.0 - config.final_fraction:
        return config.final_size
    return train_size


def lr_at(config: TrainConfig, progress: float) -> float:
    """The learning rate at ``progress`` in [0, 1], the fraction of the run done: the
    larger of steps done / all steps and, for a run with a time limit, time used / limit,
    so a run stopped by its budget always ends annealed. Linear warm-up over the first
    ``config.warmup``, then constant or cosine decay to 0."""
    p = min(max(progress, 0.0), 1.0)
    if config.warmup and p < config.warmup:
        return config.lr * max(p / config.warmup, 0.01)
    if config.schedule == "constant":
        return config.lr
    p = (p - config.warmup) / (1 - config.warmup)
    return config.lr * 0.5 * (1 + math.cos(math.pi * p))


def _optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    sd = opt.state_dict()
    tensors = {f"optim.{i}.{k}": (v if torch.is_tensor(v) else torch.tensor(v))
               for i, s in sd["state"].items() for k, v in s.items()}
    return tensors, sd["param_groups"]


def _load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                    groups: list) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, i, name = key.split(".", 2)
            state.setdefault(int(i), {})[name] = value
    opt.load_state_dict({"state": state, "param_groups": groups})


def _to_input(images: torch.Tensor, channels_last: bool) -> torch.Tensor:
    x = images.float().div_(255)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


@torch.no_grad()
def _validate(model: nn.Module, data: FaceSet, size: int, batch_size: int, bf16: bool,
              channels_last: bool) -> dict[str, float]:
    """Val AUC/ACC of p_fake (and of the mean 'fake' map, when that head exists)."""
    was_training = model.training
    model.eval()
    dev = data.images.device
    cls_scores, seg_scores = [], []
    for start in range(0, len(data), batch_size):
        x = _to_input(centre_crop(data.images[start:start + batch_size], size), channels_last)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(x)
        cls_scores.append(p_fake(out.cls_logits).cpu())
        if "fake" in out.seg_logits:
            seg_scores.append(seg_score(out.seg_logits["fake"]).cpu())
    model.train(was_training)
    labels = data.labels.cpu()
    m = binary_metrics(labels, torch.cat(cls_scores))
    row = {"val_auc": m["auc"], "val_acc": m["acc"]}
    if seg_scores:
        row["val_auc_seg"] = binary_metrics(labels, torch.cat(seg_scores))["auc"]
    return row


def _write_history(out: Path, history: list[dict]) -> None:
    (out / "history.json").write_text(json.dumps(history, indent=2))
    keys = list(dict.fromkeys(k for row in history for k in row))
    with open(out / "history.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(history)


# --------------------------------------------------------------------------- training


def fit(model: nn.Module, train_set: FaceSet, val_set: FaceSet, config: TrainConfig,
        out: str | Path | None = None, resume: bool = False, progress: bool = False,
        callback: Callable[[dict[str, Any]], None] | None = None,
        meta: Mapping[str, Any] | None = None) -> list[dict]:
    """Train ``model`` with the joint loss; validate, checkpoint and stop early.

    Args:
        model: any module whose forward maps (N, 3, S, S) float images in [0, 1] to an
            :class:`~minilocal.model.Output`, with a seg_logits entry (N, 2, S', S') for
            every head with lambda_seg > 0 (S' at the receptive-field centres of S).
        train_set, val_set: FaceSets (uint8, see :func:`load_splits`); moved to the device.
        config: the run's :class:`TrainConfig`.
        out: run directory for best.*, last.* and history.csv/json; None writes nothing.
        resume: continue from ``out/last.*`` when it exists (exactly where it stopped);
            refused when the saved settings differ from ``config`` beyond
            RESUME_MAY_CHANGE (:func:`resume_differences`).
        progress: show a tqdm bar per epoch (rank 0 only).
        callback: called after every step with {"epoch", "step", "global_step", "loss"}.
        meta: more JSON-serialisable entries for the checkpoint configs (e.g. data dirs).

    Returns:
        the history: one dict per epoch with the loss terms (mean over all ranks),
        val_auc, val_acc (val_auc_seg with a "fake" head; rank 0 only), lr,
        images_per_s, seconds and complete (False for an epoch cut by a time limit).

    Raises:
        ValueError: on unusable data (see :func:`check_data`).
        RuntimeError: on a non-finite loss, naming the step and batch; the last good
            checkpoint is left in place.
    """
    device = _pick_device(config.device, int(os.environ.get("LOCAL_RANK", "0") or 0))
    info = D.init_distributed(device)  # one process unless started by torchrun
    check_data(train_set, config, "train")
    check_data(val_set, config, "val")
    torch.manual_seed(config.seed)
    on_gpu = device.type == "cuda"
    side = min(train_set.images.shape[-2:])
    train_size = config.train_size or (side if on_gpu else min(CPU_TRAIN_SIZE, side))
    eval_size = config.eval_size or min(val_set.images.shape[-2:])
    if train_size > side:
        raise ValueError(f"train_size {train_size} is larger than the {side}-px train images")
    if config.final_size and config.final_size > side:
        raise ValueError(f"final_size {config.final_size} is larger than the {side}-px train "
                         "images")
    bf16 = _use_bf16(config.amp, device)
    channels_last = config.channels_last
    train_set, val_set = (replace(fs, **{k: getattr(fs, k).to(device) for k in
                                         ("images", "labels", "masks", "has_mask", "cvm")})
                          for fs in (train_set, val_set))
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    heads, B = config.heads, config.batch_size
    weights = balanced_weights(train_set.labels.cpu()) if config.balance else None
    loss_fn = JointLoss(config.lambda_cls, {h: config.lambda_seg[h] for h in heads}, weights)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    run = Path(out) if out is not None else None
    st: dict[str, Any] = {"epoch": 0, "step": 0, "global_step": 0, "best_auc": -1.0,
                          "bad_epochs": 0, "sums": {}, "history": [], "wall_s": 0.0,
                          "cpu_s": 0.0}
    used = replace(config, train_size=train_size, eval_size=eval_size)  # every size used
    has_last = run is not None and _holds_run(run)
    if has_last and not resume:
        raise ValueError(f"{run} already holds a run (last.*); resume it with "
                         "resume=True (--resume) or choose another output directory")
    if run is not None and info.is_main:
        run.mkdir(parents=True, exist_ok=True)  # now, not at the first checkpoint
    if resume and has_last:
        tensors, cfg = read_checkpoint(run / "last")  # one save, checked; never pickled
        _refuse_changes(run, cfg, used, resolved=True)
        used = replace(used, init=cfg["train"].get("init"))  # where its weights came from
        try:
            _unwrap(model).load_state_dict({k: v for k, v in tensors.items()
                                            if not k.startswith("extra.")})
        except RuntimeError as err:
            raise ValueError(f"{run / 'last'} does not fit this model (other heads or "
                             f"widths?): {str(err).splitlines()[0]}") from None
        extra = {k[6:]: v for k, v in tensors.items() if k.startswith("extra.")}
        _load_optimizer(opt, extra, cfg["optimizer_param_groups"])
        torch.set_rng_state(extra["rng_cpu"])
        st = {"wall_s": 0.0, "cpu_s": 0.0, **cfg["state"]}
        st["history"] = [r for r in st["history"] if r["epoch"] <= st["epoch"]]
        logger.info("resumed %s at epoch %d step %d", run, st["epoch"], st["step"])
    net: nn.Module = model
    if info.enabled:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if on_gpu else None)
    if config.compile:
        net = torch.compile(net)
    save_cfg = {"train": asdict(used), "bf16": bf16, "class_weights": weights,
                **dict(meta or {})}

    def save_last() -> None:
        if run is None or not info.is_main:
            return
        tensors, groups = _optimizer_tensors(opt)
        tensors["rng_cpu"] = torch.get_rng_state()
        save_checkpoint(run / "last", _Saveable(model), {**save_cfg, "state": st,
                        "optimizer_param_groups": groups}, extra_tensors=tensors)

    geometry = _unwrap(model)
    try:  # a mask at the outputs' receptive-field centres; the whole mask for models
        label_grid(torch.zeros(1, train_size, train_size), geometry)  # without conv layers
        centres = lambda m: label_grid(m, geometry)  # noqa: E731
    except ValueError:
        centres = lambda m: m  # noqa: E731
    steps_per_epoch = -(-len(D.shard(torch.arange(len(train_set)), info)) // B)
    total_steps = config.epochs * steps_per_epoch
    t_start, cpu_start, time_up, partial = time.perf_counter(), time.process_time(), False, False
    wall0, cpu0 = st["wall_s"], st["cpu_s"]  # budget used before a resume

    def progress_now() -> float:
        """Fraction of the run done: steps, or time against a time limit."""
        st.update(wall_s=wall0 + time.perf_counter() - t_start,
                  cpu_s=cpu0 + time.process_time() - cpu_start)
        done = st["global_step"] / max(total_steps, 1)
        for used_s, limit in ((st["wall_s"], config.max_minutes),
                              (st["cpu_s"], config.max_cpu_minutes)):
            if limit is not None:
                done = max(done, used_s / (60 * limit) if limit > 0 else 1.0)
        return done

    for epoch in range(st["epoch"], config.epochs):
        t_epoch, n_seen = time.perf_counter(), 0
        order = D.shard(epoch_order(len(train_set), config.seed, epoch), info)
        sums = st["sums"] or {"loss": 0.0, "loss_cls": 0.0,
                              **{f"loss_seg_{h}": 0.0 for h in heads}, "n": 0}
        net.train()
        bar = tqdm(range(st["step"], steps_per_epoch), desc=f"epoch {epoch + 1}/{config.epochs}",
                   disable=not (progress and info.is_main), leave=False)
        for step in bar:
            index = order[step * B:(step + 1) * B].to(device)
            g = step_generator(config.seed, epoch, step, info.rank)
            labels = train_set.labels[index]
            masks = head_masks(train_set, index, config.masks, heads)
            masks[" fake pixels"] = train_set.masks[index]  # for crop_labels (no head name)
            done = progress_now()
            crop = crop_size_at(config, done, train_size)
            images, masks = augment_batch(train_set.images[index], masks, crop, g,
                                          flip=config.flip)
            fake_pixels = masks.pop(" fake pixels")
            images = photometric(images, g, config.jpeg_p, config.jpeg_quality, config.colour)
            seg_labels = {h: label_grid(m, geometry) for h, m in masks.items()}
            if config.crop_labels:
                exact = train_set.has_mask[index] & (labels == 1)
                if bool(exact.any()):
                    labels = crop_labels(labels, exact, centres(fake_pixels))
            for group in opt.param_groups:
                group["lr"] = lr_at(config, done)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                output = net(_to_input(images, channels_last))
            terms = loss_fn(output, labels, seg_labels)
            values = torch.stack([terms.total, terms.cls, *terms.seg.values()]).detach()
            checked = D.all_sum(values, info).tolist()  # one sync; NaN on any rank stops all
            loss, loss_cls, *loss_seg = values.tolist() if info.enabled else checked
            if not all(math.isfinite(v) for v in checked):
                raise RuntimeError(
                    f"loss is {loss} at epoch {epoch + 1} step {step} (global step "
                    f"{st['global_step']}), batch rows {index[:8].tolist()}"
                    f"{'...' if len(index) > 8 else ''}; last good checkpoint: "
                    f"{run / 'last' if run else 'none (out=None)'}; try a lower lr")
            opt.zero_grad(set_to_none=True)
            terms.total.backward()
            opt.step()
            n = len(index)
            sums["loss"] += loss * n
            sums["loss_cls"] += loss_cls * n
            for h, v in zip(terms.seg, loss_seg):
                sums[f"loss_seg_{h}"] += v * n
            sums["n"] += n
            n_seen += n
            st.update(step=step + 1, global_step=st["global_step"] + 1, sums=sums)
            if progress:
                bar.set_postfix(loss=f"{loss:.4f}")
            if config.checkpoint_every and st["global_step"] % config.checkpoint_every == 0:
                save_last()
            if callback is not None:
                callback({"epoch": epoch, "step": step, "global_step": st["global_step"],
                          "loss": loss})
            if config.max_minutes is not None or config.max_cpu_minutes is not None:
                time_up = D.broadcast_flag(progress_now() >= 1.0, info, device)
                if time_up and step + 1 < steps_per_epoch:
                    partial = True  # validate and checkpoint mid-epoch, then stop
                    break
        t_train = time.perf_counter() - t_epoch
        D.broadcast_buffers(_unwrap(model), info)
        totals = D.all_sum(torch.tensor(list(sums.values()), dtype=torch.float64,
                                        device=device), info).tolist()
        row: dict[str, Any] = {"epoch": epoch + 1, "step": st["global_step"],
                               **{k: v / max(totals[-1], 1) for k, v in zip(sums, totals)
                                  if k != "n"}}
        if info.is_main:
            eval_net = _unwrap(model) if info.enabled else net  # DDP forward would sync ranks
            row.update(_validate(eval_net, val_set, eval_size, 2 * B, bf16, channels_last))
        row.update(lr=opt.param_groups[0]["lr"], images_per_s=n_seen * info.world_size / t_train,
                   seconds=time.perf_counter() - t_epoch, complete=not partial)
        better = info.is_main and row["val_auc"] > st["best_auc"]
        if better:
            st.update(best_auc=row["val_auc"], bad_epochs=0)
            if run is not None:
                save_checkpoint(run / "best", _Saveable(model),
                                {**save_cfg, "epoch": epoch + 1, "step": st["global_step"],
                                 "metrics": row})
        elif info.is_main and not partial:
            st["bad_epochs"] += 1
        st["history"].append(row)
        if not partial:
            st.update(epoch=epoch + 1, step=0, sums={})
        logger.info("epoch %d: %s", epoch + 1, {k: round(v, 4) if isinstance(v, float) else v
                                                 for k, v in row.items()})
        save_last()
        if run is not None and info.is_main:
            _write_history(run, st["history"])
        early = bool(config.patience) and st["bad_epochs"] >= config.patience
        if D.broadcast_flag(time_up or early, info, device):
            logger.info("stopping after epoch %d: %s", epoch + 1, "time limit" if time_up else
                        f"no better val AUC for {config.patience} epochs")
            break
    D.barrier(info)
    D.cleanup(info)
    return st["history"]


def _init_from(model: LocalFeatureNet, path: str) -> None:
    """Copy the weights of checkpoint ``path`` into ``model`` (same widths and heads).

    Raises:
        ValueError: naming the differences when the architectures do not match.
    """
    from .checkpoint import load_checkpoint

    source, _ = load_checkpoint(path)
    mine, theirs = model.state_dict(), source.state_dict()
    if mine.keys() != theirs.keys() or any(mine[k].shape != theirs[k].shape for k in mine):
        differ = sorted(set(mine) ^ set(theirs)) or [k for k in mine
                                                     if mine[k].shape != theirs[k].shape]
        raise ValueError(f"--init {path}: its architecture differs from this run's "
                         f"(differing tensors e.g. {differ[:4]}); use the same widths and heads")
    model.load_state_dict(theirs)
    logger.info("initialised from %s", path)


def train(config: TrainConfig, data: str | Path | Iterable[str | Path],
          out: str | Path | None = None, resume: bool = False, progress: bool = False,
          callback: Callable[[dict[str, Any]], None] | None = None) -> list[dict]:
    """Load folder-format data, build a LocalFeatureNet with the active heads and fit it.

    Args:
        config: the run's :class:`TrainConfig`.
        data: one dataset directory or several (concatenated).
        out: run directory (RUN/best.*, RUN/last.*, RUN/history.csv|json); checked by
            :func:`check_run_dir` before any data is loaded.
        resume, progress, callback: as in :func:`fit`; a resume also refuses other data.

    Returns:
        the history, one dict per epoch.

    Example:
        >>> cfg = TrainConfig(lambda_cls=0.7, lambda_seg={"fake": 0.3}, masks={"fake": "cvm"})
        >>> history = train(cfg, "build/data/dfdc_faces", out="runs/cvm")
        >>> history[-1]["val_auc"]
    """
    data = [data] if isinstance(data, (str, Path)) else list(data)
    dirs = [str(d) for d in data]
    check_run_dir(out, resume, config, dirs)  # before loading the data
    train_set, val_set = load_splits(data, config, progress=progress)
    torch.manual_seed(config.seed)
    model = LocalFeatureNet(seg_heads=config.heads, widths=config.widths, check_inputs=False)
    if config.init is not None:
        _init_from(model, config.init)
    return fit(model, train_set, val_set, config, out=out, resume=resume, progress=progress,
               callback=callback, meta={"data": dirs, "n_train": len(train_set),
                                        "n_val": len(val_set)})
