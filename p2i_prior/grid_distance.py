"""Distances on the pixel grid solved in one pass: the exact Euclidean distance transform and
fast marching for the first-order eikonal equation.

:func:`euclidean_distance` is the exact Euclidean distance (between pixel centres, in pixels)
from every pixel to the nearest seed pixel of its instance: the separable, linear-time
transform of Felzenszwalb & Huttenlocher (lower envelopes of parabolas, in integer
arithmetic), parallel over instances and rows on the CPU (:mod:`p2i_prior.kernels.edt`) and
over rows and columns of every instance on the GPU (:mod:`p2i_prior.kernels.cuda_edt`); both
give the same float32 values.

:func:`geodesic_distance` solves the same discrete equations as converged fast sweeping
(:func:`p2i_prior.sweep_distance` with ``tol=0``) under a speed map, by fast marching: nodes
accepted in increasing order from a 4-ary heap, one pass instead of tens of sweeps
(:mod:`p2i_prior.kernels.fmm`).  On the GPU it runs the anti-diagonal sweeps to convergence.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _device as dv
from .checks import like
from .sweep import DEFAULT_MAX_SWEEPS, check_mask, check_mask_device, check_speed, sweep_gpu

__all__ = ["euclidean_distance", "geodesic_distance", "edt_cpu", "edt_device", "march_cpu", "nearest_marching_cpu",
           "geodesic_slowness", "skeleton_seeds"]


def edt_cpu(stack: np.ndarray) -> np.ndarray:
    """Unchecked CPU driver: (n, H, W) C-contiguous bool seeds -> (n, H, W) float32."""
    from .kernels.edt import edt_instances

    return edt_instances(stack)


def edt_device(seeds: Any, stream: Any) -> Any:
    """Unchecked GPU driver: (n, H, W) uint8 device seeds -> (n, H, W) float32 device array."""
    from .kernels.cuda_edt import edt_batched

    return edt_batched(seeds, dv.launch_config("threads"), stream)


def euclidean_distance(seeds_mask: Any, *, device: str = "auto") -> Any:
    """Exact Euclidean distance from every pixel to the nearest seed pixel.

    Parameters
    ----------
    seeds_mask : (H, W) or (n, H, W) bool array
        Seed pixels of one instance, or of ``n`` instances transformed independently (numpy,
        CuPy or torch; integer/float arrays of 0 and 1 are accepted).  ``n`` may be 0.
    device : {"auto", "cpu", "cuda"}
        ``"auto"``: the GPU for CuPy arrays and CUDA torch tensors, the CPU otherwise;
        ``"cuda"`` raises ``RuntimeError`` without a GPU.

    Returns
    -------
    (H, W) or (n, H, W) float32 array
        Same shape, array kind and device as ``seeds_mask``: ``sqrt(di**2 + dj**2)`` to the
        nearest seed pixel centre, correctly rounded to float32 (``scipy.ndimage.
        distance_transform_edt(~seeds)`` rounded to float32, bit for bit); 0 on seeds;
        ``+inf`` everywhere for an instance with no seed pixel.  CPU and GPU values are equal.

    Raises
    ------
    ValueError
        Wrong number of dimensions, an empty image, or values other than 0 and 1.
    TypeError
        A non-numeric ``seeds_mask``.

    Notes
    -----
    Two passes, linear in the pixels: the distance to the nearest seed along one axis (two
    scans), then along the other axis the lower envelope of the parabolas
    ``(x - q)**2 + g(q)**2`` (Felzenszwalb & Huttenlocher 2012), evaluated with integer
    intersections so that the squared distances are exact.  The CPU runs blocks of columns,
    then blocks of rows, of all instances in parallel (numba threads); the GPU one thread per
    row, then per column, of every instance.

    Examples
    --------
    >>> seeds = np.zeros((4, 5), bool); seeds[1, 1] = True
    >>> d = euclidean_distance(seeds)
    >>> d[1].tolist()
    [1.0, 0.0, 1.0, 2.0, 3.0]
    >>> round(float(d[3, 4]), 4)  # sqrt(2**2 + 3**2)
    3.6056
    """
    if dv.use_gpu(device, seeds_mask):
        return _edt_gpu(seeds_mask)
    seeds = check_mask(seeds_mask)
    H, W = seeds.shape[-2:]
    out = edt_cpu(np.ascontiguousarray(seeds.reshape((-1, H, W))))
    return like(out.reshape(seeds.shape), seeds_mask)


def _edt_gpu(seeds_mask: Any) -> Any:
    seeds, shp, stream = check_mask_device(seeds_mask)
    out = edt_device(seeds, stream)
    return dv.to_kind(out.reshape(shp), seeds_mask)


def geodesic_slowness(img: np.ndarray, speed: Any, edge_weight: float) -> np.ndarray:
    """(H, W) float64 checked slowness of ``method="geodesic"``: ``1 / speed``, the default speed
    ``1 / (1 + edge_weight * sobel / mean(sobel))`` (unit where the image has no edge)."""
    H, W = img.shape[:2]
    if speed is None:
        from .edges import check_image, sobel_cpu
        from .kernels.fmm import edge_slowness

        edge = sobel_cpu(*check_image(img))
        mean = float(edge.astype(np.float64).mean())
        if mean > 0:
            slowness, lo, hi = edge_slowness(edge, float(edge_weight), mean)  # one pass, same bits
            if lo > 0 and (H + W) / lo <= float(np.finfo(np.float32).max) and 1.0 / hi / np.sqrt(2.0) >= float(
                    np.finfo(np.float32).tiny):
                return slowness  # what check_speed accepts (it would raise otherwise: below)
            speed = 1.0 / (1.0 + edge_weight * edge.astype(np.float64) / mean)
        else:
            speed = np.ones((H, W))
    return check_speed(speed, (H, W))


def skeleton_seeds(pixels: tuple, shape: tuple, start: int = 0, stop: int | None = None) -> np.ndarray:
    """(stop - start, H, W) bool seed masks of instances ``start:stop`` from
    :func:`p2i_prior.skeleton.skeleton_pixels`' ``(offsets, rows, cols)``."""
    offsets, rows, cols = pixels
    stop = offsets.size - 1 if stop is None else stop
    seeds = np.zeros((stop - start, *shape), bool)
    inst = np.repeat(np.arange(stop - start), np.diff(offsets[start:stop + 1]))
    sl = slice(offsets[start], offsets[stop])
    seeds[inst, rows[sl], cols[sl]] = True
    return seeds


