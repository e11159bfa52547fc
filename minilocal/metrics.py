"""Detection and localization metrics (paper section 4: accuracy, Fig. 3 ROC and PR).

Image level, for a score that is higher for fake (p_fake or the mean segmentation
probability): accuracy at 0.5, ROC AUC, average precision (AP, the area under the PR
curve), and the equal error rate (EER, where the false positive rate equals the false
negative rate on the ROC, linearly interpolated between ROC points). Pixel level, for a
forgery probability map against a true mask: pixel AUC and IoU at 0.5.

Ranking metrics come from scikit-learn. They need both classes: with one class only,
AUC, AP and EER are NaN and a :class:`UserWarning` says why (ACC is still defined), so
that a per-method or per-compression breakdown with a one-class slice does not crash.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import NamedTuple

import numpy as np
import torch

logger = logging.getLogger(__name__)

__all__ = ["binary_metrics", "auc_standard_error", "localization_metrics", "localization_report",
           "centre_gaussian",
           "roc_curve", "pr_curve", "equal_error_rate", "RocCurve", "PrCurve"]

THRESHOLD = 0.5  # score above which an image (or pixel) is called fake


class RocCurve(NamedTuple):
    """fpr, tpr: (T,) float rising from 0 to 1; thresholds: (T,) falling."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray


class PrCurve(NamedTuple):
    """precision, recall: (T + 1,) float, recall falling to 0; thresholds: (T,) rising."""

    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray


def _as_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy() if x.is_floating_point() else x.cpu().numpy()
    return np.asarray(x)


