"""Training with the joint classification-segmentation loss (paper sections 3.3 and 4).

``fit`` trains any model whose forward returns :class:`~minilocal.model.Output` on
in-memory :class:`~minilocal.faceset.FaceSet` splits; ``train`` loads folder-format data
(:func:`~minilocal.train_data.load_splits`) and builds a
:class:`~minilocal.model.LocalFeatureNet` with one head per mask task.

``fit`` reads as nanoGPT's loop: set up, then per epoch :func:`_train_epoch` (timm's
``train_one_epoch``), :func:`_validate` and :func:`_end_epoch` (history, checkpoints, early
stop). Where a run stands is a :class:`RunState`. Everything random (data order, crops,
flips) is a pure function of (seed, epoch, step), so a run killed at any point and resumed
from ``RUN/last.*`` (:mod:`minilocal.resume`) ends with the same weights as one that never
stopped.
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
from typing import Any, Callable, Iterable, Mapping

import torch
from torch import nn
from tqdm.auto import tqdm

from . import distributed as D
from .augment import augment_batch, centre_crop, epoch_order, photometric, step_generator
from .checkpoint import save_checkpoint
from .faceset import FaceSet
from .loss import JointLoss, balanced_weights, check_lambdas
from .masks import MASK_KINDS, MIN_CHANGE
from .metrics import binary_metrics
from .model import DEFAULT_WIDTHS, RECEPTIVE_FIELD, LocalFeatureNet, p_fake, seg_score
from .receptive_field import label_grid
from .resume import check_run_dir, holds_run, load_last, save_last
from .runtime import eval_mode, pick_device, unwrap, use_bf16
from .train_data import check_data, crop_labels, head_masks, load_splits

logger = logging.getLogger(__name__)

__all__ = ["TrainConfig", "RunState", "fit", "train", "lr_at", "crop_size_at", "CPU_TRAIN_SIZE"]

# Default training crop on CPU. ci/recipe_runs.py, 15 CPU-minutes on dfdc_faces + synth_lfw,
# mean val AUC: 64 px 0.635/0.629 (seeds 0/1), 96 px 0.618 (2.8x fewer crops seen). (The
# earlier 2-minute DFDC-only ci/bench_crop_size.py runs had 96 px narrowly ahead, in noise.)
CPU_TRAIN_SIZE = 64
CHOICES = {"device": ("auto", "cpu", "cuda"), "amp": ("auto", "bf16", "off"),  # the values of
           "schedule": ("cosine", "constant")}  # TrainConfig's fields with a fixed set


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run.

    The defaults are the shipped checkpoint's recipe (MODEL_CARD.md), the best of the
    short runs of ``ci/recipe_runs.py`` on validation: lambda_cls = 0.5 with the paper's
    k = 2 heads, lambda_seg = {"fake": 0.3 (exact mask, else CVM), "face": 0.2 (CVM)}
    (paper Table 1: every lambda_seg in 0.2-0.7 beats 0; Table 3's case 6 uses both
    heads), 64-px crops on a CPU. The paper gives no optimizer settings; AdamW, lr 1e-3
    with warm-up and cosine decay, class-balanced L_cls, JPEG and colour augmentation are
    this project's choice.

    Labels that say what the pixels show (``min_change``, ``crop_labels``): the ``fake``
    head of a fake with an exact mask learns the masked pixels that changed by at least
    ``min_change`` grey levels (:func:`~minilocal.train_data.changed_masks`), and a
    training crop of such a fake that holds none of them at any receptive-field centre is
    labelled real (:func:`~minilocal.train_data.crop_labels`). Fakes without an exact mask
    (CVM only) keep their labels.

    Raises:
        ValueError: naming the bad field (lambdas, mask kinds, sizes, choices).
    """

    lambda_cls: float = 0.5  # weight of the image classification loss L_cls (eq. 4)
    lambda_seg: Mapping[str, float] = field(  # {head: w}
        default_factory=lambda: {"fake": 0.3, "face": 0.2})
    masks: Mapping[str, str] = field(  # {head: mask kind}
        default_factory=lambda: {"fake": "real_or_cvm", "face": "cvm"})
    size: int = 128  # side the aligned faces are resized to when loaded
    train_size: int | None = None  # random crop side; None: 64 on CPU (CPU_TRAIN_SIZE), else size
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
        for name, choices in CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")
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


# --------------------------------------------------------------------------- schedules


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


# --------------------------------------------------------------------------- the run


