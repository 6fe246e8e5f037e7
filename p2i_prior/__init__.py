"""pose2instance geometric prior: from an image and COCO-17 keypoints to person instances.

The public functions are imported lazily (``p2i_prior.slic`` imports numba only when first
used), so ``import p2i_prior`` and ``p2i --help`` stay fast.

Primitives
----------
slic, sobel, build_rag, RAG, skeleton_pixels, skeleton_mask, seed_superpixels,
rag_distance, sweep_distance

Pipeline
--------
pose_instance_map, segment_instances, segment_people, box_instances, masks_from_labels,
masks_to_rle

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
    "boundary_recall": "superpixels",
    "undersegmentation_error": "superpixels",
    "sobel": "edges",
    "rgb2gray": "edges",
    "RAG": "rag",
    "build_rag": "rag",
    "COCO_KEYPOINTS": "skeleton",
    "COCO_SKELETON": "skeleton",
    "COCO_FLIP_PAIRS": "skeleton",
    "check_keypoints": "skeleton",
    "skeleton_pixels": "skeleton",
    "skeleton_mask": "skeleton",
    "seed_superpixels": "skeleton",
    "rag_distance": "graph_distance",
    "sweep_distance": "sweep",
    # pipeline
    "pose_instance_map": "pipeline",
    "pose_instance_maps": "pipeline",
    "instance_distances": "pipeline",
    "segment_instances": "pipeline",
    "segment_people": "pipeline",
    "component_gate": "pipeline",
    "instance_scales": "pipeline",
    "box_instances": "pipeline",
    "masks_from_labels": "masks",
    "masks_to_rle": "masks",
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
