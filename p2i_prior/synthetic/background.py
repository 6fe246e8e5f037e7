"""The background of a synthetic scene: floor, wall, random shapes, light, shadows."""

from __future__ import annotations

import numpy as np

from .body import _hsv


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
