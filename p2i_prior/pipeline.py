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
    check_positive_int,
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
    "segment_people",
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
    if b.size == 0 and n in (0, None):
        b = b.reshape(0, 4)
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


#: Average length of COCO keypoint pairs as a fraction of standing height (anthropometric
#: segment proportions after Drillis & Contini, 1966). Body pairs first, face pairs last.
BODY_PROPORTIONS: tuple[tuple[int, int, float], ...] = (
    (5, 11, 0.288), (6, 12, 0.288),  # shoulder - hip (torso side)
    (11, 13, 0.245), (12, 14, 0.245),  # thigh
    (13, 15, 0.246), (14, 16, 0.246),  # shin
    (5, 7, 0.186), (6, 8, 0.186),  # upper arm
    (7, 9, 0.146), (8, 10, 0.146),  # forearm
    (5, 6, 0.259),  # shoulder width
    (11, 12, 0.191),  # hip width
)
FACE_PROPORTIONS: tuple[tuple[int, int, float], ...] = (
    (3, 4, 0.09),  # ear to ear
    (1, 2, 0.035),  # eye to eye
    (0, 1, 0.025), (0, 2, 0.025),  # nose to eye
    (1, 3, 0.05), (2, 4, 0.05),  # eye to ear
)


def instance_scales(keypoints: Any) -> np.ndarray:
    """(n,) float64: each instance's estimated standing height in pixels, from its keypoints.

    Every labelled pair of :data:`BODY_PROPORTIONS` gives ``length / proportion``; the estimate
    is the largest of them (foreshortening only shortens a limb).  With no body pair labelled,
    the face pairs of :data:`FACE_PROPORTIONS` are used; with neither, the diagonal of the
    labelled keypoints' bounding box.  At least ``MIN_SCALE`` (16) pixels; ``nan`` for an
    instance without labelled keypoints.

    Examples
    --------
    >>> kp = np.zeros((1, 17, 3)); kp[0, 11] = (10, 100, 2); kp[0, 13] = (10, 149, 2)
    >>> instance_scales(kp).round(1).tolist()  # a 49-pixel thigh: a 200-pixel person
    [200.0]
    """
    kp = check_keypoints(keypoints)
    out = np.full(kp.shape[0], np.nan)
    for i, person in enumerate(kp):
        lab = person[:, 2] > 0
        if not lab.any():
            continue
        best = 0.0
        for table in (BODY_PROPORTIONS, FACE_PROPORTIONS):
            for a, b, ratio in table:
                if lab[a] and lab[b]:
                    best = max(best, float(np.hypot(*(person[a, :2] - person[b, :2]))) / ratio)
            if best > 0:
                break
        if best == 0.0:
            pts = person[lab, :2]
            best = float(np.hypot(*(pts.max(axis=0) - pts.min(axis=0))))
        out[i] = max(MIN_SCALE, best)
    return out


def instance_distances(
    image: Any,
    keypoints: Any,
    *,
    method: str = "rag",
    solver: str = "sssp",
    n_segments: int | None = None,
    compactness: float = 10.0,
    speed: Any = None,
    edge_weight: float = 10.0,
    length_weight: float = 0.0,
    labels: Any = None,
) -> np.ndarray:
    """(n, H, W) float32 distance of every pixel to every instance's skeleton.

    See :func:`pose_instance_map` for the parameters.  ``+inf`` where an instance has no
    skeleton pixel in the image (no labelled keypoint, or all outside).  Host numpy output;
    memory ``4 n H W`` bytes (:func:`segment_people` never holds more than a chunk of it).

    Examples
    --------
    >>> kp = np.zeros((1, 17, 3)); kp[0, 0] = (1.5, 1.5, 2)
    >>> instance_distances(np.zeros((3, 4)), kp, method="sweep")[0, 1].tolist()
    [1.0, 0.0, 1.0, 2.0]
    """
    img, kp = _check_image_and_keypoints(image, keypoints)
    H, W = img.shape[:2]
    out = np.empty((kp.shape[0], H, W), np.float32)
    for start, chunk in _distance_chunks(
        img, kp, method=method, solver=solver, n_segments=n_segments, compactness=compactness,
        speed=speed, edge_weight=edge_weight, length_weight=length_weight, labels=labels,
        chunk=max(1, kp.shape[0]),
    ):
        out[start:start + chunk.shape[0]] = chunk
    return out


