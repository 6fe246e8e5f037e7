"""First-order fast marching for ``|grad u| = f`` on the pixel grid (CPU), instances in parallel.

Sethian (1996) / Tsitsiklis (1995): nodes are accepted in increasing order of ``u``, each
trial node's value being the first-order Godunov update of its *accepted* neighbours
(:func:`p2i_prior.kernels.sweep.godunov_update`, the same float64 arithmetic and float32
storage as fast sweeping).  The update at a node reads only neighbours smaller than its result
(one-sided when ``|a - b| >= f``), so accepting in increasing order solves the same discrete
equations the Gauss–Seidel sweeps of :mod:`p2i_prior.kernels.sweep` converge to, in one pass:
the values agree with converged fast sweeping to float32 rounding, and with
``skfmm.travel_time(phi, speed, order=1)`` for ``phi = 0`` on the seeds.

Layout: accepted values live in a padded ``(H + 2, W + 2)`` float32 array whose border and
unaccepted nodes are ``+inf``, so a node's update reads its four neighbours with no bounds
tests and no state flags; tentative values live in a second padded array whose border is
``-inf`` (a border node can never improve, so it is never queued).  The queue is a 4-ary
min-heap of ``(value, flat index)`` with decrease-key (``pos`` holds each trial node's slot):
every node enters it once and leaves it once.  Its arrays are allocated at their largest size
up front: numba reference-counts an array variable that a loop may reassign, and growing the
heap inside the loop made the march 2x slower.

:func:`nearest_instance_marching` gives ``segment_people(method="geodesic")`` each person
pixel's nearest allowed instance without a full march per instance: one multi-label march for
all instances (the default), or per-instance marches each stopped once it can win no further
pixel (exact).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .sweep import godunov_update_cpu

__all__ = ["march_instance", "march_instances", "pad_slowness", "edge_slowness", "nearest_instance_marching",
           "BOUND_SLACK"]


@njit(cache=True, inline="always")
def _neighbour(p, side, W2):
    """The padded flat index of node ``p``'s neighbour on ``side`` (0 up, 1 down, 2 left, 3 right)."""
    if side == 0:
        return p - W2
    if side == 1:
        return p + W2
    if side == 2:
        return p - 1
    return p + 1


@njit(cache=True, inline="always")
def _sift_up(keys, nodes, pos, i, key, node):
    """Place ``(key, node)`` at slot ``i`` or above (a 4-ary min-heap), updating ``pos``."""
    while i > 0:
        parent = (i - 1) >> 2
        pk = keys[parent]
        if pk <= key:
            break
        keys[i] = pk
        moved = nodes[parent]
        nodes[i] = moved
        pos[moved] = i
        i = parent
    keys[i] = key
    nodes[i] = node
    pos[node] = i


@njit(cache=True, inline="always")
def _sift_down(keys, nodes, pos, size, key, node):
    """Place ``(key, node)`` at the root or below (heap of ``size`` entries), updating ``pos``."""
    i = 0
    while True:
        c = 4 * i + 1
        if c >= size:
            break
        if c + 3 < size:  # four children: a branch-free tournament (selects, no jumps)
            k0 = keys[c]
            k1 = keys[c + 1]
            k2 = keys[c + 2]
            k3 = keys[c + 3]
            lo01 = k1 < k0
            b01 = c + 1 if lo01 else c
            m01 = k1 if lo01 else k0
            lo23 = k3 < k2
            b23 = c + 3 if lo23 else c + 2
            m23 = k3 if lo23 else k2
            lo = m23 < m01
            best = b23 if lo else b01
            bk = m23 if lo else m01
        else:
            best = c
            bk = keys[c]
            for d in range(c + 1, size):
                kd = keys[d]
                if kd < bk:
                    bk = kd
                    best = d
        if bk >= key:
            break
        keys[i] = bk
        moved = nodes[best]
        nodes[i] = moved
        pos[moved] = i
        i = best
    keys[i] = key
    nodes[i] = node
    pos[node] = i


