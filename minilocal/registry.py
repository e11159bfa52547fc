"""The dataset registry: public sources, sha256 manifests and verified downloads.

The repository holds no images. ``datasets_small/registry.json`` names, for every
dataset, its public source (a GitHub repository at a fixed commit), how each local file
maps to a path there, and a manifest with the sha256 of every file
(``datasets_small/manifests/<name>.sha256``, ``sha256sum -c`` format). From that,
:func:`verify` checks a local copy and :func:`download` fetches a missing one over
HTTP(S), resuming partial files and rejecting any whose sha256 is wrong. A file the
curators made themselves (no public counterpart) is marked *derived*: it is in the
manifest, but it cannot be downloaded. ``ci/make_registry.py`` writes both files.

Overrides (tests, mirrors): ``$MINILOCAL_REGISTRY`` (path to a registry.json) and
``$MINILOCAL_DATA_URL`` (a base URL that replaces the source's, followed by the source
path), or the ``registry=`` / ``base_url=`` arguments.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .paths import build_dir, data_roots, in_project, locate

logger = logging.getLogger(__name__)

__all__ = [
    "REGISTRY_ENV", "BASE_URL_ENV", "DatasetEntry", "VerifyReport", "DownloadReport",
    "DownloadError", "UnsafeArchiveError", "registry_path", "load_registry",
    "list_datasets", "dataset_info", "default_dest", "read_manifest",
    "write_manifest", "sha256_file", "verify", "fetch", "download", "extract_archive",
]

REGISTRY_ENV = "MINILOCAL_REGISTRY"
BASE_URL_ENV = "MINILOCAL_DATA_URL"
_CHUNK = 1 << 16
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")


class DownloadError(RuntimeError):
    """Some files could not be fetched with the right sha256; ``report`` says which."""

    def __init__(self, message: str, report: "DownloadReport | None" = None):
        super().__init__(message)
        self.report = report


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the target folder (or is a device/link)."""


