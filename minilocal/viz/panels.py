"""Pictures for people, drawn with OpenCV (PNG files, no browser): a face beside its heatmap.

:func:`heatmap_overlay` draws a forgery-probability map over a face crop on a fixed 0..1
colour scale (turbo: blue 0 real, red 1 fake), so colours mean the same probability in
every picture; :func:`heatmap_panel` adds the crop, a colour bar and a title;
:func:`video_panels` stacks panels of a video's frames. ``minilocal predict --heatmap``
writes these; the interactive plotly figures are in :mod:`minilocal.viz.figures`.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

from ..receptive_field import output_size, upsample_to_input

__all__ = ["heatmap_overlay", "heatmap_panel", "video_panels", "score_title"]

COLORMAP = cv2.COLORMAP_TURBO  # blue (0, real) .. red (1, fake)
HEADER = 48  # px of text above the panels of heatmap_panel


def _colour(prob: np.ndarray) -> np.ndarray:
    """(H, W) probabilities in [0, 1] -> (H, W, 3) uint8 RGB on the fixed colour scale."""
    levels = np.clip(np.rint(np.asarray(prob, np.float32) * 255), 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(levels, COLORMAP), cv2.COLOR_BGR2RGB)


def heatmap_overlay(face_rgb: np.ndarray, prob_map: np.ndarray | torch.Tensor,
                    alpha: float = 0.5, model: nn.Module | None = None) -> np.ndarray:
    """The forgery probability drawn over the face, blue (0, real) to red (1, fake).

    Args:
        face_rgb: (H, W, 3) uint8 RGB face crop, H = W.
        prob_map: (H', W') float in [0, 1] at the network's output locations (upsampled
            here through the receptive-field centres), or (H, W) already upsampled.
        alpha: weight of the colours over the face, in [0, 1]. Default: 0.5.
        model: whose receptive-field geometry to use. Default: the paper's network.

    Returns:
        (H, W, 3) uint8 RGB.

    Raises:
        ValueError: on a malformed face, a map of neither shape, values outside [0, 1],
            or alpha outside [0, 1].
    """
    face = np.asarray(face_rgb)
    if face.dtype != np.uint8 or face.ndim != 3 or face.shape[2] != 3:
        raise ValueError(f"face_rgb must be (H, W, 3) uint8, got {face.shape} {face.dtype}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    H, W = face.shape[:2]
    prob = prob_map.detach().float().cpu().numpy() if isinstance(prob_map, torch.Tensor) \
        else np.asarray(prob_map, np.float32)
    if prob.ndim != 2:
        raise ValueError(f"prob_map must be (H', W') or (H, W), got shape {prob.shape}")
    if not np.isfinite(prob).all() or prob.min() < 0 or prob.max() > 1:
        raise ValueError("prob_map must hold probabilities in [0, 1]")
    if prob.shape != (H, W):
        expected = (output_size(H, model), output_size(W, model)) if H == W else None
        if prob.shape != expected:
            raise ValueError(f"prob_map is {prob.shape}; for a {H}x{W} face it must be the "
                             f"output map {expected} or the face size {(H, W)}")
        prob = upsample_to_input(torch.from_numpy(prob)[None], H, model)[0].numpy()
    blend = (1 - alpha) * face.astype(np.float32) + alpha * _colour(prob).astype(np.float32)
    return np.clip(np.rint(blend), 0, 255).astype(np.uint8)


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.5,
          colour=(255, 255, 255)) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def _colour_bar(height: int, width: int = 70) -> np.ndarray:
    """(height, width, 3) uint8: the colour scale, 1 (fake) at the top, with ticks."""
    bar = np.full((height, width, 3), 255, np.uint8)
    top, bottom, x0, x1 = 10, height - 10, 6, 24
    ramp = np.linspace(1, 0, bottom - top, dtype=np.float32)[:, None].repeat(x1 - x0, 1)
    bar[top:bottom, x0:x1] = _colour(ramp)
    for value in (1.0, 0.75, 0.5, 0.25, 0.0):
        y = int(round(top + (1 - value) * (bottom - top - 1)))
        cv2.line(bar, (x1, y), (x1 + 4, y), (0, 0, 0), 1)
        _text(bar, f"{value:.2f}", (x1 + 7, y + 4), 0.4, (0, 0, 0))
    return bar


def heatmap_panel(face_rgb: np.ndarray, prob_map: np.ndarray | torch.Tensor,
                   title: str = "", scale: int = 3, alpha: float = 0.5,
                   model: nn.Module | None = None) -> np.ndarray:
    """A picture for people: face crop | heatmap overlay | colour bar, under a title.

    Args:
        face_rgb: (H, W, 3) uint8 RGB face crop.
        prob_map: (H', W') or (H, W) forgery probability, as :func:`heatmap_overlay`.
        title: a line of text above the panels, e.g. the scores.
        scale: each panel is enlarged scale times (bilinear). Default: 3.
        alpha, model: as :func:`heatmap_overlay`.

    Returns:
        (48 + scale * H, 2 * scale * W + 80, 3) uint8 RGB, e.g. (432, 848, 3) for a 128
        crop; save with ``cv2.imwrite(path, fig[..., ::-1])``.

    Raises:
        ValueError: as :func:`heatmap_overlay`, or a scale below 1.
    """
    if int(scale) < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    overlay = heatmap_overlay(face_rgb, prob_map, alpha, model)
    H, W = overlay.shape[:2]
    big = (W * scale, H * scale)
    face = cv2.resize(np.asarray(face_rgb), big, interpolation=cv2.INTER_LINEAR)
    over = cv2.resize(overlay, big, interpolation=cv2.INTER_LINEAR)
    gap = np.full((H * scale, 10, 3), 255, np.uint8)
    body = np.concatenate([face, gap, over, _colour_bar(H * scale)], axis=1)
    header = np.full((HEADER, body.shape[1], 3), 255, np.uint8)
    _text(header, title, (6, 18), 0.55, (0, 0, 0))
    _text(header, f"face crop ({W} px)", (6, 40), 0.45, (90, 90, 90))
    _text(header, "p(fake) of each 33 px receptive field", (W * scale + 16, 40), 0.45,
          (90, 90, 90))
    return np.concatenate([header, body], axis=0)


def video_panels(result: dict, max_rows: int = 4, scale: int = 2) -> np.ndarray:
    """Heatmap panels of up to ``max_rows`` frames of a :func:`predict_video` result,
    evenly spread, stacked under a line with the video's mean scores.

    Returns:
        (28 + rows * (48 + scale * S), 2 * scale * S + 80, 3) uint8 RGB.

    Raises:
        ValueError: if the result has no heatmaps (a model without segmentation head).
    """
    frames = result["frames"]
    if frames[0]["prob_map"] is None:
        raise ValueError("no heatmap: the model has no segmentation head")
    pick = np.unique(np.linspace(0, len(frames) - 1, min(max_rows, len(frames))).round())
    rows = [heatmap_panel(f["face"], f["prob_map"], score_title(f, f"frame {f['index']}"),
                           scale) for f in (frames[int(i)] for i in pick)]
    top = np.full((28, rows[0].shape[1], 3), 235, np.uint8)
    _text(top, f"mean of {len(frames)} frames: " + score_title(
        {"p_fake": result["p_fake"], "seg_score": result["seg_score"]}), (6, 19), 0.55,
        (0, 0, 0))
    return np.concatenate([top, *rows], axis=0)


def score_title(row: dict, prefix: str = "") -> str:
    """One line of scores for a picture: "p_fake 0.912  seg 0.734  (hog)"."""
    seg = "" if row.get("seg_score") is None else f"  seg {row['seg_score']:.3f}"
    det = f"  ({row['detection']})" if row.get("detection") else ""
    return f"{prefix + '  ' if prefix else ''}p_fake {row['p_fake']:.3f}{seg}{det}"
