"""Image evidence for who owns a person pixel: a learned (pixel, candidate) affinity.

Distances from a partial skeleton cannot tell two half-visible people apart where they touch,
nor a keypoint-less spectator from the skeleton beside it (``bench/results/eval/
2026-11-29-quality-ranking.md``: 348k confused pixels between people with keypoints, 280k of
people without).  :func:`refine_people` re-decides every person pixel among its nearest
candidates, and a "nobody" option, with a small model on distance *and image* features:

Per (pixel, candidate ``k``), ``k`` among the ``CANDIDATES`` nearest skeletons by geodesic
distance that the component gate (and ``boxes``) allow there:

``log_geo``       ``log1p(geodesic / height_k)`` (height: :func:`p2i_prior.gates.instance_scales`)
``log_eucl``      ``log1p(euclidean / height_k)`` (exact, to ``k``'s skeleton pixels)
``edge_cost``     ``log((geodesic + 1) / (euclidean + 1))``: what the edges crossed on the way cost
``geo_margin``    ``log1p(geodesic) - log1p(min over candidates)``; ``eucl_margin`` the same
``rank0..2``      one-hot rank of ``k`` by geodesic distance
``labelled``      ``k``'s labelled keypoints / 17; ``sparse``: fewer than 5 labelled
``log_height``    ``log(height_k / sqrt(H W))``
``colour_near``   Lab distance / 100 between the pixel (Gaussian-smoothed image) and ``k``'s
                  skeleton at its nearest skeleton pixel (the limb the pixel would belong to)
``colour_best``   the smallest Lab distance / 100 to any of up to 64 samples of ``k``'s skeleton
``colour_model``  ``-log`` likelihood ratio of the pixel's colour under a coarse Lab histogram of
                  the pixels clearly ``k``'s by geodesic distance (the second candidate
                  ``CONFIDENT_MARGIN`` farther, in ``log1p``) against one of all person pixels
``outside``       distance outside ``k``'s keypoint bounding box, in heights
``near_head``     the nearest labelled keypoint of ``k`` is on the head (0-4); ``near_arm`` an
                  arm (5-10); ``near_leg`` a hip or leg (11-16)
``below``         row offset from the mean of ``k``'s labelled keypoints, in heights (down > 0);
                  ``aside`` the absolute column offset
``has_head``      ``k`` has a head keypoint labelled; ``has_legs`` a knee or ankle (what is known
                  about missing parts)
``log_inside``    ``log1p(inside / height_k)``: geodesic distance whose path stays in the person
                  region (:func:`inside_distances`: leaving it costs ``OUTSIDE_COST`` per pixel), so
                  two people touching at one spot are far apart; ``inside_margin`` as ``geo_margin``
``fill``          ``sqrt(m) / height_k`` for the ``m`` person pixels open to ``k`` that are nearer to
                  ``k`` (geodesic): how much body area ``k`` would already hold before this pixel
                  (a body covers about 0.1-0.2 height^2); ``fill_inside`` the same by ``inside``

Per pixel, for the "nobody" option: ``log1p`` of the smallest geodesic and Euclidean distance in
heights of the nearest candidate, its labelled keypoints, the number of candidates, the score.

The model (:class:`AffinityModel`): one small MLP scores each candidate, another the "nobody"
option; the pixel goes to the argmax (0 for nobody), optionally after a Gaussian vote of its
neighbours' probabilities (``smooth``).  Weights (a few kB of json, ``p2i_prior/data/affinity.json``) are trained by
``python -m p2i_prior.affinity_train`` (torch, CPU) and applied in numpy: deterministic, offline.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .checks import check_threshold, shape_str, to_numpy
from .fusion import check_score
from .gates import box_masks, check_boxes, instance_scales, touched_components
from .skeleton import check_keypoints, skeleton_pixels

__all__ = ["FEATURES", "NOBODY_FEATURES", "CANDIDATES", "AffinityModel", "pixel_features",
           "refine_people", "inside_distances", "load_affinity_model", "MODEL_PATH"]

#: Candidates per pixel (nearest by geodesic distance among the allowed instances).
CANDIDATES = 3
FEATURES: tuple[str, ...] = (
    "log_geo", "log_eucl", "edge_cost", "geo_margin", "eucl_margin", "rank0", "rank1", "rank2",
    "labelled", "sparse", "log_height", "colour_near", "colour_best", "colour_model", "outside",
    "near_head", "near_arm", "near_leg", "below", "aside", "has_head", "has_legs",
    "log_inside", "inside_margin", "fill", "fill_inside",
)
NOBODY_FEATURES: tuple[str, ...] = ("min_geo", "min_eucl", "best_labelled", "n_candidates", "score")
#: Lab histogram bins per axis of the pass-2 colour model.
HIST_BINS = 8
#: Gaussian smoothing (pixels) of the Lab image for the colour features.
COLOUR_SIGMA = 1.5
#: Skeleton colour samples per instance for ``colour_best``.
COLOUR_SAMPLES = 64

#: Slowness factor of the non-person pixels for :func:`inside_distances`.
OUTSIDE_COST = 1000.0

MODEL_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "affinity.json")


# --------------------------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------------------------


@dataclass
class PixelFeatures:
    """Features of the person pixels of one image.

    ``index`` (P,) flat pixel indices; ``cand`` (P, C) instance numbers (-1: none);
    ``x`` (P, C, F) candidate features (``colour_model`` 0 until :meth:`with_colour_model`);
    ``g`` (P, G) nobody features; ``lab`` (P, 3) smoothed Lab; ``shape`` (H, W).
    """

    index: np.ndarray
    cand: np.ndarray
    x: np.ndarray
    g: np.ndarray
    lab: np.ndarray
    shape: tuple[int, int]
    n: int


def _lab(image: np.ndarray) -> np.ndarray:
    from scipy import ndimage
    from skimage.color import gray2rgb, rgb2lab

    img = np.asarray(image)
    img = img.astype(np.float64) / 255.0 if img.dtype == np.uint8 else img.astype(np.float64)
    if img.ndim == 2:
        img = gray2rgb(img)
    lab = rgb2lab(np.clip(img, 0.0, 1.0))
    return np.stack([ndimage.gaussian_filter(lab[..., c], COLOUR_SIGMA) for c in range(3)], -1)


def _bins(lab: np.ndarray) -> np.ndarray:
    """Coarse Lab histogram bin of each colour (..., 3) -> (...) int."""
    L = np.clip(lab[..., 0] / 100.0, 0, 0.999)
    a = np.clip((lab[..., 1] + 100.0) / 200.0, 0, 0.999)
    b = np.clip((lab[..., 2] + 100.0) / 200.0, 0, 0.999)
    q = HIST_BINS
    return ((L * q).astype(np.int64) * q + (a * q).astype(np.int64)) * q + (b * q).astype(np.int64)


def colour_model_feature(lab: np.ndarray, owner: np.ndarray, cand: np.ndarray, n: int) -> np.ndarray:
    """(P, C): ``-log p(colour | k) / p(colour | person)`` with Laplace-smoothed histograms of the
    pixels ``owner`` gives to each instance; 0 for an instance with no pixel."""
    nb = HIST_BINS ** 3
    bins = _bins(lab)
    total = np.bincount(bins, minlength=nb).astype(np.float64) + 1.0
    total /= total.sum()
    out = np.zeros(cand.shape, np.float64)
    for k in range(n):
        mine = owner == k
        if not mine.any():
            continue
        h = np.bincount(bins[mine], minlength=nb).astype(np.float64) + 1.0
        h /= h.sum()
        ratio = -np.log(h / total)
        sel = cand == k
        out[sel] = np.broadcast_to(ratio[bins][:, None], cand.shape)[sel]
    return np.clip(out, -5.0, 5.0)


def inside_distances(image: Any, keypoints: Any, person_score: Any, *, threshold: float = 0.5,
                     edge_weight: float = 10.0) -> np.ndarray:
    """(n, H, W) float32 geodesic distances (edge speed of ``method="geodesic"``) whose paths stay
    in the person region ``person_score >= threshold``: outside it every pixel is
    ``OUTSIDE_COST`` times slower.

    Examples
    --------
    >>> kp = np.zeros((1, 17, 3)); kp[0, 0] = (0.5, 0.5, 2)
    >>> s = np.ones((1, 4)); s[0, 2] = 0
    >>> inside_distances(np.zeros((1, 4, 3), np.uint8), kp, s).round().tolist()
    [[[0.0, 1.0, 1001.0, 1002.0]]]
    """
    from .edges import check_image, sobel_cpu

    img = to_numpy(image, "image")
    H, W = img.shape[:2]
    score = check_score(person_score, (H, W))
    edge = sobel_cpu(*check_image(img)).astype(np.float64)
    mean = float(edge.mean())
    speed = 1.0 / (1.0 + edge_weight * edge / mean) if mean > 0 else np.ones((H, W))
    speed = np.where(score >= check_threshold(threshold), speed, speed / OUTSIDE_COST)
    return geodesic_times(img, keypoints, speed)


def geodesic_times(image: np.ndarray, keypoints: Any, speed: Any = None) -> np.ndarray:
    """(n, H, W) float32 fast-marching travel times from each skeleton under ``speed`` (default:
    ``method="geodesic"``'s edge speed): ``instance_distances(image, keypoints, method="geodesic",
    speed=speed)`` bit for bit, from the grid-distance step directly."""
    from .defaults import EDGE_WEIGHT
    from .grid_distance import geodesic_slowness, march_cpu, skeleton_seeds

    kp = check_keypoints(keypoints)
    H, W = image.shape[:2]
    if kp.shape[0] == 0:
        return np.empty((0, H, W), np.float32)
    slowness = geodesic_slowness(image, speed, EDGE_WEIGHT)
    return march_cpu(skeleton_seeds(skeleton_pixels(kp, (H, W)), (H, W)), slowness, False)


#: A pixel seeds its nearest skeleton's colour model when the second candidate is this much
#: farther (log1p geodesic) or absent.
CONFIDENT_MARGIN = 0.5


def _confident_owner(cand: np.ndarray, g_c: np.ndarray) -> np.ndarray:
    """(P,) the nearest candidate where the geodesic assignment is clear, else -1."""
    second = np.where(cand[:, 1] >= 0, np.log1p(g_c[:, 1]), np.inf) if cand.shape[1] > 1 else np.inf
    sure = (cand[:, 0] >= 0) & (second - np.log1p(g_c[:, 0]) > CONFIDENT_MARGIN)
    return np.where(sure, cand[:, 0], -1)


def pixel_features(
    image: Any,
    keypoints: Any,
    person_score: Any,
    distances: Any,
    *,
    boxes: Any = None,
    threshold: float = 0.5,
    components: bool = True,
    inside: Any = None,
) -> PixelFeatures:
    """Features of every person pixel (module docstring); ``distances`` are the (n, H, W)
    geodesic distances of :func:`p2i_prior.pipeline.instance_distances`, ``inside`` those of
    :func:`inside_distances` (computed when None)."""
    from scipy import ndimage

    kp = check_keypoints(keypoints)
    img = to_numpy(image, "image")
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(f"image: expected (H, W, 3) or (H, W), got shape {shape_str(img.shape)}")
    H, W = img.shape[:2]
    score = check_score(person_score, (H, W))
    threshold = check_threshold(threshold)
    n = kp.shape[0]
    d = to_numpy(distances, "distances")
    if d.shape != (n, H, W):
        raise ValueError(f"distances: expected shape {shape_str((n, H, W))} (n, H, W of keypoints and "
                         f"image), got {shape_str(d.shape)}")
    person = score >= threshold
    if inside is None:
        inside = inside_distances(img, kp, score, threshold=threshold) if n else np.zeros((0, H, W))
    inside = to_numpy(inside, "inside")
    if inside.shape != (n, H, W):
        raise ValueError(f"inside: expected shape {shape_str((n, H, W))}, got {shape_str(inside.shape)}")
    index = np.flatnonzero(person.ravel())
    P, C = index.size, min(CANDIDATES, n)
    x = np.zeros((P, CANDIDATES, len(FEATURES)))
    g = np.zeros((P, len(NOBODY_FEATURES)))
    cand = np.full((P, CANDIDATES), -1, np.int64)
    lab_img = _lab(img)
    lab = lab_img.reshape(-1, 3)[index]
    if P == 0 or n == 0:
        return PixelFeatures(index, cand, x, g, lab, (H, W), n)
    allowed = np.isfinite(d.reshape(n, -1)[:, index])
    if components:
        comp, touched = touched_components(kp, person)
        allowed &= touched[:, comp.ravel()[index]]
    if boxes is not None:
        allowed &= box_masks(check_boxes(boxes, n), H, W).reshape(n, -1)[:, index]
    dg = np.where(allowed, d.reshape(n, -1)[:, index].astype(np.float64), np.inf)  # (n, P)
    order = np.argsort(dg, axis=0, kind="stable")[:C]  # (C, P)
    cand[:, :C] = np.where(np.isfinite(np.take_along_axis(dg, order, 0)), order, -1).T
    valid = cand >= 0

    scale = np.nan_to_num(instance_scales(kp), nan=16.0)
    labelled = (kp[:, :, 2] > 0).sum(1)
    offsets, rows, cols = skeleton_pixels(kp, (H, W))
    rr, cc = np.divmod(index, W)
    de = np.full((n, P), np.inf)
    near = np.zeros((n, P))
    best = np.zeros((n, P))
    outside = np.zeros((n, P))
    part = np.zeros((3, n, P))
    below = np.zeros((n, P))
    aside = np.zeros((n, P))
    for k in range(n):
        if offsets[k + 1] == offsets[k] or not (cand == k).any():
            continue
        seeds = np.ones((H, W), bool)
        sr, sc = rows[offsets[k]:offsets[k + 1]], cols[offsets[k]:offsets[k + 1]]
        seeds[sr, sc] = False
        dist, (iy, ix) = ndimage.distance_transform_edt(seeds, return_indices=True)
        de[k] = dist.ravel()[index]
        ny, nx = iy.ravel()[index], ix.ravel()[index]
        near[k] = np.linalg.norm(lab - lab_img[ny, nx], axis=1) / 100.0
        pick = np.linspace(0, sr.size - 1, min(COLOUR_SAMPLES, sr.size)).astype(np.int64)
        samples = lab_img[sr[pick], sc[pick]]  # (m, 3)
        sel = np.flatnonzero((cand == k).any(1))
        best[k, sel] = np.sqrt(((lab[sel, None, :] - samples[None]) ** 2).sum(-1)).min(1) / 100.0
        pts = kp[k, kp[k, :, 2] > 0, :2]
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        ox = np.maximum(np.maximum(x0 - (cc + 0.5), (cc + 0.5) - x1), 0)
        oy = np.maximum(np.maximum(y0 - (rr + 0.5), (rr + 0.5) - y1), 0)
        outside[k] = np.hypot(ox, oy) / scale[k]
        lab_k = np.flatnonzero(kp[k, :, 2] > 0)
        dk = (kp[k, lab_k, 0][:, None] - (cc + 0.5)) ** 2 + (kp[k, lab_k, 1][:, None] - (rr + 0.5)) ** 2
        nearest = lab_k[np.argmin(dk, 0)]
        part[0, k], part[1, k], part[2, k] = nearest < 5, (nearest >= 5) & (nearest < 11), nearest >= 11
        cy, cx = pts[:, 1].mean(), pts[:, 0].mean()
        below[k] = ((rr + 0.5) - cy) / scale[k]
        aside[k] = np.abs((cc + 0.5) - cx) / scale[k]

    with np.errstate(invalid="ignore", divide="ignore"):
        di = inside.reshape(n, -1)[:, index].astype(np.float64)
        fill = np.zeros((2, n, P))
        for k in range(n):
            rows_k = np.flatnonzero(np.isfinite(dg[k]))
            for j, dist_k in enumerate((dg[k], np.where(np.isfinite(dg[k]), di[k], np.inf))):
                order_k = rows_k[np.argsort(dist_k[rows_k], kind="stable")]
                fill[j, k, order_k] = np.sqrt(np.arange(order_k.size)) / scale[k]
        return _assemble(index, cand, dg, de, di, fill, near, best, outside, part, below, aside, kp, scale, labelled,
                         score, lab, H, W, n)


def _assemble(index, cand, dg, de, di, fill, near, best, outside, part, below, aside, kp, scale, labelled, score, lab,
              H, W, n) -> PixelFeatures:
    P = index.size
    x = np.zeros((P, CANDIDATES, len(FEATURES)))
    g = np.zeros((P, len(NOBODY_FEATURES)))
    valid = cand >= 0
    ci = np.where(valid, cand, 0)
    pix = np.arange(P)[:, None]
    g_c = dg[ci, pix]
    e_c = de[ci, pix]
    s_c = scale[ci]
    g_min = np.where(valid, g_c, np.inf).min(1, keepdims=True)
    e_min = np.where(valid, e_c, np.inf).min(1, keepdims=True)
    i_c = di[ci, pix]
    i_min = np.where(valid, i_c, np.inf).min(1, keepdims=True)
    f = dict(
        log_geo=np.log1p(g_c / s_c), log_eucl=np.log1p(e_c / s_c),
        edge_cost=np.log((g_c + 1.0) / (e_c + 1.0)),
        geo_margin=np.log1p(g_c) - np.log1p(g_min), eucl_margin=np.log1p(e_c) - np.log1p(e_min),
        rank0=np.broadcast_to([1.0, 0, 0], (P, 3)), rank1=np.broadcast_to([0, 1.0, 0], (P, 3)),
        rank2=np.broadcast_to([0, 0, 1.0], (P, 3)),
        labelled=labelled[ci] / 17.0, sparse=(labelled[ci] < 5).astype(float),
        log_height=np.log(s_c / np.sqrt(H * W)), colour_near=near[ci, pix], colour_best=best[ci, pix],
        colour_model=colour_model_feature(lab, _confident_owner(cand, g_c), cand, n),
        outside=outside[ci, pix], near_head=part[0][ci, pix], near_arm=part[1][ci, pix],
        near_leg=part[2][ci, pix], below=below[ci, pix], aside=aside[ci, pix],
        has_head=(kp[:, :5, 2] > 0).any(1)[ci].astype(float), has_legs=(kp[:, 13:, 2] > 0).any(1)[ci].astype(float),
        log_inside=np.log1p(i_c / s_c), inside_margin=np.log1p(i_c) - np.log1p(i_min),
        fill=fill[0][ci, pix], fill_inside=fill[1][ci, pix],
    )
    for j, name in enumerate(FEATURES):
        x[:, :, j] = np.where(valid, f[name], 0.0)
    first = ci[:, 0]
    has = valid[:, 0]
    g[:, 0] = np.where(has, np.log1p(g_c[:, 0] / s_c[:, 0]), 5.0)
    g[:, 1] = np.where(has, np.log1p(e_c[:, 0] / s_c[:, 0]), 5.0)
    g[:, 2] = np.where(has, labelled[first] / 17.0, 0.0)
    g[:, 3] = valid.sum(1)
    g[:, 4] = score.ravel()[index]
    return PixelFeatures(index, cand, np.nan_to_num(x, posinf=20.0), g, lab, (H, W), n)


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------


def _mlp(layers: list[dict], z: np.ndarray) -> np.ndarray:
    for i, layer in enumerate(layers):
        z = z @ layer["W"] + layer["b"]
        if i < len(layers) - 1:
            z = np.tanh(z)
    return z[..., 0]


@dataclass
class AffinityModel:
    """A candidate MLP and a nobody MLP on standardised features; see the module docstring."""

    passes: list[dict]
    info: dict

    @classmethod
    def from_dict(cls, data: dict) -> "AffinityModel":
        if data.get("features") != list(FEATURES) or data.get("nobody_features") != list(NOBODY_FEATURES):
            raise ValueError("model: its feature lists differ from this version's FEATURES / NOBODY_FEATURES")
        if len(data.get("passes", ())) != 1:
            raise ValueError(f"model: expected one pass, got {len(data.get('passes', ()))}")
        passes = []
        for p in data["passes"]:
            conv = {}
            for key in ("cand", "nobody"):
                conv[key] = [{"W": np.asarray(l["W"], np.float64), "b": np.asarray(l["b"], np.float64)}
                             for l in p[key]]
            for key in ("x_mean", "x_std", "g_mean", "g_std"):
                conv[key] = np.asarray(p[key], np.float64)
            passes.append(conv)
        return cls(passes, dict(data.get("info", {})))

    def logits(self, feats: PixelFeatures, step: int) -> np.ndarray:
        """(P, C + 1) scores: the candidates, then nobody (-inf for an absent candidate)."""
        p = self.passes[step]
        zc = _mlp(p["cand"], (feats.x - p["x_mean"]) / p["x_std"])
        zn = _mlp(p["nobody"], (feats.g - p["g_mean"]) / p["g_std"])
        zc = np.where(feats.cand >= 0, zc, -np.inf)
        return np.concatenate([zc, zn[:, None]], 1)

    def assign(self, feats: PixelFeatures, smooth: float | None = None) -> np.ndarray:
        """(P,) instance number of each person pixel (-1: nobody).

        ``smooth`` (a fraction of ``sqrt(H W)``; default the model's ``info["smooth"]``, else 0):
        each instance's probability map (and nobody's) is Gaussian-averaged over the person
        pixels, with that sigma, before the argmax, so that a pixel's neighbours vote (0.0075 is
        4 pixels on a 640x480 photo)."""
        if smooth is None:
            smooth = float(self.info.get("smooth", 0.0))
        z = self.logits(feats, 0)
        if smooth > 0:
            return _smoothed_argmax(z, feats, smooth * float(np.sqrt(feats.shape[0] * feats.shape[1])))
        pick = np.argmax(z, 1)
        last = z.shape[1] - 1
        return np.where(pick == last, -1,
                        np.take_along_axis(feats.cand, np.minimum(pick, last - 1)[:, None], 1)[:, 0]).astype(np.int64)


def _smoothed_argmax(z: np.ndarray, feats: PixelFeatures, sigma: float) -> np.ndarray:
    """Argmax over instances and nobody of the softmax of ``z`` averaged by a Gaussian of
    ``sigma`` pixels over the person pixels (normalised convolution)."""
    from scipy import ndimage

    H, W = feats.shape
    z = z - z.max(1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(1, keepdims=True)
    inside = np.zeros(H * W)
    inside[feats.index] = 1.0
    norm = ndimage.gaussian_filter(inside.reshape(H, W), sigma).ravel()[feats.index]
    best = ndimage.gaussian_filter(_scatter(p[:, -1], feats.index, H, W), sigma).ravel()[feats.index] / norm
    owner = np.full(feats.index.size, -1, np.int64)
    C = feats.cand.shape[1]
    for k in np.unique(feats.cand[feats.cand >= 0]):
        pk = np.where(feats.cand == k, p[:, :C], 0.0).sum(1)
        rows = np.flatnonzero((feats.cand == k).any(1))
        sm = ndimage.gaussian_filter(_scatter(pk, feats.index, H, W), sigma).ravel()[feats.index] / norm
        take = rows[sm[rows] > best[rows]]
        owner[take] = k
        best[take] = sm[take]
    return owner


def _scatter(values: np.ndarray, index: np.ndarray, H: int, W: int) -> np.ndarray:
    out = np.zeros(H * W)
    out[index] = values
    return out.reshape(H, W)


def load_affinity_model(path: str | os.PathLike | None = None) -> dict[str, AffinityModel]:
    """The shipped models (``p2i_prior/data/affinity.json``) or those of another json, by setting:
    ``{"none": keypoints alone, "box": with boxes}``; read once per file version (cached)."""
    path = os.path.abspath(MODEL_PATH if path is None else os.fspath(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"model: no affinity model at {path} (train one: python -m p2i_prior.affinity_train)")
    return _cached_models(path, os.path.getmtime(path))


@functools.lru_cache(maxsize=4)
def _cached_models(path: str, mtime: float) -> dict[str, AffinityModel]:
    with open(path) as f:
        data = json.load(f)
    models = {k: AffinityModel.from_dict(v) for k, v in data.get("models", {}).items()}
    if not models:
        raise ValueError(f"model: {path} holds no models (expected {{'models': {{'none': ..., 'box': ...}}}})")
    for m in models.values():
        m.info.update(data.get("info", {}))
    return models


def refine_people(
    image: Any,
    keypoints: Any,
    person_score: Any,
    *,
    distances: Any = None,
    inside: Any = None,
    boxes: Any = None,
    threshold: float = 0.5,
    components: bool = True,
    model: Any = None,
    smooth: float | None = None,
) -> Any:
    """Instance labels re-decided pixel by pixel with image evidence (module docstring).

    Parameters
    ----------
    image : (H, W, 3) or (H, W) array
    keypoints : (n, 17, 3) array
    person_score : (H, W) float array in [0, 1]
    distances : (n, H, W) float array, optional
        Geodesic distances (``instance_distances(image, keypoints, method="geodesic")``, the
        default when None): the ones ``segment_people(method="geodesic")`` decides on.
    inside : (n, H, W) float array, optional
        :func:`inside_distances` (computed when None).
    boxes : (n, 4) COCO [x, y, w, h] array, optional
        Each instance only takes pixels in its box (the ``roi="box"`` setting; the model
        trained for boxes is used).
    threshold : float in [0, 1]
    components : bool
        Candidates only among the skeletons touching the pixel's person component.
    model : AffinityModel, dict, str or None
        The shipped model by default; a dict ``{"none": ..., "box": ...}`` of models or a json path.
    smooth : float >= 0, optional
        Gaussian vote over neighbours, sigma as a fraction of ``sqrt(H W)``
        (:meth:`AffinityModel.assign`); default: the model's.

    Returns
    -------
    (H, W) int32 array of the image's kind: 0 background or nobody, ``1..n`` in keypoint order.

    Examples
    --------
    >>> kp = np.zeros((1, 17, 3)); kp[0, 0] = (1.5, 1.5, 2)
    >>> refine_people(np.zeros((4, 6, 3), np.uint8), kp, np.ones((4, 6))).shape  # doctest: +SKIP
    (4, 6)
    """
    from .checks import check_pipeline_image, like

    from .checks import check_positive_float

    img = check_pipeline_image(image, "image")
    kp = check_keypoints(keypoints)
    if smooth is not None:
        smooth = check_positive_float(smooth, "smooth", allow_zero=True)
    setting = "none" if boxes is None else "box"
    m = _resolve(model, setting)
    if distances is None:
        distances = geodesic_times(img, kp)
    feats = pixel_features(img, kp, person_score, distances, boxes=boxes, threshold=threshold,
                           components=components, inside=inside)
    out = np.zeros(feats.shape, np.int32)
    if feats.index.size and feats.n:
        out.ravel()[feats.index] = m.assign(feats, smooth=smooth) + 1
    return like(out, image)


def _resolve(model: Any, setting: str) -> AffinityModel:
    if isinstance(model, AffinityModel):
        return model
    if model is None or isinstance(model, (str, os.PathLike)):
        model = load_affinity_model(model)
    if isinstance(model, dict) and all(isinstance(v, AffinityModel) for v in model.values()):
        if setting not in model:
            raise ValueError(f"model: expected a model for the setting {setting!r}, got {sorted(model)}")
        return model[setting]
    raise TypeError(f"model: expected an AffinityModel, a dict of them by setting ('none', 'box') or a json "
                    f"path, got {type(model).__name__}")
