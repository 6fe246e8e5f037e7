"""SLIC superpixels (Achanta et al. 2012) and the standard superpixel quality measures.

:func:`slic` has two algorithms (``algorithm=``):

``"fast"`` (the default; :mod:`p2i_prior.kernels.slic_fast`)
    fast-slic's scheme (Kim, github.com/Algy/fast-slic) written anew: a grid of about
    ``n_segments`` seeds, L1 distance ``|dL| + |da| + |db| + (compactness / S)(|dy| + |dx|)``,
    each pixel compared with the 2 x 2 seeds around it, each iteration on one row in three,
    a final assignment of all rows, then connected superpixels: the ``n_seeds`` largest
    fragments of at least ``min_size_factor`` (default 0.1) of a cell stay, every other one
    joins the neighbouring region of the nearer colour.  About ``n_segments`` superpixels
    (within 5% on photos), every one 4-connected.
``"skimage"`` (:mod:`p2i_prior.kernels.slic`)
    ``skimage.segmentation.slic(image, n_segments, compactness, max_num_iter, start_label=0,
    enforce_connectivity=...)`` step by step, with three deliberate differences:

    * each pixel compares itself with the 3 x 3 clusters around its seed cell (gSLICr's
      scheme, which covers the paper's ``2S x 2S`` window) instead of scikit-image's
      ``4S x 4S`` scan;
    * fragments are merged so that every label is one 4-connected region, always
      (scikit-image can leave a small region at pixel (0, 0) sharing a label with a far one);
    * labels are always ``0 .. K-1`` with every value used, also without connectivity
      enforcement.

The GPU kernels (:mod:`p2i_prior.kernels.cuda_slic`) implement both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _device as dv
from .checks import (
    _short,
    check_image_values,
    check_ndim,
    check_positive_float,
    check_choice,
    check_positive_int,
    host_info,
    like,
    shape_str,
    to_numpy,
)

__all__ = ["slic", "slic_batch", "boundary_recall", "undersegmentation_error"]


def _seed_grid(H: int, W: int, n_segments: int) -> tuple[int, int, int, int, int, int]:
    """Seed grid of ``skimage.util.regular_grid((1, H, W), n_segments)``.

    Returns ``(start_y, step_y, ny, start_x, step_x, nx)``: seeds at
    ``(start_y + i * step_y, start_x + j * step_x)`` for ``i < ny``, ``j < nx``.
    """
    space = float(H * W)
    if space <= n_segments:
        steps_f = (1.0, 1.0)
        starts = (0, 0)
        steps = (1, 1)
    else:
        s = (space / n_segments) ** (1.0 / 2)
        if min(H, W) >= s:
            steps_f = (s, s)
        elif H < W:
            steps_f = (float(H), (float(W) / n_segments) ** (1.0 / 1))
        else:
            steps_f = ((float(H) / n_segments) ** (1.0 / 1), float(W))
        starts = tuple(int(f // 2) for f in steps_f)
        steps = tuple(int(np.round(f)) for f in steps_f)
    ny = len(range(starts[0], H, steps[0]))
    nx = len(range(starts[1], W, steps[1]))
    return starts[0], steps[0], ny, starts[1], steps[1], nx


def _nearest_cell(n_pixels: int, start: int, step: int, n_cells: int) -> np.ndarray:
    """(n_pixels,) int32: index of the nearest seed along one axis, the lower one on ties.

    ``ceil(((p - start) - step / 2) / step)``, clipped: monotone in ``p``.
    """
    num = 2 * (np.arange(n_pixels) - start) - step
    idx = -((-num) // (2 * step))  # ceiling division
    return np.clip(idx, 0, n_cells - 1).astype(np.int32)


def _seed_layout(H: int, W: int, n_segments: int, compactness: float):
    """The seed grid both drivers start from: per pixel row / column its nearest cell
    (``row_cell``, ``col_cell``), per cell row the pixel rows it owns (``row_lo..row_hi``), per
    cell column the pixel columns of its 3-cell window (``xlo..xhi``), the (K, 5) float32
    starting centres ``(y, x, L, a, b)`` and the float32 spatial weight ``m = (compactness / S)^2``."""
    start_y, step_y, ny, start_x, step_x, nx = _seed_grid(H, W, n_segments)
    row_cell = _nearest_cell(H, start_y, step_y, ny)  # cell row of each pixel row
    col_cell = _nearest_cell(W, start_x, step_x, nx)
    cells = np.arange(ny, dtype=np.int32)
    row_lo = np.searchsorted(row_cell, cells, "left").astype(np.int32)
    row_hi = np.searchsorted(row_cell, cells, "right").astype(np.int32)
    cols = np.arange(nx, dtype=np.int32)
    xlo = np.searchsorted(col_cell, cols - 1, "left").astype(np.int32)
    xhi = np.searchsorted(col_cell, cols + 1, "right").astype(np.int32)
    K = ny * nx
    centres = np.zeros((K, 5), np.float32)
    centres[:, 0] = np.repeat(start_y + step_y * np.arange(ny), nx)
    centres[:, 1] = np.tile(start_x + step_x * np.arange(nx), ny)
    S = float(max(step_y, step_x))  # scikit-image's ``step``
    m = np.float32((compactness / S) ** 2)
    return row_cell, col_cell, row_lo, row_hi, xlo, xhi, centres, m


def _check_shape(shape: tuple, name: str, batched: bool) -> None:
    lead = 1 if batched else 0
    layout = "(B, H, W) or (B, H, W, 3)" if batched else "(H, W) or (H, W, 3)"
    if len(shape) not in (2 + lead, 3 + lead):
        raise ValueError(f"{name}: expected {layout}, got shape {shape_str(shape)}")
    if len(shape) == 3 + lead and shape[-1] != 3:
        colour = "(B, H, W, 3)" if batched else "(H, W, 3)"
        raise ValueError(f"{name}: expected 3 colour channels, {colour}, got shape {shape_str(shape)}")


def check_slic_image(image: Any, name: str = "image", batched: bool = False) -> np.ndarray:
    """A host image (or batch) checked for SLIC (shape, dtype, finite floats in [0, 1])."""
    arr = to_numpy(image, name)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name}: expected a real-valued (uint8 or float) array, got dtype {arr.dtype}")
    _check_shape(arr.shape, name, batched)
    if arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty image, got shape {shape_str(arr.shape)}")
    check_image_values(host_info(arr, name))
    return arr


def check_device_images(images: Any, name: str, batched: bool, stream: Any = None) -> Any:
    """(B, H, W, C) device images, validated as :func:`_check_image` validates host images."""
    shp = dv.shape_of(images)
    _check_shape(shp, name, batched)
    dev = dv.as_device(images, name)
    dt = np.dtype(dev.dtype)
    if dt.kind == "c" or dt.kind not in "biuf":
        raise TypeError(f"{name}: expected a real-valued (uint8 or float) array, got dtype {dt}")
    if 0 in shp:
        raise ValueError(f"{name}: expected a non-empty image, got shape {shape_str(shp)}")
    if dt == np.bool_:
        dev = dev.view(np.uint8)
    stream = dv.stream_of(images) if stream is None else stream
    check_image_values(dv.device_info(dev, name, stream))
    lead = 1 if batched else 0
    grey = len(shp) == 2 + lead
    B = shp[0] if batched else 1
    H, W = shp[lead : lead + 2]
    return dev.reshape((B, H, W, 1 if grey else 3))


def _lab_planes(arr: np.ndarray) -> np.ndarray:
    """(3, H, W) float32 planes of the image rescaled to [0, 1] by its min and max.

    Colour images are converted to CIELAB; a greyscale image is used as it is (plane 0, the
    other planes zero), like scikit-image's ``channel_axis=None``.
    """
    from .kernels.slic import lab_planes_float, lab_planes_u8, srgb_lut

    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8)
    lo, hi = float(arr.min()), float(arr.max())
    scale = 1.0 / (hi - lo) if hi > lo else 1.0
    if arr.ndim == 2:
        planes = np.zeros((3,) + arr.shape, np.float32)
        planes[0] = (arr.astype(np.float64) - lo) * scale
        return planes
    if arr.dtype == np.uint8:
        return lab_planes_u8(arr, srgb_lut(lo, scale))
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return lab_planes_float(arr, lo, scale)


#: The SLIC algorithms (see the module docstring); the first is the default.
ALGORITHMS = ("fast", "skimage")
#: Each algorithm's default ``min_size_factor``.
MIN_SIZE_FACTOR = {"fast": 0.1, "skimage": 0.5}


def min_size_factor_of(algorithm: str, min_size_factor: float | None) -> float:
    """``min_size_factor``, or the algorithm's default when it is ``None``."""
    return MIN_SIZE_FACTOR[algorithm] if min_size_factor is None else min_size_factor


