"""Tests for minilocal/viz/explorer.py: HeatmapExplorer driven from code, as a student's
clicks would drive it (the browser test, tests/test_explorer_browser.py, drives it by mouse).
Its state, figure and static copies: test_viz_explorer_state.py, test_viz_explorer_figure.py
and test_viz_explorer_static.py."""

import base64
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from minilocal import viz
from minilocal.face_detection import NoFaceError
from minilocal.faceset import FaceSet
from minilocal.folder import FaceRecord
from minilocal.model import LocalFeatureNet
from minilocal.receptive_field import rf_box
from minilocal.viz import explorer as explorer_mod

PY2JS = ("_py2js_addTraces", "_py2js_restyle", "_py2js_relayout", "_py2js_update",
         "_py2js_animate", "_py2js_deleteTraces", "_py2js_moveTraces")


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


def decode_uri(uri: str) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(uri.split(",", 1)[1]), np.uint8)
    return cv2.imdecode(raw, cv2.IMREAD_COLOR)[..., ::-1]


def shown_face(explorer) -> np.ndarray:
    return decode_uri(explorer.figure.data[0].source)


def local_p_fake(net, image_chw: torch.Tensor, head: str = "fake") -> np.ndarray:
    """The model's own per-output p(fake): softmax of the head, class 1; computed here."""
    with torch.no_grad():
        logits = net(image_chw[None].float() / 255.0).seg_logits[head]
    return torch.softmax(logits, dim=1)[0, 1].numpy()


def record_messages(figure) -> list:
    """Every message the FigureWidget sends to the browser, as (kind, payload)."""
    sent = []
    for name in PY2JS:
        figure.observe(lambda ch, name=name: ch["new"] is not None
                       and sent.append((name, ch["new"])), names=[name])
    return sent


@pytest.fixture
def net():
    return LocalFeatureNet(widths=(8,) * 8).eval()


@pytest.fixture(params=["live", "static"])
def explorer(request, net, monkeypatch):
    if request.param == "static":  # as without anywidget: go.Figure in an Output
        monkeypatch.setattr(explorer_mod.importlib.util, "find_spec", lambda name: None)
    return viz.HeatmapExplorer(net, {"a": faceset(4), "b": faceset(2, 48)})


@pytest.fixture
def live(net):
    ex = viz.HeatmapExplorer(net, {"a": faceset(4), "b": faceset(2, 48)})
    if not ex.live:
        pytest.skip("anywidget is not installed: no FigureWidget")
    return ex


class TestControls:
    def test_image_index_changes_the_heatmap(self, explorer):
        before = np.array(explorer.figure.data[1].z)
        explorer.image_index.value = 3
        after = np.array(explorer.figure.data[1].z)
        assert after.shape == before.shape and not np.allclose(after, before)
        assert explorer.info.value.startswith("<b>real</b> f3.png")
        np.testing.assert_array_equal(shown_face(explorer),
                                      faceset(4).images[3].permute(1, 2, 0).numpy())

    def test_size_slider_crops_the_centre(self, explorer):
        explorer.size.value = 48
        assert np.asarray(explorer.figure.data[1].z).shape == (8, 8)  # one cell per output
        np.testing.assert_array_equal(shown_face(explorer),
                                      faceset(4).images[0, :, 8:56, 8:56].permute(1, 2, 0))
        edges = np.asarray(explorer.figure.data[1].x)
        assert len(edges) == 9 and edges[0] == -0.5 and edges[-1] == 47.5
        assert "48x48 -> 8x8 outputs" in explorer.info.value

    def test_toggles(self, explorer):
        explorer.show_heatmap.value = False
        explorer.show_attribution.value = True
        assert explorer.figure.data[1].opacity == 0  # hidden, but still answers the hover
        assert explorer.figure.data[2].visible is True
        assert np.asarray(explorer.figure.data[2].z).max() == pytest.approx(1.0)
        explorer.show_rf.value = False
        assert explorer.figure.data[4].visible is False

    def test_mask_follows_the_crop(self, explorer):
        explorer.size.value = 48
        z = np.asarray(explorer.figure.data[3].z)
        assert z.shape == (50, 50) and list(explorer.figure.data[3].x[[0, -1]]) == [-1, 48]
        np.testing.assert_array_equal(z[1:-1, 1:-1], faceset(4).masks[0, 8:56, 8:56].numpy())

    def test_mask_hidden_for_images_without_one(self, explorer):
        assert explorer.figure.data[3].visible is True  # image 0 has a mask
        explorer.image_index.value = 1
        assert explorer.figure.data[3].visible is False

    def test_dataset_switch_adapts_the_sliders(self, explorer):
        explorer.image_index.value = 3
        explorer.dataset.value = "b"
        assert explorer.image_index.max == 1 and explorer.size.value == 48
        assert shown_face(explorer).shape == (48, 48, 3)

    def test_rejects_missing_head(self, net):
        with pytest.raises(ValueError, match="no segmentation head 'face'"):
            viz.HeatmapExplorer(net, faceset(2), head="face")

    def test_rejects_empty_dataset(self, net):
        with pytest.raises(ValueError, match="dataset 'e' is empty"):
            viz.HeatmapExplorer(net, {"e": faceset(2).subset([])})

    def test_rejects_no_datasets(self, net):
        with pytest.raises(ValueError, match="at least one dataset"):
            viz.HeatmapExplorer(net, {})


