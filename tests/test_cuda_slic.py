"""CUDA SLIC (simulator without a GPU) against the CPU SLIC of p2i_prior.slic, both
algorithms ("fast": kernels/cuda_slic_fast.py, "skimage": kernels/cuda_slic.py)."""

import numpy as np
import pytest
from numba import cuda

import p2i_prior as p
from p2i_prior import superpixels
from p2i_prior.kernels.slic import enforce_connectivity

from cuda_sim import gpu, blocky_labels, needs_cuda, to_device

pytestmark = needs_cuda

#: Share of pixels whose GPU label equals the CPU label (ties to float32 precision may differ).
AGREEMENT = 0.995


def _image(rng, H, W, regions=5):
    base = blocky_labels(rng, H, W, regions)
    colours = rng.integers(0, 256, (regions, 3))
    return np.clip(colours[base] + rng.normal(0, 20, (H, W, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("algorithm", ["fast", "skimage"])
@pytest.mark.parametrize("enforce", [True, False])
def test_slic_rgb_matches_cpu(rng, enforce, algorithm):
    img = _image(rng, 10, 13)
    got = gpu.slic(img, n_segments=9, enforce_connectivity=enforce, algorithm=algorithm)
    want = np.asarray(p.slic(img, n_segments=9, enforce_connectivity=enforce, algorithm=algorithm))
    assert got.dtype == np.int32 and got.shape == want.shape
    assert (got == want).mean() >= AGREEMENT
    assert got.max() + 1 == len(np.unique(got))  # labels 0..K-1, every value used


@pytest.mark.parametrize("algorithm", ["fast", "skimage"])
def test_slic_batch_grey_float_matches_cpu(rng, algorithm):
    imgs = rng.random((2, 9, 11))
    labels, counts = gpu.slic_batch(imgs, n_segments=6, compactness=0.1, max_num_iter=4,
                                    algorithm=algorithm)
    for b in range(2):
        want = np.asarray(p.slic(imgs[b], n_segments=6, compactness=0.1, max_num_iter=4,
                                 algorithm=algorithm))
        assert (labels[b] == want).mean() >= AGREEMENT
        assert counts[b] == want.max() + 1


def test_connectivity_replays_cpu_rule(rng):
    """The union-find connectivity equals the CPU flood fill on adversarial label noise."""
    lab = rng.integers(0, 4, (3, 7, 9)).astype(np.int32)
    for min_size in (0, 2, 4, 30):
        got, n = superpixels.enforce_connectivity_device(to_device(lab), min_size)
        got = got.copy_to_host()
        for b in range(3):
            ref, n_ref = enforce_connectivity(lab[b], min_size, 10**6)
            np.testing.assert_array_equal(got[b], ref)
            assert n[b] == n_ref


def test_fast_float_rgb_batch_matches_cpu(rng):
    imgs = np.stack([_image(rng, 11, 9) for _ in range(2)]) / 255.0
    labels, counts = gpu.slic_batch(imgs, n_segments=8, max_num_iter=6)
    for b in range(2):
        want = np.asarray(p.slic(imgs[b], n_segments=8, max_num_iter=6))
        assert (labels[b] == want).mean() >= AGREEMENT
        assert counts[b] == want.max() + 1


def test_fast_connectivity_replays_cpu_rule(rng):
    """The GPU keep / link / merge rule equals the CPU's run-based one on label noise."""
    from p2i_prior.kernels import slic_fast as kf
    from p2i_prior.kernels import cuda_slic_fast as kfc

    lab = rng.integers(0, 4, (2, 7, 9)).astype(np.int32)
    planes = (rng.integers(0, 40 * kf.QUANTUM, (2, 3, 7, 9)) / kf.QUANTUM).astype(np.float32)
    for min_size, max_regions in ((0, 1000), (2, 1000), (4, 1000), (2, 5), (0, 1), (30, 1000)):
        got, n = kfc.connectivity(to_device(lab), to_device(planes), min_size, max_regions, 0,
                                  (4, 4), 8, 4)
        got = got.copy_to_host()
        for b in range(2):
            cum = kf.prefix_sums(np.pad(planes[b], ((0, 0), (0, 0), (0, kf.PAD))), 9)
            ref, n_ref = kf.merge_runs(7, 9, *kf.connected_runs(lab[b]), cum, min_size, max_regions)
            np.testing.assert_array_equal(got[b], ref)
            assert n[b] == n_ref


def test_fast_lab_kernel_matches_cpu_planes(rng):
    from p2i_prior.kernels import cuda_slic_fast as kfc
    from p2i_prior.superpixels import _fast_planes

    img = rng.integers(3, 250, (2, 5, 6, 3), dtype=np.uint8)
    lohi = np.stack([[img[b].min(), img[b].max()] for b in range(2)]).astype(np.float64)
    planes = cuda.device_array((2, 3, 5, 6), np.float32)
    kfc.lab_kernel[(2, 2, 2), (4, 4, 1)](to_device(img), to_device(lohi), planes)
    for b in range(2):
        # equal but for a multiply-add the CUDA compiler may fuse: one quantum at most
        np.testing.assert_allclose(planes.copy_to_host()[b], _fast_planes(img[b])[0][:, :, :6],
                                   atol=1.0 / 256, rtol=0)


def test_lab_kernel_matches_cpu_planes(rng):
    from p2i_prior.kernels import cuda_slic as ks
    from p2i_prior.superpixels import _lab_planes

    img = rng.integers(3, 250, (2, 5, 6, 3), dtype=np.uint8)
    lohi = np.stack([[img[b].min(), img[b].max()] for b in range(2)]).astype(np.float64)
    planes = cuda.device_array((2, 3, 5, 6), np.float32)
    ks.lab_kernel[(2, 2, 2), (4, 4, 1)](to_device(img), to_device(lohi), planes)
    for b in range(2):
        np.testing.assert_allclose(planes.copy_to_host()[b], _lab_planes(img[b]), atol=1e-4, rtol=1e-6)


@pytest.mark.parametrize(
    "image, kwargs, exc, msg",
    [
        (np.zeros((4, 4, 2)), {}, ValueError, r"image: expected 3 colour channels, \(H, W, 3\), got shape \(4, 4, 2\)"),
        (np.zeros((0, 4)), {}, ValueError, r"image: expected a non-empty image, got shape \(0, 4\)"),
        (np.full((3, 3), 2.0), {}, ValueError, r"image: expected float values in \[0, 1\], got values in \[2, 2\]"),
        (np.zeros((3, 3), complex), {}, TypeError, r"image: expected a real-valued \(uint8 or float\) array, got dtype complex128"),
        (np.zeros((3, 3)), {"n_segments": 10}, ValueError, r"n_segments: expected an integer >= 1 and <= 9, got 10"),
        (np.zeros((3, 3)), {"n_segments": 4, "enforce_connectivity": 1}, TypeError, r"enforce_connectivity: expected a bool, got int 1"),
        (np.zeros((3, 3)), {"n_segments": 4, "max_size_factor": 0.4, "algorithm": "skimage"}, ValueError, r"max_size_factor: expected a number > min_size_factor \(0.5\), got 0.4"),
        (np.zeros((3, 3)), {"n_segments": 4, "algorithm": "slow"}, ValueError, r"algorithm: expected one of 'fast', 'skimage', got 'slow'"),
    ],
)
def test_slic_bad_input(image, kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        gpu.slic(image, **kwargs)


@pytest.mark.gpu
def test_slic_640x480_agreement_on_a_real_gpu(rng):
    from p2i_prior.synthetic import make_scenes

    scenes = make_scenes(4, 0, height=480, width=640)
    imgs = np.stack([s.image for s in scenes])
    for algorithm in ("fast", "skimage"):
        labels, counts = gpu.slic_batch(imgs, n_segments=1000, algorithm=algorithm)
        agree = [(labels[b] == np.asarray(p.slic(imgs[b], n_segments=1000, algorithm=algorithm))).mean()
                 for b in range(4)]
        assert min(agree) >= AGREEMENT, (algorithm, agree)


@pytest.mark.parametrize("module", ["cuda_slic", "cuda_slic_fast"])
def test_update_kernels_are_sized_by_one_factory(module):
    """Both SLIC algorithms get their update kernel from ``cuda_common.sized_kernels``: the
    launch table's size at import is the precompiled kernel, other sizes are compiled once and
    remembered, and a size that is not a power of two <= 1024 is refused by name."""
    import importlib

    from p2i_prior.kernels.cuda_common import LAUNCH

    mod = importlib.import_module(f"p2i_prior.kernels.{module}")
    assert mod.update_kernels(4) is mod.update_kernels(4)
    other = 8 if LAUNCH["update"] != 8 else 16
    assert mod.update_kernels(other) is not mod.update_kernels(4)
    for bad in (0, 6, 2048):
        with pytest.raises(ValueError, match=f"threads: expected a power of two <= 1024, got {bad}"):
            mod.update_kernels(bad)
