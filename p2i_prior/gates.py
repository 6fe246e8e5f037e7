"""Where an instance may take pixels: box gates, extent gates and person components, and the
oracle-box baseline.

* :func:`instance_scales`: each person's standing height from its keypoints (body proportions);
* :func:`instance_gates`: an instance's box and/or the pixels within ``extent`` x its height of
  its skeleton;
* :func:`component_gate`: the connected components of person pixels each skeleton touches;
* :func:`owner_reach`, :func:`drop_unexplained`: how far each assigned pixel lies from its own
  skeleton in that skeleton's body heights, and the rule that leaves far pixels to nobody;
* :func:`box_instances`: the person score snapped into the boxes (the baseline).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .checks import check_finite, check_positive_float, check_threshold, like, shape_str, to_numpy
from .fusion import check_score
from .skeleton import check_keypoints, skeleton_mask, skeleton_pixels
from .grid_distance import edt_cpu

__all__ = [
    "MIN_SCALE",
    "BODY_PROPORTIONS",
    "FACE_PROPORTIONS",
    "instance_scales",
    "instance_gates",
    "component_gate",
    "owner_reach",
    "drop_unexplained",
    "box_instances",
    "check_boxes",
    "box_masks",
]

MIN_SCALE = 16.0


def check_boxes(boxes: Any, n: int | None, name: str = "boxes") -> np.ndarray:
    """(n, 4) float64 COCO [x, y, w, h] boxes: finite, w >= 0 and h >= 0 (n checked when given)."""
    b = to_numpy(boxes, name, dtype=np.float64)
    if b.size == 0 and n in (0, None):
        b = b.reshape(0, 4)
    if b.ndim != 2 or b.shape[1] != 4 or (n is not None and b.shape[0] != n):
        per = "" if n is None else f" with n = {n} (one per instance)"
        raise ValueError(
            f"{name}: expected (n, 4) COCO [x, y, w, h] boxes{per}, got shape {shape_str(b.shape)}"
        )
    check_finite(b, name)
    if (b[:, 2:] < 0).any():
        i = int(np.argwhere(b[:, 2:] < 0)[0, 0])
        raise ValueError(f"{name}: expected w >= 0 and h >= 0, got {b[i].tolist()} for instance {i}")
    return b


def box_masks(boxes: np.ndarray, H: int, W: int) -> np.ndarray:
    """(n, H, W) bool: pixel centres inside each [x, x+w) x [y, y+h) box."""
    cy = np.arange(H) + 0.5
    cx = np.arange(W) + 0.5
    iny = (cy[None, :] >= boxes[:, 1:2]) & (cy[None, :] < boxes[:, 1:2] + boxes[:, 3:4])
    inx = (cx[None, :] >= boxes[:, 0:1]) & (cx[None, :] < boxes[:, 0:1] + boxes[:, 2:3])
    return iny[:, :, None] & inx[:, None, :]


#: Average length of COCO keypoint pairs as a fraction of standing height (anthropometric
#: segment proportions after Drillis & Contini, 1966). Body pairs first, face pairs last.
BODY_PROPORTIONS: tuple[tuple[int, int, float], ...] = (
    (5, 11, 0.288), (6, 12, 0.288),  # shoulder - hip (torso side)
    (11, 13, 0.245), (12, 14, 0.245),  # thigh
    (13, 15, 0.246), (14, 16, 0.246),  # shin
    (5, 7, 0.186), (6, 8, 0.186),  # upper arm
    (7, 9, 0.146), (8, 10, 0.146),  # forearm
    (5, 6, 0.259),  # shoulder width
    (11, 12, 0.191),  # hip width
)
FACE_PROPORTIONS: tuple[tuple[int, int, float], ...] = (
    (3, 4, 0.09),  # ear to ear
    (1, 2, 0.035),  # eye to eye
    (0, 1, 0.025), (0, 2, 0.025),  # nose to eye
    (1, 3, 0.05), (2, 4, 0.05),  # eye to ear
)


def instance_scales(keypoints: Any) -> np.ndarray:
    """(n,) float64: each instance's estimated standing height in pixels, from its keypoints.

    Every labelled pair of :data:`BODY_PROPORTIONS` gives ``length / proportion``; the estimate
    is the largest of them (foreshortening only shortens a limb).  With no body pair labelled,
    the face pairs of :data:`FACE_PROPORTIONS` are used; with neither, the diagonal of the
    labelled keypoints' bounding box.  At least ``MIN_SCALE`` (16) pixels; ``nan`` for an
    instance without labelled keypoints.

    Examples
    --------
    >>> kp = np.zeros((1, 17, 3)); kp[0, 11] = (10, 100, 2); kp[0, 13] = (10, 149, 2)
    >>> instance_scales(kp).round(1).tolist()  # a 49-pixel thigh: a 200-pixel person
    [200.0]
    """
    kp = check_keypoints(keypoints)
    out = np.full(kp.shape[0], np.nan)
    for i, person in enumerate(kp):
        lab = person[:, 2] > 0
        if not lab.any():
            continue
        best = 0.0
        for table in (BODY_PROPORTIONS, FACE_PROPORTIONS):
            for a, b, ratio in table:
                if lab[a] and lab[b]:
                    best = max(best, float(np.hypot(*(person[a, :2] - person[b, :2]))) / ratio)
            if best > 0:
                break
        if best == 0.0:
            pts = person[lab, :2]
            best = float(np.hypot(*(pts.max(axis=0) - pts.min(axis=0))))
        out[i] = max(MIN_SCALE, best)
    return out


def instance_gates(kp: np.ndarray, H: int, W: int, boxes: Any, extent: Any) -> np.ndarray | None:
    """(n, H, W) bool where each instance may take pixels (its box, within ``extent`` of its
    skeleton), or None without gates."""
    n = kp.shape[0]
    gate = None
    if boxes is not None:
        gate = box_masks(check_boxes(boxes, n), H, W)
    if extent is not None:
        extent = check_positive_float(extent, "extent")
        eucl = edt_cpu(np.ascontiguousarray(skeleton_mask(kp, (H, W))))  # exact Euclidean
        scale = instance_scales(kp)
        reach = eucl <= (extent * np.nan_to_num(scale, nan=0.0))[:, None, None]
        gate = reach if gate is None else gate & reach
    return gate


def component_gate(keypoints: Any, person_score: Any, *, threshold: float = 0.5) -> np.ndarray:
    """(n, H, W) bool: the 8-connected components of ``person_score >= threshold`` that each
    instance's skeleton touches.

    A person is a connected region of person pixels: a component that no skeleton touches
    belongs to somebody without keypoints, and no instance should take it.

    Examples
    --------
    >>> score = np.zeros((3, 7)); score[:, :2] = 1; score[:, 4:] = 1
    >>> kp = np.zeros((1, 17, 3)); kp[0, 0] = (0.5, 1.5, 2)
    >>> component_gate(kp, score)[0].astype(int)
    array([[1, 1, 0, 0, 0, 0, 0],
           [1, 1, 0, 0, 0, 0, 0],
           [1, 1, 0, 0, 0, 0, 0]])
    """
    score = check_score(person_score, None)
    threshold = check_threshold(threshold)
    kp = check_keypoints(keypoints)
    comp, touched = touched_components(kp, score >= threshold)
    return touched[:, comp]


def owner_reach(labels: Any, keypoints: Any) -> np.ndarray:
    """(H, W) float64: each labelled pixel's Euclidean distance to its own instance's skeleton,
    in that instance's body heights (:func:`instance_scales`); ``inf`` on background and for an
    instance without a skeleton pixel in the image.

    Examples
    --------
    >>> lab = np.array([[1, 1, 1, 0]]); kp = np.zeros((1, 17, 3)); kp[0, 0] = (0.5, 0.5, 2)
    >>> owner_reach(lab, kp).tolist()  # scale: MIN_SCALE = 16 pixels
    [[0.0, 0.0625, 0.125, inf]]
    """
    lab = to_numpy(labels, "labels")
    kp = check_keypoints(keypoints)
    if lab.ndim != 2:
        raise ValueError(f"labels: expected (H, W), got shape {shape_str(lab.shape)}")
    if lab.size and (lab.min() < 0 or lab.max() > kp.shape[0]):
        raise ValueError(f"labels: expected values in [0, {kp.shape[0]}] (0 background), got "
                         f"[{lab.min()}, {lab.max()}]")
    H, W = lab.shape
    out = np.full((H, W), np.inf)
    scale = instance_scales(kp)
    for k in np.unique(lab[lab > 0]) - 1:
        skel = skeleton_mask(kp[k:k + 1], (H, W))
        if not skel.any():
            continue
        m = lab == k + 1
        out[m] = edt_cpu(np.ascontiguousarray(skel))[0][m] / scale[k]
    return out


def drop_unexplained(labels: Any, keypoints: Any, reach: float, *, min_keypoints: int = 5) -> Any:
    """Labels with the pixels no skeleton explains left to nobody.

    A pixel assigned to instance ``k`` goes back to background (0) when it lies farther than
    ``reach`` body heights (:func:`instance_scales`) from ``k``'s skeleton, in Euclidean pixels.
    The rule only applies to instances with at least ``min_keypoints`` labelled keypoints: with
    fewer, the body height is only a lower bound (it is the longest labelled limb over its
    proportion, 16 pixels for one keypoint), so distance in its units says nothing.  Pixels of
    a keypoint-less person that touches someone with keypoints are the target: the component
    gate hands them to that skeleton, however far.

    Parameters
    ----------
    labels : (H, W) int array
        0 background, ``k + 1`` for instance ``k``.
    keypoints : (n, 17, 3) array
    reach : float > 0
    min_keypoints : int in [1, 17]

    Returns
    -------
    (H, W) int32 array of ``labels``' kind.

    Examples
    --------
    >>> lab = np.ones((1, 40), np.int32); kp = np.zeros((1, 17, 3))
    >>> kp[0, 5:7] = [(0.5, 0.5, 2), (4.5, 0.5, 2)]; kp[0, 11:13] = [(0.5, 0.5, 2), (4.5, 0.5, 2)]
    >>> int(drop_unexplained(lab, kp, 1.0, min_keypoints=4).sum())  # height 4 / 0.191 = 20.9 px
    25
    """
    reach = check_positive_float(reach, "reach")
    if isinstance(min_keypoints, bool) or not isinstance(min_keypoints, (int, np.integer)) \
            or not 1 <= min_keypoints <= 17:
        raise ValueError(f"min_keypoints: expected an integer in [1, 17], got {min_keypoints!r}")
    kp = check_keypoints(keypoints)
    lab = to_numpy(labels, "labels").astype(np.int32)
    far = owner_reach(lab, kp) > reach
    sure = np.concatenate([[False], (kp[:, :, 2] > 0).sum(1) >= min_keypoints])
    out = np.where(far & sure[lab], 0, lab).astype(np.int32)
    return like(out, labels)


def touched_components(kp: np.ndarray, person: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of ``person`` and, per instance, which ones its skeleton touches."""
    from scipy import ndimage

    comp, n_comp = ndimage.label(person, structure=np.ones((3, 3), bool))
    offsets, rows, cols = skeleton_pixels(kp, person.shape)
    touched = np.zeros((kp.shape[0], n_comp + 1), bool)
    inst = np.repeat(np.arange(kp.shape[0]), np.diff(offsets))
    touched[inst, comp[rows, cols]] = True
    touched[:, 0] = False
    return comp, touched


