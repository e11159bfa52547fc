"""Aligned square face crops, 1.3x the face box (paper section 3.1, Fig. 2).

The crop follows the FaceForensics++ convention: a square of side 1.3 x max(w, h) around the
centre of the detection (:func:`minilocal.face_detection.find_face`), resized to ``size`` x
``size``. Where the square leaves the image it is padded with black (value 0), the same
black that the deep-funneled LFW photos show in their corners; nothing is invented by
stretching edge pixels. ``border="clip"`` instead fits the square inside the image
(:func:`fit_box`), for inputs that are already tight face crops.

:func:`align_face` detects and crops in one call; :func:`align_with_box` cuts a crop with a
known box, so that a fake frame and its real stay pixel-aligned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from .face_detection import _check_rgb, find_face

logger = logging.getLogger(__name__)

__all__ = ["FaceCrop", "BORDERS", "crop_box", "fit_box", "crop_image", "crop_landmarks",
           "align_face", "align_with_box"]

BORDERS = ("black", "clip")  # where the crop box leaves the image: pad with black, or fit it


@dataclass
class FaceCrop:
    """An aligned square face crop.

    image: (S, S, 3) uint8 RGB.
    landmarks: (68, 2) float32, (x, y) in crop pixels (may lie slightly outside the crop).
    box: (x0, y0, x1, y1) ints, the square crop box in source pixels (may exceed the image,
        which is then padded with black); x1 - x0 == y1 - y0.
    detection: how the face was found, one of
        :data:`~minilocal.face_detection.DETECTIONS`.
    """

    image: np.ndarray
    landmarks: np.ndarray
    box: tuple[int, int, int, int]
    detection: str


def crop_box(face_box, scale: float = 1.3, image_shape: tuple[int, ...] | None = None
             ) -> tuple[int, int, int, int]:
    """The square crop box of side ``scale`` x max(w, h) around a face box's centre.

    The box is not clipped: :func:`crop_image` pads the part outside the image with black.

    Args:
        face_box: (x0, y0, x1, y1) of the face, source pixels.
        scale: side of the crop over the larger side of the face box (FF++: 1.3).
        image_shape: (H, W, ...) of the source; when given, the box must overlap the image.

    Returns:
        (x0, y0, x1, y1) ints with x1 - x0 == y1 - y0 >= 1.

    Raises:
        ValueError: on a non-positive scale, an empty face box, or a box off the image.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    fx0, fy0, fx1, fy1 = (float(v) for v in face_box)
    if fx1 <= fx0 or fy1 <= fy0:
        raise ValueError(f"face box {tuple(face_box)} is empty: need x1 > x0 and y1 > y0")
    side = max(1, int(round(scale * max(fx1 - fx0, fy1 - fy0))))
    x0 = int(round((fx0 + fx1) / 2 - side / 2))
    y0 = int(round((fy0 + fy1) / 2 - side / 2))
    box = (x0, y0, x0 + side, y0 + side)
    if image_shape is not None:
        H, W = image_shape[:2]
        if box[2] <= 0 or box[3] <= 0 or box[0] >= W or box[1] >= H:
            raise ValueError(f"crop box {box} does not overlap the {W}x{H} image")
    return box


