"""The GPU path is stream-safe, bounds-safe and within the grid's limits (issue 16), checked under
the simulator with wrapped launches (``cuda_sim.LaunchRecorder``) where a GPU would be silent."""

from __future__ import annotations

import numpy as np
import pytest

import p2i_prior as p
from cuda_sim import LaunchRecorder, blocky_labels, gpu, needs_cuda, to_device
from p2i_prior import _device, pipeline_device
from p2i_prior.synthetic import make_scenes

pytestmark = needs_cuda


def _batch(B=2, n=2, H=16, W=20, seed=3):
    sc = make_scenes(B, seed=seed, height=H, width=W, n_people=n)
    return np.stack([s.image for s in sc]), [s.keypoints for s in sc], np.stack([s.score for s in sc])


@pytest.mark.parametrize("method", ["rag", "sweep", "geodesic"])
def test_every_launch_of_the_pipeline_runs_on_the_callers_stream(monkeypatch, method):
    from numba import cuda

    imgs, kps, scores = _batch(1 if method == "geodesic" else 2)
    caller = cuda.stream()
    monkeypatch.setattr(_device, "stream_of", lambda ref: caller)
    with LaunchRecorder() as rec:
        p.pose_instance_maps(imgs, kps, method=method, n_segments=6, person_scores=scores, device="cuda")
    assert rec.launches
    off = [name for name, _grid, stream in rec.launches if stream is not caller]
    assert off == [], f"launched off the caller's stream: {off}"


def test_launches_and_host_reads_per_call_do_not_grow_with_the_batch():
    counts = {}
    for B in (1, 3):
        imgs, kps, scores = _batch(B, H=16, W=16)
        with LaunchRecorder() as rec:
            p.pose_instance_maps(imgs, kps, n_segments=6, person_scores=scores, device="cuda")
        counts[B] = (len(rec.launches), rec.host_reads)
    assert counts[1] == counts[3]
    # measured (README, GPU section): 74 launches and 10 host reads before the layout change
    launches, reads = counts[1]
    assert launches <= 69 and reads <= 6, counts


def test_stream_of_a_host_torch_tensor_is_the_default_stream(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(_device, "simulator", lambda: False)
    assert _device.stream_of(torch.zeros(3)) == 0  # used to ask torch.cuda for a CPU device's stream


def test_build_rags_rejects_labels_beyond_n_labels(rng):
    labels = np.stack([blocky_labels(rng, 6, 7, 4), blocky_labels(rng, 6, 7, 5)])
    edge = rng.random((2, 6, 7))
    msg = r"n_labels: expected counts above each image's largest label, got n_labels\[1\] = 4 for image 1 whose labels reach 4"
    with pytest.raises(ValueError, match=msg):
        gpu.build_rags(labels, edge, n_labels=[4, 4])
    with pytest.raises(ValueError, match=msg):
        p.build_rags(labels, edge, n_labels=[4, 4])
    ok = gpu.build_rags(labels, edge, n_labels=[4, 5])
    assert ok.n_nodes.tolist() == [4, 5]


def test_floyd_warshall_ignores_seed_columns_past_the_padding(rng):
    labels = np.stack([blocky_labels(rng, 6, 7, 5), blocky_labels(rng, 6, 7, 3)])
    graphs = gpu.build_rags(labels, rng.random((2, 6, 7)))
    seeds = np.zeros((2, 2, 11), bool)  # 11 columns: wider than the tile padding (4 -> 8)
    seeds[0, 0, 1] = seeds[1, 0, 2] = seeds[0, 1, [0, 9]] = seeds[1, 1, 10] = True
    apsp = gpu.rag_distances(graphs, seeds, "apsp")
    sssp = gpu.rag_distances(graphs, seeds, "sssp")
    np.testing.assert_allclose(apsp, sssp, rtol=1e-6)
    assert np.isinf(apsp[0, :, 5:]).all() and np.isinf(apsp[1, 1]).all()


def test_batches_split_at_the_grid_limit(monkeypatch, rng):
    imgs, kps, scores = _batch(3, H=16, W=16)
    whole_sobel = gpu.sobel_batch(imgs)
    whole_slic = gpu.slic_batch(imgs, n_segments=6, max_num_iter=2)
    d = rng.random((3, 2, 16, 16)).astype(np.float32)
    whole_fuse = gpu.fuse(d, scores, temperature=1.0)
    whole_maps, whole_labels = gpu.pose_instance_maps(imgs, kps, method="sweep", person_scores=scores)
    monkeypatch.setattr(_device, "MAX_GRID_YZ", 2)
    with LaunchRecorder() as rec:
        np.testing.assert_array_equal(gpu.sobel_batch(imgs), whole_sobel)
    assert max(g[2] for name, g, _ in rec.launches if name == "sobel_rgb_kernel") <= 2
    labels, counts = gpu.slic_batch(imgs, n_segments=6, max_num_iter=2)
    np.testing.assert_array_equal(labels, whole_slic[0])
    np.testing.assert_array_equal(counts, whole_slic[1])
    for got, want in zip(gpu.fuse(d, scores, temperature=1.0), whole_fuse):
        np.testing.assert_array_equal(got, want)
    with LaunchRecorder() as rec:
        maps, labs = gpu.pose_instance_maps(imgs, kps, method="sweep", person_scores=scores)
    assert max(g[1] for name, g, _ in rec.launches if name.startswith("fuse")) <= 2
    for a, b in zip(maps + labs, whole_maps + whole_labels):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"labels: expected at most 2 images per RAG batch \(the CUDA grid's z limit\), got 3"):
        gpu.build_rags(whole_slic[0], whole_sobel)


@pytest.mark.parametrize("method", ["rag", "sweep"])
def test_memory_estimate_covers_every_allocation_of_one_more_image(monkeypatch, method):
    from numba import cuda

    allocated = []
    device_array, to_dev = cuda.device_array, cuda.to_device

    def rec_device_array(shape, dtype=np.float64, *a, **k):
        out = device_array(shape, dtype, *a, **k)
        allocated.append(out.nbytes)
        return out

    def rec_to_device(obj, *a, **k):
        out = to_dev(obj, *a, **k)
        allocated.append(out.nbytes)
        return out

    monkeypatch.setattr(cuda, "device_array", rec_device_array)
    monkeypatch.setattr(cuda, "to_device", rec_to_device)
    totals = {}
    for B in (1, 2):
        imgs, kps, scores = _batch(B, H=16, W=20)
        allocated.clear()
        p.pose_instance_maps(imgs, kps, method=method, n_segments=6, person_scores=scores, device="cuda")
        totals[B] = sum(allocated)
    one_more = totals[2] - totals[1]
    estimate = pipeline_device.bytes_per_image(16, 20, 2, method, imgs.dtype.itemsize * 3)
    assert one_more <= estimate, (one_more, estimate)
    assert estimate <= 2.5 * one_more, (one_more, estimate)  # an estimate, not a blanket
