"""Tests for minilocal/augment.py: crops, flips and their seeding."""

import pytest
import torch

from minilocal.augment import (augment_batch, centre_crop, crop, crop_offsets, epoch_order,
                               hflip, jpeg, photometric, step_generator)


def coordinate_images(n=4, size=10):
    """(n, 2, size, size) int64 whose channel 0 is the row and channel 1 the column."""
    r, c = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return torch.stack([r, c])[None].repeat(n, 1, 1, 1)


class TestCrop:
    def test_crop_cuts_the_window_at_each_offset(self):
        x = torch.arange(3 * 2 * 9 * 9).reshape(3, 2, 9, 9)
        offsets = torch.tensor([[0, 0], [2, 4], [4, 1]])
        out = crop(x, offsets, 5)
        assert out.shape == (3, 2, 5, 5)
        for n, (r, c) in enumerate(offsets.tolist()):
            torch.testing.assert_close(out[n], x[n, :, r:r + 5, c:c + 5])

    def test_crop_of_masks_matches_crop_of_images(self):
        x = coordinate_images()
        offsets = torch.tensor([[1, 2], [0, 0], [3, 3], [2, 0]])
        masks = x[:, 0] * 100 + x[:, 1]
        cx, cm = crop(x, offsets, 6), crop(masks, offsets, 6)
        torch.testing.assert_close(cm, cx[:, 0] * 100 + cx[:, 1])

    def test_offsets_stay_inside_the_image(self):
        o = crop_offsets(1000, 128, 64, torch.Generator().manual_seed(0))
        assert o.min() == 0 and o.max() == 64

    def test_offsets_reject_a_crop_larger_than_the_image(self):
        with pytest.raises(ValueError, match=r"crop size must be in \[1, 48\]"):
            crop_offsets(2, 48, 64)

    def test_centre_crop_takes_the_middle(self):
        x = coordinate_images(1, 10)
        out = centre_crop(x, 4)
        assert out[0, 0, 0, 0] == 3 and out[0, 1, 0, 0] == 3 and out.shape[-1] == 4

    def test_centre_crop_rejects_too_large_a_crop(self):
        with pytest.raises(ValueError, match="larger than the 10x10"):
            centre_crop(coordinate_images(1, 10), 12)


class TestFlip:
    def test_hflip_mirrors_only_flagged_samples(self):
        x = coordinate_images(2, 5)
        out = hflip(x, torch.tensor([True, False]))
        torch.testing.assert_close(out[0], x[0].flip(-1))
        torch.testing.assert_close(out[1], x[1])


class TestAugmentBatch:
    def run(self, step, size=32, crop_size=20):
        x = coordinate_images(8, size)
        masks = {"fake": x[:, 0] * 1000 + x[:, 1]}
        return augment_batch(x, masks, crop_size, step_generator(0, 0, step))

    def test_images_and_masks_get_the_same_crop_and_flip(self):
        x, m = self.run(0)
        assert x.shape == (8, 2, 20, 20) and m["fake"].shape == (8, 20, 20)
        torch.testing.assert_close(m["fake"], x[:, 0] * 1000 + x[:, 1])

    def test_some_samples_flipped_some_not(self):
        x, _ = self.run(0)
        flipped = x[:, 1, 0, 0] > x[:, 1, 0, -1]  # columns run backwards
        assert 0 < int(flipped.sum()) < 8

    def test_same_step_gives_the_same_batch(self):
        a, b = self.run(3), self.run(3)
        assert torch.equal(a[0], b[0])

    def test_other_step_gives_another_batch(self):
        assert not torch.equal(self.run(3)[0], self.run(4)[0])

    def test_full_size_crop_keeps_the_image(self):
        x, _ = augment_batch(coordinate_images(4, 12), {}, 12, step_generator(0, 0, 0),
                             flip=False)
        torch.testing.assert_close(x, coordinate_images(4, 12))


class TestSeeding:
    def test_epoch_order_is_a_permutation(self):
        assert sorted(epoch_order(50, 0, 1).tolist()) == list(range(50))

    def test_epoch_order_depends_on_epoch_and_seed_only(self):
        assert torch.equal(epoch_order(50, 0, 1), epoch_order(50, 0, 1))
        assert not torch.equal(epoch_order(50, 0, 1), epoch_order(50, 0, 2))
        assert not torch.equal(epoch_order(50, 0, 1), epoch_order(50, 1, 1))

    def test_rank_changes_the_stream(self):
        a = torch.rand(4, generator=step_generator(0, 1, 2, rank=0))
        b = torch.rand(4, generator=step_generator(0, 1, 2, rank=1))
        assert not torch.equal(a, b)


def noise_images(n=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)


class TestPhotometric:
    def test_jpeg_changes_only_images_with_a_quality(self):
        x = noise_images(3)
        out = jpeg(x, [0, 90, 30])
        torch.testing.assert_close(out[0], x[0])
        err = [(out[i].float() - x[i].float()).abs().mean().item() for i in (1, 2)]
        assert 0 < err[0] < err[1]  # lower quality, larger error
        assert out.dtype == torch.uint8 and out.shape == x.shape

    def test_off_by_default(self):
        x = noise_images()
        torch.testing.assert_close(photometric(x, torch.Generator().manual_seed(0)), x)

    def test_same_generator_same_result(self):
        x = noise_images()
        a = photometric(x, step_generator(0, 1, 2), jpeg_p=0.5, colour=0.2)
        b = photometric(x, step_generator(0, 1, 2), jpeg_p=0.5, colour=0.2)
        c = photometric(x, step_generator(0, 1, 3), jpeg_p=0.5, colour=0.2)
        torch.testing.assert_close(a, b)
        assert not torch.equal(a, c)

    def test_draws_do_not_depend_on_settings(self):
        g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
        photometric(noise_images(), g1)
        photometric(noise_images(), g2, jpeg_p=1.0, colour=0.3)
        assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))

    def test_colour_keeps_a_grey_image_grey_and_in_range(self):
        x = torch.full((2, 3, 8, 8), 128, dtype=torch.uint8)
        out = photometric(x, torch.Generator().manual_seed(0), colour=0.5)
        assert out.dtype == torch.uint8
        assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
        assert not torch.equal(out, x)  # brightness moved
