"""Exploratory (issue 12): the ceiling of re-deciding person pixels among candidates.

    python scripts/exp_affinity_bound.py ../shared/data/coco_persons/annotations.json [gt|selfie]

Mean instance IoU when every person pixel takes its true eligible owner if that owner is among
its CANDIDATES nearest allowed skeletons (geodesic), else nobody; beside the geodesic argmin
(candidate 0). Needs the cache of ``python -m p2i_prior.affinity_train`` (p2i_out/affinity_cache).
"""
import sys

import numpy as np

from p2i_prior.affinity import CANDIDATES, pixel_features
from p2i_prior.affinity_train import _iou, cached_inputs, score_map, targets
from p2i_prior.coco import load_persons

persons = load_persons(sys.argv[1]); score = sys.argv[2] if len(sys.argv) > 2 else "gt"
for setting in ("none", "box"):
    acc = {"geodesic": [], "oracle": []}
    for rec in persons:
        im = rec.load_image(); data = cached_inputs(rec, im, "p2i_out/affinity_cache", "dev", ("gt", "selfie"))
        sc = score_map(rec, data, score); gt = rec.masks()
        f = pixel_features(im, rec.keypoints, sc, data["geodesic"], boxes=rec.boxes if setting == "box" else None, inside=data[f"inside_{score}"])
        t = targets(f, gt)
        for name, own in (("geodesic", f.cand[:, 0]),
                          ("oracle", np.where(t < CANDIDATES, np.take_along_axis(f.cand, np.minimum(t, CANDIDATES - 1)[:, None], 1)[:, 0], -1))):
            lab = np.zeros(sc.shape, np.int32); lab.ravel()[f.index] = own + 1
            acc[name].append(_iou(np.stack([lab == k + 1 for k in range(rec.n)]), gt))
    print(score, setting, {k: round(float(np.concatenate(v).mean()), 4) for k, v in acc.items()}, flush=True)
