"""Checkpoints: weights in safetensors plus a JSON config, written atomically, never pickled.

A checkpoint is a pair of files with a common stem::

    RUN/best.safetensors   the model's state_dict (tensors only; no code is ever loaded)
    RUN/best.json          {"model": LocalFeatureNet.config(), ...anything: lambdas, data,
                            seed, metrics}

``load_checkpoint`` accepts either file's path or the stem.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .model import LocalFeatureNet

logger = logging.getLogger(__name__)

__all__ = ["save_checkpoint", "load_checkpoint", "read_config", "default_checkpoint",
           "checkpoint_paths"]

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_NAME = "minilocal_default"


def checkpoint_paths(path: str | Path) -> tuple[Path, Path]:
    """(weights .safetensors, config .json) for a checkpoint given by either file or stem."""
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def default_checkpoint() -> Path:
    """The pretrained checkpoint shipped inside the package (weights file path)."""
    return WEIGHTS_DIR / f"{DEFAULT_NAME}.safetensors"


def save_checkpoint(path: str | Path, model: LocalFeatureNet, config: dict[str, Any] | None = None,
                    extra_tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """Write weights and config atomically (temp file + rename); returns the weights path.

    Args:
        path: the stem or either file name, e.g. ``runs/a/best``.
        model: the network (its ``config()`` is stored under ``"model"``).
        config: anything JSON-serialisable to store beside it (lambdas, data, metrics).
        extra_tensors: more tensors to store in the same file under their own names
            (e.g. optimizer state for resuming); prefixed ``extra.``.
    """
    weights, meta = checkpoint_paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    module = getattr(model, "module", model)  # unwrap DDP
    module = getattr(module, "_orig_mod", module)  # unwrap torch.compile
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    for k, v in (extra_tensors or {}).items():
        tensors[f"extra.{k}"] = v.detach().cpu().contiguous()
    body = {"model": module.config(), **(config or {})}
    tmp_w = weights.with_name(weights.name + ".tmp")
    tmp_m = meta.with_name(meta.name + ".tmp")
    save_file(tensors, str(tmp_w), metadata={"format": "minilocal"})
    tmp_m.write_text(json.dumps(body, indent=2, default=str))
    os.replace(tmp_w, weights)
    os.replace(tmp_m, meta)
    return weights


def read_config(path: str | Path) -> dict[str, Any]:
    """The JSON config of a checkpoint.

    Raises:
        FileNotFoundError: if the config file is missing.
        ValueError: if it is not valid JSON or lacks the "model" entry.
    """
    _, meta = checkpoint_paths(path)
    if not meta.is_file():
        raise FileNotFoundError(f"checkpoint config {meta} not found")
    try:
        body = json.loads(meta.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{meta} is not valid JSON: {err}") from None
    if "model" not in body:
        raise ValueError(f"{meta} has no 'model' entry; not a minilocal checkpoint")
    return body


def load_checkpoint(path: str | Path | None = None, device: str | torch.device = "cpu",
                    ) -> tuple[LocalFeatureNet, dict[str, Any]]:
    """Rebuild the network from a checkpoint, in eval mode.

    Args:
        path: the stem or either file name. Default: the shipped pretrained checkpoint.
        device: where to put the model.

    Returns:
        (model, config).

    Raises:
        FileNotFoundError: if a file is missing.
        ValueError: if the file is truncated or not safetensors, or its tensors do not fit
            the architecture in the config (a checkpoint from another architecture).
    """
    weights, _ = checkpoint_paths(path if path is not None else default_checkpoint())
    config = read_config(weights)
    if not weights.is_file():
        raise FileNotFoundError(f"checkpoint weights {weights} not found")
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{weights} is not a readable safetensors file "
                         f"(truncated or corrupt?): {err}") from None
    state = {k: v for k, v in tensors.items() if not k.startswith("extra.")}
    try:
        model = LocalFeatureNet(**config["model"])
    except TypeError as err:
        raise ValueError(f"{weights}: config 'model' entry does not describe a "
                         f"LocalFeatureNet: {err}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{weights} does not match the architecture in its config "
                         f"(another architecture?): {str(err).splitlines()[0]}") from None
    return model.to(device).eval(), config
