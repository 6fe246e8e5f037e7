"""SLIC superpixels, the fast algorithm (CPU, numba): ``slic(..., algorithm="fast")``.

The scheme of fast-slic (Kim, github.com/Algy/fast-slic: subsampled rows, L1 distance,
the largest components kept), written anew for numba; the CUDA twin is
:mod:`p2i_prior.kernels.cuda_slic_fast`.  The host driver
(:func:`p2i_prior.superpixels.slic_cpu`) calls, in order:

1. ``lab_planes_u8`` (uint8 RGB), ``lab_planes_rgb`` (other RGB) or ``grey_planes``: sRGB ->
   CIELAB in float32 (the linear-light values in float64, a lookup table for uint8, then the
   matrix and a branch-free cube root) into padded planes ``(3, H, W + PAD)`` rounded to
   multiples of ``1 / QUANTUM``, and per row the running sums of each plane (int64, in units
   of ``1 / QUANTUM``: exact), so that the sum of a plane over a run of pixels is one
   subtraction.
2. ``cluster_labels``: ``layout`` (a grid of about ``n_segments`` cells), ``initial_centres``
   (each seed with the colour of its pixel), then at most ``max_num_iter`` k-means iterations
   on one row in ``STRIDE = 3`` each (``y % 3 == it % 3``, the rows fast-slic's
   ``subsample_stride=3`` re-assigns): ``assign`` labels those rows and sums each cluster's
   pixels on them, ``update`` moves every centre to the mean of its pixels on those rows (a
   cluster with none keeps its centre); the loop stops early after an iteration that changed
   the label of fewer than ``CHANGE_TOL`` (15%) of its pixels.  Then ``assign_final`` labels
   every row, each pixel against the 3 x 3 clusters around its nearest seed (the iterations'
   2 x 2 would not let a cluster that drifted reach the pixels beyond its seed's window; this
   last wider look raises the boundary recall on the coco_persons photos by 0.004).
3. ``connected_runs`` + ``merge_runs``: 4-connected components of equal labels, found on runs
   of equal labels with union-find; the ``max_regions`` largest of those with at least
   ``min_size`` pixels stay superpixels, every other one joins the region of the pixel left
   of or above its first pixel, whichever pixel's component has the closer mean colour.

Exact sums: every plane value is a multiple of ``1 / QUANTUM`` below ``2**7`` in magnitude and
every coordinate an integer, so each sum of them over an image (a cluster's or a component's)
is exact in float64: the result does not depend on the order of the additions (threads, runs
or GPU atomics), and the CPU and GPU centres agree to the bit.

Assignment (gather over 2 x 2 clusters)
---------------------------------------
Seeds ``seed_y[0..ny-1]`` and ``seed_x[0..nx-1]`` (increasing) are the centres of a regular
``ny x nx`` grid of cells; cluster ``k = iy * nx + ix`` starts at seed ``(iy, ix)`` with the
colour of the pixel there.  A pixel compares itself with the four clusters whose seeds
bracket it: rows ``a, a + 1`` with ``seed_y[a] <= y < seed_y[a + 1]`` (clipped to the grid)
and likewise columns; it takes the nearest, the lowest ``k`` on ties.  This is SLIC's
``2S x 2S`` search window around each seed, evaluated as a gather (each pixel written by one
thread, so the labels do not depend on the number of threads).  The pixel rows of seed-row
pair ``a`` form band ``a``; a band's rows only join cluster rows ``a`` and ``a + 1``, so each
band sums its pixels into its own ``sums[a, 0 or 1]`` and ``update`` adds the two bands of a
cluster row in a fixed order: bit-identical results whatever the number of threads.

Distance (the L1 form fast-slic uses)
-------------------------------------
``|dL| + |da| + |db| + w * (|dy| + |dx|)`` with ``w = compactness / S`` and ``S`` the mean
cell side; float32, with the distance loop over a window padded to a multiple of 16 pixels
(pixels past the window get distance inf) so that LLVM vectorises it without a remainder.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .slic import srgb_to_linear

__all__ = [
    "PAD",
    "QUANTUM",
    "lab_planes_u8",
    "lab_planes_rgb",
    "grey_planes",
    "prefix_sums",
    "assign",
    "assign_final",
    "update",
    "connected_runs",
    "merge_runs",
]

#: Padding (pixels) at the end of every plane row: each distance loop runs a multiple of 16.
PAD = 16

_F = np.float32
# sRGB (linear) -> XYZ / white point (D65), skimage.color.rgb2lab's constants
_M = np.array([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
               [0.019334, 0.119193, 0.950227]]) / np.array([[0.95047], [1.0], [1.08883]])
_M00, _M01, _M02 = _F(_M[0, 0]), _F(_M[0, 1]), _F(_M[0, 2])
_M10, _M11, _M12 = _F(_M[1, 0]), _F(_M[1, 1]), _F(_M[1, 2])
_M20, _M21, _M22 = _F(_M[2, 0]), _F(_M[2, 1]), _F(_M[2, 2])
# cube-root guess on [0.008856, 1] (see kernels.slic.lab_f_py), float32
_C0, _C1 = _F(0.21131376722290207), _F(2.8607215167939195)
_C2, _C3 = _F(-4.896781635115552), _F(2.9665631866218694)
_T0 = _F(0.008856)
_K1, _K2 = _F(7.787), _F(16.0 / 116.0)
_TWO = _F(2.0)
#: Lab values are rounded to multiples of 1 / QUANTUM: every sum of them (and of pixel
#: coordinates) over an image is then exact in float64, so it does not depend on the order
#: of the additions (threads, GPU atomics).
QUANTUM = 256
_Q, _INV_Q, _MAGIC = _F(QUANTUM), _F(1.0 / QUANTUM), _F(1.5 * 2**23)
_INV_Q64 = 1.0 / QUANTUM
_L116, _L16, _A500, _B200 = _F(116.0), _F(16.0), _F(500.0), _F(200.0)


def lab_f32_py(t):
    """CIELAB's ``f(t)`` in float32: kernels.slic.lab_f_py's guess and two Halley steps."""
    u = t if t > _T0 else _T0
    y = _C0 + u * (_C1 + u * (_C2 + u * _C3))
    y3 = y * y * y
    y = y * (y3 + _TWO * u) / (_TWO * y3 + u)
    y3 = y * y * y
    y = y * (y3 + _TWO * u) / (_TWO * y3 + u)
    lin = _K1 * t + _K2
    return y if t > _T0 else lin


def quantise_py(v):
    """``v`` (float32, ``|v| < 2**14``) rounded to the nearest multiple of ``1 / QUANTUM``.

    ``(t + 1.5 * 2**23) - 1.5 * 2**23`` rounds ``t`` to an integer in float32 arithmetic
    (ties to even); no conversion to an integer type, so the loop stays vectorised, and the
    same on both targets (``v * QUANTUM`` is exact, so a fused multiply-add changes nothing).
    """
    return ((v * _Q + _MAGIC) - _MAGIC) * _INV_Q


def linear_to_lab_q_py(r, g, b):
    """Quantised float32 CIELAB ``(L, a, b)`` of float32 linear-light ``r, g, b``."""
    fx = lab_f32(_M00 * r + _M01 * g + _M02 * b)
    fy = lab_f32(_M10 * r + _M11 * g + _M12 * b)
    fz = lab_f32(_M20 * r + _M21 * g + _M22 * b)
    return quantise(_L116 * fy - _L16), quantise(_A500 * (fx - fy)), quantise(_B200 * (fy - fz))


lab_f32 = njit(cache=True, inline="always", error_model="numpy")(lab_f32_py)
quantise = njit(cache=True, inline="always", error_model="numpy")(quantise_py)
linear_to_lab_q = njit(cache=True, inline="always", error_model="numpy")(linear_to_lab_q_py)


@njit(cache=True, error_model="numpy", inline="always")
def _lab_row(r, g, b, out, cum, y, W):
    """Row ``y`` of the planes from its float32 linear-light values, and its prefix sums."""
    o0 = out[0, y]
    o1 = out[1, y]
    o2 = out[2, y]
    for x in range(W):
        L, A, B = linear_to_lab_q(r[x], g[x], b[x])
        o0[x] = L
        o1[x] = A
        o2[x] = B
    _prefix_row(out, cum, y, W)


@njit(cache=True, parallel=True, error_model="numpy")
def lab_planes_u8(image, lut):
    """CIELAB planes of a uint8 RGB image, padded.

    Parameters
    ----------
    image : (H, W, 3) uint8, C-contiguous
    lut : (256,) float32, linear-light value of each uint8 level (``kernels.slic.srgb_lut``)

    Returns
    -------
    planes : (3, H, W + PAD) float32, L, a, b (within 2e-3 of ``skimage.color.rgb2lab``,
        multiples of ``1 / QUANTUM``); the padding is 0
    cum : (3, H, W + 1) int64, their ``prefix_sums``
    """
    H, W = image.shape[0], image.shape[1]
    out = np.zeros((3, H, W + PAD), np.float32)
    cum = np.empty((3, H, W + 1), np.int64)
    for y in prange(H):
        row = image[y]
        r = np.empty(W, np.float32)
        g = np.empty(W, np.float32)
        b = np.empty(W, np.float32)
        for x in range(W):  # gathers first: the colour loop then vectorises
            r[x] = lut[row[x, 0]]
            g[x] = lut[row[x, 1]]
            b[x] = lut[row[x, 2]]
        _lab_row(r, g, b, out, cum, y, W)
    return out, cum


@njit(cache=True, parallel=True, error_model="numpy")
def lab_planes_rgb(image, lo, scale):
    """``lab_planes_u8`` of a float (or non-uint8 integer) RGB image rescaled by
    ``(v - lo) * scale``: ``kernels.slic.srgb_to_linear`` in float64, as in the lookup table
    of ``lab_planes_u8``, so equal rescaled values give equal planes."""
    H, W = image.shape[0], image.shape[1]
    out = np.zeros((3, H, W + PAD), np.float32)
    cum = np.empty((3, H, W + 1), np.int64)
    for y in prange(H):
        row = image[y]
        r = np.empty(W, np.float32)
        g = np.empty(W, np.float32)
        b = np.empty(W, np.float32)
        for x in range(W):
            r[x] = srgb_to_linear((np.float64(row[x, 0]) - lo) * scale)
            g[x] = srgb_to_linear((np.float64(row[x, 1]) - lo) * scale)
            b[x] = srgb_to_linear((np.float64(row[x, 2]) - lo) * scale)
        _lab_row(r, g, b, out, cum, y, W)
    return out, cum


@njit(cache=True, parallel=True, error_model="numpy")
def grey_planes(image, lo, scale):
    """Planes of an (H, W) greyscale image: ``quantise(float32((v - lo) * scale))`` in
    plane 0, the others 0, and their prefix sums."""
    H, W = image.shape[0], image.shape[1]
    out = np.zeros((3, H, W + PAD), np.float32)
    cum = np.empty((3, H, W + 1), np.int64)
    for y in prange(H):
        o0 = out[0, y]
        for x in range(W):
            o0[x] = quantise(np.float32((np.float64(image[y, x]) - lo) * scale))
        _prefix_row(out, cum, y, W)
    return out, cum


@njit(cache=True, error_model="numpy", inline="always")
def _prefix_row(planes, cum, y, W):
    """``cum[c, y, x] = QUANTUM * sum(planes[c, y, :x])`` for ``x <= W``, in int64 (the
    values are integers; integer additions make a shorter dependency chain than float)."""
    s0 = 0
    s1 = 0
    s2 = 0
    p0 = planes[0, y]
    p1 = planes[1, y]
    p2 = planes[2, y]
    o0 = cum[0, y]
    o1 = cum[1, y]
    o2 = cum[2, y]
    for x in range(W):
        o0[x] = s0
        o1[x] = s1
        o2[x] = s2
        s0 += np.int64(p0[x] * _Q)
        s1 += np.int64(p1[x] * _Q)
        s2 += np.int64(p2[x] * _Q)
    o0[W] = s0
    o1[W] = s1
    o2[W] = s2


@njit(cache=True, parallel=True, error_model="numpy")
def prefix_sums(planes, W):
    """(3, H, W + 1) int64: ``out[c, y, x] = QUANTUM * sum(planes[c, y, :x])`` (exact)."""
    H = planes.shape[1]
    out = np.empty((3, H, W + 1), np.int64)
    for y in prange(H):
        _prefix_row(planes, out, y, W)
    return out


@njit(cache=True, error_model="numpy", inline="always")
def _row_runs(row, W, starts):
    """Runs of equal values of ``row[:W]``: ``starts[:n + 1]`` their first columns and ``W``.

    Returns ``n``.  Branch-free (a store per pixel, the count moves on at each change): a
    branch per pixel mispredicts at every run end.
    """
    starts[0] = 0
    n = 1
    for x in range(1, W):
        starts[n] = x
        n += row[x] != row[x - 1]
    starts[n] = W
    return n


@njit(cache=True, error_model="numpy", inline="always")
def _run_sums(lbuf, W, y, a, nx, cum, acc, starts):
    """Add the runs of equal labels of row ``y`` (band ``a``) to ``acc`` (see ``assign``),
    each run's colour sums from the prefix sums."""
    c0 = cum[0, y]
    c1 = cum[1, y]
    c2 = cum[2, y]
    n = _row_runs(lbuf, W, starts)
    next_row = (a + 1) * nx
    for i in range(n):
        s = starts[i]
        e = starts[i + 1]
        k = lbuf[s]
        j = 1 if k >= next_row else 0  # cluster row a or a + 1 (no integer division)
        kx = k - (a + j) * nx
        cnt = e - s
        acc[j, kx, 0] += cnt
        acc[j, kx, 1] += cnt * y
        acc[j, kx, 2] += (s + e - 1) * cnt * 0.5
        acc[j, kx, 3] += (c0[e] - c0[s]) * _INV_Q64  # exact: a power of two
        acc[j, kx, 4] += (c1[e] - c1[s]) * _INV_Q64
        acc[j, kx, 5] += (c2[e] - c2[s]) * _INV_Q64


