"""``minilocal data``: list, verify and download the registered datasets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="list, verify (sha256) and download the datasets",
                       description="Datasets of datasets_small/registry.json: where they "
                                   "are, whether they match their sha256 manifests, and "
                                   "verified downloads from their public sources.")
    p.add_argument("--registry", default=None,
                   help="registry.json to use (default: $MINILOCAL_REGISTRY or "
                        "datasets_small/registry.json)")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
    actions = p.add_subparsers(dest="action", metavar="ACTION")

    a = actions.add_parser("list", help="name, files, where it is, terms")
    a.set_defaults(func=run_list)

    a = actions.add_parser("verify", help="sha256 every file; exit 1 on any mismatch")
    a.add_argument("names", nargs="*", metavar="NAME",
                   help="datasets to verify (default: every registered one)")
    a.add_argument("--root", default=None,
                   help="dataset folder (one NAME only; default: found in the data roots)")
    a.add_argument("--workers", type=int, default=2, help="hashing threads (default 2)")
    a.add_argument("--quiet", action="store_true", help="no progress bar")
    a.add_argument("--show", type=int, default=5,
                   help="how many missing/mismatched paths to print (default 5)")
    a.set_defaults(func=run_verify)

    a = actions.add_parser("download", help="fetch missing files, sha256-verified")
    a.add_argument("name", metavar="NAME")
    a.add_argument("--dest", default=None,
                   help="target folder (default: $MINILOCAL_DATA/NAME or build/data/raw/NAME)")
    a.add_argument("--workers", type=int, default=4, help="parallel downloads (default 4)")
    a.add_argument("--base-url", default=None,
                   help="mirror to fetch from instead of the source (+ source path)")
    a.add_argument("--retries", type=int, default=3, help="retries per file (default 3)")
    a.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="per socket operation (connecting, each read) (default 30)")
    a.add_argument("--deadline", type=float, default=3600.0, metavar="SECONDS",
                   help="for the whole download, every file and retry included; files not "
                        "done by then fail and are resumed by the next run (default 3600; "
                        "0: no deadline)")
    a.add_argument("--quiet", action="store_true", help="no progress bar")
    a.set_defaults(func=run_download)


def run_list(args: argparse.Namespace) -> int:
    from ..paths import locate
    from ..registry import load_registry

    rows = []
    for name, entry in sorted(load_registry(args.registry).items()):
        where = locate(name)
        present = "-"
        if where is not None:
            n = sum((where / rel).is_file() for rel in entry.checksums())
            present = f"{where} ({n}/{entry.files})"
        rows.append((name, str(entry.files), f"{entry.bytes / 1e6:.1f}", present, entry.terms))
    header = ("name", "files", "MB", "present (files there)", "terms")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        print(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  "
              f"{row[3]:<{widths[3]}}  {row[4]}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from ..cli import check_positive
    from ..download import verify
    from ..registry import list_datasets

    check_positive(args.workers, "--workers")
    check_positive(args.show, "--show", 0)
    names = args.names or list_datasets(args.registry)
    if args.root is not None and len(names) != 1:
        raise ValueError(f"--root needs exactly one NAME, got {names}")
    if args.root is not None and not Path(args.root).is_dir():
        raise FileNotFoundError(f"--root {args.root} is not a folder; give the folder that "
                                f"holds {names[0]}")
    failed = 0
    for name in names:
        report = verify(name, args.root, registry=args.registry, workers=args.workers,
                        progress=not args.quiet)
        print(report.summary())
        for label, paths in (("missing", report.missing), ("mismatched", report.mismatched),
                             ("extra", report.extra),
                             ("derived missing", report.derived_missing),
                             ("derived differs", report.derived_mismatched)):
            for rel in paths[:args.show]:
                print(f"  {label}: {rel}")
            if len(paths) > args.show:
                print(f"  ... {len(paths) - args.show} more {label}")
        failed += not report.passed
    return 1 if failed else 0


def run_download(args: argparse.Namespace) -> int:
    from ..cli import check_output_dir, check_positive
    from ..download import download
    from ..http_fetch import DownloadError

    check_positive(args.workers, "--workers")
    check_positive(args.retries, "--retries", 0)
    if not args.timeout > 0:  # also refuses nan
        raise ValueError(f"--timeout must be more than 0 seconds, got {args.timeout}")
    if not args.deadline >= 0:
        raise ValueError(f"--deadline must be at least 0 seconds (0: none), got "
                         f"{args.deadline}")
    if args.dest is not None:
        check_output_dir(args.dest, "--dest")
    try:
        report = download(args.name, args.dest, workers=args.workers,
                          progress=not args.quiet, registry=args.registry,
                          base_url=args.base_url, retries=args.retries,
                          timeout=args.timeout, deadline=args.deadline or None)
    except DownloadError as err:
        if err.report is not None:
            print(err.report.summary())
        print(f"minilocal data: error: {err}", file=sys.stderr)
        return 1
    print(report.summary())
    for rel in report.derived_skipped:
        print(f"  derived, not downloadable: {rel} (see datasets_small/README.md)")
    print(f"use it with: export MINILOCAL_DATA={report.dest.parent}")
    return 0
