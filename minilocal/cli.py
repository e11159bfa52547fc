"""The ``minilocal`` command line: one subcommand per task, each in minilocal/commands/."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# subcommand name -> module in minilocal.commands defining add_parser(subparsers)
COMMANDS = {
    "info": "info",
    "data": "data",
    "preprocess": "preprocess",
    "synth": "synth",
    "train": "train",
    "evaluate": "evaluate",
    "predict": "predict",
    "ablate": "ablate",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minilocal",
        description="Detect manipulated face images with deep local features.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        try:
            mod = importlib.import_module(f"minilocal.commands.{module}")
        except ModuleNotFoundError as err:
            if err.name == f"minilocal.commands.{module}":
                continue  # subcommand not built yet
            raise
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"minilocal {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
