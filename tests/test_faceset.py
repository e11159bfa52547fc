"""Tests for minilocal/faceset.py: a folder-format dataset loaded into memory as a FaceSet."""

import numpy as np
import pytest
import torch
from test_folder import dataset, face  # noqa: F401 (dataset: the fixture of 8 faces)

from minilocal.faceset import FaceSet, load_folder
from minilocal.folder import FaceRecord, FolderWriter, assign_splits, read_records, write_records


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
