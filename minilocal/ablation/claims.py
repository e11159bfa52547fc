"""The paper's claims and their verdicts on our ablation runs (section 4).

Each :class:`Claim` is tested on one table's runs.csv rows with a paired comparison
(:func:`~minilocal.ablation.stats.compare_variants`: same data, split and seed) and an
exact sign test; data settings whose models stayed near chance are left out
(:data:`CHANCE_AUC`). :func:`claim_verdicts` gives one verdict per claim.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from .stats import aggregate, compare_variants
from .tables import BASELINE, _short

__all__ = ["claim_verdicts", "Claim", "CLAIMS"]


def _held(cmp: dict) -> str:
    if not cmp["pairs"]:
        return "not tested"
    if cmp["wins"] > cmp["losses"] and cmp["sign_p"] < 0.05:
        return "held"
    if cmp["losses"] > cmp["wins"] and cmp["sign_p"] < 0.05:
        return "contradicted"
    return "not shown (inconclusive)"


def _evidence(cmp: dict, what: str) -> str:
    if not cmp["pairs"]:
        return f"{what}: no paired runs."
    return (f"{what}: better in {cmp['wins']} of {cmp['pairs']} pairs ({cmp['losses']} worse, "
            f"{cmp['ties']} ties), mean difference {100 * cmp['mean_diff']:+.2f} points, "
            f"sign test p = {cmp['sign_p']:.3g}, paired t-test p = {cmp['t_p']:.3g}.")


CHANCE_AUC = 0.6  # below this mean test AUC a data setting's models are "near chance"
BASE_CASE_AUC = 0.75  # a base case this good learned enough for a verdict to trust


def base_case_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """One line per data setting on its base case (lambda_cls = 1: no segmentation loss):
    mean test AUC of the classifier, the number of runs n, and whether it reaches
    :data:`BASE_CASE_AUC`. Verdicts from a weaker base case rank weak models."""
    from ..metrics import auc_standard_error

    base = [r for r in rows if float(r.get("lambda_cls", math.nan)) == 1.0]
    lines = []
    for data, mean in sorted(_setting_aucs(base).items()):
        runs = [r for r in base
                if r["data"] == data and r["slice"] == "all" and r["status"] == "ok"]
        n_test = int(runs[0]["n_test"])  # the same class-balanced test split in every run
        se = auc_standard_error(mean, max(n_test // 2, 1), max(n_test // 2, 1))
        lines.append(f"{_short(data)}: base case mean test AUC {mean:.3f} over {len(runs)} "
                     f"run(s) (+- {1.96 * se:.3f}: 1.96 SE of one run on {n_test:,} balanced "
                     "test faces), " + ("at or above" if mean >= BASE_CASE_AUC else "BELOW")
                     + f" the {BASE_CASE_AUC} bar")
    return lines


def _setting_aucs(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """{data setting: mean classifier test AUC over its runs (slice "all")}."""
    aucs: dict[str, list[float]] = {}
    for r in rows:
        if r["status"] == "ok" and r["slice"] == "all" and math.isfinite(r["test_auc_cls"]):
            aucs.setdefault(r["data"], []).append(r["test_auc_cls"])
    return {d: sum(v) / len(v) for d, v in aucs.items()}


def _learned(rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """(rows of the data settings whose models learned, what was left out and why).

    The gate is per data setting (e.g. synth c23, DFDC): the mean test AUC of its
    classifier over every run (all variants and seeds) must reach CHANCE_AUC. A setting
    near chance cannot rank objectives, and pooling it with one that learned would hide
    it (or be hidden by it). When no setting learned, every row is returned, so the
    evidence still shows what the noise said (and :func:`_near_chance` gives the verdict).
    """
    means = _setting_aucs(rows)
    kept = {d for d, m in means.items() if m >= CHANCE_AUC}
    dropped = [f"{_short(d)} (mean test AUC {means[d]:.2f})" for d in sorted(means)
               if d not in kept]
    note = ("Not testable (models near chance, mean test AUC < "
            f"{CHANCE_AUC:g}): {', '.join(dropped)}." if dropped else "")
    return ([r for r in rows if r["data"] in kept] if kept else list(rows)), note


def _near_chance(rows: Sequence[dict[str, Any]]) -> str:
    """'' or a verdict saying no data setting's models learned enough to test anything."""
    means = _setting_aucs(rows)
    if any(m >= CHANCE_AUC for m in means.values()):
        return ""
    aucs = [r["test_auc_cls"] for r in rows if r["status"] == "ok" and r["slice"] == "all"
            and math.isfinite(r["test_auc_cls"])]
    mean = sum(aucs) / len(aucs) if aucs else math.nan
    return f"not testable here (models near chance: mean test AUC {mean:.2f})"


