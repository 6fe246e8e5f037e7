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


#: The launch table under the simulator (each simulated CUDA thread is a Python thread): tiny
#: blocks, so multi-block and edge paths run on small inputs.
SIM_LAUNCH = dict(block=(4, 4), threads=8, scan=4, bf=8, sweep=4, tile=4, rows=2, fuse=8,
                  stats_threads=8, stats_blocks=2, update=8)


@pytest.fixture(autouse=True, scope="session")
def simulator_launch_table():
    """Shrink ``p2i_prior.kernels.cuda_common.LAUNCH`` for the session under the simulator."""
    if HAS_GPU:
        yield
        return
    try:
        from p2i_prior.kernels.cuda_common import LAUNCH
    except ImportError:  # numba-cuda not installed: the CUDA tests skip
        yield
        return
    saved = dict(LAUNCH)
    LAUNCH.update(SIM_LAUNCH)
    yield
    LAUNCH.clear()
    LAUNCH.update(saved)


@pytest.fixture
def rng():
    """A fresh generator with a fixed seed for each test."""
    return np.random.default_rng(20171128)
