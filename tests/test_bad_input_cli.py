"""Bad input never crashes, never lies, never destroys (issue 12, part A), through the CLI.

Each case asserts the exit code, a phrase of the one-line message, that no traceback
reached the user and, where it matters, that the good data beside it was left intact.
"""

import hashlib
import json
import os

import cv2
import numpy as np
import pytest
import torch

from minilocal import cli
from minilocal.checkpoint import save_checkpoint
from minilocal.folder import FolderWriter
from minilocal.model import LocalFeatureNet
from test_synth import SIZE, make_face

WIDTHS = (4, 4, 4, 4, 4, 4, 4, 4)


# ---------------------------------------------------------------- helpers and fixtures

def run(capsys, *argv) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``minilocal ARGV``; never a traceback on stderr."""
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def fails(capsys, phrase: str, *argv, rc: int = 2) -> str:
    """Run ``minilocal ARGV``, expect exit ``rc`` and one error line containing ``phrase``."""
    code, _, err = run(capsys, *argv)
    assert code == rc, err
    assert phrase in err, err
    assert len(err.strip().splitlines()) == 1, err
    return err


def snapshot(folder) -> dict:
    """{relative path: sha256} of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def tiny_net(heads=("fake",)):
    net = LocalFeatureNet(seg_heads=heads, widths=WIDTHS)
    with torch.no_grad():
        net.train()(torch.rand(4, 3, 64, 64))
    return net.eval()


