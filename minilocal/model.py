"""The local-feature network of Tarasiou & Zafeiriou (paper section 3.2, Fig. 1).

A trunk of 8 unpadded 3x3 convolutions and one max-pool, then two kinds of head:

* ``cls_head``: global average pooling (GAP) over the final feature map and a linear
  layer to 2 logits (real, fake) for the whole image;
* ``seg_head[name]``: a 1x1 convolution to 2 logits at every output location, one head
  per dense task (``fake``: manipulated pixels, ``face``: face region).

Why conv -> MaxPool(3, stride 2) -> 7 convs
--------------------------------------------
With stride-1 3x3 convolutions, each layer grows the receptive field by 2 x jump, where
jump is the product of the strides before it. The max-pool (kernel 3, stride 2) adds
2 x jump and doubles the jump. If the pool comes after p of the 8 convolutions::

    RF = 1 + 2p (convs before, jump 1) + 2 (the pool) + 4 (8 - p) (convs after, jump 2)
       = 35 - 2p

The paper's 33 px therefore needs p = 1: one conv, the pool, then 7 convs. For a
128 x 128 input: 126 after conv1, 62 after the pool, 62 - 14 = 48 after conv2..conv8,
so H' = floor((H - 3 - 3) / 2) + 1 - 14 = floor((H - 6) / 2) - 13 and output (i, j)
sees the 33 x 33 patch centred on input pixel (16 + 2i, 16 + 2j).
"""

from __future__ import annotations

import logging
from typing import NamedTuple, Sequence

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)

RECEPTIVE_FIELD = 33  # pixels; recomputed from the layers by receptive_field.receptive_field
CLASSES = ("real", "fake")  # index 1 is the positive class everywhere
DEFAULT_WIDTHS = (32, 64, 96, 128, 128, 160, 160, 160)  # ~0.98M parameters with 1-2 heads
SMALL_WIDTHS = (16, 24, 32, 48, 48, 64, 64, 64)  # ~0.15M parameters: CPU demos, quick grids


class Output(NamedTuple):
    """What :class:`LocalFeatureNet` returns.

    cls_logits: (N, 2) image logits (real, fake).
    seg_logits: {name: (N, 2, H', W')} per-location logits, one entry per head.
    """

    cls_logits: torch.Tensor
    seg_logits: dict[str, torch.Tensor]


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    """A 3x3, stride 1, padding 0 convolution, BatchNorm and ReLU (paper 3.2)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=0, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def check_images(images: torch.Tensor, min_size: int = RECEPTIVE_FIELD) -> None:
    """Raise a clear error unless ``images`` is a batch the network can take.

    Args:
        images: (N, 3, H, W) floating point RGB in [0, 1], H and W >= ``min_size``.

    Raises:
        TypeError: if not a floating point tensor.
        ValueError: on a wrong number of dimensions or channels, too small a size, or
            NaN/inf values.
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if not images.is_floating_point():
        raise TypeError(
            f"images must be a floating point tensor in [0, 1], got {images.dtype}; "
            "convert uint8 images with minilocal.model.to_input(...) or images.float() / 255"
        )
    if images.ndim != 4:
        raise ValueError(f"images must be (N, 3, H, W), got shape {tuple(images.shape)}")
    N, C, H, W = images.shape
    if C != 3:
        raise ValueError(
            f"images must have 3 (RGB) channels, got {C} in shape {tuple(images.shape)}; "
            "convert grayscale or RGBA to RGB first"
        )
    if H < min_size or W < min_size:
        raise ValueError(
            f"images must be at least {min_size}x{min_size} (the receptive field), "
            f"got {H}x{W}"
        )
    if not bool(torch.isfinite(images).all()):
        raise ValueError("images contain NaN or inf values")


def to_input(images: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
    """Turn uint8 RGB images into the network's input.

    Args:
        images: (H, W, 3) or (N, H, W, 3) uint8 RGB, or a list of equal-size (H, W, 3).

    Returns:
        (N, 3, H, W) float32 in [0, 1].

    Raises:
        ValueError: on a wrong dtype or shape.
    """
    arr = np.stack(images) if isinstance(images, (list, tuple)) else np.asarray(images)
    if arr.dtype != np.uint8:
        raise ValueError(f"images must be uint8 RGB, got dtype {arr.dtype}")
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"images must be (H, W, 3) or (N, H, W, 3) RGB, got {arr.shape}")
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float() / 255.0


