"""Tests for minilocal/masks.py: ZM, OM, CVM, real forgery masks and label assignment."""

import numpy as np
import pytest
import torch

from minilocal.masks import (MASK_KINDS, MIN_CHANGE, changed_mask, cvm, label_mask, label_masks,
                             ones_mask, real_mask, zeros_mask)

SQUARE = np.array([[10, 10], [20, 10], [20, 20], [10, 20], [15, 15]], np.float32)


class TestConstantMasks:
    def test_zeros_and_ones(self):
        z, o = zeros_mask(4, 5), ones_mask(4, 5)
        assert z.shape == o.shape == (4, 5) and z.dtype == o.dtype == np.uint8
        assert z.sum() == 0 and o.sum() == 20

    def test_rejects_empty_size(self):
        with pytest.raises(ValueError, match="positive"):
            zeros_mask(0, 5)


class TestCVM:
    def test_square_hull_has_known_area(self):
        m = cvm(SQUARE, 32, 32)
        assert m.dtype == np.uint8 and set(np.unique(m)) == {0, 1}
        assert m.sum() == 11 * 11  # border pixels included
        assert m[15, 15] == 1 and m[9, 15] == 0

    def test_points_outside_the_image_are_clipped(self):
        m = cvm(SQUARE * 2, 32, 32)  # hull 20..40 reaches past the 32 px image
        assert m[31, 31] == 1 and m[0, 0] == 0 and m.sum() == 12 * 12

    def test_rejects_two_landmarks(self):
        with pytest.raises(ValueError, match="K >= 3"):
            cvm(np.zeros((2, 2)), 8, 8)

    def test_rejects_collinear_landmarks(self):
        with pytest.raises(ValueError, match="collinear"):
            cvm(np.array([[0, 0], [1, 1], [2, 2], [3, 3]]), 8, 8)

    def test_rejects_nan(self):
        pts = SQUARE.copy()
        pts[0, 0] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            cvm(pts, 32, 32)


class TestRealMask:
    def test_finds_the_changed_block_and_ignores_noise(self):
        rng = np.random.default_rng(0)
        real = rng.integers(60, 200, (64, 64, 3), dtype=np.uint8)
        fake = np.clip(real.astype(int) + rng.integers(-3, 4, real.shape), 0, 255).astype(np.uint8)
        fake[20:40, 24:44] = 255 - fake[20:40, 24:44]  # a strong local edit
        m = real_mask(real, fake)
        assert m.dtype == np.uint8
        assert m[22:38, 26:42].all()  # the edit's inside
        assert m[:16].sum() == 0 and m[48:].sum() == 0  # noise only: nothing

    def test_identical_images_give_zeros(self):
        im = np.full((16, 16, 3), 100, np.uint8)
        assert real_mask(im, im.copy()).sum() == 0

    def test_rejects_different_shapes(self):
        with pytest.raises(ValueError, match="same shape"):
            real_mask(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8))

    def test_rejects_float_images(self):
        with pytest.raises(ValueError, match="uint8"):
            real_mask(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))


class TestLabelMask:
    def test_manipulation_head_gives_zeros_for_real_images(self):
        for kind in ("ones", "cvm", "real"):
            m = label_mask(kind, 0, 32, 32, landmarks=SQUARE)
            assert m.sum() == 0

    def test_fake_images_get_their_kind(self):
        true = np.zeros((32, 32), np.uint8)
        true[:4] = 1
        assert label_mask("ones", 1, 32, 32).sum() == 32 * 32
        assert label_mask("cvm", 1, 32, 32, landmarks=SQUARE).sum() == 121
        assert label_mask("real", 1, 32, 32, forgery_mask=true).sum() == 128
        assert label_mask("zeros", 1, 32, 32).sum() == 0

    def test_face_head_gets_the_hull_for_real_images_too(self):
        m = label_mask("cvm", 0, 32, 32, landmarks=SQUARE, gate_by_label=False)
        assert m.sum() == 121

    def test_rejects_unknown_kind(self):
        with pytest.raises(ValueError, match="unknown mask kind"):
            label_mask("hull", 1, 8, 8)

    def test_rejects_missing_landmarks(self):
        with pytest.raises(ValueError, match="needs landmarks"):
            label_mask("cvm", 1, 8, 8)

    def test_rejects_missing_forgery_mask(self):
        with pytest.raises(ValueError, match="needs the forgery mask"):
            label_mask("real", 1, 8, 8)

    def test_rejects_wrong_mask_shape(self):
        with pytest.raises(ValueError, match="forgery mask must be"):
            label_mask("real", 1, 8, 8, forgery_mask=np.ones((4, 4)))

    def test_rejects_bad_label(self):
        with pytest.raises(ValueError, match="label must be"):
            label_mask("ones", 2, 8, 8)


