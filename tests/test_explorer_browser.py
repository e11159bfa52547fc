"""Browser test: notebook 08 in JupyterLab in headless Chromium, driven with the mouse.

JupyterLab runs on a copy of tutorials/08_interactive_heatmaps.ipynb in a temporary folder
(nothing is saved into tutorials/), Chromium is Debian's (``apt-get install chromium``) driven
by Playwright's Python client (``pip install playwright``; no ``playwright install``: it uses
``executable_path``). The test runs all cells, then drags the image slider and the
input-size slider of the live explorer and hovers the picture, and checks that the figure in
the page changed: the face and the heatmap after each slider, only the receptive-field box
on hover, with a tooltip and an info line that agree on the output and its p(fake).

MINILOCAL_BROWSER_SHOTS=DIR saves screenshots of the explorer there and prints how many
websocket frames 30 fast mouse moves cost and how long the box takes to catch up.

Skipped, with the reason, when Playwright or Chromium is missing, or when
MINILOCAL_BROWSER_TEST=0. ``.ci/run`` installs both. MINILOCAL_CHROMIUM overrides the
browser path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "tutorials" / "08_interactive_heatmaps.ipynb"
CHROMIUM = os.environ.get("MINILOCAL_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RUN_ALL_TIMEOUT_S = 420  # notebook 08 takes about a minute on 2 cores
UI_TIMEOUT_MS = 60_000  # one kernel round trip per interaction; generous for a loaded CI

pytestmark = pytest.mark.slow


def _requirements():
    if os.environ.get("MINILOCAL_BROWSER_TEST", "1") == "0":
        pytest.skip("browser test switched off (MINILOCAL_BROWSER_TEST=0)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser test skipped: the Playwright Python client is not installed "
                    "(.venv/bin/pip install playwright; .ci/run does this)")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"browser test skipped: no Chromium at {CHROMIUM} (apt-get install -y "
                    "chromium; .ci/run does this), or set MINILOCAL_CHROMIUM")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a temporary copy of notebook 08: (base URL, token)."""
    _requirements()
    work = tmp_path_factory.mktemp("lab")
    root = work / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    env = dict(os.environ)
    for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")):
        env[var] = str(work / sub)  # a fresh Jupyter: no user settings, kernels or layout
    # the venv's own "python3" kernel; autosave off so the page never writes the copy
    settings = work / "settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    env.setdefault("MPLBACKEND", "Agg")
    port, token = _free_port(), "minilocal-browser-test"
    log = open(work / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
         "--LabApp.news_url=", "--ServerApp.allow_root=True",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.close()
                pytest.fail("JupyterLab did not start:\n" + (work / "lab.log").read_text()[-3000:])
            time.sleep(0.5)  # polling a server that is not up yet: nothing to wait on
    yield base, token
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def page(lab):
    sync_playwright = _requirements()
    base, token = lab
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, headless=True,
            viewport={"width": 1400, "height": 1000})
        ctx.set_default_timeout(UI_TIMEOUT_MS)
        pg = ctx.new_page()
        frames = []  # (time, bytes) of every websocket frame the kernel sends the page
        pg.on("websocket", lambda ws: ws.on(
            "framereceived", lambda payload: frames.append((time.monotonic(), len(payload)))))
        pg.frames_received = frames
        pg.goto(f"{base}/lab/tree/{NOTEBOOK.name}?token={token}")
        pg.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                             " && window.jupyterapp.shell.currentWidget.sessionContext"
                             " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                             " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                             ".kernel", timeout=120_000)
        pg.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext"
                             ".session.kernel.status === 'idle'", timeout=120_000)
        pg.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        pg.wait_for_function(
            """() => { const nb = window.jupyterapp.shell.currentWidget;
                       const cells = nb.content.widgets.filter(c => c.model.type === 'code');
                       return nb.sessionContext.session.kernel.status === 'idle'
                         && cells.every(c => c.model.executionCount !== null); }""",
            timeout=RUN_ALL_TIMEOUT_S * 1000)
        yield pg
        ctx.close()


