"""minilocal: deep local features to detect manipulated face images.

A teachable implementation of Tarasiou & Zafeiriou, "Extracting deep local features to
detect manipulated images of human faces": a 33-px receptive-field network with a GAP
classifier and dense segmentation heads, trained with a joint loss on masks (zeros,
ones, convex hull, real) that can all be generated automatically.

``import minilocal`` needs only torch, numpy, OpenCV, safetensors and tqdm; dlib, PyAV,
Captum, scikit-learn, plotly and ipywidgets are imported when first used. The names below
follow one face from disk to a heatmap (faces -> masks -> labels -> model -> loss -> train
-> evaluate -> explain); each has this one import route. Everything else lives in the
submodules, one concept each: ``image_io``, ``face_detection``, ``faces``, ``video``,
``compress``, ``folder``, ``faceset``, ``adapters``, ``preprocess``, ``synth``, ``masks``,
``receptive_field``, ``recipe``, ``train_data``, ``train``, ``run_state``, ``evaluate``,
``predict``, ``explain``, ``viz``, ``ablation``, ``registry``, ``download``,
``http_fetch``, ``archives``, ``paths``.
"""

# faces: read, detect and align; folder-format datasets
from .face_detection import NoFaceError
from .faces import align_face
from .image_io import read_image
from .faceset import FaceSet, load_folder
from .paths import find_dataset

# masks: what each segmentation head learns (paper 3.2)
from .masks import MASK_KINDS, cvm, label_mask, real_mask

# labels and the model: 8 convolutions, a 33-px receptive field (paper 3.1)
from .model import (RECEPTIVE_FIELD, LocalFeatureNet, count_parameters, fake_probability_map,
                    p_fake, seg_score)
from .receptive_field import (label_grid, output_size, receptive_field, rf_box, rf_centres,
                              summary, upsample_to_input)

# loss, training, checkpoints
from .loss import JointLoss
from .recipe import TrainConfig
from .train import fit
from .checkpoint import load_checkpoint, save_checkpoint

# evaluation and explanation
from .evaluate import score_images
from .metrics import binary_metrics, centre_gaussian, localization_report


def __getattr__(name: str):
    """``minilocal.attribute`` imports Captum (minilocal.explain) only when first used."""
    if name == "attribute":
        from .explain import attribute

        return attribute
    raise AttributeError(f"module 'minilocal' has no attribute {name!r}")

__version__ = "0.1.0"

__all__ = [
    # faces
    "read_image", "align_face", "NoFaceError", "find_dataset", "load_folder", "FaceSet",
    # masks
    "MASK_KINDS", "cvm", "real_mask", "label_mask",
    # labels and the model
    "LocalFeatureNet", "RECEPTIVE_FIELD", "receptive_field", "output_size", "rf_centres",
    "rf_box", "label_grid", "upsample_to_input", "summary", "count_parameters",
    "p_fake", "seg_score", "fake_probability_map",
    # loss, training, checkpoints
    "JointLoss", "TrainConfig", "fit", "save_checkpoint", "load_checkpoint",
    # evaluation and explanation
    "score_images", "binary_metrics", "centre_gaussian", "localization_report", "attribute",
]
