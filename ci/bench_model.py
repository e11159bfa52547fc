"""Model benchmark: speed, FLOPs and a same-budget AUC for three face-forgery detectors.

Prints a table (it is not a test). From ONE run on this machine:

* bf16 and fp32 matmul peaks (GFLOP/s of a repeated n x n torch.mm), measured here;
* for each model at 128 x 128: parameters, training FLOPs per image (conv and linear
  multiply-accumulates counted from the layer shapes, x2 FLOPs per MAC, x3 for forward +
  backward), training and inference images/s in fp32, bf16 autocast, channels_last and
  torch.compile, and the fraction of the same-run bf16 peak each training path reaches;
* validation AUC after the same wall-clock training budget on DFDC faces.

Models:

* ``localfeature``: the paper's network (minilocal.model.LocalFeatureNet defaults,
  ~1M parameters, one ``fake`` segmentation head, joint loss with CVM labels for fakes);
* ``mesonet4``: Meso-4 of Afchar et al. 2018 (~28k parameters at its 256 px input with
  one sigmoid output); here at 128 px with a 2-logit output, so its dense layer is smaller;
* ``xception``: the ``legacy_xception`` layout (Chollet 2017, the FF++ baseline, ~20.8M
  parameters with a 2-class fc), written below because timm cannot be installed beside
  the CPU torch here (it imports torchvision, whose wheels are CUDA builds that fail).

Usage::

    .venv/bin/python ci/bench_model.py                      # full run, ~45 min on 2 busy cores
    .venv/bin/python ci/bench_model.py --quick              # smoke test, a few minutes
    .venv/bin/python ci/bench_model.py --budget-seconds 120 --models localfeature,xception

The machine may be shared: the 1-minute load average is printed beside every figure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minilocal.model import LocalFeatureNet, Output, count_parameters  # noqa: E402

SIZE = 128
VARIANTS = {  # name: (bf16 autocast, channels_last, torch.compile)
    "fp32": (False, False, False),
    "bf16": (True, False, False),
    "fp32_cl": (False, True, False),
    "bf16_cl": (True, True, False),
    "bf16_cl_compile": (True, True, True),
}


# ---------------------------------------------------------------- baselines

class Meso4(nn.Module):
    """Meso-4 (Afchar et al. 2018): 4 conv/BN/pool blocks, dense 16, 2 logits.

    The original takes 256 px and ends in one sigmoid unit (27,977 trainable parameters);
    at 128 px the flattened map is 4x4x16 instead of 8x8x16.
    """

    def __init__(self, size: int = SIZE) -> None:
        super().__init__()

        def block(c_in, c_out, k, pool):
            return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2), nn.ReLU(inplace=True),
                                 nn.BatchNorm2d(c_out), nn.MaxPool2d(pool, pool))

        self.features = nn.Sequential(block(3, 8, 3, 2), block(8, 8, 5, 2), block(8, 16, 5, 2),
                                      block(16, 16, 5, 4))
        side = size // 32
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.5), nn.Linear(16 * side * side, 16),
            nn.LeakyReLU(0.1), nn.Dropout(0.5), nn.Linear(16, 2))

    def forward(self, images: torch.Tensor) -> Output:
        return Output(self.classifier(self.features(images)), {})


class SeparableConv2d(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int = 3, stride: int = 1, padding: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_in, k, stride, padding, groups=c_in, bias=False)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.conv1(x))


class XceptionBlock(nn.Module):
    def __init__(self, c_in, c_out, reps, stride=1, start_with_relu=True, grow_first=True):
        super().__init__()
        self.skip = self.skipbn = None
        if c_out != c_in or stride != 1:
            self.skip = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)
            self.skipbn = nn.BatchNorm2d(c_out)
        rep = []
        for i in range(reps):
            if grow_first:
                inc, outc = (c_in if i == 0 else c_out), c_out
            else:
                inc, outc = c_in, (c_in if i < reps - 1 else c_out)
            rep += [nn.ReLU(inplace=True), SeparableConv2d(inc, outc), nn.BatchNorm2d(outc)]
        if not start_with_relu:
            rep = rep[1:]
        else:
            rep[0] = nn.ReLU(inplace=False)
        if stride != 1:
            rep.append(nn.MaxPool2d(3, stride, 1))
        self.rep = nn.Sequential(*rep)

    def forward(self, x):
        skip = x if self.skip is None else self.skipbn(self.skip(x))
        return self.rep(x) + skip


class LegacyXception(nn.Module):
    """timm's ``legacy_xception`` (Cadene's port of Chollet 2017), 2-class head."""

    def __init__(self, num_classes: int = 2) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 32, 3, 2, 0, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True))
        blocks = [XceptionBlock(64, 128, 2, 2, start_with_relu=False),
                  XceptionBlock(128, 256, 2, 2), XceptionBlock(256, 728, 2, 2)]
        blocks += [XceptionBlock(728, 728, 3, 1) for _ in range(8)]
        blocks += [XceptionBlock(728, 1024, 2, 2, grow_first=False)]
        self.blocks = nn.Sequential(*blocks)
        self.exit = nn.Sequential(
            SeparableConv2d(1024, 1536), nn.BatchNorm2d(1536), nn.ReLU(inplace=True),
            SeparableConv2d(1536, 2048), nn.BatchNorm2d(2048), nn.ReLU(inplace=True))
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, images: torch.Tensor) -> Output:
        x = self.exit(self.blocks(self.stem(images)))
        return Output(self.fc(x.mean(dim=(2, 3))), {})


MODELS = {
    "localfeature": lambda: LocalFeatureNet(check_inputs=False),
    "mesonet4": lambda: Meso4(),
    "xception": lambda: LegacyXception(),
}


# ---------------------------------------------------------------- measurements

def load1() -> float:
    return os.getloadavg()[0]


def forward_macs(model: nn.Module, size: int = SIZE) -> int:
    """Multiply-accumulates of one forward pass of one image, from conv/linear shapes."""
    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total[0] += output.numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Linear):
            total[0] += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model.eval()(torch.rand(1, 3, size, size))
    finally:
        for h in handles:
            h.remove()
    return total[0]


def matmul_peak(dtype: torch.dtype, n: int, seconds: float) -> float:
    """GFLOP/s of a repeated n x n x n torch.mm in ``dtype``."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    for _ in range(2):
        torch.mm(a, b)
    reps, t0 = 0, time.perf_counter()
    while reps < 3 or time.perf_counter() - t0 < seconds:
        torch.mm(a, b)
        reps += 1
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


