"""Attributions for the local-feature network with Captum, and probes of its locality (3.2).

Captum needs one scalar per image. Two adapters give it one:

* :class:`ClassifierScore`: the classifier's fake logit, ``cls_logits[:, 1]``;
* :class:`SegmentationScore`: a segmentation head's fake logits summed over the output
  grid, or over a region of it (one location, a box, the true mask at the centres).

:func:`attribute` runs IntegratedGradients, Saliency, Occlusion or LayerGradCam (on the
trunk's last conv block) for either score and returns one (N, H, W) map per image;
:func:`agreement` measures how well a map points at the true forgery mask.
:func:`empirical_receptive_field` and :func:`local_cls_logits` make the paper's locality
argument checkable: one output sees exactly 33 x 33 pixels, and the GAP classifier's
logits are the average of per-location logits.

Captum is imported when this module is imported, not by ``import minilocal``.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import torch
from torch import nn

try:
    import captum.attr as _captum
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("minilocal.explain needs Captum: pip install 'minilocal[explain]'") from err

from .model import LocalFeatureNet, check_images
from .receptive_field import upsample_to_input
from .runtime import eval_mode

logger = logging.getLogger(__name__)

__all__ = ["CAPTUM", "METHODS", "TARGETS", "ClassifierScore", "SegmentationScore", "attribute",
           "agreement", "empirical_receptive_field", "open_all_paths", "local_cls_logits",
           "shuffle_patches"]

# short name -> (Captum class, its attribute() keyword arguments for images x (N, C, H, W)
# and the options of :func:`attribute`); "gradcam" is a layer method on model.trunk[-1]
CAPTUM = {
    "ig": (_captum.IntegratedGradients, lambda x, o: {
        "baselines": torch.zeros_like(x), "n_steps": o["n_steps"],
        "internal_batch_size": o["internal_batch_size"]}),
    "saliency": (_captum.Saliency, lambda x, o: {"abs": False}),
    "occlusion": (_captum.Occlusion, lambda x, o: {
        "sliding_window_shapes": (x.shape[1], o["window"], o["window"]),
        "strides": (x.shape[1], o["stride"], o["stride"]), "baselines": 0.0,
        "perturbations_per_eval": 8}),
    "gradcam": (_captum.LayerGradCam, lambda x, o: {"relu_attributions": not o["signed"]}),
}
METHODS = tuple(CAPTUM)  # ("ig", "saliency", "occlusion", "gradcam")
TARGETS = ("cls", "seg")  # classifier logit or summed segmentation logits
FAKE = 1  # index of the fake class in every pair of logits


class ClassifierScore(nn.Module):
    """The classifier's fake logit as one scalar per image. (N, 3, H, W) -> (N,)."""

    def __init__(self, model: LocalFeatureNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images).cls_logits[:, FAKE]


