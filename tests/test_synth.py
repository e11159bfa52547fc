"""Tests for minilocal/synth.py: fakes with exact forgery masks made from real faces.

The faces are drawn here (no dlib, no data): a skin ellipse with eyes, brows, nose and mouth
at the positions of a parametric 68-point landmark layout in dlib's order.
"""

import cv2
import numpy as np
import pytest

from minilocal.folder import FaceRecord
from minilocal.synth import (METHODS, MIN_CHANGED_FRACTION, MIN_MASK_FRACTION, PARTS,
                             FacePool, SynthResult, choose_source, delaunay, faceswap,
                             montage, normalize_landmarks, part_swap, self_blend, synthesize,
                             warp_face)

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


# ---------------------------------------------------------------- methods

@pytest.mark.parametrize("blend", ["seamless", "alpha"])
def test_faceswap_mask_stays_in_the_target_face(blend):
    r = run_method("faceswap", 1, blend=blend)
    tl = make_face(1)[1]
    assert r.detail == blend
    assert not (r.mask & (1 - hull_of(tl, dilate=1))).any()
    assert r.mask.sum() > 0.5 * hull_of(tl).sum()  # most of the face is swapped


def test_faceswap_takes_a_source_of_another_size():
    (t, tl) = make_face(0)
    pts = face_landmarks(size=64, rng=np.random.default_rng(5))
    r = faceswap(t, tl, face_image(pts, 5, size=64), pts, np.random.default_rng(0))
    assert r.fake.shape == t.shape and r.mask.any()


def test_faceswap_rejects_unknown_blend():
    with pytest.raises(ValueError, match="blend must be 'seamless' or 'alpha'"):
        run_method("faceswap", 0, blend="poisson")


@pytest.mark.parametrize("part", sorted(PARTS))
def test_part_swap_changes_only_near_that_part(part):
    r = run_method("partswap", 2, part=part)
    tl = make_face(2)[1]
    near = np.zeros((SIZE, SIZE), np.uint8)
    for idx in PARTS[part]:
        near |= hull_of(tl[list(idx)], dilate=int(0.2 * SIZE))
    assert r.detail == part
    assert not (r.mask & (1 - near)).any()
    others = [i for p, groups in PARTS.items() if p != part for g in groups for i in g]
    centre = np.round(tl[list(PARTS[part][0])].mean(0)).astype(int)
    assert r.mask[centre[1], centre[0]] == 1
    assert r.mask.sum() < hull_of(tl).sum()  # a part, not the face
    assert len(others) > 0


def test_part_swap_rejects_unknown_part():
    with pytest.raises(ValueError, match="unknown part 'ears'"):
        run_method("partswap", 0, part="ears")


@pytest.mark.parametrize("hull", ["face", "inner"])
def test_self_blend_stays_near_the_face(hull):
    r = run_method("sbi", 4, hull=hull)
    tl = make_face(4)[1]
    assert r.detail == hull and r.source == -1
    assert not (r.mask & (1 - hull_of(tl, dilate=int(0.15 * SIZE)))).any()


def test_self_blend_rejects_unknown_hull():
    with pytest.raises(ValueError, match="hull must be 'face' or 'inner'"):
        run_method("sbi", 0, hull="forehead")


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


# ---------------------------------------------------------------- geometry

def test_delaunay_of_a_square_is_two_triangles():
    tris = delaunay(np.array([[0, 0], [10, 0], [10, 10], [0, 10]], np.float32))
    assert tris.shape == (2, 3) and set(tris.ravel()) == {0, 1, 2, 3}


def test_delaunay_rejects_collinear_points():
    with pytest.raises(ValueError, match="degenerate landmarks"):
        delaunay(np.array([[0, 0], [1, 1], [2, 2], [3, 3]], np.float32))


def test_warp_with_identical_landmarks_is_the_identity():
    t, tl = make_face(0)
    warped, covered = warp_face(t, tl, tl, SIZE, SIZE)
    assert covered.all()  # the frame anchors cover the image
    np.testing.assert_array_equal(warped, t)
    _, covered = warp_face(t, tl, tl, SIZE, SIZE, anchors=False)
    assert 0 < covered.sum() < SIZE * SIZE