def test_cvm_rejects_a_hull_outside_the_image():
    with pytest.raises(ValueError, match="outside"):
        cvm(SQUARE + 100, 32, 32)


class TestChangedMask:
    """The training label of an exact mask: masked pixels changed by >= min_change."""

    def pair(self):
        real = np.full((6, 6, 3), 100, np.uint8)
        fake = real.copy()
        fake[0, :, 0] = 102  # changed by 2 levels: below MIN_CHANGE
        fake[1, :, 1] = 103  # changed by 3 levels in one channel: counts
        fake[2, :, 2] = 50  # changed a lot, but outside the mask below
        mask = np.zeros((6, 6), np.uint8)
        mask[:2] = 1
        return real, fake, mask

    def test_numpy_keeps_only_visible_change_inside_the_mask(self):
        real, fake, mask = self.pair()
        got = changed_mask(real, fake, mask, MIN_CHANGE)
        want = np.zeros((6, 6), np.uint8)
        want[1] = 1
        np.testing.assert_array_equal(got, want)

    def test_torch_matches_numpy(self):
        real, fake, mask = self.pair()
        t = lambda a: torch.from_numpy(a).permute(2, 0, 1)  # noqa: E731
        got = changed_mask(t(real), t(fake), torch.from_numpy(mask), MIN_CHANGE)
        np.testing.assert_array_equal(got.numpy(), changed_mask(real, fake, mask, MIN_CHANGE))

    def test_min_change_one_keeps_every_changed_pixel(self):
        real, fake, mask = self.pair()
        np.testing.assert_array_equal(changed_mask(real, fake, mask, 1), mask)

    def test_rejects_shape_mismatch(self):
        real, fake, mask = self.pair()
        with pytest.raises(ValueError, match="differ in shape"):
            changed_mask(real, fake[:5], mask)


def test_real_or_cvm_is_the_exact_mask_where_known_else_the_hull():
    pts = np.array([[2, 2], [12, 2], [12, 12], [2, 12]], np.float64)
    exact = np.zeros((16, 16), np.uint8)
    exact[5:7, 5:7] = 1
    with_mask = label_mask("real_or_cvm", 1, 16, 16, landmarks=pts, forgery_mask=exact)
    without = label_mask("real_or_cvm", 1, 16, 16, landmarks=pts)
    np.testing.assert_array_equal(with_mask, exact)
    np.testing.assert_array_equal(without, cvm(pts, 16, 16))
    assert label_mask("real_or_cvm", 0, 16, 16, landmarks=pts).sum() == 0


class TestLabelMasks:
    """The batched rule on tensors (what training uses) and label_mask on one image agree."""

    @pytest.fixture
    def batch(self):
        hull = torch.from_numpy(cvm(SQUARE, 32, 32))
        exact = torch.zeros(32, 32, dtype=torch.uint8)
        exact[:4] = 1
        labels = torch.tensor([0, 1, 1, 0])
        forgery = torch.stack([exact, exact, torch.zeros_like(exact), torch.zeros_like(exact)])
        has = torch.tensor([True, True, False, False])
        return labels, forgery, has, hull.expand(4, 32, 32).clone()

    @pytest.mark.parametrize("kind", MASK_KINDS)
    @pytest.mark.parametrize("gate", [True, False])
    def test_each_row_is_label_mask_of_that_row(self, batch, kind, gate):
        labels, forgery, has, hulls = batch
        got = label_masks(kind, labels, forgery, has, hulls, gate_by_label=gate)
        assert got.shape == (4, 32, 32) and got.dtype == torch.uint8
        for i in range(4):
            args = (kind, int(labels[i]), 32, 32)
            kw = dict(landmarks=SQUARE, forgery_mask=forgery[i].numpy() if has[i] else None,
                      gate_by_label=gate)
            if kind == "real" and labels[i] == 1 and not has[i]:  # check_data refuses these
                with pytest.raises(ValueError, match="needs the forgery mask"):
                    label_mask(*args, **kw)
                assert got[i].sum() == 0
                continue
            np.testing.assert_array_equal(got[i].numpy(), label_mask(*args, **kw))

    def test_real_images_get_zeros_from_a_gated_head(self, batch):
        labels, forgery, has, hulls = batch
        for kind in MASK_KINDS:
            assert label_masks(kind, labels, forgery, has, hulls)[labels == 0].sum() == 0

    def test_rejects_unknown_kind(self, batch):
        with pytest.raises(ValueError, match="unknown mask kind"):
            label_masks("hull", *batch)
