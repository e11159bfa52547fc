"""Tests for minilocal/synth/partswap.py: swaps of the eyes, nose or mouth."""

import numpy as np
import pytest
from test_synth import SIZE, hull_of, make_face, run_method

from minilocal.synth import PARTS


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
