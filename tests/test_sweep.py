"""Fast-sweeping eikonal distances (``p2i_prior.sweep_distance``) against independent references.

References: SciPy's exact Euclidean distance transform and taxicab chamfer transform,
scikit-fmm's first-order fast marching, Dijkstra on the 4-connected pixel graph
(``scipy.sparse.csgraph``), and a vectorised numpy evaluation of the discrete Godunov
equations.  Tolerances, stated once:

* Unit speed vs the exact Euclidean distance ``e`` (measured on this scheme; first order):
  a single seed gives ``e <= u <= e + 0.2 + 0.3 ln(max(e, 1))`` (measured up to 700 px:
  error 0.29 px one diagonal step away, 0.82 at 10 px, 1.31 at 50 px, 2.04 at 600 px, all
  on the diagonal; rows and columns through the seed are exact); any seed set gives
  ``-0.35 <= u - e`` (observed minimum -0.327, at pixels between seeds: an L-shaped pair of
  seed neighbours gives 1/sqrt(2) instead of 1) and the same upper envelope (``u`` is at
  most the single-seed value of the nearest seed).  Relative error lies in
  ``[1/sqrt(2) - 1, 0.2072]`` (observed extremes -0.2929 and 0.2071).  Rasterised skeletons
  (8-connected lines) as seeds: ``-0.5 <= u - e`` (observed -0.450 over 1500 random
  skeletons): the scheme is exact for plane fronts, so near a line it measures the distance
  to the straight line through the pixel staircase, which is up to ~0.5 px closer than the
  nearest pixel centre.
* Provable for any seed set and speed: ``D / sqrt(2) <= u <= D`` with ``D`` the 4-connected
  path cost (node weights 1/speed): the taxicab distance for unit speed.
* Against ``skfmm.travel_time(order=1)`` (same discrete equations, solved by fast marching):
  relative difference <= 1e-6 (float32 storage; observed 2.3e-7).
"""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy.sparse import coo_matrix, csgraph

import p2i_prior
from p2i_prior import sweep_distance
from p2i_prior import sweep as sweep_module

SQRT2 = np.sqrt(2.0)
EDT_ERR_MIN = -0.35  # u - e, random seed sets
EDT_ERR_MIN_LINES = -0.5  # u - e, rasterised skeleton lines


def edt_err_max(e):
    """Upper envelope of u - e (unit speed, any seed set), measured up to 700 px."""
    return 0.2 + 0.3 * np.log(np.maximum(e, 1.0))


REL_ERR_RANGE = (1.0 / SQRT2 - 1.0 - 1e-6, 0.2072)  # (u - e) / e
FMM_RTOL = 1e-6  # vs skfmm.travel_time(order=1)
F32_RTOL = 1e-6  # float32 storage of values computed in float64

# ----------------------------------------------------------------------------- references


def euclid(seeds):
    return ndi.distance_transform_edt(~seeds)


def taxicab(seeds):
    return ndi.distance_transform_cdt(~seeds, metric="taxicab").astype(np.float64)


def dijkstra(seeds, slowness):
    """4-connected path cost to the nearest seed; entering pixel q costs slowness[q]."""
    H, W = seeds.shape
    idx = np.arange(H * W).reshape(H, W)
    src, dst = [], []
    for a, b in ((idx[:, :-1], idx[:, 1:]), (idx[:-1], idx[1:])):
        src += [a.ravel(), b.ravel()]
        dst += [b.ravel(), a.ravel()]
    src, dst = np.concatenate(src), np.concatenate(dst)
    graph = coo_matrix((slowness.ravel()[dst], (src, dst)), shape=(H * W, H * W)).tocsr()
    d = csgraph.dijkstra(graph, indices=np.flatnonzero(seeds.ravel()), min_only=True)
    return d.reshape(H, W)


def godunov_numpy(u, slowness):
    """Vectorised first-order Godunov update of every pixel from its 4 neighbours."""
    p = np.pad(u.astype(np.float64), 1, constant_values=np.inf)
    a = np.minimum(p[:-2, 1:-1], p[2:, 1:-1])
    b = np.minimum(p[1:-1, :-2], p[1:-1, 2:])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    f = np.broadcast_to(slowness, u.shape)
    with np.errstate(invalid="ignore"):
        d = hi - lo
        two = 0.5 * (lo + hi + np.sqrt(np.maximum(2 * f * f - d * d, 0.0)))
        out = np.where(d >= f, lo + f, two)
    return np.where(np.isinf(lo), np.inf, out)


