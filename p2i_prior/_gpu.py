"""GPU side of the host API: device selection, zero-copy interop, validation and launches.

The host modules (``edges``, ``rag``, ``graph_distance``, ``sweep``, ``superpixels``,
``pipeline``) call into this module when the work should run on a CUDA GPU::

    from . import _gpu
    if _gpu.use_gpu(device, image):
        return _gpu.sobel(image)

Dispatch rule (:func:`use_gpu`)
-------------------------------
* a CuPy array, a CUDA torch tensor or a Numba device array as input -> the GPU path, and the
  output is of the same kind, on the same device, with no copy through the host;
* numpy (or anything on the host) -> the CPU path, unless ``device="cuda"`` (then the input is
  copied to the GPU and the result copied back to numpy);
* ``device="cpu"`` always takes the CPU path (GPU inputs are copied to the host by the host
  module and the result handed back in the input's kind);
* ``device="cuda"`` without a usable GPU raises ``RuntimeError`` saying why.

Zero copy: CuPy arrays, torch tensors and Numba device arrays all speak
``__cuda_array_interface__``; :func:`as_device` wraps them as Numba device arrays (same
memory) and :func:`to_kind` wraps results back (``cupy.asarray`` / ``torch.as_tensor`` on the
interface; for DLPack-only producers use ``torch.from_dlpack`` / ``cupy.from_dlpack`` first).
Kernels are launched on the caller's current CuPy / torch stream (:func:`stream_of`).

Under ``NUMBA_ENABLE_CUDASIM=1`` (tests on machines without a GPU) Numba's simulator is the
device: CuPy and torch CUDA are absent, so inputs are numpy (with ``device="cuda"``) or
simulator device arrays from ``numba.cuda.to_device``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ._util import check_choice, check_positive_float, check_positive_int, shape_str
from .superpixels import slic_params

__all__ = [
    "DEVICES",
    "cuda_available",
    "simulator",
    "require_cuda",
    "use_gpu",
    "kind_of",
    "is_gpu_array",
    "as_device",
    "to_kind",
    "stream_of",
    "device_stats",
    "launch_config",
    "RAGBatch",
    "sobel",
    "sobel_batch",
    "build_rag",
    "build_rags",
    "rag_distance",
    "rag_distances",
    "sweep_distance",
    "slic",
    "slic_batch",
    "fuse",
    "segment_instances",
    "pose_instance_maps",
]

DEVICES = ("auto", "cpu", "cuda")

#: Launch configurations: tuned for a GPU, and tiny under the simulator (each simulated thread
#: is a Python thread) so that multi-block and edge paths run on small test inputs.
_LAUNCH_GPU = dict(block=(32, 8), threads=256, scan=1024, bf=256, sweep=512, tile=32, rows=4,
                   fuse=256, stats_threads=256, stats_blocks=64, update=128)
_LAUNCH_SIM = dict(block=(4, 4), threads=8, scan=4, bf=8, sweep=4, tile=4, rows=2, fuse=8,
                   stats_threads=8, stats_blocks=2, update=8)


def launch_config(name: str) -> Any:
    """The launch parameter ``name`` for the current target (GPU or simulator)."""
    return (_LAUNCH_SIM if simulator() else _LAUNCH_GPU)[name]


# ----------------------------------------------------------------------------------------------
# Device selection
# ----------------------------------------------------------------------------------------------


def simulator() -> bool:
    """True when Numba's CUDA simulator stands in for the GPU (``NUMBA_ENABLE_CUDASIM=1``)."""
    from numba import config

    return bool(config.ENABLE_CUDASIM)


def cuda_available() -> bool:
    """True when CUDA kernels can run: a GPU with a driver, or the Numba simulator."""
    try:
        from numba import cuda
    except ImportError:  # pragma: no cover - numba is a dependency
        return False
    try:
        return bool(cuda.is_available())
    except Exception:  # a broken driver install
        return False


def require_cuda() -> None:
    """Raise ``RuntimeError`` unless :func:`cuda_available`, saying what is missing.

    Examples
    --------
    >>> require_cuda()  # doctest: +SKIP
    """
    if not cuda_available():
        raise RuntimeError(
            "device: 'cuda' requested but no CUDA GPU is usable (numba.cuda.is_available() is "
            "False: no NVIDIA driver/GPU, or numba-cuda is not installed; `pip install "
            "pose2instance[gpu]`). Use device='auto' or device='cpu' to run on the CPU."
        )


def kind_of(x: Any) -> str:
    """``"cupy"``, ``"torch"``, ``"numba"`` (Numba device array) or ``"numpy"`` (host).

    Examples
    --------
    >>> kind_of(np.zeros(3))
    'numpy'
    """
    mod = type(x).__module__
    if mod.startswith("cupy"):
        return "cupy"
    if mod.startswith("torch"):
        return "torch"
    if mod.startswith("numba") and hasattr(x, "copy_to_host"):
        return "numba"
    return "numpy"


def is_gpu_array(x: Any) -> bool:
    """True for a CuPy array, a CUDA torch tensor or a Numba device array.

    Examples
    --------
    >>> is_gpu_array(np.zeros(3))
    False
    """
    kind = kind_of(x)
    if kind == "torch":
        return bool(x.is_cuda)
    return kind in ("cupy", "numba")


def use_gpu(device: str, *arrays: Any) -> bool:
    """Decide CPU or GPU for a call with ``arrays`` as its array inputs (module docstring).

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
    *arrays : the call's array arguments (None entries are ignored)

    Returns
    -------
    bool: True for the GPU path.

    Examples
    --------
    >>> use_gpu("auto", np.zeros((2, 2)))
    False
    """
    check_choice(device, "device", DEVICES)
    if device == "cpu":
        return False
    if device == "cuda":
        require_cuda()
        return True
    return any(a is not None and is_gpu_array(a) for a in arrays)


# ----------------------------------------------------------------------------------------------
# Interop
# ----------------------------------------------------------------------------------------------


def stream_of(ref: Any) -> Any:
    """The Numba stream of the caller's current CuPy / torch stream (0: the default stream)."""
    kind = kind_of(ref)
    if simulator() or kind not in ("cupy", "torch"):
        return 0
    from numba import cuda

    if kind == "cupy":
        import cupy

        ptr = cupy.cuda.get_current_stream().ptr
    else:
        import torch

        ptr = torch.cuda.current_stream(ref.device).cuda_stream
    return cuda.external_stream(ptr) if ptr else 0


def _numpy_dtype(x: Any) -> np.dtype:
    kind = kind_of(x)
    if kind == "torch":
        import torch

        return np.dtype(str(x.dtype).replace("torch.", "")) if x.dtype != torch.bool else np.dtype(bool)
    return np.dtype(x.dtype)


def as_device(x: Any, name: str, dtype: Any = None) -> Any:
    """``x`` as a C-contiguous Numba device array (no copy for GPU arrays of the right dtype).

    Host arrays are copied to the device; a GPU array of another dtype or layout is converted
    on the device by its own library (one device copy).

    Raises
    ------
    TypeError
        When ``x`` is not a numeric array (the message names ``name``).
    """
    from numba import cuda

    kind = kind_of(x)
    if kind == "numpy":
        from ._util import to_numpy

        return cuda.to_device(to_numpy(x, name, dtype))
    if kind == "torch":
        if not x.is_cuda:
            from ._util import to_numpy

            return cuda.to_device(to_numpy(x, name, dtype))
        import torch

        x = x.detach()
        if dtype is not None and _numpy_dtype(x) != np.dtype(dtype):
            x = x.to(getattr(torch, np.dtype(dtype).name))
        if x.dtype == torch.bool:
            x = x.view(torch.uint8)
        return cuda.as_cuda_array(x.contiguous())
    if kind == "cupy":
        import cupy

        if dtype is not None and x.dtype != np.dtype(dtype):
            x = x.astype(dtype)
        return cuda.as_cuda_array(cupy.ascontiguousarray(x))
    # a Numba device array
    if (dtype is not None and np.dtype(x.dtype) != np.dtype(dtype)) or not x.is_c_contiguous():
        host = np.ascontiguousarray(x.copy_to_host())
        return cuda.to_device(host if dtype is None else host.astype(dtype))
    return x


