"""Exact Euclidean distance transform of seed masks (CPU), separable and linear time.

The squared distance from pixel ``(i, j)`` to the nearest seed is
``min_q ((j - q)**2 + g(i, q)**2)`` where ``g(i, q)`` is the distance along column ``q`` from
row ``i`` to the nearest seed of that column (Saito & Toriwaki 1994).  Two passes:

1. columns: ``g`` by a top-down and a bottom-up scan (``+inf`` for a column without seeds);
2. rows: the lower envelope of the parabolas ``x -> (x - q)**2 + g(i, q)**2`` over the finite
   columns ``q``, then its value at every ``x`` (Felzenszwalb & Huttenlocher 2012, *Distance
   transforms of sampled functions*, Theory of Computing 8).

Exactness: every quantity is an integer until the final square root.  The envelope compares
the parabolas' intersections ``N / D`` by cross-multiplication in int64 (no division), and
each envelope segment's last pixel is ``floor(N / D)``; so the squared distances are exact
integers and ``float32(sqrt(float64(d2)))`` is the correctly rounded distance (scipy's
``distance_transform_edt`` in float64, rounded to float32, bit for bit).

Layout: ``g`` is stored in the output array (float32, integer values, exact below 2**24) and
each row is replaced in place by its distances: the envelope keeps its own copy of the values
it needs (``fv``), so the fill may overwrite the row it was built from.

The per-line envelope :func:`envelope_line` is a plain function compiled for the CPU here and
for CUDA in :mod:`p2i_prior.kernels.cuda_edt` (there it runs down columns, one thread each).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._twin import twin

__all__ = ["envelope_line", "envelope_line_cpu", "column_pass", "edt_instances", "COLUMN_BLOCK"]

#: Columns one task of the column pass scans (its slice of a row is 512 bytes of float32).
COLUMN_BLOCK = 128
#: Rows one task of the row pass transforms (its envelope buffers are allocated once per task).
ROW_BLOCK = 16


def envelope_line(line, v, fv):
    """Exact 1-D distance transform of one line, in place.

    Parameters
    ----------
    line : (L,) float32 array (may be a strided view)
        On entry ``g``: non-negative integer values, ``+inf`` where the line's column holds no
        seed.  On exit ``sqrt(min_q ((x - q)**2 + g[q]**2))`` at every ``x``, correctly
        rounded to float32; all ``+inf`` if every entry was ``+inf``.
    v : (>= L,) integer array (int32 or int64; may be a strided view)
        Scratch: the apexes ``q`` of the envelope's parabolas, increasing.
    fv : (>= L,) integer array
        Scratch: ``g[q]**2 + q**2`` of each envelope parabola; it must hold ``L**2 + max(g)**2``
        (int32 is enough below 32768 x 32768 images).

    Returns
    -------
    int
        The number of parabolas on the envelope (0 for an all-``inf`` line).

    Notes
    -----
    Segment ``k >= 1`` of the envelope starts at the intersection of parabolas ``k - 1`` and
    ``k``, ``s_k = N_k / D_k`` with ``N_k = fv[k] - fv[k - 1]`` and ``D_k = 2 (v[k] - v[k - 1])
    > 0``; intersections are compared by cross-multiplication in int64 and a segment's last
    pixel is ``floor(N / D)``, so no rounding enters before the square root.
    """
    L = line.shape[0]
    k = -1
    for q in range(L):
        gq = line[q]
        if gq == math.inf:
            continue
        gi = np.int64(gq)
        q64 = np.int64(q)
        fq = gi * gi + q64 * q64
        while k >= 0:
            vk = np.int64(v[k])
            fk = np.int64(fv[k])
            n_s = fq - fk  # intersection with the last parabola: s = n_s / d_s
            d_s = 2 * (q64 - vk)
            if k == 0:
                break
            vp = np.int64(v[k - 1])
            n_k = fk - np.int64(fv[k - 1])  # start of segment k: n_k / d_k
            d_k = 2 * (vk - vp)
            if n_s * d_k > n_k * d_s:
                break
            k -= 1  # s <= start of segment k: parabola k is nowhere lowest
        k += 1
        v[k] = q
        fv[k] = fq
    if k < 0:
        return 0
    lo = 0
    for s in range(k + 1):
        vs = np.int64(v[s])
        if s == k:
            hi = L - 1
        else:
            n_e = np.int64(fv[s + 1]) - np.int64(fv[s])
            hi = -1 if n_e < 0 else n_e // (2 * (np.int64(v[s + 1]) - vs))  # last x <= N / D
            if hi > L - 1:
                hi = L - 1
        if hi < lo:
            continue
        # float64 holds these integers exactly; AVX2 converts int32 (not int64) to float
        gs = np.float64(np.int64(fv[s]) - vs * vs)  # g[v]**2
        v32 = np.int32(vs)
        far = max(abs(lo - vs), abs(hi - vs))
        if far * far + gs < 16777216.0:
            # every d2 < 2**24 is exact in float32, whose sqrt is then the correctly rounded
            # distance (the same float32 as via float64: double rounding is harmless for sqrt)
            gs32 = np.float32(gs)
            for x in range(lo, hi + 1):
                d32 = np.float32(np.int32(x) - v32)
                line[x] = math.sqrt(d32 * d32 + gs32)
        else:
            for x in range(lo, hi + 1):
                d = np.float64(np.int32(x) - v32)
                line[x] = np.float32(math.sqrt(d * d + gs))
        lo = hi + 1
    return k + 1


envelope_line_cpu = twin(envelope_line, njit(cache=True, inline="always"))


@njit(cache=True, parallel=True)
def column_pass(seeds, out):
    """``out[k, i, j]`` = rows from ``(i, j)`` to the nearest seed of column ``j`` (``+inf``
    if none): a top-down then a bottom-up scan, a block of columns per task.

    seeds : (n, H, W) bool; out : (n, H, W) float32, written.
    """
    n, H, W = seeds.shape
    nb = (W + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    for t in prange(n * nb):
        k = t // nb
        j0 = (t - k * nb) * COLUMN_BLOCK
        j1 = min(W, j0 + COLUMN_BLOCK)
        sd = seeds[k]
        g = out[k]
        # 1-d row slices: LLVM vectorises these loops (2-d indexing of one array it does not)
        cur = g[0, j0:j1]
        s = sd[0, j0:j1]
        for j in range(j1 - j0):
            cur[j] = np.float32(0.0) if s[j] else np.float32(np.inf)
        for i in range(1, H):
            prev = g[i - 1, j0:j1]
            cur = g[i, j0:j1]
            s = sd[i, j0:j1]
            for j in range(j1 - j0):
                cur[j] = np.float32(0.0) if s[j] else prev[j] + np.float32(1.0)
        for i in range(H - 2, -1, -1):
            nxt = g[i + 1, j0:j1]
            cur = g[i, j0:j1]
            for j in range(j1 - j0):
                cur[j] = min(cur[j], nxt[j] + np.float32(1.0))


@njit(cache=True, parallel=True)
def row_pass(out):
    """Replace every row of ``out`` (n, H, W) float32 (the column pass's ``g``) by its exact
    Euclidean distances, :data:`ROW_BLOCK` rows per task."""
    n, H, W = out.shape
    rows = n * H
    nb = (rows + ROW_BLOCK - 1) // ROW_BLOCK
    for t in prange(nb):
        v = np.empty(W, np.int64)
        fv = np.empty(W, np.int64)
        for r in range(t * ROW_BLOCK, min(rows, (t + 1) * ROW_BLOCK)):
            k = r // H
            envelope_line_cpu(out[k, r - k * H], v, fv)


def edt_instances(seeds: np.ndarray) -> np.ndarray:
    """(n, H, W) bool seeds -> (n, H, W) float32 exact Euclidean distance to each instance's
    nearest seed (pixel centres, unit spacing); ``+inf`` for an instance without seeds."""
    out = np.empty(seeds.shape, np.float32)
    if out.size:
        column_pass(seeds, out)
        row_pass(out)
    return out
