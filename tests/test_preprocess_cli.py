"""Tests for minilocal/commands/preprocess.py: `minilocal preprocess`, the bad-input table."""

import csv
import json
import re
import shutil

import cv2
import numpy as np
import pytest

from minilocal.cli import main
from minilocal.folder import read_records


@pytest.fixture(scope="module")
def face_jpg():
    from minilocal.paths import find_dataset

    try:
        return (find_dataset("lfw_faces") / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg").resolve()
    except FileNotFoundError:
        pytest.skip("shared dataset lfw_faces not available")


def png(path, array):
    assert cv2.imwrite(str(path), array)


# file name -> expected reason in rejects.csv (None: converted and kept)
BAD_INPUTS = {
    "good.jpg": None,
    "rgba_opaque.png": None,
    "sixteen_bit.png": None,
    "empty.jpg": r"empty file \(0 bytes\)",
    "garbage.jpg": "cannot decode image",
    "truncated.jpg": "truncated image file",
    "gray.png": "grayscale image",
    "rgba_cutout.png": "transparent pixels",
    "tiny.png": "image too small",
    "huge.png": "image too large",
    "no_face.png": "no face found",
}


def make_bad_inputs(folder, face_jpg):
    folder.mkdir(parents=True)
    shutil.copy(face_jpg, folder / "good.jpg")
    face = cv2.imread(str(face_jpg))
    png(folder / "rgba_opaque.png", np.dstack([face, np.full(face.shape[:2], 255, np.uint8)]))
    png(folder / "sixteen_bit.png", face.astype(np.uint16) * 257)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "garbage.jpg").write_bytes(b"\x00\x01 definitely not a jpeg" * 20)
    data = (folder / "good.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    png(folder / "gray.png", cv2.cvtColor(face, cv2.COLOR_BGR2GRAY))
    cutout = np.dstack([face, np.full(face.shape[:2], 255, np.uint8)])
    cutout[:20, :20, 3] = 0
    png(folder / "rgba_cutout.png", cutout)
    png(folder / "tiny.png", face[100:130, 100:130])
    png(folder / "huge.png", np.zeros((40, 8100, 3), np.uint8))
    png(folder / "no_face.png", np.full((150, 150, 3), 90, np.uint8))


def rejects(out):
    with open(out / "rejects.csv", newline="") as f:
        return {row["source"]: row["reason"] for row in csv.DictReader(f)}


class TestBadInputs:
    def test_each_bad_input_is_rejected_with_its_reason(self, tmp_path, face_jpg, capsys):
        src, out = tmp_path / "src", tmp_path / "out"
        make_bad_inputs(src / "real", face_jpg)
        rc = main(["preprocess", str(src), str(out), "--kind", "folder", "--no-progress"])
        assert rc == 0
        reasons = rejects(out)
        kept = {r.source for r in read_records(out)}
        for name, match in BAD_INPUTS.items():
            source = f"real/{name}"
            if match is None:
                assert source in kept and source not in reasons
            else:
                assert source not in kept
                assert re.search(match, reasons[source]), (name, reasons[source])
        assert "3 faces written, 8 rejected" in capsys.readouterr().out

    def test_nothing_processed_exits_1(self, tmp_path, face_jpg):
        src = tmp_path / "src"
        src.mkdir()
        (src / "empty.jpg").write_bytes(b"")
        png(src / "no_face.png", np.full((150, 150, 3), 90, np.uint8))
        out = tmp_path / "out"
        assert main(["preprocess", str(src), str(out), "--label", "fake", "--no-progress"]) == 1
        assert len(rejects(out)) == 2 and read_records(out) == []

    def test_rerun_keeps_what_was_written(self, tmp_path, face_jpg, capsys):
        src, out = tmp_path / "src", tmp_path / "out"
        make_bad_inputs(src / "fake", face_jpg)
        args = ["preprocess", str(src), str(out), "--no-progress", "--json"]
        assert main(args + ["--limit", "3"]) == 0  # empty.jpg, garbage.jpg, good.jpg
        first = json.loads(capsys.readouterr().out)
        assert main(args) == 0
        second = json.loads(capsys.readouterr().out)
        assert first["written"] == 1 and first["rejected"] == 2
        assert second["skipped"] == 3 and second["written"] == 2 and second["total"] == 3
        assert len(rejects(out)) == 8  # empty.jpg and garbage.jpg are not rejected twice

    def test_flat_folder_without_label_is_a_clean_error(self, tmp_path, capsys):
        src = tmp_path / "flat"  # OUT beside SRC, not inside it (that is refused first)
        src.mkdir()
        (src / "a.png").write_bytes(b"")
        rc = main(["preprocess", str(src), str(tmp_path / "out"), "--no-progress"])
        err = capsys.readouterr().err
        assert rc == 2 and "minilocal preprocess: error: " in err
        assert "has no real/ or fake/ subfolder" in err and "--label" in err, err
        assert not (tmp_path / "out").exists()

    def test_missing_source_is_a_clean_error(self, tmp_path, capsys):
        rc = main(["preprocess", str(tmp_path / "none"), str(tmp_path / "out")])
        assert rc == 2 and "does not exist" in capsys.readouterr().err

    def test_unknown_kind_is_refused(self, tmp_path):
        with pytest.raises(SystemExit):
            main(["preprocess", str(tmp_path), str(tmp_path / "out"), "--kind", "celeb"])


class TestOptions:
    def test_size_compress_seed(self, tmp_path, face_jpg, capsys):
        src, out = tmp_path / "src", tmp_path / "out"
        (src / "real").mkdir(parents=True)
        shutil.copy(face_jpg, src / "real" / "a.jpg")
        rc = main(["preprocess", str(src), str(out), "--size", "96", "--compress", "c23",
                   "--seed", "5", "--workers", "2", "--no-progress", "--json"])
        assert rc == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["written"] == 1 and summary["detection"] == {"hog": 1}
        record = read_records(out)[0]
        assert record.compression == "c23" and record.split in ("train", "val", "test")
        assert cv2.imread(str(out / record.file)).shape == (96, 96, 3)

    def test_source_by_dataset_name(self, tmp_path, monkeypatch, face_jpg, capsys):
        root = tmp_path / "data"
        (root / "mini" / "real").mkdir(parents=True)
        shutil.copy(face_jpg, root / "mini" / "real" / "a.jpg")
        monkeypatch.setenv("MINILOCAL_DATA", str(root))
        monkeypatch.chdir(tmp_path)
        assert main(["preprocess", "mini", str(tmp_path / "out"), "--no-progress"]) == 0
        assert len(read_records(tmp_path / "out")) == 1

    def test_unknown_dataset_name_is_a_clean_error(self, tmp_path, monkeypatch, capsys):
        monkeypatch.chdir(tmp_path)
        assert main(["preprocess", "nosuchset", str(tmp_path / "out")]) == 2
        assert "dataset 'nosuchset' not found" in capsys.readouterr().err