#: Largest ``compactness``: ``(compactness / S)^2 * (3 S)^2 = 9e36`` still fits float32.
MAX_COMPACTNESS = 1e18


def slic_params(H: int, W: int, n_segments, compactness, max_num_iter, enforce_connectivity,
                 min_size_factor, max_size_factor, algorithm: str = "fast"):
    """Validate SLIC's parameters for an H x W image (shared by the CPU and GPU paths).

    ``min_size_factor=None`` becomes ``algorithm``'s default (:data:`MIN_SIZE_FACTOR`).
    """
    check_choice(algorithm, "algorithm", ALGORITHMS)
    n_segments = check_positive_int(n_segments, "n_segments", minimum=1, maximum=H * W)
    compactness = check_positive_float(compactness, "compactness")
    if compactness > MAX_COMPACTNESS:
        # the spatial weight (compactness / S)^2 and its products with squared pixel
        # distances (up to (3 S)^2) are float32 in the kernels: 1e300 overflowed Python's pow
        raise ValueError(
            f"compactness: expected a number <= {MAX_COMPACTNESS:g} (the spatial term is float32), "
            f"got {compactness:g}"
        )
    max_num_iter = check_positive_int(max_num_iter, "max_num_iter", minimum=0)
    if not isinstance(enforce_connectivity, (bool, np.bool_)):
        raise TypeError(
            f"enforce_connectivity: expected a bool, got "
            f"{type(enforce_connectivity).__name__} {_short(enforce_connectivity)}"
        )
    if min_size_factor is None:
        min_size_factor = MIN_SIZE_FACTOR[algorithm]
    min_size_factor = check_positive_float(min_size_factor, "min_size_factor", allow_zero=True)
    max_size_factor = check_positive_float(max_size_factor, "max_size_factor")
    if max_size_factor <= min_size_factor:
        raise ValueError(
            f"max_size_factor: expected a number > min_size_factor ({min_size_factor:g}), "
            f"got {max_size_factor:g}"
        )
    return n_segments, compactness, max_num_iter, bool(enforce_connectivity), min_size_factor


