"""Tests for minilocal/explain.py: score adapters, attribution maps, agreement, locality."""

import numpy as np
import pytest
import torch

from minilocal import explain
from minilocal.explain import (
    METHODS,
    ClassifierScore,
    SegmentationScore,
    agreement,
    attribute,
    empirical_receptive_field,
    local_cls_logits,
    open_all_paths,
    shuffle_patches,
)
from minilocal.model import LocalFeatureNet
from minilocal.receptive_field import output_size, rf_box

SIZE = 64  # 16 x 16 output grid


@pytest.fixture
def net():
    return LocalFeatureNet(seg_heads=("fake", "face"), widths=(8,) * 8).eval()


@pytest.fixture
def images():
    return torch.rand(2, 3, SIZE, SIZE)


def one_location(i: int, j: int) -> torch.Tensor:
    region = torch.zeros(output_size(SIZE), output_size(SIZE))
    region[i, j] = 1
    return region


def outside_box(attr: torch.Tensor, box) -> torch.Tensor:
    x0, y0, x1, y1 = box
    out = attr.clone()
    out[..., y0:y1, x0:x1] = 0
    return out


class TestScores:
    def test_classifier_score_is_the_fake_logit(self, net, images):
        torch.testing.assert_close(ClassifierScore(net)(images), net(images).cls_logits[:, 1])

    def test_segmentation_score_sums_fake_logits(self, net, images):
        fake = net(images).seg_logits["face"][:, 1]
        torch.testing.assert_close(SegmentationScore(net, "face")(images), fake.sum((1, 2)))

    def test_region_selects_locations(self, net, images):
        fake = net(images).seg_logits["fake"][:, 1]
        score = SegmentationScore(net, "fake", one_location(3, 5))(images)
        torch.testing.assert_close(score, fake[:, 3, 5])

    def test_per_image_region_tiles_over_an_expanded_batch(self, net, images):
        region = torch.stack([one_location(0, 0), one_location(4, 4)])
        fake = net(images.repeat(3, 1, 1, 1)).seg_logits["fake"][:, 1]
        score = SegmentationScore(net, "fake", region)(images.repeat(3, 1, 1, 1))
        torch.testing.assert_close(score[2:4], torch.stack([fake[2, 0, 0], fake[3, 4, 4]]))

    def test_rejects_unknown_head(self, net):
        with pytest.raises(ValueError, match="unknown segmentation head 'hair'"):
            SegmentationScore(net, "hair")

    def test_rejects_region_of_wrong_shape(self, net, images):
        with pytest.raises(ValueError, match="region must be"):
            SegmentationScore(net, "fake", torch.ones(5, 5))(images)

    def test_rejects_region_not_dividing_the_batch(self, net, images):
        region = torch.ones(3, 16, 16)
        with pytest.raises(ValueError, match="3 maps for a batch of 2"):
            SegmentationScore(net, "fake", region)(images)


class TestAttribute:
    @pytest.mark.parametrize("method", METHODS)
    @pytest.mark.parametrize("target", ["cls", "seg"])
    def test_shape_and_finite(self, net, images, method, target):
        attr = attribute(net, images, method, target=target, n_steps=8)
        assert attr.shape == (2, SIZE, SIZE) and attr.dtype == torch.float32
        assert torch.isfinite(attr).all() and (attr >= 0).all()
        signed = attribute(net, images, method, target=target, n_steps=8, signed=True)
        assert signed.abs().sum() > 0

    def test_saliency_is_zero_outside_the_receptive_field(self, net, images):
        attr = attribute(net, images, "saliency", target="seg", region=one_location(3, 5))
        assert attr.abs().sum() > 0
        assert outside_box(attr, rf_box(3, 5)).abs().max() == 0

    def test_occlusion_outside_the_receptive_field_changes_nothing(self, net, images):
        attr = attribute(net, images, "occlusion", target="seg", region=one_location(8, 2),
                         window=4, stride=4)
        x0, y0, x1, y1 = rf_box(8, 2)
        grown = (x0 - 3, y0 - 3, x1 + 3, y1 + 3)  # windows that touch the box
        # Outside: f(x) - f(x occluded) is 0 up to float32 rounding (occluded copies are
        # run in batches of another size than x); inside, the differences are ~1e-2.
        assert attr.abs().sum() > 0
        assert outside_box(attr, grown).abs().max() < 1e-6

    @pytest.mark.parametrize("target", ["cls", "seg"])
    def test_integrated_gradients_completeness(self, net, images, target):
        attr = attribute(net, images, "ig", target=target, signed=True, n_steps=64)
        score = ClassifierScore(net) if target == "cls" else SegmentationScore(net)
        with torch.no_grad():
            delta = score(images) - score(torch.zeros_like(images))
        torch.testing.assert_close(attr.sum((1, 2)), delta, rtol=0.05, atol=1e-6)

    def test_signed_keeps_negative_evidence(self, net, images):
        attr = attribute(net, images, "saliency", signed=True)
        assert (attr < 0).any() and (attr > 0).any()

    def test_gradcam_is_constant_between_the_same_centres(self, net, images):
        attr = attribute(net, images, "gradcam", target="seg")
        assert torch.equal(attr[:, :16, :16], attr[:, :1, :1].expand(-1, 16, 16))

    def test_restores_training_mode(self, net, images):
        net.train()
        attribute(net, images, "saliency")
        assert net.training

    def test_rejects_unknown_method(self, net, images):
        with pytest.raises(ValueError, match="unknown attribution method 'lime'"):
            attribute(net, images, "lime")

    def test_rejects_unknown_target(self, net, images):
        with pytest.raises(ValueError, match="unknown target 'pixel'"):
            attribute(net, images, "saliency", target="pixel")

    def test_rejects_region_for_the_classifier(self, net, images):
        with pytest.raises(ValueError, match="region only applies"):
            attribute(net, images, "saliency", region=one_location(0, 0))

    def test_rejects_non_square_gradcam(self, net):
        with pytest.raises(ValueError, match="gradcam needs square images, got 64x72"):
            attribute(net, torch.rand(1, 3, 64, 72), "gradcam")

    def test_rejects_uint8_images(self, net):
        with pytest.raises(TypeError, match="floating point"):
            attribute(net, torch.zeros(1, 3, 64, 64, dtype=torch.uint8), "saliency")


