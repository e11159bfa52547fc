"""Video frames and FaceForensics++ real/fake pairs with real forgery masks (paper 3.1, 4.1).

Frames are decoded with PyAV. :func:`ffpp_videos` reads the FaceForensics++ folder layout::

    ROOT/original_sequences/youtube/<comp>/videos/<id>.mp4
    ROOT/manipulated_sequences/<Method>/<comp>/videos/<target>_<source>.mp4
    ROOT/manipulated_sequences/<Method>/masks/videos/<target>_<source>.mp4   (optional)

and pairs each fake with the real video of its target (the first number). A fake and its
real share their frame count, so frame i of both shows the same moment: :func:`video_faces`
crops both with the REAL frame's face box, keeping them pixel-aligned, and, where no mask
video exists, takes the forgery mask as their difference (:func:`minilocal.masks.real_mask`).

PyAV is imported here, not by ``import minilocal``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .masks import real_mask

logger = logging.getLogger(__name__)

DETECT_SIDE = 640  # frames larger than this are first searched for a face at this size

__all__ = ["FFPPVideo", "VideoFace", "frame_count", "sample_indices", "read_frames",
           "ffpp_videos", "video_faces"]


def _av():
    try:
        import av
    except ImportError as err:
        raise ImportError("video decoding needs PyAV: pip install av") from err
    return av


def _open(path: str | Path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such video file: {path}")
    av = _av()
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as err:
        raise ValueError(f"cannot open video {path}: {err}") from err
    if not container.streams.video:
        container.close()
        raise ValueError(f"{path} has no video stream")
    return container


def frame_count(path: str | Path) -> int:
    """Number of frames in the first video stream (from the header, else by demuxing).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if it is not a readable video.
    """
    with _open(path) as container:
        stream = container.streams.video[0]
        if stream.frames > 0:
            return int(stream.frames)
        return sum(1 for p in container.demux(stream) if p.size)


def sample_indices(n: int, k: int | None = None, every: int | None = None) -> list[int]:
    """Frame indices to keep out of ``n``: ``k`` spread evenly (first and last included),
    or every ``every``-th from 0, or all when both are None.

    Raises:
        ValueError: if both are given or either is < 1.
    """
    if k is not None and every is not None:
        raise ValueError("give k or every, not both")
    if k is not None:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if k >= n:
            return list(range(n))
        return sorted({int(round(i)) for i in np.linspace(0, n - 1, k)})
    if every is not None:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        return list(range(0, n, every))
    return list(range(n))


def read_frames(path: str | Path, k: int | None = None, every: int | None = None,
                indices: list[int] | None = None) -> list[np.ndarray]:
    """Decode frames of a video as (H, W, 3) uint8 RGB.

    Args:
        path: a video file.
        k: keep k frames spread evenly over the video. Default: all frames.
        every: keep every N-th frame instead.
        indices: keep exactly these frame indices (overrides k and every).

    Returns:
        the kept frames, in order; a list of (H, W, 3) uint8 arrays.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if it is not a readable video, holds no frame, or on bad k/every.
    """
    if indices is None:
        indices = sample_indices(frame_count(path), k, every)
    wanted = set(int(i) for i in indices)
    last = max(wanted, default=-1)
    frames: list[np.ndarray] = []
    with _open(path) as container:
        stream = container.streams.video[0]
        try:
            for i, frame in enumerate(container.decode(stream)):
                if i in wanted:
                    frames.append(frame.to_ndarray(format="rgb24"))
                if i >= last:
                    break
        except _av().error.FFmpegError as err:
            raise ValueError(f"cannot decode video {path}: {err}") from err
    if not frames:
        raise ValueError(f"{path} holds no decodable frame")
    return frames


@dataclass(frozen=True)
class FFPPVideo:
    """One FaceForensics++ video.

    path: the video; label: "real" or "fake"; method: e.g. "Deepfakes", "" for real;
    target: id of the real video whose frames were manipulated (the group);
    source: id of the face donor ("" for real); real: the target's real video, None when
    absent; mask: the mask video, None when absent; compression: e.g. "c23".
    """

    path: Path
    label: str
    method: str
    target: str
    source: str
    real: Path | None
    mask: Path | None
    compression: str

    @property
    def name(self) -> str:
        """A file stem unique in the dataset, e.g. "Deepfakes_519_515" or "real_519"."""
        if self.method:
            return f"{self.method}_{self.target}_{self.source}"
        return f"real_{self.target}"


def ffpp_videos(root: str | Path, compression: str = "c23") -> list[FFPPVideo]:
    """The videos of a FaceForensics++ tree, each real followed by the fakes of its target.

    Raises:
        FileNotFoundError: if ``root`` holds no ``<comp>/videos`` folder of that compression.
    """
    root = Path(root)
    real_dir = root / "original_sequences" / "youtube" / compression / "videos"
    reals = {p.stem: p for p in sorted(real_dir.glob("*.mp4"))}
    fakes: dict[str, list[FFPPVideo]] = {}
    for method_dir in sorted((root / "manipulated_sequences").glob("*")):
        for p in sorted((method_dir / compression / "videos").glob("*.mp4")):
            target, _, source = p.stem.partition("_")
            mask = method_dir / "masks" / "videos" / p.name
            fakes.setdefault(target, []).append(FFPPVideo(
                p, "fake", method_dir.name, target, source, reals.get(target),
                mask if mask.is_file() else None, compression))
    if not reals and not fakes:
        raise FileNotFoundError(
            f"{root} holds no FaceForensics++ videos at {compression!r} (expected {real_dir} "
            f"or manipulated_sequences/*/{compression}/videos)")
    out = []
    for target in sorted(set(reals) | set(fakes)):
        if target in reals:
            out.append(FFPPVideo(reals[target], "real", "", target, "", None, None, compression))
        out += fakes.get(target, [])
    return out


@dataclass
class VideoFace:
    """One aligned face from a video frame: ``crop`` (:class:`minilocal.faces.FaceCrop`),
    ``frame`` index, and ``mask`` ((S, S) uint8 {0, 1} forgery mask, None when unknown)."""

    crop: object
    frame: int
    mask: np.ndarray | None


def _mask_frame(frame: np.ndarray, box, size: int) -> np.ndarray:
    from .faces import crop_image

    gray = frame.max(axis=2) if frame.ndim == 3 else frame
    return (crop_image(gray, box, size) > 127).astype(np.uint8)


def video_faces(video: FFPPVideo, k: int | None = 16, every: int | None = None,
                size: int = 128, scale: float = 1.3
                ) -> tuple[list[VideoFace], list[tuple[str, str]]]:
    """Aligned faces (and, for fakes, forgery masks) from sampled frames of a video.

    A fake with its real: both decoded at the same indices; the face is found in the real
    frame and both frames are cut with that box; the mask is the mask video's frame if
    there is one, else ``real_mask(real_crop, fake_crop)``; landmarks are predicted in the
    fake frame inside the real face box. A fake without its real: faces found in the fake
    itself, no mask. Frames larger than DETECT_SIDE are searched at that size first
    (landmarks at full size). Frames where no face is found are reported, not raised.

    Returns:
        (faces, rejects): faces in frame order; rejects as (source, reason) pairs.

    Raises:
        ValueError: if a fake and its real differ in frame count, or a video is unreadable.
    """
    from .face_detection import NoFaceError, find_face, predict_landmarks
    from .faces import align_with_box, crop_box

    n = frame_count(video.path)
    if video.real is not None and frame_count(video.real) != n:
        raise ValueError(f"{video.path.name} has {n} frames but its real "
                         f"{video.real.name} has {frame_count(video.real)}")
    idx = sample_indices(n, k, every)
    frames = read_frames(video.path, indices=idx)
    reals = read_frames(video.real, indices=idx) if video.real is not None else None
    masks = read_frames(video.mask, indices=idx) if video.mask is not None else None
    faces, rejects = [], []
    for j, i in enumerate(idx[:len(frames)]):
        ref = reals[j] if reals is not None else frames[j]
        try:
            face_box, pts, detection = find_face(ref, whole_image=False, max_side=DETECT_SIDE)
        except NoFaceError as err:
            rejects.append((f"{video.path.name}#{i}", f"frame {i}: {err}"))
            continue
        box = crop_box(face_box, scale, ref.shape)
        if reals is not None:
            pts = predict_landmarks(frames[j], face_box)
        crop = align_with_box(frames[j], box, pts, size, detection)
        mask = None
        if masks is not None and j < len(masks):
            mask = _mask_frame(masks[j], box, size)
        elif reals is not None:
            real_crop = align_with_box(reals[j], box, pts, size, detection)
            mask = real_mask(real_crop.image, crop.image)
        faces.append(VideoFace(crop, i, mask))
    return faces, rejects
