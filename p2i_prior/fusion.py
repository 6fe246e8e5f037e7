"""The fusion rule, in one place: distances -> softmax over instances -> x person score ->
argmax + threshold -> instance labels.

* :func:`softmax_instances`: the pose-instance map, per pixel the softmax over instances of
  ``-d_i / tau`` (float64, zero where gated off or unreachable);
* :func:`segment_instances`: labels from a map and a person score, ``1 + argmax_i P_i * score``
  (lowest ``i`` on ties), 0 where ``score < threshold`` or the row is all zero;
* :func:`fuse`: both in one pass from distances, in float32 (the GPU pipeline's last kernel;
  its CPU twin for host arrays);
* :func:`nearest_instances`: the same labels without a map, as the argmin of distance
  (:func:`p2i_prior.segment_people`).

The per-pixel functions are ``kernels/fusion.py`` (``fuse_at``, ``segment_at``), compiled for the
CPU there and for the GPU in ``kernels/cuda_fusion.py``.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from . import _device as dv
from .checks import (
    check_ndim,
    check_positive_float,
    check_threshold,
    check_unit_interval,
    check_values_finite,
    host_info,
    like,
    shape_str,
    to_numpy,
)

__all__ = ["softmax_instances", "segment_instances", "fuse", "nearest_instances", "check_score"]


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


def check_score(person_score: Any, shape: tuple[int, int] | None) -> np.ndarray:
    """(H, W) float32 host person score, probabilities in [0, 1] (of the map's shape, if given)."""
    s = to_numpy(person_score, "person_score")
    if shape is not None and s.shape != tuple(shape):
        raise ValueError(
            f"person_score: expected shape {shape_str(shape)} (the map's H, W), got {shape_str(s.shape)}"
        )
    check_ndim(s, "person_score", (2,), "(H, W) array of person probabilities")
    s = s.astype(np.float32, copy=False)
    check_unit_interval(host_info(s, "person_score"))
    return s


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
    if dv.use_gpu(device, pose_map):
        return _segment_instances_gpu(pose_map, person_score, threshold)
    pm = to_numpy(pose_map, "pose_map")
    check_ndim(pm, "pose_map", (3,), "(H, W, n) pose-instance map")
    _check_pose_map_values(host_info(pm, "pose_map"))
    pm = pm.astype(np.float32, copy=False)
    score = check_score(person_score, pm.shape[:2])
    threshold = check_threshold(threshold)
    from .kernels.fusion import segment_labels

    return like(segment_labels(pm, score, np.float32(threshold)), pose_map)


def _check_pose_map_values(info) -> None:
    """A pose-instance map: finite floats (an image passed by mistake is integer-typed)."""
    if np.dtype(info.dtype).kind != "f":
        raise TypeError(
            f"pose_map: expected a float (H, W, n) pose-instance map (probabilities, e.g. from "
            f"pose_instance_map), got dtype {info.dtype}"
        )
    check_values_finite(info)


def _segment_instances_gpu(pose_map: Any, person_score: Any, threshold: Any) -> Any:
    from numba import cuda

    from .kernels import cuda_fusion as kf

    threshold = check_threshold(threshold)
    stream = dv.stream_of(pose_map)
    pm_in = dv.as_device(pose_map, "pose_map")
    if len(dv.shape_of(pm_in)) == 3:
        _check_pose_map_values(dv.device_info(pm_in, "pose_map", stream))
    pm = dv.as_device(pm_in, "pose_map", np.float32)
    if len(dv.shape_of(pm)) != 3:
        raise ValueError(f"pose_map: expected (H, W, n) pose-instance map, got shape {shape_str(dv.shape_of(pm))}")
    H, W, n = dv.shape_of(pm)
    sc = dv.as_device(person_score, "person_score", np.float32)
    if dv.shape_of(sc) != (H, W):
        raise ValueError(
            f"person_score: expected shape {shape_str((H, W))} (the map's H, W), got {shape_str(dv.shape_of(sc))}"
        )
    check_unit_interval(dv.device_info(sc, "person_score", stream))
    out = cuda.device_array(H * W, np.int32, stream=stream)
    thr = dv.launch_config("fuse")
    if H * W:
        kf.segment_kernel[-(-H * W // thr), thr, stream](pm.reshape((H * W, n)), sc.reshape(H * W),
                                                         np.float32(threshold), out)
    return dv.to_kind(out.reshape((H, W)), pose_map)


def nearest_instances(distance_chunks: Iterable[tuple[int, np.ndarray, np.ndarray | None]],
                      score: np.ndarray, threshold: float) -> np.ndarray:
    """Labels by the fusion rule without a map: each person pixel to its nearest instance.

    ``1 + argmax_i softmax_i(-d / tau) * score`` is ``1 + argmin_i d_i`` wherever
    ``score >= threshold > 0`` (the softmax decreases in ``d_i``; the score is a common factor),
    so :func:`p2i_prior.segment_people` never forms the (H, W, n) map.  Ties go to the lower
    instance, as in :func:`segment_instances`; pixels no (allowed) instance reaches, or with
    ``score < threshold``, are 0.

    Parameters
    ----------
    distance_chunks : iterable of ``(start, d, gate)``
        ``d`` (m, H, W) float32 distances of instances ``start .. start + m - 1`` in order;
        ``gate`` (m, H, W) bool or None: where each may take pixels.
    score : (H, W) float32, threshold : float

    Returns
    -------
    (H, W) int32 labels, 0 background, ``1..n`` instances.
    """
    best = np.full(score.shape, np.inf, np.float32)
    owner = np.zeros(score.shape, np.int32)
    for start, d, gate in distance_chunks:
        for j in range(d.shape[0]):
            dj = d[j] if gate is None else np.where(gate[j], d[j], np.inf)
            closer = dj < best  # strict: ties stay with the lower instance number
            best[closer] = dj[closer]
            owner[closer] = start + j + 1
    owner[~np.isfinite(best) | (score < threshold)] = 0
    return owner


def fuse(distances: Any, person_score: Any, *, temperature: float, threshold: float = 0.5,
         labels: Any = None, boxes: Any = None, write_map: bool = True,
         device: str = "auto") -> tuple[Any, Any]:
    """Pose-instance map and instance labels in one pass (:func:`softmax_instances` +
    :func:`segment_instances`, in float32; the batched GPU pipeline's last step).

    Parameters
    ----------
    distances : (n, H, W) or (B, n, H, W) float32 array, or (n, K) / (B, n, K) with ``labels``
        Each instance's distance (``+inf`` unreachable).
    person_score : (H, W) or (B, H, W) float array in [0, 1]
    temperature : float > 0
    threshold : float in [0, 1]
        Pixels with ``person_score < threshold`` are background.
    labels : (H, W) or (B, H, W) int array, optional
        Superpixel labels: ``distances`` are then per superpixel and each pixel reads its
        superpixel's column.
    boxes : (n, 4) or (B, n, 4) float array, optional
        COCO ``[x, y, w, h]`` gates (an instance has probability 0 outside its box).
    write_map : bool
        False skips the map (only labels are computed; the map returned is None).
    device : {"auto", "cpu", "cuda"}
        ``"auto"``: the GPU for GPU arrays, the CPU (the same per-pixel function, compiled by
        ``njit``) otherwise.

    Returns
    -------
    pose_map : (H, W, n) / (B, H, W, n) float32 (or None), labels : (H, W) / (B, H, W) int32
        0 background, ``1..n`` instances; the kind of ``distances``.

    Examples
    --------
    >>> d = np.array([[[0.0, 1.0]], [[1.0, 0.0]]], np.float32)
    >>> fuse(d, np.ones((1, 2)), temperature=0.1)[1].tolist()
    [[1, 2]]
    """
    temperature = check_positive_float(temperature, "temperature")
    threshold = check_threshold(threshold)
    on_gpu = dv.use_gpu(device, distances, person_score, labels)
    if on_gpu:
        stream = dv.stream_of(distances)
        d = dv.as_device(distances, "distances", np.float32)
        sc = dv.as_device(person_score, "person_score", np.float32)
        info = lambda a, name: dv.device_info(a, name, stream)
    else:
        stream = 0
        d = to_numpy(distances, "distances", np.float32)
        sc = to_numpy(person_score, "person_score", np.float32)
        info = host_info
    _shape = dv.shape_of
    batched = len(_shape(sc)) == 3
    if len(_shape(sc)) not in (2, 3):
        raise ValueError(
            f"person_score: expected (H, W) or (B, H, W) person probabilities, got shape {shape_str(_shape(sc))}"
        )
    B = _shape(sc)[0] if batched else 1
    H, W = _shape(sc)[-2:]
    sc = sc.reshape((B, H * W))
    if labels is None:
        want = (B, None, H, W) if batched else (None, H, W)
        dshape = _shape(d)
        ok = len(dshape) == len(want) and all(w is None or w == s for w, s in zip(want, dshape))
        if not ok:
            layout = "(B, n, H, W)" if batched else "(n, H, W)"
            raise ValueError(
                f"distances: expected {layout} matching person_score {shape_str(_shape(person_score))}, "
                f"got shape {shape_str(dshape)}"
            )
        n = dshape[-3]
        d = d.reshape((B, n, H * W))
        lab = None
    else:
        lab = dv.as_device(labels, "labels", np.int32) if on_gpu else to_numpy(labels, "labels", np.int32)
        if _shape(lab) != ((B, H, W) if batched else (H, W)):
            raise ValueError(
                f"labels: expected shape {shape_str(_shape(person_score))} (the score's), got {shape_str(_shape(lab))}"
            )
        dshape = _shape(d)
        if len(dshape) != (3 if batched else 2):
            layout = "(B, n, K)" if batched else "(n, K)"
            raise ValueError(f"distances: expected {layout} superpixel distances, got shape {shape_str(dshape)}")
        n, K = dshape[-2:]
        lstats = info(lab, "labels").stats
        if lab.size and lstats.min < 0:
            raise ValueError(f"labels: expected labels >= 0, got minimum {int(lstats.min)}")
        if lab.size and lstats.max >= K:
            raise ValueError(
                f"labels: expected values < K = {K} (the distances' columns), got maximum {int(lstats.max)}"
            )
        d = d.reshape((B, n, K))
        lab = lab.reshape((B, H * W))
    check_unit_interval(info(sc, "person_score"))
    bx = None
    if boxes is not None:
        bx = dv.as_device(boxes, "boxes", np.float64) if on_gpu else to_numpy(boxes, "boxes", np.float64)
        if _shape(bx) != ((B, n, 4) if batched else (n, 4)):
            raise ValueError(
                f"boxes: expected {'(B, n, 4)' if batched else '(n, 4)'} COCO [x, y, w, h] boxes with n = {n}, "
                f"got shape {shape_str(_shape(bx))}"
            )
        bx = bx.reshape((B, n, 4))
    shape = (B, H, W) if batched else (H, W)
    if on_gpu:
        pm, out_lab = fuse_device(d, lab, sc, temperature, threshold, W, bx, write_map, stream)
        if pm is not None:
            pm = dv.to_kind(pm.reshape(shape + (n,)), distances)
        return pm, dv.to_kind(out_lab.reshape(shape), distances)
    pm, out_lab = fuse_host(d, lab, sc, temperature, threshold, W, bx, write_map)
    if pm is not None:
        pm = like(pm.reshape(shape + (n,)), distances)
    return pm, like(out_lab.reshape(shape), distances)


def fuse_device(d: Any, lab: Any, sc: Any, temperature: float, threshold: float, W: int, bx: Any,
                write_map: bool, stream: Any = 0) -> tuple[Any, Any]:
    """GPU driver of :func:`fuse`: (B, n, M) float32 distances, (B, H*W) int32 columns or None,
    (B, H*W) float32 score, (B, n, 4) float64 boxes or None -> ((B, H*W, n) map or None,
    (B, H*W) int32 labels) device arrays."""
    from numba import cuda

    from .kernels import cuda_fusion as kf

    B, n = dv.shape_of(d)[:2]
    P = dv.shape_of(sc)[1]
    out_map = cuda.device_array((B, P if write_map else 1, max(n, 1)), np.float32, stream=stream)
    out_lab = cuda.device_array((B, P), np.int32, stream=stream)
    for b0, b1 in dv.batch_chunks(B):  # the batch is the grid's y axis
        kf.launch_fuse(d[b0:b1], None if lab is None else lab[b0:b1], sc[b0:b1], temperature,
                       float(threshold), out_map[b0:b1], out_lab[b0:b1], W,
                       boxes=None if bx is None else bx[b0:b1], write_map=write_map,
                       threads=dv.launch_config("fuse"), stream=stream)
    if not write_map:
        return None, out_lab
    return (out_map[:, :, :n] if n else cuda.device_array((B, P, 0), np.float32, stream=stream)), out_lab


def fuse_host(d: np.ndarray, lab: np.ndarray | None, sc: np.ndarray, temperature: float,
              threshold: float, W: int, bx: np.ndarray | None, write_map: bool) -> tuple[Any, Any]:
    """CPU driver of :func:`fuse` (``kernels.fusion.fuse_cpu``, the same float32 arithmetic as the
    GPU); shapes as :func:`fuse_device`."""
    from .kernels.fusion import fuse_cpu

    B, n = d.shape[:2]
    P = sc.shape[1]
    out_map = np.zeros((B, P if write_map else 1, max(n, 1)), np.float32)
    out_lab = np.zeros((B, P), np.int32)
    use_labels = lab is not None
    use_boxes = bx is not None
    fuse_cpu(d, lab if use_labels else np.zeros((B, 1), np.int32), use_labels, sc,
             np.float32(1.0 / temperature), np.float32(threshold), out_map, out_lab, bool(write_map),
             bx if use_boxes else np.zeros((B, 1, 4)), use_boxes, int(W))
    if not write_map:
        return None, out_lab
    return np.ascontiguousarray(out_map[:, :, :n]), out_lab


