"""Exact shortest paths on batches of CSR graphs (CUDA kernels).

A batch of ``G`` graphs is one block-diagonal CSR graph (the "union graph"): graph ``g`` owns
the global nodes ``node_offsets[g] <= v < node_offsets[g + 1]`` and its edges stay among them
(``indices`` are global ids).  ``K_g = node_offsets[g + 1] - node_offsets[g]`` may differ
between graphs; per-graph arrays are padded to ``K = max_g K_g`` with ``+inf``.

Default solver: batched multi-source frontier Bellman–Ford
---------------------------------------------------------
One thread block per instance (a seed set in one graph), persistent for the whole solve: the
block initialises the distances (0 on seeds, ``+inf`` elsewhere), then repeats rounds in which
each thread takes the nodes of the current frontier (nodes whose distance dropped in the last
round) and relaxes their out-edges with ``atomic.min``, flagging improved nodes into the next
frontier, until a round improves nothing.  One launch solves every instance of the batch; no
host round trip between rounds.  Distances are accumulated in float64 along each path from
the float32 weights, like the CPU Dijkstra (``kernels.shortest_paths``): both compute the least
fixed point of ``d[v] = min(d[v], d[u] + w)`` in the same arithmetic, so the results are equal
bit for bit.  Graphs of up to ``SMEM_NODES`` nodes keep the distances and frontier flags in
shared memory (``bf_shared_kernel``); larger ones use a global scratch (``bf_global_kernel``).

All-pairs: blocked Floyd–Warshall (Venkataraman et al. 2003, Katz & Kider 2008)
------------------------------------------------------------------------------
``D`` is ``(G, N, N)`` float32 with ``N = K`` rounded up to the tile ``T`` (padding nodes are
isolated).  For each k-block ``kb`` two launches cover the whole batch:

* ``fw_phase12``: grid ``(N/T, 2, G)``.  Every block loads the diagonal tile ``(kb, kb)`` into
  shared memory and closes it (phase 1); block ``(kb, 0)`` stores it in a scratch buffer, the
  others update their row tile ``(kb, t)`` (``y == 0``) or column tile ``(t, kb)``
  (``y == 1``) against it (phase 2).  Recomputing phase 1 in every block saves a launch and
  keeps the diagonal tile race-free (nobody overwrites it during the launch).
* ``fw_phase3``: grid ``(N/T, N/T, G)``.  Each block loads tiles ``(i, kb)`` and ``(kb, j)``
  into shared memory and each thread updates ``R`` elements of tile ``(i, j)`` in registers
  (``T/R`` thread rows); block ``(kb, kb)`` copies the closed diagonal tile back.

Blocks are ``(T, T / R)`` threads; the default ``T = 32, R = 4`` (256 threads, 8 KB of shared
memory) and kernels for other tiles come from :func:`fw_kernels`.  Floyd–Warshall works in
float32 (min-plus in registers): it agrees with the float64 CPU solver within float32 rounding
(relative 1e-6 on path sums of a few hundred edges).  ``min_over_seeds_kernel`` then takes each
instance's minimum over its seed rows (one block per instance, seeds compacted into shared
memory chunk by chunk).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda, float32, float64, int32, uint8

from ._twin import twin
from .cuda_common import LAUNCH, blocks

__all__ = [
    "SMEM_NODES",
    "fw_init_kernel",
    "fw_edges_kernel",
    "fw_phase12",
    "fw_phase3",
    "fw_kernels",
    "min_over_seeds_kernel",
    "bf_shared_kernel",
    "bf_global_kernel",
    "floyd_warshall_batched",
    "min_over_seeds",
    "bellman_ford_batched",
]

#: Largest graph whose Bellman–Ford state lives in shared memory (float64 + 2 flag bytes each).
SMEM_NODES = 3072


# ----------------------------------------------------------------------------------------------
# Floyd–Warshall
# ----------------------------------------------------------------------------------------------


@cuda.jit(cache=True)
def fw_init_kernel(D):
    """``D[g, i, j] = 0 if i == j else +inf`` for a (G, N, N) float32 array."""
    j, i, g = cuda.grid(3)
    N = D.shape[1]
    if i < N and j < N and g < D.shape[0]:
        D[g, i, j] = 0.0 if i == j else math.inf


@cuda.jit(cache=True)
def fw_edges_kernel(indptr, indices, weights, node_offsets, D):
    """Edge weights into ``D`` (the lightest of parallel edges); one thread per global node."""
    u = cuda.grid(1)
    G = node_offsets.shape[0] - 1
    if u >= node_offsets[G]:
        return
    lo = 0
    hi = G
    while hi - lo > 1:  # the graph g with node_offsets[g] <= u < node_offsets[g + 1]
        mid = (lo + hi) // 2
        if node_offsets[mid] <= u:
            lo = mid
        else:
            hi = mid
    g = lo
    base = node_offsets[g]
    i = u - base
    for e in range(indptr[u], indptr[u + 1]):
        j = indices[e] - base
        w = float32(weights[e])
        if i != j and w < D[g, i, j]:
            D[g, i, j] = w


def _fw_phase12(D, diag_out, kb):
    T = TILE_
    R = ROWS_
    S = T // R
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    t = cuda.blockIdx.x
    side = cuda.blockIdx.y
    g = cuda.blockIdx.z
    if t == kb and side == 1:
        return
    dg = cuda.shared.array((TILE_, TILE_), float32)
    cur = cuda.shared.array((TILE_, TILE_), float32)
    o = kb * T
    for r in range(R):
        y = ty + r * S
        dg[y, tx] = D[g, o + y, o + tx]
    cuda.syncthreads()
    for k in range(T):  # phase 1: close the diagonal tile
        for r in range(R):
            y = ty + r * S
            v = dg[y, k] + dg[k, tx]
            if v < dg[y, tx]:
                dg[y, tx] = v
        cuda.syncthreads()
    if t == kb:
        for r in range(R):
            y = ty + r * S
            diag_out[g, y, tx] = dg[y, tx]
        return
    ot = t * T
    if side == 0:  # row tile (kb, t): cur[i, j] = min(cur[i, j], dg[i, k] + cur[k, j])
        for r in range(R):
            y = ty + r * S
            cur[y, tx] = D[g, o + y, ot + tx]
        cuda.syncthreads()
        for k in range(T):
            for r in range(R):
                y = ty + r * S
                v = dg[y, k] + cur[k, tx]
                if v < cur[y, tx]:
                    cur[y, tx] = v
            cuda.syncthreads()
        for r in range(R):
            y = ty + r * S
            D[g, o + y, ot + tx] = cur[y, tx]
    else:  # column tile (t, kb): cur[i, j] = min(cur[i, j], cur[i, k] + dg[k, j])
        for r in range(R):
            y = ty + r * S
            cur[y, tx] = D[g, ot + y, o + tx]
        cuda.syncthreads()
        for k in range(T):
            for r in range(R):
                y = ty + r * S
                v = cur[y, k] + dg[k, tx]
                if v < cur[y, tx]:
                    cur[y, tx] = v
            cuda.syncthreads()
        for r in range(R):
            y = ty + r * S
            D[g, ot + y, o + tx] = cur[y, tx]


def _fw_phase3(D, diag_in, kb):
    T = TILE_
    R = ROWS_
    S = T // R
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    bj = cuda.blockIdx.x
    bi = cuda.blockIdx.y
    g = cuda.blockIdx.z
    if bi == kb and bj == kb:
        for r in range(R):
            y = ty + r * S
            D[g, kb * T + y, kb * T + tx] = diag_in[g, y, tx]
        return
    if bi == kb or bj == kb:
        return
    col = cuda.shared.array((TILE_, TILE_), float32)  # tile (bi, kb)
    row = cuda.shared.array((TILE_, TILE_), float32)  # tile (kb, bj)
    oi = bi * T
    oj = bj * T
    o = kb * T
    for r in range(R):
        y = ty + r * S
        col[y, tx] = D[g, oi + y, o + tx]
        row[y, tx] = D[g, o + y, oj + tx]
    cuda.syncthreads()
    acc = cuda.local.array(ROWS_, float32)
    for r in range(R):
        acc[r] = D[g, oi + ty + r * S, oj + tx]
    for k in range(T):
        b = row[k, tx]
        for r in range(R):
            v = col[ty + r * S, k] + b
            if v < acc[r]:
                acc[r] = v
    for r in range(R):
        D[g, oi + ty + r * S, oj + tx] = acc[r]


@functools.lru_cache(maxsize=None)
def fw_kernels(tile: int, rows: int):
    """``(phase12, phase3)`` Floyd–Warshall kernels for a tile edge and rows per thread.

    ``tile`` must be a multiple of ``rows``; blocks are ``(tile, tile // rows)`` threads.
    """
    if tile % rows:
        raise ValueError(f"rows: expected a divisor of tile={tile}, got {rows}")
    if (tile, rows) == _PRECOMPILED:
        return fw_phase12, fw_phase3
    consts = {"TILE_": tile, "ROWS_": rows}
    return twin(_fw_phase12, cuda.jit, **consts), twin(_fw_phase3, cuda.jit, **consts)


#: (tile, rows) of the precompiled kernels: the launch table's at import.
_PRECOMPILED = (LAUNCH["tile"], LAUNCH["rows"])
fw_phase12 = twin(_fw_phase12, cuda.jit(cache=True), TILE_=_PRECOMPILED[0], ROWS_=_PRECOMPILED[1])
fw_phase3 = twin(_fw_phase3, cuda.jit(cache=True), TILE_=_PRECOMPILED[0], ROWS_=_PRECOMPILED[1])


def floyd_warshall_batched(indptr, indices, weights, node_offsets, n_pad, tile=None, rows=None,
                           stream=0):
    """All-pairs distances of every graph of a batch.

    Parameters
    ----------
    indptr : (V + 1,) int64 device array, union-graph CSR row pointers
    indices : (2E,) int32 device array, global neighbour ids
    weights : (2E,) float32 device array
    node_offsets : (G + 1,) int64 device array
    n_pad : int, ``N``: a multiple of ``tile`` >= the largest graph's node count

    Returns
    -------
    D : (G, N, N) float32 device array
    """
    tile = LAUNCH["tile"] if tile is None else tile
    rows = LAUNCH["rows"] if rows is None else rows
    G = node_offsets.shape[0] - 1
    N = int(n_pad)
    if N % tile:
        raise ValueError(f"n_pad: expected a multiple of tile={tile}, got {N}")
    D = cuda.device_array((G, N, N), np.float32, stream=stream)
    blk = (16, 16, 1)
    fw_init_kernel[((N + 15) // 16, (N + 15) // 16, G), blk, stream](D)
    V = indptr.shape[0] - 1
    if V:
        threads = LAUNCH["threads"]
        fw_edges_kernel[blocks(V, threads), threads, stream](
            indptr, indices, weights, node_offsets, D
        )
    p12, p3 = fw_kernels(tile, rows)
    nb = N // tile
    threads = (tile, tile // rows, 1)
    diag = cuda.device_array((G, tile, tile), np.float32, stream=stream)
    k12 = p12[(nb, 2, G), threads, stream]
    k3 = p3[(nb, nb, G), threads, stream]
    for kb in range(nb):
        k12(D, diag, kb)
        k3(D, diag, kb)
    return D


@cuda.jit(cache=True)
def min_over_seeds_kernel(D, seeds, inst_graph, node_offsets, out):
    """out[i, v] = min over seeds s of instance i of D[inst_graph[i], s, v]; +inf if none.

    D (G, N, N) float32, seeds (n, K) uint8, inst_graph (n,) int32, node_offsets (G + 1,) int64,
    out (n, K) float32; one block per instance, seeds compacted into shared memory
    ``blockDim.x`` at a time.  Only the columns of the instance's own graph
    (``v < K_g = node_offsets[g + 1] - node_offsets[g] <= N``) are read, seeds included: the
    others are ignored and come back ``+inf``, so a seed array wider than the padding ``N``
    never reads past ``D``.
    """
    i = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    K = out.shape[1]
    g = inst_graph[i]
    Kg = min(K, node_offsets[g + 1] - node_offsets[g], D.shape[1])
    lst = cuda.shared.array(1024, int32)
    cnt = cuda.shared.array(1, int32)
    for v in range(tid, K, nt):
        out[i, v] = math.inf
    for start in range(0, Kg, nt):
        if tid == 0:
            cnt[0] = 0
        cuda.syncthreads()
        s = start + tid
        if s < Kg and seeds[i, s] != 0:
            slot = cuda.atomic.add(cnt, 0, 1)
            lst[slot] = s
        cuda.syncthreads()
        m = cnt[0]
        if m > 0:
            for v in range(tid, Kg, nt):
                best = out[i, v]
                for q in range(m):
                    d = D[g, lst[q], v]
                    if d < best:
                        best = d
                out[i, v] = best
        cuda.syncthreads()


def min_over_seeds(D, seeds, inst_graph, node_offsets, threads=None, stream=0):
    """(n, K) float32 device array: each instance's minimum over its seed rows of ``D``
    (``node_offsets`` (G + 1,) int64 device array: only each graph's own columns count)."""
    threads = LAUNCH["threads"] if threads is None else threads
    n, K = seeds.shape
    if threads > 1024:
        raise ValueError(f"threads: expected at most 1024, got {threads}")
    out = cuda.device_array((n, K), np.float32, stream=stream)
    if n:
        min_over_seeds_kernel[n, threads, stream](D, seeds, inst_graph, node_offsets, out)
    return out


# ----------------------------------------------------------------------------------------------
# Frontier Bellman–Ford
# ----------------------------------------------------------------------------------------------


def bf_block(indptr, indices, weights, base, K, seeds_row, d, cur, nxt, changed, out_row):
    """Multi-source frontier Bellman–Ford of one instance by the calling block.

    ``d`` (float64), ``cur``/``nxt`` (uint8 flags) hold at least ``K`` entries (shared or
    global memory); ``changed`` is a shared (1,) int32; results go to ``out_row`` (float32).
    """
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    for v in range(tid, K, nt):
        s = seeds_row[v] != 0
        d[v] = 0.0 if s else math.inf
        cur[v] = 1 if s else 0
        nxt[v] = 0
    cuda.syncthreads()
    while True:
        if tid == 0:
            changed[0] = 0
        cuda.syncthreads()
        for u in range(tid, K, nt):
            if cur[u] != 0:
                cur[u] = 0
                du = d[u]
                for e in range(indptr[base + u], indptr[base + u + 1]):
                    v = indices[e] - base
                    nd = du + float64(weights[e])
                    if nd < d[v]:
                        old = cuda.atomic.min(d, v, nd)
                        if nd < old:
                            nxt[v] = 1
                            changed[0] = 1
        cuda.syncthreads()
        if changed[0] == 0:
            break
        cur, nxt = nxt, cur
        cuda.syncthreads()
    for v in range(tid, K, nt):
        out_row[v] = float32(d[v])
    for v in range(K + tid, out_row.shape[0], nt):
        out_row[v] = math.inf


_bf_block = cuda.jit(device=True)(bf_block)


@cuda.jit(cache=True)
def bf_shared_kernel(indptr, indices, weights, node_offsets, seeds, inst_graph, out):
    """Bellman–Ford with the state in shared memory (graphs of <= SMEM_NODES nodes).

    indptr (V+1,) int64, indices (2E,) int32, weights (2E,) float32, node_offsets (G+1,) int64,
    seeds (n, K) uint8, inst_graph (n,) int32, out (n, K) float32; grid = n blocks.
    """
    i = cuda.blockIdx.x
    g = inst_graph[i]
    base = node_offsets[g]
    K = node_offsets[g + 1] - base
    d = cuda.shared.array(SMEM_NODES, float64)
    f0 = cuda.shared.array(SMEM_NODES, uint8)
    f1 = cuda.shared.array(SMEM_NODES, uint8)
    changed = cuda.shared.array(1, int32)
    _bf_block(indptr, indices, weights, base, K, seeds[i], d, f0, f1, changed, out[i])


@cuda.jit(cache=True)
def bf_global_kernel(indptr, indices, weights, node_offsets, seeds, inst_graph, dist, flags, out):
    """Bellman–Ford with the state in global scratch: dist (n, K) float64, flags (n, 2, K) uint8."""
    i = cuda.blockIdx.x
    g = inst_graph[i]
    base = node_offsets[g]
    K = node_offsets[g + 1] - base
    changed = cuda.shared.array(1, int32)
    _bf_block(indptr, indices, weights, base, K, seeds[i], dist[i], flags[i, 0], flags[i, 1],
              changed, out[i])


def bellman_ford_batched(indptr, indices, weights, node_offsets, seeds, inst_graph,
                         threads=None, force_global=False, stream=0):
    """(n, K) float32 device array of multi-source distances, one block per instance.

    ``seeds`` is an (n, K) uint8 device array (``K`` = the largest graph's node count, the
    columns past an instance's own graph are ignored and come back ``+inf``); ``inst_graph``
    (n,) int32 says which graph each instance lives in.
    """
    threads = LAUNCH["bf"] if threads is None else threads
    n, K = seeds.shape
    out = cuda.device_array((n, K), np.float32, stream=stream)
    if n == 0:
        return out
    if K <= SMEM_NODES and not force_global:
        bf_shared_kernel[n, threads, stream](indptr, indices, weights, node_offsets, seeds,
                                             inst_graph, out)
    else:
        dist = cuda.device_array((n, K), np.float64, stream=stream)
        flags = cuda.device_array((n, 2, K), np.uint8, stream=stream)
        bf_global_kernel[n, threads, stream](indptr, indices, weights, node_offsets, seeds,
                                             inst_graph, dist, flags, out)
    return out
