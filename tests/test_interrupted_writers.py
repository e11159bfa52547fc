"""Interrupted writers (issue 12): ``preprocess`` and ``synth`` killed with SIGKILL midway
leave a folder marked incomplete; train and evaluate warn about it; rerunning the same
command finishes it with the same result as a run that was never interrupted.

The kill is a real ``SIGKILL`` of a ``minilocal`` subprocess, sent by the process to itself
at a chosen point (the K-th PNG it starts writing, after the temp file is on disk and before
its rename), so the cases are exact and repeatable.
"""

import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from minilocal import status
from minilocal.checkpoint import save_checkpoint
from minilocal.evaluate import load_eval_set
from minilocal.folder import TMP_SUFFIX, FolderWriter, read_records
from minilocal.model import LocalFeatureNet
from minilocal.recipe import TrainConfig
from minilocal.train_data import load_splits
from test_synth import SIZE, make_face

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import os, signal, sys
    import cv2
    import minilocal.folder as folder
    kill_at, calls, write_png = int(sys.argv[1]), [0], folder._write_png
    def killing_write_png(path, array):
        calls[0] += 1
        if calls[0] == kill_at:  # the temp file is written, the rename never happens
            cv2.imwrite(str(path.with_name(path.stem + folder.TMP_SUFFIX)), array)
            os.kill(os.getpid(), signal.SIGKILL)
        write_png(path, array)
    folder._write_png = killing_write_png
    from minilocal.cli import main
    sys.exit(main(sys.argv[2:]))
""")


def minilocal(tmp_path, *argv, kill_at: int = 0) -> subprocess.CompletedProcess:
    """Run ``minilocal ARGV`` in a subprocess; SIGKILL it at its ``kill_at``-th PNG (0: never)."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(script), str(kill_at), *map(str, argv)],
                          env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)


