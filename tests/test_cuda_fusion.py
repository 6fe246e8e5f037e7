"""Softmax over instances + fusion with the person score (CPU twin and CUDA kernel) against
the pipeline's softmax_instances and segment_instances."""

import numpy as np
import pytest

from p2i_prior import segment_instances
from p2i_prior.kernels import cuda_fusion as kf
from p2i_prior.kernels.fusion import fuse_cpu
from p2i_prior.pipeline import _box_masks, softmax_instances

from cuda_sim import gpu, needs_cuda, to_device

pytestmark = needs_cuda

TAU = 0.05
THRESHOLD = 0.3
MAP_ATOL = 1e-6  # float32 exp against the float64 host softmax


@pytest.fixture
def inputs(rng):
    B, n, H, W, K = 2, 3, 5, 7, 6
    d = (rng.random((B, n, K)) * 0.3).astype(np.float32)
    d[0, 1] = np.inf  # an instance that reaches nothing
    d[1, :, 2] = np.inf  # a superpixel no instance reaches
    labels = rng.integers(0, K, (B, H, W)).astype(np.int32)
    score = rng.random((B, H, W)).astype(np.float32)
    boxes = np.tile(np.array([[0, 0, 7, 5], [1, 1, 3, 3], [2.5, 0, 4, 5]]), (B, 1, 1))
    return d, labels, score, boxes


def _reference(d, labels, score, boxes, b):
    dist = d[b][:, labels[b]]
    gate = None if boxes is None else _box_masks(boxes[b], *labels.shape[1:])
    pm = softmax_instances(dist, TAU, gate)
    return pm, segment_instances(pm, score[b], threshold=THRESHOLD)


@pytest.mark.parametrize("use_boxes", [False, True])
def test_cpu_twin_matches_pipeline(inputs, use_boxes):
    d, labels, score, boxes = inputs
    B, n = d.shape[:2]
    H, W = labels.shape[1:]
    out_map = np.zeros((B, H * W, n), np.float32)
    out_lab = np.zeros((B, H * W), np.int32)
    fuse_cpu(d, labels.reshape(B, -1), True, score.reshape(B, -1), np.float32(1 / TAU),
                np.float32(THRESHOLD), out_map, out_lab, True, boxes, use_boxes, W)
    for b in range(B):
        pm, lab = _reference(d, labels, score, boxes if use_boxes else None, b)
        np.testing.assert_allclose(out_map[b].reshape(H, W, n), pm, atol=MAP_ATOL, rtol=0)
        np.testing.assert_array_equal(out_lab[b].reshape(H, W), lab)


@pytest.mark.parametrize("use_boxes", [False, True])
def test_gpu_fuse_superpixel_and_pixel_modes(inputs, use_boxes):
    d, labels, score, boxes = inputs
    bx = boxes if use_boxes else None
    pm_sp, lab_sp = gpu.fuse(d, score, temperature=TAU, threshold=THRESHOLD, labels=labels, boxes=bx)
    dense = np.stack([d[b][:, labels[b]] for b in range(d.shape[0])])  # (B, n, H, W)
    pm_px, lab_px = gpu.fuse(dense, score, temperature=TAU, threshold=THRESHOLD, boxes=bx)
    np.testing.assert_array_equal(pm_sp, pm_px)
    np.testing.assert_array_equal(lab_sp, lab_px)
    for b in range(d.shape[0]):
        pm, lab = _reference(d, labels, score, bx, b)
        np.testing.assert_allclose(pm_sp[b], pm, atol=MAP_ATOL, rtol=0)
        np.testing.assert_array_equal(lab_sp[b], lab)


def test_gpu_fuse_single_image_and_labels_only(inputs):
    d, labels, score, boxes = inputs
    pm, lab = gpu.fuse(d[0], score[0], temperature=TAU, threshold=THRESHOLD, labels=labels[0])
    ref_pm, ref_lab = _reference(d, labels, score, None, 0)
    assert pm.shape == ref_pm.shape and lab.dtype == np.int32
    np.testing.assert_array_equal(lab, ref_lab)
    none, lab2 = gpu.fuse(d[0], score[0], temperature=TAU, threshold=THRESHOLD, labels=labels[0],
                           write_map=False)
    assert none is None
    np.testing.assert_array_equal(lab2, ref_lab)


def test_kernel_on_device_arrays_tiny_blocks(inputs):
    from numba import cuda

    d, labels, score, boxes = inputs
    B, n = d.shape[:2]
    H, W = labels.shape[1:]
    out_map = cuda.device_array((B, H * W, n), np.float32)
    out_lab = cuda.device_array((B, H * W), np.int32)
    kf.launch_fuse(to_device(d), to_device(labels.reshape(B, -1)), to_device(score.reshape(B, -1)),
                   TAU, THRESHOLD, out_map, out_lab, W, threads=8)
    for b in range(B):
        pm, lab = _reference(d, labels, score, None, b)
        np.testing.assert_allclose(out_map.copy_to_host()[b].reshape(H, W, n), pm, atol=MAP_ATOL, rtol=0)
        np.testing.assert_array_equal(out_lab.copy_to_host()[b].reshape(H, W), lab)


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [
        (dict(temperature=0.0), ValueError, r"temperature: expected a finite number > 0, got 0.0"),
        (dict(temperature=1.0, threshold=1.5), ValueError, r"threshold: expected a number in \[0, 1\], got 1.5"),
        (dict(temperature=1.0, threshold=True), TypeError, r"threshold: expected a number in \[0, 1\], got bool"),
    ],
)
def test_fuse_bad_parameters(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        gpu.fuse(np.zeros((1, 2, 2), np.float32), np.ones((2, 2)), **kwargs)


def test_fuse_bad_arrays():
    with pytest.raises(ValueError, match=r"distances: expected \(n, H, W\) matching person_score \(2, 2\), got shape \(1, 3, 2\)"):
        gpu.fuse(np.zeros((1, 3, 2), np.float32), np.ones((2, 2)), temperature=1.0)
    with pytest.raises(ValueError, match=r"person_score: expected probabilities in \[0, 1\], got range \[0.0, 2.0\]"):
        gpu.fuse(np.zeros((1, 1, 2), np.float32), np.array([[0.0, 2.0]]), temperature=1.0)
    with pytest.raises(ValueError, match=r"labels: expected values < K = 2 \(the distances' columns\), got maximum 5"):
        gpu.fuse(np.zeros((1, 2), np.float32), np.ones((1, 2)), temperature=1.0, labels=np.array([[0, 5]]))


def test_gpu_segment_instances_equals_host(rng):
    pm = rng.random((5, 7, 3)).astype(np.float32)
    pm[0, :] = 0.0  # all-zero rows: background
    pm[1, 0] = (0.5, 0.5, 0.0)  # a tie: the lower instance
    score = rng.random((5, 7)).astype(np.float32)
    score[1, 0] = 1.0
    got = gpu.segment_instances(pm, score, threshold=0.3)
    np.testing.assert_array_equal(got, segment_instances(pm, score, threshold=0.3))
    assert got[1, 0] == 1
    with pytest.raises(ValueError, match=r"person_score: expected shape \(5, 7\) \(the map's H, W\), got \(7, 5\)"):
        gpu.segment_instances(pm, score.T)
