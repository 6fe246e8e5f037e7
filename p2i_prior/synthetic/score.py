"""The imperfect person score of a synthetic scene (what a segmentation network would give)."""

from __future__ import annotations

import numpy as np

from .background import _smooth_noise


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