def snapshot(folder: Path) -> dict:
    """{relative path: sha256} of the dataset files (not status.json or the timed summary)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in (status.STATUS, "synth.json")}


def assert_interrupted(out: Path, command: str, run: subprocess.CompletedProcess) -> None:
    assert run.returncode == -signal.SIGKILL, run.stderr
    marker = status.read_status(out)
    assert marker["complete"] is False and marker["command"] == command
    assert not status.is_complete(out)
    assert list(out.rglob("*" + TMP_SUFFIX)), "the kill should leave a half-written PNG"


# ---------------------------------------------------------------- synth

@pytest.fixture(scope="module")
def reals(tmp_path_factory):
    """A folder-format dataset of 6 drawn faces of 3 people, with landmarks, and a
    seventh whose image is corrupt (a reject, written again by no resume)."""
    root = tmp_path_factory.mktemp("synth") / "reals"
    with FolderWriter(root) as w:
        for i in range(7):
            image, pts = make_face(i)
            w.add(image, "real", landmarks=pts, group=f"person{i // 2}", source=f"p{i}.png")
    (root / "images" / "000006.png").write_bytes(b"\x89PNG\r\n\x1a\n corrupt")
    return root


SYNTH = ("--n", 5, "--method", "all", "--seed", 3, "--size", SIZE, "--no-progress", "--json")


@pytest.fixture(scope="module")
def synth_reference(reals):
    """OUT of an uninterrupted synth run: (snapshot, summary)."""
    out = reals.parent / "reference"
    run = minilocal(reals.parent, "synth", reals, out, *SYNTH)
    assert run.returncode == 0, run.stderr
    assert status.is_complete(out) and status.read_status(out)["complete"] is True
    return snapshot(out), json.loads(run.stdout)


def comparable(summary: dict) -> dict:
    return {k: v for k, v in summary.items()
            if k not in ("out", "seconds", "fakes_per_s", "resumed")}


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [1, 7, 26])  # the first PNG, mid target 1, mid target 3
def test_synth_killed_then_rerun_equals_an_uninterrupted_run(reals, synth_reference,
                                                              tmp_path, kill_at):
    out = tmp_path / "fakes"
    assert_interrupted(out, "synth", minilocal(tmp_path, "synth", reals, out, *SYNTH,
                                               kill_at=kill_at))
    rerun = minilocal(tmp_path, "synth", reals, out, *SYNTH)  # the same command
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    reference, ref_summary = synth_reference
    assert summary["resumed"] is True and status.is_complete(out)
    assert ref_summary["rejected"] == 1 and summary["rejected"] == 1  # p6.png, once
    assert snapshot(out) == reference  # metadata.csv, rejects.csv, every image and mask
    assert comparable(summary) == comparable(ref_summary)


def test_synth_resume_with_other_settings_is_refused(reals, tmp_path):
    out = tmp_path / "fakes"
    minilocal(tmp_path, "synth", reals, out, *SYNTH, kill_at=7)
    before = snapshot(out)
    run = minilocal(tmp_path, "synth", reals, out, *SYNTH[:4], "--seed", 4, *SYNTH[6:])
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "was built with other settings (seed 3 -> 4)" in run.stderr, run.stderr
    assert "--overwrite" in run.stderr and snapshot(out) == before


def test_synth_overwrite_starts_an_interrupted_run_again(reals, synth_reference, tmp_path):
    out = tmp_path / "fakes"
    minilocal(tmp_path, "synth", reals, out, *SYNTH, kill_at=7)
    run = minilocal(tmp_path, "synth", reals, out, *SYNTH, "--overwrite")
    assert run.returncode == 0 and json.loads(run.stdout)["resumed"] is False
    assert snapshot(out) == synth_reference[0]


def test_synth_still_refuses_a_complete_or_legacy_dataset(reals, tmp_path, capsys):
    from minilocal.cli import main

    legacy = tmp_path / "legacy"  # written without status.json
    shutil.copytree(reals, legacy)
    rc = main(["synth", str(reals), str(legacy), "--no-progress", "--size", str(SIZE)])
    assert rc == 2 and "already holds a dataset" in capsys.readouterr().err


# ---------------------------------------------------------------- train and evaluate warn

@pytest.fixture(scope="module")
def interrupted(reals):
    """A synth OUT killed at its 7th PNG (a real and a fake of target 0 written)."""
    out = reals.parent / "interrupted"
    run = minilocal(reals.parent, "synth", reals, out, *SYNTH, kill_at=7)
    assert_interrupted(out, "synth", run)
    return out


def test_evaluate_warns_on_an_incomplete_dataset(interrupted, caplog):
    with caplog.at_level(logging.WARNING, "minilocal"):
        load_eval_set(interrupted, split="all", size=SIZE)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lines) == 1, lines
    assert f"{interrupted} is incomplete (minilocal synth did not finish)" in lines[0]
    assert "finish it with: minilocal synth " in lines[0] and str(interrupted) in lines[0]


def test_train_warns_on_an_incomplete_dataset(interrupted, caplog):
    config = TrainConfig(size=SIZE, lambda_cls=0.7, lambda_seg={"fake": 0.3},
                         masks={"fake": "real"}, device="cpu")
    with caplog.at_level(logging.WARNING, "minilocal"), pytest.raises(ValueError):
        load_splits(interrupted, config)  # 1 real, 1 fake: too few to train, warned first
    assert any(f"{interrupted} is incomplete" in r.getMessage() and "--seed 3" in
               r.getMessage() for r in caplog.records)


def test_evaluate_cli_warns_in_one_line(interrupted, tmp_path):
    net = LocalFeatureNet(widths=(4,) * 8)
    ckpt = save_checkpoint(tmp_path / "best", net.eval())
    run = minilocal(tmp_path, "evaluate", "--data", interrupted, "--split", "all",
                    "--checkpoint", ckpt, "--sizes", SIZE, "--image-size", SIZE, "--json")
    warnings = [line for line in run.stderr.splitlines() if "incomplete" in line]
    assert len(warnings) == 1 and warnings[0].startswith("WARNING"), run.stderr
    assert str(interrupted) in warnings[0] and "minilocal synth" in warnings[0]


def test_complete_and_legacy_datasets_do_not_warn(synth_reference, reals, tmp_path, caplog):
    legacy = Path(shutil.copytree(reals.parent / "reference", tmp_path / "legacy"))
    (legacy / status.STATUS).unlink()  # as built before the marker existed
    with caplog.at_level(logging.WARNING, "minilocal"):
        load_eval_set(reals.parent / "reference", split="all", size=SIZE)
        load_eval_set(legacy, split="all", size=SIZE)
    assert not [r for r in caplog.records if "incomplete" in r.getMessage()]
    assert status.read_status(legacy) is None and status.is_complete(legacy)


@pytest.mark.parametrize("text, phrase", [("{", "is not valid JSON"),
                                          ('{"complete": "yes"}', "no boolean 'complete'"),
                                          ("[1]", "no boolean 'complete'")])
def test_a_broken_marker_is_a_clear_error(tmp_path, text, phrase):
    (tmp_path / status.STATUS).write_text(text)
    with pytest.raises(ValueError, match=phrase):
        status.is_complete(tmp_path)


# ---------------------------------------------------------------- preprocess

@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """real/ and fake/ photos: 3 faces each (one LFW photo, flipped and shifted) and an
    undecodable file (a reject)."""
    from minilocal.paths import find_dataset

    try:
        photo = cv2.imread(str(find_dataset("lfw_faces") / "Aaron_Peirsol" /
                               "Aaron_Peirsol_0001.jpg"))
    except FileNotFoundError:
        pytest.skip("shared dataset lfw_faces not available")
    root = tmp_path_factory.mktemp("pre") / "raw"
    for label, shift in (("real", 0), ("fake", 9)):
        (root / label).mkdir(parents=True)
        for i, image in enumerate([photo, photo[:, ::-1], np.roll(photo, 12 + shift, 1)]):
            cv2.imwrite(str(root / label / f"{label}{i}.png"), np.roll(image, shift, 0))
        (root / label / "broken.jpg").write_bytes(b"not a jpeg" * 10)
    return root


PRE = ("--size", 64, "--no-progress", "--json")


@pytest.fixture(scope="module")
def pre_reference(raw):
    out = raw.parent / "reference"
    run = minilocal(raw.parent, "preprocess", raw, out, *PRE)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["written"] == 6 and status.is_complete(out)
    return snapshot(out)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [1, 4])
def test_preprocess_killed_then_rerun_equals_an_uninterrupted_run(raw, pre_reference,
                                                                   tmp_path, kill_at):
    out = tmp_path / "faces"
    assert_interrupted(out, "preprocess", minilocal(tmp_path, "preprocess", raw, out, *PRE,
                                                    kill_at=kill_at))
    assert all(not r.split for r in read_records(out))  # splits come only at the end
    rerun = minilocal(tmp_path, "preprocess", raw, out, *PRE)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["skipped"] >= kill_at - 1
    assert status.is_complete(out) and snapshot(out) == pre_reference


def test_preprocess_resume_with_another_size_is_refused(raw, pre_reference, tmp_path):
    out = tmp_path / "faces"
    shutil.copytree(raw.parent / "reference", out)
    before = snapshot(out)
    run = minilocal(tmp_path, "preprocess", raw, out, "--size", 48, "--no-progress")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "was built with other settings (size 64 -> 48)" in run.stderr, run.stderr
    assert snapshot(out) == before
