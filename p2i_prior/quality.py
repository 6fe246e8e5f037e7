"""Predicted mask quality: a per-mask estimate of the IoU with the person's true mask.

COCOeval ranks detections by their score, so AP depends on the order of the masks as much as on
the masks.  With an oracle person score the mean score inside every mask is about 1 and the
order is arbitrary; :func:`predict_quality` gives every mask a *predicted IoU* instead, from
cheap features that any method's output has (so the same rule ranks the box baseline and the
keypoint priors alike):

``labelled``       fraction of the 17 keypoints that are labelled
``log_area``       log of the mask's area over the squared body height of
                   :func:`p2i_prior.gates.instance_scales` (``log_area_sq``: its square)
``near_25``        fraction of the mask within 0.25 body heights of its own skeleton (Euclidean)
``near_50``        the same within 0.5 body heights
``score``          mean person score inside the mask
``contact``        fraction of the mask's outline pixels that touch another instance
``compact``        ``4 pi area / outline^2`` (outline: mask pixels with a background or foreign
                   4-neighbour), clipped to [0, 1]
``covered``        fraction of the labelled keypoints inside the image that land in the mask
``share``          the mask's share of the person components (8-connected, score >= threshold)
                   it lies in: 1 for a person standing alone
``crowd``          distance from the skeleton to the nearest other skeleton in body heights,
                   as ``exp(-d)`` (1: touching, 0: far or alone)

No feature uses boxes or ground truth.  The model (:class:`QualityModel`) is a logistic
regression on standardised features fitted to the IoU (soft targets) by Newton's method:
deterministic, a few hundred bytes, shipped as ``p2i_prior/data/quality.json`` and trained by
``python -m p2i_prior.quality_train`` (its docstring has the data, folds and numbers).
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .checks import check_threshold, to_numpy
from .gates import instance_scales
from .grid_distance import edt_cpu
from .skeleton import check_keypoints, skeleton_mask

__all__ = ["FEATURES", "QualityModel", "mask_features", "fit_quality", "load_quality_model",
           "predict_quality", "MODEL_PATH"]

FEATURES: tuple[str, ...] = (
    "labelled", "log_area", "log_area_sq", "near_25", "near_50", "score", "contact", "compact",
    "covered", "share", "crowd",
)

#: The shipped model.
MODEL_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "quality.json")


def mask_features(labels: Any, keypoints: Any, person_score: Any, *, threshold: float = 0.5) -> np.ndarray:
    """Per-instance features of a label map (see the module docstring for each column).

    Parameters
    ----------
    labels : (H, W) int array
        0 background, ``k + 1`` for instance ``k``.
    keypoints : (n, 17, 3) array
    person_score : (H, W) float array in [0, 1]
    threshold : float
        Person-score threshold of the components behind ``share``.

    Returns
    -------
    (n, len(FEATURES)) float64 ndarray
        A row of zeros for an empty mask.

    Examples
    --------
    >>> lab = np.zeros((20, 20), np.int32); lab[2:18, 5:12] = 1
    >>> kp = np.zeros((1, 17, 3)); kp[0, 5] = (8, 4, 2); kp[0, 11] = (8, 12, 2)
    >>> f = mask_features(lab, kp, (lab > 0).astype(np.float32))
    >>> f.shape, float(f[0, FEATURES.index("covered")])
    ((1, 11), 1.0)
    """
    from scipy import ndimage

    lab = to_numpy(labels, "labels")
    kp = check_keypoints(keypoints)
    score = to_numpy(person_score, "person_score", np.float32)
    threshold = check_threshold(threshold)
    if lab.ndim != 2 or score.shape != lab.shape:
        raise ValueError(f"labels, person_score: expected the same (H, W) shape, got {lab.shape} and {score.shape}")
    n = kp.shape[0]
    H, W = lab.shape
    lab = lab.astype(np.int64)
    out = np.zeros((n, len(FEATURES)))
    if n == 0:
        return out
    scale = np.nan_to_num(instance_scales(kp), nan=float(max(H, W)))
    skel = np.ascontiguousarray(skeleton_mask(kp, (H, W)))
    has_skel = skel.reshape(n, -1).any(1)
    dist = edt_cpu(skel) if has_skel.any() else np.full((n, H, W), np.inf, np.float32)
    dist[~has_skel] = np.inf
    # outline: mask pixels with a 4-neighbour of another label (or the image border)
    pad = np.pad(lab, 1, constant_values=-1)
    neigh = np.stack([pad[:-2, 1:-1], pad[2:, 1:-1], pad[1:-1, :-2], pad[1:-1, 2:]])
    outline = (neigh != lab).any(0) & (lab > 0)
    foreign = ((neigh != lab) & (neigh > 0)).any(0) & (lab > 0)
    comp, _ = ndimage.label((score >= threshold) | (lab > 0), structure=np.ones((3, 3), bool))
    comp_area = np.bincount(comp.ravel())
    flat_lab, flat_comp = lab.ravel(), comp.ravel()
    for k in range(n):
        m = flat_lab == k + 1
        area = int(m.sum())
        if area == 0:
            continue
        s = scale[k]
        d = dist[k].ravel()[m]
        per = int(outline.ravel()[m].sum())
        lab_k = kp[k, :, 2] > 0
        xy = np.floor(kp[k, lab_k, :2]).astype(np.int64)
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < W) & (xy[:, 1] >= 0) & (xy[:, 1] < H)
        xy = xy[inside]
        covered = float((lab[xy[:, 1], xy[:, 0]] == k + 1).mean()) if len(xy) else 0.0
        comps = np.unique(flat_comp[m])
        comps = comps[comps > 0]
        share = area / max(1, int(comp_area[comps].sum())) if len(comps) else 1.0
        crowd = 0.0
        if has_skel[k] and n > 1:
            others = [j for j in range(n) if j != k and has_skel[j]]
            if others:
                sk = skel[k]
                dmin = min(float(dist[j][sk].min()) for j in others)
                crowd = float(np.exp(-dmin / s))
        log_area = float(np.log(area / s**2))
        out[k] = (
            lab_k.sum() / 17.0,
            log_area,
            log_area**2,
            float((d <= 0.25 * s).mean()),
            float((d <= 0.5 * s).mean()),
            float(score.ravel()[m].mean()),
            foreign.ravel()[m].sum() / max(per, 1),
            min(1.0, 4 * np.pi * area / max(per, 1) ** 2),
            covered,
            min(1.0, share),
            crowd,
        )
    return out


@dataclass(frozen=True)
class QualityModel:
    """Logistic regression on standardised features: ``sigmoid(b + w . (x - mean) / std)``.

    Attributes
    ----------
    features : tuple of str
        Column names (must equal :data:`FEATURES`).
    mean, std, coef : (F,) float64 ndarrays
    intercept : float
    info : dict
        How it was trained (data, command, cross-validated numbers).
    """

    features: tuple
    mean: np.ndarray
    std: np.ndarray
    coef: np.ndarray
    intercept: float
    info: dict

    def predict(self, features: Any) -> np.ndarray:
        """(n,) float64 predicted IoU in (0, 1) of (n, F) features; 0 for an all-zero row (empty mask)."""
        x = to_numpy(features, "features", np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.features):
            raise ValueError(f"features: expected (n, {len(self.features)}), got {x.shape}")
        z = self.intercept + ((x - self.mean) / self.std) @ self.coef
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        return np.where((x != 0).any(1), p, 0.0)

    def to_json(self) -> dict:
        return {"features": list(self.features), "mean": self.mean.tolist(), "std": self.std.tolist(),
                "coef": self.coef.tolist(), "intercept": float(self.intercept), "info": self.info}

    @classmethod
    def from_json(cls, data: dict) -> "QualityModel":
        if tuple(data.get("features", ())) != FEATURES:
            raise ValueError(f"quality model: expected features {list(FEATURES)}, got {data.get('features')}")
        return cls(FEATURES, *(np.asarray(data[k], np.float64) for k in ("mean", "std", "coef")),
                   float(data["intercept"]), dict(data.get("info", {})))


def fit_quality(features: Any, iou: Any, *, l2: float = 1.0, weights: Any = None, info: dict | None = None,
                iterations: int = 50) -> QualityModel:
    """Fit the logistic regression to IoU targets (cross-entropy with soft labels, L2 penalty).

    Newton's method from zero: deterministic for the same data.

    Parameters
    ----------
    features : (m, F) float array
    iou : (m,) float array in [0, 1]
    l2 : float
        Ridge penalty on the standardised coefficients (not on the intercept).
    weights : (m,) float array, optional
        Per-row weights (default 1).

    Returns
    -------
    QualityModel

    Examples
    --------
    >>> x = np.linspace(0, 1, 50)[:, None].repeat(len(FEATURES), 1)
    >>> m = fit_quality(x, x[:, 0])
    >>> bool(m.predict(x[-1:])[0] > m.predict(x[1:2])[0])
    True
    """
    x = to_numpy(features, "features", np.float64)
    y = np.clip(to_numpy(iou, "iou", np.float64).reshape(-1), 0.0, 1.0)
    if x.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[1] != len(FEATURES):
        raise ValueError(f"features, iou: expected (m, {len(FEATURES)}) and (m,), got {x.shape} and {y.shape}")
    w = np.ones_like(y) if weights is None else to_numpy(weights, "weights", np.float64).reshape(-1)
    mean = (w[:, None] * x).sum(0) / w.sum()
    std = np.sqrt((w[:, None] * (x - mean) ** 2).sum(0) / w.sum())
    std = np.where(std > 1e-9, std, 1.0)
    z = np.hstack([np.ones((len(y), 1)), (x - mean) / std])
    beta = np.zeros(z.shape[1])
    pen = np.full(z.shape[1], float(l2))
    pen[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -50, 50)))
        grad = z.T @ (w * (p - y)) + pen * beta
        hess = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(pen + 1e-9)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return QualityModel(FEATURES, mean, std, beta[1:], float(beta[0]), dict(info or {}))


@functools.lru_cache(maxsize=4)
def load_quality_model(path: str | None = None) -> QualityModel:
    """The shipped model (``p2i_prior/data/quality.json``), or one written by the trainer.

    Examples
    --------
    >>> load_quality_model().features == FEATURES
    True
    """
    from .checks import read_json

    return QualityModel.from_json(read_json(path or MODEL_PATH, "path", "a quality model json"))


def predict_quality(labels: Any, keypoints: Any, person_score: Any, *, threshold: float = 0.5,
                    model: QualityModel | str | None = None) -> np.ndarray:
    """(n,) predicted IoU of each instance's mask in ``labels`` (0 for an empty mask).

    Examples
    --------
    >>> lab = np.zeros((20, 20), np.int32); lab[2:18, 5:12] = 1
    >>> kp = np.zeros((1, 17, 3)); kp[0, 5] = (8, 4, 2); kp[0, 11] = (8, 12, 2)
    >>> q = predict_quality(lab, kp, (lab > 0).astype(np.float32))
    >>> q.shape, bool(0 < q[0] < 1)
    ((1,), True)
    """
    if not isinstance(model, QualityModel):
        model = load_quality_model(model)
    return model.predict(mask_features(labels, keypoints, person_score, threshold=threshold))


def write_model(model: QualityModel, path: str) -> None:
    """Write a model as json (sorted keys, fixed float repr: byte-identical for the same fit)."""
    with open(path, "w") as f:
        json.dump(model.to_json(), f, indent=1, sort_keys=True)
        f.write("\n")
