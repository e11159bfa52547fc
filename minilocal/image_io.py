"""Reading image files: sizes checked in the header, EXIF orientation, conversion to RGB.

Every minilocal reader decodes through :func:`decode_image`: :func:`read_image` for a new
photo (predict, preprocess), :func:`read_decoded` for dataset images and masks
(``faceset.load_folder``, ``synth``). The size is read from the file header before any
pixel is decoded, so a small file claiming a huge image is refused before it can take
gigabytes of memory; the EXIF orientation is applied, so every reader sees a rotated
photo the same way up. :func:`to_rgb` then says why an image cannot be used as a face
photo (grayscale, transparent, too small, too large).
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["MIN_SIDE", "MAX_SIDE", "MAX_PIXELS", "read_image", "read_encoded",
           "read_decoded", "image_size", "image_format", "decode_image", "to_rgb"]

MIN_SIDE = 40  # smaller images carry too few pixels for a face (px)
MAX_SIDE = 8000  # larger images are rejected rather than decoded at full size (px)
MAX_PIXELS = 48_000_000  # and so are images with more pixels than this in all
MAX_FILE_BYTES = 512 << 20  # image files larger than this are not read at all
# OpenCV flags: colour or gray, 8 or 16 bit, alpha dropped, EXIF orientation applied
ORIENTED = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR


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
    one decoder of every minilocal reader (:func:`read_image`, ``faceset.load_folder``),
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
    orientation is applied, as by the training loader (``faceset.load_folder``).

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
