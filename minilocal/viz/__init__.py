"""Visualisation for people: plotly figures and an ipywidgets heatmap explorer.

``from minilocal import viz`` imports plotly when a figure is first drawn and ipywidgets
when an explorer is built; ``import minilocal`` needs neither.

* :mod:`~minilocal.viz.figures`: figures of faces, :func:`show_faces`, :func:`heatmap_figure`,
  :func:`receptive_field_figure`;
* :mod:`~minilocal.viz.curves`: :func:`loss_curves`, :func:`roc_pr_figure`;
* :mod:`~minilocal.viz.images`: :func:`to_rgb_array` and the PNG data URIs and mask
  outlines that the figures draw;
* :mod:`~minilocal.viz.explorer`: :class:`HeatmapExplorer`, its widgets; what it shows is
  computed in :mod:`~minilocal.viz.explorer_state` (no widgets), drawn in
  :mod:`~minilocal.viz.explorer_figure` (:data:`TRACES`) and copied as a picture in
  :mod:`~minilocal.viz.explorer_static`;
* :mod:`~minilocal.viz.panels`: OpenCV pictures (PNG, no browser): :func:`heatmap_overlay`,
  :func:`heatmap_panel`, :func:`video_panels`, as ``minilocal predict --heatmap`` writes;
* :mod:`~minilocal.viz.samples`: :func:`sample_faces`, a few fakes (with their true masks)
  beside reals, to look at.

Datasets and a trained model for the tutorials come from :mod:`minilocal.tutorial_data`.
"""

from .curves import loss_curves, roc_pr_figure
from .explorer import HeatmapExplorer
from .explorer_figure import TRACES
from .figures import heatmap_figure, receptive_field_figure, show_faces
from .images import to_rgb_array
from .samples import DEMO_DATASETS, sample_faces

__all__ = ["DEMO_DATASETS", "TRACES", "HeatmapExplorer", "heatmap_figure", "loss_curves",
           "receptive_field_figure", "roc_pr_figure", "sample_faces", "show_faces",
           "to_rgb_array"]
