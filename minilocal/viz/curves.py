"""Plotly line charts: training curves and ROC / precision-recall curves (paper Fig. 3).

Each function returns a ``plotly.graph_objects.Figure`` and displays nothing, so tests can
inspect the traces.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

from .figures import _go

__all__ = ["loss_curves", "roc_pr_figure"]


def loss_curves(history: Sequence[Mapping[str, float]], x: str = "epoch"):
    """Training curves: losses on the left, every other number (metrics) on the right.

    Args:
        history: one dict per epoch, e.g. ``[{"epoch": 1, "train_loss": 0.7,
            "val_auc": 0.8}, ...]``; keys holding "loss" are losses.
        x: the key on the x axis. Default: "epoch" (the row number when absent).

    Returns:
        plotly Figure with one line per key.

    Raises:
        ValueError: if history is empty or holds no numbers.
    """
    from plotly.subplots import make_subplots

    go = _go()
    rows = list(history)
    if not rows:
        raise ValueError("history is empty: need one dict per epoch")
    keys = [k for k in dict.fromkeys(k for r in rows for k in r)
            if k != x and all(isinstance(r.get(k, 0.0), (int, float)) for r in rows)]
    if not keys:
        raise ValueError(f"history holds no numeric columns besides {x!r}")
    xs = [r.get(x, n + 1) for n, r in enumerate(rows)]
    losses = [k for k in keys if "loss" in k]
    others = [k for k in keys if "loss" not in k]
    panels = [p for p in (losses, others) if p]
    fig = make_subplots(rows=1, cols=len(panels),
                        subplot_titles=["loss", "metrics"] if len(panels) == 2 else None)
    for c, group in enumerate(panels, start=1):
        for k in group:
            ys = [r.get(k) for r in rows]
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=k), row=1, col=c)
        fig.update_xaxes(title_text=x, row=1, col=c)
    fig.update_layout(width=420 * len(panels), height=360, margin=dict(l=40, r=10, t=40, b=40))
    return fig


def roc_pr_figure(labels: np.ndarray | torch.Tensor,
                  scores: Mapping[str, np.ndarray | torch.Tensor] | np.ndarray | torch.Tensor):
    """ROC and precision-recall curves of one or more image scores (paper Fig. 3).

    Args:
        labels: (N,) {0, 1}, 1 = fake.
        scores: (N,) scores, higher = more fake, or {name: (N,)} to compare several.

    Returns:
        plotly Figure, ROC left, PR right; legend entries carry AUC and AP.

    Raises:
        ValueError: as :func:`minilocal.metrics.binary_metrics`.
    """
    from plotly.subplots import make_subplots

    from ..metrics import binary_metrics, pr_curve, roc_curve

    go = _go()
    named = scores if isinstance(scores, Mapping) else {"score": scores}
    fig = make_subplots(rows=1, cols=2, subplot_titles=["ROC", "precision-recall"])
    for name, s in named.items():
        m = binary_metrics(labels, s)
        roc, pr = roc_curve(labels, s), pr_curve(labels, s)
        fig.add_trace(go.Scatter(x=roc.fpr, y=roc.tpr, mode="lines", legendgroup=name,
                                 name=f"{name} (AUC {m['auc']:.3f})"), row=1, col=1)
        fig.add_trace(go.Scatter(x=pr.recall, y=pr.precision, mode="lines", legendgroup=name,
                                 name=f"{name} (AP {m['ap']:.3f})"), row=1, col=2)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance",
                             line=dict(dash="dot", color="grey")), row=1, col=1)
    fig.update_xaxes(title_text="false positive rate", range=[0, 1], row=1, col=1)
    fig.update_yaxes(title_text="true positive rate", range=[0, 1.02], row=1, col=1)
    fig.update_xaxes(title_text="recall", range=[0, 1], row=1, col=2)
    fig.update_yaxes(title_text="precision", range=[0, 1.02], row=1, col=2)
    fig.update_layout(width=860, height=400, margin=dict(l=50, r=10, t=40, b=40))
    return fig
