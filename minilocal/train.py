"""The training loop: the joint classification-segmentation loss fitted (paper 3.3 and 4).

``fit`` trains any model whose forward returns :class:`~minilocal.model.Output` on
in-memory :class:`~minilocal.faceset.FaceSet` splits, with the settings of a
:class:`~minilocal.recipe.TrainConfig`; ``train`` loads folder-format data
(:func:`~minilocal.train_data.load_splits`) and builds a
:class:`~minilocal.model.LocalFeatureNet` with one head per mask task.

``fit`` reads as nanoGPT's loop: set up, then per epoch :func:`_train_epoch` (timm's
``train_one_epoch``), :func:`_validate` and :func:`_end_epoch` (history, checkpoints, early
stop). Where a run stands is a :class:`~minilocal.run_state.RunState`. Everything random
(data order, crops, flips) is a pure function of (seed, epoch, step), so a run killed at any
point and resumed from ``RUN/last.*`` (:mod:`minilocal.resume`) ends with the same weights
as one that never stopped.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import torch
from torch import nn
from tqdm.auto import tqdm

from . import distributed as D
from .augment import centre_crop, epoch_order
from .faceset import FaceSet
from .loss import JointLoss, balanced_weights
from .metrics import binary_metrics
from .model import LocalFeatureNet, p_fake, seg_score
from .recipe import CPU_TRAIN_SIZE, TrainConfig, lr_at
from .resume import check_run_dir, holds_run, load_last
from .run_state import Run, RunProgress, RunState, write_history
from .runtime import eval_mode, pick_device, unwrap, use_bf16
from .train_data import check_data, load_splits, train_batch

logger = logging.getLogger(__name__)

__all__ = ["fit", "train"]


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
    r = Run(used, device, info, bf16, train_set, val_set, unwrap(model), net, opt, loss_fn, run,
            {"train": asdict(used), "bf16": bf16, "class_weights": weights, **dict(meta or {})})
    # the loop: an epoch (or what a time limit leaves of it), validation, checkpoints
    clock = RunProgress(used, state, config.epochs * r.steps_per_epoch)
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


def _train_epoch(r: Run, state: RunState, epoch: int, clock: RunProgress, progress: bool,
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
        images, labels, seg_labels = train_batch(r, epoch, step, index, done)
        images = _to_input(images, config.channels_last)
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


def _end_epoch(r: Run, state: RunState, epoch: int, t_epoch: float, n_seen: int,
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
        write_history(r.out, state.history)
    early = bool(config.patience) and state.bad_epochs >= config.patience
    stop = D.broadcast_flag(time_up or early, info, r.device)
    if stop:
        logger.info("stopping after epoch %d: %s", epoch + 1, "time limit" if time_up else
                    f"no better val AUC for {config.patience} epochs")
    return stop


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
