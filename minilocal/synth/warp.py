"""Delaunay triangulation and piecewise-affine face warping (FaceForensics++ FaceSwap).

The geometry of the swaps (:mod:`.faceswap`, :mod:`.partswap`): the target landmarks are
triangulated with cv2.Subdiv2D and each triangle of the source is mapped affinely onto it.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

logger = logging.getLogger(__name__)


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
