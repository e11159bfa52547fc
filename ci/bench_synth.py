"""Synthesis benchmark: fakes/s at 128 x 128 per method, with 1 and 2 worker processes.

Prints a table (it is not a test). Each figure is the wall time of the worker path that
``minilocal synth`` runs (source choice, synthesis, exact mask; no compression, no disk),
over ``--n`` fakes, process start-up included. With ``--end-to-end`` it also times
:func:`minilocal.synth.make_fakes` writing a dataset (PNG files, metadata) to a temp dir.

Faces: the first ``--pool`` faces of build/data/lfw_faces (from ``minilocal preprocess``),
else that many LFW photos aligned here with minilocal.faces (slower start).

Targets (ISSUE): >= 200 fakes/s for sbi and partswap, >= 50 fakes/s for faceswap, with 2
workers. The machine may be shared: the 1-minute load average is printed beside every row.

Usage::

    .venv/bin/python ci/bench_synth.py                 # ~1 min
    .venv/bin/python ci/bench_synth.py --n 200 --pool 300 --end-to-end
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minilocal import synth  # noqa: E402
from minilocal.synth._workers import _imap  # noqa: E402  (the pool minilocal synth uses)
from minilocal.synth.dataset import _fakes_of  # noqa: E402
from minilocal.paths import build_dir, find_dataset  # noqa: E402

TARGETS = {"faceswap": 50, "sbi": 200, "partswap": 200}  # fakes/s with 2 workers


def pool_source() -> Path:
    built = build_dir() / "lfw_faces"
    if (built / "metadata.csv").is_file():
        return built
    return find_dataset("lfw_faces")  # raw photos: aligned by load_pool


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def bench(pool: synth.FacePool, method: str, workers: int, n: int
          ) -> tuple[int, float, float]:
    """(fakes made, wall seconds, CPU seconds) for n targets of ``pool`` by ``method``."""
    state = {"pool": pool, "seed": 0, "methods": [method], "compression": "c0"}
    targets = [i % len(pool) for i in range(n)]
    start, cpu = time.perf_counter(), cpu_seconds()
    made = sum(fakes[0][1] is not None
               for _, fakes in _imap(_fakes_of, targets, state, workers, False, method))
    return made, time.perf_counter() - start, cpu_seconds() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=400, help="fakes per method and setting")
    parser.add_argument("--pool", type=int, default=500, help="faces to load")
    parser.add_argument("--workers", default="1,2", help="worker counts to time")
    parser.add_argument("--end-to-end", action="store_true", help="also time make_fakes")
    args = parser.parse_args()

    src = pool_source()
    t = time.perf_counter()
    pool, rejects = synth.load_pool(src, 128, limit=args.pool, workers=2)
    print(f"pool: {len(pool)} faces of {src} ({len(rejects)} left out), "
          f"loaded in {time.perf_counter() - t:.1f} s; cores: {os.cpu_count()}")
    print("fakes/s: wall clock, what a user gets now; cpu ms/fake: CPU time of all the "
          "processes per fake;\ncpu-bound fakes/s = workers x 1000 / (cpu ms/fake), the rate "
          "with a free core per worker.")
    print(f"{'method':<10}{'workers':>8}{'fakes':>7}{'seconds':>9}{'fakes/s':>9}"
          f"{'cpu ms/fake':>12}{'cpu-bound':>10}{'target':>8}{'load1':>7}")
    for method in synth.METHODS:
        for workers in (int(w) for w in args.workers.split(",")):
            made, seconds, cpu = bench(pool, method, workers, args.n)
            ms = 1000 * cpu / max(made, 1)
            target = f">={TARGETS[method]}" if workers == 2 else ""
            print(f"{method:<10}{workers:>8}{made:>7}{seconds:>9.2f}{made / seconds:>9.1f}"
                  f"{ms:>12.2f}{workers * 1000 / ms:>10.0f}{target:>8}"
                  f"{os.getloadavg()[0]:>7.1f}", flush=True)
    if args.end_to_end:
        with tempfile.TemporaryDirectory() as tmp:
            s = synth.make_fakes(src, Path(tmp) / "out", "all", n=args.n // 3, workers=2,
                                 limit=args.pool)
            print(f"make_fakes all, n={args.n // 3}, 2 workers, to disk: "
                  f"{sum(s['fakes'].values())} fakes + {s['reals']} reals in {s['seconds']} s "
                  f"({s['fakes_per_s']} fakes/s, pool loading included); "
                  f"load1 {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
