"""Tests for minilocal/synth/pool.py: landmark normalisation and pose-nearest sources."""

import numpy as np
import pytest
from test_synth import face_landmarks

from minilocal.synth import choose_source, normalize_landmarks


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
