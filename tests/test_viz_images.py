"""Tests for minilocal/viz/images.py: RGB arrays and PNG data URIs for plotly."""

import numpy as np
import pytest
import torch

from minilocal import viz
from minilocal.viz.images import png_data_uri


class TestToRgb:
    def test_chw_float_and_hwc_uint8_agree(self):
        a = np.random.randint(0, 256, (8, 8, 3), dtype=np.uint8)
        chw = torch.from_numpy(a).permute(2, 0, 1).float() / 255
        np.testing.assert_array_equal(viz.to_rgb_array(chw), a)
        np.testing.assert_array_equal(viz.to_rgb_array(a), a)

    def test_rejects_gray(self):
        with pytest.raises(ValueError, match=r"got shape \(8, 8\)"):
            viz.to_rgb_array(np.zeros((8, 8)))


class TestPngDataUri:
    def test_png_is_smaller_than_the_array(self):
        import plotly.graph_objects as go

        ramp = np.linspace(0, 255, 128).astype(np.uint8)  # a smooth image, as faces are
        face = np.stack([np.tile(ramp, (128, 1)), np.tile(ramp[:, None], (1, 128)),
                         np.full((128, 128), 90, np.uint8)], axis=2)
        as_array = len(go.Figure(go.Image(z=face)).to_json())
        assert len(png_data_uri(face)) < as_array / 2
