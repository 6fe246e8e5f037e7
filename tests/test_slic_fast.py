"""SLIC, the fast algorithm (``slic(..., algorithm="fast")``, p2i_prior.kernels.slic_fast):
against a plain numpy implementation of the documented algorithm, a plain-Python connectivity
rule, scikit-image's Lab and slic, fast-slic (when installed) on real photos.

References: ``skimage.color.rgb2lab``, ``scipy.ndimage.label``, ``skimage.segmentation.slic``,
``fast_slic.avx2.SlicAvx2`` (not installed in CI: those comparisons are skipped there).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.color import rgb2lab
from skimage.segmentation import slic as sk_slic

from p2i_prior import slic, slic_batch
from p2i_prior.kernels import slic_fast as kf
from p2i_prior.kernels.slic import srgb_lut
from p2i_prior.superpixels import _fast_planes, boundary_recall, undersegmentation_error
from test_slic import assert_valid_labels, coco_cases

K_TOL = 0.05  # superpixels within 5% of n_segments on photos
SCORE_ATOL = 0.02  # mean boundary recall / under-segmentation error against the references

# ----------------------------------------------------------------------------------------------
# reference: the documented algorithm in plain numpy
# ----------------------------------------------------------------------------------------------


def _pairs(n_pixels, seeds):
    """Per pixel, the index a of the seed pair (a, a + 1) around it (clipped to the grid)."""
    a = np.array([int((seeds <= p).sum()) - 1 for p in range(n_pixels)])
    return np.clip(a, 0, max(len(seeds) - 2, 0))


def naive_fast_clusters(planes, n_segments, compactness, max_num_iter):
    """Cluster labels ``iy * nx + ix`` of the fast algorithm, from (3, H, W) float32 planes.

    Float32 distances evaluated in the kernel's order, centres as float64 means rounded to
    float32 (the sums are exact: the planes are multiples of 1/256).
    """
    f32 = np.float32
    _, H, W = planes.shape
    ny, nx = kf.grid_shape(H, W, n_segments)
    seed_y = np.floor((np.arange(ny) + 0.5) * (H / ny)).astype(int)
    seed_x = np.floor((np.arange(nx) + 0.5) * (W / nx)).astype(int)
    w = f32(compactness / np.sqrt(H * W / (ny * nx)))
    ay, ax = _pairs(H, seed_y), _pairs(W, seed_x)
    cen = np.zeros((ny * nx, 5), np.float32)
    cen[:, 0] = np.repeat(seed_y, nx)
    cen[:, 1] = np.tile(seed_x, ny)
    cen[:, 2:] = planes[:, cen[:, 0].astype(int), cen[:, 1].astype(int)].T
    yy, xx = np.mgrid[:H, :W]
    labels = np.full((H, W), -1)

    # the last assignment: 3 x 3 around the nearest seed (the lower one on ties)
    cy = np.array([int(np.argmin(np.abs(seed_y - p))) for p in range(H)])
    cx = np.array([int(np.argmin(np.abs(seed_x - p))) for p in range(W)])

    def assign(rows, final=False):
        best = np.full((rows.size, W), np.inf, np.float32)
        new = np.zeros((rows.size, W), int)
        first_y, first_x = (cy - 1, cx - 1) if final else (ay, ax)
        offsets = (0, 1, 2) if final else (0, 1)
        for dy in offsets:  # candidates in increasing k, strict "<": the lowest k wins ties
            for dx in offsets:
                ky = first_y[rows][:, None] + dy
                kx = first_x[None, :] + dx
                ok = (ky >= 0) & (ky < ny) & (kx >= 0) & (kx < nx)
                k = np.where(ok, ky * nx + kx, 0)
                k = np.broadcast_to(k, (rows.size, W))
                c = cen[k]
                p = planes[:, rows]
                d = (np.abs(p[0] - c[..., 2]) + np.abs(p[1] - c[..., 3])) + np.abs(p[2] - c[..., 4])
                sy = w * np.abs(yy[rows].astype(f32) - c[..., 0])
                d = d + (sy + w * np.abs(xx[rows].astype(f32) - c[..., 1]))
                d = np.where(ok, d, f32(np.inf))
                closer = d < best
                best = np.where(closer, d, best)
                new = np.where(closer, k, new)
        return new

    for it in range(max_num_iter):
        rows = np.arange(it % 3, H, 3)
        new = assign(rows)
        changed = int((new != labels[rows]).sum())
        labels[rows] = new
        lab = new.ravel()
        cnt = np.bincount(lab, minlength=ny * nx)
        feats = [yy[rows], xx[rows], planes[0, rows], planes[1, rows], planes[2, rows]]
        has = cnt > 0
        for j, f in enumerate(feats):
            s = np.bincount(lab, f.ravel().astype(np.float64), minlength=ny * nx)
            cen[has, j] = (s[has] / cnt[has]).astype(np.float32)
        if changed < kf.CHANGE_TOL * rows.size * W:
            break
    return assign(np.arange(H), final=True)


def naive_merge(labels, planes, min_size, max_regions):
    """The documented connectivity rule in plain Python over scipy's components."""
    H, W = labels.shape
    comp = np.zeros((H, W), int)
    n = 0
    for v in np.unique(labels):
        c, k = ndimage.label(labels == v)  # 4-connectivity
        comp[c > 0] = c[c > 0] + n
        n += k
    # number components in raster order of their first pixel
    _, first = np.unique(comp.ravel(), return_index=True)
    order = np.argsort(first)
    renum = np.empty(n, int)
    renum[order] = np.arange(n)
    comp = renum[comp - 1]
    first = np.sort(first)
    size = np.bincount(comp.ravel())
    col = np.stack([np.bincount(comp.ravel(), planes[j].ravel().astype(np.float64)) for j in range(3)], 1)
    col /= size[:, None]
    cand = [c for c in range(n) if size[c] >= min_size]
    cand.sort(key=lambda c: (-size[c], c))
    keep = set(cand[:max_regions])
    sub = np.arange(n)
    for c in range(1, n):
        if c in keep:
            continue
        y, x = divmod(first[c], W)
        left = comp[y, x - 1] if x > 0 else -1
        above = comp[y - 1, x] if y > 0 else -1
        if left < 0:
            link = above
        elif above < 0 or above == left:
            link = left
        else:
            dl = np.abs(col[c] - col[left]).sum()
            da = np.abs(col[c] - col[above]).sum()
            link = above if da < dl else left
        sub[c] = sub[link]
    out = sub[comp]
    if n > 1 and 0 not in keep:
        region = out == 0
        touch = ndimage.binary_dilation(region) & ~region  # 4-neighbours outside the region
        y, x = np.argwhere(touch)[0]  # the first in raster order
        sub[sub == 0] = out[y, x]
        out = sub[comp]
    _, out = np.unique(out.ravel(), return_inverse=True)  # raster order of first pixels kept
    return out.reshape(H, W)


