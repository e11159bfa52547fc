"""Tests for minilocal/faces.py: reading images, detection with fallbacks, aligned crops."""

import ast
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import minilocal
from minilocal import faces
from minilocal.faces import (
    FaceCrop,
    NoFaceError,
    align_face,
    align_with_box,
    crop_box,
    crop_image,
    fit_box,
    crop_landmarks,
    detect_landmarks,
    find_face,
    read_image,
    to_rgb,
)
from minilocal.paths import find_dataset
from minilocal.masks import cvm


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


def write(path, array, ext=".png"):
    ok, buf = cv2.imencode(ext, array)
    assert ok
    path.write_bytes(buf.tobytes())
    return path


# ---------------------------------------------------------------- read_image


class TestReadImage:
    def test_reads_rgb_in_order(self, tmp_path):
        bgr = np.zeros((50, 60, 3), np.uint8)
        bgr[..., 0] = 200  # blue in OpenCV order
        im = read_image(write(tmp_path / "b.png", bgr))
        assert im.shape == (50, 60, 3) and im.dtype == np.uint8
        assert im[0, 0].tolist() == [0, 0, 200]

    @pytest.mark.parametrize("case, match", [
        ("empty", r"empty file \(0 bytes\)"),
        ("garbage", "cannot decode image"),
        ("truncated_jpg", "truncated image file"),
        ("truncated_png", "truncated image file"),
        ("gray", "grayscale image"),
        ("rgba_transparent", "transparent pixels"),
        ("tiny", "image too small"),
        ("huge", "image too large"),
    ])
    def test_bad_input_says_why(self, tmp_path, case, match):
        rng = np.random.default_rng(0)
        photo = rng.integers(0, 255, (64, 64, 3), np.uint8)
        if case == "empty":
            path = tmp_path / "x.jpg"
            path.write_bytes(b"")
        elif case == "garbage":
            path = tmp_path / "x.jpg"
            path.write_bytes(b"this is not an image" * 10)
        elif case == "truncated_jpg":
            data = write(tmp_path / "full.jpg", photo, ".jpg").read_bytes()
            path = tmp_path / "x.jpg"
            path.write_bytes(data[: len(data) // 2])
        elif case == "truncated_png":
            data = write(tmp_path / "full.png", photo).read_bytes()
            path = tmp_path / "x.png"
            path.write_bytes(data[: len(data) - 20])
        elif case == "gray":
            path = write(tmp_path / "x.png", photo[..., 0])
        elif case == "rgba_transparent":
            rgba = np.dstack([photo, np.full((64, 64), 255, np.uint8)])
            rgba[:5, :5, 3] = 0
            path = write(tmp_path / "x.png", rgba)
        elif case == "tiny":
            path = write(tmp_path / "x.png", photo[:30, :30])
        else:
            path = write(tmp_path / "x.png", np.zeros((48, 8001, 3), np.uint8))
        with pytest.raises(ValueError, match=match):
            read_image(path)

    def test_missing_file(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="no such image file"):
            read_image(tmp_path / "nope.jpg")

    def test_gray_allowed_is_replicated(self, tmp_path):
        gray = np.arange(64 * 64, dtype=np.uint32).reshape(64, 64).astype(np.uint8)
        im = read_image(write(tmp_path / "g.png", gray), allow_gray=True)
        assert im.shape == (64, 64, 3)
        assert (im[..., 0] == gray).all() and (im[..., 2] == gray).all()

    def test_opaque_rgba_drops_alpha(self, tmp_path):
        bgr = np.full((48, 48, 3), (10, 20, 30), np.uint8)
        rgba = np.dstack([bgr, np.full((48, 48), 255, np.uint8)])
        im = read_image(write(tmp_path / "a.png", rgba))
        assert im.shape == (48, 48, 3) and im[0, 0].tolist() == [30, 20, 10]

    def test_16_bit_is_scaled_to_8(self, tmp_path):
        bgr16 = np.full((48, 48, 3), 257 * 100, np.uint16)
        bgr16[0, 0] = 65535
        im = read_image(write(tmp_path / "d.png", bgr16))
        assert im.dtype == np.uint8
        assert im[1, 1].tolist() == [100, 100, 100] and im[0, 0].tolist() == [255, 255, 255]

    def test_rejects_float_pixels(self):
        with pytest.raises(ValueError, match="unsupported pixel type float32"):
            to_rgb(np.zeros((50, 50, 3), np.float32))

    def test_rejects_two_channels(self):
        with pytest.raises(ValueError, match="unsupported image shape"):
            to_rgb(np.zeros((50, 50, 2), np.uint8))


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


# ---------------------------------------------------------------- detection


class TestModels:
    def test_predictor_found_without_importing_package(self):
        assert faces._predictor_path().endswith("shape_predictor_68_face_landmarks.dat")
        assert "face_recognition_models" not in sys.modules

    @pytest.mark.parametrize("module", ["faces", "video", "compress", "adapters"])
    def test_dlib_and_av_are_imported_lazily(self, module):
        # `import minilocal` must not need dlib or PyAV: no top-level import of them
        tree = ast.parse(Path(minilocal.__file__).with_name(f"{module}.py").read_text())
        top = {alias.name.split(".")[0] for node in tree.body
               if isinstance(node, (ast.Import, ast.ImportFrom))
               for alias in node.names}
        top |= {node.module.split(".")[0] for node in tree.body
                if isinstance(node, ast.ImportFrom) and node.module}
        assert not top & {"dlib", "av", "face_recognition_models"}


class TestDetect:
    def test_landmarks_of_a_real_face(self, lfw_rgb):
        pts = detect_landmarks(lfw_rgb)
        assert pts.shape == (68, 2) and pts.dtype == np.float32
        # LFW deep-funneled: the face sits in the middle of the 250 px photo
        assert 80 < pts[:, 0].mean() < 170 and 80 < pts[:, 1].mean() < 170

    def test_no_face_raises(self):
        with pytest.raises(NoFaceError, match="no face found"):
            detect_landmarks(np.full((120, 120, 3), 128, np.uint8))

    def test_no_face_without_whole_image(self):
        with pytest.raises(NoFaceError, match="even on the padded image"):
            find_face(np.full((120, 120, 3), 128, np.uint8), whole_image=False)

    def test_rejects_non_rgb(self):
        with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8 RGB"):
            detect_landmarks(np.zeros((50, 50), np.uint8))


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
        assert not faces.detect_faces(image)
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
        assert len(faces.detect_faces(image)) >= 2

        def holds_centre(box):
            return box[0] <= 125 < box[2] and box[1] <= 125 < box[3]

        assert not holds_centre(align_face(image).box)
        assert holds_centre(align_face(image, centre=True).box)
