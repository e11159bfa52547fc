"""Prediction on one image or video, with a forgery heatmap a person can read (paper 3.2).

The faces pipeline (:func:`minilocal.faces.align_face`) cuts the aligned face crop; the
network gives the classifier's p_fake and the segmentation head's per-location forgery
probability (H' x W', one value per 33 px receptive field, every 2 px). That map is
spread back onto the crop through the receptive-field centres
(:func:`~minilocal.receptive_field.upsample_to_input`) and drawn over the face on a fixed
0..1 colour scale (:mod:`minilocal.viz.panels`), so colours mean the same probability in
every picture.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .model import fake_probability_map, p_fake, seg_score, to_input
from .receptive_field import upsample_to_input
from .runtime import eval_mode, model_device

logger = logging.getLogger(__name__)

__all__ = ["predict_image", "predict_video", "VIDEO_EXTENSIONS"]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


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
            are smaller than :data:`~minilocal.image_io.MIN_SIDE` px a side.
        NoFaceError: if no analysed frame shows a face.
    """
    from .face_detection import NoFaceError
    from .faces import align_face

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
    """The minimum side of :func:`minilocal.image_io.read_image` applied to video frames."""
    from .image_io import MIN_SIDE

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
