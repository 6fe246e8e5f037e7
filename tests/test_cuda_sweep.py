"""Anti-diagonal fast sweeping on the GPU (simulator without a GPU) against the CPU sweeps."""

import warnings

import numpy as np
import pytest

from p2i_prior import sweep_distance
from p2i_prior.kernels import cuda_sweep as ksw
from p2i_prior.kernels.sweep import sweep_instances

from cuda_sim import gpu, needs_cuda, to_device

pytestmark = needs_cuda


@pytest.fixture
def seeds(rng):
    s = rng.random((3, 6, 7)) < 0.05
    s[0, 0, 0] = True
    s[1, 3, 4] = True
    s[2] = False  # no seed: +inf, 0 sweeps
    return s


@pytest.mark.parametrize("uniform", [True, False])
def test_kernel_values_and_sweep_counts_equal_cpu(rng, seeds, uniform):
    speed = rng.uniform(0.5, 2.0, seeds.shape[1:])
    slow = np.ones((1, 1, 1)) if uniform else (1.0 / speed)[None]
    out, sw, last = ksw.sweep_batched(to_device(seeds.view(np.uint8)), to_device(slow),
                                      to_device(np.zeros(3, np.int32)), uniform, 400, 0.0, threads=4)
    ref, ref_sw, ref_last = sweep_instances(seeds, slow[0] if not uniform else np.ones((1, 1)),
                                            uniform, 400, 0.0)
    np.testing.assert_array_equal(out.copy_to_host(), ref)
    np.testing.assert_array_equal(sw.copy_to_host(), ref_sw)
    np.testing.assert_array_equal(last.copy_to_host(), ref_last)
    assert np.isinf(ref[2]).all() and ref_sw[2] == 0


def test_gpu_sweep_distance_equals_host(rng, seeds):
    speed = rng.uniform(0.5, 2.0, seeds.shape[1:])
    np.testing.assert_array_equal(gpu.sweep_distance(seeds), sweep_distance(seeds))
    np.testing.assert_array_equal(gpu.sweep_distance(seeds[1]), sweep_distance(seeds[1]))
    np.testing.assert_array_equal(gpu.sweep_distance(seeds[:2], speed), sweep_distance(seeds[:2], speed))


def test_per_instance_speed_planes(rng, seeds):
    speeds = rng.uniform(0.5, 2.0, (2,) + seeds.shape[1:])
    got = gpu.sweep_distance(seeds[:2].astype(np.uint8), speeds)
    for i in range(2):
        np.testing.assert_array_equal(got[i], sweep_distance(seeds[i], speeds[i]))


def test_max_sweeps_warning_like_host(seeds):
    with pytest.warns(RuntimeWarning, match=r"sweep_distance: 2 of 3 instance\(s\) did not converge in max_sweeps=1"):
        got = gpu.sweep_distance(seeds, max_sweeps=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(got, sweep_distance(seeds, max_sweeps=1))


def test_geodesic_slowness_kernel(rng):
    from numba import cuda

    edge = rng.random((2, 5, 6)).astype(np.float32)
    edge[1] = 0.0
    sums = ksw.image_sums(to_device(edge), threads=4)
    # the fixed summation order: columns in row order, then the column sums in order
    want = [float(np.sum([np.sum(edge[b, :, c].astype(np.float64)) for c in range(6)])) for b in range(2)]
    np.testing.assert_array_equal(sums.copy_to_host(), want)
    assert (ksw.image_sums(to_device(edge), threads=4).copy_to_host() == sums.copy_to_host()).all()
    out = cuda.device_array((2, 5, 6), np.float64)
    ksw.edge_slowness_kernel[(2, 2, 2), (4, 4, 1)](to_device(edge), sums, 10.0, out)
    e = edge[0].astype(np.float64)
    np.testing.assert_allclose(out.copy_to_host()[0], 1.0 + 10.0 * e / e.mean(), rtol=1e-12)
    assert (out.copy_to_host()[1] == 1.0).all()


@pytest.mark.parametrize(
    "args, exc, msg",
    [
        ((np.zeros((2, 2, 2, 2), bool),), ValueError, r"seeds_mask: expected \(H, W\) or \(n, H, W\) boolean mask, got shape \(2, 2, 2, 2\)"),
        ((np.zeros((0, 3), bool),), ValueError, r"seeds_mask: expected a non-empty image \(H >= 1 and W >= 1\), got shape \(0, 3\)"),
        ((np.array([[0, 2]]),), ValueError, r"seeds_mask: expected a boolean mask or values in \{0, 1\}, got 1 values outside \{0, 1\}"),
        ((np.zeros((2, 2), bool), np.ones((3, 2))), ValueError, r"speed: expected shape \(2, 2\) \(the image's\) or \(1, 2, 2\), got \(3, 2\)"),
        ((np.zeros((2, 2), bool), np.zeros((2, 2))), ValueError, r"speed: expected values > 0, got minimum 0.0"),
        ((np.zeros((2, 2), bool), np.full((2, 2), np.nan)), ValueError, r"speed: expected finite values, got 4 NaN/inf"),
        ((np.zeros((2, 2), bool), np.full((2, 2), 1e-40)), ValueError, r"speed: expected values in a range whose travel times fit float32"),
    ],
)
def test_gpu_sweep_distance_bad_input(args, exc, msg):
    with pytest.raises(exc, match=msg):
        gpu.sweep_distance(*args)


def test_bad_max_sweeps_and_tol():
    with pytest.raises(ValueError, match=r"max_sweeps: expected an integer >= 1, got 0"):
        gpu.sweep_distance(np.ones((2, 2), bool), max_sweeps=0)
    with pytest.raises(ValueError, match=r"tol: expected a finite number >= 0, got -1.0"):
        gpu.sweep_distance(np.ones((2, 2), bool), tol=-1.0)
