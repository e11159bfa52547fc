"""Segmentation masks used as dense labels (paper section 3.1).

* zeros mask (ZM): every pixel real, for real images;
* ones mask (OM): every pixel generated, for fully synthetic (GAN) images;
* convex-hull mask (CVM): 1 inside the convex hull of the 68 facial landmarks;
* real forgery mask: the pixels that differ between an aligned real/fake pair.

Mask kinds a head can be trained on (:data:`MASK_KINDS`): the four above, and
``real_or_cvm``: the real forgery mask where one is known, else the CVM. It lets one
``fake`` head train on a mix of fakes with exact masks (``minilocal synth``) and fakes
without (DFDC), and never teaches it the hull where the exact mask is known.

All masks are (H, W) uint8 arrays with values in {0, 1}.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["MASK_KINDS", "MIN_CHANGE", "zeros_mask", "ones_mask", "cvm", "real_mask",
           "label_masks", "label_mask", "changed_mask"]

MASK_KINDS = ("zeros", "ones", "cvm", "real", "real_or_cvm")
MIN_CHANGE = 3  # grey levels: a masked pixel changed by less is labelled real for training


def _check_size(height: int, width: int) -> None:
    if int(height) < 1 or int(width) < 1:
        raise ValueError(f"mask size must be positive, got {height}x{width}")


def zeros_mask(height: int, width: int) -> np.ndarray:
    """Zeros mask (ZM): no manipulated pixel. Returns (H, W) uint8 of 0."""
    _check_size(height, width)
    return np.zeros((height, width), np.uint8)


def ones_mask(height: int, width: int) -> np.ndarray:
    """Ones mask (OM): every pixel generated. Returns (H, W) uint8 of 1."""
    _check_size(height, width)
    return np.ones((height, width), np.uint8)


def cvm(landmarks: np.ndarray, height: int, width: int) -> np.ndarray:
    """Convex-hull mask (CVM, paper 3.1, Fig. 2b) of facial landmarks.

    Args:
        landmarks: (K, 2) float, (x, y) in pixels, K >= 3 (68 from dlib). Points outside
            the image are allowed; the hull is clipped to it.
        height, width: the mask size H, W.

    Returns:
        (H, W) uint8 in {0, 1}, 1 inside the convex hull (border included).

    Raises:
        ValueError: if landmarks is not (K, 2) with K >= 3, holds NaN, spans no area, or
            lies wholly outside the image (never a silent all-zero mask).
    """
    _check_size(height, width)
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 3:
        raise ValueError(f"landmarks must be (K, 2) with K >= 3, got shape {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError("landmarks contain NaN or inf")
    hull = cv2.convexHull(np.round(pts).astype(np.int32))
    if cv2.contourArea(hull) <= 0:
        raise ValueError("landmarks are collinear: their convex hull has no area")
    mask = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    if not mask.any():
        raise ValueError(f"the landmarks' convex hull lies outside the {width}x{height} image")
    return mask


def real_mask(
    real: np.ndarray,
    fake: np.ndarray,
    threshold: int = 12,
    blur_sigma: float = 1.0,
    open_size: int = 3,
    close_size: int = 7,
    min_area: float = 0.001,
) -> np.ndarray:
    """Real forgery mask from an aligned real/fake pair (e.g. the same video frame).

    Steps: Gaussian blur both images (``blur_sigma``, suppresses compression noise);
    per-pixel absolute difference, maximum over channels; keep pixels with difference
    > ``threshold`` (uint8 levels); morphological opening with an ``open_size`` ellipse
    (removes specks), closing with a ``close_size`` ellipse (fills small holes); drop
    connected components smaller than ``min_area`` of the image.

    Args:
        real, fake: (H, W, 3) uint8, pixel-aligned.
        threshold: difference in uint8 levels above which a pixel counts as changed.

    Returns:
        (H, W) uint8 in {0, 1}.

    Raises:
        ValueError: if the images are not equal-size (H, W, 3) uint8.
    """
    real, fake = np.asarray(real), np.asarray(fake)
    for name, im in (("real", real), ("fake", fake)):
        if im.dtype != np.uint8 or im.ndim != 3 or im.shape[2] != 3:
            raise ValueError(f"{name} must be (H, W, 3) uint8, got {im.shape} {im.dtype}")
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape: {real.shape} vs {fake.shape}")
    if blur_sigma > 0:
        real = cv2.GaussianBlur(real, (0, 0), blur_sigma)
        fake = cv2.GaussianBlur(fake, (0, 0), blur_sigma)
    diff = cv2.absdiff(real, fake).max(axis=2)
    mask = (diff > threshold).astype(np.uint8)
    if open_size > 1:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (open_size, open_size))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, k)
    if close_size > 1:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close_size, close_size))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, k)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = np.zeros(n, np.uint8)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area * mask.size
    return keep[labels]


def changed_mask(real, fake, mask, min_change: int = MIN_CHANGE):
    """The training label of an exact forgery mask: the masked pixels that visibly changed.

    Rule: a pixel is labelled fake iff ``mask`` is 1 there and some channel of ``fake``
    differs from ``real`` by at least ``min_change`` grey levels. The exact mask (every
    pixel the blend touched, :mod:`minilocal.synth.blend`) stays on disk for the
    pixel-equality contract; at the feathered edge of a blend 6-21% of its pixels change
    by 2 levels or less and would otherwise be "fake" labels on unchanged pixels.

    Args:
        real, fake: (..., 3, H, W) uint8 tensors or (H, W, 3) uint8 arrays, aligned.
        mask: (..., H, W) in {0, 1}, same type as the images.
        min_change: the smallest change, in grey levels, that counts. Default: MIN_CHANGE.

    Returns:
        (..., H, W) uint8 in {0, 1}, a subset of ``mask``.

    Raises:
        ValueError: if the images differ in shape.
    """
    if tuple(real.shape) != tuple(fake.shape):
        raise ValueError(f"real and fake differ in shape: {tuple(real.shape)} vs "
                         f"{tuple(fake.shape)}")
    if isinstance(real, np.ndarray):
        diff = cv2.absdiff(np.asarray(real), np.asarray(fake)).max(axis=-1)
        return ((diff >= min_change) & (np.asarray(mask) > 0)).astype(np.uint8)
    import torch

    diff = (real.to(torch.int16) - fake.to(torch.int16)).abs().amax(dim=-3)
    return ((diff >= min_change) & (mask > 0)).to(torch.uint8)


def label_masks(kind: str, labels, forgery, has_forgery, hulls, gate_by_label: bool = True):
    """The dense labels of a batch for one mask kind, as the paper assigns them (tensors).

    A head that predicts manipulated pixels (``gate_by_label=True``, e.g. ``fake``) gets
    zeros for every real image (label 0) and, for a fake (label 1):

    * ``zeros``: zeros; ``ones``: ones (OM, fully generated images);
    * ``cvm``: its landmarks' convex hull (``hulls``);
    * ``real``: its true forgery mask (``forgery``; zeros where none is known);
    * ``real_or_cvm``: the forgery mask where there is one (``has_forgery``), else the CVM.

    A head that predicts the face region (``gate_by_label=False``, e.g. ``face``) gets the
    same mask for real and fake images.

    Args:
        kind: one of MASK_KINDS.
        labels: (B,) int, 0 real, 1 fake.
        forgery: (B, H, W) uint8 {0, 1} true forgery masks.
        has_forgery: (B,) bool, the rows with a true forgery mask.
        hulls: (B, H, W) uint8 {0, 1} CVMs.
        gate_by_label: zeros for real images. Default: True.

    Returns:
        (B, H, W) uint8 in {0, 1}, on the device of ``hulls``.

    Raises:
        ValueError: on an unknown kind.
    """
    import torch

    if kind not in MASK_KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; expected one of {MASK_KINDS}")
    if kind in ("zeros", "ones"):
        m = torch.full(tuple(hulls.shape), int(kind == "ones"), dtype=torch.uint8,
                       device=hulls.device)
    elif kind == "real_or_cvm":
        m = torch.where(has_forgery.to(forgery.device)[:, None, None], forgery, hulls)
    else:
        m = hulls if kind == "cvm" else forgery
    return m * labels.to(m.device, torch.uint8)[:, None, None] if gate_by_label else m


def label_mask(kind: str, label: int, height: int, width: int,
               landmarks: np.ndarray | None = None,
               forgery_mask: np.ndarray | None = None,
               gate_by_label: bool = True) -> np.ndarray:
    """The (H, W) dense label of one image for a mask kind: :func:`label_masks` of one row.

    Only what the label needs must be given: ``landmarks`` for the CVM of ``cvm`` (and of
    ``real_or_cvm`` without a forgery mask), ``forgery_mask`` for ``real`` on a fake;
    nothing for a real image of a head with ``gate_by_label`` (zeros).

    Raises:
        ValueError: on an unknown kind or when the landmarks / forgery mask it needs are
            missing or of the wrong shape.
    """
    import torch

    if label not in (0, 1):
        raise ValueError(f"label must be 0 (real) or 1 (fake), got {label!r}")
    _check_size(height, width)
    live = label == 1 or not gate_by_label  # else zeros, whatever is given
    exact = hull = None
    if live and forgery_mask is not None and kind in ("real", "real_or_cvm"):
        if np.shape(forgery_mask) != (height, width):
            raise ValueError(f"forgery mask must be ({height}, {width}), got "
                             f"{np.shape(forgery_mask)}")
        exact = (np.asarray(forgery_mask) > 0).astype(np.uint8)
    if live and (kind == "cvm" or (kind == "real_or_cvm" and exact is None)):
        if landmarks is None:
            raise ValueError("mask kind 'cvm' needs landmarks")
        hull = cvm(landmarks, height, width)
    if kind == "real" and exact is None and label == 1:
        raise ValueError("mask kind 'real' needs the forgery mask of each fake image")
    zeros = torch.zeros(1, height, width, dtype=torch.uint8)
    row = lambda a: zeros if a is None else torch.from_numpy(a)[None]  # noqa: E731
    return label_masks(kind, torch.tensor([label]), row(exact), torch.tensor([exact is not None]),
                       row(hull), gate_by_label)[0].numpy()
