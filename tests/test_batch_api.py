"""The public batch forms on the CPU equal their per-image functions; the public CPU fuse
follows the one fusion rule; the deprecated ``_gpu`` names still work, with a warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import p2i_prior as p
from cuda_sim import blocky_labels


def test_sobel_and_slic_batch_equal_per_image(rng):
    imgs = (rng.random((3, 20, 24, 3)) * 255).astype(np.uint8)
    np.testing.assert_array_equal(p.sobel_batch(imgs), np.stack([p.sobel(i) for i in imgs]))
    labels, counts = p.slic_batch(imgs, n_segments=12)
    want = [p.slic(i, n_segments=12) for i in imgs]
    np.testing.assert_array_equal(labels, np.stack(want))
    assert counts.tolist() == [int(w.max()) + 1 for w in want]
    with pytest.raises(ValueError, match=r"images: expected \(B, H, W\) or \(B, H, W, 3\) images, got shape \(4, 4\)"):
        p.sobel_batch(np.zeros((4, 4)))


def test_build_rags_and_rag_distances_equal_per_image(rng):
    labels = np.stack([blocky_labels(rng, 9, 11, 6), blocky_labels(rng, 9, 11, 4)])
    edge = rng.random((2, 9, 11))
    batch = p.build_rags(labels, edge)
    assert batch.n_nodes.tolist() == [6, 4]
    seeds = np.zeros((2, 3, 6), bool)
    seeds[0, 0, 1] = seeds[0, 1, [0, 5]] = seeds[1, 0, 3] = True
    got = p.rag_distances(batch, seeds)
    for b in range(2):
        g = p.build_rag(labels[b], edge[b])
        h = batch.graph(b)
        np.testing.assert_array_equal(h.indptr, g.indptr)
        np.testing.assert_array_equal(h.indices, g.indices)
        np.testing.assert_array_equal(h.weights, g.weights)
        K = g.n_nodes
        np.testing.assert_array_equal(got[b, :, :K], p.rag_distance(g, seeds[b, :, :K]))
        assert np.isinf(got[b, :, K:]).all()
    with pytest.raises(ValueError, match=r"n_labels: expected 2 positive counts \(one per image\), got \[0, 2\]"):
        p.build_rags(labels, edge, n_labels=[0, 2])
    with pytest.raises(ValueError, match=r"seeds: expected \(B, n, K\) with B = 2 and K >= 6"):
        p.rag_distances(batch, seeds[:, :, :4])


def test_cpu_fuse_follows_the_fusion_rule(rng):
    n, H, W = 3, 7, 9
    d = rng.random((n, H, W)).astype(np.float32) * 5
    d[1, :2] = np.inf
    score = rng.random((H, W)).astype(np.float32)
    pm, lab = p.fuse(d, score, temperature=0.7, threshold=0.3)
    np.testing.assert_allclose(pm, p.softmax_instances(d, 0.7), atol=1e-6)
    want = np.where(score >= 0.3, np.argmin(d, axis=0) + 1, 0)
    np.testing.assert_array_equal(lab, want)
    with pytest.raises(ValueError, match=r"labels: expected values < K = 2 \(the distances'"):
        p.fuse(np.zeros((1, 2), np.float32), np.ones((1, 2)), temperature=1.0, labels=np.array([[0, 5]]))
    with pytest.raises(ValueError, match=r"threshold: expected a number in \[0, 1\], got 2"):
        p.fuse(d, score, temperature=1.0, threshold=2)


def test_deprecated_gpu_module_forwards_with_a_warning():
    from p2i_prior import _gpu

    with pytest.warns(DeprecationWarning, match=r"p2i_prior._gpu.use_gpu is deprecated; use p2i_prior._device.use_gpu"):
        use_gpu = _gpu.use_gpu
    assert use_gpu("cpu", np.zeros(3)) is False
    with pytest.warns(DeprecationWarning, match=r"p2i_prior._gpu.RAGBatch is deprecated"):
        assert _gpu.RAGBatch is p.RAGBatch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(AttributeError, match="no attribute 'nothing'"):
            _gpu.nothing


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_segment_instances_wants_a_pose_map(device):
    img = np.zeros((4, 5, 3), np.uint8)
    with pytest.raises(TypeError, match=r"pose_map: expected a float \(H, W, n\) pose-instance map .* got dtype uint8"):
        p.segment_instances(img, np.ones((4, 5)), device=device)
    with pytest.raises(TypeError, match=r"pose_map: expected a float .* got dtype bool"):
        p.segment_instances(np.ones((4, 5, 2), bool), np.ones((4, 5)), device=device)
    with pytest.raises(ValueError, match=r"pose_map: expected finite values, got 20 NaN/inf"):
        p.segment_instances(np.full((4, 5, 2), np.nan, np.float32)[:, :, :1], np.ones((4, 5)), device=device)
