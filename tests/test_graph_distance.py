import numpy as np
import pytest
from scipy.sparse import csgraph

from p2i_prior import build_rag, rag_distance
from p2i_prior.rag import RAG


def random_rag(rng, K, p_edge=0.08, components=1):
    """A random symmetric graph as a RAG (several components when asked)."""
    rows, cols = [], []
    comp = rng.integers(0, components, K)
    for a in range(K):
        for b in range(a + 1, K):
            if comp[a] == comp[b] and rng.random() < p_edge:
                rows.append(a)
                cols.append(b)
    rows, cols = np.array(rows, int), np.array(cols, int)
    w = rng.random(rows.size).astype(np.float32) * 3
    w[rng.random(w.size) < 0.1] = 0.0  # zero-weight edges (constant image regions) are legal
    from scipy import sparse

    m = sparse.coo_array((np.r_[w, w], (np.r_[rows, cols], np.r_[cols, rows])), shape=(K, K)).tocsr()
    m.sort_indices()
    return RAG(m.indptr.astype(np.int64), m.indices.astype(np.int32), m.data.astype(np.float32), K)


def random_seeds(rng, n, K):
    seeds = rng.random((n, K)) < 0.05
    seeds[0, :] = False
    seeds[0, rng.integers(K)] = True
    if n > 2:
        seeds[2, :] = False  # an instance without seeds
    return seeds


def scipy_reference(g, seeds):
    m = g.to_scipy()
    out = np.full(seeds.shape, np.inf)
    for i, s in enumerate(seeds):
        if s.any():
            out[i] = csgraph.dijkstra(m, directed=False, indices=np.flatnonzero(s), min_only=True)
    return out


@pytest.mark.parametrize("K, components", [(1, 1), (2, 1), (60, 1), (150, 3)])
@pytest.mark.parametrize("solver", ["sssp", "apsp"])
def test_rag_distance_matches_scipy(rng, K, components, solver):
    g = random_rag(rng, K, components=components)
    seeds = random_seeds(rng, 4, K)
    got = rag_distance(g, seeds, solver)
    ref = scipy_reference(g, seeds)
    assert got.dtype == np.float32 and got.shape == seeds.shape
    assert not np.isnan(got).any()
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
    fin = np.isfinite(ref)
    np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-6, atol=1e-6)
    # Floyd–Warshall as a cross-check of the min-over-seeds step
    if solver == "apsp" and K > 1:
        D = csgraph.floyd_warshall(g.to_scipy(), directed=False)
        for i, s in enumerate(seeds):
            if s.any():
                np.testing.assert_allclose(got[i], D[s].min(axis=0), rtol=1e-6)


def test_solvers_agree_exactly(rng):
    g = random_rag(rng, 200, p_edge=0.04, components=2)
    seeds = random_seeds(rng, 6, 200)
    np.testing.assert_array_equal(rag_distance(g, seeds, "sssp"), rag_distance(g, seeds, "apsp"))


def test_invariants_on_a_real_label_graph(rng):
    labels = np.kron(rng.integers(0, 40, (8, 8)), np.ones((4, 4), int))
    g = build_rag(labels, rng.random(labels.shape))
    seeds = random_seeds(rng, 3, g.n_nodes)
    d = rag_distance(g, seeds)
    assert (d[seeds] == 0).all()
    assert (d >= 0).all()
    # triangle inequality along every edge: d[v] <= d[u] + w(u, v)
    a, b, w = g.edges()
    for i in range(d.shape[0]):
        fin = np.isfinite(d[i, a])
        assert np.all(d[i, b][fin] <= d[i, a][fin] + w[fin] + 1e-5)
        assert np.all(d[i, a][np.isfinite(d[i, b])] <= (d[i, b] + w)[np.isfinite(d[i, b])] + 1e-5)


def test_no_instances_and_no_seeds():
    g = build_rag(np.array([[0, 1]]), np.ones((1, 2)))
    assert rag_distance(g, np.zeros((0, 2), bool)).shape == (0, 2)
    d = rag_distance(g, np.zeros((1, 2), bool), "apsp")
    assert np.isinf(d).all()


def test_seeds_as_torch(rng):
    torch = pytest.importorskip("torch")
    g = build_rag(np.array([[0, 1, 2]]), np.array([[0.0, 1.0, 3.0]]))
    d = rag_distance(g, torch.tensor([[True, False, False]]))
    assert isinstance(d, torch.Tensor) and d.tolist() == [[0.0, 0.5, 2.5]]


@pytest.mark.parametrize(
    "rag, seeds, solver, exc, msg",
    [
        ("graph", np.zeros((1, 2), bool), "sssp", TypeError, r"rag: expected a p2i_prior.RAG"),
        (None, np.zeros((1, 3), bool), "sssp", ValueError, r"seeds: expected \(n, K\) with K = rag.n_nodes = 2, got shape \(1, 3\)"),
        (None, np.zeros((2,), bool), "sssp", ValueError, r"seeds: expected \(n, K\) bool array, got shape \(2,\)"),
        (None, np.full((1, 2), 0.5), "sssp", TypeError, r"seeds: expected a bool array \(or 0/1 values\), got dtype float64"),
        (None, np.zeros((1, 2), bool), "dijkstra", ValueError, r"solver: expected one of 'sssp', 'apsp', got 'dijkstra'"),
    ],
)
def test_rag_distance_bad_input(rag, seeds, solver, exc, msg):
    g = build_rag(np.array([[0, 1]]), np.ones((1, 2))) if rag is None else rag
    with pytest.raises(exc, match=msg):
        rag_distance(g, seeds, solver)
