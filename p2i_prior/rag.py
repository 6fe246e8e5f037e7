"""Region adjacency graph (RAG) of a superpixel label image, weighted by edge strength."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._util import check_finite, check_labels, shape_str, to_numpy

__all__ = ["RAG", "build_rag"]


@dataclass(frozen=True)
class RAG:
    """An undirected weighted graph in symmetric CSR form.

    Attributes
    ----------
    indptr : (K + 1,) int64
        Row pointers: the neighbours of node ``v`` are ``indices[indptr[v]:indptr[v+1]]``,
        sorted increasingly.
    indices : (2E,) int32
        Neighbour ids; every edge appears once in each direction.
    weights : (2E,) float32
        Edge weights (>= 0), equal in both directions.
    n_nodes : int
        ``K``; nodes without neighbours are isolated (e.g. a label value that never occurs).
    counts : (2E,) int32 or None
        Boundary pixels behind each edge (from :func:`build_rag`).
    """

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    n_nodes: int
    counts: np.ndarray | None = None

    @property
    def n_edges(self) -> int:
        """Number of undirected edges ``E``."""
        return int(self.indices.size // 2)

    def with_weights(self, weights: Any) -> "RAG":
        """The same graph with new (2E,) edge weights (finite, >= 0, symmetric).

        Examples
        --------
        >>> g = build_rag(np.array([[0, 1]]), np.ones((1, 2)))
        >>> g.with_weights(g.weights * 2).weights
        array([2., 2.], dtype=float32)
        """
        w = to_numpy(weights, "weights", dtype=np.float32)
        if w.shape != self.weights.shape:
            raise ValueError(
                f"weights: expected shape {shape_str(self.weights.shape)} (one per directed edge), "
                f"got {shape_str(w.shape)}"
            )
        check_finite(w, "weights")
        if w.size and w.min() < 0:
            raise ValueError(f"weights: expected weights >= 0, got minimum {float(w.min())}")
        return RAG(self.indptr, self.indices, w, self.n_nodes, self.counts)

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each undirected edge once: ``(a, b, weight)`` arrays with ``a < b``."""
        rows = np.repeat(np.arange(self.n_nodes, dtype=np.int64), np.diff(self.indptr))
        keep = rows < self.indices
        return rows[keep], self.indices[keep].astype(np.int64), self.weights[keep]

    def to_scipy(self):
        """The graph as a ``scipy.sparse.csr_array`` of shape (K, K)."""
        from scipy import sparse

        return sparse.csr_array(
            (self.weights.astype(np.float64), self.indices, self.indptr),
            shape=(self.n_nodes, self.n_nodes),
        )


def build_rag(labels: Any, edge_map: Any, *, device: str = "auto") -> RAG:
    """Region adjacency graph of a label image, weighted by boundary edge strength.

    Two regions are adjacent when a pixel of one is 4-connected to a pixel of the other.
    The weight of edge ``(a, b)`` is the mean of ``edge_map`` over the boundary pixels of the
    pair: the pixels of ``a`` with a 4-neighbour in ``b`` and the pixels of ``b`` with a
    4-neighbour in ``a``, each counted once.  This equals
    ``skimage.graph.rag_boundary(labels, edge_map, connectivity=1)`` on every edge whose
    boundary pixels touch no third region; unlike it, every adjacent pair is found also where
    three or more regions meet.

    Parameters
    ----------
    labels : (H, W) int array
        Labels ``>= 0`` and ``< 2**31 - 1``; ``K = labels.max() + 1`` nodes (values that do
        not occur are isolated nodes; memory is O(K), so keep the labels compact).
    edge_map : (H, W) float array
        Edge strength (finite, >= 0 and at most the float32 maximum), e.g.
        :func:`p2i_prior.sobel` of the image.
    device : {"auto", "cpu", "cuda"}
        ``"auto"``: the GPU for CuPy arrays and CUDA torch tensors (the CSR arrays on the same device), the CPU otherwise; ``"cuda"`` raises ``RuntimeError`` without a GPU.

    Returns
    -------
    RAG
        Symmetric CSR graph on the host (numpy arrays).

    Examples
    --------
    >>> labels = np.array([[0, 0, 1], [2, 2, 1]])
    >>> g = build_rag(labels, np.ones((2, 3)))
    >>> g.n_nodes, g.n_edges, g.indices[g.indptr[0]:g.indptr[1]].tolist()
    (3, 3, [1, 2])
    """
    from . import _gpu

    if _gpu.use_gpu(device, labels, edge_map):
        return _gpu.build_rag(labels, edge_map)
    from .kernels.rag import boundary_entries, hashed_csr, reduce_to_csr

    lab = check_labels(labels)
    edge = to_numpy(edge_map, "edge_map")
    if edge.shape != lab.shape:
        raise ValueError(
            f"edge_map: expected shape {shape_str(lab.shape)} (the labels' shape), "
            f"got {shape_str(edge.shape)}"
        )
    edge = edge.astype(np.float64, copy=False)
    check_finite(edge, "edge_map")
    if edge.min() < 0:
        raise ValueError(f"edge_map: expected edge strengths >= 0, got minimum {float(edge.min())}")
    f32_max = float(np.finfo(np.float32).max)
    if edge.max() > f32_max:  # the mean weights are stored as float32: they would be inf
        raise ValueError(
            f"edge_map: expected edge strengths <= {f32_max:.4g} (weights are float32), got maximum "
            f"{float(edge.max()):.4g}; rescale the edge map"
        )
    n_labels = int(lab.max()) + 1
    if n_labels > 2**31 - 1:  # node ids are stored as int32
        raise ValueError(
            f"labels: expected values < 2**31 - 1 (node ids are int32), got maximum {n_labels - 1}"
        )
    ok = False
    if n_labels <= _HASHED_MAX_NODES:  # superpixel graphs: few neighbours per node, no sort
        ok, indptr, indices, weights, counts = hashed_csr(lab, edge, n_labels, _HASHED_SLOTS)
    if not ok:  # many neighbours somewhere, or a huge label range: sort the boundary entries
        keys, values = boundary_entries(lab, edge, n_labels)
        indptr, indices, weights, counts = reduce_to_csr(keys, values, n_labels)
    return RAG(indptr, indices, weights, n_labels, counts)


#: The hashed construction keeps a (K, _HASHED_SLOTS) table: up to 32 larger neighbours per
#: node, for graphs of up to 2**18 nodes (64 MB of tables at most).
_HASHED_SLOTS = 32
_HASHED_MAX_NODES = 1 << 18
