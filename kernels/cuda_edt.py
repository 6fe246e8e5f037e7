"""Exact Euclidean distance transform on the GPU (CUDA kernels), many instances at once.

The CUDA twin of :mod:`p2i_prior.kernels.edt`, with the two passes in the other order (the
transform is separable, and exact in either order, so the values are the CPU's bit for bit):

1. :func:`row_scan_kernel`, one thread per row per instance: the distance along the row to
   the row's nearest seed (a left-to-right then a right-to-left scan; ``+inf`` without one);
2. :func:`column_envelope_kernel`, one thread per column per instance: the lower envelope of
   parabolas down the column, :func:`p2i_prior.kernels.edt.envelope_line` compiled for the
   device, in place.  Neighbouring threads own neighbouring columns, so every load and store of
   a warp touches consecutive addresses (coalesced), including the scratch arrays, which are
   laid out like the image.

Scratch: ``v`` and ``fv`` (n, H, W) int32 (8 bytes a pixel; int32 holds ``fv`` below
32768 x 32768 images, :func:`edt_batched` refuses larger ones).
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32

from ._twin import twin
from .cuda_common import LAUNCH
from .edt import envelope_line

__all__ = ["row_scan_kernel", "column_envelope_kernel", "edt_batched", "MAX_SIDE"]

_envelope = twin(envelope_line, cuda.jit(device=True))

#: Largest image side the int32 scratch supports (``H**2 + W**2 < 2**31``).
MAX_SIDE = 32767


@cuda.jit(cache=True)
def row_scan_kernel(seeds, out):
    """``out[k, i, j]``: columns from ``(i, j)`` to the nearest seed of row ``i``.

    seeds (n, H, W) uint8, nonzero on seeds; out (n, H, W) float32, written (``+inf`` on a row
    without seeds).  One thread per row of every instance.
    """
    t = cuda.grid(1)
    n, H, W = out.shape
    if t >= n * H:
        return
    k = t // H
    i = t - k * H
    sd = seeds[k, i]
    row = out[k, i]
    run = float32(math.inf)
    for j in range(W):
        run = float32(0.0) if sd[j] != 0 else run + float32(1.0)
        row[j] = run
    run = float32(math.inf)
    for j in range(W - 1, -1, -1):
        run = min(row[j], run + float32(1.0))
        row[j] = run


@cuda.jit(cache=True)
def column_envelope_kernel(out, v, fv):
    """Replace every column of ``out`` (n, H, W) float32 (the row distances) by the exact
    Euclidean distances; ``v``, ``fv`` (n, H, W) int32 scratch.  One thread per column."""
    t = cuda.grid(1)
    n, H, W = out.shape
    if t >= n * W:
        return
    k = t // W
    j = t - k * W
    _envelope(out[k, :, j], v[k, :, j], fv[k, :, j])


def edt_batched(seeds, threads=None, stream=0):
    """Exact Euclidean distances of (n, H, W) uint8 device seeds: an (n, H, W) float32 device
    array (``+inf`` for an instance without seeds).  ``threads`` per block, default
    ``LAUNCH["threads"]``."""
    threads = LAUNCH["threads"] if threads is None else threads
    n, H, W = seeds.shape
    if max(H, W) > MAX_SIDE:
        raise ValueError(f"seeds_mask: expected H and W <= {MAX_SIDE} on the GPU, got {(H, W)}")
    out = cuda.device_array((n, H, W), np.float32, stream=stream)
    if out.size:
        v = cuda.device_array((n, H, W), np.int32, stream=stream)
        fv = cuda.device_array((n, H, W), np.int32, stream=stream)
        row_scan_kernel[-(-(n * H) // threads), threads, stream](seeds, out)
        column_envelope_kernel[-(-(n * W) // threads), threads, stream](out, v, fv)
    return out
