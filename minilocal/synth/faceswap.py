"""Computer-vision FaceSwap of FaceForensics++ (Rossler et al., ICCV 2019), paper 3.1.

Delaunay triangulation of the target landmarks, piecewise-affine warp of a *source* face
onto it (:mod:`.warp`), colour transfer (LAB mean and std), seamless cloning or feathered
alpha blending, with an exact forgery mask (:mod:`.blend`).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from .blend import (MIN_MASK_FRACTION, SynthResult, _check_face, _face_size, _feather,
                    _finish, _hull, _match_colour, _morph, _window)
from .warp import warp_face

logger = logging.getLogger(__name__)


def faceswap(target: np.ndarray, target_landmarks: np.ndarray, source: np.ndarray,
             source_landmarks: np.ndarray, rng: np.random.Generator,
             blend: str | None = None, source_index: int = -1) -> SynthResult:
    """Computer-vision FaceSwap (as in FaceForensics++): the source face on the target.

    Steps: Delaunay triangulation (cv2.Subdiv2D) of the 68 target landmarks and 8 frame
    anchors; piecewise-affine warp of the source onto it (:func:`warp_face`);
    LAB mean/std colour transfer inside the face region (the landmark hull,
    eroded by 3 % of the face size); then ``cv2.seamlessClone`` (``blend="seamless"``) or
    nothing (``"alpha"``), and a feathered alpha blend into the target.

    Args:
        target: (H, W, 3) uint8 RGB real face; source: (H_s, W_s, 3) uint8 RGB.
        target_landmarks, source_landmarks: (68, 2) float (x, y) in their image's pixels.
        rng: numpy Generator; the result is a function of the inputs and its state.
        blend: "seamless" or "alpha". Default: random, half each.
        source_index: recorded in the result (pool index of the source).

    Returns:
        a :class:`SynthResult` (method "faceswap", detail = blend).

    Raises:
        ValueError: on missing or malformed landmarks, collinear points, a face off the
            image, an unknown ``blend``, or a swap that changes too few pixels.

    Example:
        >>> r = faceswap(tgt, tgt_pts, src, src_pts, np.random.default_rng(0))
        >>> r.fake.shape, r.mask.shape   # ((128, 128, 3), (128, 128))
    """
    target, tl = _check_face("target", target, target_landmarks)
    source, sl = _check_face("source", source, source_landmarks)
    if blend is None:
        blend = ("seamless", "alpha")[int(rng.integers(2))]
    if blend not in ("seamless", "alpha"):
        raise ValueError(f"blend must be 'seamless' or 'alpha', got {blend!r}")
    H, W = target.shape[:2]
    size = _face_size(tl)
    region = _morph(_hull(tl, H, W), cv2.MORPH_ERODE, 0.03 * size)
    region[[0, -1], :] = 0
    region[:, [0, -1]] = 0
    if region.sum() < MIN_MASK_FRACTION * H * W:
        raise ValueError("faceswap: the face region is too small after erosion")
    soft = _feather(region, rng.uniform(0.015, 0.04) * size)
    win = _window(region)
    warped, _ = warp_face(source, sl, tl, H, W, window=win)
    manipulated = _match_colour(warped, target[win], region[win])
    if blend == "seamless":  # Poisson blending inside the window
        x, y, w, h = cv2.boundingRect(region[win])
        manipulated = cv2.seamlessClone(np.rint(manipulated).astype(np.uint8),
                                        np.ascontiguousarray(target[win]), region[win] * 255,
                                        (x + w // 2, y + h // 2),
                                        cv2.NORMAL_CLONE).astype(np.float32)
    return _finish(target, manipulated, soft, "faceswap", win, blend, source_index)
