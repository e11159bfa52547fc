"""Tests for minilocal/face_detection.py: dlib models, detection with fallbacks, landmarks."""

import ast
import sys
from pathlib import Path

import numpy as np
import pytest

import minilocal
from minilocal import face_detection
from minilocal.face_detection import NoFaceError, detect_landmarks, find_face
from minilocal.image_io import read_image


@pytest.fixture(scope="module")
def lfw_rgb(lfw_root):
    return read_image(lfw_root / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg")


# ---------------------------------------------------------------- detection


class TestModels:
    def test_predictor_found_without_importing_package(self):
        assert face_detection._predictor_path().endswith("shape_predictor_68_face_landmarks.dat")
        assert "face_recognition_models" not in sys.modules

    @pytest.mark.parametrize("module", ["face_detection", "image_io", "faces", "video",
                                        "compress", "adapters", "preprocess"])
    def test_dlib_and_av_are_imported_lazily(self, module):
        # `import minilocal` must not need dlib or PyAV: no top-level import of them
        tree = ast.parse(Path(minilocal.__file__).with_name(f"{module}.py").read_text())
        top = {alias.name.split(".")[0] for node in tree.body
               if isinstance(node, (ast.Import, ast.ImportFrom))
               for alias in node.names}
        top |= {node.module.split(".")[0] for node in tree.body
                if isinstance(node, ast.ImportFrom) and node.module}
        assert not top & {"dlib", "av", "face_recognition_models"}


class TestDetect:
    def test_landmarks_of_a_real_face(self, lfw_rgb):
        pts = detect_landmarks(lfw_rgb)
        assert pts.shape == (68, 2) and pts.dtype == np.float32
        # LFW deep-funneled: the face sits in the middle of the 250 px photo
        assert 80 < pts[:, 0].mean() < 170 and 80 < pts[:, 1].mean() < 170

    def test_no_face_raises(self):
        with pytest.raises(NoFaceError, match="no face found"):
            detect_landmarks(np.full((120, 120, 3), 128, np.uint8))

    def test_no_face_without_whole_image(self):
        with pytest.raises(NoFaceError, match="even on the padded image"):
            find_face(np.full((120, 120, 3), 128, np.uint8), whole_image=False)

    def test_rejects_non_rgb(self):
        with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8 RGB"):
            detect_landmarks(np.zeros((50, 50), np.uint8))
