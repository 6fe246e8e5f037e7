"""The reference implementations (scikit-image, SciPy, OpenCV) and both pipelines by stage.

The reference pipeline (:func:`reference_pipeline`) is the paper's prior assembled from
scikit-image and SciPy: ``skimage.segmentation.slic``, ``skimage.filters.sobel`` of
``rgb2gray``, ``skimage.graph.rag_boundary``, the skeleton drawn with ``skimage.draw.line``,
``scipy.sparse.csgraph.dijkstra`` from each instance's seed superpixels, and a numpy softmax,
score product, argmax and threshold.  :func:`ours_pipeline` is pose2instance's prior on the
same inputs; :func:`reference_stages` and :func:`ours_stages` are both split into named stages
for the per-stage profile.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .config import COMPACTNESS, TEMPERATURE

__all__ = [
    "opencv_slic_available",
    "opencv_slic",
    "opencv_edt_available",
    "opencv_edt",
    "skimage_slic",
    "skimage_sobel",
    "skimage_rag_csr",
    "scipy_floyd_warshall_seeds",
    "scipy_dijkstra_seeds",
    "skimage_seed_superpixels",
    "numpy_fusion",
    "reference_stages",
    "ours_stages",
    "run_stages",
    "PIPELINE_STAGES",
    "reference_pipeline",
    "ours_pipeline",
]


def opencv_slic_available() -> bool:
    """Whether OpenCV's contrib ``ximgproc`` SLIC can be imported."""
    try:
        import cv2
    except ImportError:
        return False
    return hasattr(cv2, "ximgproc") and hasattr(cv2.ximgproc, "createSuperpixelSLIC")


def opencv_slic(image: np.ndarray, n_segments: int, compactness: float = COMPACTNESS, n_iter: int = 10) -> np.ndarray:
    """OpenCV ximgproc SLIC on the CIELAB image (colour conversion included)."""
    import cv2

    H, W = image.shape[:2]
    region = max(2, int(round(np.sqrt(H * W / n_segments))))
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    s = cv2.ximgproc.createSuperpixelSLIC(lab, algorithm=cv2.ximgproc.SLIC, region_size=region,
                                          ruler=float(compactness))
    s.iterate(n_iter)
    s.enforceLabelConnectivity()
    return s.getLabels()


def opencv_edt_available() -> bool:
    """Whether OpenCV (``cv2.distanceTransform``) can be imported."""
    try:
        import cv2
    except ImportError:
        return False
    return hasattr(cv2, "distanceTransform")


