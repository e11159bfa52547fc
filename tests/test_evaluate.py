"""Tests for minilocal/evaluate.py and the ``minilocal evaluate`` command."""

import json
import math

import cv2
import numpy as np
import pytest
import torch

from minilocal import cli
from minilocal.checkpoint import save_checkpoint
from minilocal.evaluate import (
    centre_crop,
    evaluate,
    load_eval_set,
    score_images,
)
from minilocal.faceset import load_folder
from minilocal.folder import FolderWriter
from minilocal.metrics import binary_metrics, localization_metrics
from minilocal.model import LocalFeatureNet, fake_probability_map, p_fake, seg_score
from minilocal.receptive_field import upsample_to_input
from minilocal.runtime import bf16_supported as default_autocast

WIDTHS = (4, 4, 4, 4, 4, 4, 4, 4)


def tiny_net(heads=("fake",)):
    """A small random network whose scores depend on the input (BN stats from data)."""
    net = LocalFeatureNet(seg_heads=heads, widths=WIDTHS)
    with torch.no_grad():
        net.train()(torch.rand(4, 3, 64, 64))
    return net.eval()


@pytest.fixture
def dataset(tmp_path):
    """8 aligned 128 px faces: 4 real, 4 fake (methods A and B, with masks), splits."""
    root = tmp_path / "faces"
    rng = np.random.default_rng(0)
    with FolderWriter(root) as w:
        for i in range(8):
            label = "fake" if i % 2 else "real"
            image = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
            mask = None
            if label == "fake":
                mask = np.zeros((128, 128), np.uint8)
                mask[32:96, 40:90] = 1
            w.add(image, label, mask=mask, method="" if label == "real" else "AB"[i % 4 // 2],
                  compression="c23" if i < 4 else "c40", split="test" if i < 6 else "train")
    return root


class TestCentreCrop:
    def test_takes_the_central_window(self):
        x = torch.arange(100).reshape(1, 10, 10)
        c = centre_crop(x, 4)
        assert c.shape == (1, 4, 4) and c[0, 0, 0] == 33 and c[0, -1, -1] == 66

    def test_rejects_a_crop_larger_than_the_image(self):
        with pytest.raises(ValueError, match="crop size 12 is larger than the 10x10"):
            centre_crop(torch.zeros(1, 10, 10), 12)


class TestDefaultAutocast:
    def test_cpu_gives_a_bool_and_other_devices_fp32(self):
        assert isinstance(default_autocast(torch.device("cpu")), bool)
        assert default_autocast(torch.device("meta")) is False


class TestScoreImages:
    def test_matches_the_model_directly(self):
        net, images = tiny_net(), torch.randint(0, 256, (5, 3, 128, 128), dtype=torch.uint8)
        scores = score_images(net, images, sizes=(128, 64), batch_size=2, autocast=False)
        assert set(scores) == {128, 64}
        with torch.no_grad():
            out = net(centre_crop(images, 64).float() / 255)
        torch.testing.assert_close(torch.from_numpy(scores[64].cls),
                                   p_fake(out.cls_logits).double())
        torch.testing.assert_close(torch.from_numpy(scores[64].seg),
                                   seg_score(out.seg_logits["fake"]).double())
        assert scores[128].cls.shape == (5,) and scores[128].cls.std() > 0

    def test_bf16_autocast_stays_close_to_fp32(self):
        net, images = tiny_net(), torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8)
        fp32 = score_images(net, images, sizes=(64,), autocast=False)[64]
        bf16 = score_images(net, images, sizes=(64,), autocast=True)[64]
        np.testing.assert_allclose(bf16.cls, fp32.cls, atol=0.03)

    def test_restores_training_mode(self):
        net = tiny_net().train()
        score_images(net, torch.zeros(1, 3, 64, 64, dtype=torch.uint8), sizes=(64,))
        assert net.training

    def test_no_segmentation_head_gives_seg_none(self):
        scores = score_images(tiny_net(heads=()), torch.zeros(2, 3, 64, 64, dtype=torch.uint8),
                              sizes=(64,))
        assert scores[64].seg is None and scores[64].cls.shape == (2,)

    def test_rejects_float_images(self):
        with pytest.raises(ValueError, match=r"\(N, 3, H, W\) uint8"):
            score_images(tiny_net(), torch.rand(1, 3, 64, 64))

    @pytest.mark.parametrize("sizes", [(32,), (129,)])
    def test_rejects_sizes_out_of_range(self, sizes):
        with pytest.raises(ValueError, match=f"sizes \\[{sizes[0]}\\] must lie between"):
            score_images(tiny_net(), torch.zeros(1, 3, 128, 128, dtype=torch.uint8), sizes)

    def test_rejects_no_sizes(self):
        with pytest.raises(ValueError, match="sizes is empty"):
            score_images(tiny_net(), torch.zeros(1, 3, 64, 64, dtype=torch.uint8), ())

    def test_rejects_an_unknown_head(self):
        with pytest.raises(ValueError, match=r"head 'face' not in .*\['fake'\]"):
            score_images(tiny_net(), torch.zeros(1, 3, 64, 64, dtype=torch.uint8), (64,),
                         head="face")


