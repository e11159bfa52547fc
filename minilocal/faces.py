"""Face detection, 68 landmarks and aligned square crops (paper section 3.1, Fig. 2).

dlib's HOG face detector finds the largest face; dlib's 68-point shape predictor (from the
``face-recognition-models`` package) places the landmarks whose convex hull is the CVM.
The crop follows the FaceForensics++ convention: a square of side 1.3 x max(w, h) around the
centre of the detection, resized to ``size`` x ``size``. Where the square leaves the image
it is padded with black (value 0), the same black that the deep-funneled LFW photos show in
their corners; nothing is invented by stretching edge pixels.

Tight crops (e.g. the DFDC faces) often defeat the HOG detector, so :func:`align_face`
tries in order, and records which path found the face in ``FaceCrop.detection``:

* ``"hog"``: the detector on the image as it is (native size, no upsampling);
* ``"hog_padded"``: the image padded by 25 % of its size with its edge pixels, first at
  half size, then at full size (a face cut by the border becomes whole again);
* ``"whole_image"``: the whole image is taken as the face box and the predictor runs on it;
* ``"given"``: the caller passed the face box (e.g. the real frame's box for its fake).

dlib is imported here, not by ``import minilocal``; the models load once per process.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["NoFaceError", "FaceCrop", "DETECTIONS", "MIN_SIDE", "MAX_SIDE", "MAX_PIXELS",
           "read_image", "read_encoded", "read_decoded", "image_size", "image_format",
           "decode_image",
           "to_rgb", "detect_faces", "detect_landmarks", "predict_landmarks", "find_face",
           "crop_box", "fit_box", "crop_image", "crop_landmarks", "align_face",
           "align_with_box", "BORDERS"]

DETECTIONS = ("hog", "hog_padded", "whole_image", "given")
BORDERS = ("black", "clip")  # where the crop box leaves the image: pad with black, or fit it
MIN_SIDE = 40  # smaller images carry too few pixels for a face (px)
MAX_SIDE = 8000  # larger images are rejected rather than decoded at full size (px)
MAX_PIXELS = 48_000_000  # and so are images with more pixels than this in all
MAX_FILE_BYTES = 512 << 20  # image files larger than this are not read at all
# OpenCV flags: colour or gray, 8 or 16 bit, alpha dropped, EXIF orientation applied
ORIENTED = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
PAD_FRACTION = 0.25  # padding on each side for the "hog_padded" retry
PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"


class NoFaceError(ValueError):
    """No face was found in an image (and no fallback was allowed)."""


@dataclass
class FaceCrop:
    """An aligned square face crop.

    image: (S, S, 3) uint8 RGB.
    landmarks: (68, 2) float32, (x, y) in crop pixels (may lie slightly outside the crop).
    box: (x0, y0, x1, y1) ints, the square crop box in source pixels (may exceed the image,
        which is then padded with black); x1 - x0 == y1 - y0.
    detection: how the face was found, one of DETECTIONS.
    """

    image: np.ndarray
    landmarks: np.ndarray
    box: tuple[int, int, int, int]
    detection: str


# ---------------------------------------------------------------- reading images

def to_rgb(image: np.ndarray, allow_gray: bool = False) -> np.ndarray:
    """Convert a decoded image (OpenCV channel order) to (H, W, 3) uint8 RGB.

    * 16-bit: scaled to 8 bits (value / 257, rounded);
    * BGRA: alpha dropped when every pixel is opaque, else rejected (a cut-out, not a photo);
    * grayscale: rejected unless ``allow_gray`` (then replicated to 3 channels), because
      colour-less reals next to colour fakes would be a shortcut for a detector.

    Args:
        image: (H, W), (H, W, 1), (H, W, 3) BGR or (H, W, 4) BGRA, uint8 or uint16.

    Raises:
        ValueError: naming the problem: dtype, grayscale, transparency, size.
    """
    image = np.asarray(image)
    if image.dtype == np.uint16:
        image = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"unsupported pixel type {image.dtype}: expected 8- or 16-bit")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        if not allow_gray:
            raise ValueError("grayscale image (1 channel): colour faces are needed")
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"unsupported image shape {image.shape}: expected 1, 3 or 4 channels")
    if image.shape[2] == 4:
        if (image[:, :, 3] < 255).any():
            raise ValueError("RGBA image with transparent pixels: not a photograph")
        image = image[:, :, :3]
    H, W = image.shape[:2]
    if min(H, W) < MIN_SIDE:
        raise ValueError(f"image too small ({W}x{H} px, need at least {MIN_SIDE} px a side)")
    if max(H, W) > MAX_SIDE:
        raise ValueError(f"image too large ({W}x{H} px, at most {MAX_SIDE} px a side)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _truncated(data: bytes) -> bool:
    """True for a JPEG without its end marker or a PNG without its IEND chunk."""
    if data[:3] == b"\xff\xd8\xff":
        return b"\xff\xd9" not in data[-1024:]
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return b"IEND" not in data[-16:]
    return False


# Image sizes are read from the file header (no pixel is decoded) so that a small file
# claiming a huge image is refused before it can take gigabytes of memory.

def _u16(data: bytes, at: int, big: bool = True) -> int:
    return int.from_bytes(data[at:at + 2], "big" if big else "little")


def _u32(data: bytes, at: int, big: bool = True) -> int:
    return int.from_bytes(data[at:at + 4], "big" if big else "little")


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return _u32(data, 16), _u32(data, 20)


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the first SOF marker; None if none comes before the scan."""
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # no length field
            i += 2
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return _u16(data, i + 7), _u16(data, i + 5)
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header
            return None
        i += 2 + _u16(data, i + 2)
    return None


