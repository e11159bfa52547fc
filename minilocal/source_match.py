"""Source matching: take the "which camera?" cue out of a real-vs-GAN comparison (paper Table 2).

The GAN faces and the LFW reals come from different sources, so a classifier can tell them
apart without looking at any generated pixel (shortcut learning). On the shared data the
sources differ in three measurable ways (``ci/bench_gan_shortcut.py``):

* scale: the 1.3x crop box is ~404 px in a 512-px GAN image and ~136 px in a 250-px LFW
  photo, so a GAN crop is shrunk ~3x into 128 px (sharp, noise averaged away), an LFW crop
  hardly at all;
* JPEG: GAN files are libjpeg quality 90, LFW files quality 75 (from their quantization
  tables);
* sharpness and grain: LFW photos are softer and grainier (news cameras, then resampled by
  deep funneling).

:func:`match_source` makes a GAN image look like an LFW photo in those three ways before the
face is aligned: shrink it so its crop box is ``LFW_BOX`` px, blur (sigma ``LFW_BLUR``), add
grey-level noise (``LFW_NOISE``), and re-encode at ``LFW_QUALITY``. :func:`source_statistics`
are four numbers per image that know nothing about faces (Laplacian variance, high-pass
energy, 8-px blockiness, contrast); :func:`shortcut_auc` is how well a logistic regression
on them tells the two sources apart (5-fold cross-validated AUC). On 901 GAN faces against
901 LFW faces it falls from 0.999 (as built) to about 0.76 after matching: the shortcut is
smaller, not gone. Say so wherever GAN faces are used.
"""

from __future__ import annotations

import zlib

import cv2
import numpy as np

__all__ = ["LFW_BOX", "LFW_QUALITY", "LFW_BLUR", "LFW_NOISE", "match_source",
           "source_statistics", "shortcut_auc"]

LFW_BOX = 136  # median 1.3x crop-box side of build/data/lfw_faces (px)
LFW_QUALITY = 75  # libjpeg quality of every LFW file (quantization tables)
# chosen by ci/bench_gan_shortcut.py among sigma/noise (0.8, 2), (1.0, 3), (1.2, 4) and
# blur alone: the smallest change after which the statistics' AUC stopped falling much
LFW_BLUR = 1.0  # Gaussian sigma (px, at the matched scale)
LFW_NOISE = 3.0  # grey-level noise std, the same in R, G and B


def match_source(image: np.ndarray, box_side: float, seed: str | int = 0,
                 target_box: float = LFW_BOX, quality: int = LFW_QUALITY,
                 blur: float = LFW_BLUR, noise: float = LFW_NOISE) -> np.ndarray:
    """Make an image look like it came from the reals' source (before alignment).

    Args:
        image: (H, W, 3) uint8 RGB, the whole source image.
        box_side: side of its face's 1.3x crop box in pixels (``FaceCrop.box``).
        seed: seeds the noise (e.g. the file name), so a rebuild writes the same pixels.
        target_box: crop-box side after resizing. Default: ``LFW_BOX``.
        quality: JPEG quality of the final re-encoding. Default: ``LFW_QUALITY``.
        blur: Gaussian sigma in pixels after resizing (0: none). Default: ``LFW_BLUR``.
        noise: std of the grey-level noise added before the JPEG (0: none).

    Returns:
        (H', W', 3) uint8 RGB, H' = round(H * target_box / box_side).

    Raises:
        ValueError: on an image that is not (H, W, 3) uint8 or a box_side <= 0.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    if box_side <= 0:
        raise ValueError(f"box_side must be > 0, got {box_side}")
    s = target_box / box_side
    out = cv2.resize(image, None, fx=s, fy=s,
                     interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    if blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    if noise > 0:
        key = seed if isinstance(seed, int) else zlib.crc32(str(seed).encode())
        grain = np.random.default_rng(key).normal(0, noise, out.shape[:2])[..., None]
        out = np.clip(out + grain, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()


def source_statistics(images: np.ndarray) -> np.ndarray:
    """Four face-blind numbers per image that differ between cameras and pipelines.

    Args:
        images: (N, H, W, 3) uint8 RGB (e.g. ``FaceSet.images.permute(0, 2, 3, 1)``).

    Returns:
        (N, 4) float: log Laplacian variance, log mean |high-pass| (image minus a
        sigma-1 blur), 8-px blockiness (horizontal gradient on the JPEG grid over the
        mean gradient), grey-level std (contrast).
    """
    rows = []
    for im in images:
        g = cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY).astype(np.float32)
        lap = cv2.Laplacian(g, cv2.CV_32F)
        high = g - cv2.GaussianBlur(g, (5, 5), 1.0)
        dx = np.abs(np.diff(g, axis=1))
        rows.append([np.log(lap.var() + 1e-6), np.log(np.abs(high).mean() + 1e-6),
                     dx[:, 7::8].mean() / (dx.mean() + 1e-6), g.std()])
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def shortcut_auc(stats: np.ndarray, labels: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated AUC of a logistic regression telling the sources apart from ``stats``.

    0.5: the statistics carry no source cue; 1.0: they give the source away. A no-model
    reference for any real-vs-GAN AUC: a network is not shown to detect generation by
    scoring what these four numbers already score.

    Args:
        stats: (N, F) float, e.g. :func:`source_statistics`.
        labels: (N,) 0/1 (e.g. 0 real source, 1 GAN source), both classes >= ``folds``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(labels).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    p = cross_val_predict(model, np.asarray(stats), y, cv=cv, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, p))