def march_cpu(stack: np.ndarray, slowness: np.ndarray, uniform: bool) -> np.ndarray:
    """Unchecked CPU driver: (n, H, W) bool seeds, (H, W) float64 slowness (or (1, 1) when
    ``uniform``) -> (n, H, W) float32 travel times."""
    from .kernels.fmm import march_instances

    return march_instances(stack, slowness, uniform)


def nearest_marching_cpu(
    offsets: np.ndarray, rows: np.ndarray, cols: np.ndarray, slowness: np.ndarray, uniform: bool,
    person: np.ndarray, comp: np.ndarray | None, touched: np.ndarray | None, boxes: np.ndarray | None,
    exact: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Unchecked CPU driver of the geodesic labels of ``segment_people``: skeleton pixels
    (:func:`p2i_prior.skeleton.skeleton_pixels`), (H, W) float64 slowness (or (1, 1) when
    ``uniform``), (H, W) bool person pixels, optional component labels (H, W) with ``touched``
    (n, C) bool (:func:`p2i_prior.gates.touched_components`) and (n, 4) COCO boxes ->
    ((H, W) int32 owners, 0 none, ``1 + index`` ties to the lower; (3,) int64 work counts:
    contested pixels, nodes of the bounding march, nodes of the instances' marches).

    ``exact``: equal to ``fusion.nearest_instances`` over full :func:`march_cpu` maps; else one
    multi-label march, which can differ near the boundaries between people (see
    :func:`p2i_prior.kernels.fmm.nearest_instance_marching`)."""
    from .kernels.fmm import nearest_instance_marching

    H, W = person.shape
    n = offsets.size - 1
    owner = np.empty((H, W), np.int32)
    stats = np.zeros(3, np.int64)
    use_comp, use_boxes = comp is not None, boxes is not None
    nearest_instance_marching(
        np.ascontiguousarray(offsets, np.int64), np.ascontiguousarray(rows, np.int32),
        np.ascontiguousarray(cols, np.int32), np.ascontiguousarray(slowness, np.float64), bool(uniform),
        np.ascontiguousarray(person, np.bool_),
        np.ascontiguousarray(comp, np.int32) if use_comp else np.zeros((1, 1), np.int32),
        np.ascontiguousarray(touched, np.bool_) if use_comp else np.zeros((n, 1), np.bool_), use_comp,
        np.ascontiguousarray(boxes, np.float64) if use_boxes else np.zeros((n, 4)), use_boxes,
        bool(exact), owner, stats,
    )
    return owner, stats


def geodesic_distance(seeds_mask: Any, speed: Any = None, *, device: str = "auto") -> Any:
    """First-order eikonal travel time from seed pixels, by fast marching.

    The solution of ``|grad u| = 1 / speed`` on the pixel grid (spacing 1) with ``u = 0`` on the
    seeds, under the first-order Godunov upwind scheme: the values converged fast sweeping
    (:func:`p2i_prior.sweep_distance`, ``tol=0``) reaches, and ``skfmm.travel_time(phi, speed,
    order=1)`` with ``phi = 0`` on the seeds computes, in one pass.

    Parameters
    ----------
    seeds_mask : (H, W) or (n, H, W) bool array
        Seed pixels (numpy, CuPy or torch; integer/float arrays of 0 and 1 are accepted).
        ``n`` may be 0.
    speed : (H, W) float array, optional
        Propagation speed per pixel, finite and > 0; ``None`` means unit speed (a first-order
        approximation of the Euclidean distance: use :func:`euclidean_distance` for the exact
        one).
    device : {"auto", "cpu", "cuda"}
        ``"auto"``: the GPU for CuPy arrays and CUDA torch tensors, the CPU otherwise; on the
        GPU the anti-diagonal fast sweeps run to convergence (the same discrete solution; ``speed``
        may then also be (n, H, W)).

    Returns
    -------
    (H, W) or (n, H, W) float32 array
        Same shape, array kind and device as ``seeds_mask``; 0 on seeds, ``+inf`` everywhere for
        an instance without seeds.  On the CPU equal to ``sweep_distance(seeds_mask, speed)``
        (converged): both store float32 values of the same float64 update.

    Raises
    ------
    ValueError, TypeError
        As :func:`p2i_prior.sweep_distance` for ``seeds_mask`` and ``speed``.

    Notes
    -----
    Fast marching (Sethian 1996): trial nodes in a 4-ary min-heap with decrease-key, each node
    accepted once, its trial neighbours updated from their accepted neighbours only.  One
    instance is sequential; several run in parallel (numba threads).  Cost: one heap pop and up
    to two heap updates per pixel, against tens of sweeps of the whole image for fast sweeping
    under an edge speed.

    Examples
    --------
    >>> seeds = np.zeros((3, 5), bool); seeds[1, 0] = True
    >>> geodesic_distance(seeds, np.full((3, 5), 2.0))[1].tolist()  # twice the speed
    [0.0, 0.5, 1.0, 1.5, 2.0]
    """
    if dv.use_gpu(device, seeds_mask, speed):
        return sweep_gpu(seeds_mask, speed, DEFAULT_MAX_SWEEPS, 0.0, None)
    seeds = check_mask(seeds_mask)
    H, W = seeds.shape[-2:]
    if speed is None:
        slowness, uniform = np.ones((1, 1), np.float64), True
    else:
        slowness, uniform = check_speed(speed, (H, W)), False
    out = march_cpu(np.ascontiguousarray(seeds.reshape((-1, H, W))), slowness, uniform)
    return like(out.reshape(seeds.shape), seeds_mask)
