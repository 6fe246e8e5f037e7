"""Sobel gradient magnitude (CPU kernels).

The per-pixel work is written once as plain Python functions (``reflect_index``,
``grey_at``, ``sobel_at``) so the CUDA version can compile the very same code with
``numba.cuda.jit(device=True)``.

Conventions match ``skimage.filters.sobel`` on a 2-D image: kernels ``[1, 0, -1]`` along the
derivative axis and ``[1, 2, 1] / 4`` along the other, ``mode="reflect"`` borders (scipy's
half-sample symmetric extension ``d c b a | a b c d``), magnitude ``sqrt((gx^2 + gy^2) / 2)``.
An RGB pixel is first reduced to grey with ``skimage.color.rgb2gray``'s weights.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._twin import twin

#: skimage.color.rgb2gray weights (ITU-R BT.709 luma).
GREY_WEIGHTS = (0.2125, 0.7154, 0.0721)


def reflect_index(i, n):
    """scipy.ndimage 'reflect' for an index at most one step outside ``[0, n)``."""
    if i < 0:
        return -i - 1 if n > 1 else 0
    if i >= n:
        return 2 * n - i - 1 if n > 1 else n - 1
    return i


def grey_at(image, r, c, scale):
    """Grey value of pixel (r, c) of an (H, W, 3) image, times ``scale``."""
    return (
        0.2125 * image[r, c, 0] + 0.7154 * image[r, c, 1] + 0.0721 * image[r, c, 2]
    ) * scale


def sobel_at(grey, r, c, H, W):
    """Sobel magnitude at (r, c) of a 2-D float image."""
    rm = reflect_index(r - 1, H)
    rp = reflect_index(r + 1, H)
    cm = reflect_index(c - 1, W)
    cp = reflect_index(c + 1, W)
    # derivative along rows (axis 0), smoothed along columns
    g0 = (
        (grey[rp, cm] - grey[rm, cm])
        + 2.0 * (grey[rp, c] - grey[rm, c])
        + (grey[rp, cp] - grey[rm, cp])
    ) * 0.25
    # derivative along columns (axis 1), smoothed along rows
    g1 = (
        (grey[rm, cp] - grey[rm, cm])
        + 2.0 * (grey[r, cp] - grey[r, cm])
        + (grey[rp, cp] - grey[rp, cm])
    ) * 0.25
    return np.sqrt((g0 * g0 + g1 * g1) * 0.5)


_inline = njit(inline="always")
_reflect_index = twin(reflect_index, _inline)
_grey_at = twin(grey_at, _inline)
_sobel_at = twin(sobel_at, _inline, reflect_index=_reflect_index)


@njit(cache=True, parallel=True)
def rgb_to_grey(image, scale):
    """(H, W, 3) any real dtype -> (H, W) float64 grey, times ``scale``."""
    H, W = image.shape[0], image.shape[1]
    out = np.empty((H, W), np.float64)
    for r in prange(H):
        for c in range(W):
            out[r, c] = _grey_at(image, r, c, scale)
    return out


@njit(cache=True, parallel=True)
def sobel_grey(grey):
    """(H, W) float -> (H, W) float32 Sobel magnitude."""
    H, W = grey.shape
    out = np.empty((H, W), np.float32)
    for r in prange(H):
        for c in range(W):
            out[r, c] = _sobel_at(grey, r, c, H, W)
    return out
