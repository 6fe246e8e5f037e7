from collections import defaultdict

import numpy as np
import pytest
from skimage import graph

from p2i_prior import RAG, build_rag


def naive_rag(labels, edge):
    """Reference: pair -> mean edge over boundary pixels (each pixel once per neighbouring label)."""
    H, W = labels.shape
    acc = defaultdict(list)
    for r in range(H):
        for c in range(W):
            others = set()
            for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= rr < H and 0 <= cc < W and labels[rr, cc] != labels[r, c]:
                    others.add(int(labels[rr, cc]))
            for b in others:
                a = int(labels[r, c])
                acc[(min(a, b), max(a, b))].append(edge[r, c])
    return {k: (np.mean(v), len(v)) for k, v in acc.items()}


def as_dict(g: RAG):
    a, b, w = g.edges()
    return {(int(x), int(y)): float(z) for x, y, z in zip(a, b, w)}


def check_csr_invariants(g: RAG):
    assert g.indptr.shape == (g.n_nodes + 1,) and g.indptr[0] == 0
    assert g.indptr[-1] == g.indices.size == g.weights.size
    rows = np.repeat(np.arange(g.n_nodes), np.diff(g.indptr))
    assert not np.any(rows == g.indices), "self loop"
    for v in range(g.n_nodes):
        nb = g.indices[g.indptr[v]:g.indptr[v + 1]]
        assert np.all(np.diff(nb) > 0), "neighbours sorted and unique"
    m = g.to_scipy()
    assert (abs(m - m.T) > 0).nnz == 0, "symmetric"


