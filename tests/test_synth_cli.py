"""Tests for ``minilocal synth`` (minilocal/commands/synth.py) and synth.make_fakes."""

import csv
import json

import cv2
import numpy as np
import pytest

from minilocal import cli
from minilocal.faceset import load_folder
from minilocal.folder import FolderWriter, read_records
from minilocal.synth import load_pool, make_fakes
from test_synth import SIZE, make_face


@pytest.fixture
def reals(tmp_path):
    """A folder-format dataset of 6 drawn faces of 3 people, with landmarks."""
    root = tmp_path / "reals"
    with FolderWriter(root) as w:
        for i in range(6):
            image, pts = make_face(i)
            w.add(image, "real", landmarks=pts, group=f"person{i // 2}", source=f"p{i}.png")
    return root


def synth(*args) -> int:
    return cli.main(["synth", *map(str, args), "--no-progress", "--size", str(SIZE)])


def read_rgb(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def by_name(root):
    return {r.file.split("/")[1][:-4]: r for r in read_records(root)}


def test_writes_reals_and_fakes_with_exact_masks(reals, tmp_path, capsys):
    out = tmp_path / "out"
    assert synth(reals, out, "--n", 4) == 0
    assert "4 reals, fakes: faceswap 4, sbi 4, partswap 4" in capsys.readouterr().out
    rows = by_name(out)
    real_names = [k for k, r in rows.items() if r.label == "real"]
    assert len(real_names) == 4 and len(rows) == 16
    for name, r in rows.items():
        assert r.mask and r.landmarks and r.group and r.split and r.compression == "c0"
        mask = cv2.imread(str(out / r.mask), cv2.IMREAD_GRAYSCALE) > 0
        if r.label == "real":
            assert not mask.any() and r.method == ""
            continue
        real = rows["real_" + name.split("_")[1]]
        assert r.method == name.split("_")[0]
        assert (r.group, r.split, r.landmarks, r.source) == (
            real.group, real.split, real.landmarks, real.source)
        fake, target = read_rgb(out / r.file), read_rgb(out / real.file)
        assert not (fake != target).any(2)[~mask].any()  # exact on disk (PNG)
        assert (fake != target).any(2)[mask].mean() > 0.8
    data = load_folder(out)
    assert data.has_mask.all() and int(data.labels.sum()) == 12
    assert json.loads((out / "synth.json").read_text())["fakes"]["sbi"] == 4


def test_same_seed_same_dataset_with_one_or_two_workers(reals, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert synth(reals, a, "--n", 3, "--seed", 5) == 0
    assert synth(reals, b, "--n", 3, "--seed", 5, "--workers", 2) == 0
    assert synth(reals, c, "--n", 3, "--seed", 6) == 0
    files = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    for f in files:
        np.testing.assert_array_equal(cv2.imread(str(a / f)), cv2.imread(str(b / f)))
    assert any(not (c / f).exists() or
               not np.array_equal(cv2.imread(str(a / f)), cv2.imread(str(c / f)))
               for f in files)


def test_compression_after_synthesis_keeps_the_masks(reals, tmp_path):
    a, b = tmp_path / "c0", tmp_path / "c23"
    assert synth(reals, a, "--n", 2, "--method", "sbi") == 0
    assert synth(reals, b, "--n", 2, "--method", "sbi", "--compress", "c23") == 0
    rows_a, rows_b = by_name(a), by_name(b)
    assert sorted(rows_a) == sorted(rows_b)
    assert {r.compression for r in rows_b.values()} == {"c23"}
    for name in rows_a:
        np.testing.assert_array_equal(cv2.imread(str(a / rows_a[name].mask)),
                                      cv2.imread(str(b / rows_b[name].mask)))
        assert not np.array_equal(cv2.imread(str(a / rows_a[name].file)),
                                  cv2.imread(str(b / rows_b[name].file)))


def test_preview_montage(reals, tmp_path):
    png = tmp_path / "preview.png"
    assert synth(reals, tmp_path / "out", "--n", 2, "--preview", png) == 0
    grid = cv2.imread(str(png))
    assert grid.shape == (3 * 2 * SIZE, 4 * SIZE, 3)  # 3 methods x 2 targets, 4 tiles


def test_refuses_to_overwrite_without_the_flag(reals, tmp_path, capsys):
    out = tmp_path / "out"
    assert synth(reals, out, "--n", 1, "--method", "sbi") == 0
    assert synth(reals, out, "--n", 1, "--method", "sbi") == 2
    assert "already holds a dataset" in capsys.readouterr().err
    assert synth(reals, out, "--n", 2, "--method", "sbi", "--overwrite") == 0
    assert len(read_records(out)) == 4


def test_a_one_face_pool_rejects_swaps_with_a_reason(tmp_path):
    src = tmp_path / "one"
    with FolderWriter(src) as w:
        image, pts = make_face(0)
        w.add(image, "real", landmarks=pts, group="solo")
    out = tmp_path / "out"
    assert synth(src, out, "--n", 3) == 0
    rows = read_records(out)
    assert sorted(r.method for r in rows) == ["", "sbi"]
    with open(out / "rejects.csv", newline="") as f:
        rejects = list(csv.DictReader(f))
    assert len(rejects) == 2
    assert all("a swap needs a second face" in r["reason"] for r in rejects)


def test_load_pool_resizes_folder_faces_with_their_landmarks(reals):
    pool, rejects = load_pool(reals, size=48, limit=3, seed=1)
    assert pool.images.shape == (3, 48, 48, 3) and rejects == []
    records = {r.file: r for r in read_records(reals)}
    for rec, pts in zip(pool.records, pool.landmarks):
        original = np.array(records[rec.file].landmarks.split(), np.float32).reshape(68, 2)
        np.testing.assert_allclose(pts, original * 48 / SIZE, atol=1e-4)
        assert rec.split  # assigned by group when missing


def test_raw_images_are_aligned_first(tmp_path, monkeypatch):
    from minilocal import faces
    from minilocal.face_detection import NoFaceError

    raw = tmp_path / "raw"
    for i, person in enumerate(["Ann", "Ann", "Bob", "Cy", "Cy"]):
        (raw / person).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(raw / person / f"{person}_{i}.png"), np.full((60, 60, 3), i, np.uint8))

    def fake_align(image, size=128, scale=1.3, fallback=True, whole_image=True):
        i = int(image[0, 0, 0])
        if i == 4:
            raise NoFaceError("no face found by the HOG detector")
        face, pts = make_face(i)
        return faces.FaceCrop(face, pts, (0, 0, 60, 60), "hog")

    monkeypatch.setattr(faces, "align_face", fake_align)
    pool, rejects = load_pool(raw, size=SIZE)
    assert len(pool) == 4 and rejects == [("Cy/Cy_4.png", "no face found by the HOG detector")]
    assert [r.group for r in pool.records] == ["Ann", "Ann", "Bob", "Cy"]
    assert all(r.split and r.detection == "hog" for r in pool.records)
    summary = make_fakes(raw, tmp_path / "out", method="faceswap", n=4, size=SIZE)
    assert summary["fakes"] == {"faceswap": 4} and summary["rejected"] == 1


def test_errors(reals, tmp_path, capsys):
    assert synth(reals, tmp_path / "o1", "--n", 0) == 2
    assert "--n must be at least 1, got 0" in capsys.readouterr().err
    with pytest.raises(ValueError, match="n and workers must be >= 1"):
        make_fakes(reals, tmp_path / "o1", n=0)
    (tmp_path / "empty").mkdir()
    assert synth(tmp_path / "empty", tmp_path / "o2") == 2
    assert "holds no real face images" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown method 'deepfakes'"):
        make_fakes(reals, tmp_path / "o3", method="deepfakes")
    with pytest.raises(ValueError, match="unknown compression 'c10'"):
        make_fakes(reals, tmp_path / "o4", compression="c10")
    with pytest.raises(SystemExit):
        cli.main(["synth", str(reals), str(tmp_path / "o5"), "--method", "deepfakes"])


def test_no_usable_face_is_an_error(tmp_path, monkeypatch, capsys):
    from minilocal import faces
    from minilocal.face_detection import NoFaceError

    raw = tmp_path / "raw"
    raw.mkdir()
    cv2.imwrite(str(raw / "x.png"), np.zeros((60, 60, 3), np.uint8))

    def no_face(*args, **kwargs):
        raise NoFaceError("no face found by the HOG detector")

    monkeypatch.setattr(faces, "align_face", no_face)
    assert synth(raw, tmp_path / "out") == 2
    assert "no usable face" in capsys.readouterr().err
