"""Tests for minilocal/preprocess.py: building a dataset, resuming, workers, splits by group."""

import csv
import shutil
from collections import defaultdict

import cv2
import numpy as np
import pytest
from test_adapters import dfdc_small, lfw_small  # noqa: F401 (fixtures: small raw sources)

from minilocal.faceset import load_folder
from minilocal.folder import read_records
from minilocal.preprocess import build_dataset


class TestBuildDataset:
    def test_lfw_rows_columns_and_splits(self, lfw_small, tmp_path):
        out = tmp_path / "out"
        summary = build_dataset("lfw_faces", lfw_small, out, size=64, seed=3)
        assert summary["written"] == 4 and summary["rejected"] == 0 and summary["total"] == 4
        records = read_records(out)
        r = records[0]
        assert (r.label, r.group, r.compression, r.detection) == (
            "real", "Aaron_Peirsol", "c0", "hog")
        assert len(r.box.split()) == 4 and r.source == "Aaron_Peirsol/Aaron_Peirsol_0001.jpg"
        assert all(rec.split in ("train", "val", "test") for rec in records)
        faces = load_folder(out)
        assert faces.images.shape == (4, 3, 64, 64) and bool(faces.has_cvm.all())

    def test_no_group_in_two_splits(self, dfdc_small, tmp_path):
        out = tmp_path / "out"
        for seed in range(4):
            build_dataset("dfdc_faces", dfdc_small, out, size=32, seed=seed, overwrite=True,
                          fractions=(0.34, 0.33, 0.33))
            splits = defaultdict(set)
            for r in read_records(out):
                splits[r.group].add(r.split)
            assert len(splits) == 3 and all(len(s) == 1 for s in splits.values())

    def test_gan_faces_get_ones_masks(self, lfw_small, tmp_path):
        src = tmp_path / "gan"
        src.mkdir()
        shutil.copy(next((lfw_small / "Abdullah_Gul").iterdir()), src / "1.jpg")
        out = tmp_path / "out"
        build_dataset("gan_faces", src, out, size=32)
        faces = load_folder(out)
        assert faces.labels.tolist() == [1] and bool(faces.has_mask.all())
        assert bool((faces.masks == 1).all())
        assert read_records(out)[0].method == "gan"

    def test_compression_column_and_effect(self, lfw_small, tmp_path):
        plain = build_dataset("lfw_faces", lfw_small, tmp_path / "c0", size=64, limit=2)
        c40 = build_dataset("lfw_faces", lfw_small, tmp_path / "c40", size=64, limit=2,
                            compression="c40")
        assert plain["written"] == c40["written"] == 2
        assert {r.compression for r in read_records(tmp_path / "c40")} == {"c40"}
        a = cv2.imread(str(tmp_path / "c0" / "images" / "Aaron_Peirsol_0001.png"))
        b = cv2.imread(str(tmp_path / "c40" / "images" / "Aaron_Peirsol_0001.png"))
        assert 15 < cv2.PSNR(a, b) < 40

    def test_limit_and_resume(self, lfw_small, tmp_path):
        out = tmp_path / "out"
        first = build_dataset("lfw_faces", lfw_small, out, size=32, limit=1)
        again = build_dataset("lfw_faces", lfw_small, out, size=32)
        assert first["written"] == 1
        assert again["skipped"] == 1 and again["written"] == 3 and again["total"] == 4

    def test_two_workers_same_result(self, lfw_small, tmp_path):
        one = build_dataset("lfw_faces", lfw_small, tmp_path / "w1", size=32)
        two = build_dataset("lfw_faces", lfw_small, tmp_path / "w2", size=32, workers=2)
        assert one["written"] == two["written"] == 4
        r1, r2 = read_records(tmp_path / "w1"), read_records(tmp_path / "w2")
        assert [(r.file, r.landmarks, r.split) for r in r1] == \
            [(r.file, r.landmarks, r.split) for r in r2]

    @pytest.mark.parametrize("kwargs, match", [
        ({"compression": "c10"}, "unknown compression 'c10'"),
        ({"size": 4}, "size must be at least 8"),
        ({"workers": 0}, "workers must be >= 1"),
        ({"limit": 0}, "limit must be >= 1"),
    ])
    def test_rejects_bad_options(self, lfw_small, tmp_path, kwargs, match):
        with pytest.raises(ValueError, match=match):
            build_dataset("lfw_faces", lfw_small, tmp_path / "out", **kwargs)

    def test_ffpp_pairs_share_group_and_get_masks(self, tmp_path, lfw_root):
        from test_video import ffpp_tree

        from minilocal.image_io import read_image

        real = read_image(lfw_root / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg")
        fake = real.copy()
        fake[110:140, 100:150] = 255 - fake[110:140, 100:150]
        src = ffpp_tree(tmp_path / "ffpp", [real] * 3, [fake] * 3, orphan=[fake] * 3)
        out = tmp_path / "out"
        summary = build_dataset("ffpp", src, out, size=64, frames=2)
        assert summary["written"] == 6
        records = read_records(out)
        assert [r.file for r in records[:3]] == [
            "images/real_001_f0000.png", "images/real_001_f0002.png",
            "images/Deepfakes_001_002_f0000.png"]
        pair = [r for r in records if r.group == "001"]
        assert len(pair) == 4 and len({r.split for r in pair}) == 1
        assert all(r.mask for r in pair if r.label == "fake")
        orphan = [r for r in records if r.group == "750"]
        assert len(orphan) == 2 and not any(r.mask for r in orphan)
        assert {r.compression for r in records} == {"c23"}
        faces = load_folder(out)
        assert faces.masks[2].sum() > 0 and faces.masks[0].sum() == 0
        np.testing.assert_array_equal(faces.has_mask.numpy(),
                                      [False, False, True, True, False, False])

    def test_ffpp_frames_without_face_are_rejected_by_frame(self, tmp_path):
        from test_video import ffpp_tree, ramp

        src = ffpp_tree(tmp_path / "ffpp", ramp(3, 96, 96), ramp(3, 96, 96))
        out = tmp_path / "out"
        summary = build_dataset("ffpp", src, out, frames=2)
        assert summary["written"] == 0 and summary["rejected"] == 4
        with open(out / "rejects.csv", newline="") as f:
            sources = [row["source"] for row in csv.DictReader(f)]
        assert sources[:2] == ["original_sequences/youtube/c23/videos/001.mp4#0",
                               "original_sequences/youtube/c23/videos/001.mp4#2"]
        assert summary["reject_reasons"] == {
            "no face found by the HOG detector, even on the padded image": 4}
