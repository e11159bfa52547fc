"""Tests for minilocal/viz/explorer_static.py: the explorer's static copies (figure, PNG,
exported HTML), as the explorer gives them."""

import cv2
import numpy as np

from minilocal.receptive_field import rf_box
from test_viz_explorer import decode_uri, explorer, net  # noqa: F401  (explorer, net: fixtures)


class TestStaticCopies:
    def test_snapshot_stays_as_it_was(self, explorer):
        explorer.select_location(2, 3)
        snap = explorer.snapshot()
        face = decode_uri(snap.data[0].source)
        explorer.image_index.value = 1
        explorer.select_location(9, 9)
        np.testing.assert_array_equal(decode_uri(snap.data[0].source), face)
        assert min(snap.data[4].x) + 0.5 == rf_box(2, 3)[0]
        assert "output (2, 3)" in snap.layout.title.text

    def test_png_shows_the_current_state(self, explorer):
        a = cv2.imdecode(np.frombuffer(explorer.to_png(), np.uint8), cv2.IMREAD_COLOR)
        explorer.image_index.value = 1
        b = cv2.imdecode(np.frombuffer(explorer.to_png(), np.uint8), cv2.IMREAD_COLOR)
        assert a is not None and a.shape == b.shape and a.shape[0] > 200
        assert (a != b).any()

    def test_exported_html_shows_a_picture_not_a_blank(self, explorer):
        import nbformat
        from nbconvert import HTMLExporter

        bundle = explorer._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle  # Jupyter: live widget
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("explorer")
        cell.outputs = [nbformat.v4.new_output("display_data", data=bundle)]
        nb.cells = [cell]
        page, _ = HTMLExporter().from_notebook_node(nb)  # no widget state, as in most exports
        assert 'src="data:image/png;base64,' in page and "run it" in page