@njit(cache=True)
def march_instance(seeds, slow_pad, uniform, out):
    """Fast marching from one instance's seed pixels; writes ``out`` and returns the number of
    accepted nodes (0 without seeds: ``out`` is then all ``+inf``).

    Parameters
    ----------
    seeds : (H, W) bool ndarray
    slow_pad : ((H + 2) * (W + 2),) float64 ndarray
        ``1 / speed`` (finite, > 0) on the padded grid, flat (:func:`pad_slowness`); any array
        when ``uniform``.
    uniform : bool
        Unit speed (``slow_pad`` not read).
    out : (H, W) float32 ndarray, written
    """
    H, W = seeds.shape
    W2 = W + 2
    N2 = (H + 2) * W2
    u = np.full(N2, np.inf, np.float32)
    t = np.full(N2, -np.inf, np.float32)
    pos = np.full(N2, -1, np.int32)
    for i in range(1, H + 1):
        t[i * W2 + 1:i * W2 + W + 1] = np.inf
    keys = np.empty(H * W, np.float32)  # each node is in the heap at most once
    nodes = np.empty(H * W, np.int32)
    size = 0
    for i in range(H):
        for j in range(W):
            if seeds[i, j]:
                p = (i + 1) * W2 + j + 1
                t[p] = 0.0
                _sift_up(keys, nodes, pos, size, np.float32(0.0), p)
                size += 1
    accepted = 0
    while size > 0:
        key = keys[0]
        p = nodes[0]
        size -= 1
        if size > 0:
            _sift_down(keys, nodes, pos, size, keys[size], nodes[size])
        pos[p] = -1
        u[p] = key
        accepted += 1
        for side in range(4):
            q = _neighbour(p, side, W2)
            tq = t[q]
            if u[q] != np.inf or tq == -np.inf:
                continue  # accepted, or outside the image
            a = min(np.float64(u[q - W2]), np.float64(u[q + W2]))
            b = min(np.float64(u[q - 1]), np.float64(u[q + 1]))
            f = 1.0 if uniform else slow_pad[q]
            new = np.float32(godunov_update_cpu(a, b, f))
            if new < tq:
                t[q] = new
                at = pos[q]
                if at < 0:  # a new trial node
                    at = size
                    size += 1
                _sift_up(keys, nodes, pos, at, new, q)  # insert, or decrease its key
    for i in range(H):
        row = (i + 1) * W2 + 1
        for j in range(W):
            out[i, j] = u[row + j]
    return accepted


@njit(cache=True)
def pad_slowness(slowness):
    """(H, W) slowness -> the flat ((H + 2) * (W + 2),) padded copy the march reads (border 1)."""
    H, W = slowness.shape
    W2 = W + 2
    pad = np.ones((H + 2) * W2, np.float64)
    for i in range(H):
        pad[(i + 1) * W2 + 1:(i + 1) * W2 + W + 1] = slowness[i]
    return pad


@njit(cache=True)
def edge_slowness(edge, edge_weight, mean):
    """(H, W) float32 edge strength -> ``(slowness, least speed, largest speed)``: the float64
    ``1 / speed`` of the default geodesic speed ``1 / (1 + edge_weight * edge / mean)``, with
    the operations of the numpy expression and ``1 / speed`` in the same order (the same
    bits), in one pass instead of six."""
    H, W = edge.shape
    out = np.empty((H, W), np.float64)
    lo = np.inf
    hi = -np.inf
    for i in range(H):
        for j in range(W):
            sp = 1.0 / (1.0 + edge_weight * np.float64(edge[i, j]) / mean)
            lo = min(lo, sp)
            hi = max(hi, sp)
            out[i, j] = 1.0 / sp
    return out, lo, hi


@njit(cache=True, parallel=True)
def march_instances(seeds, slowness, uniform):
    """(n, H, W) bool seeds, (H, W) float64 slowness (or (1, 1) when ``uniform``) -> (n, H, W)
    float32 travel times, instances in parallel (one instance is one sequential march)."""
    n, H, W = seeds.shape
    out = np.empty((n, H, W), np.float32)
    slow_pad = np.ones(1, np.float64) if uniform else pad_slowness(slowness)
    for k in prange(n):
        march_instance(seeds[k], slow_pad, uniform, out[k])
    return out


# ---------------------------------------------------------------------------------------------
# Nearest allowed instance (segment_people, method="geodesic"): exact, without a full march
# per instance.  See :func:`nearest_instance_marching`.

#: Relative slack on the phase-1 bounds: a restricted march's value is an upper bound of the
#: instance's own travel time in exact arithmetic; the slack covers float32 rounding.
BOUND_SLACK = 1e-3
#: Bucket width of the multi-label march: the least slowness over this (unless the ring of
#: buckets, which must span the largest slowness, would exceed ``MAX_BUCKETS``).
BUCKETS_PER_MIN_SLOWNESS = 20.0
MAX_BUCKETS = 1 << 16


