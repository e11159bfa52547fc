"""Dataset adapters: what each raw source holds, as inputs with their metadata (paper 4.1).

Each adapter lists a source folder's inputs as :class:`Item` s, in a fixed order: the file,
its label, and the group that must not cross splits (a person, a real video and its
fakes). :func:`minilocal.preprocess.build_dataset` then aligns their faces into a
folder-format dataset.

Adapters (``KINDS``):

* ``ffpp``: FaceForensics++ videos; K frames a video; fakes get real forgery masks
  (mask videos, or the difference to their real); group = the real video id (the target).
* ``dfdc_faces``: the DFDC face crops; group = the real video (``original`` for a fake, own
  name for a real), so a real/fake pair never crosses splits. No true masks.
* ``lfw_faces``: LFW photographs, all real; group = the person (folder name). Of several
  faces, the largest one holding the photo's centre is taken (LFW centres its person).
* ``gan_faces``: fully generated faces, all fake, mask = ones (OM). The reals must come from
  another source, so a real-vs-GAN classifier can learn the source instead of the
  generator (shortcut learning): say so wherever it is used.
* ``folder``: any images, ``real/`` + ``fake/`` subfolders or a flat folder with ``label``;
  group = file stem.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from .folder import IMAGE_EXTENSIONS, LABELS, METADATA

__all__ = ["KINDS", "Item", "list_items"]

KINDS = ("ffpp", "dfdc_faces", "lfw_faces", "gan_faces", "folder")
VIDEO_KINDS = ("ffpp",)  # kinds whose inputs are videos (an Item with a video)


@dataclass(frozen=True)
class Item:
    """One input: an image (or for ffpp a video) and the columns its faces get.

    path: the file; source: its name relative to the source root (for rejects.csv);
    name: output file stem; label, group, method: as in metadata.csv; video: for ffpp,
    the :class:`minilocal.video.FFPPVideo`.
    """

    path: Path
    source: str
    name: str
    label: str
    group: str
    method: str = ""
    video: object = field(default=None, compare=False)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS
                  and p.is_file())


def _interleave(a: list, b: list) -> list:
    out = []
    for i in range(max(len(a), len(b))):
        out += a[i:i + 1] + b[i:i + 1]
    return out


def _dfdc_items(src: Path) -> list[Item]:
    meta = src / METADATA
    if not meta.is_file():
        raise FileNotFoundError(f"{src} is not the dfdc_faces folder: no {METADATA}")
    items = []
    with open(meta, newline="") as f:
        for row in csv.DictReader(f):
            stem = Path(row["file"]).stem
            if row["label"] not in LABELS:
                raise ValueError(f"{meta}: label must be real or fake, got {row['label']!r}")
            fake = row["label"] == "fake"
            items.append(Item(src / row["file"], row["file"], f"{row['label']}_{stem}",
                              row["label"], (row.get("original") or stem) if fake else stem,
                              "dfdc" if fake else ""))
    return items


def _lfw_items(src: Path) -> list[Item]:
    return [Item(p, str(p.relative_to(src)), p.stem, "real", p.parent.name)
            for p in _images(src)]


def _gan_items(src: Path) -> list[Item]:
    return [Item(p, str(p.relative_to(src)), f"gan_{p.stem}", "fake", f"gan_{p.stem}", "gan")
            for p in _images(src)]


def _folder_items(src: Path, label: str | None) -> list[Item]:
    def items(folder: Path, lab: str) -> list[Item]:
        return [Item(p, str(p.relative_to(src)), f"{lab}_{p.stem}", lab, p.stem,
                     "unknown" if lab == "fake" else "") for p in _images(folder)]

    if (src / "real").is_dir() or (src / "fake").is_dir():
        return _interleave(items(src / "real", "real"), items(src / "fake", "fake"))
    if label not in LABELS:
        raise ValueError(f"{src} has no real/ or fake/ subfolder: for a flat folder pass "
                         f"--label real or --label fake (label= in the API; got {label!r})")
    return items(src, label)


def _ffpp_items(src: Path) -> list[Item]:
    from .video import ffpp_videos

    return [Item(v.path, str(v.path.relative_to(src)), v.name, v.label, v.target, v.method, v)
            for v in ffpp_videos(src)]


def list_items(kind: str, src: str | Path, label: str | None = None) -> list[Item]:
    """The inputs of a source folder for an adapter, in a fixed order.

    Raises:
        ValueError: on an unknown kind (or a flat ``folder`` without ``label``).
        FileNotFoundError: if ``src`` is missing or not laid out as the kind expects.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown dataset kind {kind!r}; expected one of {KINDS}")
    src = Path(src)
    if not src.is_dir():
        raise FileNotFoundError(f"source folder {src} does not exist")
    if kind == "dfdc_faces":
        return _dfdc_items(src)
    if kind == "lfw_faces":
        return _lfw_items(src)
    if kind == "gan_faces":
        return _gan_items(src)
    if kind == "folder":
        return _folder_items(src, label)
    return _ffpp_items(src)