def _smooth_image(rng, shape, size=5):
    img = ndimage.uniform_filter(rng.integers(0, 256, shape).astype(float), (size, size, 0))
    return img.astype(np.uint8)


# ----------------------------------------------------------------------------------------------
# Lab planes, grid
# ----------------------------------------------------------------------------------------------


def test_lab_planes_match_skimage_and_are_quantised(rng):
    img = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    img[0, :6] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 10, 10]]
    planes, cum = kf.lab_planes_u8(img, srgb_lut(0.0, 1.0 / 255.0).astype(np.float32))
    assert planes.shape == (3, 40, 50 + kf.PAD) and (planes[:, :, 50:] == 0).all()
    got = planes[:, :, :50]
    # half a quantum of rounding + float32 arithmetic
    np.testing.assert_allclose(got.transpose(1, 2, 0), rgb2lab(img), rtol=0,
                               atol=0.5 / kf.QUANTUM + 2e-3)
    assert (got * kf.QUANTUM == np.round(got * kf.QUANTUM)).all()
    q = np.round(got.astype(np.float64) * kf.QUANTUM).astype(np.int64)
    want = np.concatenate([np.zeros((3, 40, 1), np.int64), np.cumsum(q, -1)], -1)
    np.testing.assert_array_equal(cum, want)  # exact: quantised values
    np.testing.assert_array_equal(kf.prefix_sums(planes, 50), want)


