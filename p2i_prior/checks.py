"""Validation and array-kind helpers: the one validation layer of p2i_prior (public: packages built on it validate with it too).

Every public function of ``p2i_prior`` accepts numpy arrays, CuPy arrays or torch tensors.
The helpers here find out which kind the caller passed (:func:`array_kind`), bring an array
to the host as a contiguous numpy array of a given dtype (:func:`to_numpy`), and hand results
back in the caller's kind (:func:`like`).  Error messages always name the argument, what was
expected and what was received, e.g. ``image: expected (H, W) or (H, W, 3), got shape (4,)``.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, NamedTuple

import numpy as np

__all__ = [
    "array_kind",
    "to_numpy",
    "like",
    "shape_str",
    "check_ndim",
    "check_finite",
    "check_positive_int",
    "check_positive_float",
    "check_choice",
    "check_labels",
    "check_threshold",
    "read_json",
    "ValueStats",
    "ArrayInfo",
    "host_info",
    "host_stats",
    "check_values_finite",
    "image_scale",
    "check_image_values",
    "check_unit_interval",
    "check_label_values",
    "check_edge_values",
    "check_binary_values",
    "check_speed_values",
    "check_pipeline_image",
    "check_box_layout",
]


def array_kind(x: Any) -> str:
    """Return ``"numpy"``, ``"cupy"`` or ``"torch"`` for an array-like.

    Lists, tuples and scalars count as ``"numpy"``.
    """
    mod = type(x).__module__
    if mod.startswith("cupy"):
        return "cupy"
    if mod.startswith("torch"):
        return "torch"
    return "numpy"


def shape_str(shape: Iterable[int]) -> str:
    """``(3, 4)`` style rendering of a shape (also for 1-d shapes: ``(4,)``)."""
    return str(tuple(int(s) for s in shape))


def to_numpy(x: Any, name: str, dtype: Any = None) -> np.ndarray:
    """Return ``x`` as a C-contiguous, native-byte-order host numpy array (optionally cast to
    ``dtype``).

    CuPy arrays and torch tensors (any device) are copied to the host; numpy arrays of the
    right dtype and layout are returned as they are (no copy); big-endian arrays are
    byte-swapped to the machine's order (numba kernels accept native byte order only).

    Raises
    ------
    TypeError
        If ``x`` cannot be read as a numeric array, or is complex while a real ``dtype`` is
        asked for (the message names ``name``).
    """
    if isinstance(x, (str, bytes, os.PathLike)):
        raise TypeError(
            f"{name}: expected a numeric array, got the {type(x).__name__} {_short(x)}: pass an array; read it "
            "with numpy.asarray(PIL.Image.open(path).convert('RGB')) for an image, numpy.load(path) for a .npy"
        )
    kind = array_kind(x)
    if kind == "cupy":
        x = x.get()
    elif kind == "torch":
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{name}: expected a numeric array, got {type(x).__name__} ({exc})") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_
    ):
        raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if arr.dtype.kind == "c" and dtype is not None and np.dtype(dtype).kind != "c":
        # a cast would silently drop the imaginary part
        raise TypeError(f"{name}: expected a real-valued array, got dtype {arr.dtype}")
    if not arr.dtype.isnative:  # big-endian data (e.g. from a file): the kernels need native
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if dtype is not None and arr.dtype != np.dtype(dtype):
        arr = arr.astype(dtype)
    return np.ascontiguousarray(arr)


def like(result: np.ndarray, reference: Any) -> Any:
    """Return the numpy ``result`` in the array kind (and device) of ``reference``."""
    kind = array_kind(reference)
    if kind == "cupy":
        import cupy

        with cupy.cuda.Device(reference.device.id):
            return cupy.asarray(result)
    if kind == "torch":
        import torch

        return torch.from_numpy(np.ascontiguousarray(result)).to(reference.device)
    return result


def check_ndim(arr: np.ndarray, name: str, ndims: tuple[int, ...], layout: str) -> None:
    """Raise ``ValueError`` unless ``arr.ndim`` is one of ``ndims``; ``layout`` says which."""
    if arr.ndim not in ndims:
        raise ValueError(f"{name}: expected {layout}, got shape {shape_str(arr.shape)}")


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` if ``arr`` holds NaN or infinity, saying how many and where."""
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{name}: expected finite values, got {int(bad.sum())} NaN/inf "
                f"(first at index {first})"
            )


