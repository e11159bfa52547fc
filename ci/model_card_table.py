"""Markdown tables for MODEL_CARD.md from ``minilocal evaluate --json`` outputs.

Every AUC is printed with its n and a rough 95% interval (+- 1.96 Hanley-McNeil standard
errors, :func:`minilocal.metrics.auc_standard_error`), beside chance (0.5); every
localization figure beside the two no-model baselines (centred Gaussian, landmark hull).

Usage::

    minilocal evaluate --data build/data/dfdc_faces --split test --sizes 128 --json > dfdc.json
    .venv/bin/python ci/model_card_table.py dfdc_faces=dfdc.json synth_lfw=synth.json
"""

from __future__ import annotations

import json
import math
import sys

from minilocal.metrics import auc_standard_error


def auc_text(entry: dict) -> str:
    """'0.812 +- 0.024 (n 1,250: 625 real / 625 fake)'."""
    auc, n, n_fake = entry["auc"], entry["n"], entry["n_fake"]
    if not math.isfinite(auc):
        return "n/a"
    half = 1.96 * auc_standard_error(auc, n_fake, n - n_fake)
    return f"{auc:.3f} +- {half:.3f} (n {n:,}: {n - n_fake:,} real / {n_fake:,} fake)"


def detection_rows(name: str, result: dict) -> list[str]:
    rows = [f"| {name} | all | {auc_text(result['cls'])} | {result['cls']['acc']:.3f} | "
            + (f"{auc_text(result['seg'])} |" if "seg" in result else "- |")]
    for method, entry in sorted(result.get("per_method", {}).items()):
        seg = auc_text(entry["seg"]) if "seg" in entry else "-"
        rows.append(f"| {name} | {method} (+ all reals) | {auc_text(entry['cls'])} | "
                    f"{entry['cls']['acc']:.3f} | {seg} |")
    return rows


def localization_rows(name: str, loc: dict) -> list[str]:
    rows = []
    for label, entry in (("model", loc), *loc.get("baselines", {}).items()):
        rows.append(f"| {name} | {label} | {entry['pixel_auc']:.3f} | "
                    f"{entry['pixel_auc_fakes']:.3f} | {entry['iou']:.3f} | "
                    f"{entry['iou_fakes']:.3f} |")
    return rows


def main(argv: list[str]) -> None:
    results = {}
    for arg in argv:
        name, _, path = arg.partition("=")
        with open(path) as f:
            results[name] = json.load(f)
    print("| test split | fakes | classifier AUC, 95% interval | ACC at 0.5 | "
          "mean-segmentation AUC |")
    print("|---|---|---|---|---|")
    for name, result in results.items():
        print("\n".join(detection_rows(name, result)))
    locs = {k: r["localization"] for k, r in results.items() if r.get("localization")}
    if locs:
        print()
        first = next(iter(locs.values()))
        print(f"Localization ({first['n']} images with true masks, {first['n_fakes']} fake):")
        print()
        print("| test split | map | pixel AUC (reals' pixels negative) | pixel AUC, fakes | "
              "IoU at 0.5 | IoU, fakes |")
        print("|---|---|---|---|---|---|")
        for name, loc in locs.items():
            print("\n".join(localization_rows(name, loc)))


if __name__ == "__main__":
    main(sys.argv[1:])
