"""Bad input through the Python API (issue 12, part B): untrusted metadata.csv, image
headers that lie about their size, EXIF orientation, checkpoints that are not one save,
network constructor arguments and registry/download abuse.

Every case asserts the exception type and a phrase of its message; where good inputs sit
beside a bad one, they are checked to still work.
"""

from __future__ import annotations

import json
import os
import struct
import time
import zlib
from http.server import BaseHTTPRequestHandler

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import loopback_server
from minilocal import checkpoint as ckpt
from minilocal import http_fetch, image_io, registry
from minilocal.checkpoint import load_checkpoint, read_checkpoint, read_config, save_checkpoint
from minilocal.download import download
from minilocal.image_io import read_image
from minilocal.faceset import load_folder
from minilocal.folder import FolderWriter, read_records
from minilocal.model import LocalFeatureNet

WIDTHS = (4, 4, 4, 4, 4, 4, 4, 6)


# ---------------------------------------------------------------- helpers -------------


def _png(path, array) -> bytes:
    ok, buf = cv2.imencode(".png", array)
    assert ok
    path.write_bytes(buf.tobytes())
    return buf.tobytes()


def lying_png(path, width: int, height: int) -> None:
    """A small valid PNG whose IHDR claims width x height (CRC fixed, so it parses)."""
    data = bytearray(_png(path, np.full((64, 64, 3), 90, np.uint8)))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))


def dataset(tmp_path, rows: str, name: str = "ds"):
    """A folder with one good 48x48 image (images/a.png) and metadata.csv = rows."""
    root = tmp_path / name
    (root / "images").mkdir(parents=True)
    _png(root / "images" / "a.png", np.full((48, 48, 3), 120, np.uint8))
    (root / "metadata.csv").write_text(rows)
    return root


def no_decoding(monkeypatch):
    """Make any pixel decoding fail the test: sizes must be refused from the header."""
    def refuse(*args, **kwargs):
        raise AssertionError("the image was decoded")
    monkeypatch.setattr(cv2, "imdecode", refuse)
    monkeypatch.setattr(cv2, "imread", refuse)


# ---------------------------------------------------------------- metadata.csv --------


class TestUntrustedMetadata:
    @pytest.mark.parametrize("rel, phrase", [
        ("../outside.png", "inside the dataset folder"),
        ("images/../../outside.png", "inside the dataset folder"),
        ("/etc/passwd", "inside the dataset folder"),
        ("..\\outside.png", "inside the dataset folder"),
        ("", "is empty"),
    ])
    def test_file_paths_stay_inside(self, tmp_path, rel, phrase):
        (tmp_path / "outside.png").write_bytes(b"x")
        root = dataset(tmp_path, f"file,label\nimages/a.png,real\n{rel},fake\n")
        with pytest.raises(ValueError, match=phrase) as err:
            read_records(root)
        assert "metadata.csv, row 2" in str(err.value)
        with pytest.raises(ValueError, match=phrase):
            load_folder(root)  # what evaluate and train read

    def test_mask_paths_stay_inside(self, tmp_path):
        root = dataset(tmp_path, "file,label,mask\nimages/a.png,fake,../m.png\n")
        with pytest.raises(ValueError, match=r"row 1 \(line 2\): mask '../m.png' must be"):
            read_records(root)

    def test_a_symlink_out_of_the_folder_is_refused(self, tmp_path):
        secret = tmp_path / "secret.png"
        _png(secret, np.zeros((48, 48, 3), np.uint8))
        root = dataset(tmp_path, "file,label\nimages/a.png,real\nimages/link.png,fake\n")
        (root / "images" / "link.png").symlink_to(secret)
        with pytest.raises(ValueError, match="leads outside the dataset folder"):
            read_records(root)

    def test_a_symlink_inside_the_folder_is_fine(self, tmp_path):
        root = dataset(tmp_path, "file,label\nimages/a.png,real\nimages/b.png,fake\n")
        (root / "images" / "b.png").symlink_to(root / "images" / "a.png")
        assert len(load_folder(root)) == 2

    @pytest.mark.parametrize("second", ["images/a.png", "./images/a.png", "images//a.png"])
    def test_duplicate_files_are_refused(self, tmp_path, second):
        root = dataset(tmp_path, f"file,label\nimages/a.png,real\n{second},real\n")
        with pytest.raises(ValueError, match=r"row 2 .*listed twice \(also row 1\)"):
            read_records(root)

    @pytest.mark.parametrize("header, column", [("path,label", "file"),
                                                ("file,original", "label"),
                                                ("name,kind", "file', 'label")])
    def test_missing_columns_name_file_and_column(self, tmp_path, header, column):
        root = dataset(tmp_path, f"{header}\nimages/a.png,real\n")
        with pytest.raises(ValueError, match=f"metadata.csv lacks required columns "
                                             rf"\['{column}'\]"):
            read_records(root)

    def test_an_empty_metadata_names_the_columns(self, tmp_path):
        root = dataset(tmp_path, "")
        with pytest.raises(ValueError, match="lacks required columns"):
            read_records(root)

    @pytest.mark.parametrize("label", ["spoof", "REAL", "", "1"])
    def test_labels_other_than_real_fake(self, tmp_path, label):
        root = dataset(tmp_path, f"file,label\nimages/a.png,real\nimages/a.png,{label}\n")
        with pytest.raises(ValueError, match="row 2 .*labels must be 'real' or 'fake'"):
            read_records(root)

    def test_rows_written_by_folder_writer_pass(self, tmp_path):
        with FolderWriter(tmp_path / "w") as w:
            for i in range(3):
                w.add(np.full((40, 40, 3), i, np.uint8), "real",
                      mask=np.zeros((40, 40), np.uint8))
        assert len(load_folder(tmp_path / "w")) == 3


