"""Helpers shared by the CUDA tests (tests/test_cuda_*.py).

``tests/conftest.py`` switches Numba to its CUDA simulator before numba is imported when no GPU
is present, so every CUDA kernel runs here on numpy memory, one Python thread per CUDA thread.
Inputs stay tiny and blocks tiny (4 x 4 threads: ``conftest.py`` shrinks the launch table
``p2i_prior.kernels.cuda_common.LAUNCH`` under the simulator) so that multi-block and edge
paths execute while the whole CUDA suite stays fast.  With a real GPU the same tests run on it.

``gpu`` holds the public step functions with ``device="cuda"`` bound: ``gpu.sobel(img)`` is
``p2i_prior.sobel(img, device="cuda")``.
"""

from __future__ import annotations

import numpy as np
import pytest

import functools
import types

import p2i_prior
from p2i_prior import _device

#: Skip (rather than fail) where numba-cuda is not installed at all.
needs_cuda = pytest.mark.skipif(not _device.cuda_available(), reason="numba-cuda is not usable")

#: The public functions, run on the (simulated) device.
gpu = types.SimpleNamespace(**{
    name: functools.partial(getattr(p2i_prior, name), device="cuda")
    for name in ("sobel", "sobel_batch", "slic", "slic_batch", "build_rag", "build_rags",
                 "rag_distance", "rag_distances", "sweep_distance", "fuse", "segment_instances",
                 "pose_instance_maps")
})

#: float32 agreement of kernels whose CPU twin uses the same float64 operations: the CUDA
#: compiler may contract a multiply-add into an FMA, which moves the last float32 bit at most.
ATOL32 = 1e-6


def to_device(x):
    """A numpy array on the (simulated) device."""
    from numba import cuda

    return cuda.to_device(np.ascontiguousarray(x))


def random_graph(rng, K: int, p: float):
    """(indptr int64, indices int32, weights float32) of a random symmetric graph, rows sorted."""
    from scipy import sparse

    a = np.triu(rng.random((K, K)) < p, 1)
    w = rng.uniform(0.05, 1.0, (K, K)).astype(np.float32) * a
    m = sparse.csr_array(w + w.T)
    m.sort_indices()
    return m.indptr.astype(np.int64), m.indices.astype(np.int32), m.data.astype(np.float32)


def union_graph(graphs):
    """Block-diagonal union of CSR graphs: (indptr, indices, weights, node_offsets)."""
    offs = np.concatenate([[0], np.cumsum([g[0].size - 1 for g in graphs])]).astype(np.int64)
    indptr = [np.zeros(1, np.int64)]
    indices, weights = [], []
    for g, (ip, ix, w) in enumerate(graphs):
        indptr.append(ip[1:] + indptr[-1][-1])
        indices.append(ix + np.int32(offs[g]))
        weights.append(w)
    return (np.concatenate(indptr), np.concatenate(indices).astype(np.int32),
            np.concatenate(weights).astype(np.float32), offs)


def blocky_labels(rng, H: int, W: int, n: int) -> np.ndarray:
    """(H, W) int32 labels: ``n`` random Voronoi regions (junctions of 3+ regions included)."""
    ys = rng.integers(0, H, n)
    xs = rng.integers(0, W, n)
    rr, cc = np.indices((H, W))
    d = (rr[None] - ys[:, None, None]) ** 2 + (cc[None] - xs[:, None, None]) ** 2
    return np.argmin(d, axis=0).astype(np.int32)


#: Counts launches (name, grid, stream) and host reads: ``with LaunchRecorder() as rec: ...``.
LaunchRecorder = _device.LaunchCounter
