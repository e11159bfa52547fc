"""Tests for minilocal/synth/ as a whole and synth/blend.py: the exact-mask contract.

The faces are drawn here (no dlib, no data): a skin ellipse with eyes, brows, nose and mouth
at the positions of a parametric 68-point landmark layout in dlib's order. The other
tests/test_synth_*.py files (one per module of minilocal/synth/) import these helpers.
"""

import cv2
import numpy as np
import pytest

from minilocal.synth import METHODS, SynthResult, faceswap, part_swap, self_blend
from minilocal.synth.blend import MIN_CHANGED_FRACTION, MIN_MASK_FRACTION

SIZE = 96


def face_landmarks(size: int = SIZE, centre=(0.5, 0.52), scale: float = 1.0,
                   angle: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """(68, 2) float32 landmarks of a frontal face in dlib's order (jaw, brows, nose, eyes,
    lips), optionally rotated by ``angle`` radians and jittered by ``rng``."""
    def ellipse(cx, cy, rx, ry, angles):
        return [(cx + rx * np.cos(a), cy - ry * np.sin(a)) for a in angles]

    th = np.linspace(np.pi, 0, 17)
    p = [(0.85 * np.cos(t), 0.05 + 0.95 * np.sin(t)) for t in th]  # 0-16 jaw
    p += [(x, -0.45 - 0.08 * np.sin(np.pi * i / 4)) for i, x in
          enumerate(np.linspace(-0.75, -0.15, 5))]  # 17-21 brow
    p += [(x, -0.45 - 0.08 * np.sin(np.pi * i / 4)) for i, x in
          enumerate(np.linspace(0.15, 0.75, 5))]  # 22-26 brow
    p += [(0.0, y) for y in np.linspace(-0.35, 0.12, 4)]  # 27-30 nose bridge
    p += [(x, 0.25 - 0.05 * np.cos(x * 7)) for x in np.linspace(-0.2, 0.2, 5)]  # 31-35
    eye = np.array([np.pi, 2 * np.pi / 3, np.pi / 3, 0, -np.pi / 3, -2 * np.pi / 3])
    p += ellipse(-0.4, -0.25, 0.17, 0.07, eye) + ellipse(0.4, -0.25, 0.17, 0.07, eye)
    p += ellipse(0.0, 0.55, 0.4, 0.15, np.pi - 2 * np.pi * np.arange(12) / 12)  # 48-59
    p += ellipse(0.0, 0.55, 0.3, 0.05, np.pi - 2 * np.pi * np.arange(8) / 8)  # 60-67
    pts = np.array(p)
    if rng is not None:
        pts = pts + rng.normal(0, 0.02, pts.shape)
    c, s = np.cos(angle), np.sin(angle)
    pts = pts @ np.array([[c, s], [-s, c]]) * 0.33 * scale * size
    return (pts + np.array(centre) * size).astype(np.float32)


def face_image(landmarks: np.ndarray, seed: int, size: int = SIZE) -> np.ndarray:
    """(S, S, 3) uint8 RGB drawing of a face at ``landmarks``, colours from ``seed``."""
    rng = np.random.default_rng(seed)
    noise = cv2.resize(rng.uniform(0, 255, (6, 6, 3)).astype(np.float32), (size, size))
    im = (0.5 * noise + 0.5 * rng.uniform(40, 200, 3)).astype(np.uint8)
    skin = tuple(int(v) for v in rng.uniform([150, 90, 60], [240, 180, 150]))
    cv2.fillConvexPoly(im, cv2.convexHull(np.round(landmarks).astype(np.int32)), skin)
    dark = tuple(int(v) for v in rng.uniform(10, 80, 3))
    for a, b in ((17, 22), (22, 27), (27, 31), (31, 36)):
        cv2.polylines(im, [np.round(landmarks[a:b]).astype(np.int32)], False, dark, 2)
    for a, b in ((36, 42), (42, 48)):
        cv2.fillPoly(im, [np.round(landmarks[a:b]).astype(np.int32)], dark)
    cv2.fillPoly(im, [np.round(landmarks[48:60]).astype(np.int32)],
                 tuple(int(v) for v in rng.uniform([120, 20, 30], [220, 80, 90])))
    grain = rng.normal(0, 4, im.shape)
    return np.clip(im + grain, 0, 255).astype(np.uint8)


def make_face(seed: int, **kw) -> tuple[np.ndarray, np.ndarray]:
    pts = face_landmarks(rng=np.random.default_rng(seed + 1000), **kw)
    return face_image(pts, seed), pts


def run_method(method: str, seed: int, **kw) -> SynthResult:
    (t, tl), (s, sl) = make_face(seed), make_face(seed + 1)
    rng = np.random.default_rng(seed)
    if method == "sbi":
        return self_blend(t, tl, rng, **kw)
    return (faceswap if method == "faceswap" else part_swap)(t, tl, s, sl, rng, **kw)


def hull_of(pts: np.ndarray, dilate: int = 0) -> np.ndarray:
    m = np.zeros((SIZE, SIZE), np.uint8)
    cv2.fillConvexPoly(m, cv2.convexHull(np.round(pts).astype(np.int32)), 1)
    return cv2.dilate(m, np.ones((2 * dilate + 1,) * 2, np.uint8)) if dilate else m


# ---------------------------------------------------------------- the exact-mask property

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", range(6))
def test_mask_is_exact(method, seed):
    r = run_method(method, seed)
    assert r.fake.shape == r.target.shape == (SIZE, SIZE, 3) and r.fake.dtype == np.uint8
    assert r.mask.shape == r.soft_mask.shape == (SIZE, SIZE)
    assert r.mask.dtype == np.uint8 and set(np.unique(r.mask)) <= {0, 1}
    assert r.soft_mask.dtype == np.float32
    assert r.soft_mask.min() >= 0 and r.soft_mask.max() <= 1
    changed = (r.fake != r.target).any(2)
    assert not changed[r.mask == 0].any(), "a pixel outside the mask differs from the target"
    np.testing.assert_array_equal(r.mask == 1, r.soft_mask > 0)
    assert r.mask.sum() >= MIN_MASK_FRACTION * SIZE * SIZE
    assert changed[r.mask == 1].mean() >= MIN_CHANGED_FRACTION
    assert r.method == method


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_fake_other_seed_other_fake(method):
    a, b = run_method(method, 3), run_method(method, 3)
    np.testing.assert_array_equal(a.fake, b.fake)
    np.testing.assert_array_equal(a.mask, b.mask)
    (t, tl), (s, sl) = make_face(3), make_face(4)
    rng = np.random.default_rng(99)
    c = (self_blend(t, tl, rng) if method == "sbi" else
         (faceswap if method == "faceswap" else part_swap)(t, tl, s, sl, rng))
    assert not np.array_equal(a.fake, c.fake)


def test_identical_source_changes_nothing_and_is_refused():
    t, tl = make_face(0)
    with pytest.raises(ValueError, match="changed only"):
        faceswap(t, tl, t, tl, np.random.default_rng(0), blend="alpha")


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("method", METHODS)
def test_rejects_missing_landmarks(method):
    t, _ = make_face(0)
    with pytest.raises(ValueError, match="no landmarks"):
        if method == "sbi":
            self_blend(t, None, np.random.default_rng(0))
        else:
            (faceswap if method == "faceswap" else part_swap)(
                t, None, *make_face(1), np.random.default_rng(0))


def test_rejects_wrong_landmark_shape():
    t, tl = make_face(0)
    with pytest.raises(ValueError, match=r"landmarks must be \(68, 2\)"):
        self_blend(t, tl[:5], np.random.default_rng(0))


def test_rejects_nan_landmarks():
    t, tl = make_face(0)
    tl[3] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        part_swap(t, tl, *make_face(1), np.random.default_rng(0))


def test_rejects_collinear_landmarks():
    t, _ = make_face(0)
    line = np.stack([np.linspace(10, 80, 68), np.linspace(20, 60, 68)], 1)
    with pytest.raises(ValueError, match="collinear"):
        faceswap(t, line, *make_face(1), np.random.default_rng(0))


def test_rejects_a_face_outside_the_image():
    t, tl = make_face(0)
    with pytest.raises(ValueError, match="outside"):
        self_blend(t, tl + 500, np.random.default_rng(0))
    with pytest.raises(ValueError, match="only .* px of the face hull"):
        self_blend(t, tl + np.array([0.6 * SIZE, 0]), np.random.default_rng(0))


def test_rejects_a_non_uint8_image():
    t, tl = make_face(0)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        self_blend(t.astype(np.float32), tl, np.random.default_rng(0))
