"""Part swap: the eyes, nose or mouth of another face, colour-corrected (paper 3.1).

A local variant of the FaceForensics++ FaceSwap (:mod:`.faceswap`): the same
piecewise-affine warp (:mod:`.warp`), blended only inside one dilated part hull, with an
exact forgery mask (:mod:`.blend`).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from .blend import (MIN_MASK_FRACTION, SOFT_FLOOR, SynthResult, _check_face, _face_size,
                    _finish, _hull, _match_colour, _morph, _window)
from .warp import warp_face

logger = logging.getLogger(__name__)

# 68-point (iBUG / dlib) indices of each swappable part; one convex hull per tuple
PARTS = {
    "eyes": (tuple(range(36, 42)), tuple(range(42, 48))),
    "nose": (tuple(range(27, 36)),),
    "mouth": (tuple(range(48, 60)),),
}
PART_DILATION = {"eyes": 0.07, "nose": 0.05, "mouth": 0.06}  # x face size (sqrt hull area)


def part_swap(target: np.ndarray, target_landmarks: np.ndarray, source: np.ndarray,
              source_landmarks: np.ndarray, rng: np.random.Generator,
              part: str | None = None, source_index: int = -1) -> SynthResult:
    """Replace one facial part (eyes, nose or mouth) with the same part of another face.

    The source is warped onto the target piecewise-affinely (as in :func:`faceswap`); the
    part's landmark hull (two for the eyes) is dilated by :data:`PART_DILATION` x the face
    size and feathered; the warped part is colour-matched (LAB) to the target there.

    Args:
        target, target_landmarks, source, source_landmarks, rng: as :func:`faceswap`.
        part: a key of :data:`PARTS`. Default: random.
        source_index: recorded in the result.

    Returns:
        a :class:`SynthResult` (method "partswap", detail = part).

    Raises:
        ValueError: as :func:`faceswap`, or on an unknown ``part``.
    """
    target, tl = _check_face("target", target, target_landmarks)
    source, sl = _check_face("source", source, source_landmarks)
    part = part or sorted(PARTS)[int(rng.integers(len(PARTS)))]
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; expected one of {sorted(PARTS)}")
    H, W = target.shape[:2]
    size = _face_size(tl)
    region = np.zeros((H, W), np.uint8)
    for idx in PARTS[part]:
        region |= _hull(tl[list(idx)], H, W)
    region = _morph(region, cv2.MORPH_DILATE, PART_DILATION[part] * size)
    if region.sum() < MIN_MASK_FRACTION * H * W:
        raise ValueError(f"partswap: the {part} region is too small or off the image")
    sigma = rng.uniform(0.4, 0.8) * PART_DILATION[part] * size
    soft = cv2.GaussianBlur(region.astype(np.float32), (0, 0), sigma)
    soft[soft < SOFT_FLOOR] = 0
    win = _window(soft)
    warped, _ = warp_face(source, sl, tl, H, W, window=win)
    manipulated = _match_colour(warped, target[win], region[win])
    return _finish(target, manipulated, soft, "partswap", win, part, source_index)