class TestAgreement:
    def test_perfect_and_inverted_maps(self):
        mask = np.zeros((2, 8, 8), np.uint8)
        mask[:, 2:5, 2:5] = 1
        good, bad = mask.astype(float), 1.0 - mask
        np.testing.assert_allclose(agreement(good, mask), [1.0, 1.0])
        np.testing.assert_allclose(agreement(bad, mask), [0.0, 0.0])
        np.testing.assert_allclose(agreement(good, mask, "topk"), [1.0, 1.0])
        np.testing.assert_allclose(agreement(bad, mask, "topk"), [0.0, 0.0])

    def test_auc_counts_ties_as_half(self):
        mask = torch.tensor([[1, 0], [0, 0]])
        assert agreement(torch.ones(2, 2), mask)[0] == pytest.approx(0.5)

    def test_auc_matches_a_pairwise_count(self):
        rng = np.random.default_rng(1)
        scores, mask = rng.random((6, 6)), (rng.random((6, 6)) > 0.6).astype(np.uint8)
        pos, neg = scores[mask == 1], scores[mask == 0]
        expected = (pos[:, None] > neg[None, :]).mean()
        assert agreement(scores, mask)[0] == pytest.approx(expected)

    def test_undefined_masks_give_nan(self):
        out = agreement(np.random.rand(2, 4, 4), np.stack([np.zeros((4, 4)), np.ones((4, 4))]))
        assert np.isnan(out).all()
        topk = agreement(np.random.rand(2, 4, 4), np.stack([np.zeros((4, 4)), np.ones((4, 4))]),
                         "topk")
        assert np.isnan(topk[0]) and topk[1] == 1.0

    def test_rejects_unknown_metric(self):
        with pytest.raises(ValueError, match="unknown metric 'iou'"):
            agreement(np.zeros((4, 4)), np.zeros((4, 4)), "iou")

    def test_rejects_mismatched_shapes(self):
        with pytest.raises(ValueError, match="one shape"):
            agreement(np.zeros((4, 4)), np.zeros((5, 5)))

    def test_rejects_255_masks(self):
        with pytest.raises(ValueError, match="0 and 1 only"):
            agreement(np.zeros((4, 4)), np.full((4, 4), 255))


class TestLocality:
    @pytest.mark.parametrize("i,j", [(0, 0), (3, 7), (15, 15)])
    def test_empirical_receptive_field_is_the_analytic_box(self, net, i, j):
        support = empirical_receptive_field(net, SIZE, i, j)
        ys, xs = np.nonzero(support)
        assert support.sum() == 33 * 33
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == rf_box(i, j)

    def test_max_pool_support_is_a_subset(self, net):
        support = empirical_receptive_field(net, SIZE, 4, 4, open_paths=False)
        x0, y0, x1, y1 = rf_box(4, 4)
        assert 0 < support.sum() <= 33 * 33 and support[y0:y1, x0:x1].sum() == support.sum()

    def test_open_all_paths_leaves_the_model_alone(self, net):
        before = {k: v.clone() for k, v in net.state_dict().items()}
        opened = open_all_paths(net)
        assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
        assert not any(isinstance(m, torch.nn.MaxPool2d) for m in opened.modules())

    def test_rejects_location_outside_the_grid(self, net):
        with pytest.raises(ValueError, match=r"output \(16, 0\) is outside the 16x16 grid"):
            empirical_receptive_field(net, SIZE, 16, 0)

    def test_gap_logits_are_the_mean_of_local_logits(self, net, images):
        local = local_cls_logits(net, images)
        assert local.shape == (2, 2, 16, 16)
        torch.testing.assert_close(local.mean(dim=(2, 3)), net(images).cls_logits)

    def test_shuffle_patches_permutes_tiles(self):
        x = torch.arange(16.0).reshape(1, 1, 4, 4)
        y = shuffle_patches(x, 2, seed=3)
        tiles = lambda t: sorted(t[0, 0].reshape(2, 2, 2, 2).permute(0, 2, 1, 3)  # noqa: E731
                                 .reshape(4, 4).tolist())
        assert tiles(y) == tiles(x) and not torch.equal(x, y)
        assert torch.equal(shuffle_patches(x, 2, seed=3), y)

    def test_locations_inside_a_tile_keep_their_logits(self, net):
        x = torch.rand(1, 3, 128, 128)
        y = shuffle_patches(x, 64, seed=1)
        before, after = local_cls_logits(net, x), local_cls_logits(net, y)
        # outputs 0..15 (and 32..47) see only one 64 px tile; each tile moved somewhere
        inner = [slice(0, 16), slice(32, 48)]
        blocks = lambda t: [t[..., r, c] for r in inner for c in inner]  # noqa: E731
        for b in blocks(after):
            assert any(torch.allclose(b, a, atol=1e-6) for a in blocks(before))

    def test_rejects_patch_not_dividing(self):
        with pytest.raises(ValueError, match="patch 5 must divide the 8x8"):
            shuffle_patches(torch.zeros(1, 3, 8, 8), 5)


def test_module_lists_its_public_names():
    assert set(explain.__all__) <= set(dir(explain))
