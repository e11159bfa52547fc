"""Where minilocal's data is: one lookup, against the project root, never changing directory.

* :func:`project_root`: the source checkout minilocal runs from, where relative defaults
  live (Jupyter starts a notebook's kernel in ``tutorials/``, the CLI and papermill run
  from the checkout: the lookups below give the same folders from either);
* :func:`in_project`: a relative path taken from the project root (notebook outputs);
* :func:`data_roots` and :func:`locate`: where raw datasets are looked for;
* :func:`build_dir` and :func:`built_dataset`: where minilocal writes the datasets it
  builds (``minilocal preprocess`` / ``synth``);
* :func:`find_dataset`: a dataset folder from a path or a name, what every command and
  notebook asks for.
"""

from __future__ import annotations

import os
from pathlib import Path

from .folder import METADATA

__all__ = ["project_root", "in_project", "data_roots", "locate", "build_dir", "built_dataset",
           "dataset_candidates", "find_dataset"]


def project_root() -> Path | None:
    """The source checkout minilocal runs from (where pyproject.toml is), else None.

    Lets notebooks and tests find data and build/ whatever their working directory."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def in_project(path: str | Path) -> Path:
    """``path`` taken from the project root when it is relative (from the working directory
    when minilocal is installed outside a checkout); an absolute path as it is."""
    return (project_root() or Path(".")) / path


def data_roots() -> list[Path]:
    """Where raw datasets are looked for, in order: $MINILOCAL_DATA, ./datasets_small,
    ../shared/datasets (relative to the working directory, then to the checkout), and
    build/data/raw (where `minilocal data download` puts them)."""
    roots = []
    if os.environ.get("MINILOCAL_DATA"):
        roots.append(Path(os.environ["MINILOCAL_DATA"]))
    bases = [Path(".")]
    root = project_root()
    if root is not None and root != Path(".").resolve():
        bases.append(root)
    for base in bases:
        roots += [base / "datasets_small", base / ".." / "shared" / "datasets"]
    roots.append(build_dir() / "raw")
    return roots


def locate(name: str) -> Path | None:
    """The first data root that holds the raw dataset ``name``, else None."""
    for root in data_roots():
        if (root / name).is_dir():
            return root / name
    return None


def build_dir() -> Path:
    """Where minilocal writes datasets it builds: $MINILOCAL_BUILD, else build/data in the
    checkout (or in the working directory when minilocal is installed elsewhere)."""
    if os.environ.get("MINILOCAL_BUILD"):
        return Path(os.environ["MINILOCAL_BUILD"])
    return in_project(Path("build") / "data")


def built_dataset(name: str) -> Path:
    """A folder-format dataset that minilocal built (``build_dir() / name``).

    Raises:
        FileNotFoundError: with the command that builds it, if it is not there.
    """
    path = build_dir() / name
    if not (path / METADATA).is_file():
        raise FileNotFoundError(
            f"built dataset {name!r} not found at {path}; build it first, e.g. "
            f"`minilocal preprocess ../shared/datasets/dfdc_faces {path} --kind dfdc_faces`")
    return path


def _is_name(name_or_path: str | Path) -> bool:
    return len(Path(name_or_path).parts) == 1 and not Path(name_or_path).is_absolute()


def dataset_candidates(name_or_path: str | Path, built: bool = False) -> list[Path]:
    """Every folder that ``name_or_path`` may mean, best first (see :func:`find_dataset`).

    A folder that exists as given (from the working directory), else the same relative
    path in the project root, is the only candidate. A name is looked up next: with
    ``built``, in :func:`build_dir` (a dataset with metadata.csv), then in the data roots
    (:func:`locate`); the two are listed once where they are the same folder."""
    path = Path(name_or_path)
    if path.is_dir():
        return [path]
    root = project_root()
    if root is not None and not path.is_absolute() and (root / path).is_dir():
        return [root / path]
    if not _is_name(path):
        return []
    found = [build_dir() / path] if built and (build_dir() / path / METADATA).is_file() else []
    raw = locate(str(path))
    if raw is not None and raw.resolve() not in [f.resolve() for f in found]:
        found.append(raw)
    return found


def find_dataset(name_or_path: str | Path, built: bool = False) -> Path:
    """A dataset folder from a path or a dataset name, without changing directory.

    Args:
        name_or_path: a folder (as given, from the working directory, else from the
            project root), or a dataset name such as ``"lfw_faces"``.
        built: for a name, prefer the dataset minilocal built (``build_dir() / name``)
            to the raw one. Default: False, the raw data (what ``preprocess`` reads).

    Returns:
        the folder: a path as given where it exists from the working directory.

    Raises:
        FileNotFoundError: for a path, that it does not exist; for a name, naming every
            place that was searched.
    """
    found = dataset_candidates(name_or_path, built)
    if found:
        return found[0]
    if not _is_name(name_or_path):
        root = project_root()
        also = f" (nor {root / name_or_path})" if root is not None and not \
            Path(name_or_path).is_absolute() else ""
        raise FileNotFoundError(f"{name_or_path} does not exist{also}")
    searched = ([build_dir() / name_or_path] if built else []) + \
        [r / name_or_path for r in data_roots()]
    raise FileNotFoundError(f"dataset {str(name_or_path)!r} not found; searched: "
                            + ", ".join(str(c) for c in searched))
