"""Tests for minilocal/train.py and the ``minilocal train`` command."""

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from minilocal.checkpoint import load_checkpoint, read_config
from minilocal.cli import main as cli_main
from minilocal.commands.train import parse_pairs, resolve_lambdas
from minilocal.faceset import load_folder
from minilocal.folder import FolderWriter
from minilocal.masks import label_mask
from minilocal.model import LocalFeatureNet, Output
from minilocal.resume import resume_differences
from minilocal.recipe import TrainConfig
from minilocal.train import _init_from, fit, train
from minilocal.train_data import changed_masks, check_data, crop_labels, head_masks, load_splits

SMALL = (8,) * 8  # conv widths of a tiny LocalFeatureNet


def make_faces(root: Path, pairs: int = 16, size: int = 48, val_from: int = 12,
               masks: bool = True, landmarks: bool = True, splits: bool = True) -> Path:
    """A tiny folder-format set: noise faces; each fake has a flat bright square (its mask)."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    pts = np.stack([size / 2 + 0.3 * size * np.cos(t), size / 2 + 0.4 * size * np.sin(t)], 1)
    with FolderWriter(root) as w:
        for i in range(pairs):
            extra = {"split": "train" if i < val_from else "val"} if splits else {}
            im = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            w.add(im, "real", landmarks=pts if landmarks else None, group=f"g{i}", **extra)
            m = np.zeros((size, size), np.uint8)
            m[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1
            fake = im.copy()
            fake[m == 1] = 230
            w.add(fake, "fake", mask=m if masks else None, landmarks=pts if landmarks else None,
                  group=f"g{i}", **extra)
    return root


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    return make_faces(tmp_path_factory.mktemp("faces"))


def tiny_config(**kw):
    base = dict(size=48, train_size=40, epochs=2, batch_size=8, widths=SMALL,
                checkpoint_every=2, lambda_cls=0.5, lambda_seg={"fake": 0.3, "face": 0.2},
                masks={"fake": "real", "face": "cvm"}, device="cpu", patience=0)
    return TrainConfig(**{**base, **kw})


class TestMasksAndData:
    @pytest.mark.parametrize("kind", ["zeros", "ones", "cvm", "real", "real_or_cvm"])
    @pytest.mark.parametrize("head", ["fake", "face"])
    def test_head_masks_match_label_mask(self, faces, kind, head):
        data = load_folder(faces)
        index = torch.arange(len(data))
        got = head_masks(data, index, {head: kind}, [head])[head]
        for i in range(len(data)):
            want = label_mask(kind, int(data.labels[i]), 48, 48,
                              landmarks=np.argwhere(data.cvm[i].numpy())[:, ::-1],
                              forgery_mask=data.masks[i].numpy() if data.has_mask[i] else None,
                              gate_by_label=head != "face")
            hull = kind == "cvm" or (kind == "real_or_cvm" and not data.has_mask[i])
            if hull:  # the hull of the hull's own pixels is the hull
                want = data.cvm[i].numpy() if (head == "face" or data.labels[i]) else want
            np.testing.assert_array_equal(got[i].numpy(), want)

    def test_check_data_rejects_one_class(self, faces):
        data = load_folder(faces)
        with pytest.raises(ValueError, match="the train set needs real and fake images"):
            check_data(data.subset(torch.nonzero(data.labels == 0)[:, 0]), tiny_config())

    def test_check_data_rejects_empty(self, faces):
        with pytest.raises(ValueError, match="got 0 real and 0 fake"):
            check_data(load_folder(faces).subset([]), tiny_config(), "train")

    def test_real_head_needs_true_masks(self, tmp_path):
        data = load_folder(make_faces(tmp_path, pairs=3, masks=False))
        with pytest.raises(ValueError, match="'real' masks but 3 of the 3 fake train images"):
            check_data(data, tiny_config())

    def test_cvm_head_needs_landmarks(self, tmp_path):
        data = load_folder(make_faces(tmp_path, pairs=3, landmarks=False))
        cfg = tiny_config(masks={"fake": "real", "face": "cvm"})
        with pytest.raises(ValueError, match="'face' uses 'cvm' masks but 6 of the 6 train"):
            check_data(data, cfg)

    def test_real_or_cvm_head_needs_a_mask_or_landmarks(self, tmp_path):
        data = load_folder(make_faces(tmp_path, pairs=3, masks=False, landmarks=False))
        cfg = tiny_config(lambda_cls=0.7, lambda_seg={"fake": 0.3}, masks={"fake": "real_or_cvm"})
        with pytest.raises(ValueError, match="either a true forgery mask or landmarks"):
            check_data(data, cfg)
        check_data(load_folder(make_faces(tmp_path / "lm", pairs=3, masks=False)), cfg)

    def test_load_splits_assigns_missing_splits(self, tmp_path):
        root = make_faces(tmp_path, pairs=40, splits=False)
        tr, va = load_splits(root, tiny_config())
        assert len(tr) > len(va) > 0 and len(tr) + len(va) <= 80
        groups_tr = {r.group for r in tr.records}
        assert groups_tr.isdisjoint({r.group for r in va.records})

    def test_load_splits_limit_keeps_a_subset(self, faces):
        tr, va = load_splits(faces, tiny_config(limit=10))
        assert len(tr) == 10 and len(va) == 8

    def test_load_splits_needs_a_dataset(self):
        with pytest.raises(ValueError, match="no dataset given"):
            load_splits([], tiny_config())


def make_faint_pair(root: Path, size: int = 40) -> Path:
    """One real and two fakes of it: the mask's top half changed by 1 grey level, its
    bottom half by 40; the second fake (another group) has no real to compare with.
    A real/fake pair in the val split."""
    im = np.full((size, size, 3), 100, np.uint8)
    m = np.zeros((size, size), np.uint8)
    m[10:26, 10:26] = 1
    fake = im.copy()
    fake[10:18, 10:26] += 1
    fake[18:26, 10:26] += 40
    with FolderWriter(root) as w:
        w.add(im, "real", group="g0", split="train")
        w.add(fake, "fake", mask=m, group="g0", split="train")
        w.add(fake, "fake", mask=m, group="g1", split="train")
        w.add(im, "real", group="g2", split="val")
        w.add(fake, "fake", mask=m, group="g2", split="val")
    return root


class TestLabelRules:
    def test_changed_masks_drop_pixels_that_barely_changed(self, tmp_path):
        data = load_folder(make_faint_pair(tmp_path))
        got = changed_masks(data, min_change=3).masks
        assert got[1, 10:18].sum() == 0 and got[1, 18:26, 10:26].all()  # faint half dropped
        assert torch.equal(got[2], data.masks[2])  # no real to compare with: unchanged
        assert torch.equal(got[0], data.masks[0])
        assert torch.equal(changed_masks(data, min_change=0).masks, data.masks)  # off

    def test_load_splits_applies_min_change(self, tmp_path):
        root = make_faint_pair(tmp_path)
        cfg = tiny_config(size=40, lambda_cls=0.7, lambda_seg={"fake": 0.3},
                          masks={"fake": "real"})
        tr, _ = load_splits(root, cfg)
        assert int(tr.masks[1].sum()) == 128
        tr, _ = load_splits(root, replace(cfg, min_change=0))
        assert int(tr.masks[1].sum()) == 256

    def test_crop_labels_relabel_only_exact_fakes_that_show_no_fake_centre(self):
        labels = torch.tensor([0, 1, 1, 1])
        exact = torch.tensor([False, True, True, False])
        centres = torch.zeros(4, 2, 2, dtype=torch.uint8)
        centres[2, 1, 1] = 1  # row 2's crop shows a fake pixel; rows 1 and 3 do not
        got = crop_labels(labels, exact, centres)
        assert got.tolist() == [0, 0, 1, 1]  # row 3 has no exact mask: keeps "fake"


class TestSchedule:
    def test_a_run_with_a_final_size_trains_and_records_it(self, faces, tmp_path):
        with pytest.raises(ValueError, match="cannot exceed size"):
            tiny_config(final_size=64, final_fraction=0.5)  # size is 48
        calls = []
        history = train(tiny_config(epochs=2, final_size=48, final_fraction=0.5), faces,
                        out=tmp_path / "run", callback=calls.append)
        assert len(history) == 2 and all(math.isfinite(r["loss"]) for r in history)
        assert read_config(tmp_path / "run" / "best")["train"]["final_size"] == 48

    def test_spent_budget_ends_annealed(self, faces, tmp_path):
        cut = train(tiny_config(max_cpu_minutes=0.0), faces, out=tmp_path / "run")
        assert cut[-1]["lr"] == pytest.approx(0.0, abs=1e-12)

    def test_run_config_records_the_sizes_used(self, faces, tmp_path):
        train(tiny_config(epochs=1, train_size=None), faces, out=tmp_path / "run")
        cfg = read_config(tmp_path / "run" / "best")
        assert cfg["train"]["train_size"] == 48 and cfg["train"]["eval_size"] == 48
        assert cfg["class_weights"] == [1.0, 1.0] and cfg["bf16"] in (True, False)


class TestInit:
    def test_init_copies_the_weights(self, faces, tmp_path):
        train(tiny_config(epochs=1), faces, out=tmp_path / "run")
        source, _ = load_checkpoint(tmp_path / "run" / "best")
        from minilocal.model import LocalFeatureNet
        model = LocalFeatureNet(seg_heads=["fake", "face"], widths=SMALL)
        _init_from(model, str(tmp_path / "run" / "best"))
        for k, v in source.state_dict().items():
            torch.testing.assert_close(model.state_dict()[k], v)

    def test_init_with_other_widths_is_a_clear_error(self, faces, tmp_path):
        train(tiny_config(epochs=1), faces, out=tmp_path / "run")
        cfg = tiny_config(epochs=1, widths=(4,) * 8, init=str(tmp_path / "run" / "best"))
        with pytest.raises(ValueError, match="architecture differs"):
            train(cfg, faces)


class TestTrain:
    def test_writes_checkpoints_and_history(self, faces, tmp_path):
        history = train(tiny_config(), faces, out=tmp_path / "run")
        assert [r["epoch"] for r in history] == [1, 2] and history[-1]["step"] == 6
        assert {"loss", "loss_cls", "loss_seg_fake", "loss_seg_face", "val_auc", "val_acc",
                "images_per_s", "seconds"} <= set(history[0])
        assert json.loads((tmp_path / "run" / "history.json").read_text()) == history
        assert len((tmp_path / "run" / "history.csv").read_text().splitlines()) == 3
        model, cfg = load_checkpoint(tmp_path / "run" / "best")
        assert model.head_names == ("fake", "face")
        assert cfg["train"]["masks"] == {"fake": "real", "face": "cvm"}
        assert read_config(tmp_path / "run" / "last")["state"]["epoch"] == 2

    def test_zero_lambda_head_is_not_built(self, faces, tmp_path):
        cfg = tiny_config(epochs=1, lambda_cls=0.7, lambda_seg={"fake": 0.3, "face": 0.0})
        train(cfg, faces, out=tmp_path / "run")
        assert load_checkpoint(tmp_path / "run" / "best")[0].head_names == ("fake",)

    def test_learns_an_easy_task(self, faces, tmp_path):
        cfg = tiny_config(epochs=6, lr=3e-3, batch_size=6, schedule="constant")
        history = train(cfg, faces, out=None)
        assert history[-1]["loss"] < history[0]["loss"]
        assert max(r["val_auc"] for r in history) >= 0.9

    def test_refuses_to_overwrite_a_run(self, faces, tmp_path):
        train(tiny_config(epochs=1), faces, out=tmp_path / "run")
        with pytest.raises(ValueError, match="already holds a run"):
            train(tiny_config(epochs=1), faces, out=tmp_path / "run")

    def test_train_size_larger_than_images_is_rejected(self, faces):
        tr, va = load_splits(faces, tiny_config())
        with pytest.raises(ValueError, match="train_size 64 is larger than the 48-px"):
            fit(nn.Identity(), tr, va, tiny_config(size=128, train_size=64))

    @pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
    def test_cuda_device_without_gpu_is_rejected(self, faces):
        tr, va = load_splits(faces, tiny_config())
        with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
            fit(nn.Identity(), tr, va, tiny_config(device="cuda"))

    @pytest.mark.parametrize("budget", ["max_minutes", "max_cpu_minutes"])
    def test_time_limit_stops_mid_epoch_and_resume_completes(self, faces, tmp_path, budget):
        cut = train(tiny_config(**{budget: 0.0}), faces, out=tmp_path / "run")
        assert len(cut) == 1 and cut[0]["complete"] is False and cut[0]["step"] == 1
        done = train(tiny_config(), faces, out=tmp_path / "run", resume=True)
        assert [r["epoch"] for r in done] == [1, 2] and all(r["complete"] for r in done)
        assert done[-1]["step"] == 6


class ConstantNet(nn.Module):
    """Any model returning Output trains; this one's logits ignore the image."""

    def __init__(self, nan_at_call: int | None = None):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(2))
        self.calls, self.nan_at_call = 0, nan_at_call

    def forward(self, images):
        self.calls += 1
        logits = self.bias.expand(images.shape[0], 2) + 0 * images.mean()
        if self.training and self.calls == self.nan_at_call:
            logits = logits * float("nan")
        return Output(logits, {})