def opencv_edt(seeds: np.ndarray) -> list[np.ndarray]:
    """OpenCV's exact Euclidean transform (``DIST_L2``, ``DIST_MASK_PRECISE``: Felzenszwalb's
    algorithm, float32) of each (H, W) seed mask, looped over instances; the uint8 "not a
    seed" image OpenCV needs is made inside the call."""
    import cv2

    return [cv2.distanceTransform((~s).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            for s in seeds]


def skimage_slic(image: np.ndarray, n_segments: int, compactness: float = COMPACTNESS) -> np.ndarray:
    """``skimage.segmentation.slic`` with pose2instance's defaults."""
    from skimage.segmentation import slic

    return slic(image, n_segments=n_segments, compactness=compactness, max_num_iter=10,
                start_label=0, enforce_connectivity=True)


def skimage_sobel(image: np.ndarray) -> np.ndarray:
    """``skimage.filters.sobel(skimage.color.rgb2gray(image))``."""
    from skimage.color import rgb2gray
    from skimage.filters import sobel

    return sobel(rgb2gray(image))


def skimage_rag_csr(labels: np.ndarray, edge: np.ndarray):
    """``skimage.graph.rag_boundary`` (4-connected) converted to a SciPy CSR matrix."""
    from scipy import sparse
    from skimage.graph import rag_boundary

    g = rag_boundary(labels, edge, connectivity=1)
    K = int(labels.max()) + 1
    edges = np.array([(u, v, d["weight"]) for u, v, d in g.edges(data=True)], np.float64).reshape(-1, 3)
    a, b, w = edges[:, 0].astype(np.int64), edges[:, 1].astype(np.int64), edges[:, 2]
    return sparse.csr_array((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(K, K))


def scipy_floyd_warshall_seeds(graph, seeds: np.ndarray) -> np.ndarray:
    """All pairs by ``scipy.sparse.csgraph.floyd_warshall``, then the minimum over seeds."""
    from scipy.sparse.csgraph import floyd_warshall

    D = floyd_warshall(graph, directed=False)
    out = np.full(seeds.shape, np.inf)
    for i, s in enumerate(seeds):
        if s.any():
            out[i] = D[s].min(axis=0)
    return out


def scipy_dijkstra_seeds(graph, seeds: np.ndarray) -> np.ndarray:
    """``scipy.sparse.csgraph.dijkstra(..., min_only=True)`` from each instance's seeds."""
    from scipy.sparse.csgraph import dijkstra

    out = np.full(seeds.shape, np.inf)
    for i, s in enumerate(seeds):
        idx = np.flatnonzero(s)
        if idx.size:
            out[i] = dijkstra(graph, directed=False, indices=idx, min_only=True)
    return out


def skimage_seed_superpixels(labels: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """(n, K) bool seeds: COCO limbs drawn with ``skimage.draw.line`` (pixel = floor(x, y))."""
    from skimage.draw import line

    from p2i_prior.skeleton import COCO_SKELETON

    H, W = labels.shape
    K = int(labels.max()) + 1
    seeds = np.zeros((keypoints.shape[0], K), bool)
    for i, person in enumerate(keypoints):
        vis = person[:, 2] > 0
        pts = np.floor(person[:, :2]).astype(np.int64)
        rr, cc = [pts[vis, 1]], [pts[vis, 0]]
        for a, b in COCO_SKELETON:
            if vis[a] and vis[b]:
                r, c = line(pts[a, 1], pts[a, 0], pts[b, 1], pts[b, 0])
                rr.append(r)
                cc.append(c)
        r, c = np.concatenate(rr), np.concatenate(cc)
        inside = (r >= 0) & (r < H) & (c >= 0) & (c < W)
        seeds[i, labels[r[inside], c[inside]]] = True
    return seeds


def numpy_fusion(d: np.ndarray, score: np.ndarray, temperature: float = TEMPERATURE,
                 threshold: float = 0.5) -> np.ndarray:
    """Softmax over instances of ``-d / T`` (n, H, W), times the score, argmax, threshold."""
    z = -d / temperature
    z = z - z.max(axis=0, keepdims=True)
    with np.errstate(invalid="ignore"):
        e = np.exp(z)
        p = e / e.sum(axis=0, keepdims=True)
    p = np.nan_to_num(p, nan=0.0)
    labels = np.argmax(p * score[None], axis=0).astype(np.int32) + 1
    labels[(score < threshold) | ~np.isfinite(d).any(axis=0)] = 0
    return labels


#: What each stage of the two end-to-end pipelines calls (the end_to_end case's params, the report).
PIPELINE_STAGES = {
    "reference": [
        ["slic", "skimage.segmentation.slic(image, n_segments, compactness=10, max_num_iter=10, start_label=0)"],
        ["sobel", "skimage.filters.sobel(skimage.color.rgb2gray(image))"],
        ["rag", "skimage.graph.rag_boundary(labels, edge, connectivity=1) -> scipy CSR"],
        ["seeds", "COCO limbs drawn with skimage.draw.line -> seed superpixels per instance"],
        ["distance", "scipy.sparse.csgraph.dijkstra(indices=seeds, min_only=True) per instance"],
        ["expand", "superpixel distances to pixels (numpy fancy indexing)"],
        ["fusion", "numpy softmax over instances of -d/T, x score, argmax, threshold 0.5"],
    ],
    "ours": [
        ["slic", "p2i_prior.slic(image, n_segments, compactness=10)"],
        ["sobel", "p2i_prior.sobel(image)"],
        ["rag", "p2i_prior.build_rag(labels, edge)"],
        ["seeds", "p2i_prior.seed_superpixels(labels, keypoints)"],
        ["distance", "p2i_prior.rag_distance(rag, seeds, 'sssp')"],
        ["softmax", "p2i_prior.softmax_instances on the (n, K) superpixel distances"],
        ["expand", "(K, n) softmax to the (H, W, n) map through the labels (numpy fancy indexing)"],
        ["fusion", "p2i_prior.segment_instances(map, score): x score, argmax, threshold 0.5"],
    ],
    "timed_ours": "p2i_prior.pose_instance_map(image, keypoints, method='rag') + segment_instances "
                  "(the stages above in one call each); segment_people(method='rag'|'geodesic', "
                  "components=False): labels only, no (H, W, n) map (geodesic: sobel, speed, fast "
                  "marching per instance, nearest instance; no SLIC)",
}


def reference_stages(image: np.ndarray, keypoints: np.ndarray, score: np.ndarray,
                     n_segments: int) -> list[tuple[str, Callable[[dict], Any]]]:
    """The scikit-image + SciPy pipeline as named stages ``f(state) -> value`` (in order)."""
    return [
        ("slic", lambda s: skimage_slic(image, n_segments)),
        ("sobel", lambda s: skimage_sobel(image)),
        ("rag", lambda s: skimage_rag_csr(s["slic"], s["sobel"])),
        ("seeds", lambda s: skimage_seed_superpixels(s["slic"], keypoints)),
        ("distance", lambda s: scipy_dijkstra_seeds(s["rag"], s["seeds"])),
        ("expand", lambda s: s["distance"][:, s["slic"]]),
        ("fusion", lambda s: numpy_fusion(s["expand"], score)),
    ]


def ours_stages(image: np.ndarray, keypoints: np.ndarray, score: np.ndarray,
                n_segments: int) -> list[tuple[str, Callable[[dict], Any]]]:
    """pose2instance's ``pose_instance_map(method="rag")`` + ``segment_instances``, by stage (the
    softmax on the (n, K) superpixel distances, then spread through the labels, as the library)."""
    import p2i_prior as P
    from p2i_prior.pipeline import softmax_instances

    return [
        ("slic", lambda s: P.slic(image, n_segments=n_segments, compactness=COMPACTNESS)),
        ("sobel", lambda s: P.sobel(image)),
        ("rag", lambda s: P.build_rag(s["slic"], s["sobel"])),
        ("seeds", lambda s: P.seed_superpixels(s["slic"], keypoints)),
        ("distance", lambda s: P.rag_distance(s["rag"], s["seeds"], "sssp")),
        # as pose_instance_map(method="rag"): the softmax of a superpixel is its pixels' softmax
        ("softmax", lambda s: softmax_instances(np.asarray(s["distance"])[:, None, :], TEMPERATURE)[0]),
        ("expand", lambda s: s["softmax"][s["slic"]]),
        ("fusion", lambda s: P.segment_instances(s["expand"], score)),
    ]


def run_stages(stages: list[tuple[str, Callable[[dict], Any]]]) -> dict:
    """Run the stages in order; the state dict of every stage's output."""
    state: dict = {}
    for name, f in stages:
        state[name] = f(state)
    return state


def reference_pipeline(image: np.ndarray, keypoints: np.ndarray, score: np.ndarray,
                       n_segments: int = 1000) -> np.ndarray:
    """(H, W) int32 instance labels by the scikit-image + SciPy pipeline.

    Examples
    --------
    >>> x = synthetic_input(64, 48, n_people=2)
    >>> reference_pipeline(x.image, x.keypoints, x.score, n_segments=30).shape
    (48, 64)
    """
    return run_stages(reference_stages(image, keypoints, score, n_segments))["fusion"]


def ours_pipeline(image: np.ndarray, keypoints: np.ndarray, score: np.ndarray,
                  n_segments: int = 1000) -> np.ndarray:
    """(H, W) int32 instance labels by ``pose_instance_map(method="rag")`` + ``segment_instances``."""
    import p2i_prior as P

    pm = P.pose_instance_map(image, keypoints, method="rag", n_segments=n_segments)
    return P.segment_instances(pm, score)
