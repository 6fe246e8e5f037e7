"""Label maps to per-instance masks and COCO run-length encodings."""

from __future__ import annotations

from typing import Any

import numpy as np

from .checks import _short, check_labels, check_ndim, shape_str, to_numpy

__all__ = ["masks_from_labels", "masks_to_rle", "rle_to_masks"]


def masks_from_labels(labels: Any, n: int | None = None) -> np.ndarray:
    """Split an instance label map into binary masks.

    Parameters
    ----------
    labels : (H, W) int array
        0 for background, ``1..n`` for instances (e.g. from :func:`segment_instances`).
    n : int, optional
        Number of instances; default ``labels.max()``.  Instances absent from the map get an
        empty mask, so mask ``i`` always belongs to instance ``i + 1``.

    Returns
    -------
    (n, H, W) bool ndarray

    Examples
    --------
    >>> masks_from_labels(np.array([[0, 1, 2, 2]]), n=3).sum(axis=(1, 2)).tolist()
    [1, 2, 0]
    """
    lab = check_labels(labels)
    top = int(lab.max())
    if n is None:
        n = top
    elif isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n: expected an integer >= 0, got {_short(n)}")
    elif top > n:
        raise ValueError(f"labels: expected values in 0..n = 0..{n}, got maximum {top}")
    return lab[None, :, :] == np.arange(1, int(n) + 1)[:, None, None]


def masks_to_rle(masks: Any) -> list[dict]:
    """COCO run-length encodings of binary masks (json-ready: ``counts`` is a str).

    Parameters
    ----------
    masks : (n, H, W) bool array

    Returns
    -------
    list of n dicts ``{"size": [H, W], "counts": str}``, as in COCO results files.

    Examples
    --------
    >>> rle = masks_to_rle(np.ones((1, 2, 3), bool))[0]
    >>> rle["size"]
    [2, 3]
    """
    from pycocotools import mask as mask_utils

    m = to_numpy(masks, "masks")
    check_ndim(m, "masks", (3,), "(n, H, W) bool array")
    if m.dtype != np.bool_ and not (m.dtype.kind in "iu" and np.isin(m, (0, 1)).all()):
        raise TypeError(f"masks: expected a bool (or 0/1) array, got dtype {m.dtype}")
    if m.shape[0] == 0:
        return []
    if m.shape[1] == 0 or m.shape[2] == 0:
        raise ValueError(f"masks: expected non-empty images, got shape {shape_str(m.shape)}")
    rles = mask_utils.encode(np.asfortranarray(m.transpose(1, 2, 0).astype(np.uint8)))
    out = []
    for rle in rles:
        out.append({"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")})
    return out


def rle_to_masks(rles: list[dict]) -> np.ndarray:
    """Decode COCO RLE dicts (``counts`` str or bytes) to an (n, H, W) bool array.

    Examples
    --------
    >>> m = np.eye(3, dtype=bool)[None]
    >>> bool((rle_to_masks(masks_to_rle(m)) == m).all())
    True
    """
    from pycocotools import mask as mask_utils

    if len(rles) == 0:
        raise ValueError("rles: expected at least one RLE (the image size is unknown otherwise)")
    fixed = []
    for i, rle in enumerate(rles):
        if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
            raise ValueError(f"rles[{i}]: expected a dict with 'size' and 'counts', got {rle!r:.80}")
        counts = rle["counts"]
        if isinstance(counts, list):  # uncompressed RLE
            counts = mask_utils.frPyObjects(rle, *rle["size"])["counts"]
        elif isinstance(counts, str):
            counts = counts.encode("ascii")
        fixed.append({"size": list(rle["size"]), "counts": counts})
    return mask_utils.decode(fixed).transpose(2, 0, 1).astype(bool)
