"""SLIC superpixels on the GPU (CUDA kernels), batched over images of one size.

The CUDA port of :mod:`p2i_prior.kernels.slic` (the reference), with the same seed grid,
the same colour conversion (its plain-Python per-element functions ``srgb_to_linear_py``,
``lab_f_py``, ``linear_rgb_to_lab_py`` and ``slic_distance_py``, compiled here with
``numba.cuda.jit(device=True)``), the same gSLICr assignment and the same connectivity rule.

1. ``minmax_kernel``: each image's minimum and maximum (the rescaling to [0, 1]).
2. ``lab_kernel``: one thread per pixel: rescale, sRGB -> linear -> CIELAB (a greyscale
   image goes to plane 0 as it is) into ``(B, 3, H, W)`` float32 planes.
3. k-means, alternating (the host loops over iterations; no host round trip inside):

   * ``assign_kernel``: one thread per pixel gathers over the 3 x 3 clusters around its
     cell (``row_cell``, ``col_cell``), in increasing cluster order with a strict ``<``
     (the lowest cluster wins ties), keeps its previous label when all nine are dead, and
     counts changed pixels per image;
   * ``done_kernel``: an image whose assignment changed nothing is finished (the CPU's
     early exit, per image);
   * ``update_kernel``: one block per (cluster, image) sums its 3 x 3-cell window (float64,
     fixed-order shared-memory tree, so deterministic) into the new centre and alive flag.

4. Connectivity (``enforce_connectivity``), equal to the CPU's raster-scan flood fill:

   * ``ccl_union_kernel`` / ``ccl_flatten_kernel``: 4-connected components of equal labels
     by lock-free union-find (links always point to the smaller pixel index, so each
     component's root is its first pixel in raster order, where the CPU flood fill starts);
   * ``size_kernel``: component sizes;
   * ``queue_size_kernel`` + ``bfs_link_kernel``: one thread per component smaller than
     ``min_size`` replays the CPU's breadth-first fill of it (neighbours right, left, down,
     up) and links it to the last earlier component the fill met (scikit-image's rule);
   * ``merge_kernel``: each pixel follows those links (each goes to an earlier component)
     to the component whose final label it takes;
   * ``kept_kernel`` + ``scan_rows_kernel``: kept components numbered in raster order;
   * ``zero_region_*``: the CPU's final fix for a too small region at pixel (0, 0).

   One difference: the CPU flood fill stops at ``max_size`` pixels and cuts larger regions
   into pieces; here components are never cut (a region that large is rare: a cluster only
   reaches its 3 x 3 cells).  Without connectivity, ``relabel_kernel`` renumbers the clusters
   present in cluster order (``relabel_sequential``).

Float differences: the update sums in another order (float64, then float32 centres) and the
CUDA compiler may contract multiply-adds, so a pixel whose two best clusters tie to float32
precision may go the other way; agreement with the CPU labels is measured in the tests.
"""

from __future__ import annotations

import math

from numba import cuda, float32, float64, int64

from ._twin import twin
from .cuda_common import device_function, sized_kernels
from .slic import lab_f_py, linear_rgb_to_lab_py, slic_distance_py, srgb_to_linear_py

__all__ = [
    "minmax_kernel",
    "lab_kernel",
    "assign_kernel",
    "done_kernel",
    "update_kernel",
    "update_kernels",
    "ccl_init_kernel",
    "ccl_union_kernel",
    "ccl_flatten_kernel",
    "size_kernel",
    "queue_size_kernel",
    "bfs_link_kernel",
    "merge_kernel",
    "kept_kernel",
    "final_label_kernel",
    "zero_region_kernel",
    "zero_fix_kernel",
    "used_kernel",
    "relabel_kernel",
]

_dev = device_function()
_srgb_to_linear = twin(srgb_to_linear_py, _dev)
_lab_f = twin(lab_f_py, _dev)
_linear_rgb_to_lab = twin(linear_rgb_to_lab_py, _dev, lab_f=_lab_f)
_slic_distance = twin(slic_distance_py, _dev)


