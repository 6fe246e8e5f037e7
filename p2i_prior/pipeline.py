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
    Euclidean distance in pixels from the skeleton pixels: the exact distance transform
    (:func:`p2i_prior.euclidean_distance`; before it, fast sweeping with unit speed, a first-order
    approximation, hence the name).
``"geodesic"``
    Fast sweeping with speed ``1 / (1 + edge_weight * sobel / mean(sobel))`` (or the given
    ``speed``): crossing strong edges costs more, so distances stop at object boundaries.

Stopping where a person ends
----------------------------
A plain softmax hands every pixel to *some* instance, however far.  Two optional gates zero an
instance's probability where it cannot be: ``boxes`` (the instance's box, ``roi="box"`` in the
evaluation) and ``extent`` (pixels farther from the instance's skeleton, in Euclidean pixels,
than ``extent`` times the instance's scale, :func:`instance_scales`).  Where every instance is
gated off, the row of the map is all zero: background.  :func:`segment_people` also has the
component gate (default on) and ``reach`` (off by default): pixels farther than ``reach`` body
heights from the skeleton they went to go to nobody (people without keypoints).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import _device as dv
from .checks import (
    check_box_layout,
    check_choice,
    check_pipeline_image,
    check_positive_float,
    check_positive_int,
    check_threshold,
    like,
    shape_str,
)
from .defaults import (
    DEFAULT_METHOD,
    DEFAULT_SEGMENT_METHOD,
    DEFAULT_TEMPERATURE,
    MAX_SWEEPS,
    METHODS,
    SEGMENT_METHODS,
    N_SEGMENTS,
    SLIC_ENFORCE_CONNECTIVITY,
    SLIC_MAX_NUM_ITER,
    SLIC_MAX_SIZE_FACTOR,
    SLIC_MIN_SIZE_FACTOR,
    SOLVERS,
)
from .fusion import check_score, nearest_instances, segment_instances, softmax_instances
from .gates import (  # noqa: F401  (re-exported: p2i_prior.pipeline's public names)
    BODY_PROPORTIONS,
    FACE_PROPORTIONS,
    MIN_SCALE,
    box_instances,
    box_masks as _box_masks,
    check_boxes as _check_boxes,
    component_gate,
    drop_unexplained as _drop_unexplained,
    instance_gates as _gates,
    instance_scales,
    touched_components as _touched_components,
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

def _check_image_and_keypoints(image: Any, keypoints: Any) -> tuple[np.ndarray, np.ndarray]:
    img = check_pipeline_image(image, "image")  # one image rule for every method
    kp = check_keypoints(keypoints)
    return img, kp


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
    check_choice(solver, "solver", SOLVERS)
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
    from .grid_distance import edt_cpu, geodesic_slowness, march_cpu, skeleton_seeds
    from .skeleton import skeleton_pixels

    slowness, uniform = np.ones((1, 1), np.float64), True
    if method == "geodesic":
        slowness, uniform = geodesic_slowness(img, speed, edge_weight), False  # once, for every chunk
    if n == 0:
        return
    offsets, rows, cols = skeleton_pixels(kp, (H, W))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        seeds = skeleton_seeds((offsets, rows, cols), (H, W), start, stop)
        if method == "sweep":  # the exact Euclidean distance
            yield start, edt_cpu(seeds)
            continue
        # fast marching: the converged fixed point of fast sweeping, 4x faster at 640x480
        yield start, march_cpu(seeds, slowness, uniform)


#: Largest accepted ``edge_weight`` / ``length_weight``: beyond it float32 distances overflow.
MAX_WEIGHT = 1e30


def _check_weight(value: Any, name: str) -> float:
    value = check_positive_float(value, name, allow_zero=True)
    if value > MAX_WEIGHT:
        raise ValueError(f"{name}: expected a number <= {MAX_WEIGHT:g}, got {value:g}")
    return value


def _n_segments(n_segments: Any, H: int, W: int) -> Any:
    """``None`` (the default) means 1000 superpixels, or one per pixel on smaller images."""
    return min(N_SEGMENTS, H * W) if n_segments is None else n_segments


def _superpixel_distances(
    img: np.ndarray, kp: np.ndarray, *, solver: str, n_segments: int, compactness: float,
    length_weight: float, labels: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """SLIC labels (H, W) and the (n, K) graph distance of every superpixel to every skeleton."""
    from .edges import check_image, sobel_cpu
    from .graph_distance import check_rag_arrays, rag_distance_cpu
    from .rag import build_rag_cpu
    from .skeleton import seed_superpixels
    from .superpixels import check_slic_image, slic_cpu, slic_params

    check_choice(solver, "solver", SOLVERS)
    length_weight = _check_weight(length_weight, "length_weight")
    H, W = img.shape[:2]
    if labels is None:
        params = slic_params(H, W, _n_segments(n_segments, H, W), compactness, SLIC_MAX_NUM_ITER,
                             SLIC_ENFORCE_CONNECTIVITY, SLIC_MIN_SIZE_FACTOR, SLIC_MAX_SIZE_FACTOR)
        lab = slic_cpu(check_slic_image(img), *params, SLIC_MAX_SIZE_FACTOR)
    else:
        from .checks import check_labels

        lab = check_labels(labels)
        if lab.shape != (H, W):
            raise ValueError(
                f"labels: expected shape {shape_str((H, W))} (the image's), got {shape_str(lab.shape)}"
            )
    # the drivers on checked inputs: the image was checked once for each rule above
    edge = sobel_cpu(*check_image(img)).astype(np.float64)
    rag = build_rag_cpu(lab.astype(np.int64, copy=False), edge, int(lab.max()) + 1)
    if length_weight > 0:
        rag = rag.with_weights(rag.weights + length_weight * _hop_lengths(rag, lab))
    indptr, indices, weights = check_rag_arrays(rag)  # path sums must fit float32
    return lab, rag_distance_cpu(indptr, indices, weights, rag.n_nodes, seed_superpixels(lab, kp), solver)


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


#: Default cap on the memory of a pose-instance map call (the (H, W, n) map plus the (n, H, W)
#: distances it is computed from); see ``pose_instance_map(max_bytes=...)``.
MAP_MAX_BYTES = 2 << 30


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
        ``"auto"``: the GPU kernels (:func:`p2i_prior.pipeline_device.pose_instance_maps_device`) for a CuPy
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
    if dv.use_gpu(device, image) and _gpu_capable(length_weight, extent, speed):
        from .pipeline_device import pose_instance_maps_device

        return pose_instance_maps_device(
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
    per image size (:func:`p2i_prior.pipeline_device.pose_instance_maps_device`): give a (B, H, W, 3) CuPy array
    or CUDA tensor, or a list of them.

    Examples
    --------
    >>> kp = np.zeros((1, 17, 3)); kp[0, 0] = (1, 1, 2)
    >>> [m.shape for m in pose_instance_maps([np.zeros((4, 4))] * 2, [kp, kp], method="sweep")]
    [(4, 4, 1), (4, 4, 1)]
    """
    listed = images if isinstance(images, (list, tuple)) else [images]
    if dv.use_gpu(device, *listed) and _gpu_capable(
        kwargs.get("length_weight", 0.0), kwargs.get("extent"), kwargs.get("speed")
    ):
        from .pipeline_device import pose_instance_maps_device

        return pose_instance_maps_device(images, keypoints_list, **kwargs)
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


def segment_people(
    image: Any,
    keypoints: Any,
    person_score: Any,
    *,
    method: str = DEFAULT_SEGMENT_METHOD,
    threshold: float = 0.5,
    components: bool = True,
    boxes: Any = None,
    extent: float | None = None,
    reach: float | None = None,
    reach_min_keypoints: int = 5,
    chunk: int = 8,
    exact_geodesic: bool = False,
    **distance_options: Any,
) -> Any:
    """Instance labels straight from an image, keypoints and a person score (no (H, W, n) map).

    Each person pixel (``person_score >= threshold``) goes to the nearest instance: the fusion
    rule of :mod:`p2i_prior.fusion` (argmax of softmax x score is the argmin of distance,
    :func:`p2i_prior.fusion.nearest_instances`), in the distance of ``method`` (:func:`instance_distances`), among the instances allowed there:
    with ``components=True`` (default) only instances whose skeleton touches the pixel's
    connected component of person pixels (:func:`component_gate`), so people without
    keypoints are not pulled into the nearest skeleton; optionally only inside each instance's
    box (``boxes``) and within ``extent`` of it (see :func:`pose_instance_map`).  With
    ``components=False`` this equals ``segment_instances(pose_instance_map(...), score)`` (up to
    float32 ties in the softmax; for ``method="geodesic"`` only with ``exact_geodesic=True``,
    see below).

    On the COCO persons of ``../shared/data/coco_persons`` with the ground-truth score, the
    component gate raised AP^r@[.5:.95] of the geodesic prior from 0.414 to 0.500 and of the
    rag prior from 0.369 to 0.472 (see the README's evaluation section).

    Parameters
    ----------
    image : (H, W, 3) or (H, W) array
    keypoints : (n, 17, 3) array
    person_score : (H, W) float array in [0, 1]
    method : {"affinity", "rag", "sweep", "geodesic"}
        Default ``DEFAULT_SEGMENT_METHOD`` ("affinity"): the geodesic travel times of every
        instance (all held at once, ``4 n H W`` bytes) re-decided pixel by pixel by the learned
        image-evidence model, with a "nobody" option for people without keypoints
        (:func:`p2i_prior.affinity.refine_people`; no ``extent`` / ``reach``).  The best in
        cross-validation on coco_persons (``defaults.DEFAULT_SEGMENT_METHOD``), about 0.4 s per
        640x480 photo; "rag" / "geodesic" (the fusion rule below) take 0.02-0.04 s.
    threshold : float in [0, 1]
    components : bool
    boxes : (n, 4) COCO [x, y, w, h] array, optional
        Boxes that are evidently ``[x1, y1, x2, y2]`` raise ``ValueError``
        (:func:`p2i_prior.checks.check_box_layout`).
    extent : float > 0, optional
    reach : float > 0, optional
        Leave to nobody the pixels farther than ``reach`` body heights from the skeleton they
        went to, for skeletons with at least ``reach_min_keypoints`` labelled keypoints
        (:func:`p2i_prior.gates.drop_unexplained`): people without keypoints touching someone
        with keypoints.  Default None: off.
    reach_min_keypoints : int in [1, 17]
    chunk : int >= 1
        Instances whose pixel distances are held at once.  Memory is about
        ``H W (13 + 5 chunk)`` bytes beyond the superpixels and the image: the labels, the
        running minimum, the component labels, one chunk of distances and gates.  A 4000x3000
        photo with 50 people stays within 2 GB (see the README).  ``method="geodesic"``
        without ``extent`` holds no per-instance map: about ``60 H W`` bytes whatever ``n``
        (peak resident growth 55 H W on a 4000x3000 image with 3 people, either mode).
    exact_geodesic : bool
        For ``method="geodesic"`` (without ``extent``, which always takes the per-instance
        path).  False (default): one multi-label fast march for all instances at once, each
        contested pixel (two or more instances allowed there) going to the front that reaches
        it first among the instances allowed there (:func:`p2i_prior.kernels.fmm.
        nearest_instance_marching`); near the boundaries between people this can differ from
        the nearest of the per-instance travel times (the discrete multi-source solution is not
        their minimum): 0.06% of the person pixels of ``../shared/data/coco_persons`` with the
        ground-truth score, with the same AP and mean IoU.  True: exactly the nearest allowed
        instance by each instance's own travel time (:func:`p2i_prior.geodesic_distance`, the
        labels of the per-instance maps), from per-instance marches that stop once they can win
        no further pixel (2-3x faster than full marches, slower than the default).
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
    check_choice(method, "method", SEGMENT_METHODS)
    score = check_score(person_score, (H, W))
    threshold = check_threshold(threshold)
    chunk = check_positive_int(chunk, "chunk")
    n = kp.shape[0]
    box_arr = None if boxes is None else _check_boxes(boxes, n)
    if box_arr is not None:
        check_box_layout(box_arr, H, W)
    if extent is not None:
        extent = check_positive_float(extent, "extent")
    reach_min_keypoints = check_positive_int(reach_min_keypoints, "reach_min_keypoints", minimum=1, maximum=17)
    if not isinstance(exact_geodesic, (bool, np.bool_)):
        raise TypeError(f"exact_geodesic: expected True or False, got {exact_geodesic!r}")
    if reach is not None:
        reach = check_positive_float(reach, "reach")
    if method == "affinity":
        return like(_affinity_owners(img, kp, score, threshold, components, box_arr, extent, reach,
                                     exact_geodesic, distance_options), image)
    comp_labels = touched = None
    if components:
        comp_labels, touched = _touched_components(kp, score >= threshold)
    owner = None  # method="geodesic" without extent: no per-instance maps
    if method == "geodesic" and extent is None:
        owner = _geodesic_owners(img, kp, score >= threshold, comp_labels, touched, box_arr, distance_options,
                                 bool(exact_geodesic))

    def chunks():
        options = _distance_defaults(distance_options)
        for start, d in _distance_chunks(img, kp, method=method, chunk=chunk, **options):
            stop = start + d.shape[0]
            gate = _gates(kp[start:stop], H, W, None if box_arr is None else box_arr[start:stop], extent)
            if components:
                comp = touched[start:stop][:, comp_labels]
                gate = comp if gate is None else gate & comp
            yield start, d, gate

    if owner is None:
        owner = nearest_instances(chunks(), score, threshold)
    if reach is not None:
        owner = _drop_unexplained(owner, kp, reach, min_keypoints=reach_min_keypoints)
    return like(owner, image)


def _geodesic_owners(img: np.ndarray, kp: np.ndarray, person: np.ndarray, comp: Any, touched: Any,
                     boxes: Any, distance_options: dict, exact: bool) -> np.ndarray:
    """``segment_people``'s labels for ``method="geodesic"`` (no ``extent``) without a full march
    per instance (:func:`p2i_prior.grid_distance.nearest_marching_cpu`): one multi-label march,
    or (``exact``) the labels of the per-instance maps through ``nearest_instances``.  Either
    way a pixel that one instance alone may take is that instance's without any distance: the
    maps are finite (``check_speed`` refuses speeds whose travel times could overflow float32)."""
    from .grid_distance import geodesic_slowness, nearest_marching_cpu
    from .skeleton import skeleton_pixels

    options = _distance_defaults(distance_options)
    check_choice(options["solver"], "solver", SOLVERS)  # the checks of _distance_chunks, in order
    _check_weight(options["length_weight"], "length_weight")
    edge_weight = _check_weight(options["edge_weight"], "edge_weight")
    slowness = geodesic_slowness(img, options["speed"], edge_weight)
    H, W = person.shape
    offsets, rows, cols = skeleton_pixels(kp, (H, W))
    return nearest_marching_cpu(offsets, rows, cols, slowness, False, person, comp, touched, boxes, exact)[0]


def _affinity_owners(img: np.ndarray, kp: np.ndarray, score: np.ndarray, threshold: float, components: bool,
                     boxes: Any, extent: Any, reach: Any, exact: bool, distance_options: dict) -> np.ndarray:
    """``segment_people``'s labels for ``method="affinity"``: the per-instance geodesic travel
    times (with the distance options) re-decided per pixel by :func:`p2i_prior.affinity.refine_people`."""
    from .affinity import refine_people

    for name, value in (("extent", extent), ("reach", reach)):
        if value is not None:
            raise ValueError(f"{name}: not used with method='affinity' (its model decides which pixels "
                             f"nobody's skeleton explains), got {value!r}")
    if exact:
        raise ValueError("exact_geodesic: only used with method='geodesic', got True with method='affinity'")
    options = _distance_defaults(distance_options)
    d = instance_distances(img, kp, method="geodesic", **options)
    return np.asarray(refine_people(img, kp, score, distances=d, boxes=boxes, threshold=threshold,
                                    components=components))


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