class TestFitAnyModel:
    def test_trains_a_model_without_seg_heads(self, faces, tmp_path):
        tr, va = load_splits(faces, tiny_config())
        model = ConstantNet()
        cfg = tiny_config(lambda_cls=1.0, lambda_seg={}, masks={})
        history = fit(model, tr, va, cfg, out=tmp_path / "run")
        assert len(history) == 2 and model.bias.abs().sum() > 0
        assert read_config(tmp_path / "run" / "best")["model"] == {"class": "ConstantNet"}

    def test_early_stopping_when_val_auc_does_not_improve(self, faces):
        tr, va = load_splits(faces, tiny_config())
        cfg = tiny_config(lambda_cls=1.0, lambda_seg={}, masks={}, epochs=10, patience=2)
        history = fit(ConstantNet(), tr, va, cfg)
        assert len(history) == 3  # epoch 1 is the best (AUC 0.5); 2 and 3 are not better

    def test_nan_loss_raises_and_keeps_last_good_checkpoint(self, faces, tmp_path):
        tr, va = load_splits(faces, tiny_config())
        cfg = tiny_config(lambda_cls=1.0, lambda_seg={}, masks={}, checkpoint_every=1)
        msg = r"loss is nan at epoch 2 step 0 \(global step 3\), batch rows"
        with pytest.raises(RuntimeError, match=msg):
            fit(ConstantNet(nan_at_call=5), tr, va, cfg, out=tmp_path / "run")
        # calls: 3 train steps + 1 validation, then step 0 of epoch 2, then NaN
        state = read_config(tmp_path / "run" / "last")["state"]
        assert state["global_step"] == 3
        assert torch.isfinite(load_file(tmp_path / "run" / "last.safetensors")["bias"]).all()


