"""The pose-instance map and the fusion with a person score.

``pose_instance_map(image, keypoints)`` is the library call users come for: per pixel, a
softmax over the n instances of the negative distance to each instance's skeleton.

Distances (:func:`instance_distances`) come from one of three methods:

``"rag"`` (the paper's)
    SLIC superpixels, a region adjacency graph weighted by the mean Sobel strength on each
    boundary (optionally plus a geometric length per hop, ``length_weight``), and the exact
    graph distance from each instance's skeleton superpixels (``solver="sssp"`` or ``"apsp"``,
    identical results).  Every pixel takes its superpixel's distance.
``"sweep"``
    Euclidean distance in pixels from the skeleton pixels (fast sweeping, unit speed).
``"geodesic"``
    Fast sweeping with speed ``1 / (1 + edge_weight * sobel / mean(sobel))`` (or the given
    ``speed``): crossing strong edges costs more, so distances stop at object boundaries.

Stopping where a person ends
----------------------------
A plain softmax hands every pixel to *some* instance, however far.  Two optional gates zero an
instance's probability where it cannot be: ``boxes`` (the instance's box, ``roi="box"`` in the
evaluation) and ``extent`` (pixels farther from the instance's skeleton, in Euclidean pixels,
than ``extent`` times the instance's scale, :func:`instance_scales`).  Where every instance is
gated off, the row of the map is all zero: background.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ._util import (
    check_choice,
    check_finite,
    check_ndim,
    check_positive_float,
    like,
    shape_str,
    to_numpy,
)
from .skeleton import check_keypoints

__all__ = [
    "pose_instance_map",
    "pose_instance_maps",
    "instance_distances",
    "instance_scales",
    "softmax_instances",
    "segment_instances",
    "box_instances",
    "DEFAULT_TEMPERATURE",
]

METHODS = ("rag", "sweep", "geodesic")
#: Default softmax temperature per method, in the units of its distance: summed mean Sobel
#: strength (in [0, 1] grey units) for "rag", pixels for "sweep", edge-weighted pixels for
#: "geodesic".  The temperature shapes the soft map only; labels from
#: :func:`segment_instances` do not depend on it.
DEFAULT_TEMPERATURE = {"rag": 0.05, "sweep": 10.0, "geodesic": 10.0}
MIN_SCALE = 16.0


def _check_image_and_keypoints(image: Any, keypoints: Any) -> tuple[np.ndarray, np.ndarray]:
    img = to_numpy(image, "image")
    check_ndim(img, "image", (2, 3), "(H, W) or (H, W, 3) image")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"image: expected a non-empty image, got shape {shape_str(img.shape)}")
    kp = check_keypoints(keypoints)
    return img, kp


def _check_boxes(boxes: Any, n: int | None, name: str = "boxes") -> np.ndarray:
    b = to_numpy(boxes, name, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 4 or (n is not None and b.shape[0] != n):
        per = "" if n is None else f" with n = {n} (one per instance)"
        raise ValueError(
            f"{name}: expected (n, 4) COCO [x, y, w, h] boxes{per}, got shape {shape_str(b.shape)}"
        )
    check_finite(b, name)
    if (b[:, 2:] < 0).any():
        i = int(np.argwhere(b[:, 2:] < 0)[0, 0])
        raise ValueError(f"{name}: expected w >= 0 and h >= 0, got {b[i].tolist()} for instance {i}")
    return b


def _box_masks(boxes: np.ndarray, H: int, W: int) -> np.ndarray:
    """(n, H, W) bool: pixel centres inside each [x, x+w) x [y, y+h) box."""
    cy = np.arange(H) + 0.5
    cx = np.arange(W) + 0.5
    iny = (cy[None, :] >= boxes[:, 1:2]) & (cy[None, :] < boxes[:, 1:2] + boxes[:, 3:4])
    inx = (cx[None, :] >= boxes[:, 0:1]) & (cx[None, :] < boxes[:, 0:1] + boxes[:, 2:3])
    return iny[:, :, None] & inx[:, None, :]


def instance_scales(keypoints: Any) -> np.ndarray:
    """(n,) float64: each instance's size in pixels, from its labelled keypoints.

    The square root of the area of the labelled keypoints' bounding box, at least
    ``MIN_SCALE`` (16) pixels; ``nan`` for an instance without labelled keypoints.

    Examples
    --------
    >>> kp = np.zeros((1, 17, 3)); kp[0, 0] = (10, 10, 2); kp[0, 15] = (50, 110, 2)
    >>> instance_scales(kp).round(1).tolist()
    [63.2]
    """
    kp = check_keypoints(keypoints)
    out = np.full(kp.shape[0], np.nan)
    for i, person in enumerate(kp):
        pts = person[person[:, 2] > 0, :2]
        if len(pts):
            ext = pts.max(axis=0) - pts.min(axis=0)
            out[i] = max(MIN_SCALE, float(np.sqrt(ext[0] * ext[1])), float(ext.max()) / 4)
    return out


def instance_distances(
    image: Any,
    keypoints: Any,
    *,
    method: str = "rag",
    solver: str = "sssp",
    n_segments: int = 1000,
    compactness: float = 10.0,
    speed: Any = None,
    edge_weight: float = 10.0,
    length_weight: float = 0.0,
    labels: Any = None,
) -> np.ndarray:
    """(n, H, W) float32 distance of every pixel to every instance's skeleton.

    See :func:`pose_instance_map` for the parameters.  ``+inf`` where an instance has no
    skeleton pixel in the image (no labelled keypoint, or all outside).  Host numpy output.

    Examples
    --------
    >>> kp = np.zeros((1, 17, 3)); kp[0, 0] = (1.5, 1.5, 2)
    >>> instance_distances(np.zeros((3, 4)), kp, method="sweep")[0, 1].tolist()
    [1.0, 0.0, 1.0, 2.0]
    """
    img, kp = _check_image_and_keypoints(image, keypoints)
    check_choice(method, "method", METHODS)
    check_choice(solver, "solver", ("sssp", "apsp"))
    H, W = img.shape[:2]
    n = kp.shape[0]
    if n == 0:
        return np.zeros((0, H, W), np.float32)
    if method == "rag":
        from .edges import sobel
        from .graph_distance import rag_distance
        from .rag import build_rag
        from .skeleton import seed_superpixels
        from .superpixels import slic

        length_weight = check_positive_float(length_weight, "length_weight", allow_zero=True)
        if labels is None:
            lab = slic(img, n_segments=n_segments, compactness=compactness)
        else:
            from ._util import check_labels

            lab = check_labels(labels)
            if lab.shape != (H, W):
                raise ValueError(
                    f"labels: expected shape {shape_str((H, W))} (the image's), got {shape_str(lab.shape)}"
                )
        edge = sobel(img)
        rag = build_rag(lab, edge)
        if length_weight > 0:
            rag = rag.with_weights(rag.weights + length_weight * _hop_lengths(rag, lab))
        seeds = seed_superpixels(lab, kp)
        d = rag_distance(rag, seeds, solver)
        return d[:, lab]
    from .skeleton import skeleton_mask
    from .sweep import sweep_distance

    seeds = skeleton_mask(kp, (H, W))
    if method == "sweep":
        if speed is not None:
            raise ValueError("speed: only used with method='geodesic', got a speed map with method='sweep'")
        return np.asarray(sweep_distance(seeds), dtype=np.float32)
    if speed is None:
        from .edges import sobel

        edge_weight = check_positive_float(edge_weight, "edge_weight", allow_zero=True)
        edge = sobel(img).astype(np.float64)
        mean = float(edge.mean())
        speed = 1.0 / (1.0 + edge_weight * edge / mean) if mean > 0 else np.ones((H, W))
    else:
        speed = to_numpy(speed, "speed", dtype=np.float64)
    return np.asarray(sweep_distance(seeds, speed), dtype=np.float32)


def _hop_lengths(rag, labels: np.ndarray) -> np.ndarray:
    """Per directed edge: centroid distance of its two superpixels over the SLIC step."""
    K = rag.n_nodes
    H, W = labels.shape
    counts = np.bincount(labels.ravel(), minlength=K).astype(np.float64)
    rr, cc = np.indices((H, W))
    cy = np.bincount(labels.ravel(), rr.ravel(), minlength=K) / np.maximum(counts, 1)
    cx = np.bincount(labels.ravel(), cc.ravel(), minlength=K) / np.maximum(counts, 1)
    rows = np.repeat(np.arange(K), np.diff(rag.indptr))
    step = np.sqrt(H * W / max(1, int((counts > 0).sum())))
    return (np.hypot(cy[rows] - cy[rag.indices], cx[rows] - cx[rag.indices]) / step).astype(np.float32)


def softmax_instances(distances: np.ndarray, temperature: float, gate: np.ndarray | None = None) -> np.ndarray:
    """(H, W, n) softmax over instances of ``-distances / temperature``, zero where gated off.

    ``distances`` (n, H, W); ``+inf`` and gated-off entries get probability 0; a pixel where
    every instance is ``+inf`` or gated off gets an all-zero row.
    """
    n = distances.shape[0]
    d = np.moveaxis(distances, 0, -1).astype(np.float64)
    if gate is not None:
        d = np.where(np.moveaxis(gate, 0, -1), d, np.inf)
    if n == 0:
        return np.zeros(d.shape, np.float32)
    dmin = d.min(axis=-1, keepdims=True)
    reachable = np.isfinite(dmin)
    z = np.where(reachable, -(d - np.where(reachable, dmin, 0.0)) / temperature, -np.inf)
    e = np.exp(z)
    s = e.sum(axis=-1, keepdims=True)
    return np.where(reachable, e / np.where(s > 0, s, 1.0), 0.0).astype(np.float32)


def _gates(kp: np.ndarray, H: int, W: int, boxes: Any, extent: Any) -> np.ndarray | None:
    n = kp.shape[0]
    gate = None
    if boxes is not None:
        gate = _box_masks(_check_boxes(boxes, n), H, W)
    if extent is not None:
        extent = check_positive_float(extent, "extent")
        from .skeleton import skeleton_mask
        from .sweep import sweep_distance

        eucl = np.asarray(sweep_distance(skeleton_mask(kp, (H, W))))
        scale = instance_scales(kp)
        reach = eucl <= (extent * np.nan_to_num(scale, nan=0.0))[:, None, None]
        gate = reach if gate is None else gate & reach
    return gate


def pose_instance_map(
    image: Any,
    keypoints: Any,
    *,
    method: str = "rag",
    solver: str = "sssp",
    n_segments: int = 1000,
    compactness: float = 10.0,
    temperature: float | None = None,
    speed: Any = None,
    edge_weight: float = 10.0,
    length_weight: float = 0.0,
    boxes: Any = None,
    extent: float | None = None,
    labels: Any = None,
) -> Any:
    """The pose-instance map: per pixel, a softmax over instances of -distance / temperature.

    Parameters
    ----------
    image : (H, W, 3) or (H, W) array
        uint8 or float in [0, 1]; numpy, CuPy or torch.
    keypoints : (n, 17, 3) array
        COCO keypoints ``(x, y, v)`` (see :mod:`p2i_prior.skeleton`); ``n`` may be 0.
    method : {"rag", "sweep", "geodesic"}
        How distances are measured (module docstring).
    solver : {"sssp", "apsp"}
        Graph solver for ``method="rag"``; the results are identical.
    n_segments, compactness : int, float
        SLIC parameters for ``method="rag"``.
    temperature : float > 0, optional
        Softmax temperature in the method's distance units; default ``DEFAULT_TEMPERATURE``.
    speed : (H, W) float array, optional
        Speed map for ``method="geodesic"`` (default derived from Sobel and ``edge_weight``).
    edge_weight : float >= 0
        Edge penalty of the default geodesic speed.
    length_weight : float >= 0
        For ``"rag"``: add this times the hop length (centroid distance / SLIC step) to each
        edge weight, so that long paths through weak-edge regions still cost something.
    boxes : (n, 4) COCO [x, y, w, h] array, optional
        Restrict each instance to its box.
    extent : float > 0, optional
        Restrict each instance to pixels within ``extent * scale`` (Euclidean pixels) of its
        skeleton, ``scale`` from :func:`instance_scales`.
    labels : (H, W) int array, optional
        Precomputed superpixels for ``method="rag"`` (skips SLIC).

    Returns
    -------
    (H, W, n) float32 array of the image's kind
        Rows sum to 1 wherever at least one instance is reachable and not gated off; rows are
        all 0 elsewhere (no instance with a labelled keypoint in the image, or every instance
        gated off).  An instance without labelled keypoints in the image has probability 0
        everywhere.  ``n == 0`` gives an (H, W, 0) map.

    Examples
    --------
    >>> kp = np.zeros((2, 17, 3)); kp[0, 0] = (2, 5, 2); kp[1, 0] = (17, 5, 2)
    >>> m = pose_instance_map(np.zeros((10, 20, 3), np.uint8), kp, method="sweep")
    >>> m.shape, bool(m[5, 1, 0] > 0.5), bool(m[5, 18, 1] > 0.5)
    ((10, 20, 2), True, True)
    """
    if temperature is None:
        temperature = DEFAULT_TEMPERATURE.get(method, 1.0)
    temperature = check_positive_float(temperature, "temperature")
    dist = instance_distances(
        image, keypoints, method=method, solver=solver, n_segments=n_segments,
        compactness=compactness, speed=speed, edge_weight=edge_weight,
        length_weight=length_weight, labels=labels,
    )
    kp = check_keypoints(keypoints)
    gate = _gates(kp, dist.shape[1], dist.shape[2], boxes, extent)
    return like(softmax_instances(dist, temperature, gate), image)


def pose_instance_maps(images: Sequence[Any], keypoints_list: Sequence[Any], **kwargs: Any) -> list[Any]:
    """:func:`pose_instance_map` over a batch of images (any sizes); a list of maps.

    ``kwargs`` are passed to every call; ``boxes``, if given, is a list with one entry per image.

    Examples
    --------
    >>> kp = np.zeros((1, 17, 3)); kp[0, 0] = (1, 1, 2)
    >>> [m.shape for m in pose_instance_maps([np.zeros((4, 4))] * 2, [kp, kp], method="sweep")]
    [(4, 4, 1), (4, 4, 1)]
    """
    if len(images) != len(keypoints_list):
        raise ValueError(
            f"keypoints_list: expected one (n, 17, 3) array per image ({len(images)}), "
            f"got {len(keypoints_list)}"
        )
    boxes = kwargs.pop("boxes", None)
    if boxes is not None and len(boxes) != len(images):
        raise ValueError(f"boxes: expected one (n, 4) array per image ({len(images)}), got {len(boxes)}")
    return [
        pose_instance_map(img, kp, boxes=None if boxes is None else boxes[i], **kwargs)
        for i, (img, kp) in enumerate(zip(images, keypoints_list))
    ]


def _check_score(person_score: Any, shape: tuple[int, int] | None) -> np.ndarray:
    s = to_numpy(person_score, "person_score")
    if shape is not None and s.shape != tuple(shape):
        raise ValueError(
            f"person_score: expected shape {shape_str(shape)} (the map's H, W), got {shape_str(s.shape)}"
        )
    check_ndim(s, "person_score", (2,), "(H, W) array of person probabilities")
    s = s.astype(np.float32, copy=False)
    check_finite(s, "person_score")
    if s.size and (s.min() < 0 or s.max() > 1):
        raise ValueError(
            f"person_score: expected probabilities in [0, 1], got range [{float(s.min())}, {float(s.max())}]"
        )
    return s


def _check_threshold(threshold: Any) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise TypeError(f"threshold: expected a number in [0, 1], got {type(threshold).__name__}")
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold: expected a number in [0, 1], got {threshold}")
    return float(threshold)


def segment_instances(pose_map: Any, person_score: Any, *, threshold: float = 0.5) -> Any:
    """Instance labels from a pose-instance map and a person score.

    The instance heatmap is ``pose_map * person_score[..., None]``; each pixel takes the
    instance of its maximum (ties go to the lower instance number), and 0 (background) where
    ``person_score < threshold`` or where the map's row is all zero.

    Parameters
    ----------
    pose_map : (H, W, n) float array
        From :func:`pose_instance_map`.
    person_score : (H, W) float array
        Person probability in [0, 1].
    threshold : float in [0, 1]

    Returns
    -------
    (H, W) int32 array of the map's kind: 0 background, ``1..n`` in keypoint order.

    Examples
    --------
    >>> pm = np.zeros((1, 3, 2), np.float32); pm[0, :, 0] = (0.9, 0.2, 0.5); pm[0, :, 1] = 1 - pm[0, :, 0]
    >>> segment_instances(pm, np.array([[1.0, 1.0, 0.2]])).tolist()
    [[1, 2, 0]]
    """
    pm = to_numpy(pose_map, "pose_map")
    check_ndim(pm, "pose_map", (3,), "(H, W, n) pose-instance map")
    pm = pm.astype(np.float32, copy=False)
    check_finite(pm, "pose_map")
    score = _check_score(person_score, pm.shape[:2])
    threshold = _check_threshold(threshold)
    H, W, n = pm.shape
    if n == 0:
        return like(np.zeros((H, W), np.int32), pose_map)
    heat = pm * score[..., None]
    labels = (np.argmax(heat, axis=-1) + 1).astype(np.int32)
    labels[(score < threshold) | (pm.max(axis=-1) <= 0)] = 0
    return like(labels, pose_map)


def box_instances(person_score: Any, boxes: Any, *, threshold: float = 0.5) -> Any:
    """The oracle-box baseline: the person score snapped into each instance's box.

    A pixel whose score is ``>= threshold`` goes to the instance whose box contains its centre;
    where boxes overlap, to the smallest box by area (ties: lower instance number), since a
    small box inside a larger one is more specific.  Pixels in no box are background.

    Parameters
    ----------
    person_score : (H, W) float array in [0, 1]
    boxes : (n, 4) float array
        COCO ``[x, y, w, h]`` in pixels; pixel ``(r, c)`` is inside when its centre
        ``(c + 0.5, r + 0.5)`` lies in ``[x, x + w) x [y, y + h)``.
    threshold : float in [0, 1]

    Returns
    -------
    (H, W) int32 array of the score's kind: 0 background, ``1..n`` in box order.

    Examples
    --------
    >>> box_instances(np.ones((2, 4)), np.array([[0, 0, 4, 2], [2, 0, 1, 2]])).tolist()
    [[1, 1, 2, 1], [1, 1, 2, 1]]
    """
    score = _check_score(person_score, None)
    threshold = _check_threshold(threshold)
    H, W = score.shape
    b = _check_boxes(boxes, None)
    labels = np.zeros((H, W), np.int32)
    best_area = np.full((H, W), np.inf)
    inside = _box_masks(b, H, W)
    for i in np.argsort(b[:, 2] * b[:, 3], kind="stable")[::-1]:
        area = b[i, 2] * b[i, 3]
        take = inside[i] & (area <= best_area)
        labels[take] = i + 1
        best_area[take] = area
    labels[score < threshold] = 0
    return like(labels, person_score)
