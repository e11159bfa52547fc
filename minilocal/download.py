"""Local copies of registered datasets: verify one against its manifest, download the rest.

:func:`verify` hashes every file of a local copy and compares it with the dataset's
manifest (:mod:`minilocal.registry`); :func:`download` fetches the files that are missing
or wrong from their public URLs (:func:`minilocal.http_fetch.fetch`) into
:func:`default_dest`, then unpacks registered archives
(:func:`minilocal.archives.extract_archive`). Derived files (no public counterpart) never
fail a check and are never downloaded.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from .archives import extract_archive
from .http_fetch import DownloadError, fetch
from .paths import build_dir, data_roots, locate
from .registry import dataset_info, sha256_file

logger = logging.getLogger(__name__)

__all__ = ["VerifyReport", "DownloadReport", "default_dest", "verify", "download"]


def default_dest(name: str) -> Path:
    """Where :func:`download` writes ``name``: $MINILOCAL_DATA/name or build/data/raw/name."""
    if os.environ.get("MINILOCAL_DATA"):
        return Path(os.environ["MINILOCAL_DATA"]) / name
    return build_dir() / "raw" / name


def _progress(iterable, total: int, desc: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="file")


@dataclass
class VerifyReport:
    """What :func:`verify` found; ``passed`` when nothing is missing or mismatched.

    Derived files (no public counterpart, see DatasetEntry.derived) never fail it: one
    that is absent or differs from the curators' (e.g. rebuilt) is listed apart.
    """

    name: str
    root: Path
    expected: int  # files in the manifest
    ok: int = 0  # present with the right sha256
    missing: list[str] = field(default_factory=list)  # downloadable files not there
    mismatched: list[str] = field(default_factory=list)  # present, wrong sha256
    extra: list[str] = field(default_factory=list)  # there but not in the manifest
    derived_missing: list[str] = field(default_factory=list)  # derived, not there
    derived_mismatched: list[str] = field(default_factory=list)  # derived, rebuilt?
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.missing and not self.mismatched

    def summary(self) -> str:
        return (f"{self.name}: {'OK' if self.passed else 'FAILED'} {self.ok}/{self.expected} "
                f"ok, {len(self.missing)} missing, {len(self.mismatched)} mismatched, "
                f"{len(self.extra)} extra, {len(self.derived_missing)} derived missing, "
                f"{len(self.derived_mismatched)} derived differ "
                f"({self.root}, {self.seconds:.1f} s)")


def verify(name: str, root: str | Path | None = None, *, registry: str | Path | None = None,
           workers: int = 2, progress: bool = False) -> VerifyReport:
    """sha256 every file of dataset ``name`` against its manifest.

    Args:
        name: a registered dataset.
        root: the dataset folder. Default: :func:`~minilocal.paths.locate` (data roots,
            build/data/raw).
        registry: registry.json to use (default: see :func:`registry_path`).
        workers: hashing threads. Default: 2.
        progress: show a tqdm bar. Default: False.

    Returns:
        A :class:`VerifyReport`; a derived file (missing or different) does not fail it.

    Raises:
        FileNotFoundError: if ``root`` is not given and no copy is found.
    """
    entry = dataset_info(name, registry)
    if root is None:
        root = locate(name)
        if root is None:
            searched = [str(r / name) for r in data_roots()]
            raise FileNotFoundError(f"dataset {name!r} not found; searched {searched}; "
                                    f"run `minilocal data download {name}`")
    root = Path(root)
    start = time.perf_counter()
    expected = entry.checksums()
    report = VerifyReport(name, root, len(expected))
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    report.extra = sorted(on_disk - set(expected))
    present = sorted(set(expected) & on_disk)
    for rel in sorted(set(expected) - on_disk):
        (report.derived_missing if rel in entry.derived else report.missing).append(rel)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        digests = pool.map(lambda rel: sha256_file(root / rel), present)
        for rel, digest in _progress(zip(present, digests), len(present), name, progress):
            if digest == expected[rel]:
                report.ok += 1
            elif rel in entry.derived:
                report.derived_mismatched.append(rel)
            else:
                report.mismatched.append(rel)
    report.seconds = time.perf_counter() - start
    logger.info(report.summary())
    return report


@dataclass
class DownloadReport:
    """What :func:`download` did, per file."""

    name: str
    dest: Path
    present: int = 0  # already there with the right sha256
    downloaded: int = 0
    resumed: int = 0  # completed from a .part file
    failed: dict[str, str] = field(default_factory=dict)  # local path -> reason
    derived_skipped: list[str] = field(default_factory=list)  # not downloadable
    extracted: list[str] = field(default_factory=list)  # archives unpacked
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.name}: {self.present} present, {self.downloaded} downloaded, "
                f"{self.resumed} resumed, {len(self.failed)} failed, "
                f"{len(self.derived_skipped)} derived (not downloadable) -> {self.dest} "
                f"({self.seconds:.1f} s)")


def download(name: str, dest: str | Path | None = None, workers: int = 4,
             progress: bool = True, *, registry: str | Path | None = None,
             base_url: str | None = None, retries: int = 3, timeout: float = 30.0,
             backoff: float = 1.0, deadline: float | None = 3600.0) -> DownloadReport:
    """Fetch the missing files of dataset ``name`` from its public URLs, verified.

    Files already in ``dest`` with the right sha256 are kept; others are (re)fetched
    with :func:`fetch`. Registered archives are then unpacked with
    :func:`extract_archive`. Derived files are skipped (see datasets_small/README.md).

    Args:
        name: a registered dataset.
        dest: target folder. Default: :func:`default_dest` (build/data/raw/<name>).
        workers: parallel downloads. Default: 4.
        progress: show a tqdm bar. Default: True.
        registry: registry.json to use (default: see :func:`registry_path`).
        base_url: replaces the source's URL prefix (mirror, tests). Default: None.
        retries, timeout, backoff: passed to :func:`fetch` (timeout: seconds per socket
            operation). Default: 3, 30, 1.
        deadline: seconds allowed for the whole call, every file and try included; files
            not done by then fail (their partial files are kept, to be resumed). None: no
            limit. Default: 3600.

    No file may exceed the dataset's registered total size (``bytes``; the manifest has
    no per-file sizes): a server sending more is cut off at once and the partial file
    deleted.

    Returns:
        A :class:`DownloadReport`.

    Raises:
        DownloadError: if any file failed (after the others finished); ``.report``.
    """
    entry = dataset_info(name, registry)
    dest = Path(dest) if dest is not None else default_dest(name)
    start = time.perf_counter()
    until = None if deadline is None else time.monotonic() + deadline
    report = DownloadReport(name, dest)
    todo = []
    for rel, digest in sorted(entry.checksums().items()):
        path = dest / rel
        if path.is_file() and sha256_file(path) == digest:
            report.present += 1
        elif rel in entry.derived:
            report.derived_skipped.append(rel)
        else:
            todo.append((rel, digest))
    logger.info("%s: %d files to fetch into %s", name, len(todo), dest)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        futures = {pool.submit(fetch, entry.url(rel, base_url), dest / rel, digest,
                               retries=retries, timeout=timeout, backoff=backoff,
                               max_bytes=entry.bytes, deadline=None, until=until): rel
                   for rel, digest in todo}
        for fut in _progress(as_completed(futures), len(futures), name, progress):
            rel = futures[fut]
            try:
                status = fut.result()
            except (DownloadError, ValueError) as err:
                report.failed[rel] = str(err)
                continue
            if status == "resumed":
                report.resumed += 1
            else:
                report.downloaded += 1
    for rel in entry.archives:
        if rel not in report.failed and (dest / rel).is_file():
            extract_archive(dest / rel, dest)
            report.extracted.append(rel)
    report.seconds = time.perf_counter() - start
    logger.info(report.summary())
    if report.failed:
        first = next(iter(report.failed.items()))
        raise DownloadError(f"{name}: {len(report.failed)} of {len(todo)} files failed, "
                            f"e.g. {first[0]}: {first[1]}", report)
    return report
