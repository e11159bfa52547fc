"""Self-blended images (SBI, Shiohara & Yamasaki, CVPR 2022): source = target, paper 3.1.

A perturbed, slightly shifted copy of the face is blended back into it through a deformed,
blurred landmark hull; the exact forgery mask comes from :mod:`.blend`.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from .blend import (MIN_MASK_FRACTION, SOFT_FLOOR, SynthResult, _check_face, _face_size,
                    _finish, _hull, _window)

logger = logging.getLogger(__name__)

SBI_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # blend ratios, as in SBI's dynamic_blend


def _perturb(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SBI source transforms: colour (RGB shift, hue, saturation, brightness, contrast)
    and frequency (blur, sharpen or down-up sampling). (H, W, 3) float32 in [0, 255]."""
    H, W = image.shape[:2]
    x = image.astype(np.float32) / 255
    hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-10, 10)) % 360
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.8, 1.2), 0, 1)
    x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) + rng.uniform(-0.06, 0.06, 3).astype(np.float32)
    x = (x - x.mean()) * rng.uniform(0.85, 1.15) + x.mean() + rng.uniform(-0.08, 0.08)
    kind = rng.integers(4)
    if kind == 1:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.5, 1.2))
    elif kind == 2:
        x = x + rng.uniform(0.3, 1.0) * (x - cv2.GaussianBlur(x, (0, 0), 1.0))
    elif kind == 3:
        f = rng.uniform(0.4, 0.75)
        small = cv2.resize(x, (max(8, int(W * f)), max(8, int(H * f))),
                           interpolation=cv2.INTER_AREA)
        x = cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR)
    return np.clip(x * 255, 0, 255)


def _elastic(mask: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Smooth random displacement (up to ~``amplitude`` px) of a (H, W) float mask."""
    H, W = mask.shape
    field = cv2.resize(rng.uniform(-1, 1, (6, 6, 2)).astype(np.float32), (W, H),
                       interpolation=cv2.INTER_CUBIC) * amplitude
    gx, gy = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
    return cv2.remap(mask, gx + field[..., 0], gy + field[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def self_blend(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator,
               hull: str | None = None) -> SynthResult:
    """Self-blended image (SBI, Shiohara & Yamasaki, CVPR 2022): source = target.

    A copy of the face is perturbed (:func:`_perturb`) and shifted by a small affine map
    (translation up to 3 % x / 1.5 % y, scale 0.95 to 1.05); the landmark hull
    (``"face"``: all 68 points, ``"inner"``: brows, eyes, nose and mouth) is deformed
    elastically, moved with the copy, blurred twice with random Gaussians (the first
    blur's fringe cut off) and scaled by a ratio from :data:`SBI_RATIOS`.

    Args:
        image: (H, W, 3) uint8 RGB real face.
        landmarks: (68, 2) float (x, y) in pixels.
        rng: numpy Generator.
        hull: "face" or "inner". Default: random.

    Returns:
        a :class:`SynthResult` (method "sbi", detail = hull).

    Raises:
        ValueError: as :func:`faceswap`, or on an unknown ``hull``.
    """
    image, pts = _check_face("image", image, landmarks)
    H, W = image.shape[:2]
    hull = hull or ("face", "inner")[int(rng.integers(2))]
    if hull not in ("face", "inner"):
        raise ValueError(f"hull must be 'face' or 'inner', got {hull!r}")
    region = _hull(pts if hull == "face" else pts[17:], H, W).astype(np.float32)
    source = _perturb(image, rng)
    M = cv2.getRotationMatrix2D((W / 2, H / 2), 0.0, rng.uniform(0.95, 1.05))
    M[:, 2] += (rng.uniform(-0.03, 0.03) * W, rng.uniform(-0.015, 0.015) * H)
    source = cv2.warpAffine(source, M, (W, H), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT_101)
    size = _face_size(pts)
    soft = _elastic(region, rng, rng.uniform(0.01, 0.04) * size)
    soft = cv2.warpAffine(soft, M, (W, H), flags=cv2.INTER_LINEAR)
    first = cv2.GaussianBlur(soft, (0, 0), rng.uniform(0.01, 0.05) * size)
    if (first >= 0.999).sum() > MIN_MASK_FRACTION * H * W:
        first[first < 0.999] = 0  # SBI: cut the fringe, the mask shrinks
    soft = cv2.GaussianBlur(first, (0, 0), rng.uniform(0.01, 0.06) * size)
    soft = soft / max(float(soft.max()), 1e-6) * SBI_RATIOS[int(rng.integers(len(SBI_RATIOS)))]
    soft[soft < SOFT_FLOOR] = 0
    win = _window(soft)
    return _finish(image, source[win], soft, "sbi", win, hull)