@njit(cache=True, error_model="numpy", inline="always")
def _label_row(planes, y, xs, centres, ky0, ky1, nx, xlo, xhi, w, best, lbuf):
    """``lbuf[x]``: the nearest of the clusters ``ky0 <= ky < ky1`` (all columns ``kx``,
    each over its window ``xlo[kx]:xhi[kx]``) for the pixels of row ``y``.

    Candidates in increasing ``k`` with a strict ``<``: the lowest ``k`` wins ties.  Each
    window loop runs a multiple of 16 pixels over the padded row (pixels past the window get
    distance inf and keep their values), so LLVM vectorises it without a remainder.
    """
    inf = np.float32(np.inf)
    for x in range(best.shape[0]):
        best[x] = inf
    Lrow = planes[0, y]
    arow = planes[1, y]
    brow = planes[2, y]
    fy = np.float32(y)
    for ky in range(ky0, ky1):
        for kx in range(nx):
            k = ky * nx + kx
            cx = centres[k, 1]
            cL = centres[k, 2]
            ca = centres[k, 3]
            cb = centres[k, 4]
            x0 = xlo[kx]
            n = xhi[kx] - x0
            n16 = (n + 15) & ~15
            bs = best[x0:x0 + n16]
            ls = lbuf[x0:x0 + n16]
            Ls = Lrow[x0:x0 + n16]
            As = arow[x0:x0 + n16]
            Bs = brow[x0:x0 + n16]
            Xs = xs[x0:x0 + n16]
            sy = w * abs(fy - centres[k, 0])
            for i in range(n16):
                d = (abs(Ls[i] - cL) + abs(As[i] - ca) + abs(Bs[i] - cb)
                     + (sy + w * abs(Xs[i] - cx)))
                d = d if i < n else inf
                b = bs[i]
                closer = d < b
                bs[i] = d if closer else b
                ls[i] = k if closer else ls[i]