def slic(
    image: Any,
    n_segments: int = 1000,
    compactness: float = 10.0,
    max_num_iter: int = 10,
    enforce_connectivity: bool = True,
    *,
    min_size_factor: float | None = None,
    max_size_factor: float = 3.0,
    algorithm: str = "fast",
    device: str = "auto",
) -> Any:
    """SLIC superpixels in CIELAB space (k-means in (L, a, b, y, x)).

    Parameters
    ----------
    image : (H, W, 3) or (H, W) array
        RGB or greyscale image: uint8 (or any integer type), or float with values in [0, 1].
        numpy, CuPy or torch.  As in scikit-image, the image is first rescaled to [0, 1] by
        its own minimum and maximum (over all channels); an RGB image is then converted to
        CIELAB (D65, 2 degree observer), a greyscale image is used as it is, so it needs a
        compactness about 100 times smaller than Lab (e.g. 0.1) for the same balance.
    n_segments : int
        Approximate number of superpixels, ``1 <= n_segments <= H * W``.
        ``"fast"``: a grid of ``ny x nx`` cells with ``ny * nx`` as close to ``n_segments``
        as the image allows, cells as square as possible (``kernels.slic_fast.grid_shape``),
        seeds at the cell centres.  ``"skimage"``: scikit-image's ``regular_grid``, step
        ``S = sqrt(H * W / n_segments)`` (rounded) along both axes, or the whole short side
        when it is shorter than ``S``.
    compactness : float
        Weight of space against colour, > 0 and <= 1e18.  ``"fast"``: the distance is
        ``|dL| + |da| + |db| + (compactness / S) * (|dy| + |dx|)``, ``S`` the mean cell side.
        ``"skimage"``: ``sqrt(dlab^2 + (compactness / S)^2 * dxy^2)``.
    max_num_iter : int
        >= 0.  ``"fast"``: at most this many k-means iterations, each on one pixel row in
        three (rows ``y % 3 == it % 3``: assignment over the 2 x 2 seeds around each pixel,
        then the centres move to the mean of those rows' pixels); they stop early after one
        that changed the cluster of fewer than 15% of its pixels.  Then one assignment of
        every row over the 3 x 3 clusters around each pixel's nearest seed (with 0
        iterations, of the seeds, which start with the colour of their pixel).
        ``"skimage"``: assignment steps (0 and 1 both give the
        grid cells: the centres start without colour, so the first assignment is spatial, as
        in scikit-image); they stop early once no pixel changes its cluster.
    enforce_connectivity : bool
        Make each label one 4-connected region; without it, labels are the k-means clusters
        (possibly disconnected).  ``"fast"``: the 4-connected fragments of the clusters; the
        ``n_seeds`` largest of at least ``int(min_size_factor * H * W / n_seeds)`` pixels stay
        superpixels, every other one (in raster order of its first pixel) joins the region of
        the pixel left of or above its first pixel, the one of nearer mean colour
        (``kernels.slic_fast.merge_runs``).  ``"skimage"``: a flood fill gives each fragment of
        fewer than ``int(min_size_factor * H * W / n_seeds)`` pixels the label of a region it
        touches.
    min_size_factor : float, optional
        Minimum fragment size as a fraction of the mean seed-cell area, >= 0; default 0.1
        (``"fast"``) or 0.5 (``"skimage"``).
    max_size_factor : float
        ``"skimage"`` only: largest flood fill as a fraction of the mean seed-cell area,
        > ``min_size_factor``; a larger region is cut into pieces of that size (as
        scikit-image does).  Validated but unused by ``"fast"``.
    algorithm : {"fast", "skimage"}
        See the module docstring.  ``"fast"`` is about 2-3x faster than ``"skimage"`` and
        gives more superpixels per ``n_segments`` with a higher boundary recall.
    device : {"auto", "cpu", "cuda"}
        ``"auto"``: the GPU kernels (the same algorithm, the same labels up to float32
        distance ties) for a CuPy array or CUDA torch tensor, the CPU otherwise; ``"cuda"``
        raises ``RuntimeError`` without a GPU.

    Returns
    -------
    labels : (H, W) int32 array
        Labels ``0 .. K-1``, every value used; the caller's array kind and device.

    Raises
    ------
    TypeError
        Non-numeric or complex image, non-integer ``n_segments`` / ``max_num_iter``,
        non-bool ``enforce_connectivity``.
    ValueError
        Wrong shape, empty image, NaN/inf, float values outside [0, 1], an unknown
        ``algorithm``, or a parameter out of range (the message names it).

    Examples
    --------
    >>> img = np.zeros((60, 80, 3), np.uint8); img[:, 40:] = 200
    >>> labels = slic(img, n_segments=12)
    >>> labels.shape, labels.dtype, int(labels.max()) + 1
    ((60, 80), dtype('int32'), 12)
    >>> np.intersect1d(labels[:, :40], labels[:, 40:]).size  # no superpixel crosses the edge
    0
    >>> int(slic(img, n_segments=12, algorithm="skimage").max()) + 1
    12
    """
    check_choice(algorithm, "algorithm", ALGORITHMS)
    if dv.use_gpu(device, image):
        out, _ = _slic_gpu(image, "image", False, n_segments, compactness, max_num_iter,
                           enforce_connectivity, min_size_factor, max_size_factor,
                           algorithm=algorithm)
        return dv.to_kind(out.reshape(dv.shape_of(out)[1:]), image)
    arr = check_slic_image(image)
    H, W = arr.shape[:2]
    params = slic_params(H, W, n_segments, compactness, max_num_iter, enforce_connectivity,
                         min_size_factor, max_size_factor, algorithm)
    return like(slic_cpu(arr, *params, max_size_factor, algorithm=algorithm), image)


