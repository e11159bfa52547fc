"""Static copies of the heatmap explorer, for where no widget renders (exported HTML, viewers).

:func:`snapshot_figure` freezes the live figure into a plain ``go.Figure`` titled with the
scores; :func:`explorer_png` draws the current state with matplotlib (no browser needed);
:func:`with_static_picture` adds that PNG, and a line saying to run the notebook in
Jupyter, to the widget's display bundle.
"""

from __future__ import annotations

import base64
import html
import io

from ..receptive_field import rf_box
from .explorer_state import ExplorerState, Selection

__all__ = ["NOT_LIVE", "snapshot_figure", "explorer_png", "with_static_picture"]

NOT_LIVE = ("Static picture of the explorer as it was drawn. The live explorer (sliders, "
            "hover) needs a running Jupyter kernel: open this notebook in JupyterLab and run it.")


def snapshot_figure(figure, info_html: str):
    """A static ``go.Figure`` copy of ``figure``, titled with the info line ``info_html``;
    later changes to the explorer do not touch it (and it renders in exported HTML)."""
    import plotly.graph_objects as go

    fig = go.Figure(figure)
    title = info_html.replace(" &nbsp; input", "<br>input").replace(
        " &nbsp; <i>", "<br><i>").replace("&nbsp;", " ")
    fig.update_layout(title=dict(text=title, font_size=11, x=0.01, y=0.98,
                                 yanchor="top"),
                      margin=dict(t=80))
    return fig


def explorer_png(state: ExplorerState, sel: Selection, *, heatmap: bool, mask: bool,
                 rf: bool, opacity: float, dpi: int = 100) -> bytes:
    """A PNG of the selection as the explorer draws it (matplotlib; no browser needed): the
    face, the heatmap (one cell per output), the true mask, the box and the scores.

    Args:
        state, sel: what to draw (the face, its crop and the selected output).
        heatmap, mask, rf: draw the heatmap, the true mask and the receptive-field box.
        opacity: of the heatmap over the face, in [0, 1].
        dpi: resolution of the picture (about 5 x 5.5 inches). Default: 100.

    Returns:
        the PNG file's bytes.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    image, true_mask, has_mask = state.crop(sel)
    r = state.outputs(sel)
    S = image.shape[-1]
    fig = Figure(figsize=(5.2, 5.6), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.02, 0.8, 0.8))
    ax.imshow(image.permute(1, 2, 0).numpy(), extent=(-0.5, S - 0.5, S - 0.5, -0.5))
    if heatmap:
        edges = state.cell_edges(S)
        mesh = ax.pcolormesh(edges, edges, r["prob"], cmap="RdBu_r", vmin=0, vmax=1,
                             alpha=opacity, shading="flat")
        cax = fig.add_axes((0.85, 0.1, 0.03, 0.64))
        fig.colorbar(mesh, cax=cax, label="p(fake), local")
    if mask and has_mask and true_mask.any():
        ax.contour(true_mask.numpy().astype(float), levels=[0.5], colors="magenta",
                   linewidths=1.5)
    if rf:
        x0, y0, x1, y1 = rf_box(*sel.location, state.model)
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                               edgecolor="yellow", linewidth=2))
    ax.set_xlim(-0.5, S - 0.5)
    ax.set_ylim(S - 0.5, -0.5)
    ax.set_axis_off()
    rec = state.sets[sel.dataset].records[sel.index]
    i, j = sel.location
    fig.text(0.02, 0.97, f"{rec.label} {rec.file} ({sel.dataset}), {S}x{S} px",
             fontsize=9, va="top")
    fig.text(0.02, 0.92, f"p_fake (classifier) {r['p_fake']:.3f}, mean p(fake) "
             f"{r['seg']:.3f}; output ({i}, {j}): p(fake) {state.local_score(sel):.3f}",
             fontsize=9, va="top")
    fig.text(0.02, 0.87, "static picture: run the notebook in Jupyter for the live "
             "explorer", fontsize=8, va="top", style="italic", color="dimgray")

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def with_static_picture(bundle, png: bytes) -> dict:
    """The widget's display ``bundle`` (a dict, or (data, metadata)) plus, for front-ends
    without widgets, an HTML picture (``png``) with a line saying to run the notebook in
    Jupyter, and a plain-text line."""
    if isinstance(bundle, tuple):  # (data, metadata)
        bundle = bundle[0]
    uri = base64.b64encode(png).decode("ascii")
    bundle = dict(bundle)
    bundle["text/html"] = (f'<div class="minilocal-explorer-static"><p><b>Heatmap '
                           f'explorer</b>: {html.escape(NOT_LIVE)}</p>'
                           f'<img alt="explorer, static picture" '
                           f'src="data:image/png;base64,{uri}"/></div>')
    bundle["text/plain"] = f"HeatmapExplorer ({NOT_LIVE})"
    return bundle
