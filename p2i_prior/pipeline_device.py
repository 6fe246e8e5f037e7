"""The batched GPU pipeline: B images of one size through every step in one pass of kernels.

Composition only, of the steps' GPU drivers (``edges.sobel_device``, ``superpixels.slic_device``,
``rag.build_rags_device``, ``graph_distance.rag_distances_device``, ``grid_distance.edt_device``,
``sweep.sweep_device``, ``fusion.fuse_device``); the public entry is
:func:`p2i_prior.pose_instance_maps` (``device`` "cuda", or GPU arrays).  Inputs are validated once here; the steps' outputs are not re-read.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import _device as dv
from .checks import check_choice, check_positive_float, check_threshold, check_unit_interval, like, shape_str
from .defaults import (
    DEFAULT_TEMPERATURE,
    MAX_SWEEPS,
    METHODS,
    SLIC_ENFORCE_CONNECTIVITY,
    SLIC_MAX_NUM_ITER,
    SLIC_MAX_SIZE_FACTOR,
    SLIC_MIN_SIZE_FACTOR,
    SOLVERS,
)
from .edges import sobel_device
from .fusion import fuse_device
from .gates import check_boxes
from .graph_distance import rag_distances_device
from .grid_distance import edt_device
from .rag import RAGBatch, build_rags_device, check_labels_device
from .skeleton import check_keypoints, skeleton_pixels
from .superpixels import check_device_images, slic_device, slic_params
from .sweep import sweep_device

__all__ = ["pose_instance_maps_device", "bytes_per_image"]


def _skeleton_lists(keypoints_list: Sequence[Any], H: int, W: int, n_max: int):
    """Skeleton pixels of every instance of every image (host rasterisation: tiny inputs)."""
    inst, image, rows, cols = [], [], [], []
    for b, kp in enumerate(keypoints_list):
        k = check_keypoints(kp, f"keypoints_list[{b}]")
        offsets, r, c = skeleton_pixels(k, (H, W))
        counts = np.diff(offsets)
        inst.append(b * n_max + np.repeat(np.arange(k.shape[0]), counts))
        image.append(np.full(r.size, b))
        rows.append(r)
        cols.append(c)
    cat = lambda parts: np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, np.int32)
    return cat(inst), cat(image), cat(rows), cat(cols)


def pose_instance_maps_device(
    images: Any,
    keypoints_list: Sequence[Any],
    *,
    method: str = "rag",
    solver: str = "sssp",
    n_segments: int = 1000,
    compactness: float = 10.0,
    temperature: float | None = None,
    edge_weight: float = 10.0,
    labels: Any = None,
    boxes: Sequence[Any] | None = None,
    person_scores: Any = None,
    threshold: float = 0.5,
) -> Any:
    """Pose-instance maps of B images of one size, one pass of kernels for the batch.

    :func:`p2i_prior.pose_instance_map` for every image (same parameters and numbers:
    ``"sssp"`` distances bit-identical, maps within float32 rounding), with every stage batched:
    Sobel, RAG construction, graph distances (one Bellman–Ford launch for all instances of all
    images), fast sweeping (one launch), softmax + fusion (one launch).  Mixed sizes: pass a
    list of images; they are grouped by size and each group runs as one batch.

    Parameters
    ----------
    images : (B, H, W, 3) / (B, H, W) array, or a list of (H_b, W_b[, 3]) arrays
    keypoints_list : B arrays of (n_b, 17, 3) COCO keypoints
    method, solver, n_segments, compactness, temperature, edge_weight
        As :func:`p2i_prior.pose_instance_map` (``length_weight`` and ``extent`` are not
        available on the GPU path).
    labels : (B, H, W) int array, optional
        Precomputed superpixels for ``method="rag"``; default: GPU SLIC of each image
        (:func:`slic_batch`, the parameters of :func:`p2i_prior.slic`).
    boxes : B arrays of (n_b, 4), optional
        COCO box gates.
    person_scores : (B, H, W) float array, optional
        When given, the instance labels (:func:`p2i_prior.segment_instances`) are returned too.
    threshold : float in [0, 1]

    Returns
    -------
    list of B (H, W, n_b) float32 maps of the images' kind; with ``person_scores`` also a list
    of B (H, W) int32 label images.

    Examples
    --------
    >>> import cupy  # doctest: +SKIP
    >>> kp = np.zeros((1, 17, 3)); kp[0, 0] = (1, 1, 2)
    >>> [m.shape for m in pose_instance_maps(cupy.zeros((2, 4, 4)), [kp, kp], method="sweep")]  # doctest: +SKIP
    [(4, 4, 1), (4, 4, 1)]
    """
    check_choice(method, "method", METHODS)
    check_choice(solver, "solver", SOLVERS)
    if temperature is None:
        temperature = DEFAULT_TEMPERATURE.get(method, 1.0)
    temperature = check_positive_float(temperature, "temperature")
    threshold = check_threshold(threshold)
    if isinstance(images, (list, tuple)):
        B = len(images)
        shapes = [tuple(dv.shape_of(im) if hasattr(im, "shape") else np.shape(im)) for im in images]
        if len(set(shapes)) > 1:  # mixed sizes: one batch per size
            if len(keypoints_list) != B:
                raise ValueError(
                    f"keypoints_list: expected one (n, 17, 3) array per image ({B}), got {len(keypoints_list)}"
                )
            maps: list[Any] = [None] * B
            labs: list[Any] = [None] * B
            for shp in dict.fromkeys(shapes):
                idx = [i for i, s in enumerate(shapes) if s == shp]
                res = pose_instance_maps_device(
                    [images[i] for i in idx], [keypoints_list[i] for i in idx], method=method,
                    solver=solver, n_segments=n_segments, compactness=compactness,
                    temperature=temperature, edge_weight=edge_weight,
                    labels=None if labels is None else [labels[i] for i in idx],
                    boxes=None if boxes is None else [boxes[i] for i in idx],
                    person_scores=None if person_scores is None else [person_scores[i] for i in idx],
                    threshold=threshold,
                )
                got_maps, got_labs = res if person_scores is not None else (res, None)
                for j, i in enumerate(idx):
                    maps[i] = got_maps[j]
                    if got_labs is not None:
                        labs[i] = got_labs[j]
            return (maps, labs) if person_scores is not None else maps
        ref = images[0] if B else np.zeros((0,))
        imgs = dv.stack(images, "images")
        if labels is not None and isinstance(labels, (list, tuple)):
            labels = dv.stack(labels, "labels")
        if person_scores is not None and isinstance(person_scores, (list, tuple)):
            person_scores = dv.stack(person_scores, "person_scores")
    else:
        ref = images
        imgs = dv.as_device(images, "images")
    shp = dv.shape_of(imgs)
    if len(shp) not in (3, 4) or (len(shp) == 4 and shp[3] != 3):
        raise ValueError(f"images: expected (B, H, W) or (B, H, W, 3) images, got shape {shape_str(shp)}")
    B, H, W = shp[:3]
    if len(keypoints_list) != B:
        raise ValueError(
            f"keypoints_list: expected one (n, 17, 3) array per image ({B}), got {len(keypoints_list)}"
        )
    if boxes is not None and len(boxes) != B:
        raise ValueError(f"boxes: expected one (n, 4) array per image ({B}), got {len(boxes)}")
    from numba import cuda

    from .kernels import cuda_common as kc
    from .kernels import cuda_rag as kr
    from .kernels import cuda_sweep as ksw

    stream = dv.stream_of(ref)
    counts = [check_keypoints(kp, f"keypoints_list[{b}]").shape[0] for b, kp in enumerate(keypoints_list)]
    n_max = max(counts) if counts else 0
    per_image = bytes_per_image(H, W, n_max, method,
                                np.dtype(imgs.dtype).itemsize * (3 if len(shp) == 4 else 1))
    fit = max(1, min(int(0.8 * dv.free_device_bytes() // per_image), dv.MAX_GRID_YZ))
    if B > fit:  # batch within free memory and the grid's batch axis, instead of failing
        maps, labs_out = [], []
        for b0 in range(0, B, fit):
            b1 = min(B, b0 + fit)
            res = pose_instance_maps_device(
                imgs[b0:b1], list(keypoints_list[b0:b1]), method=method, solver=solver,
                n_segments=n_segments, compactness=compactness, temperature=temperature,
                edge_weight=edge_weight, labels=None if labels is None else labels[b0:b1],
                boxes=None if boxes is None else list(boxes[b0:b1]),
                person_scores=None if person_scores is None else person_scores[b0:b1],
                threshold=threshold,
            )
            got_maps, got_labs = res if person_scores is not None else (res, [])
            maps += list(got_maps)
            labs_out += list(got_labs)
        if dv.kind_of(ref) != "numba":  # the chunks came back in the device kind of the slices
            maps = [dv.to_kind(m_, ref) if dv.kind_of(m_) == "numba" else m_ for m_ in maps]
        return (maps, labs_out) if person_scores is not None else maps
    inst, image, rows, cols = _skeleton_lists(keypoints_list, H, W, max(n_max, 1))
    m = rows.size
    to_dev = lambda a: cuda.to_device(a, stream=stream)
    blk = dv.launch_config("block")
    thr = dv.launch_config("threads")
    if method == "rag":
        if labels is None:
            sl = check_device_images(imgs, "images", True, stream)
            params = slic_params(H, W, n_segments, compactness, SLIC_MAX_NUM_ITER,
                                 SLIC_ENFORCE_CONNECTIVITY, SLIC_MIN_SIZE_FACTOR, SLIC_MAX_SIZE_FACTOR)
            labs_dev, n_sp = slic_device(sl, *params, stream)
            # SLIC knows its label counts: the RAG build need not read each image's maximum
            node_offsets = np.concatenate([[0], np.cumsum(n_sp)]).astype(np.int64)
        else:
            labs_dev = check_labels_device(labels, "labels", 3, stream)
            if dv.shape_of(labs_dev) != (B, H, W):
                raise ValueError(
                    f"labels: expected shape {shape_str((B, H, W))} (the images'), got {shape_str(dv.shape_of(labs_dev))}"
                )
            labs_dev = dv.as_device(labs_dev, "labels", np.int32)
            node_offsets = None
        edge = sobel_device(imgs, stream, name="images")
        graphs = RAGBatch(*build_rags_device(labs_dev, edge, node_offsets, stream))
        K = int(graphs.n_nodes.max())
        seeds = cuda.device_array((B * max(n_max, 1), K), np.uint8, stream=stream)
        kc.fill_value_kernel[max(-(-seeds.size // thr), 1), thr, stream](seeds.reshape(seeds.size), np.uint8(0))
        if m:
            kr.seeds_from_pixels_kernel[-(-m // thr), thr, stream](
                labs_dev, to_dev(inst), to_dev(image), to_dev(rows), to_dev(cols), seeds
            )
        dist = rag_distances_device((graphs.indptr, graphs.indices, graphs.weights), graphs.node_offsets,
                                    seeds, np.repeat(np.arange(B, dtype=np.int32), max(n_max, 1)), solver,
                                    stream, None)
        dist = dist.reshape((B, max(n_max, 1), K))
        lab_arg = labs_dev
    else:
        n1 = max(n_max, 1)
        mask = cuda.device_array((B * n1, H, W), np.uint8, stream=stream)
        kc.fill_value_kernel[max(-(-mask.size // thr), 1), thr, stream](mask.reshape(mask.size), np.uint8(0))
        if m:
            kr.pixel_mask_kernel[-(-m // thr), thr, stream](to_dev(inst), to_dev(rows), to_dev(cols), mask)
        if method == "sweep":  # the exact Euclidean distance transform
            dist = edt_device(mask, stream).reshape((B, n1, H, W))
        else:
            edge_weight = check_positive_float(edge_weight, "edge_weight", allow_zero=True)
            edge = sobel_device(imgs, stream, name="images")
            sums = ksw.image_sums(edge, thr, stream)  # fixed order: the same bits every run
            grid = kc.grid_2d(B, H, W, blk)
            slowness = cuda.device_array((B, H, W), np.float64, stream=stream)
            ksw.edge_slowness_kernel[grid, blk + (1,), stream](edge, sums, float(edge_weight), slowness)
            plane = np.repeat(np.arange(B, dtype=np.int32), n1)
            out, _ = sweep_device(mask, slowness, plane, False, MAX_SWEEPS, 0.0, None, stream)
            dist = out.reshape((B, n1, H, W))
        lab_arg = None
    # rows of missing instances (images with fewer people) stay all-inf: probability 0
    score_arg = person_scores
    if score_arg is None:  # every pixel a person (the map alone): filled on the device
        score_dev = kc.full(B * H * W, 1.0, np.float32, stream=stream).reshape((B, H, W))
    else:
        score_dev = dv.as_device(score_arg, "person_scores", np.float32)
        if dv.shape_of(score_dev) != (B, H, W):
            raise ValueError(
                f"person_scores: expected shape {shape_str((B, H, W))}, got {shape_str(dv.shape_of(score_dev))}"
            )
        check_unit_interval(dv.device_info(score_dev, "person_scores", stream))
    bx = None
    if boxes is not None:
        arr = np.zeros((B, max(n_max, 1), 4))
        arr[:, :, 2:] = -1.0  # padding rows: empty boxes
        for b, bb in enumerate(boxes):
            arr[b, : counts[b]] = check_boxes(bb, counts[b])
        bx = to_dev(arr)
    n1 = max(n_max, 1)
    pm, lab_out = fuse_device(
        dist.reshape((B, n1, -1)) if lab_arg is not None else dist.reshape((B, n1, H * W)),
        None if lab_arg is None else lab_arg.reshape((B, H * W)), score_dev.reshape((B, H * W)),
        temperature, threshold if person_scores is not None else 0.0, W, bx, True, stream)
    pm = pm.reshape((B, H, W, n1))
    lab_out = lab_out.reshape((B, H, W))
    if dv.kind_of(ref) in ("cupy", "numba") or (dv.kind_of(ref) == "torch" and ref.is_cuda):
        maps = [dv.to_kind(pm[b, :, :, : counts[b]], ref) for b in range(B)]
        labs_out = [dv.to_kind(lab_out[b], ref) for b in range(B)]
    else:  # host kinds: one copy of the whole batch, then views
        pm_h, lab_h = pm.copy_to_host(), lab_out.copy_to_host()
        maps = [like(np.ascontiguousarray(pm_h[b, :, :, : counts[b]]), ref) for b in range(B)]
        labs_out = [like(lab_h[b], ref) for b in range(B)]
    if person_scores is None:
        return maps
    return maps, labs_out


def bytes_per_image(H: int, W: int, n: int, method: str, image_bytes: int = 24) -> int:
    """Device memory one image of a batch needs, from the temporaries each step allocates
    (an upper estimate, bytes; tests/test_gpu_safety.py checks it against the allocations).

    Per pixel: the stacked image (``image_bytes``: 3 for uint8 RGB, 24 for float64 RGB);
    ``"rag"``: SLIC's Lab planes (12), labels (2 x 4) and connectivity pass (52), Sobel with a
    grey plane (12), RAG hash slots (16, one boundary entry per pixel at most in practice),
    fusion score, labels and map (8 + 4 n); ``"sweep"``: seed masks (n), exact EDT distances and
    its two int32 scratch planes (12 n), fusion (8 + 4 n); ``"geodesic"``: seed masks and
    distances (5 n), Sobel and slowness (12 + 8), fusion (8 + 4 n).  Plus the skeleton pixel
    lists (4 int32 per pixel of 19 limbs of at most ``max(H, W) + 1`` pixels, and 17 points, per
    instance).
    """
    skeleton = 16 * n * (19 * (max(H, W) + 1) + 17)
    if method == "rag":
        per_pixel = 12 + 8 + 52 + 12 + 16 + 8 + 4 * n
    elif method == "sweep":
        per_pixel = 13 * n + 8 + 4 * n
    else:
        per_pixel = 5 * n + 20 + 8 + 4 * n
    return max(1, H * W * (per_pixel + int(image_bytes)) + skeleton)
