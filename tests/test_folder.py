"""Tests for minilocal/folder.py: the folder format, its writer and readers, splits by group."""

import csv

import cv2
import numpy as np
import pytest

from minilocal.folder import FolderWriter, assign_splits, parse_landmarks, read_records

SQUARE = np.array([[8, 8], [24, 8], [24, 24], [8, 24]], np.float32)


def face(value: int, size: int = 32) -> np.ndarray:
    return np.full((size, size, 3), value, np.uint8)


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "ds"
    with FolderWriter(root) as w:
        for i in range(8):
            mask = np.zeros((32, 32), np.uint8)
            mask[:8] = 1
            w.add(face(10 * i), "fake" if i % 2 else "real", mask=mask if i % 2 else None,
                  landmarks=SQUARE, group=f"g{i // 2}", method="sbi" if i % 2 else "")
        w.reject("broken.jpg", "unreadable")
    return root


class TestWriter:
    def test_rows_files_and_rejects(self, dataset):
        recs = read_records(dataset)
        assert len(recs) == 8 and recs[1].mask == "masks/000001.png" and recs[0].mask == ""
        assert all((dataset / r.file).is_file() for r in recs)
        rejects = list(csv.reader(open(dataset / "rejects.csv")))
        assert rejects == [["source", "reason"], ["broken.jpg", "unreadable"]]
        np.testing.assert_allclose(parse_landmarks(recs[0].landmarks), SQUARE)

    def test_reopening_appends_and_keeps_rows(self, dataset):
        with FolderWriter(dataset) as w:
            w.add(face(1), "real")
        assert len(read_records(dataset)) == 9

    def test_rows_survive_a_crash(self, tmp_path):
        w = FolderWriter(tmp_path / "x")
        w.add(face(1), "real")  # never closed, as if the process died
        assert len(read_records(tmp_path / "x")) == 1

    def test_rejects_bad_label_and_image(self, tmp_path):
        with FolderWriter(tmp_path / "y") as w:
            with pytest.raises(ValueError, match="label must be"):
                w.add(face(1), "maybe")
            with pytest.raises(ValueError, match="uint8 RGB"):
                w.add(np.zeros((8, 8)), "real")
            with pytest.raises(ValueError, match="mask must be"):
                w.add(face(1), "fake", mask=np.zeros((4, 4)))


class TestReaders:
    def test_real_fake_subfolders(self, tmp_path):
        for label in ("real", "fake"):
            (tmp_path / label).mkdir()
            cv2.imwrite(str(tmp_path / label / "a.png"), face(5))
        recs = read_records(tmp_path)
        assert [(r.file, r.label) for r in recs] == [("real/a.png", "real"), ("fake/a.png", "fake")]

    def test_missing_layout(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="neither"):
            read_records(tmp_path)

    def test_unknown_label(self, tmp_path):
        (tmp_path / "metadata.csv").write_text("file,label\na.png,spoof\n")
        with pytest.raises(ValueError, match="labels must be"):
            read_records(tmp_path)

    def test_missing_columns(self, tmp_path):
        (tmp_path / "metadata.csv").write_text("path,label\na.png,real\n")
        with pytest.raises(ValueError, match="lacks required columns"):
            read_records(tmp_path)


class TestSplits:
    def test_no_group_crosses_splits_and_it_is_deterministic(self, dataset):
        recs = [r for r in read_records(dataset)] * 30
        for i, r in enumerate(recs):
            r.group = f"g{i % 50}"
        a, b = assign_splits(recs, seed=1), assign_splits(recs, seed=1)
        assert [r.split for r in a] == [r.split for r in b]
        by_group = {}
        for r in a:
            by_group.setdefault(r.group, set()).add(r.split)
        assert all(len(s) == 1 for s in by_group.values())
        assert {r.split for r in a} == {"train", "val", "test"}
        assert [r.split for r in assign_splits(recs, seed=2)] != [r.split for r in a]

    def test_rejects_bad_fractions(self, dataset):
        with pytest.raises(ValueError, match="summing to 1"):
            assign_splits(read_records(dataset), fractions=(0.5, 0.5, 0.5))
