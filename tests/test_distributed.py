"""Tests for minilocal/distributed.py: sharding, the torchrun environment, 2-process DDP."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from minilocal.checkpoint import read_config
from minilocal.distributed import (DistInfo, all_sum, broadcast_flag, init_distributed,
                                   shard)


class TestShard:
    def test_one_process_keeps_the_order(self):
        order = torch.randperm(10)
        assert torch.equal(shard(order, DistInfo()), order)

    def test_ranks_split_the_order_evenly_and_cover_it(self):
        order = torch.randperm(11)
        parts = [shard(order, DistInfo(rank=r, world_size=3)) for r in range(3)]
        assert [len(p) for p in parts] == [4, 4, 4]  # padded by wrapping round, like
        assert set(torch.cat(parts).tolist()) == set(range(11))  # DistributedSampler


class TestSingleProcess:
    def test_no_torchrun_environment_means_one_process(self, monkeypatch):
        monkeypatch.delenv("WORLD_SIZE", raising=False)
        info = init_distributed(torch.device("cpu"))
        assert info == DistInfo() and info.is_main and not info.enabled

    def test_world_size_without_rank_is_rejected(self, monkeypatch):
        monkeypatch.setenv("WORLD_SIZE", "2")
        monkeypatch.delenv("RANK", raising=False)
        with pytest.raises(ValueError, match="start multi-process training with torchrun"):
            init_distributed(torch.device("cpu"))

    def test_collectives_are_identities(self):
        x = torch.tensor([1.0, 2.0])
        assert torch.equal(all_sum(x, DistInfo()), x)
        assert broadcast_flag(True, DistInfo(), torch.device("cpu")) is True


WORKER = textwrap.dedent("""
    import os, sys, torch
    torch.set_num_threads(1)
    sys.path.insert(0, {tests!r})
    from safetensors.torch import save_file
    from test_train import tiny_config
    from minilocal.model import LocalFeatureNet
    from minilocal.train import fit
    from minilocal.train_data import load_splits
    cfg = tiny_config(epochs=2)
    tr, va = load_splits({faces!r}, cfg)
    torch.manual_seed(int(os.environ["RANK"]))  # different initial weights on each rank
    model = LocalFeatureNet(seg_heads=cfg.heads, widths=cfg.widths, check_inputs=False)
    history = fit(model, tr, va, cfg, out={run!r})
    save_file({{k: v.contiguous() for k, v in model.state_dict().items()}},
              os.path.join({out!r}, "rank" + os.environ["RANK"] + ".safetensors"))
""")


@pytest.mark.slow
def test_two_gloo_processes_end_with_identical_weights(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_train import make_faces

    faces = make_faces(tmp_path / "faces")
    run = tmp_path / "run"
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(tests=str(Path(__file__).parent), faces=str(faces),
                                    run=str(run), out=str(tmp_path)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", "2", str(script)], env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    w0, w1 = (load_file(tmp_path / f"rank{r}.safetensors") for r in (0, 1))
    assert set(w0) == set(w1)
    for key in w0:  # parameters and BatchNorm statistics
        assert torch.equal(w0[key], w1[key]), key
    state = read_config(run / "last")["state"]
    assert state["epoch"] == 2 and state["global_step"] == 4  # 24 images / 2 ranks / 8
    assert (run / "best.safetensors").is_file() and (run / "history.csv").is_file()
    assert not list(run.glob("*.tmp"))