class TestBoxAndTooltip:
    def test_select_location_moves_the_box(self, explorer):
        explorer.select_location(3, 7)
        assert min(explorer.figure.data[4].x) + 0.5 == rf_box(3, 7)[0]
        assert min(explorer.figure.data[4].y) + 0.5 == rf_box(3, 7)[1]
        assert explorer.location_at(16 + 2 * 7, 16 + 2 * 3) == (3, 7)
        explorer.select_location(99, -4)
        assert explorer.location == (15, 0)

    def test_hover_moves_the_box_to_the_nearest_output(self, explorer):
        explorer._on_point(None, SimpleNamespace(xs=[16 + 2 * 9 + 0.6], ys=[16.9]), None)
        assert explorer.location == (0, 9)  # x 34.6 -> column 9, y 16.9 -> row 0
        assert min(explorer.figure.data[4].x) + 0.5 == rf_box(0, 9)[0]
        explorer._on_point(None, SimpleNamespace(xs=[], ys=[]), None)  # off the picture
        assert explorer.location == (0, 9)

    def test_hover_on_a_cell_selects_that_cell(self, explorer):
        # plotly reports a heatmap point as [row, column]: the output in the tooltip
        cells = explorer.figure.data[1]
        explorer._on_point(cells, SimpleNamespace(xs=[8.25], ys=[99.0], point_inds=[[11, 0]]),
                           None)
        assert explorer.location == (11, 0)
        assert f"selected output (11, 0)</b>: p(fake) <b>{explorer.local_score():.3f}" \
            in explorer.info.value
        face = explorer.figure.data[0]  # its [row, column] is a pixel, not an output
        explorer._on_point(face, SimpleNamespace(xs=[40.0], ys=[30.0], point_inds=[[30, 40]]),
                           None)
        assert explorer.location == (7, 12)

    def test_hover_sends_only_the_box(self, live):
        live.select_location(0, 0)
        sent = record_messages(live.figure)
        live._on_point(None, SimpleNamespace(xs=[40.0], ys=[30.0]), None)
        assert live.location == (7, 12)
        assert len(sent) == 1, sent
        kind, msg = sent[0]
        assert kind == "_py2js_update" and msg["style_traces"] == [4]
        assert set(msg["style_data"]) == {"x", "y"} and not msg["layout_data"]
        x0, y0, x1, y1 = rf_box(7, 12)
        assert msg["style_data"]["x"][0] == [x0 - 0.5, x1 - 0.5, x1 - 0.5, x0 - 0.5, x0 - 0.5]
        live._on_point(None, SimpleNamespace(xs=[40.4], ys=[30.2]), None)  # same output
        assert len(sent) == 1  # nothing sent at all

    def test_image_change_does_not_send_the_box_or_layout_again(self, live):
        sent = record_messages(live.figure)
        live.image_index.value = 2
        sent_traces = {t for _, m in sent for t in m.get("style_traces", [])}
        assert 0 in sent_traces and 1 in sent_traces and 4 not in sent_traces

    def test_tooltip_is_the_local_p_fake_at_that_output(self, explorer, net):
        explorer.image_index.value = 2
        explorer.size.value = 56
        expected = local_p_fake(net, faceset(4).images[2, :, 4:60, 4:60])  # own centre crop
        z = np.asarray(explorer.figure.data[1].z, dtype=np.float64)
        assert z.shape == expected.shape == (12, 12)
        np.testing.assert_allclose(z, expected, rtol=0, atol=1e-6)
        cd = np.asarray(explorer.figure.data[1].customdata)
        template = explorer.figure.data[1].hovertemplate
        assert "p(fake) %{z:.3f}" in template and "%{customdata[5]}" in template
        for i, j in [(0, 0), (3, 9), (11, 11)]:
            x0, y0, x1, y1 = rf_box(i, j)
            assert cd[i, j].tolist() == [i, j, x0, x1 - 1, y0, y1 - 1]
            explorer.select_location(i, j)
            assert explorer.local_score() == pytest.approx(float(expected[i, j]), abs=1e-6)
            assert (f"selected output ({i}, {j})</b>: p(fake) <b>{expected[i, j]:.3f}</b>, "
                    f"receptive field x {x0}-{x1 - 1}, y {y0}-{y1 - 1}") in explorer.info.value

    def test_tooltip_shows_p_fake_even_under_the_attribution(self, explorer):
        explorer.show_attribution.value = True
        assert explorer.figure.data[2].hoverinfo == "skip"
        assert explorer.figure.data[1].visible is True

    def test_cells_match_location_at(self, explorer):
        edges = np.asarray(explorer.figure.data[1].x)
        for j in range(len(edges) - 1):  # the cell's middle maps back to its own output
            assert explorer.location_at((edges[j] + edges[j + 1]) / 2, 40)[1] == j