@njit(cache=True, inline="always")
def _in_box(i, r, c, boxes):
    """Pixel ``(r, c)``'s centre lies in COCO box ``boxes[i]`` (the tests of ``gates.box_masks``)."""
    cy = r + 0.5
    cx = c + 0.5
    return (cy >= boxes[i, 1] and cy < boxes[i, 1] + boxes[i, 3]
            and cx >= boxes[i, 0] and cx < boxes[i, 0] + boxes[i, 2])


@njit(cache=True, inline="always")
def _allowed(i, r, c, comp, touched, use_comp, boxes, use_boxes):
    """Instance ``i`` may take pixel ``(r, c)`` (a person pixel): its skeleton touches the pixel's
    component, and the pixel centre lies in its box."""
    if use_comp and not touched[i, comp[r, c]]:
        return False
    return not use_boxes or _in_box(i, r, c, boxes)


@njit(cache=True, inline="always")
def _allowed_padded(i, q, cq, W2, touched, use_comp, boxes, use_boxes):
    """:func:`_allowed` at padded node ``q`` of a contested pixel whose component is column
    ``cq`` of ``touched``."""
    if use_comp and not touched[i, cq]:
        return False
    if use_boxes:
        r = q // W2 - 1
        return _in_box(i, r, q - (r + 1) * W2 - 1, boxes)
    return True


@njit(cache=True, inline="always")
def _label_min(uv, x, y, lab):
    """``min`` of the values of nodes ``x`` and ``y`` accepted with label ``lab`` (else inf):
    ``uv[:, 0]`` values, ``uv[:, 1]`` labels (float32, exact below 2**24), side by side so that
    one cache line holds both."""
    vx = np.float64(uv[x, 0]) if uv[x, 1] == lab else np.inf
    vy = np.float64(uv[y, 0]) if uv[y, 1] == lab else np.inf
    return min(vx, vy)


@njit(cache=True)
def _voronoi_march(offsets, rows, cols, active, slow_pad, uniform, H, W, need, n_need, uv,
                   touched, use_comp, boxes, use_boxes, width, n_buckets):
    """Multi-label fast marching from the skeletons of the ``active`` instances: every node is
    accepted once, with the label of the front that reaches it first, its value updated from
    neighbours of the same label only (a march restricted to the label's region).  Stops once
    the ``n_need`` nodes flagged in ``need`` (padded, flat; >= 0: contested, the value plus 1
    being the pixel's column of ``touched``, whose column 0 is all True) are accepted; a
    contested node takes only labels allowed there.  ``uv`` ((H + 2) * (W + 2), 2) float32 is written: value and label per padded node,
    ``inf`` and ``-1`` where not accepted.

    The queue is a ring of ``n_buckets`` buckets of ``width`` in value (an untidy queue, Yatziv
    et al. 2006): nodes within one bucket are accepted last in, first out, so a node may be
    accepted before a slightly smaller neighbour and keep a slightly larger value (relative
    error ~1e-5 for ``width = min slowness / 20``; a new value is never more than the largest
    slowness past the bucket being emptied, so ``n_buckets > max slowness / width`` keeps the
    ring from wrapping).  Every value is still at least its label's own travel time (each
    update reads only values that are), which :func:`nearest_instance_marching` relies on.
    Faster than the heap of :func:`march_instance` (no sift), which the exact marches keep."""
    W2 = W + 2
    N2 = (H + 2) * W2
    t = np.full(N2, -np.inf, np.float32)
    for i in range(1, H + 1):
        t[i * W2 + 1:i * W2 + W + 1] = np.inf
    tl = np.full(N2, -1, np.int32)
    cap = 5 * H * W + 1  # entries: one per seed and one per improvement (at most 4 per node)
    enode = np.empty(cap, np.int32)
    enext = np.empty(cap, np.int32)
    head = np.full(n_buckets, -1, np.int32)
    ne = 0
    inv = 1.0 / width
    for k in range(active.size):
        if not active[k]:
            continue
        for s in range(offsets[k], offsets[k + 1]):
            p = (rows[s] + 1) * W2 + cols[s] + 1
            if need[p] >= 0 and not _allowed_padded(k, p, need[p] + 1, W2, touched, use_comp, boxes, use_boxes):
                continue  # a contested pixel outside the instance's box
            if t[p] != 0.0:  # a pixel on several skeletons: the lowest active instance
                t[p] = 0.0
                tl[p] = k
                enode[ne] = p
                enext[ne] = head[0]
                head[0] = ne
                ne += 1
    queued = ne
    cur = 0  # the bucket being emptied (absolute index; the ring slot is cur % n_buckets)
    got = 0
    while queued > 0 and got < n_need:
        slot = cur % n_buckets
        e = head[slot]
        if e < 0:
            cur += 1
            continue
        head[slot] = enext[e]
        queued -= 1
        p = enode[e]
        if uv[p, 0] != np.inf:
            continue  # a stale entry: accepted from a lower bucket
        uv[p, 0] = t[p]
        lab = tl[p]
        labf = np.float32(lab)
        uv[p, 1] = labf
        if need[p] >= 0:
            got += 1
        for side in range(4):
            q = _neighbour(p, side, W2)
            tq = t[q]
            if uv[q, 0] != np.inf or tq == -np.inf:
                continue
            cq = need[q]
            if not touched[lab, cq + 1]:  # a table lookup, no branch on cq: column 0 is all True
                continue  # a contested pixel takes only instances allowed there
            if use_boxes and cq >= 0 and not _allowed_padded(lab, q, cq + 1, W2, touched, False, boxes, True):
                continue
            a = _label_min(uv, q - W2, q + W2, labf)
            b = _label_min(uv, q - 1, q + 1, labf)
            f = 1.0 if uniform else slow_pad[q]
            new = np.float32(godunov_update_cpu(a, b, f))
            if new < tq:
                t[q] = new
                tl[q] = lab
                kb = np.int64(new * inv)
                if kb < cur:
                    kb = cur
                kb %= n_buckets
                enode[ne] = q
                enext[ne] = head[kb]
                head[kb] = ne
                ne += 1
                queued += 1


