"""Tests for minilocal/metrics.py: ACC/AUC/AP/EER, curves, pixel AUC and IoU."""

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from minilocal.metrics import (
    auc_standard_error,
    binary_metrics,
    centre_gaussian,
    equal_error_rate,
    localization_metrics,
    localization_report,
    pr_curve,
    roc_curve,
)


class TestBinaryMetrics:
    def test_hand_checked_example(self):
        m = binary_metrics([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.9])
        assert m == {"acc": 0.75, "auc": 1.0, "ap": 1.0, "eer": 0.0, "n": 4, "n_fake": 2}

    def test_matches_sklearn_on_random_scores(self):
        rng = np.random.default_rng(1)
        y = rng.integers(0, 2, 200)
        s = np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1)
        m = binary_metrics(y, s)
        assert m["auc"] == pytest.approx(skm.roc_auc_score(y, s))
        assert m["ap"] == pytest.approx(skm.average_precision_score(y, s))
        assert m["acc"] == pytest.approx(np.mean((s > 0.5) == y))
        assert 0.0 < m["eer"] < 0.5

    def test_accepts_tensors(self):
        m = binary_metrics(torch.tensor([0, 1, 1]), torch.tensor([0.2, 0.8, 0.4]))
        assert m["acc"] == pytest.approx(2 / 3) and m["auc"] == 1.0

    def test_a_tie_at_the_threshold_counts_as_real(self):
        assert binary_metrics([0, 1], [0.5, 0.5])["acc"] == 0.5
        assert binary_metrics([0, 1], [0.5, 0.5], threshold=0.4)["acc"] == 0.5
        with pytest.warns(UserWarning, match="only real"):
            assert binary_metrics([0, 0], [0.5, 0.5])["acc"] == 1.0

    def test_inverted_ranking(self):
        m = binary_metrics([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1])
        assert m["auc"] == 0.0 and m["eer"] == 1.0 and m["acc"] == 0.0

    def test_one_class_gives_nan_and_a_warning(self):
        with pytest.warns(UserWarning, match="only fake examples"):
            m = binary_metrics([1, 1, 1], [0.2, 0.7, 0.9])
        assert math.isnan(m["auc"]) and math.isnan(m["ap"]) and math.isnan(m["eer"])
        assert m["acc"] == pytest.approx(2 / 3)

    def test_rejects_empty_input(self):
        with pytest.raises(ValueError, match="labels is empty"):
            binary_metrics([], [])

    def test_rejects_mismatched_lengths(self):
        with pytest.raises(ValueError, match="same length, got 3 labels and 2 scores"):
            binary_metrics([0, 1, 1], [0.1, 0.2])

    def test_rejects_labels_outside_0_1(self):
        with pytest.raises(ValueError, match=r"0 \(real\) or 1 \(fake\), found \[2\]"):
            binary_metrics([0, 2], [0.1, 0.2])

    def test_rejects_nan_scores(self):
        with pytest.raises(ValueError, match="scores must be finite"):
            binary_metrics([0, 1], [0.1, float("nan")])


class TestEqualErrorRate:
    def test_interpolates_between_roc_points(self):
        # fnr - fpr goes 0.3 -> -0.5 between points 1 and 2: crossing at t = 0.375
        eer = equal_error_rate(np.array([0, 0.2, 0.6, 1]), np.array([0, 0.5, 0.9, 1]))
        assert eer == pytest.approx(0.2 + 0.375 * 0.4)

    def test_chance_level_is_one_half(self):
        assert equal_error_rate(np.array([0.0, 1.0]), np.array([0.0, 1.0])) == 0.5

    def test_exact_crossing_on_a_point(self):
        fpr, tpr, _ = skm.roc_curve([0, 0, 0, 1, 1, 1], [0.8, 0.3, 0.1, 0.9, 0.7, 0.2],
                                    drop_intermediate=False)
        assert equal_error_rate(fpr, tpr) == pytest.approx(1 / 3)


class TestCurves:
    def test_roc_runs_from_0_to_1(self):
        c = roc_curve([0, 1, 0, 1], [0.1, 0.4, 0.35, 0.8])
        assert c.fpr[0] == 0 and c.tpr[0] == 0 and c.fpr[-1] == 1 and c.tpr[-1] == 1
        assert np.all(np.diff(c.fpr) >= 0) and len(c.thresholds) == len(c.fpr)

    def test_pr_ends_at_recall_0_precision_1(self):
        c = pr_curve([0, 1, 0, 1], [0.1, 0.4, 0.35, 0.8])
        assert c.recall[0] == 1 and c.recall[-1] == 0 and c.precision[-1] == 1

    @pytest.mark.parametrize("curve", [roc_curve, pr_curve])
    def test_curves_need_both_classes(self, curve):
        with pytest.raises(ValueError, match="needs both real"):
            curve([0, 0], [0.1, 0.2])