def _seg_target(out: Output, labels: torch.Tensor) -> dict:
    """Dense labels for the speed runs: every location of a fake image is fake."""
    return {k: labels[:, None, None].expand(-1, v.shape[2], v.shape[3]) for k, v in
            out.seg_logits.items()}


def loss_fn(out: Output, labels: torch.Tensor, seg: dict | None = None) -> torch.Tensor:
    """lambda_cls = 0.7 image CE + lambda_seg = 0.3 per-location CE (paper eq. 4), or
    plain CE for models without segmentation heads."""
    cls = F.cross_entropy(out.cls_logits.float(), labels)
    if not out.seg_logits:
        return cls
    seg = seg if seg is not None else _seg_target(out, labels)
    return 0.7 * cls + 0.3 * sum(F.cross_entropy(v.float(), seg[k]) for k, v in
                                 out.seg_logits.items()) / len(out.seg_logits)


def prepare(name: str, variant: str):
    amp, cl, comp = VARIANTS[variant]
    torch.manual_seed(0)
    model = MODELS[name]()
    if cl:
        model = model.to(memory_format=torch.channels_last)
    return model, amp, cl, comp


def throughput(name: str, variant: str, batch: int, seconds: float, train: bool,
               min_iters: int = 2) -> dict:
    """Images/s of training steps (forward, loss, backward, AdamW) or inference."""
    model, amp, cl, comp = prepare(name, variant)
    x = torch.rand(batch, 3, SIZE, SIZE)
    if cl:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 2, (batch,))
    run = torch.compile(model) if comp else model
    if train:
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
                out = run(x)
            loss = loss_fn(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    else:
        model.eval()

        def step():
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16,
                                                        enabled=amp):
                run(x)
    t0 = time.perf_counter()
    step()  # compiles when comp
    first = time.perf_counter() - t0
    if min_iters > 1:
        step()  # a second warm-up step: allocator and oneDNN caches
    iters, t0 = 0, time.perf_counter()
    while iters < min_iters or time.perf_counter() - t0 < seconds:
        step()
        iters += 1
    dt = time.perf_counter() - t0
    return {"images_per_s": batch * iters / dt, "first_step_s": first, "load1": load1()}


# ---------------------------------------------------------------- trainer runs

def load_dfdc(root: Path, quick: bool, val_limit: int):
    """(train, val) FaceSets at 128 px through the trainer's loader (splits by group)."""
    from minilocal.recipe import TrainConfig
    from minilocal.train_data import load_splits

    train_set, val_set = load_splits(root, TrainConfig(limit=64 if quick else None))
    if len(val_set) > val_limit:
        g = torch.Generator().manual_seed(0)
        keep = torch.randperm(len(val_set), generator=g)[:val_limit].sort().values
        val_set = val_set.subset(keep)
    return train_set, val_set


