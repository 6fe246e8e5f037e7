"""Fast marching (``p2i_prior.geodesic_distance``) against scikit-fmm and converged fast sweeping.

References: ``skfmm.travel_time(phi, speed, order=1)`` with ``phi = 0`` on the seeds (an
independent first-order fast marching, float64) and ``sweep_distance(seeds, speed)`` (the same
discrete equations solved by Gauss–Seidel sweeps to their fixed point).  Tolerances, stated once:
``FMM_RTOL`` relative against scikit-fmm (the issue's target; observed about 1e-6, the float32
storage), and equality with converged fast sweeping (both store float32 values of the same
float64 update, so the fixed point is the same bits; observed bit-equal).
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import p2i_prior
from p2i_prior import geodesic_distance, sweep_distance
from p2i_prior import grid_distance as grid_module

FMM_RTOL = 1e-4  # vs skfmm.travel_time(order=1)


def skfmm_times(seeds: np.ndarray, speed: np.ndarray) -> np.ndarray:
    skfmm = pytest.importorskip("skfmm")
    stack = seeds.reshape((-1,) + seeds.shape[-2:])
    out = np.stack([skfmm.travel_time(np.where(s, 0.0, 1.0), speed, order=1) for s in stack])
    return out.reshape(seeds.shape)


def random_speed(rng, shape):
    """Speeds over two orders of magnitude, with edge-like slow ridges."""
    speed = rng.uniform(0.2, 3.0, shape)
    speed[rng.random(shape) < 0.1] = 0.02
    return speed


@pytest.mark.parametrize("p", [0.002, 0.02, 0.3])
def test_equals_skfmm_and_converged_sweeping(rng, p):
    seeds = rng.random((3, 31, 43)) < p
    seeds[:, 5, 7] = True
    speed = random_speed(rng, seeds.shape[1:])
    got = geodesic_distance(seeds, speed)
    assert got.dtype == np.float32 and got.shape == seeds.shape
    ref = skfmm_times(seeds, speed)
    np.testing.assert_allclose(got, ref, rtol=FMM_RTOL, atol=0)
    np.testing.assert_array_equal(got, sweep_distance(seeds, speed))


def test_many_random_shapes_equal_converged_sweeping(rng):
    for _ in range(25):
        H, W = (int(x) for x in rng.integers(1, 30, 2))
        seeds = rng.random((2, H, W)) < rng.choice([0.01, 0.1])
        seeds[:, int(rng.integers(H)), int(rng.integers(W))] = True
        speed = random_speed(rng, (H, W))
        np.testing.assert_array_equal(geodesic_distance(seeds, speed), sweep_distance(seeds, speed))


def test_unit_speed_equals_sweeping(rng):
    seeds = rng.random((2, 20, 25)) < 0.02
    seeds[:, 0, 0] = True
    np.testing.assert_array_equal(geodesic_distance(seeds), sweep_distance(seeds))


def test_skeleton_seeds_with_edge_speed_equal_skfmm(rng):
    from p2i_prior.synthetic import make_scene

    scene = make_scene(seed=3, height=60, width=80, n_people=2)
    seeds = p2i_prior.skeleton_mask(scene.keypoints, (60, 80))
    edge = p2i_prior.sobel(scene.image).astype(np.float64)
    speed = 1.0 / (1.0 + 10.0 * edge / edge.mean())
    got = geodesic_distance(seeds, speed)
    np.testing.assert_allclose(got, skfmm_times(seeds, speed), rtol=FMM_RTOL)
    np.testing.assert_array_equal(got, sweep_distance(seeds, speed))


def test_empty_instance_thin_images_and_n_zero(rng):
    seeds = rng.random((3, 8, 9)) < 0.1
    seeds[0, 0, 0] = True
    seeds[1] = False
    got = geodesic_distance(seeds, rng.uniform(0.5, 2, (8, 9)))
    assert np.isposinf(got[1]).all() and np.isfinite(got[0]).all()
    for shape in [(1, 30), (30, 1), (1, 1)]:
        s = np.zeros(shape, bool)
        s.flat[0] = True
        sp = rng.uniform(0.5, 2, shape)
        np.testing.assert_array_equal(geodesic_distance(s, sp), sweep_distance(s, sp))
    assert geodesic_distance(np.zeros((0, 4, 5), bool)).shape == (0, 4, 5)


def test_input_kinds(rng):
    seeds = rng.random((2, 6, 7)) < 0.2
    seeds[:, 0, 0] = True
    speed = rng.uniform(0.5, 2, (6, 7))
    want = geodesic_distance(seeds, speed)
    np.testing.assert_array_equal(geodesic_distance(seeds.astype(np.uint8), speed.tolist()), want)
    torch = pytest.importorskip("torch")
    got = geodesic_distance(torch.from_numpy(seeds), torch.from_numpy(speed))
    assert isinstance(got, torch.Tensor)
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize(
    "seeds, speed, exc, msg",
    [
        (np.zeros(5, bool), None, ValueError,
         r"seeds_mask: expected \(H, W\) or \(n, H, W\) boolean mask, got shape \(5,\)"),
        (np.array([[0, 2]]), None, ValueError,
         r"seeds_mask: expected a boolean mask or values in \{0, 1\}, got 2 at index \(0, 1\)"),
        (np.ones((3, 4), bool), np.ones((3, 5)), ValueError,
         r"speed: expected shape \(H, W\) = \(3, 4\) matching seeds_mask, got \(3, 5\)"),
        (np.ones((3, 4), bool), np.zeros((3, 4)), ValueError, r"speed: expected values > 0, got minimum 0.0"),
        (np.ones((3, 4), bool), np.ones((3, 4), bool), TypeError,
         r"speed: expected a real-valued float array, got dtype bool"),
    ],
)
def test_bad_input_messages(seeds, speed, exc, msg):
    with pytest.raises(exc, match=msg):
        geodesic_distance(seeds, speed)


def test_exported_and_doctest():
    assert "geodesic_distance" in p2i_prior.__all__
    res = doctest.testmod(grid_module, extraglobs={"np": np}, optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted >= 5
