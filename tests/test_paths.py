"""Tests for minilocal/paths.py: the project root, data roots, built datasets, find_dataset."""

from pathlib import Path

import numpy as np
import pytest

from minilocal import paths
from minilocal.folder import FolderWriter
from minilocal.paths import (build_dir, built_dataset, data_roots, dataset_candidates,
                             find_dataset, in_project, locate, project_root)


def face(value: int, size: int = 32) -> np.ndarray:
    return np.full((size, size, 3), value, np.uint8)


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Raw data in tmp/raw ($MINILOCAL_DATA), built data in tmp/build ($MINILOCAL_BUILD),
    the working directory tmp/cwd, and tmp/proj standing in for the checkout."""
    for sub in ("raw", "build", "cwd", "proj"):
        (tmp_path / sub).mkdir()
    monkeypatch.setenv("MINILOCAL_DATA", str(tmp_path / "raw"))
    monkeypatch.setenv("MINILOCAL_BUILD", str(tmp_path / "build"))
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setattr(paths, "project_root", lambda: tmp_path / "proj")
    return tmp_path


def test_find_dataset_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILOCAL_DATA", str(tmp_path))
    (tmp_path / "mine").mkdir()
    assert find_dataset("mine") == tmp_path / "mine"
    with pytest.raises(FileNotFoundError, match="searched"):
        find_dataset("no_such_dataset")


def test_built_dataset_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILOCAL_BUILD", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="minilocal preprocess"):
        built_dataset("dfdc_faces")
    with FolderWriter(tmp_path / "dfdc_faces") as w:
        w.add(face(1), "real")
    assert built_dataset("dfdc_faces") == tmp_path / "dfdc_faces"


def test_data_is_found_from_another_working_directory(tmp_path, monkeypatch):
    """Jupyter starts kernels in tutorials/: data roots must not depend on the cwd."""
    monkeypatch.delenv("MINILOCAL_BUILD", raising=False)
    monkeypatch.delenv("MINILOCAL_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    root = project_root()
    assert root is not None and (root / "minilocal" / "folder.py").is_file()
    assert build_dir() == root / "build" / "data"
    assert root / ".." / "shared" / "datasets" in data_roots()


def test_project_root_from_tutorials_without_changing_directory(monkeypatch):
    root = project_root()
    monkeypatch.chdir(root / "tutorials")
    assert project_root() == root and Path.cwd() == root / "tutorials"
    assert in_project("build/ablation") == root / "build" / "ablation"
    assert in_project("/abs/where") == Path("/abs/where")
    assert Path.cwd() == root / "tutorials"


def test_in_project_outside_a_checkout_is_the_working_directory(places, monkeypatch):
    monkeypatch.setattr(paths, "project_root", lambda: None)
    assert in_project("runs/a") == Path("runs/a")
    monkeypatch.delenv("MINILOCAL_BUILD")
    assert build_dir() == Path("build/data")


def test_a_path_is_taken_as_given_then_from_the_project_root(places):
    (places / "cwd" / "here").mkdir()
    (places / "proj" / "build" / "data" / "x").mkdir(parents=True)
    assert find_dataset("here") == Path("here")
    assert find_dataset("build/data/x") == places / "proj" / "build" / "data" / "x"
    assert find_dataset(places / "raw") == places / "raw"
    assert Path.cwd() == places / "cwd"


def test_a_missing_path_does_not_exist(places):
    with pytest.raises(FileNotFoundError, match="does not exist") as err:
        find_dataset("no/where")
    assert str(places / "proj" / "no" / "where") in str(err.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_dataset(places / "none")
    assert dataset_candidates("no/where") == []


def test_a_name_is_raw_data_unless_built_is_asked_for(places):
    (places / "raw" / "lfw_faces").mkdir()
    with FolderWriter(places / "build" / "lfw_faces") as w:
        w.add(face(1), "real")
    assert locate("lfw_faces") == places / "raw" / "lfw_faces"
    assert find_dataset("lfw_faces") == places / "raw" / "lfw_faces"
    assert find_dataset("lfw_faces", built=True) == places / "build" / "lfw_faces"
    assert dataset_candidates("lfw_faces", built=True) == [places / "build" / "lfw_faces",
                                                           places / "raw" / "lfw_faces"]
    (places / "build" / "only_raw").mkdir()  # no metadata.csv: not a built dataset
    (places / "raw" / "only_raw").mkdir()
    assert find_dataset("only_raw", built=True) == places / "raw" / "only_raw"


def test_built_and_raw_are_listed_once_when_they_are_one_folder(places, monkeypatch):
    monkeypatch.setenv("MINILOCAL_DATA", str(places / "build"))
    with FolderWriter(places / "build" / "synth_lfw") as w:
        w.add(face(1), "real")
    assert dataset_candidates("synth_lfw", built=True) == [places / "build" / "synth_lfw"]


def test_a_missing_name_lists_the_built_place_when_asked(places):
    with pytest.raises(FileNotFoundError, match="dataset 'gan_faces' not found") as err:
        find_dataset("gan_faces", built=True)
    assert str(places / "build" / "gan_faces") in str(err.value)
    assert str(places / "raw" / "gan_faces") in str(err.value)
    assert locate("gan_faces") is None


def test_no_library_code_changes_directory():
    root = Path(paths.__file__).parent
    offenders = [p.relative_to(root) for p in root.rglob("*.py")
                 if "os.chdir(" in p.read_text()]
    assert offenders == [], offenders