class TestUploads:
    def test_add_image_without_alignment(self, explorer):
        image = np.random.randint(0, 256, (90, 70, 3), dtype=np.uint8)
        assert explorer.add_image(image, "mine.jpg", align=False) == 0
        assert explorer.dataset.value == "uploads"
        assert shown_face(explorer).shape == (64, 64, 3)
        assert explorer.add_image(image, align=False) == 1

    def test_add_image_rejects_gray(self, explorer):
        with pytest.raises(ValueError, match="uint8 RGB"):
            explorer.add_image(np.zeros((64, 64), np.uint8))

    def test_photo_without_a_face_is_refused(self, explorer):
        wall = np.full((200, 200, 3), 128, np.uint8)  # the real HOG detector finds nothing
        wall[50:150, 50:150] = 200
        with pytest.raises(NoFaceError, match=r"no face found in 'wall.jpg'.*nothing added"):
            explorer.add_image(wall, name="wall.jpg")
        assert "uploads" not in explorer.sets and explorer.dataset.value == "a"
        png = cv2.imencode(".png", wall)[1].tobytes()
        explorer._on_upload({"new": [{"name": "wall.png", "content": memoryview(png)}]})
        assert "upload failed" in explorer.info.value and "no face found" in explorer.info.value
        assert "uploads" not in explorer.sets

    def test_whole_image_is_an_opt_in(self, explorer):
        wall = np.full((200, 200, 3), 128, np.uint8)
        assert explorer.add_image(wall, name="crop.png", whole_image=True) == 0
        assert explorer.dataset.value == "uploads"

    def test_upload_is_decoded_aligned_and_shown(self, explorer, monkeypatch):
        import minilocal.faces as faces_mod

        seen = []

        def fake_align(image, size, **kw):
            seen.append((image.shape, size, kw))
            return faces_mod.FaceCrop(image[:size, :size], None, (0, 0, size, size), "given")

        monkeypatch.setattr(faces_mod, "align_face", fake_align)
        bgr = np.zeros((70, 80, 3), np.uint8)
        bgr[..., 2] = 255  # red in OpenCV's BGR order
        png = cv2.imencode(".png", bgr)[1].tobytes()
        explorer._on_upload({"new": [{"name": "me.png", "content": memoryview(png)}]})
        assert seen == [((70, 80, 3), 64, {"whole_image": False})]
        assert explorer.dataset.value == "uploads"
        shown = shown_face(explorer)
        assert shown.shape == (64, 64, 3) and (shown[..., 0] == 255).all()  # RGB now
        assert "me.png" in explorer.info.value

    def test_unreadable_upload_is_reported(self, explorer):
        explorer._on_upload({"new": [{"name": "x.jpg", "content": memoryview(b"nope")}]})
        assert "upload failed" in explorer.info.value
