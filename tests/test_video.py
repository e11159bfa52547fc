"""Tests for minilocal/video.py: frame sampling, the FF++ layout, aligned pairs and masks."""

from fractions import Fraction

import av
import numpy as np
import pytest

from minilocal.image_io import read_image
from minilocal.paths import find_dataset
from minilocal.video import (
    FFPPVideo,
    ffpp_videos,
    frame_count,
    read_frames,
    sample_indices,
    video_faces,
)


def write_video(path, frames, crf=0):
    """Encode (H, W, 3) uint8 RGB frames as H.264 (crf 0: near lossless)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(25, 1))
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv444p"
        stream.options = {"crf": str(crf), "threads": "1"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def ramp(n=10, h=48, w=64):
    """n frames whose grey level encodes their index (i * 20 + 10)."""
    return [np.full((h, w, 3), i * 20 + 10, np.uint8) for i in range(n)]


@pytest.fixture
def ramp_video(tmp_path):
    return write_video(tmp_path / "ramp.mp4", ramp())


def levels(frames):
    return [int(round((f.mean() - 10) / 20)) for f in frames]


class TestSampleIndices:
    def test_k_evenly_with_ends(self):
        assert sample_indices(10, k=3) == [0, 4, 9]  # 4.5 rounds to even

    def test_every(self):
        assert sample_indices(10, every=4) == [0, 4, 8]

    def test_all_when_k_exceeds(self):
        assert sample_indices(5, k=16) == [0, 1, 2, 3, 4]

    def test_rejects_both(self):
        with pytest.raises(ValueError, match="not both"):
            sample_indices(10, k=2, every=2)

    def test_rejects_zero_k(self):
        with pytest.raises(ValueError, match="k must be >= 1"):
            sample_indices(10, k=0)

    def test_rejects_zero_every(self):
        with pytest.raises(ValueError, match="every must be >= 1"):
            sample_indices(10, every=0)


class TestReadFrames:
    def test_frame_count(self, ramp_video):
        assert frame_count(ramp_video) == 10

    def test_all_frames_rgb(self, ramp_video):
        frames = read_frames(ramp_video)
        assert len(frames) == 10 and frames[0].shape == (48, 64, 3)
        assert levels(frames) == list(range(10))

    def test_k_frames(self, ramp_video):
        assert levels(read_frames(ramp_video, k=3)) == [0, 4, 9]

    def test_every_nth(self, ramp_video):
        assert levels(read_frames(ramp_video, every=3)) == [0, 3, 6, 9]

    def test_missing_file(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="no such video"):
            read_frames(tmp_path / "none.mp4")

    def test_not_a_video(self, tmp_path):
        bad = tmp_path / "bad.mp4"
        bad.write_bytes(b"\x00garbage" * 100)
        with pytest.raises(ValueError, match="cannot open video"):
            frame_count(bad)

    def test_no_video_stream(self, tmp_path):
        path = tmp_path / "audio.wav"
        with av.open(str(path), "w") as out:
            stream = out.add_stream("pcm_s16le", rate=8000)
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16",
                                               layout="mono")
            frame.rate = 8000
            for p in stream.encode(frame):
                out.mux(p)
        with pytest.raises(ValueError, match="no video stream"):
            frame_count(path)

    def test_no_frame_at_indices(self, ramp_video):
        with pytest.raises(ValueError, match="no decodable frame"):
            read_frames(ramp_video, indices=[50])


def ffpp_tree(root, frames_real, frames_fake, with_mask=False, orphan=None):
    write_video(root / "original_sequences/youtube/c23/videos/001.mp4", frames_real)
    write_video(root / "manipulated_sequences/Deepfakes/c23/videos/001_002.mp4", frames_fake)
    if with_mask:
        masks = [np.zeros_like(f) for f in frames_fake]
        for m in masks:
            m[100:140, 100:150] = 255
        write_video(root / "manipulated_sequences/Deepfakes/masks/videos/001_002.mp4", masks)
    if orphan is not None:
        write_video(root / "manipulated_sequences/Face2Face/c23/videos/750_743.mp4", orphan)
    return root


class TestFFPPLayout:
    def test_pairs_fakes_with_their_real(self, tmp_path):
        root = ffpp_tree(tmp_path, ramp(3), ramp(3), with_mask=True, orphan=ramp(3))
        videos = ffpp_videos(root)
        assert [v.name for v in videos] == ["real_001", "Deepfakes_001_002", "Face2Face_750_743"]
        real, fake, orphan = videos
        assert real.label == "real" and real.real is None and real.target == "001"
        assert fake.label == "fake" and fake.real == real.path and fake.method == "Deepfakes"
        assert fake.target == "001" and fake.source == "002" and fake.mask is not None
        assert orphan.real is None and orphan.mask is None and orphan.target == "750"

    def test_missing_layout(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="no FaceForensics"):
            ffpp_videos(tmp_path)


@pytest.fixture(scope="module")
def face_frames():
    """4 frames of a real LFW photo, and the same with a patch on the cheek changed."""
    try:
        path = find_dataset("lfw_faces") / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg"
    except FileNotFoundError:
        pytest.skip("shared dataset lfw_faces not available")
    real = read_image(path)
    fake = real.copy()
    fake[110:140, 100:150] = 255 - fake[110:140, 100:150]
    return [real] * 4, [fake] * 4


class TestVideoFaces:
    def test_difference_mask_on_aligned_pair(self, tmp_path, face_frames):
        reals, fakes = face_frames
        root = ffpp_tree(tmp_path, reals, fakes)
        real, fake = ffpp_videos(root)
        faces, rejects = video_faces(fake, k=2, size=128)
        assert rejects == [] and [f.frame for f in faces] == [0, 3]
        f = faces[0]
        x0, y0, x1, y1 = f.crop.box
        s = 128 / (x1 - x0)
        # the changed patch (x 100..150, y 110..140) mapped into the crop
        px0, px1 = int((100 - x0) * s), int((150 - x0) * s)
        py0, py1 = int((110 - y0) * s), int((140 - y0) * s)
        inside = f.mask[py0 + 2:py1 - 2, px0 + 2:px1 - 2]
        assert inside.mean() > 0.95
        assert f.mask.sum() < 1.5 * (px1 - px0) * (py1 - py0)
        # the real video's faces are cut with the same box
        real_faces, _ = video_faces(real, k=2, size=128)
        assert real_faces[0].crop.box == f.crop.box and real_faces[0].mask is None

    def test_mask_video_is_used(self, tmp_path, face_frames):
        reals, fakes = face_frames
        _, fake = ffpp_videos(ffpp_tree(tmp_path, reals, fakes, with_mask=True))
        f = video_faces(fake, k=1)[0][0]
        x0, y0, x1, y1 = f.crop.box
        s = 128 / (x1 - x0)
        expected = (40 * s) * (50 * s)  # the 40 x 50 white rectangle of the mask video
        assert f.mask.sum() == pytest.approx(expected, rel=0.15)

    def test_fake_without_real_has_no_mask(self, tmp_path, face_frames):
        reals, fakes = face_frames
        orphan = ffpp_videos(ffpp_tree(tmp_path, reals, fakes, orphan=fakes))[-1]
        faces, _ = video_faces(orphan, k=1)
        assert len(faces) == 1 and faces[0].mask is None and faces[0].crop.detection == "hog"

    def test_frames_without_face_are_rejected(self, tmp_path):
        path = write_video(tmp_path / "flat.mp4", ramp(3, 96, 96))
        video = FFPPVideo(path, "real", "", "009", "", None, None, "c23")
        faces, rejects = video_faces(video, k=2)
        assert faces == [] and len(rejects) == 2
        assert rejects[0][0] == "flat.mp4#0" and "no face found" in rejects[0][1]

    def test_frame_count_mismatch(self, tmp_path, face_frames):
        reals, fakes = face_frames
        _, fake = ffpp_videos(ffpp_tree(tmp_path, reals, fakes[:3]))
        with pytest.raises(ValueError, match="has 3 frames but its real"):
            video_faces(fake, k=2)
