"""The training recipe: every setting of a run and its schedules (paper sections 3.3 and 4).

:class:`TrainConfig` holds the settings, each field with its meaning and default (the
shipped checkpoint's recipe); it checks them when it is made. Over the run's progress (0..1,
the fraction of the run done) :func:`lr_at` gives the learning rate (warm-up, then cosine
or constant) and :func:`crop_size_at` the training crop side. :func:`minilocal.train.fit`
runs a recipe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

from .loss import check_lambdas
from .masks import MASK_KINDS, MIN_CHANGE
from .model import DEFAULT_WIDTHS, RECEPTIVE_FIELD

__all__ = ["TrainConfig", "lr_at", "crop_size_at", "CPU_TRAIN_SIZE"]

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
