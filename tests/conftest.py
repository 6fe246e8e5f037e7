"""Test configuration.

CUDA kernels run under Numba's CUDA simulator unless a real GPU is present: the variable must be
set before numba is first imported, hence here, at the top of the first file pytest loads.
"""

import os
import shutil

HAS_GPU = os.path.exists("/dev/nvidia0") or (
    shutil.which("nvidia-smi") is not None and os.environ.get("P2I_FORCE_CUDASIM") is None
)
if not HAS_GPU:
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared")
COCO_PERSONS = os.path.abspath(os.path.join(SHARED, "data", "coco_persons"))


def pytest_collection_modifyitems(config, items):
    if HAS_GPU:
        return
    skip = pytest.mark.skip(reason="needs a real CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng():
    """A fresh generator with a fixed seed for each test."""
    return np.random.default_rng(20171128)
