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
:data:`HOVER_INTERVAL` seconds; the image is never re-sent). Without it the figure is a
plain ``go.Figure`` redrawn into an ``ipywidgets.Output`` and :meth:`select_location` moves
the box.

Where no widget can render (exported HTML, nbconvert, a notebook viewer), displaying the
explorer shows a PNG of its current state and a line saying to run the notebook in
Jupyter; :meth:`snapshot` gives a static copy of the figure, :meth:`to_png` the picture.
"""

from __future__ import annotations

import base64
import html
import io
import importlib.util
import logging
import math
import time
from typing import Callable, Mapping

import numpy as np
import torch

from ..evaluate import centre_crop
from ..faceset import FaceSet
from ..folder import FaceRecord
from ..model import LocalFeatureNet, fake_probability_map, p_fake, seg_score
from ..receptive_field import layer_geometry, output_size, rf_box, rf_centres
from .figures import heatmap_figure
from .images import _rect, mask_outline

logger = logging.getLogger(__name__)

__all__ = ["HeatmapExplorer", "TRACES", "HOVER_INTERVAL"]

TRACES = ("face", "p(fake)", "attribution", "true mask", "receptive field")  # figure.data order
MIN_SIZE = 48  # smallest centre crop offered (Fig. 3a)
HOVER_INTERVAL = 0.05  # seconds: at most one box update per interval while the mouse moves
HEATMAP_OPACITY = 0.5
_HOVER = ("output (%{customdata[0]}, %{customdata[1]}): p(fake) %{z:.3f}<br>"
          "receptive field x %{customdata[2]}-%{customdata[3]}, "
          "y %{customdata[4]}-%{customdata[5]}<extra>local score</extra>")
NOT_LIVE = ("Static picture of the explorer as it was drawn. The live explorer (sliders, "
            "hover) needs a running Jupyter kernel: open this notebook in JupyterLab and run it.")


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
    ``info``; ``figure`` (traces in TRACES order; trace 1 holds one cell per output);
    ``widget`` (the whole layout); ``location`` (the selected output (i, j)).

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

        sets = dict(datasets) if isinstance(datasets, Mapping) else {"faces": datasets}
        if not sets:
            raise ValueError("HeatmapExplorer needs at least one dataset")
        for name, faces in sets.items():
            if len(faces) == 0:
                raise ValueError(f"dataset {name!r} is empty")
        if head not in getattr(model, "head_names", ()):
            raise ValueError(f"model has no segmentation head {head!r}; it has "
                             f"{tuple(getattr(model, 'head_names', ()))}")
        self.model, self.head, self.sets = model.eval(), head, sets
        self.location = (0, 0)
        self._cache: dict[tuple, dict] = {}
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
        self.figure = self._build_figure()
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

    def _crop(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        faces, n = self._faces, self.image_index.value
        image = centre_crop(faces.images[n], self.size.value)
        mask = centre_crop(faces.masks[n], self.size.value)
        return image, mask, bool(faces.has_mask[n])

    def _result(self) -> dict:
        """Model outputs for the current image and size (cached)."""
        key = (self.dataset.value, self.image_index.value, self.size.value)
        if key not in self._cache:
            image, _, _ = self._crop()
            device = next(self.model.parameters()).device
            x = image[None].to(device).float() / 255.0
            with torch.no_grad():
                out = self.model(x)
            seg = out.seg_logits[self.head]
            self._cache[key] = {"prob": fake_probability_map(seg)[0].cpu().numpy(),
                                "p_fake": float(p_fake(out.cls_logits)[0]),
                                "seg": float(seg_score(seg)[0]), "x": x}
        return self._cache[key]

    def _attribution(self) -> np.ndarray:
        from ..explain import attribute

        r = self._result()
        key = ("attr", self.method.value)
        if key not in r:
            r[key] = attribute(self.model, r["x"], self.method.value, target="seg",
                               head=self.head, n_steps=16)[0].cpu().numpy()
        return r[key]

    def local_score(self, i: int | None = None, j: int | None = None) -> float:
        """p(fake) of output (i, j) (default: the selected one): the softmax of the head there."""
        li, lj = self.location if i is None else (i, j)
        return float(self._result()["prob"][li, lj])

    def location_at(self, x: float, y: float) -> tuple[int, int]:
        """The output (i, j) whose receptive-field centre is nearest to pixel (x, y)."""
        g = layer_geometry(self.model)[-1]
        last = output_size(self.size.value, self.model) - 1
        i = int(np.clip(math.floor((y - g.start) / g.jump + 0.5), 0, last))
        j = int(np.clip(math.floor((x - g.start) / g.jump + 0.5), 0, last))
        return i, j

    def _cell_edges(self, S: int) -> np.ndarray:
        """Edges of the heatmap cells: one per output, the outer ones out to the border."""
        c = rf_centres(S, self.model).astype(np.float64)
        return np.concatenate([[-0.5], (c[:-1] + c[1:]) / 2, [S - 0.5]])

    def _customdata(self, Hp: int) -> np.ndarray:
        """(H', H', 6) int: i, j and the inclusive pixel box x0, x1, y0, y1 of each output."""
        cd = np.empty((Hp, Hp, 6), np.int32)
        for i in range(Hp):
            for j in range(Hp):
                x0, y0, x1, y1 = rf_box(i, j, self.model)
                cd[i, j] = (i, j, x0, x1 - 1, y0, y1 - 1)
        return cd

    # ------------------------------------------------------------------ drawing

    def _build_figure(self):
        import plotly.graph_objects as go

        image, mask, _ = self._crop()
        S = image.shape[-1]
        fig = heatmap_figure(image, np.zeros((S, S), np.float32), mask=mask.numpy(),
                             rf_box=rf_box(0, 0, self.model),
                             attribution=np.zeros((S, S), np.float32), model=self.model,
                             opacity=HEATMAP_OPACITY)
        fig.data[1].update(visible=True, hovertemplate=_HOVER,
                           colorbar=dict(title="p(fake)<br>(local)", len=0.8))
        fig.data[2].update(hoverinfo="skip", visible=False)  # the tooltip stays p(fake)
        fig.update_layout(uirevision="keep", width=560, height=560, hovermode="closest")
        return go.FigureWidget(fig) if self.live else fig

    def _redraw(self, draw: Callable[[], None]) -> None:
        with _batch(self.figure):
            draw()
        if not self.live:
            self.view.clear_output()
            self.view.append_display_data(self.figure)

    def _draw_image(self) -> None:
        image, mask, has_mask = self._crop()
        r = self._result()
        S = image.shape[-1]
        Hp = r["prob"].shape[0]
        edges = self._cell_edges(S)
        d = self.figure.data
        d[0].z, d[0].source = None, _png_uri(image.permute(1, 2, 0).numpy())  # PNG, small
        d[1].z, d[1].x, d[1].y = r["prob"], edges, edges
        d[1].customdata = self._customdata(Hp)
        d[3].z, d[3].x, d[3].y = mask_outline(mask.numpy())
        d[3].visible = self.show_mask.value and has_mask
        self.figure.layout.xaxis.range = [-0.5, S - 0.5]
        self.figure.layout.yaxis.range = [S - 0.5, -0.5]

    def _draw_attribution(self) -> None:
        d = self.figure.data
        if self.show_attribution.value:
            attr = np.abs(self._attribution())
            peak = float(attr.max())
            d[2].z = attr / peak if peak > 0 else attr
        d[2].visible = self.show_attribution.value

    def _draw_layers(self) -> None:
        _, _, has_mask = self._crop()
        d = self.figure.data
        d[1].opacity = HEATMAP_OPACITY if self.show_heatmap.value else 0.0  # still hoverable
        d[3].visible = self.show_mask.value and has_mask
        d[4].visible = self.show_rf.value

    def _draw_box(self) -> None:
        xs, ys = _rect(rf_box(*self.location, self.model))
        self.figure.data[4].x, self.figure.data[4].y = xs, ys

    def _info_text(self) -> str:
        r = self._result()
        S = self.size.value
        Hp = r["prob"].shape[0]
        i, j = self.location
        x0, y0, x1, y1 = rf_box(i, j, self.model)
        rec: FaceRecord = self._faces.records[self.image_index.value]
        return (f"<b>{html.escape(str(rec.label))}</b> {html.escape(str(rec.file))} &nbsp; "
                f"p_fake (classifier) <b>{r['p_fake']:.3f}</b> &nbsp; mean p(fake) "
                f"({self.head} head) <b>{r['seg']:.3f}</b> &nbsp; input {S}x{S} -> "
                f"{Hp}x{Hp} outputs<br><b>selected output ({i}, {j})</b>: p(fake) "
                f"<b>{self.local_score():.3f}</b>, receptive field x {x0}-{x1 - 1}, "
                f"y {y0}-{y1 - 1} ({x1 - x0}x{y1 - y0} px) &nbsp; <i>scores are not "
                f"calibrated probabilities</i>")

    def refresh(self) -> None:
        """Redraw the figure and the scores for the current widget values."""
        last = output_size(self.size.value, self.model) - 1
        self.location = (min(self.location[0], last), min(self.location[1], last))

        def draw() -> None:
            self._draw_image()
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

        Args:
            image_rgb: (H, W, 3) uint8 RGB, any size.
            name: shown as the file name.
            align: detect and align the face (:func:`minilocal.faces.align_face`) to the
                side of the first dataset's faces. Default: True; False only resizes.
            whole_image: when no face is found, use the whole image as the face, as
                ``minilocal predict --whole-image``: right only for an image that already
                is a tight face crop. Default: False, a photo without a face is refused.

        Raises:
            minilocal.face_detection.NoFaceError: if align is True, no face is found and
                whole_image is False; nothing is added.
            ValueError: if the image is not (H, W, 3) uint8.
        """
        import cv2

        image = np.asarray(image_rgb)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be (H, W, 3) uint8 RGB, got {image.shape} "
                             f"{image.dtype}")
        side = next(iter(self.sets.values())).images.shape[-1]
        if align:
            from ..face_detection import NoFaceError
            from ..faces import align_face

            try:
                face = align_face(image, size=side, whole_image=whole_image).image
            except NoFaceError as err:
                raise NoFaceError(
                    f"no face found in {name!r} ({err}); nothing added. Use a photo with a "
                    "clearly visible face, or pass whole_image=True if the image already is "
                    "a tight face crop") from err
        else:
            face = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
        one = FaceSet.from_arrays([FaceRecord(file=name, label="unknown", source=name)],
                                  [face])  # label "unknown": -1
        old = self.sets.get("uploads")
        if old is not None:
            one = FaceSet.concat([old, one])
        self.sets["uploads"] = one
        self._cache = {k: v for k, v in self._cache.items() if k[0] != "uploads"}
        if "uploads" not in self.dataset.options:
            self.dataset.options = list(self.dataset.options) + ["uploads"]
        self.dataset.value = "uploads"
        self.image_index.max = len(one) - 1
        self.image_index.value = len(one) - 1
        self.refresh()
        return len(one) - 1

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
        import plotly.graph_objects as go

        fig = go.Figure(self.figure)
        title = self._info_text().replace(" &nbsp; input", "<br>input").replace(
            " &nbsp; <i>", "<br><i>").replace("&nbsp;", " ")
        fig.update_layout(title=dict(text=title, font_size=11, x=0.01, y=0.98,
                                     yanchor="top"),
                          margin=dict(t=80))
        return fig

    def to_png(self, dpi: int = 100) -> bytes:
        """The current state as a PNG (matplotlib; no browser needed): the face, the
        heatmap as drawn (one cell per output), the true mask, the box and the scores."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle

        image, mask, has_mask = self._crop()
        r = self._result()
        S = image.shape[-1]
        fig = Figure(figsize=(5.2, 5.6), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.02, 0.02, 0.8, 0.8))
        ax.imshow(image.permute(1, 2, 0).numpy(), extent=(-0.5, S - 0.5, S - 0.5, -0.5))
        if self.show_heatmap.value:
            edges = self._cell_edges(S)
            mesh = ax.pcolormesh(edges, edges, r["prob"], cmap="RdBu_r", vmin=0, vmax=1,
                                 alpha=HEATMAP_OPACITY, shading="flat")
            cax = fig.add_axes((0.85, 0.1, 0.03, 0.64))
            fig.colorbar(mesh, cax=cax, label="p(fake), local")
        if self.show_mask.value and has_mask and mask.any():
            ax.contour(mask.numpy().astype(float), levels=[0.5], colors="magenta",
                       linewidths=1.5)
        if self.show_rf.value:
            x0, y0, x1, y1 = rf_box(*self.location, self.model)
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                   edgecolor="yellow", linewidth=2))
        ax.set_xlim(-0.5, S - 0.5)
        ax.set_ylim(S - 0.5, -0.5)
        ax.set_axis_off()
        rec = self._faces.records[self.image_index.value]
        i, j = self.location
        fig.text(0.02, 0.97, f"{rec.label} {rec.file} ({self.dataset.value}), {S}x{S} px",
                 fontsize=9, va="top")
        fig.text(0.02, 0.92, f"p_fake (classifier) {r['p_fake']:.3f}, mean p(fake) "
                 f"{r['seg']:.3f}; output ({i}, {j}): p(fake) {self.local_score():.3f}",
                 fontsize=9, va="top")
        fig.text(0.02, 0.87, "static picture: run the notebook in Jupyter for the live "
                 "explorer", fontsize=8, va="top", style="italic", color="dimgray")

        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()

    # ------------------------------------------------------------------ display

    def _repr_mimebundle_(self, **kwargs):
        """The live widget, and for front-ends without widgets (exported HTML, viewers) a
        PNG of the current state with a line saying to run the notebook in Jupyter."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):  # (data, metadata)
            bundle = bundle[0]
        png = base64.b64encode(self.to_png()).decode("ascii")
        bundle = dict(bundle)
        bundle["text/html"] = (f'<div class="minilocal-explorer-static"><p><b>Heatmap '
                               f'explorer</b>: {html.escape(NOT_LIVE)}</p>'
                               f'<img alt="explorer, static picture" '
                               f'src="data:image/png;base64,{png}"/></div>')
        bundle["text/plain"] = f"HeatmapExplorer ({NOT_LIVE})"
        return bundle


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
