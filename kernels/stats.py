"""Validation statistics of an array in one pass (CPU twin of ``cuda_common.stats_kernel``)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def value_stats(flat):
    """(n,) real array -> float64 ``[min, max]`` over the finite values (``inf``/``-inf`` when
    there are none), the number of non-finite values, the number of values other than 0 and 1."""
    lo = np.inf
    hi = -np.inf
    bad = 0
    odd = 0
    for i in range(flat.shape[0]):
        v = np.float64(flat[i])
        if math.isfinite(v):
            if v < lo:
                lo = v
            if v > hi:
                hi = v
        else:
            bad += 1
        if v != 0.0 and v != 1.0:
            odd += 1
    return lo, hi, bad, odd