def _distance_chunks(
    img: np.ndarray,
    kp: np.ndarray,
    *,
    method: str,
    solver: str,
    n_segments: int,
    compactness: float,
    speed: Any,
    edge_weight: float,
    length_weight: float,
    labels: Any,
    chunk: int,
):
    """Yield ``(start, (m, H, W) float32)`` distances for instances ``start:start+m``.

    The per-image work (SLIC, Sobel, RAG and its graph distances, which are (n, K) and small;
    the geodesic speed) is done once; only the pixel maps are produced chunk by chunk.
    """
    check_choice(method, "method", METHODS)
    check_choice(solver, "solver", ("sssp", "apsp"))
    length_weight = _check_weight(length_weight, "length_weight")
    edge_weight = _check_weight(edge_weight, "edge_weight")
    H, W = img.shape[:2]
    n = kp.shape[0]
    if speed is not None and method != "geodesic":
        raise ValueError(f"speed: only used with method='geodesic', got a speed map with method={method!r}")
    if method == "rag":
        lab, d = _superpixel_distances(
            img, kp, solver=solver, n_segments=n_segments, compactness=compactness,
            length_weight=length_weight, labels=labels,
        )
        for start in range(0, n, chunk):
            yield start, d[start:start + chunk][:, lab]
        return
    from .skeleton import skeleton_pixels
    from .sweep import sweep_distance

    if method == "geodesic":
        if speed is None:
            from .edges import sobel

            edge = sobel(img).astype(np.float64)
            mean = float(edge.mean())
            speed = 1.0 / (1.0 + edge_weight * edge / mean) if mean > 0 else np.ones((H, W))
        else:
            speed = to_numpy(speed, "speed", dtype=np.float64)
    if n == 0:
        return
    offsets, rows, cols = skeleton_pixels(kp, (H, W))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        seeds = np.zeros((stop - start, H, W), bool)
        inst = np.repeat(np.arange(stop - start), np.diff(offsets[start:stop + 1]))
        sl = slice(offsets[start], offsets[stop])
        seeds[inst, rows[sl], cols[sl]] = True
        yield start, np.asarray(sweep_distance(seeds, speed, device="cpu"), dtype=np.float32)


#: Largest accepted ``edge_weight`` / ``length_weight``: beyond it float32 distances overflow.
MAX_WEIGHT = 1e30


def _check_weight(value: Any, name: str) -> float:
    value = check_positive_float(value, name, allow_zero=True)
    if value > MAX_WEIGHT:
        raise ValueError(f"{name}: expected a number <= {MAX_WEIGHT:g}, got {value:g}")
    return value


def _n_segments(n_segments: Any, H: int, W: int) -> Any:
    """``None`` (the default) means 1000 superpixels, or one per pixel on smaller images."""
    return min(1000, H * W) if n_segments is None else n_segments


