"""Seeded synthetic multi-person scenes with exact masks, COCO-17 keypoints and person scores.

:func:`make_scene` draws ``n_people`` articulated people (head, neck, torso, upper and lower
arms, hands, thighs, shins and feet, of human proportions and thickness) in random poses on a
textured background.  People overlap and occlude each other in a depth order; each one gets its
own skin tone, hair, clothing colours and clothing pattern.  Everything comes back as a
:class:`Scene`:

* ``image`` (H, W, 3) uint8: the rendered picture;
* ``masks`` (n, H, W) bool: the *visible* part of each person (after occlusion and clipping to
  the image), pairwise disjoint;
* ``keypoints`` (n, 17, 3) float64: ``(x, y, v)`` in the conventions of
  :mod:`p2i_prior.skeleton` (COCO order, continuous pixel coordinates: pixel ``(r, c)`` covers
  ``[c, c+1) x [r, r+1)``).  The keypoints are the joints of the drawn body (shoulders at the top
  corners of the torso, elbows where upper and lower arm meet, wrists at the end of the forearm,
  the face points on the head, ...).  ``v = 2`` when the keypoint's pixel belongs to the
  person's own visible mask, ``v = 1`` when another person in front covers it (the pixel is then
  in that person's mask), ``v = 0`` when it lies outside the image (its true, out-of-image
  coordinates are kept here; :func:`to_coco` writes them as 0 the COCO way);
* ``boxes`` (n, 4) float64: COCO ``[x, y, w, h]`` of each visible mask (pixel extents, as
  ``pycocotools.mask.toBbox`` computes them; zeros for an empty mask);
* ``score`` (H, W) float32: a realistic, imperfect person score in [0, 1] (blurred, slightly
  eroded or dilated, noisy union of the masks, with a few false positives on the background and
  a few weak spots on people), ``score_exact`` (H, W) float32 the exact 0/1 union;
* ``depth`` (n,) int64: the depth rank of each person, 0 = nearest the camera (drawn last);
* ``seed``: the seed that regenerates this scene with :func:`make_scene`.

People are seen from the front, from the side or (less often) from behind; for a person seen
from behind the face keypoints are the projections of where nose, eyes and ears are on the head
(so they still lie inside the head), and left/right follow the person, not the image, as in
COCO.  Each person is placed so that at least ``min_visible`` of their body stays visible when
a placement allowing it is found within a few tries; a person that would still be entirely hidden
is brought to the front.  Every person's pelvis and head are inside the image, and every person
has a non-empty mask unless the image cannot show them all (dozens of people in a tiny image).

Bounds (``ValueError`` outside them): ``16 <= height, width <= 4096``, ``0 <= n_people <= 64``,
``0 <= overlap <= 1``, ``scale = (lo, hi)`` with ``0.1 <= lo <= hi <= 1``,
``0 <= min_visible <= 0.9``, ``0 <= score_noise <= 2``.

Drawing is vectorised numpy (distance-to-segment capsules, tapered boxes and ellipses evaluated
on each part's bounding box); a 640x480 scene with 5 people takes a few tens of milliseconds.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from ._util import check_choice, check_positive_float, check_positive_int
from .skeleton import COCO_KEYPOINTS, COCO_SKELETON

__all__ = ["Scene", "make_scene", "make_scenes", "to_coco", "write_coco"]

MIN_SIZE = 16
MAX_SIZE = 4096
MAX_PEOPLE = 64
_BACKGROUNDS = ("textured", "plain")

# ---------------------------------------------------------------------------------------------
# The scene container


@dataclass(frozen=True, eq=False, repr=False)
class Scene:
    """One synthetic scene: image, visible masks, keypoints, boxes and person scores.

    Attributes
    ----------
    image : (H, W, 3) uint8 array
        The rendered picture.
    masks : (n, H, W) bool array
        Visible part of each person (after occlusion), pairwise disjoint.
    keypoints : (n, 17, 3) float64 array
        COCO-17 ``(x, y, v)``, see the module docstring.
    boxes : (n, 4) float64 array
        COCO ``[x, y, w, h]`` of each visible mask.
    score : (H, W) float32 array
        Imperfect person score in [0, 1].
    score_exact : (H, W) float32 array
        Exact union of the masks (0 or 1).
    depth : (n,) int64 array
        Depth rank of each person, 0 = nearest the camera.
    seed : int
        ``make_scene(seed=scene.seed, ...)`` with the same other arguments regenerates it.

    The dataclass is frozen (attributes cannot be rebound); the arrays themselves stay writable so
    they can be handed to torch without copies or warnings.
    """

    image: np.ndarray
    masks: np.ndarray
    keypoints: np.ndarray
    boxes: np.ndarray
    score: np.ndarray
    score_exact: np.ndarray
    depth: np.ndarray
    seed: int

    @property
    def n_people(self) -> int:
        """Number of people ``n``."""
        return int(self.masks.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """Image size ``(H, W)``."""
        return int(self.image.shape[0]), int(self.image.shape[1])

    @property
    def labels(self) -> np.ndarray:
        """(H, W) int32 label image: 0 background, ``i + 1`` for person ``i``."""
        lab = np.zeros(self.shape, np.int32)
        for i in range(self.n_people):
            lab[self.masks[i]] = i + 1
        return lab

    def __repr__(self) -> str:
        H, W = self.shape
        return f"Scene(seed={self.seed}, shape=({H}, {W}), n_people={self.n_people})"


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
# Body model (body units: standing height 1, image axes x right / y down, origin at the pelvis)

_SKIN = np.array([(255, 221, 190), (240, 195, 160), (225, 175, 135), (200, 140, 100),
                  (165, 110, 75), (125, 80, 55), (90, 60, 42)], np.float32)
_HAIR = np.array([(25, 20, 18), (55, 38, 28), (100, 68, 42), (165, 125, 80), (215, 190, 135),
                  (150, 148, 145), (130, 55, 28)], np.float32)
_PANTS = np.array([(48, 66, 112), (32, 32, 38), (165, 145, 105), (95, 95, 100), (85, 62, 45),
                   (70, 90, 60), (120, 30, 40)], np.float32)
_SHOES = np.array([(30, 28, 26), (70, 50, 35), (225, 225, 220), (60, 60, 65)], np.float32)

# Unit-sphere points of the face, in the person's frame (X = person's left, Y up, Z forward).
_FACE3D = np.array([
    (0.0, -0.15, 0.98),    # nose
    (0.33, 0.18, 0.92),    # left eye
    (-0.33, 0.18, 0.92),   # right eye
    (0.97, 0.05, -0.10),   # left ear
    (-0.97, 0.05, -0.10),  # right ear
])
_MOUTH3D = np.array([(0.2, -0.5, 0.82), (-0.2, -0.5, 0.82)])


def _dir(phi: float) -> np.ndarray:
    """Unit direction at angle ``phi`` (radians) from straight down, positive towards +x."""
    return np.array([np.sin(phi), np.cos(phi)])


def _hsv(rng: np.random.Generator, s: tuple[float, float], v: tuple[float, float]) -> np.ndarray:
    import colorsys

    rgb = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*s), rng.uniform(*v))
    return np.array(rgb, np.float32) * 255


def _jitter(rng: np.random.Generator, palette: np.ndarray, amount: float = 10.0) -> np.ndarray:
    c = palette[rng.integers(len(palette))] + rng.normal(0.0, amount, 3)
    return np.clip(c, 0, 255).astype(np.float32)


def _sample_appearance(rng: np.random.Generator) -> dict:
    shirt = _hsv(rng, (0.25, 0.9), (0.35, 0.95))
    if rng.random() < 0.2:  # white, grey or black shirts
        shirt = np.full(3, rng.choice([235.0, 130.0, 35.0]), np.float32) + rng.normal(0, 5, 3).astype(np.float32)
    shirt2 = _hsv(rng, (0.1, 0.9), (0.2, 1.0))
    pants = _jitter(rng, _PANTS, 12) if rng.random() < 0.8 else _hsv(rng, (0.2, 0.8), (0.2, 0.7))
    u = rng.random()
    pattern = "plain" if u < 0.4 else "stripes" if u < 0.7 else "checks" if u < 0.85 else "speckle"
    return {
        "skin": _jitter(rng, _SKIN, 8),
        "hair": _jitter(rng, _HAIR, 8),
        "shirt": np.clip(shirt, 0, 255),
        "shirt2": shirt2,
        "pants": pants,
        "shoe": _jitter(rng, _SHOES, 8),
        "pattern": pattern,
        "period": rng.uniform(0.025, 0.06),  # stripe period, in body units
        "phase": rng.uniform(0, 2 * np.pi),
        "long_sleeves": rng.random() < 0.45,
        "shorts": rng.random() < 0.25,
        "long_hair": rng.random() < 0.3,
    }


def _sample_body(rng: np.random.Generator, long_hair: bool) -> dict:
    """Random pose and build; returns joints and drawing primitives in body units."""
    u = rng.random()
    if u < 0.55:
        yaw = rng.uniform(-35, 35)
    elif u < 0.85:
        yaw = rng.choice([-1.0, 1.0]) * rng.uniform(35, 100)
    else:
        yaw = 180 + rng.uniform(-40, 40)
    yaw = np.deg2rad(yaw)
    c, s = np.cos(yaw), np.sin(yaw)
    face_x = float(np.sign(s)) if abs(s) > 0.3 else 0.0  # image direction the person faces
    side_view = abs(c) < 0.4

    lean = np.deg2rad(np.clip(rng.normal(0, 5), -15, 15))
    if rng.random() < 0.08:
        lean = np.deg2rad(rng.choice([-1.0, 1.0]) * rng.uniform(15, 35))
    tilt = np.deg2rad(np.clip(rng.normal(0, 7), -20, 20))
    build = rng.uniform(0.88, 1.15)
    limb = rng.uniform(0.95, 1.05)

    up = np.array([np.sin(lean), -np.cos(lean)])
    right = np.array([np.cos(lean), np.sin(lean)])
    pelvis = np.zeros(2)
    L_torso = 0.29 * rng.uniform(0.95, 1.05)
    neck = pelvis + L_torso * up
    head_up = np.array([np.sin(lean + tilt), -np.cos(lean + tilt)])
    head_right = np.array([np.cos(lean + tilt), np.sin(lean + tilt)])
    head_c = neck + 0.092 * head_up
    hsz = rng.uniform(0.95, 1.07)
    rx, ry = 0.05 * hsz, 0.063 * hsz

    sw, hw = 0.115 * build, 0.085 * build
    kp = np.zeros((17, 2))
    # face: orthographic projection of the unit-sphere points, shrunk to stay inside the head
    X, Y, Z = _FACE3D.T
    xp, zp = X * c + Z * s, -X * s + Z * c
    kp[0:5] = head_c + 0.9 * (xp[:, None] * rx * head_right + Y[:, None] * ry * head_up)
    face_toward = zp[1:3].min() > 0.25  # both eyes towards the camera: draw eyes and mouth
    Xm, Ym, Zm = _MOUTH3D.T
    mouth = head_c + 0.9 * ((Xm * c + Zm * s)[:, None] * rx * head_right + Ym[:, None] * ry * head_up)

    parts: list[dict] = []
    # torso (tapered box from a bit below the pelvis to the neck) and its rounded edges
    wt = 0.125 * build * np.hypot(c, 0.55 * s)
    wb = 0.11 * build * np.hypot(c, 0.6 * s)
    base = pelvis - 0.03 * up
    parts.append(dict(kind="torso", z=1.0, p0=base, up=up, right=right, length=L_torso + 0.03,
                      r0=wb, r1=wt, mat=("pants", "shirt"), split=0.2))
    for X_side, i_sh, i_hip in ((1.0, 5, 11), (-1.0, 6, 12)):  # person's left (X > 0), right
        kp[i_sh] = neck - 0.012 * up + sw * X_side * c * right
        kp[i_hip] = pelvis + hw * X_side * c * right
    parts.append(dict(kind="cap", z=1.1, a=kp[5], b=kp[6], ra=0.036 * build, rb=0.036 * build,
                      mat=("shirt", "shirt"), split=1.0))
    parts.append(dict(kind="cap", z=0.9, a=kp[11], b=kp[12], ra=0.055 * build, rb=0.055 * build,
                      mat=("pants", "pants"), split=1.0))
    parts.append(dict(kind="cap", z=2.0, a=neck - 0.02 * up, b=head_c, ra=0.03 * build,
                      rb=0.028 * build, mat=("skin", "skin"), split=1.0))
    parts.append(dict(kind="head", z=3.0, c=head_c, up=head_up, right=head_right, rx=rx, ry=ry,
                      cos=c, sin=s))
    if face_toward:
        for e in (kp[1], kp[2]):
            parts.append(dict(kind="cap", z=3.1, a=e, b=e, ra=0.0085, rb=0.0085,
                              mat=("eye", "eye"), split=1.0, nomask=True))
        parts.append(dict(kind="cap", z=3.1, a=mouth[0], b=mouth[1], ra=0.006, rb=0.006,
                          mat=("mouth", "mouth"), split=1.0, nomask=True))

    arm_swing = rng.uniform(-1, 1)
    for X_side, (i_sh, i_el, i_wr) in ((1.0, (5, 7, 9)), (-1.0, (6, 8, 10))):
        side = X_side * c
        far = X_side * s > 0.35  # this side of the body faces away from the camera
        out = float(np.sign(side)) if abs(c) >= 0.3 else float(rng.choice([-1.0, 1.0]))
        if side_view:
            a = np.rad2deg(X_side * arm_swing) * 0.6 + rng.uniform(-15, 15)
        else:
            v = rng.random()
            a = rng.uniform(4, 35) if v < 0.65 else rng.uniform(35, 165) if v < 0.85 else rng.uniform(-20, 4)
        phi_u = lean + out * np.deg2rad(a)
        f1 = 1.0 if rng.random() < 0.7 else rng.uniform(0.6, 1.0)
        kp[i_el] = kp[i_sh] + 0.165 * limb * f1 * _dir(phi_u)
        e = rng.uniform(0, 25) if rng.random() < 0.5 else rng.uniform(25, 135)
        k = -out if rng.random() < 0.7 else out
        phi_f = phi_u + k * np.deg2rad(e)
        f2 = 1.0 if rng.random() < 0.7 else rng.uniform(0.6, 1.0)
        kp[i_wr] = kp[i_el] + 0.145 * limb * f2 * _dir(phi_f)
        hand_end = kp[i_wr] + 0.06 * _dir(phi_f + np.deg2rad(rng.uniform(-25, 25)))
        z = -1.0 if far else 4.0
        parts.append(dict(kind="cap", z=z, a=kp[i_sh], b=kp[i_el], ra=0.031 * build,
                          rb=0.025 * build, mat=("shirt", "upper_arm_low"), split=0.55))
        parts.append(dict(kind="cap", z=z + 0.01, a=kp[i_el], b=kp[i_wr], ra=0.024 * build,
                          rb=0.019 * build, mat=("forearm", "forearm"), split=1.0))
        parts.append(dict(kind="cap", z=z + 0.02, a=kp[i_wr], b=hand_end, ra=0.019, rb=0.017,
                          mat=("skin", "skin"), split=1.0))

    stride = rng.uniform(0, 30)
    for n_leg, (X_side, (i_hip, i_kn, i_an)) in enumerate(((1.0, (11, 13, 15)), (-1.0, (12, 14, 16)))):
        side = X_side * c
        far = X_side * s > 0.35
        out = float(np.sign(side)) if abs(c) >= 0.3 else (1.0 if n_leg == 0 else -1.0)
        if side_view:
            forward = n_leg == 0
            phi_t = np.deg2rad(face_x * stride if forward else -face_x * stride * rng.uniform(0.5, 1.0))
            kappa = rng.uniform(0, 20) if forward else rng.uniform(0, 50)
            phi_s = phi_t - face_x * np.deg2rad(kappa)
        else:
            g = rng.uniform(-4, 14) if rng.random() < 0.85 else rng.uniform(14, 35)
            phi_t = out * np.deg2rad(g)
            kappa = rng.uniform(0, 12) if rng.random() < 0.75 else rng.uniform(12, 60)
            k = -out if rng.random() < 0.6 else out
            phi_s = phi_t + k * np.deg2rad(kappa)
        f = 1.0 if rng.random() < 0.85 else rng.uniform(0.75, 1.0)
        kp[i_kn] = kp[i_hip] + 0.245 * limb * f * _dir(phi_t)
        kp[i_an] = kp[i_kn] + 0.245 * limb * _dir(phi_s)
        foot_dir = np.array([face_x * 0.1 * abs(s) + out * 0.015 * abs(c), 0.03])
        toe = kp[i_an] + foot_dir
        z = 0.0 if not far else -0.5
        parts.append(dict(kind="cap", z=z, a=kp[i_hip], b=kp[i_kn], ra=0.052 * build,
                          rb=0.038 * build, mat=("pants", "thigh_low"), split=0.6))
        parts.append(dict(kind="cap", z=z + 0.01, a=kp[i_kn], b=kp[i_an], ra=0.037 * build,
                          rb=0.027 * build, mat=("shin", "shin"), split=1.0))
        parts.append(dict(kind="cap", z=z + 0.02, a=kp[i_an] - 0.01 * foot_dir, b=toe, ra=0.024,
                          rb=0.022, mat=("shoe", "shoe"), split=1.0))

    if long_hair:  # hangs behind the neck: behind the torso, or over it when seen from behind
        parts.append(dict(kind="cap", z=1.05 if c < 0 else 0.95, a=head_c, b=head_c - 0.14 * head_up,
                          ra=0.052 * hsz, rb=0.048 * hsz, mat=("hair", "hair"), split=1.0))
    return {"kp": kp, "parts": parts}


# ---------------------------------------------------------------------------------------------
# Rendering one person into its own canvas


def _materials(app: dict) -> dict:
    skin, shirt, pants = app["skin"], app["shirt"], app["pants"]
    return {
        "skin": skin,
        "shirt": shirt,
        "pants": pants,
        "shoe": app["shoe"],
        "hair": app["hair"],
        "eye": np.array((35, 28, 28), np.float32),
        "mouth": np.clip(skin * np.array((0.75, 0.45, 0.45), np.float32), 0, 255),
        "upper_arm_low": shirt if app["long_sleeves"] else skin,
        "forearm": shirt if app["long_sleeves"] else skin,
        "thigh_low": skin if app["shorts"] else pants,
        "shin": skin if app["shorts"] else pants,
    }


def _scale_part(p: dict, h: float, shift: tuple[float, float]) -> dict:
    """Body units to canvas pixels, as Python floats (so float32 arrays stay float32).

    Radii are at least one pixel, so every joint's own pixel is drawn.
    """
    q = dict(p)
    floor = 0.5 if p.get("nomask") else 1.0

    def pt(v: np.ndarray) -> tuple[float, float]:
        return float(v[0]) * h + shift[0], float(v[1]) * h + shift[1]

    def vec(v: np.ndarray) -> tuple[float, float]:
        return float(v[0]), float(v[1])

    if p["kind"] == "cap":
        q["a"], q["b"] = pt(p["a"]), pt(p["b"])
        q["ra"], q["rb"] = max(float(p["ra"]) * h, floor), max(float(p["rb"]) * h, floor)
    elif p["kind"] == "torso":
        q["p0"], q["up"], q["right"] = pt(p["p0"]), vec(p["up"]), vec(p["right"])
        q["length"] = float(p["length"]) * h
        q["r0"], q["r1"] = max(float(p["r0"]) * h, 1.0), max(float(p["r1"]) * h, 1.0)
    else:  # head
        q["c"], q["up"], q["right"] = pt(p["c"]), vec(p["up"]), vec(p["right"])
        q["rx"], q["ry"] = max(float(p["rx"]) * h, 1.5), max(float(p["ry"]) * h, 1.5)
        q["cos"], q["sin"] = float(p["cos"]), float(p["sin"])
    return q


def _extent(p: dict) -> tuple[float, float, float, float]:
    """Bounding box ``(x0, y0, x1, y1)`` of a scaled part."""
    if p["kind"] == "cap":
        r = max(p["ra"], p["rb"])
        (ax, ay), (bx, by) = p["a"], p["b"]
        return min(ax, bx) - r, min(ay, by) - r, max(ax, bx) + r, max(ay, by) + r
    if p["kind"] == "torso":
        (x, y), (ux, uy), (rx, ry), L = p["p0"], p["up"], p["right"], p["length"]
        xs = [x + s * p["r0"] * rx for s in (-1, 1)] + [x + L * ux + s * p["r1"] * rx for s in (-1, 1)]
        ys = [y + s * p["r0"] * ry for s in (-1, 1)] + [y + L * uy + s * p["r1"] * ry for s in (-1, 1)]
        return min(xs), min(ys), max(xs), max(ys)
    r = max(p["rx"], p["ry"])
    return p["c"][0] - r, p["c"][1] - r, p["c"][0] + r, p["c"][1] + r


def _part_fields(p: dict, xs: np.ndarray, ys: np.ndarray):
    """Inside mask, normalised radial distance q, axis fraction t, along/across coordinates."""
    if p["kind"] == "cap":
        ax, ay = p["a"]
        dx, dy = p["b"][0] - ax, p["b"][1] - ay
        px, py = xs - ax, ys - ay
        L2 = dx * dx + dy * dy
        if L2 > 1e-12:
            t = np.clip((px * dx + py * dy) / L2, 0.0, 1.0)
            L = np.sqrt(L2)
            across = (px * dy - py * dx) / L
        else:
            t = np.zeros(np.broadcast_shapes(px.shape, py.shape), np.float32)
            L, across = 0.0, px + 0 * py
        ex, ey = px - t * dx, py - t * dy
        d = np.sqrt(ex * ex + ey * ey)
        r = p["ra"] + t * (p["rb"] - p["ra"])
        return d <= r, d / r, t, t * L, across
    # torso
    px, py = xs - p["p0"][0], ys - p["p0"][1]
    u = px * p["up"][0] + py * p["up"][1]
    w = px * p["right"][0] + py * p["right"][1]
    t = np.clip(u / p["length"], 0.0, 1.0)
    r = p["r0"] + t * (p["r1"] - p["r0"])
    aw = np.abs(w)
    return (u >= 0) & (u <= p["length"]) & (aw <= r), aw / r, t, u, w


def _pattern(app: dict, col: np.ndarray, along: np.ndarray, across: np.ndarray, h: float,
             rng: np.random.Generator) -> np.ndarray:
    kind = app["pattern"]
    if kind == "plain":
        return col
    period = max(app["period"] * h, 3.0)
    if kind == "stripes":
        on = np.sin(2 * np.pi * along / period + app["phase"]) > 0.2
        return np.where(on[:, None], app["shirt2"], col)
    if kind == "checks":
        on = (np.sin(2 * np.pi * along / period) > 0) ^ (np.sin(2 * np.pi * across / period) > 0)
        return np.where(on[:, None], 0.5 * (col + app["shirt2"]), col)
    return col * (1.0 + 0.18 * rng.standard_normal((col.shape[0], 1)).astype(np.float32))


def _render_person(rng: np.random.Generator, body: dict, app: dict, h: float) -> dict:
    """Draw one person in a canvas of its own: mask, colours, keypoints, anchor points."""
    mats = _materials(app)
    margin = 2.0
    ext = np.array([_extent(_scale_part(p, h, (0.0, 0.0))) for p in body["parts"]])
    lo, hi = ext[:, :2].min(axis=0), ext[:, 2:].max(axis=0)
    shift = -lo + margin + rng.random(2)  # a random sub-pixel position
    parts = [_scale_part(p, h, (float(shift[0]), float(shift[1]))) for p in body["parts"]]
    cw, ch = (int(np.ceil(v)) for v in hi + shift + margin)
    mask = np.zeros((ch, cw), bool)
    rgb = np.zeros((ch, cw, 3), np.float32)
    for p in sorted(parts, key=lambda p: p["z"]):
        ex0, ey0, ex1, ey1 = _extent(p)
        x0, y0 = max(int(np.floor(ex0)), 0), max(int(np.floor(ey0)), 0)
        x1, y1 = min(int(np.ceil(ex1)) + 1, cw), min(int(np.ceil(ey1)) + 1, ch)
        if x1 <= x0 or y1 <= y0:
            continue
        xs = (np.arange(x0, x1, dtype=np.float32) + 0.5)[None, :]
        ys = (np.arange(y0, y1, dtype=np.float32) + 0.5)[:, None]
        if p["kind"] == "head":
            inside, col = _head_colours(p, xs, ys, mats)
        else:
            inside, q, t, along, across = _part_fields(p, xs, ys)
            if not inside.any():
                continue
            q, t, along, across = q[inside], t[inside], along[inside], across[inside]
            m0, m1 = p["mat"]
            col = np.where((t < p["split"])[:, None], mats[m0], mats[m1])
            shirt0, shirt1 = mats[m0] is mats["shirt"], mats[m1] is mats["shirt"]
            if shirt0 or shirt1:  # the shirt's pattern follows the part's own axes
                shirt = np.where(t < p["split"], shirt0, shirt1)
                patterned = _pattern(app, col, along, across, h, rng)
                col = np.where(shirt[:, None], patterned, col)
            col = col * (0.68 + 0.32 * np.sqrt(np.clip(1.0 - q * q, 0.0, 1.0)))[:, None]
        view = rgb[y0:y1, x0:x1]
        view[inside] = col
        if not p.get("nomask"):
            mask[y0:y1, x0:x1] |= inside
    kp = body["kp"] * h + shift
    # every joint's own pixel belongs to the body (radii >= 1 px make this so; kept as a guard)
    r = np.clip(np.floor(kp[:, 1]).astype(np.int64), 0, ch - 1)
    c = np.clip(np.floor(kp[:, 0]).astype(np.int64), 0, cw - 1)
    missing = ~mask[r, c]
    if missing.any():
        mask[r[missing], c[missing]] = True
        rgb[r[missing], c[missing]] = mats["skin"]
    rows = np.flatnonzero(mask.any(axis=1))
    return {"mask": mask, "rgb": rgb, "kp": kp, "anchor_x": float(shift[0]),
            "top": int(rows[0]), "bottom": int(rows[-1]) + 1, "area": int(mask.sum())}


def _head_colours(p: dict, xs: np.ndarray, ys: np.ndarray, mats: dict):
    px, py = xs - p["c"][0], ys - p["c"][1]
    a = (px * p["right"][0] + py * p["right"][1]) / p["rx"]
    b = -(px * p["up"][0] + py * p["up"][1]) / p["ry"]
    rr = a * a + b * b
    inside = rr <= 1.0
    a, b, rr = a[inside], b[inside], rr[inside]
    zc = np.sqrt(np.clip(1.0 - rr, 0.0, 1.0))  # the visible hemisphere, towards the camera
    forward = a * p["sin"] + zc * p["cos"]  # Z of the person's frame: > 0 on the face side
    face = (forward > 0.1) & (b > -0.4)
    col = np.where(face[:, None], mats["skin"], mats["hair"])
    col = col * (0.72 + 0.28 * zc)[:, None]
    return inside, col


# ---------------------------------------------------------------------------------------------
# Background, placement, score


def _smooth_noise(rng: np.random.Generator, H: int, W: int, cell: float) -> np.ndarray:
    """(H, W) float32 smooth value noise of unit amplitude, features about ``cell`` pixels wide.

    Gaussian values on a coarse grid of spacing ``cell``, interpolated separably and linearly
    (first along x on the coarse rows, then along y by whole rows): a few gathers, no BLAS.
    """
    cell = max(float(cell), 2.0)
    grid = rng.standard_normal((int(H / cell) + 3, int(W / cell) + 3), dtype=np.float32)

    def weights(n: int) -> tuple[np.ndarray, np.ndarray]:
        pos = (np.arange(n, dtype=np.float32) + 0.5) / np.float32(cell) + np.float32(rng.random())
        i0 = pos.astype(np.intp)
        return i0, pos - np.floor(pos)  # float32 weights (pos - i0 would be float64)

    iy, wy = weights(H)
    ix, wx = weights(W)
    rows = grid[:, ix] * (1.0 - wx) + grid[:, ix + 1] * wx  # (gh, W): cheap
    out = rows[iy]  # whole-row gathers run at memory speed
    out *= (1.0 - wy)[:, None]
    out += rows[iy + 1] * wy[:, None]
    return out * np.float32(1.5)  # linear interpolation keeps 4/9 of the variance on average


def _background(rng: np.random.Generator, H: int, W: int, kind: str) -> tuple[np.ndarray, float]:
    from skimage import draw

    horizon = rng.uniform(0.3, 0.65) * H
    wall = _hsv(rng, (0.05, 0.45), (0.45, 0.9))
    if kind == "plain":
        return np.broadcast_to(wall, (H, W, 3)).astype(np.float32), horizon
    floor = _hsv(rng, (0.05, 0.4), (0.3, 0.7))
    y = np.arange(H, dtype=np.float32)[:, None]
    below = np.clip((y - horizon) / max(H - horizon, 1.0), 0.0, 1.0)
    bg = np.where((y < horizon)[..., None], wall, floor * (0.85 + 0.3 * below)[..., None])
    bg = np.broadcast_to(bg, (H, W, 3)).copy()
    size = min(H, W)
    for _ in range(int(rng.integers(3, 9))):
        col = _hsv(rng, (0.05, 0.8), (0.15, 0.95))
        v = rng.random()
        if v < 0.5:  # furniture, doors, buildings standing on the floor; windows above
            w = rng.uniform(0.05, 0.35) * W
            x0 = rng.uniform(-0.1, 1.0) * W
            top = rng.uniform(0.0, 0.9) * horizon
            bottom = horizon + rng.uniform(-0.05, 0.1) * H if rng.random() < 0.6 else top + rng.uniform(0.05, 0.3) * H
            ys0, ys1 = max(int(top), 0), min(int(max(bottom, top + 2)), H)
            bg[ys0:ys1, max(int(x0), 0):max(int(x0 + w), 0)] = col
            continue
        elif v < 0.8:  # bushes, balls, lamps
            rr, cc = draw.ellipse(rng.uniform(0, H), rng.uniform(0, W), rng.uniform(0.03, 0.2) * size,
                                  rng.uniform(0.03, 0.25) * size, shape=(H, W),
                                  rotation=rng.uniform(-np.pi, np.pi))
        else:  # triangles and other polygons
            k = int(rng.integers(3, 6))
            cy, cx = rng.uniform(0, H), rng.uniform(0, W)
            rad = rng.uniform(0.05, 0.25) * size
            ang = np.sort(rng.uniform(0, 2 * np.pi, k))
            rr, cc = draw.polygon(cy + rad * np.sin(ang), cx + rad * np.cos(ang), shape=(H, W))
        bg[np.asarray(rr, np.intp), np.asarray(cc, np.intp)] = col
    light = 1.0 + 0.12 * _smooth_noise(rng, H, W, max(size // 5, 4)) + 0.05 * _smooth_noise(rng, H, W, 6)
    bg *= light[..., None]
    return bg, horizon


def _shadow(bg: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> None:
    """Darken a soft ellipse of the background in place (a person's shadow on the floor)."""
    H, W = bg.shape[:2]
    x0, x1 = max(int(cx - rx), 0), min(int(cx + rx) + 1, W)
    y0, y1 = max(int(cy - ry), 0), min(int(cy + ry) + 1, H)
    if x1 <= x0 or y1 <= y0:
        return
    xs = (np.arange(x0, x1, dtype=np.float32) + 0.5 - cx)[None, :] / rx
    ys = (np.arange(y0, y1, dtype=np.float32) + 0.5 - cy)[:, None] / ry
    f = 1.0 - 0.35 * np.clip(1.0 - (xs * xs + ys * ys), 0.0, 1.0)
    bg[y0:y1, x0:x1] *= f[..., None]


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


def _blob(field: np.ndarray, cy: float, cx: float, sy: float, sx: float, amp: float) -> None:
    """Add an axis-aligned Gaussian bump to ``field`` in place (evaluated on +-3 sigma)."""
    H, W = field.shape
    x0, x1 = max(int(cx - 3 * sx), 0), min(int(cx + 3 * sx) + 1, W)
    y0, y1 = max(int(cy - 3 * sy), 0), min(int(cy + 3 * sy) + 1, H)
    if x1 <= x0 or y1 <= y0:
        return
    xs = ((np.arange(x0, x1, dtype=np.float32) + 0.5 - cx) / sx)[None, :]
    ys = ((np.arange(y0, y1, dtype=np.float32) + 0.5 - cy) / sy)[:, None]
    field[y0:y1, x0:x1] += amp * np.exp(-0.5 * (xs * xs + ys * ys))


def _score(rng: np.random.Generator, exact: np.ndarray, noise: float) -> np.ndarray:
    """Imperfect person score: blurred, eroded or dilated, noisy, with false positives."""
    from scipy.ndimage import gaussian_filter

    if noise == 0.0:
        return exact.copy()
    H, W = exact.shape
    size = min(H, W)
    sigma = noise * rng.uniform(0.8, 2.0) * max(1.0, size / 240)
    field = gaussian_filter(exact, sigma, truncate=3.0)
    field += 0.1 * noise * _smooth_noise(rng, H, W, max(size // 8, 4))
    amp_scale = min(noise, 1.0)
    for _ in range(int(rng.poisson(1.5 * noise)) + 1):  # false positives on the background
        s = rng.uniform(0.02, 0.08) * size
        _blob(field, rng.uniform(0, H), rng.uniform(0, W), s * rng.uniform(0.5, 2.0), s,
              rng.uniform(0.4, 0.9) * amp_scale)
    ys, xs = np.nonzero(exact)
    if ys.size:
        for _ in range(int(rng.poisson(1.0 * noise))):  # weak spots on people
            k = int(rng.integers(ys.size))
            s = rng.uniform(0.01, 0.04) * size
            _blob(field, ys[k] + 0.5, xs[k] + 0.5, s, s, -rng.uniform(0.3, 0.7) * amp_scale)
    threshold = 0.5 + noise * rng.uniform(-0.12, 0.12)  # < 0.5 dilates, > 0.5 erodes
    z = field - np.float32(threshold)
    z += np.float32(0.05 * noise) * (rng.random((H, W), dtype=np.float32) - np.float32(0.5))  # pixel noise
    z *= np.float32(-10.0)
    np.exp(z, out=z)
    z += np.float32(1.0)
    return np.reciprocal(z, out=z)  # sigmoid(10 (field - threshold))


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


def _check_scenes(scenes: Any) -> list[Scene]:
    if isinstance(scenes, Scene):
        return [scenes]
    if isinstance(scenes, (str, bytes)) or not isinstance(scenes, Iterable):
        raise TypeError(f"scenes: expected a Scene or a sequence of Scenes, got {type(scenes).__name__}")
    scenes = list(scenes)
    for k, s in enumerate(scenes):
        if not isinstance(s, Scene):
            raise TypeError(f"scenes: expected a sequence of Scenes, got {type(s).__name__} at index {k}")
    return scenes


def _categories() -> list[dict]:
    return [{
        "supercategory": "person",
        "id": 1,
        "name": "person",
        "keypoints": list(COCO_KEYPOINTS),
        "skeleton": [[a + 1, b + 1] for a, b in COCO_SKELETON],
    }]


def to_coco(scenes: Scene | Sequence[Scene], image_dir: str | os.PathLike | None = None,
            start_id: int = 1) -> dict:
    """Export scenes as a COCO person-keypoints dataset (a json-ready dict).

    Parameters
    ----------
    scenes : Scene or sequence of Scene
        The scenes, in image-id order.
    image_dir : path, optional
        If given, each image is written there as PNG under its ``file_name`` (the directory is
        created if needed).
    start_id : int
        Id of the first image and of the first annotation (``>= 1``; ids then count up).

    Returns
    -------
    dict
        ``info``, ``licenses``, ``images`` (``id``, ``file_name`` = ``"{id:012d}.png"``,
        ``height``, ``width``), ``annotations`` (``id``, ``image_id``, ``category_id`` 1,
        ``segmentation`` as compressed RLE with a str ``counts``, ``area``, ``bbox`` [x, y, w, h],
        ``keypoints`` (51 numbers: x, y, v; ``x = y = 0`` where ``v == 0``), ``num_keypoints``,
        ``iscrowd`` 0) and ``categories`` (person, the 17 keypoint names and the 1-based
        skeleton).  People with an empty visible mask (none, unless the scene is degenerate) get
        no annotation, as COCO has no annotation without a segment.

    Examples
    --------
    >>> data = to_coco(make_scenes(2, seed=0, height=48, width=64, n_people=2))
    >>> len(data["images"]), len(data["annotations"]), data["annotations"][0]["category_id"]
    (2, 4, 1)
    """
    from pycocotools import mask as mask_util

    scenes = _check_scenes(scenes)
    start_id = check_positive_int(start_id, "start_id", minimum=1)
    if image_dir is not None:
        if not isinstance(image_dir, (str, os.PathLike)):
            raise TypeError(f"image_dir: expected a path or None, got {type(image_dir).__name__} {image_dir!r}")
        os.makedirs(image_dir, exist_ok=True)
    images, annotations = [], []
    ann_id = start_id
    for k, scene in enumerate(scenes):
        image_id = start_id + k
        H, W = scene.shape
        file_name = f"{image_id:012d}.png"
        images.append({"id": image_id, "file_name": file_name, "height": H, "width": W,
                       "seed": scene.seed})
        if image_dir is not None:
            from PIL import Image

            Image.fromarray(scene.image).save(os.path.join(os.fspath(image_dir), file_name))
        for i in range(scene.n_people):
            m = scene.masks[i]
            if not m.any():
                continue
            rle = mask_util.encode(np.asfortranarray(m, dtype=np.uint8))
            rle["counts"] = rle["counts"].decode("ascii")
            kp = scene.keypoints[i]
            flat: list[float | int] = []
            for x, y, v in kp:
                flat += [float(x), float(y), 2] if v == 2 else [float(x), float(y), 1] if v == 1 else [0, 0, 0]
            annotations.append({
                "id": ann_id,
                "image_id": image_id,
                "category_id": 1,
                "segmentation": rle,
                "area": int(m.sum()),
                "bbox": [float(b) for b in scene.boxes[i]],
                "keypoints": flat,
                "num_keypoints": int((kp[:, 2] > 0).sum()),
                "iscrowd": 0,
            })
            ann_id += 1
    return {
        "info": {"description": "pose2instance synthetic people (p2i_prior.synthetic)",
                 "version": "1.0"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": _categories(),
    }


def write_coco(scenes: Scene | Sequence[Scene], directory: str | os.PathLike, start_id: int = 1) -> str:
    """Write scenes as a COCO dataset: ``directory/images/*.png`` and ``directory/annotations.json``.

    The layout is that of ``/work/shared/data/coco_persons``, so COCO loaders
    (``pycocotools.coco.COCO``, :mod:`p2i_prior.coco`) read it as they read real data.

    Parameters
    ----------
    scenes : Scene or sequence of Scene
        The scenes.
    directory : path
        Output directory (created if needed; existing files of the same names are replaced).
    start_id : int
        First image and annotation id, see :func:`to_coco`.

    Returns
    -------
    str
        The path of ``annotations.json``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = write_coco(make_scenes(2, seed=0, height=48, width=64), d)
    ...     sorted(os.listdir(os.path.join(d, "images")))
    ['000000000001.png', '000000000002.png']
    """
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory: expected a path, got {type(directory).__name__} {directory!r}")
    scenes = _check_scenes(scenes)
    directory = os.fspath(directory)
    data = to_coco(scenes, image_dir=os.path.join(directory, "images"), start_id=start_id)
    path = os.path.join(directory, "annotations.json")
    with open(path, "w") as f:
        json.dump(data, f)
    return path