def _explorer_cell(page):
    """Index of the cell that shows the live explorer."""
    sources = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets"
                            ".map(c => c.model.sharedModel.getSource())")
    return next(k for k, s in enumerate(sources) if s.startswith("explorer = viz.Heatmap"))


def _figure(page, k):
    """The live explorer's plotly figure, as the page holds it."""
    return page.evaluate(
        """(k) => { const cell = window.jupyterapp.shell.currentWidget.content.widgets[k];
                    const gd = cell.node.querySelector('.js-plotly-plot');
                    if (!gd || !gd.data) return null;
                    return {source: gd.data[0].source, z: gd.data[1].z,
                            box_x: gd.data[4].x, box_y: gd.data[4].y,
                            info: cell.node.querySelector('.widget-html-content').textContent}; }""",
        k)


def _wait_change(page, k, key, before):
    page.wait_for_function(
        """([k, key, before]) => {
             const gd = window.jupyterapp.shell.currentWidget.content.widgets[k]
                          .node.querySelector('.js-plotly-plot');
             const trace = {source: [0, 'source'], z: [1, 'z'], box_x: [4, 'x']}[key];
             return JSON.stringify(gd.data[trace[0]][trace[1]]) !== before; }""",
        arg=[k, key, json.dumps(before)])


def _drag_slider(page, cell, label, fraction):
    """Drag the handle of the slider called `label` to `fraction` of its track."""
    slider = cell.locator(".widget-slider").filter(
        has=page.locator("label", has_text=re.compile(rf"^{re.escape(label)}$")))
    track, handle = slider.locator(".noUi-target"), slider.locator(".noUi-handle")
    handle.scroll_into_view_if_needed()
    t, h = track.bounding_box(), handle.bounding_box()
    page.mouse.move(h["x"] + h["width"] / 2, h["y"] + h["height"] / 2)
    page.mouse.down()
    page.mouse.move(t["x"] + fraction * t["width"], h["y"] + h["height"] / 2, steps=8)
    page.mouse.up()
    return int(float(handle.get_attribute("aria-valuetext")))


