"""Edge strength: grey conversion and the Sobel gradient magnitude, on the CPU or the GPU.

Public: :func:`sobel`, :func:`sobel_batch`, :func:`rgb2gray`.  Each validates once, then runs
an unchecked driver: :func:`sobel_cpu` (``kernels/sobel.py``) or :func:`sobel_device`
(``kernels/cuda_sobel.py``), which the pipeline calls directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _device as dv
from .checks import host_info, image_scale, like, shape_str, to_numpy

__all__ = ["sobel", "sobel_batch", "rgb2gray"]


def _check_shape(shape: tuple, name: str, batched: bool) -> None:
    lead = 1 if batched else 0
    if batched:
        if len(shape) not in (3, 4) or (len(shape) == 4 and shape[3] != 3):
            raise ValueError(f"{name}: expected (B, H, W) or (B, H, W, 3) images, got shape {shape_str(shape)}")
        if 0 in shape:
            raise ValueError(f"{name}: expected non-empty images, got shape {shape_str(shape)}")
        return
    if len(shape) not in (2, 3):
        raise ValueError(f"{name}: expected (H, W) or (H, W, 3) image, got shape {shape_str(shape)}")
    if len(shape) == 3 and shape[2] != 3:
        raise ValueError(
            f"{name}: expected (H, W) or (H, W, 3) image, got shape {shape_str(shape)} ({shape[2]} channels)"
        )
    if shape[lead] == 0 or shape[lead + 1] == 0:
        raise ValueError(f"{name}: expected a non-empty image, got shape {shape_str(shape)}")


def check_image(image: Any, name: str = "image") -> tuple[np.ndarray, float]:
    """A host image checked for Sobel: ``(array, scale to [0, 1])`` (float16 upcast exactly)."""
    arr = to_numpy(image, name)
    _check_shape(arr.shape, name, False)
    scale = image_scale(host_info(arr, name))
    if arr.dtype == np.float16:  # the numba kernels have no half-precision type; exact upcast
        arr = arr.astype(np.float32)
    return arr, scale


def sobel_cpu(arr: np.ndarray, scale: float) -> np.ndarray:
    """Unchecked CPU driver: (H, W[, 3]) checked image -> (H, W) float32 magnitude."""
    from .kernels.sobel import rgb_to_grey, sobel_grey

    grey = rgb_to_grey(arr, scale) if arr.ndim == 3 else arr.astype(np.float64) * scale
    return sobel_grey(grey)


def sobel_device(img: Any, stream: Any = 0, block: tuple[int, int] | None = None, *,
                 name: str = "image") -> Any:
    """GPU driver: (B, H, W[, 3]) device images -> (B, H, W) float32 device magnitude.

    Reads the value statistics it needs for the scale (signed or float images only).
    """
    from numba import cuda

    from .kernels import cuda_sobel as ks

    block = dv.launch_config("block") if block is None else block
    scale = image_scale(dv.device_info(img, name, stream))
    if np.dtype(img.dtype) == np.bool_:
        img = img.view(np.uint8)
    B, H, W = dv.shape_of(img)[:3]
    out = cuda.device_array((B, H, W), np.float32, stream=stream)
    grey = None if img.ndim == 4 else cuda.device_array((B, H, W), np.float64, stream=stream)
    for b0, b1 in dv.batch_chunks(B):  # the batch is the grid's z axis
        if img.ndim == 4:
            ks.launch_sobel_rgb(img[b0:b1], scale, out[b0:b1], block, stream)
        else:
            ks.launch_sobel_grey(img[b0:b1], scale, grey[b0:b1], out[b0:b1], block, stream)
    return out


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
    arr, scale = check_image(image)
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
    if dv.use_gpu(device, image):
        shp = dv.shape_of(image)
        _check_shape(shp, "image", False)
        dev = dv.as_device(image, "image")
        out = sobel_device(dev.reshape((1,) + dv.shape_of(dev)), dv.stream_of(image))
        return dv.to_kind(out.reshape(shp[:2]), image)
    arr, scale = check_image(image)
    return like(sobel_cpu(arr, scale), image)


def sobel_batch(images: Any, *, device: str = "auto") -> Any:
    """Sobel magnitude of B images of one size (on the GPU: one launch for the batch).

    Parameters
    ----------
    images : (B, H, W, 3) or (B, H, W) array (dtypes as :func:`sobel`)
    device : {"auto", "cpu", "cuda"}
        As :func:`sobel`.

    Returns
    -------
    (B, H, W) float32 array of the input's kind.

    Examples
    --------
    >>> sobel_batch(np.zeros((2, 4, 5, 3), np.uint8)).shape
    (2, 4, 5)
    """
    shp = dv.shape_of(images)
    _check_shape(shp, "images", True)
    if dv.use_gpu(device, images):
        out = sobel_device(dv.as_device(images, "images"), dv.stream_of(images), name="images")
        return dv.to_kind(out, images)
    arr = to_numpy(images, "images")
    scale = image_scale(host_info(arr, "images"))
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    return like(np.stack([sobel_cpu(a, scale) for a in arr]), images)
