"""Scene composition: people placed, occluding each other in depth order, on a background.

:func:`make_scene` validates its arguments, draws each person (:mod:`.body`, :mod:`.render`),
places them, settles occlusion, composites the image and derives the masks, keypoints,
visibility, boxes and person score; :func:`make_scenes` makes many from one seed.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..checks import check_choice, check_positive_float, check_positive_int
from .background import _background, _shadow
from .body import _sample_appearance, _sample_body
from .render import _render_person
from .scene import Scene
from .score import _score

__all__ = ["make_scene", "make_scenes", "MIN_SIZE", "MAX_SIZE", "MAX_PEOPLE"]

MIN_SIZE = 16
MAX_SIZE = 4096
MAX_PEOPLE = 64
_BACKGROUNDS = ("textured", "plain")

# ---------------------------------------------------------------------------------------------
# Validation


def _check_unit(value: Any, name: str, lo: float, hi: float) -> float:
    value = check_positive_float(value, name, allow_zero=True)
    if not lo <= value <= hi:
        raise ValueError(f"{name}: expected a number in [{lo:g}, {hi:g}], got {value}")
    return value


def _check_scale(scale: Any) -> tuple[float, float]:
    if isinstance(scale, (str, bytes)) or not isinstance(scale, (Sequence, np.ndarray)):
        raise TypeError(f"scale: expected a pair (lo, hi) of fractions of the image height, got {type(scale).__name__} {scale!r}")
    if len(scale) != 2:
        raise ValueError(f"scale: expected a pair (lo, hi) of fractions of the image height, got {len(scale)} values {tuple(scale)!r}")
    lo = check_positive_float(scale[0], "scale[0]")
    hi = check_positive_float(scale[1], "scale[1]")
    if not 0.1 <= lo <= hi <= 1.0:
        raise ValueError(f"scale: expected 0.1 <= lo <= hi <= 1.0, got ({lo}, {hi})")
    return lo, hi


# ---------------------------------------------------------------------------------------------
# Placement


def _paste_slices(shape: tuple[int, int], oy: int, ox: int, ch: int, cw: int):
    """Image and canvas slices of a canvas of size (ch, cw) placed at (oy, ox); None if outside."""
    H, W = shape
    y0, x0 = max(oy, 0), max(ox, 0)
    y1, x1 = min(oy + ch, H), min(ox + cw, W)
    if y1 <= y0 or x1 <= x0:
        return None
    return (slice(y0, y1), slice(x0, x1)), (slice(y0 - oy, y1 - oy), slice(x0 - ox, x1 - ox))


def _owner(shape: tuple[int, int], people: list[dict], order: list[int], offsets: np.ndarray) -> np.ndarray:
    """(H, W) int32: index of the person seen at each pixel (-1 background); order is back to front."""
    owner = np.full(shape, -1, np.int32)
    for i in order:
        sl = _paste_slices(shape, int(offsets[i, 0]), int(offsets[i, 1]), *people[i]["mask"].shape)
        if sl is not None:
            img_sl, can_sl = sl
            owner[img_sl][people[i]["mask"][can_sl]] = i
    return owner


# ---------------------------------------------------------------------------------------------
# Public API


def make_scene(
    seed: int = 0,
    height: int = 240,
    width: int = 320,
    n_people: int = 4,
    *,
    overlap: float = 0.5,
    scale: tuple[float, float] = (0.45, 0.95),
    min_visible: float = 0.25,
    score_noise: float = 1.0,
    background: str = "textured",
) -> Scene:
    """Draw a seeded scene of ``n_people`` overlapping people with exact annotations.

    Parameters
    ----------
    seed : int
        Non-negative seed; the same arguments give the same scene, bit for bit.
    height, width : int
        Image size, each in ``[16, 4096]``.
    n_people : int
        Number of people, in ``[0, 64]``.
    overlap : float
        In ``[0, 1]``: the probability that a person is placed next to (and so overlapping) an
        earlier one instead of in a free horizontal slot.  0 spreads people out, 1 makes crowds.
    scale : (lo, hi) floats
        Standing height of each person as a fraction of the image height, drawn uniformly in
        ``[lo, hi]``; ``0.1 <= lo <= hi <= 1``.
    min_visible : float
        In ``[0, 0.9]``: a person whose visible fraction of body (after occlusion and clipping)
        falls below it is moved (a few tries); one still hidden is brought to the front.
    score_noise : float
        In ``[0, 2]``: how imperfect ``score`` is; 0 gives ``score == score_exact``, 1 is a
        realistic segmentation network's output, 2 a poor one.
    background : {"textured", "plain"}
        Smooth noise, floor, wall and random shapes; or one flat colour.

    Returns
    -------
    Scene
        ``image`` (H, W, 3) uint8, ``masks`` (n, H, W) bool, ``keypoints`` (n, 17, 3) float64,
        ``boxes`` (n, 4) float64, ``score`` and ``score_exact`` (H, W) float32, ``depth`` (n,)
        int64; see the module docstring for the conventions.

    Raises
    ------
    TypeError, ValueError
        For an argument of the wrong type or outside its bounds (the message names it).

    Examples
    --------
    >>> scene = make_scene(seed=3, height=120, width=160, n_people=3)
    >>> scene.image.shape, scene.masks.shape, scene.keypoints.shape
    ((120, 160, 3), (3, 120, 160), (3, 17, 3))
    >>> bool((scene.masks.sum(axis=0) <= 1).all())  # visible masks are disjoint
    True
    """
    seed = check_positive_int(seed, "seed", minimum=0)
    H = check_positive_int(height, "height", minimum=MIN_SIZE, maximum=MAX_SIZE)
    W = check_positive_int(width, "width", minimum=MIN_SIZE, maximum=MAX_SIZE)
    n = check_positive_int(n_people, "n_people", minimum=0, maximum=MAX_PEOPLE)
    overlap = _check_unit(overlap, "overlap", 0.0, 1.0)
    lo, hi = _check_scale(scale)
    min_visible = _check_unit(min_visible, "min_visible", 0.0, 0.9)
    score_noise = _check_unit(score_noise, "score_noise", 0.0, 2.0)
    if not isinstance(background, str):
        raise TypeError(f"background: expected a string, got {type(background).__name__} {background!r}")
    check_choice(background, "background", _BACKGROUNDS)

    rng = np.random.default_rng(seed)
    bg, _ = _background(rng, H, W, background)

    people = []
    for _ in range(n):
        app = _sample_appearance(rng)
        body = _sample_body(rng, app["long_hair"])
        h_px = rng.uniform(lo, hi) * H
        people.append(_render_person(rng, body, app, h_px))
        people[-1]["h"] = h_px

    def sample_foot(i: int) -> float:
        extent = people[i]["bottom"] - people[i]["top"]
        lo_f = extent + 0.01 * H  # the head stays inside the image; feet may leave it a little
        return rng.uniform(lo_f, max(lo_f, H + 0.06 * extent))

    xs = np.zeros(n)
    feet = np.zeros(n)
    slots = rng.permutation(n)  # stratified horizontal slots: overlap=0 spreads people out
    for i in range(n):
        feet[i] = sample_foot(i)
        if i > 0 and rng.random() < overlap:  # next to an earlier person
            j = int(rng.integers(i))
            dx = rng.uniform(-1.0, 1.0) * 0.3 * max(people[i]["h"], people[j]["h"])
            xs[i] = np.clip(xs[j] + dx, 0.05 * W, 0.95 * W)
        else:
            xs[i] = 0.05 * W + 0.9 * W * (slots[i] + rng.uniform(0.15, 0.85)) / n

    def offsets_of() -> np.ndarray:
        off = np.zeros((n, 2), np.int64)
        for i, p in enumerate(people):
            off[i, 0] = int(np.round(feet[i] - p["bottom"]))
            off[i, 1] = int(np.round(xs[i] - p["anchor_x"]))
        return off

    areas = np.array([p["area"] for p in people], np.float64)
    order = list(np.argsort(feet, kind="stable")) if n else []
    offsets = offsets_of()
    owner = _owner((H, W), people, order, offsets)
    for _ in range(8):  # move people who are (almost) hidden
        vis = np.bincount(owner.ravel() + 1, minlength=n + 1)[1:] / np.maximum(areas, 1)
        low = np.flatnonzero(vis < min_visible)
        if low.size == 0:
            break
        for i in low:
            xs[i], feet[i] = rng.uniform(0.05, 0.95) * W, sample_foot(int(i))
        order = list(np.argsort(feet, kind="stable"))
        offsets = offsets_of()
        owner = _owner((H, W), people, order, offsets)
    for _ in range(4 * n):  # last resort: bring a hidden person to the front
        vis = np.bincount(owner.ravel() + 1, minlength=n + 1)[1:]
        empty = np.flatnonzero(vis == 0)
        if empty.size == 0:
            break
        i = int(empty[0])
        order.remove(i)
        order.append(i)
        owner = _owner((H, W), people, order, offsets)

    for i in order:  # shadows on the floor, then people back to front
        p = people[i]
        _shadow(bg, float(offsets[i, 1] + p["anchor_x"]), float(offsets[i, 0] + p["bottom"] - 0.01 * p["h"]),
                0.17 * p["h"], 0.025 * p["h"] + 1.0)
    image = bg
    for i in order:
        p = people[i]
        sl = _paste_slices((H, W), int(offsets[i, 0]), int(offsets[i, 1]), *p["mask"].shape)
        if sl is not None:
            img_sl, can_sl = sl
            m = p["mask"][can_sl]
            image[img_sl][m] = p["rgb"][can_sl][m]
    # sensor noise: the difference of two uniform 3-bit integers from one random byte per value
    # (triangular on [-7, 7], standard deviation 3.2), much cheaper than normal draws
    noise = np.frombuffer(rng.bytes(image.size), np.uint8).reshape(image.shape)
    image = np.clip(image, 0.0, 255.0, out=image).astype(np.int16)
    image += noise & 7
    image -= noise >> 5
    image = np.clip(image, 0, 255, out=image).astype(np.uint8)

    masks = owner[None, :, :] == np.arange(n, dtype=np.int32)[:, None, None]
    keypoints = np.zeros((n, 17, 3))
    for i, p in enumerate(people):
        keypoints[i, :, 0] = p["kp"][:, 0] + offsets[i, 1]
        keypoints[i, :, 1] = p["kp"][:, 1] + offsets[i, 0]
    x, y = keypoints[..., 0], keypoints[..., 1]
    inside = (x >= 0) & (x < W) & (y >= 0) & (y < H)
    r = np.clip(np.floor(y), 0, H - 1).astype(np.intp)
    c = np.clip(np.floor(x), 0, W - 1).astype(np.intp)
    own = owner[r, c] == np.arange(n)[:, None]
    keypoints[..., 2] = np.where(inside, np.where(own, 2.0, 1.0), 0.0)

    boxes = np.zeros((n, 4))
    rows_any, cols_any = masks.any(axis=2), masks.any(axis=1)
    for i in np.flatnonzero(rows_any.any(axis=1)):
        r = np.flatnonzero(rows_any[i])
        c = np.flatnonzero(cols_any[i])
        boxes[i] = (c[0], r[0], c[-1] + 1 - c[0], r[-1] + 1 - r[0])
    depth = np.empty(n, np.int64)
    depth[np.asarray(order[::-1], np.int64)] = np.arange(n)
    exact = (owner >= 0).astype(np.float32)
    score = _score(rng, exact, score_noise)
    return Scene(image=image, masks=masks, keypoints=keypoints, boxes=boxes, score=score,
                 score_exact=exact, depth=depth, seed=seed)


def _scene_seeds(n: int, seed: int) -> list[int]:
    # SeedSequence words are prefix-stable: make_scenes(5, s)[:3] == make_scenes(3, s)
    return [int(v) for v in np.random.SeedSequence(seed).generate_state(n, dtype=np.uint64)]


def make_scenes(n: int, seed: int = 0, *, n_people: int | tuple[int, int] = 4, **kwargs: Any) -> list[Scene]:
    """Make ``n`` independent scenes from one seed.

    Parameters
    ----------
    n : int
        Number of scenes (``>= 0``).
    seed : int
        Non-negative seed.  Scene ``k`` uses its own seed (``scenes[k].seed``), derived from
        ``seed`` with ``numpy.random.SeedSequence``; lists from different seeds do not share
        scenes, and a longer list starts with the shorter one.
    n_people : int or (lo, hi) ints
        People per scene, or a range ``lo <= n_people <= hi`` drawn per scene.
    **kwargs
        Passed to :func:`make_scene` (``height``, ``width``, ``overlap``, ``scale``, ...).

    Returns
    -------
    list of Scene

    Examples
    --------
    >>> scenes = make_scenes(3, seed=1, height=64, width=80, n_people=(1, 3))
    >>> len(scenes), all(1 <= s.n_people <= 3 for s in scenes)
    (3, True)
    """
    n = check_positive_int(n, "n", minimum=0)
    seed = check_positive_int(seed, "seed", minimum=0)
    if isinstance(n_people, (tuple, list)):
        if len(n_people) != 2:
            raise ValueError(f"n_people: expected an integer or a pair (lo, hi), got {len(n_people)} values {tuple(n_people)!r}")
        lo = check_positive_int(n_people[0], "n_people[0]", minimum=0, maximum=MAX_PEOPLE)
        hi = check_positive_int(n_people[1], "n_people[1]", minimum=0, maximum=MAX_PEOPLE)
        if lo > hi:
            raise ValueError(f"n_people: expected lo <= hi, got ({lo}, {hi})")
    else:
        lo = hi = check_positive_int(n_people, "n_people", minimum=0, maximum=MAX_PEOPLE)
    scenes = []
    for s in _scene_seeds(n, seed):
        count = lo if lo == hi else int(np.random.default_rng([s, 1]).integers(lo, hi + 1))
        scenes.append(make_scene(s, n_people=count, **kwargs))
    return scenes
