"""COCO-17 keypoints, the COCO skeleton, and skeleton rasterisation.

Conventions
-----------
``keypoints`` is an ``(n, 17, 3)`` array of ``(x, y, v)`` per COCO keypoint: ``x`` is the
column and ``y`` the row in continuous pixel coordinates (pixel ``(r, c)`` covers
``[c, c+1) x [r, r+1)``, so a point falls in pixel ``(floor(y), floor(x))``), and ``v`` is
COCO's visibility flag: 0 not labelled, 1 labelled but occluded, 2 visible.

* A limb is drawn when both of its ends have ``v > 0``; every keypoint with ``v > 0`` is also a
  seed by itself (so a person with only a nose labelled still has a skeleton).
* Coordinates of keypoints with ``v == 0`` are ignored (COCO stores them as 0 or anything).
* Coordinates outside the image are allowed: limbs are clipped to the image, and a skeleton
  entirely outside the image has no pixel (it behaves like an instance with no visible keypoint).
* NaN or infinite coordinates on a keypoint with ``v > 0``, and ``v`` outside {0, 1, 2}, are
  errors (``ValueError`` naming the instance and keypoint).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .checks import _short, check_labels, check_ndim, shape_str, to_numpy

__all__ = [
    "COCO_KEYPOINTS",
    "COCO_SKELETON",
    "COCO_FLIP_PAIRS",
    "check_keypoints",
    "skeleton_pixels",
    "skeleton_mask",
    "seed_superpixels",
]

#: The 17 COCO person keypoints, in COCO order.
COCO_KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)

#: The 19 limbs of COCO's person skeleton, as 0-based keypoint index pairs (COCO's json
#: ``categories[0]["skeleton"]`` is the same list, 1-based).
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
    (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)

#: Left/right keypoint pairs swapped by a horizontal flip.
COCO_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16),
)

_LIMBS = np.asarray(COCO_SKELETON, dtype=np.int64)


def check_keypoints(keypoints: Any, name: str = "keypoints") -> np.ndarray:
    """Validate COCO-17 keypoints and return them as a host ``(n, 17, 3)`` float64 array.

    Parameters
    ----------
    keypoints : (n, 17, 3) array
        ``(x, y, v)`` per keypoint, see the module docstring; ``n`` may be 0, and an empty
        list ``[]`` (shape ``(0,)``) counts as ``n = 0``.
    name : str
        The argument name used in error messages.

    Returns
    -------
    (n, 17, 3) float64 ndarray
        A copy; coordinates of ``v == 0`` keypoints are set to 0 so they never propagate NaN.

    Examples
    --------
    >>> kp = np.zeros((1, 17, 3)); kp[0, 0] = (10.5, 4.0, 2)
    >>> check_keypoints(kp).shape
    (1, 17, 3)
    """
    kp = to_numpy(keypoints, name, dtype=np.float64).copy()
    if kp.ndim == 1 and kp.size == 0:  # ``[]``: no people (a pose estimator found nobody)
        kp = kp.reshape(0, 17, 3)
    check_ndim(kp, name, (3,), "(n, 17, 3) array of (x, y, v)")
    if kp.shape[1:] != (17, 3):
        raise ValueError(
            f"{name}: expected (n, 17, 3) array of (x, y, v) (17 COCO keypoints), "
            f"got shape {shape_str(kp.shape)}"
        )
    v = kp[..., 2]
    bad_v = ~np.isin(v, (0.0, 1.0, 2.0))
    if bad_v.any():
        i, j = (int(t) for t in np.argwhere(bad_v)[0])
        raise ValueError(
            f"{name}: expected visibility v in {{0, 1, 2}}, got {float(v[i, j])} "
            f"at instance {i}, keypoint {j} ({COCO_KEYPOINTS[j]})"
        )
    labelled = v > 0
    xy = kp[..., :2]
    bad_xy = labelled & ~np.isfinite(xy).all(axis=-1)
    if bad_xy.any():
        i, j = (int(t) for t in np.argwhere(bad_xy)[0])
        raise ValueError(
            f"{name}: expected finite (x, y) for labelled keypoints (v > 0), got "
            f"({xy[i, j, 0]}, {xy[i, j, 1]}) at instance {i}, keypoint {j} ({COCO_KEYPOINTS[j]})"
        )
    xy[~labelled] = 0.0
    return kp


def _image_shape(shape: Any, name: str = "shape") -> tuple[int, int]:
    try:
        H, W = (int(s) for s in tuple(shape)[:2])
    except Exception:
        raise TypeError(f"{name}: expected (H, W), got {_short(shape)}") from None
    if H < 1 or W < 1:
        raise ValueError(f"{name}: expected H >= 1 and W >= 1, got ({H}, {W})")
    return H, W


def _clip_segment(x0, y0, x1, y1, lo_x, hi_x, lo_y, hi_y):
    """Liang–Barsky: the part of a segment inside a box, or None.

    In exact rational arithmetic (floats convert to ``Fraction`` exactly): in floats, a limb
    from x = -1.7e308 to +1.7e308 overflows ``x1 - x0`` to inf (NaN ends), and even without
    overflow the parameter ``t`` cannot resolve a pixel on a segment 1e300 pixels long.  Only
    the slow path for keypoints far outside the image comes here (at most 36 segments each).
    """
    from fractions import Fraction

    x0, y0, x1, y1 = Fraction(x0), Fraction(y0), Fraction(x1), Fraction(y1)
    dx, dy = x1 - x0, y1 - y0
    t0, t1 = Fraction(0), Fraction(1)
    for p, q in ((-dx, x0 - Fraction(lo_x)), (dx, Fraction(hi_x) - x0),
                 (-dy, y0 - Fraction(lo_y)), (dy, Fraction(hi_y) - y0)):
        if p == 0:
            if q < 0:
                return None
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return None
    return float(x0 + t0 * dx), float(y0 + t0 * dy), float(x0 + t1 * dx), float(y0 + t1 * dy)


def skeleton_pixels(keypoints: Any, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rasterise each instance's skeleton to pixel coordinates, clipped to the image.

    Parameters
    ----------
    keypoints : (n, 17, 3) array
        COCO keypoints (see the module docstring).
    shape : (H, W)
        Image size.

    Returns
    -------
    offsets : (n + 1,) int64 ndarray
        Instance ``i`` owns ``rows[offsets[i]:offsets[i+1]]``.
    rows, cols : (m,) int32 ndarrays
        Pixel coordinates, 8-connected along each limb.

    Examples
    --------
    >>> kp = np.zeros((1, 17, 3)); kp[0, 5] = (1, 1, 2); kp[0, 6] = (4, 1, 2)
    >>> off, r, c = skeleton_pixels(kp, (3, 6))
    >>> sorted(set(zip(r.tolist(), c.tolist())))
    [(1, 1), (1, 2), (1, 3), (1, 4)]
    """
    from .kernels.skeleton import rasterize_limbs

    H, W = _image_shape(shape)
    kp = check_keypoints(keypoints)
    # Bound the work for absurd coordinates: replace each limb by its part inside a box one
    # image-size around the image (exactly the same pixels get drawn).
    lo_x, hi_x, lo_y, hi_y = -float(W), 2.0 * W, -float(H), 2.0 * H
    far = (kp[..., 2] > 0) & (
        (kp[..., 0] < lo_x) | (kp[..., 0] > hi_x) | (kp[..., 1] < lo_y) | (kp[..., 1] > hi_y)
    )
    if far.any():
        return _skeleton_pixels_clipped(kp, H, W, (lo_x, hi_x, lo_y, hi_y))
    return rasterize_limbs(kp, _LIMBS, H, W)


