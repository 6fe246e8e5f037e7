"""Deprecated: the GPU host code now lives with each step (one home per step).

Kept for one release so that code written against it keeps working; every name warns once
(``DeprecationWarning``) and forwards to its new home:

==========================  =================================================================
old ``p2i_prior._gpu.X``     new
==========================  =================================================================
sobel, sobel_batch           ``p2i_prior.sobel(x, device=...)``, ``p2i_prior.sobel_batch``
slic, slic_batch             ``p2i_prior.slic``, ``p2i_prior.slic_batch``
build_rag, build_rags,       ``p2i_prior.build_rag``, ``p2i_prior.build_rags``,
RAGBatch                     ``p2i_prior.RAGBatch``
rag_distance, rag_distances  ``p2i_prior.rag_distance``, ``p2i_prior.rag_distances``
sweep_distance               ``p2i_prior.sweep_distance``
fuse, segment_instances      ``p2i_prior.fuse``, ``p2i_prior.segment_instances``
pose_instance_maps           ``p2i_prior.pose_instance_maps``
use_gpu, as_device, ...      ``p2i_prior._device``
==========================  =================================================================

The old functions ran on the GPU whatever the input; their replacements choose by the input
(``device="auto"``), so this shim passes ``device="cuda"``.
"""

from __future__ import annotations

import functools
import importlib
import warnings
from typing import Any

_ON_DEVICE = {  # name -> (module, function): called with device="cuda"
    "sobel": ("edges", "sobel"),
    "sobel_batch": ("edges", "sobel_batch"),
    "slic": ("superpixels", "slic"),
    "slic_batch": ("superpixels", "slic_batch"),
    "build_rag": ("rag", "build_rag"),
    "build_rags": ("rag", "build_rags"),
    "rag_distance": ("graph_distance", "rag_distance"),
    "rag_distances": ("graph_distance", "rag_distances"),
    "sweep_distance": ("sweep", "sweep_distance"),
    "fuse": ("fusion", "fuse"),
    "segment_instances": ("fusion", "segment_instances"),
    "pose_instance_maps": ("pipeline_device", "pose_instance_maps_device"),
}
_MOVED = {"RAGBatch": "rag", "bytes_per_image": "pipeline_device"}
_DEVICE = ("DEVICES", "cuda_available", "simulator", "require_cuda", "use_gpu", "kind_of",
           "is_gpu_array", "as_device", "to_kind", "stream_of", "device_stats", "launch_config")


def __getattr__(name: str) -> Any:
    if name in _ON_DEVICE:
        module, func = _ON_DEVICE[name]
        target = getattr(importlib.import_module(f"p2i_prior.{module}"), func)
        if module == "pipeline_device":
            value = target
        else:
            value = functools.partial(target, device="cuda")
            functools.update_wrapper(value, target)
        new = f"p2i_prior.{func}(..., device='cuda')" if module != "pipeline_device" else "p2i_prior.pose_instance_maps"
    elif name in _MOVED:
        value = getattr(importlib.import_module(f"p2i_prior.{_MOVED[name]}"), name)
        new = f"p2i_prior.{_MOVED[name]}.{name}"
    elif name in _DEVICE:
        value = getattr(importlib.import_module("p2i_prior._device"), name)
        new = f"p2i_prior._device.{name}"
    else:
        raise AttributeError(f"module 'p2i_prior._gpu' has no attribute {name!r}")
    warnings.warn(f"p2i_prior._gpu.{name} is deprecated; use {new}", DeprecationWarning, stacklevel=2)
    return value