@pytest.mark.parametrize("H, W, n, want", [(426, 640, 1000, (25, 40)), (612, 612, 1000, (31, 32)),
                                           (640, 480, 1000, (40, 25)), (21, 130, 98, (3, 33)),
                                           (100, 2, 150, (75, 2)), (1, 100, 50, (1, 50)),
                                           (5, 7, 35, (5, 7)), (9, 11, 1, (1, 1))])
def test_grid_shape_hand_made(H, W, n, want):
    assert kf.grid_shape(H, W, n) == want


def test_grid_shape_close_to_n_segments(rng):
    for _ in range(200):
        H, W = rng.integers(20, 700, 2)
        n = int(rng.integers(1, min(H, W) ** 2 // 4 + 2))
        ny, nx = kf.grid_shape(H, W, n)
        assert 1 <= ny <= H and 1 <= nx <= W
        assert abs(ny * nx - n) <= max(2, 0.03 * n), (H, W, n, ny, nx)
        if n >= 4 * max(H, W) / min(H, W):  # enough cells for a square-ish grid
            assert 0.5 <= (H / ny) / (W / nx) <= 2.0, (H, W, n, ny, nx)


# ----------------------------------------------------------------------------------------------
# k-means and connectivity against the references
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape, n, c, iters", [((36, 48, 3), 24, 10.0, 10), ((29, 41, 3), 13, 3.0, 5),
                                                ((20, 30, 3), 150, 10.0, 4), ((31, 23, 3), 7, 20.0, 0),
                                                ((12, 40, 3), 3, 5.0, 10)])
def test_clusters_match_naive_reference(rng, shape, n, c, iters):
    img = _smooth_image(rng, shape)
    planes, cum = _fast_planes(img)
    H, W = shape[:2]
    got, K = kf.cluster_labels(planes, cum, W, n, c, iters)
    ref = naive_fast_clusters(planes[:, :, :W], n, c, iters)
    assert K == np.prod(kf.grid_shape(H, W, n))
    np.testing.assert_array_equal(got, ref)
    # through the public API: the clusters renumbered in order, nothing merged
    _, want = np.unique(ref, return_inverse=True)
    np.testing.assert_array_equal(slic(img, n, c, iters, enforce_connectivity=False), want.reshape(H, W))


@pytest.mark.parametrize("min_size, max_regions", [(0, 10**6), (3, 10**6), (12, 10**6), (3, 8), (0, 1)])
def test_connectivity_matches_naive_rule(rng, min_size, max_regions):
    labels = ndimage.zoom(rng.integers(0, 6, (8, 10)), 4, order=0).astype(np.int32)
    labels[rng.random(labels.shape) < 0.08] = 7  # speckle: many small fragments
    planes = (rng.integers(0, 100 * kf.QUANTUM, (3,) + labels.shape) / kf.QUANTUM).astype(np.float32)
    H, W = labels.shape
    cum = kf.prefix_sums(np.pad(planes, ((0, 0), (0, 0), (0, kf.PAD))), W)
    out, n = kf.merge_runs(H, W, *kf.connected_runs(labels), cum, min_size, max_regions)
    ref = naive_merge(labels, planes, min_size, max_regions)
    np.testing.assert_array_equal(out, ref)
    assert n == ref.max() + 1 <= max(max_regions, 1) + 1  # + the region at (0, 0)
    assert_valid_labels(out, labels.shape)


def test_connectivity_small_region_at_origin_joins_a_neighbour():
    labels = np.ones((10, 10), np.int32)
    labels[0, 0] = 0  # one pixel at (0, 0): no pixel left of or above it
    labels[9, 9] = 2
    planes = np.zeros((3, 10, 10 + kf.PAD), np.float32)
    cum = kf.prefix_sums(planes, 10)
    out, n = kf.merge_runs(10, 10, *kf.connected_runs(labels), cum, 5, 100)
    assert n == 1 and (out == 0).all()
    labels[5:, :] = 3
    out, n = kf.merge_runs(10, 10, *kf.connected_runs(labels), cum, 5, 100)
    assert n == 2 and out[0, 0] == out[0, 1] != out[9, 0]