def write_video(path, side: int, frames: int = 4):
    """A ``frames``-frame side x side H.264 video of changing grey (no face)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((side, side, 3), 40 * i, np.uint8),
                                               format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture
def checkpoint(tmp_path):
    return save_checkpoint(tmp_path / "run" / "best", tiny_net())


@pytest.fixture
def photo(tmp_path):
    """A 160x150 photo without a face."""
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(100, 140, (160, 150, 3),
                                                             dtype=np.uint8))
    return path


@pytest.fixture
def reals(tmp_path):
    """A folder-format dataset of 6 drawn faces of 3 people, with landmarks."""
    root = tmp_path / "reals"
    with FolderWriter(root) as w:
        for i in range(6):
            image, pts = make_face(i)
            w.add(image, "real", landmarks=pts, group=f"person{i // 2}", source=f"p{i}.png")
    return root


@pytest.fixture
def raw(tmp_path):
    """A folder with one image, the SRC of preprocess cases that must fail first."""
    root = tmp_path / "raw"
    root.mkdir()
    cv2.imwrite(str(root / "a.png"), np.full((64, 64, 3), 90, np.uint8))
    return root


@pytest.fixture
def read_only(monkeypatch):
    """Make chosen folders read-only for os.access (chmod does not bind root)."""
    denied = set()
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        if os.path.abspath(path) in denied and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    return lambda path: denied.add(os.path.abspath(path))


def synth(capsys, *argv):
    return run(capsys, "synth", *argv, "--no-progress", "--size", SIZE)


# ---------------------------------------------------------------- the top level

ERRORS = {
    "oserror": (PermissionError(13, "Permission denied", "/x/y"),
                "/x/y: Permission denied"),
    "valueerror": (ValueError("bad value 7"), "bad value 7"),
    "keyerror": (KeyError("file"), "missing key 'file'"),
    "jsonerror": (json.JSONDecodeError("Expecting value", "5x", 1), "Expecting value"),
    "cv2error": (cv2.error("OpenCV(4) x.cpp:1: error: (-215) !_img.empty()\n"),
                 "OpenCV: OpenCV(4) x.cpp:1"),
    "runtimeerror": (RuntimeError("size mismatch"), "size mismatch"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_expected_errors_are_one_line(name, monkeypatch, capsys):
    error, phrase = ERRORS[name]

    def boom(args):
        raise error

    monkeypatch.setattr("minilocal.commands.info.run", boom)
    fails(capsys, "minilocal info: error: " + phrase, "info")


def test_an_unexpected_error_is_one_line_and_exit_3(monkeypatch, capsys):
    def boom(args):
        raise TypeError("unsupported operand")

    monkeypatch.setattr("minilocal.commands.info.run", boom)
    fails(capsys, "internal error: TypeError: unsupported operand", "info", rc=3)


def test_interrupt_exits_130(monkeypatch, capsys):
    def stop(args):
        raise KeyboardInterrupt

    monkeypatch.setattr("minilocal.commands.info.run", stop)
    fails(capsys, "interrupted", "info", rc=130)


@pytest.mark.parametrize("argv", [["--debug", "info", "--size", "20"],
                                  ["-v", "info", "--size", "20"],
                                  ["info", "--size", "20", "--debug"]])
def test_debug_and_verbose_show_the_traceback(argv, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "minilocal info: error:" in err


@pytest.mark.parametrize("heads, phrase", [("a.b", "names must be letters"),
                                           ("fake,fake", "names a head twice")])
def test_info_bad_heads(heads, phrase, capsys):
    fails(capsys, phrase, "info", "--seg-heads", heads)


# ---------------------------------------------------------------- predict

def test_predict_a_folder(tmp_path, checkpoint, capsys):
    fails(capsys, "is a folder; predict takes one image or video file", "predict", tmp_path,
          "--checkpoint", checkpoint)


@pytest.mark.parametrize("heatmap, phrase", [
    ("heat.txt", "unsupported extension '.txt'"),
    ("heat", "unsupported extension '(none)'"),
    ("afile/heat.png", "cannot be created: "),
    ("adir.png", "is a folder, expected a file name"),
])
def test_predict_bad_heatmap_before_any_work(heatmap, phrase, tmp_path, photo, capsys):
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "adir.png").mkdir()
    # no checkpoint exists: the heatmap is checked before the model is even loaded
    fails(capsys, phrase, "predict", photo, "--heatmap", tmp_path / heatmap,
          "--checkpoint", tmp_path / "none.safetensors")
    assert (tmp_path / "afile").read_text() == "not a folder"


def test_predict_heatmap_in_a_read_only_folder(tmp_path, photo, checkpoint, read_only,
                                               capsys):
    (tmp_path / "ro").mkdir()
    read_only(tmp_path / "ro")
    fails(capsys, "not writable", "predict", photo, "--heatmap", tmp_path / "ro" / "h.png",
          "--checkpoint", checkpoint)


@pytest.mark.parametrize("flag, value, phrase", [
    ("--frames", 0, "--frames must be at least 1, got 0"),
    ("--size", 20, "--size must be at least 33 px"),
])
def test_predict_bad_numbers(flag, value, phrase, photo, checkpoint, capsys):
    fails(capsys, phrase, "predict", photo, flag, value, "--checkpoint", checkpoint)


def test_predict_no_face_is_said_not_scored(photo, checkpoint, tmp_path, capsys):
    png = tmp_path / "heat.png"
    fails(capsys, "no face found", "predict", photo, "--checkpoint", checkpoint,
          "--heatmap", png, rc=1)
    assert not png.exists()


def test_predict_no_face_json(photo, checkpoint, capsys):
    rc, out, _ = run(capsys, "predict", photo, "--checkpoint", checkpoint, "--json")
    result = json.loads(out)
    assert rc == 1 and result["face"] is None and result["p_fake"] is None
    assert "no face found" in result["reason"]


def test_predict_whole_image_still_scores_a_tight_crop(photo, checkpoint, capsys):
    rc, out, _ = run(capsys, "predict", photo, "--checkpoint", checkpoint, "--json",
                     "--whole-image")
    result = json.loads(out)
    assert rc == 0 and result["face"]["detection"] == "whole_image"
    assert 0 <= result["p_fake"] <= 1


def test_predict_nan_weights_is_an_error(photo, tmp_path, capsys):
    net = tiny_net()
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(float("nan"))
    nan = save_checkpoint(tmp_path / "nan" / "best", net)
    code, out, err = run(capsys, "predict", photo, "--checkpoint", nan, "--whole-image",
                         "--json")
    assert code == 2 and out == "" and ("not finite" in err or "nan" in err.lower()), err


def test_predict_heatmap_needs_a_segmentation_head(photo, tmp_path, capsys):
    ckpt = save_checkpoint(tmp_path / "nohead" / "best", tiny_net(heads=()))
    fails(capsys, "--heatmap needs a segmentation head", "predict", photo, "--checkpoint",
          ckpt, "--heatmap", tmp_path / "h.png")


def test_predict_tiny_video_is_refused(tmp_path, checkpoint, capsys):
    video = write_video(tmp_path / "tiny.mp4", 16)
    fails(capsys, "video frames too small (16x16 px, need at least 40", "predict", video,
          "--checkpoint", checkpoint, "--whole-image")


def test_predict_video_without_a_face(tmp_path, checkpoint, capsys):
    video = write_video(tmp_path / "grey.mp4", 96)
    rc, out, _ = run(capsys, "predict", video, "--checkpoint", checkpoint, "--json",
                     "--frames", 2)
    result = json.loads(out)
    assert rc == 1 and result["kind"] == "video" and result["face"] is None
    assert "no face found in any of the 2 frames" in result["reason"]


# ---------------------------------------------------------------- synth

def test_synth_src_as_out_with_overwrite_destroys_nothing(reals, capsys):
    before = snapshot(reals)
    _, _, err = synth(capsys, reals, reals, "--overwrite")
    assert "is SRC itself" in err and snapshot(reals) == before


@pytest.mark.parametrize("inside", ["out_in_src", "src_in_out"])
def test_synth_nested_src_and_out_are_refused(inside, reals, tmp_path, capsys):
    before = snapshot(reals)
    if inside == "out_in_src":
        rc, _, err = synth(capsys, reals, reals / "fakes", "--overwrite")
        assert "is inside SRC" in err and not (reals / "fakes").exists()
    else:
        rc, _, err = synth(capsys, reals, tmp_path, "--overwrite")
        assert "is inside OUT" in err
    assert rc == 2 and snapshot(reals) == before


def test_synth_api_refuses_src_as_out(reals):
    from minilocal.synth import make_fakes

    before = snapshot(reals)
    with pytest.raises(ValueError, match="overlap"):
        make_fakes(reals, reals, size=SIZE, overwrite=True)
    assert snapshot(reals) == before


def test_synth_failed_overwrite_keeps_the_old_dataset(reals, tmp_path, capsys):
    out = tmp_path / "out"
    assert synth(capsys, reals, out, "--n", 2, "--method", "sbi")[0] == 0
    before = snapshot(out)
    (tmp_path / "empty").mkdir()
    rc, _, err = synth(capsys, tmp_path / "empty", out, "--overwrite")
    assert rc == 2 and "holds no real face images" in err and snapshot(out) == before


@pytest.mark.parametrize("target, phrase", [
    ("afile", "is a file, expected a folder"),
    ("afile/out", "is a file, not a folder"),
])
def test_synth_out_a_file(target, phrase, reals, tmp_path, capsys):
    (tmp_path / "afile").write_text("keep me")
    rc, _, err = synth(capsys, reals, tmp_path / target)
    assert rc == 2 and phrase in err and (tmp_path / "afile").read_text() == "keep me"


def test_synth_out_read_only(reals, tmp_path, read_only, capsys):
    (tmp_path / "ro").mkdir()
    read_only(tmp_path / "ro")
    rc, _, err = synth(capsys, reals, tmp_path / "ro" / "out")
    assert rc == 2 and "not writable" in err and not (tmp_path / "ro" / "out").exists()


@pytest.mark.parametrize("preview, phrase", [
    ("p.txt", "unsupported extension '.txt'"),
    ("p.webp", "unsupported extension '.webp'"),
    ("adir", "unsupported extension"),
])
def test_synth_bad_preview_before_any_work(preview, phrase, reals, tmp_path, capsys):
    (tmp_path / "adir").mkdir()
    rc, _, err = synth(capsys, reals, tmp_path / "out", "--preview", tmp_path / preview)
    assert rc == 2 and phrase in err and not (tmp_path / "out").exists()


def test_synth_preview_inside_src_is_refused(reals, tmp_path, capsys):
    before = snapshot(reals)
    target = next((reals / "images").iterdir())
    rc, _, err = synth(capsys, reals, tmp_path / "out", "--preview", target)
    assert rc == 2 and "is inside SRC" in err and snapshot(reals) == before


@pytest.mark.parametrize("flag, value, phrase", [
    ("--n", 0, "--n must be at least 1, got 0"),
    ("--workers", 0, "--workers must be at least 1"),
    ("--limit", 0, "--limit must be at least 1"),
])
def test_synth_bad_numbers(flag, value, phrase, reals, tmp_path, capsys):
    rc, _, err = synth(capsys, reals, tmp_path / "out", flag, value)
    assert rc == 2 and phrase in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("size", [10, 32])
def test_synth_size_below_the_receptive_field(size, reals, tmp_path, capsys):
    fails(capsys, "--size must be at least 33 px", "synth", reals, tmp_path / "out",
          "--size", size, "--no-progress")
    assert not (tmp_path / "out").exists()


def test_synth_missing_src(tmp_path, capsys):
    fails(capsys, "does not exist", "synth", tmp_path / "none", tmp_path / "out")


def test_synth_good_run_with_preview(reals, tmp_path, capsys):
    png = tmp_path / "previews" / "p.jpg"
    rc, out, _ = synth(capsys, reals, tmp_path / "out", "--n", 2, "--method", "sbi",
                       "--preview", png)
    assert rc == 0 and "2 reals" in out and cv2.imread(str(png)) is not None


# ---------------------------------------------------------------- preprocess

def preprocess(capsys, *argv, phrase: str):
    return fails(capsys, phrase, "preprocess", *argv, "--no-progress")


def test_preprocess_out_is_src(raw, capsys):
    before = snapshot(raw)
    preprocess(capsys, raw, raw, "--overwrite", phrase="is SRC itself")
    assert snapshot(raw) == before


def test_preprocess_out_inside_src(raw, capsys):
    preprocess(capsys, raw, raw / "faces", phrase="is inside SRC")
    assert not (raw / "faces").exists()


def test_preprocess_src_inside_out(raw, tmp_path, capsys):
    before = snapshot(raw)
    preprocess(capsys, raw, tmp_path, "--overwrite", phrase="is inside OUT")
    assert snapshot(raw) == before


@pytest.mark.parametrize("target, phrase", [
    ("afile", "is a file, expected a folder"),
    ("afile/out", "is a file, not a folder"),
])
def test_preprocess_out_a_file(target, phrase, raw, tmp_path, capsys):
    (tmp_path / "afile").write_text("keep me")
    preprocess(capsys, raw, tmp_path / target, phrase=phrase)
    assert (tmp_path / "afile").read_text() == "keep me"


def test_preprocess_out_read_only(raw, tmp_path, read_only, capsys):
    (tmp_path / "ro").mkdir()
    read_only(tmp_path / "ro")
    preprocess(capsys, raw, tmp_path / "ro" / "out", phrase="not writable")


@pytest.mark.parametrize("flag, value, phrase", [
    ("--size", 10, "--size must be at least 33 px"),
    ("--workers", 0, "--workers must be at least 1"),
    ("--limit", 0, "--limit must be at least 1"),
    ("--frames", 0, "--frames must be at least 1"),
])
def test_preprocess_bad_numbers(flag, value, phrase, raw, tmp_path, capsys):
    preprocess(capsys, raw, tmp_path / "out", flag, value, phrase=phrase)
    assert not (tmp_path / "out").exists()


def test_preprocess_missing_src(tmp_path, capsys):
    preprocess(capsys, tmp_path / "no" / "where", tmp_path / "out", phrase="does not exist")


# ---------------------------------------------------------------- data

@pytest.mark.parametrize("target, phrase", [
    ("afile", "is a file, expected a folder"),
    ("afile/lfw", "is a file, not a folder"),
])
def test_data_download_dest_a_file(target, phrase, tmp_path, capsys):
    (tmp_path / "afile").write_text("keep me")
    fails(capsys, phrase, "data", "download", "lfw_faces", "--dest", tmp_path / target)
    assert (tmp_path / "afile").read_text() == "keep me"


def test_data_download_dest_read_only(tmp_path, read_only, capsys):
    read_only(tmp_path)
    fails(capsys, "not writable", "data", "download", "lfw_faces", "--dest", tmp_path / "d")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("argv, phrase", [
    (["download", "lfw_faces", "--workers", "0"], "--workers must be at least 1"),
    (["download", "lfw_faces", "--retries", "-1"], "--retries must be at least 0"),
    (["verify", "lfw_faces", "--workers", "0"], "--workers must be at least 1"),
])
def test_data_bad_numbers(argv, phrase, tmp_path, capsys):
    fails(capsys, phrase, "data", *argv)


def test_data_verify_missing_root(tmp_path, capsys):
    fails(capsys, "is not a folder", "data", "verify", "lfw_faces", "--root",
          tmp_path / "none")


# ---------------------------------------------------------------- evaluate

@pytest.mark.parametrize("argv, phrase", [
    (["--limit", "0"], "--limit must be at least 1, got 0"),
    (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["--sizes", "128,20"], "each of --sizes must be at least 33 px"),
    (["--sizes", "a,b"], "--sizes must be comma-separated integers"),
    (["--image-size", "10"], "--image-size must be at least 33 px"),
])
def test_evaluate_bad_numbers(argv, phrase, reals, checkpoint, capsys):
    fails(capsys, phrase, "evaluate", "--data", reals, "--checkpoint", checkpoint, *argv)


def test_evaluate_metadata_without_file_column(tmp_path, checkpoint, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "metadata.csv").write_text("name,label\na.png,real\n")
    code, _, err = run(capsys, "evaluate", "--data", data, "--checkpoint", checkpoint,
                       "--split", "all")
    assert code == 2 and "minilocal evaluate: error:" in err
    assert len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- predict, with a real face

@pytest.fixture(scope="module")
def face_rgb():
    from minilocal.image_io import read_image
    from minilocal.paths import find_dataset

    try:
        root = find_dataset("lfw_faces")
    except FileNotFoundError:
        pytest.skip("shared dataset lfw_faces not available")
    return read_image(root / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg")


def test_predict_a_photo_with_a_face_is_scored(face_rgb, tmp_path, checkpoint, capsys):
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), face_rgb[..., ::-1])
    rc, out, _ = run(capsys, "predict", path, "--checkpoint", checkpoint, "--json")
    result = json.loads(out)
    assert rc == 0 and result["face"]["detection"] in ("hog", "hog_padded")
    assert result["face"]["box"] == result["box"] and 0 <= result["p_fake"] <= 1


def test_predict_video_skips_only_the_frames_without_a_face(face_rgb, tmp_path, checkpoint,
                                                            capsys):
    import av

    path = tmp_path / "mixed.mp4"
    H, W = face_rgb.shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height = W - W % 2, H - H % 2
        stream.pix_fmt = "yuv420p"
        for i in range(4):
            image = face_rgb if i % 2 == 0 else np.full_like(face_rgb, 128)
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(image[:H - H % 2, :W - W % 2]), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    rc, out, _ = run(capsys, "predict", path, "--checkpoint", checkpoint, "--json",
                     "--frames", 4)
    result = json.loads(out)
    assert rc == 0 and [f["index"] for f in result["frames"]] == [0, 2]
    assert [s["index"] for s in result["skipped"]] == [1, 3]
    assert all("no face found" in s["reason"] for s in result["skipped"])
