"""H.264 compression like FaceForensics++'s c23 and c40 (paper section 4.1).

FaceForensics++ ships every video three times: raw (c0), H.264 at constant rate factor 23
(c23, "high quality") and at CRF 40 (c40, "low quality"). :func:`compress_frames` re-encodes
a frame sequence the same way with libx264 through PyAV (yuv420p, in memory) and decodes it
back, so any image dataset can get c23/c40 variants: encode its crops as short sequences
(e.g. 16 crops a chunk). OpenCV's VideoWriter is not used: the PyPI OpenCV wheels lack H.264.

PyAV is imported here, not by ``import minilocal``.
"""

from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["LEVELS", "compress_frames", "compress_image"]

LEVELS = {"c0": None, "c23": 23, "c40": 40}  # name -> libx264 CRF (None: unchanged)


def _check_frames(frames) -> list[np.ndarray]:
    frames = [np.asarray(f) for f in frames]
    if not frames:
        raise ValueError("no frames to compress")
    shape = frames[0].shape
    for f in frames:
        if f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3:
            raise ValueError(f"frames must be (H, W, 3) uint8 RGB, got {f.shape} {f.dtype}")
        if f.shape != shape:
            raise ValueError(f"all frames must share one size: {shape} vs {f.shape}")
    if min(shape[:2]) < 2:
        raise ValueError(f"frames must be at least 2x2 px, got {shape[1]}x{shape[0]}")
    return frames


def compress_frames(frames, level: str = "c23", preset: str = "medium") -> list[np.ndarray]:
    """Encode frames as one H.264 sequence at an FF++ level and decode them back.

    Odd sizes are padded by one edge pixel for yuv420p and cut back after decoding.

    Args:
        frames: sequence of N (H, W, 3) uint8 RGB arrays of one size.
        level: "c0" (returned unchanged, copied), "c23" (CRF 23) or "c40" (CRF 40).
        preset: libx264 speed preset. Default: "medium" (ffmpeg's default, as FF++ used).

    Returns:
        N (H, W, 3) uint8 RGB arrays, in the input order.

    Raises:
        ValueError: on an unknown level, no frames, or frames of mixed size or dtype.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown compression level {level!r}; expected one of {list(LEVELS)}")
    frames = _check_frames(frames)
    if LEVELS[level] is None:
        return [f.copy() for f in frames]
    import av

    H, W = frames[0].shape[:2]
    He, We = H + H % 2, W + W % 2
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = We, He, "yuv420p"
    enc.time_base = Fraction(1, 25)
    enc.options = {"crf": str(LEVELS[level]), "preset": preset, "threads": "1"}
    dec = av.CodecContext.create("h264", "r")
    dec.options = {"threads": "1"}
    out: list[np.ndarray] = []

    def decode(packets) -> None:
        for packet in packets:
            for frame in dec.decode(packet):
                out.append(frame.to_ndarray(format="rgb24")[:H, :W])

    for i, f in enumerate(frames):
        if (He, We) != (H, W):
            f = np.pad(f, ((0, He - H), (0, We - W), (0, 0)), mode="edge")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
        vf = vf.reformat(format="yuv420p")
        vf.pts = i
        decode(enc.encode(vf))
    decode(enc.encode(None))
    for frame in dec.decode(None):
        out.append(frame.to_ndarray(format="rgb24")[:H, :W])
    if len(out) != len(frames):
        raise RuntimeError(f"H.264 round trip returned {len(out)} frames for {len(frames)}")
    return [np.ascontiguousarray(o) for o in out]


def compress_image(image: np.ndarray, level: str = "c23") -> np.ndarray:
    """One (H, W, 3) uint8 RGB image through H.264 at ``level`` (a one-frame sequence,
    so an intra frame; for datasets prefer :func:`compress_frames` on chunks of crops)."""
    return compress_frames([image], level)[0]
