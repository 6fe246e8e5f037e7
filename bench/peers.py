"""Optional peers: the fastest tools a user might pick instead of pose2instance's primitives.

Each peer is an optional install (the ``bench`` extra; CI's ``test`` extra has none of them).
:func:`missing` says why a peer cannot run here (``None`` when it can); the cases then record
a skip note with the install line, and ``p2i bench`` prints it.

| peer | what it is | pose2instance's counterpart |
| --- | --- | --- |
| ``fast_slic`` | fast-slic's AVX2 SLIC (``SlicAvx2``): Lab conversion, subsampled assignment (stride 3), Manhattan spatial distance | ``p2i_prior.slic`` |
| ``cv2.ximgproc`` | OpenCV contrib SLIC (``createSuperpixelSLIC``) | ``p2i_prior.slic`` |
| ``cv2`` | OpenCV ``Sobel`` (float32, the same grey weights) and ``distanceTransform`` (exact) | ``p2i_prior.sobel``, ``euclidean_distance`` |
| ``edt`` | the ``edt`` package (exact Euclidean transform, Meijster/Felzenszwalb) | ``euclidean_distance`` |
| ``skfmm`` | scikit-fmm (fast marching) | ``sweep_distance``, ``geodesic_distance`` |
| ``FastGeodis`` | raster-scan generalised geodesic distance (torch extension) | ``geodesic_distance``; a different, approximate problem |

Peers that take a thread count get the run's (``numba.get_num_threads()`` in the calling thread:
the suite's ``--threads``, 1 by default).
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["INSTALL", "FASTGEODIS_CAVEAT", "missing", "run_threads", "fast_slic", "opencv_sobel",
           "edt_distance", "fastgeodis_raster", "GREY_WEIGHTS"]

#: How to install each peer (printed with its skip note).
INSTALL = {
    "fast_slic": "pip install cython && pip install --no-build-isolation fast-slic",
    "cv2.ximgproc": ("pip uninstall opencv-python-headless && pip install opencv-contrib-python-headless "
                     "(contrib and plain OpenCV both provide cv2: keep one)"),
    "cv2": "pip install opencv-contrib-python-headless",
    "edt": "pip install edt",
    "skfmm": "pip install scikit-fmm",
    "FastGeodis": 'pip install "setuptools<81" && pip install --no-build-isolation FastGeodis '
                  "(compiles a torch extension)",
}

#: The note the geodesic comparison with FastGeodis carries.
FASTGEODIS_CAVEAT = (
    "not like-for-like: FastGeodis.generalised_geodesic2d solves a different, approximate problem "
    "(raster-scan passes over a 3x3 neighbourhood, 2 iterations, cost sqrt(step^2 + lambda^2 |grad I|^2) "
    "of the grey image, lambda = 1, v = 1e10) than geodesic_distance (first-order fast marching of "
    "the travel time with the pipeline's Sobel speed, the exact discrete solution scikit-fmm gives)"
)

#: skimage.color.rgb2gray's weights (p2i_prior.rgb2gray), for the OpenCV Sobel.
GREY_WEIGHTS = (0.2125, 0.7154, 0.0721)


@lru_cache(maxsize=None)
def missing(name: str) -> str | None:
    """Why peer ``name`` (a key of :data:`INSTALL`) cannot run here, or None when it can.

    Examples
    --------
    >>> missing("numpy-is-not-a-peer")
    Traceback (most recent call last):
    ...
    ValueError: peer: expected one of fast_slic, cv2.ximgproc, cv2, edt, skfmm, FastGeodis, got 'numpy-is-not-a-peer'
    """
    if name not in INSTALL:
        raise ValueError(f"peer: expected one of {', '.join(INSTALL)}, got {name!r}")
    module = {"cv2.ximgproc": "cv2", "fast_slic": "fast_slic.avx2"}.get(name, name)
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # ImportError, or a compiled extension that fails to load
        return f"{name} is not installed ({type(exc).__name__}: {exc}); install: {INSTALL[name]}"
    if name == "cv2.ximgproc" and not hasattr(getattr(mod, "ximgproc", None), "createSuperpixelSLIC"):
        return f"cv2 has no ximgproc (plain OpenCV, not contrib); install: {INSTALL[name]}"
    return None


def run_threads() -> int:
    """The run's thread count: numba's in the calling thread."""
    import numba

    return int(numba.get_num_threads())


def fast_slic(image: np.ndarray, n_segments: int, compactness: float) -> np.ndarray:
    """(H, W) labels of fast-slic's AVX2 SLIC (``SlicAvx2``, its default 10 iterations, Lab
    conversion inside, the run's thread count); the object is built inside the call."""
    from fast_slic.avx2 import SlicAvx2

    s = SlicAvx2(num_components=int(n_segments), compactness=float(compactness), num_threads=run_threads())
    return s.iterate(np.ascontiguousarray(image))


def opencv_sobel(image: np.ndarray) -> np.ndarray:
    """(H, W) float32 Sobel magnitude by OpenCV, equal to ``skimage.filters.sobel(rgb2gray(image))``.

    Grey with rgb2gray's weights (``cv2.transform`` on float32), ``cv2.Sobel`` 3x3 in x and y
    with scale 1/4 and reflected borders (scikit-image's kernel and ``mode="reflect"``), then
    ``cv2.magnitude / sqrt(2)``; every step, the float conversion included, inside the call.
    """
    import cv2

    m = (np.asarray(GREY_WEIGHTS, np.float32) / 255.0)[None]
    grey = cv2.transform(image.astype(np.float32), m)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3, scale=0.25, borderType=cv2.BORDER_REFLECT)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3, scale=0.25, borderType=cv2.BORDER_REFLECT)
    return cv2.magnitude(gx, gy) * np.float32(1.0 / np.sqrt(2.0))


def edt_distance(seeds: np.ndarray) -> list[np.ndarray]:
    """The ``edt`` package's exact Euclidean distance to each (H, W) seed mask (float32), looped
    over instances, with the run's thread count; the "not a seed" image made inside the call."""
    import edt

    threads = run_threads()
    return [edt.edt(~s, black_border=False, parallel=threads) for s in seeds]


def fastgeodis_inputs(image: np.ndarray, seeds: np.ndarray) -> tuple[Any, list[Any]]:
    """FastGeodis' inputs, made outside the timed region: the (1, 1, H, W) float32 grey image and
    one (1, 1, H, W) soft mask per instance (0 on the seeds, 1 elsewhere)."""
    import torch

    torch.set_num_threads(run_threads())
    grey = (image.astype(np.float32) @ np.asarray(GREY_WEIGHTS, np.float32)) / 255.0
    img = torch.from_numpy(np.ascontiguousarray(grey))[None, None]
    masks = [torch.from_numpy(np.where(s, 0.0, 1.0).astype(np.float32))[None, None] for s in seeds]
    return img, masks


def fastgeodis_raster(img: Any, masks: list[Any], iterations: int = 2) -> list[np.ndarray]:
    """``FastGeodis.generalised_geodesic2d(img, mask, v=1e10, lamb=1.0, iter=2)`` per instance
    (the (H, W) distances as numpy arrays).  See :data:`FASTGEODIS_CAVEAT`."""
    import FastGeodis

    return [FastGeodis.generalised_geodesic2d(img, m, 1e10, 1.0, iterations)[0, 0].numpy() for m in masks]
