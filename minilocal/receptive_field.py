"""Receptive field arithmetic and segmentation labels at receptive-field centres (paper 3.3).

For a chain of convolutions and pools, each with kernel k, stride s and padding p, the
receptive field r, the jump j (distance in input pixels between neighbouring outputs)
and the start (input coordinate of the centre of output 0) follow the recurrences::

    j_out = j_in * s
    r_out = r_in + (k - 1) * j_in
    start_out = start_in + ((k - 1) / 2 - p) * j_in

starting from r = 1, j = 1, start = 0 (pixel centres at integer coordinates). The paper
takes segmentation labels "at the center of each final layer activation's receptive
field": output (i, j) gets the mask value at input pixel (start + jump * i, start + jump * j).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .model import LocalFeatureNet, count_parameters

__all__ = [
    "LayerGeometry",
    "layer_geometry",
    "summary",
    "receptive_field",
    "output_size",
    "rf_centres",
    "rf_box",
    "label_grid",
    "upsample_to_input",
]


@dataclass(frozen=True)
class LayerGeometry:
    """Geometry of one spatial layer, relative to the network input."""

    name: str  # e.g. "conv1", "pool"
    kernel: int  # kernel size (square)
    stride: int
    padding: int
    receptive_field: int  # pixels seen by one output of this layer
    jump: int  # input pixels between neighbouring outputs
    start: float  # input coordinate of the centre of output 0


def _spatial_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    root = getattr(model, "trunk", model)  # LocalFeatureNet: only the trunk, not the heads
    found, n_conv = [], 0
    for module in root.modules():
        if isinstance(module, nn.Conv2d):
            n_conv += 1
            found.append((f"conv{n_conv}", module))
        elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
            found.append(("pool", module))
    return found


def _pair(v) -> int:
    if isinstance(v, tuple):
        if len(set(v)) != 1:
            raise ValueError(f"only square kernels/strides/paddings are supported, got {v}")
        return int(v[0])
    return int(v)


def layer_geometry(model: nn.Module | None = None) -> list[LayerGeometry]:
    """Receptive field, jump and start after every spatial layer, computed analytically.

    Args:
        model: a :class:`~minilocal.model.LocalFeatureNet` (its trunk is used) or any module
            whose convolutions and pools run in registration order. Default: the paper's
            default network.

    Returns:
        one :class:`LayerGeometry` per convolution or pool, input to output.
    """
    if model is None:
        model = LocalFeatureNet(seg_heads=())
    rf, jump, start, rows = 1, 1, 0.0, []
    for name, layer in _spatial_layers(model):
        k, s, p = _pair(layer.kernel_size), _pair(layer.stride), _pair(layer.padding)
        if isinstance(layer, nn.Conv2d) and _pair(layer.dilation) != 1:
            raise ValueError(f"{name}: dilated convolutions are not supported")
        start = start + ((k - 1) / 2 - p) * jump
        rf = rf + (k - 1) * jump
        jump = jump * s
        rows.append(LayerGeometry(name, k, s, p, rf, jump, start))
    if not rows:
        raise ValueError(f"{type(model).__name__} has no convolution or pooling layers")
    return rows


def summary(model: LocalFeatureNet, size: int = 128) -> list[dict]:
    """One row per trunk layer: name, output shape, receptive field, jump, first centre.

    Args:
        model: the network.
        size: input height and width in pixels.

    Returns:
        list of dicts with keys ``layer``, ``out_shape`` (C, H', W'), ``receptive_field``,
        ``jump``, ``start`` and ``params``.
    """
    rows, channels, h = [], 3, size
    for g, module in zip(layer_geometry(model), model.trunk.children()):
        h = (h - g.kernel) // g.stride + 1
        convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
        if convs:
            channels = convs[0].out_channels
        rows.append({"layer": g.name, "out_shape": (channels, h, h),
                     "receptive_field": g.receptive_field, "jump": g.jump, "start": g.start,
                     "params": count_parameters(module)})
    return rows


def receptive_field(model: nn.Module | None = None) -> int:
    """Receptive field of the final layer in input pixels (33 for the paper's network)."""
    return layer_geometry(model)[-1].receptive_field


def output_size(size: int, model: nn.Module | None = None) -> int:
    """Side H' of the output map for an H = ``size`` input (48 for 128 in the paper's net).

    Raises:
        ValueError: if the input is smaller than the receptive field.
    """
    h = size
    for g in layer_geometry(model):
        h = (h + 2 * g.padding - g.kernel) // g.stride + 1
        if h < 1:
            raise ValueError(f"input of {size} px is too small: the network needs >= "
                             f"{receptive_field(model)} px")
    return h


def rf_centres(size: int, model: nn.Module | None = None) -> np.ndarray:
    """Input pixel (row or column) at the centre of each output's receptive field.

    Returns:
        (H',) int64, ``start + jump * arange(H')``; 16, 18, ..., 110 for 128 px.
    """
    g = layer_geometry(model)[-1]
    if g.start != int(g.start):
        raise ValueError(f"receptive-field centres fall between pixels (start={g.start})")
    return int(g.start) + g.jump * np.arange(output_size(size, model), dtype=np.int64)


def rf_box(i: int, j: int, model: nn.Module | None = None) -> tuple[int, int, int, int]:
    """The input patch that output (i, j) sees, as (x0, y0, x1, y1), inclusive-exclusive.

    Example: ``rf_box(0, 0)`` is (0, 0, 33, 33) for the paper's network.
    """
    g = layer_geometry(model)[-1]
    half = (g.receptive_field - 1) // 2
    cy, cx = int(g.start) + g.jump * i, int(g.start) + g.jump * j
    return cx - half, cy - half, cx + half + 1, cy + half + 1


def label_grid(mask: np.ndarray | torch.Tensor, model: nn.Module | None = None):
    """Segmentation labels: the mask sampled at every output's receptive-field centre.

    Args:
        mask: (H, W) or (N, H, W) mask, numpy or torch, values in {0, 1}.
        model: the network whose geometry to use. Default: the paper's network.

    Returns:
        (H', W') or (N, H', W'), same type and dtype as ``mask``.

    Raises:
        ValueError: if the mask is not 2-D or 3-D.
    """
    if mask.ndim not in (2, 3):
        raise ValueError(f"mask must be (H, W) or (N, H, W), got shape {tuple(mask.shape)}")
    H, W = mask.shape[-2:]
    rows, cols = rf_centres(H, model), rf_centres(W, model)
    if isinstance(mask, torch.Tensor):
        r = torch.as_tensor(rows, device=mask.device)
        c = torch.as_tensor(cols, device=mask.device)
        return mask.index_select(-2, r).index_select(-1, c)
    return mask[..., rows[:, None], cols[None, :]]


def upsample_to_input(prob_map: torch.Tensor, size: int,
                      model: nn.Module | None = None) -> torch.Tensor:
    """Spread an output map back onto the input through the receptive-field centres.

    Bilinear between centres, the border value beyond the outermost centres.

    Args:
        prob_map: (N, H', W') float, e.g. per-location forgery probability.
        size: input side H (= W) in pixels.

    Returns:
        (N, H, W) float.
    """
    N, Hp, Wp = prob_map.shape
    g = layer_geometry(model)[-1]
    start, jump = int(g.start), g.jump
    span_h, span_w = (Hp - 1) * jump + 1, (Wp - 1) * jump + 1
    x = F.interpolate(prob_map[:, None].float(), size=(span_h, span_w), mode="bilinear",
                      align_corners=True)
    pad = (start, size - span_w - start, start, size - span_h - start)
    return F.pad(x, pad, mode="replicate")[:, 0]
