"""CUDA RAG construction (simulator without a GPU) against the CPU kernels and build_rag."""

import numpy as np
import pytest

from p2i_prior import build_rag
from p2i_prior.kernels import cuda_common as kc
from p2i_prior.kernels import cuda_rag as kr
from p2i_prior.kernels import rag as cpu_rag

from cuda_sim import gpu, blocky_labels, needs_cuda, to_device

pytestmark = needs_cuda


def _cpu_graph(labels, edge, K):
    keys, values = cpu_rag.boundary_entries(labels.astype(np.int64), edge, K)
    return cpu_rag.reduce_to_csr(keys, values, K)


def test_batched_graphs_equal_cpu_graphs(rng):
    B, H, W = 3, 9, 13
    labels = np.stack([blocky_labels(rng, H, W, 7), rng.integers(0, 5, (H, W)).astype(np.int32),
                       np.zeros((H, W), np.int32)])  # Voronoi, salt-and-pepper, one region
    edge = rng.random((B, H, W))
    ip, ix, w, cnt, offs = kr.build_rag_batched(to_device(labels), to_device(edge), block=(4, 4),
                                                threads=8, scan_threads=4)
    ip, ix, w, cnt = (a.copy_to_host() for a in (ip, ix, w, cnt))
    for b in range(B):
        K = int(labels[b].max()) + 1
        assert offs[b + 1] - offs[b] == K
        rp, ri, rw, rc = _cpu_graph(labels[b], edge[b], K)
        o0, o1 = offs[b], offs[b + 1]
        s, e = ip[o0], ip[o1]
        np.testing.assert_array_equal(ip[o0 : o1 + 1] - s, rp)
        np.testing.assert_array_equal(ix[s:e] - o0, ri)
        np.testing.assert_array_equal(cnt[s:e], rc)
        np.testing.assert_allclose(w[s:e], rw, rtol=1.2e-7, atol=0)  # one float32 ulp at most


def test_given_node_offsets_keep_unused_labels_isolated(rng):
    labels = np.array([[[0, 0, 3], [0, 3, 3]]], np.int32)  # labels 1, 2 unused
    edge = rng.random((1, 2, 3))
    ip, ix, w, cnt, offs = kr.build_rag_batched(to_device(labels), to_device(edge), np.array([0, 5]),
                                                block=(4, 4), threads=8, scan_threads=4)
    np.testing.assert_array_equal(ip.copy_to_host(), [0, 1, 1, 1, 2, 2])
    np.testing.assert_array_equal(ix.copy_to_host(), [3, 0])


def test_scan_matches_cumsum(rng):
    src = rng.integers(0, 9, 37).astype(np.int64)
    out = kc.exclusive_scan(to_device(src), scan_threads=4).copy_to_host()
    np.testing.assert_array_equal(out, np.concatenate([[0], np.cumsum(src)]))


def test_gpu_build_rag_equals_host(rng):
    labels = blocky_labels(rng, 8, 11, 6).astype(np.int64)
    edge = rng.random((8, 11)).astype(np.float32)
    g, r = gpu.build_rag(labels, edge), build_rag(labels, edge)
    assert g.n_nodes == r.n_nodes
    np.testing.assert_array_equal(g.indptr, r.indptr)
    np.testing.assert_array_equal(g.indices, r.indices)
    np.testing.assert_array_equal(g.counts, r.counts)
    np.testing.assert_allclose(g.weights, r.weights, rtol=1.2e-7, atol=0)


def test_build_rags_graph_accessor(rng):
    labels = np.stack([blocky_labels(rng, 6, 7, 4), blocky_labels(rng, 6, 7, 3)])
    edge = rng.random((2, 6, 7))
    batch = gpu.build_rags(labels, edge)
    assert batch.n_graphs == 2
    for b in range(2):
        g, r = batch.graph(b), build_rag(labels[b], edge[b])
        np.testing.assert_array_equal(g.indices, r.indices)
        np.testing.assert_allclose(g.weights, r.weights, rtol=1.2e-7, atol=0)


@pytest.mark.parametrize(
    "labels, edge, exc, msg",
    [
        (np.zeros((2, 2, 2), np.int32), np.zeros((2, 2)), ValueError, r"labels: expected \(H, W\) integer label image, got shape \(2, 2, 2\)"),
        (np.zeros((2, 2)), np.zeros((2, 2)), TypeError, r"labels: expected an integer label image, got dtype float64"),
        (np.array([[0, -1]]), np.zeros((1, 2)), ValueError, r"labels: expected labels >= 0, got minimum -1"),
        (np.zeros((2, 2), np.int32), np.zeros((2, 3)), ValueError, r"edge_map: expected shape \(2, 2\) \(the labels' shape\), got \(2, 3\)"),
        (np.zeros((1, 2), np.int32), np.array([[0.0, np.inf]]), ValueError, r"edge_map: expected finite values, got 1 NaN/inf"),
        (np.zeros((1, 2), np.int32), np.array([[0.0, -0.5]]), ValueError, r"edge_map: expected edge strengths >= 0, got minimum -0.5"),
    ],
)
def test_gpu_build_rag_bad_input(labels, edge, exc, msg):
    with pytest.raises(exc, match=msg):
        gpu.build_rag(labels, edge)


def test_build_rags_bad_n_labels(rng):
    with pytest.raises(ValueError, match=r"n_labels: expected 1 positive counts \(one per image\), got \[0, 2\]"):
        gpu.build_rags(np.zeros((1, 2, 2), np.int32), np.zeros((1, 2, 2)), n_labels=[0, 2])
