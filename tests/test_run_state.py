"""Tests for minilocal/run_state.py: where a run stands, how far it has got, its history."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

from minilocal.recipe import TrainConfig
from minilocal.run_state import RunProgress, RunState, write_history


def test_saved_state_keeps_completed_epochs_and_ignores_unknown_keys():
    saved = {"epoch": 2, "step": 5, "global_step": 25, "best_auc": 0.7, "future_key": 1,
             "history": [{"epoch": 1}, {"epoch": 2}, {"epoch": 3}]}  # epoch 3 was cut
    st = RunState.saved(saved)
    assert (st.epoch, st.step, st.global_step, st.best_auc) == (2, 5, 25, 0.7)
    assert [row["epoch"] for row in st.history] == [1, 2]


def test_progress_is_steps_done_without_a_time_limit():
    st = RunState(global_step=30)
    clock = RunProgress(TrainConfig(), st, total_steps=120)
    assert clock() == 0.25 and not clock.limited
    assert st.wall_s >= 0 and st.cpu_s >= 0  # the time used is recorded in the state


def test_progress_follows_a_spent_time_budget_even_early():
    st = RunState(global_step=1)
    spent = RunProgress(replace(TrainConfig(), max_cpu_minutes=0.0), st, total_steps=1000)
    assert spent.limited and spent() == 1.0  # a spent budget: the schedule is at its end
    resumed = RunState(global_step=1, wall_s=30.0)  # half of a 1-minute budget used before
    half = RunProgress(replace(TrainConfig(), max_minutes=1.0), resumed, total_steps=1000)
    assert 0.5 <= half() < 0.6


def test_write_history_writes_json_and_csv_with_every_key(tmp_path):
    rows = [{"epoch": 1, "loss": 0.7}, {"epoch": 2, "loss": 0.6, "val_auc": 0.8}]
    write_history(tmp_path, rows)
    assert json.loads((tmp_path / "history.json").read_text()) == rows
    with open(tmp_path / "history.csv", newline="") as f:
        read = list(csv.DictReader(f))
    assert list(read[0]) == ["epoch", "loss", "val_auc"] and read[1]["val_auc"] == "0.8"
