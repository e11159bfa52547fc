"""Synthetic manipulations of real faces with exact forgery masks (paper sections 1, 3.1).

The paper's last contribution is generating every training label automatically, without
real/fake video pairs. Here each fake is made from one real face crop (the *target*) and
comes with a pixel-exact *real forgery mask*:

* :func:`faceswap`: the computer-vision FaceSwap of FaceForensics++: Delaunay triangulation
  of the target landmarks, piecewise-affine warp of a *source* face onto it, colour
  transfer (LAB mean and std), seamless cloning or feathered alpha blending;
* :func:`self_blend`: self-blended images (SBI, Shiohara & Yamasaki, CVPR 2022): a
  perturbed, slightly shifted copy of the face blended back into it;
* :func:`part_swap`: only the eyes, nose or mouth of another face, colour-corrected.

Exact-mask contract, for every result ``r`` of every method::

    (r.fake != r.target).any(-1)  implies  r.mask == 1   (outside the mask: same pixels)
    r.mask == 1                   iff      r.soft_mask > 0

and most masked pixels differ from the target (:data:`MIN_CHANGED_FRACTION` in tests).
The mask is the set of pixels the final blend changed, closed (3x3) to fill pinholes,
specks dropped; dropped pixels are reset to the target. Inputs that cannot give a fake
(no landmarks, collinear landmarks, a face off the image, a pool with one face) raise
``ValueError`` with the reason; :func:`make_fakes` records them in rejects.csv.

:func:`make_fakes` turns a folder of real faces into a folder-format dataset of the reals
and their fakes (``minilocal synth``); :func:`montage` draws target / fake / masks rows.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import shutil
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from .folder import (IMAGE_EXTENSIONS, METADATA, FaceRecord, FolderWriter, assign_splits,
                     parse_landmarks, read_records)
from .masks import cvm

logger = logging.getLogger(__name__)

__all__ = ["METHODS", "PARTS", "SynthResult", "FacePool", "faceswap", "self_blend",
           "part_swap", "synthesize", "choose_source", "normalize_landmarks", "delaunay",
           "warp_face", "load_pool", "make_fakes", "montage"]

METHODS = ("faceswap", "sbi", "partswap")
# 68-point (iBUG / dlib) indices of each swappable part; one convex hull per tuple
PARTS = {
    "eyes": (tuple(range(36, 42)), tuple(range(42, 48))),
    "nose": (tuple(range(27, 36)),),
    "mouth": (tuple(range(48, 60)),),
}
PART_DILATION = {"eyes": 0.07, "nose": 0.05, "mouth": 0.06}  # x face size (sqrt hull area)
MIN_INSIDE_FRACTION = 0.5  # at least this share of the face hull must lie in the image
MIN_MASK_FRACTION = 0.003  # fewer changed pixels than this x H x W: no usable fake
MIN_COMPONENT_FRACTION = 0.0005  # changed specks smaller than this x H x W are reset
MIN_CHANGED_FRACTION = 0.85  # tested: at least this share of masked pixels differ
SOFT_FLOOR = 0.02  # blend weights below this are set to 0 (they change a pixel by <= 5)
SBI_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # blend ratios, as in SBI's dynamic_blend


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


# ---------------------------------------------------------------- checks and geometry

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


def delaunay(points: np.ndarray) -> np.ndarray:
    """Delaunay triangulation of landmarks with cv2.Subdiv2D.

    Args:
        points: (K, 2) float, (x, y) in pixels.

    Returns:
        (T, 3) int64 indices into ``points``, triangles of non-zero area.

    Raises:
        ValueError: if no triangle has an area (collinear or repeated points).
    """
    pts = np.asarray(points, np.float32)
    lo, hi = np.floor(pts.min(0)) - 2, np.ceil(pts.max(0)) + 2
    subdiv = cv2.Subdiv2D((int(lo[0]), int(lo[1]), int(hi[0] - lo[0]), int(hi[1] - lo[1])))
    subdiv.insert([(float(x), float(y)) for x, y in pts])
    tris = np.asarray(subdiv.getTriangleList(), np.float32).reshape(-1, 3, 2)
    # Subdiv2D returns the inserted float32 coordinates: look each vertex up exactly (as a
    # complex number, sorted lexicographically); its outer frame vertices are not found
    keys = pts[:, 0].astype(np.float64) + 1j * pts[:, 1].astype(np.float64)
    order = np.argsort(keys, kind="stable")
    verts = tris[..., 0].astype(np.float64) + 1j * tris[..., 1].astype(np.float64)
    pos = np.minimum(np.searchsorted(keys[order], verts), len(pts) - 1)
    idx = order[pos][(keys[order][pos] == verts).all(1)]
    a, b, c = (pts[idx[:, i]] for i in range(3))
    area = (b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]
    idx = idx[np.abs(area) > 1e-2]
    if not len(idx):
        raise ValueError("degenerate landmarks: the Delaunay triangulation has no triangle "
                         "(points collinear or repeated)")
    return idx.astype(np.int64)


def _anchors(height: int, width: int) -> np.ndarray:
    """(8, 2) points on a frame 25 % outside the image: corners and edge midpoints."""
    x = np.array([-0.25, 0.5, 1.25]) * (width - 1)
    y = np.array([-0.25, 0.5, 1.25]) * (height - 1)
    return np.array([(a, b) for b in y for a in x if (a, b) != (x[1], y[1])])


def warp_face(source: np.ndarray, source_landmarks: np.ndarray, target_landmarks: np.ndarray,
              height: int, width: int, anchors: bool = True,
              window: tuple[slice, slice] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-affine warp of ``source`` so its landmarks land on ``target_landmarks``.

    The target landmarks are triangulated (:func:`delaunay`); every target pixel inside a
    triangle takes the source pixel that the triangle's affine map sends it to (bilinear,
    reflected at the source border: never black). With ``anchors``, 8 points on a frame
    25 % outside each image are added to both point sets, so the whole image is covered.

    Args:
        source: (H_s, W_s, 3) uint8 RGB.
        source_landmarks, target_landmarks: (K, 2) float (x, y), corresponding points.
        height, width: the output size H, W.
        anchors: add the frame points. Default: True.
        window: (rows, cols) slices of the output to compute. Default: all of it.

    Returns:
        warped (H, W, 3) uint8 and covered (H, W) bool (inside some triangle); with a
        window, only that part of both.

    Raises:
        ValueError: if the points give no triangle.
    """
    dst = np.asarray(target_landmarks, np.float64)
    src = np.asarray(source_landmarks, np.float64)
    if anchors:
        dst = np.concatenate([dst, _anchors(height, width)])
        src = np.concatenate([src, _anchors(*source.shape[:2])])
    tris = delaunay(dst)
    rows, cols = window or (slice(0, height), slice(0, width))
    y0, x0 = rows.start or 0, cols.start or 0
    h, w = (rows.stop or height) - y0, (cols.stop or width) - x0
    tri_id = np.full((h, w), -1, np.int32)
    fixed = np.round((dst - (x0, y0)) * 16).astype(np.int32)  # 4 fractional bits
    for t, tri in enumerate(tris):
        cv2.fillConvexPoly(tri_id, fixed[tri], int(t), cv2.LINE_8, 4)
    D = np.concatenate([dst[tris], np.ones((len(tris), 3, 1))], axis=2)  # (T, 3, 3)
    A = np.linalg.solve(D, src[tris]).astype(np.float32)  # [x y 1] @ A = source (x, y)
    covered = tri_id >= 0
    # per pixel, the 6 coefficients of its triangle's map (column -1: zeros, outside)
    c = np.concatenate([A.reshape(-1, 6), np.zeros((1, 6), np.float32)]).T.copy()
    a0, a1, a2, a3, a4, a5 = (row[tri_id] for row in c)
    gx = np.arange(x0, x0 + w, dtype=np.float32)[None, :]
    gy = np.arange(y0, y0 + h, dtype=np.float32)[:, None]
    map_x, map_y = gx * a0 + gy * a2 + a4, gx * a1 + gy * a3 + a5
    warped = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REFLECT_101)
    return warped, covered


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


