"""Fail when a committed notebook carries outputs or lacks a `parameters` cell.

Usage: python ci/check_notebooks.py tutorials
Only cells whose metadata says "keep_output": true may keep outputs (see STYLE.md 10).
"""

import sys
from pathlib import Path

import nbformat


def problems(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    found = []
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        found.append(f"{path}: needs exactly one cell tagged 'parameters', has {len(tagged)}")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or cell.metadata.get("keep_output"):
            continue
        if cell.get("outputs") or cell.get("execution_count"):
            found.append(f"{path}: cell {i} has outputs; strip them (nbstripout)")
    return found


def main(folder: str) -> int:
    notebooks = sorted(Path(folder).glob("*.ipynb"))
    if not notebooks:
        print(f"no notebooks in {folder}")
        return 1
    found = [p for nb in notebooks for p in problems(nb)]
    for line in found:
        print(line)
    print(f"{len(notebooks)} notebooks checked, {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "tutorials"))
