"""Device choice, zero-copy interop, streams, statistics and memory sizing for the GPU paths.

Every step module (``edges``, ``superpixels``, ``rag``, ``graph_distance``, ``sweep``,
``fusion``) asks :func:`use_gpu` once and then runs its CPU or its GPU driver::

    if use_gpu(device, image):
        ...  # as_device(image, "image") -> kernels on stream_of(image) -> to_kind(out, image)

Dispatch rule (:func:`use_gpu`)
-------------------------------
* a CuPy array, a CUDA torch tensor or a Numba device array as input -> the GPU path, and the
  output is of the same kind, on the same device, with no copy through the host;
* numpy (or anything on the host) -> the CPU path, unless ``device="cuda"`` (then the input is
  copied to the GPU and the result copied back to numpy);
* ``device="cpu"`` always takes the CPU path (GPU inputs are copied to the host and the result
  handed back in the input's kind);
* ``device="cuda"`` without a usable GPU raises ``RuntimeError`` saying why.

Zero copy: CuPy arrays, torch tensors and Numba device arrays all speak
``__cuda_array_interface__``; :func:`as_device` wraps them as Numba device arrays (same
memory) and :func:`to_kind` wraps results back (``cupy.asarray`` / ``torch.as_tensor`` on the
interface; for DLPack-only producers use ``torch.from_dlpack`` / ``cupy.from_dlpack`` first).
Kernels are launched on the caller's current CuPy / torch stream (:func:`stream_of`).

Under ``NUMBA_ENABLE_CUDASIM=1`` (tests on machines without a GPU) Numba's simulator is the
device: CuPy and torch CUDA are absent, so inputs are numpy (with ``device="cuda"``) or
simulator device arrays from ``numba.cuda.to_device``.  Launch sizes come from the one table
``p2i_prior.kernels.cuda_common.LAUNCH`` (:func:`launch_config`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .checks import ArrayInfo, ValueStats, check_choice, to_numpy

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
    "shape_of",
    "numpy_dtype",
    "device_stats",
    "device_info",
    "launch_config",
    "free_device_bytes",
    "stack",
    "MAX_GRID_YZ",
    "batch_chunks",
    "LaunchCounter",
]

DEVICES = ("auto", "cpu", "cuda")

def launch_config(name: str) -> Any:
    """The launch parameter ``name`` of :data:`p2i_prior.kernels.cuda_common.LAUNCH` (the one
    launch table; tests shrink it through a fixture when the simulator stands in)."""
    from .kernels.cuda_common import LAUNCH

    return LAUNCH[name]


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
    """The Numba stream of the caller's current CuPy / torch stream (0: the default stream).

    Every launch of a call goes on this one stream, the caller's, so results are ready when the
    caller's next operation on that stream runs.  Numba device arrays and host arrays (numpy, a
    CPU torch tensor) have no current stream: the default stream.
    """
    kind = kind_of(ref)
    if simulator() or kind not in ("cupy", "torch"):
        return 0
    if kind == "torch" and not ref.is_cuda:  # a host tensor with device="cuda"
        return 0
    from numba import cuda

    if kind == "cupy":
        import cupy

        ptr = cupy.cuda.get_current_stream().ptr
    else:
        import torch

        ptr = torch.cuda.current_stream(ref.device).cuda_stream
    return cuda.external_stream(ptr) if ptr else 0


#: Largest grid y / z dimension of a CUDA launch: the batch axis of the per-image kernels.
#: Batches are split into chunks of at most this many images (:func:`batch_chunks`).
MAX_GRID_YZ = 65535


def batch_chunks(B: int) -> list[tuple[int, int]]:
    """``[(b0, b1), ...]`` covering ``range(B)`` in chunks of at most :data:`MAX_GRID_YZ`."""
    cap = int(MAX_GRID_YZ)
    return [(b0, min(B, b0 + cap)) for b0 in range(0, B, cap)] or [(0, 0)]


def numpy_dtype(x: Any) -> np.dtype:
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
        return cuda.to_device(to_numpy(x, name, dtype))
    if kind == "torch":
        if not x.is_cuda:
                return cuda.to_device(to_numpy(x, name, dtype))
        import torch

        x = x.detach()
        if dtype is not None and numpy_dtype(x) != np.dtype(dtype):
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


def shape_of(x: Any) -> tuple[int, ...]:
    """The shape of any array kind (or array-like) as a tuple of ints."""
    return tuple(int(s) for s in (x.shape if hasattr(x, "shape") else np.shape(x)))


# ----------------------------------------------------------------------------------------------
# Statistics for validation, memory
# ----------------------------------------------------------------------------------------------


def device_stats(dev: Any, stream: Any = 0) -> ValueStats:
    """:class:`p2i_prior.checks.ValueStats` of a device array, in one pass (4 numbers back).

    ``min``/``max`` are over the finite values (``inf``/``-inf`` when there are none).
    """
    from numba import cuda

    out = cuda.to_device(np.array([np.inf, -np.inf, 0.0, 0.0]), stream=stream)
    n = int(np.prod(dev.shape))
    if n:
        flat = dev.reshape(n)
        threads = launch_config("stats_threads")
        blocks = min(launch_config("stats_blocks"), (n + threads - 1) // threads)
        from .kernels.cuda_common import stats_kernel

        stats_kernel[blocks, threads, stream](flat, out)
    lo, hi, bad, odd = out.copy_to_host(stream=stream)
    return ValueStats(float(lo), float(hi), int(bad), int(odd))


def free_device_bytes() -> int:
    """Free memory of the current CUDA device (a large number under the simulator)."""
    from numba import cuda

    if simulator():
        return 1 << 40
    free, _total = cuda.current_context().get_memory_info()
    return int(free)


def stack(arrays: Sequence[Any], name: str) -> Any:
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
    return cuda.to_device(np.stack([to_numpy(a, name) for a in arrays]))


def device_info(dev: Any, name: str, stream: Any = 0) -> ArrayInfo:
    """:class:`p2i_prior.checks.ArrayInfo` of a Numba device array (statistics read on demand)."""
    view = dev.view(np.uint8) if np.dtype(dev.dtype) == np.bool_ else dev
    return ArrayInfo(name, shape_of(dev), np.dtype(dev.dtype), lambda: device_stats(view, stream))


class LaunchCounter:
    """Counts kernel launches ``(name, grid, stream)`` and host reads (``copy_to_host``) while
    active, on a GPU or under the simulator (it wraps the kernel dispatcher's ``__getitem__``
    and the device array's ``copy_to_host``); for tests and ``scripts/gpu_check.py``::

        with LaunchCounter() as counter:
            p2i_prior.pose_instance_maps(images, keypoints, device="cuda")
        len(counter.launches), counter.host_reads
    """

    def __enter__(self) -> "LaunchCounter":
        from numba import cuda

        from .kernels.cuda_common import fill_value_kernel

        self.launches: list[tuple[str, Any, Any]] = []
        self.host_reads = 0
        self._kernel_cls = type(fill_value_kernel)
        self._array_cls = type(cuda.device_array(1, np.uint8))
        self._getitem = self._kernel_cls.__getitem__
        self._copy = self._array_cls.copy_to_host
        counter = self

        def getitem(kernel, configuration):
            stream = configuration[2] if len(configuration) > 2 else 0
            name = getattr(getattr(kernel, "py_func", None), "__name__", None) or kernel.fn.__name__
            counter.launches.append((name, configuration[0], stream))
            return counter._getitem(kernel, configuration)

        def copy_to_host(array, *args, **kwargs):
            counter.host_reads += 1
            return counter._copy(array, *args, **kwargs)

        self._kernel_cls.__getitem__ = getitem
        self._array_cls.copy_to_host = copy_to_host
        return self

    def __exit__(self, *exc: Any) -> bool:
        self._kernel_cls.__getitem__ = self._getitem
        self._array_cls.copy_to_host = self._copy
        return False