@pytest.mark.parametrize("shape, k", [((12, 15), 5), ((30, 20), 25), ((1, 40), 6), ((40, 1), 3)])
def test_build_rag_matches_naive_reference(rng, shape, k):
    # blocky random labels (upsampled noise) so regions have real boundaries, plus salt
    small = rng.integers(0, k, (max(1, shape[0] // 3), max(1, shape[1] // 3)))
    labels = np.kron(small, np.ones((3, 3), int))[: shape[0], : shape[1]]
    labels = np.pad(labels, ((0, shape[0] - labels.shape[0]), (0, shape[1] - labels.shape[1])), mode="edge")
    salt = rng.random(shape) < 0.05
    labels[salt] = rng.integers(0, k, salt.sum())
    edge = rng.random(shape)
    g = build_rag(labels, edge)
    check_csr_invariants(g)
    ref = naive_rag(labels, edge)
    got = as_dict(g)
    assert set(got) == set(ref)
    for key, (w, count) in ref.items():
        assert got[key] == pytest.approx(w, rel=1e-6)
    a, b, _ = g.edges()
    counts = {(int(x), int(y)): int(c) for x, y, c in zip(a, b, g.counts[g.indices > np.repeat(np.arange(g.n_nodes), np.diff(g.indptr))])}
    assert counts == {k: v[1] for k, v in ref.items()}


def test_build_rag_matches_skimage_without_triple_junction_pixels(rng):
    # vertical stripes of random widths: every boundary pixel touches exactly one other region,
    # the case where skimage's rag_boundary and ours define the same mean
    widths = rng.integers(1, 5, 12)
    labels = np.repeat(np.arange(widths.size), widths)[None, :].repeat(9, axis=0)
    edge = rng.random(labels.shape)
    ours = as_dict(build_rag(labels, edge))
    ref = graph.rag_boundary(labels, edge, connectivity=1)
    theirs = {(min(u, v), max(u, v)): d["weight"] for u, v, d in ref.edges(data=True)}
    assert set(ours) == set(theirs)
    for key in theirs:
        assert ours[key] == pytest.approx(theirs[key], rel=1e-6)


def test_build_rag_finds_every_pair_where_three_regions_meet():
    # 0 | 1 over 2: region 2 touches both 0 and 1 only through pixels that also see the other
    labels = np.array([[0, 1], [2, 2]])
    g = build_rag(labels, np.ones((2, 2)))
    assert set(as_dict(g)) == {(0, 1), (0, 2), (1, 2)}
    # a pinwheel: the centre pixel touches four labels
    labels = np.array([[0, 1, 1], [0, 4, 2], [3, 3, 2]])
    got = set(as_dict(build_rag(labels, np.ones((3, 3)))))
    assert {(0, 4), (1, 4), (2, 4), (3, 4), (0, 1), (1, 2), (2, 3), (0, 3)} <= got
    # skimage misses pairs at such junctions (it records only the min and max neighbour)
    ref = graph.rag_boundary(labels, np.ones((3, 3)), connectivity=1)
    assert len(got) >= ref.number_of_edges()


def test_build_rag_isolated_and_single_region():
    g = build_rag(np.zeros((4, 4), int), np.ones((4, 4)))
    assert g.n_nodes == 1 and g.n_edges == 0
    g = build_rag(np.array([[0, 3]]), np.ones((1, 2)))  # labels 1, 2 never occur
    assert g.n_nodes == 4 and g.n_edges == 1
    assert list(np.diff(g.indptr)) == [1, 0, 0, 1]


def test_with_weights():
    g = build_rag(np.array([[0, 1, 2]]), np.ones((1, 3)))
    g2 = g.with_weights(np.arange(g.weights.size))
    assert g2.indices is g.indices and g2.weights.dtype == np.float32
    with pytest.raises(ValueError, match=r"weights: expected shape \(4,\).*got \(3,\)"):
        g.with_weights(np.ones(3))
    with pytest.raises(ValueError, match=r"weights: expected weights >= 0, got minimum -1.0"):
        g.with_weights(-np.ones(4))


@pytest.mark.parametrize(
    "labels, edge, exc, msg",
    [
        (np.zeros((3,), int), np.zeros((3,)), ValueError, r"labels: expected \(H, W\) integer label image, got shape \(3,\)"),
        (np.zeros((3, 3)), np.zeros((3, 3)), TypeError, r"labels: expected an integer label image, got dtype float64"),
        (np.zeros((3, 3), int), np.zeros((3, 4)), ValueError, r"edge_map: expected shape \(3, 3\) \(the labels' shape\), got \(3, 4\)"),
        (-np.ones((3, 3), int), np.zeros((3, 3)), ValueError, r"labels: expected labels >= 0, got minimum -1"),
        (np.zeros((3, 3), int), -np.ones((3, 3)), ValueError, r"edge_map: expected edge strengths >= 0"),
        (np.zeros((3, 3), int), np.full((3, 3), np.inf), ValueError, r"edge_map: expected finite values"),
        (np.zeros((0, 3), int), np.zeros((0, 3)), ValueError, r"labels: expected a non-empty image"),
    ],
)
def test_build_rag_bad_input(labels, edge, exc, msg):
    with pytest.raises(exc, match=msg):
        build_rag(labels, edge)


def test_hashed_and_sorted_constructions_are_identical(rng):
    from p2i_prior.kernels.rag import boundary_entries, hashed_csr, reduce_to_csr

    from skimage.segmentation import slic as sk_slic

    img = rng.random((60, 80, 3))
    for labels in (sk_slic(img, n_segments=150, start_label=0),
                   rng.integers(0, 400, (30, 40)),  # noise: many neighbours per node
                   np.kron(rng.integers(0, 9, (6, 8)), np.ones((5, 5), int))):
        labels = labels.astype(np.int64)
        edge = rng.random(labels.shape)
        K = int(labels.max()) + 1
        ref = reduce_to_csr(*boundary_entries(labels, edge, K), K)
        for slots in (4, 32):
            ok, *got = hashed_csr(labels, edge, K, slots)
            if ok:
                for a, b in zip(got, ref):
                    np.testing.assert_array_equal(a, b)
        # the public function agrees whichever path it takes
        g = build_rag(labels, edge)
        np.testing.assert_array_equal(g.weights, ref[2])
    # a node with more neighbours than slots falls back
    star = np.arange(1, 41).reshape(1, 40).repeat(3, axis=0)
    star[1, 1:-1] = 0
    edge = rng.random(star.shape)
    ok, *_ = hashed_csr(star.astype(np.int64), edge, 41, 4)
    assert not ok
    ref = naive_rag(star, edge)
    got = as_dict(build_rag(star, edge))
    assert set(got) == set(ref) and all(got[k] == pytest.approx(v[0], rel=1e-6) for k, v in ref.items())
