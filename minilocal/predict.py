"""Prediction on one image or video, with a forgery heatmap a person can read (paper 3.2).

The faces pipeline (:func:`minilocal.faces.align_face`) cuts the aligned face crop; the
network gives the classifier's p_fake and the segmentation head's per-location forgery
probability (H' x W', one value per 33 px receptive field, every 2 px). That map is
spread back onto the crop through the receptive-field centres
(:func:`~minilocal.receptive_field.upsample_to_input`) and drawn over the face on a fixed
0..1 colour scale, so colours mean the same probability in every picture.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from .model import fake_probability_map, p_fake, seg_score, to_input
from .receptive_field import output_size, upsample_to_input
from .runtime import eval_mode, model_device

logger = logging.getLogger(__name__)

__all__ = ["predict_image", "predict_video", "heatmap_overlay", "heatmap_figure",
           "video_figure", "score_title", "VIDEO_EXTENSIONS"]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
COLORMAP = cv2.COLORMAP_TURBO  # blue (0, real) .. red (1, fake)
HEADER = 48  # px of text above the panels of heatmap_figure


def _forward(model: nn.Module, faces: np.ndarray, head: str) -> list[dict]:
    """Scores and maps for (K, S, S, 3) uint8 face crops, one dict per crop."""
    with eval_mode(model), torch.inference_mode():
        out = model(to_input(faces).to(model_device(model)))
    if out.seg_logits and head not in out.seg_logits:
        raise ValueError(f"head {head!r} not in the model's segmentation heads "
                         f"{sorted(out.seg_logits)}")
    _check_finite(out)
    S = faces.shape[1]
    cls = p_fake(out.cls_logits).cpu().numpy()
    rows = [{"p_fake": float(c), "seg_score": None, "prob_map": None, "heatmap": None}
            for c in cls]
    if head in out.seg_logits:
        logits = out.seg_logits[head]
        seg = seg_score(logits).cpu().numpy()
        prob = fake_probability_map(logits)
        heat = upsample_to_input(prob, S, model).cpu().numpy()
        for r, s, p, h in zip(rows, seg, prob.cpu().numpy(), heat):
            r.update(seg_score=float(s), prob_map=p, heatmap=h)
    return rows


def _check_finite(out) -> None:
    """ValueError when the network's output holds NaN or infinity (corrupt weights)."""
    tensors = {"classifier": out.cls_logits, **{f"head {k!r}": v
                                                for k, v in out.seg_logits.items()}}
    bad = [name for name, t in tensors.items() if not torch.isfinite(t).all()]
    if bad:
        raise ValueError(f"the model's output is not finite (NaN or inf in the {', '.join(bad)} "
                         "logits): its weights are probably corrupt; use another checkpoint")


def predict_image(model: nn.Module, image_rgb: np.ndarray, size: int = 128,
                  head: str = "fake", fallback: bool = True,
                  whole_image: bool = False) -> dict:
    """Find the face in a photo and score it.

    Args:
        model: a network returning :class:`~minilocal.model.Output` (run in eval mode,
            on its own device, fp32).
        image_rgb: (H, W, 3) uint8 RGB, a photo or video frame with a face.
        size: side S of the aligned face crop fed to the network. Default: 128.
        head: the segmentation head for the score and the heatmap. Default: "fake".
        fallback: when the HOG detector finds no face, retry on a padded image
            (``detection`` says which path found it). Default: True.
        whole_image: as the last fallback, score the whole image as the face: right only
            for an image that is already a tight face crop. Default: False, so a photo
            without a face raises NoFaceError instead of being scored.

    Returns:
        {"p_fake": float, "seg_score": float or None (no segmentation head),
        "box": [x0, y0, x1, y1] the square crop in image pixels, "detection": str,
        "face": (S, S, 3) uint8 crop, "prob_map": (H', W') float32 per-location
        forgery probability or None, "heatmap": (S, S) float32 the map upsampled to the
        crop or None}; H' = 48 for S = 128.

    Raises:
        ValueError: on a malformed image, an unknown head, or a model whose output is not
            finite (NaN weights).
        NoFaceError: (a ValueError) when no face is found (and ``whole_image`` is False).
    """
    from .faces import align_face

    crop = align_face(image_rgb, size=size, fallback=fallback, whole_image=whole_image)
    row = _forward(model, crop.image[None], head)[0]
    return {**row, "box": [int(v) for v in crop.box], "detection": crop.detection,
            "face": crop.image}