def test_warp_of_a_window_is_that_part_of_the_full_warp():
    (t, tl), (s, sl) = make_face(0), make_face(1)
    full, covered = warp_face(s, sl, tl, SIZE, SIZE)
    window = (slice(20, 70), slice(10, 50))
    part, part_covered = warp_face(s, sl, tl, SIZE, SIZE, window=window)
    assert part.shape == (50, 40, 3)
    # the same piecewise-affine map; clipping may give an edge pixel to the next triangle
    diff = np.abs(part.astype(int) - full[window])
    assert diff.max() <= 8 and (diff == 0).all(2).mean() > 0.98
    np.testing.assert_array_equal(part_covered, covered[window])


def test_normalized_landmarks_are_centred_unit_vectors():
    z = normalize_landmarks(face_landmarks())
    assert abs(z.sum()) < 1e-9 and abs(np.linalg.norm(z) - 1) < 1e-9


def test_choose_source_ignores_position_scale_and_roll():
    target = face_landmarks()
    same_pose = face_landmarks(centre=(0.3, 0.6), scale=0.7, angle=0.4)
    other = face_landmarks(rng=np.random.default_rng(7))
    other[48:68, 1] += 8  # another mouth
    pool = np.stack([other, same_pose, target])
    assert choose_source(target, pool, exclude=[2]) == 1
    assert choose_source(target, pool, exclude=np.array([False, True, True])) == 0
    rng = np.random.default_rng(0)
    assert {choose_source(target, pool, k=2, rng=rng) for _ in range(30)} == {1, 2}


def test_choose_source_errors():
    t = face_landmarks()
    with pytest.raises(ValueError, match="no source face left in a pool of 1"):
        choose_source(t, t[None], exclude=[0])
    with pytest.raises(ValueError, match=r"must be \(M, K, 2\)"):
        choose_source(t, t)
    with pytest.raises(ValueError, match="needs rng"):
        choose_source(t, np.stack([t, t]), k=2)
    with pytest.raises(ValueError, match=r"exclude mask must be \(2,\)"):
        choose_source(t, np.stack([t, t]), exclude=np.array([True]))


# ---------------------------------------------------------------- pools and montages

def small_pool(groups=("a", "a", "b", "c"), splits=("train", "train", "train", "test")):
    faces = [make_face(i) for i in range(len(groups))]
    records = [FaceRecord(file=f"{i}.png", label="real", group=g, split=s)
               for i, (g, s) in enumerate(zip(groups, splits))]
    return FacePool(np.stack([f[0] for f in faces]), np.stack([f[1] for f in faces]), records)


def test_synthesize_takes_a_source_of_another_identity_in_the_same_split():
    pool = small_pool()
    for seed in range(5):
        r = synthesize(pool, 0, "faceswap", np.random.default_rng(seed))
        assert r.source == 2  # not 0 (itself), not 1 (same person), not 3 (test split)


def test_synthesize_with_a_one_face_pool():
    pool = small_pool(groups=("a",), splits=("train",))
    assert synthesize(pool, 0, "sbi", np.random.default_rng(0)).mask.any()
    with pytest.raises(ValueError, match="a swap needs a second face"):
        synthesize(pool, 0, "partswap", np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown method 'deepfakes'"):
        synthesize(pool, 0, "deepfakes", np.random.default_rng(0))


def test_montage_lays_out_target_fake_and_masks():
    results = [run_method(m, 0) for m in METHODS]
    grid = montage(results, per_row=2, scale=2)
    assert grid.shape == (2 * SIZE * 2, 2 * 4 * SIZE * 2, 3) and grid.dtype == np.uint8
    plain = montage(results[:1], label=False)
    np.testing.assert_array_equal(plain[:, :SIZE], results[0].target)
    np.testing.assert_array_equal(plain[:, SIZE:2 * SIZE], results[0].fake)
    np.testing.assert_array_equal(plain[:, 3 * SIZE:, 0], results[0].mask * 255)


def test_montage_errors():
    with pytest.raises(ValueError, match="at least one"):
        montage([])
    a = run_method("sbi", 0)
    t, tl = make_face(0)
    big = self_blend(cv2.resize(t, (2 * SIZE, 2 * SIZE)), tl * 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="of one size"):
        montage([a, big])
