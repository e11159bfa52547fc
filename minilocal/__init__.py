"""minilocal: deep local features to detect manipulated face images.

A teachable implementation of Tarasiou & Zafeiriou, "Extracting deep local features to
detect manipulated images of human faces": a 33-px receptive-field network with a GAP
classifier and dense segmentation heads, trained with a joint loss on masks (zeros,
ones, convex hull, real) that can all be generated automatically.

``import minilocal`` needs only torch, numpy, OpenCV and safetensors; dlib, PyAV, Captum,
plotly and ipywidgets are imported when first used. The rest of the toolkit lives in
submodules, one concept each: ``faces``, ``video``, ``compress``, ``adapters``, ``synth``,
``train``, ``evaluate``, ``predict``, ``explain``, ``viz``, ``ablation``, ``registry``.
"""

from .checkpoint import load_checkpoint, save_checkpoint
from .faces import FaceCrop, NoFaceError, align_face, read_image
from .folder import FaceSet, FolderWriter, load_folder
from .loss import JointLoss, LossTerms, check_lambdas
from .metrics import binary_metrics, centre_gaussian, localization_report
from .masks import MASK_KINDS, cvm, label_mask, ones_mask, real_mask, zeros_mask
from .model import (
    CLASSES,
    RECEPTIVE_FIELD,
    LocalFeatureNet,
    Output,
    check_images,
    count_parameters,
    fake_probability_map,
    p_fake,
    seg_score,
    to_input,
)
from .receptive_field import (
    label_grid,
    layer_geometry,
    output_size,
    receptive_field,
    rf_box,
    rf_centres,
    summary,
    upsample_to_input,
)

__version__ = "0.1.0"

__all__ = [
    "CLASSES",
    "FaceCrop",
    "FaceSet",
    "FolderWriter",
    "NoFaceError",
    "align_face",
    "binary_metrics",
    "centre_gaussian",
    "localization_report",
    "load_checkpoint",
    "load_folder",
    "read_image",
    "save_checkpoint",
    "MASK_KINDS",
    "RECEPTIVE_FIELD",
    "JointLoss",
    "LocalFeatureNet",
    "LossTerms",
    "Output",
    "check_images",
    "check_lambdas",
    "count_parameters",
    "cvm",
    "fake_probability_map",
    "label_grid",
    "label_mask",
    "layer_geometry",
    "ones_mask",
    "output_size",
    "p_fake",
    "real_mask",
    "receptive_field",
    "rf_box",
    "rf_centres",
    "seg_score",
    "summary",
    "to_input",
    "upsample_to_input",
    "zeros_mask",
]
