"""Sobel gradient magnitude (CUDA kernels), batched over images of one size.

The per-pixel functions of :mod:`p2i_prior.kernels.sobel` (``reflect_index``, ``grey_at``,
``sobel_at``) are compiled here a second time with ``numba.cuda.jit(device=True)``, so both
targets evaluate the very same float64 expressions: results agree bit for bit (up to FMA
contraction by the CUDA compiler, well inside float32 rounding).

Kernels (one thread per output pixel, ``grid = (ceil(W / bx), ceil(H / by), B)``):

* ``sobel_rgb_kernel(image, scale, out)``: (B, H, W, 3) any real dtype -> (B, H, W) float32.
  Grey conversion is fused: each thread recomputes the grey value of its 3 x 3 neighbourhood
  straight from the colour image (the reads hit L1/L2), so no grey plane goes through device
  memory.  The grey values are exactly those of ``rgb_to_grey`` (same float64 operations).
* ``scale_kernel(image, scale, out)``: (B, H, W) -> (B, H, W) float64 ``image * scale`` (the
  CPU path's ``arr.astype(float64) * scale`` for grey inputs).
* ``sobel_grey_kernel(grey, out)``: (B, H, W) float -> (B, H, W) float32.

Nothing here validates its input: :mod:`p2i_prior.edges` does.
"""

from __future__ import annotations

import math

from numba import cuda

from ._twin import twin
from .cuda_common import LAUNCH, device_function, grid_2d
from .sobel import grey_at, reflect_index, sobel_at

__all__ = [
    "sobel_rgb_kernel",
    "scale_kernel",
    "sobel_grey_kernel",
    "launch_sobel_rgb",
    "launch_sobel_grey",
]

_device = device_function()
_reflect_index = twin(reflect_index, _device)
_grey_at = twin(grey_at, _device)
# ``np.sqrt`` on a scalar is not in the CUDA target's ufunc table: the twin sees ``math``
# under the name ``np`` (only ``np.sqrt`` is used), the same IEEE square root.
_sobel_at = twin(sobel_at, _device, reflect_index=_reflect_index, np=math)


def _sobel_rgb_at(image, r, c, H, W, scale):
    """Sobel magnitude at (r, c) of ``grey(image)``; the 8 neighbours' grey recomputed."""
    rm = _reflect_index(r - 1, H)
    rp = _reflect_index(r + 1, H)
    cm = _reflect_index(c - 1, W)
    cp = _reflect_index(c + 1, W)
    g_mm = _grey_at(image, rm, cm, scale)
    g_m0 = _grey_at(image, rm, c, scale)
    g_mp = _grey_at(image, rm, cp, scale)
    g_0m = _grey_at(image, r, cm, scale)
    g_0p = _grey_at(image, r, cp, scale)
    g_pm = _grey_at(image, rp, cm, scale)
    g_p0 = _grey_at(image, rp, c, scale)
    g_pp = _grey_at(image, rp, cp, scale)
    # the same expression, term for term, as ``sobel_at``
    g0 = ((g_pm - g_mm) + 2.0 * (g_p0 - g_m0) + (g_pp - g_mp)) * 0.25
    g1 = ((g_mp - g_mm) + 2.0 * (g_0p - g_0m) + (g_pp - g_pm)) * 0.25
    return math.sqrt((g0 * g0 + g1 * g1) * 0.5)


_sobel_rgb_at_dev = _device(_sobel_rgb_at)


@cuda.jit(cache=True)
def sobel_rgb_kernel(image, scale, out):
    """(B, H, W, 3) real -> (B, H, W) float32 Sobel magnitude of the grey image."""
    c, r, b = cuda.grid(3)
    H = out.shape[1]
    W = out.shape[2]
    if r < H and c < W and b < out.shape[0]:
        out[b, r, c] = _sobel_rgb_at_dev(image[b], r, c, H, W, scale)


@cuda.jit(cache=True)
def scale_kernel(image, scale, out):
    """(B, H, W) real -> (B, H, W) float64 ``image * scale``."""
    c, r, b = cuda.grid(3)
    if r < out.shape[1] and c < out.shape[2] and b < out.shape[0]:
        out[b, r, c] = image[b, r, c] * scale


@cuda.jit(cache=True)
def sobel_grey_kernel(grey, out):
    """(B, H, W) float -> (B, H, W) float32 Sobel magnitude."""
    c, r, b = cuda.grid(3)
    H = out.shape[1]
    W = out.shape[2]
    if r < H and c < W and b < out.shape[0]:
        out[b, r, c] = _sobel_at(grey[b], r, c, H, W)


def launch_sobel_rgb(image, scale: float, out, block=None, stream=0) -> None:
    """Launch ``sobel_rgb_kernel`` on device arrays ``image`` (B, H, W, 3), ``out`` (B, H, W)."""
    block = LAUNCH["block"] if block is None else block
    B, H, W = out.shape
    threads = (int(block[0]), int(block[1]), 1)
    sobel_rgb_kernel[grid_2d(B, H, W, block), threads, stream](image, float(scale), out)


def launch_sobel_grey(image, scale: float, grey, out, block=None, stream=0) -> None:
    """``grey = image * scale`` (float64, (B, H, W)), then the Sobel magnitude into ``out``."""
    block = LAUNCH["block"] if block is None else block
    B, H, W = out.shape
    grid = grid_2d(B, H, W, block)
    threads = (int(block[0]), int(block[1]), 1)
    scale_kernel[grid, threads, stream](image, float(scale), grey)
    sobel_grey_kernel[grid, threads, stream](grey, out)
