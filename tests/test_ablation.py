"""Tests of minilocal.ablation: grids, paired statistics, data, a tiny real grid and the CLI.

Tables, plots and claim verdicts: test_ablation_tables.py, test_ablation_plots.py and
test_ablation_claims.py (they import ``_row`` from here)."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from scipy import stats as sps

from minilocal import ablation as A
from minilocal.ablation.data import load_setting, make_demo_sources, setting_sources
from minilocal.cli import main


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_sources(tmp_path_factory.mktemp("demo"), n=24, size=64, seed=0)


def _row(variant, seed, acc, data="synth_c23", method="all", slice_="all", **kw):
    return {"key": f"{data}|{variant}|{seed}", "data": data, "method": method,
            "variant": variant, "seed": seed, "slice": slice_, "status": "ok", "reason": "",
            "test_acc_cls": acc, "test_auc_cls": acc, "test_acc_seg": math.nan,
            "test_auc_seg": math.nan, "val_auc": 0.5, "seconds": 1.0, **kw}


# ------------------------------------------------------------------ statistics

def test_paired_comparison_known_inputs():
    out = A.paired_comparison([0.5, 0.6, 0.7, 0.8], [0.6, 0.6, 0.8, 0.9])
    assert (out["pairs"], out["wins"], out["losses"], out["ties"]) == (4, 3, 0, 1)
    assert out["mean_diff"] == pytest.approx(0.075)
    assert out["std_diff"] == pytest.approx(0.05)
    assert out["sign_p"] == pytest.approx(0.25)  # 3 of 3 untied: 2 * 0.5 ** 3
    t = 0.075 / (0.05 / 2)  # mean / (sd / sqrt(4)) = 3, df = 3
    assert out["t_p"] == pytest.approx(2 * sps.t.sf(t, 3))


def test_paired_comparison_all_ties_has_no_t_test():
    out = A.paired_comparison([0.5, 0.5], [0.5, 0.5])
    assert out["sign_p"] == 1.0 and math.isnan(out["t_p"]) and out["ties"] == 2


def test_paired_comparison_rejects_unpaired():
    with pytest.raises(ValueError, match="paired 1-D"):
        A.paired_comparison([1, 2], [1])
    with pytest.raises(ValueError, match="no pairs"):
        A.paired_comparison([], [])


def test_compare_variants_pairs_by_data_and_seed():
    rows = [_row("lambda_seg=0", s, 0.6) for s in range(3)]
    rows += [_row("lambda_seg=0.3", s, 0.7) for s in range(3)]
    rows += [_row("lambda_seg=0.3", 9, 0.9)]  # no baseline twin: unpaired
    rows += [_row("lambda_seg=0", 0, 0.9, data="synth_c40")]  # other data: unpaired
    out = A.compare_variants(rows, "lambda_seg=0")
    assert out["pairs"] == 3 and out["wins"] == 3
    assert out["mean_diff"] == pytest.approx(0.1)


def test_aggregate_mean_and_sample_std():
    rows = [_row("v", s, acc) for s, acc in enumerate((0.5, 0.7, 0.9))]
    rows.append({**_row("v", 3, 0.1), "status": "skipped"})
    (agg,) = A.aggregate(rows)
    assert agg["n"] == 3
    assert agg["test_acc_cls_mean"] == pytest.approx(0.7)
    assert agg["test_acc_cls_std"] == pytest.approx(0.2)
    assert math.isnan(agg["test_acc_seg_mean"])


def test_format_mean_std():
    assert A.format_mean_std(0.8734, 0.0123, 3) == "87.3 +- 1.2 (3)"
    assert A.format_mean_std(math.nan, 0.0, 3) == "-"
    assert A.format_mean_std(0.5, math.nan, 1) == "50.0 (1)"


# ------------------------------------------------------------------ grids

def test_quick_grid_sizes_and_shared_runs():
    t1, t3 = A.grid("1", "quick", 3), A.grid("3", "quick", 3)
    assert len(t1) == 4 * 3 * 3  # (c23, c40, FF++, DFDC) x lambdas {0, .3, .6} x seeds
    assert len(A.grid("2", "quick", 3)) == 5 * 3  # lambda 0, OM .3/.6, CVM .3/.6
    assert len(t3) == (7 + 4) * 3
    shared = {c.key for c in t1} & {c.key for c in t3}
    assert len(shared) == 4 * 3  # cases 1, 2 (synth) and 1, 3 (DFDC) are Table 1 runs
    dfdc = [c for c in t1 if c.data == "dfdc" and c.lambda_seg]
    assert {dict(c.masks)["fake"] for c in dfdc} == {"cvm"}
    assert len(A.grid("fig3a", "quick", 3)[0].sizes) == 6


def test_long_grid_is_table1_at_c23_with_more_epochs():
    cells = A.grid("1", "long", 3)
    assert [(c.data, dict(c.lambda_seg)) for c in cells[::3]] == [
        ("synth_c23", {}), ("synth_c23", {"fake": 0.3})]
    assert A.BUDGETS["long"].epochs == 3 * A.BUDGETS["quick"].epochs
    assert A.BUDGETS["long"].max_train == A.BUDGETS["quick"].max_train
    t3 = A.grid("3", "long", 3)
    assert [c.variant for c in t3[::3]] == ["case 1", "case 2", "case 3"]
    new = {c.key for c in t3} - {c.key for c in cells}
    assert len(new) == 3 and all("fake=0.3:cvm" in k for k in new)  # only case 3 is new


def test_full_grid_keeps_the_whole_lambda_set():
    t1 = A.grid("1", "full", 3)
    assert {dict(c.lambda_seg).get("fake", 0) for c in t1} == set(A.paper.PAPER_LAMBDAS)
    assert {c.method for c in t1} == {"all", "faceswap", "partswap", "sbi"}


def test_cell_lambda_cls_completes_to_one():
    c = A.Cell.make("synth_c23", "all", "x", {"fake": 0.15, "face": 0.15},
                    {"fake": "real", "face": "cvm"}, 0)
    assert c.lambda_cls == pytest.approx(0.7)
    assert "face=0.15:cvm,fake=0.15:real" in c.key


def test_case_lambdas_split_the_weight_over_heads():
    assert A.case_lambdas(1) == ({}, {})
    assert A.case_lambdas(6) == ({"face": 0.15, "fake": 0.15}, {"face": "cvm", "fake": "cvm"})
    with pytest.raises(ValueError, match="case must be one of"):
        A.case_lambdas(8)


@pytest.mark.parametrize("args, match", [(("5", "quick", 3), "unknown table"),
                                         (("1", "huge", 3), "unknown budget"),
                                         (("1", "quick", 0), "seeds must be")])
def test_grid_rejects_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        A.grid(*args)


# ------------------------------------------------------------------ data

def test_load_setting_caps_and_balances(demo):
    train, val, test = load_setting("synth_c23", "all", demo, 48)
    assert train.images.shape[1:] == (3, 48, 48) and train.images.dtype == torch.uint8
    for part in (train, val, test):  # 3 fakes per real on disk: as many fakes as reals
        assert 2 * int(part.labels.sum()) == len(part)
    assert not {r.group for r in train.records} & {r.group for r in test.records}
    capped, _, _ = load_setting("synth_c23", "all", demo, 48, (6, None, None))
    assert 0 < len(capped) <= 6
    assert not {r.group for r in train.records} & {r.group for r in test.records}
    _, _, sbi = load_setting("synth_c23", "sbi", demo, 48)
    assert {r.method for r in sbi.records if r.label == "fake"} == {"sbi"}
    every, val2, test2 = load_setting("synth_c23", "all", demo, 48, balance_train=False)
    assert int(every.labels.sum()) == 3 * (len(every) - int(every.labels.sum()))  # 3:1
    assert len(val2) == len(val) and len(test2) == len(test)  # val and test stay 1:1


def test_load_setting_rejects_unknown_setting_and_method(demo):
    with pytest.raises(ValueError, match="unknown data setting"):
        setting_sources("celebdf")
    with pytest.raises(ValueError, match="no fakes of method"):
        load_setting("synth_c23", "Deepfakes", demo, 48)


# ------------------------------------------------------------------ tiny grid end to end

def test_tiny_grid_runs_resumes_and_writes_tables(demo, tmp_path):
    cells = A.grid("1", "tiny", 2)  # 2 cells (lambda_seg 0 and 0.3) x 2 seeds
    assert len(cells) == 4
    ran = []
    rows = A.run_grid(cells, tmp_path, "tiny", data=demo, on_run=lambda c, r: ran.append(c))
    assert len(ran) == 4
    assert {r["status"] for r in rows} == {"ok"}
    assert {r["slice"] for r in rows} == {"all", "faceswap", "partswap", "sbi"}
    for r in rows:
        assert 0 <= r["test_acc_cls"] <= 1 and 0 <= r["val_auc"] <= 1 and r["seconds"] >= 0
        assert (r["lambda_cls"] == 1) == math.isnan(r["test_acc_seg"])  # no head, no seg
    with open(tmp_path / "runs.csv", newline="") as f:
        assert csv.DictReader(f).fieldnames == A.RESULT_COLUMNS
    again = A.run_grid(cells, tmp_path, "tiny", data=demo,
                       on_run=lambda c, r: ran.append(c))
    assert len(ran) == 4 and len(again) == len(rows)  # resumed: nothing retrained
    paths = A.write_table(tmp_path, "1", rows, "tiny", 2)
    assert all(p.is_file() for p in paths.values())
    md = paths["md"].read_text()
    assert "| lambda_seg | synth c23 train all |" in md
    assert "paper all-methods c23 DF" in md and "94.54" in md  # paper's base case, c23 DF
    assert "## Verdict" in md and "(1) lambda_seg > 0 beats" in md
    loaded = A.load_results(tmp_path)
    assert list(loaded) == ["1"] and len(loaded["1"]) == len(rows)


def test_cpu_budget_is_the_full_network_on_all_data_for_a_cpu_time(demo, tmp_path):
    cpu = A.BUDGETS["cpu"]
    assert cpu.widths is None and cpu.max_train is None and cpu.cpu_minutes > 0
    t1 = A.grid("1", "cpu", 5)
    assert {c.data for c in t1} == {"synth_c23", "dfdc"} and len(t1) == 2 * 3 * 5
    assert [c.variant for c in A.grid("3", "cpu", 1)[:4]] == [f"case {k}" for k in (1, 2, 3, 6)]
    # the CPU time reaches the trainer: a spent budget stops after one step, annealed
    from dataclasses import replace
    spent = replace(A.BUDGETS["tiny"], name="tiny_cpu", epochs=50, cpu_minutes=0.0)
    cells = A.grid("1", "tiny", 1)[:1]
    rows = A.run_grid(cells, tmp_path, spent, data=demo)
    assert rows[0]["status"] == "ok" and rows[0]["epochs_run"] == 1
    assert "CPU-minutes a run" in spent.describe()


def test_missing_source_gives_a_skipped_row(demo, tmp_path):
    cells = [A.Cell.make("dfdc", "all", "case 1", {}, {}, 0)]
    rows = A.run_grid(cells, tmp_path, "tiny", data={**demo, "dfdc_faces": tmp_path / "no"})
    assert rows[0]["status"] == "skipped" and "neither metadata.csv" in rows[0]["reason"]


# ------------------------------------------------------------------ CLI

def test_cli_dry_run_lists_runs(tmp_path, capsys):
    assert main(["ablate", "--table", "3", "--budget", "tiny", "--seeds", "2", "--out",
                 str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "table 3: 14 runs" in out and "synth_c23|all|cls=0.7|seg=face=0.3:cvm|seed=1" in out


def test_cli_rejects_bad_data_override(tmp_path, capsys):
    assert main(["ablate", "--table", "1", "--budget", "tiny", "--out", str(tmp_path),
                 "--data", "synth_c23"]) == 2
    assert "--data must look like" in capsys.readouterr().err


def test_gan_faces_are_read_source_matched(tmp_path, monkeypatch):
    from minilocal.ablation.data import GAN_MATCHED, resolve_sources

    monkeypatch.setenv("MINILOCAL_BUILD", str(tmp_path))
    paths = resolve_sources(tmp_path / "out", synth_n=4)
    assert paths["gan_faces"] == tmp_path / GAN_MATCHED
    with pytest.raises(FileNotFoundError, match="--kind gan_faces --match lfw"):
        resolve_sources(tmp_path / "out", synth_n=4, needed=("gan_faces",))
    assert setting_sources("gan_lfw_c23")[0] == [("gan_faces", "fake"), ("lfw_faces", "real")]


def test_cli_setting_filter_and_seed_major_order(tmp_path, capsys):
    assert main(["ablate", "--table", "1", "--budget", "cpu", "--seeds", "2", "--out",
                 str(tmp_path), "--setting", "dfdc", "--dry-run"]) == 0
    keys = [ln.strip() for ln in capsys.readouterr().out.splitlines() if "|" in ln]
    assert len(keys) == 3 * 2 and all(k.startswith("dfdc|") for k in keys)
    assert [k.endswith("seed=0") for k in keys] == [True] * 3 + [False] * 3  # paired first
    assert main(["ablate", "--table", "1", "--budget", "tiny", "--out", str(tmp_path),
                 "--setting", "celebdf", "--dry-run"]) == 2
    assert "no data setting celebdf" in capsys.readouterr().err


def test_cli_report_writes_the_tables_of_a_grid_stopped_part_way(demo, tmp_path, capsys):
    out, rep = tmp_path / "out", tmp_path / "rep"
    args = ["ablate", "--table", "1", "--budget", "tiny", "--seeds", "2", "--out", str(out),
            "--report", str(rep)]
    assert main(args) == 2 and "no runs of table 1" in capsys.readouterr().err
    A.run_grid(A.grid("1", "tiny", 2)[:1], out, "tiny", data=demo)  # 1 of the 4 runs
    assert main(args) == 0
    assert "1 of 4 runs" in capsys.readouterr().out
    assert (rep / "table1.md").is_file() and not (out / "table1.md").exists()
    assert len({r["key"] for r in A.load_results(rep)["1"]}) == 1
    assert len(A.read_results(out)) == len(A.load_results(rep)["1"])  # nothing trained