# ---------------------------------------------------------------- image headers -------


class TestImageSizeFromHeader:
    def test_a_small_png_claiming_20000_px_is_not_decoded(self, tmp_path, monkeypatch):
        path = tmp_path / "bomb.png"
        lying_png(path, 20000, 20000)
        assert path.stat().st_size < 1000
        no_decoding(monkeypatch)
        with pytest.raises(ValueError, match=r"image too large \(20000x20000 px by its PNG"):
            read_image(path)

    @pytest.mark.parametrize("w, h", [(9000, 64), (64, 8001), (7000, 7000)])
    def test_each_side_and_the_pixel_count_are_capped(self, tmp_path, monkeypatch, w, h):
        path = tmp_path / "big.png"
        lying_png(path, w, h)
        no_decoding(monkeypatch)
        with pytest.raises(ValueError, match=f"image too large \\({w}x{h} px"):
            read_image(path)

    def test_load_folder_checks_images_and_masks(self, tmp_path, monkeypatch):
        root = dataset(tmp_path, "file,label,mask\nimages/a.png,fake,masks/m.png\n")
        (root / "masks").mkdir()
        lying_png(root / "masks" / "m.png", 30000, 30000)
        with pytest.raises(ValueError, match=r"image too large \(30000x30000.*m\.png"):
            load_folder(root)
        lying_png(root / "images" / "a.png", 20000, 20000)
        with pytest.raises(ValueError, match=r"image too large \(20000x20000.*a\.png"):
            load_folder(root)

    def test_huge_files_are_not_read(self, tmp_path, monkeypatch):
        path = tmp_path / "a.png"
        _png(path, np.full((48, 48, 3), 1, np.uint8))
        monkeypatch.setattr(image_io, "MAX_FILE_BYTES", 100)
        with pytest.raises(ValueError, match="image file too large"):
            read_image(path)

    @pytest.mark.parametrize("data, phrase", [
        (b"GIF89a" + bytes(100), "not a PNG, JPEG, BMP, WebP or TIFF"),
        (b"\xff\xd8\xff\xe0\x00\x04ab" + bytes(50) + b"\xff\xd9", "header has no valid size"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40) + b"IEND" + bytes(8), "cannot decode image"),
    ])
    def test_headers_without_a_size(self, tmp_path, data, phrase):
        path = tmp_path / "x.img"
        path.write_bytes(data)
        with pytest.raises(ValueError, match=phrase):
            read_image(path)

    @pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp", ".tiff"])
    def test_header_sizes_match_the_decoded_images(self, ext):
        image = np.random.default_rng(0).integers(0, 255, (37, 53, 3), np.uint8)
        ok, buf = cv2.imencode(ext, image)
        assert ok and image_io.image_size(buf.tobytes()) == (53, 37)


