"""Rendering one synthetic person into a canvas of its own: mask, colours, keypoints.

The body model's parts (:mod:`.body`) are scaled to pixels and drawn back to front, each on its
own bounding box (distance-to-segment capsules, a tapered torso box, the head ellipse).
"""

from __future__ import annotations

import numpy as np

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