def _check_binary(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    """Validate and flatten (N,) labels in {0, 1} and (N,) finite scores."""
    y, s = _as_numpy(labels).reshape(-1), _as_numpy(scores).reshape(-1)
    if y.size == 0:
        raise ValueError("labels is empty: need at least one example")
    if y.shape != s.shape:
        raise ValueError(f"labels and scores must have the same length, got {y.size} "
                         f"labels and {s.size} scores")
    bad = np.setdiff1d(np.unique(y), [0, 1])
    if bad.size:
        raise ValueError(f"labels must be 0 (real) or 1 (fake), found {bad[:5].tolist()}")
    if not np.issubdtype(s.dtype, np.number) or not np.isfinite(s).all():
        raise ValueError("scores must be finite numbers (found NaN, inf or non-numbers)")
    return y.astype(np.int64), s.astype(np.float64)


def _both_classes(y: np.ndarray, what: str) -> bool:
    if y.min() == y.max():
        only = "fake" if y[0] == 1 else "real"
        warnings.warn(f"{what}: only {only} examples ({y.size}); AUC, AP and EER are "
                      "undefined and reported as NaN", UserWarning, stacklevel=3)
        return False
    return True


def roc_curve(labels: np.ndarray | torch.Tensor, scores: np.ndarray | torch.Tensor) -> RocCurve:
    """The ROC curve (Fig. 3c) of a score that is higher for fake.

    Args:
        labels: (N,) int, 0 real, 1 fake; both classes present.
        scores: (N,) float, e.g. p_fake in [0, 1].

    Returns:
        :class:`RocCurve` (fpr, tpr, thresholds), each (T,), T <= N + 1.

    Raises:
        ValueError: on empty or mismatched inputs, labels outside {0, 1}, non-finite
            scores, or only one class present.
    """
    from sklearn import metrics as skm

    y, s = _check_binary(labels, scores)
    if y.min() == y.max():
        raise ValueError("roc_curve needs both real (0) and fake (1) labels, got one class")
    fpr, tpr, thr = skm.roc_curve(y, s, drop_intermediate=False)
    return RocCurve(fpr, tpr, thr)


def pr_curve(labels: np.ndarray | torch.Tensor, scores: np.ndarray | torch.Tensor) -> PrCurve:
    """The precision-recall curve (Fig. 3b), fake as the positive class.

    Args:
        labels: (N,) int, 0 real, 1 fake; both classes present.
        scores: (N,) float, higher for fake.

    Returns:
        :class:`PrCurve` (precision, recall, thresholds).

    Raises:
        ValueError: as :func:`roc_curve`.
    """
    from sklearn import metrics as skm

    y, s = _check_binary(labels, scores)
    if y.min() == y.max():
        raise ValueError("pr_curve needs both real (0) and fake (1) labels, got one class")
    precision, recall, thr = skm.precision_recall_curve(y, s)
    return PrCurve(precision, recall, thr)


def equal_error_rate(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """EER: the rate where FPR = FNR (= 1 - TPR), interpolated between ROC points.

    Args:
        fpr, tpr: (T,) a ROC curve with fpr rising from 0 to 1 (as :func:`roc_curve`).

    Returns:
        the EER in [0, 1]; 0 for a perfect ranking, 0.5 for chance.
    """
    fpr, fnr = np.asarray(fpr, np.float64), 1.0 - np.asarray(tpr, np.float64)
    diff = fnr - fpr  # falls from >= 0 (start of the curve) to <= 0 (end)
    i = int(np.argmax(diff <= 0))  # first point at or past the crossing
    if i == 0 or diff[i] == 0:
        return float((fpr[i] + fnr[i]) / 2)
    t = diff[i - 1] / (diff[i - 1] - diff[i])  # where the segment's diff reaches 0
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def binary_metrics(labels: np.ndarray | torch.Tensor, scores: np.ndarray | torch.Tensor,
                   threshold: float = THRESHOLD) -> dict[str, float]:
    """ACC, AUC, AP and EER of a fake score.

    Args:
        labels: (N,) int, 0 real, 1 fake.
        scores: (N,) float, higher for fake (p_fake or the mean segmentation
            probability, both in [0, 1]).
        threshold: an image is called fake when its score is above it (a tie goes to
            real, as argmax over (real, fake) does). Default: 0.5.

    Returns:
        {"acc", "auc", "ap", "eer": float, "n": int, "n_fake": int}; auc, ap and eer
        are NaN (with a UserWarning) when only one class is present.

    Raises:
        ValueError: on empty or mismatched inputs, labels outside {0, 1} or
            non-finite scores.

    Example:
        >>> binary_metrics([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.9])
        {'acc': 0.75, 'auc': 1.0, 'ap': 1.0, 'eer': 0.0, 'n': 4, 'n_fake': 2}
    """
    from sklearn import metrics as skm

    y, s = _check_binary(labels, scores)
    out = {"acc": float(np.mean((s > threshold) == (y == 1))), "auc": math.nan,
           "ap": math.nan, "eer": math.nan, "n": int(y.size), "n_fake": int(y.sum())}
    if _both_classes(y, "binary_metrics"):
        fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
        out["auc"] = float(skm.roc_auc_score(y, s))
        out["ap"] = float(skm.average_precision_score(y, s))
        out["eer"] = equal_error_rate(fpr, tpr)
    return out


def auc_standard_error(auc: float, n_fake: int, n_real: int) -> float:
    """Standard error of an ROC AUC (Hanley & McNeil 1982), from the AUC and class sizes.

    SE^2 = (A(1-A) + (n_fake-1)(Q1-A^2) + (n_real-1)(Q2-A^2)) / (n_fake n_real), with
    Q1 = A / (2-A) and Q2 = 2A^2 / (1+A). About 0.03 at AUC 0.75 with 300 per class;
    "AUC +- 1.96 SE" is a rough 95% interval.

    Raises:
        ValueError: if a class is empty or the AUC is outside [0, 1].
    """
    if n_fake < 1 or n_real < 1 or not 0.0 <= auc <= 1.0:
        raise ValueError(f"need n_fake, n_real >= 1 and auc in [0, 1], got {n_fake}, "
                         f"{n_real}, {auc}")
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    var = (auc * (1 - auc) + (n_fake - 1) * (q1 - auc ** 2)
           + (n_real - 1) * (q2 - auc ** 2)) / (n_fake * n_real)
    return float(math.sqrt(max(var, 0.0)))


def localization_metrics(prob_maps: np.ndarray | torch.Tensor, masks: np.ndarray | torch.Tensor,
                         threshold: float = THRESHOLD, max_pixels: int | None = 4_000_000,
                         seed: int = 0) -> dict[str, float]:
    """Pixel-level AUC and IoU of forgery probability maps against true masks.

    Args:
        prob_maps: (N, H, W) float in [0, 1], the forgery probability at every input
            pixel (e.g. :func:`~minilocal.receptive_field.upsample_to_input` of the
            fake-probability map).
        masks: (N, H, W) {0, 1} (or bool), the true forgery masks.
        threshold: a pixel is called fake when its probability is above it. Default 0.5.
        max_pixels: pixel AUC and AP use a seeded random sample of at most this many
            pixels (the whole set when smaller, or None). Default: 4,000,000.
        seed: seed of that sample.

    Returns:
        {"pixel_auc", "pixel_ap": float (NaN with a warning when every pixel has one
        class), "iou": mean over images of |pred & mask| / |pred | mask| (1.0 for an
        image where both are empty), "iou_pooled": the same ratio summed over all
        pixels, "pixel_acc", "n": images, "n_pixels"}.

    Raises:
        ValueError: on shapes that are not (N, H, W) and equal, masks outside {0, 1}
            or non-finite probabilities.
    """
    from sklearn import metrics as skm

    p, m = _as_numpy(prob_maps), _as_numpy(masks)
    if p.ndim != 3 or p.shape != m.shape:
        raise ValueError(f"prob_maps and masks must both be (N, H, W) of one shape, got "
                         f"{p.shape} and {m.shape}")
    if p.size == 0:
        raise ValueError("prob_maps is empty: need at least one image")
    bad = np.setdiff1d(np.unique(m), [0, 1])
    if bad.size:
        raise ValueError(f"masks must hold 0 and 1 only, found {bad[:5].tolist()}; "
                         "divide 0/255 masks by 255")
    if not np.isfinite(p).all():
        raise ValueError("prob_maps contain NaN or inf")
    m = m.astype(bool)
    pred = p > threshold
    inter = (pred & m).sum(axis=(1, 2)).astype(np.float64)
    union = (pred | m).sum(axis=(1, 2)).astype(np.float64)
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    out = {"pixel_auc": math.nan, "pixel_ap": math.nan, "iou": float(iou.mean()),
           "iou_pooled": float(inter.sum() / union.sum()) if union.sum() else 1.0,
           "pixel_acc": float((pred == m).mean()), "n": int(p.shape[0]),
           "n_pixels": int(p.size)}
    y, s = m.reshape(-1), p.reshape(-1)
    if max_pixels is not None and y.size > max_pixels:
        idx = np.random.default_rng(seed).choice(y.size, size=max_pixels, replace=False)
        y, s = y[idx], s[idx]
    if _both_classes(y.astype(np.int64), "localization_metrics"):
        out["pixel_auc"] = float(skm.roc_auc_score(y, s))
        out["pixel_ap"] = float(skm.average_precision_score(y, s))
    return out


def centre_gaussian(height: int, width: int | None = None,
                    sigma: float | None = None) -> np.ndarray:
    """A no-model forgery map: a Gaussian centred on the crop, peak 1.

    Aligned faces sit in the middle of their crops, so "the centre is fake" is the face
    prior any heatmap must beat. Its pixel AUC does not depend on ``sigma`` (the map is a
    monotone function of the distance to the centre); IoU at 0.5 does.

    Returns:
        (height, width) float32 in (0, 1]. Default width: height; sigma: min side / 6.
    """
    width = height if width is None else width
    sigma = min(height, width) / 6 if sigma is None else float(sigma)
    r = np.arange(height, dtype=np.float32) - (height - 1) / 2
    c = np.arange(width, dtype=np.float32) - (width - 1) / 2
    return np.exp(-(r[:, None] ** 2 + c[None, :] ** 2) / (2 * sigma ** 2)).astype(np.float32)


def localization_report(prob_maps, masks, labels, hulls=None,
                        threshold: float = THRESHOLD) -> dict:
    """Localization of a model's maps beside two maps that use no model.

    Args:
        prob_maps: (N, H, W) float in [0, 1], the model's forgery probability per pixel.
        masks: (N, H, W) {0, 1}, true masks (all zeros for reals).
        labels: (N,) image labels, 0 real, 1 fake.
        hulls: (N, H, W) {0, 1}, the landmark convex hulls, or None (no hull baseline).

    Returns:
        {"pixel_auc" (pooled over every image, reals' pixels negative), "pixel_ap", "iou",
        ..., "pixel_auc_fakes", "iou_fakes", "n_fakes", "baselines": {"centre_gaussian":
        {same keys}, "hull": {same keys}}} (JSON-ready; NaN where undefined).
    """
    p, m = _as_numpy(prob_maps).astype(np.float32), _as_numpy(masks)
    y = _as_numpy(labels).astype(bool)

    def block(maps: np.ndarray) -> dict:
        out = localization_metrics(maps, m, threshold)
        out["n_fakes"] = int(y.sum())
        if y.any():
            fakes = localization_metrics(maps[y], m[y], threshold)
            out.update(pixel_auc_fakes=fakes["pixel_auc"], iou_fakes=fakes["iou"])
        else:
            out.update(pixel_auc_fakes=math.nan, iou_fakes=math.nan)
        return out

    result = block(p)
    N, H, W = p.shape
    gauss = np.broadcast_to(centre_gaussian(H, W), (N, H, W))
    result["baselines"] = {"centre_gaussian": block(np.ascontiguousarray(gauss))}
    if hulls is not None:
        result["baselines"]["hull"] = block(_as_numpy(hulls).astype(np.float32))
    return result
