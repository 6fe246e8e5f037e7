"""Region adjacency graph construction (CPU kernels).

A boundary entry is emitted for every pixel ``p`` (label ``a``) and every *distinct* other
label ``b`` among its 4 neighbours: ``(min(a, b), max(a, b), edge[p])``.  Entries are sorted by
pair and reduced to the mean, then mirrored into a symmetric CSR graph.  The weight of edge
``(a, b)`` is therefore the mean edge strength over the pixels of ``a`` that touch ``b`` and
the pixels of ``b`` that touch ``a``, each pixel once.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(inline="always")
def _distinct_neighbours(labels, r, c, H, W, out):
    """Fill ``out`` with the distinct labels != labels[r, c] among the 4 neighbours; count."""
    a = labels[r, c]
    m = 0
    for d in range(4):
        rr = r + (d == 1) - (d == 0)
        cc = c + (d == 3) - (d == 2)
        if rr < 0 or rr >= H or cc < 0 or cc >= W:
            continue
        b = labels[rr, cc]
        if b == a:
            continue
        seen = False
        for t in range(m):
            if out[t] == b:
                seen = True
        if not seen:
            out[m] = b
            m += 1
    return m


@njit(cache=True, parallel=True)
def boundary_entries(labels, edge, n_labels):
    """Per boundary pixel and neighbouring label: pair key ``a * K + b`` (a < b) and strength.

    Returns ``keys`` (m,) int64 and ``values`` (m,) float64, in row-major pixel order.
    """
    H, W = labels.shape
    row_count = np.zeros(H + 1, np.int64)
    for r in prange(H):
        buf = np.empty(4, labels.dtype)
        cnt = 0
        for c in range(W):
            cnt += _distinct_neighbours(labels, r, c, H, W, buf)
        row_count[r + 1] = cnt
    offsets = np.cumsum(row_count)
    total = offsets[H]
    keys = np.empty(total, np.int64)
    values = np.empty(total, np.float64)
    for r in prange(H):
        buf = np.empty(4, labels.dtype)
        pos = offsets[r]
        for c in range(W):
            m = _distinct_neighbours(labels, r, c, H, W, buf)
            a = labels[r, c]
            for t in range(m):
                b = buf[t]
                lo = min(a, b)
                hi = max(a, b)
                keys[pos] = np.int64(lo) * n_labels + hi
                values[pos] = edge[r, c]
                pos += 1
    return keys, values


@njit(cache=True)
def _sort_rows(indptr, indices, weights, counts):
    """Sort each CSR row by neighbour id, carrying weights and counts along (rows are short)."""
    for v in range(indptr.shape[0] - 1):
        s, e = indptr[v], indptr[v + 1]
        if e - s > 1:
            o = np.argsort(indices[s:e])
            indices[s:e] = indices[s:e][o]
            weights[s:e] = weights[s:e][o]
            counts[s:e] = counts[s:e][o]


@njit(cache=True)
def reduce_to_csr(keys, values, n_labels):
    """Sort entries by pair, average, and mirror into a symmetric CSR graph.

    Returns ``indptr`` (K+1,) int64, ``indices`` (2E,) int32, ``weights`` (2E,) float32,
    ``counts`` (2E,) int32 (boundary pixels behind each edge); neighbours sorted per row.
    """
    order = np.argsort(keys, kind="mergesort")
    m = keys.shape[0]
    # unique pairs
    n_pairs = 0
    for t in range(m):
        if t == 0 or keys[order[t]] != keys[order[t - 1]]:
            n_pairs += 1
    pa = np.empty(n_pairs, np.int64)
    pb = np.empty(n_pairs, np.int64)
    psum = np.zeros(n_pairs, np.float64)
    pcnt = np.zeros(n_pairs, np.int64)
    p = -1
    for t in range(m):
        k = keys[order[t]]
        if t == 0 or k != keys[order[t - 1]]:
            p += 1
            pa[p] = k // n_labels
            pb[p] = k % n_labels
        psum[p] += values[order[t]]
        pcnt[p] += 1
    degree = np.zeros(n_labels + 1, np.int64)
    for q in range(n_pairs):
        degree[pa[q] + 1] += 1
        degree[pb[q] + 1] += 1
    indptr = np.cumsum(degree)
    fill = indptr[:-1].copy()
    indices = np.empty(2 * n_pairs, np.int32)
    weights = np.empty(2 * n_pairs, np.float32)
    counts = np.empty(2 * n_pairs, np.int32)
    # pairs are sorted by (a, b): row a receives b in increasing order; row b receives a in
    # increasing order of a as well, but interleaved with its own larger neighbours, so sort
    # each row afterwards (rows are short).
    for q in range(n_pairs):
        w = np.float32(psum[q] / pcnt[q])
        a = pa[q]
        b = pb[q]
        indices[fill[a]] = b
        weights[fill[a]] = w
        counts[fill[a]] = pcnt[q]
        fill[a] += 1
        indices[fill[b]] = a
        weights[fill[b]] = w
        counts[fill[b]] = pcnt[q]
        fill[b] += 1
    _sort_rows(indptr, indices, weights, counts)
    return indptr, indices, weights, counts


@njit(cache=True)
def hashed_csr(labels, edge, n_labels, slots):
    """The same graph as ``boundary_entries`` + ``reduce_to_csr``, without the sort.

    Every pair ``(a, b)``, ``a < b``, is accumulated in row ``a`` of a per-node open-addressing
    table of ``slots`` entries (a power of two), in row-major pixel order, so sums and counts are
    bit-identical to the sorted path.  Returns ``ok = False`` (and empty arrays) when a node has
    more than ``slots`` larger neighbours; the caller then takes the sorted path.
    """
    H, W = labels.shape
    mask = slots - 1
    keys = np.full((n_labels, slots), -1, np.int64)
    sums = np.zeros((n_labels, slots), np.float64)
    cnts = np.zeros((n_labels, slots), np.int64)
    buf = np.empty(4, labels.dtype)
    for r in range(H):
        for c in range(W):
            m = _distinct_neighbours(labels, r, c, H, W, buf)
            a0 = labels[r, c]
            for t in range(m):
                b0 = buf[t]
                a = min(a0, b0)
                b = max(a0, b0)
                h = (b * 0x9E3779B1) & mask
                found = False
                for _ in range(slots):  # a full row holds no -1: probe at most `slots` times
                    k = keys[a, h]
                    if k == b:
                        found = True
                        break
                    if k == -1:
                        keys[a, h] = b
                        found = True
                        break
                    h = (h + 1) & mask
                if not found:
                    e64 = np.zeros(0, np.int64)
                    return False, e64, np.zeros(0, np.int32), np.zeros(0, np.float32), np.zeros(0, np.int32)
                sums[a, h] += edge[r, c]
                cnts[a, h] += 1
    degree = np.zeros(n_labels + 1, np.int64)
    for a in range(n_labels):
        for h in range(slots):
            b = keys[a, h]
            if b >= 0:
                degree[a + 1] += 1
                degree[b + 1] += 1
    indptr = np.cumsum(degree)
    pos = indptr[:-1].copy()
    total = indptr[n_labels]
    indices = np.empty(total, np.int32)
    weights = np.empty(total, np.float32)
    counts = np.empty(total, np.int32)
    for a in range(n_labels):
        for h in range(slots):
            b = keys[a, h]
            if b >= 0:
                w = np.float32(sums[a, h] / cnts[a, h])
                indices[pos[a]] = b
                weights[pos[a]] = w
                counts[pos[a]] = cnts[a, h]
                pos[a] += 1
                indices[pos[b]] = a
                weights[pos[b]] = w
                counts[pos[b]] = cnts[a, h]
                pos[b] += 1
    _sort_rows(indptr, indices, weights, counts)
    return True, indptr, indices, weights, counts