def fmm(seeds, speed):
    skfmm = pytest.importorskip("skfmm")
    return skfmm.travel_time(np.where(seeds, 0.0, 1.0), speed, order=1)


def random_seeds(rng, shape, density):
    seeds = rng.random(shape) < density
    if not seeds.any():
        seeds[tuple(rng.integers(0, s) for s in shape)] = True
    return seeds


def random_speed(rng, shape, kind):
    """Speeds: i.i.d. uniform, smooth log-normal, or a maze of near-walls."""
    if kind == "uniform":
        return rng.uniform(0.1, 5.0, shape)
    if kind == "smooth":
        return np.exp(6.0 * ndi.gaussian_filter(rng.normal(size=shape), 3.0))
    speed = np.ones(shape)
    speed[rng.random(shape) < 0.3] = 0.02
    return speed


# ----------------------------------------------------------------------------- unit speed


def test_single_seed_axes_exact_and_euclid_bounds(rng):
    H, W = 48, 61
    for _ in range(4):
        r, c = int(rng.integers(0, H)), int(rng.integers(0, W))
        seeds = np.zeros((H, W), bool)
        seeds[r, c] = True
        u = sweep_distance(seeds)
        assert u.dtype == np.float32 and u.shape == (H, W)
        np.testing.assert_array_equal(u[r], np.abs(np.arange(W) - c))
        np.testing.assert_array_equal(u[:, c], np.abs(np.arange(H) - r))
        e = euclid(seeds)
        assert (u >= e * (1 - F32_RTOL)).all()  # single seed: never below Euclid
        assert (u <= taxicab(seeds) * (1 + F32_RTOL)).all()
        assert (u - e <= edt_err_max(e)).all()


def test_single_seed_known_values():
    seeds = np.zeros((3, 3), bool)
    seeds[1, 1] = True
    u = sweep_distance(seeds)
    np.testing.assert_allclose(u[0, 0], 1 + 1 / SQRT2, rtol=F32_RTOL)  # exact: sqrt(2)


@pytest.mark.parametrize("density", [0.001, 0.01, 0.05, 0.2])
def test_unit_speed_vs_edt(rng, density):
    worst = [np.inf, -np.inf]
    for _ in range(4):
        shape = tuple(int(s) for s in rng.integers(16, 80, 2))
        seeds = random_seeds(rng, shape, density)
        u = sweep_distance(seeds).astype(np.float64)
        e = euclid(seeds)
        err = u - e
        assert (err >= EDT_ERR_MIN).all() and (err <= edt_err_max(e)).all()
        rel = err[e > 0] / e[e > 0]
        assert REL_ERR_RANGE[0] <= rel.min() and rel.max() <= REL_ERR_RANGE[1]
        worst = [min(worst[0], err.min()), max(worst[1], err.max())]
        l1 = taxicab(seeds)  # provable: L1 / sqrt(2) <= u <= L1
        assert (u <= l1 * (1 + F32_RTOL)).all() and (u >= l1 / SQRT2 * (1 - F32_RTOL)).all()
        assert (u[seeds] == 0).all() and (u[~seeds] > 0).all()
    assert worst[0] < 0 or density < 0.01  # dense sets do dip below Euclid (documented)


def test_unit_speed_skeleton_seeds_vs_edt(rng):
    from p2i_prior import skeleton_mask

    for _ in range(6):
        H, W = (int(s) for s in rng.integers(24, 96, 2))
        kp = np.zeros((2, 17, 3))
        kp[..., 0] = rng.uniform(-5, W + 5, (2, 17))
        kp[..., 1] = rng.uniform(-5, H + 5, (2, 17))
        kp[..., 2] = 2
        seeds = skeleton_mask(kp, (H, W)).any(0)
        u = sweep_distance(seeds).astype(np.float64)
        e = euclid(seeds)
        assert (u - e >= EDT_ERR_MIN_LINES).all() and (u - e <= edt_err_max(e)).all()
        l1 = taxicab(seeds)
        assert (u <= l1 * (1 + F32_RTOL)).all() and (u >= l1 / SQRT2 * (1 - F32_RTOL)).all()