def _short(value: Any, limit: int = 80) -> str:
    """One-line ``repr`` of ``value`` for an error message (arrays can span many lines)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_positive_int(value: Any, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as ``int`` if it is an integer in ``[minimum, maximum]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__} {_short(value)}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name}: expected an integer >= {minimum}{upper}, got {value}")
    return value


def check_positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as ``float`` if it is finite and > 0 (>= 0 with ``allow_zero``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__} {_short(value)}")
    value = float(value)
    ok = np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected a finite number {bound}, got {value}")
    return value


def check_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; else a ``ValueError`` listing them."""
    choices = tuple(choices)
    # ``in`` would compare an array elementwise (ambiguous truth value): strings only
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {_short(value)}")
    return value


def check_labels(labels: Any, name: str = "labels") -> np.ndarray:
    """Validate a superpixel label image; return it as (H, W) int64 numpy."""
    lab = to_numpy(labels, name)
    check_ndim(lab, name, (2,), "(H, W) integer label image")
    if lab.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected an integer label image, got dtype {lab.dtype}")
    if lab.size == 0:
        raise ValueError(f"{name}: expected a non-empty image, got shape {shape_str(lab.shape)}")
    if lab.min() < 0:
        raise ValueError(f"{name}: expected labels >= 0, got minimum {int(lab.min())}")
    return lab.astype(np.int64, copy=False)


def read_json(path: Any, name: str, what: str = "a json file") -> Any:
    """Load a json file; a missing file is ``FileNotFoundError`` and a malformed one
    ``ValueError``, both naming ``name`` (the argument) and ``what`` was expected."""
    import json
    import os

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{name}: file not found: {path}")
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{name}: expected {what}, could not parse {path}: {exc}") from None


