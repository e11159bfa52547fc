"""Tests for minilocal/folder.py: the folder format, splits by group, in-memory loading."""

import csv

import cv2
import numpy as np
import pytest
import torch

from minilocal.folder import (
    FaceRecord,
    FaceSet,
    FolderWriter,
    assign_splits,
    load_folder,
    parse_landmarks,
    read_records,
    write_records,
)

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


class TestLoad:
    def test_tensors_and_masks(self, dataset):
        write_records(dataset, assign_splits(read_records(dataset), seed=0))
        s = load_folder(dataset)
        assert s.images.shape == (8, 3, 32, 32) and s.images.dtype.is_floating_point is False
        assert s.labels.tolist() == [0, 1] * 4
        assert s.has_mask.tolist() == [False, True] * 4
        assert s.masks[1, :8].all() and s.masks[1, 8:].sum() == 0 and s.masks[0].sum() == 0
        assert s.cvm[0].sum() == 17 * 17 and s.has_cvm.all()
        assert len(s.subset([1, 3])) == 2

    def test_resize_scales_landmarks(self, dataset):
        s = load_folder(dataset, size=64)
        assert s.images.shape[-1] == 64 and s.cvm[0].sum() == 33 * 33

    def test_split_filter(self, dataset):
        recs = assign_splits(read_records(dataset), seed=0)
        write_records(dataset, recs)
        train = load_folder(dataset, split="train")
        assert len(train) == sum(r.split == "train" for r in recs)
        with pytest.raises(ValueError, match="no images"):
            load_folder(dataset, split="nonexistent")

    def test_from_records_reads_the_rows_chosen_in_their_order(self, dataset):
        recs = read_records(dataset)
        s = FaceSet.from_records(dataset, [recs[3], recs[0]], size=64)
        assert [r.file for r in s.records] == [recs[3].file, recs[0].file]
        assert s.labels.tolist() == [1, 0] and s.has_mask.tolist() == [True, False]
        assert s.images.shape == (2, 3, 64, 64) and int(s.images[0, 0, 0, 0]) == 30
        assert s.masks[0, :16].all() and s.masks[0, 16:].sum() == 0
        assert s.cvm[1].sum() == 33 * 33 and s.has_cvm.all()
        assert len(FaceSet.from_records(dataset, [], size=40)) == 0
        with pytest.raises(ValueError, match="no images"):
            FaceSet.from_records(dataset, [])

    def test_from_records_can_compress_as_it_reads(self, dataset):
        recs = read_records(dataset)[:2]
        plain = FaceSet.from_records(dataset, recs)
        c40 = FaceSet.from_records(dataset, recs, compression="c40")
        assert c40.images.shape == plain.images.shape and c40.masks.equal(plain.masks)

    def test_from_records_refuses_mixed_sizes_without_size(self, tmp_path):
        with FolderWriter(tmp_path) as w:
            w.add(face(1, 32), "real")
            w.add(face(2, 40), "fake")
        with pytest.raises(ValueError, match="pass size="):
            FaceSet.from_records(tmp_path, read_records(tmp_path))
        assert FaceSet.from_records(tmp_path, read_records(tmp_path), 36).images.shape[-1] == 36

    def test_from_arrays_marks_what_is_known(self):
        mask = np.zeros((16, 16), bool)
        mask[:4] = True
        hull = np.ones((16, 16), np.uint8)
        recs = [FaceRecord("a", "fake"), FaceRecord("b", "real"), FaceRecord("up", "unknown")]
        s = FaceSet.from_arrays(recs, [face(k, 16) for k in range(3)], [mask, None, None],
                                [None, hull, None])
        assert s.labels.tolist() == [1, 0, -1] and s.images.shape == (3, 3, 16, 16)
        assert s.has_mask.tolist() == [True, False, False] and s.masks.dtype == torch.uint8
        assert int(s.masks[0].sum()) == 64 and int(s.masks[1:].sum()) == 0
        assert s.has_cvm.tolist() == [False, True, False] and int(s.cvm.sum()) == 256
        with pytest.raises(ValueError, match="one image, mask and hull per record"):
            FaceSet.from_arrays(recs, [face(0, 16)])
        with pytest.raises(ValueError, match="empty"):
            FaceSet.from_arrays([], [])

    def test_concat_and_empty(self, dataset):
        s = load_folder(dataset)
        both = FaceSet.concat([s.subset([0, 1]), FaceSet.empty(32), s.subset([5])])
        assert [r.file for r in both.records] == [s.records[i].file for i in (0, 1, 5)]
        for name in ("images", "labels", "masks", "has_mask", "cvm", "has_cvm"):
            assert getattr(both, name).equal(getattr(s.subset([0, 1, 5]), name)), name
        assert FaceSet.concat([s]) is s and len(FaceSet.empty(8)) == 0
        with pytest.raises(ValueError, match="at least one"):
            FaceSet.concat([])
