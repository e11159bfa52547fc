"""HeatmapExplorer: an ipywidgets + plotly explorer of forgery heatmaps (paper Figs. 4-5).

Pick a dataset and an image (or upload a photo: its face is found and aligned with
:func:`minilocal.faces.align_face`; a photo without a face is refused), slide the input size
(a centre crop, as in Fig. 3a), and toggle the forgery heatmap, an attribution map, the true
mask and the 33 px receptive field of the selected output. Every control is a public widget
attribute, so code (and tests) can drive it: ``explorer.image_index.value = 3`` redraws
``explorer.figure``.

The heatmap is drawn one cell per network output: the cell under the cursor *is* that
output, and its tooltip and the info line give its local p(fake) (the softmax of the
segmentation head there) and the pixel box it sees. With ``anywidget`` installed the figure
is a ``plotly.graph_objects.FigureWidget``; hovering or clicking moves the receptive-field
box, and only the box (one small restyle of that trace, at most every
:data:`~minilocal.viz.explorer_figure.HOVER_INTERVAL` seconds; the image is never
re-sent). Without it the figure is a plain ``go.Figure`` redrawn into an
``ipywidgets.Output`` and :meth:`select_location` moves the box.

Where no widget can render (exported HTML, nbconvert, a notebook viewer), displaying the
explorer shows a PNG of its current state and a line saying to run the notebook in
Jupyter; :meth:`snapshot` gives a static copy of the figure, :meth:`to_png` the picture.

This module holds the widgets, their layout and what each control redraws. What they show
is computed without widgets in :mod:`~minilocal.viz.explorer_state`, drawn into the figure's
traces in :mod:`~minilocal.viz.explorer_figure`; :mod:`~minilocal.viz.explorer_static`
draws the static copies.
"""

from __future__ import annotations

import html
import importlib.util
import logging
from typing import Callable, Mapping

import numpy as np

from ..faceset import FaceSet
from ..model import LocalFeatureNet
from ..receptive_field import output_size
from .explorer_figure import (HEATMAP_OPACITY, HOVER_INTERVAL, _batch, _Throttle, build_figure,
                              draw_attribution, draw_box, draw_image, draw_layers)
from .explorer_state import ExplorerState, Selection
from .explorer_static import explorer_png, snapshot_figure, with_static_picture

logger = logging.getLogger(__name__)

__all__ = ["HeatmapExplorer"]

MIN_SIZE = 48  # smallest centre crop offered (Fig. 3a)


