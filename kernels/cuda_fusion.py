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

import numpy as np
from numba import cuda

from ._twin import twin
from .cuda_common import LAUNCH, device_function
from .fusion import fuse_at, gated, segment_at

__all__ = [
    "fuse_pixel_kernel",
    "fuse_superpixel_kernel",
    "launch_fuse",
    "segment_kernel",
]


_gated_dev = twin(gated, device_function())
_fuse_at_dev = twin(fuse_at, device_function(), gated=_gated_dev)


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
                write_map=True, threads=None, stream=0) -> None:
    """Launch the fusion kernel on device arrays (``labels=None``: per-pixel distances).

    ``boxes`` is a (B, n, 4) float64 device array or None; ``width`` the image width.
    """
    threads = LAUNCH["fuse"] if threads is None else threads
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


_segment_at_dev = twin(segment_at, device_function())


@cuda.jit(cache=True)
def segment_kernel(pose_map, score, threshold, out):
    """pose_map (P, n) float32, score (P,) float32 -> out (P,) int32 labels; thread per pixel."""
    p = cuda.grid(1)
    if p < out.shape[0]:
        out[p] = _segment_at_dev(pose_map, p, score[p], threshold)
