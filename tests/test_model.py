"""Tests for minilocal/model.py: layout, shapes, parameter count, scores, bad inputs."""

import numpy as np
import pytest
import torch
from torch import nn

from minilocal.model import (
    DEFAULT_WIDTHS,
    LocalFeatureNet,
    check_images,
    count_parameters,
    fake_probability_map,
    p_fake,
    seg_score,
    to_input,
)
from minilocal.receptive_field import summary


def small_net(heads=("fake",)):
    return LocalFeatureNet(seg_heads=heads, widths=(4, 4, 4, 4, 4, 4, 4, 4)).eval()


class TestLayout:
    def test_eight_unpadded_3x3_convs_then_bn_relu(self):
        net = LocalFeatureNet()
        convs = [m for m in net.trunk.modules() if isinstance(m, nn.Conv2d)]
        assert len(convs) == 8
        for c in convs:
            assert c.kernel_size == (3, 3) and c.stride == (1, 1) and c.padding == (0, 0)
        for block in [b for b in net.trunk.children() if isinstance(b, nn.Sequential)]:
            kinds = [type(m) for m in block]
            assert kinds == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]

    def test_one_maxpool_after_the_first_conv(self):
        children = list(LocalFeatureNet().trunk.children())
        pools = [i for i, m in enumerate(children) if isinstance(m, nn.MaxPool2d)]
        assert pools == [1]
        assert children[1].kernel_size == 3 and children[1].stride == 2

    def test_default_has_about_one_million_parameters(self):
        for heads in [(), ("fake",), ("fake", "face")]:
            assert 900_000 <= count_parameters(LocalFeatureNet(seg_heads=heads)) <= 1_100_000

    def test_rejects_wrong_number_of_widths(self):
        with pytest.raises(ValueError, match="8 convolution widths"):
            LocalFeatureNet(widths=(8, 8))

    def test_rejects_duplicate_head_names(self):
        with pytest.raises(ValueError, match="unique"):
            LocalFeatureNet(seg_heads=("fake", "fake"))

    def test_config_rebuilds_the_same_architecture(self):
        net = LocalFeatureNet(seg_heads=("face",), widths=DEFAULT_WIDTHS)
        again = LocalFeatureNet(**net.config())
        assert [p.shape for p in net.parameters()] == [p.shape for p in again.parameters()]


class TestShapes:
    @pytest.mark.parametrize("size,expected", [(33, 1), (34, 1), (35, 2), (64, 16), (128, 48)])
    def test_output_grid(self, size, expected):
        out = small_net(("fake", "face"))(torch.rand(2, 3, size, size))
        assert out.cls_logits.shape == (2, 2)
        for name in ("fake", "face"):
            assert out.seg_logits[name].shape == (2, 2, expected, expected)
            assert torch.isfinite(out.seg_logits[name]).all()

    def test_non_square_input(self):
        out = small_net()(torch.rand(1, 3, 128, 96))
        assert out.seg_logits["fake"].shape == (1, 2, 48, 32)

    def test_no_heads_gives_empty_dict(self):
        out = small_net(())(torch.rand(1, 3, 40, 40))
        assert out.seg_logits == {}

    def test_forward_features(self):
        net = LocalFeatureNet(widths=(4, 4, 4, 4, 4, 4, 4, 7))
        assert net.forward_features(torch.rand(1, 3, 128, 128)).shape == (1, 7, 48, 48)

    def test_classifier_is_gap_of_the_local_features(self):
        net = small_net().eval()
        x = torch.rand(1, 3, 64, 64)
        feats = net.forward_features(x)
        expected = net.cls_head(feats.mean(dim=(2, 3)))
        torch.testing.assert_close(net(x).cls_logits, expected)

    def test_summary_rows_follow_the_shapes(self):
        rows = summary(LocalFeatureNet(), 128)
        assert [r["layer"] for r in rows][:3] == ["conv1", "pool", "conv2"]
        assert rows[0]["out_shape"] == (32, 126, 126)
        assert rows[1]["out_shape"] == (32, 62, 62)
        assert rows[-1]["out_shape"] == (160, 48, 48)
        assert rows[-1]["receptive_field"] == 33


class TestScores:
    def test_p_fake_is_softmax_of_the_fake_logit(self):
        logits = torch.tensor([[0.0, 0.0], [0.0, 10.0], [3.0, -3.0]])
        torch.testing.assert_close(p_fake(logits), torch.softmax(logits, 1)[:, 1])
        assert p_fake(logits)[0] == pytest.approx(0.5)

    def test_seg_score_is_mean_pixel_probability(self):
        seg = torch.zeros(1, 2, 2, 2)
        seg[0, 1, 0, 0] = 100.0  # one location surely fake, three at 0.5
        assert seg_score(seg).item() == pytest.approx((1 + 0.5 * 3) / 4)
        assert fake_probability_map(seg).shape == (1, 2, 2)


class TestBadInput:
    def test_uint8_is_rejected_with_a_hint(self):
        with pytest.raises(TypeError, match="floating point"):
            small_net()(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))

    @pytest.mark.parametrize("channels", [1, 4])
    def test_grayscale_and_rgba_are_rejected(self, channels):
        with pytest.raises(ValueError, match="3 \\(RGB\\) channels"):
            small_net()(torch.rand(1, channels, 64, 64))

    def test_too_small_is_rejected(self):
        with pytest.raises(ValueError, match="at least 33x33"):
            small_net()(torch.rand(1, 3, 32, 64))

    def test_nan_is_rejected(self):
        x = torch.rand(1, 3, 40, 40)
        x[0, 0, 5, 5] = float("nan")
        with pytest.raises(ValueError, match="NaN"):
            small_net()(x)

    def test_three_dimensional_is_rejected(self):
        with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
            check_images(torch.rand(3, 64, 64))

    def test_non_tensor_is_rejected(self):
        with pytest.raises(TypeError, match="torch.Tensor"):
            check_images(np.zeros((1, 3, 64, 64), np.float32))


class TestToInput:
    def test_single_image_becomes_a_batch_in_unit_range(self):
        img = np.full((40, 50, 3), 255, np.uint8)
        img[0, 0] = (0, 128, 255)
        x = to_input(img)
        assert x.shape == (1, 3, 40, 50) and x.dtype == torch.float32
        assert x[0, :, 0, 0].tolist() == pytest.approx([0.0, 128 / 255, 1.0])

    def test_list_of_images(self):
        assert to_input([np.zeros((8, 8, 3), np.uint8)] * 3).shape == (3, 3, 8, 8)

    def test_rejects_float_arrays(self):
        with pytest.raises(ValueError, match="uint8"):
            to_input(np.zeros((8, 8, 3), np.float32))

    def test_rejects_grayscale(self):
        with pytest.raises(ValueError, match="RGB"):
            to_input(np.zeros((8, 8), np.uint8))