@njit(cache=True, parallel=True, error_model="numpy")
def assign(planes, W, centres, row_lo, row_hi, xlo, xhi, ny, nx, w, phase, stride, labels, cum,
           sums, accumulate):
    """Label the rows ``y % stride == phase`` (all rows with ``stride=1``), and sum them.

    Parameters
    ----------
    planes : (3, H, W + PAD) float32, from ``lab_planes_u8``
    W : int, the image width
    centres : (K, 5) float32, ``(y, x, L, a, b)`` of each cluster, ``K = ny * nx``
    row_lo, row_hi : (nb,) int32, the pixel rows of each band (``nb = max(ny - 1, 1)``)
    xlo, xhi : (nx,) int32, the pixel columns whose seed-column pair holds column ``ix``
    ny, nx : int
    w : float32, ``compactness / S``
    phase, stride : int
    labels : (H, W) int32, written on the rows labelled
    cum : (3, H, W + 1) int64, from ``prefix_sums``
    sums : (nb, 2, nx, 6) float64, written if ``accumulate``: ``sums[a, j, ix]`` is
        ``(n, sum y, sum x, sum L, sum a, sum b)`` over the labelled pixels of band ``a`` in
        cluster ``(a + j, ix)``
    accumulate : bool

    Returns
    -------
    int: the number of labelled pixels whose label changed
    """
    nb = row_lo.shape[0]
    Wp = planes.shape[2]
    xs = np.arange(Wp).astype(np.float32)
    changed = np.zeros(nb, np.int64)
    for a in prange(nb):
        best = np.empty(Wp, np.float32)
        lbuf = np.zeros(Wp, np.int32)
        starts = np.empty(W + 1, np.int32)
        acc = sums[a]
        if accumulate:
            acc[:] = 0.0
        y0 = row_lo[a]
        for y in range(y0 + (phase - y0) % stride, row_hi[a], stride):
            _label_row(planes, y, xs, centres, a, min(a + 2, ny), nx, xlo, xhi, w, best, lbuf)
            lrow = labels[y]
            c = 0
            for x in range(W):
                c += lrow[x] != lbuf[x]
                lrow[x] = lbuf[x]
            changed[a] += c
            if accumulate:
                _run_sums(lbuf, W, y, a, nx, cum, acc, starts)
    return changed.sum()


