"""Validation and array-kind helpers shared by every public function.

Every public function of ``p2i_prior`` accepts numpy arrays, CuPy arrays or torch tensors.
The helpers here find out which kind the caller passed (:func:`array_kind`), bring an array
to the host as a contiguous numpy array of a given dtype (:func:`to_numpy`), and hand results
back in the caller's kind (:func:`like`).  Error messages always name the argument, what was
expected and what was received, e.g. ``image: expected (H, W) or (H, W, 3), got shape (4,)``.
"""

from __future__ import annotations

from typing import Any, Iterable

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
    "read_json",
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
