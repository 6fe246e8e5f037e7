"""Region adjacency graph construction on the GPU (CUDA kernels), batched.

Same graph as the CPU kernels of :mod:`p2i_prior.kernels.rag`: for every pixel ``p`` (label
``a``) and every *distinct* other label ``b`` among its 4 neighbours, one boundary entry
``(min(a, b), max(a, b), edge[p])``; the weight of edge ``(a, b)`` is the mean over its
entries, the graph is a symmetric CSR with each row sorted.

A batch of ``B`` label images of one size becomes one block-diagonal graph: image ``b`` owns
the global nodes ``node_offsets[b] .. node_offsets[b + 1] - 1`` (its labels shifted by
``node_offsets[b]``).  Everything stays on the device; the host reads three scalars (the
number of entries, of directed edges, and of nodes when it is not given) to size the arrays.

Instead of sorting the entries (the CPU route), pairs are reduced in a per-row open hash:

1. ``count_kernel``: per pixel, each distinct neighbour adds 1 to ``row_count[lo]`` (global
   id of the smaller label): an upper bound on ``lo``'s number of larger neighbours.
2. ``exclusive_scan`` (``cuda_common.scan_rows_kernel`` on one row, one block): ``slot_off`` =
   exclusive prefix sum of ``row_count``.
3. ``insert_kernel``: per pixel and distinct neighbour, row ``lo`` probes its slots
   ``slot_off[lo]..`` from the start with ``atomic.cas(-1 -> hi)`` until it finds ``hi`` or
   claims a free slot, then ``atomic.add`` s the edge value (float64) and the count into it.
   Linear probing from the row's start fills each row's slots as a prefix.
4. ``degree_kernel``: each filled slot ``(a, b)`` adds 1 to ``degree[a]`` and ``degree[b]``;
   ``exclusive_scan`` again gives ``indptr``.
5. ``fill_kernel``: each pair is written into both rows (positions by ``atomic.add``), weight
   ``float32(sum / count)``; ``sort_rows_kernel`` then sorts each (short) row by neighbour.

The float64 sums are added in a nondeterministic order, so a weight can differ from the CPU's
(row-major order) by float64 rounding before its cast to float32: equal in practice, within
one float32 ulp always.  Nothing here validates its input.
"""

from __future__ import annotations


import numpy as np
from numba import cuda, float32, float64, int64

from .cuda_common import LAUNCH, blocks as _blocks, exclusive_scan, full

__all__ = [
    "label_max_kernel",
    "count_kernel",
    "insert_kernel",
    "degree_kernel",
    "fill_kernel",
    "sort_rows_kernel",
    "build_rag_batched",
    "seeds_from_pixels_kernel",
    "pixel_mask_kernel",
]


def neighbour_label(labels, r, c, H, W, d):
    """Label of the ``d``-th 4-neighbour (up, down, left, right) of (r, c), -1 if outside."""
    rr = r + (d == 1) - (d == 0)
    cc = c + (d == 3) - (d == 2)
    if rr < 0 or rr >= H or cc < 0 or cc >= W:
        return -1
    return labels[rr, cc]


def is_new_neighbour(labels, r, c, H, W, d):
    """True when the ``d``-th neighbour's label differs from (r, c)'s and from the earlier ones."""
    a = labels[r, c]
    b = _neighbour_label(labels, r, c, H, W, d)
    if b < 0 or b == a:
        return False
    for t in range(d):
        if _neighbour_label(labels, r, c, H, W, t) == b:
            return False
    return True


_neighbour_label = cuda.jit(device=True)(neighbour_label)
_is_new_neighbour = cuda.jit(device=True)(is_new_neighbour)


@cuda.jit(cache=True)
def label_max_kernel(labels, out):
    """out[b] = max(out[b], labels[b, r, c]) over each image; one thread per pixel."""
    c, r, b = cuda.grid(3)
    if b < labels.shape[0] and r < labels.shape[1] and c < labels.shape[2]:
        cuda.atomic.max(out, b, int64(labels[b, r, c]))


