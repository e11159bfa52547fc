"""The ablation grids of the paper's section 4 (Tables 1-3, Fig. 3a) as lists of runs.

A :class:`Cell` is one training run: a data setting, the fakes it trains on, the loss
weights (lambda_cls, lambda_seg per head) with a mask kind per head, and a seed. Its
:attr:`Cell.key` depends only on what is trained, so a run shared by two tables (Table
1's lambda_seg = 0 is Table 3's case 1) is trained once. A :class:`Budget` fixes
everything else (image size, crops, widths, epochs, data caps): ``quick`` fits a 2-core
CPU in minutes; ``long`` trains 3x longer on synth c23 only (Table 1: lambda_seg 0 vs
0.3; Table 3: cases 1-3, real masks vs CVM), where our synthetic fakes stay near chance
at the quick budget; ``cpu`` trains the paper's full network with the trainer's CPU
recipe for a fixed CPU time per run on all the data (many hours per table: run it in the
background, it resumes); ``full`` keeps the paper's whole grid and is meant for a GPU;
``tiny`` exists for tests and CI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..evaluate import DEFAULT_SIZES
from ..model import SMALL_WIDTHS
from ..synth import METHODS
from .paper import PAPER_CASES, PAPER_LAMBDAS

__all__ = ["Budget", "Cell", "BUDGETS", "TABLES", "grid", "case_lambdas"]

TABLES = ("1", "2", "3", "fig3a")
CASE_LAMBDA_SEG = 0.3  # total lambda_seg of Table 3 (case 2 = section 4.2's best, 0.3)


@dataclass(frozen=True)
class Budget:
    """How big every run of a grid is (everything but the objective and the seed)."""

    name: str
    size: int  # side the aligned faces are resized to (train, val and test)
    train_size: int | None  # random training crop; None: the whole face
    widths: tuple[int, ...] | None  # LocalFeatureNet widths; None: the paper-size default
    epochs: int
    batch_size: int
    lr: float
    patience: int  # early stopping on val AUC; 0: off
    max_train: int | None  # cap on training images per run (whole groups, fixed seed)
    max_val: int | None
    max_test: int | None
    lambdas: tuple[float, ...]  # Table 1/2 lambda_seg values (0 = base case)
    table1_specific: tuple[str, ...]  # compressions with method-specific training runs
    compressions: tuple[str, ...]  # Table 1 (the first: Table 3 and Fig. 3a)
    table2_compressions: tuple[str, ...] | None  # None: compressions
    synth_n: int  # real LFW faces made into fakes (one fake per method each)
    fig3a_size: int = 128  # Fig. 3a trains on this face size and crops it down
    fig3a_sizes: tuple[int, ...] = DEFAULT_SIZES  # centre crops of the 128-px face
    fig3a_data: str | None = None  # Fig. 3a data setting; None: synth at compressions[0]
    ffpp: bool = True  # try the FF++ sample pairs in Table 1
    table1_cvm: tuple[str, ...] = ("dfdc",)  # Table 1 settings without real masks: CVM
    dfdc: bool = True  # the DFDC column of Table 3
    table3_cases: tuple[int, ...] = tuple(PAPER_CASES)  # Table 3 cases on synthetic fakes
    cpu_minutes: float | None = None  # CPU time per run (the lr anneals over it); None: epochs
    balance_train: bool = True  # as many fakes as reals in train; False: every fake
    note: str = ""  # said in every table header

    def describe(self) -> str:
        """One line for table headers: what this budget trains."""
        caps = "/".join("all" if c is None else str(c) for c in
                        (self.max_train, self.max_val, self.max_test))
        return (f"budget {self.name}: faces {self.size} px, train crops "
                f"{self.train_size or self.size} px, widths "
                f"{'default' if self.widths is None else self.widths}, {self.epochs} epochs, "
                f"batch {self.batch_size}, lr {self.lr}, images train/val/test <= {caps}"
                + (f", {self.cpu_minutes:g} CPU-minutes a run"
                   if self.cpu_minutes is not None else "")
                + (f"; {self.note}" if self.note else ""))


BUDGETS = {
    "tiny": Budget("tiny", size=48, train_size=40, widths=(4, 4, 4, 4, 4, 4, 4, 4),
                   epochs=1, batch_size=8, lr=1e-3, patience=0, max_train=16, max_val=8,
                   max_test=8, lambdas=(0.0, 0.3), table1_specific=(),
                   compressions=("c23",), table2_compressions=None, synth_n=12, fig3a_size=48,
                   fig3a_sizes=(48, 40), ffpp=False, dfdc=False, table1_cvm=(),
                   note="TINY smoke grid: numbers are meaningless"),
    "quick": Budget("quick", size=128, train_size=64, widths=SMALL_WIDTHS, epochs=4,
                    batch_size=32, lr=3e-3, patience=0, max_train=2000, max_val=400,
                    max_test=600, lambdas=(0.0, 0.3, 0.6), table1_specific=(),
                    compressions=("c23", "c40"), table2_compressions=("c23",),
                    synth_n=2000, fig3a_data="dfdc",
                    note="2-core CPU: 128-px faces, 64-px training crops, ~7x fewer "
                         "parameters than the paper, 4 epochs on <= 2,000 images: expect "
                         "low accuracies; Fig. 3a on DFDC (CVM), as our synthetic fakes "
                         "stay near chance at this budget"),
    "long": Budget("long", size=128, train_size=64, widths=SMALL_WIDTHS, epochs=12,
                   batch_size=32, lr=3e-3, patience=0, max_train=2000, max_val=400,
                   max_test=600, lambdas=(0.0, 0.3), table1_specific=(),
                   compressions=("c23",), table2_compressions=None, synth_n=2000,
                   ffpp=False, dfdc=False, table1_cvm=(), table3_cases=(1, 2, 3),
                   note="2-core CPU, synth c23 only: the quick budget with 3x the "
                        "epochs (~2 min a run); Table 3 cases 1-3 only (real masks vs CVM)"),
    "cpu": Budget("cpu", size=128, train_size=64, widths=None, epochs=1000,
                  batch_size=64, lr=1e-3, patience=0, max_train=None, max_val=None,
                  max_test=None, lambdas=(0.0, 0.3, 0.6), table1_specific=(),
                  compressions=("c23",), table2_compressions=None, synth_n=3000,
                  ffpp=False, table3_cases=(1, 2, 3, 6), cpu_minutes=60.0,
                  note="2-core CPU, one thread a run: the paper's network and the "
                       "trainer's CPU recipe (64-px crops, class-balanced L_cls, JPEG and "
                       "colour augmentation), 60 CPU-minutes a run on all the data"),
    "full": Budget("full", size=128, train_size=None, widths=None, epochs=30,
                   batch_size=64, lr=1e-3, patience=5, max_train=None, max_val=None,
                   max_test=None, lambdas=PAPER_LAMBDAS, table1_specific=("c23", "c40"),
                   compressions=("c23", "c40"), table2_compressions=None, synth_n=6000,
                   note="GPU: the paper's grid"),
}


def _canon(weights: dict) -> dict:
    return {k: float(v) for k, v in sorted(weights.items()) if v > 0}


@dataclass(frozen=True)
class Cell:
    """One training run of a grid.

    data: the data setting (see :data:`minilocal.ablation.data.SETTINGS`), e.g. "synth_c23".
    method: the fakes trained on: "all" or one method (reals are always all kept).
    variant: how the tables label the objective, e.g. "lambda_seg=0.3", "CVM 0.3", "case 6".
    lambda_cls, lambda_seg, masks: the loss, as in :class:`~minilocal.recipe.TrainConfig`.
    seed: seeds weights, data order and crops (the data and its splits never change).
    sizes: evaluation input sizes (centre crops); empty: the budget's face size.
    """

    data: str
    method: str
    variant: str
    lambda_cls: float
    lambda_seg: tuple[tuple[str, float], ...]
    masks: tuple[tuple[str, str], ...]
    seed: int
    sizes: tuple[int, ...] = ()
    size: int | None = None  # face size override (Fig. 3a); None: the budget's

    @staticmethod
    def make(data: str, method: str, variant: str, lambda_seg: dict[str, float],
             masks: dict[str, str], seed: int, **kw) -> "Cell":
        """A cell whose lambda_cls is 1 - sum(lambda_seg) (the paper's constraint)."""
        seg = _canon(lambda_seg)
        kinds = {h: masks[h] for h in seg}
        return Cell(data, method, variant, round(1.0 - sum(seg.values()), 10),
                    tuple(seg.items()), tuple(sorted(kinds.items())), seed, **kw)

    @property
    def key(self) -> str:
        """Identifies the run by what is trained (not by table or label)."""
        seg = ",".join(f"{h}={w:g}:{dict(self.masks)[h]}" for h, w in self.lambda_seg)
        sizes = ",".join(map(str, self.sizes))
        return (f"{self.data}|{self.method}|cls={self.lambda_cls:g}|seg={seg or 'none'}"
                f"|seed={self.seed}" + (f"|sizes={sizes}" if sizes else "")
                + (f"|size={self.size}" if self.size else ""))

    def describe(self) -> dict:
        """JSON-ready columns of the results CSV."""
        return {"key": self.key, "data": self.data, "method": self.method,
                "variant": self.variant, "lambda_cls": self.lambda_cls,
                "lambda_seg": json.dumps(dict(self.lambda_seg)),
                "masks": json.dumps(dict(self.masks)), "seed": self.seed}


def case_lambdas(case: int) -> tuple[dict[str, float], dict[str, str]]:
    """(lambda_seg, masks) of a Table 3 case: CASE_LAMBDA_SEG split over its heads.

    Raises:
        ValueError: for a case outside 1-7.
    """
    if case not in PAPER_CASES:
        raise ValueError(f"Table 3 case must be one of {sorted(PAPER_CASES)}, got {case!r}")
    face, fake = PAPER_CASES[case]
    heads = {h: k for h, k in (("face", face), ("fake", fake)) if k}
    w = CASE_LAMBDA_SEG / len(heads) if heads else 0.0
    return {h: w for h in heads}, heads


def _lambda_cells(data: str, method: str, lambdas, kind: str, seeds, label: str = ""
                  ) -> list[Cell]:
    cells = []
    for lam in lambdas:
        variant = "lambda_seg=0" if lam == 0 else f"{label}lambda_seg={lam:g}"
        cells += [Cell.make(data, method, variant, {"fake": lam}, {"fake": kind}, s)
                  for s in seeds]
    return cells


def grid(table: str, budget: Budget | str = "quick", seeds: int = 3) -> list[Cell]:
    """The runs of one table or figure.

    Table 1: lambda_seg in budget.lambdas (real masks, one "fake" head) on synthetic
    fakes of LFW faces at each compression, trained on all methods (tested per method
    too) and, at budget.table1_specific, per method; plus the FF++ sample pairs, and
    budget.table1_cvm settings (DFDC) with CVM as the fake head's mask (Table 3's cases 1
    and 3 at lambda_seg = 0.3 are the same runs).
    Table 2: generated faces vs LFW reals, lambda_seg with ones masks (OM) and with CVM.
    Table 3: budget.table3_cases (all of 1-7 but in ``long``) on the synthetic fakes (c23,
    all methods) and cases 1, 3, 4, 6 on DFDC (no real masks). Fig. 3a: Table 1's
    lambda_seg = 0.3 run (c23, all methods; or budget.fig3a_data, with CVM where it has
    no real masks) trained on budget.fig3a_size faces and tested at budget.fig3a_sizes.

    Args:
        table: one of TABLES.
        budget: a Budget or a name in BUDGETS.
        seeds: seeds per cell (0 .. seeds - 1).

    Raises:
        ValueError: on an unknown table or budget, or seeds < 1.
    """
    b = BUDGETS.get(budget) if isinstance(budget, str) else budget
    if b is None:
        raise ValueError(f"unknown budget {budget!r}; expected one of {sorted(BUDGETS)}")
    if str(table) not in TABLES:
        raise ValueError(f"unknown table {table!r}; expected one of {TABLES}")
    if int(seeds) < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    table, S = str(table), range(int(seeds))
    cells: list[Cell] = []
    if table == "1":
        for c in b.compressions:
            cells += _lambda_cells(f"synth_{c}", "all", b.lambdas, "real", S)
            if c in b.table1_specific:
                for m in sorted(METHODS):  # alphabetical: faceswap, partswap, sbi
                    cells += _lambda_cells(f"synth_{c}", m, b.lambdas, "real", S)
        if b.ffpp:
            cells += _lambda_cells("ffpp_c23", "all", b.lambdas, "real", S)
        for data in b.table1_cvm:  # no real masks: the fake head learns the CVM
            cells += _lambda_cells(data, "all", b.lambdas, "cvm", S, "CVM ")
    elif table == "2":
        for c in b.table2_compressions or b.compressions:
            cells += _lambda_cells(f"gan_lfw_{c}", "all", b.lambdas, "ones", S, "OM ")
            cells += _lambda_cells(f"gan_lfw_{c}", "all", [x for x in b.lambdas if x],
                                   "cvm", S, "CVM ")
    elif table == "3":
        c = b.compressions[0]
        for case in b.table3_cases:
            seg, masks = case_lambdas(case)
            cells += [Cell.make(f"synth_{c}", "all", f"case {case}", seg, masks, s) for s in S]
        if b.dfdc:
            for case in (1, 3, 4, 6):
                seg, masks = case_lambdas(case)
                cells += [Cell.make("dfdc", "all", f"case {case}", seg, masks, s) for s in S]
    else:
        data = b.fig3a_data or f"synth_{b.compressions[0]}"
        kind = "real" if data.startswith(("synth", "ffpp")) else "cvm"  # DFDC: no real masks
        cells = [Cell.make(data, "all", "lambda_seg=0.3", {"fake": 0.3}, {"fake": kind}, s,
                           sizes=b.fig3a_sizes, size=b.fig3a_size) for s in S]
    return cells
