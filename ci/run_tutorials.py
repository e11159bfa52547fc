"""Execute every tutorial with papermill into build/tutorials/ (+ HTML) and print a table.

Usage: python ci/run_tutorials.py [NOTEBOOK ...] [-p NAME VALUE ...]
Exit status 1 when any notebook failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import papermill

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "tutorials"


def run(notebook: Path, parameters: dict) -> tuple[str, float, str]:
    out = OUT / notebook.name
    start = time.perf_counter()
    try:
        papermill.execute_notebook(str(notebook), str(out), parameters=parameters,
                                   cwd=str(ROOT), kernel_name="python3", progress_bar=False)
        status, detail = "ok", ""
    except Exception as err:  # report and go on with the next notebook
        status, detail = "FAILED", str(err).strip().splitlines()[-1][:120] if str(err) else ""
    seconds = time.perf_counter() - start
    if out.exists():
        write_html(out)
    return status, seconds, detail


def write_html(executed: Path) -> None:
    """The executed notebook as HTML, without the saved widget state: no kernel runs behind
    an HTML page, so widgets show the static picture they carry (e.g. the heatmap explorer's
    PNG) instead of an empty output that needs widget JavaScript from the internet."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(executed, as_version=4)
    nb.metadata.pop("widgets", None)
    resources = {"metadata": {"name": executed.stem, "path": str(executed.parent)}}
    try:
        body, _ = HTMLExporter().from_notebook_node(nb, resources=resources)
    except Exception as err:  # the notebook's own status is what the table reports
        print(f"  HTML export of {executed.name} failed: {err}", flush=True)
        return
    executed.with_suffix(".html").write_text(body, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="papermill parameter (value parsed as Python literal when possible)")
    args = ap.parse_args()
    import ast

    params = {}
    for k, v in args.p:
        try:
            params[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            params[k] = v
    notebooks = args.notebooks or sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.ipynb"))
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for nb in notebooks:
        print(f"running {nb.name} ...", flush=True)
        rows.append((nb.name, *run(nb, params)))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'notebook':<{width}}  status  runtime")
    for name, status, seconds, detail in rows:
        print(f"{name:<{width}}  {status:<6}  {seconds:6.1f} s  {detail}")
    print(f"{'total':<{width}}          {sum(r[2] for r in rows):6.1f} s")
    print(f"executed notebooks and HTML in {OUT.relative_to(ROOT)}/")
    return 1 if any(r[1] != "ok" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
