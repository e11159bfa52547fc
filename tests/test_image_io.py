"""Tests for minilocal/image_io.py: reading image files, and why a file cannot be used."""

import cv2
import numpy as np
import pytest

from minilocal.image_io import read_image, to_rgb


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
