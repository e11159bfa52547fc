"""Tests for minilocal/viz/curves.py: training curves and ROC / precision-recall curves."""

import numpy as np
import pytest

from minilocal import viz


class TestCurves:
    def test_losses_and_metrics_split(self):
        history = [{"epoch": 1, "loss": 0.7, "loss_cls": 0.6, "val_auc": 0.6, "note": "x"},
                   {"epoch": 2, "loss": 0.5, "loss_cls": 0.4, "val_auc": 0.8, "note": "y"}]
        fig = viz.loss_curves(history)
        assert [t.name for t in fig.data] == ["loss", "loss_cls", "val_auc"]
        assert list(fig.data[2].y) == [0.6, 0.8] and list(fig.data[0].x) == [1, 2]

    def test_rejects_empty_history(self):
        with pytest.raises(ValueError, match="history is empty"):
            viz.loss_curves([])

    def test_rejects_history_without_numbers(self):
        with pytest.raises(ValueError, match="no numeric columns"):
            viz.loss_curves([{"epoch": 1, "note": "x"}])

    def test_roc_pr_legend_carries_auc(self):
        labels = np.array([0, 0, 1, 1])
        fig = viz.roc_pr_figure(labels, {"cls": np.array([0.1, 0.4, 0.35, 0.8])})
        assert fig.data[0].name == "cls (AUC 0.750)" and fig.data[1].name.startswith("cls (AP")
