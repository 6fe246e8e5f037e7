"""The CUDA exact Euclidean distance transform (simulator without a GPU) against the CPU one.

Both sides compute exact integer squared distances and round the square root to float32, so
the values are compared for equality (the CPU side is itself tested against SciPy in
tests/test_edt.py).
"""

import numpy as np
import pytest

from p2i_prior import euclidean_distance
from p2i_prior.kernels import cuda_edt as kedt
from p2i_prior.kernels.edt import edt_instances

from cuda_sim import needs_cuda, to_device

pytestmark = needs_cuda


def gpu_edt(seeds, **kw):
    return euclidean_distance(seeds, device="cuda", **kw)


@pytest.fixture
def seeds(rng):
    s = rng.random((3, 6, 9)) < 0.08
    s[0, 0, 0] = True
    s[1, 5, 8] = True
    s[2] = False  # no seed: +inf
    return s


def test_kernels_equal_cpu(seeds):
    got = kedt.edt_batched(to_device(seeds.view(np.uint8)), threads=4).copy_to_host()
    want = edt_instances(seeds)
    np.testing.assert_array_equal(got, want)
    assert np.isposinf(got[2]).all()


def test_public_gpu_path_equals_host(rng, seeds):
    np.testing.assert_array_equal(gpu_edt(seeds), euclidean_distance(seeds))
    np.testing.assert_array_equal(gpu_edt(seeds[1]), euclidean_distance(seeds[1]))
    np.testing.assert_array_equal(gpu_edt(seeds.astype(np.uint8)), euclidean_distance(seeds))
    assert gpu_edt(np.zeros((0, 3, 4), bool)).shape == (0, 3, 4)


@pytest.mark.parametrize("shape", [(1, 7), (7, 1), (2, 1, 5), (2, 5, 1)])
def test_thin_images_equal_host(rng, shape):
    s = rng.random(shape) < 0.3
    s.reshape(-1, shape[-1] * shape[-2])[:, 0] = True
    np.testing.assert_array_equal(gpu_edt(s), euclidean_distance(s))


def test_device_array_in_device_array_out(seeds):
    got = euclidean_distance(to_device(seeds))
    assert hasattr(got, "copy_to_host")
    np.testing.assert_array_equal(got.copy_to_host(), euclidean_distance(seeds))


@pytest.mark.parametrize(
    "arg, exc, msg",
    [
        (np.zeros((2, 2, 2, 2), bool), ValueError,
         r"seeds_mask: expected \(H, W\) or \(n, H, W\) boolean mask, got shape \(2, 2, 2, 2\)"),
        (np.zeros((0, 3), bool), ValueError,
         r"seeds_mask: expected a non-empty image \(H >= 1 and W >= 1\), got shape \(0, 3\)"),
        (np.array([[0, 2]], np.int32), ValueError,
         r"seeds_mask: expected a boolean mask or values in \{0, 1\}, got 1 values outside \{0, 1\}"),
    ],
)
def test_bad_input_messages_like_host(arg, exc, msg):
    with pytest.raises(exc, match=msg):
        gpu_edt(arg)


def test_geodesic_distance_on_the_device_equals_host(rng, seeds):
    """On the GPU geodesic_distance runs the anti-diagonal sweeps to convergence: the same
    discrete solution as the CPU's fast marching (within an FMA's last float32 bit)."""
    from p2i_prior import geodesic_distance

    speed = rng.uniform(0.3, 2.0, seeds.shape[1:])
    got = geodesic_distance(seeds, speed, device="cuda")
    want = geodesic_distance(seeds, speed)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert np.isposinf(got[2]).all()
