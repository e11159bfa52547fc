"""The dataset registry: each dataset's public source and the sha256 of every file.

The repository holds no images. ``datasets_small/registry.json`` names, for every
dataset, its public source (a GitHub repository at a fixed commit), how each local file
maps to a path there, and a manifest with the sha256 of every file
(``datasets_small/manifests/<name>.sha256``, ``sha256sum -c`` format). A file the
curators made themselves (no public counterpart) is marked *derived*: it is in the
manifest, but it cannot be downloaded. ``ci/make_registry.py`` writes both files;
:mod:`minilocal.download` checks a local copy against them and fetches a missing one.

Overrides (tests, mirrors): ``$MINILOCAL_REGISTRY`` (path to a registry.json) and
``$MINILOCAL_DATA_URL`` (a base URL that replaces the source's, followed by the source
path), or the ``registry=`` / ``base_url=`` arguments.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .paths import in_project

logger = logging.getLogger(__name__)

__all__ = [
    "REGISTRY_ENV", "BASE_URL_ENV", "DatasetEntry", "registry_path", "load_registry",
    "list_datasets", "dataset_info", "read_manifest", "write_manifest", "sha256_file",
]

REGISTRY_ENV = "MINILOCAL_REGISTRY"
BASE_URL_ENV = "MINILOCAL_DATA_URL"
_CHUNK = 1 << 16


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
