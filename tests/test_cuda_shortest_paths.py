"""Batched Bellman-Ford and blocked Floyd-Warshall (simulator without a GPU) against the CPU
solvers and SciPy."""

import numpy as np
import pytest
from scipy.sparse import csgraph, csr_array

from p2i_prior import build_rag, rag_distance
from p2i_prior.kernels import cuda_shortest_paths as ksp
from p2i_prior.kernels import shortest_paths as sp

from cuda_sim import gpu, blocky_labels, needs_cuda, random_graph, to_device, union_graph

pytestmark = needs_cuda

RTOL32 = 1e-6  # float32 Floyd-Warshall against float64 path sums


@pytest.fixture
def batch(rng):
    Ks = [13, 9]
    graphs = [random_graph(rng, K, 0.25) for K in Ks]
    indptr, indices, weights, offs = union_graph(graphs)
    seeds = np.zeros((4, max(Ks)), np.uint8)
    seeds[0, [0, 5]] = 1
    seeds[1, 3] = 1
    seeds[2, [1, 2]] = 1  # instance 3: no seed at all
    inst_graph = np.array([0, 0, 1, 1], np.int32)
    ref = np.full(seeds.shape, np.inf, np.float32)
    for i in range(4):
        g, K = inst_graph[i], Ks[inst_graph[i]]
        ref[i, :K] = sp.multi_source_dijkstra(*graphs[g], seeds[i : i + 1, :K].astype(bool))[0]
        if seeds[i].any():  # an independent check of the CPU reference itself
            m = csr_array((graphs[g][2].astype(np.float64), graphs[g][1], graphs[g][0]), shape=(K, K))
            d = csgraph.dijkstra(m, indices=np.flatnonzero(seeds[i, :K]), min_only=True)
            np.testing.assert_allclose(ref[i, :K], d, rtol=1e-7)
    dev = [to_device(a) for a in (indptr, indices, weights, offs, seeds, inst_graph)]
    return graphs, Ks, dev, ref


@pytest.mark.parametrize("force_global", [False, True])
def test_bellman_ford_batched_is_bit_identical_to_dijkstra(batch, force_global):
    graphs, Ks, dev, ref = batch
    out = ksp.bellman_ford_batched(*dev, threads=8, force_global=force_global).copy_to_host()
    np.testing.assert_array_equal(out, ref)


def test_floyd_warshall_batched_matches_cpu(batch):
    graphs, Ks, dev, ref = batch
    D = ksp.floyd_warshall_batched(dev[0], dev[1], dev[2], dev[3], 16, tile=8, rows=4)
    Dh = D.copy_to_host()
    for g, K in enumerate(Ks):
        np.testing.assert_allclose(Dh[g, :K, :K], sp.floyd_warshall(*graphs[g]), rtol=RTOL32)
        assert np.isinf(Dh[g, :K, K:]).all() and (np.diagonal(Dh[g]) == 0).all()
    mo = ksp.min_over_seeds(D, dev[4], dev[5], dev[3], threads=4).copy_to_host()
    np.testing.assert_allclose(mo, ref, rtol=RTOL32)
    assert np.isinf(mo[3]).all()


def test_fw_kernels_reject_bad_rows():
    with pytest.raises(ValueError, match=r"rows: expected a divisor of tile=8, got 3"):
        ksp.fw_kernels(8, 3)


@pytest.mark.parametrize("solver", ["sssp", "apsp"])
def test_gpu_rag_distance_equals_host(rng, solver):
    labels = blocky_labels(rng, 9, 12, 9)
    rag = build_rag(labels, rng.random((9, 12)))
    seeds = np.zeros((3, rag.n_nodes), bool)
    seeds[0, 0] = True
    seeds[1, [2, 5]] = True
    got = gpu.rag_distance(rag, seeds, solver)
    want = rag_distance(rag, seeds, solver)
    np.testing.assert_allclose(got, want, rtol=RTOL32 if solver == "apsp" else 0)
    assert np.isinf(got[2]).all()


def test_gpu_rag_distances_batch(rng):
    labels = np.stack([blocky_labels(rng, 7, 8, 5), blocky_labels(rng, 7, 8, 4)])
    edge = rng.random((2, 7, 8))
    batch = gpu.build_rags(labels, edge)
    K = int(batch.n_nodes.max())
    seeds = np.zeros((2, 2, K), bool)
    seeds[0, 0, 0] = seeds[0, 1, 1] = seeds[1, 0, 2] = True
    got = gpu.rag_distances(batch, seeds)
    for b in range(2):
        Kb = int(batch.n_nodes[b])
        want = rag_distance(build_rag(labels[b], edge[b]), seeds[b, :, :Kb])
        np.testing.assert_array_equal(got[b, :, :Kb], want)
        assert np.isinf(got[b, :, Kb:]).all()


def test_gpu_rag_distance_bad_input(rng):
    rag = build_rag(np.array([[0, 1]]), np.ones((1, 2)))
    with pytest.raises(TypeError, match=r"rag: expected a p2i_prior.RAG \(from build_rag\), got dict"):
        gpu.rag_distance({}, np.ones((1, 2), bool))
    with pytest.raises(ValueError, match=r"seeds: expected \(n, K\) with K = rag.n_nodes = 2, got shape \(1, 3\)"):
        gpu.rag_distance(rag, np.ones((1, 3), bool))
    with pytest.raises(TypeError, match=r"seeds: expected a bool array \(or 0/1 values\), got dtype float64"):
        gpu.rag_distance(rag, np.array([[0.5, 1.0]]))
    with pytest.raises(ValueError, match=r"solver: expected one of 'sssp', 'apsp', got 'bfs'"):
        gpu.rag_distance(rag, np.ones((1, 2), bool), "bfs")