CHILD = textwrap.dedent("""
    import os, signal, sys, torch
    torch.set_num_threads(1)
    sys.path.insert(0, {tests!r})
    from test_train import tiny_config
    from minilocal.train import train
    kill_after = int(sys.argv[2])
    def callback(info):
        if info["global_step"] == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
    train(tiny_config(epochs=3), {faces!r}, out=sys.argv[1], resume=sys.argv[3] == "resume",
          callback=callback)
""")


@pytest.mark.slow
def test_resume_after_sigkill_ends_with_the_same_weights(faces, tmp_path):
    """Kill a run with SIGKILL after step 5 (last checkpoint: step 4), resume, compare."""
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(tests=str(Path(__file__).parent), faces=str(faces)))
    run = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = subprocess.run([sys.executable, str(script), str(run), "5", "fresh"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert read_config(run / "last")["state"]["global_step"] == 4
    resumed = subprocess.run([sys.executable, str(script), str(run), "-1", "resume"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    reference = train(tiny_config(epochs=3), faces, out=tmp_path / "straight")
    a = load_file(tmp_path / "straight" / "last.safetensors")
    b = load_file(run / "last.safetensors")
    assert set(a) == set(b) and any(k.startswith("extra.optim.") for k in a)
    for key in a:  # weights, BatchNorm statistics and AdamW moments, bit for bit
        assert torch.equal(a[key], b[key]), key
    history = json.loads((run / "history.json").read_text())
    assert [r["loss"] for r in history] == [r["loss"] for r in reference]


class TestCli:
    def test_parse_pairs(self):
        assert parse_pairs("fake=0.3, face=0.2", "--lambda-seg", float) == {"fake": 0.3,
                                                                            "face": 0.2}

    def test_parse_pairs_rejects_a_bad_item(self):
        with pytest.raises(ValueError, match="bad item 'fake0.3'"):
            parse_pairs("fake0.3", "--lambda-seg", float)

    def test_lambda_cls_fills_the_single_head(self):
        assert resolve_lambdas(0.6, None, {}) == (0.6, {"fake": 0.4})
        assert resolve_lambdas(None, None, {}) == (0.5, {"fake": 0.3, "face": 0.2})  # recipe
        assert resolve_lambdas(None, "fake=0.3,face=0.2", {}) == (0.5, {"fake": 0.3,
                                                                        "face": 0.2})

    def test_lambda_cls_alone_is_ambiguous_with_two_heads(self):
        with pytest.raises(ValueError, match="give their weights with --lambda-seg"):
            resolve_lambdas(0.5, None, {"fake": "real", "face": "cvm"})

    def test_cli_trains(self, faces, tmp_path, capsys):
        rc = cli_main(["train", "--data", str(faces), "--out", str(tmp_path / "run"),
                       "--size", "48", "--train-size", "40", "--epochs", "1",
                       "--batch-size", "8", "--widths", "8,8,8,8,8,8,8,8",
                       "--lambda-seg", "fake=0.3,face=0.2", "--masks", "fake=real",
                       "--device", "cpu", "--quiet"])
        assert rc == 0 and "best val AUC" in capsys.readouterr().out
        assert read_config(tmp_path / "run" / "best")["train"]["masks"] == {
            "fake": "real", "face": "cvm"}

    @pytest.mark.parametrize("widths, match", [("8,8", "must list 8 widths"),
                                                ("8,a", "8 comma-separated integers")])
    def test_cli_reports_bad_widths(self, faces, tmp_path, capsys, widths, match):
        rc = cli_main(["train", "--data", str(faces), "--out", str(tmp_path / "run"),
                       "--widths", widths])
        assert rc == 2 and match in capsys.readouterr().err

    def test_cli_reports_bad_mask_kind(self, faces, tmp_path, capsys):
        rc = cli_main(["train", "--data", str(faces), "--out", str(tmp_path / "run"),
                       "--masks", "fake=hull"])
        assert rc == 2 and "mask kind 'hull'" in capsys.readouterr().err


# ---------------------------------------------------------------- RUN checked first; resume

def cli_train(faces, out, *more):
    """``minilocal train`` with the tiny settings of tiny_config(epochs=1)."""
    return cli_main(["train", "--data", str(faces), "--out", str(out), "--size", "48",
                     "--train-size", "40", "--epochs", "1", "--batch-size", "8",
                     "--widths", "8,8,8,8,8,8,8,8", "--lambda-seg", "fake=0.3,face=0.2",
                     "--masks", "fake=real", "--device", "cpu", "--patience", "0",
                     "--checkpoint-every", "2", "--quiet", *map(str, more)])


def files_of(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


@pytest.fixture
def no_loading(monkeypatch):
    """Fail the test if any image is loaded: the checks must come first."""
    def refuse(*args, **kwargs):
        raise AssertionError("data was loaded before the run directory was checked")

    monkeypatch.setattr("minilocal.train.load_splits", refuse)


@pytest.fixture(scope="module")
def done_run(faces, tmp_path_factory):
    """A finished 1-epoch run made by the CLI (copy it before changing it)."""
    out = tmp_path_factory.mktemp("done") / "run"
    assert cli_train(faces, out) == 0
    return out


def copy_run(done_run, tmp_path):
    import shutil

    return Path(shutil.copytree(done_run, tmp_path / "run"))


class TestRunDirectory:
    @pytest.mark.parametrize("target, phrase", [
        ("afile", "--out {p} is a file, expected a folder"),
        ("afile/run", "--out {p} cannot be created: {f} is a file"),
    ])
    def test_out_a_file_is_refused_before_loading(self, faces, tmp_path, capsys, no_loading,
                                                  target, phrase):
        (tmp_path / "afile").write_text("keep me")
        assert cli_train(faces, tmp_path / target) == 2
        err = capsys.readouterr().err
        assert phrase.format(p=tmp_path / target, f=tmp_path / "afile") in err, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert (tmp_path / "afile").read_text() == "keep me"

    def test_read_only_out_is_refused_before_loading(self, faces, tmp_path, capsys,
                                                     no_loading, monkeypatch):
        real_access, ro = os.access, str(tmp_path / "ro")
        monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if (
            os.path.abspath(p) == ro and mode & os.W_OK) else real_access(p, mode, *a, **k))
        (tmp_path / "ro").mkdir()
        assert cli_train(faces, tmp_path / "ro" / "run") == 2
        assert "not writable" in capsys.readouterr().err
        assert not (tmp_path / "ro" / "run").exists()

    @pytest.mark.parametrize("keep", ["last.json", "last.safetensors", "both"])
    def test_a_run_needs_resume(self, faces, done_run, tmp_path, capsys, no_loading, keep):
        run = copy_run(done_run, tmp_path)
        if keep != "both":  # half a checkpoint is still a run not to overwrite
            next(p for p in run.glob("last.*") if p.name != keep).unlink()
        before = files_of(run)
        assert cli_train(faces, run) == 2
        err = capsys.readouterr().err
        assert f"--out {run} already holds a run (last.*); continue it with --resume" in err
        assert files_of(run) == before

    def test_the_folder_is_made_at_the_start(self, faces, tmp_path):
        seen = []
        train(tiny_config(epochs=1, checkpoint_every=0), faces, out=tmp_path / "new",
              callback=lambda info: seen.append((tmp_path / "new").is_dir()))
        assert seen and seen[0] is True  # before any checkpoint


class TestResumeRefusesChanges:
    @pytest.mark.parametrize("flags, phrases", [
        (["--lr", "0.002"], ["lr 0.001 -> 0.002"]),
        (["--lambda-seg", "fake=0.5", "--lambda-cls", "0.5"],
         ['lambda_seg {"fake": 0.3, "face": 0.2} -> {"fake": 0.5}',
          'masks {"fake": "real", "face": "cvm"} -> {"fake": "real"}']),
        (["--seed", "3", "--jpeg-p", "0"], ["seed 0 -> 3", "jpeg_p 0.3 -> 0.0"]),
        (["--train-size", "36"], ["train_size 40 -> 36"]),
        (["--widths", "4,4,4,4,4,4,4,4"], ["widths [8, 8, 8, 8, 8, 8, 8, 8] -> [4, 4, 4"]),
    ])
    def test_changed_settings_are_named(self, faces, done_run, tmp_path, capsys, no_loading,
                                        flags, phrases):
        run = copy_run(done_run, tmp_path)
        before = files_of(run)
        argv = ["--epochs", "2", "--resume", *flags]
        assert cli_train(faces, run, *argv) == 2
        err = capsys.readouterr().err
        assert "--resume: " in err and "was trained with other settings" in err, err
        for phrase in phrases:
            assert phrase in err, err
        assert "lambda_cls 0.5 -> 0.5" not in err  # equal values are not listed
        assert "epochs" not in err.split("(only")[0]  # epochs may change
        assert len(err.strip().splitlines()) == 1 and files_of(run) == before

    def test_other_data_is_refused(self, faces, done_run, tmp_path, capsys, no_loading):
        run = copy_run(done_run, tmp_path)
        other = make_faces(tmp_path / "other", pairs=8, val_from=6)
        rc = cli_main(["train", "--data", str(other), "--out", str(run), "--resume",
                       "--size", "48", "--train-size", "40", "--widths", "8,8,8,8,8,8,8,8",
                       "--lambda-seg", "fake=0.3,face=0.2", "--masks", "fake=real"])
        err = capsys.readouterr().err
        assert rc == 2 and f"data ['{faces}'] -> ['{other}']" in err, err

    def test_allowed_changes_resume(self, faces, done_run, tmp_path, capsys):
        run = copy_run(done_run, tmp_path)
        assert cli_train(faces, run, "--resume", "--epochs", "2", "--patience", "5",
                         "--checkpoint-every", "3", "--max-minutes", "60") == 0
        history = json.loads((run / "history.json").read_text())
        assert [r["epoch"] for r in history] == [1, 2]
        saved = read_config(run / "last")["train"]
        assert saved["epochs"] == 2 and saved["patience"] == 5 and saved["lr"] == 1e-3

    def test_the_resolved_train_size_is_compared(self, faces, tmp_path):
        train(tiny_config(epochs=1, train_size=None), faces, out=tmp_path / "run")
        assert read_config(tmp_path / "run" / "last")["train"]["train_size"] == 48
        with pytest.raises(ValueError, match="train_size 48 -> 40"):
            train(tiny_config(epochs=2), faces, out=tmp_path / "run", resume=True)
        history = train(tiny_config(epochs=2, train_size=None), faces,
                        out=tmp_path / "run", resume=True)  # None resolves to 48 again
        assert [r["epoch"] for r in history] == [1, 2]

    def test_fit_checks_the_settings_too(self, faces, done_run, tmp_path):
        run = copy_run(done_run, tmp_path)
        tr, va = load_splits(faces, tiny_config())
        model = LocalFeatureNet(seg_heads=("fake", "face"), widths=SMALL)
        with pytest.raises(ValueError, match="lr 0.001 -> 0.003"):
            fit(model, tr, va, tiny_config(epochs=2, lr=3e-3), out=run, resume=True)

    def test_a_model_that_does_not_fit_is_a_clear_error(self, faces, done_run, tmp_path):
        run = copy_run(done_run, tmp_path)
        tr, va = load_splits(faces, tiny_config())
        model = LocalFeatureNet(seg_heads=("fake", "face"), widths=(4,) * 8)
        with pytest.raises(ValueError, match="last does not fit this model"):
            fit(model, tr, va, tiny_config(epochs=2), out=run, resume=True)

    def test_a_pair_from_two_saves_is_refused(self, faces, done_run, tmp_path):
        run = copy_run(done_run, tmp_path)  # as if killed between the two renames
        (run / "last.json").write_text((run / "last.json").read_text() + "\n")
        with pytest.raises(ValueError, match="weights and config are from different saves"):
            train(tiny_config(epochs=2), faces, out=run, resume=True)

    def test_fields_added_later_count_as_their_defaults(self):
        saved = json.loads(json.dumps(asdict(tiny_config()), default=str))
        del saved["final_size"], saved["final_fraction"]  # a run saved before they existed
        assert resume_differences(saved, tiny_config()) == []
        assert resume_differences(saved, tiny_config(final_size=48, final_fraction=0.5)) == [
            "final_size null -> 48", "final_fraction 0.0 -> 0.5"]

    def test_unresolved_sizes_wait_for_the_data(self):
        saved = json.loads(json.dumps(asdict(tiny_config(train_size=40)), default=str))
        assert resume_differences(saved, tiny_config(train_size=None), resolved=False) == []
        assert resume_differences(saved, tiny_config(train_size=None)) == [
            "train_size 40 -> null"]