def predict_video(model: nn.Module, path: str | Path, frames: int = 8, size: int = 128,
                  head: str = "fake", fallback: bool = True,
                  whole_image: bool = False) -> dict:
    """Score K evenly spaced frames of a video and average them over the frames with a face.

    Args:
        model: as :func:`predict_image`.
        path: a video file (anything PyAV decodes).
        frames: K, the number of frames to analyse. Default: 8.
        size, head, fallback, whole_image: as :func:`predict_image`.

    Returns:
        {"p_fake": mean over the frames with a face, "seg_score": mean or None, "frames":
        [one :func:`predict_image` dict per frame with a face plus "index", the frame
        number], "skipped": [{"index", "reason"} per frame without a face]}.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if ``frames`` < 1, the video has no decodable frame, or its frames
            are smaller than :data:`~minilocal.faces.MIN_SIDE` px a side.
        NoFaceError: if no analysed frame shows a face.
    """
    from .faces import NoFaceError, align_face

    if frames < 1:
        raise ValueError(f"frames must be at least 1, got {frames}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such video file: {path}")
    indices, images = _read_video(path, frames)
    _check_frame_size(path, images[0])
    kept, crops, skipped = [], [], []
    for i, im in zip(indices, images):
        try:
            crops.append(align_face(im, size=size, fallback=fallback, whole_image=whole_image))
            kept.append(i)
        except NoFaceError as err:
            skipped.append({"index": int(i), "reason": str(err)})
    if not crops:
        raise NoFaceError(f"no face found in any of the {len(images)} frames analysed")
    rows = _forward(model, np.stack([c.image for c in crops]), head)
    for r, c, i in zip(rows, crops, kept):
        r.update(index=int(i), box=[int(v) for v in c.box], detection=c.detection,
                 face=c.image)
    seg = [r["seg_score"] for r in rows]
    return {"p_fake": float(np.mean([r["p_fake"] for r in rows])),
            "seg_score": None if seg[0] is None else float(np.mean(seg)),
            "frames": rows, "skipped": skipped}


def _check_frame_size(path: Path, frame: np.ndarray) -> None:
    """The minimum side of :func:`minilocal.faces.read_image` applied to video frames."""
    from .faces import MIN_SIDE

    H, W = frame.shape[:2]
    if min(H, W) < MIN_SIDE:
        raise ValueError(f"{path}: video frames too small ({W}x{H} px, need at least "
                         f"{MIN_SIDE} px a side)")


def _read_video(path: Path, k: int) -> tuple[list[int], list[np.ndarray]]:
    """(frame numbers, (H, W, 3) uint8 RGB frames): k frames spread evenly."""
    from .video import frame_count, read_frames, sample_indices

    indices = sample_indices(frame_count(path), k)
    images = read_frames(path, indices=indices)
    if len(images) < len(indices):  # the header overstated the frame count
        logger.warning("%s: decoded %d of %d requested frames", path, len(images),
                       len(indices))
    return indices[:len(images)], images


# ---------------------------------------------------------------- pictures

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


def heatmap_figure(face_rgb: np.ndarray, prob_map: np.ndarray | torch.Tensor,
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


def video_figure(result: dict, max_rows: int = 4, scale: int = 2) -> np.ndarray:
    """Heatmap figures of up to ``max_rows`` frames of a :func:`predict_video` result,
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
    rows = [heatmap_figure(f["face"], f["prob_map"], score_title(f, f"frame {f['index']}"),
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
