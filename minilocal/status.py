"""Whether a dataset folder is complete: ``ROOT/status.json``, written by the commands that
build datasets (``minilocal preprocess``, ``minilocal synth``).

A command that writes a dataset marks it *in progress* before its first row and *complete*
after its last::

    ROOT/status.json   {"complete": false, "command": "synth", "settings": {...},
                        "rerun": "minilocal synth SRC OUT --n 100 ..."}

Both writes replace the file atomically (temp file + rename), so a run killed at any point
(``kill -9`` included) leaves a folder that is either marked in progress or complete, never
one that claims to be complete without being so. ``settings`` are what the rows depend on
(e.g. the crop size); a resume with other settings is refused rather than mixing two kinds
of rows in one dataset. ``rerun`` is the command that finishes the folder.

No ``status.json`` at all means a *legacy* dataset, taken as complete: folders built before
this marker existed (e.g. build/data/*), datasets written with
:class:`~minilocal.folder.FolderWriter` directly, and hand-made ``real/`` + ``fake/``
folders all keep working, without a warning. The alternative, writing a marker only at the
end and treating its absence as incomplete, would flag every one of those as broken.
The price: a folder killed midway by a minilocal older than this marker is not detected.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping

logger = logging.getLogger(__name__)

__all__ = ["STATUS", "read_status", "is_complete", "mark_started", "mark_complete",
           "check_settings", "warn_if_incomplete"]

STATUS = "status.json"


def read_status(root: str | Path) -> dict[str, Any] | None:
    """The parsed ``ROOT/status.json``; None when there is none (a legacy dataset).

    Raises:
        ValueError: naming the file if it is not a JSON object with a boolean "complete".
    """
    path = Path(root) / STATUS
    if not path.is_file():
        return None
    try:
        status = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}); rerun the command that built "
                         "the dataset") from None
    if not isinstance(status, dict) or not isinstance(status.get("complete"), bool):
        raise ValueError(f"{path} has no boolean 'complete' entry; rerun the command that "
                         "built the dataset")
    return status


def is_complete(root: str | Path) -> bool:
    """True for a complete dataset, and for a legacy one (no status.json)."""
    status = read_status(root)
    return status is None or status["complete"]


def _write(root: Path, status: Mapping[str, Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / (STATUS + ".tmp")
    tmp.write_text(json.dumps(status, indent=1) + "\n")
    os.replace(tmp, root / STATUS)


def mark_started(root: str | Path, command: str, settings: Mapping[str, Any],
                 rerun: str) -> None:
    """Mark ``root`` as being written by ``command`` (before its first row).

    Args:
        root: the dataset folder (created if missing).
        command: "preprocess" or "synth".
        settings: JSON-ready values the rows depend on (see :func:`check_settings`).
        rerun: the command line that finishes the folder, shown by :func:`warn_if_incomplete`.
    """
    _write(Path(root), {"complete": False, "command": command, "settings": dict(settings),
                        "rerun": rerun})


def mark_complete(root: str | Path) -> None:
    """Mark ``root`` complete (after its last row); keeps command, settings and rerun."""
    status = read_status(root) or {}
    _write(Path(root), {**status, "complete": True})


def check_settings(root: str | Path, command: str, settings: Mapping[str, Any]) -> None:
    """Refuse to add rows made with other ``settings`` to a dataset that records its own.

    A legacy dataset (no status.json) records none and passes.

    Raises:
        ValueError: naming the folder, the command that built it and every differing
            setting ("size 64 -> 128"), and what to do.
    """
    status = read_status(root)
    if status is None:
        return
    if status.get("command") != command:
        raise ValueError(f"{root} was built by minilocal {status.get('command')}, not "
                         f"{command}; choose another folder (or --overwrite)")
    saved = status.get("settings") or {}
    differ = [f"{k} {json.dumps(saved.get(k))} -> {json.dumps(v)}"
              for k, v in settings.items() if saved.get(k) != v]
    if differ:
        raise ValueError(f"{root} was built with other settings ({'; '.join(differ)}); "
                         "rerun with the same options to finish or extend it, or pass "
                         "--overwrite to start again")


def warn_if_incomplete(root: str | Path) -> bool:
    """Log one warning line when ``root`` is marked in progress; True if it was.

    The line names the folder, the command that was interrupted and the command that
    finishes it.
    """
    status = read_status(root)
    if status is None or status["complete"]:
        return False
    logger.warning("%s is incomplete (minilocal %s did not finish); finish it with: %s",
                   root, status.get("command", "?"), status.get("rerun", "the same command"))
    return True