# ---------------------------------------------------------------- FaceSwap

def faceswap(target: np.ndarray, target_landmarks: np.ndarray, source: np.ndarray,
             source_landmarks: np.ndarray, rng: np.random.Generator,
             blend: str | None = None, source_index: int = -1) -> SynthResult:
    """Computer-vision FaceSwap (as in FaceForensics++): the source face on the target.

    Steps: Delaunay triangulation (cv2.Subdiv2D) of the 68 target landmarks and 8 frame
    anchors; piecewise-affine warp of the source onto it (:func:`warp_face`); LAB mean/std colour transfer inside the face region (the landmark hull,
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


def normalize_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Landmark shapes without translation and scale, as unit complex vectors.

    Args:
        landmarks: (K, 2) or (M, K, 2) float (x, y).

    Returns:
        (K,) or (M, K) complex128, centred, with unit norm; |<a, b>|^2 = 1 - d^2, d the
        full Procrustes distance (rotation removed too).
    """
    z = np.asarray(landmarks, np.float64)
    z = z[..., 0] + 1j * z[..., 1]
    z = z - z.mean(-1, keepdims=True)
    return z / np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), 1e-12)


def choose_source(target_landmarks: np.ndarray, pool_landmarks: np.ndarray,
                  exclude=None, k: int = 1, rng: np.random.Generator | None = None) -> int:
    """The pool face whose pose is most like the target's (Procrustes distance).

    Args:
        target_landmarks: (K, 2) float (x, y).
        pool_landmarks: (M, K, 2) float; rows with NaN are never chosen.
        exclude: pool indices (or an (M,) bool mask) not to use: the target itself and,
            preferably, every face of its identity.
        k: choose at random (``rng``) among the k nearest. Default: 1, the nearest.
        rng: numpy Generator, needed when k > 1.

    Returns:
        the chosen index into ``pool_landmarks``.

    Raises:
        ValueError: on mismatched shapes, or when no usable face is left (e.g. a pool of
            one face).
    """
    pool = np.asarray(pool_landmarks, np.float64)
    t = np.asarray(target_landmarks, np.float64)
    if pool.ndim != 3 or pool.shape[1:] != t.shape or t.ndim != 2 or t.shape[1] != 2:
        raise ValueError(f"pool_landmarks must be (M, K, 2) matching target_landmarks "
                         f"(K, 2), got {pool.shape} and {t.shape}")
    M = len(pool)
    ok = np.isfinite(pool).all(axis=(1, 2))
    if exclude is not None:
        ex = np.asarray(exclude)
        if ex.dtype == bool:
            if ex.shape != (M,):
                raise ValueError(f"exclude mask must be ({M},), got {ex.shape}")
            ok &= ~ex
        elif ex.size:
            ok[ex.astype(np.int64)] = False
    if k > 1 and rng is None:
        raise ValueError("choose_source with k > 1 needs rng")
    pool = np.where(ok[:, None, None], pool, 0)
    return _nearest(normalize_landmarks(t), normalize_landmarks(pool), ok, k, rng)