@_dev
def window_sums(planes, labels, b, k, y0, rows, stride, x0, wx, acc):
    """``(n, sum y, sum x, sum L, sum a, sum b)`` of the pixels of image ``b`` labelled ``k`` on
    the ``rows`` rows ``y0, y0 + stride, ...`` and columns ``x0 .. x0 + wx - 1``, into
    ``acc[:, 0]`` (a shared ``(6, blockDim.x)`` float64 array): per-thread float64 sums, then a
    fixed shared-memory tree (``blockDim.x`` a power of two), so the result does not depend on
    scheduling.  Every thread of the block must call it (it synchronises the block)."""
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    s4 = 0.0
    s5 = 0.0
    for q in range(tid, rows * wx, nt):
        dy = q // wx
        y = y0 + dy * stride
        x = x0 + q - dy * wx
        if labels[b, y, x] == k:
            s0 += 1.0
            s1 += y
            s2 += x
            s3 += planes[b, 0, y, x]
            s4 += planes[b, 1, y, x]
            s5 += planes[b, 2, y, x]
    acc[0, tid] = s0
    acc[1, tid] = s1
    acc[2, tid] = s2
    acc[3, tid] = s3
    acc[4, tid] = s4
    acc[5, tid] = s5
    cuda.syncthreads()
    half = nt // 2
    while half > 0:
        if tid < half:
            for j in range(6):
                acc[j, tid] += acc[j, tid + half]
        cuda.syncthreads()
        half //= 2


# ----------------------------------------------------------------------------------------------
# Colour
# ----------------------------------------------------------------------------------------------


@cuda.jit(cache=True)
def minmax_kernel(flat, out):
    """out[b] = (min, max) of flat[b] ((B, N) any real, out (B, 2) float64 preset to inf/-inf)."""
    start = cuda.threadIdx.x + cuda.blockIdx.x * cuda.blockDim.x
    step = cuda.blockDim.x * cuda.gridDim.x
    b = cuda.blockIdx.y
    lo = math.inf
    hi = -math.inf
    for i in range(start, flat.shape[1], step):
        v = float64(flat[b, i])
        lo = min(lo, v)
        hi = max(hi, v)
    cuda.atomic.min(out, (b, 0), lo)
    cuda.atomic.max(out, (b, 1), hi)


@cuda.jit(cache=True)
def lab_kernel(image, lohi, planes):
    """(B, H, W, C) real image (C = 3: RGB, C = 1: grey) -> (B, 3, H, W) float32 planes.

    Each image is rescaled by ``(v - lo) * scale`` with its own ``lohi[b] = (lo, hi)``
    (``scale = 1 / (hi - lo)``, 1 for a constant image), as the host does.
    """
    x, y, b = cuda.grid(3)
    B, _, H, W = planes.shape
    if b >= B or y >= H or x >= W:
        return
    lo = lohi[b, 0]
    hi = lohi[b, 1]
    scale = 1.0 / (hi - lo) if hi > lo else 1.0
    if image.shape[3] == 3:
        r = _srgb_to_linear((float64(image[b, y, x, 0]) - lo) * scale)
        g = _srgb_to_linear((float64(image[b, y, x, 1]) - lo) * scale)
        bl = _srgb_to_linear((float64(image[b, y, x, 2]) - lo) * scale)
        L, A, Bc = _linear_rgb_to_lab(r, g, bl)
        planes[b, 0, y, x] = L
        planes[b, 1, y, x] = A
        planes[b, 2, y, x] = Bc
    else:
        planes[b, 0, y, x] = (float64(image[b, y, x, 0]) - lo) * scale
        planes[b, 1, y, x] = 0.0
        planes[b, 2, y, x] = 0.0


# ----------------------------------------------------------------------------------------------
# k-means
# ----------------------------------------------------------------------------------------------


