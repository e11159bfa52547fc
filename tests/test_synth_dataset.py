"""Tests for minilocal/synth/dataset.py: synthesize on a pool, and montage.

make_fakes and ``minilocal synth`` are tested in tests/test_synth_cli.py.
"""

import cv2
import numpy as np
import pytest
from test_synth import SIZE, make_face, run_method

from minilocal.folder import FaceRecord
from minilocal.synth import METHODS, FacePool, montage, self_blend, synthesize


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
