"""A training run: what stays fixed, where it stands, how far it has got, what it writes.

:func:`minilocal.train.fit` sets up a :class:`Run` (settings, device, data, model,
optimizer, loss; it saves RUN/best.* and RUN/last.*), and keeps its position and scores in
a :class:`RunState`, which RUN/last.json saves under "state" (:mod:`minilocal.resume`), so a
resumed run continues exactly there. :class:`RunProgress` measures the fraction of the run
done, which the schedules of :mod:`minilocal.recipe` follow; :func:`write_history` writes
the rows fit returns to RUN/history.json and .csv.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from . import distributed as D
from .checkpoint import save_checkpoint
from .faceset import FaceSet
from .loss import JointLoss
from .receptive_field import label_grid
from .recipe import TrainConfig
from .resume import save_last
from .runtime import unwrap

__all__ = ["Run", "RunState", "RunProgress", "write_history"]


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


class RunProgress:
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
class Run:
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


def write_history(out: Path, history: list[dict]) -> None:
    """RUN/history.json and RUN/history.csv: one row per epoch (the keys of every row)."""
    (out / "history.json").write_text(json.dumps(history, indent=2))
    keys = list(dict.fromkeys(k for row in history for k in row))
    with open(out / "history.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(history)
