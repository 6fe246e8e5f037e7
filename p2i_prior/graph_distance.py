"""Exact distances in the region adjacency graph from each instance's seed superpixels."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _device as dv
from .checks import _short, check_binary_values, check_choice, check_positive_int, host_info, like, shape_str, to_numpy
from .rag import RAG, RAGBatch

__all__ = ["rag_distance", "rag_distances"]

SOLVERS = ("sssp", "apsp")

#: Largest all-pairs matrix ``solver="apsp"`` may allocate: (K, K) float64, so 2 GiB is
#: K = 16384 superpixels (and K^3 = 4.4e12 relaxations: use "sssp" long before that).
#: Raise it (``p2i_prior.graph_distance.APSP_MAX_BYTES = ...``) to go further.
APSP_MAX_BYTES = 2 * 1024**3


def check_rag_arrays(rag: RAG) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def rag_distance(rag: RAG, seeds: Any, solver: str = "sssp", *, device: str = "auto",
                 tile: int | None = None) -> Any:
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
        On the GPU ``"sssp"`` is a batched frontier Bellman–Ford (bit-identical to the CPU) and
        ``"apsp"`` a blocked Floyd–Warshall (float32, within float32 rounding).
    tile : int, optional
        GPU Floyd–Warshall tile edge, <= 32 (default: the launch table's, precompiled).

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
    if tile is not None:
        tile = check_positive_int(tile, "tile", minimum=1, maximum=32)
    if dv.use_gpu(device, seeds, rag.indptr):
        K = int(rag.n_nodes)
        sd = _check_seeds_device(seeds, 2, "(n, K) bool array")
        if dv.shape_of(sd)[1] != K:
            raise ValueError(
                f"seeds: expected (n, K) with K = rag.n_nodes = {K}, got shape {shape_str(dv.shape_of(sd))}"
            )
        arrays = (
            dv.as_device(rag.indptr, "rag.indptr", np.int64),
            dv.as_device(rag.indices, "rag.indices", np.int32),
            dv.as_device(rag.weights, "rag.weights", np.float32),
        )
        n = dv.shape_of(sd)[0]
        out = rag_distances_device(arrays, np.array([0, K]), sd, np.zeros(n, np.int32), solver,
                                   dv.stream_of(seeds), tile)
        return dv.to_kind(out, seeds)
    indptr, indices, weights = check_rag_arrays(rag)
    s = _check_seeds_host(seeds, 2, "(n, K) bool array")
    if s.shape[1] != rag.n_nodes:
        raise ValueError(
            f"seeds: expected (n, K) with K = rag.n_nodes = {rag.n_nodes}, got shape {shape_str(s.shape)}"
        )
    return like(rag_distance_cpu(indptr, indices, weights, rag.n_nodes, s, solver), seeds)


_SEEDS_WHAT = "a bool array (or 0/1 values)"


def _check_seeds_host(seeds: Any, ndim: int, layout: str) -> np.ndarray:
    s = to_numpy(seeds, "seeds")
    if s.ndim != ndim:
        raise ValueError(f"seeds: expected {layout}, got shape {shape_str(s.shape)}")
    check_binary_values(host_info(s, "seeds"), _SEEDS_WHAT, mask=False)
    return s.astype(np.bool_, copy=False)


def _check_seeds_device(seeds: Any, ndim: int, layout: str) -> Any:
    shp = dv.shape_of(seeds)
    if len(shp) != ndim:
        raise ValueError(f"seeds: expected {layout}, got shape {shape_str(shp)}")
    dev = dv.as_device(seeds, "seeds")
    check_binary_values(dv.device_info(dev, "seeds", dv.stream_of(seeds)), _SEEDS_WHAT, mask=False)
    return dev.view(np.uint8) if np.dtype(dev.dtype) == np.bool_ else dv.as_device(dev, "seeds", np.uint8)


def rag_distance_cpu(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, K: int,
                     s: np.ndarray, solver: str) -> np.ndarray:
    """Unchecked CPU driver: checked CSR arrays and (n, K) bool seeds -> (n, K) float32."""
    from .kernels import shortest_paths as sp

    if s.shape[0] == 0:
        return np.zeros((0, K), np.float32)
    if solver == "sssp":
        return sp.multi_source_dijkstra(indptr, indices, weights, s)
    need = 8 * K**2
    if need > APSP_MAX_BYTES:
        raise ValueError(
            f"solver: 'apsp' (Floyd–Warshall) needs a (K, K) float64 matrix, {need / 2**30:.3g} GiB "
            f"for K = rag.n_nodes = {K}, over APSP_MAX_BYTES = {APSP_MAX_BYTES / 2**30:.3g} GiB; "
            "use solver='sssp' (the same distances)"
        )
    D = sp.floyd_warshall(indptr, indices, weights)
    return sp.min_over_seeds(D, s)


def rag_distances(graphs: RAGBatch, seeds: Any, solver: str = "sssp", *,
                  tile: int | None = None, device: str = "auto") -> Any:
    """Distances in every graph of a batch from each image's instances (on the GPU one launch
    sequence for the batch).

    Parameters
    ----------
    graphs : RAGBatch
    seeds : (B, n, K) bool array
        ``seeds[b, i, k]``: superpixel ``k`` of image ``b`` is on instance ``i``'s skeleton;
        ``n`` is the largest instance count (pad with all-False rows), ``K`` >= every ``K_b``
        (columns past ``K_b`` are ignored).
    solver : {"sssp", "apsp"}
    tile : int, optional
        As :func:`rag_distance`.
    device : {"auto", "cpu", "cuda"}
        ``"auto"``: the GPU for GPU seeds or a device batch, the CPU otherwise.

    Returns
    -------
    (B, n, K) float32 array of the kind of ``seeds``; ``+inf`` past each ``K_b`` and on rows
    without seeds.

    Examples
    --------
    >>> from p2i_prior import build_rags
    >>> g = build_rags(np.array([[[0, 1]]]), np.ones((1, 1, 2)))
    >>> rag_distances(g, np.array([[[True, False]]])).tolist()
    [[[0.0, 1.0]]]
    """
    if not isinstance(graphs, RAGBatch):
        raise TypeError(f"graphs: expected a RAGBatch (from build_rags), got {type(graphs).__name__}")
    check_choice(solver, "solver", SOLVERS)
    if tile is not None:
        tile = check_positive_int(tile, "tile", minimum=1, maximum=32)
    on_gpu = dv.use_gpu(device, seeds, graphs.indptr)
    s = (_check_seeds_device if on_gpu else _check_seeds_host)(seeds, 3, "(B, n, K) bool array")
    B, n, K = dv.shape_of(s)
    if B != graphs.n_graphs or (B and K < int(graphs.n_nodes.max())):
        raise ValueError(
            f"seeds: expected (B, n, K) with B = {graphs.n_graphs} and K >= "
            f"{int(graphs.n_nodes.max()) if B else 0}, got shape {shape_str((B, n, K))}"
        )
    if on_gpu:
        arrays = (dv.as_device(graphs.indptr, "graphs.indptr", np.int64),
                  dv.as_device(graphs.indices, "graphs.indices", np.int32),
                  dv.as_device(graphs.weights, "graphs.weights", np.float32))
        out = rag_distances_device(arrays, graphs.node_offsets, s.reshape((B * n, K)),
                                   np.repeat(np.arange(B, dtype=np.int32), n), solver,
                                   dv.stream_of(seeds), tile)
        return dv.to_kind(out.reshape((B, n, K)), seeds)
    out = np.full((B, n, K), np.inf, np.float32)
    for b in range(B):
        g = graphs.graph(b)
        indptr, indices, weights = check_rag_arrays(g)
        out[b, :, : g.n_nodes] = rag_distance_cpu(indptr, indices, weights, g.n_nodes,
                                                  np.ascontiguousarray(s[b, :, : g.n_nodes]), solver)
    return like(out, seeds)


def rag_distances_device(graph_arrays, node_offsets: np.ndarray, seeds_dev: Any, inst_graph: np.ndarray,
           solver: str, stream: Any, tile: int | None) -> Any:
    """GPU driver: (n, K) float32 device distances of the instances (rows of ``seeds_dev``,
    uint8), instance ``i`` in graph ``inst_graph[i]`` of the block-diagonal graph."""
    from numba import cuda

    from .kernels import cuda_shortest_paths as ksp

    indptr, indices, weights = graph_arrays
    offs = cuda.to_device(np.asarray(node_offsets, np.int64), stream=stream)
    ig = cuda.to_device(np.asarray(inst_graph, np.int32), stream=stream)
    if solver == "sssp":
        return ksp.bellman_ford_batched(indptr, indices, weights, offs, seeds_dev, ig,
                                        threads=dv.launch_config("bf"), stream=stream)
    rows = dv.launch_config("rows")
    if tile is None:
        tile = dv.launch_config("tile")
    elif tile % rows:
        rows = 1
    G = len(node_offsets) - 1
    if G > dv.MAX_GRID_YZ:
        raise ValueError(
            f"graphs: expected at most {dv.MAX_GRID_YZ} graphs per Floyd–Warshall batch (the CUDA "
            f"grid's z limit), got {G}; use solver='sssp' or split the batch"
        )
    K = int(np.diff(node_offsets).max()) if G > 0 else 0
    n_pad = max(tile, -(-K // tile) * tile)
    D = ksp.floyd_warshall_batched(indptr, indices, weights, offs, n_pad, tile=tile, rows=rows,
                                   stream=stream)
    return ksp.min_over_seeds(D, seeds_dev, ig, offs, threads=dv.launch_config("threads"), stream=stream)