def _superpixel_distances(
    img: np.ndarray, kp: np.ndarray, *, solver: str, n_segments: int, compactness: float,
    length_weight: float, labels: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """SLIC labels (H, W) and the (n, K) graph distance of every superpixel to every skeleton."""
    from .edges import sobel
    from .graph_distance import rag_distance
    from .rag import build_rag
    from .skeleton import seed_superpixels
    from .superpixels import slic

    check_choice(solver, "solver", ("sssp", "apsp"))
    length_weight = _check_weight(length_weight, "length_weight")
    H, W = img.shape[:2]
    if labels is None:
        lab = slic(img, n_segments=_n_segments(n_segments, H, W), compactness=compactness, device="cpu")
    else:
        from ._util import check_labels

        lab = check_labels(labels)
        if lab.shape != (H, W):
            raise ValueError(
                f"labels: expected shape {shape_str((H, W))} (the image's), got {shape_str(lab.shape)}"
            )
    rag = build_rag(lab, sobel(img, device="cpu"), device="cpu")
    if length_weight > 0:
        rag = rag.with_weights(rag.weights + length_weight * _hop_lengths(rag, lab))
    return lab, rag_distance(rag, seed_superpixels(lab, kp), solver, device="cpu")


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
    every instance is ``+inf`` or gated off gets an all-zero row.  Computed in float64 a band of
    rows at a time (temporaries bounded by ~64 MB), written as float32.
    """
    n, H, W = distances.shape
    out = np.zeros((H, W, n), np.float32)
    if n == 0 or H == 0:
        return out
    band = max(1, (8 << 20) // max(1, W * n))
    for r0 in range(0, H, band):
        r1 = min(H, r0 + band)
        d = np.moveaxis(distances[:, r0:r1], 0, -1).astype(np.float64)
        if gate is not None:
            d[~np.moveaxis(gate[:, r0:r1], 0, -1)] = np.inf
        dmin = d.min(axis=-1, keepdims=True)
        reachable = np.isfinite(dmin[..., 0])
        d -= np.where(np.isfinite(dmin), dmin, 0.0)
        d *= -1.0 / temperature
        np.exp(d, out=d)  # exp(-inf) = 0 for unreachable instances
        total = d.sum(axis=-1, keepdims=True)
        d /= np.where(total > 0, total, 1.0)
        d[~reachable] = 0.0
        out[r0:r1] = d
    return out


#: Default cap on the memory of a pose-instance map call (the (H, W, n) map plus the (n, H, W)
#: distances it is computed from); see ``pose_instance_map(max_bytes=...)``.
MAP_MAX_BYTES = 2 << 30


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
    n_segments: int | None = None,
    compactness: float = 10.0,
    temperature: float | None = None,
    speed: Any = None,
    edge_weight: float = 10.0,
    length_weight: float = 0.0,
    boxes: Any = None,
    extent: float | None = None,
    labels: Any = None,
    device: str = "auto",
    max_bytes: int | None = None,
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
    n_segments, compactness : int or None, float
        SLIC parameters for ``method="rag"``; ``n_segments=None`` means 1000, or the number of
        pixels of a smaller image.
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
    device : {"auto", "cpu", "cuda"}
        ``"auto"``: the GPU kernels (:func:`p2i_prior._gpu.pose_instance_maps`) for a CuPy
        array or CUDA torch tensor image, the CPU otherwise; ``"cuda"`` raises
        ``RuntimeError`` without a GPU.  ``length_weight``, ``extent`` and a custom ``speed``
        run on the CPU only (a GPU image is then processed on the host, result returned on
        its device).
    max_bytes : int, optional
        Refuse (``ValueError``, before any work) a call whose map and distances,
        ``8 H W n`` bytes, exceed this; default ``MAP_MAX_BYTES`` (2 GiB).  For labels only,
        :func:`segment_people` needs no (H, W, n) map.

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
    from . import _gpu

    if _gpu.use_gpu(device, image) and _gpu_capable(length_weight, extent, speed):
        return _gpu.pose_instance_maps(
            [image], [keypoints], method=method, solver=solver,
            n_segments=_n_segments(n_segments, *image.shape[:2]),
            compactness=compactness, temperature=temperature, edge_weight=edge_weight,
            labels=None if labels is None else [labels], boxes=None if boxes is None else [boxes],
        )[0]
    if temperature is None:
        temperature = DEFAULT_TEMPERATURE.get(method, 1.0)
    temperature = check_positive_float(temperature, "temperature")
    img, kp = _check_image_and_keypoints(image, keypoints)
    _check_map_memory(img, kp, max_bytes)
    if method == "rag" and boxes is None and extent is None:
        # no per-pixel gate: the softmax of a superpixel is its pixels' softmax, so compute it
        # on the (n, K) graph distances and spread it through the labels
        lab, d = _superpixel_distances(
            img, kp, solver=solver, n_segments=n_segments, compactness=compactness,
            length_weight=length_weight, labels=labels,
        )
        p = softmax_instances(d[:, None, :], temperature)[0]  # (K, n)
        return like(p[lab], image)
    dist = instance_distances(
        image, keypoints, method=method, solver=solver, n_segments=n_segments,
        compactness=compactness, speed=speed, edge_weight=edge_weight,
        length_weight=length_weight, labels=labels,
    )
    kp = check_keypoints(keypoints)
    gate = _gates(kp, dist.shape[1], dist.shape[2], boxes, extent)
    return like(softmax_instances(dist, temperature, gate), image)


def _check_map_memory(img: np.ndarray, kp: np.ndarray, max_bytes: Any) -> None:
    limit = MAP_MAX_BYTES if max_bytes is None else check_positive_int(max_bytes, "max_bytes")
    shape, n = img.shape, kp.shape[0]
    if True:
        need = 8 * int(shape[0]) * int(shape[1]) * n
        if need > limit:
            raise ValueError(
                f"max_bytes: the (H, W, n) = ({shape[0]}, {shape[1]}, {n}) map and its distances need "
                f"{need / 2**30:.2f} GiB, over the limit of {limit / 2**30:.2f} GiB; use "
                "segment_people() for the labels alone (bounded memory), or raise max_bytes"
            )


def _gpu_capable(length_weight: float, extent: Any, speed: Any) -> bool:
    return not length_weight and extent is None and speed is None


def pose_instance_maps(
    images: Sequence[Any], keypoints_list: Sequence[Any], *, device: str = "auto", **kwargs: Any
) -> list[Any]:
    """:func:`pose_instance_map` over a batch of images (any sizes); a list of maps.

    ``kwargs`` are passed to every call; ``boxes``, if given, is a list with one entry per image.
    On the GPU (``device`` as in :func:`pose_instance_map`) the batch runs as one pass of kernels
    per image size (:func:`p2i_prior._gpu.pose_instance_maps`): give a (B, H, W, 3) CuPy array
    or CUDA tensor, or a list of them.

    Examples
    --------
    >>> kp = np.zeros((1, 17, 3)); kp[0, 0] = (1, 1, 2)
    >>> [m.shape for m in pose_instance_maps([np.zeros((4, 4))] * 2, [kp, kp], method="sweep")]
    [(4, 4, 1), (4, 4, 1)]
    """
    from . import _gpu

    listed = images if isinstance(images, (list, tuple)) else [images]
    if _gpu.use_gpu(device, *listed) and _gpu_capable(
        kwargs.get("length_weight", 0.0), kwargs.get("extent"), kwargs.get("speed")
    ):
        return _gpu.pose_instance_maps(images, keypoints_list, **kwargs)
    if len(images) != len(keypoints_list):
        raise ValueError(
            f"keypoints_list: expected one (n, 17, 3) array per image ({len(images)}), "
            f"got {len(keypoints_list)}"
        )
    boxes = kwargs.pop("boxes", None)
    if boxes is not None and len(boxes) != len(images):
        raise ValueError(f"boxes: expected one (n, 4) array per image ({len(images)}), got {len(boxes)}")
    return [
        pose_instance_map(img, kp, boxes=None if boxes is None else boxes[i], device="cpu", **kwargs)
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


def segment_instances(pose_map: Any, person_score: Any, *, threshold: float = 0.5, device: str = "auto") -> Any:
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
    device : {"auto", "cpu", "cuda"}
        ``"auto"``: one fused GPU pass for a CuPy/CUDA torch map, the CPU otherwise.

    Returns
    -------
    (H, W) int32 array of the map's kind: 0 background, ``1..n`` in keypoint order.

    Examples
    --------
    >>> pm = np.zeros((1, 3, 2), np.float32); pm[0, :, 0] = (0.9, 0.2, 0.5); pm[0, :, 1] = 1 - pm[0, :, 0]
    >>> segment_instances(pm, np.array([[1.0, 1.0, 0.2]])).tolist()
    [[1, 2, 0]]
    """
    from . import _gpu

    if _gpu.use_gpu(device, pose_map):
        return _gpu.segment_instances(pose_map, person_score, threshold=threshold)
    pm = to_numpy(pose_map, "pose_map")
    check_ndim(pm, "pose_map", (3,), "(H, W, n) pose-instance map")
    pm = pm.astype(np.float32, copy=False)
    check_finite(pm, "pose_map")
    score = _check_score(person_score, pm.shape[:2])
    threshold = _check_threshold(threshold)
    from .kernels.fusion import segment_labels

    return like(segment_labels(pm, score, np.float32(threshold)), pose_map)


def component_gate(keypoints: Any, person_score: Any, *, threshold: float = 0.5) -> np.ndarray:
    """(n, H, W) bool: the 8-connected components of ``person_score >= threshold`` that each
    instance's skeleton touches.

    A person is a connected region of person pixels: a component that no skeleton touches
    belongs to somebody without keypoints, and no instance should take it.

    Examples
    --------
    >>> score = np.zeros((3, 7)); score[:, :2] = 1; score[:, 4:] = 1
    >>> kp = np.zeros((1, 17, 3)); kp[0, 0] = (0.5, 1.5, 2)
    >>> component_gate(kp, score)[0].astype(int)
    array([[1, 1, 0, 0, 0, 0, 0],
           [1, 1, 0, 0, 0, 0, 0],
           [1, 1, 0, 0, 0, 0, 0]])
    """
    score = _check_score(person_score, None)
    threshold = _check_threshold(threshold)
    kp = check_keypoints(keypoints)
    comp, touched = _touched_components(kp, score >= threshold)
    return touched[:, comp]


def segment_people(
    image: Any,
    keypoints: Any,
    person_score: Any,
    *,
    method: str = "geodesic",
    threshold: float = 0.5,
    components: bool = True,
    boxes: Any = None,
    extent: float | None = None,
    chunk: int = 8,
    **distance_options: Any,
) -> Any:
    """Instance labels straight from an image, keypoints and a person score (no (H, W, n) map).

    Each person pixel (``person_score >= threshold``) goes to the nearest instance, in the
    distance of ``method`` (:func:`instance_distances`), among the instances allowed there:
    with ``components=True`` (default) only instances whose skeleton touches the pixel's
    connected component of person pixels (:func:`component_gate`), so people without
    keypoints are not pulled into the nearest skeleton; optionally only inside each instance's
    box (``boxes``) and within ``extent`` of it (see :func:`pose_instance_map`).  With
    ``components=False`` this equals ``segment_instances(pose_instance_map(...), score)`` (up to
    float32 ties in the softmax).

    On the COCO persons of ``../shared/data/coco_persons`` with the ground-truth score, the
    component gate raised AP^r@[.5:.95] of the geodesic prior from 0.414 to 0.500 and of the
    rag prior from 0.369 to 0.472 (see the README's evaluation section).

    Parameters
    ----------
    image : (H, W, 3) or (H, W) array
    keypoints : (n, 17, 3) array
    person_score : (H, W) float array in [0, 1]
    method : {"rag", "sweep", "geodesic"}
    threshold : float in [0, 1]
    components : bool
    boxes : (n, 4) COCO [x, y, w, h] array, optional
    extent : float > 0, optional
    chunk : int >= 1
        Instances whose pixel distances are held at once.  Memory is about
        ``H W (13 + 5 chunk)`` bytes beyond the superpixels and the image: the labels, the
        running minimum, the component labels, one chunk of distances and gates.  A 4000x3000
        photo with 50 people stays within 2 GB (see the README).
    **distance_options
        Passed to :func:`instance_distances` (``solver``, ``n_segments``, ``compactness``,
        ``speed``, ``edge_weight``, ``length_weight``, ``labels``).

    Returns
    -------
    (H, W) int32 array of the image's kind: 0 background, ``1..n`` in keypoint order.

    Examples
    --------
    >>> score = np.zeros((4, 12)); score[:, :3] = 1; score[:, 8:] = 1
    >>> kp = np.zeros((1, 17, 3)); kp[0, 0] = (1.5, 1.5, 2)
    >>> segment_people(np.zeros((4, 12)), kp, score, method="sweep")[0].tolist()
    [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    """
    img, kp = _check_image_and_keypoints(image, keypoints)
    H, W = img.shape[:2]
    score = _check_score(person_score, (H, W))
    threshold = _check_threshold(threshold)
    chunk = check_positive_int(chunk, "chunk")
    n = kp.shape[0]
    box_arr = None if boxes is None else _check_boxes(boxes, n)
    if extent is not None:
        extent = check_positive_float(extent, "extent")
    comp_labels = touched = None
    if components:
        comp_labels, touched = _touched_components(kp, score >= threshold)
    best = np.full((H, W), np.inf, np.float32)
    owner = np.zeros((H, W), np.int32)
    for start, d in _distance_chunks(img, kp, method=method, chunk=chunk, **_distance_defaults(distance_options)):
        stop = start + d.shape[0]
        gate = _gates(kp[start:stop], H, W, None if box_arr is None else box_arr[start:stop], extent)
        if components:
            comp = touched[start:stop][:, comp_labels]
            gate = comp if gate is None else gate & comp
        for j in range(d.shape[0]):
            dj = d[j] if gate is None else np.where(gate[j], d[j], np.inf)
            closer = dj < best  # strict: ties stay with the lower instance number
            best[closer] = dj[closer]
            owner[closer] = start + j + 1
    owner[~np.isfinite(best) | (score < threshold)] = 0
    return like(owner, image)


def _distance_defaults(options: dict) -> dict:
    """``segment_people``'s distance options with ``instance_distances``' defaults filled in."""
    known = ("solver", "n_segments", "compactness", "speed", "edge_weight", "length_weight", "labels")
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"segment_people: unexpected keyword {unknown[0]!r} (distance options: {', '.join(known)})")
    defaults = dict(solver="sssp", n_segments=None, compactness=10.0, speed=None,
                    edge_weight=10.0, length_weight=0.0, labels=None)
    defaults.update(options)
    return defaults


def _touched_components(kp: np.ndarray, person: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of ``person`` and, per instance, which ones its skeleton touches."""
    from scipy import ndimage

    from .skeleton import skeleton_pixels

    comp, n_comp = ndimage.label(person, structure=np.ones((3, 3), bool))
    offsets, rows, cols = skeleton_pixels(kp, person.shape)
    touched = np.zeros((kp.shape[0], n_comp + 1), bool)
    inst = np.repeat(np.arange(kp.shape[0]), np.diff(offsets))
    touched[inst, comp[rows, cols]] = True
    touched[:, 0] = False
    return comp, touched


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
