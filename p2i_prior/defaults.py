"""The prior's defaults, in one place: the CPU and the batched GPU pipelines read them here."""

from __future__ import annotations

#: Distance methods of the pose-instance map (see :mod:`p2i_prior.pipeline`).
METHODS = ("rag", "sweep", "geodesic")
#: Graph solvers of ``method="rag"``: multi-source Dijkstra / Bellman–Ford, or Floyd–Warshall.
SOLVERS = ("sssp", "apsp")
#: Default softmax temperature per method, in the units of its distance: summed mean Sobel
#: strength (in [0, 1] grey units) for "rag", pixels for "sweep", edge-weighted pixels for
#: "geodesic".  The temperature shapes the soft map only; labels from
#: :func:`p2i_prior.segment_instances` do not depend on it.
DEFAULT_TEMPERATURE = {"rag": 0.05, "sweep": 10.0, "geodesic": 10.0}
#: SLIC: superpixels (capped at the pixel count of smaller images), compactness, iterations,
#: connectivity and its fragment-size factors (see :func:`p2i_prior.slic`).
N_SEGMENTS = 1000
COMPACTNESS = 10.0
SLIC_MAX_NUM_ITER = 10
SLIC_ENFORCE_CONNECTIVITY = True
SLIC_MIN_SIZE_FACTOR = None  # each algorithm's own default (slic_params): fast 0.1, skimage 0.5
SLIC_MAX_SIZE_FACTOR = 3.0
#: Edge penalty of the default geodesic speed ``1 / (1 + edge_weight * sobel / mean(sobel))``.
EDGE_WEIGHT = 10.0
#: Cap on fast-sweeping sweeps (unit speed converges in 5-9, geodesic in tens).
MAX_SWEEPS = 400
#: The one default distance method of every library call (``pose_instance_map``,
#: ``instance_distances``, ``segment_people``) and of ``p2i segment``.  "rag", the paper's: with a
#: real (selfie) person score it is as good as "geodesic" (mean instance IoU 0.388 vs 0.389 on the
#: 267 persons of coco_persons with boxes, 0.323 vs 0.324 without; AP^r 0.375/0.169 vs
#: 0.370/0.166), and faster (geodesic's fast sweeping needs 70-100 sweeps per instance); only with
#: the oracle (gt) score does geodesic lead, by 0.025 AP^r@[.5:.95] (README, evaluation section).
DEFAULT_METHOD = "rag"
#: The label methods of :func:`p2i_prior.segment_people` (``p2i segment``, ``p2i eval``): the
#: distance methods and "affinity", geodesic candidates re-decided per pixel by the learned
#: image-evidence model (:mod:`p2i_prior.affinity`), which has no soft map.
SEGMENT_METHODS = METHODS + ("affinity",)
#: The default label method: "affinity", the best in 5-fold cross-validation by image on the
#: 105 photos of coco_persons in every setting measured (AP^r@[.5:.95] / mean instance IoU with
#: the gt score, keypoints alone: 0.715 / 0.839 vs geodesic 0.643 / 0.774 and the box 0.696 /
#: 0.830; with the selfie score 0.184 / 0.362 vs geodesic 0.150 / 0.324;
#: bench/results/eval/2026-11-29-image-evidence.md).  About 0.4 s per 640x480 photo (geodesic
#: 0.02 s): pass method="rag" or "geodesic" where throughput matters (``p2i annotate`` does).
DEFAULT_SEGMENT_METHOD = "affinity"
#: Person-score threshold of the fusion (labels: score >= threshold).
DEFAULT_THRESHOLD = 0.5
#: Default person-score source of ``p2i segment`` (:mod:`p2i_prior.scores`): the selfie model
#: shipped in the package; ``none`` (all ones) only when asked for by name.
DEFAULT_SCORE = "selfie"
