"""Tests for minilocal/synth/warp.py: Delaunay triangulation and piecewise-affine warp."""

import numpy as np
import pytest
from test_synth import SIZE, make_face

from minilocal.synth import delaunay, warp_face


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
