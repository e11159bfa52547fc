"""Where a model runs: the device, bf16 autocast, eval mode, and the model inside its wrappers.

Training (:mod:`minilocal.train`), evaluation, prediction and attribution all ask the same
four questions of the hardware and of a model; this module answers them once.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

__all__ = ["pick_device", "bf16_supported", "use_bf16", "model_device", "eval_mode", "unwrap"]


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """The torch device for ``name``: "auto" (CUDA when torch sees a GPU), "cpu" or "cuda".

    ``local_rank`` chooses the GPU of this process under torchrun (and makes it current).

    Raises:
        ValueError: for "cuda" when torch sees no CUDA GPU.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' asked for but torch sees no CUDA GPU; use 'cpu'")
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 natively, so that bf16 autocast pays.

    CUDA: ``torch.cuda.is_bf16_supported()``. CPU: native bf16 (AVX512-BF16 / AMX), where a
    training step measured 2.0x (64 px crops) to 2.6x (128 px) and inference about 3x faster
    than fp32 for this network (ci/bench_crop_size.py --step-speed, AMD EPYC). torch has no
    public probe for the CPU case; this is the one place that calls the private one.
    Any other device (e.g. "meta"): False.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def use_bf16(amp: str, device: torch.device) -> bool:
    """Whether to autocast to bf16 for the setting ``amp``: "bf16" (always), "off" (never) or
    "auto" (where :func:`bf16_supported`)."""
    return bf16_supported(device) if amp == "auto" else amp == "bf16"


def model_device(model: nn.Module, device: str | torch.device | None = None) -> torch.device:
    """``device`` when given, else the device of the model's first parameter (CPU if none)."""
    if device is not None:
        return torch.device(device)
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put the model in eval mode (BatchNorm statistics fixed) and restore its mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside DistributedDataParallel (``.module``) and torch.compile
    (``._orig_mod``): the one whose state_dict and config() are saved."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)