@njit(cache=True, parallel=True, error_model="numpy")
def assign_final(planes, W, centres, cell_lo, cell_hi, xlo3, xhi3, ny, nx, w, labels):
    """The last assignment, of every row, over 3 x 3 clusters: a pixel of the cell
    ``(iy, ix)`` of its nearest seed compares the clusters of rows ``iy - 1 .. iy + 1`` and
    columns ``ix - 1 .. ix + 1`` (clipped to the grid), lowest ``k`` on ties.

    Parameters
    ----------
    planes, W, centres, ny, nx, w : as ``assign``
    cell_lo, cell_hi : (ny,) int32, the pixel rows of each seed row's cell
    xlo3, xhi3 : (nx,) int32, the pixel columns whose cell column is ``ix - 1 .. ix + 1``
    labels : (H, W) int32, written
    """
    Wp = planes.shape[2]
    xs = np.arange(Wp).astype(np.float32)
    for iy in prange(ny):
        best = np.empty(Wp, np.float32)
        lbuf = np.zeros(Wp, np.int32)
        for y in range(cell_lo[iy], cell_hi[iy]):
            _label_row(planes, y, xs, centres, max(iy - 1, 0), min(iy + 2, ny), nx, xlo3, xhi3, w,
                       best, lbuf)
            lrow = labels[y]
            for x in range(W):
                lrow[x] = lbuf[x]


