"""Synthetic manipulations of real faces with exact forgery masks (paper sections 1, 3.1).

The paper's last contribution is generating every training label automatically, without
real/fake video pairs. Here each fake is made from one real face crop (the *target*) and
comes with a pixel-exact *real forgery mask* (the contract is in :mod:`.blend`):

* :mod:`.faceswap`: :func:`faceswap`, the computer-vision FaceSwap of FaceForensics++:
  Delaunay triangulation of the target landmarks, piecewise-affine warp of a *source* face
  onto it (:mod:`.warp`: :func:`delaunay`, :func:`warp_face`), colour transfer (LAB mean
  and std), seamless cloning or feathered alpha blending;
* :mod:`.sbi`: :func:`self_blend`, self-blended images (SBI, Shiohara & Yamasaki, CVPR
  2022): a perturbed, slightly shifted copy of the face blended back into it;
* :mod:`.partswap`: :func:`part_swap`, only the eyes, nose or mouth of another face,
  colour-corrected;
* :mod:`.blend`: :class:`SynthResult` and the blend that derives the exact mask;
* :mod:`.pool`: :class:`FacePool`, :func:`load_pool` and the pose-nearest source choice
  (:func:`choose_source`, :func:`normalize_landmarks`);
* :mod:`.dataset`: :func:`synthesize` (one fake of a pool face), :func:`make_fakes`, which
  turns a folder of real faces into a folder-format dataset of the reals and their fakes
  (``minilocal synth``; rejects go to rejects.csv), and :func:`montage`, which draws
  target / fake / masks rows.
"""

from __future__ import annotations

import logging

from .blend import SynthResult
from .dataset import METHODS, make_fakes, montage, synthesize
from .faceswap import faceswap
from .partswap import PARTS, part_swap
from .pool import FacePool, choose_source, load_pool, normalize_landmarks
from .sbi import self_blend
from .warp import delaunay, warp_face

logger = logging.getLogger(__name__)

__all__ = ["METHODS", "PARTS", "SynthResult", "FacePool", "faceswap", "self_blend",
           "part_swap", "synthesize", "choose_source", "normalize_landmarks", "delaunay",
           "warp_face", "load_pool", "make_fakes", "montage"]
