"""Tests for minilocal/recipe.py: TrainConfig's checks and the lr and crop-size schedules."""

import pytest

from minilocal.recipe import TrainConfig, crop_size_at, lr_at


class TestTrainConfig:
    def test_heads_are_those_with_positive_lambda(self):
        cfg = TrainConfig(lambda_cls=0.7, lambda_seg={"fake": 0.3, "face": 0.0},
                          masks={"fake": "cvm"})
        assert cfg.heads == ["fake"]

    def test_rejects_lambdas_not_summing_to_one(self):
        with pytest.raises(ValueError, match="must equal 1"):
            TrainConfig(lambda_cls=0.5, lambda_seg={"fake": 0.3})

    def test_active_head_needs_a_mask_kind(self):
        with pytest.raises(ValueError, match="head 'face' has lambda_seg > 0 but no mask kind"):
            TrainConfig(lambda_cls=0.5, lambda_seg={"fake": 0.3, "face": 0.2},
                        masks={"fake": "cvm"})

    def test_rejects_unknown_mask_kind(self):
        with pytest.raises(ValueError, match="mask kind 'hull' of head 'fake'"):
            TrainConfig(masks={"fake": "hull"})

    @pytest.mark.parametrize("kw, match", [
        ({"train_size": 32}, "train_size must be >= 33"),
        ({"eval_size": 160}, r"eval_size \(160\) cannot exceed size \(128\)"),
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"lr": 0.0}, "need lr > 0"),
        ({"device": "tpu"}, "device must be one of"),
        ({"amp": "fp16"}, "amp must be one of"),
        ({"schedule": "step"}, "schedule must be one of"),
        ({"patience": -1}, "patience and checkpoint_every must be >= 0"),
        ({"limit": 1}, "limit must be >= 2"),
    ])
    def test_rejects_bad_values(self, kw, match):
        with pytest.raises(ValueError, match=match):
            TrainConfig(**kw)


class TestSchedule:
    def test_warmup_then_cosine_to_zero(self):
        cfg = TrainConfig(lr=1e-3, warmup=0.1)
        assert lr_at(cfg, 0.05) == pytest.approx(5e-4)
        assert lr_at(cfg, 0.1) == pytest.approx(1e-3)
        assert lr_at(cfg, 0.55) == pytest.approx(5e-4)
        assert lr_at(cfg, 1.0) == pytest.approx(0.0, abs=1e-12)
        assert lr_at(cfg, 2.0) == lr_at(cfg, 1.0)  # past the end: stays annealed

    def test_constant_after_warmup(self):
        cfg = TrainConfig(lr=1e-3, warmup=0.0, schedule="constant")
        assert lr_at(cfg, 0.0) == lr_at(cfg, 1.0) == 1e-3

    def test_final_crop_size_over_the_last_fraction(self):
        cfg = TrainConfig(final_size=128, final_fraction=0.25)
        assert crop_size_at(cfg, 0.0, 64) == crop_size_at(cfg, 0.74, 64) == 64
        assert crop_size_at(cfg, 0.75, 64) == crop_size_at(cfg, 1.0, 64) == 128
        assert crop_size_at(TrainConfig(), 0.99, 64) == 64  # no final_size: unchanged
        with pytest.raises(ValueError, match="final_size"):
            TrainConfig(final_size=128)  # no fraction
        with pytest.raises(ValueError, match="final_size"):
            TrainConfig(final_size=20, final_fraction=0.5)  # below the receptive field
