"""Face detection and the 68 facial landmarks with dlib (paper section 3.1, Fig. 2).

dlib's HOG face detector finds the largest face; dlib's 68-point shape predictor (from the
``face-recognition-models`` package) places the landmarks whose convex hull is the CVM.
Tight crops (e.g. the DFDC faces) often defeat the HOG detector, so :func:`find_face`
tries in order, and returns which path found the face (one of :data:`DETECTIONS`):

* ``"hog"``: the detector on the image as it is (native size, no upsampling);
* ``"hog_padded"``: the image padded by 25 % of its size with its edge pixels, first at
  half size, then at full size (a face cut by the border becomes whole again);
* ``"whole_image"``: the whole image is taken as the face box and the predictor runs on it;
* ``"given"``: the caller passed the face box (e.g. the real frame's box for its fake),
  see :func:`minilocal.faces.align_with_box`.

The square crop around the face is :mod:`minilocal.faces`' job. dlib is imported here, not
by ``import minilocal``; the models load once per process.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading

import cv2
import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["NoFaceError", "DETECTIONS", "detect_faces", "detect_landmarks",
           "predict_landmarks", "find_face"]

DETECTIONS = ("hog", "hog_padded", "whole_image", "given")
PAD_FRACTION = 0.25  # padding on each side for the "hog_padded" retry
PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"


class NoFaceError(ValueError):
    """No face was found in an image (and no fallback was allowed)."""


_models: dict[str, object] = {}
_lock = threading.Lock()


def _predictor_path() -> str:
    # importing face_recognition_models needs pkg_resources, gone in setuptools >= 81
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the 68-point landmark model is missing: pip install "
                          "face-recognition-models")
    path = os.path.join(list(spec.submodule_search_locations)[0], "models", PREDICTOR_FILE)
    if not os.path.isfile(path):
        raise ImportError(f"{PREDICTOR_FILE} not found in {path}: reinstall "
                          "face-recognition-models")
    return path


def _dlib():
    """(detector, predictor), loaded once per process."""
    if not _models:
        with _lock:
            if not _models:
                try:
                    import dlib
                except ImportError as err:
                    raise ImportError("faces need dlib: pip install dlib-bin") from err
                _models["predictor"] = dlib.shape_predictor(_predictor_path())
                _models["detector"] = dlib.get_frontal_face_detector()
                _models["rectangle"] = dlib.rectangle
    return _models["detector"], _models["predictor"]


def _check_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
    return np.ascontiguousarray(image)


def _pick(rects, image_shape, centre: bool, dx: float = 0, dy: float = 0,
          scale: float = 1.0):
    """The largest dlib rectangle as (x0, y0, x1, y1) in source pixels (undoing a
    ``scale`` and a (dx, dy) padding), among those holding the image centre if ``centre``
    and any do; None when there is none."""
    boxes = [(r.left() / scale - dx, r.top() / scale - dy,
              (r.right() + 1) / scale - dx, (r.bottom() + 1) / scale - dy) for r in rects]
    if centre:
        cy, cx = image_shape[0] / 2, image_shape[1] / 2
        boxes = [b for b in boxes if b[0] <= cx < b[2] and b[1] <= cy < b[3]] or boxes
    return max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), default=None)


def detect_faces(image_rgb: np.ndarray, upsample: int = 0) -> list[tuple[int, int, int, int]]:
    """All HOG face boxes (x0, y0, x1, y1) in ``image_rgb`` ((H, W, 3) uint8), largest first."""
    detector, _ = _dlib()
    rects = detector(_check_rgb(image_rgb), upsample)
    boxes = [(r.left(), r.top(), r.right() + 1, r.bottom() + 1) for r in rects]
    return sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))


def _detect(image: np.ndarray, fallback: bool, whole_image: bool = True,
            max_side: int | None = None, centre: bool = False
            ) -> tuple[tuple[float, ...], str]:
    """The largest face box (x0, y0, x1, y1) in source pixels, and the path that found it."""
    detector, _ = _dlib()
    H, W = image.shape[:2]
    if max_side is not None and max(H, W) > max_side:
        f = max_side / max(H, W)
        small = cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        box = _pick(detector(small, 0), image.shape, centre, scale=f)
        if box is not None:
            return box, "hog"
    box = _pick(detector(image, 0), image.shape, centre)
    if box is not None:
        return box, "hog"
    if not fallback:
        raise NoFaceError("no face found by the HOG detector")
    p = int(round(PAD_FRACTION * max(H, W)))
    padded = cv2.copyMakeBorder(image, p, p, p, p, cv2.BORDER_REPLICATE)
    half = cv2.resize(padded, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    box = _pick(detector(half, 0), image.shape, centre, p, p, 0.5)
    if box is None:
        box = _pick(detector(padded, 0), image.shape, centre, p, p)
    if box is not None:
        return box, "hog_padded"
    if not whole_image:
        raise NoFaceError("no face found by the HOG detector, even on the padded image")
    return (0.0, 0.0, float(W), float(H)), "whole_image"


def predict_landmarks(image_rgb: np.ndarray, face_box) -> np.ndarray:
    """The 68 landmarks inside a face box.

    Args:
        image_rgb: (H, W, 3) uint8 RGB.
        face_box: (x0, y0, x1, y1) in source pixels (may exceed the image).

    Returns:
        (68, 2) float32, (x, y) in source pixels.
    """
    image = _check_rgb(image_rgb)
    _, predictor = _dlib()
    x0, y0, x1, y1 = (int(round(v)) for v in face_box)
    shape = predictor(image, _models["rectangle"](x0, y0, x1 - 1, y1 - 1))
    return np.array([(p.x, p.y) for p in shape.parts()], np.float32)


def find_face(image_rgb: np.ndarray, fallback: bool = True, whole_image: bool = True,
              max_side: int | None = None, centre: bool = False
              ) -> tuple[tuple[float, float, float, float], np.ndarray, str]:
    """The largest face: its box (x0, y0, x1, y1), (68, 2) landmarks and detection path.

    Args:
        image_rgb: (H, W, 3) uint8 RGB.
        fallback: retry on a padded image when the plain detection finds nothing.
        whole_image: as the last fallback, take the whole image as the face box (right
            for tight face crops, wrong for photos and video frames).
        max_side: first detect on a copy shrunk to this larger side (much faster on
            video frames; the landmarks are still placed at full resolution), then on
            the full image if that finds nothing. Default: None (full size only).
        centre: among several faces, prefer the largest that holds the image centre
            (LFW photos centre their person; a bigger bystander is not them).

    Raises:
        NoFaceError: if no face is found and no fallback applies.
    """
    image = _check_rgb(image_rgb)
    box, detection = _detect(image, fallback, whole_image, max_side, centre)
    return box, predict_landmarks(image, box), detection


def detect_landmarks(image_rgb: np.ndarray) -> np.ndarray:
    """(68, 2) float32 landmarks (x, y) of the largest face, in source pixels.

    Raises:
        NoFaceError: if the HOG detector finds no face (no fallback here).
    """
    return find_face(image_rgb, fallback=False)[1]
