"""Images and masks as plotly draws them: RGB arrays, PNG data URIs, outlines.

Pixel coordinates throughout: pixel (row y, column x) is centred on (x, y) and the y axis
points down, as in :func:`~minilocal.receptive_field.rf_box`; a box (x0, y0, x1, y1) is
inclusive-exclusive. :mod:`.figures` and :mod:`.explorer` build on these.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

__all__ = ["to_rgb_array", "png_data_uri", "mask_outline"]


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def to_rgb_array(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """Any single RGB image as (H, W, 3) uint8 for display.

    Args:
        image: (3, H, W) or (H, W, 3), uint8 in [0, 255] or float in [0, 1], numpy or torch.

    Returns:
        (H, W, 3) uint8.

    Raises:
        ValueError: if it is not a 3-channel image.
    """
    a = _numpy(image)
    if a.ndim == 3 and a.shape[0] == 3 and a.shape[-1] != 3:
        a = a.transpose(1, 2, 0)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"image must be (3, H, W) or (H, W, 3) RGB, got shape {a.shape}")
    if a.dtype != np.uint8:
        a = np.clip(np.rint(a.astype(np.float32) * 255), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(a)


def png_data_uri(image: np.ndarray | torch.Tensor) -> str:
    """An RGB image as a ``data:image/png;base64,...`` URI, for ``go.Image(source=...)``.

    A PNG is lossless and a few times smaller than the array plotly would otherwise write
    into the figure's JSON (and into every notebook and exported HTML that shows it).

    Args:
        image: one RGB image, as :func:`to_rgb_array` takes.

    Returns:
        the data URI (str).
    """
    import base64

    import cv2

    rgb = to_rgb_array(image)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]),
                           [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:  # pragma: no cover - cv2 encodes any uint8 RGB image
        raise ValueError("could not encode the image as PNG")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _rect(box: Sequence[float]) -> tuple[list[float], list[float]]:
    """Closed outline of (x0, y0, x1, y1), inclusive-exclusive, around pixel edges."""
    x0, y0, x1, y1 = (float(v) - 0.5 for v in box)
    return [x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0]


def mask_outline(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A mask framed by one pixel of zeros, so its outline closes along the image border.

    Args:
        mask: (H, W) {0, 1}.

    Returns:
        (H + 2, W + 2) float32 and the column (W + 2,) and row (H + 2,) coordinates,
        -1 .. W and -1 .. H, for a go.Contour at level 0.5.
    """
    H, W = mask.shape
    z = np.zeros((H + 2, W + 2), np.float32)
    z[1:-1, 1:-1] = mask
    return z, np.arange(-1, W + 1), np.arange(-1, H + 1)
