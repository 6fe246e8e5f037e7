"""SLIC, the fast algorithm, on the GPU (CUDA kernels), batched over images of one size.

The CUDA port of :mod:`p2i_prior.kernels.slic_fast` (the reference): the same seed grid
(``slic_fast.layout``), the same colour conversion (its plain-Python ``linear_to_lab_q_py``
and ``quantise_py``, and ``kernels.slic.srgb_to_linear_py``, compiled here as device
functions), the same iterations and the same connectivity rule.  ``run`` launches them.

1. ``cuda_slic.minmax_kernel`` (each image's range), ``lab_kernel``: one thread per pixel ->
   (B, 3, H, W) float32 planes, multiples of ``1 / QUANTUM``.
2. ``init_kernel``: each cluster starts at its seed with the colour of the seed pixel.
3. Per iteration ``it``: ``assign_kernel`` (one thread per pixel of the rows
   ``y % STRIDE == it % STRIDE``: the nearest of its 2 x 2 clusters, lowest k on ties; counts
   changed labels per image), ``update_kernel`` (one block per cluster and image sums the
   cluster's window on those rows in float64, then a fixed shared-memory tree: the sums are
   exact, the planes being quantised); an image whose iteration changed fewer than
   ``CHANGE_TOL`` of its rows' pixels is left alone from then on (the CPU loop's break, read
   by both kernels from the per-iteration counts).  Then
   ``assign_kernel`` on every row over the 3 x 3 clusters around each pixel's nearest seed
   (``slic_fast.assign_final``).
4. Connectivity: ``cuda_slic``'s union-find components (each root is its component's first
   pixel), ``size_kernel``, ``colour_kernel`` (exact float64 colour sums per component),
   ``cap_kernel`` + ``threshold_kernel`` + ``tie_kernel`` + ``keep_kernel`` (the ``max_regions`` largest components of at least
   ``min_size`` pixels, the earlier first on equal sizes), ``link_kernel`` (a component that
   does not stay links to the component of the pixel left of or above its first pixel, the
   one of nearer mean colour), ``resolve_kernel`` (each pixel follows the links, which always
   go to an earlier component), ``zero_touch_kernel`` (the first pixel outside region 0 that
   touches it), ``kept_kernel`` + scan + ``final_kernel``.

Float differences: CUDA may contract multiply-adds in the colour conversion and the distance,
so a pixel whose two best clusters tie to float32 precision may go the other way; agreement
with the CPU labels is measured in the tests.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32, float64

from ._twin import twin
from .cuda_common import device_function, sized_kernels
from .cuda_slic import window_sums
from .slic import srgb_to_linear_py
from .slic_fast import CHANGE_TOL, STRIDE, lab_f32_py, linear_to_lab_q_py, quantise_py

__all__ = [
    "lab_kernel",
    "init_kernel",
    "assign_kernel",
    "update_kernel",
    "update_kernels",
    "colour_kernel",
    "cap_kernel",
    "threshold_kernel",
    "tie_kernel",
    "keep_kernel",
    "link_kernel",
    "resolve_kernel",
    "zero_touch_kernel",
    "kept_kernel",
    "final_kernel",
    "run",
    "connectivity",
]

_dev = device_function()
_srgb_to_linear = twin(srgb_to_linear_py, _dev)
_quantise = twin(quantise_py, _dev)
_lab_f32 = twin(lab_f32_py, _dev)
_linear_to_lab_q = twin(linear_to_lab_q_py, _dev, lab_f32=_lab_f32, quantise=_quantise)


@cuda.jit(cache=True)
def lab_kernel(image, lohi, planes):
    """(B, H, W, C) real image (C = 3: RGB, C = 1: grey) -> (B, 3, H, W) quantised float32
    planes, each image rescaled by ``(v - lo) * scale`` with its ``lohi[b] = (lo, hi)``."""
    x, y, b = cuda.grid(3)
    B, _, H, W = planes.shape
    if b >= B or y >= H or x >= W:
        return
    lo = lohi[b, 0]
    hi = lohi[b, 1]
    scale = 1.0 / (hi - lo) if hi > lo else 1.0
    if image.shape[3] == 3:
        r = float32(_srgb_to_linear((float64(image[b, y, x, 0]) - lo) * scale))
        g = float32(_srgb_to_linear((float64(image[b, y, x, 1]) - lo) * scale))
        bl = float32(_srgb_to_linear((float64(image[b, y, x, 2]) - lo) * scale))
        L, A, Bc = _linear_to_lab_q(r, g, bl)
        planes[b, 0, y, x] = L
        planes[b, 1, y, x] = A
        planes[b, 2, y, x] = Bc
    else:
        planes[b, 0, y, x] = _quantise(float32((float64(image[b, y, x, 0]) - lo) * scale))
        planes[b, 1, y, x] = 0.0
        planes[b, 2, y, x] = 0.0


@cuda.jit(cache=True)
def init_kernel(planes, seed_y, seed_x, centres):
    """centres[b, k] = (y, x, L, a, b) of seed k = iy * nx + ix and the colour of its pixel."""
    k, b = cuda.grid(2)
    B, K, _ = centres.shape
    if b >= B or k >= K:
        return
    nx = seed_x.shape[0]
    iy = k // nx
    y = seed_y[iy]
    x = seed_x[k - iy * nx]
    centres[b, k, 0] = y
    centres[b, k, 1] = x
    for c in range(3):
        centres[b, k, 2 + c] = planes[b, c, y, x]


@cuda.jit(device=True, inline=True)
def _finished(changed, limits, it, b):
    """Image ``b`` stopped before iteration ``it``: an earlier iteration ``j`` changed fewer
    than ``limits[j]`` labels (the CPU loop's break)."""
    for j in range(it):
        if changed[j, b] < limits[j]:
            return True
    return False


@cuda.jit(cache=True)
def assign_kernel(planes, centres, row_first, col_first, span, ny, nx, w, phase, stride, labels,
                  it, changed, limits):
    """Label the pixels of rows ``y % stride == phase`` for iteration ``it``: the nearest of
    the clusters of rows ``row_first[y] .. row_first[y] + span - 1`` and columns
    ``col_first[x] ..`` likewise (clipped to the grid), lowest ``k`` on ties.

    The iterations pass the seed pairs around each pixel with ``span = 2`` (``assign``), the
    last assignment the nearest seed minus one with ``span = 3`` (``assign_final``) and
    ``it = 0`` (it runs for every image).  Images finished before ``it`` (``_finished``) are
    left alone; the changed labels of image ``b`` are counted in ``changed[it, b]``.
    planes (B, 3, H, W) float32, centres (B, K, 5) float32, row_first (H,) / col_first (W,)
    int32, labels (B, H, W) int32 (read: the previous labels), changed (iterations + 1, B)
    int64 (accumulated), limits (iterations,) float64.
    """
    x, y, b = cuda.grid(3)
    B, H, W = labels.shape
    if b >= B or y >= H or x >= W or y % stride != phase or _finished(changed, limits, it, b):
        return
    L = planes[b, 0, y, x]
    A = planes[b, 1, y, x]
    Bc = planes[b, 2, y, x]
    fy = float32(y)
    fx = float32(x)
    a = row_first[y]
    c = col_first[x]
    best = float32(math.inf)
    lab = 0
    for ky in range(max(a, 0), min(a + span, ny)):
        for kx in range(max(c, 0), min(c + span, nx)):
            k = ky * nx + kx
            # the CPU's order of operations (kernels.slic_fast.assign)
            sy = w * abs(fy - centres[b, k, 0])
            d = (abs(L - centres[b, k, 2]) + abs(A - centres[b, k, 3]) + abs(Bc - centres[b, k, 4])
                 + (sy + w * abs(fx - centres[b, k, 1])))
            if d < best:
                best = d
                lab = k
    if labels[b, y, x] != lab:
        cuda.atomic.add(changed, (it, b), 1)
    labels[b, y, x] = lab


def _update(planes, labels, row_lo, row_hi, xlo, xhi, nx, phase, stride, centres, it, changed,
            limits):
    """Centre of cluster ``blockIdx.x`` of image ``blockIdx.y`` after iteration ``it``: the
    mean of its pixels on the rows ``y % stride == phase`` of its two bands (``ky - 1`` and
    ``ky``), columns ``xlo[kx]:xhi[kx]``; a cluster without such pixels keeps its centre, an
    image finished before ``it`` is left alone."""
    k = cuda.blockIdx.x
    b = cuda.blockIdx.y
    tid = cuda.threadIdx.x
    if _finished(changed, limits, it, b):
        return
    nb = row_lo.shape[0]
    ky = k // nx
    kx = k - ky * nx
    y0 = row_lo[min(max(ky - 1, 0), nb - 1)]
    y1 = row_hi[min(ky, nb - 1)]
    y0 = y0 + (phase - y0) % stride  # the first labelled row
    rows = (y1 - y0 + stride - 1) // stride if y1 > y0 else 0
    x0 = xlo[kx]
    wx = xhi[kx] - x0
    acc = cuda.shared.array((6, UPDATE_THREADS_), float64)
    window_sums(planes, labels, b, k, y0, rows, stride, x0, wx, acc)
    if tid == 0:
        cnt = acc[0, 0]
        if cnt > 0:
            for j in range(5):
                centres[b, k, j] = acc[j + 1, 0] / cnt


#: The update kernel for blocks of ``threads`` threads (a power of two <= 1024): precompiled at
#: the launch table's size as of import (``update_kernel``), others compiled on first use.
update_kernel, update_kernels = sized_kernels(_update, "UPDATE_THREADS_", "update")


# ----------------------------------------------------------------------------------------------
# Connectivity (after cuda_slic's ccl_* and size_kernel: parent[b, p] is p's root)
# ----------------------------------------------------------------------------------------------


@cuda.jit(cache=True)
def colour_kernel(parent, planes, col):
    """col[b, root, c] += plane c at each pixel (col zeroed; exact: quantised values)."""
    p, b = cuda.grid(2)
    B, N = parent.shape
    if b >= B or p >= N:
        return
    W = planes.shape[3]
    y = p // W
    x = p - y * W
    r = parent[b, p]
    for c in range(3):
        cuda.atomic.add(col, (b, r, c), float64(planes[b, c, y, x]))


@cuda.jit(cache=True)
def cap_kernel(parent, size, min_size, count, top, hist):
    """Per image, over the components of at least ``min_size`` pixels: how many (``count``),
    the largest size (``top``) and how many of each size (``hist``; all zeroed)."""
    p, b = cuda.grid(2)
    if b < parent.shape[0] and p < parent.shape[1] and parent[b, p] == p and size[b, p] >= min_size:
        cuda.atomic.add(count, b, 1)
        cuda.atomic.max(top, b, size[b, p])
        cuda.atomic.add(hist, (b, size[b, p]), 1)


@cuda.jit(cache=True)
def threshold_kernel(count, top, hist, max_regions, thresh, room):
    """Per image (one thread): the size ``thresh`` such that the components above it and the
    first ``room`` of size ``thresh`` are the ``max_regions`` largest; ``thresh = -1`` when no
    more than ``max_regions`` components are large enough (all of them stay)."""
    b = cuda.grid(1)
    if b >= count.shape[0]:
        return
    if count[b] <= max_regions:
        thresh[b] = -1
        room[b] = 0
        return
    above = 0
    t = top[b]
    while above + hist[b, t] < max_regions:
        above += hist[b, t]
        t -= 1
    thresh[b] = t
    room[b] = max_regions - above


@cuda.jit(cache=True)
def tie_kernel(parent, size, thresh, tie):
    """tie[b, p] = 1 for the first pixel of each component of exactly ``thresh[b]`` pixels."""
    p, b = cuda.grid(2)
    if b < parent.shape[0] and p < parent.shape[1]:
        tie[b, p] = 1 if parent[b, p] == p and size[b, p] == thresh[b] else 0


@cuda.jit(cache=True)
def keep_kernel(parent, size, min_size, thresh, room, tie_rank, keep):
    """keep[b, p] = 1 for the first pixel of each component that stays a superpixel."""
    p, b = cuda.grid(2)
    if b >= parent.shape[0] or p >= parent.shape[1]:
        return
    s = size[b, p]
    t = thresh[b]
    ok = parent[b, p] == p and s >= min_size
    if ok and t >= 0:
        ok = s > t or (s == t and tie_rank[b, p] < room[b])
    keep[b, p] = 1 if ok else 0


@cuda.jit(cache=True)
def link_kernel(parent, size, col, keep, W, link):
    """link[b, r] for each component root ``r``: itself if it stays (or ``r == 0``), else the
    component of pixel ``r - 1`` or ``r - W``, the one of nearer mean colour (L1; left on ties
    or when only one exists)."""
    r, b = cuda.grid(2)
    if b >= parent.shape[0] or r >= parent.shape[1] or parent[b, r] != r:
        return
    if keep[b, r] != 0 or r == 0:
        link[b, r] = r
        return
    y = r // W
    x = r - y * W
    left = parent[b, r - 1] if x > 0 else -1
    above = parent[b, r - W] if y > 0 else -1
    if left < 0:
        link[b, r] = above
    elif above < 0 or above == left:
        link[b, r] = left
    else:
        dl = 0.0
        da = 0.0
        n = float64(size[b, r])
        nl = float64(size[b, left])
        na = float64(size[b, above])
        for c in range(3):
            m = col[b, r, c] / n
            dl += abs(m - col[b, left, c] / nl)
            da += abs(m - col[b, above, c] / na)
        link[b, r] = above if da < dl else left


@cuda.jit(cache=True)
def resolve_kernel(parent, link, target):
    """target[b, p] = the component (root) whose region pixel p joins: follow the links."""
    p, b = cuda.grid(2)
    if b >= parent.shape[0] or p >= parent.shape[1]:
        return
    r = parent[b, p]
    while link[b, r] != r:
        r = link[b, r]
    target[b, p] = r


@cuda.jit(cache=True)
def zero_touch_kernel(target, W, key):
    """key[b] = min over pixels outside region 0 with a 4-neighbour in it (key preset to N)."""
    p, b = cuda.grid(2)
    B, N = target.shape
    if b >= B or p >= N or target[b, p] == 0:
        return
    y = p // W
    x = p - y * W
    if ((x > 0 and target[b, p - 1] == 0) or (x < W - 1 and target[b, p + 1] == 0)
            or (y > 0 and target[b, p - W] == 0) or (p + W < N and target[b, p + W] == 0)):
        cuda.atomic.min(key, b, p)


@cuda.jit(cache=True)
def kept_kernel(parent, link, keep, key, kept):
    """kept[b, p] = 1 for the root of each final region (region 0 unless it merges)."""
    p, b = cuda.grid(2)
    B, N = parent.shape
    if b >= B or p >= N:
        return
    final = parent[b, p] == p and link[b, p] == p
    if p == 0 and keep[b, 0] == 0 and key[b] < N:
        final = False  # region 0 joins the region of pixel key[b]
    kept[b, p] = 1 if final else 0


@cuda.jit(cache=True)
def final_kernel(target, keep, key, rank, out):
    """out[b, p] = rank of the final region of p (raster order of the regions' first pixels)."""
    p, b = cuda.grid(2)
    B, N = target.shape
    if b >= B or p >= N:
        return
    t = target[b, p]
    if t == 0 and keep[b, 0] == 0 and key[b] < N:
        t = target[b, key[b]]
    out[b, p] = rank[b, t]


# ----------------------------------------------------------------------------------------------
# Launches
# ----------------------------------------------------------------------------------------------


def run(imgs, n_segments, compactness, max_num_iter, enforce_connectivity, min_size_factor,
        stream, block, threads, scan_threads, update_threads):
    """The fast SLIC of (B, H, W, C) checked device images -> ((B, H, W) int32 device labels,
    (B,) int64 numpy counts); the launch shapes from the caller's launch table."""
    from . import cuda_common as kc
    from . import cuda_slic as ks
    from .slic_fast import cells, layout

    B, H, W, C = imgs.shape
    N = H * W
    grid3 = (-(-W // block[0]), -(-H // block[1]), B)
    threads3 = tuple(block) + (1,)
    to_dev = lambda a: cuda.to_device(np.ascontiguousarray(a), stream=stream)

    lohi = to_dev(np.tile(np.array([np.inf, -np.inf]), (B, 1)))
    ks.minmax_kernel[(min(64, -(-N * C // threads)), B), threads, stream](imgs.reshape((B, N * C)), lohi)
    planes = cuda.device_array((B, 3, H, W), np.float32, stream=stream)
    lab_kernel[grid3, threads3, stream](imgs, lohi, planes)

    ny, nx, seed_y, seed_x, row_lo, row_hi, xlo, xhi, w = layout(H, W, n_segments, compactness)
    K = ny * nx
    row_pair = np.clip(np.searchsorted(seed_y, np.arange(H), "right") - 1, 0, max(ny - 2, 0))
    col_pair = np.clip(np.searchsorted(seed_x, np.arange(W), "right") - 1, 0, max(nx - 2, 0))
    d_row_pair, d_col_pair = to_dev(row_pair.astype(np.int32)), to_dev(col_pair.astype(np.int32))
    d_row_lo, d_row_hi, d_xlo, d_xhi = to_dev(row_lo), to_dev(row_hi), to_dev(xlo), to_dev(xhi)
    centres = cuda.device_array((B, K, 5), np.float32, stream=stream)
    init_kernel[(-(-K // threads), B), threads, stream](planes, to_dev(seed_y), to_dev(seed_x), centres)

    labels = kc.full(B * N, -1, np.int32, threads, stream).reshape((B, H, W))
    # changed[it, b]: labels changed by iteration it (the last row: the final assignment)
    changed = kc.full((max_num_iter + 1) * B, 0, np.int64, threads, stream).reshape((max_num_iter + 1, B))
    limits = to_dev(np.array([CHANGE_TOL * len(range(it % STRIDE, H, STRIDE)) * W
                              for it in range(max_num_iter)] + [0.0]))
    update = update_kernels(update_threads)
    for it in range(max_num_iter):
        phase = it % STRIDE
        assign_kernel[grid3, threads3, stream](planes, centres, d_row_pair, d_col_pair, 2, ny, nx,
                                               w, phase, STRIDE, labels, it, changed, limits)
        update[(K, B), update_threads, stream](planes, labels, d_row_lo, d_row_hi, d_xlo, d_xhi, nx,
                                               phase, STRIDE, centres, it, changed, limits)
    row_cell, col_cell = cells(H, W, seed_y, seed_x)[:2]
    final = changed[max_num_iter:]  # a row of its own, and no earlier iteration to stop it
    assign_kernel[grid3, threads3, stream](planes, centres, to_dev(row_cell - 1), to_dev(col_cell - 1),
                                           3, ny, nx, w, 0, 1, labels, 0, final, limits)

    if not enforce_connectivity:
        used = kc.full(B * K, 0, np.int64, threads, stream).reshape((B, K))
        ks.used_kernel[grid3, threads3, stream](labels, used)
        rank = cuda.device_array((B, K + 1), np.int64, stream=stream)
        kc.scan_rows_kernel[B, scan_threads, stream](used, rank)
        out = cuda.device_array((B, H, W), np.int32, stream=stream)
        ks.relabel_kernel[grid3, threads3, stream](labels, rank, out)
        return out, rank.copy_to_host(stream=stream)[:, K]

    min_size = int(min_size_factor * (H * W / K))
    return connectivity(labels, planes, min_size, K, stream, block, threads, scan_threads)


def connectivity(labels, planes, min_size, max_regions, stream, block, threads, scan_threads):
    """Connected superpixels of (B, H, W) int32 device cluster labels (the CPU's
    ``connected_runs`` + ``merge_runs``), colours from the (B, 3, H, W) planes -> ((B, H, W)
    int32 device labels, (B,) int64 numpy counts)."""
    from . import cuda_common as kc
    from . import cuda_slic as ks

    B, H, W = labels.shape
    N = H * W
    grid3 = (-(-W // block[0]), -(-H // block[1]), B)
    threads3 = tuple(block) + (1,)
    grid2 = (-(-N // threads), B)
    parent = cuda.device_array((B, N), np.int32, stream=stream)
    ks.ccl_init_kernel[grid2, threads, stream](parent)
    ks.ccl_union_kernel[grid3, threads3, stream](labels, parent)
    ks.ccl_flatten_kernel[grid2, threads, stream](parent)
    size = kc.full(B * N, 0, np.int32, threads, stream).reshape((B, N))
    ks.size_kernel[grid2, threads, stream](parent, size)
    col = kc.full(B * N * 3, 0.0, np.float64, threads, stream).reshape((B, N, 3))
    colour_kernel[grid2, threads, stream](parent, planes, col)
    count = kc.full(B, 0, np.int64, threads, stream)
    top = kc.full(B, 0, np.int32, threads, stream)
    hist = kc.full(B * (N + 1), 0, np.int32, threads, stream).reshape((B, N + 1))
    cap_kernel[grid2, threads, stream](parent, size, min_size, count, top, hist)
    thresh = cuda.device_array(B, np.int32, stream=stream)
    room = cuda.device_array(B, np.int64, stream=stream)
    threshold_kernel[-(-B // threads), threads, stream](count, top, hist, max_regions, thresh, room)
    tie = cuda.device_array((B, N), np.int64, stream=stream)
    tie_kernel[grid2, threads, stream](parent, size, thresh, tie)
    tie_rank = cuda.device_array((B, N + 1), np.int64, stream=stream)
    kc.scan_rows_kernel[B, scan_threads, stream](tie, tie_rank)
    keep = cuda.device_array((B, N), np.uint8, stream=stream)
    keep_kernel[grid2, threads, stream](parent, size, min_size, thresh, room, tie_rank, keep)
    link = cuda.device_array((B, N), np.int32, stream=stream)
    link_kernel[grid2, threads, stream](parent, size, col, keep, W, link)
    target = cuda.device_array((B, N), np.int32, stream=stream)
    resolve_kernel[grid2, threads, stream](parent, link, target)
    key = kc.full(B, N, np.int64, threads, stream)
    zero_touch_kernel[grid2, threads, stream](target, W, key)
    kept = cuda.device_array((B, N), np.int64, stream=stream)
    kept_kernel[grid2, threads, stream](parent, link, keep, key, kept)
    rank = cuda.device_array((B, N + 1), np.int64, stream=stream)
    kc.scan_rows_kernel[B, scan_threads, stream](kept, rank)
    out = cuda.device_array((B, N), np.int32, stream=stream)
    final_kernel[grid2, threads, stream](target, keep, key, rank, out)
    return out.reshape((B, H, W)), rank.copy_to_host(stream=stream)[:, N]
