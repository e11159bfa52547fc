"""OpenCV pictures: heatmap overlay on a fixed colour scale, the panel with its colour bar."""

import numpy as np
import pytest
import torch

from minilocal.viz.panels import HEADER, heatmap_overlay, heatmap_panel


def blank(h=160, w=150):
    """A face-less image: the detector finds nothing; only whole_image=True scores it."""
    rng = np.random.default_rng(0)
    return rng.integers(100, 140, (h, w, 3), dtype=np.uint8)


class TestHeatmapOverlay:
    def test_alpha_0_is_the_face_and_alpha_1_the_colours(self):
        face = blank(128, 128)
        prob = np.zeros((48, 48), np.float32)
        np.testing.assert_array_equal(heatmap_overlay(face, prob, alpha=0.0), face)
        colours = heatmap_overlay(face, prob, alpha=1.0)
        assert colours.shape == (128, 128, 3) and colours.dtype == np.uint8
        assert len(np.unique(colours.reshape(-1, 3), axis=0)) == 1

    def test_fake_is_red_and_real_is_blue(self):
        face = np.zeros((128, 128, 3), np.uint8)
        red = heatmap_overlay(face, np.ones((48, 48)), alpha=1.0)[64, 64]
        blue = heatmap_overlay(face, np.zeros((48, 48)), alpha=1.0)[64, 64]
        assert red[0] > red[2] and blue[2] > blue[0]

    def test_output_map_is_upsampled_through_receptive_field_centres(self):
        prob = np.zeros((48, 48), np.float32)
        prob[:, 24:] = 1.0  # right half of the output map fake
        over = heatmap_overlay(np.zeros((128, 128, 3), np.uint8), prob, alpha=1.0)
        full = np.zeros((128, 128), np.float32)
        full[:, 16 + 2 * 24:] = 1.0  # centre of output column 24 is input column 64
        np.testing.assert_array_equal(over[:, :60], heatmap_overlay(
            np.zeros((128, 128, 3), np.uint8), full, alpha=1.0)[:, :60])
        assert over[0, 0, 2] > over[0, 0, 0] and over[0, 127, 0] > over[0, 127, 2]

    def test_accepts_a_tensor_map(self):
        out = heatmap_overlay(blank(128, 128), torch.full((48, 48), 0.3))
        assert out.shape == (128, 128, 3)

    def test_rejects_a_float_face(self):
        with pytest.raises(ValueError, match=r"face_rgb must be \(H, W, 3\) uint8"):
            heatmap_overlay(np.zeros((128, 128, 3)), np.zeros((48, 48)))

    def test_rejects_a_map_of_the_wrong_size(self):
        with pytest.raises(ValueError, match=r"output map \(48, 48\) or the face size"):
            heatmap_overlay(blank(128, 128), np.zeros((40, 40)))

    def test_rejects_a_3d_map(self):
        with pytest.raises(ValueError, match=r"must be \(H', W'\) or \(H, W\)"):
            heatmap_overlay(blank(128, 128), np.zeros((1, 48, 48)))

    def test_rejects_values_outside_0_1(self):
        with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
            heatmap_overlay(blank(128, 128), np.full((48, 48), 1.5))

    def test_rejects_alpha_outside_0_1(self):
        with pytest.raises(ValueError, match="alpha must be in"):
            heatmap_overlay(blank(128, 128), np.zeros((48, 48)), alpha=2)


class TestHeatmapPanel:
    def test_panels_and_colour_bar(self):
        fig = heatmap_panel(blank(128, 128), np.zeros((48, 48)), "title", scale=2)
        assert fig.shape == (HEADER + 256, 2 * 256 + 80, 3)
        bar = fig[HEADER + 20:HEADER + 236, 2 * 256 + 10 + 12]  # the colour ramp
        assert bar[0, 0] > bar[0, 2] and bar[-1, 2] > bar[-1, 0]  # red top, blue bottom

    def test_rejects_scale_0(self):
        with pytest.raises(ValueError, match="scale must be a positive integer"):
            heatmap_panel(blank(128, 128), np.zeros((48, 48)), scale=0)