def _nearest(shape: np.ndarray, shapes: np.ndarray, ok: np.ndarray, k: int,
             rng: np.random.Generator | None) -> int:
    """Index of one of the k usable ``shapes`` with the largest |<shape, shapes>|, i.e.
    nearest to ``shape`` in full Procrustes distance (:func:`normalize_landmarks`)."""
    if not ok.any():
        raise ValueError(f"no source face left in a pool of {len(ok)} after excluding the "
                         "target (and its identity): a swap needs a second face")
    idx = np.flatnonzero(ok)
    d = 1 - np.abs((shapes[idx] * np.conj(shape)).sum(1)) ** 2  # no BLAS: no thread spin
    k = min(k, len(idx))
    pos = np.argpartition(d, k - 1)[:k] if k < len(idx) else np.arange(len(idx))
    pos = pos[np.argsort(d[pos], kind="stable")]
    return int(idx[pos[rng.integers(k)]] if k > 1 else idx[pos[0]])


# ---------------------------------------------------------------- self-blended images

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


# ---------------------------------------------------------------- part swap

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


# ---------------------------------------------------------------- pools of real faces

SOURCE_K = 5  # a swap source is drawn from the 5 nearest poses (variety over the pool)


@dataclass
class FacePool:
    """Aligned real faces to make fakes from.

    images: (M, S, S, 3) uint8 RGB.
    landmarks: (M, 68, 2) float32 (x, y) in crop pixels.
    records: M metadata rows (group, split, source, box, detection are copied to the fakes).
    """

    images: np.ndarray
    landmarks: np.ndarray
    records: list[FaceRecord]

    def __post_init__(self) -> None:
        self._groups = np.array([r.group or r.file for r in self.records])
        self._splits = np.array([r.split for r in self.records])
        self._shapes = normalize_landmarks(self.landmarks)

    def __len__(self) -> int:
        return len(self.records)