def test_connected_runs_components_are_scipys(rng):
    labels = rng.integers(0, 3, (23, 31)).astype(np.int32)
    rs, re, up, roff, comp, first, nc = kf.connected_runs(labels)
    img = np.empty(labels.shape, int)
    for y in range(23):
        for r in range(roff[y], roff[y + 1]):
            img[y, rs[r]:re[r]] = comp[r]
            assert labels[y, rs[r]:re[r]].min() == labels[y, rs[r]:re[r]].max() == labels[y, rs[r]]
            if y > 0:  # the run above the first pixel
                assert roff[y - 1] <= up[r] < roff[y] and rs[up[r]] <= rs[r] < re[up[r]]
    count = sum(ndimage.label(labels == v)[1] for v in range(3))
    assert nc == count
    pairs = set()
    for v in range(3):
        c, _ = ndimage.label(labels == v)
        pairs |= set(zip(c[c > 0].tolist(), img[c > 0].tolist(), [v] * int((c > 0).sum())))
    assert len(pairs) == nc  # a bijection with scipy's components
    _, first_pixel = np.unique(img.ravel(), return_index=True)
    assert (np.diff(first_pixel) > 0).all()  # numbered in raster order of their first pixel
    np.testing.assert_array_equal(first, [np.flatnonzero(comp == c)[0] for c in range(nc)])


# ----------------------------------------------------------------------------------------------
# invariants
# ----------------------------------------------------------------------------------------------


def test_labels_connected_and_count_near_n_segments(rng):
    img = _smooth_image(rng, (90, 120, 3), 3)
    for n in (20, 150, 400):
        labels = slic(img, n)
        K = assert_valid_labels(labels, img.shape[:2])
        ny, nx = kf.grid_shape(90, 120, n)
        assert K <= ny * nx + 1


def test_batch_equals_per_image_and_grey(rng):
    imgs = np.stack([_smooth_image(rng, (30, 40, 3)) for _ in range(3)])
    labels, counts = slic_batch(imgs, n_segments=25)
    for b in range(3):
        np.testing.assert_array_equal(labels[b], slic(imgs[b], 25))
        assert counts[b] == labels[b].max() + 1
    grey = imgs[0, ..., 0]
    g = slic(grey, 25, compactness=0.1)
    assert_valid_labels(g, grey.shape)


def test_min_size_factor_default_and_explicit(rng):
    img = _smooth_image(rng, (60, 80, 3), 3)
    np.testing.assert_array_equal(slic(img, 100), slic(img, 100, min_size_factor=0.1))
    big = slic(img, 100, min_size_factor=0.9)
    sizes = np.bincount(big.ravel())
    assert sizes.min() >= int(0.9 * 60 * 80 / np.prod(kf.grid_shape(60, 80, 100))) or sizes.size == 1


# ----------------------------------------------------------------------------------------------
# real photos: scikit-image's slic and fast-slic
# ----------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools on numpy 2
def test_coco_photos_quality():
    cases = coco_cases()
    try:
        from fast_slic.avx2 import SlicAvx2
    except ImportError:
        SlicAvx2 = None
    scores = {"ours": [], "skimage": [], "fast_slic": []}
    for name, image, gt in cases:
        got = slic(image, 1000)
        K = assert_valid_labels(got, image.shape[:2])
        assert abs(K - 1000) <= K_TOL * 1000, (name, K)
        refs = {"ours": got, "skimage": sk_slic(image, 1000, 10.0, 10, start_label=0)}
        if SlicAvx2 is not None:
            refs["fast_slic"] = SlicAvx2(num_components=1000, compactness=10, num_threads=1).iterate(
                np.ascontiguousarray(image))
        for k, lab in refs.items():
            scores[k].append((boundary_recall(lab, gt), undersegmentation_error(lab, gt)))
    ours = np.mean(scores["ours"], 0)
    sk = np.mean(scores["skimage"], 0)
    # more superpixels (1000 vs skimage's ~850) and a finer fit: recall at least skimage's
    assert ours[0] >= sk[0], (ours, sk)
    assert ours[1] <= sk[1] + SCORE_ATOL, (ours, sk)
    if SlicAvx2 is not None:
        fs = np.mean(scores["fast_slic"], 0)
        assert ours[0] >= fs[0] - SCORE_ATOL and ours[1] <= fs[1] + SCORE_ATOL, (ours, fs)
