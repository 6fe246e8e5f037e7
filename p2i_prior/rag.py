"""Region adjacency graph (RAG) of a superpixel label image, weighted by edge strength."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from . import _device as dv
from .checks import (
    check_edge_values,
    check_finite,
    check_label_values,
    host_info,
    shape_str,
    to_numpy,
)

__all__ = ["RAG", "RAGBatch", "build_rag", "build_rags"]


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
    if dv.use_gpu(device, labels, edge_map):
        lab = check_labels_device(labels, "labels", 2)
        edge = _check_edge_device(lab, edge_map, "edge_map", dv.stream_of(labels))
        H, W = dv.shape_of(lab)
        ip, ix, w, c, offs = build_rags_device(lab.reshape((1, H, W)), edge.reshape((1, H, W)),
                                               None, dv.stream_of(labels))
        return RAG(dv.to_kind(ip, labels), dv.to_kind(ix, labels), dv.to_kind(w, labels),
                   int(offs[-1]), dv.to_kind(c, labels))
    lab, edge = _check_host(labels, edge_map, 2, "edge_map")
    n_labels = int(lab.max()) + 1
    if n_labels > 2**31 - 1:  # node ids are stored as int32
        raise ValueError(
            f"labels: expected values < 2**31 - 1 (node ids are int32), got maximum {n_labels - 1}"
        )
    return build_rag_cpu(lab, edge, n_labels)


def _check_host(labels: Any, edge_map: Any, ndim: int, ename: str) -> tuple[np.ndarray, np.ndarray]:
    lname = "labels"
    lab = to_numpy(labels, lname)
    if lab.ndim != ndim:
        layout = "(H, W) integer label image" if ndim == 2 else "(B, H, W) integer label images"
        raise ValueError(f"{lname}: expected {layout}, got shape {shape_str(lab.shape)}")
    check_label_values(host_info(lab, lname))
    edge = to_numpy(edge_map, ename)
    if edge.shape != lab.shape:
        raise ValueError(
            f"{ename}: expected shape {shape_str(lab.shape)} (the labels' shape), "
            f"got {shape_str(edge.shape)}"
        )
    edge = edge.astype(np.float64, copy=False)
    check_edge_values(host_info(edge, ename))
    return lab.astype(np.int64, copy=False), edge


def build_rag_cpu(lab: np.ndarray, edge: np.ndarray, n_labels: int) -> RAG:
    """Unchecked CPU driver: (H, W) int64 labels, (H, W) float64 edges, ``K`` -> :class:`RAG`."""
    from .kernels.rag import boundary_entries, hashed_csr, reduce_to_csr

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


@dataclass(frozen=True)
class RAGBatch:
    """Region adjacency graphs of B images as one block-diagonal CSR graph (from :func:`build_rags`).

    Attributes
    ----------
    indptr : (V + 1,) int64 array (a Numba device array on the GPU, numpy on the CPU)
    indices : (2E,) int32 array, global node ids
    weights : (2E,) float32 array
    counts : (2E,) int32 array, boundary pixels behind each edge
    node_offsets : (B + 1,) int64 host array: image ``b`` owns nodes
        ``node_offsets[b] .. node_offsets[b + 1] - 1`` (its labels shifted)
    """

    indptr: Any
    indices: Any
    weights: Any
    counts: Any
    node_offsets: np.ndarray

    @property
    def n_graphs(self) -> int:
        """Number of images ``B``."""
        return int(self.node_offsets.size - 1)

    @property
    def n_nodes(self) -> np.ndarray:
        """(B,) node count ``K_b`` of each graph."""
        return np.diff(self.node_offsets)

    def graph(self, b: int):
        """Graph ``b`` as a host :class:`p2i_prior.RAG` (copies it to the host)."""
        o0, o1 = int(self.node_offsets[b]), int(self.node_offsets[b + 1])
        host = lambda a: a if isinstance(a, np.ndarray) else a.copy_to_host()
        ip = host(self.indptr)
        s, e = int(ip[o0]), int(ip[o1])
        return RAG(
            ip[o0 : o1 + 1] - s,
            host(self.indices)[s:e] - o0,
            host(self.weights)[s:e],
            o1 - o0,
            host(self.counts)[s:e],
        )


def check_labels_device(labels: Any, name: str, ndim: int, stream: Any = None) -> Any:
    """``labels`` as a device array, checked (statistics read on ``stream``, default the
    caller's: :func:`p2i_prior._device.stream_of`)."""
    stream = dv.stream_of(labels) if stream is None else stream
    shp = dv.shape_of(labels)
    layout = "(H, W) integer label image" if ndim == 2 else "(B, H, W) integer label images"
    if len(shp) != ndim:
        raise ValueError(f"{name}: expected {layout}, got shape {shape_str(shp)}")
    dev = dv.as_device(labels, name)
    check_label_values(dv.device_info(dev, name, stream))
    return dev


def _check_edge_device(lab: Any, edge_map: Any, name: str, stream: Any) -> Any:
    dev = dv.as_device(edge_map, name)
    if dv.shape_of(dev) != dv.shape_of(lab):
        raise ValueError(
            f"{name}: expected shape {shape_str(dv.shape_of(lab))} (the labels' shape), "
            f"got {shape_str(dv.shape_of(dev))}"
        )
    check_edge_values(dv.device_info(dev, name, stream))
    return dev


def label_maxima_device(lab: Any, stream: Any = 0) -> np.ndarray:
    """(B,) int64 host array: the largest label of each of the (B, H, W) device label images."""
    from .kernels import cuda_common as kc
    from .kernels import cuda_rag as kr

    B, H, W = dv.shape_of(lab)
    blk = dv.launch_config("block")
    out = kc.full(B, -1, np.int64, stream=stream)
    for b0, b1 in dv.batch_chunks(B):
        kr.label_max_kernel[kc.grid_2d(b1 - b0, H, W, blk), blk + (1,), stream](lab[b0:b1], out[b0:b1])
    return out.copy_to_host(stream=stream)


def build_rags_device(lab: Any, edge: Any, node_offsets: np.ndarray | None, stream: Any = 0):
    """GPU driver: (B, H, W) device labels and edges -> the CSR device arrays and node offsets
    (``kernels.cuda_rag.build_rag_batched``).  ``node_offsets`` (B + 1,) from known label counts
    (e.g. SLIC's) saves reading each image's largest label back; labels must be below them."""
    from .kernels import cuda_rag as kr

    B = dv.shape_of(lab)[0]
    if B > dv.MAX_GRID_YZ:
        raise ValueError(
            f"labels: expected at most {dv.MAX_GRID_YZ} images per RAG batch (the CUDA grid's z "
            f"limit), got {B}; split the batch"
        )

    return kr.build_rag_batched(
        lab, edge, node_offsets, block=dv.launch_config("block"), threads=dv.launch_config("threads"),
        scan_threads=dv.launch_config("scan"), stream=stream,
    )


def build_rags(labels: Any, edge_maps: Any, *, n_labels: Sequence[int] | None = None,
               device: str = "auto") -> RAGBatch:
    """Region adjacency graphs of B label images of one size, as one block-diagonal graph.

    Parameters
    ----------
    labels : (B, H, W) int array
        Labels >= 0 of each image (CuPy, torch CUDA, Numba device, or numpy).
    edge_maps : (B, H, W) float array
        Edge strength, finite and >= 0 (e.g. :func:`p2i_prior.sobel_batch`).
    n_labels : sequence of B ints, optional
        ``K_b`` per image (default ``labels[b].max() + 1``).
    device : {"auto", "cpu", "cuda"}
        ``"auto"``: the GPU for GPU arrays (the graph's arrays on the device), the CPU otherwise.

    Returns
    -------
    RAGBatch
        Each graph equals :func:`build_rag` of its image (on the GPU weights within one
        float32 ulp).

    Examples
    --------
    >>> g = build_rags(np.array([[[0, 1]]]), np.ones((1, 1, 2)))
    >>> g.n_nodes.tolist(), g.graph(0).n_edges
    ([2], 1)
    """
    on_gpu = dv.use_gpu(device, labels, edge_maps)
    if on_gpu:
        lab = check_labels_device(labels, "labels", 3)
        edge = _check_edge_device(lab, edge_maps, "edge_maps", dv.stream_of(labels))
    else:
        lab, edge = _check_host(labels, edge_maps, 3, "edge_maps")
    B = dv.shape_of(lab)[0]
    offsets = None
    if n_labels is not None:
        k = np.asarray(n_labels, np.int64)
        if k.shape != (B,) or (k < 1).any():
            raise ValueError(f"n_labels: expected {B} positive counts (one per image), got {k.tolist()}")
        # a label >= its image's count would be written past the image's nodes (on a GPU:
        # silently, into the next image's graph or out of the arrays)
        top = label_maxima_device(lab, dv.stream_of(labels)) if on_gpu else lab.reshape(B, -1).max(axis=1)
        over = np.flatnonzero(top >= k)
        if over.size:
            b = int(over[0])
            raise ValueError(
                f"n_labels: expected counts above each image's largest label, got n_labels[{b}] = "
                f"{int(k[b])} for image {b} whose labels reach {int(top[b])}"
            )
        offsets = np.concatenate([[0], np.cumsum(k)])
    if on_gpu:
        ip, ix, w, c, offs = build_rags_device(lab, edge, offsets, dv.stream_of(labels))
        return RAGBatch(ip, ix, w, c, offs)
    return _union([build_rag_cpu(lab[b], edge[b], int(lab[b].max()) + 1 if offsets is None
                                 else int(offsets[b + 1] - offsets[b])) for b in range(B)])


def _union(graphs: Sequence[RAG]) -> RAGBatch:
    """Host block-diagonal union of graphs."""
    offs = np.concatenate([[0], np.cumsum([g.n_nodes for g in graphs])]).astype(np.int64)
    ends = np.cumsum([0] + [g.indices.size for g in graphs])
    indptr = np.concatenate([np.zeros(1, np.int64)] + [g.indptr[1:] + ends[i] for i, g in enumerate(graphs)])
    cat = lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt)
    return RAGBatch(
        indptr.astype(np.int64),
        cat([g.indices + np.int32(offs[i]) for i, g in enumerate(graphs)], np.int32),
        cat([g.weights for g in graphs], np.float32),
        cat([g.counts for g in graphs], np.int32),
        offs,
    )
