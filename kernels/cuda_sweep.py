"""Parallel fast sweeping on the pixel grid (CUDA kernel), many instances at once.

The CUDA port of :mod:`p2i_prior.kernels.sweep`: the same Godunov update
(``godunov_update``, compiled here with ``numba.cuda.jit(device=True)``), the same four
orderings (sweep ``s`` uses ordering ``s % 4``), the same stopping rule (stop after the first
sweep whose largest decrease is ``<= tol``).  Each ordering is swept along anti-diagonals
(Detrixhe, Gibou & Min 2013): all nodes of diagonal ``ii + jj = d`` (in the ordering's
orientation) are updated in parallel, then the block synchronises and moves to ``d + 1``.
As the CPU module explains, node ``(ii, jj)`` then reads exactly the neighbour values the
row-major Gauss–Seidel sweep reads, so values and sweep counts are the CPU's, bit for bit,
as long as both evaluate the update with the same float operations.  (The CUDA compiler may
contract ``2 f^2 - d^2`` into a fused multiply-add, which changes the last bit of some
updates: then the values agree within float32 rounding and sweep counts may differ by one.)

Layout: one thread block per instance, persistent over all of its sweeps (one launch for
every instance of a batch, no host round trip per sweep).  The block writes its instance's
``(H, W)`` float32 output in place; neighbours outside the image count as ``+inf``.  The
speed is given as slowness planes ``(S, H, W)`` float64 (``1 / speed``) with ``plane[i]``
saying which plane instance ``i`` uses, so B images of one size with several instances each
sweep together.  The CPU's "locking" (skip nodes none of whose neighbours changed) only
saves work; this kernel evaluates every node of every diagonal, which gives the same values.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32, float64, int32

from .cuda_common import LAUNCH
from .sweep import godunov_update

__all__ = [
    "sweep_kernel",
    "sweep_batched",
    "column_sums_kernel",
    "row_total_kernel",
    "image_sums",
    "edge_slowness_kernel",
    "reciprocal_kernel",
]

_godunov = cuda.jit(device=True)(godunov_update)


@cuda.jit(cache=True)
def sweep_kernel(seeds, slowness, plane, uniform, max_sweeps, tol, out, sweeps, last_change):
    """Sweep every instance to convergence; one block per instance.

    Parameters
    ----------
    seeds : (n, H, W) uint8, nonzero on seed pixels
    slowness : (S, H, W) float64, ``1 / speed`` (not read when ``uniform``)
    plane : (n,) int32, the slowness plane of each instance
    uniform : bool, unit speed
    max_sweeps : int >= 1
    tol : float >= 0
    out : (n, H, W) float32, written: travel times (+inf everywhere without a seed)
    sweeps : (n,) int64, written: sweeps run (0 without a seed)
    last_change : (n,) float64, written: largest decrease in the last sweep
    """
    k = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    H = out.shape[1]
    W = out.shape[2]
    u = out[k]
    sd = seeds[k]
    f_plane = slowness[plane[k]]
    any_seed = cuda.shared.array(1, int32)
    change = cuda.shared.array(1, float64)
    if tid == 0:
        any_seed[0] = 0
    cuda.syncthreads()
    for p in range(tid, H * W, nt):
        r = p // W
        c = p - r * W
        if sd[r, c] != 0:
            u[r, c] = 0.0
            any_seed[0] = 1
        else:
            u[r, c] = math.inf
    cuda.syncthreads()
    s = 0
    last = 0.0
    if any_seed[0] != 0:
        while s < max_sweeps:
            o = s % 4
            rows_down = o == 0 or o == 3
            cols_right = o == 0 or o == 1
            if tid == 0:
                change[0] = 0.0
            my_change = 0.0
            cuda.syncthreads()
            for dg in range(H + W - 1):
                lo = max(0, dg - W + 1)
                hi = min(dg, H - 1)
                for ii in range(lo + tid, hi + 1, nt):
                    jj = dg - ii
                    i = ii if rows_down else H - 1 - ii
                    j = jj if cols_right else W - 1 - jj
                    old = u[i, j]
                    if old != 0.0:
                        up = u[i - 1, j] if i > 0 else float32(math.inf)
                        dn = u[i + 1, j] if i < H - 1 else float32(math.inf)
                        lf = u[i, j - 1] if j > 0 else float32(math.inf)
                        rt = u[i, j + 1] if j < W - 1 else float32(math.inf)
                        a = min(float64(up), float64(dn))
                        b = min(float64(lf), float64(rt))
                        f = 1.0 if uniform else f_plane[i, j]
                        new = float32(_godunov(a, b, f))
                        if new < old:
                            u[i, j] = new
                            delta = float64(old) - float64(new)
                            if delta > my_change:
                                my_change = delta
                cuda.syncthreads()
            if my_change > 0.0:
                cuda.atomic.max(change, 0, my_change)
            cuda.syncthreads()
            last = change[0]
            s += 1
            cuda.syncthreads()
            if last <= tol:
                break
    if tid == 0:
        sweeps[k] = s
        last_change[k] = last


def sweep_batched(seeds, slowness, plane, uniform: bool, max_sweeps: int, tol: float,
                  threads=None, stream=0):
    """Launch :func:`sweep_kernel`; returns ``(out, sweeps, last_change)`` device arrays.

    ``threads`` per block (one block per instance; a diagonal is at most min(H, W) nodes long),
    default ``LAUNCH["sweep"]``.
    """
    threads = LAUNCH["sweep"] if threads is None else threads
    n, H, W = seeds.shape
    out = cuda.device_array((n, H, W), np.float32, stream=stream)
    sweeps = cuda.device_array(n, np.int64, stream=stream)
    last_change = cuda.device_array(n, np.float64, stream=stream)
    if n:
        sweep_kernel[n, threads, stream](seeds, slowness, plane, bool(uniform), int(max_sweeps),
                                         float(tol), out, sweeps, last_change)
    return out, sweeps, last_change


@cuda.jit(cache=True)
def column_sums_kernel(values, out):
    """out[b, c] = sum over rows r of values[b, r, c], in row order (float64); one thread per
    column (consecutive threads read consecutive columns: coalesced), grid (ceil(W / t), B)."""
    c = cuda.grid(1)
    b = cuda.blockIdx.y
    if b < values.shape[0] and c < values.shape[2]:
        acc = float64(0.0)
        for r in range(values.shape[1]):
            acc += float64(values[b, r, c])
        out[b, c] = acc


@cuda.jit(cache=True)
def row_total_kernel(parts, out):
    """out[b] = sum of parts[b, :] in order (float64); one thread per image."""
    b = cuda.grid(1)
    if b < parts.shape[0]:
        acc = float64(0.0)
        for c in range(parts.shape[1]):
            acc += parts[b, c]
        out[b] = acc


def image_sums(values, threads=None, stream=0):
    """(B,) float64 device array: the sum of each (H, W) image of the (B, H, W) ``values``.

    Columns first, then the column sums, each in a fixed order: the same bits on every run
    (float atomics would add in a varying order).
    """
    threads = LAUNCH["threads"] if threads is None else threads
    B, H, W = values.shape
    parts = cuda.device_array((B, W), np.float64, stream=stream)
    out = cuda.device_array(B, np.float64, stream=stream)
    if B:
        column_sums_kernel[((W + threads - 1) // threads, B), threads, stream](values, parts)
        row_total_kernel[(B + threads - 1) // threads, threads, stream](parts, out)
    return out


@cuda.jit(cache=True)
def edge_slowness_kernel(edge, sums, edge_weight, out):
    """Geodesic slowness ``1 + edge_weight * edge / mean(edge)`` per image (1 where the mean is 0).

    edge (B, H, W) float32, sums (B,) float64 (each image's sum), out (B, H, W) float64: the
    reciprocal of the host pipeline's default speed ``1 / (1 + w * sobel / mean)``.
    """
    c, r, b = cuda.grid(3)
    B, H, W = out.shape
    if b < B and r < H and c < W:
        mean = sums[b] / (H * W)
        if mean > 0:
            out[b, r, c] = 1.0 + edge_weight * float64(edge[b, r, c]) / mean
        else:
            out[b, r, c] = 1.0


@cuda.jit(cache=True)
def reciprocal_kernel(speed, out):
    """out = 1 / speed, (S, H, W) any real -> float64."""
    c, r, b = cuda.grid(3)
    if b < out.shape[0] and r < out.shape[1] and c < out.shape[2]:
        out[b, r, c] = 1.0 / float64(speed[b, r, c])