def check_threshold(threshold: Any) -> float:
    """Return ``threshold`` as ``float`` if it is a number in [0, 1]."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise TypeError(f"threshold: expected a number in [0, 1], got {type(threshold).__name__}")
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold: expected a number in [0, 1], got {threshold}")
    return float(threshold)


# ----------------------------------------------------------------------------------------------
# Value checks shared by the host and the device paths
#
# A check takes an :class:`ArrayInfo`: the array's name, shape, dtype and, read only when the
# check needs them, its :class:`ValueStats` (computed in one pass on the host by
# ``kernels.stats.value_stats`` or on the device by ``kernels.cuda_common.stats_kernel``, see
# ``p2i_prior._device.device_info``).  So the CPU and GPU paths raise the same errors.
# ----------------------------------------------------------------------------------------------


class ValueStats(NamedTuple):
    """``min``/``max`` over the finite values (``inf``/``-inf`` when none), the number of
    non-finite values and of values other than 0 and 1."""

    min: float
    max: float
    n_nonfinite: int
    n_not_binary: int


@dataclass
class ArrayInfo:
    """What the value checks read of an array, wherever it lives.

    ``stats`` and ``locate`` are computed only when a check asks (``locate(predicate_name)``
    returns the first index of a non-finite value on the host, None on the device).
    """

    name: str
    shape: tuple
    dtype: np.dtype
    stats_fn: Callable[[], ValueStats]
    locate: Callable[[str], Any] = field(default=lambda what: None)
    locate_value: Callable[[tuple], Any] = field(default=lambda index: None)
    _stats: ValueStats | None = None

    @property
    def stats(self) -> ValueStats:
        if self._stats is None:
            self._stats = self.stats_fn()
        return self._stats


def host_stats(arr: np.ndarray) -> ValueStats:
    """:class:`ValueStats` of a host array, one pass."""
    from .kernels.stats import value_stats

    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8)
    elif arr.dtype == np.float16:  # numba has no half type; the upcast is exact
        arr = arr.astype(np.float32)
    if arr.size == 0:
        return ValueStats(np.inf, -np.inf, 0, 0)
    lo, hi, bad, odd = value_stats(np.ascontiguousarray(arr).reshape(-1))
    return ValueStats(float(lo), float(hi), int(bad), int(odd))


def host_info(arr: np.ndarray, name: str) -> ArrayInfo:
    """:class:`ArrayInfo` of a host numpy array."""

    def locate(what: str):
        bad = ~np.isfinite(arr) if what == "nonfinite" else (arr != 0) & (arr != 1)
        if not bad.any():
            return None
        return tuple(int(i) for i in np.argwhere(bad)[0])

    return ArrayInfo(name, tuple(arr.shape), arr.dtype, lambda: host_stats(arr), locate,
                     lambda index: arr[index].item())


def check_values_finite(info: ArrayInfo) -> None:
    """``ValueError`` if the array holds NaN or infinity, saying how many (and where, on the host)."""
    if info.dtype.kind in "fc" and info.stats.n_nonfinite:
        where = info.locate("nonfinite")
        at = "" if where is None else f" (first at index {where})"
        raise ValueError(f"{info.name}: expected finite values, got {info.stats.n_nonfinite} NaN/inf{at}")


def image_scale(info: ArrayInfo) -> float:
    """The factor that brings an image to [0, 1] floats the way ``skimage.img_as_float`` does
    (the Sobel input rule); raises for dtypes and values it cannot take."""
    dt = np.dtype(info.dtype)
    kind = dt.kind
    if kind == "b":
        return 1.0
    if kind in "ui":
        if dt.itemsize > 2:
            raise TypeError(
                f"{info.name}: expected a uint8, uint16, int8, int16, bool or float image, got dtype {dt}"
            )
        if kind == "i" and int(np.prod(info.shape)) and info.stats.min < 0:
            raise ValueError(f"{info.name}: expected non-negative intensities, got minimum {int(info.stats.min)}")
        return 1.0 / float(np.iinfo(dt).max)
    if kind == "f":
        check_values_finite(info)
        return 1.0
    raise TypeError(f"{info.name}: expected a real-valued image, got dtype {dt}")


def check_image_values(info: ArrayInfo) -> None:
    """The SLIC input rule: a real (bool, integer or float) image, floats finite and in [0, 1]."""
    dt = np.dtype(info.dtype)
    if dt.kind == "c" or dt.kind not in "biuf":
        raise TypeError(f"{info.name}: expected a real-valued (uint8 or float) array, got dtype {dt}")
    if dt.kind == "f" and int(np.prod(info.shape)):
        check_values_finite(info)
        lo, hi = info.stats.min, info.stats.max
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"{info.name}: expected float values in [0, 1], got values in [{lo:g}, {hi:g}]"
            )


def check_unit_interval(info: ArrayInfo) -> None:
    """Finite probabilities in [0, 1] (a person score)."""
    check_values_finite(info)
    if int(np.prod(info.shape)) and (info.stats.min < 0 or info.stats.max > 1):
        raise ValueError(
            f"{info.name}: expected probabilities in [0, 1], got range [{info.stats.min}, {info.stats.max}]"
        )


def check_label_values(info: ArrayInfo) -> None:
    """An integer label image with labels >= 0."""
    if np.dtype(info.dtype).kind not in "iu":
        raise TypeError(f"{info.name}: expected an integer label image, got dtype {info.dtype}")
    if 0 in info.shape:
        raise ValueError(f"{info.name}: expected a non-empty image, got shape {shape_str(info.shape)}")
    if info.stats.min < 0:
        raise ValueError(f"{info.name}: expected labels >= 0, got minimum {int(info.stats.min)}")


def check_edge_values(info: ArrayInfo) -> None:
    """Edge strengths: real, finite, >= 0 and at most the float32 maximum (RAG weights are float32)."""
    if np.dtype(info.dtype).kind not in "biuf":
        raise TypeError(f"{info.name}: expected a real-valued array, got dtype {info.dtype}")
    if not int(np.prod(info.shape)):
        return
    check_values_finite(info)
    if info.stats.min < 0:
        raise ValueError(f"{info.name}: expected edge strengths >= 0, got minimum {info.stats.min}")
    f32_max = float(np.finfo(np.float32).max)
    if info.stats.max > f32_max:
        raise ValueError(
            f"{info.name}: expected edge strengths <= {f32_max:.4g} (weights are float32), got maximum "
            f"{info.stats.max:.4g}; rescale the edge map"
        )


def check_binary_values(info: ArrayInfo, what: str, *, mask: bool) -> None:
    """A bool array, or numbers that are all 0 or 1 (``what`` names the expectation).

    Other values are a ``ValueError`` for a mask (``mask=True``), else a ``TypeError`` (the
    array is then not of a usable type).
    """
    dt = np.dtype(info.dtype)
    if dt == np.bool_:
        return
    if dt.kind not in "iuf":
        raise TypeError(f"{info.name}: expected {what}, got dtype {dt}")
    odd = info.stats.n_not_binary if int(np.prod(info.shape)) else 0
    if odd and mask:
        where = info.locate("not_binary")
        at = f"{odd} values outside {{0, 1}}"
        if where is not None:
            at = f"{info.locate_value(where)!r} at index {where} ({at})"
        raise ValueError(f"{info.name}: expected a boolean mask or values in {{0, 1}}, got {at}")
    if odd:
        raise TypeError(f"{info.name}: expected {what}, got dtype {dt}")


def check_speed_values(info: ArrayInfo, H: int, W: int) -> None:
    """A speed map: real, finite, > 0, with travel times (at most ``max(1/speed) (H + W)``, at
    least ``min(1/speed) / sqrt(2)``) that fit float32."""
    dt = np.dtype(info.dtype)
    if dt == np.bool_ or dt.kind not in "iuf":
        raise TypeError(f"{info.name}: expected a real-valued float array, got dtype {dt}")
    check_values_finite(info)
    lo, hi_speed = info.stats.min, info.stats.max
    if lo <= 0:
        raise ValueError(f"{info.name}: expected values > 0, got minimum {lo!r}")
    f32 = np.finfo(np.float32)
    hi, low = (H + W) / lo, 1.0 / hi_speed / np.sqrt(2.0)
    if not (hi <= float(f32.max) and low >= float(f32.tiny)):
        raise ValueError(
            f"{info.name}: expected values in a range whose travel times fit float32, got speeds from "
            f"{lo!r} to {hi_speed!r} (travel times would reach "
            f"{hi:.3g} or go below {low:.3g}); rescale the speed"
        )


# ---------------------------------------------------------------------------------------------
# the pipeline's input rules (pose_instance_map, instance_distances, segment_people; every method)


def check_pipeline_image(image: Any, name: str = "image") -> np.ndarray:
    """The one image rule of the pipeline, whatever the method: ``(H, W)`` or ``(H, W, 3)``,
    non-empty; bool, uint8/uint16 or non-negative int8/int16, or finite floats in ``[0, 1]``
    (the SLIC rule and the Sobel rule together).  Returns the host array.

    Examples
    --------
    >>> check_pipeline_image(np.zeros((2, 3, 3), np.uint8)).shape
    (2, 3, 3)
    """
    arr = to_numpy(image, name)
    check_ndim(arr, name, (2, 3), "(H, W) or (H, W, 3) image")
    if arr.ndim == 3 and arr.shape[2] != 3:
        hint = " (channels first? pass image.transpose(1, 2, 0))" if arr.shape[0] in (1, 3, 4) else ""
        raise ValueError(
            f"{name}: expected (H, W) or (H, W, 3) image, got shape {shape_str(arr.shape)} "
            f"({arr.shape[2]} channels){hint}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: expected a non-empty image, got shape {shape_str(arr.shape)}")
    info = host_info(arr, name)
    image_scale(info)
    if arr.dtype.kind == "f" and info.stats.max > 1.0:
        raise ValueError(
            f"{name}: expected float values in [0, 1], got values in [{info.stats.min:g}, {info.stats.max:g}]; "
            "for a 0..255 float image pass image / 255 or image.astype(numpy.uint8)"
        )
    check_image_values(info)
    return arr


def check_box_layout(boxes: np.ndarray, height: int, width: int, name: str = "boxes") -> None:
    """Catch ``[x1, y1, x2, y2]`` boxes given where COCO ``[x, y, w, h]`` ones are expected.

    ``boxes`` is an already checked ``(n, 4)`` float array.  A box is taken for ``[x1, y1, x2,
    y2]`` (``ValueError``) when, read as ``[x, y, w, h]``, it reaches past the image by more than
    2% of its side (2 px at least) but fits inside it read the other way.  Other boxes reaching
    past the image give a ``UserWarning``.  A corner-layout box with ``x1 + x2 <= W`` and
    ``y1 + y2 <= H`` (near the top left) passes: it is a valid ``[x, y, w, h]`` box too, and
    holds everything its corner reading holds, so no keypoint test can tell them apart.

    Examples
    --------
    >>> check_box_layout(np.array([[10.0, 10, 20, 30]]), 100, 100)
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    if not len(b):
        return
    tol = np.array([max(2.0, 0.02 * width), max(2.0, 0.02 * height)])
    size = np.array([width, height], np.float64)
    over = b[:, :2] + b[:, 2:] - size  # how far x + w, y + h reach past the image
    past = (over > tol).any(1)
    fits_as_corners = ((b[:, 2:] > b[:, :2]) & (b[:, 2:] <= size + tol)).all(1)
    corner = past & fits_as_corners
    why = "reaches past the image read as [x, y, w, h] but fits inside it read as [x1, y1, x2, y2]"
    if corner.any():
        i = int(np.argmax(corner))
        raise ValueError(
            f"{name}: expected COCO [x, y, w, h] boxes, got box {i} = {_short(b[i].tolist())}, which {why} "
            f"({width}x{height} image, WxH); convert with boxes[:, 2:] -= boxes[:, :2]"
        )
    if past.any():
        i = int(np.argmax(past))
        warnings.warn(
            f"{name}: box {i} = {_short(b[i].tolist())} reaches {over[i].max():.0f} px past the "
            f"{width}x{height} image (WxH); expected COCO [x, y, w, h] boxes", UserWarning, stacklevel=3,
        )
