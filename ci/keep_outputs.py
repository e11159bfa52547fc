"""Copy the outputs of `keep_output` cells from executed notebooks back into tutorials/.

nbval (`--nbval-lax`) compares only cells marked `# NBVAL_CHECK_OUTPUT` against the output
stored in git; those cells carry `"keep_output": true` metadata, and their outputs must be
refreshed when the notebook changes. Usage (after `make tutorials`):

    python ci/keep_outputs.py tutorials build/tutorials
"""

import sys
from pathlib import Path

import nbformat


def main(src_dir: str, executed_dir: str) -> int:
    for src in sorted(Path(src_dir).glob("*.ipynb")):
        done = Path(executed_dir) / src.name
        if not done.exists():
            print(f"skip {src.name}: not executed")
            continue
        nb, ex = nbformat.read(src, as_version=4), nbformat.read(done, as_version=4)
        code_src = [c for c in nb.cells if c.cell_type == "code"]
        code_ex = [c for c in ex.cells if c.cell_type == "code" and
                   "injected-parameters" not in c.metadata.get("tags", [])]
        kept = 0
        for a, b in zip(code_src, code_ex):
            a.outputs, a.execution_count = [], None
            if a.metadata.get("keep_output"):
                a.outputs = [o for o in b.outputs if o.get("output_type") != "display_data"]
                a.execution_count = b.execution_count  # nbval skips cells "never run"
                kept += 1
        nbformat.write(nb, src)
        print(f"{src.name}: kept outputs of {kept} checked cells")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(sys.argv[1:3] if len(sys.argv) > 2 else ("tutorials", "build/tutorials"))))
