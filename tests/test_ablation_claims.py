"""Tests for minilocal/ablation/claims.py: the verdicts of the paper's claims."""

from __future__ import annotations

from minilocal import ablation as A
from test_ablation import _row


def test_claim_one_verdict_follows_the_sign_test():
    better = [_row("lambda_seg=0", s, 0.8) for s in range(6)]
    better += [_row("lambda_seg=0.3", s, 0.9) for s in range(6)]
    (v,) = A.claim_verdicts({"1": better})
    assert v["verdict"] == "held" and "6 of 6 pairs" in v["evidence"]
    worse = [{**r, "test_acc_cls": 0.7} if r["variant"] != "lambda_seg=0" else r
             for r in better]
    assert A.claim_verdicts({"1": worse})[0]["verdict"] == "contradicted"
    mixed = better[:6] + [{**r, "test_acc_cls": 0.7 if r["seed"] % 2 else 0.9}
                          for r in better[6:]]
    assert A.claim_verdicts({"1": mixed})[0]["verdict"].startswith("not shown")


def test_claims_are_not_testable_when_models_are_near_chance():
    rows = [_row("lambda_seg=0", s, 0.50) for s in range(6)]
    rows += [_row("lambda_seg=0.3", s, 0.55) for s in range(6)]  # 6 of 6 wins, AUC ~0.5
    (v,) = A.claim_verdicts({"1": rows})
    assert v["verdict"].startswith("not testable here") and "6 of 6 pairs" in v["evidence"]


def test_near_chance_settings_are_left_out_of_a_claim():
    learned = [_row("lambda_seg=0", s, 0.70, data="dfdc") for s in range(6)]
    learned += [_row("lambda_seg=0.3", s, 0.80, data="dfdc") for s in range(6)]
    chance = [_row("lambda_seg=0", s, 0.52) for s in range(6)]  # synth c23, AUC ~0.5
    chance += [_row("lambda_seg=0.3", s, 0.40) for s in range(6)]  # would contradict
    (v,) = A.claim_verdicts({"1": learned + chance})
    assert v["verdict"] == "held (tested on DFDC only)" and "6 of 6 pairs" in v["evidence"]
    assert "Not testable" in v["evidence"] and "synth c23" in v["evidence"]
    (v,) = A.claim_verdicts({"1": chance})
    assert v["verdict"].startswith("not testable here")


def test_claim_2a_needs_enough_pairs_to_detect_a_loss():
    def rows(seeds, case3_acc):
        return ([_row("case 2", s, 0.80) for s in range(seeds)]
                + [_row("case 3", s, case3_acc) for s in range(seeds)])

    v2a, v2b = A.claim_verdicts({"3": rows(3, 0.79)})
    assert v2a["verdict"].startswith("not shown (3 pairs are too few")
    assert v2b["verdict"] == "not tested"  # no case 6 to compare with case 1
    assert A.claim_verdicts({"3": rows(6, 0.79)})[0]["verdict"] == "contradicted"
    assert A.claim_verdicts({"3": rows(6, 0.81)})[0]["verdict"] == "held (no significant loss)"


def test_claim_4_reports_both_scores_from_largest_to_smallest_size():
    rows = [_row("lambda_seg=0.3", s, acc, data="dfdc", slice_=size, test_acc_seg=seg)
            for s in range(6) for size, acc, seg in (
                ("all", 0.70, 0.55), ("size=128", 0.70, 0.55), ("size=64", 0.66, 0.68),
                ("size=48", 0.64, 0.66))]  # "all" is the runner's full-size row
    (v,) = A.claim_verdicts({"fig3a": rows})
    assert "classifier 70.0 -> 64.0 (-6.0 points)" in v["evidence"]
    assert "mean seg. probability 55.0 -> 66.0 (+11.0 points)" in v["evidence"]
    assert v["verdict"] == "seg vs cls at <= 64 px: held"  # 12 of 12 pairs at 64 and 48 px


def test_base_case_lines_say_whether_each_setting_reaches_the_bar():
    rows = [_row("lambda_seg=0", s, auc, data=d, lambda_cls=1.0, n_test=600)
            for d, aucs in (("dfdc", (0.80, 0.82)), ("synth_c23", (0.66, 0.70)))
            for s, auc in enumerate(aucs)]
    rows.append(_row("lambda_seg=0.3", 0, 0.99, data="synth_c23", lambda_cls=0.7))  # not base
    lines = A.base_case_lines(rows)
    assert len(lines) == 2
    assert "DFDC" in lines[0] and "0.810 over 2 run(s)" in lines[0] and "at or above" in lines[0]
    assert "0.680 over 2 run(s)" in lines[1] and "BELOW" in lines[1]
    from minilocal.metrics import auc_standard_error
    assert f"+- {1.96 * auc_standard_error(0.81, 300, 300):.3f}" in lines[0]
