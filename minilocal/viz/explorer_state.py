"""What the heatmap explorer shows, without widgets: faces, model outputs, cells (Figs. 4-5).

:class:`~minilocal.viz.explorer.HeatmapExplorer` reads its widgets into a
:class:`Selection` (which face, the input size, the selected output) and asks its
:class:`ExplorerState` for everything it draws: the centre crop, the model's outputs on it
(computed once per face and size), the attribution map, the heatmap cells (one per network
output) and the info line. Nothing here needs ipywidgets, plotly or a browser.
"""

from __future__ import annotations

import html
import logging
import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

from ..evaluate import centre_crop
from ..faceset import FaceSet
from ..folder import FaceRecord
from ..model import LocalFeatureNet, fake_probability_map, p_fake, seg_score
from ..receptive_field import layer_geometry, output_size, rf_box, rf_centres

logger = logging.getLogger(__name__)

__all__ = ["ExplorerState", "Selection"]


@dataclass(frozen=True)
class Selection:
    """One view of the explorer: a face, the centre crop fed to the model, one output."""

    dataset: str  # a key of ExplorerState.sets
    index: int  # the face's index in that dataset
    size: int  # side S of the centre crop, in pixels
    location: tuple[int, int] = (0, 0)  # the selected output (i, j) of the H' x W' grid


class ExplorerState:
    """The face sets, the model and its outputs on each face (cached), for the explorer.

    Args:
        model: the network; used in eval mode, on its own device.
        datasets: a FaceSet, or {name: FaceSet}; images (N, 3, S, S) uint8.
        head: segmentation head whose map is shown. Default: "fake".

    Attributes: ``model``, ``head``, ``sets`` ({name: FaceSet}; faces added with
    :meth:`add_face` go to "uploads").

    Example:
        >>> state = ExplorerState(model, {"synth": faces})
        >>> state.outputs(Selection("synth", 3, 64))["prob"].shape  # 64 px: 16 x 16 outputs
        (16, 16)

    Raises:
        ValueError: on no datasets, an empty one, or a head the model lacks.
    """

    def __init__(self, model: LocalFeatureNet, datasets: FaceSet | Mapping[str, FaceSet],
                 head: str = "fake") -> None:
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
        self._cache: dict[tuple, dict] = {}

    def crop(self, sel: Selection) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """The central S x S crop (S = sel.size): (3, S, S) uint8 image, (S, S) uint8 true
        mask, and whether the face has a true mask."""
        faces, n = self.sets[sel.dataset], sel.index
        image = centre_crop(faces.images[n], sel.size)
        mask = centre_crop(faces.masks[n], sel.size)
        return image, mask, bool(faces.has_mask[n])

    def outputs(self, sel: Selection) -> dict:
        """Model outputs for the selected face and size (cached): "prob" (H', W') float32
        p(fake) of each output, "p_fake" (classifier) and "seg" (mean p(fake)) floats, and
        "x" (1, 3, S, S) float in [0, 1], the model's input."""
        key = (sel.dataset, sel.index, sel.size)
        if key not in self._cache:
            image, _, _ = self.crop(sel)
            device = next(self.model.parameters()).device
            x = image[None].to(device).float() / 255.0
            with torch.no_grad():
                out = self.model(x)
            seg = out.seg_logits[self.head]
            self._cache[key] = {"prob": fake_probability_map(seg)[0].cpu().numpy(),
                                "p_fake": float(p_fake(out.cls_logits)[0]),
                                "seg": float(seg_score(seg)[0]), "x": x}
        return self._cache[key]

    def attribution(self, sel: Selection, method: str) -> np.ndarray:
        """(S, S) attribution map of the head's score (:func:`minilocal.explain.attribute`),
        cached per face, size and method."""
        from ..explain import attribute

        r = self.outputs(sel)
        key = ("attr", method)
        if key not in r:
            r[key] = attribute(self.model, r["x"], method, target="seg",
                               head=self.head, n_steps=16)[0].cpu().numpy()
        return r[key]

    def local_score(self, sel: Selection) -> float:
        """p(fake) of output sel.location: the softmax of the head there."""
        i, j = sel.location
        return float(self.outputs(sel)["prob"][i, j])

    def location_at(self, size: int, x: float, y: float) -> tuple[int, int]:
        """The output (i, j) whose receptive-field centre is nearest to pixel (x, y) of a
        ``size`` px input."""
        g = layer_geometry(self.model)[-1]
        last = output_size(size, self.model) - 1
        i = int(np.clip(math.floor((y - g.start) / g.jump + 0.5), 0, last))
        j = int(np.clip(math.floor((x - g.start) / g.jump + 0.5), 0, last))
        return i, j

    def cell_edges(self, S: int) -> np.ndarray:
        """(H' + 1,) float64 edges of the heatmap cells of an S px input: one cell per output,
        the outer ones out to the border."""
        c = rf_centres(S, self.model).astype(np.float64)
        return np.concatenate([[-0.5], (c[:-1] + c[1:]) / 2, [S - 0.5]])

    def cell_customdata(self, Hp: int) -> np.ndarray:
        """(H', H', 6) int: i, j and the inclusive pixel box x0, x1, y0, y1 of each output."""
        cd = np.empty((Hp, Hp, 6), np.int32)
        for i in range(Hp):
            for j in range(Hp):
                x0, y0, x1, y1 = rf_box(i, j, self.model)
                cd[i, j] = (i, j, x0, x1 - 1, y0, y1 - 1)
        return cd

    def info_html(self, sel: Selection) -> str:
        """The info line (HTML): the face, its scores and the selected output's p(fake) and
        receptive field."""
        r = self.outputs(sel)
        S = sel.size
        Hp = r["prob"].shape[0]
        i, j = sel.location
        x0, y0, x1, y1 = rf_box(i, j, self.model)
        rec: FaceRecord = self.sets[sel.dataset].records[sel.index]
        return (f"<b>{html.escape(str(rec.label))}</b> {html.escape(str(rec.file))} &nbsp; "
                f"p_fake (classifier) <b>{r['p_fake']:.3f}</b> &nbsp; mean p(fake) "
                f"({self.head} head) <b>{r['seg']:.3f}</b> &nbsp; input {S}x{S} -> "
                f"{Hp}x{Hp} outputs<br><b>selected output ({i}, {j})</b>: p(fake) "
                f"<b>{self.local_score(sel):.3f}</b>, receptive field x {x0}-{x1 - 1}, "
                f"y {y0}-{y1 - 1} ({x1 - x0}x{y1 - y0} px) &nbsp; <i>scores are not "
                f"calibrated probabilities</i>")

    def add_face(self, image_rgb: np.ndarray, name: str = "upload", align: bool = True,
                 whole_image: bool = False) -> int:
        """Add a face to the dataset "uploads"; returns its index there.

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
        return len(one) - 1
