"""Edge strength: grey conversion and the Sobel gradient magnitude."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._util import check_finite, check_ndim, like, shape_str, to_numpy

__all__ = ["sobel", "rgb2gray"]


def _image_as_float_scale(arr: np.ndarray, name: str) -> float:
    """The factor that brings ``arr`` to [0, 1] floats the way ``skimage.img_as_float`` does."""
    kind = arr.dtype.kind
    if kind == "b":
        return 1.0
    if kind == "u" or kind == "i":
        if arr.dtype.itemsize > 2:
            raise TypeError(
                f"{name}: expected a uint8, uint16, int8, int16, bool or float image, got dtype {arr.dtype}"
            )
        info = np.iinfo(arr.dtype)
        if kind == "i" and arr.size and arr.min() < 0:
            raise ValueError(f"{name}: expected non-negative intensities, got minimum {int(arr.min())}")
        return 1.0 / float(info.max)
    if kind == "f":
        check_finite(arr, name)
        return 1.0
    raise TypeError(f"{name}: expected a real-valued image, got dtype {arr.dtype}")


def _check_image(image: Any, name: str = "image") -> tuple[np.ndarray, float]:
    arr = to_numpy(image, name)
    check_ndim(arr, name, (2, 3), "(H, W) or (H, W, 3) image")
    if arr.ndim == 3 and arr.shape[2] != 3:
        raise ValueError(
            f"{name}: expected (H, W) or (H, W, 3) image, got shape {shape_str(arr.shape)} "
            f"({arr.shape[2]} channels)"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: expected a non-empty image, got shape {shape_str(arr.shape)}")
    scale = _image_as_float_scale(arr, name)
    if arr.dtype == np.float16:  # the numba kernels have no half-precision type; exact upcast
        arr = arr.astype(np.float32)
    return arr, scale


def rgb2gray(image: Any) -> Any:
    """Grey version of an image, with ``skimage.color.rgb2gray``'s weights.

    Parameters
    ----------
    image : (H, W, 3) or (H, W) array
        uint8/uint16/int8/int16/bool images are scaled to [0, 1] as ``skimage.img_as_float``
        does; float images are used as they are.

    Returns
    -------
    (H, W) float64 array, of the input's kind (numpy, CuPy, torch).

    Examples
    --------
    >>> rgb2gray(np.full((2, 2, 3), 255, np.uint8))[0, 0]
    1.0
    """
    arr, scale = _check_image(image)
    if arr.ndim == 2:
        return like(arr.astype(np.float64) * scale, image)
    from .kernels.sobel import rgb_to_grey

    return like(rgb_to_grey(arr, scale), image)


def sobel(image: Any, *, device: str = "auto") -> Any:
    """Sobel gradient magnitude.

    Equal to ``skimage.filters.sobel(skimage.color.rgb2gray(image))`` for RGB images and to
    ``skimage.filters.sobel(skimage.img_as_float(image))`` for 2-D ones (``mode="reflect"``
    borders, magnitude ``sqrt((gx**2 + gy**2) / 2)``), to float32 rounding.

    Parameters
    ----------
    image : (H, W, 3) or (H, W) array
        RGB or grey image: uint8/uint16/int8/int16/bool (scaled to [0, 1]) or float.
        numpy, CuPy or torch.
    device : {"auto", "cpu", "cuda"}
        ``"auto"``: the GPU for CuPy arrays and CUDA torch tensors (output on the same device,
        no copy), the CPU otherwise; ``"cuda"`` raises ``RuntimeError`` without a GPU.

    Returns
    -------
    (H, W) float32 array of the input's kind.

    Examples
    --------
    >>> img = np.zeros((4, 4), np.uint8); img[:, 2:] = 255
    >>> sobel(img).round(3)[0]
    array([0.   , 0.707, 0.707, 0.   ], dtype=float32)
    """
    from . import _gpu

    if _gpu.use_gpu(device, image):
        return _gpu.sobel(image)
    arr, scale = _check_image(image)
    from .kernels.sobel import rgb_to_grey, sobel_grey

    grey = rgb_to_grey(arr, scale) if arr.ndim == 3 else arr.astype(np.float64) * scale
    return like(sobel_grey(grey), image)
