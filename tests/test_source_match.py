"""Source matching: LFW-like scale, blur, grain and JPEG; the no-model shortcut AUC."""

import cv2
import numpy as np
import pytest

from minilocal.folder import read_records
from minilocal.preprocess import build_dataset
from minilocal.source_match import (LFW_BOX, match_source, shortcut_auc,
                                    source_statistics)


def _texture(side: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (side, side, 3), dtype=np.uint8)


class TestMatchSource:
    def test_scale_follows_the_box(self):
        out = match_source(_texture(400), box_side=2 * LFW_BOX)
        assert out.shape == (200, 200, 3) and out.dtype == np.uint8

    def test_same_seed_same_pixels_other_seed_other_grain(self):
        im = _texture(300)
        a, b = match_source(im, 300, seed="x.jpg"), match_source(im, 300, seed="x.jpg")
        c = match_source(im, 300, seed="y.jpg")
        assert np.array_equal(a, b) and not np.array_equal(a, c)

    def test_blur_and_jpeg_remove_high_frequencies(self):
        im = _texture(272)
        matched = match_source(im, 272)  # scale 1: only blur, grain and JPEG act
        lap = [cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
               for x in (im, matched)]
        assert lap[1] < lap[0] / 10

    @pytest.mark.parametrize("bad", [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 3), np.float32)])
    def test_bad_image(self, bad):
        with pytest.raises(ValueError, match="uint8"):
            match_source(bad, 8)

    def test_bad_box(self):
        with pytest.raises(ValueError, match="box_side"):
            match_source(_texture(8), 0)


class TestShortcut:
    def test_statistics_shape(self):
        stats = source_statistics(np.stack([_texture(32, s) for s in range(3)]))
        assert stats.shape == (3, 4) and np.isfinite(stats).all()

    def test_sharp_against_blurred_is_given_away_and_alike_is_not(self):
        sharp = np.stack([_texture(32, s) for s in range(20)])
        blurred = np.stack([cv2.GaussianBlur(x, (0, 0), 1.5) for x in
                            (_texture(32, s) for s in range(20, 40))])
        y = np.r_[np.zeros(20), np.ones(20)]
        assert shortcut_auc(source_statistics(np.concatenate([sharp, blurred])), y) > 0.95
        alike = np.stack([_texture(32, s) for s in range(40, 60)])
        assert shortcut_auc(source_statistics(np.concatenate([sharp, alike])), y) < 0.8


class TestPreprocessMatch:
    def test_gan_faces_matched_to_lfw(self, lfw_root, tmp_path):
        src = tmp_path / "gan"
        src.mkdir()
        photo = lfw_root / "Abdullah_Gul" / "Abdullah_Gul_0003.jpg"
        big = cv2.resize(cv2.imread(str(photo)), (500, 500), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(src / "1.png"), big)
        plain = build_dataset("gan_faces", src, tmp_path / "plain", size=64)
        matched = build_dataset("gan_faces", src, tmp_path / "matched", size=64, match="lfw")
        assert plain["written"] == matched["written"] == 1
        box = [int(v) for v in read_records(tmp_path / "matched")[0].box.split()]
        assert abs((box[2] - box[0]) - LFW_BOX) <= 0.15 * LFW_BOX  # the box now LFW-sized
        a = cv2.imread(str(tmp_path / "plain" / "images" / "gan_1.png"))
        b = cv2.imread(str(tmp_path / "matched" / "images" / "gan_1.png"))
        assert 15 < cv2.PSNR(a, b) < 45  # the same face, not the same pixels

    def test_unknown_match(self, tmp_path):
        with pytest.raises(ValueError, match="unknown match"):
            build_dataset("gan_faces", tmp_path, tmp_path / "out", match="ffhq")