@dataclass
class RunState:
    """Where a run stands; saved in RUN/last.json ("state") so a resume continues there."""

    epoch: int = 0  # epochs completed
    step: int = 0  # steps done in the current epoch
    global_step: int = 0  # steps done in the whole run
    best_auc: float = -1.0  # the best val AUC so far (the epoch saved as RUN/best.*)
    bad_epochs: int = 0  # complete epochs since the val AUC last improved (patience)
    sums: dict = field(default_factory=dict)  # this epoch: {term: sum of loss x B, "n": images}
    history: list = field(default_factory=list)  # one row per epoch: what fit returns
    wall_s: float = 0.0  # wall-clock seconds trained, over all resumes (max_minutes)
    cpu_s: float = 0.0  # CPU seconds of this process, over all resumes (max_cpu_minutes)

    @classmethod
    def saved(cls, state: Mapping[str, Any]) -> RunState:
        """The state saved in RUN/last.json, its history cut to the completed epochs (an
        epoch cut by a time limit is trained on from where it stopped)."""
        st = cls(**{k: v for k, v in state.items() if k in cls.__dataclass_fields__})
        st.history = [row for row in st.history if row["epoch"] <= st.epoch]
        return st


class _Progress:
    """The fraction of the run done, 0..1: steps done / all steps or, for a run with a time
    limit, time used / limit, whichever is larger (so a run stopped by its budget ends
    annealed). Each call records the time used in the state (budgets span resumes)."""

    def __init__(self, config: TrainConfig, state: RunState, total_steps: int) -> None:
        self.config, self.state, self.total_steps = config, state, max(total_steps, 1)
        self.wall0, self.cpu0 = state.wall_s, state.cpu_s  # budget used before a resume
        self.t0, self.cpu_t0 = time.perf_counter(), time.process_time()
        self.limited = config.max_minutes is not None or config.max_cpu_minutes is not None

    def __call__(self) -> float:
        st, config = self.state, self.config
        st.wall_s = self.wall0 + time.perf_counter() - self.t0
        st.cpu_s = self.cpu0 + time.process_time() - self.cpu_t0
        done = st.global_step / self.total_steps
        for used_s, limit in ((st.wall_s, config.max_minutes), (st.cpu_s, config.max_cpu_minutes)):
            if limit is not None:
                done = max(done, used_s / (60 * limit) if limit > 0 else 1.0)
        return done


class _Saveable:
    """What save_checkpoint needs from a model: state_dict() and config()."""

    def __init__(self, model: nn.Module) -> None:
        self.model = unwrap(model)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def config(self) -> dict:
        fn = getattr(self.model, "config", None)
        return fn() if callable(fn) else {"class": type(self.model).__name__}