def _skeleton_pixels_clipped(kp, H, W, box):
    """Slow path for keypoints far outside the image: clip every segment first."""
    from .kernels.skeleton import rasterize_limbs

    n = kp.shape[0]
    rows, cols, offsets = [], [], [0]
    seg_limbs = np.array([[0, 1]], np.int64)
    for i in range(n):
        segs = []
        for a, b in COCO_SKELETON:
            if kp[i, a, 2] > 0 and kp[i, b, 2] > 0:
                segs.append((kp[i, a, 0], kp[i, a, 1], kp[i, b, 0], kp[i, b, 1]))
        for j in range(17):
            if kp[i, j, 2] > 0:
                segs.append((kp[i, j, 0], kp[i, j, 1], kp[i, j, 0], kp[i, j, 1]))
        count = 0
        for s in segs:
            clipped = _clip_segment(*s, *box)
            if clipped is None:
                continue
            one = np.zeros((1, 17, 3))
            one[0, 0] = (clipped[0], clipped[1], 2)
            one[0, 1] = (clipped[2], clipped[3], 2)
            _, r, c = rasterize_limbs(one, seg_limbs, H, W)
            rows.append(r)
            cols.append(c)
            count += r.size
        offsets.append(offsets[-1] + count)
    cat = lambda parts: np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, np.int32)
    return np.asarray(offsets, np.int64), cat(rows), cat(cols)


def skeleton_mask(keypoints: Any, shape: tuple[int, int]) -> np.ndarray:
    """(n, H, W) bool masks of each instance's skeleton pixels.

    Memory is ``n * H * W`` bytes; prefer :func:`skeleton_pixels` for large inputs.

    Examples
    --------
    >>> kp = np.zeros((2, 17, 3)); kp[0, 0] = (2.5, 1.5, 2)
    >>> m = skeleton_mask(kp, (4, 4)); m.shape, int(m[0].sum()), int(m[1].sum())
    ((2, 4, 4), 1, 0)
    """
    H, W = _image_shape(shape)
    offsets, rows, cols = skeleton_pixels(keypoints, (H, W))
    n = offsets.size - 1
    mask = np.zeros((n, H, W), dtype=bool)
    inst = np.repeat(np.arange(n), np.diff(offsets))
    mask[inst, rows, cols] = True
    return mask


def seed_superpixels(labels: Any, keypoints: Any) -> np.ndarray:
    """Which superpixels each instance's skeleton passes through.

    Parameters
    ----------
    labels : (H, W) int array
        Superpixel labels ``0..K-1`` (e.g. from :func:`p2i_prior.slic`); ``K = labels.max()+1``.
    keypoints : (n, 17, 3) array
        COCO keypoints.

    Returns
    -------
    (n, K) bool ndarray
        ``seeds[i, k]`` is True when a skeleton pixel of instance ``i`` lies in superpixel ``k``.
        An instance with no visible keypoint in the image has an all-False row.

    Examples
    --------
    >>> labels = np.array([[0, 0, 1, 1]]); kp = np.zeros((1, 17, 3)); kp[0, 0] = (2.2, 0.5, 2)
    >>> seed_superpixels(labels, kp)
    array([[False,  True]])
    """
    from .kernels.skeleton import seeds_from_pixels

    lab = check_labels(labels)
    offsets, rows, cols = skeleton_pixels(keypoints, lab.shape)
    return seeds_from_pixels(lab, offsets, rows, cols, int(lab.max()) + 1)
