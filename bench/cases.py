"""The cases of the benchmark suite and the tasks that run them.

Every case prepares its inputs once, outside the timed region (:mod:`.inputs`), and times
pose2instance ("ours") and the tools a user would pick instead ("reference",
:mod:`.references`) on exactly those inputs, interleaved (:func:`.core.measure_group`).  A case
returns records (one per implementation), comparisons (reference time / ours time, measured in
the same run) and skip notes (an implementation that is unavailable or capped on this machine).
:func:`build_tasks` turns a :class:`.config.Config` into the suite's units of work.

The names this module had before the split (``Config``, ``Inputs``, ``synthetic_input``,
``reference_pipeline``, ...) are still importable from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .config import COMPACTNESS, EDGE_WEIGHT, SEED, TEMPERATURE, Config  # noqa: F401
from . import peers
from .core import Measurement, measure_group, ratio
from .inputs import Inputs, coco_input, coco_inputs, default_coco_dir, inputs_for, synthetic_input  # noqa: F401
from .references import (  # noqa: F401
    PIPELINE_STAGES,
    numpy_fusion,
    opencv_edt,
    opencv_edt_available,
    opencv_slic,
    opencv_slic_available,
    ours_pipeline,
    ours_stages,
    reference_pipeline,
    reference_stages,
    run_stages,
    scipy_dijkstra_seeds,
    scipy_floyd_warshall_seeds,
    skimage_rag_csr,
    skimage_seed_superpixels,
    skimage_slic,
    skimage_sobel,
)

__all__ = [
    "Config",
    "Inputs",
    "synthetic_input",
    "coco_input",
    "default_coco_dir",
    "reference_pipeline",
    "reference_stages",
    "ours_stages",
    "build_tasks",
]


@dataclass
class Task:
    """One unit of work of the suite (one progress-bar step)."""

    case: str
    label: str
    run: Callable[[], dict]


def _size_str(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _record(case: str, x: Inputs, impl: str, role: str, m: Measurement, params: dict) -> dict:
    return {"case": case, "size": _size_str(x.size), "input": x.source, "impl": impl, "role": role,
            "params": params, **m.summary()}


def _compare(case: str, x: Inputs, ours: str, ref: str, ms: dict[str, Measurement], params: dict) -> dict:
    return {"case": case, "size": _size_str(x.size), "input": x.source, "ours": ours, "reference": ref,
            "params": params, "ours_median_s": ms[ours].median_s,
            "reference_median_s": ms[ref].median_s, **ratio(ms[ref], ms[ours])}


def _group(case: str, x: Inputs, config: Config, fns: dict, roles: dict, pairs: list, params: dict,
           extra: dict | None = None) -> dict:
    ms = measure_group(fns, repeat=config.repeat, warmup=config.warmup, max_time=config.max_time,
                      min_time=config.min_time)
    out = {
        "results": [_record(case, x, k, roles[k], ms[k], params) for k in fns],
        "comparisons": [_compare(case, x, o, r, ms, params) for o, r in pairs if o in ms and r in ms],
    }
    if extra:
        out.update(extra)
    return out


def _peer_skip(case: str, x: Inputs, impl: str, peer: str) -> list[dict]:
    """A skip note for ``impl`` when peer ``peer`` cannot run here (else none)."""
    why = peers.missing(peer)
    return [] if why is None else [_skip(case, x, impl, why)]


def _skip(case: str, x: Inputs | None, impl: str, reason: str, size=None) -> dict:
    return {"case": case, "size": _size_str(size or x.size), "input": None if x is None else x.source,
            "impl": impl, "reason": reason}


def case_slic(x: Inputs, config: Config) -> dict:
    """SLIC: p2i_prior.slic vs skimage.segmentation.slic, fast-slic (AVX2) and OpenCV ximgproc
    (each peer when installed), with each one's K and boundary recall of the person outline."""
    import p2i_prior as P

    img, n = x.image, config.n_segments
    fns = {"p2i.slic": lambda: P.slic(img, n_segments=n, compactness=COMPACTNESS),
           "skimage.slic": lambda: skimage_slic(img, n)}
    roles = {"p2i.slic": "ours", "skimage.slic": "reference"}
    pairs = [("p2i.slic", "skimage.slic")]
    skipped = _peer_skip("slic", x, "fast_slic.SlicAvx2", "fast_slic")
    if not skipped:
        fns["fast_slic.SlicAvx2"] = lambda: peers.fast_slic(img, n, COMPACTNESS)
        roles["fast_slic.SlicAvx2"] = "reference"
        pairs.append(("p2i.slic", "fast_slic.SlicAvx2"))
    if opencv_slic_available():
        fns["opencv.ximgproc.slic"] = lambda: opencv_slic(img, n)
        roles["opencv.ximgproc.slic"] = "reference"
        pairs.append(("p2i.slic", "opencv.ximgproc.slic"))
    else:
        skipped.append(_skip("slic", x, "opencv.ximgproc.slic",
                             "opencv-contrib (cv2.ximgproc) is not installed; install: "
                             + peers.INSTALL["cv2.ximgproc"]))
    labels = {k: np.asarray(f()) for k, f in fns.items()}
    outline = (x.score >= 0.5).astype(np.int32)  # person / background
    params = {"n_segments": n, "compactness": COMPACTNESS, "max_num_iter": 10,
              "K": {k: int(np.unique(v).size) for k, v in labels.items()},
              "boundary_recall_person_outline_2px": {
                  k: float(P.boundary_recall(v.astype(np.int64), outline, tolerance=2)) for k, v in labels.items()},
              "settings": {"fast_slic.SlicAvx2": "compactness 10, its defaults: 10 iterations, subsample "
                                                 "stride 3, Manhattan spatial distance, Lab inside",
                           "opencv.ximgproc.slic": "SLIC, region_size round(sqrt(HW/n)), ruler 10, "
                                                   "10 iterations, connectivity enforced, Lab inside"}}
    return _group("slic", x, config, fns, roles, pairs, params, {"skipped": skipped})