@cuda.jit(cache=True)
def assign_kernel(planes, centres, alive, row_cell, col_cell, nx, m, use_color, labels, previous,
                  changed, done):
    """One assignment step; one thread per pixel (see the module docstring).

    planes (B, 3, H, W) float32, centres (B, K, 5) float32 ``(y, x, L, a, b)``, alive (B, K)
    uint8, row_cell (H,) / col_cell (W,) int32, nx int, m float32, use_color bool,
    labels / previous (B, H, W) int32, changed (B,) int64 (accumulated), done (B,) uint8.
    """
    x, y, b = cuda.grid(3)
    B, H, W = labels.shape
    if b >= B or y >= H or x >= W or done[b] != 0:
        return
    K = centres.shape[1]
    ny = K // nx
    iy = row_cell[y]
    jx = col_cell[x]
    fy = float32(y)
    fx = float32(x)
    zero = float32(0.0)
    if use_color:
        L = planes[b, 0, y, x]
        A = planes[b, 1, y, x]
        Bc = planes[b, 2, y, x]
    else:
        L = zero
        A = zero
        Bc = zero
    prev = previous[b, y, x]
    lab = prev
    best = float32(math.inf)
    for ky in range(max(iy - 1, 0), min(iy + 2, ny)):
        for kx in range(max(jx - 1, 0), min(jx + 2, nx)):
            k = ky * nx + kx
            if alive[b, k] == 0:
                continue
            if use_color:
                d = _slic_distance(L, A, Bc, fy, fx, centres[b, k, 2], centres[b, k, 3],
                                   centres[b, k, 4], centres[b, k, 0], centres[b, k, 1], m)
            else:
                d = _slic_distance(zero, zero, zero, fy, fx, zero, zero, zero,
                                   centres[b, k, 0], centres[b, k, 1], m)
            if d < best:
                best = d
                lab = k
    labels[b, y, x] = lab
    if lab != prev:
        cuda.atomic.add(changed, b, 1)


@cuda.jit(cache=True)
def done_kernel(changed, done):
    """An image whose last assignment changed no pixel is finished; reset the counters."""
    b = cuda.grid(1)
    if b < changed.shape[0]:
        if changed[b] == 0:
            done[b] = 1
        changed[b] = 0


def _update(planes, labels, row_lo, row_hi, xlo, xhi, nx, centres, alive, done):
    """New centre of cluster ``blockIdx.x`` of image ``blockIdx.y``: the mean of its pixels.

    The cluster's pixels can only lie in the rows of its cell rows ``ky - 1 .. ky + 1``
    (``row_lo``/``row_hi`` per cell row) and the columns ``xlo[kx] <= x < xhi[kx]``; the
    block sums that window in float64 (6 sums per thread, then a fixed shared-memory tree).
    """
    k = cuda.blockIdx.x
    b = cuda.blockIdx.y
    tid = cuda.threadIdx.x
    if done[b] != 0:
        return
    ny = row_lo.shape[0]
    ky = k // nx
    kx = k - ky * nx
    y0 = row_lo[max(ky - 1, 0)]
    y1 = row_hi[min(ky + 1, ny - 1)]
    x0 = xlo[kx]
    wx = xhi[kx] - x0
    acc = cuda.shared.array((6, UPDATE_THREADS_), float64)
    window_sums(planes, labels, b, k, y0, y1 - y0, 1, x0, wx, acc)
    if tid == 0:
        cnt = acc[0, 0]
        if cnt > 0:
            alive[b, k] = 1
            for j in range(5):
                centres[b, k, j] = acc[j + 1, 0] / cnt
        else:
            alive[b, k] = 0


#: The update kernel for blocks of ``threads`` threads (a power of two <= 1024): precompiled at
#: the launch table's size as of import (``update_kernel``), others compiled on first use.
update_kernel, update_kernels = sized_kernels(_update, "UPDATE_THREADS_", "update")


# ----------------------------------------------------------------------------------------------
# Connectivity
# ----------------------------------------------------------------------------------------------


def find_root(parent, b, x):
    """Root of pixel ``x`` of image ``b`` (no path compression: other threads may link)."""
    while True:
        p = parent[b, x]
        if p == x:
            return x
        x = p