def fit_box(box, image_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Move a square box inside the image, shrinking it (about its centre) to the image's
    shorter side if it is larger, so that the crop holds no padding.

    For inputs that are already tight face crops (DFDC): the 1.3x box of a face that fills
    the image is larger than the image, and :func:`crop_image` would pad about a third of
    the crop with black; the fitted box is then the whole (square) image.

    Args:
        box: (x0, y0, x1, y1) square, source pixels.
        image_shape: (H, W, ...) of the source.

    Returns:
        (x0, y0, x1, y1) square, inside [0, W] x [0, H].
    """
    H, W = image_shape[:2]
    x0, y0, x1, y1 = (int(v) for v in box)
    side = min(x1 - x0, H, W)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    x0 = int(round(min(max(cx - side / 2, 0), W - side)))
    y0 = int(round(min(max(cy - side / 2, 0), H - side)))
    return x0, y0, x0 + side, y0 + side


def crop_image(image: np.ndarray, box, size: int) -> np.ndarray:
    """Cut ``box`` (x0, y0, x1, y1) out of ``image`` (H, W[, C]), black outside, resized to
    (size, size[, C]) (INTER_AREA when shrinking, INTER_LINEAR when enlarging)."""
    x0, y0, x1, y1 = box
    H, W = image.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    patch = image[cy0:cy1, cx0:cx1]
    if (cx0, cy0, cx1, cy1) != (x0, y0, x1, y1):
        patch = cv2.copyMakeBorder(patch, cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1,
                                   cv2.BORDER_CONSTANT, value=0)
    side = x1 - x0
    if side == size:
        return np.ascontiguousarray(patch)
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)


def crop_landmarks(landmarks: np.ndarray, box, size: int) -> np.ndarray:
    """Map (K, 2) source-pixel landmarks into the (size x size) crop of ``box``.

    Pixel centres map as in cv2.resize: x' = (x - x0 + 0.5) * size / side - 0.5.
    """
    side = box[2] - box[0]
    f = size / side
    pts = (np.asarray(landmarks, np.float32) - np.array(box[:2], np.float32) + 0.5) * f - 0.5
    return pts.astype(np.float32)


def _check_size(size: int) -> None:
    if int(size) < 8:
        raise ValueError(f"size must be at least 8 px, got {size}")


def align_with_box(image_rgb: np.ndarray, box, landmarks: np.ndarray, size: int = 128,
                   detection: str = "given") -> FaceCrop:
    """Crop ``image_rgb`` with a known square ``box``; ``landmarks`` (68, 2) in source pixels.

    Use it to cut a fake frame with its real frame's box so the pair stays pixel-aligned.
    """
    _check_size(size)
    image = _check_rgb(image_rgb)
    box = tuple(int(v) for v in box)
    return FaceCrop(crop_image(image, box, size), crop_landmarks(landmarks, box, size),
                    box, detection)


def align_face(image_rgb: np.ndarray, size: int = 128, scale: float = 1.3,
               fallback: bool = True, whole_image: bool = True,
               centre: bool = False, border: str = "black") -> FaceCrop:
    """Detect the largest face and cut the aligned square crop (paper 3.1).

    Args:
        image_rgb: (H, W, 3) uint8 RGB.
        size: output side S in pixels. Default: 128.
        scale: crop side over the face box's larger side. Default: 1.3 (FF++).
        fallback: when HOG finds nothing, retry on a padded image, then (if
            ``whole_image``) use the whole image as the face box. Default: True.
        whole_image: allow the whole-image fallback. Default: True (tight crops); pass
            False for photos, where it would crop whatever is there.
        centre: prefer the largest face holding the image centre. Default: False.
        border: "black" pads the part of the box outside the image (FF++ convention);
            "clip" fits the box inside the image first (:func:`fit_box`). Default: "black".

    Returns:
        a :class:`FaceCrop` with a (S, S, 3) image and (68, 2) landmarks in crop pixels.

    Raises:
        NoFaceError: if no face is found and ``fallback`` is False.
        ValueError: on a malformed image or size.

    Example:
        >>> crop = align_face(read_image("face.jpg"))
        >>> crop.image.shape, crop.landmarks.shape
        ((128, 128, 3), (68, 2))
    """
    _check_size(size)
    if border not in BORDERS:
        raise ValueError(f"border must be one of {BORDERS}, got {border!r}")
    image = _check_rgb(image_rgb)
    face_box, landmarks, detection = find_face(image, fallback, whole_image, centre=centre)
    box = crop_box(face_box, scale, image.shape)
    if border == "clip":
        box = fit_box(box, image.shape)
    return align_with_box(image, box, landmarks, size, detection)