def test_unit_speed_satisfies_discrete_equations(rng):
    seeds = random_seeds(rng, (40, 50), 0.01)
    u = sweep_distance(seeds)
    ubar = godunov_numpy(u, 1.0)
    free = ~seeds
    np.testing.assert_allclose(u[free], ubar[free], rtol=F32_RTOL)


def antidiagonal_sweeps(seeds, slowness, max_sweeps=1000):
    """The parallel scheme of the CUDA port (Detrixhe, Gibou & Min 2013), emulated in numpy.

    Each sweep visits the anti-diagonals of its ordering one after another and updates all
    nodes of a diagonal at once from the values before that diagonal; float64 arithmetic,
    float32 storage, stop after the first sweep with no decrease.  Returns (u, sweeps).
    """
    H, W = seeds.shape
    u = np.full((H + 2, W + 2), np.inf, np.float32)
    u[1:-1, 1:-1][seeds] = 0.0
    f = np.broadcast_to(np.asarray(slowness, np.float64), (H, W))
    for s in range(1, max_sweeps + 1):
        ordering = (s - 1) % 4
        rows_down, cols_right = ordering in (0, 3), ordering in (0, 1)
        changed = False
        for d in range(H + W - 1):
            ii = np.arange(max(0, d - W + 1), min(H, d + 1))
            i = ii + 1 if rows_down else H - ii
            j = d - ii + 1 if cols_right else W - (d - ii)
            old = u[i, j]
            a = np.minimum(u[i - 1, j].astype(np.float64), u[i + 1, j].astype(np.float64))
            b = np.minimum(u[i, j - 1].astype(np.float64), u[i, j + 1].astype(np.float64))
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            fd = f[i - 1, j - 1]
            with np.errstate(invalid="ignore"):
                dd = hi - lo
                new = np.where(dd >= fd, lo + fd, 0.5 * (lo + hi + np.sqrt(2.0 * fd * fd - dd * dd)))
            new = np.where(np.isinf(lo), np.inf, new).astype(np.float32)
            upd = (new < old) & (old != 0)
            u[i[upd], j[upd]] = new[upd]
            changed |= bool(upd.any())
        if not changed:
            return u[1:-1, 1:-1], s
    return u[1:-1, 1:-1], max_sweeps


@pytest.mark.parametrize("kind", [None, "uniform", "maze"])
def test_cpu_sweep_order_equals_antidiagonal_parallel_scheme(rng, kind):
    """Row-major Gauss-Seidel and the anti-diagonal parallel sweep read the same neighbour
    values at every node, so values and sweep counts agree bit for bit (CPU/GPU parity)."""
    from p2i_prior.kernels.sweep import sweep_instances_serial

    seeds = random_seeds(rng, (23, 31), 0.01)
    slowness = np.ones((1, 1)) if kind is None else 1.0 / random_speed(rng, (23, 31), kind)
    ref, ref_sweeps = antidiagonal_sweeps(seeds, slowness)
    out, sweeps, _ = sweep_instances_serial(seeds[None], slowness, kind is None, 1000, 0.0)
    np.testing.assert_array_equal(out[0], ref)
    assert int(sweeps[0]) == ref_sweeps


# ----------------------------------------------------------------------------- geodesic


@pytest.mark.parametrize("kind", ["uniform", "smooth", "maze"])
def test_geodesic_vs_fast_marching_and_dijkstra(rng, kind):
    for _ in range(2):
        shape = tuple(int(s) for s in rng.integers(20, 60, 2))
        seeds = random_seeds(rng, shape, float(rng.choice([0.002, 0.02, 0.1])))
        speed = random_speed(rng, shape, kind)
        u = sweep_distance(seeds, speed).astype(np.float64)
        t = fmm(seeds, speed)
        np.testing.assert_allclose(u, t, rtol=FMM_RTOL, atol=0)
        D = dijkstra(seeds, 1.0 / speed)
        assert (u <= D * (1 + F32_RTOL)).all()
        assert (u >= D / SQRT2 * (1 - F32_RTOL)).all()
        np.testing.assert_allclose(u[~seeds], godunov_numpy(u, 1.0 / speed)[~seeds], rtol=F32_RTOL)