_find = cuda.jit(device=True)(find_root)


def union(parent, b, a, c):
    """Join the components of pixels ``a`` and ``c``: the larger root links to the smaller."""
    while True:
        a = _find(parent, b, a)
        c = _find(parent, b, c)
        if a == c:
            return
        if a > c:
            a, c = c, a
        old = cuda.atomic.min(parent, (b, c), a)
        if old == c:
            return
        c = old


_union = cuda.jit(device=True)(union)


@cuda.jit(cache=True)
def ccl_init_kernel(parent):
    """parent[b, p] = p for (B, H*W) int32."""
    p, b = cuda.grid(2)
    if b < parent.shape[0] and p < parent.shape[1]:
        parent[b, p] = p


@cuda.jit(cache=True)
def ccl_union_kernel(labels, parent):
    """Union every pixel with its left and upper neighbours of the same label."""
    x, y, b = cuda.grid(3)
    B, H, W = labels.shape
    if b >= B or y >= H or x >= W:
        return
    p = y * W + x
    lab = labels[b, y, x]
    if x > 0 and labels[b, y, x - 1] == lab:
        _union(parent, b, p, p - 1)
    if y > 0 and labels[b, y - 1, x] == lab:
        _union(parent, b, p, p - W)


@cuda.jit(cache=True)
def ccl_flatten_kernel(parent):
    """parent[b, p] = root of p (after all unions)."""
    p, b = cuda.grid(2)
    if b < parent.shape[0] and p < parent.shape[1]:
        parent[b, p] = _find(parent, b, p)


@cuda.jit(cache=True)
def size_kernel(parent, size):
    """size[b, root] = number of pixels of the component (size zeroed by the caller)."""
    p, b = cuda.grid(2)
    if b < parent.shape[0] and p < parent.shape[1]:
        cuda.atomic.add(size, (b, parent[b, p]), 1)


@cuda.jit(cache=True)
def queue_size_kernel(parent, size, min_size, qsize):
    """qsize[b, p] = size of p's component if p is the first pixel of a small component
    (fewer than ``min_size`` pixels, not the one at pixel 0), else 0."""
    p, b = cuda.grid(2)
    if b < parent.shape[0] and p < parent.shape[1]:
        small = parent[b, p] == p and p != 0 and size[b, p] < min_size
        qsize[b, p] = size[b, p] if small else 0


@cuda.jit(device=True, inline=True)
def _neighbour(p, j, x, y, W, N):
    """Flat index of 4-neighbour ``j`` (right, left, down, up) of pixel ``p = y * W + x``, or -1."""
    if j == 0 and x < W - 1:
        return p + 1
    if j == 1 and x > 0:
        return p - 1
    if j == 2 and p + W < N:
        return p + W
    if j == 3 and y > 0:
        return p - W
    return -1


@cuda.jit(cache=True)
def bfs_link_kernel(parent, W, qsize, qoff, queue, link):
    """For each small component (one thread, from its first pixel ``r``): the CPU's flood
    fill, replayed.  Breadth first from ``r``, neighbours right, left, down, up; the last
    neighbouring pixel met that belongs to an earlier component (root < r: already labelled
    in the CPU's raster scan) gives ``link[b, r]`` = that component.  The queue of component
    ``r`` is ``queue[b, qoff[b, r] : qoff[b, r] + size]``; ``link`` of other pixels is -1.
    """
    r, b = cuda.grid(2)
    if b >= parent.shape[0] or r >= parent.shape[1]:
        return
    if qsize[b, r] == 0:
        link[b, r] = -1
        return
    N = parent.shape[1]
    base = qoff[b, r]
    queue[b, base] = r
    tail = 1
    head = 0
    adj = -1
    while head < tail:
        p = queue[b, base + head]
        head += 1
        y = p // W
        x = p - y * W
        for j in range(4):
            q = _neighbour(p, j, x, y, W, N)
            if q < 0:
                continue
            root = parent[b, q]
            if root == r:
                # a pixel of this component: enqueue it once (the queue holds it iff seen)
                seen = False
                for t in range(tail):
                    if queue[b, base + t] == q:
                        seen = True
                        break
                if not seen:
                    queue[b, base + tail] = q
                    tail += 1
            elif root < r:
                adj = root
    link[b, r] = adj


