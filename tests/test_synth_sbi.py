"""Tests for minilocal/synth/sbi.py: self-blended images (SBI)."""

import pytest
from test_synth import SIZE, hull_of, make_face, run_method


@pytest.mark.parametrize("hull", ["face", "inner"])
def test_self_blend_stays_near_the_face(hull):
    r = run_method("sbi", 4, hull=hull)
    tl = make_face(4)[1]
    assert r.detail == hull and r.source == -1
    assert not (r.mask & (1 - hull_of(tl, dilate=int(0.15 * SIZE)))).any()


def test_self_blend_rejects_unknown_hull():
    with pytest.raises(ValueError, match="hull must be 'face' or 'inner'"):
        run_method("sbi", 0, hull="forehead")