class TestExifOrientation:
    """read_image (predict, preprocess) and load_folder (train, evaluate) agree."""

    @staticmethod
    def photo():
        image = np.zeros((48, 72, 3), np.uint8)  # wide, with a marked corner
        image[:12, :20] = (255, 0, 0)
        image[36:, :, 1] = 200
        return image

    def save(self, path, orientation: int, fmt: str) -> None:
        Image = pytest.importorskip("PIL.Image")
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs = {"quality": 95} if fmt == "JPEG" else {}
        Image.fromarray(self.photo()).save(path, fmt, exif=exif.tobytes(), **kwargs)

    @pytest.mark.parametrize("orientation", range(1, 9))
    @pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
    def test_read_image_applies_exif_like_the_loader(self, tmp_path, orientation, fmt):
        path = tmp_path / ("x.jpg" if fmt == "JPEG" else "x.png")
        self.save(path, orientation, fmt)
        im = read_image(path)
        loader = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(im, loader)
        assert im.shape[:2] == ((72, 48) if orientation >= 5 else (48, 72))

    def test_a_rotated_jpeg_is_upright_for_read_image_and_load_folder(self, tmp_path):
        root = tmp_path / "ds"
        (root / "images").mkdir(parents=True)
        self.save(root / "images" / "r.jpg", 6, "JPEG")  # 90 degrees clockwise
        (root / "metadata.csv").write_text("file,label\nimages/r.jpg,real\n")
        im = read_image(root / "images" / "r.jpg")
        loaded = load_folder(root).images[0].permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(im, loaded)
        assert im.shape == (72, 48, 3)
        assert im[:20, -12:, 0].mean() > 200  # the red corner turned to the top right


# ---------------------------------------------------------------- checkpoints ---------


@pytest.fixture
def saved(tmp_path):
    net = LocalFeatureNet(seg_heads=("fake",), widths=WIDTHS)
    save_checkpoint(tmp_path / "a", net, {"seed": 1})
    return net, tmp_path / "a"


