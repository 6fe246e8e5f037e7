"""Exact shortest paths on CSR graphs (CPU kernels).

* ``multi_source_dijkstra``: one Dijkstra run per instance from all of its seed nodes at once
  (binary heap with lazy deletion), instances in parallel.  O(n (E + K) log K).
* ``floyd_warshall``: all-pairs distances, O(K^3), rows of each k-step in parallel; the paper's
  solver.  ``min_over_seeds`` then takes, per instance, the minimum over its seed rows.

Distances are accumulated in float64 from the float32 weights, so both solvers give the same
float32 result (paths are sums of the same float32 numbers; float64 association differences are
far below float32 rounding).  Unreachable nodes get +inf.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(inline="always")
def _heap_push(hk, hv, size, key, val):
    i = size
    hk[i] = key
    hv[i] = val
    while i > 0:
        parent = (i - 1) >> 1
        if hk[parent] <= hk[i]:
            break
        hk[i], hk[parent] = hk[parent], hk[i]
        hv[i], hv[parent] = hv[parent], hv[i]
        i = parent
    return size + 1


@njit(inline="always")
def _heap_pop(hk, hv, size):
    """Remove the root (caller has read hk[0], hv[0]); return the new size."""
    size -= 1
    hk[0] = hk[size]
    hv[0] = hv[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        small = left
        right = left + 1
        if right < size and hk[right] < hk[left]:
            small = right
        if hk[i] <= hk[small]:
            break
        hk[i], hk[small] = hk[small], hk[i]
        hv[i], hv[small] = hv[small], hv[i]
        i = small
    return size


@njit(cache=True)
def dijkstra_one(indptr, indices, weights, seeds_row, dist):
    """Multi-source Dijkstra from the True entries of ``seeds_row`` into ``dist`` (float64)."""
    K = indptr.shape[0] - 1
    cap = indices.shape[0] + K + 1
    hk = np.empty(cap, np.float64)
    hv = np.empty(cap, np.int64)
    done = np.zeros(K, np.bool_)
    size = 0
    for v in range(K):
        dist[v] = np.inf
    for v in range(K):
        if seeds_row[v]:
            dist[v] = 0.0
            size = _heap_push(hk, hv, size, 0.0, v)
    while size > 0:
        d = hk[0]
        u = hv[0]
        size = _heap_pop(hk, hv, size)
        if done[u]:
            continue
        done[u] = True
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            nd = d + np.float64(weights[e])
            if nd < dist[v]:
                dist[v] = nd
                size = _heap_push(hk, hv, size, nd, v)


@njit(cache=True, parallel=True)
def multi_source_dijkstra(indptr, indices, weights, seeds):
    """(n, K) float32 distances from each instance's seed nodes (rows of ``seeds``)."""
    n, K = seeds.shape
    out = np.empty((n, K), np.float32)
    for i in prange(n):
        dist = np.empty(K, np.float64)
        dijkstra_one(indptr, indices, weights, seeds[i], dist)
        for v in range(K):
            out[i, v] = np.float32(dist[v])
    return out


@njit(cache=True, parallel=True)
def _relax_through(D, k, K):
    """One Floyd–Warshall step: D[i, j] = min(D[i, j], D[i, k] + D[k, j]) for all i, j."""
    for i in prange(K):
        dik = D[i, k]
        if dik != np.inf:
            for j in range(K):
                D[i, j] = min(D[i, j], dik + D[k, j])


@njit(cache=True)
def floyd_warshall(indptr, indices, weights):
    """(K, K) float64 all-pairs shortest path lengths of a CSR graph."""
    K = indptr.shape[0] - 1
    D = np.full((K, K), np.inf)
    for u in range(K):
        D[u, u] = 0.0
        for e in range(indptr[u], indptr[u + 1]):
            w = np.float64(weights[e])
            if w < D[u, indices[e]]:
                D[u, indices[e]] = w
    for k in range(K):
        _relax_through(D, k, K)
    return D


@njit(cache=True, parallel=True)
def min_over_seeds(D, seeds):
    """(n, K) float32: per instance, the minimum of D over its seed rows (+inf if none)."""
    n, K = seeds.shape
    out = np.empty((n, K), np.float32)
    for i in prange(n):
        best = np.full(K, np.inf)
        for s in range(K):
            if seeds[i, s]:
                row = D[s]
                for v in range(K):
                    if row[v] < best[v]:
                        best[v] = row[v]
        for v in range(K):
            out[i, v] = np.float32(best[v])
    return out
