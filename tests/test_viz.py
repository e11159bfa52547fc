"""Tests for minilocal/viz: plotly figures of faces, face samples (images: test_viz_images.py,
curves: test_viz_curves.py, explorer: test_viz_explorer.py)."""

import csv

import cv2
import numpy as np
import pytest
import torch

from minilocal import viz
from minilocal.faceset import FaceSet
from minilocal.folder import FaceRecord, FolderWriter
from minilocal.model import LocalFeatureNet
from minilocal.receptive_field import rf_box, rf_centres


def faceset(n: int = 4, size: int = 64) -> FaceSet:
    g = torch.Generator().manual_seed(0)
    masks = torch.zeros(n, size, size, dtype=torch.uint8)
    masks[::2, 10:30, 20:40] = 1
    return FaceSet(images=torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8,
                                        generator=g),
                   labels=torch.tensor([1, 0] * (n // 2)), masks=masks,
                   has_mask=torch.tensor([True, False] * (n // 2)),
                   cvm=torch.zeros(n, size, size, dtype=torch.uint8),
                   has_cvm=torch.zeros(n, dtype=torch.bool),
                   records=[FaceRecord(file=f"f{k}.png", label="fake" if k % 2 == 0 else "real")
                            for k in range(n)])


@pytest.fixture
def net():
    return LocalFeatureNet(widths=(8,) * 8).eval()



def _decode(uri: str) -> np.ndarray:
    import base64

    import cv2

    raw = np.frombuffer(base64.b64decode(uri.split(",", 1)[1]), np.uint8)
    return cv2.imdecode(raw, cv2.IMREAD_COLOR)[..., ::-1]


class TestShowFaces:
    def test_one_trace_per_panel(self):
        images = faceset(3).images
        fig = viz.show_faces([images[0], images[1], np.random.rand(64, 64)],
                             titles=["a", "b", "map"], cols=2)
        assert [t.type for t in fig.data] == ["image", "image", "heatmap"]
        assert [a.text for a in fig.layout.annotations] == ["a", "b", "map"]
        assert fig.data[0].z is None and fig.data[0].source.startswith("data:image/png;base64,")
        np.testing.assert_array_equal(_decode(fig.data[0].source), viz.to_rgb_array(images[0]))

    def test_integer_maps_are_sent_as_uint8(self):
        mask = np.zeros((8, 8)); mask[2:5, 2:5] = 1
        fig = viz.show_faces([mask, np.full((8, 8), 0.25)])
        assert np.asarray(fig.data[0].z).dtype == np.uint8
        assert np.asarray(fig.data[1].z).dtype == np.float32
        np.testing.assert_array_equal(np.asarray(fig.data[0].z), mask)

    def test_zrange_for_all_or_per_panel(self):
        maps = [np.zeros((8, 8)), np.full((8, 8), 0.5)]
        auto = viz.show_faces(maps)
        assert (auto.data[0].zmin, auto.data[0].zmax) == (0.0, 1.0)  # all zero: dark
        assert (auto.data[1].zmin, auto.data[1].zmax) == (0.0, 0.5)
        fixed = viz.show_faces(maps, zrange=(0, 1))
        assert [(t.zmin, t.zmax) for t in fixed.data] == [(0, 1), (0, 1)]
        mixed = viz.show_faces(maps, zrange=[None, (0, 2)])
        assert (mixed.data[0].zmax, mixed.data[1].zmax) == (1.0, 2)

    def test_rejects_zrange_count(self):
        with pytest.raises(ValueError, match="got 3 zranges for 2 images"):
            viz.show_faces([np.zeros((8, 8))] * 2, zrange=[None, None, None])

    def test_rejects_empty(self):
        with pytest.raises(ValueError, match="at least one image"):
            viz.show_faces([])

    def test_rejects_title_count(self):
        with pytest.raises(ValueError, match="got 1 titles for 2 images"):
            viz.show_faces(faceset(2).images, titles=["x"])


class TestHeatmapFigure:
    def test_output_map_is_spread_through_the_centres(self, net):
        prob = torch.rand(16, 16)
        fig = viz.heatmap_figure(faceset(1).images[0], prob, model=net)
        z = np.asarray(fig.data[1].z)
        c = rf_centres(64, net)
        assert z.shape == (64, 64)
        np.testing.assert_allclose(z[np.ix_(c, c)], prob.numpy(), rtol=1e-6)

    def test_layers_in_order(self):
        mask = np.zeros((64, 64))
        fig = viz.heatmap_figure(faceset(1).images[0], np.full((64, 64), 0.5), mask=mask,
                                 rf_box=rf_box(0, 0), attribution=np.random.rand(64, 64))
        assert [t.name for t in fig.data] == list(viz.TRACES)
        assert list(fig.data[4].x) == [-0.5, 32.5, 32.5, -0.5, -0.5]

    def test_mask_outline_closes_at_the_border(self):
        mask = np.ones((64, 64))
        fig = viz.heatmap_figure(faceset(1).images[0], np.zeros((64, 64)), mask=mask)
        z = np.asarray(fig.data[2].z)
        assert z.shape == (66, 66) and z[1:-1, 1:-1].all() and z[0].sum() == 0
        assert (fig.data[2].x[0], fig.data[2].x[-1]) == (-1, 64)

    def test_rejects_wrong_map(self):
        with pytest.raises(ValueError, match=r"output map \(16, 16\)"):
            viz.heatmap_figure(faceset(1).images[0], np.zeros((20, 20)))

    def test_rejects_wrong_mask(self):
        with pytest.raises(ValueError, match=r"mask must be \(64, 64\)"):
            viz.heatmap_figure(faceset(1).images[0], np.zeros((64, 64)), mask=np.zeros((8, 8)))

    def test_rejects_wrong_attribution(self):
        with pytest.raises(ValueError, match=r"attribution must be \(64, 64\)"):
            viz.heatmap_figure(faceset(1).images[0], np.zeros((64, 64)),
                               attribution=np.zeros((8, 8)))


class TestReceptiveFieldFigure:
    def test_box_and_centres(self):
        fig = viz.receptive_field_figure(faceset(1).images[0], 2, 5)
        assert len(fig.data[1].x) == 16 * 16  # every output's centre
        assert (min(fig.data[2].x) + 0.5, min(fig.data[2].y) + 0.5) == rf_box(2, 5)[:2]
        assert (fig.data[3].x[0], fig.data[3].y[0]) == (26, 20)  # centre 16 + 2j, 16 + 2i

    def test_sliders_move_the_box(self):
        fig = viz.receptive_field_figure(faces := faceset(1).images[0], 2, 5, sliders=True)
        rows, cols = fig.layout.sliders
        assert len(rows.steps) == len(cols.steps) == 16 and (rows.active, cols.active) == (2, 5)
        for k in (0, 9, 15):
            x0, y0, x1, y1 = rf_box(k, k)
            box_y, centre_y = rows.steps[k].args[0]["y"]
            box_x, centre_x = cols.steps[k].args[0]["x"]
            assert (min(box_x) + 0.5, max(box_x) + 0.5) == (x0, x1)
            assert (min(box_y) + 0.5, max(box_y) + 0.5) == (y0, y1)
            assert centre_x == centre_y == [16.0 + 2 * k]
        assert list(rows.steps[0].args[1]) == [2, 3] and fig.data[2].name == "receptive field"
        assert faces.shape == (3, 64, 64)

    def test_rejects_location_outside(self):
        with pytest.raises(ValueError, match=r"output \(16, 0\) is outside the 16x16 grid"):
            viz.receptive_field_figure(faceset(1).images[0], 16, 0)


class TestSamples:
    @pytest.fixture
    def roots(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("MINILOCAL_DATA", raising=False)
        monkeypatch.setenv("MINILOCAL_BUILD", str(tmp_path / "build" / "data"))
        monkeypatch.setattr("minilocal.paths.project_root", lambda: None)  # only tmp_path data
        return tmp_path

    def test_folder_sample_is_balanced_and_prefers_masks(self, roots):
        with FolderWriter(roots / "build" / "data" / "synth_lfw") as w:
            for k in range(6):
                img = np.full((96, 96, 3), 10 * k, np.uint8)
                mask = np.zeros((96, 96), np.uint8)
                mask[:48] = 1
                w.add(img, "fake", mask=mask if k < 2 else None, split="test")
                w.add(img, "real", split="test")
        faces = viz.sample_faces(n=4, size=64)
        assert faces.images.shape == (4, 3, 64, 64)
        assert faces.labels.tolist() == [1, 0, 1, 0]
        assert faces.has_mask.tolist() == [True, False, True, False]
        assert faces.masks[0, :32].all() and not faces.masks[0, 32:].any()

    def test_a_directory_path_works_too(self, roots):
        with FolderWriter(roots / "elsewhere") as w:
            w.add(np.zeros((40, 40, 3), np.uint8), "real")
        assert viz.sample_faces(str(roots / "elsewhere"), n=3, size=40).labels.tolist() == [0]

    def test_raw_pairs_get_difference_masks(self, roots):
        root = roots / "datasets_small" / "dfdc_faces"
        (root / "real").mkdir(parents=True)
        (root / "fake").mkdir()
        real = np.full((80, 80, 3), 100, np.uint8)
        fake = real.copy()
        fake[20:60, 20:60] = 200
        assert cv2.imwrite(str(root / "real" / "r1.png"), real)
        assert cv2.imwrite(str(root / "fake" / "f1.png"), fake)
        (root / "real" / "r1.png").rename(root / "real" / "r1.jpg")  # decoded by content
        with open(root / "metadata.csv", "w", newline="") as f:
            csv.writer(f).writerows([["file", "label", "original"], ["real/r1.jpg", "real", ""],
                                     ["fake/f1.png", "fake", "r1"]])
        faces = viz.sample_faces("dfdc_faces", n=2, size=40, need_masks=True)
        assert faces.labels.tolist() == [1, 0] and faces.has_mask.tolist() == [True, False]
        assert faces.masks[0, 20, 20] == 1 and faces.masks[0, 2, 2] == 0
        assert faces.masks[1].sum() == 0

    def test_need_masks_skips_unmasked_sets(self, roots):
        with FolderWriter(roots / "build" / "data" / "dfdc_faces") as w:
            w.add(np.zeros((64, 64, 3), np.uint8), "fake")
        assert len(viz.sample_faces("dfdc_faces", n=2)) == 1
        with pytest.raises(FileNotFoundError, match="with true masks"):
            viz.sample_faces("dfdc_faces", need_masks=True)

    def test_rejects_unreadable_image(self, roots):
        with FolderWriter(roots / "broken") as w:
            rec = w.add(np.zeros((40, 40, 3), np.uint8), "real")
        (roots / "broken" / rec.file).write_bytes(b"not a png")
        with pytest.raises(ValueError, match="cannot read image"):
            viz.sample_faces(str(roots / "broken"), n=1, size=40)

    def test_one_class_only_fills_the_sample(self, roots):
        with FolderWriter(roots / "reals") as w:
            for k in range(3):
                w.add(np.full((40, 40, 3), k, np.uint8), "real")
        assert viz.sample_faces(str(roots / "reals"), n=2, size=40).labels.tolist() == [0, 0]

    def test_rejects_an_empty_dataset(self, roots):
        FolderWriter(roots / "empty").close()
        with pytest.raises(ValueError, match="no faces"):
            viz.sample_faces(str(roots / "empty"), n=2)

    def test_rejects_missing_dataset(self, roots):
        with pytest.raises(FileNotFoundError, match="none of the datasets"):
            viz.sample_faces("nowhere")

    def test_rejects_bad_n_and_size(self, roots):
        with pytest.raises(ValueError, match="n must be at least 1, got 0"):
            viz.sample_faces(n=0)
        with pytest.raises(ValueError, match="at least the 33 px receptive field, got 20"):
            viz.sample_faces(size=20)