def case_sobel(x: Inputs, config: Config) -> dict:
    """Sobel magnitude of the grey image: p2i_prior.sobel vs skimage.filters.sobel(rgb2gray) and
    OpenCV's Sobel on float32 with the same grey weights (when installed)."""
    import p2i_prior as P

    img = x.image
    ours = P.sobel(img)
    diff = float(np.abs(ours - skimage_sobel(img)).max())
    fns = {"p2i.sobel": lambda: P.sobel(img), "skimage.sobel": lambda: skimage_sobel(img)}
    roles = {"p2i.sobel": "ours", "skimage.sobel": "reference"}
    pairs = [("p2i.sobel", "skimage.sobel")]
    params = {"max_abs_diff": diff}
    skipped = _peer_skip("sobel", x, "opencv.Sobel", "cv2")
    if not skipped:
        fns["opencv.Sobel"] = lambda: peers.opencv_sobel(img)
        roles["opencv.Sobel"] = "reference"
        pairs.append(("p2i.sobel", "opencv.Sobel"))
        params["max_abs_diff_opencv"] = float(np.abs(ours - peers.opencv_sobel(img)).max())
    return _group("sobel", x, config, fns, roles, pairs, params, {"skipped": skipped})


def case_rag(x: Inputs, config: Config) -> dict:
    """RAG build on the same labels and edge map: p2i_prior.build_rag vs skimage rag_boundary."""
    import p2i_prior as P
    from skimage.graph import rag_boundary

    labels = P.slic(x.image, n_segments=config.n_segments)
    edge = P.sobel(x.image).astype(np.float64)
    fns = {"p2i.build_rag": lambda: P.build_rag(labels, edge),
           "skimage.rag_boundary": lambda: rag_boundary(labels, edge, connectivity=1)}
    params = {"K": int(labels.max()) + 1, "n_edges": P.build_rag(labels, edge).n_edges}
    return _group("rag", x, config, fns,
                  {"p2i.build_rag": "ours", "skimage.rag_boundary": "reference"},
                  [("p2i.build_rag", "skimage.rag_boundary")], params)


