"""Blending a manipulated face into its target, with an exact forgery mask (paper 3.1).

Shared by every method (:mod:`.faceswap`, :mod:`.sbi`, :mod:`.partswap`): the
:class:`SynthResult`, the input checks, the face masks (hull, morphology, feathering) and
Reinhard LAB colour transfer, and :func:`_finish`, the alpha blend that derives the mask.

Exact-mask contract, for every result ``r`` of every method::

    (r.fake != r.target).any(-1)  implies  r.mask == 1   (outside the mask: same pixels)
    r.mask == 1                   iff      r.soft_mask > 0

and most masked pixels differ from the target (:data:`MIN_CHANGED_FRACTION` in tests).
The mask is the set of pixels the final blend changed, closed (3x3) to fill pinholes,
specks dropped; dropped pixels are reset to the target. Inputs that cannot give a fake
(no landmarks, collinear landmarks, a face off the image, a pool with one face) raise
``ValueError`` with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from ..masks import cvm

logger = logging.getLogger(__name__)

MIN_INSIDE_FRACTION = 0.5  # at least this share of the face hull must lie in the image
MIN_MASK_FRACTION = 0.003  # fewer changed pixels than this x H x W: no usable fake
MIN_COMPONENT_FRACTION = 0.0005  # changed specks smaller than this x H x W are reset
MIN_CHANGED_FRACTION = 0.85  # tested: at least this share of masked pixels differ
SOFT_FLOOR = 0.02  # blend weights below this are set to 0 (they change a pixel by <= 5)


@dataclass
class SynthResult:
    """One synthetic fake.

    target: (H, W, 3) uint8 RGB, the real face it was made from.
    fake: (H, W, 3) uint8 RGB; equal to ``target`` wherever ``mask`` is 0.
    soft_mask: (H, W) float32 in [0, 1], the blend weight of the manipulated face;
        > 0 exactly where ``mask`` is 1.
    mask: (H, W) uint8 in {0, 1}, the real forgery mask.
    method: one of METHODS.
    detail: e.g. "seamless" / "alpha" (faceswap), "eyes" (partswap), "face" (sbi hull).
    source: index of the source face in the pool, -1 when there is none (sbi).
    """

    target: np.ndarray
    fake: np.ndarray
    soft_mask: np.ndarray
    mask: np.ndarray
    method: str
    detail: str = ""
    source: int = -1


def _check_image(name: str, image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must be (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
    return image


def _check_face(name: str, image: np.ndarray, landmarks: np.ndarray | None,
                k: int = 68) -> tuple[np.ndarray, np.ndarray]:
    """Validated (image, landmarks (K, 2) float32) of one face; its hull must be on-image."""
    image = _check_image(name, image)
    if landmarks is None:
        raise ValueError(f"{name} has no landmarks: align it first (minilocal.faces.align_face)")
    pts = np.asarray(landmarks, np.float32)
    if pts.shape != (k, 2):
        raise ValueError(f"{name} landmarks must be ({k}, 2), got {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError(f"{name} landmarks contain NaN or inf")
    c = np.cov(pts.T.astype(np.float64))  # 2 x 2; eigenvalues = squared spreads
    root = np.sqrt(max((c[0, 0] - c[1, 1]) ** 2 / 4 + c[0, 1] ** 2, 0))
    mid = (c[0, 0] + c[1, 1]) / 2
    if mid - root < 0.05 ** 2 * (mid + root):
        raise ValueError(f"{name} landmarks are (nearly) collinear: no face area to swap")
    H, W = image.shape[:2]
    try:
        inside = int(cvm(pts, H, W).sum())
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None
    area = cv2.contourArea(cv2.convexHull(pts))
    if inside < max(MIN_INSIDE_FRACTION * area, MIN_MASK_FRACTION * H * W):
        raise ValueError(f"{name}: only {inside} px of the face hull ({area:.0f} px) lie "
                         f"inside the {W}x{H} image")
    return image, pts


def _face_size(landmarks: np.ndarray) -> float:
    """sqrt of the landmarks' convex-hull area, in pixels (about 75 in a 128 px crop)."""
    return float(np.sqrt(cv2.contourArea(cv2.convexHull(landmarks.astype(np.float32)))))


def _hull(points: np.ndarray, height: int, width: int) -> np.ndarray:
    m = np.zeros((height, width), np.uint8)
    hull = cv2.convexHull(np.round(np.asarray(points) * 16).astype(np.int32))
    cv2.fillConvexPoly(m, hull, 1, cv2.LINE_8, 4)
    return m


