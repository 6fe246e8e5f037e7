"""Synthetic scenes as a COCO person-keypoints dataset: :func:`to_coco`, :func:`write_coco`."""

from __future__ import annotations

import json
import os
from typing import Any, Iterable, Sequence

import numpy as np

from ..checks import check_positive_int
from ..skeleton import COCO_KEYPOINTS, COCO_SKELETON
from .scene import Scene

__all__ = ["to_coco", "write_coco"]


def _check_scenes(scenes: Any) -> list[Scene]:
    if isinstance(scenes, Scene):
        return [scenes]
    if isinstance(scenes, (str, bytes)) or not isinstance(scenes, Iterable):
        raise TypeError(f"scenes: expected a Scene or a sequence of Scenes, got {type(scenes).__name__}")
    scenes = list(scenes)
    for k, s in enumerate(scenes):
        if not isinstance(s, Scene):
            raise TypeError(f"scenes: expected a sequence of Scenes, got {type(s).__name__} at index {k}")
    return scenes


def _categories() -> list[dict]:
    return [{
        "supercategory": "person",
        "id": 1,
        "name": "person",
        "keypoints": list(COCO_KEYPOINTS),
        "skeleton": [[a + 1, b + 1] for a, b in COCO_SKELETON],
    }]


def to_coco(scenes: Scene | Sequence[Scene], image_dir: str | os.PathLike | None = None,
            start_id: int = 1) -> dict:
    """Export scenes as a COCO person-keypoints dataset (a json-ready dict).

    Parameters
    ----------
    scenes : Scene or sequence of Scene
        The scenes, in image-id order.
    image_dir : path, optional
        If given, each image is written there as PNG under its ``file_name`` (the directory is
        created if needed).
    start_id : int
        Id of the first image and of the first annotation (``>= 1``; ids then count up).

    Returns
    -------
    dict
        ``info``, ``licenses``, ``images`` (``id``, ``file_name`` = ``"{id:012d}.png"``,
        ``height``, ``width``), ``annotations`` (``id``, ``image_id``, ``category_id`` 1,
        ``segmentation`` as compressed RLE with a str ``counts``, ``area``, ``bbox`` [x, y, w, h],
        ``keypoints`` (51 numbers: x, y, v; ``x = y = 0`` where ``v == 0``), ``num_keypoints``,
        ``iscrowd`` 0) and ``categories`` (person, the 17 keypoint names and the 1-based
        skeleton).  People with an empty visible mask (none, unless the scene is degenerate) get
        no annotation, as COCO has no annotation without a segment.

    Examples
    --------
    >>> from p2i_prior.synthetic import make_scenes
    >>> data = to_coco(make_scenes(2, seed=0, height=48, width=64, n_people=2))
    >>> len(data["images"]), len(data["annotations"]), data["annotations"][0]["category_id"]
    (2, 4, 1)
    """
    from pycocotools import mask as mask_util

    scenes = _check_scenes(scenes)
    start_id = check_positive_int(start_id, "start_id", minimum=1)
    if image_dir is not None:
        if not isinstance(image_dir, (str, os.PathLike)):
            raise TypeError(f"image_dir: expected a path or None, got {type(image_dir).__name__} {image_dir!r}")
        os.makedirs(image_dir, exist_ok=True)
    images, annotations = [], []
    ann_id = start_id
    for k, scene in enumerate(scenes):
        image_id = start_id + k
        H, W = scene.shape
        file_name = f"{image_id:012d}.png"
        images.append({"id": image_id, "file_name": file_name, "height": H, "width": W,
                       "seed": scene.seed})
        if image_dir is not None:
            from PIL import Image

            Image.fromarray(scene.image).save(os.path.join(os.fspath(image_dir), file_name))
        for i in range(scene.n_people):
            m = scene.masks[i]
            if not m.any():
                continue
            rle = mask_util.encode(np.asfortranarray(m, dtype=np.uint8))
            rle["counts"] = rle["counts"].decode("ascii")
            kp = scene.keypoints[i]
            flat: list[float | int] = []
            for x, y, v in kp:
                flat += [float(x), float(y), 2] if v == 2 else [float(x), float(y), 1] if v == 1 else [0, 0, 0]
            annotations.append({
                "id": ann_id,
                "image_id": image_id,
                "category_id": 1,
                "segmentation": rle,
                "area": int(m.sum()),
                "bbox": [float(b) for b in scene.boxes[i]],
                "keypoints": flat,
                "num_keypoints": int((kp[:, 2] > 0).sum()),
                "iscrowd": 0,
            })
            ann_id += 1
    return {
        "info": {"description": "pose2instance synthetic people (p2i_prior.synthetic)",
                 "version": "1.0"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": _categories(),
    }


def write_coco(scenes: Scene | Sequence[Scene], directory: str | os.PathLike, start_id: int = 1) -> str:
    """Write scenes as a COCO dataset: ``directory/images/*.png`` and ``directory/annotations.json``.

    The layout is that of ``/work/shared/data/coco_persons``, so COCO loaders
    (``pycocotools.coco.COCO``, :mod:`p2i_prior.coco`) read it as they read real data.

    Parameters
    ----------
    scenes : Scene or sequence of Scene
        The scenes.
    directory : path
        Output directory (created if needed; existing files of the same names are replaced).
    start_id : int
        First image and annotation id, see :func:`to_coco`.

    Returns
    -------
    str
        The path of ``annotations.json``.

    Examples
    --------
    >>> import tempfile
    >>> from p2i_prior.synthetic import make_scenes
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = write_coco(make_scenes(2, seed=0, height=48, width=64), d)
    ...     sorted(os.listdir(os.path.join(d, "images")))
    ['000000000001.png', '000000000002.png']
    """
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory: expected a path, got {type(directory).__name__} {directory!r}")
    scenes = _check_scenes(scenes)
    directory = os.fspath(directory)
    data = to_coco(scenes, image_dir=os.path.join(directory, "images"), start_id=start_id)
    path = os.path.join(directory, "annotations.json")
    with open(path, "w") as f:
        json.dump(data, f)
    return path
