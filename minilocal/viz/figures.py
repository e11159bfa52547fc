"""Plotly figures of faces: face grids, forgery heatmaps and receptive fields.

Every function returns a ``plotly.graph_objects.Figure`` and displays nothing, so tests can
inspect the traces. Images are drawn in pixel coordinates: pixel (row y, column x) is
centred on (x, y), the y axis points down, as in :func:`~minilocal.receptive_field.rf_box`
(:mod:`.images` converts the images and masks). Training and ROC/PR curves: :mod:`.curves`.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..receptive_field import output_size, rf_box, rf_centres, upsample_to_input
from .images import _numpy, _rect, mask_outline, png_data_uri, to_rgb_array

logger = logging.getLogger(__name__)

__all__ = ["show_faces", "heatmap_figure", "receptive_field_figure", "HEATMAP_COLORSCALE"]

HEATMAP_COLORSCALE = "RdBu_r"  # p(fake): blue 0 (real) -> white 0.5 -> red 1 (fake)
ATTRIBUTION_COLORSCALE = "Viridis"  # maps shown on their own (show_faces)
ATTRIBUTION_OVERLAY = [[0.0, "rgba(0, 255, 0, 0)"], [1.0, "rgba(0, 255, 0, 1)"]]  # clear -> lime
MASK_COLOUR = "magenta"
BOX_COLOUR = "yellow"


def _go():
    try:
        import plotly.graph_objects as go
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("minilocal.viz needs plotly: pip install 'minilocal[viz]'") from err
    return go


def _is_map(x) -> bool:
    return _numpy(x).ndim == 2


def _pixel_axes(fig, rows: int = 1, cols: int = 1) -> None:
    fig.update_layout(modebar_orientation="v")  # keep the tool icons off the titles
    for k in range(1, rows * cols + 1):
        suffix = "" if k == 1 else str(k)
        fig.layout[f"xaxis{suffix}"].update(showticklabels=False, showgrid=False,
                                           zeroline=False, constrain="domain")
        fig.layout[f"yaxis{suffix}"].update(showticklabels=False, showgrid=False,
                                           zeroline=False, autorange="reversed",
                                           scaleanchor=f"x{suffix}", constrain="domain")


def show_faces(images: Sequence | torch.Tensor, titles: Sequence[str] | None = None,
               cols: int = 4, panel: int = 180, colorscale: str = ATTRIBUTION_COLORSCALE,
               zrange: tuple[float, float] | Sequence[tuple[float, float] | None] | None = None):
    """A grid of faces and maps, one panel each, in reading order.

    Args:
        images: (N, 3, H, W) uint8/float tensor, or a list whose items are RGB images (as
            :func:`to_rgb_array` takes; embedded as PNG, :func:`png_data_uri`) or (H, W)
            float maps (drawn with ``colorscale``, e.g. masks, heatmaps, attributions).
        titles: one per panel. Default: none.
        cols: panels per row. Default: 4.
        panel: panel side in screen pixels. Default: 180.
        colorscale: plotly colour scale of the maps. Default: "Viridis".
        zrange: colour range of the maps: (lo, hi) for all, or one (lo, hi) or None per
            panel. Default: None, each map from min(0, its minimum) to its maximum (so a
            map of zeros stays dark); use (0, 1) for probabilities and masks.

    Returns:
        plotly Figure with one trace per panel (go.Image with a PNG ``source``, or
        go.Heatmap).

    Raises:
        ValueError: on no images, or a title or zrange count that differs from the
            image count.
    """
    from plotly.subplots import make_subplots

    go = _go()
    items = list(images)
    if not items:
        raise ValueError("show_faces needs at least one image")
    if titles is not None and len(titles) != len(items):
        raise ValueError(f"got {len(titles)} titles for {len(items)} images")
    if zrange is None or (len(zrange) == 2 and not isinstance(zrange[0], (tuple, list))
                          and zrange[0] is not None):
        ranges = [zrange] * len(items)
    else:
        ranges = list(zrange)
        if len(ranges) != len(items):
            raise ValueError(f"got {len(ranges)} zranges for {len(items)} images")
    cols = max(1, min(int(cols), len(items)))
    rows = (len(items) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(titles) if titles else None,
                        horizontal_spacing=0.02, vertical_spacing=0.3 / rows)
    for k, (item, zr) in enumerate(zip(items, ranges)):
        r, c = divmod(k, cols)
        if _is_map(item):
            z = _numpy(item).astype(np.float32)
            lo, hi = zr if zr is not None else (float(min(z.min(), 0.0)), float(z.max()))
            if z.min() >= 0 and z.max() <= 255 and (z == np.round(z)).all():
                z = z.astype(np.uint8)  # masks, |differences|: 1 byte a pixel in the JSON
            trace = go.Heatmap(z=z, colorscale=colorscale, showscale=False, zmin=lo,
                               zmax=hi if hi > lo else lo + 1.0,
                               hovertemplate="x %{x} y %{y}: %{z:.3g}<extra></extra>")
        else:
            trace = go.Image(source=png_data_uri(item),  # PNG, not a JSON array of pixels
                             hovertemplate="x %{x} y %{y}<extra></extra>")
        fig.add_trace(trace, row=r + 1, col=c + 1)
    _pixel_axes(fig, rows, cols)
    fig.update_layout(width=panel * cols + 40, height=(panel + 30) * rows + 40,
                      margin=dict(l=10, r=10, t=40, b=10))
    if titles:
        fig.update_annotations(font_size=11)
    return fig


def heatmap_figure(image: np.ndarray | torch.Tensor, prob_map: np.ndarray | torch.Tensor,
                   mask: np.ndarray | torch.Tensor | None = None,
                   rf_box: Sequence[int] | None = None,
                   attribution: np.ndarray | torch.Tensor | None = None,
                   opacity: float = 0.5, model: nn.Module | None = None, title: str = ""):
    """The face with its forgery heatmap and optional layers; click a legend entry to hide one.

    Traces, in order: 0 the face, 1 ``p(fake)``, then where given ``attribution`` (clear
    to lime; the p(fake) layer then starts hidden), ``true mask`` (a magenta outline) and
    ``receptive field`` (a yellow box).

    Args:
        image: one RGB face, (3, H, W) or (H, W, 3), H = W.
        prob_map: (H', W') forgery probability at the output locations, spread onto the
            input through the receptive-field centres, or (H, W) already upsampled.
        mask: (H, W) {0, 1} true forgery mask, drawn as an outline.
        rf_box: (x0, y0, x1, y1) pixels, inclusive-exclusive, e.g. ``rf_box(i, j)``.
        attribution: (H, W) attribution map, scaled to [0, 1] by its maximum absolute value.
        opacity: of the heatmap over the face, in [0, 1]. Default: 0.5.
        model: whose receptive-field geometry to use. Default: the paper's network.
        title: figure title.

    Returns:
        plotly Figure.

    Raises:
        ValueError: if prob_map is neither (H', W') nor (H, W), or a mask or attribution
            is not (H, W).
    """
    go = _go()
    face = to_rgb_array(image)
    H, W = face.shape[:2]
    prob = _numpy(prob_map).astype(np.float32)
    if prob.shape != (H, W):
        expected = (output_size(H, model), output_size(W, model))
        if prob.ndim != 2 or prob.shape != expected or H != W:
            raise ValueError(f"prob_map is {prob.shape}; for a {H}x{W} face it must be the "
                             f"output map {expected} or the face size {(H, W)}")
        prob = upsample_to_input(torch.from_numpy(prob)[None], H, model)[0].numpy()
    fig = go.Figure(go.Image(z=face, name="face", hovertemplate="x %{x} y %{y}<extra></extra>"))
    fig.add_trace(go.Heatmap(z=prob, zmin=0, zmax=1, colorscale=HEATMAP_COLORSCALE,
                             opacity=opacity, name="p(fake)", showlegend=True,
                             visible="legendonly" if attribution is not None else True,
                             colorbar=dict(title="p(fake)", len=0.8),
                             hovertemplate="x %{x} y %{y} p(fake) %{z:.2f}<extra></extra>"))
    if attribution is not None:
        a = np.abs(_numpy(attribution).astype(np.float32))
        if a.shape != (H, W):
            raise ValueError(f"attribution must be {(H, W)}, got {a.shape}")
        a = a / a.max() if a.max() > 0 else a
        fig.add_trace(go.Heatmap(z=a, zmin=0, zmax=1, colorscale=ATTRIBUTION_OVERLAY,
                                 name="attribution", showlegend=True,
                                 showscale=False,
                                 hovertemplate="attribution %{z:.2f}<extra></extra>"))
    if mask is not None:
        m = _numpy(mask).astype(np.float32)
        if m.shape != (H, W):
            raise ValueError(f"mask must be {(H, W)}, got {m.shape}")
        z, xs, ys = mask_outline(m)
        fig.add_trace(go.Contour(z=z, x=xs, y=ys,
                                 contours=dict(start=0.5, end=0.5, size=1, coloring="none"),
                                 line=dict(color=MASK_COLOUR, width=2), showscale=False,
                                 name="true mask", showlegend=True, hoverinfo="skip"))
    if rf_box is not None:
        xs, ys = _rect(rf_box)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="receptive field",
                                 line=dict(color=BOX_COLOUR, width=2), hoverinfo="skip"))
    _pixel_axes(fig)
    fig.update_layout(title=title or None, width=520, height=480,
                      margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      legend=dict(orientation="h", y=-0.02, yanchor="top"))
    return fig


def receptive_field_figure(image: np.ndarray | torch.Tensor, i: int, j: int,
                           model: nn.Module | None = None, sliders: bool = False):
    """The 33 x 33 patch that output (i, j) sees, on the image, with every output's centre.

    Args:
        image: one RGB face, (3, H, W) or (H, W, 3), H = W.
        i, j: output row and column.
        model: whose geometry to use. Default: the paper's network.
        sliders: add a "row i" and a "column j" slider that move the box; they work in
            exported HTML too (no kernel needed). Default: False.

    Returns:
        plotly Figure: the face, the grid of receptive-field centres (``centres``), the
        chosen box (``receptive field``) and its centre.

    Raises:
        ValueError: if (i, j) lies outside the H' x W' output grid.
    """
    go = _go()
    face = to_rgb_array(image)
    H = face.shape[0]
    centres = rf_centres(H, model)
    Hp = len(centres)
    if not (0 <= i < Hp and 0 <= j < Hp):
        raise ValueError(f"output ({i}, {j}) is outside the {Hp}x{Hp} grid of a {H} px input")
    gx, gy = np.meshgrid(centres, centres)
    box = rf_box(i, j, model)
    xs, ys = _rect(box)
    fig = go.Figure(go.Image(z=face, name="face", hovertemplate="x %{x} y %{y}<extra></extra>"))
    fig.add_trace(go.Scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", name="centres",
                             marker=dict(size=2, color="white", opacity=0.6),
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="receptive field",
                             line=dict(color=BOX_COLOUR, width=2), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[centres[j]], y=[centres[i]], mode="markers",
                             name=f"output ({i}, {j})", marker=dict(size=9, color="red",
                                                                    symbol="x")))
    if sliders:  # the box's x depends on j only, its y on i only: one slider each
        half = (box[2] - box[0]) // 2
        edges = [[float(c - half) - 0.5, float(c + half) + 0.5] for c in centres]
        x_of = [[[lo, hi, hi, lo, lo], [float(c)]] for (lo, hi), c in zip(edges, centres)]
        y_of = [[[lo, lo, hi, hi, lo], [float(c)]] for (lo, hi), c in zip(edges, centres)]
        steps = lambda key, coords: [dict(method="restyle", label=str(k),  # noqa: E731
                                          args=[{key: v}, [2, 3]])
                                     for k, v in enumerate(coords)]
        fig.update_layout(sliders=[
            dict(active=i, currentvalue=dict(prefix="row i = "), steps=steps("y", y_of),
                 pad=dict(t=30), len=0.95),
            dict(active=j, currentvalue=dict(prefix="column j = "), steps=steps("x", x_of),
                 pad=dict(t=110), len=0.95)])
    _pixel_axes(fig)
    title = (f"output ({i}, {j}) sees x {box[0]}..{box[2] - 1}, y {box[1]}..{box[3] - 1}"
             if not sliders else "the 33 x 33 patch output (i, j) sees")
    fig.update_layout(title=dict(text=title, font_size=14, y=0.98, x=0.02),
                      width=520, height=680 if sliders else 520,
                      margin=dict(l=10, r=10, t=60, b=10),
                      legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1.0,
                                  xanchor="right"))
    return fig