@dataclass
class _Run:
    """What stays fixed during a run: its settings, where it runs, data, model, optimizer."""

    config: TrainConfig  # train_size and eval_size filled in
    device: torch.device
    info: D.DistInfo  # this process among the torchrun processes (one without torchrun)
    bf16: bool  # bf16 autocast
    train_set: FaceSet  # on the device
    val_set: FaceSet
    model: nn.Module  # the bare model (no DDP or compile wrapper): saved, and validated
    net: nn.Module  # the model as trained (DDP over processes, compiled)
    opt: torch.optim.Optimizer
    loss_fn: JointLoss
    out: Path | None  # the run directory; None writes nothing
    save_cfg: dict  # what every checkpoint's JSON holds: settings, bf16, class weights, meta

    def __post_init__(self) -> None:
        B = self.config.batch_size
        self.steps_per_epoch = -(-len(D.shard(torch.arange(len(self.train_set)), self.info)) // B)
        try:  # crop_labels looks at the receptive-field centres; at every pixel for models
            label_grid(torch.zeros(1, self.config.train_size, self.config.train_size),
                       self.model)  # without conv layers
            self.centres = lambda m: label_grid(m, self.model)
        except ValueError:
            self.centres = lambda m: m

    def save_last(self, state: RunState) -> None:
        if self.out is not None and self.info.is_main:
            save_last(self.out, _Saveable(self.model), self.save_cfg, asdict(state), self.opt)

    def save_best(self, state: RunState, row: dict) -> None:
        if self.out is not None:
            save_checkpoint(self.out / "best", _Saveable(self.model),
                            {**self.save_cfg, "epoch": row["epoch"], "step": state.global_step,
                             "metrics": row})


def fit(model: nn.Module, train_set: FaceSet, val_set: FaceSet, config: TrainConfig,
        out: str | Path | None = None, resume: bool = False, progress: bool = False,
        callback: Callable[[dict[str, Any]], None] | None = None,
        meta: Mapping[str, Any] | None = None) -> list[dict]:
    """Train ``model`` with the joint loss; validate, checkpoint and stop early.

    Args:
        model: any module whose forward maps (N, 3, S, S) float images in [0, 1] to an
            :class:`~minilocal.model.Output`, with a seg_logits entry (N, 2, S', S') for
            every head with lambda_seg > 0 (S' at the receptive-field centres of S).
        train_set, val_set: FaceSets (uint8, see :func:`~minilocal.train_data.load_splits`);
            moved to the device.
        config: the run's :class:`TrainConfig`.
        out: run directory for best.*, last.* and history.csv/json; None writes nothing.
        resume: continue from ``out/last.*`` when it exists (exactly where it stopped);
            refused when the saved settings differ from ``config`` beyond
            RESUME_MAY_CHANGE (:func:`~minilocal.resume.resume_differences`).
        progress: show a tqdm bar per epoch (rank 0 only).
        callback: called after every step with {"epoch", "step", "global_step", "loss"}.
        meta: more JSON-serialisable entries for the checkpoint configs (e.g. data dirs).

    Returns:
        the history: one dict per epoch with the loss terms (mean over all ranks),
        val_auc, val_acc (val_auc_seg with a "fake" head; rank 0 only), lr,
        images_per_s, seconds and complete (False for an epoch cut by a time limit).

    Raises:
        ValueError: on unusable data (see :func:`~minilocal.train_data.check_data`).
        RuntimeError: on a non-finite loss, naming the step and batch; the last good
            checkpoint is left in place.
    """
    # where it runs: one process per GPU under torchrun, else this one; bf16 where native
    device = pick_device(config.device, int(os.environ.get("LOCAL_RANK", "0") or 0))
    info = D.init_distributed(device)
    check_data(train_set, config, "train")
    check_data(val_set, config, "val")
    torch.manual_seed(config.seed)
    used = _crop_sizes(config, train_set, val_set, device)  # the settings as they are used
    bf16 = use_bf16(config.amp, device)
    # data, model, loss and optimizer
    train_set, val_set = _on_device(train_set, device), _on_device(val_set, device)
    model = model.to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    weights = balanced_weights(train_set.labels.cpu()) if config.balance else None
    loss_fn = JointLoss(config.lambda_cls, {h: config.lambda_seg[h] for h in config.heads},
                        weights)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    # the run directory: a new run, or exactly where RUN/last.* stopped
    run, state = (Path(out) if out is not None else None), RunState()
    has_last = run is not None and holds_run(run)
    if has_last and not resume:
        raise ValueError(f"{run} already holds a run (last.*); resume it with "
                         "resume=True (--resume) or choose another output directory")
    if run is not None and info.is_main:
        run.mkdir(parents=True, exist_ok=True)  # now, not at the first checkpoint
    if resume and has_last:
        saved, init = load_last(run, unwrap(model), opt, used)
        used, state = replace(used, init=init), RunState.saved(saved)  # init: where it began
        logger.info("resumed %s at epoch %d step %d", run, state.epoch, state.step)
    net: nn.Module = model
    if info.enabled:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if config.compile:
        net = torch.compile(net)
    r = _Run(used, device, info, bf16, train_set, val_set, unwrap(model), net, opt, loss_fn, run,
             {"train": asdict(used), "bf16": bf16, "class_weights": weights, **dict(meta or {})})
    # the loop: an epoch (or what a time limit leaves of it), validation, checkpoints
    clock = _Progress(used, state, config.epochs * r.steps_per_epoch)
    for epoch in range(state.epoch, config.epochs):
        t_epoch = time.perf_counter()
        n_seen, time_up, partial = _train_epoch(r, state, epoch, clock, progress, callback)
        if _end_epoch(r, state, epoch, t_epoch, n_seen, time_up, partial):
            break
    D.barrier(info)
    D.cleanup(info)
    return state.history


def _crop_sizes(config: TrainConfig, train_set: FaceSet, val_set: FaceSet,
                device: torch.device) -> TrainConfig:
    """``config`` with train_size and eval_size chosen where None: whole faces on a GPU,
    CPU_TRAIN_SIZE crops on a CPU; validation on whole faces."""
    side = min(train_set.images.shape[-2:])
    train_size = config.train_size or (side if device.type == "cuda"
                                       else min(CPU_TRAIN_SIZE, side))
    eval_size = config.eval_size or min(val_set.images.shape[-2:])
    if train_size > side:
        raise ValueError(f"train_size {train_size} is larger than the {side}-px train images")
    if config.final_size and config.final_size > side:
        raise ValueError(f"final_size {config.final_size} is larger than the {side}-px train "
                         "images")
    return replace(config, train_size=train_size, eval_size=eval_size)


def _on_device(data: FaceSet, device: torch.device) -> FaceSet:
    return replace(data, **{k: getattr(data, k).to(device) for k in
                            ("images", "labels", "masks", "has_mask", "cvm")})


def _to_input(images: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """(N, 3, S, S) uint8 -> float in [0, 1], NHWC in memory when ``channels_last``."""
    x = images.float().div_(255)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def _batch(r: _Run, epoch: int, step: int, index: torch.Tensor, done: float
           ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """One training batch: random crops (side :func:`crop_size_at` ``done``), flips, JPEG and
    colour, all drawn from (seed, epoch, step, rank); image labels of what each crop shows
    (:func:`~minilocal.train_data.crop_labels`); each head's labels at the receptive-field
    centres (:func:`~minilocal.receptive_field.label_grid`).

    Returns:
        images (B, 3, S, S) float in [0, 1], labels (B,) int64, {head: (B, S', S') labels}.
    """
    config, data = r.config, r.train_set
    g = step_generator(config.seed, epoch, step, r.info.rank)
    labels = data.labels[index]
    masks = head_masks(data, index, config.masks, config.heads)
    masks[" fake pixels"] = data.masks[index]  # for crop_labels (no head name)
    crop = crop_size_at(config, done, config.train_size)
    images, masks = augment_batch(data.images[index], masks, crop, g, flip=config.flip)
    fake_pixels = masks.pop(" fake pixels")
    images = photometric(images, g, config.jpeg_p, config.jpeg_quality, config.colour)
    seg_labels = {h: label_grid(m, r.model) for h, m in masks.items()}
    if config.crop_labels:
        exact = data.has_mask[index] & (labels == 1)
        if bool(exact.any()):
            labels = crop_labels(labels, exact, r.centres(fake_pixels))
    return _to_input(images, config.channels_last), labels, seg_labels


def _train_epoch(r: _Run, state: RunState, epoch: int, clock: _Progress, progress: bool,
                 callback: Callable[[dict[str, Any]], None] | None) -> tuple[int, bool, bool]:
    """Train ``epoch`` from ``state.step`` on (a resume starts mid-epoch), adding each
    step's loss terms to ``state.sums``; RUN/last.* every ``checkpoint_every`` steps.

    Returns:
        (images this process trained on, time_up: a time limit is reached, partial: the
        epoch was cut short by it).
    """
    config, info, B = r.config, r.info, r.config.batch_size
    order = D.shard(epoch_order(len(r.train_set), config.seed, epoch), info)
    state.sums = state.sums or {"loss": 0.0, "loss_cls": 0.0,
                                **{f"loss_seg_{h}": 0.0 for h in config.heads}, "n": 0}
    n_seen, time_up = 0, False
    r.net.train()
    bar = tqdm(range(state.step, r.steps_per_epoch), desc=f"epoch {epoch + 1}/{config.epochs}",
               disable=not (progress and info.is_main), leave=False)
    for step in bar:
        index = order[step * B:(step + 1) * B].to(r.device)
        done = clock()
        images, labels, seg_labels = _batch(r, epoch, step, index, done)
        for group in r.opt.param_groups:
            group["lr"] = lr_at(config, done)
        with torch.autocast(r.device.type, dtype=torch.bfloat16, enabled=r.bf16):
            output = r.net(images)
        terms = r.loss_fn(output, labels, seg_labels)
        values = torch.stack([terms.total, terms.cls, *terms.seg.values()]).detach()
        checked = D.all_sum(values, info).tolist()  # one sync; NaN on any rank stops all
        loss, loss_cls, *loss_seg = values.tolist() if info.enabled else checked
        if not all(math.isfinite(v) for v in checked):
            raise RuntimeError(
                f"loss is {loss} at epoch {epoch + 1} step {step} (global step "
                f"{state.global_step}), batch rows {index[:8].tolist()}"
                f"{'...' if len(index) > 8 else ''}; last good checkpoint: "
                f"{r.out / 'last' if r.out else 'none (out=None)'}; try a lower lr")
        r.opt.zero_grad(set_to_none=True)
        terms.total.backward()
        r.opt.step()
        n = len(index)
        for key, value in zip(("loss", "loss_cls", *(f"loss_seg_{h}" for h in terms.seg)),
                              (loss, loss_cls, *loss_seg)):
            state.sums[key] += value * n
        state.sums["n"] += n
        n_seen += n
        state.step, state.global_step = step + 1, state.global_step + 1
        if progress:
            bar.set_postfix(loss=f"{loss:.4f}")
        if config.checkpoint_every and state.global_step % config.checkpoint_every == 0:
            r.save_last(state)
        if callback is not None:
            callback({"epoch": epoch, "step": step, "global_step": state.global_step,
                      "loss": loss})
        if clock.limited:
            time_up = D.broadcast_flag(clock() >= 1.0, info, r.device)
            if time_up and step + 1 < r.steps_per_epoch:
                return n_seen, True, True  # validate and checkpoint mid-epoch, then stop
    return n_seen, time_up, False


@torch.no_grad()
def _validate(model: nn.Module, data: FaceSet, size: int, batch_size: int, bf16: bool,
              channels_last: bool) -> dict[str, float]:
    """Val AUC/ACC of p_fake (and of the mean 'fake' map, when that head exists) on
    (N, 3, size, size) centre crops."""
    dev = data.images.device
    cls_scores, seg_scores = [], []
    with eval_mode(model):
        for start in range(0, len(data), batch_size):
            x = _to_input(centre_crop(data.images[start:start + batch_size], size),
                          channels_last)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                out = model(x)
            cls_scores.append(p_fake(out.cls_logits).cpu())
            if "fake" in out.seg_logits:
                seg_scores.append(seg_score(out.seg_logits["fake"]).cpu())
    labels = data.labels.cpu()
    m = binary_metrics(labels, torch.cat(cls_scores))
    row = {"val_auc": m["auc"], "val_acc": m["acc"]}
    if seg_scores:
        row["val_auc_seg"] = binary_metrics(labels, torch.cat(seg_scores))["auc"]
    return row


def _end_epoch(r: _Run, state: RunState, epoch: int, t_epoch: float, n_seen: int,
               time_up: bool, partial: bool) -> bool:
    """Close an epoch: mean losses over all processes, validation (rank 0), RUN/best.* when
    the val AUC is the best so far, RUN/last.* and the history files; True to stop (a time
    limit, or ``patience`` epochs without a better val AUC)."""
    config, info = r.config, r.info
    t_train = time.perf_counter() - t_epoch
    D.broadcast_buffers(r.model, info)
    sums = state.sums
    totals = D.all_sum(torch.tensor(list(sums.values()), dtype=torch.float64,
                                    device=r.device), info).tolist()
    row: dict[str, Any] = {"epoch": epoch + 1, "step": state.global_step,
                           **{k: v / max(totals[-1], 1) for k, v in zip(sums, totals)
                              if k != "n"}}
    if info.is_main:
        eval_net = r.model if info.enabled else r.net  # DDP forward would sync ranks
        row.update(_validate(eval_net, r.val_set, config.eval_size, 2 * config.batch_size,
                             r.bf16, config.channels_last))
    row.update(lr=r.opt.param_groups[0]["lr"], images_per_s=n_seen * info.world_size / t_train,
               seconds=time.perf_counter() - t_epoch, complete=not partial)
    if info.is_main and row["val_auc"] > state.best_auc:
        state.best_auc, state.bad_epochs = row["val_auc"], 0
        r.save_best(state, row)
    elif info.is_main and not partial:
        state.bad_epochs += 1
    state.history.append(row)
    if not partial:
        state.epoch, state.step, state.sums = epoch + 1, 0, {}
    logger.info("epoch %d: %s", epoch + 1, {k: round(v, 4) if isinstance(v, float) else v
                                             for k, v in row.items()})
    r.save_last(state)
    if r.out is not None and info.is_main:
        _write_history(r.out, state.history)
    early = bool(config.patience) and state.bad_epochs >= config.patience
    stop = D.broadcast_flag(time_up or early, info, r.device)
    if stop:
        logger.info("stopping after epoch %d: %s", epoch + 1, "time limit" if time_up else
                    f"no better val AUC for {config.patience} epochs")
    return stop


def _write_history(out: Path, history: list[dict]) -> None:
    (out / "history.json").write_text(json.dumps(history, indent=2))
    keys = list(dict.fromkeys(k for row in history for k in row))
    with open(out / "history.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(history)


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
            :func:`~minilocal.resume.check_run_dir` before any data is loaded.
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