def test_constant_speed_equals_scaled_unit(rng):
    seeds = random_seeds(rng, (30, 40), 0.01)
    u1 = sweep_distance(seeds)
    np.testing.assert_array_equal(sweep_distance(seeds, np.full((30, 40), 1.0)), u1)
    np.testing.assert_array_equal(sweep_distance(seeds, np.full((30, 40), 4.0)), u1 / 4)


def test_speed_scaling(rng):
    seeds = random_seeds(rng, (35, 45), 0.01)
    speed = random_speed(rng, (35, 45), "smooth")
    u = sweep_distance(seeds, speed)
    np.testing.assert_array_equal(sweep_distance(seeds, speed * 2.0), u / 2)  # powers of 2: exact
    np.testing.assert_allclose(sweep_distance(seeds, speed * 3.0), u / 3, rtol=F32_RTOL)
    np.testing.assert_allclose(sweep_distance(seeds, speed / 7.0), u * 7, rtol=F32_RTOL)


def test_monotone_in_seed_set(rng):
    speed = random_speed(rng, (40, 40), "maze")
    for sp in (None, speed):
        big = random_seeds(rng, (40, 40), 0.02)
        small = big & (rng.random((40, 40)) < 0.5)
        small[np.argwhere(big)[0][0], np.argwhere(big)[0][1]] = True
        u_big, u_small = sweep_distance(big, sp), sweep_distance(small, sp)
        assert (u_big <= u_small).all()
        assert (u_big >= 0).all() and (u_big[big] == 0).all()


# ----------------------------------------------------------------------------- instances, kinds


def test_instances_equal_one_by_one_and_empty_instance(rng):
    seeds = rng.random((4, 25, 33)) < 0.01
    seeds[0, 3, 4] = True
    seeds[2] = False  # an instance without any seed pixel
    speed = random_speed(rng, (25, 33), "uniform")
    for sp in (None, speed):
        stacked = sweep_distance(seeds, sp)
        assert stacked.shape == (4, 25, 33) and stacked.dtype == np.float32
        for k in range(4):
            np.testing.assert_array_equal(stacked[k], sweep_distance(seeds[k], sp))
        assert np.isposinf(stacked[2]).all()
        assert np.isfinite(stacked[[0, 1, 3]]).all() and not np.isnan(stacked).any()


def test_no_seed_gives_inf_and_zero_instances():
    u = sweep_distance(np.zeros((6, 7), bool))
    assert u.dtype == np.float32 and np.isposinf(u).all()
    empty = sweep_distance(np.zeros((0, 6, 7), bool), np.ones((6, 7)))
    assert empty.shape == (0, 6, 7) and empty.dtype == np.float32


def test_zero_one_seed_arrays_accepted(rng):
    seeds = random_seeds(rng, (12, 15), 0.05)
    ref = sweep_distance(seeds)
    np.testing.assert_array_equal(sweep_distance(seeds.astype(np.uint8)), ref)
    np.testing.assert_array_equal(sweep_distance(seeds.astype(np.float64)), ref)
    np.testing.assert_array_equal(sweep_distance(seeds, np.ones((12, 15), np.int32)), ref)


def test_torch_in_torch_out(rng):
    torch = pytest.importorskip("torch")
    seeds = random_seeds(rng, (2, 14, 18), 0.03)
    speed = random_speed(rng, (14, 18), "uniform")
    out = sweep_distance(torch.from_numpy(seeds), torch.from_numpy(speed))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    np.testing.assert_array_equal(out.numpy(), sweep_distance(seeds, speed))


def test_tolerance_and_max_sweeps(rng):
    seeds = random_seeds(rng, (40, 40), 0.003)
    speed = random_speed(rng, (40, 40), "maze")
    exact = sweep_distance(seeds, speed)
    loose = sweep_distance(seeds, speed, tol=1.0)
    assert (loose >= exact).all()
    # a sweep with no decrease > tol leaves u <= update(u) + tol everywhere
    assert (loose[~seeds] <= godunov_numpy(loose, 1.0 / speed)[~seeds] + 1.0 + 1e-3).all()
    with pytest.warns(RuntimeWarning, match=r"did not converge in max_sweeps=4 sweeps"):
        capped = sweep_distance(seeds, speed, max_sweeps=4)
    assert np.isfinite(capped).all() and (capped >= exact).all()  # upper bounds
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sweep_distance(seeds, speed)  # converges without a warning


