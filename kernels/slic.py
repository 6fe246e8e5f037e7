"""SLIC superpixel kernels (CPU, numba).

The host API (:func:`p2i_prior.superpixels.slic`) validates the image, rescales it, chooses
the seed grid and calls, in order:

1. ``lab_planes_u8`` / ``lab_planes_float``: sRGB -> CIELAB (D65, 2 degree observer, the
   constants of ``skimage.color.rgb2lab``) into three float32 planes ``(3, H, W)``.
2. The seed cells as first labels (the centres start without colour, so scikit-image's first
   assignment is purely spatial: the nearest seed, the first one on ties) and their
   ``cluster_sums``; then ``update`` and ``assign`` (which also sums each cluster's pixels)
   alternately (k-means in (L, a, b, y, x)).
3. ``enforce_connectivity``: a raster-order flood fill that merges small fragments.

Assignment scheme (gSLICr)
--------------------------
The seeds lie on a regular grid of ``ny x nx`` cells (``step_y x step_x`` pixels); cluster
``k = iy * nx + ix`` starts at the seed of cell ``(iy, ix)``.  Every pixel belongs to the cell
of its nearest seed and compares itself with the (current) centres of the 3 x 3 clusters
around that cell; it takes the nearest, the lowest ``k`` on ties (as scikit-image does).
Each pixel is written by one thread only (a gather, not a scatter), so the kernel is
race-free and its result does not depend on the number of threads.  The clusters a pixel can
join cover the paper's ``2S x 2S`` window around each centre as long as a centre stays within
half a cell of its seed.  A CUDA twin should use the same scheme (one thread per pixel) so
that both give the same labels.

Centre update
-------------
Pixels of cell row ``iy`` can only join clusters of rows ``iy - 1 .. iy + 1``: each cell row
accumulates its own ``(3, nx)`` partial sums (float64), which are then added in a fixed order.
The result is bit-identical whatever the number of threads.

The per-element functions (``srgb_to_linear``, ``lab_f``, ``linear_rgb_to_lab``,
``slic_distance``) are plain Python (``*_py``), compiled here with ``njit``; a CUDA port
compiles the same functions with ``numba.cuda.jit(device=True)``.  Where one calls another
(``linear_rgb_to_lab`` -> ``lab_f``) it calls the ``njit`` dispatcher, which numba-cuda
recompiles as a device function when a CUDA kernel calls it (checked with
``cuda.compile_ptx`` for sm_90).  They avoid ``pow`` and ``cbrt`` (slow and not vectorised on
the CPU) and branches (``a if c else b`` on values computed on both sides), so the CPU loops
vectorise.  Nothing here validates its input.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "srgb_to_linear",
    "lab_f",
    "linear_rgb_to_lab",
    "slic_distance",
    "srgb_lut",
    "lab_planes_u8",
    "lab_planes_float",
    "cluster_sums",
    "assign",
    "update",
    "enforce_connectivity",
    "relabel_sequential",
]

# ----------------------------------------------------------------------------------------------
# Per-element functions: plain Python, compiled once for the CPU (below) and once for CUDA.
# ----------------------------------------------------------------------------------------------


def srgb_to_linear_py(c):
    """Inverse sRGB companding of one channel value ``0 <= c <= 1`` (skimage's constants).

    ``((c + 0.055) / 1.055) ** 2.4`` above ``0.04045``, ``c / 12.92`` below.  Branch-free
    and without ``pow`` (which does not vectorise): ``v ** 2.4 = v**2 * w**2`` with
    ``w = v ** 0.2`` from a quadratic guess on [0.0905, 1] (4% relative error) and two
    Halley steps (1.5e-4, then 7e-12); the result is within 1e-13 of ``pow``.
    """
    v = (c + 0.055) / 1.055
    v = v if v > 0.09 else 0.09  # only the c > 0.04045 (v > 0.0905) branch is used
    w = 0.5784913327095244 + v * (0.7696223806015249 - 0.363851361695549 * v)
    w5 = w * w * w * w * w
    w = w * (4.0 * w5 + 6.0 * v) / (6.0 * w5 + 4.0 * v)
    w5 = w * w * w * w * w
    w = w * (4.0 * w5 + 6.0 * v) / (6.0 * w5 + 4.0 * v)
    power = v * v * w * w
    linear = c / 12.92
    return power if c > 0.04045 else linear


def lab_f_py(t):
    """CIELAB's ``f(t)`` for ``0 <= t <= 1``: the cube root above ``0.008856``, else linear.

    Branch-free, so the colour loops vectorise (libm's ``cbrt`` is ~10x slower here): a cubic
    guess of the cube root on [0.008856, 1] (14% relative error) refined by two Halley steps
    (cubic convergence: 2e-3, then 3e-9 relative; Lab error < 1e-6).
    """
    u = t if t > 0.008856 else 0.008856
    y = 0.21131376722290207 + u * (
        2.8607215167939195 + u * (-4.896781635115552 + u * 2.9665631866218694)
    )
    y3 = y * y * y
    y = y * (y3 + 2.0 * u) / (2.0 * y3 + u)
    y3 = y * y * y
    y = y * (y3 + 2.0 * u) / (2.0 * y3 + u)
    linear = 7.787 * t + 16.0 / 116.0
    return y if t > 0.008856 else linear


def linear_rgb_to_lab_py(r, g, b):
    """CIELAB ``(L, a, b)`` of one linear-light RGB triple (D65, 2 degree observer).

    The matrix, white point and thresholds are those of ``skimage.color.rgb2lab``.
    """
    fx = lab_f((0.412453 * r + 0.357580 * g + 0.180423 * b) / 0.95047)
    fy = lab_f(0.212671 * r + 0.715160 * g + 0.072169 * b)
    fz = lab_f((0.019334 * r + 0.119193 * g + 0.950227 * b) / 1.08883)
    return 116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)


def slic_distance_py(L, a, b, y, x, cL, ca, cb, cy, cx, m):
    """Squared SLIC distance ``dlab^2 + m * dxy^2`` with ``m = (compactness / S)^2``.

    All arguments share one float type (float32 in the kernels), so no promotion happens.
    """
    dL = L - cL
    da = a - ca
    db = b - cb
    dy = y - cy
    dx = x - cx
    return dL * dL + da * da + db * db + m * (dy * dy + dx * dx)


srgb_to_linear = njit(cache=True, inline="always", error_model="numpy")(srgb_to_linear_py)
lab_f = njit(cache=True, inline="always", error_model="numpy")(lab_f_py)
linear_rgb_to_lab = njit(cache=True, inline="always", error_model="numpy")(linear_rgb_to_lab_py)
slic_distance = njit(cache=True, inline="always", error_model="numpy")(slic_distance_py)


# ----------------------------------------------------------------------------------------------
# Colour conversion
# ----------------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def srgb_lut(lo, scale):
    """(256,) float64: ``srgb_to_linear((v - lo) * scale)`` for every uint8 value ``v``."""
    lut = np.empty(256, np.float64)
    for v in range(256):
        lut[v] = srgb_to_linear((v - lo) * scale)
    return lut


@njit(cache=True, error_model="numpy")
def _lab_row(r, g, b, out, y):
    """Lab of one row of linear RGB values ``r, g, b`` (W,) into ``out[:, y]`` (vectorised)."""
    o0 = out[0, y]
    o1 = out[1, y]
    o2 = out[2, y]
    for x in range(r.shape[0]):
        L, a, b_ = linear_rgb_to_lab(r[x], g[x], b[x])
        o0[x] = L
        o1[x] = a
        o2[x] = b_


@njit(cache=True, parallel=True, error_model="numpy")
def lab_planes_u8(image, lut):
    """CIELAB planes of a uint8 RGB image.

    Parameters
    ----------
    image : (H, W, 3) uint8, C-contiguous
    lut : (256,) float64, linear-light value of each uint8 level (see ``srgb_lut``)

    Returns
    -------
    (3, H, W) float32: L, a, b planes
    """
    H, W = image.shape[0], image.shape[1]
    out = np.empty((3, H, W), np.float32)
    for y in prange(H):
        row = image[y]
        r = np.empty(W, np.float64)
        g = np.empty(W, np.float64)
        b = np.empty(W, np.float64)
        for x in range(W):
            r[x] = lut[row[x, 0]]
            g[x] = lut[row[x, 1]]
            b[x] = lut[row[x, 2]]
        _lab_row(r, g, b, out, y)
    return out


@njit(cache=True, parallel=True, error_model="numpy")
def lab_planes_float(image, lo, scale):
    """CIELAB planes of a float RGB image rescaled by ``(v - lo) * scale`` (into [0, 1]).

    Parameters
    ----------
    image : (H, W, 3) float32 or float64, C-contiguous
    lo, scale : float

    Returns
    -------
    (3, H, W) float32: L, a, b planes
    """
    H, W = image.shape[0], image.shape[1]
    out = np.empty((3, H, W), np.float32)
    for y in prange(H):
        row = image[y]
        r = np.empty(W, np.float64)
        g = np.empty(W, np.float64)
        b = np.empty(W, np.float64)
        for x in range(W):
            r[x] = (np.float64(row[x, 0]) - lo) * scale
            g[x] = (np.float64(row[x, 1]) - lo) * scale
            b[x] = (np.float64(row[x, 2]) - lo) * scale
        for x in range(W):
            r[x] = srgb_to_linear(r[x])
            g[x] = srgb_to_linear(g[x])
            b[x] = srgb_to_linear(b[x])
        _lab_row(r, g, b, out, y)
    return out


# ----------------------------------------------------------------------------------------------
# k-means iterations
# ----------------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy", inline="always")
def _sum_row(lrow, Lrow, arow, brow, y, iy, nx, acc):
    """Add the pixels of row ``y`` (cell row ``iy``) to ``acc[dy + 1, kx]`` (see ``assign``)."""
    W = lrow.shape[0]
    x = 0
    while x < W:
        # one run of equal labels: sums in registers, one scattered add per run
        k = lrow[x]
        cnt = 0
        sx = 0.0
        sL = 0.0
        sa = 0.0
        sb = 0.0
        while x < W and lrow[x] == k:
            cnt += 1
            sx += x
            sL += Lrow[x]
            sa += arow[x]
            sb += brow[x]
            x += 1
        ky = k // nx
        slot = ky - iy + 1
        kx = k - ky * nx
        acc[slot, kx, 0] += cnt
        acc[slot, kx, 1] += cnt * y
        acc[slot, kx, 2] += sx
        acc[slot, kx, 3] += sL
        acc[slot, kx, 4] += sa
        acc[slot, kx, 5] += sb


@njit(cache=True, parallel=True, error_model="numpy")
def cluster_sums(planes, labels, row_lo, row_hi, nx, sums):
    """The sums of ``assign`` for given labels (used after the initial, spatial assignment).

    Parameters
    ----------
    planes : (3, H, W) float32
    labels : (H, W) int32; the pixels of cell row ``iy`` only hold clusters of rows
        ``iy - 1 .. iy + 1``
    row_lo, row_hi : (ny,) int32, the pixel rows of each cell row
    nx : int
    sums : (ny, 3, nx, 6) float64, written (see ``assign``)
    """
    ny = row_lo.shape[0]
    for iy in prange(ny):
        acc = sums[iy]
        acc[:] = 0.0
        for y in range(row_lo[iy], row_hi[iy]):
            _sum_row(labels[y], planes[0, y], planes[1, y], planes[2, y], y, iy, nx, acc)


@njit(cache=True, parallel=True, error_model="numpy")
def assign(planes, centres, alive, row_lo, row_hi, xlo, xhi, nx, m, labels, previous, sums,
           accumulate):
    """One SLIC assignment step (gather over the 3 x 3 neighbouring clusters), fused with
    the sums of the next centre update.

    The parallel loop runs over cell rows: pixel rows ``row_lo[iy]:row_hi[iy]`` have cell row
    ``iy`` and only join clusters of rows ``iy - 1 .. iy + 1``, so cell row ``iy`` owns the
    sums ``sums[iy]`` of its pixels for those three cluster rows (no races, and the same
    additions in the same order whatever the number of threads).

    Parameters
    ----------
    planes : (3, H, W) float32, the L, a, b planes
    centres : (K, 5) float32, ``(y, x, L, a, b)`` of each cluster, ``K = ny * nx``
    alive : (K,) bool, False for clusters that lost all their pixels
    row_lo, row_hi : (ny,) int32, the pixel rows of each cell row
    xlo, xhi : (nx,) int32, the pixel columns ``xlo[ix] <= x < xhi[ix]`` whose cell column is
        ``ix - 1``, ``ix`` or ``ix + 1`` (those that have cluster column ``ix`` as a candidate)
    nx : int, clusters per row
    m : float32, ``(compactness / S)^2``
    labels : (H, W) int32, written: the cluster of each pixel
    previous : (H, W) int32, the previous labels (read to count changes; a pixel whose nine
        candidates are all dead would keep its previous label)
    sums : (ny, 3, nx, 6) float64, written if ``accumulate``: ``sums[iy, dy + 1, kx]`` is
        ``(n, sum y, sum x, sum L, sum a, sum b)`` over the pixels of cell row ``iy`` in
        cluster ``(iy + dy, kx)``
    accumulate : bool, compute ``sums`` (not needed after the last assignment)

    Returns
    -------
    int: number of pixels whose label differs from ``previous``
    """
    W = planes.shape[2]
    ny = row_lo.shape[0]
    inf = np.float32(np.inf)
    Wp = W + 16  # row buffers padded so that every distance loop runs a multiple of 16
    changed = 0
    for iy in prange(ny):
        best = np.empty(Wp, np.float32)
        lbuf = np.zeros(Wp, np.int32)
        Lrow = np.zeros(Wp, np.float32)
        arow = np.zeros(Wp, np.float32)
        brow = np.zeros(Wp, np.float32)
        acc = sums[iy]
        if accumulate:
            acc[:] = 0.0
        for y in range(row_lo[iy], row_hi[iy]):
            lrow = labels[y]
            prow = previous[y]
            for x in range(W):
                lbuf[x] = prow[x]
                best[x] = inf
                Lrow[x] = planes[0, y, x]
                arow[x] = planes[1, y, x]
                brow[x] = planes[2, y, x]
            fy = np.float32(y)
            # candidates in increasing k with a strict "<": the lowest k wins ties (as skimage)
            for ky in range(max(iy - 1, 0), min(iy + 2, ny)):
                for kx in range(nx):
                    k = ky * nx + kx
                    if not alive[k]:
                        continue
                    cy = centres[k, 0]
                    cx = centres[k, 1]
                    cL = centres[k, 2]
                    ca = centres[k, 3]
                    cb = centres[k, 4]
                    x0 = xlo[kx]
                    n = xhi[kx] - x0
                    # 0-based slices, few arrays, a trip count that is a multiple of 16 (the
                    # pixels past n get distance inf and keep their values): LLVM vectorises
                    # this loop without a scalar remainder
                    n16 = (n + 15) & ~15
                    bs = best[x0:x0 + n16]
                    ls = lbuf[x0:x0 + n16]
                    Ls = Lrow[x0:x0 + n16]
                    As = arow[x0:x0 + n16]
                    Bs = brow[x0:x0 + n16]
                    for i in range(n16):
                        d = slic_distance(
                            Ls[i], As[i], Bs[i], fy, np.float32(x0 + i), cL, ca, cb, cy, cx, m
                        )
                        d = d if i < n else inf
                        b = bs[i]
                        closer = d < b
                        bs[i] = d if closer else b
                        ls[i] = k if closer else ls[i]
            c = 0
            for x in range(W):
                lrow[x] = lbuf[x]
                if lbuf[x] != prow[x]:
                    c += 1
            changed += c
            if accumulate:
                _sum_row(lrow, Lrow, arow, brow, y, iy, nx, acc)
    return changed


@njit(cache=True, error_model="numpy")
def update(sums, nx, centres, alive):
    """Move every cluster centre to the mean (y, x, L, a, b) of its pixels.

    Parameters
    ----------
    sums : (ny, 3, nx, 6) float64, from ``assign``
    nx : int
    centres : (K, 5) float32, overwritten
    alive : (K,) bool, overwritten: False where a cluster has no pixel (its centre is kept
        but never used again, like scikit-image's NaN centres)
    """
    ny = sums.shape[0]
    s = np.empty(6, np.float64)
    for k in range(ny * nx):
        ky = k // nx
        kx = k - ky * nx
        s[:] = 0.0
        for slot in range(3):  # fixed order: bit-identical whatever the thread count
            band = ky - slot + 1  # the cell row whose pixels reach cluster row ky via ``slot``
            if 0 <= band < ny:
                for j in range(6):
                    s[j] += sums[band, slot, kx, j]
        if s[0] > 0:
            alive[k] = True
            for j in range(5):
                centres[k, j] = s[j + 1] / s[0]
        else:
            alive[k] = False


# ----------------------------------------------------------------------------------------------
# Connectivity
# ----------------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def enforce_connectivity(labels, min_size, max_size):
    """Make every label one 4-connected region; merge fragments below ``min_size`` pixels.

    A raster scan starts a breadth-first flood fill (4-connectivity, at most ``max_size``
    pixels) at each pixel not yet reached.  A region with fewer than ``min_size`` pixels takes
    the label of the last already-labelled neighbouring pixel that the fill met (neighbours
    visited right, left, down, up): exactly scikit-image's rule.  Every region but the one at
    pixel (0, 0) has such a neighbour (above or left of its first pixel).  The region at
    (0, 0) has none; scikit-image then lets it share its label with the next region, which
    breaks connectivity.  Here, if it (with what merged into it) stays below ``min_size``,
    it joins its first neighbouring region in raster order after the scan.

    Parameters
    ----------
    labels : (H, W) int32, cluster labels
    min_size, max_size : int, ``1 <= max_size``

    Returns
    -------
    out : (H, W) int32, labels ``0 .. n - 1`` in order of first appearance (raster order;
        except when the region at (0, 0) was merged), each one 4-connected region
    n : int
    """
    H, W = labels.shape
    out = np.full((H, W), -1, np.int32)
    cap = min(max_size, H * W)
    qy = np.empty(cap, np.int32)
    qx = np.empty(cap, np.int32)
    dys = (0, 0, 1, -1)  # right, left, down, up: scikit-image's order
    dxs = (1, -1, 0, 0)
    n = 0
    for y0 in range(H):
        for x0 in range(W):
            if out[y0, x0] >= 0:
                continue
            lab = labels[y0, x0]
            new = n
            out[y0, x0] = new
            qy[0] = y0
            qx[0] = x0
            size = 1
            head = 0
            adj = -1
            while head < size and size < cap:
                py = qy[head]
                px = qx[head]
                head += 1
                for j in range(4):
                    yy = py + dys[j]
                    xx = px + dxs[j]
                    if 0 <= yy < H and 0 <= xx < W:
                        o = out[yy, xx]
                        if o < 0 and labels[yy, xx] == lab:
                            out[yy, xx] = new
                            qy[size] = yy
                            qx[size] = xx
                            size += 1
                            if size >= cap:
                                break
                        elif o >= 0 and o != new:
                            adj = o
            if size < min_size and adj >= 0:
                for i in range(size):
                    out[qy[i], qx[i]] = adj
            else:
                n += 1
    if n > 1:
        # the region holding pixel (0, 0) (label 0) could not merge during the scan
        size0 = 0
        for y in range(H):
            for x in range(W):
                if out[y, x] == 0:
                    size0 += 1
        if size0 < min_size:
            adj = -1
            for y in range(H):
                for x in range(W):
                    if out[y, x] == 0 and adj < 0:
                        for j in range(4):
                            yy = y + dys[j]
                            xx = x + dxs[j]
                            if 0 <= yy < H and 0 <= xx < W and out[yy, xx] != 0:
                                adj = out[yy, xx]
                                break
                if adj >= 0:
                    break
            for y in range(H):
                for x in range(W):
                    v = out[y, x]
                    if v == 0:
                        out[y, x] = adj - 1
                    else:
                        out[y, x] = v - 1
            n -= 1
    return out, n


@njit(cache=True, error_model="numpy")
def relabel_sequential(labels, n_clusters):
    """Renumber cluster labels ``0 .. n_clusters - 1`` to ``0 .. n - 1``, keeping their order.

    Returns
    -------
    out : (H, W) int32
    n : int, the number of clusters present
    """
    H, W = labels.shape
    used = np.zeros(n_clusters, np.bool_)
    for y in range(H):
        for x in range(W):
            used[labels[y, x]] = True
    new = np.full(n_clusters, -1, np.int32)
    n = 0
    for k in range(n_clusters):
        if used[k]:
            new[k] = n
            n += 1
    out = np.empty((H, W), np.int32)
    for y in range(H):
        for x in range(W):
            out[y, x] = new[labels[y, x]]
    return out, n
