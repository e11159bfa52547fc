"""HeatmapExplorer: an ipywidgets + plotly explorer of forgery heatmaps (paper Figs. 4-5).

Pick a dataset and an image (or upload one: it is aligned with
:func:`minilocal.faces.align_face`), slide the input size (a centre crop, as in Fig. 3a),
and toggle the forgery heatmap, an attribution map, the true mask and the 33 px receptive
field of the output under the cursor. Every control is a public widget attribute, so code
(and tests) can drive it: ``explorer.image_index.value = 3`` redraws ``explorer.figure``.

With ``anywidget`` installed the figure is a ``plotly.graph_objects.FigureWidget`` and
hovering or clicking moves the receptive-field box; without it the figure is a plain
``go.Figure`` redrawn into an ``ipywidgets.Output`` and :meth:`select_location` moves the
box.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Mapping

import numpy as np
import torch

from ..evaluate import centre_crop
from ..folder import FaceRecord, FaceSet
from ..model import LocalFeatureNet, fake_probability_map, p_fake, seg_score
from ..receptive_field import layer_geometry, output_size, rf_box, upsample_to_input
from .figures import _rect, heatmap_figure, mask_outline

logger = logging.getLogger(__name__)

__all__ = ["HeatmapExplorer", "TRACES"]

TRACES = ("face", "p(fake)", "attribution", "true mask", "receptive field")  # figure.data order
MIN_SIZE = 48  # smallest centre crop offered (Fig. 3a)
_TENSORS = ("images", "labels", "masks", "has_mask", "cvm", "has_cvm")  # FaceSet order


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
    ``info``; ``figure`` (traces in TRACES order); ``widget`` (the whole layout).

    Example:
        >>> ex = HeatmapExplorer(model, {"synth": faces})
        >>> ex.image_index.value = 3  # figure.data[1].z now holds image 3's heatmap
        >>> ex.size.value = 64        # ... of its central 64 x 64 crop

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
        self.figure = self._build_figure()
        if self.live:
            self.view = self.figure
            for k in (0, 1, 2):  # hovering or clicking the face or a map moves the box
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
        for w in (self.image_index, self.size, self.method, self.show_heatmap,
                  self.show_attribution, self.show_mask, self.show_rf):
            w.observe(lambda change: self.refresh(), names="value")
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
            prob = upsample_to_input(fake_probability_map(seg), self.size.value, self.model)
            self._cache[key] = {"prob": prob[0].cpu().numpy(),
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

    def location_at(self, x: float, y: float) -> tuple[int, int]:
        """The output (i, j) whose receptive-field centre is nearest to pixel (x, y)."""
        g = layer_geometry(self.model)[-1]
        last = output_size(self.size.value, self.model) - 1
        i = int(np.clip(round((y - g.start) / g.jump), 0, last))
        j = int(np.clip(round((x - g.start) / g.jump), 0, last))
        return i, j

    # ------------------------------------------------------------------ drawing

    def _build_figure(self):
        import plotly.graph_objects as go

        image, mask, _ = self._crop()
        S = image.shape[-1]
        fig = heatmap_figure(image, np.zeros((S, S), np.float32), mask=mask.numpy(),
                             rf_box=rf_box(0, 0, self.model),
                             attribution=np.zeros((S, S), np.float32), model=self.model)
        fig.update_layout(uirevision="keep", width=560, height=560)
        return go.FigureWidget(fig) if self.live else fig

    def refresh(self) -> None:
        """Redraw the figure and the scores for the current widget values."""
        image, mask, has_mask = self._crop()
        r = self._result()
        S = image.shape[-1]
        last = output_size(S, self.model) - 1
        self.location = (min(self.location[0], last), min(self.location[1], last))
        attr = self._attribution() if self.show_attribution.value else np.zeros((S, S))
        peak = float(np.abs(attr).max())
        xs, ys = _rect(rf_box(*self.location, self.model))
        d = self.figure.data
        with _batch(self.figure):
            d[0].z = image.permute(1, 2, 0).numpy()
            d[1].z, d[1].visible = r["prob"], self.show_heatmap.value
            d[2].z = np.abs(attr) / peak if peak > 0 else attr
            d[2].visible = self.show_attribution.value
            d[3].z, d[3].x, d[3].y = mask_outline(mask.numpy())
            d[3].visible = self.show_mask.value and has_mask
            d[4].x, d[4].y, d[4].visible = xs, ys, self.show_rf.value
            self.figure.layout.xaxis.range = [-0.5, S - 0.5]
            self.figure.layout.yaxis.range = [S - 0.5, -0.5]
        rec: FaceRecord = self._faces.records[self.image_index.value]
        self.info.value = (f"<b>{rec.label}</b> {rec.file} &nbsp; p_fake (classifier) "
                           f"<b>{r['p_fake']:.3f}</b> &nbsp; mean p(fake) ({self.head} head) "
                           f"<b>{r['seg']:.3f}</b> &nbsp; input {S}x{S} -> "
                           f"{last + 1}x{last + 1} outputs &nbsp; box: output "
                           f"{self.location}")
        if not self.live:
            self.view.clear_output()
            self.view.append_display_data(self.figure)

    def select_location(self, i: int, j: int) -> None:
        """Move the receptive-field box to output (i, j) (clipped to the grid)."""
        last = output_size(self.size.value, self.model) - 1
        self.location = (int(np.clip(i, 0, last)), int(np.clip(j, 0, last)))
        self.refresh()

    def _on_point(self, trace, points, state) -> None:
        if points.xs:
            self.select_location(*self.location_at(points.xs[0], points.ys[0]))

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

    def add_image(self, image_rgb: np.ndarray, name: str = "upload", align: bool = True) -> int:
        """Add a face to the dataset "uploads" and show it; returns its index there.

        Args:
            image_rgb: (H, W, 3) uint8 RGB, any size.
            name: shown as the file name.
            align: detect and align the face (:func:`minilocal.faces.align_face`) to the
                side of the first dataset's faces. Default: True; False only resizes.

        Raises:
            minilocal.faces.NoFaceError: if align is True and no face is found.
            ValueError: if the image is not (H, W, 3) uint8.
        """
        import cv2

        image = np.asarray(image_rgb)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be (H, W, 3) uint8 RGB, got {image.shape} "
                             f"{image.dtype}")
        side = next(iter(self.sets.values())).images.shape[-1]
        if align:
            from ..faces import align_face

            face = align_face(image, size=side).image
        else:
            face = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
        zeros = torch.zeros(1, side, side, dtype=torch.uint8)
        one = FaceSet(images=torch.from_numpy(face).permute(2, 0, 1)[None].contiguous(),
                      labels=torch.tensor([-1]), masks=zeros, has_mask=torch.tensor([False]),
                      cvm=zeros.clone(), has_cvm=torch.tensor([False]),
                      records=[FaceRecord(file=name, label="unknown", source=name)])
        old = self.sets.get("uploads")
        if old is not None:  # append: the FaceSet tensors, then the records
            tensors = [torch.cat([getattr(old, f), getattr(one, f)]) for f in _TENSORS]
            one = FaceSet(*tensors, records=old.records + one.records)
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
        from ..faces import NoFaceError, to_rgb

        import cv2

        for item in change["new"] or ():
            data = np.frombuffer(bytes(item["content"]), np.uint8)
            decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
            try:
                if decoded is None:
                    raise ValueError("not a readable image")
                self.add_image(to_rgb(decoded), name=item.get("name", "upload"))
            except (NoFaceError, ValueError) as err:
                self.info.value = f"<b>upload failed</b>: {item.get('name', '')}: {err}"

    # ------------------------------------------------------------------ display

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


class _batch:
    """``figure.batch_update()`` for a FigureWidget, a no-op context for a go.Figure."""

    def __init__(self, figure) -> None:
        self._ctx = figure.batch_update() if hasattr(figure, "batch_update") else None

    def __enter__(self):
        return self._ctx.__enter__() if self._ctx is not None else None

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc) if self._ctx is not None else False
