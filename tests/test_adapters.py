"""Tests for minilocal/adapters.py: the inputs of each dataset kind, with their groups."""

import csv
import shutil

import pytest

from minilocal.adapters import KINDS, Item, list_items

PEOPLE = {"Aaron_Peirsol": ["Aaron_Peirsol_0001.jpg", "Aaron_Peirsol_0004.jpg"],
          "Abdullah_Gul": ["Abdullah_Gul_0003.jpg", "Abdullah_Gul_0005.jpg"]}


@pytest.fixture
def lfw_small(tmp_path, lfw_root):
    """Two people, two photos each, in the LFW layout."""
    src = tmp_path / "lfw"
    for person, files in PEOPLE.items():
        (src / person).mkdir(parents=True)
        for f in files:
            shutil.copy(lfw_root / person / f, src / person / f)
    return src


@pytest.fixture
def dfdc_small(tmp_path, lfw_root):
    """A dfdc_faces-like folder: 3 reals, each with one fake (LFW photos stand in)."""
    src = tmp_path / "dfdc"
    (src / "real").mkdir(parents=True)
    (src / "fake").mkdir()
    photos = [lfw_root / p / f for p, fs in PEOPLE.items() for f in fs]
    rows = []
    for i in range(3):
        shutil.copy(photos[i], src / "real" / f"r{i}.jpg")
        shutil.copy(photos[i + 1], src / "fake" / f"f{i}.jpg")
        rows += [[f"real/r{i}.jpg", "real", ""], [f"fake/f{i}.jpg", "fake", f"r{i}"]]
    with open(src / "metadata.csv", "w", newline="") as f:
        csv.writer(f).writerows([["file", "label", "original"]] + rows)
    return src


class TestListItems:
    def test_dfdc_groups_pairs_by_real_video(self, dfdc_small):
        items = list_items("dfdc_faces", dfdc_small)
        assert [(i.name, i.label, i.group) for i in items[:2]] == [
            ("real_r0", "real", "r0"), ("fake_f0", "fake", "r0")]
        assert items[1].method == "dfdc" and items[0].method == ""

    def test_lfw_groups_by_person(self, lfw_small):
        items = list_items("lfw_faces", lfw_small)
        assert [i.group for i in items] == ["Aaron_Peirsol"] * 2 + ["Abdullah_Gul"] * 2
        assert {i.label for i in items} == {"real"}
        assert items[0].source == "Aaron_Peirsol/Aaron_Peirsol_0001.jpg"

    def test_gan_all_fake(self, tmp_path):
        (tmp_path / "a.jpg").write_bytes(b"x")
        (tmp_path / "notes.txt").write_text("not an image")
        items = list_items("gan_faces", tmp_path)
        assert items == [Item(tmp_path / "a.jpg", "a.jpg", "gan_a", "fake", "gan_a", "gan")]

    def test_folder_interleaves_real_and_fake(self, tmp_path):
        for sub, names in (("real", "abc"), ("fake", "xy")):
            (tmp_path / sub).mkdir()
            for n in names:
                (tmp_path / sub / f"{n}.png").write_bytes(b"x")
        items = list_items("folder", tmp_path)
        assert [i.name for i in items] == ["real_a", "fake_x", "real_b", "fake_y", "real_c"]

    def test_flat_folder_with_label(self, tmp_path):
        (tmp_path / "a.png").write_bytes(b"x")
        assert list_items("folder", tmp_path, label="fake")[0].label == "fake"

    def test_flat_folder_needs_label(self, tmp_path):
        with pytest.raises(ValueError, match="pass --label real or --label fake"):
            list_items("folder", tmp_path)

    def test_unknown_kind(self, tmp_path):
        with pytest.raises(ValueError, match="unknown dataset kind 'celeb'"):
            list_items("celeb", tmp_path)

    def test_missing_source(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="does not exist"):
            list_items("lfw_faces", tmp_path / "nope")

    def test_dfdc_needs_metadata(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="no metadata.csv"):
            list_items("dfdc_faces", tmp_path)

    def test_dfdc_rejects_bad_label(self, tmp_path):
        (tmp_path / "metadata.csv").write_text("file,label,original\nreal/a.jpg,maybe,\n")
        with pytest.raises(ValueError, match="got 'maybe'"):
            list_items("dfdc_faces", tmp_path)

    def test_kinds(self):
        assert KINDS == ("ffpp", "dfdc_faces", "lfw_faces", "gan_faces", "folder")