def to_kind(dev: Any, ref: Any) -> Any:
    """The device array ``dev`` in the kind of ``ref``: CuPy / torch (zero copy), Numba, numpy."""
    kind = kind_of(ref)
    if kind == "cupy":
        import cupy

        return cupy.asarray(dev)
    if kind == "torch" and ref.is_cuda:
        import torch

        return torch.as_tensor(dev, device=ref.device)
    if kind == "torch":
        import torch

        return torch.from_numpy(dev.copy_to_host())
    if kind == "numba":
        return dev
    return dev.copy_to_host()


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in x.shape)


# ----------------------------------------------------------------------------------------------
# Validation on the device
# ----------------------------------------------------------------------------------------------

def device_stats(dev: Any, stream: Any = 0) -> tuple[float, float, int, int]:
    """``(min, max, n_nonfinite, n_not_0_or_1)`` of a device array, in one pass (4 numbers back).

    ``min``/``max`` are over the finite values (``inf``/``-inf`` when there are none).
    """
    from numba import cuda

    out = cuda.to_device(np.array([np.inf, -np.inf, 0.0, 0.0]), stream=stream)
    n = int(np.prod(dev.shape))
    if n:
        flat = dev.reshape(n)
        threads = launch_config("stats_threads")
        blocks = min(launch_config("stats_blocks"), (n + threads - 1) // threads)
        from .kernels.cuda_rag import stats_kernel

        stats_kernel[blocks, threads, stream](flat, out)
    lo, hi, bad, odd = out.copy_to_host(stream=stream)
    return float(lo), float(hi), int(bad), int(odd)


def _check_finite_dev(stats: tuple, name: str) -> None:
    if stats[2]:
        raise ValueError(f"{name}: expected finite values, got {stats[2]} NaN/inf")


def _image_scale(dt: np.dtype, stats: tuple | None, name: str) -> float:
    """``edges._image_as_float_scale`` for a device image (same rules and messages)."""
    kind = dt.kind
    if kind == "b":
        return 1.0
    if kind in "ui":
        if dt.itemsize > 2:
            raise TypeError(
                f"{name}: expected a uint8, uint16, int8, int16, bool or float image, got dtype {dt}"
            )
        if kind == "i" and stats is not None and stats[0] < 0:
            raise ValueError(f"{name}: expected non-negative intensities, got minimum {int(stats[0])}")
        return 1.0 / float(np.iinfo(dt).max)
    if kind == "f":
        if stats is not None:
            _check_finite_dev(stats, name)
        return 1.0
    raise TypeError(f"{name}: expected a real-valued image, got dtype {dt}")


# ----------------------------------------------------------------------------------------------
# Sobel
# ----------------------------------------------------------------------------------------------


def _sobel_device(img: Any, stream: Any, block: tuple[int, int] | None) -> Any:
    """(B, H, W[, 3]) device image -> (B, H, W) float32 device Sobel magnitude."""
    from numba import cuda

    from .kernels import cuda_sobel as ks

    block = launch_config("block") if block is None else block
    dt = np.dtype(img.dtype)
    if dt == np.bool_:
        img = img.view(np.uint8)
    stats = device_stats(img, stream) if dt.kind in "if" else None
    scale = _image_scale(dt, stats, "image")
    B, H, W = _shape(img)[:3]
    out = cuda.device_array((B, H, W), np.float32, stream=stream)
    if img.ndim == 4:
        ks.launch_sobel_rgb(img, scale, out, block, stream)
    else:
        grey = cuda.device_array((B, H, W), np.float64, stream=stream)
        ks.launch_sobel_grey(img, scale, grey, out, block, stream)
    return out


def sobel(image: Any, *, block: tuple[int, int] | None = None) -> Any:
    """Sobel gradient magnitude on the GPU: :func:`p2i_prior.sobel` with the same results.

    Parameters
    ----------
    image : (H, W, 3) or (H, W) array
        uint8/uint16/int8/int16/bool (scaled to [0, 1]) or float; CuPy, torch (CUDA), a
        Numba device array, or numpy (copied to the device and back).
    block : (int, int), optional
        Threads per block ``(x, y)``; default ``(32, 8)``.

    Returns
    -------
    (H, W) float32 array of the input's kind.

    Examples
    --------
    >>> import cupy  # doctest: +SKIP
    >>> sobel(cupy.zeros((4, 4), cupy.uint8)).shape  # doctest: +SKIP
    (4, 4)
    """
    shp = _shape(image) if hasattr(image, "shape") else np.shape(image)
    if len(shp) not in (2, 3):
        raise ValueError(f"image: expected (H, W) or (H, W, 3) image, got shape {shape_str(shp)}")
    if len(shp) == 3 and shp[2] != 3:
        raise ValueError(
            f"image: expected (H, W) or (H, W, 3) image, got shape {shape_str(shp)} ({shp[2]} channels)"
        )
    if shp[0] == 0 or shp[1] == 0:
        raise ValueError(f"image: expected a non-empty image, got shape {shape_str(shp)}")
    stream = stream_of(image)
    dev = as_device(image, "image")
    out = _sobel_device(dev.reshape((1,) + _shape(dev)), stream, block)
    return to_kind(out.reshape(shp[:2]), image)


def sobel_batch(images: Any, *, block: tuple[int, int] | None = None) -> Any:
    """Sobel magnitude of B images of one size in one launch.

    Parameters
    ----------
    images : (B, H, W, 3) or (B, H, W) array (dtypes as :func:`sobel`)

    Returns
    -------
    (B, H, W) float32 array of the input's kind.

    Examples
    --------
    >>> import cupy  # doctest: +SKIP
    >>> sobel_batch(cupy.zeros((2, 4, 5, 3), cupy.uint8)).shape  # doctest: +SKIP
    (2, 4, 5)
    """
    shp = _shape(images) if hasattr(images, "shape") else np.shape(images)
    if len(shp) not in (3, 4) or (len(shp) == 4 and shp[3] != 3):
        raise ValueError(
            f"images: expected (B, H, W) or (B, H, W, 3) images, got shape {shape_str(shp)}"
        )
    if 0 in shp:
        raise ValueError(f"images: expected non-empty images, got shape {shape_str(shp)}")
    stream = stream_of(images)
    out = _sobel_device(as_device(images, "images"), stream, block)
    return to_kind(out, images)


# ----------------------------------------------------------------------------------------------
# SLIC
# ----------------------------------------------------------------------------------------------


def _slic_device(imgs: Any, n_segments: int, compactness: float, max_num_iter: int,
                 enforce_connectivity: bool, min_size_factor: float, stream: Any) -> tuple[Any, np.ndarray]:
    """(B, H, W, C) checked device images -> ((B, H, W) int32 device labels, (B,) counts)."""
    from numba import cuda

    from .kernels import cuda_rag as kr
    from .kernels import cuda_slic as kslic
    from .superpixels import _nearest_cell, _seed_grid

    B, H, W, C = _shape(imgs)
    N = H * W
    blk = launch_config("block")
    thr = launch_config("threads")
    grid3 = (-(-W // blk[0]), -(-H // blk[1]), B)
    threads3 = blk + (1,)
    to_dev = lambda a: cuda.to_device(np.ascontiguousarray(a), stream=stream)

    lohi = to_dev(np.tile(np.array([np.inf, -np.inf]), (B, 1)))
    flat = imgs.reshape((B, N * C))
    kslic.minmax_kernel[(min(64, -(-N * C // thr)), B), thr, stream](flat, lohi)
    planes = cuda.device_array((B, 3, H, W), np.float32, stream=stream)
    kslic.lab_kernel[grid3, threads3, stream](imgs, lohi, planes)

    start_y, step_y, ny, start_x, step_x, nx = _seed_grid(H, W, n_segments)
    row_cell = _nearest_cell(H, start_y, step_y, ny)
    col_cell = _nearest_cell(W, start_x, step_x, nx)
    row_lo = np.searchsorted(row_cell, np.arange(ny), "left").astype(np.int32)
    row_hi = np.searchsorted(row_cell, np.arange(ny), "right").astype(np.int32)
    cols = np.arange(nx, dtype=np.int32)
    xlo = np.searchsorted(col_cell, cols - 1, "left").astype(np.int32)
    xhi = np.searchsorted(col_cell, cols + 1, "right").astype(np.int32)
    K = ny * nx
    centres = np.zeros((K, 5), np.float32)
    centres[:, 0] = np.repeat(start_y + step_y * np.arange(ny), nx)
    centres[:, 1] = np.tile(start_x + step_x * np.arange(nx), ny)
    d_centres = to_dev(np.broadcast_to(centres, (B, K, 5)))
    alive = to_dev(np.ones((B, K), np.uint8))
    m = np.float32((compactness / float(max(step_y, step_x))) ** 2)
    d_row_cell, d_col_cell = to_dev(row_cell), to_dev(col_cell)
    d_row_lo, d_row_hi, d_xlo, d_xhi = to_dev(row_lo), to_dev(row_hi), to_dev(xlo), to_dev(xhi)

    labels = cuda.device_array((B, H, W), np.int32, stream=stream)
    previous = cuda.device_array((B, H, W), np.int32, stream=stream)
    kr.fill_value_kernel[-(-B * N // thr), thr, stream](previous.reshape(B * N), np.int32(-1))
    changed = kr.full(B, 0, np.int64, thr, stream)
    done = kr.full(B, 0, np.uint8, thr, stream)
    upd_threads = launch_config("update")
    update = kslic.update_kernels(upd_threads)
    kslic.assign_kernel[grid3, threads3, stream](planes, d_centres, alive, d_row_cell, d_col_cell,
                                                 nx, m, False, labels, previous, changed, done)
    kr.fill_value_kernel[1, thr, stream](changed, np.int64(0))
    for _ in range(1, max(max_num_iter, 1)):
        update[(K, B), upd_threads, stream](planes, labels, d_row_lo, d_row_hi, d_xlo, d_xhi, nx,
                                            d_centres, alive, done)
        labels, previous = previous, labels
        kslic.assign_kernel[grid3, threads3, stream](planes, d_centres, alive, d_row_cell,
                                                     d_col_cell, nx, m, True, labels, previous,
                                                     changed, done)
        kslic.done_kernel[-(-B // thr), thr, stream](changed, done)

    scan_threads = launch_config("scan")
    if not enforce_connectivity:
        used = kr.full(B * K, 0, np.int64, thr, stream).reshape((B, K))
        kslic.used_kernel[grid3, threads3, stream](labels, used)
        rank = cuda.device_array((B, K + 1), np.int64, stream=stream)
        kslic.scan_rows_kernel[B, scan_threads, stream](used, rank)
        out = cuda.device_array((B, H, W), np.int32, stream=stream)
        kslic.relabel_kernel[grid3, threads3, stream](labels, rank, out)
        return out, rank.copy_to_host(stream=stream)[:, K]
    min_size = int(min_size_factor * (H * W / K))
    return _enforce_connectivity_device(labels, min_size, stream)


def _enforce_connectivity_device(labels: Any, min_size: int, stream: Any = 0) -> tuple[Any, np.ndarray]:
    """(B, H, W) int32 device cluster labels -> (connected labels, (B,) region counts)."""
    from numba import cuda

    from .kernels import cuda_rag as kr
    from .kernels import cuda_slic as kslic

    B, H, W = _shape(labels)
    N = H * W
    blk = launch_config("block")
    thr = launch_config("threads")
    grid3 = (-(-W // blk[0]), -(-H // blk[1]), B)
    threads3 = blk + (1,)
    grid2 = (-(-N // thr), B)
    scan_threads = launch_config("scan")
    parent = cuda.device_array((B, N), np.int32, stream=stream)
    kslic.ccl_init_kernel[grid2, thr, stream](parent)
    kslic.ccl_union_kernel[grid3, threads3, stream](labels, parent)
    kslic.ccl_flatten_kernel[grid2, thr, stream](parent)
    size = kr.full(B * N, 0, np.int32, thr, stream).reshape((B, N))
    kslic.size_kernel[grid2, thr, stream](parent, size)
    qsize = cuda.device_array((B, N), np.int64, stream=stream)
    kslic.queue_size_kernel[grid2, thr, stream](parent, size, min_size, qsize)
    qoff = cuda.device_array((B, N + 1), np.int64, stream=stream)
    kslic.scan_rows_kernel[B, scan_threads, stream](qsize, qoff)
    queue = cuda.device_array((B, N), np.int32, stream=stream)
    link = cuda.device_array((B, N), np.int32, stream=stream)
    kslic.bfs_link_kernel[grid2, thr, stream](parent, W, qsize, qoff, queue, link)
    target = cuda.device_array((B, N), np.int32, stream=stream)
    kslic.merge_kernel[grid2, thr, stream](parent, size, min_size, link, target)
    kept = cuda.device_array((B, N), np.int64, stream=stream)
    kslic.kept_kernel[grid2, thr, stream](parent, size, min_size, kept)
    rank = cuda.device_array((B, N + 1), np.int64, stream=stream)
    kslic.scan_rows_kernel[B, scan_threads, stream](kept, rank)
    lab1 = cuda.device_array((B, N), np.int32, stream=stream)
    kslic.final_label_kernel[grid2, thr, stream](target, rank, lab1)
    size0 = kr.full(B, 0, np.int64, thr, stream)
    key = kr.full(B, 4 * N, np.int64, thr, stream)
    kslic.zero_region_kernel[grid2, thr, stream](lab1, W, size0, key)
    out = cuda.device_array((B, N), np.int32, stream=stream)
    n_out = cuda.device_array(B, np.int64, stream=stream)
    kslic.zero_fix_kernel[grid2, thr, stream](lab1, W, rank, size0, key, min_size, out, n_out)
    return out.reshape((B, H, W)), n_out.copy_to_host(stream=stream)


def _check_slic_images(images: Any, name: str, batched: bool) -> Any:
    """(B, H, W, C) device images, validated as :func:`p2i_prior.slic` validates its image."""
    shp = _shape(images) if hasattr(images, "shape") else np.shape(images)
    lead = 1 if batched else 0
    layout = "(B, H, W) or (B, H, W, 3)" if batched else "(H, W) or (H, W, 3)"
    if len(shp) not in (2 + lead, 3 + lead):
        raise ValueError(f"{name}: expected {layout}, got shape {shape_str(shp)}")
    if len(shp) == 3 + lead and shp[-1] != 3:
        raise ValueError(f"{name}: expected 3 colour channels, {layout}, got shape {shape_str(shp)}")
    dev = as_device(images, name)
    dt = np.dtype(dev.dtype)
    if dt.kind == "c" or dt.kind not in "biuf":
        raise TypeError(f"{name}: expected a real-valued (uint8 or float) array, got dtype {dt}")
    if 0 in shp:
        raise ValueError(f"{name}: expected a non-empty image, got shape {shape_str(shp)}")
    if dt == np.bool_:
        dev = dev.view(np.uint8)
    if dt.kind == "f":
        stats = device_stats(dev)
        _check_finite_dev(stats, name)
        if stats[0] < 0.0 or stats[1] > 1.0:
            raise ValueError(
                f"{name}: expected float values in [0, 1], got values in [{stats[0]:g}, {stats[1]:g}]"
            )
    grey = len(shp) == 2 + lead
    B = shp[0] if batched else 1
    H, W = shp[lead : lead + 2]
    return dev.reshape((B, H, W, 1 if grey else 3))


def slic(image: Any, n_segments: int = 1000, compactness: float = 10.0, max_num_iter: int = 10,
         enforce_connectivity: bool = True, *, min_size_factor: float = 0.5,
         max_size_factor: float = 3.0) -> Any:
    """:func:`p2i_prior.slic` on the GPU (same parameters, same seed grid and rules).

    Labels equal the CPU's except where two clusters tie to float32 precision (and, with
    connectivity, where the CPU cuts a region larger than ``max_size_factor`` cells, which
    the GPU never cuts); see the module docstring of ``kernels/cuda_slic.py``.

    Returns
    -------
    (H, W) int32 labels ``0 .. K-1`` of the image's kind.

    Examples
    --------
    >>> import cupy  # doctest: +SKIP
    >>> slic(cupy.zeros((60, 80, 3), cupy.uint8), n_segments=12).shape  # doctest: +SKIP
    (60, 80)
    """
    dev = _check_slic_images(image, "image", False)
    _, H, W, _ = _shape(dev)
    params = slic_params(H, W, n_segments, compactness, max_num_iter, enforce_connectivity,
                          min_size_factor, max_size_factor)
    out, _ = _slic_device(dev, *params, stream_of(image))
    return to_kind(out.reshape((H, W)), image)


def slic_batch(images: Any, n_segments: int = 1000, compactness: float = 10.0,
               max_num_iter: int = 10, enforce_connectivity: bool = True, *,
               min_size_factor: float = 0.5, max_size_factor: float = 3.0) -> tuple[Any, np.ndarray]:
    """SLIC of B images of one size, every stage one launch for the batch.

    Parameters
    ----------
    images : (B, H, W, 3) or (B, H, W) array
        As :func:`p2i_prior.slic`'s image, each rescaled by its own minimum and maximum.
    n_segments, compactness, max_num_iter, enforce_connectivity, min_size_factor, max_size_factor
        As :func:`p2i_prior.slic`.

    Returns
    -------
    labels : (B, H, W) int32 array of the input's kind
    counts : (B,) int64 numpy array, the number of superpixels of each image

    Examples
    --------
    >>> import cupy  # doctest: +SKIP
    >>> labels, counts = slic_batch(cupy.zeros((2, 60, 80, 3), cupy.uint8), n_segments=12)  # doctest: +SKIP
    >>> counts.tolist()  # doctest: +SKIP
    [12, 12]
    """
    dev = _check_slic_images(images, "images", True)
    _, H, W, _ = _shape(dev)
    params = slic_params(H, W, n_segments, compactness, max_num_iter, enforce_connectivity,
                          min_size_factor, max_size_factor)
    out, counts = _slic_device(dev, *params, stream_of(images))
    return to_kind(out, images), counts


# ----------------------------------------------------------------------------------------------
# Region adjacency graphs
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RAGBatch:
    """Region adjacency graphs of B images as one block-diagonal CSR graph on the device.

    Attributes
    ----------
    indptr : (V + 1,) int64 device array
    indices : (2E,) int32 device array, global node ids
    weights : (2E,) float32 device array
    counts : (2E,) int32 device array, boundary pixels behind each edge
    node_offsets : (B + 1,) int64 host array: image ``b`` owns nodes
        ``node_offsets[b] .. node_offsets[b + 1] - 1`` (its labels shifted)
    """

    indptr: Any
    indices: Any
    weights: Any
    counts: Any
    node_offsets: np.ndarray

    @property
    def n_graphs(self) -> int:
        """Number of images ``B``."""
        return int(self.node_offsets.size - 1)

    @property
    def n_nodes(self) -> np.ndarray:
        """(B,) node count ``K_b`` of each graph."""
        return np.diff(self.node_offsets)

    def graph(self, b: int):
        """Graph ``b`` as a host :class:`p2i_prior.RAG` (copies it to the host)."""
        from .rag import RAG

        o0, o1 = int(self.node_offsets[b]), int(self.node_offsets[b + 1])
        ip = self.indptr.copy_to_host()
        s, e = int(ip[o0]), int(ip[o1])
        return RAG(
            ip[o0 : o1 + 1] - s,
            self.indices.copy_to_host()[s:e] - o0,
            self.weights.copy_to_host()[s:e],
            o1 - o0,
            self.counts.copy_to_host()[s:e],
        )


def _check_labels_dev(labels: Any, name: str, ndim: int) -> Any:
    shp = _shape(labels) if hasattr(labels, "shape") else np.shape(labels)
    layout = "(H, W) integer label image" if ndim == 2 else "(B, H, W) integer label images"
    if len(shp) != ndim:
        raise ValueError(f"{name}: expected {layout}, got shape {shape_str(shp)}")
    dev = as_device(labels, name)
    dt = np.dtype(dev.dtype)
    if dt.kind not in "iu":
        raise TypeError(f"{name}: expected an integer label image, got dtype {dt}")
    if 0 in shp:
        raise ValueError(f"{name}: expected a non-empty image, got shape {shape_str(shp)}")
    lo = device_stats(dev)[0]
    if lo < 0:
        raise ValueError(f"{name}: expected labels >= 0, got minimum {int(lo)}")
    return dev


def _check_edge_dev(edge_map: Any, shape: tuple[int, ...], name: str = "edge_map") -> Any:
    dev = as_device(edge_map, name)
    if _shape(dev) != shape:
        raise ValueError(
            f"{name}: expected shape {shape_str(shape)} (the labels' shape), got {shape_str(_shape(dev))}"
        )
    if np.dtype(dev.dtype).kind not in "iuf":
        raise TypeError(f"{name}: expected a real-valued array, got dtype {dev.dtype}")
    stats = device_stats(dev)
    _check_finite_dev(stats, name)
    if stats[0] < 0:
        raise ValueError(f"{name}: expected edge strengths >= 0, got minimum {stats[0]}")
    return dev


def build_rags(labels: Any, edge_maps: Any, *, n_labels: Sequence[int] | None = None) -> RAGBatch:
    """Region adjacency graphs of B label images of one size, built on the GPU.

    Parameters
    ----------
    labels : (B, H, W) int array
        Labels >= 0 of each image (CuPy, torch CUDA, Numba device, or numpy).
    edge_maps : (B, H, W) float array
        Edge strength, finite and >= 0 (e.g. :func:`sobel_batch`).
    n_labels : sequence of B ints, optional
        ``K_b`` per image (default ``labels[b].max() + 1``, read from the device).

    Returns
    -------
    RAGBatch
        Each graph equals :func:`p2i_prior.build_rag` of its image (weights within one
        float32 ulp).

    Examples
    --------
    >>> import cupy  # doctest: +SKIP
    >>> g = build_rags(cupy.array([[[0, 1]]]), cupy.ones((1, 1, 2)))  # doctest: +SKIP
    >>> g.n_nodes.tolist()  # doctest: +SKIP
    [2]
    """
    from .kernels import cuda_rag as kr

    lab = _check_labels_dev(labels, "labels", 3)
    edge = _check_edge_dev(edge_maps, _shape(lab), "edge_maps")
    offsets = None
    if n_labels is not None:
        k = np.asarray(n_labels, np.int64)
        if k.shape != (_shape(lab)[0],) or (k < 1).any():
            raise ValueError(
                f"n_labels: expected {_shape(lab)[0]} positive counts (one per image), got {k.tolist()}"
            )
        offsets = np.concatenate([[0], np.cumsum(k)])
    ip, ix, w, c, offs = kr.build_rag_batched(
        lab, edge, offsets, block=launch_config("block"), threads=launch_config("threads"),
        scan_threads=launch_config("scan"), stream=stream_of(labels),
    )
    return RAGBatch(ip, ix, w, c, offs)


def build_rag(labels: Any, edge_map: Any):
    """:func:`p2i_prior.build_rag` on the GPU; the RAG's arrays are of the labels' kind.

    Parameters
    ----------
    labels : (H, W) int array, labels >= 0
    edge_map : (H, W) float array, finite, >= 0

    Returns
    -------
    p2i_prior.RAG
        ``indptr``/``indices``/``weights``/``counts`` as CuPy arrays or CUDA tensors for GPU
        input (numpy for numpy input); equal to the CPU graph (weights within one ulp).

    Examples
    --------
    >>> import cupy  # doctest: +SKIP
    >>> build_rag(cupy.array([[0, 0, 1], [2, 2, 1]]), cupy.ones((2, 3))).n_edges  # doctest: +SKIP
    3
    """
    from .rag import RAG

    lab = _check_labels_dev(labels, "labels", 2)
    edge = _check_edge_dev(edge_map, _shape(lab))
    H, W = _shape(lab)
    batch = build_rags(lab.reshape((1, H, W)), edge.reshape((1, H, W)))
    K = int(batch.node_offsets[-1])
    return RAG(
        to_kind(batch.indptr, labels),
        to_kind(batch.indices, labels),
        to_kind(batch.weights, labels),
        K,
        to_kind(batch.counts, labels),
    )


# ----------------------------------------------------------------------------------------------
# Graph distances
# ----------------------------------------------------------------------------------------------


def _check_seeds_dev(seeds: Any, name: str, shape_tail: tuple[int, ...], layout: str,
                     mask: bool = False) -> Any:
    """Seeds as a uint8 device array; the messages of the host module the call mirrors."""
    shp = _shape(seeds) if hasattr(seeds, "shape") else np.shape(seeds)
    if len(shp) != len(shape_tail) + 1:
        raise ValueError(f"{name}: expected {layout}, got shape {shape_str(shp)}")
    dev = as_device(seeds, name)
    dt = np.dtype(dev.dtype)
    if dt == np.bool_:
        return dev.view(np.uint8)
    if dt.kind not in "iuf":
        what = "a boolean (or 0/1) mask" if mask else "a bool array (or 0/1 values)"
        raise TypeError(f"{name}: expected {what}, got dtype {dt}")
    odd = device_stats(dev)[3]
    if odd and mask:
        raise ValueError(
            f"{name}: expected a boolean mask or values in {{0, 1}}, got {odd} values outside {{0, 1}}"
        )
    if odd:
        raise TypeError(f"{name}: expected a bool array (or 0/1 values), got dtype {dt}")
    return as_device(dev, name, np.uint8)


def _solve(graph_arrays, node_offsets: np.ndarray, seeds_dev: Any, inst_graph: np.ndarray,
           solver: str, stream: Any, tile: int | None) -> Any:
    """(n, K) float32 device distances of the instances (rows of ``seeds_dev``)."""
    from numba import cuda

    from .kernels import cuda_shortest_paths as ksp

    indptr, indices, weights = graph_arrays
    offs = cuda.to_device(np.asarray(node_offsets, np.int64), stream=stream)
    ig = cuda.to_device(np.asarray(inst_graph, np.int32), stream=stream)
    if solver == "sssp":
        return ksp.bellman_ford_batched(indptr, indices, weights, offs, seeds_dev, ig,
                                        threads=launch_config("bf"), stream=stream)
    rows = launch_config("rows")
    if tile is None:
        tile = launch_config("tile")
    elif tile % rows:
        rows = 1
    K = int(np.diff(node_offsets).max()) if len(node_offsets) > 1 else 0
    n_pad = max(tile, -(-K // tile) * tile)
    D = ksp.floyd_warshall_batched(indptr, indices, weights, offs, n_pad, tile=tile, rows=rows,
                                   stream=stream)
    return ksp.min_over_seeds(D, seeds_dev, ig, threads=launch_config("threads"), stream=stream)


def rag_distance(rag: Any, seeds: Any, solver: str = "sssp", *, tile: int | None = None) -> Any:
    """:func:`p2i_prior.rag_distance` on the GPU (same numbers).

    Parameters
    ----------
    rag : p2i_prior.RAG
        Its arrays may be numpy (copied to the device) or device arrays (from :func:`build_rag`).
    seeds : (n, K) bool array, ``K = rag.n_nodes``
    solver : {"sssp", "apsp"}
        ``"sssp"``: batched frontier Bellman–Ford, bit-identical to the CPU Dijkstra;
        ``"apsp"``: blocked Floyd–Warshall (float32, within float32 rounding) + min over seeds.
    tile : int, optional
        Floyd–Warshall tile edge, <= 32 (default 32: the precompiled kernels).

    Returns
    -------
    (n, K) float32 array of the kind of ``seeds``.

    Examples
    --------
    >>> import cupy  # doctest: +SKIP
    >>> g = build_rag(cupy.array([[0, 1, 2]]), cupy.array([[0., 1., 3.]]))  # doctest: +SKIP
    >>> rag_distance(g, cupy.array([[True, False, False]])).tolist()  # doctest: +SKIP
    [[0.0, 0.5, 2.5]]
    """
    from .rag import RAG

    if not isinstance(rag, RAG):
        raise TypeError(f"rag: expected a p2i_prior.RAG (from build_rag), got {type(rag).__name__}")
    check_choice(solver, "solver", ("sssp", "apsp"))
    if tile is not None:
        tile = check_positive_int(tile, "tile", minimum=1, maximum=32)
    K = int(rag.n_nodes)
    s = _check_seeds_dev(seeds, "seeds", (K,), "(n, K) bool array")
    if _shape(s)[1] != K:
        raise ValueError(
            f"seeds: expected (n, K) with K = rag.n_nodes = {K}, got shape {shape_str(_shape(s))}"
        )
    stream = stream_of(seeds)
    arrays = (
        as_device(rag.indptr, "rag.indptr", np.int64),
        as_device(rag.indices, "rag.indices", np.int32),
        as_device(rag.weights, "rag.weights", np.float32),
    )
    n = _shape(s)[0]
    out = _solve(arrays, np.array([0, K]), s, np.zeros(n, np.int32), solver, stream, tile)
    return to_kind(out, seeds)


def rag_distances(graphs: RAGBatch, seeds: Any, solver: str = "sssp", *,
                  tile: int | None = None) -> Any:
    """Distances in every graph of a batch from each image's instances, in one launch sequence.

    Parameters
    ----------
    graphs : RAGBatch
    seeds : (B, n, K) bool array
        ``seeds[b, i, k]``: superpixel ``k`` of image ``b`` is on instance ``i``'s skeleton;
        ``n`` is the largest instance count (pad with all-False rows), ``K`` >= every ``K_b``
        (columns past ``K_b`` are ignored).
    solver : {"sssp", "apsp"}

    Returns
    -------
    (B, n, K) float32 array of the kind of ``seeds``; ``+inf`` past each ``K_b`` and on rows
    without seeds.

    Examples
    --------
    >>> import cupy  # doctest: +SKIP
    >>> g = build_rags(cupy.array([[[0, 1]]]), cupy.ones((1, 1, 2)))  # doctest: +SKIP
    >>> rag_distances(g, cupy.array([[[True, False]]])).tolist()  # doctest: +SKIP
    [[[0.0, 1.0]]]
    """
    if not isinstance(graphs, RAGBatch):
        raise TypeError(f"graphs: expected a RAGBatch (from build_rags), got {type(graphs).__name__}")
    check_choice(solver, "solver", ("sssp", "apsp"))
    s = _check_seeds_dev(seeds, "seeds", (0, 0), "(B, n, K) bool array")
    B, n, K = _shape(s)
    if B != graphs.n_graphs or (B and K < int(graphs.n_nodes.max())):
        raise ValueError(
            f"seeds: expected (B, n, K) with B = {graphs.n_graphs} and K >= "
            f"{int(graphs.n_nodes.max()) if B else 0}, got shape {shape_str((B, n, K))}"
        )
    out = _solve((graphs.indptr, graphs.indices, graphs.weights), graphs.node_offsets,
                 s.reshape((B * n, K)), np.repeat(np.arange(B, dtype=np.int32), n), solver,
                 stream_of(seeds), tile)
    return to_kind(out.reshape((B, n, K)), seeds)


# ----------------------------------------------------------------------------------------------
# Fast sweeping
# ----------------------------------------------------------------------------------------------


def sweep_distance(seeds_mask: Any, speed: Any = None, *, max_sweeps: int = 400, tol: float = 0.0,
                   threads: int | None = None) -> Any:
    """:func:`p2i_prior.sweep_distance` on the GPU: same values and the same warning.

    Parameters
    ----------
    seeds_mask : (H, W) or (n, H, W) bool array (or 0/1 values)
    speed : (H, W) or (n, H, W) float array, optional
        Finite and > 0; ``None``: unit speed.  A 3-d speed gives each instance its own.
    max_sweeps : int >= 1
    tol : float >= 0
    threads : int, optional
        Threads per block (one block per instance; default 512).

    Returns
    -------
    float32 array of the shape and kind of ``seeds_mask``.

    Examples
    --------
    >>> import cupy  # doctest: +SKIP
    >>> s = cupy.zeros((5, 5), bool); s[2, 2] = True  # doctest: +SKIP
    >>> sweep_distance(s)[2].tolist()  # doctest: +SKIP
    [2.0, 1.0, 0.0, 1.0, 2.0]
    """
    from numba import cuda

    from .kernels import cuda_sweep as ksw
    from .kernels.cuda_sobel import grid_2d

    shp = _shape(seeds_mask) if hasattr(seeds_mask, "shape") else np.shape(seeds_mask)
    if len(shp) not in (2, 3):
        raise ValueError(
            f"seeds_mask: expected (H, W) or (n, H, W) boolean mask, got shape {shape_str(shp)}"
        )
    if shp[-1] == 0 or shp[-2] == 0:
        raise ValueError(
            "seeds_mask: expected a non-empty image (H >= 1 and W >= 1), "
            f"got shape {shape_str(shp)}"
        )
    max_sweeps = check_positive_int(max_sweeps, "max_sweeps")
    tol = check_positive_float(tol, "tol", allow_zero=True)
    if threads is None:
        threads = launch_config("sweep")
    threads = check_positive_int(threads, "threads", maximum=1024)
    seeds = _check_seeds_dev(seeds_mask, "seeds_mask", shp[1:], "(H, W) or (n, H, W) boolean mask",
                             mask=True)
    H, W = shp[-2:]
    n = int(np.prod(shp[:-2])) if len(shp) == 3 else 1
    seeds = seeds.reshape((n, H, W))
    stream = stream_of(seeds_mask)
    if speed is None:
        slowness = cuda.to_device(np.ones((1, 1, 1)), stream=stream)
        plane = np.zeros(n, np.int32)
        uniform = True
    else:
        sp = as_device(speed, "speed")
        sshape = _shape(sp)
        if sshape not in ((H, W), (n, H, W)):
            raise ValueError(
                f"speed: expected shape {shape_str((H, W))} (the image's) or {shape_str((n, H, W))}, "
                f"got {shape_str(sshape)}"
            )
        if np.dtype(sp.dtype).kind not in "iuf":
            raise TypeError(f"speed: expected a real-valued float array, got dtype {sp.dtype}")
        stats = device_stats(sp, stream)
        _check_finite_dev(stats, "speed")
        if stats[0] <= 0:
            raise ValueError(f"speed: expected values > 0, got minimum {stats[0]!r}")
        f32 = np.finfo(np.float32)
        hi, lo = (H + W) / stats[0], 1.0 / stats[1] / np.sqrt(2.0)
        if not (hi <= float(f32.max) and lo >= float(f32.tiny)):
            raise ValueError(
                f"speed: expected values in a range whose travel times fit float32, got speeds from "
                f"{stats[0]!r} to {stats[1]!r} (travel times would reach "
                f"{hi:.3g} or go below {lo:.3g}); rescale the speed"
            )
        S = 1 if len(sshape) == 2 else n
        sp = sp.reshape((S, H, W))
        slowness = cuda.device_array((S, H, W), np.float64, stream=stream)
        blk = launch_config("block")
        ksw.reciprocal_kernel[grid_2d(S, H, W, blk), blk + (1,), stream](sp, slowness)
        plane = np.zeros(n, np.int32) if S == 1 else np.arange(n, dtype=np.int32)
        uniform = False
    out, sweeps, last = ksw.sweep_batched(seeds, slowness, cuda.to_device(plane, stream=stream),
                                          uniform, max_sweeps, tol, threads, stream)
    last = last.copy_to_host(stream=stream)
    late = np.flatnonzero(last > tol)
    if late.size:
        warnings.warn(
            f"sweep_distance: {late.size} of {n} instance(s) did not converge "
            f"in max_sweeps={max_sweeps} sweeps (largest last change "
            f"{float(last[late].max()):.3g} > tol={tol}); the values are upper "
            "bounds of the converged ones",
            RuntimeWarning,
            stacklevel=2,
        )
    return to_kind(out.reshape(shp), seeds_mask)


# ----------------------------------------------------------------------------------------------
# Fusion
# ----------------------------------------------------------------------------------------------


def fuse(distances: Any, person_score: Any, *, temperature: float, threshold: float = 0.5,
         labels: Any = None, boxes: Any = None, write_map: bool = True) -> tuple[Any, Any]:
    """Pose-instance map and instance labels in one pass (``softmax_instances`` +
    ``segment_instances`` of :mod:`p2i_prior.pipeline`).

    Parameters
    ----------
    distances : (n, H, W) or (B, n, H, W) float32 array, or (n, K) / (B, n, K) with ``labels``
        Each instance's distance (``+inf`` unreachable).
    person_score : (H, W) or (B, H, W) float array in [0, 1]
    temperature : float > 0
    threshold : float in [0, 1]
        Pixels with ``person_score < threshold`` are background.
    labels : (H, W) or (B, H, W) int array, optional
        Superpixel labels: ``distances`` are then per superpixel and each pixel reads its
        superpixel's column.
    boxes : (n, 4) or (B, n, 4) float array, optional
        COCO ``[x, y, w, h]`` gates (an instance has probability 0 outside its box).
    write_map : bool
        False skips the map (only labels are computed; the map returned is None).

    Returns
    -------
    pose_map : (H, W, n) / (B, H, W, n) float32 (or None), labels : (H, W) / (B, H, W) int32
        0 background, ``1..n`` instances; the kind of ``distances``.

    Examples
    --------
    >>> import cupy  # doctest: +SKIP
    >>> d = cupy.array([[[0.0, 1.0]], [[1.0, 0.0]]], cupy.float32)  # doctest: +SKIP
    >>> fuse(d, cupy.ones((1, 2)), temperature=0.1)[1].tolist()  # doctest: +SKIP
    [[1, 2]]
    """
    from numba import cuda

    from .kernels import cuda_fusion as kf

    temperature = check_positive_float(temperature, "temperature")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise TypeError(f"threshold: expected a number in [0, 1], got {type(threshold).__name__}")
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold: expected a number in [0, 1], got {threshold}")
    stream = stream_of(distances)
    d = as_device(distances, "distances", np.float32)
    sc = as_device(person_score, "person_score", np.float32)
    batched = len(_shape(sc)) == 3
    if len(_shape(sc)) not in (2, 3):
        raise ValueError(
            f"person_score: expected (H, W) or (B, H, W) person probabilities, got shape {shape_str(_shape(sc))}"
        )
    B = _shape(sc)[0] if batched else 1
    H, W = _shape(sc)[-2:]
    sc = sc.reshape((B, H * W))
    if labels is None:
        want = (B, None, H, W) if batched else (None, H, W)
        dshape = _shape(d)
        ok = len(dshape) == len(want) and all(w is None or w == s for w, s in zip(want, dshape))
        if not ok:
            layout = "(B, n, H, W)" if batched else "(n, H, W)"
            raise ValueError(
                f"distances: expected {layout} matching person_score {shape_str(_shape(person_score))}, "
                f"got shape {shape_str(dshape)}"
            )
        n = dshape[-3]
        d = d.reshape((B, n, H * W))
        lab = None
    else:
        lab = as_device(labels, "labels", np.int32)
        if _shape(lab) != ((B, H, W) if batched else (H, W)):
            raise ValueError(
                f"labels: expected shape {shape_str(_shape(person_score))} (the score's), got {shape_str(_shape(lab))}"
            )
        dshape = _shape(d)
        if len(dshape) != (3 if batched else 2):
            layout = "(B, n, K)" if batched else "(n, K)"
            raise ValueError(f"distances: expected {layout} superpixel distances, got shape {shape_str(dshape)}")
        n, K = dshape[-2:]
        if int(device_stats(lab)[1]) >= K:
            raise ValueError(
                f"labels: expected values < K = {K} (the distances' columns), got maximum {int(device_stats(lab)[1])}"
            )
        d = d.reshape((B, n, K))
        lab = lab.reshape((B, H * W))
    stats = device_stats(sc, stream)
    _check_finite_dev(stats, "person_score")
    if stats[0] < 0 or stats[1] > 1:
        raise ValueError(f"person_score: expected probabilities in [0, 1], got range [{stats[0]}, {stats[1]}]")
    bx = None
    if boxes is not None:
        bx = as_device(boxes, "boxes", np.float64)
        if _shape(bx) != ((B, n, 4) if batched else (n, 4)):
            raise ValueError(
                f"boxes: expected {'(B, n, 4)' if batched else '(n, 4)'} COCO [x, y, w, h] boxes with n = {n}, "
                f"got shape {shape_str(_shape(bx))}"
            )
        bx = bx.reshape((B, n, 4))
    out_map = cuda.device_array((B, H * W if write_map else 1, max(n, 1)), np.float32, stream=stream)
    out_lab = cuda.device_array((B, H * W), np.int32, stream=stream)
    kf.launch_fuse(d, lab, sc, temperature, float(threshold), out_map, out_lab, W, boxes=bx,
                   write_map=write_map, threads=launch_config("fuse"), stream=stream)
    shape = (B, H, W) if batched else (H, W)
    pm = None
    if write_map:
        pm = to_kind(out_map[:, :, :n].reshape(shape + (n,)) if n else
                     cuda.device_array(shape + (0,), np.float32), distances)
    return pm, to_kind(out_lab.reshape(shape), distances)


def segment_instances(pose_map: Any, person_score: Any, *, threshold: float = 0.5) -> Any:
    """:func:`p2i_prior.segment_instances` on the GPU (same labels).

    Parameters
    ----------
    pose_map : (H, W, n) float array, person_score : (H, W) float array in [0, 1]
    threshold : float in [0, 1]

    Returns
    -------
    (H, W) int32 labels of the map's kind: 0 background, ``1..n`` instances.

    Examples
    --------
    >>> import cupy  # doctest: +SKIP
    >>> pm = cupy.zeros((1, 2, 2), cupy.float32); pm[0, :, 0] = 1  # doctest: +SKIP
    >>> segment_instances(pm, cupy.ones((1, 2))).tolist()  # doctest: +SKIP
    [[1, 1]]
    """
    from numba import cuda

    from .kernels import cuda_fusion as kf

    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise TypeError(f"threshold: expected a number in [0, 1], got {type(threshold).__name__}")
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold: expected a number in [0, 1], got {threshold}")
    pm = as_device(pose_map, "pose_map", np.float32)
    if len(_shape(pm)) != 3:
        raise ValueError(f"pose_map: expected (H, W, n) pose-instance map, got shape {shape_str(_shape(pm))}")
    H, W, n = _shape(pm)
    sc = as_device(person_score, "person_score", np.float32)
    if _shape(sc) != (H, W):
        raise ValueError(
            f"person_score: expected shape {shape_str((H, W))} (the map's H, W), got {shape_str(_shape(sc))}"
        )
    stream = stream_of(pose_map)
    for arr, name in ((pm, "pose_map"), (sc, "person_score")):
        stats = device_stats(arr, stream)
        _check_finite_dev(stats, name)
    stats = device_stats(sc, stream)
    if H * W and (stats[0] < 0 or stats[1] > 1):
        raise ValueError(
            f"person_score: expected probabilities in [0, 1], got range [{stats[0]}, {stats[1]}]"
        )
    out = cuda.device_array(H * W, np.int32, stream=stream)
    thr = launch_config("fuse")
    if H * W:
        kf.segment_kernel[-(-H * W // thr), thr, stream](pm.reshape((H * W, n)), sc.reshape(H * W),
                                                         np.float32(threshold), out)
    return to_kind(out.reshape((H, W)), pose_map)


# ----------------------------------------------------------------------------------------------
# The batched pipeline
# ----------------------------------------------------------------------------------------------


def _skeleton_lists(keypoints_list: Sequence[Any], H: int, W: int, n_max: int):
    """Skeleton pixels of every instance of every image (host rasterisation: tiny inputs)."""
    from .skeleton import check_keypoints, skeleton_pixels

    inst, image, rows, cols = [], [], [], []
    for b, kp in enumerate(keypoints_list):
        k = check_keypoints(kp, f"keypoints_list[{b}]")
        offsets, r, c = skeleton_pixels(k, (H, W))
        counts = np.diff(offsets)
        inst.append(b * n_max + np.repeat(np.arange(k.shape[0]), counts))
        image.append(np.full(r.size, b))
        rows.append(r)
        cols.append(c)
    cat = lambda parts: np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, np.int32)
    return cat(inst), cat(image), cat(rows), cat(cols)


def pose_instance_maps(
    images: Any,
    keypoints_list: Sequence[Any],
    *,
    method: str = "rag",
    solver: str = "sssp",
    n_segments: int = 1000,
    compactness: float = 10.0,
    temperature: float | None = None,
    edge_weight: float = 10.0,
    labels: Any = None,
    boxes: Sequence[Any] | None = None,
    person_scores: Any = None,
    threshold: float = 0.5,
) -> Any:
    """Pose-instance maps of B images of one size, one pass of kernels for the batch.

    :func:`p2i_prior.pose_instance_map` for every image (same parameters and numbers:
    ``"sssp"`` distances bit-identical, maps within float32 rounding), with every stage batched:
    Sobel, RAG construction, graph distances (one Bellman–Ford launch for all instances of all
    images), fast sweeping (one launch), softmax + fusion (one launch).  Mixed sizes: pass a
    list of images; they are grouped by size and each group runs as one batch.

    Parameters
    ----------
    images : (B, H, W, 3) / (B, H, W) array, or a list of (H_b, W_b[, 3]) arrays
    keypoints_list : B arrays of (n_b, 17, 3) COCO keypoints
    method, solver, n_segments, compactness, temperature, edge_weight
        As :func:`p2i_prior.pose_instance_map` (``length_weight`` and ``extent`` are not
        available on the GPU path).
    labels : (B, H, W) int array, optional
        Precomputed superpixels for ``method="rag"``; default: GPU SLIC of each image
        (:func:`slic_batch`, the parameters of :func:`p2i_prior.slic`).
    boxes : B arrays of (n_b, 4), optional
        COCO box gates.
    person_scores : (B, H, W) float array, optional
        When given, the instance labels (:func:`p2i_prior.segment_instances`) are returned too.
    threshold : float in [0, 1]

    Returns
    -------
    list of B (H, W, n_b) float32 maps of the images' kind; with ``person_scores`` also a list
    of B (H, W) int32 label images.

    Examples
    --------
    >>> import cupy  # doctest: +SKIP
    >>> kp = np.zeros((1, 17, 3)); kp[0, 0] = (1, 1, 2)
    >>> [m.shape for m in pose_instance_maps(cupy.zeros((2, 4, 4)), [kp, kp], method="sweep")]  # doctest: +SKIP
    [(4, 4, 1), (4, 4, 1)]
    """
    from .pipeline import DEFAULT_TEMPERATURE, METHODS

    check_choice(method, "method", METHODS)
    check_choice(solver, "solver", ("sssp", "apsp"))
    if temperature is None:
        temperature = DEFAULT_TEMPERATURE.get(method, 1.0)
    temperature = check_positive_float(temperature, "temperature")
    if isinstance(images, (list, tuple)):
        B = len(images)
        shapes = [tuple(_shape(im) if hasattr(im, "shape") else np.shape(im)) for im in images]
        if len(set(shapes)) > 1:  # mixed sizes: one batch per size
            if len(keypoints_list) != B:
                raise ValueError(
                    f"keypoints_list: expected one (n, 17, 3) array per image ({B}), got {len(keypoints_list)}"
                )
            maps: list[Any] = [None] * B
            labs: list[Any] = [None] * B
            for shp in dict.fromkeys(shapes):
                idx = [i for i, s in enumerate(shapes) if s == shp]
                res = pose_instance_maps(
                    [images[i] for i in idx], [keypoints_list[i] for i in idx], method=method,
                    solver=solver, n_segments=n_segments, compactness=compactness,
                    temperature=temperature, edge_weight=edge_weight,
                    labels=None if labels is None else [labels[i] for i in idx],
                    boxes=None if boxes is None else [boxes[i] for i in idx],
                    person_scores=None if person_scores is None else [person_scores[i] for i in idx],
                    threshold=threshold,
                )
                got_maps, got_labs = res if person_scores is not None else (res, None)
                for j, i in enumerate(idx):
                    maps[i] = got_maps[j]
                    if got_labs is not None:
                        labs[i] = got_labs[j]
            return (maps, labs) if person_scores is not None else maps
        ref = images[0] if B else np.zeros((0,))
        imgs = _stack(images, "images")
        if labels is not None and isinstance(labels, (list, tuple)):
            labels = _stack(labels, "labels")
        if person_scores is not None and isinstance(person_scores, (list, tuple)):
            person_scores = _stack(person_scores, "person_scores")
    else:
        ref = images
        imgs = as_device(images, "images")
    shp = _shape(imgs)
    if len(shp) not in (3, 4) or (len(shp) == 4 and shp[3] != 3):
        raise ValueError(f"images: expected (B, H, W) or (B, H, W, 3) images, got shape {shape_str(shp)}")
    B, H, W = shp[:3]
    if len(keypoints_list) != B:
        raise ValueError(
            f"keypoints_list: expected one (n, 17, 3) array per image ({B}), got {len(keypoints_list)}"
        )
    if boxes is not None and len(boxes) != B:
        raise ValueError(f"boxes: expected one (n, 4) array per image ({B}), got {len(boxes)}")
    from numba import cuda

    from .kernels import cuda_rag as kr
    from .kernels import cuda_sweep as ksw
    from .kernels.cuda_sobel import grid_2d
    from .skeleton import check_keypoints

    stream = stream_of(ref)
    counts = [check_keypoints(kp, f"keypoints_list[{b}]").shape[0] for b, kp in enumerate(keypoints_list)]
    n_max = max(counts) if counts else 0
    per_image = _bytes_per_image(H, W, n_max, method)
    fit = max(1, int(0.8 * _free_device_bytes() // per_image))
    if B > fit:  # batch within the device's free memory instead of failing out of memory
        maps, labs_out = [], []
        for b0 in range(0, B, fit):
            b1 = min(B, b0 + fit)
            res = pose_instance_maps(
                imgs[b0:b1], list(keypoints_list[b0:b1]), method=method, solver=solver,
                n_segments=n_segments, compactness=compactness, temperature=temperature,
                edge_weight=edge_weight, labels=None if labels is None else labels[b0:b1],
                boxes=None if boxes is None else list(boxes[b0:b1]),
                person_scores=None if person_scores is None else person_scores[b0:b1],
                threshold=threshold,
            )
            got_maps, got_labs = res if person_scores is not None else (res, [])
            maps += list(got_maps)
            labs_out += list(got_labs)
        if kind_of(ref) != "numba":  # the chunks came back in the device kind of the slices
            maps = [to_kind(m_, ref) if kind_of(m_) == "numba" else m_ for m_ in maps]
        return (maps, labs_out) if person_scores is not None else maps
    inst, image, rows, cols = _skeleton_lists(keypoints_list, H, W, max(n_max, 1))
    m = rows.size
    to_dev = lambda a: cuda.to_device(a, stream=stream)
    blk = launch_config("block")
    thr = launch_config("threads")
    if method == "rag":
        if labels is None:
            sl = _check_slic_images(imgs, "images", True)
            params = slic_params(H, W, n_segments, compactness, 10, True, 0.5, 3.0)
            labs_dev, _ = _slic_device(sl, *params, stream)
        else:
            labs_dev = _check_labels_dev(labels, "labels", 3)
            if _shape(labs_dev) != (B, H, W):
                raise ValueError(
                    f"labels: expected shape {shape_str((B, H, W))} (the images'), got {shape_str(_shape(labs_dev))}"
                )
            labs_dev = as_device(labs_dev, "labels", np.int32)
        edge = _sobel_device(imgs, stream, None)
        graphs = build_rags(labs_dev, edge)
        K = int(graphs.n_nodes.max())
        seeds = cuda.device_array((B * max(n_max, 1), K), np.uint8, stream=stream)
        kr.fill_value_kernel[max(-(-seeds.size // thr), 1), thr, stream](seeds.reshape(seeds.size), np.uint8(0))
        if m:
            kr.seeds_from_pixels_kernel[-(-m // thr), thr, stream](
                labs_dev, to_dev(inst), to_dev(image), to_dev(rows), to_dev(cols), seeds
            )
        dist = _solve((graphs.indptr, graphs.indices, graphs.weights), graphs.node_offsets, seeds,
                      np.repeat(np.arange(B, dtype=np.int32), max(n_max, 1)), solver, stream, None)
        dist = dist.reshape((B, max(n_max, 1), K))
        lab_arg = labs_dev
    else:
        n1 = max(n_max, 1)
        mask = cuda.device_array((B * n1, H, W), np.uint8, stream=stream)
        kr.fill_value_kernel[max(-(-mask.size // thr), 1), thr, stream](mask.reshape(mask.size), np.uint8(0))
        if m:
            kr.pixel_mask_kernel[-(-m // thr), thr, stream](to_dev(inst), to_dev(rows), to_dev(cols), mask)
        if method == "sweep":
            slowness = to_dev(np.ones((1, 1, 1)))
            plane = np.zeros(B * n1, np.int32)
            uniform = True
        else:
            edge_weight = check_positive_float(edge_weight, "edge_weight", allow_zero=True)
            edge = _sobel_device(imgs, stream, None)
            sums = to_dev(np.zeros(B))
            grid = grid_2d(B, H, W, blk)
            ksw.image_sum_kernel[grid, blk + (1,), stream](edge, sums)
            slowness = cuda.device_array((B, H, W), np.float64, stream=stream)
            ksw.edge_slowness_kernel[grid, blk + (1,), stream](edge, sums, float(edge_weight), slowness)
            plane = np.repeat(np.arange(B, dtype=np.int32), n1)
            uniform = False
        out, _, _ = ksw.sweep_batched(mask, slowness, to_dev(plane), uniform, 400, 0.0,
                                      threads=launch_config("sweep"), stream=stream)
        dist = out.reshape((B, n1, H, W))
        lab_arg = None
    # rows of missing instances (images with fewer people) stay all-inf: probability 0
    score_arg = person_scores
    if score_arg is None:
        score_dev = cuda.to_device(np.ones((B, H, W), np.float32), stream=stream)
    else:
        score_dev = as_device(score_arg, "person_scores", np.float32)
        if _shape(score_dev) != (B, H, W):
            raise ValueError(
                f"person_scores: expected shape {shape_str((B, H, W))}, got {shape_str(_shape(score_dev))}"
            )
    bx = None
    if boxes is not None:
        from .pipeline import _check_boxes

        arr = np.zeros((B, max(n_max, 1), 4))
        arr[:, :, 2:] = -1.0  # padding rows: empty boxes
        for b, bb in enumerate(boxes):
            arr[b, : counts[b]] = _check_boxes(bb, counts[b])
        bx = to_dev(arr)
    pm, lab_out = fuse(dist, score_dev, temperature=temperature,
                       threshold=float(threshold) if person_scores is not None else 0.0,
                       labels=lab_arg, boxes=bx)
    if kind_of(ref) in ("cupy", "numba") or (kind_of(ref) == "torch" and ref.is_cuda):
        maps = [to_kind(pm[b, :, :, : counts[b]], ref) for b in range(B)]
        labs_out = [to_kind(lab_out[b], ref) for b in range(B)]
    else:  # host kinds: one copy of the whole batch, then views
        pm_h, lab_h = pm.copy_to_host(), lab_out.copy_to_host()
        from ._util import like

        maps = [like(np.ascontiguousarray(pm_h[b, :, :, : counts[b]]), ref) for b in range(B)]
        labs_out = [like(lab_h[b], ref) for b in range(B)]
    if person_scores is None:
        return maps
    return maps, labs_out


def _bytes_per_image(H: int, W: int, n: int, method: str) -> int:
    """Device memory one image of a batch needs (an upper estimate, bytes).

    Image, Lab planes, labels, Sobel, RAG buffers (about 40 bytes a pixel), the (n, H, W) map
    and, for the sweeping methods, the (n, H, W) distances and speed planes.
    """
    per_pixel = 64 + 4 * n + (12 * n if method in ("sweep", "geodesic") else 0)
    return max(1, H * W * per_pixel)


def _free_device_bytes() -> int:
    """Free memory of the current CUDA device (a large number under the simulator)."""
    from numba import cuda

    if simulator():
        return 1 << 40
    free, _total = cuda.current_context().get_memory_info()
    return int(free)


def _stack(arrays: Sequence[Any], name: str) -> Any:
    """Stack same-shape arrays into one (B, ...) device array (one device copy each)."""
    from numba import cuda

    kind = kind_of(arrays[0]) if len(arrays) else "numpy"
    if kind == "cupy":
        import cupy

        return cuda.as_cuda_array(cupy.stack(arrays))
    if kind == "torch" and arrays[0].is_cuda:
        import torch

        return cuda.as_cuda_array(torch.stack([a.detach() for a in arrays]).contiguous())
    if kind == "numba":
        return cuda.to_device(np.stack([a.copy_to_host() for a in arrays]))
    from ._util import to_numpy

    return cuda.to_device(np.stack([to_numpy(a, name) for a in arrays]))