def synthesize(pool: FacePool, index: int, method: str, rng: np.random.Generator
               ) -> SynthResult:
    """One fake of pool face ``index`` by ``method``; swaps take a source of another
    identity (group) in the same split, with a similar pose (:func:`choose_source`).

    Raises:
        ValueError: on an unknown method, or from the method (e.g. a one-face pool).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {list(METHODS)}")
    target, tl = pool.images[index], pool.landmarks[index]
    if method == "sbi":
        return self_blend(target, tl, rng)
    other = pool._groups != pool._groups[index]
    usable = other & (pool._splits == pool._splits[index])
    if not usable.any():  # a small pool: any other identity, else any other face
        usable = other if other.any() else np.arange(len(pool)) != index
    if method == "faceswap":
        j = _nearest(pool._shapes[index], pool._shapes, usable, SOURCE_K, rng)
        return faceswap(target, tl, pool.images[j], pool.landmarks[j], rng, source_index=j)
    part = sorted(PARTS)[int(rng.integers(len(PARTS)))]
    idx = [i for group in PARTS[part] for i in group]  # match the face and the part's shape
    shapes = np.concatenate([pool._shapes, normalize_landmarks(pool.landmarks[:, idx])], 1)
    j = _nearest(shapes[index], shapes, usable, SOURCE_K, rng)
    return part_swap(target, tl, pool.images[j], pool.landmarks[j], rng, part, j)


def _has_landmarks(src: Path) -> bool:
    """Whether ``src`` is a folder-format dataset whose reals all have landmarks."""
    if not (src / METADATA).is_file():
        return False
    reals = [r for r in read_records(src) if r.label == "real"]
    return bool(reals) and all(r.landmarks for r in reals)


def _group_of(path: Path, root: Path) -> str:
    """The identity of a raw image: its folder below ``root`` (LFW), else its file stem."""
    rel = path.relative_to(root)
    return str(rel.parent) if rel.parent != Path(".") else path.stem


def _align(item: tuple[str, str]) -> tuple[np.ndarray, np.ndarray, str, str] | str:
    from . import faces

    path, _ = item
    try:
        crop = faces.align_face(faces.read_image(path), _STATE["size"], whole_image=False)
    except ValueError as err:  # NoFaceError is a ValueError
        return str(err) or type(err).__name__
    return crop.image, crop.landmarks, " ".join(map(str, crop.box)), crop.detection


def load_pool(src: str | Path, size: int = 128, limit: int | None = None, seed: int = 0,
              workers: int = 1, progress: bool = False, split_seed: int = 0
              ) -> tuple[FacePool, list[tuple[str, str]]]:
    """The real faces of ``src`` with landmarks, and the (source, reason) of those left out.

    ``src`` is a folder-format dataset whose reals have landmarks (e.g. build/data/
    lfw_faces), or raw images (a folder tree, a ``real/`` folder, or a dataset without
    landmarks), which are aligned with :func:`minilocal.faces.align_face`. Raw groups are
    the image's folder (the LFW person) or its file stem. Faces without a split get one by
    group (:func:`minilocal.folder.assign_splits`, ``split_seed``).

    Args:
        src: the folder.
        size: crop side S; folder images of another size are resized. Default: 128.
        limit: use at most this many faces, a seeded random subset. Default: all.
        seed: seed of that subset.
        workers: processes for alignment.

    Raises:
        FileNotFoundError: if ``src`` holds no image.
    """
    src = Path(src)
    if (src / METADATA).is_file() or (src / "real").is_dir():
        records = [r for r in read_records(src) if r.label == "real"]
    else:
        paths = sorted(p for p in src.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        records = [FaceRecord(file=str(p.relative_to(src)), label="real",
                              group=_group_of(p, src)) for p in paths]
    if not records:
        raise FileNotFoundError(f"{src} holds no real face images")
    order = np.random.default_rng(seed).permutation(len(records))[:limit]
    records = [records[i] for i in sorted(order)]
    images, landmarks, kept, rejects = [], [], [], []
    if _has_landmarks(src):
        for r in records:
            bgr = cv2.imread(str(src / r.file), cv2.IMREAD_COLOR)
            pts = parse_landmarks(r.landmarks)
            if bgr is None or pts is None or pts.shape != (68, 2):
                rejects.append((r.source or r.file, "unreadable image or not 68 landmarks"))
                continue
            h, w = bgr.shape[:2]
            if (h, w) != (size, size):
                bgr = cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA)
                pts = pts * np.array([size / w, size / h], np.float32)
            images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            landmarks.append(pts)
            kept.append(replace(r, source=r.source or r.file))
    else:
        items = [(str(src / r.file), r.file) for r in records]
        for r, out in zip(records, _imap(_align, items, {"size": size}, workers, progress,
                                         "aligning")):
            if isinstance(out, str):
                rejects.append((r.file, out))
                continue
            images.append(out[0])
            landmarks.append(out[1])
            kept.append(replace(r, group=r.group or Path(r.file).stem, source=r.file,
                                box=out[2], detection=out[3], landmarks="", mask=""))
    if any(not r.split for r in kept):
        kept = [r if r.split else a for r, a in zip(kept, assign_splits(kept, seed=split_seed))]
    pool = FacePool(np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8),
                    np.stack(landmarks).astype(np.float32) if landmarks
                    else np.zeros((0, 68, 2), np.float32), kept)
    logger.info("pool of %d faces from %s (%d left out)", len(pool), src, len(rejects))
    return pool, rejects


# ---------------------------------------------------------------- worker processes

_STATE: dict = {}  # per process: what the worker tasks read (pool, seed, methods, ...)


def _init_worker(state: dict) -> None:
    cv2.setNumThreads(1)
    _STATE.clear()
    _STATE.update(state)


def _imap(fn, items: list, state: dict, workers: int, progress: bool, desc: str):
    """``fn`` over ``items`` in order, in this process or in ``workers`` forked ones."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(items), desc=desc, disable=not progress)
    if workers <= 1:
        saved = dict(_STATE)
        _init_worker(state)
        try:
            for item in items:
                yield fn(item)
                bar.update()
        finally:
            _STATE.clear()
            _STATE.update(saved)
    else:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        with ctx.Pool(workers, _init_worker, (state,)) as procs:
            for out in procs.imap(fn, items, chunksize=4):
                yield out
                bar.update()
    bar.close()