@njit(cache=True, error_model="numpy")
def update(sums, ny, nx, centres):
    """Move every cluster with pixels in ``sums`` (from ``assign``) to their mean.

    The two bands that reach cluster row ``ky`` (``ky`` and ``ky - 1``) are added in that
    order, so the result does not depend on the number of threads.
    """
    nb = sums.shape[0]
    s = np.empty(6, np.float64)
    for k in range(ny * nx):
        ky = k // nx
        kx = k - ky * nx
        s[:] = 0.0
        if ky < nb:
            for j in range(6):
                s[j] += sums[ky, 0, kx, j]
        if ky >= 1:
            for j in range(6):
                s[j] += sums[ky - 1, 1, kx, j]
        if s[0] > 0:
            for j in range(5):
                centres[k, j] = s[j + 1] / s[0]


# ----------------------------------------------------------------------------------------------
# Connectivity
# ----------------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy", inline="always")
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@njit(cache=True, error_model="numpy")
def connected_runs(labels):
    """Runs of equal labels and the 4-connected components they form.

    Returns
    -------
    rs, re : (R,) int32, first and one-past-last column of each run, in raster order
    up : (R,) int32, for a run of row ``y > 0`` the run of row ``y - 1`` above its first pixel
    roff : (H + 1,) int64, the runs of row ``y`` are ``roff[y]:roff[y + 1]``
    comp : (R,) int32, the component of each run; components are numbered in raster order of
        their first pixel
    first : (C,) int32, the first run of each component
    nc : int, the number of components ``C``
    """
    H, W = labels.shape
    cap = H * W
    rs = np.empty(cap, np.int32)
    re = np.empty(cap, np.int32)
    rl = np.empty(cap, np.int32)
    up = np.zeros(cap, np.int32)
    parent = np.empty(cap, np.int32)
    roff = np.empty(H + 1, np.int64)
    starts = np.empty(W + 1, np.int32)
    nr = 0
    for y in range(H):
        roff[y] = nr
        row = labels[y]
        n = _row_runs(row, W, starts)
        for i in range(n):
            rs[nr] = starts[i]
            re[nr] = starts[i + 1]
            rl[nr] = row[starts[i]]
            parent[nr] = nr
            up[nr] = cap
            nr += 1
        if y > 0:
            # union each run with the overlapping runs of the row above that share its label;
            # roots are the earliest run of a component
            i = roff[y - 1]
            iend = roff[y]
            j = iend
            while i < iend and j < nr:
                # the first i that meets run j covers its first pixel
                up[j] = min(up[j], i)
                if rl[i] == rl[j]:
                    p = _find(parent, i)
                    q = _find(parent, j)
                    if p < q:
                        parent[q] = p
                    elif q < p:
                        parent[p] = q
                ei = re[i]
                ej = re[j]
                i += ei <= ej  # branch-free: the run that ends first moves on (both on a tie)
                j += ej <= ei
    roff[H] = nr
    comp = np.empty(nr, np.int32)
    first = np.empty(nr, np.int32)
    nc = 0
    for r in range(nr):  # links point to earlier runs: parent[r]'s component is known
        p = parent[r]
        if p == r:
            comp[r] = nc
            first[nc] = r
            nc += 1
        else:
            comp[r] = comp[p]
    return rs[:nr], re[:nr], up[:nr], roff, comp, first[:nc], nc


