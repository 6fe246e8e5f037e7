"""What every CUDA kernel module shares: the launch table, device-function compilation, grid
arithmetic, and the small utility kernels (fill, row prefix sums, validation statistics).

``LAUNCH`` is the one launch table.  Host code reads it at call time
(:func:`p2i_prior._device.launch_config`); the values are tuned for a GPU.  Tests running under
Numba's simulator (one Python thread per CUDA thread) shrink it through a fixture
(``tests/conftest.py``), so multi-block and edge paths run on tiny inputs; production code never
switches on the simulator.  Kernels whose shared-memory sizes are compile-time constants
(Floyd–Warshall tiles, the SLIC update) are built per size by cached factories
(``cuda_shortest_paths.fw_kernels``, ``sized_kernels``: the SLIC update kernels); the sizes of ``LAUNCH`` at
import are precompiled.

Nothing here validates input.
"""

from __future__ import annotations

import math

import numpy as np
from numba import config, cuda, float64, int64

__all__ = [
    "LAUNCH",
    "device_function",
    "grid_2d",
    "blocks",
    "fill_value_kernel",
    "full",
    "scan_rows_kernel",
    "exclusive_scan",
    "stats_kernel",
]

#: Launch parameters by name (threads per block unless said otherwise):
#: ``block`` (x, y) of the per-pixel 2-d kernels (32 consecutive pixels per warp: coalesced);
#: ``threads`` of the 1-d per-element kernels; ``scan`` of the one-block-per-row prefix sum
#: (<= 1024); ``bf`` per Bellman–Ford block; ``sweep`` per fast-sweeping block; ``tile`` and
#: ``rows``: Floyd–Warshall tile edge and rows per thread; ``fuse`` of the fusion kernels;
#: ``stats_threads`` / ``stats_blocks`` of the validation statistics; ``update`` of the SLIC
#: cluster update (a power of two).
LAUNCH: dict = dict(
    block=(32, 8), threads=256, scan=1024, bf=256, sweep=512, tile=32, rows=4, fuse=256,
    stats_threads=256, stats_blocks=64, update=128,
)


def device_function(func=None):
    """``cuda.jit(device=True, forceinline=True)`` (the simulator knows no ``forceinline``)."""
    if config.ENABLE_CUDASIM:
        deco = cuda.jit(device=True)
    else:
        deco = cuda.jit(device=True, forceinline=True)
    return deco if func is None else deco(func)


def sized_kernels(func, size_name: str, launch_key: str):
    """``(kernel, kernels)`` for a kernel whose block size is the compile-time constant
    ``size_name`` (a global of ``func``, a power of two): ``kernel`` precompiled (cached) at
    ``LAUNCH[launch_key]`` as of import, ``kernels(threads)`` the one for any other size
    (compiled on first use, remembered).  A test that shrinks ``LAUNCH`` gets a matching kernel."""
    import functools

    from ._twin import twin

    precompiled = LAUNCH[launch_key]
    kernel = twin(func, cuda.jit(cache=True), **{size_name: precompiled})

    @functools.lru_cache(maxsize=None)
    def kernels(threads: int):
        if threads < 1 or threads > 1024 or threads & (threads - 1):
            raise ValueError(f"threads: expected a power of two <= 1024, got {threads}")
        if threads == precompiled:
            return kernel
        return twin(func, cuda.jit, **{size_name: threads})

    return kernel, kernels


def grid_2d(B: int, H: int, W: int, block: tuple[int, int]) -> tuple[int, int, int]:
    """Blocks per grid for one thread per pixel of ``B`` images of ``H x W``."""
    return ((W + block[0] - 1) // block[0], (H + block[1] - 1) // block[1], B)


def blocks(n: int, threads: int) -> int:
    """Blocks of ``threads`` covering ``n`` elements (at least one)."""
    return max((n + threads - 1) // threads, 1)


@cuda.jit(cache=True)
def fill_value_kernel(arr, value):
    """arr[:] = value for a 1-d array."""
    i = cuda.grid(1)
    if i < arr.shape[0]:
        arr[i] = value


def full(n: int, value, dtype, threads=None, stream=0):
    """(n,) device array of ``dtype`` filled with ``value`` on the device (no host copy)."""
    threads = LAUNCH["threads"] if threads is None else threads
    arr = cuda.device_array(n, dtype, stream=stream)
    if n:
        fill_value_kernel[blocks(n, threads), threads, stream](arr, np.dtype(dtype).type(value))
    return arr


@cuda.jit(cache=True)
def scan_rows_kernel(src, dst):
    """dst[b, 0] = 0, dst[b, i + 1] = src[b, 0] + ... + src[b, i]; one block per row b."""
    b = cuda.blockIdx.x
    n = src.shape[1]
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    part = cuda.shared.array(1024, int64)
    chunk = (n + nt - 1) // nt
    lo = tid * chunk
    hi = min(lo + chunk, n)
    s = int64(0)
    for i in range(lo, hi):
        s += src[b, i]
    part[tid] = s
    cuda.syncthreads()
    if tid == 0:
        run = int64(0)
        for t in range(nt):
            v = part[t]
            part[t] = run
            run += v
        dst[b, 0] = 0
    cuda.syncthreads()
    run = part[tid]
    for i in range(lo, hi):
        run += src[b, i]
        dst[b, i + 1] = run


def exclusive_scan(src, scan_threads=None, stream=0):
    """(n + 1,) int64 device array: 0 followed by the running sums of the (n,) ``src``."""
    scan_threads = LAUNCH["scan"] if scan_threads is None else scan_threads
    if scan_threads > 1024:
        raise ValueError(f"scan_threads: expected at most 1024, got {scan_threads}")
    n = src.shape[0]
    dst = cuda.device_array(n + 1, np.int64, stream=stream)
    scan_rows_kernel[1, scan_threads, stream](src.reshape(1, n), dst.reshape(1, n + 1))
    return dst


@cuda.jit(cache=True)
def stats_kernel(flat, out):
    """Validation statistics of a 1-d array in one pass (grid-stride loop, then 4 atomics).

    out (4,) float64, initialised to ``[inf, -inf, 0, 0]`` by the caller, becomes
    ``[min, max]`` over the finite values, the number of non-finite values, and the number of
    values other than 0 and 1.
    """
    start = cuda.grid(1)
    step = cuda.gridsize(1)
    lo = math.inf
    hi = -math.inf
    bad = 0.0
    odd = 0.0
    for i in range(start, flat.shape[0], step):
        v = float64(flat[i])
        if math.isfinite(v):
            lo = min(lo, v)
            hi = max(hi, v)
        else:
            bad += 1.0
        if v != 0.0 and v != 1.0:
            odd += 1.0
    cuda.atomic.min(out, 0, lo)
    cuda.atomic.max(out, 1, hi)
    cuda.atomic.add(out, 2, bad)
    cuda.atomic.add(out, 3, odd)
