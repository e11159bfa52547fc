"""Tests for minilocal/loss.py: the joint loss against a hand computation, lambda checks."""

import math

import pytest
import torch

from minilocal.loss import JointLoss, balanced_weights, check_lambdas
from minilocal.model import Output


def ce(logits, target):
    """Cross-entropy by hand: -log softmax(logits)[target]."""
    return -math.log(math.exp(logits[target]) / sum(math.exp(v) for v in logits))


def toy_output():
    cls = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    seg = torch.zeros(2, 2, 1, 2)
    seg[0, 1, 0, 0] = 3.0  # image 0, location (0, 0): fake logit 3
    seg[1, 0, 0, 1] = 1.0  # image 1, location (0, 1): real logit 1
    return Output(cls, {"fake": seg, "face": seg.clone()})


class TestValues:
    def test_matches_hand_computation(self):
        out = toy_output()
        labels = torch.tensor([0, 1])
        seg_labels = torch.tensor([[[1, 0]], [[1, 1]]])
        terms = JointLoss(0.6, {"fake": 0.4})(out, labels, {"fake": seg_labels})
        l_cls = (ce([2, 0], 0) + ce([0, 1], 1)) / 2
        l_seg = (ce([0, 3], 1) + ce([0, 0], 0) + ce([0, 0], 1) + ce([1, 0], 1)) / 4
        assert terms.cls.item() == pytest.approx(l_cls, rel=1e-6)
        assert terms.seg["fake"].item() == pytest.approx(l_seg, rel=1e-6)
        assert terms.total.item() == pytest.approx(0.6 * l_cls + 0.4 * l_seg, rel=1e-6)

    def test_classification_only(self):
        terms = JointLoss()(toy_output(), torch.tensor([0, 1]))
        assert terms.seg == {} and terms.total.item() == pytest.approx(terms.cls.item())

    def test_zero_lambda_head_is_not_computed(self):
        loss = JointLoss(0.7, {"fake": 0.3, "face": 0.0})
        assert loss.active_heads == ["fake"]
        labels = {"fake": torch.zeros(2, 1, 2, dtype=torch.long)}  # no "face" labels needed
        terms = loss(toy_output(), torch.tensor([0, 1]), labels)
        assert set(terms.seg) == {"fake"}

    def test_gradients_reach_every_active_head(self):
        out = toy_output()
        cls = out.cls_logits.clone().requires_grad_()
        seg = out.seg_logits["fake"].clone().requires_grad_()
        terms = JointLoss(0.5, {"fake": 0.5})(Output(cls, {"fake": seg}), torch.tensor([0, 1]),
                                              {"fake": torch.ones(2, 1, 2, dtype=torch.long)})
        terms.total.backward()
        assert cls.grad.abs().sum() > 0 and seg.grad.abs().sum() > 0


class TestLambdas:
    @pytest.mark.parametrize("cls,seg", [(0.5, {"fake": 0.4}), (0.7, {"fake": 0.7})])
    def test_sum_must_be_one(self, cls, seg):
        with pytest.raises(ValueError, match="must equal 1"):
            JointLoss(cls, seg)

    def test_within_tolerance_is_accepted(self):
        check_lambdas(0.7, {"fake": 0.2, "face": 0.1 + 5e-7})

    @pytest.mark.parametrize("cls,seg", [(1.2, {"fake": -0.2}), (float("nan"), {})])
    def test_range_is_checked_and_offenders_named(self, cls, seg):
        with pytest.raises(ValueError, match="offending"):
            JointLoss(cls, seg)


class TestBadInput:
    def test_missing_head(self):
        out = Output(toy_output().cls_logits, {})
        with pytest.raises(ValueError, match="model has heads"):
            JointLoss(0.5, {"fake": 0.5})(out, torch.tensor([0, 1]), {})

    def test_missing_labels(self):
        with pytest.raises(ValueError, match="no segmentation labels"):
            JointLoss(0.5, {"fake": 0.5})(toy_output(), torch.tensor([0, 1]), {})

    def test_wrong_label_shape(self):
        with pytest.raises(ValueError, match=r"\(N, H', W'\)"):
            JointLoss(0.5, {"fake": 0.5})(toy_output(), torch.tensor([0, 1]),
                                          {"fake": torch.zeros(2, 2, 2, dtype=torch.long)})

    def test_wrong_image_label_shape(self):
        with pytest.raises(ValueError, match="labels must be"):
            JointLoss()(toy_output(), torch.tensor([0, 1, 1]))


class TestClassWeights:
    def test_balanced_weights_give_each_class_half(self):
        w_real, w_fake = balanced_weights(torch.tensor([0, 1, 1, 1]))
        assert (w_real, w_fake) == pytest.approx((2.0, 2 / 3))
        assert w_real * 1 + w_fake * 3 == pytest.approx(4)  # sum of weights = N

    def test_balanced_weights_need_both_classes(self):
        with pytest.raises(ValueError, match="need both classes"):
            balanced_weights(torch.ones(4, dtype=torch.long))

    def test_weighted_cls_term_matches_hand_computation(self):
        out = toy_output()
        labels = torch.tensor([0, 1])
        terms = JointLoss(1.0, class_weights=(3.0, 1.0))(out, labels)
        want = (3 * ce([2.0, 0.0], 0) + 1 * ce([0.0, 1.0], 1)) / 4  # torch's weighted mean
        assert terms.cls.item() == pytest.approx(want, rel=1e-6)

    @pytest.mark.parametrize("bad", [(1.0,), (1.0, 0.0), (1.0, float("nan"))])
    def test_rejects_bad_class_weights(self, bad):
        with pytest.raises(ValueError, match="class_weights must be two positive"):
            JointLoss(1.0, class_weights=bad)
