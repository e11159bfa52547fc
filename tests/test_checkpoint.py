"""Tests for minilocal/checkpoint.py: round trip, atomic files, bad checkpoints."""

import hashlib
import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from minilocal.checkpoint import checkpoint_paths, load_checkpoint, read_config, save_checkpoint
from minilocal.model import LocalFeatureNet

WIDTHS = (4, 4, 4, 4, 4, 4, 4, 6)


@pytest.fixture
def saved(tmp_path):
    net = LocalFeatureNet(seg_heads=("fake", "face"), widths=WIDTHS)
    save_checkpoint(tmp_path / "best", net, {"lambda_cls": 0.5, "seed": 3},
                    extra_tensors={"step": torch.tensor(7)})
    return net, tmp_path / "best"


def test_round_trip_restores_weights_and_config(saved):
    net, stem = saved
    for path in (stem, stem.with_suffix(".safetensors"), stem.with_suffix(".json")):
        model, config = load_checkpoint(path)
        assert config["seed"] == 3 and config["model"]["seg_heads"] == ["fake", "face"]
        for (k, a), (_, b) in zip(net.state_dict().items(), model.state_dict().items()):
            torch.testing.assert_close(a, b, msg=k)
        assert not model.training


def test_no_temp_files_are_left(saved):
    _, stem = saved
    assert sorted(p.name for p in stem.parent.iterdir()) == ["best.json", "best.safetensors"]


def test_weights_file_is_safetensors_not_pickle(saved):
    _, stem = saved
    raw = stem.with_suffix(".safetensors").read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + header_len])
    assert "trunk.0.0.weight" in header and "extra.step" in header
    stored = header["__metadata__"]["config_sha256"]
    assert stored == hashlib.sha256(stem.with_suffix(".json").read_bytes()).hexdigest()


def test_truncated_weights_are_rejected(saved):
    _, stem = saved
    w = stem.with_suffix(".safetensors")
    w.write_bytes(w.read_bytes()[:500])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_checkpoint(stem)


def test_other_architecture_is_rejected(saved):
    _, stem = saved
    weights = str(stem.with_suffix(".safetensors"))  # an old save: no config hash to check
    save_file(load_file(weights), weights, metadata={"format": "minilocal"})
    cfg = read_config(stem)
    cfg["model"]["widths"] = [8] * 8
    stem.with_suffix(".json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="does not match the architecture"):
        load_checkpoint(stem)


def test_config_that_is_not_ours_is_rejected(tmp_path):
    tmp_path.joinpath("x.json").write_text('{"lr": 1}')
    with pytest.raises(ValueError, match="not a minilocal checkpoint"):
        read_config(tmp_path / "x")


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_checkpoint(tmp_path / "nothing")


def test_checkpoint_paths():
    assert checkpoint_paths("a/b.json")[0].name == "b.safetensors"
    assert checkpoint_paths("a/b")[1].name == "b.json"