class HeatmapExplorer:
    """Interactive forgery heatmaps for one model over one or more face sets.

    Args:
        model: the network; used in eval mode, on its own device.
        datasets: a FaceSet, or {name: FaceSet}; images (N, 3, S, S) uint8.
        head: segmentation head whose map is shown. Default: "fake".
        method: initial attribution method (see :data:`minilocal.explain.METHODS`).
            Default: "saliency" (the fastest).
        size_step: step of the input-size slider in pixels. Default: 8.

    Attributes (widgets): ``dataset``, ``image_index``, ``size``, ``method``,
    ``show_heatmap``, ``show_attribution``, ``show_mask``, ``show_rf``, ``upload``,
    ``info``; ``figure`` (traces in :data:`~minilocal.viz.explorer_figure.TRACES` order;
    trace 1 holds one cell per output);
    ``widget`` (the whole layout); ``location`` (the selected output (i, j)); ``state``
    (the :class:`~minilocal.viz.explorer_state.ExplorerState`: sets, model, outputs).

    Example:
        >>> ex = HeatmapExplorer(model, {"synth": faces})
        >>> ex.image_index.value = 3  # figure.data[1].z now holds image 3's output map
        >>> ex.size.value = 64        # ... of its central 64 x 64 crop (16 x 16 outputs)
        >>> ex.local_score()          # p(fake) of the selected output, as in the tooltip

    Raises:
        ValueError: on no datasets, an empty one, or a head the model lacks.
    """

    def __init__(self, model: LocalFeatureNet, datasets: FaceSet | Mapping[str, FaceSet],
                 head: str = "fake", method: str = "saliency", size_step: int = 8) -> None:
        import ipywidgets as widgets

        from ..explain import METHODS

        self.state = ExplorerState(model, datasets, head)
        sets = self.state.sets
        self.model, self.head, self.sets = self.state.model, head, sets  # the state's own
        self.location = (0, 0)
        first = next(iter(sets.values()))
        side = first.images.shape[-1]
        style = {"description_width": "initial"}
        self.dataset = widgets.Dropdown(options=list(sets), description="dataset")
        self.image_index = widgets.IntSlider(0, 0, len(first) - 1, description="image")
        self.size = widgets.IntSlider(side, MIN_SIZE, side, size_step,
                                      description="input size (centre crop)", style=style)
        self.method = widgets.Dropdown(options=list(METHODS), value=method,
                                       description="attribution")
        self.show_heatmap = widgets.Checkbox(True, description="heatmap")
        self.show_attribution = widgets.Checkbox(False, description="attribution")
        self.show_mask = widgets.Checkbox(True, description="true mask")
        self.show_rf = widgets.Checkbox(True, description="receptive field")
        self.upload = widgets.FileUpload(accept="image/*", multiple=False,
                                         description="upload face")
        self.info = widgets.HTML()
        self.live = importlib.util.find_spec("anywidget") is not None
        self._hover = _Throttle(self.select_location, HOVER_INTERVAL)
        self.figure = build_figure(self.state, self._selection(), self.live)
        if self.live:
            self.view = self.figure
            for k in (0, 1):  # hovering or clicking the face or the map moves the box
                self.figure.data[k].on_hover(self._on_point)
                self.figure.data[k].on_click(self._on_point)
        else:
            self.view = widgets.Output()
        controls = widgets.VBox([
            widgets.HBox([self.dataset, self.image_index, self.upload]),
            widgets.HBox([self.size, self.method]),
            widgets.HBox([self.show_heatmap, self.show_attribution, self.show_mask,
                          self.show_rf]), self.info])
        self.widget = widgets.VBox([controls, self.view])
        self.dataset.observe(self._on_dataset, names="value")
        for w in (self.image_index, self.size):
            w.observe(lambda change: self.refresh(), names="value")
        for w in (self.method, self.show_attribution):
            w.observe(lambda change: self._redraw(self._draw_attribution), names="value")
        for w in (self.show_heatmap, self.show_mask, self.show_rf):
            w.observe(lambda change: self._redraw(self._draw_layers), names="value")
        self.upload.observe(self._on_upload, names="value")
        self.refresh()

    # ------------------------------------------------------------------ state

    @property
    def _faces(self) -> FaceSet:
        return self.sets[self.dataset.value]

    def _selection(self, location: tuple[int, int] | None = None) -> Selection:
        """The widgets' current values (and the selected output, or ``location``)."""
        return Selection(self.dataset.value, self.image_index.value, self.size.value,
                         self.location if location is None else location)

    def local_score(self, i: int | None = None, j: int | None = None) -> float:
        """p(fake) of output (i, j) (default: the selected one): the softmax of the head there."""
        return self.state.local_score(self._selection(None if i is None else (i, j)))

    def location_at(self, x: float, y: float) -> tuple[int, int]:
        """The output (i, j) whose receptive-field centre is nearest to pixel (x, y)."""
        return self.state.location_at(self.size.value, x, y)

    # ------------------------------------------------------------------ drawing

    def _redraw(self, draw: Callable[[], None]) -> None:
        with _batch(self.figure):
            draw()
        if not self.live:
            self.view.clear_output()
            self.view.append_display_data(self.figure)

    def _draw_attribution(self) -> None:
        draw_attribution(self.figure, self.state, self._selection(), self.method.value,
                         self.show_attribution.value)

    def _draw_layers(self) -> None:
        _, _, has_mask = self.state.crop(self._selection())
        draw_layers(self.figure, has_mask, self.show_heatmap.value, self.show_mask.value,
                    self.show_rf.value)

    def _draw_box(self) -> None:
        draw_box(self.figure, self.state, self.location)

    def _info_text(self) -> str:
        return self.state.info_html(self._selection())

    def refresh(self) -> None:
        """Redraw the figure and the scores for the current widget values."""
        last = output_size(self.size.value, self.model) - 1
        self.location = (min(self.location[0], last), min(self.location[1], last))

        def draw() -> None:
            draw_image(self.figure, self.state, self._selection(), self.show_mask.value)
            self._draw_attribution()
            self._draw_layers()
            self._draw_box()

        self._redraw(draw)
        self.info.value = self._info_text()

    def select_location(self, i: int, j: int) -> None:
        """Move the receptive-field box to output (i, j) (clipped to the grid).

        Only the box trace and the info line change; the image and the maps are not sent
        again.
        """
        last = output_size(self.size.value, self.model) - 1
        self.location = (int(np.clip(i, 0, last)), int(np.clip(j, 0, last)))
        self._redraw(self._draw_box)
        self.info.value = self._info_text()

    def _on_point(self, trace, points, state) -> None:
        if not points.xs:
            return
        inds = getattr(points, "point_inds", None) or [None]
        if (getattr(trace, "type", None) == "heatmap" and isinstance(inds[0], (list, tuple))
                and len(inds[0]) == 2):  # a heatmap cell [i, j]: exactly the tooltip's output
            loc = (int(inds[0][0]), int(inds[0][1]))
        else:
            loc = self.location_at(points.xs[0], points.ys[0])
        if loc != self.location or self._hover.pending:
            self._hover(*loc)

    def _on_dataset(self, change) -> None:
        faces = self._faces
        side = faces.images.shape[-1]
        with self.image_index.hold_trait_notifications(), self.size.hold_trait_notifications():
            self.image_index.value = 0
            self.image_index.max = len(faces) - 1
            self.size.max = side
            self.size.value = min(self.size.value, side)
        self.refresh()

    # ------------------------------------------------------------------ uploads

    def add_image(self, image_rgb: np.ndarray, name: str = "upload", align: bool = True,
                  whole_image: bool = False) -> int:
        """Add a face to the dataset "uploads" and show it; returns its index there.

        Args and Raises: as :meth:`ExplorerState.add_face
        <minilocal.viz.explorer_state.ExplorerState.add_face>` (``align=False`` only
        resizes; a photo without a face is refused unless ``whole_image=True``).
        """
        n = self.state.add_face(image_rgb, name, align, whole_image)
        if "uploads" not in self.dataset.options:
            self.dataset.options = list(self.dataset.options) + ["uploads"]
        self.dataset.value = "uploads"
        self.image_index.max = n
        self.image_index.value = n
        self.refresh()
        return n

    def _on_upload(self, change) -> None:
        from ..face_detection import NoFaceError
        from ..image_io import to_rgb

        import cv2

        for item in change["new"] or ():
            data = np.frombuffer(bytes(item["content"]), np.uint8)
            decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
            try:
                if decoded is None:
                    raise ValueError("not a readable image")
                self.add_image(to_rgb(decoded), name=item.get("name", "upload"))
            except (NoFaceError, ValueError) as err:
                self.info.value = (f"<b>upload failed</b>: {html.escape(item.get('name', ''))}"
                                   f": {html.escape(str(err))}")

    # ------------------------------------------------------------------ static copies

    def snapshot(self):
        """A static ``go.Figure`` of the current state, titled with the scores; later
        changes to the explorer do not touch it (and it renders in exported HTML)."""
        return snapshot_figure(self.figure, self._info_text())

    def to_png(self, dpi: int = 100) -> bytes:
        """The current state as a PNG (matplotlib; no browser needed): the face, the
        heatmap as drawn (one cell per output), the true mask, the box and the scores."""
        return explorer_png(self.state, self._selection(), heatmap=self.show_heatmap.value,
                            mask=self.show_mask.value, rf=self.show_rf.value,
                            opacity=HEATMAP_OPACITY, dpi=dpi)

    # ------------------------------------------------------------------ display

    def _repr_mimebundle_(self, **kwargs):
        """The live widget, and for front-ends without widgets (exported HTML, viewers) a
        PNG of the current state with a line saying to run the notebook in Jupyter."""
        return with_static_picture(self.widget._repr_mimebundle_(**kwargs), self.to_png())
