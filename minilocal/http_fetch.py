"""Fetching one file over HTTP(S), resumed, size-capped, time-limited and checked by sha256.

:func:`fetch` writes through ``<target>.part``: a leftover part is resumed with an HTTP
Range request, a file whose sha256 is wrong is deleted and fetched again, network errors
are retried with exponential backoff, and a server that sends too much or too slowly is
cut off. :func:`minilocal.download.download` calls it for every missing file of a dataset.
"""

from __future__ import annotations

import http.client
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from .registry import sha256_file

if TYPE_CHECKING:
    from .download import DownloadReport

logger = logging.getLogger(__name__)

__all__ = ["DownloadError", "fetch"]

_CHUNK = 1 << 16  # bytes read from the socket at a time


class DownloadError(RuntimeError):
    """Some files could not be fetched with the right sha256; ``report`` says which."""

    def __init__(self, message: str, report: "DownloadReport | None" = None):
        super().__init__(message)
        self.report = report


class TooLargeError(OSError):
    """More bytes arrived than the file can have; the partial file was deleted."""


class DeadlineError(TimeoutError):
    """The overall time allowed for a download has passed."""


def _fetch_once(url: str, part: Path, timeout: float, max_bytes: int | None = None,
                until: float | None = None) -> bool:
    """Fetch ``url`` into ``part``, resuming it with an HTTP Range; True if resumed.

    Aborts with TooLargeError (deleting ``part``) as soon as more than ``max_bytes``
    bytes are there, and with DeadlineError once ``time.monotonic()`` passes ``until``
    (``part`` kept, to be resumed)."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "minilocal"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                      timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing after `have` bytes: part may be whole
            return True
        raise
    with resp:
        resumed = bool(have) and resp.status == 206
        if resumed:
            content_range = resp.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {have}-"):
                part.unlink()  # unexpected range: start again on the next try
                raise OSError(f"{url}: asked for bytes {have}-, got {content_range!r}")
        elif have:
            logger.info("%s: server ignored Range, restarting", url)
        with open(part, "ab" if resumed else "wb") as f:
            _copy_capped(resp, f, url, have if resumed else 0, max_bytes, until)
    return resumed


def _copy_capped(resp, f, url: str, have: int, max_bytes: int | None,
                 until: float | None) -> None:
    """Copy the response body to ``f`` while it stays under the size cap and deadline."""
    length = resp.headers.get("Content-Length", "")
    if max_bytes is not None and length.isdigit() and have + int(length) > max_bytes:
        _too_large(f, url, have + int(length), max_bytes)
    total = have
    while True:
        if until is not None and time.monotonic() > until:
            raise DeadlineError(f"{url}: deadline passed after {total} bytes")
        block = resp.read1(_CHUNK)  # returns what has arrived: a trickle is still timed
        if not block:
            return
        total += len(block)
        if max_bytes is not None and total > max_bytes:
            _too_large(f, url, total, max_bytes)
        f.write(block)


def _too_large(f, url: str, nbytes: int, max_bytes: int) -> None:
    f.close()
    Path(f.name).unlink(missing_ok=True)
    raise TooLargeError(f"{url}: {nbytes} bytes or more, but at most {max_bytes} are "
                        "expected; partial file deleted")


def fetch(url: str, target: str | Path, sha256: str, *, retries: int = 3,
          timeout: float = 30.0, backoff: float = 1.0, max_bytes: int | None = None,
          deadline: float | None = 3600.0, until: float | None = None) -> str:
    """Download ``url`` to ``target`` through ``target.part``, verified by sha256.

    A leftover ``.part`` is resumed with an HTTP Range request (restarted if the server
    answers 200 instead of 206). A file whose sha256 is wrong is deleted and fetched
    again; after ``retries`` further tries the error is raised.

    Args:
        url: http:// or https:// URL.
        target: final path; written only once its sha256 matches.
        sha256: expected hex digest.
        retries: extra tries after a network error or wrong sha256. Default: 3.
        timeout: socket timeout in seconds (connecting, and each read). Default: 30.
        backoff: seconds slept before retry k (k = 0, 1, ...): backoff * 2**k. Default: 1.
        max_bytes: the file's size cap: the download stops (and the partial file is
            deleted) as soon as more bytes arrive, and is not retried. Default: no cap.
        deadline: seconds allowed for this file, every try included; the partial file is
            kept for a later resume. None: no limit. Default: 3600.
        until: an absolute ``time.monotonic()`` deadline (e.g. shared by all files of
            :func:`download`); the earlier of it and ``deadline`` applies.

    Returns:
        "downloaded" or "resumed".

    Raises:
        ValueError: on a URL that is not http(s).
        DownloadError: when every try failed, the file was too large or the deadline
            passed (the message has the reason).
    """
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"only http(s) URLs are fetched, got {url!r}")
    if deadline is not None:
        own = time.monotonic() + deadline
        until = own if until is None else min(until, own)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    reason = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        if until is not None and time.monotonic() > until:
            raise DownloadError(f"{url}: deadline passed before try {attempt + 1}"
                                + (f" (last: {reason})" if reason else ""))
        try:
            resumed = _fetch_once(url, part, timeout, max_bytes, until)
        except (TooLargeError, DeadlineError) as err:
            raise DownloadError(str(err)) from None  # retrying cannot help
        except urllib.error.HTTPError as err:
            reason = f"HTTP {err.code} {err.reason}"
            logger.warning("%s: try %d failed: %s", url, attempt + 1, reason)
            if 400 <= err.code < 500 and err.code not in (408, 429):
                break  # the file is not there: retrying will not help
            continue
        except (OSError, http.client.HTTPException) as err:  # URLError, timeouts, cut-offs
            reason = f"{type(err).__name__}: {err}"
            logger.warning("%s: try %d failed: %s", url, attempt + 1, reason)
            continue
        digest = sha256_file(part) if part.exists() else ""
        if digest == sha256:
            os.replace(part, target)
            return "resumed" if resumed else "downloaded"
        part.unlink(missing_ok=True)
        reason = f"sha256 {digest[:12] or '(no file)'}... != expected {sha256[:12]}..."
        logger.warning("%s: rejected, %s", url, reason)
    raise DownloadError(f"{url}: {reason}")