@cuda.jit(cache=True)
def count_kernel(labels, node_offsets, row_count):
    """Per pixel and distinct neighbour label: ``row_count[node_offsets[b] + min] += 1``."""
    c, r, b = cuda.grid(3)
    B, H, W = labels.shape
    if b >= B or r >= H or c >= W:
        return
    img = labels[b]
    a = img[r, c]
    base = node_offsets[b]
    for d in range(4):
        if _is_new_neighbour(img, r, c, H, W, d):
            o = _neighbour_label(img, r, c, H, W, d)
            cuda.atomic.add(row_count, base + min(a, o), 1)


@cuda.jit(cache=True)
def insert_kernel(labels, edge, node_offsets, slot_off, slots, sums, cnts):
    """Reduce every boundary entry into its row's open-hash slots (see the module doc)."""
    c, r, b = cuda.grid(3)
    B, H, W = labels.shape
    if b >= B or r >= H or c >= W:
        return
    img = labels[b]
    a = img[r, c]
    base = node_offsets[b]
    value = float64(edge[b, r, c])
    for d in range(4):
        if _is_new_neighbour(img, r, c, H, W, d):
            o = _neighbour_label(img, r, c, H, W, d)
            row = base + min(a, o)
            hi = base + max(a, o)
            j = slot_off[row]
            end = slot_off[row + 1]
            while j < end:
                old = cuda.atomic.cas(slots, j, -1, hi)
                if old == -1 or old == hi:
                    cuda.atomic.add(sums, j, value)
                    cuda.atomic.add(cnts, j, 1)
                    break
                j += 1


@cuda.jit(cache=True)
def degree_kernel(slot_off, slots, degree):
    """Each filled slot (a, b) adds 1 to degree[a] and degree[b]; one thread per row a."""
    a = cuda.grid(1)
    if a >= degree.shape[0]:
        return
    n_up = 0
    for j in range(slot_off[a], slot_off[a + 1]):
        b = slots[j]
        if b < 0:
            break
        n_up += 1
        cuda.atomic.add(degree, b, 1)
    cuda.atomic.add(degree, a, n_up)


@cuda.jit(cache=True)
def fill_kernel(slot_off, slots, sums, cnts, indptr, fill, indices, weights, counts):
    """Write every pair into both of its CSR rows; one thread per row a (the smaller id)."""
    a = cuda.grid(1)
    if a >= fill.shape[0]:
        return
    for j in range(slot_off[a], slot_off[a + 1]):
        b = slots[j]
        if b < 0:
            break
        n = cnts[j]
        w = float32(sums[j] / n)
        pa = indptr[a] + cuda.atomic.add(fill, a, 1)
        indices[pa] = b
        weights[pa] = w
        counts[pa] = n
        pb = indptr[b] + cuda.atomic.add(fill, b, 1)
        indices[pb] = a
        weights[pb] = w
        counts[pb] = n


@cuda.jit(cache=True)
def sort_rows_kernel(indptr, indices, weights, counts):
    """Insertion-sort each CSR row by neighbour id (rows are short); one thread per row."""
    v = cuda.grid(1)
    if v >= indptr.shape[0] - 1:
        return
    s = indptr[v]
    e = indptr[v + 1]
    for i in range(s + 1, e):
        key = indices[i]
        w = weights[i]
        n = counts[i]
        j = i - 1
        while j >= s and indices[j] > key:
            indices[j + 1] = indices[j]
            weights[j + 1] = weights[j]
            counts[j + 1] = counts[j]
            j -= 1
        indices[j + 1] = key
        weights[j + 1] = w
        counts[j + 1] = n