@cuda.jit(cache=True)
def merge_kernel(parent, size, min_size, link, target):
    """target[b, p] = the component whose final label pixel p takes (the CPU's merge rule)."""
    p, b = cuda.grid(2)
    if b >= parent.shape[0] or p >= parent.shape[1]:
        return
    r = parent[b, p]
    while r != 0 and size[b, r] < min_size:
        r = link[b, r]
    target[b, p] = r


@cuda.jit(cache=True)
def kept_kernel(parent, size, min_size, kept):
    """kept[b, p] = 1 when p is the first pixel of a component that keeps its own label."""
    p, b = cuda.grid(2)
    if b < parent.shape[0] and p < parent.shape[1]:
        keep = parent[b, p] == p and (p == 0 or size[b, p] >= min_size)
        kept[b, p] = 1 if keep else 0


@cuda.jit(cache=True)
def final_label_kernel(target, rank, out):
    """out[b, p] = rank of the kept component pixel p belongs to (raster order of components)."""
    p, b = cuda.grid(2)
    if b < target.shape[0] and p < target.shape[1]:
        out[b, p] = rank[b, target[b, p]]


@cuda.jit(cache=True)
def zero_region_kernel(out, W, size0, key):
    """Count label-0 pixels; find the first (raster order, then right/left/down/up) label-0
    pixel with a neighbour of another label: ``key = 4 * p + j`` (atomic min)."""
    p, b = cuda.grid(2)
    if b >= out.shape[0] or p >= out.shape[1]:
        return
    if out[b, p] != 0:
        return
    cuda.atomic.add(size0, b, 1)
    N = out.shape[1]
    y = p // W
    x = p - y * W
    for j in range(4):
        q = _neighbour(p, j, x, y, W, N)
        if q >= 0 and out[b, q] != 0:
            cuda.atomic.min(key, b, int64(4 * p + j))
            return


@cuda.jit(cache=True)
def zero_fix_kernel(src, W, rank, size0, key, min_size, dst, n_out):
    """The CPU's final step: a region 0 smaller than ``min_size`` (when there are others)
    takes the label of its first neighbour (``key``), and every label moves down by one.

    src (B, N) int32 labels, rank (B, N + 1) int64 (``rank[b, N]``: number of regions),
    size0 (B,) int64, key (B,) int64, dst (B, N) int32 written, n_out (B,) int64 written.
    """
    p, b = cuda.grid(2)
    N = src.shape[1]
    if b >= src.shape[0] or p >= N:
        return
    n = rank[b, N]
    k = key[b]
    fix = n > 1 and size0[b] < min_size and k < 4 * N
    if p == 0:
        n_out[b] = n - 1 if fix else n
    v = src[b, p]
    if fix:
        q0 = k // 4
        j = k - 4 * q0
        if j == 0:
            q = q0 + 1
        elif j == 1:
            q = q0 - 1
        elif j == 2:
            q = q0 + W
        else:
            q = q0 - W
        v = src[b, q] - 1 if v == 0 else v - 1
    dst[b, p] = v


@cuda.jit(cache=True)
def used_kernel(labels, used):
    """used[b, k] = 1 for every cluster k present in image b (no connectivity step)."""
    x, y, b = cuda.grid(3)
    B, H, W = labels.shape
    if b < B and y < H and x < W:
        used[b, labels[b, y, x]] = 1


@cuda.jit(cache=True)
def relabel_kernel(labels, rank, out):
    """out[b, y, x] = rank[b, labels[b, y, x]] (clusters renumbered in cluster order)."""
    x, y, b = cuda.grid(3)
    B, H, W = labels.shape
    if b < B and y < H and x < W:
        out[b, y, x] = rank[b, labels[b, y, x]]
