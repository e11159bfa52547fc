"""Worker processes of the synthesis: a task state per process and an ordered imap.

:func:`_imap` runs a task in this process or in forked ones; the tasks
(:func:`minilocal.synth.pool._align`, :func:`minilocal.synth.dataset._fakes_of`) read
what they need from :data:`_STATE`.
"""

from __future__ import annotations

import logging
import multiprocessing

import cv2

logger = logging.getLogger(__name__)

_STATE: dict = {}  # per process: what the worker tasks read (pool, seed, methods, ...)


def _init_worker(state: dict) -> None:
    cv2.setNumThreads(1)
    _STATE.clear()
    _STATE.update(state)


def _imap(fn, items: list, state: dict, workers: int, progress: bool, desc: str):
    """``fn`` over ``items`` in order, in this process or in ``workers`` forked ones."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(items), desc=desc, disable=not progress)
    if workers <= 1:
        saved = dict(_STATE)
        _init_worker(state)
        try:
            for item in items:
                yield fn(item)
                bar.update()
        finally:
            _STATE.clear()
            _STATE.update(saved)
    else:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        with ctx.Pool(workers, _init_worker, (state,)) as procs:
            for out in procs.imap(fn, items, chunksize=4):
                yield out
                bar.update()
    bar.close()