def fit_run(name: str, train_set, val_set, seconds: float, **overrides) -> dict:
    """Train a fresh model with minilocal.train.fit for ``seconds`` of wall clock.

    Returns {"images_per_s" (trainer's own count, training steps only), "train_size",
    "steps", "images_seen", "wall_s", "config"} and the trained model under "model".
    """
    from minilocal.recipe import CPU_TRAIN_SIZE, TrainConfig
    from minilocal.train import fit

    if not isinstance(MODELS[name](), LocalFeatureNet):  # no segmentation head: L_cls only
        overrides = {"lambda_cls": 1.0, "lambda_seg": {}, **overrides}
    config = TrainConfig(max_minutes=seconds / 60, epochs=10_000, patience=0,
                         checkpoint_every=0, **overrides)
    torch.manual_seed(0)
    model = MODELS[name]()
    small_val = val_set.subset(range(min(32, len(val_set))))  # fit validates at the end
    t0 = time.perf_counter()
    history = fit(model, train_set, small_val, config)
    wall = time.perf_counter() - t0
    try:
        from minilocal.runtime import use_bf16
    except ImportError:  # a checkout from before minilocal.runtime
        from minilocal import train as trainer

        use_bf16 = getattr(trainer, "_use_bf16", None)
    bf16 = use_bf16(config.amp, torch.device("cpu")) if use_bf16 else config.amp == "bf16"
    return {"model": model, "images_per_s": history[-1]["images_per_s"],
            "train_size": config.train_size or min(CPU_TRAIN_SIZE, SIZE),
            "steps": history[-1]["step"], "images_seen": history[-1]["step"] * config.batch_size,
            "wall_s": wall, "epochs": len(history), "bf16": bf16,
            "batch_size": config.batch_size, "channels_last": bool(config.channels_last),
            "load1": load1()}


def val_auc(model: nn.Module, val_set) -> dict:
    """AUC/ACC of p_fake on the validation faces at 128 px (minilocal.evaluate defaults:
    bf16 autocast where the CPU has native bf16)."""
    from minilocal.evaluate import score_images
    from minilocal.metrics import binary_metrics

    scores = score_images(model, val_set.images, sizes=(SIZE,))[SIZE]
    return binary_metrics(val_set.labels, scores.cls)


def trainer_runs(models: list[str], root: Path, args, peaks: dict, results: dict) -> None:
    """The default CPU training path's share of the bf16 peak, and same-budget AUCs."""
    train_set, val_set = load_dfdc(root, args.quick, args.val_limit)
    budget = args.budget_seconds
    print(f"\nminilocal.train.fit, {budget:.0f} s of training from scratch each on {root} "
          f"({len(train_set)} train faces; val AUC of p_fake on {len(val_set)} val faces "
          "at 128 px)")
    print("(% bf16 peak: of a bf16 matmul peak measured right after each run, same load)")
    print(f"{'model':<13}{'params':>11} {'fit config':<40}{'img/s':>7}{'% bf16 peak':>12}"
          f"{'steps':>7}{'images':>8}{'val AUC':>9}{'val ACC':>9}{'load':>6}")
    runs = [("localfeature", {}, "TrainConfig defaults")] if "localfeature" in models else []
    runs += [(m, {"train_size": SIZE}, f"train_size={SIZE}") for m in models]
    results["fit"] = []
    for name, overrides, label in runs:
        r = fit_run(name, train_set, val_set, budget, **overrides)
        m = val_auc(r.pop("model"), val_set)
        flops = 6 * forward_macs(MODELS[name](), r["train_size"])
        near = matmul_peak(torch.bfloat16, 1024 if args.quick else 2048, 1.5)
        frac = r["images_per_s"] * flops / 1e9 / near  # against a peak under the same load
        desc = (f"{label}: {r['train_size']} px, {'bf16' if r['bf16'] else 'fp32'}"
                f"{', NHWC' if r['channels_last'] else ''}, batch {r['batch_size']}")
        results["fit"].append({"model": name, "config": desc, **r, "val": m,
                               "train_flops_per_image": flops, "bf16_peak_beside": near,
                               "fraction_of_bf16_peak_beside": frac})
        print(f"{name:<13}{count_parameters(MODELS[name]()):>11,} {desc:<40}"
              f"{r['images_per_s']:>7.1f}{100 * frac:>11.1f}%{r['steps']:>7}"
              f"{r['images_seen']:>8}{m['auc']:>9.3f}{m['acc']:>9.3f}{r['load1']:>6.2f}",
              flush=True)


