"""Fast sweeping for the eikonal equation ``|grad u| = f`` on the pixel grid (CPU).

Zhao (2005), *A fast sweeping method for Eikonal equations*, Math. Comp. 74: Gauss–Seidel
sweeps over the grid in the four alternating orderings

    sweep 0: rows top -> bottom, columns left -> right
    sweep 1: rows bottom -> top, columns left -> right
    sweep 2: rows bottom -> top, columns right -> left
    sweep 3: rows top -> bottom, columns right -> left

(sweep ``s`` uses ordering ``s % 4``), each node taking the first-order Godunov upwind update
:func:`godunov_update` of its four neighbours (grid spacing 1, ``f = 1 / speed``), until a
sweep changes no value by more than ``tol``.

Discrete facts the tests rely on (exact arithmetic; float rounding aside)
--------------------------------------------------------------------------
* ``min(a, b) + f / sqrt(2) <= godunov_update(a, b, f) <= min(a, b) + f``, so the converged
  ``u`` lies between ``D / sqrt(2)`` and ``D``, where ``D`` is the 4-connected path cost to
  the nearest seed with node weights ``f`` (the Manhattan distance for unit speed).
* The update is monotone and commutes with scaling: ``u(c * speed) == u(speed) / c``.
* Stopping rule: a sweep whose largest decrease is ``<= tol`` leaves a state with residual
  ``u <= update(u) + tol`` everywhere (the update is 1-Lipschitz in the max norm and each
  node changes at most once per sweep); with ``tol = 0`` it is the exact fixed point of the
  discrete scheme, the same system first-order fast marching solves.

CPU/GPU parity
--------------
The CUDA port sweeps each ordering along anti-diagonals (Detrixhe, Gibou & Min 2013, J.
Comput. Phys. 237): all nodes of diagonal ``i + j = d`` (in the ordering's orientation) are
updated in parallel, diagonal after diagonal.  In both schemes node ``(i, j)`` reads its two
upwind neighbours (on diagonal ``d - 1``) already updated in this sweep and its two downwind
neighbours (diagonal ``d + 1``) not yet updated, so the row-major CPU sweep computes
exactly the same values, sweep for sweep, as the parallel anti-diagonal sweep: the results
and sweep counts agree bit for bit provided the update is evaluated with the same float
operations (float64 arithmetic, IEEE ``sqrt``, no fused multiply-add contraction), which is
why the update lives in one plain function compiled for both targets.

Layout: the working array is padded with a one-pixel border of ``+inf`` so the inner loop
has no boundary tests; values are stored as float32 and the update is computed in float64.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "godunov_update",
    "godunov_update_cpu",
    "sweep_once",
    "solve_instance",
    "sweep_instances",
    "sweep_instances_serial",
]


def godunov_update(a, b, f):
    """First-order Godunov upwind solution at one node of ``|grad u| = f`` (spacing 1).

    Parameters
    ----------
    a : float
        ``min`` of the node's two vertical neighbours (``inf`` if neither is known).
    b : float
        ``min`` of the node's two horizontal neighbours.
    f : float
        Slowness ``1 / speed`` at the node, finite and > 0.

    Returns
    -------
    float
        The largest ``u`` with ``max(u - a, 0)**2 + max(u - b, 0)**2 == f**2``: ``min(a, b) + f``
        when ``|a - b| >= f`` (one-sided), else ``(a + b + sqrt(2 f**2 - (a - b)**2)) / 2``;
        ``inf`` when ``a`` and ``b`` are both ``inf``.  Plain Python: compiled by ``njit`` here
        and by ``numba.cuda.jit(device=True)`` in the CUDA port.
    """
    if a > b:
        a, b = b, a
    if a == math.inf:
        return a
    d = b - a
    if d >= f:
        return a + f
    return 0.5 * (a + b + math.sqrt(2.0 * f * f - d * d))


godunov_update_cpu = njit(cache=True, inline="always")(godunov_update)


@njit(cache=True)
def sweep_once(u, dirty, slowness, uniform, ordering):
    """One Gauss–Seidel sweep of a padded ``(H + 2, W + 2)`` float32 array, in place.

    Only nodes flagged in ``dirty`` are evaluated ("locking", Bak, McLaughlin & Renzi 2010):
    a node's update depends on nothing but its four neighbours, so a node none of whose
    neighbours changed since its last evaluation cannot change, and skipping it gives
    bit-identical values and sweep counts.

    Parameters
    ----------
    u : (H + 2, W + 2) float32 ndarray
        Current values; the border is ``+inf``, seed pixels are 0.
    dirty : (H + 2, W + 2) uint8 ndarray
        1 where a neighbour changed since the node was last evaluated; cleared on
        evaluation, set on the four neighbours of every node that changes.
    slowness : (H, W) float64 ndarray, or (1, 1) when ``uniform``
        ``1 / speed`` per pixel.
    uniform : bool
        Unit speed (``slowness`` is not read).
    ordering : int in 0..3
        See the module docstring.

    Returns
    -------
    float
        The largest decrease of a value in this sweep (``inf`` if a value became finite,
        0.0 if nothing changed).
    """
    H = u.shape[0] - 2
    W = u.shape[1] - 2
    rows_down = ordering == 0 or ordering == 3
    cols_right = ordering == 0 or ordering == 1
    change = 0.0
    for ii in range(H):
        i = ii + 1 if rows_down else H - ii
        up = u[i - 1]
        row = u[i]
        down = u[i + 1]
        d_up = dirty[i - 1]
        d_row = dirty[i]
        d_down = dirty[i + 1]
        for jj in range(W):
            j = jj + 1 if cols_right else W - jj
            if d_row[j] == 0:
                continue
            d_row[j] = 0
            old = row[j]
            if old == 0.0:  # a seed (no other value can reach 0 with f > 0)
                continue
            a = min(np.float64(up[j]), np.float64(down[j]))
            b = min(np.float64(row[j - 1]), np.float64(row[j + 1]))
            f = 1.0 if uniform else slowness[i - 1, j - 1]
            new = np.float32(godunov_update_cpu(a, b, f))
            if new < old:
                row[j] = new
                d_up[j] = 1
                d_down[j] = 1
                d_row[j - 1] = 1
                d_row[j + 1] = 1
                delta = np.float64(old) - np.float64(new)
                if delta > change:
                    change = delta
    return change


@njit(cache=True)
def solve_instance(seeds, slowness, uniform, max_sweeps, tol, out):
    """Sweep one instance to convergence; write ``out`` and return ``(sweeps, last_change)``.

    Parameters
    ----------
    seeds : (H, W) bool ndarray
    slowness, uniform
        As for :func:`sweep_once`.
    max_sweeps : int >= 1
    tol : float >= 0
    out : (H, W) float32 ndarray
        Receives the values; all ``+inf`` when there is no seed (then 0 sweeps run).
    """
    H, W = seeds.shape
    u = np.full((H + 2, W + 2), np.inf, np.float32)
    dirty = np.zeros((H + 2, W + 2), np.uint8)
    any_seed = False
    for i in range(1, H + 1):
        for j in range(1, W + 1):
            if seeds[i - 1, j - 1]:
                u[i, j] = 0.0
                dirty[i - 1, j] = 1
                dirty[i + 1, j] = 1
                dirty[i, j - 1] = 1
                dirty[i, j + 1] = 1
                any_seed = True
    s = 0
    change = 0.0
    if any_seed:
        while s < max_sweeps:
            change = sweep_once(u, dirty, slowness, uniform, s % 4)
            s += 1
            if change <= tol:
                break
    for i in range(H):
        for j in range(W):
            out[i, j] = u[i + 1, j + 1]
    return s, change


@njit(cache=True, parallel=True)
def sweep_instances(seeds, slowness, uniform, max_sweeps, tol):
    """Travel times from each instance's seed pixels, instances in parallel.

    Parameters
    ----------
    seeds : (n, H, W) bool ndarray
    slowness : (H, W) float64 ndarray, or (1, 1) when ``uniform``
        ``1 / speed``, finite and > 0.
    uniform : bool
    max_sweeps : int >= 1
    tol : float >= 0

    Returns
    -------
    out : (n, H, W) float32 ndarray
        0 on seeds; ``+inf`` everywhere for an instance without seed pixels.
    sweeps : (n,) int64 ndarray
        Sweeps run per instance (0 for an instance without seeds).
    last_change : (n,) float64 ndarray
        Largest decrease in each instance's last sweep (``<= tol`` when it converged).
    """
    n, H, W = seeds.shape
    out = np.empty((n, H, W), np.float32)
    sweeps = np.zeros(n, np.int64)
    last_change = np.zeros(n, np.float64)
    for k in prange(n):
        s, change = solve_instance(seeds[k], slowness, uniform, max_sweeps, tol, out[k])
        sweeps[k] = s
        last_change[k] = change
    return out, sweeps, last_change


@njit(cache=True)
def sweep_instances_serial(seeds, slowness, uniform, max_sweeps, tol):
    """:func:`sweep_instances` one instance after another (no threads: for n = 1, where the
    parallel build only adds thread start-up and a spinning idle worker)."""
    n, H, W = seeds.shape
    out = np.empty((n, H, W), np.float32)
    sweeps = np.zeros(n, np.int64)
    last_change = np.zeros(n, np.float64)
    for k in range(n):
        s, change = solve_instance(seeds[k], slowness, uniform, max_sweeps, tol, out[k])
        sweeps[k] = s
        last_change[k] = change
    return out, sweeps, last_change
