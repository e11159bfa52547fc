"""Safe extraction of tar and zip archives: no member may land outside the target folder.

:func:`extract_archive` checks every member before it writes anything: absolute paths,
'..' escapes, links pointing outside the folder, device files and (in zips) symlinks are
refused. :func:`minilocal.download.download` unpacks a dataset's registered archives
with it.
"""

from __future__ import annotations

import logging
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

logger = logging.getLogger(__name__)

__all__ = ["UnsafeArchiveError", "extract_archive"]

_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the target folder (or is a device/link)."""


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
