"""CPU results are bit-identical to the fingerprints recorded before the layout change."""

from __future__ import annotations

import json

import pytest

import fingerprint


def test_cpu_outputs_match_recorded_fingerprint():
    with open(fingerprint.RECORD) as f:
        recorded = json.load(f)
    now = fingerprint.compute()
    assert sorted(now) == sorted(recorded)
    changed = sorted(k for k in recorded if now[k] != recorded[k])
    assert not changed, f"CPU outputs changed: {changed}"


def test_digest_sees_a_one_ulp_change():
    import numpy as np

    a = np.linspace(0, 1, 10, dtype=np.float32)
    b = a.copy()
    b[3] = np.nextafter(b[3], np.float32(2))
    assert fingerprint.digest(a) != fingerprint.digest(b)
    with pytest.raises(AssertionError):
        assert fingerprint.digest(a) == fingerprint.digest(b)