def test_explorer_reacts_to_sliders_and_hover(page):
    k = _explorer_cell(page)
    errors = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets
        .filter(c => c.model.type === 'code')
        .flatMap(c => c.model.outputs.toJSON().filter(o => o.output_type === 'error')
        .map(o => o.ename + ': ' + o.evalue))""")
    assert errors == []
    cell = page.locator(".jp-Notebook .jp-Cell").nth(k)
    cell.scroll_into_view_if_needed()
    cell.locator(".js-plotly-plot").wait_for()
    page.wait_for_function("(k) => { const gd = window.jupyterapp.shell.currentWidget.content"
                           ".widgets[k].node.querySelector('.js-plotly-plot');"
                           " return gd && gd.data && gd.data.length === 5; }", arg=k)
    start = _figure(page, k)
    # after Run All the live explorer is as it was first drawn: image 0, full size
    handles = cell.locator(".widget-slider .noUi-handle")
    values = [handles.nth(n).get_attribute("aria-valuetext") for n in range(handles.count())]
    assert values[:2] == ["0", "128"], values
    assert len(start["z"]) == 48 and "input 128x128 -> 48x48 outputs" in start["info"]

    image = _drag_slider(page, cell, "image", 0.3)
    assert image > 0
    _wait_change(page, k, "source", start["source"])
    after_image = _figure(page, k)
    assert after_image["z"] != start["z"]  # a new heatmap for the new face

    size = _drag_slider(page, cell, "input size (centre crop)", 0.45)
    assert 48 <= size < 128
    _wait_change(page, k, "source", after_image["source"])
    page.wait_for_function("([k, n]) => window.jupyterapp.shell.currentWidget.content"
                           ".widgets[k].node.querySelector('.js-plotly-plot').data[1].z.length"
                           " === n", arg=[k, (size - 6) // 2 - 13])
    page.wait_for_function("([k, s]) => window.jupyterapp.shell.currentWidget.content"
                           ".widgets[k].node.querySelector('.widget-html-content')"
                           ".textContent.includes(s)", arg=[k, f"input {size}x{size} -> "])
    after_size = _figure(page, k)
    assert f"input {size}x{size} -> " in after_size["info"]

    # hover: the box moves, and the page receives no image or heatmap again
    plot = cell.locator(".js-plotly-plot .nsewdrag").first
    plot.scroll_into_view_if_needed()
    b = plot.bounding_box()
    sent_before = len(page.frames_received)
    for fx, fy in ((0.3, 0.3), (0.5, 0.45), (0.7, 0.6)):
        before = _figure(page, k)
        page.mouse.move(b["x"] + fx * b["width"], b["y"] + fy * b["height"])  # one event
        _wait_change(page, k, "box_x", before["box_x"])
    page.locator(".hoverlayer .hovertext").first.wait_for()
    hovered = _figure(page, k)
    assert hovered["source"] == after_size["source"] and hovered["z"] == after_size["z"]
    # the tooltip names an output and its local p(fake); the info line the same output and value
    agree = """(k) => {
        const tip = document.querySelector('.hoverlayer .hovertext');
        const info = window.jupyterapp.shell.currentWidget.content.widgets[k].node
                       .querySelector('.widget-html-content').textContent;
        const m = tip && tip.textContent.match(/output \\((\\d+), (\\d+)\\): p\\(fake\\) ([0-9.]+)/);
        return m && info.includes(`selected output (${m[1]}, ${m[2]}): p(fake) ${m[3]}`); }"""
    try:
        page.wait_for_function(agree, arg=k, timeout=15_000)
    except Exception:
        pytest.fail(f"tooltip {page.locator('.hoverlayer .hovertext').first.text_content()!r} "
                    f"but info line {_figure(page, k)['info']!r}")
    tooltip = page.locator(".hoverlayer .hovertext").first.text_content()
    m = re.search(r"output \((\d+), (\d+)\): p\(fake\) ([0-9.]+)", tooltip)
    assert m and "receptive field x" in tooltip, tooltip
    j = int(m[2])  # rf_box: 33 px around centre 16 + 2 j, so the box starts at x = 2 j
    page.wait_for_function("([k, x0]) => Math.min(...window.jupyterapp.shell.currentWidget"
                           ".content.widgets[k].node.querySelector('.js-plotly-plot')"
                           ".data[4].x) + 0.5 === x0", arg=[k, 2 * j])
    sizes = [n for _, n in page.frames_received[sent_before:]]
    assert sizes, "no message from the kernel while hovering"
    image_bytes = len(after_size["source"])
    assert max(sizes) < image_bytes / 2, (max(sizes), image_bytes)  # the image never came back
    shots = os.environ.get("MINILOCAL_BROWSER_SHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        cell.screenshot(path=str(Path(shots) / "explorer_hover.png"))
        n0, t0 = len(page.frames_received), time.monotonic()
        for q in range(30):  # fast sweeps, then wait until the box sits at the last spot
            page.mouse.move(b["x"] + (0.2 + 0.02 * q) * b["width"],
                            b["y"] + (0.7 - 0.015 * q) * b["height"])
        last = page.locator(".hoverlayer .hovertext").first.text_content()
        jj = int(re.search(r"output \((\d+), (\d+)\)", last)[2])
        page.wait_for_function("([k, x0]) => Math.min(...window.jupyterapp.shell.currentWidget"
                               ".content.widgets[k].node.querySelector('.js-plotly-plot')"
                               ".data[4].x) + 0.5 === x0", arg=[k, 2 * jj])
        print(f"30 fast moves: {len(page.frames_received) - n0} frames from the kernel, box "
              f"at the last position after {time.monotonic() - t0:.2f} s")
        cell.screenshot(path=str(Path(shots) / "explorer_after_sweep.png"))
