"""Reference answers to the tutorials' exercises (kept out of the cells students edit).

``minilocal.exercises.solution("02", 1, globals())`` calls ``nb02_1(ns)`` with the notebook's
namespace ``ns``; a notebook's check cell does so only when its ``SOLUTIONS`` parameter is on
(``make tutorials`` and CI run ``papermill -p SOLUTIONS True``). Each function reads what it
needs from ``ns`` and returns the answer; try the exercise before reading it.
"""

import dataclasses

import numpy as np
import torch

import minilocal as ml

# ---------------------------------------------------------------- 00 quickstart


def nb00_1(ns):
    return ml.output_size(64, ns["net"])


def nb00_2(ns):
    return ml.receptive_field(ns["net"]) ** 2


# ---------------------------------------------------------------- 01 faces and preprocessing


def nb01_1(ns):
    x0, y0, x1, y1 = ns["face_box"]
    return round(1.3 * max(x1 - x0, y1 - y0))


def nb01_2(ns):
    return range(48, 68)


def nb01_3(ns):
    return int(ml.label_grid(ns["hull"]).sum())


def nb01_4(ns):
    inside = ns["inside"]
    return min(inside, key=inside.get)


# ---------------------------------------------------------------- 02 fakes and masks


def nb02_1(ns):
    return (int(np.flatnonzero(ns["centres"] == 64)[0]),) * 2


def nb02_2(ns):
    grids = ns["grids"]
    return float(grids["cvm"].mean()), float(grids["real"].mean())


def nb02_3(ns):
    return int(ml.label_mask("ones", 0, ns["SIZE"], ns["SIZE"]).sum())


def nb02_4(ns):
    eyes = ns["parts"]["eyes"]
    return int(((eyes.fake != eyes.target).any(axis=2) & (eyes.mask == 0)).sum())


# ---------------------------------------------------------------- 03 model and receptive field


def nb03_1(ns):
    return 35 - 2 * 2


def nb03_2(ns):
    return ml.rf_box(47, 47)


def nb03_3(ns):
    return 4 * 16 * 16


# ---------------------------------------------------------------- 04 training


def nb04_1(ns):
    return (ml.output_size(64),) * 2


def nb04_2(ns):
    first, config = ns["history_a"][0], ns["config"]
    return config.lambda_cls * first["loss_cls"] + sum(
        w * first[f"loss_seg_{h}"] for h, w in config.lambda_seg.items() if w > 0)


def nb04_3(ns):
    config = ns["config"]
    return dataclasses.replace(config, masks={**config.masks, "fake": "cvm"})


# ---------------------------------------------------------------- 05 evaluation


def nb05_1(ns):
    return float(np.mean((ns["full"].cls > 0.5) == (ns["labels"] == 1)))


def nb05_2(ns):
    return ml.receptive_field()


def nb05_3(ns):
    cls, labels = ns["full"].cls, ns["labels"]
    threshold = float(cls[labels == 0].max())
    return threshold, int((cls[labels == 1] > threshold).sum())


# ---------------------------------------------------------------- 06 reproducing the paper


def nb06_1(ns):
    ablation = ns["ablation"]
    return len({c.key for c in ablation.grid("3", "quick", 3)}
               - {c.key for c in ablation.grid("1", "quick", 3)})


def nb06_2(ns):
    return ns["ablation"].paired_comparison([0.80, 0.81, 0.79, 0.82, 0.80],
                                            [0.83, 0.82, 0.80, 0.85, 0.81])["sign_p"]


def nb06_3(ns):
    return 1 - sum(ns["ablation"].case_lambdas(5)[0].values())


# ---------------------------------------------------------------- 07 attributions


def nb07_1(ns):
    return ((64 - 16) // 8 + 1) ** 2


def nb07_2(ns):
    from minilocal import explain

    model, crop = ns["model"], ns["crop"]
    with torch.no_grad():
        score = explain.ClassifierScore(model.eval())
        return (score(crop) - score(torch.zeros_like(crop))).item()


def nb07_3(ns):
    contrast = ns["contrast"]  # map name -> how much more it marks the fake's mask than the real's
    return max((k for k in contrast if k.startswith("seg")), key=contrast.get)


# ---------------------------------------------------------------- 08 interactive heatmaps


def nb08_1(ns):
    return ml.output_size(64, ns["model"])


def nb08_2(ns):
    centres = ml.rf_centres(128, ns["model"])  # output k is centred on pixel 16 + 2k
    return int(np.abs(centres - 40).argmin()), int(np.abs(centres - 60).argmin())


def nb08_3(ns):
    model, faces, device = ns["model"], ns["faces"], ns["device"]
    with torch.no_grad():
        p = ml.p_fake(model(faces.images.float().div(255).to(device)).cls_logits)
    return int(p.argmax())