def _graph_and_seeds(x: Inputs, n_segments: int):
    import p2i_prior as P

    labels = P.slic(x.image, n_segments=n_segments)
    rag = P.build_rag(labels, P.sobel(x.image))
    seeds = P.seed_superpixels(labels, x.keypoints)
    return rag, seeds


def _distance_group(case: str, x: Inputs, config: Config, rag, seeds, extra_params: dict) -> dict:
    import p2i_prior as P

    K = rag.n_nodes
    G = rag.to_scipy()
    ours = np.asarray(P.rag_distance(rag, seeds, "sssp"), np.float64)
    ref = scipy_dijkstra_seeds(G, seeds)
    fin = np.isfinite(ref)
    diff = float(np.abs(ours[fin] - ref[fin]).max()) if fin.any() else 0.0
    params = {"K": K, "n_edges": rag.n_edges, "n_instances": int(seeds.shape[0]),
              "n_seeds": int(seeds.sum()), "max_abs_diff_sssp_vs_dijkstra": diff,
              "same_inf": bool((np.isinf(ours) == ~fin).all()), **extra_params}
    fns = {"p2i.rag_distance[sssp]": lambda: P.rag_distance(rag, seeds, "sssp"),
           "scipy.dijkstra": lambda: scipy_dijkstra_seeds(G, seeds)}
    roles = {"p2i.rag_distance[sssp]": "ours", "scipy.dijkstra": "reference"}
    pairs = [("p2i.rag_distance[sssp]", "scipy.dijkstra")]
    skipped = []
    if K <= config.max_k_floyd_warshall:
        fns["p2i.rag_distance[apsp]"] = lambda: P.rag_distance(rag, seeds, "apsp")
        fns["scipy.floyd_warshall"] = lambda: scipy_floyd_warshall_seeds(G, seeds)
        roles["p2i.rag_distance[apsp]"] = "ours"
        roles["scipy.floyd_warshall"] = "reference"
        pairs += [("p2i.rag_distance[sssp]", "scipy.floyd_warshall"),
                  ("p2i.rag_distance[apsp]", "scipy.floyd_warshall")]
    else:
        why = (f"O(K^3) all-pairs solvers capped at K <= {config.max_k_floyd_warshall} on this "
               f"machine (K = {K}); --max-k-fw raises the cap")
        skipped += [_skip(case, x, "scipy.floyd_warshall", why), _skip(case, x, "p2i.rag_distance[apsp]", why)]
    return _group(case, x, config, fns, roles, pairs, params, {"skipped": skipped})


def case_rag_distance(x: Inputs, config: Config) -> dict:
    """Exact RAG distances on the size's SLIC graph (n_segments): sssp/apsp vs SciPy."""
    rag, seeds = _graph_and_seeds(x, config.n_segments)
    return _distance_group("rag_distance", x, config, rag, seeds, {"n_segments": config.n_segments})


def case_rag_distance_k(x: Inputs, config: Config, k: int) -> dict:
    """Exact RAG distances for a target number of superpixels ``k`` at ``config.k_size``."""
    rag, seeds = _graph_and_seeds(x, k)
    return _distance_group("rag_distance_k", x, config, rag, seeds, {"n_segments": k})