def box_instances(person_score: Any, boxes: Any, *, threshold: float = 0.5) -> Any:
    """The oracle-box baseline: the person score snapped into each instance's box.

    A pixel whose score is ``>= threshold`` goes to the instance whose box contains its centre;
    where boxes overlap, to the smallest box by area (ties: lower instance number), since a
    small box inside a larger one is more specific.  Pixels in no box are background.

    Parameters
    ----------
    person_score : (H, W) float array in [0, 1]
    boxes : (n, 4) float array
        COCO ``[x, y, w, h]`` in pixels; pixel ``(r, c)`` is inside when its centre
        ``(c + 0.5, r + 0.5)`` lies in ``[x, x + w) x [y, y + h)``.
    threshold : float in [0, 1]

    Returns
    -------
    (H, W) int32 array of the score's kind: 0 background, ``1..n`` in box order.

    Examples
    --------
    >>> box_instances(np.ones((2, 4)), np.array([[0, 0, 4, 2], [2, 0, 1, 2]])).tolist()
    [[1, 1, 2, 1], [1, 1, 2, 1]]
    """
    score = check_score(person_score, None)
    threshold = check_threshold(threshold)
    H, W = score.shape
    b = check_boxes(boxes, None)
    labels = np.zeros((H, W), np.int32)
    best_area = np.full((H, W), np.inf)
    inside = box_masks(b, H, W)
    for i in np.argsort(b[:, 2] * b[:, 3], kind="stable")[::-1]:
        area = b[i, 2] * b[i, 3]
        take = inside[i] & (area <= best_area)
        labels[take] = i + 1
        best_area[take] = area
    labels[score < threshold] = 0
    return like(labels, person_score)