@njit(cache=True)
def _claim_march(offsets, rows, cols, k, slow_pad, uniform, H, W, rel, n_rel, limit,
                 best, bound, owner, u, t, pos, keys, nodes, done):
    """Fast marching from instance ``k``'s skeleton, stopped once its ``n_rel`` relevant nodes
    (``rel``, padded flat) are accepted or the front passes ``limit``: each relevant node it
    accepts with a value ``< best`` becomes its (``owner = k + 1``), and ``bound`` keeps the
    least value seen.  ``u``/``t``/``pos`` are the caller's padded work arrays (``inf`` /
    ``inf`` inside, ``-inf`` border / ``-1``) and are left so; ``done`` is scratch."""
    W2 = W + 2
    size = 0
    for s in range(offsets[k], offsets[k + 1]):
        p = (rows[s] + 1) * W2 + cols[s] + 1
        if t[p] != 0.0:
            t[p] = 0.0
            _sift_up(keys, nodes, pos, size, np.float32(0.0), p)
            size += 1
    n_done = 0
    got = 0
    while size > 0 and got < n_rel:
        key = keys[0]
        if key > limit:
            break
        p = nodes[0]
        size -= 1
        if size > 0:
            _sift_down(keys, nodes, pos, size, keys[size], nodes[size])
        pos[p] = -1
        u[p] = key
        done[n_done] = p
        n_done += 1
        if rel[p]:
            got += 1
            if key < best[p]:  # strict: ties stay with the lower instance
                best[p] = key
                owner[p] = k + 1
            if key < bound[p]:
                bound[p] = key
        for side in range(4):
            q = _neighbour(p, side, W2)
            tq = t[q]
            if u[q] != np.inf or tq == -np.inf:
                continue
            a = min(np.float64(u[q - W2]), np.float64(u[q + W2]))
            b = min(np.float64(u[q - 1]), np.float64(u[q + 1]))
            f = 1.0 if uniform else slow_pad[q]
            new = np.float32(godunov_update_cpu(a, b, f))
            if new < tq:
                t[q] = new
                at = pos[q]
                if at < 0:
                    at = size
                    size += 1
                _sift_up(keys, nodes, pos, at, new, q)
    for s in range(n_done):  # restore the work arrays: accepted nodes, then the queue
        p = done[s]
        u[p] = np.inf
        t[p] = np.inf
    for s in range(size):
        p = nodes[s]
        t[p] = np.inf
        pos[p] = -1
    return n_done


@njit(cache=True)
def _flag_contested(need, cidx, n_cont, comp, gid, use_comp, W):
    """``need`` (padded, flat) of each contested pixel ``cidx[:n_cont]``: its group's column."""
    W2 = W + 2
    for s in range(n_cont):
        r = cidx[s] // W
        c = cidx[s] - r * W
        need[(r + 1) * W2 + c + 1] = gid[comp[r, c]] if use_comp else 0


