"""Fusion of distances or a pose-instance map with a person score: the per-pixel rule, once.

The per-element functions here are plain Python, compiled twice: ``njit`` for the CPU kernels
below and ``cuda.jit(device=True)`` in :mod:`p2i_prior.kernels.cuda_fusion`.

* :func:`fuse_at`: at one pixel, the softmax over instances of ``-d_i / tau`` (box-gated by
  :func:`gated`) written into the map, and the label ``1 + argmax_i P_i * score`` (lowest ``i``
  on ties), 0 where ``score < threshold`` or no instance reaches the pixel.  Since the softmax is
  decreasing in ``d_i`` and ``score`` is a common factor, that label is the nearest instance
  (up to float32 ties of the probabilities), which is how ``p2i_prior.segment_people`` computes
  it without a map.
* :func:`segment_at`: the same label from a given map row (``segment_instances``).

CPU kernels: :func:`segment_labels` ((H, W, n) map -> labels) and :func:`fuse_cpu` (the CPU
twin of ``cuda_fusion``'s ``fuse_pixel_kernel`` / ``fuse_superpixel_kernel``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._twin import twin

__all__ = ["gated", "fuse_at", "segment_at", "segment_labels", "fuse_cpu"]


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


_gated_cpu = twin(gated, njit(inline="always"))
_fuse_at_cpu = twin(fuse_at, njit(inline="always"), gated=_gated_cpu)
_segment_at_cpu = twin(segment_at, njit(inline="always"))


@njit(cache=True, parallel=True)
def segment_labels(pose_map, score, threshold):
    """(H, W, n) float32 map, (H, W) float32 score -> (H, W) int32 labels (0 = background).

    :func:`segment_at` at every pixel; ``pose_map`` and ``score`` C-contiguous.
    """
    H, W, n = pose_map.shape
    rows = pose_map.reshape((H * W, n))
    flat = score.reshape(H * W)
    out = np.zeros(H * W, np.int32)
    for p in prange(H * W):
        out[p] = _segment_at_cpu(rows, p, flat[p], threshold)
    return out.reshape((H, W))


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
