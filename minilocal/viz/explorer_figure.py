"""The heatmap explorer's plotly figure: its five traces and how each redraw updates them.

Traces, in :data:`TRACES` order: 0 the face (a PNG), 1 p(fake) with one cell per network
output, 2 the attribution map, 3 the true mask's outline, 4 the receptive-field box of the
selected output. Each ``draw_*`` function changes only its own traces, so a FigureWidget
sends the browser only those; :class:`_batch` sends one redraw's changes as one message,
and :class:`_Throttle` lets through at most one box move per :data:`HOVER_INTERVAL` while
the mouse moves. What is drawn comes from an
:class:`~minilocal.viz.explorer_state.ExplorerState`.
"""

from __future__ import annotations

import base64
import math
import time
from typing import Callable

import numpy as np

from ..receptive_field import rf_box
from .explorer_state import ExplorerState, Selection
from .figures import heatmap_figure
from .images import _rect, mask_outline

__all__ = ["TRACES", "HOVER_INTERVAL", "HEATMAP_OPACITY", "build_figure", "draw_image",
           "draw_attribution", "draw_layers", "draw_box"]

TRACES = ("face", "p(fake)", "attribution", "true mask", "receptive field")  # figure.data order
HOVER_INTERVAL = 0.05  # seconds: at most one box update per interval while the mouse moves
HEATMAP_OPACITY = 0.5
_HOVER = ("output (%{customdata[0]}, %{customdata[1]}): p(fake) %{z:.3f}<br>"
          "receptive field x %{customdata[2]}-%{customdata[3]}, "
          "y %{customdata[4]}-%{customdata[5]}<extra>local score</extra>")


def build_figure(state: ExplorerState, sel: Selection, live: bool):
    """The explorer's figure for the face of ``sel``, its traces still to be drawn.

    Args:
        state, sel: the face (its crop sets the axes and the mask).
        live: a ``go.FigureWidget`` (it needs anywidget), else a plain ``go.Figure``.

    Returns:
        the figure, traces in TRACES order; p(fake) and the attribution are zeros until
        :func:`draw_image` and :func:`draw_attribution`.
    """
    import plotly.graph_objects as go

    image, mask, _ = state.crop(sel)
    S = image.shape[-1]
    fig = heatmap_figure(image, np.zeros((S, S), np.float32), mask=mask.numpy(),
                         rf_box=rf_box(0, 0, state.model),
                         attribution=np.zeros((S, S), np.float32), model=state.model,
                         opacity=HEATMAP_OPACITY)
    fig.data[1].update(visible=True, hovertemplate=_HOVER,
                       colorbar=dict(title="p(fake)<br>(local)", len=0.8))
    fig.data[2].update(hoverinfo="skip", visible=False)  # the tooltip stays p(fake)
    fig.update_layout(uirevision="keep", width=560, height=560, hovermode="closest")
    return go.FigureWidget(fig) if live else fig


def draw_image(figure, state: ExplorerState, sel: Selection, mask: bool) -> None:
    """Traces 0, 1 and 3 and the axes: the face of ``sel``, its p(fake) cells (one per
    output, with the tooltip's data) and its true mask (shown if ``mask`` and it has one)."""
    image, true_mask, has_mask = state.crop(sel)
    r = state.outputs(sel)
    S = image.shape[-1]
    Hp = r["prob"].shape[0]
    edges = state.cell_edges(S)
    d = figure.data
    d[0].z, d[0].source = None, _png_uri(image.permute(1, 2, 0).numpy())  # PNG, small
    d[1].z, d[1].x, d[1].y = r["prob"], edges, edges
    d[1].customdata = state.cell_customdata(Hp)
    d[3].z, d[3].x, d[3].y = mask_outline(true_mask.numpy())
    d[3].visible = mask and has_mask
    figure.layout.xaxis.range = [-0.5, S - 0.5]
    figure.layout.yaxis.range = [S - 0.5, -0.5]


def draw_attribution(figure, state: ExplorerState, sel: Selection, method: str,
                     show: bool) -> None:
    """Trace 2: the attribution map of ``method``, scaled to [0, 1], computed only when
    ``show``."""
    d = figure.data
    if show:
        attr = np.abs(state.attribution(sel, method))
        peak = float(attr.max())
        d[2].z = attr / peak if peak > 0 else attr
    d[2].visible = show


def draw_layers(figure, has_mask: bool, heatmap: bool, mask: bool, rf: bool) -> None:
    """Which layers show: the heatmap (hidden by opacity 0, so it still answers the hover),
    the true mask (where the face has one) and the receptive-field box."""
    d = figure.data
    d[1].opacity = HEATMAP_OPACITY if heatmap else 0.0  # still hoverable
    d[3].visible = mask and has_mask
    d[4].visible = rf


def draw_box(figure, state: ExplorerState, location: tuple[int, int]) -> None:
    """Trace 4 only: the receptive-field box of output ``location`` (i, j)."""
    xs, ys = _rect(rf_box(*location, state.model))
    figure.data[4].x, figure.data[4].y = xs, ys


def _png_uri(rgb: np.ndarray) -> str:
    """(H, W, 3) uint8 RGB as a PNG data URI (a few times smaller than plotly's JSON array)."""
    import cv2

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:  # pragma: no cover - cv2 encodes any uint8 RGB image
        raise ValueError("could not encode the face as PNG")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


class _Throttle:
    """Call ``fn`` at most once per ``interval`` seconds; the last call of a burst is never
    dropped (it runs once the interval has passed).

    ``later(delay, callback)`` schedules the trailing call and returns a handle, or None
    where it cannot (then the call runs at once); by default the running asyncio loop (the
    Jupyter kernel's) is used.
    """

    def __init__(self, fn: Callable, interval: float, clock: Callable[[], float] = time.monotonic,
                 later: Callable | None = None) -> None:
        self.fn, self.interval, self.clock = fn, interval, clock
        self.later = later or _call_later
        self._last = -math.inf
        self._args: tuple | None = None
        self._handle = None

    @property
    def pending(self) -> bool:
        return self._handle is not None

    def __call__(self, *args) -> None:
        self._args = args
        if self._handle is not None:  # a trailing call is already scheduled
            return
        wait = self._last + self.interval - self.clock()
        if wait > 0:
            self._handle = self.later(wait, self._fire)
            if self._handle is not None:
                return
        self._fire()

    def _fire(self) -> None:
        self._handle = None
        args, self._args = self._args, None
        if args is not None:
            self._last = self.clock()
            self.fn(*args)


def _call_later(delay: float, callback: Callable):
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return loop.call_later(delay, callback)


class _batch:
    """``figure.batch_update()`` for a FigureWidget, a no-op context for a go.Figure."""

    def __init__(self, figure) -> None:
        self._ctx = figure.batch_update() if hasattr(figure, "batch_update") else None

    def __enter__(self):
        return self._ctx.__enter__() if self._ctx is not None else None

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc) if self._ctx is not None else False