class TestLocalizationMetrics:
    def test_perfect_map(self):
        masks = np.zeros((2, 8, 8), np.uint8)
        masks[0, 2:5, 2:5] = 1
        m = localization_metrics(masks.astype(np.float32), masks)
        assert m["pixel_auc"] == 1.0 and m["iou"] == 1.0 and m["pixel_acc"] == 1.0
        assert m["n"] == 2 and m["n_pixels"] == 128

    def test_hand_checked_iou(self):
        masks = np.zeros((1, 4, 4), np.uint8)
        masks[0, :, :2] = 1  # 8 true pixels
        prob = np.zeros((1, 4, 4), np.float32)
        prob[0, :, 1:3] = 0.9  # 8 predicted, 4 of them true
        m = localization_metrics(prob, masks)
        assert m["iou"] == pytest.approx(4 / 12) and m["iou_pooled"] == pytest.approx(4 / 12)
        assert m["pixel_acc"] == pytest.approx(8 / 16)

    def test_mean_and_pooled_iou_differ(self):
        masks = np.zeros((2, 4, 4), np.uint8)
        masks[0] = 1  # image 0: all 16 true, all predicted -> IoU 1
        prob = masks.astype(np.float32)
        prob[1, 0, 0] = 1.0  # image 1: nothing true, one false alarm -> IoU 0
        m = localization_metrics(prob, masks)
        assert m["iou"] == pytest.approx(0.5) and m["iou_pooled"] == pytest.approx(16 / 17)

    def test_all_real_pixels_give_nan_auc_with_warning(self):
        with pytest.warns(UserWarning, match="only real"):
            m = localization_metrics(np.zeros((1, 4, 4)), np.zeros((1, 4, 4)))
        assert math.isnan(m["pixel_auc"]) and m["iou"] == 1.0

    def test_subsampled_pixel_auc_is_close(self):
        rng = np.random.default_rng(0)
        masks = (rng.random((4, 32, 32)) > 0.5).astype(np.uint8)
        prob = np.clip(0.3 + 0.3 * masks + rng.normal(0, 0.2, masks.shape), 0, 1)
        full = localization_metrics(prob, masks, max_pixels=None)["pixel_auc"]
        sub = localization_metrics(prob, masks, max_pixels=2000)["pixel_auc"]
        assert full == pytest.approx(skm.roc_auc_score(masks.ravel(), prob.ravel()))
        assert abs(full - sub) < 0.05

    def test_rejects_mismatched_shapes(self):
        with pytest.raises(ValueError, match=r"both be \(N, H, W\) of one shape"):
            localization_metrics(np.zeros((1, 4, 4)), np.zeros((1, 4, 5)))

    def test_rejects_empty(self):
        with pytest.raises(ValueError, match="prob_maps is empty"):
            localization_metrics(np.zeros((0, 4, 4)), np.zeros((0, 4, 4)))

    def test_rejects_0_255_masks(self):
        with pytest.raises(ValueError, match="0 and 1 only, found \\[255\\]"):
            localization_metrics(np.zeros((1, 2, 2)), np.full((1, 2, 2), 255))

    def test_rejects_nan_probabilities(self):
        with pytest.raises(ValueError, match="NaN or inf"):
            localization_metrics(np.full((1, 2, 2), np.nan), np.zeros((1, 2, 2)))


class TestLocalizationReport:
    def data(self):
        """Two fakes whose true masks sit off-centre, one real (all-zero mask)."""
        masks = np.zeros((3, 16, 16), np.uint8)
        masks[0, 0:5, 0:5] = 1
        masks[1, 10:16, 10:16] = 1
        hulls = np.zeros((3, 16, 16), np.uint8)
        hulls[:, 2:14, 2:14] = 1
        return masks, np.array([1, 1, 0]), hulls

    def test_perfect_model_beats_both_baselines(self):
        masks, labels, hulls = self.data()
        r = localization_report(masks.astype(np.float32), masks, labels, hulls)
        assert r["pixel_auc"] == 1.0 and r["pixel_auc_fakes"] == 1.0 and r["n_fakes"] == 2
        for name in ("centre_gaussian", "hull"):
            b = r["baselines"][name]
            assert set(b) >= {"pixel_auc", "pixel_auc_fakes", "iou"}
            assert b["pixel_auc"] < 1.0  # these masks are off-centre and partly off-hull

    def test_baselines_are_the_maps_they_name(self):
        masks, labels, hulls = self.data()
        r = localization_report(np.zeros((3, 16, 16)), masks, labels, hulls)
        gauss = np.broadcast_to(centre_gaussian(16), masks.shape)
        want = localization_metrics(np.ascontiguousarray(gauss), masks)["pixel_auc"]
        assert r["baselines"]["centre_gaussian"]["pixel_auc"] == pytest.approx(want)
        want = localization_metrics(hulls.astype(np.float32), masks)["pixel_auc"]
        assert r["baselines"]["hull"]["pixel_auc"] == pytest.approx(want)

    def test_no_hulls_no_hull_baseline(self):
        masks, labels, _ = self.data()
        r = localization_report(masks.astype(np.float32), masks, labels)
        assert list(r["baselines"]) == ["centre_gaussian"]

    def test_centre_gaussian_peaks_in_the_middle(self):
        g = centre_gaussian(9, 7)
        assert g.shape == (9, 7) and g[4, 3] == pytest.approx(1.0) and g[0, 0] < 0.2


class TestAucStandardError:
    def test_hanley_mcneil_values(self):
        # Hanley & McNeil 1982, Table 1 region: A = 0.5 with 50/50 -> SE ~ 0.058
        assert auc_standard_error(0.5, 50, 50) == pytest.approx(0.0580, abs=5e-4)
        assert auc_standard_error(1.0, 10, 10) == 0.0

    def test_matches_the_bootstrap(self):
        rng = np.random.default_rng(0)
        y = np.r_[np.zeros(300), np.ones(300)]
        s = rng.normal(0, 1, 600) + y
        auc = skm.roc_auc_score(y, s)
        boot = []
        for _ in range(300):
            i = rng.integers(0, 600, 600)
            if 0 < y[i].sum() < 600:
                boot.append(skm.roc_auc_score(y[i], s[i]))
        assert auc_standard_error(auc, 300, 300) == pytest.approx(np.std(boot), rel=0.2)

    def test_rejects_an_empty_class(self):
        with pytest.raises(ValueError, match="need n_fake, n_real >= 1"):
            auc_standard_error(0.7, 0, 5)