def _morph(mask: np.ndarray, op: int, radius: float) -> np.ndarray:
    r = int(round(radius))
    if r < 1:
        return mask
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.morphologyEx(mask, op, k)


def _feather(region: np.ndarray, sigma: float) -> np.ndarray:
    """Soft version of a {0, 1} region that fades to 0 inside its border: (H, W) float32."""
    inner = _morph(region, cv2.MORPH_ERODE, 1.5 * sigma)
    if not inner.any():
        inner = region
    soft = cv2.GaussianBlur(inner.astype(np.float32), (0, 0), max(sigma, 0.3))
    return soft * region


def _window(soft: np.ndarray, margin: int = 2) -> tuple[slice, slice]:
    """The bounding box of soft > 0 grown by ``margin`` px, as (rows, cols) slices."""
    H, W = soft.shape
    x, y, w, h = cv2.boundingRect((soft > 0).astype(np.uint8))
    return (slice(max(y - margin, 0), min(y + h + margin, H)),
            slice(max(x - margin, 0), min(x + w + margin, W)))


def _match_colour(image: np.ndarray, reference: np.ndarray, region: np.ndarray
                  ) -> np.ndarray:
    """Reinhard colour transfer: LAB (8-bit) mean and std of ``image`` inside ``region``
    made equal to ``reference``'s.

    Args:
        image, reference: (h, w, 3) uint8 RGB; region: (h, w) uint8 {0, 1}, not empty.

    Returns:
        (h, w, 3) float32 RGB in [0, 255], all of ``image`` transferred.
    """
    lab = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2LAB)
    ref = cv2.cvtColor(np.ascontiguousarray(reference), cv2.COLOR_RGB2LAB)
    m = np.ascontiguousarray(region, dtype=np.uint8)
    mu_s, sd_s = (v.ravel().astype(np.float32) for v in cv2.meanStdDev(lab, mask=m))
    mu_r, sd_r = (v.ravel().astype(np.float32) for v in cv2.meanStdDev(ref, mask=m))
    gain = np.clip(sd_r / (sd_s + 1e-3), 0.5, 2.0)
    if np.abs(mu_s - mu_r).max() < 0.5 and np.abs(gain - 1).max() < 0.01:
        return image.astype(np.float32)  # colours already match: skip the 8-bit round trip
    out = np.clip((lab.astype(np.float32) - mu_s) * gain + mu_r + 0.5, 0, 255)
    return cv2.cvtColor(out.astype(np.uint8), cv2.COLOR_LAB2RGB).astype(np.float32)


def _finish(target: np.ndarray, manipulated: np.ndarray, soft: np.ndarray, method: str,
            window: tuple[slice, slice] | None = None, detail: str = "",
            source: int = -1) -> SynthResult:
    """Alpha-blend ``manipulated`` (float32 RGB, the size of ``window``; default: the
    whole image) into ``target`` with ``soft`` and derive the exact mask (module doc)."""
    H, W = target.shape[:2]
    window = window or (slice(0, H), slice(0, W))
    sw = np.minimum(soft[window], 1)
    tw, sw = target[window], np.where(sw >= SOFT_FLOOR, sw, 0)
    t = tw.astype(np.float32)
    fw = np.clip(np.rint(t + sw[..., None] * (manipulated - t)), 0, 255).astype(np.uint8)
    changed = (fw != tw).any(2).astype(np.uint8)
    mw = cv2.morphologyEx(changed, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) & (sw > 0)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mw.astype(np.uint8), None, 8)
    keep = stats[:, cv2.CC_STAT_AREA] >= MIN_COMPONENT_FRACTION * H * W
    keep[0] = False
    mw = keep[labels].astype(np.uint8)
    fw[mw == 0] = tw[mw == 0]
    if mw.sum() < MIN_MASK_FRACTION * H * W:
        raise ValueError(f"{method}: the manipulation changed only {int(mw.sum())} px "
                         f"(< {MIN_MASK_FRACTION:.1%} of the image): no usable fake")
    fake, mask, soft_out = target.copy(), np.zeros((H, W), np.uint8), np.zeros((H, W), np.float32)
    fake[window], mask[window] = fw, mw
    soft_out[window] = np.where(mw > 0, np.maximum(sw, 1e-6), 0)
    return SynthResult(target, fake, soft_out, mask, method, detail, source)