def _check_relative(path: str, what: str) -> str:
    """A clean relative POSIX path, or ValueError naming it (no '..', no absolute)."""
    if not isinstance(path, str):
        raise ValueError(f"{what} must be a path string, got {path!r}")
    p = PurePosixPath(path)
    if not path or p.is_absolute() or ".." in p.parts or "\\" in path or ":" in p.parts[0]:
        raise ValueError(f"{what} {path!r} must be a relative path without '..'")
    return p.as_posix()


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset of the registry (see datasets_small/registry.json)."""

    name: str
    description: str
    terms: str  # licence / terms of use of the source
    repository: str  # public GitHub repository, "owner/name"
    commit: str  # 40-hex commit the files are taken from
    url_template: str  # public URL of a file, with "{source_path}"
    files: int  # number of files in the manifest (derived ones included)
    bytes: int  # their total size
    manifest: Path  # the sha256 manifest
    source_map: tuple[tuple[str, str], ...] = ()  # (local prefix, source prefix) rules
    derived: dict[str, str] = field(default_factory=dict)  # local path -> how it is made
    archives: tuple[str, ...] = ()  # files extracted into the dataset after download
    build: str = ""  # how the folder-format dataset is built from this one

    def source_path(self, local: str) -> str:
        """The path in the source repository of local file ``local``.

        Raises:
            ValueError: if ``local`` is derived or matches no source_map rule.
        """
        if local in self.derived:
            raise ValueError(f"{self.name}/{local} is derived (no public file): "
                             f"{self.derived[local]}")
        for local_prefix, source_prefix in self.source_map:
            if local.startswith(local_prefix):
                return source_prefix + local[len(local_prefix):]
        raise ValueError(f"{self.name}/{local} matches no source_map prefix "
                         f"{[p for p, _ in self.source_map]}")

    def url(self, local: str, base_url: str | None = None) -> str:
        """The public URL of local file ``local`` (or ``base_url`` + its source path)."""
        quoted = urllib.parse.quote(self.source_path(local))
        base_url = base_url or os.environ.get(BASE_URL_ENV)
        if base_url:
            return base_url.rstrip("/") + "/" + quoted
        return self.url_template.format(source_path=quoted)

    def checksums(self) -> dict[str, str]:
        """Local path -> sha256 (hex), read from the manifest."""
        return read_manifest(self.manifest)


def registry_path(registry: str | Path | None = None) -> Path:
    """``registry``, else $MINILOCAL_REGISTRY, else datasets_small/registry.json of the repo."""
    if registry is None:
        registry = os.environ.get(REGISTRY_ENV) or in_project(
            Path("datasets_small") / "registry.json")
    return Path(registry)


def load_registry(registry: str | Path | None = None) -> dict[str, DatasetEntry]:
    """Every dataset of a registry.json, by name (see :func:`registry_path`).

    Raises:
        FileNotFoundError: if the registry file is missing.
        ValueError: naming the file (and the entry) on invalid JSON, an unknown format
            version, a missing or mistyped field, or an unsafe manifest/archive path.
    """
    path = registry_path(registry)
    if not path.is_file():
        raise FileNotFoundError(f"no dataset registry at {path} (set ${REGISTRY_ENV})")
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(doc, dict) or doc.get("format") != 1:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"{path}: registry format {found!r} is not 1")
    if not isinstance(doc.get("datasets"), dict):
        raise ValueError(f"{path}: registry has no 'datasets' object")
    return {name: _entry(path, name, d) for name, d in doc["datasets"].items()}


_REQUIRED = ("description", "terms", "source", "url_template", "files", "bytes", "manifest")


def _entry(path: Path, name: str, d: object) -> DatasetEntry:
    """One registry entry, every field checked; ValueError names the file and entry."""
    where = f"{path}: dataset {name!r}"
    if not isinstance(d, dict):
        raise ValueError(f"{where} must be an object, got {type(d).__name__}")
    missing = [k for k in _REQUIRED if k not in d]
    if missing:
        raise ValueError(f"{where} lacks required fields {missing}")
    src = d["source"]
    if not isinstance(src, dict) or not {"repository", "commit"} <= set(src):
        raise ValueError(f"{where}: 'source' must be an object with repository and commit")
    template = d["url_template"]
    if not isinstance(template, str) or "{source_path}" not in template:
        raise ValueError(f"{where}: 'url_template' must be a string containing "
                         f"'{{source_path}}', got {template!r}")
    try:
        files, nbytes = int(d["files"]), int(d["bytes"])
        source_map = tuple((m["local"], m["source"]) for m in d.get("source_map", []))
        derived = dict(d.get("derived", {}))
    except (TypeError, ValueError, KeyError) as err:
        raise ValueError(f"{where}: malformed files, bytes, source_map or derived "
                         f"({type(err).__name__}: {err})") from None
    archives = tuple(_check_relative(a, f"{where}: archive")
                     for a in d.get("archives", []))
    return DatasetEntry(
        name=name, description=d["description"], terms=d["terms"],
        repository=src["repository"], commit=src["commit"], url_template=template,
        files=files, bytes=nbytes,
        manifest=path.parent / _check_relative(d["manifest"], f"{where}: manifest"),
        source_map=source_map, derived=derived, archives=archives,
        build=d.get("build", ""))


def list_datasets(registry: str | Path | None = None) -> list[str]:
    """Names of the registered datasets, sorted."""
    return sorted(load_registry(registry))


def dataset_info(name: str, registry: str | Path | None = None) -> DatasetEntry:
    """The registry entry of ``name``.

    Raises:
        ValueError: if ``name`` is not registered (the message lists those that are).
    """
    entries = load_registry(registry)
    if name not in entries:
        raise ValueError(f"unknown dataset {name!r}; registered: {sorted(entries)}")
    return entries[name]


def default_dest(name: str) -> Path:
    """Where :func:`download` writes ``name``: $MINILOCAL_DATA/name or build/data/raw/name."""
    if os.environ.get("MINILOCAL_DATA"):
        return Path(os.environ["MINILOCAL_DATA"]) / name
    return build_dir() / "raw" / name


def read_manifest(path: str | Path) -> dict[str, str]:
    """A ``sha256sum`` manifest ("<64 hex>  <relative path>" per line) as path -> sha256.

    Raises:
        ValueError: on a malformed line or an unsafe path (absolute or with '..').
    """
    checksums = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"{path}:{n}: expected '<sha256>  <path>', got {line[:80]!r}")
        checksums[_check_relative(rel, f"{path}:{n}: path")] = digest
    return checksums


def write_manifest(path: str | Path, checksums: dict[str, str]) -> None:
    """Write path -> sha256 as a sorted ``sha256sum`` manifest."""
    Path(path).write_text("".join(f"{checksums[k]}  {k}\n" for k in sorted(checksums)))


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 64 KiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


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


def _inside(dest: Path, member: str) -> bool:
    """Whether ``dest/member`` stays inside ``dest`` once resolved."""
    return (dest / member).resolve().is_relative_to(dest.resolve())


def _check_member(dest: Path, name: str, link: str | None = None) -> None:
    """Raise UnsafeArchiveError if member ``name`` (or its link target) leaves dest."""
    if not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path")
    if not _inside(dest, name):
        raise UnsafeArchiveError(f"archive member {name!r} escapes {dest}")
    if link is not None:
        target = PurePosixPath(name).parent / link
        if link.startswith("/") or not _inside(dest, str(target)):
            raise UnsafeArchiveError(f"archive link {name!r} -> {link!r} points outside {dest}")


def extract_archive(archive: str | Path, dest: str | Path) -> list[Path]:
    """Unpack a .tar(.gz/.bz2/.xz) or .zip into ``dest``, refusing unsafe members.

    Every member is checked before anything is written: absolute paths, '..' escapes,
    links pointing outside ``dest``, device files and (in zips) symlinks are refused.
    Tar files are then extracted with ``filter="data"`` where Python has it.

    Returns:
        The extracted paths (files and folders), in archive order.

    Raises:
        UnsafeArchiveError: naming the first unsafe member.
        ValueError: if ``archive`` is not a tar or zip file.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            for info in infos:
                _check_member(dest, info.filename)
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise UnsafeArchiveError(f"zip member {info.filename!r} is a symlink")
            for info in infos:
                zf.extract(info, dest)
            return [dest / i.filename for i in infos]
    if not archive.name.endswith(_ARCHIVE_SUFFIXES) or not tarfile.is_tarfile(archive):
        raise ValueError(f"{archive} is not a tar or zip archive ({_ARCHIVE_SUFFIXES})")
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        for m in members:
            if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
                raise UnsafeArchiveError(f"tar member {m.name!r} is a device or fifo")
            if m.islnk():  # hard link targets are relative to the archive root
                _check_member(dest, m.name)
                _check_member(dest, m.linkname)
            else:
                _check_member(dest, m.name, m.linkname if m.issym() else None)
        if hasattr(tarfile, "data_filter"):
            tf.extractall(dest, members=members, filter="data")
        else:  # Python < 3.11.4: members were checked above
            tf.extractall(dest, members=members)
        return [dest / m.name for m in members]
