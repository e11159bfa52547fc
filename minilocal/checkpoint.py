"""Checkpoints: weights in safetensors plus a JSON config, written atomically, never pickled.

A checkpoint is a pair of files with a common stem::

    RUN/best.safetensors   the model's state_dict (tensors only; no code is ever loaded)
    RUN/best.json          {"model": LocalFeatureNet.config(), ...anything: lambdas, data,
                            seed, metrics}

``load_checkpoint`` accepts either file's path or the stem.

The two files are renamed one after the other, so a crash between the renames could pair
new weights with a stale config. The weights' safetensors metadata therefore holds the
sha256 of the exact JSON text saved with them (``config_sha256``); a loader refuses a pair
whose hashes differ. Checkpoints written before this (no ``config_sha256``) still load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .model import DEFAULT_WIDTHS, LocalFeatureNet
from .runtime import unwrap

logger = logging.getLogger(__name__)

__all__ = ["save_checkpoint", "load_checkpoint", "read_config", "read_checkpoint",
           "check_architecture", "default_checkpoint", "checkpoint_paths"]

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_NAME = "minilocal_default"
HASH_KEY = "config_sha256"  # safetensors metadata: sha256 of the JSON file's bytes
MAX_WIDTH = 4096  # a checkpoint asking for wider convolutions is refused before allocating
MAX_HEADS = 64  # and so is one with more segmentation heads


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
    module = unwrap(model)  # the model inside DDP / torch.compile
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    for k, v in (extra_tensors or {}).items():
        tensors[f"extra.{k}"] = v.detach().cpu().contiguous()
    body = {"model": module.config(), **(config or {})}
    tmp_w = weights.with_name(weights.name + ".tmp")
    tmp_m = meta.with_name(meta.name + ".tmp")
    text = json.dumps(body, indent=2, default=str).encode()
    save_file(tensors, str(tmp_w), metadata={"format": "minilocal", HASH_KEY: _sha256(text)})
    tmp_m.write_bytes(text)
    os.replace(tmp_w, weights)
    os.replace(tmp_m, meta)
    return weights


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_body(meta: Path) -> tuple[dict[str, Any], bytes]:
    """The parsed config and its raw bytes, or a clear error."""
    if not meta.is_file():
        raise FileNotFoundError(f"checkpoint config {meta} not found")
    raw = meta.read_bytes()
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{meta} is not valid JSON: {err}") from None
    if not isinstance(body, dict):
        raise ValueError(f"{meta} holds a JSON {type(body).__name__}, not an object with a "
                         "'model' entry; not a minilocal checkpoint")
    if "model" not in body:
        raise ValueError(f"{meta} has no 'model' entry; not a minilocal checkpoint")
    return body, raw


def read_config(path: str | Path) -> dict[str, Any]:
    """The JSON config of a checkpoint.

    Raises:
        FileNotFoundError: if the config file is missing.
        ValueError: if it is not valid JSON, not an object or lacks the "model" entry.
    """
    return _read_body(checkpoint_paths(path)[1])[0]


def check_architecture(model: Any, where: str | Path = "checkpoint") -> dict[str, Any]:
    """The config's "model" entry, if it is exactly what LocalFeatureNet takes and within
    bounds (8 integer widths in 1..MAX_WIDTH, at most MAX_HEADS head names); checked before
    anything is allocated.

    Raises:
        ValueError: naming ``where`` and the offending field.
    """
    if not isinstance(model, dict):
        raise ValueError(f"{where}: 'model' must be an object, got {type(model).__name__}")
    unknown = sorted(set(model) - {"seg_heads", "widths"})
    if unknown:
        raise ValueError(f"{where}: config 'model' entry does not describe a "
                         f"LocalFeatureNet: unknown fields {unknown}")
    widths = model.get("widths", list(DEFAULT_WIDTHS))
    if (not isinstance(widths, list) or len(widths) != 8
            or not all(type(w) is int and 1 <= w <= MAX_WIDTH for w in widths)):
        raise ValueError(f"{where}: 'widths' must be 8 integers in 1..{MAX_WIDTH}, got "
                         f"{str(widths)[:200]}")
    heads = model.get("seg_heads", ["fake"])
    if (not isinstance(heads, list) or len(heads) > MAX_HEADS
            or not all(isinstance(h, str) for h in heads)):
        raise ValueError(f"{where}: 'seg_heads' must be a list of at most {MAX_HEADS} "
                         f"names, got {str(heads)[:200]}")
    return model


def _check_pair(weights: Path, meta: Path, raw: bytes) -> None:
    """Refuse weights whose stored config hash is not that of ``meta``'s bytes."""
    try:
        with safe_open(str(weights), "pt") as f:
            stored = (f.metadata() or {}).get(HASH_KEY)
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{weights} is not a readable safetensors file "
                         f"(truncated or corrupt?): {err}") from None
    if stored is None:
        logger.debug("%s has no %s (saved by an older minilocal)", weights, HASH_KEY)
    elif stored != _sha256(raw):
        raise ValueError(f"weights and config are from different saves: {weights.name} was "
                         f"saved with another {meta.name} (an interrupted save, or a file "
                         "copied or edited by hand); save it again or use another checkpoint")


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and the config of a checkpoint, checked to be one save.

    Returns:
        (all tensors, ``extra.*`` included; the parsed config).

    Raises:
        FileNotFoundError: if a file is missing.
        ValueError: for a bad config (see :func:`read_config`, :func:`check_architecture`),
            unreadable weights, or weights and config from different saves.
    """
    weights, meta = checkpoint_paths(path)
    config, raw = _read_body(meta)
    check_architecture(config["model"], meta)
    if not weights.is_file():
        raise FileNotFoundError(f"checkpoint weights {weights} not found")
    _check_pair(weights, meta, raw)
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{weights} is not a readable safetensors file "
                         f"(truncated or corrupt?): {err}") from None
    return tensors, config


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
        ValueError: if the file is truncated or not safetensors, the config is not an
            object or asks for an architecture out of bounds, weights and config are from
            different saves, or its tensors do not fit the architecture in the config.
    """
    weights, _ = checkpoint_paths(path if path is not None else default_checkpoint())
    tensors, config = read_checkpoint(weights)
    state = {k: v for k, v in tensors.items() if not k.startswith("extra.")}
    try:
        model = LocalFeatureNet(**config["model"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{weights}: config 'model' entry does not describe a "
                         f"LocalFeatureNet: {err}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{weights} does not match the architecture in its config "
                         f"(another architecture?): {str(err).splitlines()[0]}") from None
    return model.to(device).eval(), config