def build_rag_batched(labels, edge, node_offsets=None, block=None, threads=None,
                      scan_threads=None, stream=0):
    """Region adjacency graphs of a batch of label images, all on the device.

    Parameters
    ----------
    labels : (B, H, W) int32 device array, labels >= 0
    edge : (B, H, W) float32 or float64 device array, edge strength
    node_offsets : (B + 1,) int64 host array, optional
        Global id of each image's label 0; default: ``K_b = labels[b].max() + 1`` nodes per
        image (read back from the device: B integers).

    Returns
    -------
    indptr : (V + 1,) int64, indices : (2E,) int32 (global ids), weights : (2E,) float32,
    counts : (2E,) int32 device arrays, and node_offsets : (B + 1,) int64 host array.
    """
    block = LAUNCH["block"] if block is None else block
    threads = LAUNCH["threads"] if threads is None else threads
    scan_threads = LAUNCH["scan"] if scan_threads is None else scan_threads
    B, H, W = labels.shape
    grid = (_blocks(W, block[0]), _blocks(H, block[1]), B)
    blk = (int(block[0]), int(block[1]), 1)
    if node_offsets is None:
        kmax = full(B, -1, np.int64, threads, stream)
        label_max_kernel[grid, blk, stream](labels, kmax)
        node_offsets = np.concatenate([[0], np.cumsum(kmax.copy_to_host(stream=stream) + 1)])
    node_offsets = np.asarray(node_offsets, np.int64)
    V = int(node_offsets[-1])
    offs = cuda.to_device(node_offsets, stream=stream)
    row_count = full(V, 0, np.int64, threads, stream)
    count_kernel[grid, blk, stream](labels, offs, row_count)
    slot_off = exclusive_scan(row_count, scan_threads, stream)
    m = int(slot_off[V:].copy_to_host(stream=stream)[0])
    slots = full(max(m, 1), -1, np.int32, threads, stream)
    sums = full(max(m, 1), 0.0, np.float64, threads, stream)
    cnts = full(max(m, 1), 0, np.int32, threads, stream)
    insert_kernel[grid, blk, stream](labels, edge, offs, slot_off, slots, sums, cnts)
    degree = full(V, 0, np.int64, threads, stream)
    degree_kernel[_blocks(V, threads), threads, stream](slot_off, slots, degree)
    indptr = exclusive_scan(degree, scan_threads, stream)
    e2 = int(indptr[V:].copy_to_host(stream=stream)[0])
    indices = cuda.device_array(max(e2, 1), np.int32, stream=stream)
    weights = cuda.device_array(max(e2, 1), np.float32, stream=stream)
    counts = cuda.device_array(max(e2, 1), np.int32, stream=stream)
    fill = full(V, 0, np.int64, threads, stream)
    fill_kernel[_blocks(V, threads), threads, stream](
        slot_off, slots, sums, cnts, indptr, fill, indices, weights, counts
    )
    sort_rows_kernel[_blocks(V, threads), threads, stream](indptr, indices, weights, counts)
    return indptr, indices[:e2], weights[:e2], counts[:e2], node_offsets


@cuda.jit(cache=True)
def seeds_from_pixels_kernel(labels, pix_inst, pix_image, rows, cols, seeds):
    """seeds[pix_inst[q], labels[pix_image[q], rows[q], cols[q]]] = 1 for every skeleton pixel q.

    labels (B, H, W) int, pix_inst / pix_image (m,) int32, rows / cols (m,) int32,
    seeds (n, K) uint8 (zeroed by the caller); one thread per pixel (racing writes all write 1).
    """
    q = cuda.grid(1)
    if q < rows.shape[0]:
        seeds[pix_inst[q], labels[pix_image[q], rows[q], cols[q]]] = 1


@cuda.jit(cache=True)
def pixel_mask_kernel(pix_inst, rows, cols, mask):
    """mask[pix_inst[q], rows[q], cols[q]] = 1: skeleton pixels into (n, H, W) uint8 masks."""
    q = cuda.grid(1)
    if q < rows.shape[0]:
        mask[pix_inst[q], rows[q], cols[q]] = 1