class LocalFeatureNet(nn.Module):
    """The paper's network: a 33-px receptive-field trunk, a GAP classifier and dense heads.

    Args:
        seg_heads: names of the dense segmentation heads (k = len(seg_heads) >= 0),
            e.g. ``("fake",)`` or ``("fake", "face")``. Default: ``("fake",)``.
        widths: output channels of the 8 convolutions. Default: ``DEFAULT_WIDTHS``
            (about 0.98M trainable parameters, the paper's "~1M").
        check_inputs: validate every batch with :func:`check_images`. Default: True.

    Raises:
        ValueError: for a bare string as ``seg_heads``, empty or duplicate head names, or
            widths that are not 8 positive integers.

    Example:
        >>> net = LocalFeatureNet(seg_heads=("fake", "face"))
        >>> out = net(torch.rand(4, 3, 128, 128))
        >>> out.cls_logits.shape, out.seg_logits["fake"].shape
        (torch.Size([4, 2]), torch.Size([4, 2, 48, 48]))
    """

    def __init__(
        self,
        seg_heads: Sequence[str] = ("fake",),
        widths: Sequence[int] = DEFAULT_WIDTHS,
        check_inputs: bool = True,
    ) -> None:
        super().__init__()
        self.widths = _check_widths(widths)
        self.head_names = _check_heads(seg_heads)
        self.check_inputs = check_inputs
        layers: list[nn.Module] = [conv_bn_relu(3, self.widths[0])]
        layers.append(nn.MaxPool2d(kernel_size=3, stride=2, padding=0))
        for c_in, c_out in zip(self.widths[:-1], self.widths[1:]):
            layers.append(conv_bn_relu(c_in, c_out))
        self.trunk = nn.Sequential(*layers)
        self.cls_head = nn.Linear(self.widths[-1], len(CLASSES))
        self.seg_head = nn.ModuleDict(
            {name: nn.Conv2d(self.widths[-1], len(CLASSES), kernel_size=1)
             for name in self.head_names}
        )

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """Trunk features. (N, 3, H, W) -> (N, C, H', W'), C = widths[-1]."""
        if self.check_inputs:
            check_images(images)
        return self.trunk(images)

    def forward(self, images: torch.Tensor) -> Output:
        """Class logits (N, 2) and {name: (N, 2, H', W')} segmentation logits."""
        features = self.forward_features(images)
        cls_logits = self.cls_head(features.mean(dim=(2, 3)))  # GAP, then linear
        seg_logits = {name: head(features) for name, head in self.seg_head.items()}
        return Output(cls_logits, seg_logits)

    def config(self) -> dict:
        """The keyword arguments that rebuild this architecture."""
        return {"seg_heads": list(self.head_names), "widths": list(self.widths)}


def _check_widths(widths: Sequence[int]) -> tuple[int, ...]:
    """8 positive integer widths as a tuple, or ValueError."""
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise ValueError(f"widths must be a sequence of 8 integers, got {widths!r}")
    if len(widths) != 8:
        raise ValueError(f"widths must list 8 convolution widths, got {len(widths)}")
    if not all(isinstance(w, (int, np.integer)) and not isinstance(w, bool) and w >= 1
               for w in widths):
        raise ValueError(f"widths must be 8 positive integers, got {list(widths)}")
    return tuple(int(w) for w in widths)


def _check_heads(seg_heads: Sequence[str]) -> tuple[str, ...]:
    """Unique, non-empty head names as a tuple, or ValueError (a bare string is refused:
    "fake" would otherwise become the four heads f, a, k, e)."""
    if isinstance(seg_heads, (str, bytes)):
        raise ValueError(f"seg_heads must be a sequence of names, e.g. ({seg_heads!r},), "
                         f"not the bare string {seg_heads!r}")
    try:
        heads = tuple(seg_heads)
    except TypeError:
        raise ValueError(f"seg_heads must be a sequence of names, got {seg_heads!r}") from None
    bad = [h for h in heads if not isinstance(h, str) or not h or "." in h]
    if bad:
        raise ValueError(f"seg_heads must be non-empty names without '.', got {bad}")
    if len(set(heads)) != len(heads):
        raise ValueError(f"seg_heads must be unique names, got {list(heads)}")
    return heads


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def p_fake(cls_logits: torch.Tensor) -> torch.Tensor:
    """Classifier probability that each image is fake. (N, 2) -> (N,) in [0, 1]."""
    return torch.softmax(cls_logits.float(), dim=1)[:, 1]


def fake_probability_map(seg_logits: torch.Tensor) -> torch.Tensor:
    """Per-location forgery probability. (N, 2, H', W') -> (N, H', W') in [0, 1]."""
    return torch.softmax(seg_logits.float(), dim=1)[:, 1]


def seg_score(seg_logits: torch.Tensor) -> torch.Tensor:
    """Mean pixel forgery probability, the paper's second image score. (N, 2, H', W') -> (N,)."""
    return fake_probability_map(seg_logits).mean(dim=(1, 2))
