"""Pose-instance map and fusion with the person score, in one pass per pixel (CPU and CUDA).

For each pixel ``p`` of image ``b`` with instance distances ``d_i`` (``i < n``) this computes
what :func:`p2i_prior.pipeline.softmax_instances` and :func:`~p2i_prior.pipeline.segment_instances`
compute one after the other:

* gate: with ``use_boxes``, ``d_i = +inf`` where the pixel centre ``(c + 0.5, r + 0.5)`` is not
  in instance ``i``'s COCO box ``[x, x + w) x [y, y + h)``;
* ``P_i = softmax_i(-d_i / tau)``, as ``exp(-(d_i - min_j d_j) / tau) / sum``, so it never
  overflows; an instance at distance ``+inf`` gets 0, and where every ``d_i`` is ``+inf``
  (no instance reaches the pixel) the row is all 0;
* ``label = 1 + argmax_i P_i * score`` (lowest ``i`` on ties), and 0 (background) where
  ``score < threshold`` or the row is all 0.

The distances come either per pixel, ``(B, n, H*W)``, or per superpixel, ``(B, n, K)`` with a
label image ``(B, H*W)`` that says which column each pixel reads (then no ``(n, H, W)``
distance image is ever formed).  Images with fewer instances are padded with rows of ``+inf``,
which get probability 0 and never win.  The map is written ``(B, H*W, n)`` (each pixel's
``n`` probabilities contiguous: the ``(H, W, n)`` layout of the pose-instance map);
``write_map=False`` skips it (then a ``(B, 1, n)`` dummy will do).

``fuse_at`` is one plain-Python per-pixel function compiled twice: ``njit`` (``fuse_cpu``) and
``cuda.jit(device=True)`` (``fuse_pixel_kernel`` / ``fuse_superpixel_kernel``, one thread per
pixel, ``grid = (ceil(H*W / threads), B)``).  Arithmetic is float32 (``expf``), so the map
agrees with the float64 host pipeline within float32 rounding and the labels agree except where
two instances tie to that precision.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, njit, prange

from ._twin import twin
from .cuda_sobel import device_function

__all__ = [
    "DEFAULT_THREADS",
    "fuse_at",
    "fuse_cpu",
    "fuse_pixel_kernel",
    "fuse_superpixel_kernel",
    "launch_fuse",
    "segment_at",
    "segment_kernel",
]

#: Threads per block (one pixel each).
DEFAULT_THREADS = 256


def gated(dist, i, col, use_boxes, boxes, cy, cx):
    """``dist[i, col]``, or +inf when box gates are on and the pixel centre is outside box ``i``."""
    v = dist[i, col]
    if use_boxes:
        inside = (boxes[i, 1] <= cy < boxes[i, 1] + boxes[i, 3]) and (
            boxes[i, 0] <= cx < boxes[i, 0] + boxes[i, 2]
        )
        if not inside:
            v = np.float32(np.inf)
    return v


def fuse_at(dist, col, inv_tau, score, threshold, out_map, row, write_map, boxes, use_boxes,
            py, px):
    """Softmax over the ``n`` rows of ``dist[:, col]``, times ``score``; return the label.

    Parameters
    ----------
    dist : (n, M) float32, the instances' distances
    col : int, the column of this pixel
    inv_tau : float32, ``1 / tau``
    score : float32, the person score of this pixel
    threshold : float32
    out_map : (P, n) float32, receives ``P_i`` in row ``row`` when ``write_map``
    row : int, this pixel's row of ``out_map``
    write_map : bool
    boxes : (n, 4) float64 COCO ``[x, y, w, h]`` boxes, read when ``use_boxes``
    use_boxes : bool
    py, px : int, the pixel's row and column

    Returns
    -------
    int: ``1 + `` the winning instance, or 0 (background)
    """
    n = dist.shape[0]
    cy = py + 0.5
    cx = px + 0.5
    lo = np.float32(np.inf)
    for i in range(n):
        v = gated(dist, i, col, use_boxes, boxes, cy, cx)
        if v < lo:
            lo = v
    total = np.float32(0.0)
    if lo < np.inf:
        for i in range(n):
            v = gated(dist, i, col, use_boxes, boxes, cy, cx)
            total += math.exp(-(v - lo) * inv_tau)
    best = -1
    best_f = np.float32(-1.0)
    for i in range(n):
        p = np.float32(0.0)
        if total > 0:
            v = gated(dist, i, col, use_boxes, boxes, cy, cx)
            p = math.exp(-(v - lo) * inv_tau) / total
        if write_map:
            out_map[row, i] = p
        f = p * score
        if f > best_f:
            best_f = f
            best = i
    if total > 0 and score >= threshold:
        return best + 1
    return 0


_gated_cpu = twin(gated, njit(inline="always"))
_gated_dev = twin(gated, device_function())
_fuse_at_cpu = twin(fuse_at, njit(inline="always"), gated=_gated_cpu)
_fuse_at_dev = twin(fuse_at, device_function(), gated=_gated_dev)


@njit(cache=True, parallel=True)
def fuse_cpu(dist, labels, use_labels, score, inv_tau, threshold, out_map, out_labels, write_map,
             boxes, use_boxes, W):
    """CPU twin of the fusion kernels.

    Parameters
    ----------
    dist : (B, n, M) float32; ``M = K`` (superpixels) when ``use_labels``, else ``H * W``
    labels : (B, H * W) int32 column of each pixel (read when ``use_labels``)
    use_labels : bool
    score : (B, H * W) float32
    inv_tau, threshold : float32
    out_map : (B, H * W, n) float32, written when ``write_map``
    out_labels : (B, H * W) int32, written: 0 background, ``1..n`` instances
    write_map : bool
    boxes : (B, n, 4) float64 COCO boxes, read when ``use_boxes``
    use_boxes : bool
    W : int, the image width (pixel ``p`` is at ``(p // W, p % W)``)
    """
    B, P = out_labels.shape
    for t in prange(B * P):
        b = t // P
        p = t - b * P
        col = labels[b, p] if use_labels else p
        py = p // W
        out_labels[b, p] = _fuse_at_cpu(
            dist[b], col, inv_tau, score[b, p], threshold, out_map[b], p, write_map,
            boxes[b], use_boxes, py, p - py * W,
        )


@cuda.jit(cache=True)
def fuse_pixel_kernel(dist, score, inv_tau, threshold, out_map, out_labels, write_map, boxes,
                      use_boxes, W):
    """dist (B, n, H*W) float32, score (B, H*W) float32 -> out_map (B, H*W, n), out_labels."""
    p = cuda.grid(1)
    b = cuda.blockIdx.y
    if p < out_labels.shape[1]:
        py = p // W
        out_labels[b, p] = _fuse_at_dev(
            dist[b], p, inv_tau, score[b, p], threshold, out_map[b], p, write_map, boxes[b],
            use_boxes, py, p - py * W,
        )


@cuda.jit(cache=True)
def fuse_superpixel_kernel(dist, labels, score, inv_tau, threshold, out_map, out_labels,
                           write_map, boxes, use_boxes, W):
    """dist (B, n, K) float32, labels (B, H*W) int32 -> out_map (B, H*W, n), out_labels."""
    p = cuda.grid(1)
    b = cuda.blockIdx.y
    if p < out_labels.shape[1]:
        py = p // W
        out_labels[b, p] = _fuse_at_dev(
            dist[b], labels[b, p], inv_tau, score[b, p], threshold, out_map[b], p, write_map,
            boxes[b], use_boxes, py, p - py * W,
        )


def launch_fuse(dist, labels, score, tau, threshold, out_map, out_labels, width, boxes=None,
                write_map=True, threads=DEFAULT_THREADS, stream=0) -> None:
    """Launch the fusion kernel on device arrays (``labels=None``: per-pixel distances).

    ``boxes`` is a (B, n, 4) float64 device array or None; ``width`` the image width.
    """
    B, P = out_labels.shape
    grid = ((P + threads - 1) // threads, B)
    inv_tau = np.float32(1.0 / tau)
    thr = np.float32(threshold)
    use_boxes = boxes is not None
    if boxes is None:
        boxes = cuda.device_array((B, 1, 4), np.float64, stream=stream)
    if labels is None:
        fuse_pixel_kernel[grid, threads, stream](
            dist, score, inv_tau, thr, out_map, out_labels, bool(write_map), boxes, use_boxes,
            int(width),
        )
    else:
        fuse_superpixel_kernel[grid, threads, stream](
            dist, labels, score, inv_tau, thr, out_map, out_labels, bool(write_map), boxes,
            use_boxes, int(width),
        )


def segment_at(pose_map, row, score, threshold):
    """``segment_instances`` at one pixel: 1 + argmax of ``pose_map[row] * score`` (lowest on
    ties), 0 where ``score < threshold`` or the row is all zero."""
    n = pose_map.shape[1]
    best = -1
    best_f = np.float32(-1.0)
    top = np.float32(0.0)
    for i in range(n):
        p = pose_map[row, i]
        if p > top:
            top = p
        f = p * score
        if f > best_f:
            best_f = f
            best = i
    if n == 0 or score < threshold or top <= 0:
        return 0
    return best + 1


_segment_at_dev = twin(segment_at, device_function())


@cuda.jit(cache=True)
def segment_kernel(pose_map, score, threshold, out):
    """pose_map (P, n) float32, score (P,) float32 -> out (P,) int32 labels; thread per pixel."""
    p = cuda.grid(1)
    if p < out.shape[0]:
        out[p] = _segment_at_dev(pose_map, p, score[p], threshold)