def test_exported_lazily_and_doctest():
    assert p2i_prior.sweep_distance is sweep_distance
    res = doctest.testmod(sweep_module, extraglobs={"np": np}, optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0


# ----------------------------------------------------------------------------- messages


@pytest.mark.parametrize(
    "seeds, speed, kwargs, exc, match",
    [
        (np.zeros(5, bool), None, {}, ValueError,
         r"seeds_mask: expected \(H, W\) or \(n, H, W\) boolean mask, got shape \(5,\)"),
        (np.zeros((1, 2, 3, 4), bool), None, {}, ValueError, r"got shape \(1, 2, 3, 4\)"),
        (np.zeros((0, 5), bool), None, {}, ValueError,
         r"seeds_mask: expected a non-empty image \(H >= 1 and W >= 1\), got shape \(0, 5\)"),
        (np.zeros((2, 4, 0), bool), None, {}, ValueError, r"non-empty image.*\(2, 4, 0\)"),
        (np.array([[0, 2], [1, 0]]), None, {}, ValueError,
         r"seeds_mask: expected a boolean mask or values in \{0, 1\}, got 2 at index \(0, 1\)"),
        (np.array([[0.0, np.nan]]), None, {}, ValueError, r"got nan at index \(0, 1\)"),
        (np.array([["a", "b"]]), None, {}, TypeError, r"seeds_mask: expected a numeric array"),
        (np.zeros((2, 2), complex), None, {}, TypeError,
         r"seeds_mask: expected a boolean \(or 0/1\) mask, got dtype complex128"),
        (np.zeros((3, 4), bool), np.ones((3, 5)), {}, ValueError,
         r"speed: expected shape \(H, W\) = \(3, 4\) matching seeds_mask, got \(3, 5\)"),
        (np.zeros((2, 3, 4), bool), np.ones((2, 3, 4)), {}, ValueError,
         r"speed: expected \(H, W\) = \(3, 4\) array matching seeds_mask, got shape \(2, 3, 4\)"),
        (np.zeros((3, 4), bool), np.full((3, 4), -1.0), {}, ValueError,
         r"speed: expected values > 0, got minimum -1.0"),
        (np.zeros((3, 4), bool), np.zeros((3, 4)), {}, ValueError, r"speed: expected values > 0"),
        (np.zeros((3, 4), bool), np.array([[1.0] * 4] * 2 + [[1, np.nan, 1, 1]]), {}, ValueError,
         r"speed: expected finite values, got 1 NaN/inf \(first at index \(2, 1\)\)"),
        (np.zeros((3, 4), bool), np.full((3, 4), np.inf), {}, ValueError,
         r"speed: expected finite values, got 12 NaN/inf"),
        (np.zeros((3, 4), bool), np.ones((3, 4), bool), {}, TypeError,
         r"speed: expected a real-valued float array, got dtype bool"),
        (np.zeros((3, 4), bool), np.full((3, 4), 1e-300), {}, ValueError,
         r"speed: expected values in a range whose travel times fit float32"),
        (np.zeros((3, 4), bool), np.full((3, 4), 1e300), {}, ValueError,
         r"speed: expected values in a range whose travel times fit float32"),
        (np.zeros((3, 4), bool), None, {"max_sweeps": 0}, ValueError,
         r"max_sweeps: expected an integer >= 1, got 0"),
        (np.zeros((3, 4), bool), None, {"max_sweeps": 2.5}, TypeError,
         r"max_sweeps: expected an integer, got float 2.5"),
        (np.zeros((3, 4), bool), None, {"tol": -1.0}, ValueError,
         r"tol: expected a finite number >= 0, got -1.0"),
        (np.zeros((3, 4), bool), None, {"tol": "0"}, TypeError, r"tol: expected a number"),
    ],
)
def test_messages(seeds, speed, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        sweep_distance(seeds, speed, **kwargs)
