"""The ``minilocal`` command line: one subcommand per task, each in minilocal/commands/.

Errors a user can cause (a missing or unreadable file, a bad value, a malformed
metadata.csv) end in one line on stderr, ``minilocal <command>: error: <message>``, and
exit code 2; ``-v``/``--debug`` also prints the Python traceback. The helpers
:func:`check_output_dir`, :func:`check_output_file` and :func:`check_separate` let a
command check its outputs before any work starts.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from pathlib import Path

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

EXIT_ERROR = 2  # a bad input, reported in one line
EXIT_BUG = 3  # an unexpected exception: a bug in minilocal
EXIT_INTERRUPTED = 130

# extensions OpenCV writes, for the picture outputs (--heatmap, --preview)
IMAGE_OUTPUTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DEBUG_HELP = "on an error, also print the Python traceback (and log at DEBUG level)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minilocal",
        description="Detect manipulated face images with deep local features.",
    )
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log at INFO level; on an error, print the traceback too")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS.values():
        importlib.import_module(f"minilocal.commands.{module}").add_parser(sub)
    for command in sub.choices.values():  # `minilocal predict x.jpg --debug` works too
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help=DEBUG_HELP)
    return parser


def expected_errors() -> tuple[type[BaseException], ...]:
    """The exception types that mean a bad input, not a bug: reported in one line."""
    errors: list[type[BaseException]] = [OSError, ValueError, KeyError, RuntimeError]
    cv2 = sys.modules.get("cv2")  # only raised once OpenCV is imported
    if cv2 is not None:
        errors.append(cv2.error)
    return tuple(errors)


def error_message(err: BaseException) -> str:
    """One readable line for an exception (KeyError, OSError and cv2.error made plain)."""
    if isinstance(err, KeyError):
        return f"missing key {err.args[0]!r}" if err.args else "missing key"
    if isinstance(err, OSError) and err.strerror and err.filename:
        return f"{err.filename}: {err.strerror}"
    text = str(err) or type(err).__name__
    if type(err).__module__.startswith("cv2"):
        text = "OpenCV: " + " ".join(text.split())
    return text


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    level = logging.DEBUG if debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    prefix = f"minilocal {args.command}"
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # noqa: BLE001 - the user sees one line, never a traceback
        if debug or args.verbose:
            traceback.print_exc()
        if isinstance(err, expected_errors()):
            print(f"{prefix}: error: {error_message(err)}", file=sys.stderr)
            return EXIT_ERROR
        print(f"{prefix}: internal error: {type(err).__name__}: {error_message(err)} "
              "(a bug in minilocal: rerun with --debug for the traceback and report it)",
              file=sys.stderr)
        return EXIT_BUG


# ---------------------------------------------------------------- output checks

def _first_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def check_output_dir(path: str | Path, what: str = "OUT") -> Path:
    """Check that ``path`` is, or can be created as, a writable folder; create nothing.

    Raises:
        ValueError: naming ``what`` when ``path`` is a file, lies under a file, or would
            be created in a read-only folder.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} {path} is a file, expected a folder; choose another path")
    _check_creatable(path, what, path)
    return path


def _check_creatable(folder: Path, what: str, target: Path) -> None:
    """ValueError unless ``folder`` exists or can be created, and is writable."""
    base = _first_existing(folder)
    if not base.is_dir():
        raise ValueError(f"{what} {target} cannot be created: {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        where = "" if base == target else f" (would be created in {base})"
        raise ValueError(f"{what} {target}{where}: not writable (read-only); choose a "
                         "folder you can write to")


def check_output_file(path: str | Path, what: str,
                      extensions: tuple[str, ...] = IMAGE_OUTPUTS) -> Path:
    """Check that a file can be written at ``path`` (with one of ``extensions``) before
    the work that makes it starts; create nothing.

    Raises:
        ValueError: naming ``what``: an extension not in ``extensions``, a folder at
            ``path``, or a parent that is a file or read-only.
    """
    path = Path(path)
    if path.suffix.lower() not in extensions:
        raise ValueError(f"{what} {path}: unsupported extension {path.suffix or '(none)'!r}; "
                         f"use one of {', '.join(extensions)} (e.g. {path.stem}.png)")
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder, expected a file name")
    _check_creatable(path.parent, what, path)
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"{what} {path} exists and is read-only")
    return path


def check_separate(src: str | Path, out: str | Path) -> None:
    """Refuse an OUT equal to SRC, inside it, or holding it (writing would destroy or mix
    the inputs).

    Raises:
        ValueError: naming both folders.
    """
    s, o = Path(src).resolve(), Path(out).resolve()
    if s == o:
        raise ValueError(f"OUT {out} is SRC itself; write to another folder")
    if s in o.parents:
        raise ValueError(f"OUT {out} is inside SRC {src}; write outside the source folder")
    if o in s.parents:
        raise ValueError(f"SRC {src} is inside OUT {out}; write to a folder that does "
                         "not hold the source")


def check_positive(value: int | None, flag: str, minimum: int = 1) -> None:
    """ValueError ``--flag must be >= minimum, got value`` (None passes)."""
    if value is not None and value < minimum:
        raise ValueError(f"{flag} must be at least {minimum}, got {value}")


def check_crop_size(size: int, flag: str = "--size") -> None:
    """ValueError unless ``size`` is at least the network's receptive field (33 px)."""
    from .model import RECEPTIVE_FIELD

    if size < RECEPTIVE_FIELD:
        raise ValueError(f"{flag} must be at least {RECEPTIVE_FIELD} px (the network's "
                         f"receptive field), got {size}")


if __name__ == "__main__":
    sys.exit(main())
