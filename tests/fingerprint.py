"""Fingerprints of the prior's CPU outputs on fixed fixtures (labels, maps, distances, RAGs).

Recorded before the host-side layout change (issue 11) and checked by tests/test_fingerprint.py:
moving code between modules must leave every CPU result bit-identical.  Regenerate (only when a
result is meant to change, and say why in the commit) with::

    python tests/fingerprint.py --write
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RECORD = os.path.join(HERE, "data", "fingerprint.json")


def digest(x) -> str:
    """sha256 of an array's dtype, shape and bytes (numpy, or a RAG's CSR arrays)."""
    h = hashlib.sha256()
    if hasattr(x, "indptr"):
        for a in (x.indptr, x.indices, x.weights, x.counts):
            h.update(digest(a).encode())
        h.update(str(x.n_nodes).encode())
        return h.hexdigest()[:16]
    a = np.ascontiguousarray(np.asarray(x))
    h.update(str(a.dtype).encode())
    h.update(str(a.shape).encode())
    h.update(a.tobytes())
    return h.hexdigest()[:16]


def fixtures():
    """(name, image, keypoints, boxes, score) of the fixed inputs."""
    from PIL import Image

    from p2i_prior.synthetic import make_scene

    scene = make_scene(seed=11, height=96, width=128, n_people=3)
    out = [("scene", scene.image, scene.keypoints, scene.boxes, scene.score)]
    with open(os.path.join(HERE, "data", "coco", "annotations.json")) as f:
        coco = json.load(f)
    info = coco["images"][0]
    anns = [a for a in coco["annotations"] if a["image_id"] == info["id"] and a.get("num_keypoints", 0) > 0]
    img = np.asarray(Image.open(os.path.join(HERE, "data", "coco", "images", info["file_name"])).convert("RGB"))
    kp = np.array([a["keypoints"] for a in anns], np.float64).reshape(-1, 17, 3)
    boxes = np.array([a["bbox"] for a in anns], np.float64)
    from pycocotools import mask as mask_utils

    score = np.zeros(img.shape[:2], np.float32)
    for a in anns:
        seg = a["segmentation"]
        H, W = img.shape[:2]
        rles = mask_utils.frPyObjects(seg, H, W) if isinstance(seg, list) else [seg]
        score = np.maximum(score, mask_utils.decode(mask_utils.merge(rles)).astype(np.float32))
    out.append(("coco", img, kp, boxes, score))
    return out


def compute() -> dict:
    import p2i_prior as p
    from p2i_prior.synthetic import make_scene  # noqa: F401  (imported by fixtures)

    rec: dict = {}
    for name, img, kp, boxes, score in fixtures():
        small = name == "scene"
        lab = p.slic(img, n_segments=300 if small else 1000)
        rec[f"{name}/slic"] = digest(lab)
        rec[f"{name}/slic_noconn"] = digest(p.slic(img, n_segments=200, enforce_connectivity=False))
        edge = p.sobel(img)
        rec[f"{name}/sobel"] = digest(edge)
        rec[f"{name}/rgb2gray"] = digest(p.rgb2gray(img))
        rag = p.build_rag(lab, edge)
        rec[f"{name}/rag"] = digest(rag)
        seeds = p.seed_superpixels(lab, kp)
        rec[f"{name}/seeds"] = digest(seeds)
        rec[f"{name}/rag_distance_sssp"] = digest(p.rag_distance(rag, seeds))
        if small:
            rec[f"{name}/rag_distance_apsp"] = digest(p.rag_distance(rag, seeds, "apsp"))
        mask = p.skeleton_mask(kp, img.shape[:2])
        rec[f"{name}/skeleton_mask"] = digest(mask)
        rec[f"{name}/sweep_unit"] = digest(p.sweep_distance(mask))
        rec[f"{name}/sweep_speed"] = digest(p.sweep_distance(mask, 1.0 / (1.0 + 10 * edge)))
        rec[f"{name}/scales"] = digest(p.instance_scales(kp))
        for method in ("rag", "sweep", "geodesic"):
            m = p.pose_instance_map(img, kp, method=method)
            rec[f"{name}/map_{method}"] = digest(m)
            rec[f"{name}/segment_instances_{method}"] = digest(p.segment_instances(m, score))
            rec[f"{name}/map_{method}_boxes"] = digest(p.pose_instance_map(img, kp, method=method, boxes=boxes))
            rec[f"{name}/distances_{method}"] = digest(p.instance_distances(img, kp, method=method))
            for comps in (True, False):
                rec[f"{name}/segment_people_{method}_{comps}"] = digest(
                    p.segment_people(img, kp, score, method=method, components=comps))
            rec[f"{name}/segment_people_{method}_box"] = digest(
                p.segment_people(img, kp, score, method=method, boxes=boxes))
        rec[f"{name}/map_rag_extent"] = digest(p.pose_instance_map(img, kp, extent=0.8))
        rec[f"{name}/map_rag_length"] = digest(p.pose_instance_map(img, kp, length_weight=0.5))
        rec[f"{name}/component_gate"] = digest(p.component_gate(kp, score))
        rec[f"{name}/box_instances"] = digest(p.box_instances(score, boxes))
        maps = p.pose_instance_maps([img, img[: img.shape[0] // 2]], [kp, kp], method="sweep")
        rec[f"{name}/maps_batch"] = digest(np.concatenate([m.ravel() for m in maps]))
    return rec


if __name__ == "__main__":
    rec = compute()
    if "--write" in sys.argv:
        with open(RECORD, "w") as f:
            json.dump(rec, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"wrote {len(rec)} fingerprints to {RECORD}")
    else:
        print(json.dumps(rec, indent=1, sort_keys=True))