class TestEvaluate:
    def test_metrics_agree_with_direct_scores(self, dataset):
        faces, net = load_folder(dataset), tiny_net()
        result = evaluate(net, faces, sizes=(128, 96), batch_size=3, autocast=False)
        assert result["n"] == 8 and result["n_real"] == 4 and result["n_fake"] == 4
        assert set(result["sizes"]) == {"128", "96"} and result["size"] == 128
        scores = score_images(net, faces.images, sizes=(96,), autocast=False)[96]
        assert result["sizes"]["96"]["seg"] == binary_metrics(faces.labels, scores.seg)
        assert result["cls"] == result["sizes"]["128"]["cls"]

    def test_per_method_keeps_the_reals(self, dataset):
        result = evaluate(tiny_net(), load_folder(dataset), sizes=(128,))
        assert set(result["per_method"]) == {"A", "B"}
        assert result["per_method"]["A"]["cls"]["n"] == 4 + 2
        assert result["per_method"]["A"]["cls"]["n_fake"] == 2
        assert {c: v["cls"]["n"] for c, v in result["per_compression"].items()} == \
            {"c23": 4, "c40": 4}

    def test_localization_compares_upsampled_maps_with_masks(self, dataset):
        faces, net = load_folder(dataset), tiny_net()
        result = evaluate(net, faces, sizes=(128,), autocast=False)
        fakes = faces.has_mask
        with torch.no_grad():
            out = net(faces.images[fakes].float() / 255)
        maps = upsample_to_input(fake_probability_map(out.seg_logits["fake"]), 128)
        expected = localization_metrics(maps.half().float(), faces.masks[fakes])
        assert result["localization"]["n"] == 4
        assert result["localization"]["iou"] == pytest.approx(expected["iou"])
        assert result["localization"]["pixel_auc"] == pytest.approx(expected["pixel_auc"])

    def test_no_masks_no_localization_and_no_seg_without_head(self, dataset):
        faces = load_folder(dataset).subset([0, 2])
        with pytest.warns(UserWarning, match="only real"):
            result = evaluate(tiny_net(heads=()), faces, sizes=(64,))
        assert result["localization"] is None and "seg" not in result
        assert math.isnan(result["cls"]["auc"]) and result["per_method"] == {}

    def test_rejects_float_images(self, dataset):
        faces = load_folder(dataset)
        faces.images = faces.images.float()
        with pytest.raises(ValueError, match=r"faceset.images must be \(N, 3, H, W\) uint8"):
            evaluate(tiny_net(), faces)


class TestLoadEvalSet:
    def test_aligned_folder_and_split(self, dataset):
        faces = load_eval_set(dataset, split="test")
        assert len(faces) == 6 and faces.images.shape[-2:] == (128, 128)
        assert len(load_eval_set(dataset, split="all")) == 8

    def test_limit_takes_a_seeded_sample(self, dataset):
        a, b = load_eval_set(dataset, "all", limit=3), load_eval_set(dataset, "all", limit=3)
        assert len(a) == 3 and [r.file for r in a.records] == [r.file for r in b.records]

    def test_missing_split_names_the_existing_ones(self, dataset):
        with pytest.raises(ValueError,
                           match=r"no rows in split 'val'; its splits are \['test', 'train'\]"):
            load_eval_set(dataset, split="val")

    def test_raw_folder_is_aligned_and_unreadable_files_skipped(self, tmp_path, caplog):
        for label in ("real", "fake"):
            (tmp_path / label).mkdir()
            cv2.imwrite(str(tmp_path / label / "a.png"), np.full((160, 150, 3), 128, np.uint8))
        (tmp_path / "fake" / "broken.jpg").write_bytes(b"not an image")
        faces = load_eval_set(tmp_path, split=None)
        assert len(faces) == 2 and faces.images.shape == (2, 3, 128, 128)
        assert faces.records[0].detection == "whole_image" and faces.has_cvm.all()
        assert "skipped 1 of 3 unusable images" in caplog.text

    def test_raw_folder_without_splits_hints_at_all(self, tmp_path):
        (tmp_path / "real").mkdir()
        cv2.imwrite(str(tmp_path / "real" / "a.png"), np.zeros((64, 64, 3), np.uint8))
        with pytest.raises(ValueError, match="has no split column; pass split='all'"):
            load_eval_set(tmp_path, split="test")

    def test_no_usable_image_is_an_error(self, tmp_path):
        (tmp_path / "real").mkdir()
        (tmp_path / "real" / "x.jpg").write_bytes(b"")
        with pytest.raises(ValueError, match="none of the 1 images gave a face"):
            load_eval_set(tmp_path, split=None)


class TestCommand:
    @pytest.fixture
    def checkpoint(self, tmp_path):
        return str(save_checkpoint(tmp_path / "run" / "best", tiny_net()))

    def test_json_output(self, dataset, checkpoint, capsys):
        rc = cli.main(["evaluate", "--data", str(dataset), "--checkpoint", checkpoint,
                       "--sizes", "128,64", "--json"])
        out = json.loads(capsys.readouterr().out)
        assert rc == 0 and out["n"] == 6 and set(out["sizes"]) == {"128", "64"}
        for score in ("cls", "seg"):
            assert {"acc", "auc", "ap", "eer", "n"} <= set(out[score])
        assert out["localization"]["n"] == 3

    def test_table_output(self, dataset, checkpoint, capsys):
        rc = cli.main(["evaluate", "--data", str(dataset), "--checkpoint", checkpoint,
                       "--sizes", "96", "--split", "all"])
        text = capsys.readouterr().out
        assert rc == 0 and "96x96" in text and "per method" in text and "pixel AUC" in text

    def test_no_checkpoint_says_so(self, dataset, tmp_path, monkeypatch, capsys):
        monkeypatch.setattr("minilocal.checkpoint.default_checkpoint",
                            lambda: tmp_path / "none.safetensors")
        assert cli.main(["evaluate", "--data", str(dataset)]) == 2
        assert "no checkpoint given and no pretrained checkpoint shipped" in \
            capsys.readouterr().err

    def test_bad_sizes(self, dataset, checkpoint, capsys):
        assert cli.main(["evaluate", "--data", str(dataset), "--checkpoint", checkpoint,
                         "--sizes", "128,big"]) == 2
        assert "--sizes must be comma-separated integers" in capsys.readouterr().err
