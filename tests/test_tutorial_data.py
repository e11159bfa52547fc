"""Tests for minilocal/tutorial_data.py: cached tutorial subsets and the tutorial model."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

import minilocal as ml
from minilocal import tutorial_data
from minilocal.checkpoint import save_checkpoint
from minilocal.folder import FaceRecord, FolderWriter, assign_splits, read_records
from minilocal.model import SMALL_WIDTHS
from minilocal.paths import find_dataset
from minilocal.tutorial_data import tutorial_dataset, tutorial_dir, tutorial_model


@pytest.fixture
def build(tmp_path, monkeypatch):
    """An empty build dir (MINILOCAL_BUILD) and no shipped checkpoint."""
    monkeypatch.setenv("MINILOCAL_BUILD", str(tmp_path / "build"))
    monkeypatch.setattr(tutorial_data, "default_checkpoint", lambda: tmp_path / "none.safetensors")
    return tmp_path / "build"


def write_built(root: Path, n_per_cell: dict, size: int = 40) -> None:
    """A folder-format dataset with n_per_cell[(split, label)] faces; fakes get a mask."""
    rng = np.random.default_rng(0)
    with FolderWriter(root) as w:
        for (split, label), n in sorted(n_per_cell.items()):
            for k in range(n):
                image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                mask = None
                if label == "fake":
                    mask = np.zeros((size, size), np.uint8)
                    mask[size // 4:3 * size // 4, size // 4:3 * size // 4] = 1
                w.add(image, label, mask=mask, split=split, group=f"{split}{k}",
                      name=f"{split}_{label}_{k:03d}")


class TestTutorialDataset:
    def test_copies_a_proportional_sample_of_the_built_dataset(self, build):
        write_built(build / "dfdc_faces", {("train", "real"): 40, ("train", "fake"): 40,
                                           ("val", "real"): 5, ("val", "fake"): 5,
                                           ("test", "real"): 5, ("test", "fake"): 5})
        root = tutorial_dataset("dfdc_faces", n=20)
        assert root == tutorial_dir() / "dfdc_faces_n20_s0"
        rows = read_records(root)
        cells = Counter((r.split, r.label) for r in rows)
        assert cells == {("train", "real"): 8, ("train", "fake"): 8, ("val", "real"): 1,
                         ("val", "fake"): 1, ("test", "real"): 1, ("test", "fake"): 1}
        for r in rows:  # the split comes from the built dataset, files and masks are copied
            assert r.split == r.file.split("/")[1].split("_")[0]
            assert (root / r.file).is_file()
            assert bool(r.mask) == (r.label == "fake")
            assert not r.mask or (root / r.mask).is_file()

    def test_split_keeps_only_that_split(self, build):
        write_built(build / "dfdc_faces", {("train", "real"): 20, ("train", "fake"): 20,
                                           ("test", "real"): 6, ("test", "fake"): 6})
        root = tutorial_dataset("dfdc_faces", n=8, split="test")
        assert root.name == "dfdc_faces_test_n8_s0"
        assert Counter((r.split, r.label) for r in read_records(root)) == {
            ("test", "real"): 4, ("test", "fake"): 4}

    def test_split_without_faces_raises(self, build):
        write_built(build / "dfdc_faces", {("train", "real"): 2, ("train", "fake"): 2})
        with pytest.raises(ValueError, match="no faces in split 'val'"):
            tutorial_dataset("dfdc_faces", n=4, split="val")
        assert not list(tutorial_dir().glob("*"))  # nothing half-built is left

    def test_rejects_unknown_split(self, build):
        with pytest.raises(ValueError, match="unknown split 'dev'"):
            tutorial_dataset("dfdc_faces", n=4, split="dev")

    def test_second_call_uses_the_cache(self, build):
        write_built(build / "dfdc_faces", {("train", "real"): 4, ("train", "fake"): 4})
        first = tutorial_dataset("dfdc_faces", n=4, seed=1)
        (build / "dfdc_faces" / "metadata.csv").unlink()  # the source is gone ...
        assert tutorial_dataset("dfdc_faces", n=4, seed=1) == first  # ... the cache is used
        assert not list(first.parent.glob("*.tmp*"))

    def test_seed_changes_the_sample(self, build):
        write_built(build / "dfdc_faces", {("train", "real"): 30, ("train", "fake"): 30})
        a = {r.file for r in read_records(tutorial_dataset("dfdc_faces", n=10, seed=0))}
        b = {r.file for r in read_records(tutorial_dataset("dfdc_faces", n=10, seed=1))}
        assert len(a) == len(b) == 10 and a != b

    def test_none_returns_the_built_dataset(self, build):
        write_built(build / "gan_faces", {("train", "fake"): 2})
        assert tutorial_dataset("gan_faces", n=None) == build / "gan_faces"

    def test_none_without_built_dataset_raises(self, build):
        with pytest.raises(FileNotFoundError, match="built dataset 'lfw_faces' not found"):
            tutorial_dataset("lfw_faces", n=None)

    def test_rejects_unknown_name(self, build):
        with pytest.raises(ValueError, match="unknown tutorial dataset 'celeb'"):
            tutorial_dataset("celeb", n=8)

    def test_rejects_n_below_two(self, build):
        with pytest.raises(ValueError, match="n must be at least 2 faces, got 1"):
            tutorial_dataset("dfdc_faces", n=1)

    def test_builds_from_raw_images_when_nothing_is_built(self, build, tmp_path, monkeypatch):
        try:
            lfw = find_dataset("lfw_faces")
        except FileNotFoundError:
            pytest.skip("raw lfw_faces not available")
        raw = tmp_path / "raw" / "lfw_faces"
        for person in sorted(p for p in lfw.iterdir() if p.is_dir())[:3]:
            (raw / person.name).mkdir(parents=True)
            first = sorted(person.glob("*.jpg"))[0]
            (raw / person.name / first.name).symlink_to(first.resolve())
        monkeypatch.setenv("MINILOCAL_DATA", str(tmp_path / "raw"))
        root = tutorial_dataset("lfw_faces", n=2, seed=3)
        rows = read_records(root)
        assert len(rows) == 2 and all(r.label == "real" and r.landmarks for r in rows)
        full = assign_splits([FaceRecord(file="x", label="real", group=r.group) for r in rows])
        assert [r.split for r in rows] == [f.split for f in full]  # the full build's splits
        assert {r.source.split("/")[0] for r in rows} <= {p.name for p in raw.iterdir()}
        assert not list(tutorial_dir().glob("*.raw"))

    def test_missing_raw_and_built_data_raises(self, build, tmp_path, monkeypatch):
        monkeypatch.setenv("MINILOCAL_DATA", str(tmp_path / "nothing"))
        monkeypatch.chdir(tmp_path)  # no ./datasets_small, no ../shared/datasets
        monkeypatch.setattr("minilocal.paths.project_root", lambda: None)  # nor beside the checkout
        with pytest.raises(FileNotFoundError, match="dataset 'gan_faces' not found"):
            tutorial_dataset("gan_faces", n=4)
        assert not (build / "tutorial" / "gan_faces_n4_s0").exists()


class TestTutorialModel:
    def test_loads_a_given_checkpoint(self, build, tmp_path):
        net = ml.LocalFeatureNet(widths=SMALL_WIDTHS)
        path = save_checkpoint(tmp_path / "run" / "best", net,
                               {"data": ["build/data/tutorial/dfdc_faces_n256_s0"]})
        model, config = tutorial_model(checkpoint=path)
        assert config["source"] == "given" and config["checkpoint"] == str(path)
        assert config["datasets"] == ["dfdc_faces"]
        assert not model.training
        for k, v in net.state_dict().items():
            torch.testing.assert_close(model.state_dict()[k], v)

    def test_prefers_the_shipped_checkpoint(self, build, tmp_path, monkeypatch):
        path = save_checkpoint(tmp_path / "shipped", ml.LocalFeatureNet(widths=SMALL_WIDTHS),
                               {"data": "build/data/dfdc_faces"})
        monkeypatch.setattr(tutorial_data, "default_checkpoint", lambda: path)
        _, config = tutorial_model()
        assert config["source"] == "shipped" and config["datasets"] == ["dfdc_faces"]

    def test_quick_run_trains_once_then_loads_the_cache(self, build):
        write_built(build / "dfdc_faces", {("train", "real"): 6, ("train", "fake"): 6,
                                           ("val", "real"): 2, ("val", "fake"): 2})
        model, config = tutorial_model("dfdc_faces", n=16, epochs=1, minutes=1.0)
        weights = Path(config["checkpoint"])
        assert config["source"] == "quick" and config["datasets"] == ["dfdc_faces"]
        assert weights == tutorial_dir() / "runs" / "dfdc_faces_n16_s0" / "best.safetensors"
        assert config["model"]["widths"] == list(SMALL_WIDTHS)
        assert config["train"]["masks"] == {"fake": "real"}  # every fake has a true mask
        assert not list(weights.parent.glob("last.*"))
        stamp = weights.stat().st_mtime_ns
        again, _ = tutorial_model("dfdc_faces", n=16, epochs=1, minutes=1.0)
        assert weights.stat().st_mtime_ns == stamp  # not retrained
        out = again(torch.rand(1, 3, 64, 64))
        assert out.cls_logits.shape == (1, 2) and set(out.seg_logits) == {"fake"}

    def test_quick_run_rejects_unknown_dataset(self, build):
        with pytest.raises(ValueError, match="unknown tutorial dataset 'imagenet'"):
            tutorial_model("imagenet")