def _fakes_of(index: int) -> tuple[np.ndarray, list]:
    """Worker task: the (compressed) real of pool face ``index`` and, per method, either
    (method, fake, mask) or (method, None, reason)."""
    pool, level = _STATE["pool"], _STATE["compression"]
    out = []
    for method in _STATE["methods"]:
        rng = np.random.default_rng([_STATE["seed"], index, METHODS.index(method)])
        try:
            r = synthesize(pool, index, method, rng)
        except ValueError as err:
            out.append((method, None, str(err)))
            continue
        out.append((method, r.fake if level == "c0" else _compress(r.fake, level), r.mask))
    real = pool.images[index]
    return (real if level == "c0" else _compress(real, level)), out


def _compress(image: np.ndarray, level: str) -> np.ndarray:
    from .compress import compress_image

    return compress_image(image, level)


# ---------------------------------------------------------------- datasets and previews

def make_fakes(src: str | Path, out: str | Path, method: str = "all", n: int = 100,
               seed: int = 0, compression: str = "c0", workers: int = 1,
               progress: bool = False, preview: str | Path | None = None,
               limit: int | None = None, size: int = 128, overwrite: bool = False
               ) -> dict:
    """Write a folder-format dataset of real faces and fakes made from them.

    ``n`` targets are drawn (seeded) from the pool of :func:`load_pool`; each is written
    once as a real (with an all-zero mask: known to be untouched) and once per method as a
    fake (label fake, its exact mask, method column, the target's landmarks, group and
    split, so a real and its fakes share a split). ``compression`` c23/c40 re-encodes real
    and fake images (H.264 intra frame, :func:`minilocal.compress.compress_image`) after
    synthesis; masks describe the uncompressed manipulation. A method that cannot make a
    fake of a target records (source, reason) in rejects.csv. OUT/synth.json holds the
    returned summary.

    Args:
        src: real faces (see :func:`load_pool`).
        out: the dataset folder to create.
        method: one of METHODS or "all". Default: "all".
        n: number of targets (fakes per method). Default: 100.
        seed: everything random derives from it. Default: 0.
        compression: "c0", "c23" or "c40". Default: "c0".
        workers: processes. Default: 1.
        progress: tqdm progress bars.
        preview: write a :func:`montage` of the first 4 fakes per method there (PNG).
        limit: pool size for sources and targets (default: all faces of ``src``; raw
            images: max(2 n, 200), as each must be aligned first).
        size: crop side S. Default: 128.
        overwrite: replace an existing dataset in ``out``.

    Returns:
        {"out", "reals", "fakes": {method: count}, "rejected", "reject_reasons", "pool",
        "seconds", "fakes_per_s", ...} (JSON-ready).

    Raises:
        ValueError: on a bad method, n, workers, compression, or an existing ``out``.
        FileNotFoundError: if ``src`` holds no image.
    """
    methods = list(METHODS) if method == "all" else [method]
    if method != "all" and method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {list(METHODS)} or 'all'")
    if compression not in ("c0", "c23", "c40"):
        raise ValueError(f"unknown compression {compression!r}; expected c0, c23 or c40")
    if int(n) < 1 or int(workers) < 1:
        raise ValueError(f"n and workers must be >= 1, got n={n}, workers={workers}")
    out = Path(out)
    if (out / METADATA).exists():
        if not overwrite:
            raise ValueError(f"{out} already holds a dataset; pass overwrite=True "
                             "(--overwrite) or choose another folder")
        for sub in ("images", "masks"):
            shutil.rmtree(out / sub, ignore_errors=True)
    start = time.perf_counter()
    if limit is None and not _has_landmarks(Path(src)):
        limit = max(2 * n, 200)
    pool, rejects = load_pool(src, size, limit, seed, workers, progress)
    if not len(pool):
        raise ValueError(f"no usable face in {src}: {len(rejects)} rejected, e.g. "
                         f"{rejects[:1]}")
    targets = np.random.default_rng(seed).permutation(len(pool))[:n].tolist()
    shown = set(targets[:4])
    state = {"pool": pool, "seed": seed, "methods": methods, "compression": compression}
    counts, reasons, results = Counter(), Counter(), []
    with FolderWriter(out, overwrite=True) as writer:
        for source, reason in rejects:
            writer.reject(source, reason)
            reasons[reason.split(":")[0][:60]] += 1
        for t, (real, fakes) in zip(targets, _imap(_fakes_of, targets, state, workers,
                                                   progress, f"synth {method}")):
            rec = pool.records[t]
            cols = dict(group=rec.group, split=rec.split, compression=compression,
                        source=rec.source, box=rec.box, detection=rec.detection)
            writer.add(real, "real", mask=np.zeros(real.shape[:2], np.uint8),
                       landmarks=pool.landmarks[t], name=f"real_{t:06d}", **cols)
            for m, fake, mask in fakes:
                if fake is None:
                    writer.reject(f"{rec.source} [{m}]", mask)
                    reasons[mask.split(":")[0][:60]] += 1
                    continue
                writer.add(fake, "fake", mask=mask, landmarks=pool.landmarks[t],
                           name=f"{m}_{t:06d}", method=m, **cols)
                counts[m] += 1
                if t in shown:
                    results.append(synthesize(pool, t, m, np.random.default_rng(
                        [seed, t, METHODS.index(m)])))
    seconds = time.perf_counter() - start
    summary = {"out": str(out), "src": str(src), "pool": len(pool), "reals": len(targets),
               "fakes": {m: counts[m] for m in methods}, "rejected": writer.rejected,
               "reject_reasons": dict(reasons), "compression": compression, "seed": seed,
               "seconds": round(seconds, 1),
               "fakes_per_s": round(sum(counts.values()) / max(seconds, 1e-9), 1)}
    (out / "synth.json").write_text(json.dumps(summary, indent=1))
    if preview is not None and results:
        results.sort(key=lambda r: METHODS.index(r.method))
        Path(preview).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(preview), cv2.cvtColor(montage(results), cv2.COLOR_RGB2BGR))
    return summary


