"""Tests for minilocal/predict.py and the ``minilocal predict`` command."""

import json

import cv2
import numpy as np
import pytest
import torch

from minilocal import cli
from minilocal.checkpoint import save_checkpoint
from minilocal.face_detection import NoFaceError
from minilocal.model import LocalFeatureNet
from minilocal.video import frame_count, sample_indices
from minilocal.predict import predict_image, predict_video
from minilocal.viz.panels import HEADER, video_panels

WIDTHS = (4, 4, 4, 4, 4, 4, 4, 4)


def tiny_net(heads=("fake",)):
    net = LocalFeatureNet(seg_heads=heads, widths=WIDTHS)
    with torch.no_grad():
        net.train()(torch.rand(4, 3, 64, 64))
    return net.eval()


def blank(h=160, w=150):
    """A face-less image: the detector finds nothing; only whole_image=True scores it."""
    rng = np.random.default_rng(0)
    return rng.integers(100, 140, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def video(tmp_path):
    """A 6-frame 96x96 H.264 video of changing grey."""
    import av

    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width = stream.height = 96
        stream.pix_fmt = "yuv420p"
        for i in range(6):
            frame = av.VideoFrame.from_ndarray(np.full((96, 96, 3), 40 * i, np.uint8),
                                               format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


class TestPredictImage:
    def test_scores_box_and_maps(self):
        net = tiny_net()
        r = predict_image(net, blank(), whole_image=True)
        assert r["detection"] == "whole_image" and r["box"][2] - r["box"][0] == \
            r["box"][3] - r["box"][1]
        assert r["face"].shape == (128, 128, 3) and r["prob_map"].shape == (48, 48)
        assert r["heatmap"].shape == (128, 128) and 0 <= r["p_fake"] <= 1
        assert r["seg_score"] == pytest.approx(float(r["prob_map"].mean()), abs=1e-6)

    def test_no_face_without_fallback(self):
        with pytest.raises(NoFaceError, match="no face found"):
            predict_image(tiny_net(), blank(), fallback=False)

    def test_model_without_segmentation_head(self):
        r = predict_image(tiny_net(heads=()), blank(), whole_image=True)
        assert r["seg_score"] is None and r["prob_map"] is None

    def test_rejects_an_unknown_head(self):
        with pytest.raises(ValueError, match="head 'face' not in"):
            predict_image(tiny_net(), blank(), head="face", whole_image=True)


    def test_a_photo_without_a_face_is_not_scored(self):
        with pytest.raises(NoFaceError, match="no face found"):
            predict_image(tiny_net(), blank())

    def test_nan_weights_are_an_error_not_a_null_score(self):
        net = tiny_net()
        with torch.no_grad():
            for param in net.parameters():
                param.fill_(float("nan"))
        with pytest.raises(ValueError, match="output is not finite"):
            predict_image(net, blank(), whole_image=True)


class TestPredictVideo:
    def test_frames_without_a_face_are_skipped_not_scored(self, video):
        with pytest.raises(NoFaceError, match="no face found in any of the 3 frames"):
            predict_video(tiny_net(), video, frames=3)

    def test_frames_below_the_minimum_side_are_refused(self, tmp_path):
        import av

        path = tmp_path / "tiny.mp4"
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=10)
            stream.width = stream.height = 16
            stream.pix_fmt = "yuv420p"
            frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8),
                                               format="rgb24")
            container.mux(stream.encode(frame))
            container.mux(stream.encode())
        with pytest.raises(ValueError, match=r"video frames too small \(16x16 px"):
            predict_video(tiny_net(), path, whole_image=True)


    def test_per_frame_scores_and_their_mean(self, video):
        r = predict_video(tiny_net(), video, frames=3, whole_image=True)
        assert [f["index"] for f in r["frames"]] == sample_indices(frame_count(video), 3)
        assert r["p_fake"] == pytest.approx(np.mean([f["p_fake"] for f in r["frames"]]))
        assert r["seg_score"] == pytest.approx(np.mean([f["seg_score"] for f in r["frames"]]))
        assert r["skipped"] == []
        fig = video_panels(r, max_rows=2)
        assert fig.shape[0] == 28 + 2 * (HEADER + 256)

    def test_rejects_zero_frames(self, video):
        with pytest.raises(ValueError, match="frames must be at least 1, got 0"):
            predict_video(tiny_net(), video, frames=0)

    def test_missing_video(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="no such video file"):
            predict_video(tiny_net(), tmp_path / "none.mp4")

    def test_video_panels_needs_a_segmentation_head(self, video):
        r = predict_video(tiny_net(heads=()), video, frames=1, whole_image=True)
        with pytest.raises(ValueError, match="no segmentation head"):
            video_panels(r)


class TestCommand:
    @pytest.fixture
    def checkpoint(self, tmp_path):
        return str(save_checkpoint(tmp_path / "run" / "best", tiny_net()))

    def test_image_json_and_heatmap_png(self, tmp_path, checkpoint, capsys):
        image, png = tmp_path / "photo.jpg", tmp_path / "out" / "heat.png"
        cv2.imwrite(str(image), blank())
        rc = cli.main(["predict", str(image), "--checkpoint", checkpoint, "--json",
                       "--heatmap", str(png), "--whole-image"])
        out = json.loads(capsys.readouterr().out)
        assert rc == 0 and out["kind"] == "image" and out["heatmap"] == str(png)
        assert {"p_fake", "seg_score", "box", "detection"} <= set(out)
        assert cv2.imread(str(png)).shape == (HEADER + 384, 2 * 384 + 80, 3)

    def test_video_text_output(self, video, checkpoint, capsys):
        rc = cli.main(["predict", str(video), "--checkpoint", checkpoint, "--frames", "2",
                       "--whole-image"])
        text = capsys.readouterr().out
        assert rc == 0 and text.count("frame ") == 2 and "p_fake" in text

    def test_missing_file(self, tmp_path, checkpoint, capsys):
        assert cli.main(["predict", str(tmp_path / "x.jpg"), "--checkpoint", checkpoint]) == 2
        assert "no such file" in capsys.readouterr().err

    def test_unreadable_image(self, tmp_path, checkpoint, capsys):
        (tmp_path / "x.jpg").write_bytes(b"garbage")
        assert cli.main(["predict", str(tmp_path / "x.jpg"), "--checkpoint", checkpoint]) == 2
        assert "cannot decode image" in capsys.readouterr().err

    def test_no_face_with_no_fallback(self, tmp_path, checkpoint, capsys):
        cv2.imwrite(str(tmp_path / "x.png"), blank())
        assert cli.main(["predict", str(tmp_path / "x.png"), "--checkpoint", checkpoint,
                         "--no-fallback"]) == 1
        assert "no face found" in capsys.readouterr().err

    def test_no_checkpoint_says_so(self, tmp_path, monkeypatch, capsys):
        cv2.imwrite(str(tmp_path / "x.png"), blank())
        monkeypatch.setattr("minilocal.checkpoint.default_checkpoint",
                            lambda: tmp_path / "none.safetensors")
        assert cli.main(["predict", str(tmp_path / "x.png")]) == 2
        assert "no checkpoint given and no pretrained checkpoint shipped" in \
            capsys.readouterr().err
