"""Fusion of a pose-instance map with a person score (CPU kernel).

``segment_labels`` is :func:`p2i_prior.segment_instances`' inner loop in one pass: per pixel,
the argmax over instances of ``map * score`` (the lowest instance on ties), 0 where the score is
below the threshold or the map's row is all zero.  The GPU version, fused with the softmax, is
``cuda_fusion.fuse_pixel_kernel``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def segment_labels(pose_map, score, threshold):
    """(H, W, n) float32 map, (H, W) float32 score -> (H, W) int32 labels (0 = background)."""
    H, W, n = pose_map.shape
    out = np.zeros((H, W), np.int32)
    for r in prange(H):
        for c in range(W):
            s = score[r, c]
            if s < threshold:
                continue
            best = -1.0
            arg = -1
            top = 0.0
            for i in range(n):
                p = pose_map[r, c, i]
                if p > top:
                    top = p
                h = p * s
                if h > best:
                    best = h
                    arg = i
            if top > 0.0:
                out[r, c] = arg + 1
    return out
