"""Tests for minilocal/faces.py: the 1.3x crop box, borders, crops and align_face."""

import numpy as np
import pytest

from minilocal import face_detection
from minilocal.face_detection import NoFaceError, detect_landmarks
from minilocal.faces import (
    FaceCrop,
    align_face,
    align_with_box,
    crop_box,
    crop_image,
    crop_landmarks,
    fit_box,
)
from minilocal.image_io import read_image
from minilocal.masks import cvm
from minilocal.paths import find_dataset


def _dataset(name):
    try:
        return find_dataset(name)
    except FileNotFoundError:
        pytest.skip(f"shared dataset {name} not available")


@pytest.fixture(scope="module")
def lfw_path():
    return _dataset("lfw_faces") / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg"


@pytest.fixture(scope="module")
def lfw_rgb(lfw_path):
    return read_image(lfw_path)


# ---------------------------------------------------------------- geometry


class TestCropBox:
    def test_square_of_scaled_larger_side_around_centre(self):
        # face 100 x 50 centred at (60, 35): side 130
        assert crop_box((10, 10, 110, 60), 1.3) == (-5, -30, 125, 100)

    def test_box_is_square(self):
        x0, y0, x1, y1 = crop_box((3.2, 7.9, 41.7, 90.1), 1.3, (200, 200, 3))
        assert x1 - x0 == y1 - y0 == round(1.3 * (90.1 - 7.9))

    def test_rejects_bad_scale(self):
        with pytest.raises(ValueError, match="scale must be positive"):
            crop_box((0, 0, 10, 10), 0)

    def test_rejects_empty_face_box(self):
        with pytest.raises(ValueError, match="is empty"):
            crop_box((10, 10, 10, 20), 1.3)

    def test_rejects_box_off_the_image(self):
        with pytest.raises(ValueError, match="does not overlap"):
            crop_box((500, 500, 600, 600), 1.3, (100, 100, 3))


class TestFitBox:
    def test_a_box_inside_the_image_is_unchanged(self):
        assert fit_box((10, 20, 60, 70), (100, 100, 3)) == (10, 20, 60, 70)

    def test_a_box_over_the_edge_moves_inside(self):
        assert fit_box((-10, 50, 40, 100), (80, 120, 3)) == (0, 30, 50, 80)

    def test_a_box_larger_than_the_image_shrinks_to_the_shorter_side(self):
        x0, y0, x1, y1 = fit_box((-40, -40, 264, 264), (224, 200, 3))
        assert x1 - x0 == y1 - y0 == 200
        assert 0 <= x0 and x1 <= 200 and 0 <= y0 and y1 <= 224

    def test_clip_border_leaves_no_black_padding(self):
        rgb = np.full((60, 60, 3), 200, np.uint8)
        box = fit_box(crop_box((5, 5, 55, 55), 1.3, rgb.shape), rgb.shape)
        assert crop_image(rgb, box, 32).min() == 200
        assert crop_image(rgb, crop_box((5, 5, 55, 55), 1.3, rgb.shape), 32).min() == 0

    def test_align_face_rejects_an_unknown_border(self):
        with pytest.raises(ValueError, match="border must be one of"):
            align_face(np.zeros((64, 64, 3), np.uint8), border="mirror")


class TestCropImage:
    def test_pads_outside_with_black(self):
        image = np.full((20, 20, 3), 255, np.uint8)
        out = crop_image(image, (-10, -10, 10, 10), 20)
        assert out.shape == (20, 20, 3)
        assert (out[:10, :] == 0).all() and (out[:, :10] == 0).all()
        assert (out[10:, 10:] == 255).all()

    def test_landmarks_follow_resize(self):
        image = np.zeros((200, 200, 3), np.uint8)
        image[120:124, 60:64] = 255  # a 4x4 dot centred at (61.5, 121.5)
        out = crop_image(image, (0, 0, 200, 200), 100)
        ys, xs = np.nonzero(out[..., 0])
        pt = crop_landmarks(np.array([[61.5, 121.5]]), (0, 0, 200, 200), 100)[0]
        assert pt == pytest.approx([xs.mean(), ys.mean()], abs=0.3)

    def test_landmarks_shift_with_box(self):
        pts = np.array([[50.0, 60.0]], np.float32)
        assert crop_landmarks(pts, (40, 30, 140, 130), 100)[0].tolist() == [10.0, 30.0]


class TestAlignFace:
    def test_crop_and_landmarks(self, lfw_rgb):
        crop = align_face(lfw_rgb)
        assert isinstance(crop, FaceCrop)
        assert crop.image.shape == (128, 128, 3) and crop.image.dtype == np.uint8
        assert crop.landmarks.shape == (68, 2) and crop.detection == "hog"
        x0, y0, x1, y1 = crop.box
        assert x1 - x0 == y1 - y0 and all(isinstance(v, int) for v in crop.box)
        # the convex hull of the landmarks covers the middle of the crop, not all of it
        hull = cvm(crop.landmarks, 128, 128)
        assert 0.2 < hull.mean() < 0.8 and hull[64, 64] == 1

    def test_landmarks_match_a_second_detection_on_the_crop(self, lfw_rgb):
        crop = align_face(lfw_rgb, size=200)
        again = detect_landmarks(crop.image)
        assert np.abs(again - crop.landmarks).mean() < 4.0

    def test_size_option(self, lfw_rgb):
        assert align_face(lfw_rgb, size=64).image.shape == (64, 64, 3)

    def test_rejects_tiny_size(self, lfw_rgb):
        with pytest.raises(ValueError, match="size must be at least 8"):
            align_face(lfw_rgb, size=4)

    def test_whole_image_fallback(self):
        crop = align_face(np.full((120, 120, 3), 128, np.uint8))
        assert crop.detection == "whole_image"
        assert crop.box == crop_box((0, 0, 120, 120), 1.3)

    def test_no_fallback_raises(self):
        with pytest.raises(NoFaceError, match="HOG detector"):
            align_face(np.full((120, 120, 3), 128, np.uint8), fallback=False)

    def test_padded_retry_finds_a_cut_face(self):
        # a tight DFDC crop that the plain detector misses
        path = _dataset("dfdc_faces") / "real" / "abnnlixoap.jpg"
        image = read_image(path)
        assert not face_detection.detect_faces(image)
        assert align_face(image).detection == "hog_padded"

    def test_given_box_keeps_pairs_aligned(self, lfw_rgb):
        crop = align_face(lfw_rgb)
        shifted = np.roll(lfw_rgb, 1, axis=2)
        other = align_with_box(shifted, crop.box, np.zeros((68, 2)), 128)
        assert other.detection == "given" and other.box == crop.box
        assert (np.roll(crop.image, 1, axis=2) == other.image).all()

    def test_centre_prefers_the_centred_person(self):
        # LFW photo where a bystander's face is larger than the person's own
        image = read_image(_dataset("lfw_faces") / "Akmal_Taher" / "Akmal_Taher_0001.jpg")
        assert len(face_detection.detect_faces(image)) >= 2

        def holds_centre(box):
            return box[0] <= 125 < box[2] and box[1] <= 125 < box[3]

        assert not holds_centre(align_face(image).box)
        assert holds_centre(align_face(image, centre=True).box)
