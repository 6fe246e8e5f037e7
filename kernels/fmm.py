"""First-order fast marching for ``|grad u| = f`` on the pixel grid (CPU), instances in parallel.

Sethian (1996) / Tsitsiklis (1995): nodes are accepted in increasing order of ``u``, each
trial node's value being the first-order Godunov update of its *accepted* neighbours
(:func:`p2i_prior.kernels.sweep.godunov_update`, the same float64 arithmetic and float32
storage as fast sweeping).  The update at a node reads only neighbours smaller than its result
(one-sided when ``|a - b| >= f``), so accepting in increasing order solves the same discrete
equations the Gauss–Seidel sweeps of :mod:`p2i_prior.kernels.sweep` converge to, in one pass:
the values agree with converged fast sweeping to float32 rounding, and with
``skfmm.travel_time(phi, speed, order=1)`` for ``phi = 0`` on the seeds.

Layout: accepted values live in a padded ``(H + 2, W + 2)`` float32 array whose border and
unaccepted nodes are ``+inf``, so a node's update reads its four neighbours with no bounds
tests and no state flags; tentative values live in a second padded array whose border is
``-inf`` (a border node can never improve, so it is never queued).  The queue is a 4-ary
min-heap of ``(value, flat index)`` with decrease-key (``pos`` holds each trial node's slot):
every node enters it once and leaves it once.  Its arrays are allocated at their largest size
up front: numba reference-counts an array variable that a loop may reassign, and growing the
heap inside the loop made the march 2x slower.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .sweep import godunov_update_cpu

__all__ = ["march_instance", "march_instances", "pad_slowness"]


@njit(cache=True, inline="always")
def _sift_up(keys, nodes, pos, i, key, node):
    """Place ``(key, node)`` at slot ``i`` or above (a 4-ary min-heap), updating ``pos``."""
    while i > 0:
        parent = (i - 1) >> 2
        pk = keys[parent]
        if pk <= key:
            break
        keys[i] = pk
        moved = nodes[parent]
        nodes[i] = moved
        pos[moved] = i
        i = parent
    keys[i] = key
    nodes[i] = node
    pos[node] = i


@njit(cache=True, inline="always")
def _sift_down(keys, nodes, pos, size, key, node):
    """Place ``(key, node)`` at the root or below (heap of ``size`` entries), updating ``pos``."""
    i = 0
    while True:
        c = 4 * i + 1
        if c >= size:
            break
        if c + 3 < size:  # four children: a branch-free tournament (selects, no jumps)
            k0 = keys[c]
            k1 = keys[c + 1]
            k2 = keys[c + 2]
            k3 = keys[c + 3]
            lo01 = k1 < k0
            b01 = c + 1 if lo01 else c
            m01 = k1 if lo01 else k0
            lo23 = k3 < k2
            b23 = c + 3 if lo23 else c + 2
            m23 = k3 if lo23 else k2
            lo = m23 < m01
            best = b23 if lo else b01
            bk = m23 if lo else m01
        else:
            best = c
            bk = keys[c]
            for d in range(c + 1, size):
                kd = keys[d]
                if kd < bk:
                    bk = kd
                    best = d
        if bk >= key:
            break
        keys[i] = bk
        moved = nodes[best]
        nodes[i] = moved
        pos[moved] = i
        i = best
    keys[i] = key
    nodes[i] = node
    pos[node] = i


@njit(cache=True)
def march_instance(seeds, slow_pad, uniform, out):
    """Fast marching from one instance's seed pixels; writes ``out`` and returns the number of
    accepted nodes (0 without seeds: ``out`` is then all ``+inf``).

    Parameters
    ----------
    seeds : (H, W) bool ndarray
    slow_pad : ((H + 2) * (W + 2),) float64 ndarray
        ``1 / speed`` (finite, > 0) on the padded grid, flat (:func:`pad_slowness`); any array
        when ``uniform``.
    uniform : bool
        Unit speed (``slow_pad`` not read).
    out : (H, W) float32 ndarray, written
    """
    H, W = seeds.shape
    W2 = W + 2
    N2 = (H + 2) * W2
    u = np.full(N2, np.inf, np.float32)
    t = np.full(N2, -np.inf, np.float32)
    pos = np.full(N2, -1, np.int32)
    for i in range(1, H + 1):
        t[i * W2 + 1:i * W2 + W + 1] = np.inf
    keys = np.empty(H * W, np.float32)  # each node is in the heap at most once
    nodes = np.empty(H * W, np.int32)
    size = 0
    for i in range(H):
        for j in range(W):
            if seeds[i, j]:
                p = (i + 1) * W2 + j + 1
                t[p] = 0.0
                _sift_up(keys, nodes, pos, size, np.float32(0.0), p)
                size += 1
    accepted = 0
    while size > 0:
        key = keys[0]
        p = nodes[0]
        size -= 1
        if size > 0:
            _sift_down(keys, nodes, pos, size, keys[size], nodes[size])
        pos[p] = -1
        u[p] = key
        accepted += 1
        for side in range(4):
            if side == 0:
                q = p - W2
            elif side == 1:
                q = p + W2
            elif side == 2:
                q = p - 1
            else:
                q = p + 1
            tq = t[q]
            if u[q] != np.inf or tq == -np.inf:
                continue  # accepted, or outside the image
            a = min(np.float64(u[q - W2]), np.float64(u[q + W2]))
            b = min(np.float64(u[q - 1]), np.float64(u[q + 1]))
            f = 1.0 if uniform else slow_pad[q]
            new = np.float32(godunov_update_cpu(a, b, f))
            if new < tq:
                t[q] = new
                at = pos[q]
                if at < 0:  # a new trial node
                    at = size
                    size += 1
                _sift_up(keys, nodes, pos, at, new, q)  # insert, or decrease its key
    for i in range(H):
        row = (i + 1) * W2 + 1
        for j in range(W):
            out[i, j] = u[row + j]
    return accepted


@njit(cache=True)
def pad_slowness(slowness):
    """(H, W) slowness -> the flat ((H + 2) * (W + 2),) padded copy the march reads (border 1)."""
    H, W = slowness.shape
    W2 = W + 2
    pad = np.ones((H + 2) * W2, np.float64)
    for i in range(H):
        pad[(i + 1) * W2 + 1:(i + 1) * W2 + W + 1] = slowness[i]
    return pad


@njit(cache=True, parallel=True)
def march_instances(seeds, slowness, uniform):
    """(n, H, W) bool seeds, (H, W) float64 slowness (or (1, 1) when ``uniform``) -> (n, H, W)
    float32 travel times, instances in parallel (one instance is one sequential march)."""
    n, H, W = seeds.shape
    out = np.empty((n, H, W), np.float32)
    slow_pad = np.ones(1, np.float64) if uniform else pad_slowness(slowness)
    for k in prange(n):
        march_instance(seeds[k], slow_pad, uniform, out[k])
    return out