class SegmentationScore(nn.Module):
    """A segmentation head's fake logits summed over (a region of) the output grid.

    Args:
        model: the network.
        head: name of the segmentation head. Default: "fake".
        region: weights on the output grid, (H', W') or (N, H', W'), bool or float, e.g. a
            one-hot map for a single location or ``label_grid(mask)``. Default: None, every
            location counts once.

    Example:
        >>> score = SegmentationScore(net, "fake")
        >>> score(torch.rand(2, 3, 64, 64)).shape  # 16 x 16 logits summed per image
        torch.Size([2])

    Raises:
        ValueError: if ``head`` is not one of the model's heads, or (when called) the
            region does not match the (N, H', W') output grid.
    """

    def __init__(self, model: LocalFeatureNet, head: str = "fake",
                 region: torch.Tensor | None = None) -> None:
        super().__init__()
        names = tuple(getattr(model, "head_names", ()))
        if head not in names:
            raise ValueError(f"unknown segmentation head {head!r}; the model has {names}")
        self.model, self.head, self.region = model, head, region

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        fake = self.model(images).seg_logits[self.head][:, FAKE]  # (N, H', W')
        if self.region is None:
            return fake.sum(dim=(1, 2))
        region = torch.as_tensor(self.region, device=fake.device).to(fake.dtype)
        if region.shape[-2:] != fake.shape[-2:] or region.ndim not in (2, 3):
            raise ValueError(f"region must be (H', W') or (N, H', W') = {tuple(fake.shape)}, "
                             f"got {tuple(region.shape)}")
        if region.ndim == 3 and region.shape[0] != fake.shape[0]:
            # Captum expands the batch (IG steps, occlusion windows): tile per image
            if fake.shape[0] % region.shape[0]:
                raise ValueError(f"region has {region.shape[0]} maps for a batch of "
                                 f"{fake.shape[0]}")
            region = region.repeat(fake.shape[0] // region.shape[0], 1, 1)
        return (fake * region).sum(dim=(1, 2))


def _score(model: LocalFeatureNet, target: str, head: str, region) -> nn.Module:
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; expected one of {TARGETS}")
    if target == "cls":
        if region is not None:
            raise ValueError("region only applies to target='seg'")
        return ClassifierScore(model)
    return SegmentationScore(model, head, region)


def attribute(model: LocalFeatureNet, images: torch.Tensor, method: str = "ig",
              target: str = "cls", head: str = "fake", region: torch.Tensor | None = None,
              signed: bool = False, n_steps: int = 32, window: int = 16, stride: int = 8,
              internal_batch_size: int | None = None) -> torch.Tensor:
    """One attribution map per image for the fake score, summed over colour channels.

    Methods (Captum): ``ig`` IntegratedGradients from a black baseline; ``saliency`` the
    input gradient; ``occlusion`` the score drop when a ``window`` x ``window`` black
    square slides with ``stride``; ``gradcam`` LayerGradCam on ``model.trunk[-1]`` (the
    last conv block, H' x W'), spread back onto the input through the receptive-field
    centres (:func:`~minilocal.receptive_field.upsample_to_input`).

    Args:
        model: the network; run in eval mode here, its mode restored afterwards.
        images: (N, 3, H, W) float in [0, 1].
        method: one of METHODS. Default: "ig".
        target: "cls", the classifier's fake logit, or "seg", the head's fake logits
            summed over ``region``. Default: "cls".
        head: segmentation head for target "seg". Default: "fake".
        region: output-grid weights for target "seg", as :class:`SegmentationScore`.
        signed: keep the sign (positive: evidence for fake). Default: False, the
            absolute value of the channel sum (Grad-CAM: ReLU, as in its paper).
        n_steps: IG integration steps. Default: 32.
        window, stride: occlusion square and step in pixels. Default: 16, 8.
        internal_batch_size: IG batch of interpolated images (memory). Default: all.

    Returns:
        (N, H, W) float32, detached, on the images' device.

    Example:
        >>> maps = attribute(net, torch.rand(2, 3, 128, 128), "saliency", target="seg")
        >>> maps.shape
        torch.Size([2, 128, 128])

    Raises:
        ValueError: on an unknown method or target, a region with target "cls", or
            non-square images with "gradcam"; as :func:`~minilocal.model.check_images`.
    """
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; expected one of {METHODS}")
    check_images(images)
    H, W = images.shape[-2:]
    if method == "gradcam" and H != W:
        raise ValueError(f"gradcam needs square images, got {H}x{W}")
    score = _score(model, target, head, region)
    x = images.detach().clone().requires_grad_(True)
    captum_class, kwargs = CAPTUM[method]
    options = {"n_steps": n_steps, "window": window, "stride": stride,
               "internal_batch_size": internal_batch_size, "signed": signed}
    with eval_mode(model):
        if method == "gradcam":  # (N, 1, H', W') at the last conv block's outputs
            cam = captum_class(score, model.trunk[-1]).attribute(x, **kwargs(x, options))
            return upsample_to_input(cam[:, 0].detach(), H, model).float()
        attr = captum_class(score).attribute(x, **kwargs(x, options))
    attr = attr.detach().sum(dim=1).float()
    return attr if signed else attr.abs()


def agreement(attr_map: torch.Tensor | np.ndarray, mask: torch.Tensor | np.ndarray,
              metric: str = "auc") -> np.ndarray:
    """How well attribution maps point at true forgery masks, per image.

    ``auc``: pixel ROC AUC of the map as a score for "in the mask" (0.5 = chance).
    ``topk``: of the k pixels with the largest attribution, k = mask area, the fraction
    inside the mask (chance = the mask's share of the image; 1 = perfect).

    Args:
        attr_map: (N, H, W) or (H, W) float, higher = more evidence (use absolute maps).
        mask: same shape, values in {0, 1}.
        metric: "auc" or "topk". Default: "auc".

    Returns:
        (N,) float64; NaN for an image whose mask is empty (both) or full (auc).

    Raises:
        ValueError: on an unknown metric, mismatched shapes or a non-binary mask.
    """
    if metric not in ("auc", "topk"):
        raise ValueError(f"unknown metric {metric!r}; expected 'auc' or 'topk'")
    a = attr_map.detach().float().cpu().numpy() if isinstance(attr_map, torch.Tensor) \
        else np.asarray(attr_map, np.float64)
    m = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if a.shape != m.shape or a.ndim not in (2, 3):
        raise ValueError(f"attr_map and mask must both be (N, H, W) or (H, W) of one shape, "
                         f"got {a.shape} and {m.shape}")
    if np.setdiff1d(np.unique(m), [0, 1]).size:
        raise ValueError("mask must hold 0 and 1 only; divide 0/255 masks by 255")
    a, m = a.reshape(-1, a.shape[-2] * a.shape[-1]), m.reshape(-1, m.shape[-2] * m.shape[-1])
    out = np.full(len(a), np.nan)
    for n, (scores, inside) in enumerate(zip(a, m.astype(bool))):
        k = int(inside.sum())
        if k == 0 or (metric == "auc" and k == inside.size):
            continue
        if metric == "topk":
            out[n] = inside[np.argsort(-scores, kind="stable")[:k]].mean()
        else:  # Mann-Whitney U with average ranks for ties
            from scipy.stats import rankdata

            ranks = rankdata(scores)
            out[n] = (ranks[inside].sum() - k * (k + 1) / 2) / (k * (inside.size - k))
    return out


def open_all_paths(model: LocalFeatureNet) -> LocalFeatureNet:
    """A copy with positive weights and every max-pool swapped for an average pool.

    A max-pool routes the gradient to one pixel per window and ReLUs can close paths, so
    an input gradient shows only part of the receptive field. With positive weights
    (inputs in [0, 1]) and average pools of the same kernel and stride, every path is
    open and the gradient's support is the whole receptive field; the geometry is kept.
    """
    m = copy.deepcopy(model).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(p.abs() + 0.01)
    for idx, child in enumerate(m.trunk):
        if isinstance(child, nn.MaxPool2d):
            m.trunk[idx] = nn.AvgPool2d(child.kernel_size, child.stride, child.padding)
    return m


def empirical_receptive_field(model: LocalFeatureNet, size: int, i: int, j: int,
                              open_paths: bool = True) -> np.ndarray:
    """Input pixels that output (i, j) depends on: where its input gradient is non-zero.

    Args:
        model: the network (not modified).
        size: input side H = W in pixels.
        i, j: output row and column, 0 <= i, j < H'.
        open_paths: measure on :func:`open_all_paths` (the full receptive field).
            Default: True; False shows the pixels one random input actually uses.

    Returns:
        (H, W) bool; with ``open_paths`` a 33 x 33 square at ``rf_box(i, j)``.

    Raises:
        ValueError: if (i, j) lies outside the output grid.
    """
    net = open_all_paths(model) if open_paths else copy.deepcopy(model).eval()
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    x.requires_grad_(True)
    features = net.forward_features(x)
    Hp, Wp = features.shape[-2:]
    if not (0 <= i < Hp and 0 <= j < Wp):
        raise ValueError(f"output ({i}, {j}) is outside the {Hp}x{Wp} grid of a {size} px input")
    features[0, :, i, j].sum().backward()
    return (x.grad[0].abs().sum(0) > 0).numpy()


def local_cls_logits(model: LocalFeatureNet, images: torch.Tensor) -> torch.Tensor:
    """The classifier applied at every output location, before global average pooling.

    The head is linear, so GAP then linear equals linear then average: the image logits
    are the mean of these per-location logits, each computed from one 33 x 33 patch.

    Args:
        images: (N, 3, H, W) float in [0, 1].

    Returns:
        (N, 2, H', W') float; ``.mean(dim=(2, 3))`` equals ``model(images).cls_logits``.
    """
    features = model.forward_features(images)  # (N, C, H', W')
    weight, bias = model.cls_head.weight, model.cls_head.bias  # (2, C), (2,)
    return torch.einsum("kc,nchw->nkhw", weight, features) + bias[None, :, None, None]


def shuffle_patches(images: torch.Tensor, patch: int, seed: int = 0) -> torch.Tensor:
    """Cut images into a grid of patch x patch tiles and put the tiles in a seeded random order.

    Every location whose 33 px receptive field lies inside one tile sees exactly what it
    saw before, so a score built from local features barely moves for large tiles.

    Args:
        images: (N, C, H, W), H and W multiples of ``patch``.
        patch: tile side in pixels.
        seed: seed of the permutation (the same for every image). Default: 0.

    Returns:
        (N, C, H, W) of the same dtype.

    Raises:
        ValueError: if H or W is not a multiple of ``patch``.
    """
    N, C, H, W = images.shape
    if patch < 1 or H % patch or W % patch:
        raise ValueError(f"patch {patch} must divide the {H}x{W} images")
    gh, gw = H // patch, W // patch
    tiles = images.reshape(N, C, gh, patch, gw, patch).permute(0, 2, 4, 1, 3, 5)
    tiles = tiles.reshape(N, gh * gw, C, patch, patch)
    order = torch.randperm(gh * gw, generator=torch.Generator().manual_seed(seed))
    tiles = tiles[:, order.to(images.device)].reshape(N, gh, gw, C, patch, patch)
    return tiles.permute(0, 3, 1, 4, 2, 5).reshape(N, C, H, W)