def case_sweep(x: Inputs, config: Config) -> dict:
    """Fast sweeping vs scikit-fmm (distance, travel_time) and scipy distance_transform_edt; with
    a speed also fast marching (p2i.geodesic_distance, the same discrete solution)."""
    import skfmm
    from scipy.ndimage import distance_transform_edt

    import p2i_prior as P

    H, W = x.image.shape[:2]
    seeds = P.skeleton_mask(x.keypoints, (H, W))
    seeds = seeds[seeds.reshape(len(seeds), -1).any(axis=1)]  # instances with a skeleton
    phis = [np.where(s, -1.0, 1.0) for s in seeds]
    edge = P.sobel(x.image).astype(np.float64)
    speed = 1.0 / (1.0 + EDGE_WEIGHT * edge / edge.mean())

    def edt():
        return [distance_transform_edt(~s) for s in seeds]

    def fmm_distance():
        return [skfmm.distance(p, order=1) for p in phis]

    def fmm_travel():
        return [skfmm.travel_time(p, speed, order=1) for p in phis]

    exact = np.stack(edt())
    diff = float(np.abs(np.asarray(P.sweep_distance(seeds)) - exact).max())
    params = {"n_instances": int(len(seeds)), "skfmm_order": 1, "edge_weight": EDGE_WEIGHT,
              "max_abs_diff_unit_vs_edt_px": diff,
              # the same discrete problem: phi = 0 on the seeds (the timed calls use phi = -1,
              # which puts the interface between pixels; the work is the same)
              "max_rel_diff_geodesic_vs_skfmm_phi0": _max_rel(
                  P.geodesic_distance(seeds, speed),
                  [skfmm.travel_time(np.where(s, 0.0, 1.0), speed, order=1) for s in seeds]),
              "sweeps": _sweep_counts(seeds, None),
              "sweeps_speed": _sweep_counts(seeds, speed)}
    unit = _group("sweep", x, config,
                  {"p2i.sweep_distance": lambda: P.sweep_distance(seeds),
                   "scipy.distance_transform_edt": edt, "skfmm.distance": fmm_distance},
                  {"p2i.sweep_distance": "ours", "scipy.distance_transform_edt": "reference",
                   "skfmm.distance": "reference"},
                  [("p2i.sweep_distance", "scipy.distance_transform_edt"),
                   ("p2i.sweep_distance", "skfmm.distance")], params)
    fns = {"p2i.sweep_distance[speed]": lambda: P.sweep_distance(seeds, speed),
           "p2i.geodesic_distance": lambda: P.geodesic_distance(seeds, speed),
           "skfmm.travel_time": fmm_travel}
    roles = {"p2i.sweep_distance[speed]": "ours", "p2i.geodesic_distance": "ours",
             "skfmm.travel_time": "reference"}
    pairs = [("p2i.sweep_distance[speed]", "skfmm.travel_time"),
             ("p2i.geodesic_distance", "skfmm.travel_time"),
             ("p2i.geodesic_distance", "p2i.sweep_distance[speed]")]
    skipped = _peer_skip("sweep_speed", x, "FastGeodis.generalised_geodesic2d", "FastGeodis")
    notes = []
    if not skipped:
        g_img, g_masks = peers.fastgeodis_inputs(x.image, seeds)
        fns["FastGeodis.generalised_geodesic2d"] = lambda: peers.fastgeodis_raster(g_img, g_masks)
        roles["FastGeodis.generalised_geodesic2d"] = "reference"
        pairs.append(("p2i.geodesic_distance", "FastGeodis.generalised_geodesic2d"))
        notes.append({"case": "sweep_speed", "impl": "FastGeodis.generalised_geodesic2d",
                      "note": peers.FASTGEODIS_CAVEAT})
    geo = _group("sweep_speed", x, config, fns, roles, pairs, params)
    for c in geo["comparisons"]:
        if c["reference"].startswith("FastGeodis"):
            c["caveat"] = peers.FASTGEODIS_CAVEAT
    return {"results": unit["results"] + geo["results"],
            "comparisons": unit["comparisons"] + geo["comparisons"], "skipped": skipped, "notes": notes}


