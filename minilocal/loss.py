"""The joint classification-segmentation objective (paper section 3.3, equations 1-4).

    L = lambda_cls * L_cls + sum_k lambda_seg[k] * L_seg[k]

with L_cls the cross-entropy of the image logits and L_seg[k] the cross-entropy of head k
averaged over all H' x W' output locations, and 0 <= lambda <= 1, lambda_cls + sum = 1.
"""

from __future__ import annotations

import math
from typing import Mapping, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .model import Output

__all__ = ["JointLoss", "LossTerms", "check_lambdas", "balanced_weights"]


def balanced_weights(labels: torch.Tensor) -> tuple[float, float]:
    """Class weights N / (2 N_c) for (N,) labels in {0, 1}: each class then weighs half of
    L_cls, so a model that learns only the prior (e.g. synth_lfw's 1 real : 3 fakes) gains
    nothing from it. Raises ValueError if a class is absent."""
    n = len(labels)
    n_fake = int((labels == 1).sum())
    if n_fake in (0, n):
        raise ValueError(f"need both classes to balance, got {n - n_fake} real, {n_fake} fake")
    return n / (2 * (n - n_fake)), n / (2 * n_fake)


class LossTerms(NamedTuple):
    """The total loss and each term, for logging. Scalars (0-dim tensors)."""

    total: torch.Tensor
    cls: torch.Tensor
    seg: dict[str, torch.Tensor]


def check_lambdas(lambda_cls: float, lambda_seg: Mapping[str, float]) -> None:
    """Raise ValueError unless each lambda is in [0, 1] and all sum to 1 (within 1e-6)."""
    values = {"lambda_cls": lambda_cls, **{f"lambda_seg[{k}]": v for k, v in lambda_seg.items()}}
    bad = {k: v for k, v in values.items()
           if not isinstance(v, (int, float)) or not math.isfinite(v) or not 0.0 <= v <= 1.0}
    if bad:
        raise ValueError(f"every lambda must be a number in [0, 1]; offending: {bad}")
    total = sum(values.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"lambda_cls + sum(lambda_seg) must equal 1, got {total:.6g} from {values}")


class JointLoss(nn.Module):
    """lambda_cls * CE(image) + sum_k lambda_seg[k] * mean-over-locations CE(head k).

    Args:
        lambda_cls: weight of the image classification loss. Default: 1.0.
        lambda_seg: {head name: weight}. Heads with weight 0 are not computed.
            Default: no segmentation term.
        class_weights: (w_real, w_fake) weights of L_cls's two classes, e.g. N / (2 N_c)
            for unbalanced data (:func:`balanced_weights`). Default: None (equal).

    Raises:
        ValueError: if a lambda is outside [0, 1] or they do not sum to 1.

    Example:
        >>> loss = JointLoss(lambda_cls=0.7, lambda_seg={"fake": 0.3})
        >>> terms = loss(net(images), labels, {"fake": label_grid(masks)})
        >>> terms.total.backward()
    """

    def __init__(self, lambda_cls: float = 1.0,
                 lambda_seg: Mapping[str, float] | None = None,
                 class_weights: tuple[float, float] | None = None) -> None:
        super().__init__()
        lambda_seg = dict(lambda_seg or {})
        check_lambdas(lambda_cls, lambda_seg)
        if class_weights is not None:
            if len(class_weights) != 2 or not all(
                    math.isfinite(w) and w > 0 for w in class_weights):
                raise ValueError(f"class_weights must be two positive numbers, got "
                                 f"{class_weights}")
            self.register_buffer("class_weights", torch.tensor(class_weights, dtype=torch.float32))
        else:
            self.class_weights = None
        self.lambda_cls = float(lambda_cls)
        self.lambda_seg = {k: float(v) for k, v in lambda_seg.items()}

    @property
    def active_heads(self) -> list[str]:
        """Heads whose term is computed (lambda > 0)."""
        return [k for k, v in self.lambda_seg.items() if v > 0]

    def forward(self, output: Output, labels: torch.Tensor,
                seg_labels: Mapping[str, torch.Tensor] | None = None) -> LossTerms:
        """Compute the joint loss.

        Args:
            output: the network's :class:`~minilocal.model.Output`; cls_logits (N, 2),
                seg_logits {name: (N, 2, H', W')}.
            labels: (N,) int64 image labels, 0 real, 1 fake.
            seg_labels: {name: (N, H', W')} int labels in {0, 1} for each active head,
                e.g. from :func:`~minilocal.receptive_field.label_grid`.

        Returns:
            :class:`LossTerms` (total, cls, {name: seg term}); terms unweighted.

        Raises:
            ValueError: on missing heads or labels, or shapes that do not match.
        """
        cls_logits = output.cls_logits
        if labels.shape != cls_logits.shape[:1]:
            raise ValueError(f"labels must be (N,) = {tuple(cls_logits.shape[:1])}, "
                             f"got {tuple(labels.shape)}")
        weight = None if self.class_weights is None else self.class_weights.to(cls_logits.device)
        cls_term = F.cross_entropy(cls_logits.float(), labels.long(), weight=weight)
        total = self.lambda_cls * cls_term
        seg_terms: dict[str, torch.Tensor] = {}
        seg_labels = seg_labels or {}
        for name in self.active_heads:
            if name not in output.seg_logits:
                raise ValueError(f"lambda_seg names head {name!r} but the model has heads "
                                 f"{sorted(output.seg_logits)}")
            if name not in seg_labels:
                raise ValueError(f"no segmentation labels (masks) given for head {name!r}")
            logits, target = output.seg_logits[name], seg_labels[name]
            N, _, Hp, Wp = logits.shape
            if tuple(target.shape) != (N, Hp, Wp):
                raise ValueError(f"segmentation labels for {name!r} must be (N, H', W') = "
                                 f"{(N, Hp, Wp)}, got {tuple(target.shape)}")
            seg_terms[name] = F.cross_entropy(logits.float(), target.long())  # mean over N, i, j
            total = total + self.lambda_seg[name] * seg_terms[name]
        return LossTerms(total, cls_term, seg_terms)