def _bmp_size(data: bytes) -> tuple[int, int] | None:
    if data[:2] != b"BM" or len(data) < 26:
        return None
    if _u32(data, 14, big=False) == 12:  # OS/2 BITMAPCOREHEADER
        return _u16(data, 18, big=False), _u16(data, 20, big=False)
    height = int.from_bytes(data[22:26], "little", signed=True)  # < 0: top-down rows
    return _u32(data, 18, big=False), abs(height)


def _webp_size(data: bytes) -> tuple[int, int] | None:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP" or len(data) < 30:
        return None
    kind, body = data[12:16], data[20:]
    if kind == b"VP8 " and body[3:6] == b"\x9d\x01\x2a":
        return _u16(body, 6, big=False) & 0x3FFF, _u16(body, 8, big=False) & 0x3FFF
    if kind == b"VP8L" and body[:1] == b"\x2f":
        bits = _u32(body, 1, big=False)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X":
        return (int.from_bytes(body[4:7], "little") + 1,
                int.from_bytes(body[7:10], "little") + 1)
    return None


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    """ImageWidth (tag 256) and ImageLength (257) of the first IFD."""
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    big = data[:2] == b"MM"
    ifd = _u32(data, 4, big)
    found: dict[int, int] = {}
    for k in range(_u16(data, ifd, big) if ifd + 2 <= len(data) else 0):
        at = ifd + 2 + 12 * k
        if at + 12 > len(data):
            break
        tag, kind = _u16(data, at, big), _u16(data, at + 2, big)
        if tag in (256, 257):
            found[tag] = _u16(data, at + 8, big) if kind == 3 else _u32(data, at + 8, big)
    return (found[256], found[257]) if len(found) == 2 else None


_HEADERS = {"PNG": _png_size, "JPEG": _jpeg_size, "BMP": _bmp_size, "WebP": _webp_size,
            "TIFF": _tiff_size}


_SIGNATURES = (("PNG", (b"\x89PNG\r\n\x1a\n",)), ("JPEG", (b"\xff\xd8\xff",)),
               ("BMP", (b"BM",)), ("WebP", (b"RIFF",)), ("TIFF", (b"II*\x00", b"MM\x00*")))


def image_format(data: bytes) -> str | None:
    """"PNG", "JPEG", "BMP", "WebP" or "TIFF" from the first bytes, else None."""
    for name, signatures in _SIGNATURES:
        if data.startswith(signatures):
            return name
    return None