def case_edt(x: Inputs, config: Config) -> dict:
    """Exact Euclidean distance to each person's skeleton: p2i.euclidean_distance (all instances
    in one call) vs OpenCV's exact transform and SciPy's EDT looped over instances, and the
    first-order fast sweeping it replaces in the Euclidean prior."""
    from scipy.ndimage import distance_transform_edt

    import p2i_prior as P

    H, W = x.image.shape[:2]
    seeds = P.skeleton_mask(x.keypoints, (H, W))
    seeds = np.ascontiguousarray(seeds[seeds.reshape(len(seeds), -1).any(axis=1)])

    def edt():
        return [distance_transform_edt(~s) for s in seeds]

    exact = np.stack(edt())
    err = lambda d: float(np.abs(np.asarray(d, np.float64) - exact).max())
    fns = {"p2i.euclidean_distance": lambda: P.euclidean_distance(seeds),
           "scipy.distance_transform_edt": edt,
           "p2i.sweep_distance": lambda: P.sweep_distance(seeds)}
    roles = {"p2i.euclidean_distance": "ours", "scipy.distance_transform_edt": "reference",
             "p2i.sweep_distance": "ours"}
    pairs = [("p2i.euclidean_distance", "scipy.distance_transform_edt"),
             ("p2i.euclidean_distance", "p2i.sweep_distance")]
    max_err = {"p2i.euclidean_distance": err(P.euclidean_distance(seeds)),
               "p2i.sweep_distance": err(P.sweep_distance(seeds))}
    skipped = []
    if opencv_edt_available():
        fns["opencv.distanceTransform"] = lambda: opencv_edt(seeds)
        roles["opencv.distanceTransform"] = "reference"
        pairs.insert(0, ("p2i.euclidean_distance", "opencv.distanceTransform"))
        max_err["opencv.distanceTransform"] = err(np.stack(opencv_edt(seeds)))
    else:
        skipped.append(_skip("edt", x, "opencv.distanceTransform",
                             "OpenCV (cv2) is not installed; install: " + peers.INSTALL["cv2"]))
    edt_skip = _peer_skip("edt", x, "edt.edt", "edt")
    if not edt_skip:
        fns["edt.edt"] = lambda: peers.edt_distance(seeds)
        roles["edt.edt"] = "reference"
        pairs.insert(1, ("p2i.euclidean_distance", "edt.edt"))
        max_err["edt.edt"] = err(np.stack(peers.edt_distance(seeds)))
    skipped += edt_skip
    params = {"n_instances": int(len(seeds)), "seed_pixels": int(seeds.sum()),
              "max_abs_diff_vs_scipy_px": max_err}
    return _group("edt", x, config, fns, roles, pairs, params, {"skipped": skipped})


def _max_rel(got, ref) -> float:
    """Largest ``|got - ref| / ref`` over the pixels where ``ref > 0``."""
    got, ref = np.asarray(got, np.float64), np.stack(ref)
    pos = ref > 0
    return float(np.max(np.abs(got[pos] - ref[pos]) / ref[pos])) if pos.any() else 0.0


def _sweep_counts(seeds: np.ndarray, speed: np.ndarray | None) -> list[int]:
    """Diagnostic: Gauss-Seidel sweeps each instance needed (from the kernel, untimed)."""
    from p2i_prior.kernels.sweep import sweep_instances_serial
    from p2i_prior.sweep import DEFAULT_MAX_SWEEPS

    uniform = speed is None
    slowness = np.ones((1, 1)) if uniform else np.ascontiguousarray(1.0 / speed)
    counts = []
    for s in seeds:
        _, sweeps, _ = sweep_instances_serial(np.ascontiguousarray(s[None]), slowness, uniform,
                                              DEFAULT_MAX_SWEEPS, 0.0)
        counts.append(int(np.asarray(sweeps).ravel()[0]))
    return counts


def _stage_profile(stages, config: Config, cpu: dict | None = None) -> dict:
    """Median wall time of each stage, on the outputs of the previous stages; the median CPU
    times go into ``cpu`` when given."""
    state: dict = {}
    out = {}
    for name, f in stages:
        m = measure_group({name: lambda f=f: f(state)}, repeat=max(3, min(config.repeat, 5)),
                          warmup=config.warmup, max_time=config.max_time / 2,
                          min_time=config.min_time / 2)[name]
        state[name] = f(state)
        out[name] = m.median_s
        if cpu is not None:
            cpu[name] = m.cpu_median_s
    return out


