"""Tests for minilocal/registry.py: the committed registry, entries, manifests, and
ci/make_registry.py, which writes them. ``make_toy`` builds a small registry for the tests
of minilocal/download.py and minilocal/commands/data.py."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from minilocal import registry as reg
from minilocal.paths import locate
from minilocal.registry import dataset_info, list_datasets, load_registry, read_manifest

REPO = Path(__file__).resolve().parents[1]
REAL = ["dfdc_faces", "ffpp_c23", "gan_faces", "lfw_faces"]


# ---------------------------------------------------------------- fixtures -----------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_toy(tmp_path: Path, served: Path | None = None, corrupt: bool = False,
             archives: dict[str, bytes] | None = None) -> tuple[Path, dict[str, bytes]]:
    """A registry "toy" (real/ + fake/ -> faces/ at the source, one derived metadata.csv).

    Returns the registry path and local path -> true bytes. Files are written into
    ``served`` at their source paths; with ``corrupt`` one of them is served altered.
    """
    rng = np.random.default_rng(0)
    files = {"real/a.bin": rng.bytes(150_000), "real/b.bin": rng.bytes(3_000),
             "fake/c.bin": rng.bytes(70_000), "metadata.csv": b"file,label\n"}
    files.update(archives or {})
    if corrupt:
        files["fake/bad.bin"] = rng.bytes(5_000)
    checksums = {rel: _sha(data) for rel, data in files.items()}
    folder = tmp_path / "registry"
    (folder / "manifests").mkdir(parents=True)
    reg.write_manifest(folder / "manifests" / "toy.sha256", checksums)
    doc = {"format": 1, "datasets": {"toy": {
        "description": "toy data", "terms": "toy terms",
        "source": {"repository": "owner/toy", "commit": "0" * 40, "path": "faces/"},
        "url_template": "https://example.invalid/owner/toy/" + "0" * 40 + "/{source_path}",
        "files": len(files), "bytes": sum(map(len, files.values())),
        "manifest": "manifests/toy.sha256",
        "source_map": [{"local": "real/", "source": "faces/"},
                       {"local": "fake/", "source": "faces/"},
                       {"local": "", "source": "archives/"}],
        "derived": {"metadata.csv": "made by hand"},
        "archives": sorted(archives or {}), "build": "minilocal preprocess --kind toy"}}}
    (folder / "registry.json").write_text(json.dumps(doc))
    if served is not None:
        for rel, data in files.items():
            if rel == "metadata.csv":
                continue
            src = served / dataset_info("toy", folder / "registry.json").source_path(rel)
            src.parent.mkdir(parents=True, exist_ok=True)
            src.write_bytes(data + b"!" if rel == "fake/bad.bin" else data)
    return folder / "registry.json", files


def _write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


# ---------------------------------------------------------------- registry -----------


class TestRegistry:
    def test_committed_registry_has_the_four_datasets(self):
        assert list_datasets() == REAL

    def test_committed_manifests_match_file_counts(self):
        for name, entry in load_registry().items():
            checksums = entry.checksums()
            assert len(checksums) == entry.files, name
            assert entry.commit in entry.url_template and len(entry.commit) == 40
            for rel in checksums:
                if rel not in entry.derived:
                    assert entry.url(rel).startswith("https://raw.githubusercontent.com/")

    def test_committed_manifests_match_a_few_real_files(self, monkeypatch):
        monkeypatch.chdir(REPO)
        monkeypatch.delenv("MINILOCAL_DATA", raising=False)
        checked = 0
        for name, entry in load_registry().items():
            root = locate(name)
            if root is None:
                continue
            for rel, digest in list(entry.checksums().items())[:3]:
                assert reg.sha256_file(root / rel) == digest, f"{name}/{rel}"
                checked += 1
        if not checked:
            pytest.skip("no real data here (../shared/datasets)")

    def test_dfdc_real_and_fake_come_from_faces_224(self):
        entry = dataset_info("dfdc_faces")
        assert entry.source_path("real/abc.jpg") == "faces_224/abc.jpg"
        assert entry.source_path("fake/xyz.jpg") == "faces_224/xyz.jpg"
        assert entry.url("fake/xyz.jpg") == (
            "https://raw.githubusercontent.com/i-Shreyansh/DeepFake-Detection/"
            "39728535acf043fba39623885f91319db521bf23/faces_224/xyz.jpg")

    def test_derived_file_has_no_url(self):
        with pytest.raises(ValueError, match="metadata.csv is derived"):
            dataset_info("dfdc_faces").url("metadata.csv")

    def test_unmapped_path_has_no_source(self):
        with pytest.raises(ValueError, match="matches no source_map prefix"):
            dataset_info("dfdc_faces").source_path("other/x.jpg")

    def test_base_url_env_replaces_the_source(self, monkeypatch):
        monkeypatch.setenv(reg.BASE_URL_ENV, "http://mirror.test/data/")
        url = dataset_info("lfw_faces").url("AJ_Lamas/AJ_Lamas_0001.jpg")
        assert url == "http://mirror.test/data/images_deepfunneled/AJ_Lamas/AJ_Lamas_0001.jpg"

    def test_registry_env_override(self, tmp_path, monkeypatch):
        path, _ = make_toy(tmp_path)
        monkeypatch.setenv(reg.REGISTRY_ENV, str(path))
        assert list_datasets() == ["toy"]

    def test_unknown_dataset_lists_the_registered_ones(self):
        with pytest.raises(ValueError, match=r"unknown dataset 'nope'.*dfdc_faces"):
            dataset_info("nope")

    def test_missing_registry(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="no dataset registry"):
            load_registry(tmp_path / "none.json")

    def test_unknown_registry_format(self, tmp_path):
        (tmp_path / "r.json").write_text('{"format": 2, "datasets": {}}')
        with pytest.raises(ValueError, match="registry format 2 is not 1"):
            load_registry(tmp_path / "r.json")

    @pytest.mark.parametrize("rel", ["../evil.jpg", "/etc/passwd", "a/../../b"])
    def test_manifest_rejects_paths_that_leave_the_dataset(self, tmp_path, rel):
        (tmp_path / "m.sha256").write_text(f"{'0' * 64}  {rel}\n")
        with pytest.raises(ValueError, match="must be a relative path without '..'"):
            read_manifest(tmp_path / "m.sha256")

    def test_manifest_rejects_malformed_lines(self, tmp_path):
        (tmp_path / "m.sha256").write_text("abc file.jpg\n")
        with pytest.raises(ValueError, match=r"m.sha256:1: expected '<sha256>  <path>'"):
            read_manifest(tmp_path / "m.sha256")


# ---------------------------------------------------------------- ci/make_registry ---


@pytest.fixture
def make_registry():
    """ci/make_registry.py imported as a module."""
    path = REPO / "ci" / "make_registry.py"
    spec = importlib.util.spec_from_file_location("make_registry", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestMakeRegistry:
    def test_entry_maps_counts_and_sizes(self, tmp_path, make_registry):
        _write(tmp_path, {"real/a.jpg": b"aa", "fake/b.jpg": b"bbb", "metadata.csv": b"m"})
        checksums = make_registry.scan(tmp_path)
        entry = make_registry.entry("dfdc_faces", tmp_path, checksums)
        assert (entry["files"], entry["bytes"]) == (3, 6)
        assert checksums["fake/b.jpg"] == _sha(b"bbb")
        assert entry["derived"] == {"metadata.csv": make_registry.DATASETS["dfdc_faces"][
            "derived"]["metadata.csv"]}

    @pytest.mark.parametrize("files, message", [
        ({"real/a.jpg": b"a"}, r"derived files \['metadata.csv'\] are not in"),
        ({"metadata.csv": b"m", "other/x.jpg": b"x"}, "no source_map rule"),
        ({"metadata.csv": b"m", "real/a.jpg": b"1", "fake/a.jpg": b"2"}, "both map to"),
    ])
    def test_entry_refuses_what_cannot_be_downloaded(self, tmp_path, make_registry, files,
                                                      message):
        _write(tmp_path, files)
        with pytest.raises(SystemExit, match=message):
            make_registry.entry("dfdc_faces", tmp_path, make_registry.scan(tmp_path))