def image_size(data: bytes, what: str = "image") -> tuple[int, int]:
    """(width, height) from the header of an encoded image, refusing sizes that the
    readers do not decode: more than MAX_SIDE px a side (or MAX_PIXELS in all).

    Args:
        data: the file's bytes (only the header is parsed).
        what: how the image is named in messages, e.g. its path.

    Raises:
        ValueError: "cannot decode image" for an unknown format or a header without a
            size; "image too large" for a size beyond the caps.
    """
    kind = image_format(data)
    if kind is None:
        raise ValueError(f"cannot decode image {what} (not a PNG, JPEG, BMP, WebP or TIFF "
                         "file, or corrupt)")
    size = _HEADERS[kind](data)
    if not size or min(size) < 1:
        raise ValueError(f"cannot decode image {what}: its {kind} header has no valid size "
                         "(corrupt?)")
    W, H = size
    if max(W, H) > MAX_SIDE or W * H > MAX_PIXELS:
        raise ValueError(f"image too large ({W}x{H} px by its {kind} header, at most "
                         f"{MAX_SIDE} px a side); {what} was not decoded")
    return W, H


def read_encoded(path: str | Path) -> bytes:
    """The bytes of an image file, refusing files over MAX_FILE_BYTES before reading."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    nbytes = path.stat().st_size
    if nbytes > MAX_FILE_BYTES:
        raise ValueError(f"image file too large ({nbytes} bytes, at most {MAX_FILE_BYTES}): "
                         f"{path}")
    return path.read_bytes()


def decode_image(data: bytes, flags: int = ORIENTED, what: str = "image") -> np.ndarray:
    """Decode an encoded image with OpenCV once its header size passed :func:`image_size`.

    EXIF orientation is applied unless ``flags`` is ``cv2.IMREAD_UNCHANGED``; this is the
    one decoder of every minilocal reader (:func:`read_image`, ``folder.load_folder``),
    so all of them see a rotated photo the same way up.

    Raises:
        ValueError: for a size refused by :func:`image_size` or an undecodable file.
    """
    image_size(data, what)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise ValueError(f"cannot decode image {what} (not an image or corrupt)")
    return image


def read_decoded(path: str | Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """``cv2.imread(path, flags)`` with minilocal's checks: the file size capped before
    reading, the header size before decoding (:func:`image_size`), and an error instead of
    None. The reader of dataset images and masks (BGR for ``IMREAD_COLOR``).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: naming ``path``: too large a file or image, or not decodable.
    """
    return decode_image(read_encoded(path), flags, str(path))


def _may_have_alpha(data: bytes) -> bool:
    """False where the file surely has no alpha channel (JPEG, opaque PNG types)."""
    kind = image_format(data)
    if kind == "JPEG":
        return False
    if kind == "PNG":
        idat = data.find(b"IDAT")
        return data[25] in (4, 6) or b"tRNS" in data[:idat if idat > 0 else None]
    return True


def read_image(path: str | Path, allow_gray: bool = False) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB, or say why it cannot be used.

    The size is read from the header first (see :func:`image_size`); the EXIF
    orientation is applied, as by the training loader (``folder.load_folder``).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: for a 0-byte, undecodable, truncated or too large file, and for the
            cases of :func:`to_rgb` (grayscale, transparent, too small, too large).
    """
    data = read_encoded(path)
    if not data:
        raise ValueError("empty file (0 bytes)")
    if _truncated(data):
        raise ValueError("truncated image file (end marker missing)")
    image = decode_image(data, ORIENTED, str(path))
    if _may_have_alpha(data):  # the oriented decode drops alpha: check it on its own
        to_rgb(decode_image(data, cv2.IMREAD_UNCHANGED, str(path)), allow_gray=allow_gray)
    return to_rgb(image, allow_gray=allow_gray)


# ---------------------------------------------------------------- dlib models

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


# ---------------------------------------------------------------- cropping

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