def _claim_lambda_seg(rows: Sequence[dict[str, Any]]) -> dict[str, str] | None:
    rows, _ = _learned([r for r in rows if r["slice"] == "all"])
    cmp = compare_variants(rows, BASELINE)
    auc = compare_variants(rows, BASELINE, metric="test_auc_cls")
    return {"claim": "(1) lambda_seg > 0 beats lambda_seg = 0",
            "paper": "Table 1: the base case is always the worst, up to +2.6 points",
            "verdict": _held(cmp), "evidence": _evidence(
                cmp, "test ACC, every lambda_seg > 0 run vs its lambda_seg = 0 "
                     "twin (same data, split, seed)") + " " + _evidence(
                auc, f"Test AUC ({_held(auc)})"), "comparison": json.dumps(cmp)}


def _claim_cvm_for_real(rows: Sequence[dict[str, Any]]) -> dict[str, str] | None:
    rows, _ = _learned([r for r in rows if r["slice"] == "all"])
    cvm_vs_real = compare_variants(rows, "case 2", ["case 3"])
    n = cvm_vs_real["pairs"]
    # "no significant loss" means something only where the sign test could find one:
    # with n pairs its smallest two-sided p is 2 * 0.5 ** n (n >= 6 for p < 0.05).
    detectable = 2 * 0.5 ** n < 0.05
    return {"claim": "(2a) CVM can replace real forgery masks (case 3 vs case 2)",
            "paper": "Table 3: case 3 within 0.3 points of case 2 on FF-DF and DFDD",
            "verdict": ("not tested" if not n else
                        "contradicted" if _held(cvm_vs_real) == "contradicted" else
                        "held (no significant loss)" if detectable else
                        f"not shown ({n} pairs are too few for a sign test to "
                        "detect a loss)"),
            "evidence": _evidence(cvm_vs_real, "case 3 (CVM) vs case 2 (real masks)"),
            "comparison": json.dumps(cvm_vs_real)}


def _claim_two_heads(rows: Sequence[dict[str, Any]]) -> dict[str, str] | None:
    rows, _ = _learned([r for r in rows if r["slice"] == "all"])
    k2 = compare_variants(rows, "case 1", ["case 6"])
    means: dict[str, list] = {}
    for a in aggregate(rows):
        means.setdefault(a["data"], []).append((a["test_acc_cls_mean"], a["variant"]))
    best = {d: max(v)[1] for d, v in means.items()}
    k2_best = sum(b in ("case 5", "case 6", "case 7") for b in best.values())
    return {"claim": "(2b) k = 2 (face + fake heads) works best overall",
            "paper": "Table 3: case 6 (CVM, CVM) best on FF-DF, DFDC, Celeb-DF",
            "verdict": "not tested" if not k2["pairs"] else "held"
            if k2_best == len(best) and _held(k2) == "held" else "not shown",
            "evidence": "best case per dataset (mean ACC): "
            + ", ".join(f"{_short(d)}: {b}" for d, b in best.items()) + ". "
            + _evidence(k2, "case 6 vs case 1"), "comparison": json.dumps(k2)}


def _claim_gan_faces(rows: Sequence[dict[str, Any]]) -> dict[str, str] | None:
    rows, _ = _learned([r for r in rows if r["slice"] == "all"])
    variants = {r["variant"] for r in rows}
    cvm = compare_variants(rows, BASELINE, sorted(v for v in variants if "CVM" in v))
    om = compare_variants(rows, BASELINE, sorted(v for v in variants if "OM" in v))
    verdict = ("held" if _held(cvm) == "held" and _held(om) != "held" else
               f"CVM {_held(cvm)}; OM {_held(om)}")
    return {"claim": "(3) GAN faces: CVM helps, ones masks (OM) do not",
            "paper": "Table 2: OM about the base case, CVM better in every case",
            "verdict": verdict, "evidence": _evidence(cvm, "ACC, CVM vs lambda_seg = 0")
            + " " + _evidence(om, "ACC, OM vs lambda_seg = 0") + " " + " ".join(
                _evidence(compare_variants(rows, BASELINE, sorted(
                    v for v in variants if k in v), "test_auc_cls"),
                    f"Test AUC, {k} vs lambda_seg = 0") for k in ("CVM", "OM")),
            "comparison": json.dumps({"cvm": cvm, "om": om})}


