"""Write datasets_small/registry.json and the sha256 manifests from ../shared/datasets.

It reads every file of each dataset and writes only text: one line per file
("<sha256>  <path>", ``sha256sum -c`` format) and the registry entry (source, terms,
URL template, how each local path maps to the source repository). No data is copied.

    .venv/bin/python ci/make_registry.py            # (re)write the registry
    .venv/bin/python ci/make_registry.py --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from minilocal.registry import read_manifest, sha256_file, write_manifest  # noqa: E402

RAW = "https://raw.githubusercontent.com/{repository}/{commit}/{{source_path}}"

# The single source of truth for what the registry says about each dataset
# (from ../shared/datasets/README.md). In "build", RAW is where the raw copy is
# (`minilocal data list` shows it).
DATASETS = {
    "dfdc_faces": {
        "description": "Face crops (224x224 JPEG) from DFDC training videos, one frame per "
                       "video: 6,000 real crops and, for each, one deepfake of the same real "
                       "video (metadata.csv column `original`).",
        "terms": "DFDC terms: research use",
        "source": {"repository": "i-Shreyansh/DeepFake-Detection",
                   "commit": "39728535acf043fba39623885f91319db521bf23",
                   "path": "faces_224/"},
        "source_map": [{"local": "real/", "source": "faces_224/"},
                       {"local": "fake/", "source": "faces_224/"}],
        "derived": {"metadata.csv": "made by the curators from the source's metadata.csv "
                                    "(seeded selection; columns file,label,original,"
                                    "crop_size_in_frame); see datasets_small/README.md"},
        "build": "minilocal preprocess RAW build/data/dfdc_faces_128 --kind dfdc_faces",
    },
    "ffpp_c23": {
        "description": "FaceForensics++ sample videos at c23 in FaceForensics++'s own layout: "
                       "519 & Deepfakes 519_515, 634 & FaceSwap 634_660, 004 & "
                       "NeuralTextures 004_982, Face2Face 750_743 (no original). No masks.",
        "terms": "FaceForensics++ terms: research use",
        "source": {"repository": "polimi-ispl/icpr2020dfdc",
                   "commit": "bbd64115e612e50416fb64fa8f60393fe4642dc0",
                   "path": "test/data/ffpp/"},
        "source_map": [{"local": "", "source": "test/data/ffpp/"}],
        "build": "minilocal preprocess RAW build/data/ffpp_c23_128 --kind ffpp",
    },
    "lfw_faces": {
        "description": "Labeled Faces in the Wild, deep-funneled 250x250 colour JPEG, one "
                       "folder per person: a seeded random 7,000 of the 13,233 images.",
        "terms": "LFW: research benchmark; photos remain their owners'",
        "source": {"repository": "umass-vis-lfw/umass-vis-lfw.github.io",
                   "commit": "2a620cd8cceb10430f8c7012fe9fa5f0837759e9",
                   "path": "images_deepfunneled/"},
        "source_map": [{"local": "", "source": "images_deepfunneled/"}],
        "build": "minilocal preprocess RAW build/data/lfw_faces_128 --kind lfw_faces",
    },
    "gan_faces": {
        "description": "Fully generated faces (StyleGAN-like, FFHQ-style alignment), 831 at "
                       "512x512 and 70 at 256x256; generator not stated by the source.",
        "terms": "GPL-3.0 repository; image provenance unclear",
        "source": {"repository": "BaseMax/FakeFaces",
                   "commit": "bb509d9909f1a7e947df35ac4ec95e50dc03c8f3",
                   "path": "faces/"},
        "source_map": [{"local": "", "source": "faces/"}],
        "build": "minilocal preprocess RAW build/data/gan_faces_128 --kind gan_faces",
    },
}


def scan(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under root (sorted, no symlinks followed)."""
    return {p.relative_to(root).as_posix(): sha256_file(p)
            for p in sorted(root.rglob("*")) if p.is_file()}


def entry(name: str, root: Path, checksums: dict[str, str]) -> dict:
    """The registry.json entry for dataset ``name``; checks every file maps to a source."""
    spec = DATASETS[name]
    derived = spec.get("derived", {})
    sources = {}
    for rel in checksums:
        if rel in derived:
            continue
        rule = next((r for r in spec["source_map"] if rel.startswith(r["local"])), None)
        if rule is None:
            raise SystemExit(f"{name}/{rel}: no source_map rule and not derived")
        src = rule["source"] + rel[len(rule["local"]):]
        if src in sources:
            raise SystemExit(f"{name}: {rel} and {sources[src]} both map to {src}")
        sources[src] = rel
    missing = sorted(set(derived) - set(checksums))
    if missing:
        raise SystemExit(f"{name}: derived files {missing} are not in {root}")
    return {
        "description": spec["description"],
        "terms": spec["terms"],
        "source": spec["source"],
        "url_template": RAW.format(**spec["source"]),
        "files": len(checksums),
        "bytes": sum((root / rel).stat().st_size for rel in checksums),
        "manifest": f"manifests/{name}.sha256",
        "source_map": spec["source_map"],
        "derived": derived,
        "archives": [],
        "build": spec["build"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "datasets",
                        help="where the datasets are (default: ../shared/datasets)")
    parser.add_argument("--out", type=Path, default=REPO / "datasets_small",
                        help="where registry.json and manifests/ go (default: datasets_small)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the committed files differ")
    args = parser.parse_args(argv)
    registry = {"format": 1, "datasets": {}}
    stale = []
    for name in DATASETS:
        start = time.perf_counter()
        root = args.data_root / name
        checksums = scan(root)
        registry["datasets"][name] = entry(name, root, checksums)
        manifest = args.out / "manifests" / f"{name}.sha256"
        if args.check:
            if not manifest.is_file() or read_manifest(manifest) != checksums:
                stale.append(str(manifest))
        else:
            manifest.parent.mkdir(parents=True, exist_ok=True)
            write_manifest(manifest, checksums)
        print(f"{name}: {len(checksums)} files, "
              f"{registry['datasets'][name]['bytes'] / 1e6:.1f} MB, "
              f"{time.perf_counter() - start:.1f} s")
    text = json.dumps(registry, indent=2) + "\n"
    path = args.out / "registry.json"
    if args.check:
        if not path.is_file() or path.read_text() != text:
            stale.append(str(path))
        if stale:
            print("out of date: " + ", ".join(stale), file=sys.stderr)
            return 1
        print("registry up to date")
        return 0
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
