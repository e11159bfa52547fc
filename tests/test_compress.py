"""Tests for minilocal/compress.py: H.264 round trips at FF++'s c23 and c40."""

import cv2
import numpy as np
import pytest

from minilocal.compress import LEVELS, compress_frames, compress_image


def textured(seed: int, h: int = 64, w: int = 64) -> np.ndarray:
    """A smooth random texture: compressible, but not trivially."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (h // 8, w // 8, 3), np.uint8)
    im = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(im.astype(int) + rng.integers(-20, 20, im.shape), 0, 255).astype(np.uint8)


def psnr(a, b):
    return np.mean([cv2.PSNR(x, y) for x, y in zip(a, b)])


class TestCompressFrames:
    def test_levels_are_ffpp_crfs(self):
        assert LEVELS == {"c0": None, "c23": 23, "c40": 40}

    def test_c0_returns_copies_unchanged(self):
        frames = [textured(i) for i in range(3)]
        out = compress_frames(frames, "c0")
        assert all((a == b).all() for a, b in zip(frames, out))
        out[0][0, 0] = 1 - frames[0][0, 0]
        assert out[0][0, 0, 0] != frames[0][0, 0, 0]

    @pytest.mark.parametrize("level", ["c23", "c40"])
    def test_round_trip_keeps_count_shape_and_order(self, level):
        frames = [np.full((32, 48, 3), v, np.uint8) for v in (20, 200, 90, 160, 40)]
        out = compress_frames(frames, level)
        assert len(out) == 5
        assert all(o.shape == (32, 48, 3) and o.dtype == np.uint8 for o in out)
        assert [int(round(o.mean())) for o in out] == pytest.approx([20, 200, 90, 160, 40],
                                                                     abs=3)

    def test_c40_loses_more_than_c23(self):
        frames = [textured(i) for i in range(8)]
        p23 = psnr(frames, compress_frames(frames, "c23"))
        p40 = psnr(frames, compress_frames(frames, "c40"))
        assert p40 < p23 < 60
        assert p23 > 20 and p23 - p40 > 2

    def test_odd_size_is_kept(self):
        out = compress_frames([textured(0, 33, 47)], "c23")
        assert out[0].shape == (33, 47, 3)

    def test_rejects_unknown_level(self):
        with pytest.raises(ValueError, match="unknown compression level 'c99'"):
            compress_frames([textured(0)], "c99")

    def test_rejects_no_frames(self):
        with pytest.raises(ValueError, match="no frames"):
            compress_frames([], "c23")

    def test_rejects_mixed_sizes(self):
        with pytest.raises(ValueError, match="share one size"):
            compress_frames([textured(0), textured(1, 32, 32)], "c23")

    def test_rejects_non_rgb(self):
        with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8 RGB"):
            compress_frames([np.zeros((8, 8), np.uint8)], "c23")

    def test_rejects_one_pixel(self):
        with pytest.raises(ValueError, match="at least 2x2"):
            compress_frames([np.zeros((1, 8, 3), np.uint8)], "c23")


class TestCompressImage:
    def test_one_image(self):
        im = textured(3)
        out = compress_image(im, "c40")
        assert out.shape == im.shape and not (out == im).all()
        assert psnr([im], [out]) > 15