@njit(cache=True, error_model="numpy")
def _keep_largest(size, min_size, max_regions):
    """(nc,) bool: the ``max_regions`` largest components with ``size >= min_size`` (the
    earlier one on equal sizes)."""
    nc = size.shape[0]
    keep = size >= min_size
    n = 0
    for c in range(nc):
        if keep[c]:
            n += 1
    if n <= max_regions:
        return keep
    # the threshold size t: all components above t are kept, and the first ones equal to t
    top = 0
    for c in range(nc):
        top = max(top, size[c])
    hist = np.zeros(top + 2, np.int64)
    for c in range(nc):
        if keep[c]:
            hist[size[c]] += 1
    above = 0
    t = top
    while above + hist[t] < max_regions:
        above += hist[t]
        t -= 1
    room = max_regions - above
    for c in range(nc):
        if size[c] > t:
            keep[c] = True
        elif size[c] == t and room > 0:
            keep[c] = True
            room -= 1
        else:
            keep[c] = False
    return keep


@njit(cache=True, error_model="numpy")
def merge_runs(H, W, rs, re, up, roff, comp, first, nc, cum, min_size, max_regions):
    """Connected superpixels from ``connected_runs``: keep, merge, number.

    Component ``c`` stays a superpixel if it is among the ``max_regions`` largest components
    of at least ``min_size`` pixels (``_keep_largest``).  Components are visited in raster
    order of their first pixel ``(y, x)``; one that does not stay joins the region of pixel
    ``(y, x - 1)`` or of pixel ``(y - 1, x)`` (both visited before), whichever of those two
    pixels' components has the nearer mean colour (L1 in Lab; the left one on ties or when
    only one exists).  The component at pixel (0, 0) has neither; if it does not stay, after the scan
    its whole region joins the region of the first run (raster order) that touches it.
    Every region stays 4-connected.

    Parameters
    ----------
    H, W : int
    rs, re, up, roff, comp, first, nc : from ``connected_runs``
    cum : (3, H, W + 1) int64, from ``prefix_sums``: the colour of each component
    min_size, max_regions : int

    Returns
    -------
    out : (H, W) int32, labels ``0 .. n - 1`` in raster order of their first pixel
    n : int
    """
    size = np.zeros(nc, np.int64)
    col = np.zeros((nc, 3), np.float64)
    for y in range(H):
        c0 = cum[0, y]
        c1 = cum[1, y]
        c2 = cum[2, y]
        for r in range(roff[y], roff[y + 1]):
            c = comp[r]
            s = rs[r]
            e = re[r]
            size[c] += e - s
            col[c, 0] += (c0[e] - c0[s]) * _INV_Q64
            col[c, 1] += (c1[e] - c1[s]) * _INV_Q64
            col[c, 2] += (c2[e] - c2[s]) * _INV_Q64
    for c in range(nc):
        for j in range(3):
            col[c, j] /= size[c]
    keep = _keep_largest(size, min_size, max_regions)
    sub = np.empty(nc, np.int32)
    row1 = roff[1] if H > 1 else rs.shape[0]  # the runs of row 0 are those before row1
    for c in range(nc):  # raster order of first pixels: both candidates are resolved
        r = first[c]
        if keep[c] or r == 0:
            sub[c] = c
            continue
        left = comp[r - 1] if rs[r] > 0 else -1  # the run before, in the same row
        above = comp[up[r]] if r >= row1 else -1
        if left < 0:
            link = above
        elif above < 0 or above == left:
            link = left
        else:
            dl = 0.0
            da = 0.0
            for j in range(3):
                dl += abs(col[c, j] - col[left, j])
                da += abs(col[c, j] - col[above, j])
            link = above if da < dl else left
        sub[c] = sub[link]
    if nc > 1 and not keep[0]:
        tgt = -1
        for y in range(H):
            for r in range(roff[y], roff[y + 1]):
                t = sub[comp[r]]
                if t == 0:
                    continue
                touch = (rs[r] > 0 and sub[comp[r - 1]] == 0) or (
                    r + 1 < roff[y + 1] and sub[comp[r + 1]] == 0)
                for yy in (y - 1, y + 1):
                    if touch or yy < 0 or yy >= H:
                        continue
                    for q in range(roff[yy], roff[yy + 1]):
                        if re[q] > rs[r] and rs[q] < re[r] and sub[comp[q]] == 0:
                            touch = True
                            break
                if touch:
                    tgt = t
                    break
            if tgt >= 0:
                break
        if tgt >= 0:  # else every component joined region 0: it is the whole image
            for c in range(nc):
                if sub[c] == 0:
                    sub[c] = tgt
    new = np.full(nc, -1, np.int32)
    n = 0
    for c in range(nc):
        if sub[c] == c:
            new[c] = n
            n += 1
    # fill each run in whole blocks of 8 pixels (a vectorised store); what spills past a run
    # is overwritten by the next run, in the same row or the next one
    flat = np.empty(H * W + 8, np.int32)
    for y in range(H):
        base = y * W
        for r in range(roff[y], roff[y + 1]):
            v = new[sub[comp[r]]]
            s = base + rs[r]
            n8 = (re[r] - rs[r] + 7) & ~7
            for i in range(n8):
                flat[s + i] = v
    return flat[:H * W].reshape((H, W)), n


