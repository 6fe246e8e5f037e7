"""Exact distances in the region adjacency graph from each instance's seed superpixels."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._util import check_choice, check_ndim, like, shape_str, to_numpy
from .rag import RAG

__all__ = ["rag_distance"]

SOLVERS = ("sssp", "apsp")


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
        out = sp.multi_source_dijkstra(rag.indptr, rag.indices, rag.weights, s)
    else:
        D = sp.floyd_warshall(rag.indptr, rag.indices, rag.weights)
        out = sp.min_over_seeds(D, s)
    return like(out, seeds)