# ---------------------------------------------------------------- main

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny smoke test (~1 min)")
    p.add_argument("--budget-seconds", type=float, default=120.0,
                   help="wall-clock training budget per model for the AUC column")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--variants", default=None,
                   help=f"comma list of {list(VARIANTS)} (default: all; --quick: no compile)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seconds", type=float, default=6.0, help="timing window per figure")
    p.add_argument("--data", default="build/data/dfdc_faces", help="folder-format DFDC faces")
    p.add_argument("--no-auc", action="store_true", help="skip the trainer runs (AUC)")
    p.add_argument("--no-speed", action="store_true", help="skip the speed table")
    p.add_argument("--val-limit", type=int, default=600, help="val faces for the AUC")
    p.add_argument("--json", default=None, help="also write the results to this file")
    args = p.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    bad = [m for m in models if m not in MODELS]
    if bad:
        p.error(f"unknown models {bad}; choose from {list(MODELS)}")
    default_variants = ["fp32", "bf16_cl"] if args.quick else list(VARIANTS)
    variants = args.variants.split(",") if args.variants else default_variants
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        p.error(f"unknown variants {bad}; choose from {list(VARIANTS)}")
    if args.quick:
        args.seconds, args.budget_seconds, args.batch_size = 0.0, min(args.budget_seconds, 3), 4
        args.val_limit = min(args.val_limit, 32)
    n = 1024 if args.quick else 2048

    print(f"# bench_model  torch {torch.__version__}  {platform.processor() or platform.machine()}"
          f"  threads {torch.get_num_threads()}  cpu {torch.backends.cpu.get_cpu_capability()}"
          f"  load avg {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"# command: {' '.join([sys.executable.split('/')[-1], *sys.argv])}")
    peaks = {"fp32": matmul_peak(torch.float32, n, 0.3 if args.quick else 3),
             "bf16": matmul_peak(torch.bfloat16, n, 0.3 if args.quick else 3)}
    print(f"matmul peak ({n}x{n} torch.mm): fp32 {peaks['fp32']:.1f} GFLOP/s, "
          f"bf16 {peaks['bf16']:.1f} GFLOP/s  (load {load1():.2f})")

    results: dict = {"peaks_gflops": peaks, "models": {}, "argv": sys.argv[1:]}
    print(f"\n{'model':<13}{'params':>11}{'GFLOP/img':>10} {'variant':<16}{'train img/s':>12}"
          f"{'infer img/s':>12}{'train GFLOP/s':>14}{'% bf16 peak':>12}{'peak now':>9}"
          f"{'% now':>9}{'1st step s':>11}{'load':>6}")
    print("(% bf16 peak: of the peak at the start; peak now / % now: a bf16 peak measured "
          "right after that row, under the same load)")
    for name in [] if args.no_speed else models:
        model = MODELS[name]()
        params, macs = count_parameters(model), forward_macs(model)
        train_flops = 3 * 2 * macs  # forward + backward (~2x forward), 2 FLOPs per MAC
        entry = {"params": params, "forward_macs": macs, "train_flops_per_image": train_flops,
                 "variants": {}}
        for v in variants:
            iters = 1 if args.quick else 2
            tr = throughput(name, v, args.batch_size, args.seconds, True, iters)
            inf = throughput(name, v, args.batch_size, args.seconds, False, iters)
            gflops = tr["images_per_s"] * train_flops / 1e9
            frac = gflops / peaks["bf16"]
            near = matmul_peak(torch.bfloat16, n, 0.3 if args.quick else 1.5)  # same load
            entry["variants"][v] = {"train": tr, "infer": inf, "train_gflops": gflops,
                                    "fraction_of_bf16_peak": frac, "bf16_peak_beside": near,
                                    "fraction_of_bf16_peak_beside": gflops / near}
            print(f"{name:<13}{params:>11,}{train_flops / 1e9:>10.2f} {v:<16}"
                  f"{tr['images_per_s']:>12.1f}{inf['images_per_s']:>12.1f}{gflops:>14.1f}"
                  f"{100 * frac:>11.1f}%{near:>9.1f}{100 * gflops / near:>8.1f}%"
                  f"{tr['first_step_s']:>11.1f}{tr['load1']:>6.2f}", flush=True)
        results["models"][name] = entry

    if not args.no_auc:
        root = Path(args.data)
        if not (root / "metadata.csv").is_file():
            print(f"\ntrainer runs skipped: {root} is not a folder-format dataset yet "
                  "(build it with `minilocal data dfdc_faces`)")
        else:
            trainer_runs(models, root, args, peaks, results)
    end = {"fp32": matmul_peak(torch.float32, n, 0.3 if args.quick else 3),
           "bf16": matmul_peak(torch.bfloat16, n, 0.3 if args.quick else 3)}
    results["peaks_gflops_end"] = end
    print(f"\nmatmul peak at the end: fp32 {end['fp32']:.1f} GFLOP/s, bf16 {end['bf16']:.1f} "
          f"GFLOP/s  (load {load1():.2f})")
    print(f"# load avg at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