def case_end_to_end(x: Inputs, config: Config) -> dict:
    """pose_instance_map(method="rag") + segment_instances vs the scikit-image + SciPy pipeline;
    segment_people (labels only) with method "rag" and "geodesic" beside them.

    Both pipelines' stages (:data:`.references.PIPELINE_STAGES`) are stated in the params and
    profiled one by one (``profiles``).
    """
    n = config.n_segments
    img, kp, score = x.image, x.keypoints, x.score
    ours_labels = ours_pipeline(img, kp, score, n)
    ref_labels = reference_pipeline(img, kp, score, n)
    import p2i_prior as P

    params = {"n_segments": n, "n_people": int(kp.shape[0]),
              "K": {"p2i.slic": int(P.slic(img, n_segments=n).max()) + 1,
                    "skimage.slic": int(skimage_slic(img, n).max()) + 1},
              "label_agreement": float((np.asarray(ours_labels) == ref_labels).mean()),
              "stages": PIPELINE_STAGES}
    fns = {"p2i.pose_instance_map+segment_instances": lambda: ours_pipeline(img, kp, score, n),
           "skimage+scipy pipeline": lambda: reference_pipeline(img, kp, score, n)}
    roles = {"p2i.pose_instance_map+segment_instances": "ours", "skimage+scipy pipeline": "reference"}
    pairs = [("p2i.pose_instance_map+segment_instances", "skimage+scipy pipeline")]
    if hasattr(P, "segment_people"):  # the labels-only path (no (H, W, n) map), same labels
        for method in ("rag", "geodesic"):
            name = f"p2i.segment_people[{method}]"
            fns[name] = (lambda m=method: P.segment_people(img, kp, score, method=m, components=False,
                                                           n_segments=n)) if method == "rag" else (
                lambda m=method: P.segment_people(img, kp, score, method=m, components=False))
            roles[name] = "ours"
            pairs.append((name, "skimage+scipy pipeline"))
        pairs.append(("p2i.segment_people[geodesic]", "p2i.segment_people[rag]"))
        params["segment_people_agreement"] = float(
            (np.asarray(fns["p2i.segment_people[rag]"]()) == np.asarray(ours_labels)).mean())
        params["segment_people_geodesic_agreement_with_rag"] = float(
            (np.asarray(fns["p2i.segment_people[geodesic]"]()) == np.asarray(ours_labels)).mean())
    out = _group("end_to_end", x, config, fns, roles, pairs, params)
    ours_cpu: dict = {}
    ref_cpu: dict = {}
    out["profiles"] = [{
        "case": "end_to_end", "size": _size_str(x.size), "input": x.source,
        "ours": _stage_profile(ours_stages(img, kp, score, n), config, ours_cpu),
        "reference": _stage_profile(reference_stages(img, kp, score, n), config, ref_cpu),
        "ours_cpu": ours_cpu, "reference_cpu": ref_cpu,
    }]
    return out


def scaling_axis(config: Config, axis: str, values: list) -> dict:
    """Time the end-to-end prior (ours) at every point of one scaling axis (synthetic input).

    The points of an axis are timed interleaved (one group), so machine load drifts hit
    them alike and the fitted exponent is not bent by it.
    """
    import p2i_prior as P

    points = []
    for value in values:
        size, n_seg, n_people = config.scaling_size, config.n_segments, config.n_people
        if axis == "pixels":
            size = tuple(value)
        elif axis == "superpixels":
            n_seg = int(value)
        else:
            n_people = int(value)
        x = synthetic_input(size[0], size[1], n_people, config.seed)
        K = int(P.slic(x.image, n_segments=n_seg).max()) + 1
        x_val = {"pixels": size[0] * size[1], "superpixels": K, "people": int(x.keypoints.shape[0])}[axis]
        points.append((x_val, size, n_seg, K, x))
    fns = {str(i): (lambda x=x, n=n: ours_pipeline(x.image, x.keypoints, x.score, n))
           for i, (_, _, n, _, x) in enumerate(points)}
    ms = measure_group(fns, repeat=config.repeat, warmup=config.warmup, max_time=config.max_time,
                      min_time=config.min_time)
    return {"scaling": [{"axis": axis, "x": x_val, "size": _size_str(size), "n_segments": n_seg, "K": K,
                         "n_people": int(x.keypoints.shape[0]), "input": x.source, **ms[str(i)].summary()}
                        for i, (x_val, size, n_seg, K, x) in enumerate(points)]}


