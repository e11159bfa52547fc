"""Tests for minilocal/viz/explorer_state.py: what the explorer shows, without any widget."""

import numpy as np
import pytest

from minilocal.receptive_field import rf_box
from minilocal.viz.explorer_state import ExplorerState, Selection
from test_viz_explorer import faceset, local_p_fake, net  # noqa: F401  (net is a fixture)


class TestExplorerState:
    def test_outputs_are_the_local_p_fake_of_the_centre_crop(self, net):
        state = ExplorerState(net, {"a": faceset(4)})
        sel = Selection("a", 2, 56, (3, 9))
        expected = local_p_fake(net, faceset(4).images[2, :, 4:60, 4:60])  # own centre crop
        np.testing.assert_allclose(state.outputs(sel)["prob"], expected, rtol=0, atol=1e-6)
        assert state.local_score(sel) == pytest.approx(float(expected[3, 9]), abs=1e-6)
        assert state.outputs(Selection("a", 2, 56)) is state.outputs(sel)  # cached per size

    def test_cells_and_location_at_agree(self, net):
        state = ExplorerState(net, faceset(2))
        edges = state.cell_edges(64)
        assert len(edges) == 17 and edges[0] == -0.5 and edges[-1] == 63.5
        for j in range(16):  # the cell's middle maps back to its own output
            assert state.location_at(64, (edges[j] + edges[j + 1]) / 2, 40)[1] == j
        x0, y0, x1, y1 = rf_box(3, 9, net)
        assert state.cell_customdata(16)[3, 9].tolist() == [3, 9, x0, x1 - 1, y0, y1 - 1]

    def test_added_faces_go_to_uploads(self, net):
        state = ExplorerState(net, {"a": faceset(2)})
        image = np.random.randint(0, 256, (90, 70, 3), dtype=np.uint8)
        assert state.add_face(image, "mine.jpg", align=False) == 0
        assert state.add_face(image, align=False) == 1
        assert len(state.sets["uploads"]) == 2 and list(state.sets) == ["a", "uploads"]
        assert "mine.jpg" in state.info_html(Selection("uploads", 0, 64))

    def test_rejects_missing_head(self, net):
        with pytest.raises(ValueError, match="no segmentation head 'face'"):
            ExplorerState(net, faceset(2), head="face")