class TestCheckpoints:
    @pytest.mark.parametrize("text, phrase", [
        ("5", "holds a JSON int, not an object"),
        ("[1, 2]", "holds a JSON list, not an object"),
        ('"model"', "holds a JSON str"),
        ("null", "holds a JSON NoneType"),
        ("{", "is not valid JSON"),
    ])
    def test_a_config_that_is_not_an_object(self, saved, text, phrase):
        _, stem = saved
        stem.with_suffix(".json").write_text(text)
        with pytest.raises(ValueError, match=phrase):
            load_checkpoint(stem)
        with pytest.raises(ValueError, match=phrase):
            read_config(stem)

    def test_weights_with_another_saves_config_are_refused(self, saved, tmp_path):
        net, stem = saved
        save_checkpoint(tmp_path / "b", net, {"seed": 2})
        stem.with_suffix(".json").write_bytes((tmp_path / "b.json").read_bytes())
        with pytest.raises(ValueError, match="weights and config are from different saves"):
            load_checkpoint(stem)
        load_checkpoint(tmp_path / "b")  # the good pair beside it still loads

    def test_a_kill_between_the_two_renames_is_detected(self, saved, monkeypatch):
        net, stem = saved
        real_replace, calls = os.replace, []

        def replace(src, dst):  # the weights are renamed, then the process "dies"
            calls.append(dst)
            if len(calls) == 2:
                raise KeyboardInterrupt
            real_replace(src, dst)

        monkeypatch.setattr(ckpt.os, "replace", replace)
        with torch.no_grad():
            net.cls_head.bias.add_(1.0)
        with pytest.raises(KeyboardInterrupt):
            save_checkpoint(stem, net, {"seed": 99})
        monkeypatch.setattr(ckpt.os, "replace", real_replace)
        assert read_config(stem)["seed"] == 1  # the stale JSON is still there
        with pytest.raises(ValueError, match="from different saves"):
            load_checkpoint(stem)
        with pytest.raises(ValueError, match="from different saves"):
            read_checkpoint(stem)

    def test_an_edited_config_is_refused(self, saved):
        _, stem = saved
        cfg = read_config(stem)
        cfg["seed"] = 2
        stem.with_suffix(".json").write_text(json.dumps(cfg, indent=2))
        with pytest.raises(ValueError, match="from different saves"):
            load_checkpoint(stem)

    def test_old_checkpoints_without_a_hash_still_load(self, saved):
        net, stem = saved
        weights = stem.with_suffix(".safetensors")
        save_file(load_file(str(weights)), str(weights), metadata={"format": "minilocal"})
        model, config = load_checkpoint(stem)
        assert config["seed"] == 1
        torch.testing.assert_close(model.cls_head.weight, net.cls_head.weight)

    def test_the_shipped_checkpoint_still_loads(self):
        model, config = load_checkpoint()
        assert model.head_names == ("fake", "face") and "model" in config

    def test_read_checkpoint_returns_tensors_and_config(self, saved):
        _, stem = saved
        tensors, config = read_checkpoint(stem)
        assert "cls_head.weight" in tensors and config["seed"] == 1

    @pytest.mark.parametrize("model, phrase", [
        ({"widths": [100_000] * 8, "seg_heads": ["fake"]}, r"8 integers in 1\.\.4096"),
        ({"widths": [0] * 8, "seg_heads": ["fake"]}, r"8 integers in 1\.\.4096"),
        ({"widths": [-4] * 8, "seg_heads": ["fake"]}, r"8 integers in 1\.\.4096"),
        ({"widths": [4] * 7, "seg_heads": ["fake"]}, r"8 integers in 1\.\.4096"),
        ({"widths": [4.5] * 8, "seg_heads": ["fake"]}, r"8 integers in 1\.\.4096"),
        ({"widths": "44444444", "seg_heads": ["fake"]}, r"8 integers in 1\.\.4096"),
        ({"widths": [4] * 8, "seg_heads": "fake"}, "'seg_heads' must be a list"),
        ({"widths": [4] * 8, "seg_heads": ["x"] * 65}, "at most 64 names"),
        ({"widths": [4] * 8, "seg_heads": [1]}, "'seg_heads' must be a list"),
        ({"widths": [4] * 8, "depth": 9}, r"unknown fields \['depth'\]"),
        ([4] * 8, "'model' must be an object"),
    ])
    def test_architecture_fields_are_bounded_before_allocating(self, saved, monkeypatch,
                                                               model, phrase):
        _, stem = saved
        cfg = read_config(stem)
        cfg["model"] = model
        stem.with_suffix(".json").write_text(json.dumps(cfg))

        def never(*args, **kwargs):
            raise AssertionError("the network was built")
        monkeypatch.setattr(ckpt, "LocalFeatureNet", never)
        with pytest.raises(ValueError, match=phrase):
            load_checkpoint(stem)


# ---------------------------------------------------------------- the network ---------