def case_threads(x: Inputs, config: Config) -> dict:
    """Parallel speed-up of the numba kernels: SLIC and the end-to-end prior, all cores vs 1.

    Reported as comparisons with ``ours`` = all usable cores and ``reference`` = one thread,
    timed interleaved (the thread count is switched inside each timed call, at no cost).
    """
    import numba

    import p2i_prior as P

    n_all = int(numba.config.NUMBA_NUM_THREADS)
    before = numba.get_num_threads()
    if n_all < 2:
        return {"skipped": [_skip("threads", x, "*", "a single core: nothing to compare")]}
    img, kp, score, n = x.image, x.keypoints, x.score, config.n_segments

    def with_threads(k, f):
        def call():
            numba.set_num_threads(k)
            return f()
        return call

    slic_f = lambda: P.slic(img, n_segments=n)  # noqa: E731
    e2e_f = lambda: ours_pipeline(img, kp, score, n)  # noqa: E731
    fns = {f"p2i.slic[threads={n_all}]": with_threads(n_all, slic_f), "p2i.slic[threads=1]": with_threads(1, slic_f),
           f"p2i.end_to_end[threads={n_all}]": with_threads(n_all, e2e_f),
           "p2i.end_to_end[threads=1]": with_threads(1, e2e_f)}
    roles = {k: "ours" if f"threads={n_all}" in k else "reference" for k in fns}
    pairs = [(f"p2i.slic[threads={n_all}]", "p2i.slic[threads=1]"),
             (f"p2i.end_to_end[threads={n_all}]", "p2i.end_to_end[threads=1]")]
    try:
        return _group("threads", x, config, fns, roles, pairs, {"n_segments": n, "threads": n_all})
    finally:
        numba.set_num_threads(before)


CASES = ("slic", "sobel", "rag", "rag_distance", "rag_distance_k", "sweep", "edt", "end_to_end",
         "threads", "scaling", "gpu")


def build_tasks(config: Config) -> list[Task]:
    """Every unit of work of the suite under ``config``, in order (cheap: nothing runs yet)."""
    wanted = set(CASES if config.cases is None else config.cases)
    unknown = wanted - set(CASES)
    if unknown:
        raise ValueError(f"cases: expected names from {', '.join(CASES)}, got {', '.join(sorted(unknown))}")
    tasks: list[Task] = []
    per_size = [("slic", case_slic), ("sobel", case_sobel), ("rag", case_rag),
                ("rag_distance", case_rag_distance), ("sweep", case_sweep), ("edt", case_edt),
                ("end_to_end", case_end_to_end)]
    for w, h in config.sizes:
        for name, fn in per_size:
            if name not in wanted:
                continue

            def run(name=name, fn=fn, w=w, h=h):
                outs = [fn(x, config) for x in inputs_for(config, w, h)]
                return _merge(outs)

            tasks.append(Task(name, f"{name} {w}x{h}", run))
    if "threads" in wanted:
        w, h = config.target_size
        tasks.append(Task("threads", f"threads {w}x{h}",
                          lambda: _merge([case_threads(x, config) for x in inputs_for(config, w, h)[-1:]])))
    if "rag_distance_k" in wanted:
        for k in config.k_values:
            def run(k=k):
                w, h = config.k_size
                return _merge([case_rag_distance_k(x, config, k) for x in inputs_for(config, w, h)])

            tasks.append(Task("rag_distance_k", f"rag_distance K~{k}", run))
    if "scaling" in wanted:
        axes = [("pixels", config.scaling_sizes), ("superpixels", config.scaling_segments),
                ("people", config.scaling_people)]
        for axis, values in axes:
            tasks.append(Task("scaling", f"scaling {axis}", lambda a=axis, v=values: scaling_axis(config, a, v)))
    if "gpu" in wanted:
        tasks.append(Task("gpu", "gpu", lambda: gpu_cases(config)))
    return tasks


def _merge(outs: list[dict]) -> dict:
    merged: dict = {}
    for o in outs:
        for k, v in o.items():
            merged.setdefault(k, []).extend(v)
    return merged


