"""Batch augmentation on tensors: random crops and horizontal flips (paper section 3.2),
and the photometric changes a face meets between a camera and a detector: JPEG
re-encoding and colour jitter (:func:`photometric`).

The network sees only 33 x 33 patches, so a random ``crop`` x ``crop`` window of the
aligned face keeps all of its local evidence at a fraction of the compute. Images and
their masks are cropped and flipped identically, and everything random here is drawn
from a :class:`torch.Generator` seeded by (seed, epoch, step): the same step of the same
run always sees the same batch, which is what makes resuming a killed run exact.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import torch

__all__ = ["step_generator", "epoch_order", "crop_offsets", "crop", "centre_crop",
           "hflip", "augment_batch", "jpeg", "photometric"]


def _seed_of(*keys: int) -> int:
    text = ":".join(str(int(k)) for k in keys)
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)


def step_generator(seed: int, epoch: int, step: int, rank: int = 0) -> torch.Generator:
    """A CPU generator that is a pure function of (seed, epoch, step, rank)."""
    return torch.Generator().manual_seed(_seed_of(seed, epoch, step, rank))


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled order of ``n`` items for one epoch. Returns (n,) int64, a permutation."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(_seed_of(seed, epoch, -1)))


def crop_offsets(n: int, size: int, crop_size: int,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Top-left corners of ``n`` uniformly random ``crop_size`` windows in a ``size`` square.

    Returns:
        (n, 2) int64, (row, column), each in [0, size - crop_size].

    Raises:
        ValueError: if ``crop_size`` is not in [1, size].
    """
    if not 1 <= crop_size <= size:
        raise ValueError(f"crop size must be in [1, {size}] (the image side), got {crop_size}")
    return torch.randint(0, size - crop_size + 1, (n, 2), generator=generator)


def crop(x: torch.Tensor, offsets: torch.Tensor, crop_size: int) -> torch.Tensor:
    """Cut one window per sample.

    Args:
        x: (N, C, H, W) or (N, H, W), any dtype.
        offsets: (N, 2) int64 (row, column) of each window's top-left corner.
        crop_size: the window side S.

    Returns:
        (N, C, S, S) or (N, S, S), same dtype and device as ``x``.
    """
    N = x.shape[0]
    ar = torch.arange(crop_size, device=x.device)
    offsets = offsets.to(x.device)
    rows = offsets[:, :1] + ar  # (N, S)
    cols = offsets[:, 1:] + ar
    n = torch.arange(N, device=x.device)
    if x.ndim == 3:
        return x[n[:, None, None], rows[:, :, None], cols[:, None, :]]
    c = torch.arange(x.shape[1], device=x.device)
    return x[n[:, None, None, None], c[None, :, None, None], rows[:, None, :, None],
             cols[:, None, None, :]]


def centre_crop(x: torch.Tensor, crop_size: int) -> torch.Tensor:
    """The central ``crop_size`` window of (..., H, W); the input itself if it fits exactly.

    Raises:
        ValueError: if ``crop_size`` is larger than H or W.
    """
    H, W = x.shape[-2:]
    if crop_size > min(H, W):
        raise ValueError(f"crop size {crop_size} is larger than the {H}x{W} images")
    top, left = (H - crop_size) // 2, (W - crop_size) // 2
    return x[..., top:top + crop_size, left:left + crop_size]


def hflip(x: torch.Tensor, flags: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the samples where ``flags`` is True. (N, ..., W) -> same shape."""
    shape = (-1,) + (1,) * (x.ndim - 1)
    return torch.where(flags.to(x.device).view(shape), x.flip(-1), x)


def augment_batch(images: torch.Tensor, masks: dict[str, torch.Tensor], crop_size: int,
                  generator: torch.Generator, flip: bool = True,
                  ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Random crop (the same window for an image and its masks) and random h-flip.

    Args:
        images: (N, C, H, W) any dtype, H = W.
        masks: {head: (N, H, W)} dense masks of the same images.
        crop_size: side S of the random window; S = H keeps the whole image.
        generator: the source of randomness, e.g. :func:`step_generator`.
        flip: mirror each sample with probability 1/2.

    Returns:
        (N, C, S, S) images and {head: (N, S, S)} masks.

    Example:
        >>> g = step_generator(seed=0, epoch=0, step=0)
        >>> masks = {"fake": torch.zeros(8, 128, 128)}
        >>> x, m = augment_batch(torch.zeros(8, 3, 128, 128), masks, 64, g)
        >>> x.shape, m["fake"].shape
        (torch.Size([8, 3, 64, 64]), torch.Size([8, 64, 64]))
    """
    N, C, H, W = images.shape
    offsets = crop_offsets(N, min(H, W), crop_size, generator)
    flags = torch.rand(N, generator=generator) < 0.5
    if crop_size < min(H, W):
        images = crop(images, offsets, crop_size)
        masks = {k: crop(m, offsets, crop_size) for k, m in masks.items()}
    if flip:
        images = hflip(images, flags)
        masks = {k: hflip(m, flags) for k, m in masks.items()}
    return images, masks


def jpeg(images: torch.Tensor, qualities: Sequence[int]) -> torch.Tensor:
    """Re-encode each image as a JPEG of the given quality and decode it (OpenCV).

    Args:
        images: (N, 3, H, W) uint8 RGB, any device.
        qualities: N ints in [1, 100]; 0 or less leaves that image as it is.

    Returns:
        (N, 3, H, W) uint8, same device.
    """
    import cv2
    import numpy as np

    out = images.clone()
    arr = images.permute(0, 2, 3, 1).cpu().numpy()
    for i, q in enumerate(qualities):
        if q <= 0:
            continue
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(arr[i], cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, int(q)])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        rgb = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        out[i] = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).to(out.device)
    return out


def photometric(images: torch.Tensor, generator: torch.Generator, jpeg_p: float = 0.0,
                jpeg_quality: tuple[int, int] = (60, 95), colour: float = 0.0
                ) -> torch.Tensor:
    """Random JPEG re-encoding and colour jitter; masks are unchanged by both.

    Each image is re-encoded with probability ``jpeg_p`` at a quality drawn uniformly from
    ``jpeg_quality``, then its brightness, contrast and saturation are each scaled by a
    factor drawn from [1 - colour, 1 + colour]. The random numbers are drawn whatever the
    settings, so a run's other draws never depend on them.

    Args:
        images: (N, 3, H, W) uint8 RGB.
        generator: e.g. :func:`step_generator`.
        jpeg_p: probability of JPEG re-encoding. Default: 0 (off).
        jpeg_quality: (lowest, highest) JPEG quality. Default: (60, 95).
        colour: jitter strength in [0, 1). Default: 0 (off).

    Returns:
        (N, 3, H, W) uint8.
    """
    N = images.shape[0]
    u = torch.rand(N, 5, generator=generator)
    if jpeg_p > 0:
        lo, hi = jpeg_quality
        q = (lo + u[:, 1] * (hi - lo + 1)).long().clamp(lo, hi)
        images = jpeg(images, torch.where(u[:, 0] < jpeg_p, q, 0).tolist())
    if colour > 0:
        f = (1 + colour * (2 * u[:, 2:] - 1)).to(images.device)  # (N, 3) factors
        x = images.float()
        grey = x.mean(dim=1, keepdim=True)  # (N, 1, H, W)
        x = grey + (x - grey) * f[:, 2, None, None, None]  # saturation
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = mean + (x - mean) * f[:, 1, None, None, None]  # contrast
        x = x * f[:, 0, None, None, None]  # brightness
        images = x.round_().clamp_(0, 255).to(torch.uint8)
    return images