class TestNetworkArguments:
    @pytest.mark.parametrize("kwargs, phrase", [
        ({"seg_heads": "fake"}, "not the bare string 'fake'"),
        ({"seg_heads": ("fake", "fake")}, "unique names"),
        ({"seg_heads": ("fake", "")}, "non-empty names"),
        ({"seg_heads": ("a.b",)}, "without '.'"),
        ({"seg_heads": (1,)}, "non-empty names"),
        ({"seg_heads": 3}, "sequence of names"),
        ({"widths": (0,) * 8}, "8 positive integers"),
        ({"widths": (4, 4, 4, -1, 4, 4, 4, 4)}, "8 positive integers"),
        ({"widths": (4.0,) * 8}, "8 positive integers"),
        ({"widths": (True,) * 8}, "8 positive integers"),
        ({"widths": (4,) * 7}, "8 convolution widths, got 7"),
        ({"widths": "44444444"}, "sequence of 8 integers"),
    ])
    def test_bad_arguments(self, kwargs, phrase):
        with pytest.raises(ValueError, match=phrase):
            LocalFeatureNet(**kwargs)

    def test_good_arguments_beside_them(self):
        net = LocalFeatureNet(seg_heads=["fake", "face"], widths=[np.int64(4)] * 8)
        assert net.head_names == ("fake", "face") and net.widths == (4,) * 8
        assert LocalFeatureNet(seg_heads=()).head_names == ()


# ---------------------------------------------------------------- registry ------------


def _registry(tmp_path, entry: dict | None = None, text: str | None = None):
    path = tmp_path / "registry.json"
    if text is None:
        base = {"description": "d", "terms": "t",
                "source": {"repository": "o/r", "commit": "0" * 40},
                "url_template": "https://example.invalid/{source_path}", "files": 1,
                "bytes": 10, "manifest": "toy.sha256"}
        text = json.dumps({"format": 1, "datasets": {"toy": {**base, **(entry or {})}}})
    path.write_text(text)
    (tmp_path / "toy.sha256").write_text("")
    return path


class TestRegistry:
    def test_an_entry_without_url_template(self, tmp_path):
        path = _registry(tmp_path)
        doc = json.loads(path.read_text())
        del doc["datasets"]["toy"]["url_template"]
        path.write_text(json.dumps(doc))
        with pytest.raises(ValueError, match=r"dataset 'toy' lacks required fields "
                                             r"\['url_template'\]") as err:
            registry.load_registry(path)
        assert str(path) in str(err.value)

    @pytest.mark.parametrize("entry, phrase", [
        ({"url_template": "https://x.invalid/file"}, "must be a string containing"),
        ({"url_template": 5}, "must be a string containing"),
        ({"source": "o/r"}, "'source' must be an object"),
        ({"files": "many"}, "malformed files"),
        ({"source_map": [{"local": ""}]}, "malformed files"),
        ({"archives": ["../x.zip"]}, r"archive '../x.zip' must be a relative path"),
        ({"manifest": "/etc/passwd"}, "manifest '/etc/passwd' must be a relative path"),
    ])
    def test_malformed_entries_name_the_entry(self, tmp_path, entry, phrase):
        with pytest.raises(ValueError, match=phrase) as err:
            registry.load_registry(_registry(tmp_path, entry))
        assert "dataset 'toy'" in str(err.value)

    @pytest.mark.parametrize("text, phrase", [
        ("{not json", "registry.json is not valid JSON"),
        ("[1]", "registry format 'list' is not 1"),
        ('{"format": 1}', "registry has no 'datasets' object"),
        ('{"format": 1, "datasets": {"toy": 3}}', "dataset 'toy' must be an object"),
    ])
    def test_malformed_registry_names_the_file(self, tmp_path, text, phrase):
        path = _registry(tmp_path, text=text)
        with pytest.raises(ValueError, match=phrase) as err:
            registry.load_registry(path)
        assert str(path) in str(err.value)

    def test_a_good_entry_beside_them_loads(self, tmp_path):
        assert registry.load_registry(_registry(tmp_path))["toy"].bytes == 10


# ---------------------------------------------------------------- downloads -----------