def _claim_small_inputs(rows: Sequence[dict[str, Any]]) -> dict[str, str] | None:
    kept, _ = _learned(rows)
    rows = [r for r in kept if r["slice"].startswith("size=")]
    sizes = sorted({int(r["slice"][5:]) for r in rows})
    if not sizes:
        return None
    small = [r for r in rows if int(r["slice"][5:]) <= max(64, sizes[0])]
    seg_vs_cls = _paired_scores(small)
    agg = {a["slice"]: a for a in aggregate(rows)}
    hi, lo = agg[f"size={sizes[-1]}"], agg[f"size={sizes[0]}"]
    change = "; ".join(
        f"{name} {100 * hi[k]:.1f} -> {100 * lo[k]:.1f} ({100 * (lo[k] - hi[k]):+.1f} "
        "points)" for name, k in (("classifier", "test_acc_cls_mean"),
                                  ("mean seg. probability", "test_acc_seg_mean")))
    return {"claim": "(4) graceful degradation; mean seg. probability beats the "
                     "classifier at small sizes",
            "paper": "Fig. 3a (plot only)", "verdict": f"seg vs cls at <= 64 px: "
            f"{_held(seg_vs_cls)}", "evidence":
            f"ACC {sizes[-1]} -> {sizes[0]} px: {change}. "
            + _evidence(seg_vs_cls, "seg ACC vs cls ACC, sizes <= 64, per seed"),
            "comparison": json.dumps(seg_vs_cls)}


@dataclass(frozen=True)
class Claim:
    """A claim of the paper and the test of it on one table's rows."""

    table: str  # the results it is tested on: "1", "2", "3" or "fig3a"
    test: Callable[[Sequence[dict[str, Any]]], dict[str, str] | None]  # None: no data


CLAIMS = (Claim("1", _claim_lambda_seg), Claim("3", _claim_cvm_for_real),
          Claim("3", _claim_two_heads), Claim("2", _claim_gan_faces),
          Claim("fig3a", _claim_small_inputs))


def claim_verdicts(results: dict[str, Sequence[dict[str, Any]]]) -> list[dict[str, str]]:
    """One verdict per paper claim (:data:`CLAIMS`) that ``results`` ({table: rows}) can test.

    A claim "held" when the paired comparison favours it with an exact sign test
    p < 0.05, is "contradicted" when it significantly goes the other way, and is "not
    shown (inconclusive)" otherwise. Only data settings whose models learned (mean test
    AUC >= CHANCE_AUC) enter a comparison; the others are named in the evidence, and a
    claim with none left is "not testable here", whatever its comparison would say.

    Returns:
        [{"claim", "paper", "verdict", "evidence", "comparison" (JSON)}].
    """
    out = []
    for claim in CLAIMS:
        if claim.table not in results:
            continue
        v = claim.test(results[claim.table])
        if v is None:
            continue
        kept, gate = _learned(results[claim.table])
        chance = _near_chance(results[claim.table])
        if chance:
            v["verdict"] = chance
        elif gate:
            v["evidence"] = f"{gate} {v['evidence']}"
            if v["verdict"].startswith("not tested"):  # only near-chance settings could
                v["verdict"] = "not testable here (models near chance where it is tested)"
            else:
                tested = sorted({_short(r["data"]) for r in kept})
                v["verdict"] += f" (tested on {', '.join(tested)} only)"
        out.append(v)
    return out


def _paired_scores(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    from .stats import paired_comparison

    pairs = [(r["test_acc_cls"], r["test_acc_seg"]) for r in rows
             if math.isfinite(r["test_acc_cls"]) and math.isfinite(r["test_acc_seg"])]
    if not pairs:
        return {"pairs": 0, "wins": 0, "losses": 0, "ties": 0}
    return paired_comparison([a for a, _ in pairs], [b for _, b in pairs])
