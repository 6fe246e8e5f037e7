"""Exact distances in the region adjacency graph from each instance's seed superpixels."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._util import _short, check_choice, check_ndim, like, shape_str, to_numpy
from .rag import RAG

__all__ = ["rag_distance"]

SOLVERS = ("sssp", "apsp")

#: Largest all-pairs matrix ``solver="apsp"`` may allocate: (K, K) float64, so 2 GiB is
#: K = 16384 superpixels (and K^3 = 4.4e12 relaxations: use "sssp" long before that).
#: Raise it (``p2i_prior.graph_distance.APSP_MAX_BYTES = ...``) to go further.
APSP_MAX_BYTES = 2 * 1024**3


def _check_rag_arrays(rag: RAG) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CSR arrays of ``rag`` as host arrays, checked so that no kernel reads out of bounds.

    A :class:`RAG` from :func:`build_rag` always passes; a hand-made one with inconsistent
    arrays raises ``ValueError`` naming ``rag`` instead of crashing (numba does no bounds
    checks).  O(K + E).
    """
    K = rag.n_nodes
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 0:
        raise ValueError(f"rag: expected n_nodes an integer >= 0, got {_short(K)}")
    indptr = to_numpy(rag.indptr, "rag.indptr", dtype=np.int64)
    indices = to_numpy(rag.indices, "rag.indices")
    weights = to_numpy(rag.weights, "rag.weights", dtype=np.float32)
    if indptr.shape != (K + 1,):
        raise ValueError(f"rag: expected indptr of shape ({K + 1},) for n_nodes = {K}, got {shape_str(indptr.shape)}")
    if indices.ndim != 1 or indices.dtype.kind not in "iu" or weights.shape != indices.shape:
        raise ValueError(
            f"rag: expected 1-d integer indices and weights of the same length, got indices "
            f"{shape_str(indices.shape)} {indices.dtype} and weights {shape_str(weights.shape)}"
        )
    if indptr[0] != 0 or indptr[-1] != indices.size or (np.diff(indptr) < 0).any():
        raise ValueError(
            f"rag: expected indptr non-decreasing from 0 to len(indices) = {indices.size}, "
            f"got {indptr[0]} .. {indptr[-1]}"
        )
    if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= K):
        raise ValueError(
            f"rag: expected indices in 0..n_nodes-1 = 0..{K - 1}, got {int(indices.min())} .. {int(indices.max())}"
        )
    if not np.isfinite(weights).all() or (weights.size and float(weights.min()) < 0):
        raise ValueError("rag: expected finite edge weights >= 0 (see RAG.with_weights)")
    # distances are returned as float32: the longest possible path (K - 1 hops of the largest
    # weight) must fit, or a reachable node would come back as +inf ("no path")
    top = float(weights.max()) * max(K - 1, 1) if weights.size else 0.0
    if top > float(np.finfo(np.float32).max):
        raise ValueError(
            f"rag: expected edge weights whose path sums fit float32, got a largest weight of "
            f"{float(weights.max()):.4g} with K = {K} nodes (paths up to {top:.3g}); rescale the weights"
        )
    return indptr, indices.astype(np.int32, copy=False) if K <= 2**31 - 1 else indices, weights


def rag_distance(rag: RAG, seeds: Any, solver: str = "sssp", *, device: str = "auto") -> Any:
    """Shortest-path distance in the RAG from each instance's seed superpixels.

    Parameters
    ----------
    rag : RAG
        Graph from :func:`p2i_prior.build_rag` (weights >= 0).
    seeds : (n, K) bool array
        ``seeds[i, k]``: superpixel ``k`` is on instance ``i``'s skeleton
        (:func:`p2i_prior.seed_superpixels`).  ``K`` must equal ``rag.n_nodes``.
    solver : {"sssp", "apsp"}
        ``"sssp"``: multi-source Dijkstra, one run per instance, O(n (E + K) log K) (default).
        ``"apsp"``: Floyd–Warshall all-pairs distances, O(K^3), then the minimum over each
        instance's seeds, as in the paper.  Both return the same numbers.
    device : {"auto", "cpu", "cuda"}
        ``"auto"``: the GPU for CuPy arrays and CUDA torch tensors (output on the same device,
        no copy), the CPU otherwise; ``"cuda"`` raises ``RuntimeError`` without a GPU.

    Raises
    ------
    TypeError
        ``rag`` is not a :class:`RAG`, ``seeds`` is not boolean (or 0/1).
    ValueError
        ``seeds`` of the wrong shape, an unknown ``solver``, a hand-made ``rag`` with
        inconsistent CSR arrays, edge weights so large that a path sum could overflow
        float32 (``max(weight) * (K - 1) > 3.4e38``), or ``solver="apsp"`` on a graph whose (K, K) matrix would
        exceed :data:`APSP_MAX_BYTES` (2 GiB by default).

    Returns
    -------
    (n, K) float32 array of the kind of ``seeds``
        ``d[i, k]`` = length of the lightest path from any seed of ``i`` to ``k``; 0 on seeds,
        +inf where no path exists and on every node of an instance without seeds. Never NaN.

    Examples
    --------
    >>> g = build_rag(np.array([[0, 1, 2]]), np.array([[0., 1., 3.]]))
    >>> rag_distance(g, np.array([[True, False, False]])).tolist()
    [[0.0, 0.5, 2.5]]
    """
    if not isinstance(rag, RAG):
        raise TypeError(f"rag: expected a p2i_prior.RAG (from build_rag), got {type(rag).__name__}")
    check_choice(solver, "solver", SOLVERS)
    from . import _gpu

    if _gpu.use_gpu(device, seeds, rag.indptr):
        return _gpu.rag_distance(rag, seeds, solver)
    indptr, indices, weights = _check_rag_arrays(rag)
    s = to_numpy(seeds, "seeds")
    check_ndim(s, "seeds", (2,), "(n, K) bool array")
    if s.dtype != np.bool_:
        if s.dtype.kind in "iuf" and np.isin(s, (0, 1)).all():
            s = s.astype(np.bool_)
        else:
            raise TypeError(f"seeds: expected a bool array (or 0/1 values), got dtype {s.dtype}")
    if s.shape[1] != rag.n_nodes:
        raise ValueError(
            f"seeds: expected (n, K) with K = rag.n_nodes = {rag.n_nodes}, got shape {shape_str(s.shape)}"
        )
    from .kernels import shortest_paths as sp

    if s.shape[0] == 0:
        out = np.zeros((0, rag.n_nodes), np.float32)
    elif solver == "sssp":
        out = sp.multi_source_dijkstra(indptr, indices, weights, s)
    else:
        need = 8 * rag.n_nodes**2
        if need > APSP_MAX_BYTES:
            raise ValueError(
                f"solver: 'apsp' (Floyd–Warshall) needs a (K, K) float64 matrix, {need / 2**30:.3g} GiB "
                f"for K = rag.n_nodes = {rag.n_nodes}, over APSP_MAX_BYTES = {APSP_MAX_BYTES / 2**30:.3g} GiB; "
                "use solver='sssp' (the same distances)"
            )
        D = sp.floyd_warshall(indptr, indices, weights)
        out = sp.min_over_seeds(D, s)
    return like(out, seeds)