class _Abuse(BaseHTTPRequestHandler):
    """/trickle: one byte every 0.2 s; /big: 200 kB where the manifest allows less;
    /liar: a small Content-Length but far more bytes; /good: the expected bytes."""

    def do_GET(self):
        body = self.server.bodies.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        if self.path != "/liar":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if self.path == "/trickle":
                for b in body:
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
                    time.sleep(0.2)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def abuse(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with loopback_server(_Abuse) as httpd:
        httpd.bodies = {"trickle": b"x" * 200, "big": b"y" * 200_000, "liar": b"z" * 200_000,
                        "good": b"g" * 100}
        yield httpd


def _sha(data: bytes) -> str:
    import hashlib
    return hashlib.sha256(data).hexdigest()


class TestDownloads:
    def test_a_trickling_server_hits_the_deadline(self, tmp_path, abuse):
        start = time.monotonic()
        with pytest.raises(http_fetch.DownloadError, match="deadline passed"):
            http_fetch.fetch(f"{abuse.url}/trickle", tmp_path / "t", _sha(b"x" * 200),
                             deadline=1.0, timeout=5, backoff=0)
        assert time.monotonic() - start < 4  # not 40 s (200 bytes at 0.2 s each)
        assert (tmp_path / "t.part").is_file()  # kept, to be resumed
        assert not (tmp_path / "t").exists()

    @pytest.mark.parametrize("name", ["big", "liar"])
    def test_more_bytes_than_expected_abort_and_delete(self, tmp_path, abuse, name):
        body = abuse.bodies[name]
        with pytest.raises(http_fetch.DownloadError, match="at most 1000 are expected"):
            http_fetch.fetch(f"{abuse.url}/{name}", tmp_path / "b", _sha(body),
                             max_bytes=1000, backoff=0)
        assert not (tmp_path / "b.part").exists() and not (tmp_path / "b").exists()

    def test_a_good_file_within_the_caps(self, tmp_path, abuse):
        assert http_fetch.fetch(f"{abuse.url}/good", tmp_path / "g", _sha(b"g" * 100),
                                max_bytes=100, deadline=10) == "downloaded"
        assert (tmp_path / "g").read_bytes() == b"g" * 100

    def _toy(self, tmp_path, files: dict[str, bytes], total: int):
        reg_dir = tmp_path / "reg"
        reg_dir.mkdir()
        registry.write_manifest(reg_dir / "toy.sha256", {k: _sha(v) for k, v in files.items()})
        doc = {"format": 1, "datasets": {"toy": {
            "description": "d", "terms": "t", "source": {"repository": "o/r",
                                                         "commit": "0" * 40},
            "url_template": "https://example.invalid/{source_path}", "files": len(files),
            "bytes": total, "manifest": "toy.sha256",
            "source_map": [{"local": "", "source": ""}]}}}
        (reg_dir / "registry.json").write_text(json.dumps(doc))
        return reg_dir / "registry.json"

    def test_download_caps_each_file_at_the_registered_size(self, tmp_path, abuse):
        files = {"good": b"g" * 100, "big": b"y" * 500}  # the server sends 200 kB of big
        reg = self._toy(tmp_path, files, total=600)
        with pytest.raises(http_fetch.DownloadError, match="1 of 2 files failed") as err:
            download("toy", tmp_path / "out", registry=reg, base_url=abuse.url,
                     progress=False, backoff=0)
        assert "at most 600 are expected" in err.value.report.failed["big"]
        assert (tmp_path / "out" / "good").read_bytes() == b"g" * 100
        assert not (tmp_path / "out" / "big.part").exists()

    def test_download_has_an_overall_deadline(self, tmp_path, abuse):
        files = {"trickle": b"x" * 200, "good": b"g" * 100}
        reg = self._toy(tmp_path, files, total=300)
        start = time.monotonic()
        with pytest.raises(http_fetch.DownloadError) as err:
            download("toy", tmp_path / "out", registry=reg, base_url=abuse.url,
                     progress=False, backoff=0, deadline=1.0, timeout=5)
        assert time.monotonic() - start < 4
        assert "deadline passed" in err.value.report.failed["trickle"]
        assert (tmp_path / "out" / "good").is_file()


# ---------------------------------------------------------------- every reader

def _bomb_first_image(root):
    """Make the first image of a folder-format dataset a 1 kB PNG claiming 20000 px."""
    first = read_records(root)[0].file
    lying_png(root / first, 20000, 20000)
    return first


class TestEveryReaderChecksTheHeader:
    """evaluate, viz.samples, ablation.data and synth.pool decode as load_folder does:
    an image whose header claims 20000 x 20000 px is refused before any decoding."""

    @pytest.fixture
    def faces_ds(self, tmp_path):
        from test_synth import make_face

        root = tmp_path / "faces"
        with FolderWriter(root) as w:
            for i in range(4):
                image, pts = make_face(i)
                w.add(image, "real" if i % 2 else "fake", landmarks=pts, group=f"g{i}",
                      source=f"p{i}.png", mask=np.ones(image.shape[:2], np.uint8))
        return root

    def test_evaluate(self, faces_ds, monkeypatch):
        from minilocal.evaluate import load_eval_set

        first = _bomb_first_image(faces_ds)
        no_decoding(monkeypatch)
        with pytest.raises(ValueError, match=r"image too large \(20000x20000 px by its PNG.*"
                           + first.replace(".", r"\.")):
            load_eval_set(faces_ds, split="all", size=96)

    def test_evaluate_raw_images(self, tmp_path, monkeypatch, caplog):
        from minilocal.evaluate import load_eval_set

        (tmp_path / "raw" / "real").mkdir(parents=True)
        lying_png(tmp_path / "raw" / "real" / "bomb.png", 20000, 20000)
        no_decoding(monkeypatch)  # neither the aligned-or-raw probe nor the reader decodes
        with pytest.raises(ValueError, match="none of the 1 images gave a face"):
            load_eval_set(tmp_path / "raw", split=None)
        assert any("image too large (20000x20000 px" in r.getMessage() for r in caplog.records)

    def test_viz_samples(self, faces_ds, monkeypatch):
        from minilocal.viz.samples import sample_faces

        _bomb_first_image(faces_ds)
        no_decoding(monkeypatch)
        with pytest.raises(ValueError, match=r"image too large \(20000x20000 px"):
            sample_faces(str(faces_ds), n=4, size=96, split=None)

    def test_viz_samples_masks_too(self, faces_ds, monkeypatch):
        from minilocal.viz.samples import sample_faces

        mask = next(r.mask for r in read_records(faces_ds) if r.label == "fake")
        lying_png(faces_ds / mask, 20000, 20000)
        with pytest.raises(ValueError, match=r"image too large \(20000x20000 px.*masks"):
            sample_faces(str(faces_ds), n=4, size=96, split=None)

    def test_ablation_data(self, tmp_path, monkeypatch):
        from minilocal.ablation.data import load_setting, make_demo_sources

        sources = make_demo_sources(tmp_path / "demo", n=6, size=48)
        bombed = [_bomb_first_image(root) for root in sources.values()]
        no_decoding(monkeypatch)
        with pytest.raises(ValueError, match=r"image too large \(20000x20000 px") as err:
            load_setting("synth_c23", "all", sources, 48)
        assert any(b in str(err.value) for b in bombed)

    def test_synth_pool_rejects_it_and_keeps_the_others(self, faces_ds, monkeypatch):
        from minilocal.synth.pool import load_pool

        reals = [r for r in read_records(faces_ds) if r.label == "real"]  # the pool
        lying_png(faces_ds / reals[0].file, 20000, 20000)
        real_decode, decoded = cv2.imdecode, []
        monkeypatch.setattr(cv2, "imdecode", lambda buf, flags: decoded.append(len(buf))
                            or real_decode(buf, flags))
        pool, rejects = load_pool(faces_ds, 96, None, 0, 1, False)
        assert len(pool) == len(reals) - 1 and len(decoded) == len(reals) - 1
        assert rejects == [(reals[0].source, rejects[0][1])]
        assert "image too large (20000x20000 px" in rejects[0][1]

    def test_synth_pool_corrupt_image(self, faces_ds):
        from minilocal.synth.pool import load_pool

        real = next(r for r in read_records(faces_ds) if r.label == "real")
        (faces_ds / real.file).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
        pool, rejects = load_pool(faces_ds, 96, None, 0, 1, False)
        assert len(pool) == 1 and rejects[0][0] == real.source
        assert "cannot decode image" in rejects[0][1]