# ----------------------------------------------------------------------------------------------
# Seed grid and the iteration loop (plain Python over the kernels above)
# ----------------------------------------------------------------------------------------------


def grid_shape(H, W, n_segments):
    """``(ny, nx)``: a grid of about ``n_segments`` cells, as square as possible.

    Candidates: ``ny`` within 2 of ``sqrt(n * H / W)`` with ``nx = round(n / ny)``, and ``nx``
    within 2 of ``sqrt(n * W / H)`` with ``ny = round(n / nx)``, each clipped to the image.
    Among those whose cells have an aspect ratio within [1/2, 2] (all of them if none has),
    the pair with ``|ny * nx - n|`` smallest wins, then the one with the squarest cells, then
    the smaller ``ny``.
    """
    n = n_segments
    pairs = []
    r = int(round(np.sqrt(n * H / W)))
    for ny in range(r - 2, r + 3):
        ny = min(max(ny, 1), H)
        pairs.append((ny, min(max(int(round(n / ny)), 1), W)))
    r = int(round(np.sqrt(n * W / H)))
    for nx in range(r - 2, r + 3):
        nx = min(max(nx, 1), W)
        pairs.append((min(max(int(round(n / nx)), 1), H), nx))
    aspect = lambda p: abs(np.log((H / p[0]) / (W / p[1])))
    square = [p for p in pairs if aspect(p) <= np.log(2.0) + 1e-12]
    return min(square or pairs, key=lambda p: (abs(p[0] * p[1] - n), aspect(p), p[0], p[1]))


def layout(H, W, n_segments, compactness):
    """The seed grid of :func:`assign` for an H x W image.

    Returns ``(ny, nx, seed_y, seed_x, row_lo, row_hi, xlo, xhi, w)``: seeds at
    ``seed_y[i] = floor((i + 0.5) * H / ny)`` (likewise ``seed_x``), the pixel rows
    ``row_lo[a]:row_hi[a]`` of each band (the rows with ``seed_y[a] <= y < seed_y[a + 1]``,
    the first band reaching up to row 0 and the last down to row ``H - 1``), per seed column
    ``ix`` the pixel columns ``xlo[ix]:xhi[ix]`` that have it as a candidate, and the float32
    spatial weight ``w = compactness / S``, ``S = sqrt(H * W / (ny * nx))``.
    """
    ny, nx = grid_shape(H, W, n_segments)
    seed_y = ((np.arange(ny) + 0.5) * (H / ny)).astype(np.int32)
    seed_x = ((np.arange(nx) + 0.5) * (W / nx)).astype(np.int32)

    def pair(n_pixels, seeds):  # index a of the seed pair (a, a + 1) bracketing each pixel
        a = np.searchsorted(seeds, np.arange(n_pixels), "right") - 1
        return np.clip(a, 0, max(len(seeds) - 2, 0)).astype(np.int32)

    row_pair = pair(H, seed_y)
    col_pair = pair(W, seed_x)
    bands = np.arange(max(ny - 1, 1))
    row_lo = np.searchsorted(row_pair, bands, "left").astype(np.int32)
    row_hi = np.searchsorted(row_pair, bands, "right").astype(np.int32)
    cols = np.arange(nx)
    xlo = np.searchsorted(col_pair, cols - 1, "left").astype(np.int32)
    xhi = np.searchsorted(col_pair, cols, "right").astype(np.int32)
    w = np.float32(compactness / np.sqrt(H * W / (ny * nx)))
    return ny, nx, seed_y, seed_x, row_lo, row_hi, xlo, xhi, w


