"""pose2instance geometric prior: from an image and COCO-17 keypoints to person instances.

The public functions are imported lazily (``p2i_prior.slic`` imports numba only when first
used), so ``import p2i_prior`` and ``p2i --help`` stay fast.

Steps (each with a CPU and a GPU driver; batch forms run a batch in one pass on the GPU)
--------------------------------------------------------------------------------------
slic, slic_batch, sobel, sobel_batch, build_rag, build_rags, RAG, RAGBatch, skeleton_pixels,
skeleton_mask, seed_superpixels, rag_distance, rag_distances, sweep_distance, euclidean_distance,
geodesic_distance

Fusion and gates
----------------
softmax_instances, segment_instances, fuse, box_instances, component_gate, instance_scales

Pipeline
--------
pose_instance_map, pose_instance_maps, segment_people, instance_distances, masks_from_labels,
masks_to_rle

The README's architecture section says where each step lives on each side.

Synthetic data
--------------
``p2i_prior.synthetic.make_scene``
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # primitives
    "slic": "superpixels",
    "slic_batch": "superpixels",
    "boundary_recall": "superpixels",
    "undersegmentation_error": "superpixels",
    "sobel": "edges",
    "sobel_batch": "edges",
    "rgb2gray": "edges",
    "RAG": "rag",
    "build_rag": "rag",
    "RAGBatch": "rag",
    "build_rags": "rag",
    "COCO_KEYPOINTS": "skeleton",
    "COCO_SKELETON": "skeleton",
    "COCO_FLIP_PAIRS": "skeleton",
    "check_keypoints": "skeleton",
    "skeleton_pixels": "skeleton",
    "skeleton_mask": "skeleton",
    "seed_superpixels": "skeleton",
    "rag_distance": "graph_distance",
    "rag_distances": "graph_distance",
    "sweep_distance": "sweep",
    "euclidean_distance": "grid_distance",
    "geodesic_distance": "grid_distance",
    # pipeline
    "pose_instance_map": "pipeline",
    "pose_instance_maps": "pipeline",
    "instance_distances": "pipeline",
    "segment_people": "pipeline",
    # fusion and gates
    "softmax_instances": "fusion",
    "segment_instances": "fusion",
    "fuse": "fusion",
    "component_gate": "gates",
    "instance_scales": "gates",
    "box_instances": "gates",
    "masks_from_labels": "masks",
    "masks_to_rle": "masks",
    # CPU threads of the kernels (numba; torch when imported): one home, used by p2i --threads
    "set_threads": "cpu_threads", "get_threads": "cpu_threads", "threads": "cpu_threads",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'p2i_prior' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"p2i_prior.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
