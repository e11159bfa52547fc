"""Does the cpu budget's synth c23 base case learn more from every fake than from a 1:1 subset?

One ablation cell (synth c23, lambda_seg = 0, seed 0) at the cpu budget's recipe with
MINUTES CPU-minutes, trained on a class-balanced train split (as many fakes as reals, the
budget's default) or on every fake (3 per real; the trainer's class-balanced loss weighs
the classes). Val and test stay 1:1. Prints val AUC (the choice) and test AUC.

    python ci/ablation_balance_train.py balanced 20   # one process per core
    python ci/ablation_balance_train.py every 20
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import torch

from minilocal import ablation

SYNTH = Path("build/ablation_cpu/data/synth_c23_n3000")  # built by `minilocal ablate --budget cpu`


def main(which: str, minutes: float) -> None:
    torch.set_num_threads(1)
    budget = replace(ablation.BUDGETS["cpu"], name=f"cpu{minutes:g}_{which}",
                     cpu_minutes=minutes, balance_train=which == "balanced")
    cell = ablation.grid("1", "cpu", 1)[0]
    assert cell.data == "synth_c23" and cell.lambda_cls == 1.0, cell.key
    rows = ablation.run_grid([cell], Path("build/ablation_balance") / which, budget,
                             data={"synth_c23": SYNTH})
    r = next(r for r in rows if r["slice"] == "all")
    print(f"{which}: n_train {r['n_train']}, best epoch {r['best_epoch']}, val AUC "
          f"{r['val_auc']:.3f}, test AUC {r['test_auc_cls']:.3f} (n {r['n_test']})", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
