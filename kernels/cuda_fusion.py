"""Pose-instance map and fusion with the person score, in one pass per pixel (CPU and CUDA).

For each pixel ``p`` of image ``b`` with instance distances ``d_i`` (``i < n``)

* ``P_i = softmax_i(-d_i / tau)``, computed as ``exp(-(d_i - min_j d_j) / tau) / sum``, so it
  never overflows; an instance at distance ``+inf`` gets 0, and where every ``d_i`` is ``+inf``
  (no instance reaches the pixel) every ``P_i`` is 0;
* ``F_i = P_i * score[p]`` (the person score, e.g. a segmentation probability);
* ``label[p] = argmax_i F_i`` (lowest ``i`` on ties) when ``max_i F_i > threshold``, else -1.

The distances come either per pixel, ``(B, n, H*W)``, or per superpixel, ``(B, n, K)`` with a
label image ``(B, H, W)`` that says which column each pixel reads (then no ``(n, H, W)``
distance image is ever formed).  Images with fewer instances are padded with rows of ``+inf``,
which never win.  The map is written ``(B, H*W, n)`` (each pixel's ``n`` probabilities
contiguous, the ``(H, W, n)`` layout of the pose-instance map); ``write_map=False`` skips it.

``fuse_at`` is one plain-Python per-pixel function compiled twice: ``njit`` (``fuse_cpu``) and
``cuda.jit(device=True)`` (``fuse_pixel_kernel`` / ``fuse_superpixel_kernel``, one thread per
pixel, ``grid = (ceil(H*W / threads), B)``).  Arithmetic is float32 (``expf``); CPU and GPU
agree to a few float32 ulps.
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
]

#: Threads per block (one pixel each).
DEFAULT_THREADS = 256


def fuse_at(dist, col, inv_tau, score, threshold, out_map, row, write_map):
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

    Returns
    -------
    int: the winning instance, or -1 (background)
    """
    n = dist.shape[0]
    lo = np.float32(np.inf)
    for i in range(n):
        v = dist[i, col]
        if v < lo:
            lo = v
    total = np.float32(0.0)
    if lo < np.inf:
        for i in range(n):
            total += math.exp(-(dist[i, col] - lo) * inv_tau)
    best = -1
    best_f = np.float32(-np.inf)
    for i in range(n):
        p = np.float32(0.0)
        if total > 0:
            p = math.exp(-(dist[i, col] - lo) * inv_tau) / total
        if write_map:
            out_map[row, i] = p
        f = p * score
        if f > best_f:
            best_f = f
            best = i
    if best_f > threshold:
        return best
    return -1


_fuse_at_cpu = twin(fuse_at, njit(inline="always"))
_fuse_at_dev = twin(fuse_at, device_function())


@njit(cache=True, parallel=True)
def fuse_cpu(dist, labels, use_labels, score, inv_tau, threshold, out_map, out_labels, write_map):
    """CPU twin of the fusion kernels.

    Parameters
    ----------
    dist : (B, n, M) float32; ``M = K`` (superpixels) when ``use_labels``, else ``H * W``
    labels : (B, H * W) int32 column of each pixel (read when ``use_labels``)
    use_labels : bool
    score : (B, H * W) float32
    inv_tau, threshold : float32
    out_map : (B, H * W, n) float32, written when ``write_map``
    out_labels : (B, H * W) int32, written
    write_map : bool
    """
    B, P = out_labels.shape
    for t in prange(B * P):
        b = t // P
        p = t - b * P
        col = labels[b, p] if use_labels else p
        out_labels[b, p] = _fuse_at_cpu(
            dist[b], col, inv_tau, score[b, p], threshold, out_map[b], p, write_map
        )


@cuda.jit(cache=True)
def fuse_pixel_kernel(dist, score, inv_tau, threshold, out_map, out_labels, write_map):
    """dist (B, n, H*W) float32, score (B, H*W) float32 -> out_map (B, H*W, n), out_labels."""
    p = cuda.grid(1)
    b = cuda.blockIdx.y
    if p < out_labels.shape[1]:
        out_labels[b, p] = _fuse_at_dev(
            dist[b], p, inv_tau, score[b, p], threshold, out_map[b], p, write_map
        )


@cuda.jit(cache=True)
def fuse_superpixel_kernel(dist, labels, score, inv_tau, threshold, out_map, out_labels, write_map):
    """dist (B, n, K) float32, labels (B, H*W) int32 -> out_map (B, H*W, n), out_labels."""
    p = cuda.grid(1)
    b = cuda.blockIdx.y
    if p < out_labels.shape[1]:
        out_labels[b, p] = _fuse_at_dev(
            dist[b], labels[b, p], inv_tau, score[b, p], threshold, out_map[b], p, write_map
        )


def launch_fuse(dist, labels, score, tau, threshold, out_map, out_labels, write_map=True,
                threads=DEFAULT_THREADS, stream=0) -> None:
    """Launch the fusion kernel on device arrays (``labels=None``: per-pixel distances).

    ``out_map`` must be a (B, H*W, n) float32 array even when ``write_map`` is False (a
    (B, 1, n) dummy is enough then).
    """
    B, P = out_labels.shape
    grid = ((P + threads - 1) // threads, B)
    inv_tau = np.float32(1.0 / tau)
    thr = np.float32(threshold)
    if labels is None:
        fuse_pixel_kernel[grid, threads, stream](
            dist, score, inv_tau, thr, out_map, out_labels, bool(write_map)
        )
    else:
        fuse_superpixel_kernel[grid, threads, stream](
            dist, labels, score, inv_tau, thr, out_map, out_labels, bool(write_map)
        )