def slic_cpu(arr: np.ndarray, n_segments: int, compactness: float, max_num_iter: int,
             enforce_connectivity: bool, min_size_factor: float | None, max_size_factor: float,
             algorithm: str = "fast") -> np.ndarray:
    """Unchecked CPU driver: a checked (H, W[, 3]) image and :func:`slic_params` -> (H, W) int32."""
    min_size_factor = min_size_factor_of(algorithm, min_size_factor)
    if algorithm == "fast":
        return _slic_cpu_fast(arr, n_segments, compactness, max_num_iter, enforce_connectivity,
                              min_size_factor)
    return _slic_cpu_skimage(arr, n_segments, compactness, max_num_iter, enforce_connectivity,
                             min_size_factor, max_size_factor)


def _fast_planes(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (3, H, W + PAD) float32 Lab planes of :mod:`~p2i_prior.kernels.slic_fast` (values
    multiples of ``1 / QUANTUM``) and their (3, H, W + 1) float64 row prefix sums."""
    from .kernels import slic_fast as kf
    from .kernels.slic import srgb_lut

    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8)
    elif arr.dtype.kind == "f" and arr.dtype not in (np.float32, np.float64):
        # numba has neither float16 (to float32: exact) nor longdouble (to float64)
        arr = arr.astype(np.float32 if arr.dtype.itemsize < 4 else np.float64)
    lo, hi = float(arr.min()), float(arr.max())
    scale = 1.0 / (hi - lo) if hi > lo else 1.0
    if arr.ndim == 2:
        return kf.grey_planes(arr, lo, scale)
    if arr.dtype == np.uint8:
        return kf.lab_planes_u8(arr, srgb_lut(lo, scale).astype(np.float32))
    return kf.lab_planes_rgb(arr, lo, scale)


def _slic_cpu_fast(arr: np.ndarray, n_segments: int, compactness: float, max_num_iter: int,
                   enforce_connectivity: bool, min_size_factor: float) -> np.ndarray:
    from .kernels import slic_fast as kf
    from .kernels.slic import relabel_sequential

    H, W = arr.shape[:2]
    planes, cum = _fast_planes(arr)
    labels, K = kf.cluster_labels(planes, cum, W, n_segments, compactness, max_num_iter)
    if not enforce_connectivity:
        return relabel_sequential(labels, K)[0]
    min_size = int(min_size_factor * (H * W / K))
    return kf.merge_runs(H, W, *kf.connected_runs(labels), cum, min_size, K)[0]


def _slic_cpu_skimage(arr: np.ndarray, n_segments: int, compactness: float, max_num_iter: int,
                      enforce_connectivity: bool, min_size_factor: float,
                      max_size_factor: float) -> np.ndarray:
    from .kernels.slic import assign, cluster_sums, relabel_sequential, update
    from .kernels.slic import enforce_connectivity as _enforce

    H, W = arr.shape[:2]
    planes = _lab_planes(arr)

    row_cell, col_cell, row_lo, row_hi, xlo, xhi, centres, m = _seed_layout(H, W, n_segments, compactness)
    ny, nx = row_lo.size, xlo.size
    K = centres.shape[0]
    alive = np.ones(K, np.bool_)

    # First assignment: the nearest seed, the first one (lowest k) on ties.  With distances
    # that split into rows and columns, that is the lower nearest seed row and column.
    labels = row_cell[:, None] * np.int32(nx) + col_cell[None, :]
    previous = np.empty((H, W), np.int32)
    sums = np.empty((ny, 3, nx, 6), np.float64)
    n_assign = max(max_num_iter, 1)
    if n_assign > 1:
        cluster_sums(planes, labels, row_lo, row_hi, nx, sums)
    for it in range(1, n_assign):
        update(sums, nx, centres, alive)
        labels, previous = previous, labels
        changed = assign(planes, centres, alive, row_lo, row_hi, xlo, xhi, nx, m, labels,
                         previous, sums, it < n_assign - 1)
        if changed == 0:
            break

    if enforce_connectivity:
        cell_area = H * W / K
        min_size = int(min_size_factor * cell_area)
        max_size = max(int(max_size_factor * cell_area), 1)
        out, _ = _enforce(labels, min_size, max_size)
    else:
        out, _ = relabel_sequential(labels, K)
    return out


def slic_batch(images: Any, n_segments: int = 1000, compactness: float = 10.0,
               max_num_iter: int = 10, enforce_connectivity: bool = True, *,
               min_size_factor: float | None = None, max_size_factor: float = 3.0,
               algorithm: str = "fast", device: str = "auto") -> tuple[Any, np.ndarray]:
    """SLIC of B images of one size (on the GPU every stage is one launch for the batch).

    Parameters
    ----------
    images : (B, H, W, 3) or (B, H, W) array
        As :func:`slic`'s image, each rescaled by its own minimum and maximum.
    n_segments, compactness, max_num_iter, enforce_connectivity, min_size_factor, max_size_factor
        As :func:`slic`.
    algorithm : {"fast", "skimage"}
        As :func:`slic`.
    device : {"auto", "cpu", "cuda"}
        As :func:`slic`.

    Returns
    -------
    labels : (B, H, W) int32 array of the input's kind
    counts : (B,) int64 numpy array, the number of superpixels of each image

    Examples
    --------
    >>> labels, counts = slic_batch(np.zeros((2, 60, 80, 3), np.uint8), n_segments=12)
    >>> labels.shape, counts.tolist()
    ((2, 60, 80), [12, 12])
    """
    check_choice(algorithm, "algorithm", ALGORITHMS)
    if dv.use_gpu(device, images):
        out, counts = _slic_gpu(images, "images", True, n_segments, compactness, max_num_iter,
                                enforce_connectivity, min_size_factor, max_size_factor,
                                algorithm=algorithm)
        return dv.to_kind(out, images), counts
    arr = check_slic_image(images, "images", batched=True)
    H, W = arr.shape[1:3]
    params = slic_params(H, W, n_segments, compactness, max_num_iter, enforce_connectivity,
                         min_size_factor, max_size_factor, algorithm)
    labels = np.stack([slic_cpu(a, *params, max_size_factor, algorithm=algorithm) for a in arr])
    counts = labels.reshape(len(arr), -1).max(axis=1).astype(np.int64) + 1
    return like(labels, images), counts


def _slic_gpu(images: Any, name: str, batched: bool, *params: Any,
              algorithm: str = "fast") -> tuple[Any, np.ndarray]:
    """Check ``images`` on the device, then :func:`slic_device`: ((B, H, W) labels, counts)."""
    dev = check_device_images(images, name, batched)
    _, H, W, _ = dv.shape_of(dev)
    return slic_device(dev, *slic_params(H, W, *params, algorithm), dv.stream_of(images),
                       algorithm=algorithm)


def slic_device(imgs: Any, n_segments: int, compactness: float, max_num_iter: int,
                 enforce_connectivity: bool, min_size_factor: float | None, stream: Any,
                 algorithm: str = "fast") -> tuple[Any, np.ndarray]:
    """GPU driver: (B, H, W, C) checked device images -> ((B, H, W) int32 device labels, (B,)
    counts); the parameters as :func:`slic_params` returns them."""
    from numba import cuda

    min_size_factor = min_size_factor_of(algorithm, min_size_factor)
    chunk = _slic_chunk_fast if algorithm == "fast" else _slic_chunk
    chunks = dv.batch_chunks(dv.shape_of(imgs)[0])  # the batch is the grid's z axis
    if len(chunks) == 1:
        return chunk(imgs, n_segments, compactness, max_num_iter, enforce_connectivity,
                     min_size_factor, stream)
    B, H, W, _ = dv.shape_of(imgs)
    out = cuda.device_array((B, H, W), np.int32, stream=stream)
    counts = []
    for b0, b1 in chunks:
        part, n = chunk(imgs[b0:b1], n_segments, compactness, max_num_iter,
                        enforce_connectivity, min_size_factor, stream)
        out[b0:b1].copy_to_device(part, stream=stream)
        counts.append(n)
    return out, np.concatenate(counts)


def _slic_chunk_fast(imgs: Any, n_segments: int, compactness: float, max_num_iter: int,
                     enforce_connectivity: bool, min_size_factor: float,
                     stream: Any) -> tuple[Any, np.ndarray]:
    """:func:`slic_device`, ``algorithm="fast"``, for at most ``MAX_GRID_YZ`` images."""
    from .kernels import cuda_slic_fast

    return cuda_slic_fast.run(imgs, n_segments, compactness, max_num_iter, enforce_connectivity,
                              min_size_factor, stream, dv.launch_config("block"),
                              dv.launch_config("threads"), dv.launch_config("scan"),
                              dv.launch_config("update"))


def _slic_chunk(imgs: Any, n_segments: int, compactness: float, max_num_iter: int,
                enforce_connectivity: bool, min_size_factor: float, stream: Any) -> tuple[Any, np.ndarray]:
    """:func:`slic_device` for at most ``MAX_GRID_YZ`` images."""
    from numba import cuda

    from .kernels import cuda_common as kc
    from .kernels import cuda_slic as kslic

    B, H, W, C = dv.shape_of(imgs)
    N = H * W
    blk = dv.launch_config("block")
    thr = dv.launch_config("threads")
    grid3 = (-(-W // blk[0]), -(-H // blk[1]), B)
    threads3 = blk + (1,)
    to_dev = lambda a: cuda.to_device(np.ascontiguousarray(a), stream=stream)

    lohi = to_dev(np.tile(np.array([np.inf, -np.inf]), (B, 1)))
    flat = imgs.reshape((B, N * C))
    kslic.minmax_kernel[(min(64, -(-N * C // thr)), B), thr, stream](flat, lohi)
    planes = cuda.device_array((B, 3, H, W), np.float32, stream=stream)
    kslic.lab_kernel[grid3, threads3, stream](imgs, lohi, planes)

    row_cell, col_cell, row_lo, row_hi, xlo, xhi, centres, m = _seed_layout(H, W, n_segments, compactness)
    nx = xlo.size
    K = centres.shape[0]
    d_centres = to_dev(np.broadcast_to(centres, (B, K, 5)))
    alive = to_dev(np.ones((B, K), np.uint8))
    d_row_cell, d_col_cell = to_dev(row_cell), to_dev(col_cell)
    d_row_lo, d_row_hi, d_xlo, d_xhi = to_dev(row_lo), to_dev(row_hi), to_dev(xlo), to_dev(xhi)

    labels = cuda.device_array((B, H, W), np.int32, stream=stream)
    previous = cuda.device_array((B, H, W), np.int32, stream=stream)
    kc.fill_value_kernel[-(-B * N // thr), thr, stream](previous.reshape(B * N), np.int32(-1))
    changed = kc.full(B, 0, np.int64, thr, stream)
    done = kc.full(B, 0, np.uint8, thr, stream)
    upd_threads = dv.launch_config("update")
    update = kslic.update_kernels(upd_threads)
    kslic.assign_kernel[grid3, threads3, stream](planes, d_centres, alive, d_row_cell, d_col_cell,
                                                 nx, m, False, labels, previous, changed, done)
    kc.fill_value_kernel[1, thr, stream](changed, np.int64(0))
    for _ in range(1, max(max_num_iter, 1)):
        update[(K, B), upd_threads, stream](planes, labels, d_row_lo, d_row_hi, d_xlo, d_xhi, nx,
                                            d_centres, alive, done)
        labels, previous = previous, labels
        kslic.assign_kernel[grid3, threads3, stream](planes, d_centres, alive, d_row_cell,
                                                     d_col_cell, nx, m, True, labels, previous,
                                                     changed, done)
        kslic.done_kernel[-(-B // thr), thr, stream](changed, done)

    scan_threads = dv.launch_config("scan")
    if not enforce_connectivity:
        used = kc.full(B * K, 0, np.int64, thr, stream).reshape((B, K))
        kslic.used_kernel[grid3, threads3, stream](labels, used)
        rank = cuda.device_array((B, K + 1), np.int64, stream=stream)
        kc.scan_rows_kernel[B, scan_threads, stream](used, rank)
        out = cuda.device_array((B, H, W), np.int32, stream=stream)
        kslic.relabel_kernel[grid3, threads3, stream](labels, rank, out)
        return out, rank.copy_to_host(stream=stream)[:, K]
    min_size = int(min_size_factor * (H * W / K))
    return enforce_connectivity_device(labels, min_size, stream)


def enforce_connectivity_device(labels: Any, min_size: int, stream: Any = 0) -> tuple[Any, np.ndarray]:
    """(B, H, W) int32 device cluster labels -> (connected labels, (B,) region counts)."""
    from numba import cuda

    from .kernels import cuda_common as kc
    from .kernels import cuda_slic as kslic

    B, H, W = dv.shape_of(labels)
    N = H * W
    blk = dv.launch_config("block")
    thr = dv.launch_config("threads")
    grid3 = (-(-W // blk[0]), -(-H // blk[1]), B)
    threads3 = blk + (1,)
    grid2 = (-(-N // thr), B)
    scan_threads = dv.launch_config("scan")
    parent = cuda.device_array((B, N), np.int32, stream=stream)
    kslic.ccl_init_kernel[grid2, thr, stream](parent)
    kslic.ccl_union_kernel[grid3, threads3, stream](labels, parent)
    kslic.ccl_flatten_kernel[grid2, thr, stream](parent)
    size = kc.full(B * N, 0, np.int32, thr, stream).reshape((B, N))
    kslic.size_kernel[grid2, thr, stream](parent, size)
    qsize = cuda.device_array((B, N), np.int64, stream=stream)
    kslic.queue_size_kernel[grid2, thr, stream](parent, size, min_size, qsize)
    qoff = cuda.device_array((B, N + 1), np.int64, stream=stream)
    kc.scan_rows_kernel[B, scan_threads, stream](qsize, qoff)
    queue = cuda.device_array((B, N), np.int32, stream=stream)
    link = cuda.device_array((B, N), np.int32, stream=stream)
    kslic.bfs_link_kernel[grid2, thr, stream](parent, W, qsize, qoff, queue, link)
    target = cuda.device_array((B, N), np.int32, stream=stream)
    kslic.merge_kernel[grid2, thr, stream](parent, size, min_size, link, target)
    kept = cuda.device_array((B, N), np.int64, stream=stream)
    kslic.kept_kernel[grid2, thr, stream](parent, size, min_size, kept)
    rank = cuda.device_array((B, N + 1), np.int64, stream=stream)
    kc.scan_rows_kernel[B, scan_threads, stream](kept, rank)
    lab1 = cuda.device_array((B, N), np.int32, stream=stream)
    kslic.final_label_kernel[grid2, thr, stream](target, rank, lab1)
    size0 = kc.full(B, 0, np.int64, thr, stream)
    key = kc.full(B, 4 * N, np.int64, thr, stream)
    kslic.zero_region_kernel[grid2, thr, stream](lab1, W, size0, key)
    out = cuda.device_array((B, N), np.int32, stream=stream)
    n_out = cuda.device_array(B, np.int64, stream=stream)
    kslic.zero_fix_kernel[grid2, thr, stream](lab1, W, rank, size0, key, min_size, out, n_out)
    return out.reshape((B, H, W)), n_out.copy_to_host(stream=stream)




# ----------------------------------------------------------------------------------------------
# Quality measures
# ----------------------------------------------------------------------------------------------


def _check_label_image(labels: Any, name: str) -> np.ndarray:
    arr = to_numpy(labels, name)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"{name}: expected an integer label array, got dtype {arr.dtype}")
    check_ndim(arr, name, (2,), "(H, W) label image")
    if arr.size == 0:
        raise ValueError(
            f"{name}: expected a non-empty (H, W) label image, got shape {shape_str(arr.shape)}"
        )
    return arr


def _check_pair(labels: Any, ground_truth: Any) -> tuple[np.ndarray, np.ndarray]:
    lab = _check_label_image(labels, "labels")
    gt = _check_label_image(ground_truth, "ground_truth")
    if gt.shape != lab.shape:
        raise ValueError(
            f"ground_truth: expected the shape of labels {shape_str(lab.shape)}, "
            f"got {shape_str(gt.shape)}"
        )
    return lab, gt


def _boundaries(labels: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels with a 4-neighbour of another label (both sides of each edge)."""
    b = np.zeros(labels.shape, bool)
    d = labels[:, 1:] != labels[:, :-1]
    b[:, 1:] |= d
    b[:, :-1] |= d
    d = labels[1:, :] != labels[:-1, :]
    b[1:, :] |= d
    b[:-1, :] |= d
    return b


def boundary_recall(labels: Any, ground_truth: Any, tolerance: int = 2) -> float:
    """Fraction of ground-truth boundary pixels within ``tolerance`` of a superpixel boundary.

    A boundary pixel is a pixel with a 4-neighbour of another label (both sides of an edge
    count).  A ground-truth boundary pixel is recalled when a superpixel boundary pixel lies
    within Chebyshev distance ``tolerance`` (a ``(2t+1) x (2t+1)`` square).  A ground truth
    without any boundary has recall 1.

    Parameters
    ----------
    labels : (H, W) int array
        Superpixel labels.
    ground_truth : (H, W) int array
        Ground-truth segment labels.
    tolerance : int
        Distance in pixels, >= 0.

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> gt = np.zeros((4, 8), int); gt[:, 4:] = 1
    >>> sp = np.zeros((4, 8), int); sp[:, 6:] = 1
    >>> boundary_recall(sp, gt, tolerance=2), boundary_recall(sp, gt, tolerance=1)
    (1.0, 0.5)
    """
    from scipy import ndimage

    lab, gt = _check_pair(labels, ground_truth)
    tolerance = check_positive_int(tolerance, "tolerance", minimum=0)
    gb = _boundaries(gt)
    n = int(gb.sum())
    if n == 0:
        return 1.0
    sb = _boundaries(lab)
    if tolerance > 0:
        sb = ndimage.maximum_filter(sb, size=2 * tolerance + 1, mode="constant", cval=False)
    return float((gb & sb).sum()) / n


def undersegmentation_error(labels: Any, ground_truth: Any) -> float:
    """Under-segmentation error, Neubert & Protzel (2012) variant.

    ``UE = (1 / N) * sum_g sum_{s : s & g != {}} min(|s & g|, |s - g|)``: every superpixel
    ``s`` that overlaps ground-truth segment ``g`` costs the smaller of its part inside and its
    part outside ``g``.  No overlap threshold is needed, and ``0 <= UE <= 1`` (0 when every
    superpixel lies inside one segment).  This is the variant of the Stutz et al. (2018)
    superpixel benchmark; unlike Achanta's ``(sum |s| - N) / N`` it does not punish a
    superpixel for a few leaking pixels by its whole size.

    Parameters
    ----------
    labels : (H, W) int array
        Superpixel labels.
    ground_truth : (H, W) int array
        Ground-truth segment labels.

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> gt = np.zeros((4, 4), int); gt[:, 2:] = 1
    >>> sp = np.zeros((4, 4), int); sp[:, 3:] = 1
    >>> undersegmentation_error(sp, gt)  # superpixel 0: 8 px in g0, 4 px in g1 -> (4 + 4) / 16
    0.5
    """
    lab, gt = _check_pair(labels, ground_truth)
    _, s = np.unique(lab.ravel(), return_inverse=True)
    _, g = np.unique(gt.ravel(), return_inverse=True)
    G = int(g.max()) + 1
    pairs, inter = np.unique(s.astype(np.int64) * G + g, return_counts=True)
    size_s = np.bincount(s)
    inside = inter
    outside = size_s[pairs // G] - inter
    return float(np.minimum(inside, outside).sum()) / lab.size
