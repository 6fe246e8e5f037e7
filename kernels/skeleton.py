"""Skeleton rasterisation kernels (CPU).

``rasterize_limbs`` draws every instance's limbs as 8-connected pixel chains, clipped to the
image.  Its output is a CSR list of pixels per instance, so memory is proportional to the
skeleton length, never to ``n * H * W``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _segment_pixels(x0, y0, x1, y1, H, W, out_r, out_c, count):
    """Append the pixels of the segment (x0,y0)-(x1,y1) that lie in the image.

    Coordinates are continuous (pixel ``(r, c)`` covers ``[c, c+1) x [r, r+1)``); the segment
    is sampled at steps of at most 0.5 pixel, so the chain is 8-connected.  Consecutive
    duplicates are dropped.  Returns the new count.
    """
    length = max(abs(x1 - x0), abs(y1 - y0))
    steps = int(np.ceil(length * 2.0)) + 1
    last_r = -1
    last_c = -1
    for s in range(steps):
        t = s / (steps - 1) if steps > 1 else 0.0
        x = x0 + (x1 - x0) * t
        y = y0 + (y1 - y0) * t
        c = int(np.floor(x))
        r = int(np.floor(y))
        if r < 0 or r >= H or c < 0 or c >= W:
            continue
        if r == last_r and c == last_c:
            continue
        out_r[count] = r
        out_c[count] = c
        count += 1
        last_r = r
        last_c = c
    return count


@njit(cache=True)
def _capacity(keypoints, limbs):
    n = keypoints.shape[0]
    cap = 0
    for i in range(n):
        for j in range(keypoints.shape[1]):
            if keypoints[i, j, 2] > 0:
                cap += 1
        for l in range(limbs.shape[0]):
            a = limbs[l, 0]
            b = limbs[l, 1]
            if keypoints[i, a, 2] > 0 and keypoints[i, b, 2] > 0:
                dx = abs(keypoints[i, a, 0] - keypoints[i, b, 0])
                dy = abs(keypoints[i, a, 1] - keypoints[i, b, 1])
                cap += int(np.ceil(max(dx, dy) * 2.0)) + 1
    return cap


@njit(cache=True)
def rasterize_limbs(keypoints, limbs, H, W):
    """Pixels of every instance's skeleton.

    Parameters
    ----------
    keypoints : (n, 17, 3) float64, finite where v > 0
    limbs : (L, 2) int64, 0-based keypoint index pairs
    H, W : int

    Returns
    -------
    offsets : (n + 1,) int64; instance i owns rows ``offsets[i]:offsets[i+1]``
    rows, cols : (m,) int32 pixel coordinates (may repeat within an instance)
    """
    n = keypoints.shape[0]
    cap = _capacity(keypoints, limbs)
    out_r = np.empty(cap, np.int32)
    out_c = np.empty(cap, np.int32)
    offsets = np.zeros(n + 1, np.int64)
    count = 0
    for i in range(n):
        for l in range(limbs.shape[0]):
            a = limbs[l, 0]
            b = limbs[l, 1]
            if keypoints[i, a, 2] > 0 and keypoints[i, b, 2] > 0:
                count = _segment_pixels(
                    keypoints[i, a, 0], keypoints[i, a, 1],
                    keypoints[i, b, 0], keypoints[i, b, 1],
                    H, W, out_r, out_c, count,
                )
        # every visible keypoint is a seed, also one that no drawn limb touches
        for j in range(keypoints.shape[1]):
            if keypoints[i, j, 2] > 0:
                count = _segment_pixels(
                    keypoints[i, j, 0], keypoints[i, j, 1],
                    keypoints[i, j, 0], keypoints[i, j, 1],
                    H, W, out_r, out_c, count,
                )
        offsets[i + 1] = count
    return offsets, out_r[:count].copy(), out_c[:count].copy()


@njit(cache=True)
def seeds_from_pixels(labels, offsets, rows, cols, n_labels):
    """(n, K) bool: superpixel k is a seed of instance i if a skeleton pixel of i lies in it."""
    n = offsets.shape[0] - 1
    seeds = np.zeros((n, n_labels), np.bool_)
    for i in range(n):
        for p in range(offsets[i], offsets[i + 1]):
            seeds[i, labels[rows[p], cols[p]]] = True
    return seeds