def gpu_cases(config: Config) -> dict:
    """GPU kernels vs their CPU twins (and CuPy), through ``p2i_bench.gpu_bench`` on a real GPU.

    Without a GPU (or under Numba's CUDA simulator) the case is a skip note.  With one,
    ``p2i_bench.gpu_bench.run(parse_args([...]))`` runs at ``config.target_size`` (its ``--quick``
    configuration when ``config.quick``) and its report is converted
    (:func:`convert_gpu_report`): every timed implementation becomes a record, every
    GPU implementation is compared with every other implementation of its case, and the raw
    report is kept under ``gpu_report``.
    """
    from .core import gpu_present

    size = config.target_size
    if not gpu_present():
        return {"skipped": [_skip("gpu", None, "*", "no CUDA GPU on this machine", size)]}
    try:
        from . import gpu_bench
    except ImportError as exc:
        return {"skipped": [_skip("gpu", None, "*", f"p2i_bench.gpu_bench not importable ({exc})", size)]}
    if not (callable(getattr(gpu_bench, "run", None)) and callable(getattr(gpu_bench, "parse_args", None))):
        return {"skipped": [_skip("gpu", None, "*", "p2i_bench.gpu_bench exposes no run(parse_args(argv)); "
                                  "run `python -m p2i_bench.gpu_bench` for the GPU cases", size)]}
    argv = ["--quick"] if config.quick else [
        "--width", str(size[0]), "--height", str(size[1]), "--segments", str(config.n_segments),
        "--people", str(config.n_people), "--repeat", str(config.repeat)]
    report = gpu_bench.run(gpu_bench.parse_args(argv))
    return convert_gpu_report(report, argv)


def convert_gpu_report(report: dict, argv: list[str]) -> dict:
    """``p2i_bench.gpu_bench``'s report as this suite's ``results`` / ``comparisons`` (+ raw report).

    In each ``report["cases"][name]``, an entry that is a dict with ``median_s`` is one
    implementation (role "ours" when its name starts with ``gpu``); the other scalar entries
    (``B``, ``K``, ...) become the params.

    Examples
    --------
    >>> t = {"median_s": 1.0, "q1_s": 1.0, "q3_s": 1.0, "iqr_s": 0.0, "min_s": 1.0, "n_repeat": 1,
    ...      "n_warmup": 1, "times_s": [1.0], "warmup_s": [1.0]}
    >>> r = {"device": {"name": "H100"}, "args": {"width": 64, "height": 48},
    ...      "cases": {"sobel": {"B": 8, "gpu_batch": dict(t, median_s=0.5), "cpu_per_image": t}}}
    >>> [round(c["speedup"], 2) for c in convert_gpu_report(r, [])["comparisons"]]
    [2.0]
    """
    a = report.get("args", {})
    size = f"{a.get('width', '?')}x{a.get('height', '?')}"
    device = str((report.get("device") or {}).get("name", "gpu"))
    results, comparisons = [], []
    for name, entry in (report.get("cases") or {}).items():
        impls = {k: v for k, v in entry.items() if isinstance(v, dict) and "median_s" in v}
        params = {k: v for k, v in entry.items() if not isinstance(v, (dict, list))}
        params["device"] = device
        for k, v in impls.items():
            results.append({"case": f"gpu_{name}", "size": size, "input": "synthetic:gpu_bench",
                            "impl": k, "role": "ours" if k.startswith("gpu") else "reference",
                            "params": params, **v})
        for k, v in impls.items():
            if not k.startswith("gpu"):
                continue
            for r, w in impls.items():
                if r == k or r.startswith("gpu"):
                    continue
                comparisons.append({
                    "case": f"gpu_{name}", "size": size, "input": "synthetic:gpu_bench", "ours": k,
                    "reference": r, "params": params, "ours_median_s": v["median_s"],
                    "reference_median_s": w["median_s"], "speedup": w["median_s"] / v["median_s"],
                    "speedup_lo": w["q1_s"] / v["q3_s"], "speedup_hi": w["q3_s"] / v["q1_s"]})
    return {"results": results, "comparisons": comparisons,
            "gpu_report": [{"argv": argv, "report": report}]}