@njit(cache=True)
def nearest_instance_marching(offsets, rows, cols, slowness, uniform, person, comp, touched,
                              use_comp, boxes, use_boxes, exact, owner, stats):
    """Per person pixel, the nearest allowed instance (``1 + index``; 0 where none is allowed),
    without marching the whole image per instance.

    Instance ``k`` (skeleton pixels ``rows/cols[offsets[k]:offsets[k + 1]]``) may take a person
    pixel when it has a skeleton pixel, its skeleton touches the pixel's component
    (``touched[k, comp[r, c]]``, with ``use_comp``) and the pixel lies in its box (``use_boxes``).

    1. A pixel with one allowed instance is that instance's; none needs a distance.
    2. The *contested* pixels (two or more allowed) are reached by one multi-label march
       (:func:`_voronoi_march`): every pixel accepted once, by the first front to arrive, a
       contested pixel only by a front allowed there; it stops once every contested pixel is
       reached.  Without ``exact`` a contested pixel goes to the front that took it.  This is
       the discrete multi-source solution, not the minimum of the instances' own travel
       times: near the boundaries between people a front can be cut off by another's pixels
       and lose a pixel it would win alone.
    3. With ``exact`` (and, without it, for contested pixels that no allowed front reached:
       walled off by pixels of other instances' boxes), the labels of ``fusion.nearest_instances``
       over full :func:`march_instance` maps (ties to the lower index).  Step 2's value at a
       contested pixel bounds the least allowed travel time from above (a march restricted to
       one label's region; times ``1 + BOUND_SLACK``).  Each instance allowed there marches
       (:func:`_claim_march`: the updates of :func:`march_instance`, so its values) until it
       has accepted all of those pixels or its front passes their largest bound: a pixel it has
       not reached by then it cannot win.  Accepted pixels go to it where it is strictly
       closer than the instances before it, and tighten the bound for the instances after it.

    ``owner`` ((H, W) int32) is written; ``stats`` (3,) int64 receives the contested pixels, the
    nodes accepted by step 2 and by step 3.
    """
    H, W = person.shape
    n = offsets.size - 1
    W2 = W + 2
    N2 = (H + 2) * W2
    seeded = np.zeros(n, np.bool_)
    for k in range(n):
        seeded[k] = offsets[k + 1] > offsets[k]
    # 1. allowed instances per person pixel: the candidates of its component (every seeded
    #    instance without use_comp), in index order, then the box test
    n_groups = touched.shape[1] if use_comp else 1
    g_ptr = np.zeros(n_groups + 1, np.int64)
    for g in range(n_groups):
        g_ptr[g + 1] = g_ptr[g]
        for k in range(n):
            if seeded[k] and (not use_comp or touched[k, g]):
                g_ptr[g + 1] += 1
    g_inst = np.empty(g_ptr[n_groups], np.int32)
    for g in range(n_groups):
        at = g_ptr[g]
        for k in range(n):
            if seeded[k] and (not use_comp or touched[k, g]):
                g_inst[at] = k
                at += 1
    n_cont = 0
    cidx = np.empty(H * W, np.int32)
    active = np.zeros(n, np.bool_)
    g_cont = np.zeros(n_groups, np.bool_)
    for r in range(H):
        for c in range(W):
            owner[r, c] = 0
            if not person[r, c]:
                continue
            g = comp[r, c] if use_comp else 0
            first = -1
            count = 0
            for at in range(g_ptr[g], g_ptr[g + 1]):
                k = g_inst[at]
                if not use_boxes or _in_box(k, r, c, boxes):
                    count += 1
                    if first < 0:
                        first = k
                    elif use_boxes:
                        active[first] = True
                        active[k] = True
                    else:
                        break
            if count == 1:
                owner[r, c] = first + 1
            elif count > 1:
                cidx[n_cont] = r * W + c
                n_cont += 1
                g_cont[g] = True
    if not use_boxes:  # every candidate of a contested group is allowed at its pixels
        for g in range(n_groups):
            if g_cont[g]:
                for at in range(g_ptr[g], g_ptr[g + 1]):
                    active[g_inst[at]] = True
    stats[0] = n_cont
    stats[1] = 0
    stats[2] = 0
    if n_cont == 0:
        return
    slow_pad = np.ones(1, np.float64) if uniform else pad_slowness(slowness)
    # 2. one multi-label march; contested pixels flagged with their group's column of gtab
    gid = np.full(n_groups, -1, np.int64)
    n_gid = 0
    for g in range(n_groups):
        if g_cont[g]:
            gid[g] = n_gid
            n_gid += 1
    gtab = np.ones((n, n_gid + 1), np.bool_)  # column 0: pixels that are not contested
    for g in range(n_groups):
        if gid[g] >= 0:
            for k in range(n):
                gtab[k, gid[g] + 1] = touched[k, g] if use_comp else True
    uv = np.empty((N2, 2), np.float32)
    uv[:, 0] = np.inf
    uv[:, 1] = -1.0
    f_min, f_max = 1.0, 1.0
    if not uniform:
        f_min, f_max = slowness.min(), slowness.max()
    width = max(f_min / BUCKETS_PER_MIN_SLOWNESS, f_max / (MAX_BUCKETS - 2))
    n_buckets = int(f_max / width) + 2
    if n_gid <= 127:  # one byte per flag: less memory traffic than int32
        need8 = np.full(N2, -1, np.int8)
        _flag_contested(need8, cidx, n_cont, comp, gid, use_comp, W)
        _voronoi_march(offsets, rows, cols, active, slow_pad, uniform, H, W, need8, n_cont, uv,
                       gtab, use_comp, boxes, use_boxes, width, n_buckets)
    else:
        need32 = np.full(N2, -1, np.int32)
        _flag_contested(need32, cidx, n_cont, comp, gid, use_comp, W)
        _voronoi_march(offsets, rows, cols, active, slow_pad, uniform, H, W, need32, n_cont, uv,
                       gtab, use_comp, boxes, use_boxes, width, n_buckets)
    for p in range(N2):
        if uv[p, 1] >= 0:
            stats[1] += 1
    n_sel = n_cont  # the contested pixels step 3 decides: all (exact), or those never reached
    if not exact:
        n_sel = 0
        for s in range(n_cont):
            r = cidx[s] // W
            c = cidx[s] - r * W
            lab = np.int32(uv[(r + 1) * W2 + c + 1, 1])
            if lab >= 0:
                owner[r, c] = lab + 1
            else:  # walled off from every allowed front by other instances' pixels (boxes)
                cidx[n_sel] = cidx[s]
                n_sel += 1
        if n_sel == 0:
            return
    bound = np.full(N2, np.inf, np.float32)
    best = np.full(N2, np.inf, np.float32)
    own = np.zeros(N2, np.int32)
    for s in range(n_sel):
        r = cidx[s] // W
        c = cidx[s] - r * W
        p = (r + 1) * W2 + c + 1
        if uv[p, 1] >= 0:  # accepted with an allowed label (or never reached: no bound)
            bound[p] = np.float32(uv[p, 0] * (1.0 + BOUND_SLACK))
    # 3. exact marches, each stopped at its bound
    u = np.full(N2, np.inf, np.float32)  # the work arrays of _claim_march
    t = np.full(N2, -np.inf, np.float32)
    for i in range(1, H + 1):
        t[i * W2 + 1:i * W2 + W + 1] = np.inf
    pos = np.full(N2, -1, np.int32)
    keys = np.empty(H * W, np.float32)
    nodes = np.empty(H * W, np.int32)
    done = np.empty(H * W, np.int32)
    rel = np.zeros(N2, np.bool_)
    for k in range(n):
        if not active[k]:
            continue
        n_rel = 0
        limit = np.float32(0.0)
        for s in range(n_sel):
            r = cidx[s] // W
            c = cidx[s] - r * W
            if _allowed(k, r, c, comp, touched, use_comp, boxes, use_boxes):
                p = (r + 1) * W2 + c + 1
                rel[p] = True
                n_rel += 1
                limit = max(limit, bound[p])
        if n_rel == 0:
            continue
        stats[2] += _claim_march(offsets, rows, cols, k, slow_pad, uniform, H, W, rel, n_rel, limit,
                                 best, bound, own, u, t, pos, keys, nodes, done)
        for s in range(n_sel):
            r = cidx[s] // W
            rel[(r + 1) * W2 + cidx[s] - r * W + 1] = False
    for s in range(n_sel):
        r = cidx[s] // W
        c = cidx[s] - r * W
        owner[r, c] = own[(r + 1) * W2 + c + 1]