def montage(results: list[SynthResult], per_row: int = 1, scale: int = 1,
            label: bool = True) -> np.ndarray:
    """A grid to look at: per example, target | fake | soft mask | mask.

    Args:
        results: SynthResults of one size (H, W).
        per_row: examples side by side in one row. Default: 1.
        scale: integer zoom (nearest neighbour). Default: 1.
        label: write method and detail on the fake.

    Returns:
        (rows x H x scale, per_row x 4 x W x scale, 3) uint8 RGB.

    Raises:
        ValueError: if ``results`` is empty or of mixed sizes.
    """
    if not results:
        raise ValueError("montage needs at least one SynthResult")
    shape = results[0].fake.shape
    if any(r.fake.shape != shape for r in results):
        raise ValueError("montage needs SynthResults of one size")
    tiles = []
    for r in results:
        fake = r.fake.copy()
        if label:
            cv2.putText(fake, f"{r.method} {r.detail}".strip(), (2, 10),
                        cv2.FONT_HERSHEY_PLAIN, 0.7, (255, 255, 0), 1, cv2.LINE_AA)
        soft = np.repeat(np.rint(r.soft_mask * 255).astype(np.uint8)[..., None], 3, 2)
        binary = np.repeat(r.mask[..., None] * 255, 3, 2).astype(np.uint8)
        tiles.append(np.concatenate([r.target, fake, soft, binary], 1))
    blank = np.zeros_like(tiles[0])
    tiles += [blank] * (-len(tiles) % per_row)
    grid = np.concatenate([np.concatenate(tiles[i:i + per_row], 1)
                           for i in range(0, len(tiles), per_row)], 0)
    return np.repeat(np.repeat(grid, scale, 0), scale, 1) if scale > 1 else grid
