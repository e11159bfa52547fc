"""Tests for minilocal/receptive_field.py: analytic geometry vs input gradients, labels."""

import numpy as np
import pytest
import torch
from torch import nn

from minilocal.explain import empirical_receptive_field
from minilocal.model import RECEPTIVE_FIELD, LocalFeatureNet
from minilocal.receptive_field import (
    label_grid,
    layer_geometry,
    output_size,
    receptive_field,
    rf_box,
    rf_centres,
    upsample_to_input,
)


def box_of(support: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(support)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


@pytest.fixture(scope="module")
def net():
    return LocalFeatureNet(widths=(4, 4, 4, 4, 4, 4, 4, 4))


class TestAnalytic:
    def test_receptive_field_is_the_papers_33(self, net):
        assert receptive_field(net) == RECEPTIVE_FIELD == 33
        assert receptive_field() == 33

    def test_geometry_after_each_layer(self, net):
        rows = layer_geometry(net)
        assert [r.name for r in rows] == ["conv1", "pool"] + [f"conv{k}" for k in range(2, 9)]
        assert [r.receptive_field for r in rows] == [3, 5, 9, 13, 17, 21, 25, 29, 33]
        assert [r.jump for r in rows] == [1, 2, 2, 2, 2, 2, 2, 2, 2]
        assert rows[-1].start == 16

    @pytest.mark.parametrize("size,expected", [(128, 48), (33, 1), (64, 16), (48, 8)])
    def test_output_size(self, net, size, expected):
        assert output_size(size, net) == expected

    def test_output_size_rejects_too_small(self, net):
        with pytest.raises(ValueError, match="too small"):
            output_size(20, net)

    def test_centres_for_128(self, net):
        c = rf_centres(128, net)
        assert len(c) == 48 and c[0] == 16 and c[-1] == 110 and set(np.diff(c)) == {2}

    def test_rf_box(self, net):
        assert rf_box(0, 0, net) == (0, 0, 33, 33)
        assert rf_box(2, 5, net) == (10, 4, 43, 37)

    def test_padding_moves_the_start(self):
        padded = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Conv2d(3, 3, 3, padding=1))
        assert layer_geometry(padded)[-1].start == 0  # "same" padding: centres on pixels 0, 1, ...
        assert layer_geometry(padded)[-1].receptive_field == 5

    def test_rejects_models_without_spatial_layers(self):
        with pytest.raises(ValueError, match="no convolution"):
            layer_geometry(nn.Linear(3, 3))


class TestEmpirical:
    """The analytic geometry against input gradients (explain.empirical_receptive_field:
    positive weights and the max-pool swapped for an average pool of the same geometry,
    so that every path is open and the support is the whole receptive field)."""

    @pytest.mark.parametrize("i,j", [(0, 0), (3, 7), (15, 15)])
    def test_gradient_support_is_the_analytic_box(self, net, i, j):
        support = empirical_receptive_field(net, 64, i, j)
        assert support.sum() == 33 * 33
        assert box_of(support) == rf_box(i, j, net)

    def test_real_maxpool_support_stays_inside_the_box(self, net):
        support = empirical_receptive_field(net, 64, 4, 4, open_paths=False)
        x0, y0, x1, y1 = rf_box(4, 4, net)
        outside = support.copy()
        outside[y0:y1, x0:x1] = False
        assert support.any() and not outside.any()


class TestLabelGrid:
    def test_samples_exactly_the_centres(self, net):
        mask = np.zeros((128, 128), np.uint8)
        mask[16 + 2 * 5, 16 + 2 * 9] = 1  # centre of output (5, 9)
        mask[17, 17] = 1  # between centres: must not show up
        grid = label_grid(mask, net)
        assert grid.shape == (48, 48) and grid.dtype == np.uint8
        assert list(zip(*np.nonzero(grid))) == [(5, 9)]

    def test_batched_tensor_masks(self, net):
        masks = torch.zeros(2, 64, 64, dtype=torch.uint8)
        masks[1, 16:, :] = 1
        grid = label_grid(masks, net)
        assert grid.shape == (2, 16, 16) and grid.dtype == torch.uint8
        assert grid[0].sum() == 0 and grid[1].sum() == 16 * 16

    def test_rejects_wrong_rank(self, net):
        with pytest.raises(ValueError, match="mask must be"):
            label_grid(np.zeros((1, 1, 64, 64)), net)


class TestUpsample:
    def test_values_land_on_the_centres(self, net):
        prob = torch.rand(1, 48, 48)
        up = upsample_to_input(prob, 128, net)
        assert up.shape == (1, 128, 128)
        c = torch.as_tensor(rf_centres(128, net))
        torch.testing.assert_close(up[0][c][:, c], prob[0])

    def test_constant_map_stays_constant(self, net):
        up = upsample_to_input(torch.full((2, 16, 16), 0.25), 64, net)
        torch.testing.assert_close(up, torch.full((2, 64, 64), 0.25))
