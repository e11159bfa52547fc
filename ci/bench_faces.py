"""Benchmark: faces/s of the face pipeline, and the dlib-only floor it is measured against.

Prints, for N DFDC crops (224 px JPEG): read + detect + 68 landmarks + aligned 128-px crop +
CVM mask, with 1 and with 2 worker processes; from the same runs, the time spent inside
dlib (HOG detector + shape predictor) per face, i.e. the floor; and the ratio of the
per-core time per face to that floor. Then frames/s for FF++ video decoding alone and for
decoding + faces (16 frames per video, as `minilocal preprocess --kind ffpp` samples them).

A benchmark, not a test: it prints figures and asserts nothing. The machine's load average
is printed too, since other work on the same cores slows every wall-clock figure; per-core
times are CPU times (time.process_time), which that work does not inflate, and "on idle
cores" is workers x faces per CPU-second: what the pipeline does when it has the cores.

    .venv/bin/python ci/bench_faces.py [--n 600] [--frames 16]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time

import numpy as np


_DLIB = {"seconds": 0.0, "calls": 0}  # CPU time inside dlib in this worker process


def _timed(fn):
    """``fn`` that adds its CPU time (other processes on the core do not count) to _DLIB."""
    def timed(*args):
        t = time.process_time()
        try:
            return fn(*args)
        finally:
            _DLIB["seconds"] += time.process_time() - t
            _DLIB["calls"] += 1
    return timed


def _init() -> None:
    import cv2

    from minilocal import face_detection

    cv2.setNumThreads(1)
    face_detection._dlib()  # load the models, then time them from here: no timers inside
    for name in ("detector", "predictor"):
        face_detection._models[name] = _timed(face_detection._models[name])


def _run(paths: list[str]) -> tuple[int, float, float]:
    """Faces done, CPU seconds busy, CPU seconds inside dlib: in one process."""
    from minilocal import faces
    from minilocal.image_io import read_image
    from minilocal.masks import cvm

    _DLIB.update(seconds=0.0, calls=0)
    t = time.process_time()
    for p in paths:
        crop = faces.align_face(read_image(p))
        cvm(crop.landmarks, *crop.image.shape[:2])
    busy = time.process_time() - t
    return len(paths), busy, _DLIB["seconds"]


def bench_faces(paths: list[str], workers: int) -> dict:
    chunks = [list(c) for c in np.array_split(paths, workers * 4)]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, _init) as pool:
        pool.map(_run, [chunks[0][:5]] * workers)  # warm up: models loaded, caches filled
        t = time.perf_counter()
        results = pool.map(_run, chunks, chunksize=1)
        wall = time.perf_counter() - t
    n = sum(r[0] for r in results)
    busy = sum(r[1] for r in results)
    dlib = sum(r[2] for r in results)
    return {"workers": workers, "faces": n, "wall_s": wall, "faces_per_s": n / wall,
            "ms_per_face_per_core": 1000 * busy / n, "dlib_ms_per_face": 1000 * dlib / n,
            "ratio_to_floor": busy / dlib, "idle_faces_per_s": workers * n / busy}


def bench_video(root, k: int) -> dict:
    from minilocal.video import ffpp_videos, read_frames, video_faces

    _init()
    videos = [v for v in ffpp_videos(root) if v.label == "real"]
    t = time.perf_counter()
    decoded = sum(len(read_frames(v.path)) for v in videos)
    decode_s = time.perf_counter() - t
    t, c = time.perf_counter(), time.process_time()
    done = sum(len(video_faces(v, k=k)[0]) for v in videos)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return {"videos": len(videos), "decode_fps": decoded / decode_s,
            "sampled_frames": done, "decode_faces_fps": done / wall,
            "decode_faces_fps_cpu": done / cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=600, help="DFDC crops to time (default 600)")
    parser.add_argument("--frames", type=int, default=16, help="frames per FF++ video")
    args = parser.parse_args()
    from minilocal.paths import find_dataset

    dfdc = find_dataset("dfdc_faces")
    paths = sorted(str(p) for p in (dfdc / "real").glob("*.jpg"))
    paths += sorted(str(p) for p in (dfdc / "fake").glob("*.jpg"))
    paths = [paths[i] for i in np.linspace(0, len(paths) - 1, args.n).astype(int)]
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()}")
    for workers in (1, 2):
        r = bench_faces(paths, workers)
        print(f"DFDC 224px crops, {r['workers']} worker(s): {r['faces_per_s']:.1f} faces/s "
              f"({r['faces']} faces in {r['wall_s']:.1f} s); per core "
              f"{r['ms_per_face_per_core']:.2f} ms/face; "
              f"dlib floor {r['dlib_ms_per_face']:.2f} ms/face "
              f"(= {1000 / r['dlib_ms_per_face']:.0f} faces/s per core); "
              f"ratio to floor {r['ratio_to_floor']:.2f}x; on idle cores (CPU time) "
              f"{r['idle_faces_per_s']:.0f} faces/s")
    v = bench_video(find_dataset("ffpp_c23"), args.frames)
    print(f"FF++ c23 ({v['videos']} real videos): decode only {v['decode_fps']:.0f} frames/s; "
          f"decode + faces at {args.frames} frames/video: {v['decode_faces_fps']:.1f} frames/s "
          f"({v['sampled_frames']} faces; {v['decode_faces_fps_cpu']:.1f} per CPU-second)")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