def cells(H, W, seed_y, seed_x):
    """The cells of ``assign_final``: per seed row the pixel rows ``cell_lo:cell_hi`` nearest
    to it (the lower seed on ties), per seed column ``ix`` the pixel columns ``xlo3:xhi3`` whose
    nearest seed column is ``ix - 1``, ``ix`` or ``ix + 1``; and ``row_cell`` / ``col_cell``,
    each pixel row's / column's nearest seed."""

    def nearest(n_pixels, seeds):
        mid = (seeds[:-1] + seeds[1:]) / 2.0
        return np.searchsorted(mid, np.arange(n_pixels), "left").astype(np.int32)

    row_cell = nearest(H, seed_y)
    col_cell = nearest(W, seed_x)
    rows = np.arange(seed_y.size)
    cell_lo = np.searchsorted(row_cell, rows, "left").astype(np.int32)
    cell_hi = np.searchsorted(row_cell, rows, "right").astype(np.int32)
    cols = np.arange(seed_x.size)
    xlo3 = np.searchsorted(col_cell, cols - 1, "left").astype(np.int32)
    xhi3 = np.searchsorted(col_cell, cols + 1, "right").astype(np.int32)
    return row_cell, col_cell, cell_lo, cell_hi, xlo3, xhi3


def initial_centres(planes, seed_y, seed_x):
    """(K, 5) float32 ``(y, x, L, a, b)``: each seed with the colour of its pixel."""
    ny, nx = seed_y.size, seed_x.size
    centres = np.empty((ny * nx, 5), np.float32)
    yy = np.repeat(seed_y, nx)
    xx = np.tile(seed_x, ny)
    centres[:, 0] = yy
    centres[:, 1] = xx
    centres[:, 2:] = planes[:, yy, xx].T
    return centres


#: Rows labelled per iteration: one in STRIDE (fast-slic's ``subsample_stride``).
STRIDE = 3
#: The iterations stop once one changed the label of fewer than this share of its pixels
#: (against the previous labels of those rows, STRIDE iterations before).
CHANGE_TOL = 0.15


def cluster_labels(planes, cum, W, n_segments, compactness, max_num_iter):
    """The k-means part: (H, W) int32 cluster labels ``iy * nx + ix`` and ``K = ny * nx``.

    At most ``max_num_iter`` iterations on one row in ``STRIDE`` each (``assign`` +
    ``update``), fewer if one changes the label of fewer than ``CHANGE_TOL`` of its pixels,
    then ``assign_final`` of every row over 3 x 3 clusters.
    """
    H = planes.shape[1]
    ny, nx, seed_y, seed_x, row_lo, row_hi, xlo, xhi, w = layout(H, W, n_segments, compactness)
    centres = initial_centres(planes, seed_y, seed_x)
    labels = np.empty((H, W), np.int32)
    sums = np.empty((row_lo.size, 2, nx, 6), np.float64)
    labels[:] = -1
    for it in range(max_num_iter):
        changed = assign(planes, W, centres, row_lo, row_hi, xlo, xhi, ny, nx, w, it % STRIDE,
                         STRIDE, labels, cum, sums, True)
        update(sums, ny, nx, centres)
        if changed < CHANGE_TOL * len(range(it % STRIDE, H, STRIDE)) * W:
            break
    _, _, cell_lo, cell_hi, xlo3, xhi3 = cells(H, W, seed_y, seed_x)
    assign_final(planes, W, centres, cell_lo, cell_hi, xlo3, xhi3, ny, nx, w, labels)
    return labels, ny * nx
