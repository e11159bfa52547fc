"""Tests for minilocal/synth/faceswap.py: the FaceForensics++ FaceSwap."""

import numpy as np
import pytest
from test_synth import face_image, face_landmarks, hull_of, make_face, run_method

from minilocal.synth import faceswap


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
